import Foundation

/// The end-to-end tests' setting on the demo incident (fixtures/demo): a fresh test database
/// holding the demo's live data, a temporary directory, and the built `recover-tool` run against
/// them.
public final class DemoRun {
    /// The demo's live database: the service schema, reference data, offline entries, live slots.
    public let live: TestDatabase
    /// A directory of the test's own, removed with it.
    public let dir: TemporaryDirectory
    /// Set in every run's environment, over the database's (`USER`: the operator runs record).
    public let environment: [String: String]

    /// Creates the database `label` and the directory, and loads the demo's live data.
    public init(label: String, environment: [String: String] = [:]) throws {
        live = try TestDatabase(label: label)
        dir = try TemporaryDirectory(prefix: label)
        self.environment = environment
        try DemoIncident.loadLive(into: live)
    }

    /// Runs the built `recover-tool` with libpq's variables naming `live`, then `environment`,
    /// then `extra`.
    public func tool(_ arguments: [String], stdin: URL? = nil, environment extra: [String: String] = [:]) throws -> ProcessOutput {
        try runProcess(BuiltProducts.recoverTool, arguments, stdin: stdin,
                       environment: live.processEnvironment.merging(environment) { $1 }.merging(extra) { $1 })
    }
}
