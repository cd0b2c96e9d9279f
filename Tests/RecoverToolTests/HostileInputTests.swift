import Foundation
import PostgresClient
import RecoveryModel
import TestSupport
import XCTest

/// End to end: the rows of issue 10's table that the command line and the session answer, on the
/// demo incident (fixtures/demo) against a real PostgreSQL. docs/THREATS.md lists them.
final class HostileInputTests: XCTestCase {
    static var tool: String { BuiltProducts.path("recover-tool") }
    static let window = DemoIncident.window
    static var logs: String { DemoIncident.logs }
    static var snapshot: String { DemoIncident.snapshot }

    var live: TestDatabase!
    var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        live = try TestDatabase(label: "hostile")
        dir = try TemporaryDirectory(prefix: "hostile")
        try DemoIncident.loadLive(into: live)
    }

    func tool(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        try runProcess(Self.tool, arguments, environment: live.processEnvironment.merging(environment) { $1 })
    }

    func plan(_ name: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> ProcessOutput {
        try tool(["plan"] + Self.window + ["--logs", Self.logs, "--snapshot", Self.snapshot, "--db", live.conninfo,
                  "--out", dir.file(name).path, "--quiet"] + extra, environment: environment)
    }

    func counts(_ name: String) throws -> [Int] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.file(name + "/plan.json"))) as? [String: Any]
        let counts = try XCTUnwrap(json?["counts"] as? [String: Any])
        return ["recovered", "already_present", "offline_overlap"].map { counts[$0] as? Int ?? -1 }
    }

    func assertOneErrorLine(
        _ output: ProcessOutput, _ line: String, status: Int32, file: StaticString = #filePath, line l: UInt = #line
    ) {
        XCTAssertEqual(output.status, status, output.stderrText, file: file, line: l)
        XCTAssertEqual(output.stderrText, "recover-tool: error: \(line)\n", file: file, line: l)
    }

    /// Row 1: the database's DateStyle, TimeZone and IntervalStyle, and PGDATESTYLE/PGTZ, change
    /// nothing: the plan is the ISO plan, 82 / 15 / 7.
    func testForeignDateStyleAndTimeZoneGiveTheSamePlan() throws {
        XCTAssertEqual(try plan("iso").status, 0)
        XCTAssertEqual(try counts("iso"), [82, 15, 7])
        try live.connect().executeSimple("""
            ALTER DATABASE \(live.name) SET datestyle = 'SQL, DMY';
            ALTER DATABASE \(live.name) SET timezone = 'Pacific/Chatham';
            ALTER DATABASE \(live.name) SET intervalstyle = 'iso_8601';
            ALTER DATABASE \(live.name) SET search_path = pg_temp, public;
            """)
        let sql = try plan("sql")
        XCTAssertEqual(sql.status, 0, sql.stderrText)
        XCTAssertEqual(try counts("sql"), [82, 15, 7])
        let german = try plan("german", environment: ["PGDATESTYLE": "German", "PGTZ": "Asia/Kathmandu"])
        XCTAssertEqual(german.status, 0, german.stderrText)
        XCTAssertEqual(try counts("german"), [82, 15, 7])
    }

    /// Row 12: a statement cancelled by the server's statement_timeout during plan is "busy".
    func testStatementTimeoutDuringPlanExitsBusy() throws {
        try live.connect().executeSimple("ALTER DATABASE \(live.name) SET statement_timeout = '300ms'")
        let holder = try live.connect()
        try holder.begin()
        try holder.executeSimple("SET LOCAL statement_timeout = 0; LOCK TABLE public.time_slots IN ACCESS EXCLUSIVE MODE")
        let output = try plan("timeout")
        try holder.rollback()
        XCTAssertEqual(output.status, 75, output.stderrText)
        XCTAssertTrue(output.stderrText.contains("canceling statement due to statement timeout (SQLSTATE 57014)"), output.stderrText)
        XCTAssertEqual(output.stderrText.filter { $0 == "\n" }.count, 1, output.stderrText)
    }

    /// Row 8: timeouts that are not finite, positive and within the server's range are usage
    /// errors, never a trap.
    func testTimeoutsMustBeFiniteAndBounded() throws {
        let message = "must be a number of seconds more than 0 and at most 2147483 (about 24 days); see 'recover-tool help'"
        for value in ["inf", "-inf", "1e300", "nan", "0", "-1", "2147484"] {
            for flag in ["--statement-timeout", "--lock-timeout"] {
                let apply = try tool(["apply", dir.path, "--yes", "\(flag)=\(value)"])
                assertOneErrorLine(apply, "'\(flag)' \(message)", status: 64)
            }
            let revert = try tool(["revert", "--run", "1", "--yes", "--lock-timeout=\(value)"])
            assertOneErrorLine(revert, "'--lock-timeout' \(message)", status: 64)
        }
    }

    /// Row 11: a single-valued option given twice is refused, not silently the last.
    func testRepeatedSingleValuedOptionIsRefused() throws {
        let output = try tool(["plan", "--from", "2018-07-25T14:50:00Z", "--from", "2018-07-25T15:50:00Z",
                               "--to", "2018-07-25T17:50:00Z", "--logs", Self.logs, "--out", dir.file("x").path])
        assertOneErrorLine(output, "'--from' is given more than once; give it once; see 'recover-tool help'", status: 64)
        let equals = try tool(["apply", dir.path, "--db=a", "--db", "b", "--yes"])
        assertOneErrorLine(equals, "'--db' is given more than once; give it once; see 'recover-tool help'", status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("x").path))
        // Options that take several values may be repeated: their values add up.
        let logs = try tool(["plan"] + Self.window + [
            "--logs", Self.logs + "/app-1", "--snapshot", Self.snapshot, "--logs", Self.logs + "/app-2", Self.logs + "/app-3",
            "--db", live.conninfo, "--out", dir.file("twice").path, "--quiet"])
        XCTAssertEqual(logs.status, 0, logs.stderrText)
        XCTAssertEqual(try counts("twice"), [82, 15, 7])
    }

    /// Row 3: a read-only database (its default, or a standby) is refused before any write, by
    /// apply and by revert, with one line and exit 69.
    func testReadOnlyDatabaseIsRefusedBeforeAnyWrite() throws {
        XCTAssertEqual(try plan("p").status, 0)
        let applied = try tool(["apply", dir.file("p").path, "--db", live.conninfo, "--yes"])
        XCTAssertEqual(applied.status, 0, applied.stderrText)
        XCTAssertEqual(try plan("q", ["--tz", "UTC"]).status, 0)
        try live.connect().executeSimple("ALTER DATABASE \(live.name) SET default_transaction_read_only = on")
        let before = try DatabaseState.checksums(try live.connect())
        let apply = try tool(["apply", dir.file("q").path, "--db", live.conninfo, "--yes"])
        assertOneErrorLine(
            apply,
            "cannot apply the plan in '\(dir.file("q").path)': the database '\(ConnectionInfo.redacted(live.conninfo))' is read-only "
                + "(default_transaction_read_only is on); nothing was changed; run it against the primary, or make the database writable first",
            status: 69)
        let revert = try tool(["revert", "--run", "1", "--db", live.conninfo, "--yes"])
        assertOneErrorLine(
            revert,
            "cannot revert run 1: the database '\(ConnectionInfo.redacted(live.conninfo))' is read-only "
                + "(default_transaction_read_only is on); nothing was changed; run it against the primary, or make the database writable first",
            status: 69)
        XCTAssertEqual(try DatabaseState.checksums(try live.connect()), before)
    }

    /// Row 6: a host, app and note holding terminal escapes, BEL and a bidi override reach
    /// stdout, stderr, report.md, report.html and the CSV files only as visible escapes.
    func testInputTextNeverDrivesTheTerminalOrThePage() throws {
        let host = #"\u001b[2J\u001b[31mapp-9\u0007\u202e"#
        let line = #"{"ts":"2018-07-25T15:05:00Z","host":"\#(host)","event":"slot.upload","request_id":"r\u001b]0;x\u0007","user_id":1,"project_id":1,"task_id":null,"slot_start":"2018-07-25T15:00:00Z","keystrokes":1,"mouse_events":1,"active_apps":["X\u001b[5m"],"screenshot_key":null,"note":"n\u202eote\u0007"}"#
        let logs = dir.file("evil-logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        try (line + "\n" + #"{"ts":"2018-07-25T15:06:00Z","host":"\#(host)","event":"slot.upload","user_id":"#
             + "\n").write(to: logs.appendingPathComponent("evil\u{1B}[2J\u{7}.jsonl"), atomically: false, encoding: .utf8)
        let output = try tool(["plan"] + Self.window + ["--logs", Self.logs, logs.path, "--db", live.conninfo,
                               "--out", dir.file("evil").path])
        XCTAssertEqual(output.status, 0, output.stderrText)
        XCTAssertTrue(output.stderrText.contains(#"\u001b[2J\u001b[31mapp-9\u0007\u202e"#), output.stderrText)
        var texts = ["stdout": output.stdoutText, "stderr": output.stderrText]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.file("evil").path) where file != "rows.tsv" {
            texts[file] = try String(contentsOf: dir.file("evil/" + file), encoding: .utf8)
        }
        for (name, text) in texts {
            for scalar in text.unicodeScalars where scalar != "\n" && scalar != "\t" && !(scalar == "\r" && name.hasSuffix(".csv")) {
                XCTAssertFalse(VisibleText.needsEscape(scalar), "\(name) holds U+\(String(scalar.value, radix: 16))")
            }
        }
        let md = try XCTUnwrap(texts["report.md"])
        XCTAssertTrue(md.contains(#"app-9\\u0007"#) || md.contains(#"app-9\u0007"#), md)
    }
}
