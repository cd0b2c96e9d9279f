import Foundation
import TestSupport
import XCTest

/// End to end: the built `recover-tool scan` on fixtures/logs-basic (see fixtures/README.md).
final class ScanCommandTests: XCTestCase {
    /// The built `recover-tool` (TestSupport finds it beside this test bundle).
    static var tool: String { BuiltProducts.recoverTool }

    static let fixture = Repository.fixture("logs-basic").path
    static let window = ["--from", "2018-07-25T14:00:00Z", "--to", "2018-07-25T09:00:00-07:00"]

    func scan(_ args: [String]) throws -> ProcessOutput {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.tool), "build recover-tool first: swift build --build-tests")
        return try runProcess(Self.tool, ["scan"] + args, currentDirectory: Repository.root)
    }

    func json(_ output: ProcessOutput) throws -> [String: Any] {
        try JSONSchemas.validate(output.stdout, against: "scan")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: output.stdout) as? [String: Any], output.stderrText)
    }

    func testJSONReportOnTheFixture() throws {
        let out = try scan(Self.window + ["--logs", "fixtures/logs-basic", "--json"])
        XCTAssertEqual(out.status, 0, out.stderrText)
        XCTAssertEqual(out.stderrText, "")
        let report = try json(out)
        XCTAssertEqual(report["window"] as? [String: String], ["from": "2018-07-25T14:00:00Z", "to": "2018-07-25T16:00:00Z"])
        XCTAssertEqual(report["coverage_range"] as? [String: String], ["from": "2018-07-25T14:00:00Z", "to": "2018-07-25T19:00:00Z"])
        let totals = try XCTUnwrap(report["totals"] as? [String: Any])
        let expected: [String: Int] = [
            "files": 3, "lines": 1182, "uploads": 1169, "processed": 4, "deleted": 2, "outside_window": 1,
            "other_events": 2, "quarantined": 4, "damaged_files": 1, "slots": 15, "deleted_slots": 2,
            "duplicates": 1, "orphans": 1,
        ]
        for (key, value) in expected { XCTAssertEqual(totals[key] as? Int, value, key) }
        XCTAssertEqual(totals["quarantined_by_reason"] as? [String: Int],
                       ["invalid_utf8": 1, "malformed_json": 1, "misaligned_slot_start": 1, "out_of_range": 1])

        let files = try XCTUnwrap(report["files"] as? [[String: Any]])
        XCTAssertEqual(files.map { $0["path"] as? String }, ["app-1.log.lz4", "app-2.jsonl.lz4", "app-3.log"].map { "fixtures/logs-basic/" + $0 })
        XCTAssertEqual(files.map { $0["lines"] as? Int }, [8, 1164, 10])
        XCTAssertEqual(files.map { $0["quarantined"] as? Int }, [0, 0, 4])
        XCTAssertEqual(files.map { $0["truncated"] as? Bool }, [false, true, false])
        XCTAssertTrue(files[0]["damage"] is NSNull)
        XCTAssertEqual(files[1]["damage"] as? NSDictionary,
                       ["kind": "truncated", "offset": 40000, "detail": "truncated at byte 40000: the last LZ4 frame is incomplete"] as NSDictionary)
        XCTAssertEqual(files[1]["dropped_partial_line"] as? Bool, true)
        XCTAssertEqual(files[0]["other_events"] as? [String: Int], ["server.heartbeat": 1])

        let hosts = try XCTUnwrap(report["hosts"] as? [[String: Any]])
        XCTAssertEqual(hosts.map { $0["host"] as? String }, ["app-1", "app-2", "app-3"])
        XCTAssertEqual(hosts[1]["first_event"] as? String, "2018-07-25T16:00:00Z")
        XCTAssertEqual(hosts[1]["gaps"] as? NSArray, [
            ["from": "2018-07-25T14:00:00Z", "to": "2018-07-25T16:00:00Z", "minutes": 120],
            ["from": "2018-07-25T16:20:00Z", "to": "2018-07-25T19:00:00Z", "minutes": 160],
        ] as NSArray)
        let quarantine = try XCTUnwrap(report["quarantine"] as? [NSDictionary])
        XCTAssertEqual(quarantine.first, ["file": "fixtures/logs-basic/app-3.log", "line": 4, "reason": "malformed_json",
                                          "detail": "malformed JSON: the line ends inside a value"] as NSDictionary)
    }

    func testOutputDoesNotDependOnTheOrderOfLogs() throws {
        let dir = "fixtures/logs-basic/"
        let a = try scan(Self.window + ["--json", "--logs", dir + "app-3.log", dir + "app-1.log.lz4", dir + "app-2.jsonl.lz4"])
        let b = try scan(Self.window + ["--logs", dir + "app-2.jsonl.lz4", dir + "app-3.log", dir + "app-1.log.lz4", "--json"])
        let c = try scan(Self.window + ["--logs", "fixtures/logs-basic", "--json"])
        XCTAssertEqual(a.status, 0)
        XCTAssertEqual(a.stdoutText, b.stdoutText)
        XCTAssertEqual(a.stdoutText, c.stdoutText)
    }

    func testTextReportEchoesTheWindowInUTC() throws {
        let out = try scan(Self.window + ["--logs", "fixtures/logs-basic"])
        XCTAssertEqual(out.status, 0, out.stderrText)
        let lines = out.stdoutText.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "scan of window [2018-07-25T14:00:00Z, 2018-07-25T16:00:00Z) UTC; host coverage until 2018-07-25T19:00:00Z")
        XCTAssertTrue(lines.contains("    DAMAGED: truncated at byte 40000: the last LZ4 frame is incomplete; the cut last line was not read"))
        XCTAssertTrue(lines.contains("  after the fold: 15 slots with a version, 2 deleted, 1 duplicate uploads, 1 orphan processed events"))
        XCTAssertTrue(lines.contains("  fixtures/logs-basic/app-3.log:7: 'keystrokes' is out of range"))
    }

    func testTimeWithoutOffsetIsRefusedNamingTheFlag() throws {
        let out = try scan(["--from", "2018-07-25 14:55", "--to", "2018-07-25T16:00:00Z", "--logs", "fixtures/logs-basic"])
        XCTAssertEqual(out.status, 64)
        XCTAssertEqual(out.stdoutText, "")
        XCTAssertEqual(out.stderrText,
                       "recover-tool: error: --from '2018-07-25 14:55' has no UTC offset: write it as 2018-07-25T14:55:00Z or with an offset such as -07:00; see 'recover-tool help'\n")

        let bad = try scan(["--from", "2018-07-25T14:00:00Z", "--to", "tomorrow", "--logs", "fixtures/logs-basic"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertEqual(bad.stderrText,
                       "recover-tool: error: --to 'tomorrow' is not an RFC 3339 time: write it as 2018-07-25T14:55:00Z or with an offset such as -07:00; see 'recover-tool help'\n")
    }

    /// A time whose offset takes it out of the years 1 to 9999 is refused as such, by every
    /// command: `diff`, which reads no logs, went on to fail in PostgreSQL (69).
    func testTimeOutsideTheYearsOneTo9999IsRefused() throws {
        let out = try scan(["--from", "0001-01-01T00:00:00+14:00", "--to", "2018-07-25T16:00:00Z", "--logs", "fixtures/logs-basic"])
        XCTAssertEqual(out.status, 64)
        XCTAssertEqual(out.stderrText,
                       "recover-tool: error: --from '0001-01-01T00:00:00+14:00' is 0000-12-31T10:00:00Z in UTC, outside the years 1 to 9999 "
                        + "that PostgreSQL's timestamps and this tool share; see 'recover-tool help'\n")
        let diff = try runProcess(Self.tool, ["diff", "--from", "2018-07-25T14:00:00Z", "--to", "9999-12-31T23:59:59-00:01", "--snapshot", "fixtures/demo/snapshot/time_slots.sql"],
                                  currentDirectory: Repository.root)
        XCTAssertEqual(diff.status, 64, diff.stderrText)
        XCTAssertTrue(diff.stderrText.contains("--to '9999-12-31T23:59:59-00:01' is 10000-01-01T00:00:59Z in UTC, outside the years 1 to 9999"), diff.stderrText)
    }

    /// A window a microsecond past the limit is said to be longer than it, not "366 days long;
    /// ... at most 366 days" (found by a hostile test).
    func testAWindowPastTheLimitIsSaidToBeLonger() throws {
        let out = try scan(["--from", "2019-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00.000001Z", "--logs", "fixtures/logs-basic"])
        XCTAssertEqual(out.status, 64)
        XCTAssertTrue(out.stderrText.contains("the window [2019-01-01T00:00:00Z, 2020-01-02T00:00:00.000001Z) is longer than 366 days; "), out.stderrText)
    }

    func testToMustBeAfterFrom() throws {
        let out = try scan(["--from", "2018-07-25T16:00:00Z", "--to", "2018-07-25T09:00:00-07:00", "--logs", "fixtures/logs-basic"])
        XCTAssertEqual(out.status, 64)
        XCTAssertEqual(out.stderrText,
                       "recover-tool: error: '--to' (2018-07-25T16:00:00Z) must be after '--from' (2018-07-25T16:00:00Z); see 'recover-tool help'\n")
    }

    func testMissingPathStopsWithOneLineAndStatus65() throws {
        let out = try scan(Self.window + ["--logs", "fixtures/logs-basic", "no/such/logs", "--json"])
        XCTAssertEqual(out.status, 65)
        XCTAssertEqual(out.stderrText, "recover-tool: error: no input at 'no/such/logs': no such file or directory; check --logs and --snapshot\n")
        // With --json, standard output is the error object and nothing else.
        try JSONSchemas.validate(out.stdout, against: "error")
        let error = try XCTUnwrap((JSONSerialization.jsonObject(with: out.stdout) as? [String: Any])?["error"] as? [String: Any])
        XCTAssertEqual(error["code"] as? String, "source_not_found")
        XCTAssertEqual(error["message"] as? String, "no input at 'no/such/logs': no such file or directory")
        XCTAssertEqual(error["hint"] as? String, "check --logs and --snapshot")

        let empty = try TemporaryDirectory(prefix: "scan-empty")
        let none = try scan(Self.window + ["--logs", empty.path])
        XCTAssertEqual(none.status, 65)
        XCTAssertEqual(none.stderrText, "recover-tool: error: no log files in --logs '\(empty.path)': expected *.log, *.jsonl, *.log.lz4 or *.jsonl.lz4\n")
    }

    /// The demo incident (fixtures/demo): scan's counts are the generator's ground truth.
    func testDemoIncidentMatchesExpectedJSON() throws {
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: Repository.fixture("demo/expected.json"))) as? [String: Any])
        let window = try XCTUnwrap(expected["window"] as? [String: String])
        let out = try scan(["--from", window["from"]!, "--to", window["to"]!, "--logs", "fixtures/demo/logs", "--json"])
        XCTAssertEqual(out.status, 0, out.stderrText)
        let report = try json(out)
        XCTAssertEqual(report["window"] as? [String: String], window)
        let totals = try XCTUnwrap(report["totals"] as? [String: Any])
        let lines = try XCTUnwrap(expected["lines"] as? [String: Any])
        let inWindow = try XCTUnwrap(lines["in_window"] as? [String: Int])
        XCTAssertEqual(totals["lines"] as? Int, lines["total"] as? Int)
        XCTAssertEqual(totals["uploads"] as? Int, inWindow["uploads"])
        XCTAssertEqual(totals["processed"] as? Int, inWindow["processed"])
        XCTAssertEqual(totals["deleted"] as? Int, inWindow["deleted"])
        XCTAssertEqual(totals["other_events"] as? Int, lines["other_events"] as? Int)
        XCTAssertEqual(totals["quarantined"] as? Int, lines["quarantined"] as? Int)
        let files = try XCTUnwrap(report["files"] as? [[String: Any]])
        for kind in ["uploads", "processed", "deleted"] {
            XCTAssertEqual(files.map { ($0["events"] as! [String: Int])[kind]! }.reduce(0, +), lines[kind] as? Int, kind)
        }
        let logsOnly = try XCTUnwrap(expected["logs_only"] as? [String: Int])
        XCTAssertEqual(totals["slots"] as? Int, logsOnly["slots"])
        XCTAssertEqual(totals["deleted_slots"] as? Int, logsOnly["deleted"])
        XCTAssertEqual(totals["duplicates"] as? Int, logsOnly["duplicates"])
        XCTAssertEqual(totals["orphans"] as? Int, logsOnly["orphans"])

        // Per file: complete lines and truncation, as the generator wrote them.
        let expectedFiles = try XCTUnwrap(expected["files"] as? [[String: Any]]).filter { ($0["path"] as? String)?.hasPrefix("logs/") == true }
        let byPath = Dictionary(uniqueKeysWithValues: files.map { ($0["path"] as! String, $0) })
        XCTAssertEqual(byPath.count, expectedFiles.count)
        for e in expectedFiles {
            let path = "fixtures/demo/logs/" + (e["path"] as! String).dropFirst("logs/".count)
            let f = try XCTUnwrap(byPath[path], path)
            XCTAssertEqual(f["lines"] as? Int, e["lines_readable"] as? Int, path)
            XCTAssertEqual(f["truncated"] as? Bool, e["truncated"] as? Bool, path)
        }
        // The crashed host's silence shows as a gap between the lost frame and the restart.
        let times = try XCTUnwrap(expected["times"] as? [String: String])
        let hosts = try XCTUnwrap(report["hosts"] as? [[String: Any]])
        let crashed = try XCTUnwrap(hosts.first { $0["host"] as? String == times["crashed_host"] })
        let gaps = try XCTUnwrap(crashed["gaps"] as? [[String: Any]])
        XCTAssertEqual(gaps.count, 1)
        XCTAssertLessThanOrEqual(gaps[0]["from"] as! String, times["crash"]!)
        XCTAssertLessThanOrEqual(gaps[0]["to"] as! String, times["restart"]!)
    }
}
