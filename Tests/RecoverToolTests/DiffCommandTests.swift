import Foundation
import TestSupport
import XCTest

/// End to end: the built `recover-tool diff` on the demo incident (fixtures/demo), its snapshot
/// given as the pg_dump file and as the restored backup database.
final class DiffCommandTests: XCTestCase {
    static var tool: String { BuiltProducts.recoverTool }
    static let window = ["--from", "2018-07-25T14:50:00Z", "--to", "2018-07-25T17:50:00Z"]

    var live = ""
    var backup = ""

    override func setUpWithError() throws {
        XCTAssertNotNil(ProcessInfo.processInfo.environment["PGHOST"], "PGHOST is not set: run scripts/test.sh")
        let suffix = "\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        live = "rt_diff_live_\(suffix)"
        backup = "rt_diff_backup_\(suffix)"
        try runChecked("bash", [Repository.root.appendingPathComponent("scripts/load-demo.sh").path,
                                "--live-db", live, "--backup-db", backup])
    }

    override func tearDownWithError() throws {
        _ = try? runProcess("psql", ["-q", "-d", "postgres", "-c", "DROP DATABASE IF EXISTS \(live) WITH (FORCE)",
                                     "-c", "DROP DATABASE IF EXISTS \(backup) WITH (FORCE)"])
    }

    func diff(_ snapshot: String, _ extra: [String] = []) throws -> ProcessOutput {
        try runProcess(Self.tool, ["diff"] + Self.window + ["--snapshot", snapshot, "--db", "dbname=\(live)"] + extra,
                       currentDirectory: Repository.root)
    }

    /// The demo's backup was taken inside the window and the live database lost the window's
    /// slots: expected.json says 28 snapshot rows in the window, all missing from live, and 15 live
    /// rows in the window that the backup does not have.
    func testDumpAndRestoredDatabaseGiveTheSameCounts() throws {
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: Repository.fixture("demo/expected.json"))) as? [String: Any])
        let database = try XCTUnwrap(expected["database"] as? [String: Any])
        for snapshot in ["fixtures/demo/snapshot/time_slots.sql.lz4", "fixtures/demo/snapshot/time_slots.sql",
                         "dbname=\(backup) password=not-shown"] {
            let out = try diff(snapshot, ["--json"])
            XCTAssertEqual(out.status, 0, out.stderrText)
            try JSONSchemas.validate(out.stdout, against: "diff")
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: out.stdout) as? [String: Any])
            XCTAssertEqual(json["missing_from_live"] as? Int, database["snapshot_rows_in_window_missing_from_live"] as? Int, snapshot)
            XCTAssertEqual(json["changed"] as? Int, database["snapshot_rows_in_window_changed_in_live"] as? Int, snapshot)
            XCTAssertEqual(json["only_in_live"] as? Int, database["live_time_slots_in_window"] as? Int, snapshot)
            XCTAssertEqual(json["identical"] as? Int, 0, snapshot)
            XCTAssertEqual(json["quarantined"] as? Int, 0, snapshot)
            XCTAssertFalse(out.stdoutText.contains("not-shown") || out.stderrText.contains("not-shown"))
        }
    }

    /// `--show` below 0 is a usage error, named by its flag; it used to crash (a negative prefix)
    /// once a snapshot row was quarantined.
    func testNegativeShowIsAUsageErrorNotACrash() throws {
        let dump = try String(contentsOf: Repository.fixture("demo/snapshot/time_slots.sql"), encoding: .utf8)
        var lines = dump.components(separatedBy: "\n")
        let copy = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("COPY public.time_slots ") })
        var fields = lines[copy + 1].components(separatedBy: "\t")
        fields[1] = "not-a-user"  // user_id: this row is quarantined
        lines[copy + 1] = fields.joined(separator: "\t")
        let directory = try TemporaryDirectory(prefix: "diff-show")
        let bad = directory.file("time_slots.sql")
        try Data(lines.joined(separator: "\n").utf8).write(to: bad)

        let out = try diff(bad.path, ["--show=-1"])
        XCTAssertEqual(out.status, 64, out.stderrText)
        XCTAssertEqual(out.stderrText, "recover-tool: error: '--show' must be 0 or more; see 'recover-tool help'\n")
        XCTAssertEqual(try diff(bad.path, ["--show", "0"]).status, 0)
    }

    func testDiffIsReadOnly() throws {
        func checksum() throws -> String {
            try runChecked("psql", ["-tA", "-d", live, "-c",
                                    "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM time_slots t"]).stdoutText
        }
        let before = try checksum()
        XCTAssertEqual(try diff("fixtures/demo/snapshot/time_slots.sql").status, 0)
        XCTAssertEqual(try checksum(), before)
    }

    func testAMissingSnapshotIsOneLineAndStatus65() throws {
        let out = try diff("no/such/dump.sql")
        XCTAssertEqual(out.status, 65)
        XCTAssertEqual(out.stderrText.filter { $0 == "\n" }.count, 1, out.stderrText)
        XCTAssertTrue(out.stderrText.hasPrefix("recover-tool: error: "), out.stderrText)
        XCTAssertTrue(out.stderrText.contains("no/such/dump.sql"), out.stderrText)
    }
}
