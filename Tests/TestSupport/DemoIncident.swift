import Foundation

/// The demo incident (fixtures/demo, fixtures/README.md) as end-to-end tests use it: its window,
/// its logs and snapshot, and its live database loaded into a test database.
public enum DemoIncident {
    /// `--from` and `--to` of the demo's window.
    public static let window = ["--from", "2018-07-25T14:50:00Z", "--to", "2018-07-25T17:50:00Z"]
    public static var logs: String { Repository.fixture("demo/logs").path }
    public static var snapshot: String { Repository.fixture("demo/snapshot/time_slots.sql.lz4").path }

    /// Loads the demo's reference data and live slots into `database` (schema already there).
    public static func loadLive(into database: TestDatabase) throws {
        let demo = Repository.fixture("demo/db")
        try runChecked("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", demo.appendingPathComponent("reference.sql").path,
                                "-f", demo.appendingPathComponent("live.sql").path], environment: database.processEnvironment)
    }
}
