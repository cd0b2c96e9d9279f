import Foundation
import RecoveryModel
import TestSupport
import XCTest

/// End to end on the demo incident (fixtures/demo): `--shard K/N` on `scan`, `plan`, `apply` and
/// `verify` of the built `recover-tool`, against a real PostgreSQL.
final class ShardCommandTests: XCTestCase {
    static var tool: String { BuiltProducts.path("recover-tool") }
    static let window = DemoIncident.window
    static var logs: String { DemoIncident.logs }
    static var snapshot: String { DemoIncident.snapshot }

    var live: TestDatabase!
    var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        live = try TestDatabase(label: "shard")
        dir = try TemporaryDirectory(prefix: "shard")
        try DemoIncident.loadLive(into: live)
    }

    func tool(_ arguments: [String]) throws -> ProcessOutput {
        try runProcess(Self.tool, arguments, environment: live.processEnvironment.merging(["USER": "shard-job"]) { $1 })
    }

    /// Plans the window into `dir/NAME`, for one shard or all users; returns the rows file's lines.
    @discardableResult
    func plan(_ name: String, shard: String? = nil) throws -> [Substring] {
        let output = try tool(["plan"] + Self.window + ["--logs", Self.logs, "--snapshot", Self.snapshot,
                               "--db", live.conninfo, "--out", dir.file(name).path, "--quiet"]
                              + (shard.map { ["--shard", $0] } ?? []))
        XCTAssertEqual(output.status, 0, output.stderrText)
        return try String(contentsOf: dir.file(name + "/rows.tsv"), encoding: .utf8).split(separator: "\n")
    }

    func planID(_ name: String) throws -> String {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.file(name + "/plan.json"))) as? [String: Any]
        return try XCTUnwrap(json?["plan_id"] as? String)
    }

    func count(_ sql: String) throws -> String {
        try live.connect().execute(sql).scalar ?? ""
    }

    func testTheShardsOfAPlanAreTheWholePlanWithNoSlotTwice() throws {
        let whole = try plan("whole")
        XCTAssertEqual(whole.count, 82)
        for n in [2, 3] {
            var union: [Substring] = []
            var keys = Set<String>()
            for k in 0..<n {
                let rows = try plan("shard-\(k)-of-\(n)", shard: "\(k)/\(n)")
                XCTAssertFalse(rows.isEmpty, "shard \(k)/\(n) is empty: the demo's users should spread")
                for row in rows {
                    let fields = row.split(separator: "\t", maxSplits: 4)  // user_id, project_id, task_id, slot_start
                    XCTAssertTrue(keys.insert("\(fields[0]) \(fields[3])").inserted, "slot \(fields[0]) \(fields[3]) is in two shards of \(n)")
                }
                union += rows
            }
            XCTAssertEqual(union.sorted(), whole.sorted(), "the \(n) shards together are not the whole plan")
        }
    }

    func testScanOfEveryShardAddsUpToTheWholeScan() throws {
        func slots(_ shard: [String]) throws -> Int {
            let output = try tool(["scan"] + Self.window + ["--logs", Self.logs, "--json", "--quiet"] + shard)
            XCTAssertEqual(output.status, 0, output.stderrText)
            try JSONSchemas.validate(output.stdout, against: "scan")
            let json = try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any]
            let expected = shard.last.flatMap { Shard(parsing: $0) }.map { ["index": $0.index, "count": $0.count] }
            XCTAssertEqual(json?["shard"] as? [String: Int], expected)
            return try XCTUnwrap((json?["totals"] as? [String: Any])?["slots"] as? Int)
        }
        let whole = try slots([])
        XCTAssertEqual(whole, 106)  // expected.json: logs_only.slots
        XCTAssertEqual(try slots(["--shard", "0/3"]) + slots(["--shard", "1/3"]) + slots(["--shard", "2/3"]), whole)
    }

    /// `--shard env/N`: K from JOB_COMPLETION_INDEX, as a pod of a Kubernetes Indexed Job has it.
    func testShardEnvTakesTheIndexFromTheJobAndRefusesAMissingOrWrongOne() throws {
        func scan(_ shard: String, index: String?) throws -> ProcessOutput {
            var environment = ProcessInfo.processInfo.environment
            environment["JOB_COMPLETION_INDEX"] = index
            return try runProcess(Self.tool, ["scan"] + Self.window + ["--logs", Self.logs, "--json", "--quiet", "--shard", shard],
                                  environment: environment)
        }
        let fromEnvironment = try scan("env/3", index: "1")
        XCTAssertEqual(fromEnvironment.status, 0, fromEnvironment.stderrText)
        XCTAssertEqual(fromEnvironment.stdout, try scan("1/3", index: nil).stdout)

        let unset = try scan("env/3", index: nil)
        XCTAssertEqual(unset.status, 64)
        XCTAssertEqual(unset.stderrText, "recover-tool: error: the value 'env/3' is invalid for '--shard <K/N>': "
                       + "JOB_COMPLETION_INDEX is not set; run it as a pod of an Indexed Job, or give K/3; see 'recover-tool help'\n")
        let outside = try scan("env/3", index: "3")
        XCTAssertEqual(outside.status, 64)
        XCTAssertEqual(outside.stderrText, "recover-tool: error: the value 'env/3' is invalid for '--shard <K/N>': "
                       + "JOB_COMPLETION_INDEX is '3', not an index from 0 to 2; the Job's completions must be 3; see 'recover-tool help'\n")
        XCTAssertEqual(try scan("env/3", index: "-1").status, 64)
        XCTAssertEqual(try scan("env/0", index: "0").status, 64)
    }

    func testApplyingEveryShardThenVerifyingTheSetPasses() throws {
        for k in 0..<3 { try plan("s\(k)", shard: "\(k)/3") }
        var runs: [String] = []
        for k in 0..<3 {
            let applied = try tool(["apply", dir.file("s\(k)").path, "--db", live.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.file("s\(k)").path), "--shard", "\(k)/3", "--quiet"])
            XCTAssertEqual(applied.status, 0, applied.stderrText)
            runs.append(String(k + 1))
        }
        XCTAssertEqual(try count("SELECT count(*) FROM time_slots WHERE source = 'recovered'"), "82")
        XCTAssertEqual(try count("SELECT string_agg(shard_index || '/' || shard_count, ' ' ORDER BY id) FROM recovery.runs"), "0/3 1/3 2/3")

        let verified = try tool(["verify", "--run", "1", "--run", "2", "--run", "3"])
        XCTAssertEqual(verified.status, 0, verified.stdoutText + verified.stderrText)
        XCTAssertTrue(verified.stdoutText.hasSuffix(
            "runs 1, 2, 3 verify as one recovery of [2018-07-25T14:50:00Z, 2018-07-25T17:50:00Z): shards 0 to 2 of 3, each once, no slot twice\n"),
            verified.stdoutText)
        let json = try tool(["verify", "--run", "3", "--run", "1", "--run", "2", "--json"])
        XCTAssertEqual(json.status, 0)
        try JSONSchemas.validate(json.stdout, against: "verify")
        let report = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
        XCTAssertEqual(report?["clean"] as? Bool, true)
        XCTAssertEqual((report?["runs"] as? [Any])?.count, 3)

        let partial = try tool(["verify", "--run", "1", "--run", "3"])
        XCTAssertEqual(partial.status, 71)
        XCTAssertTrue(partial.stdoutText.contains("shards: no run for shard 1/3\n"), partial.stdoutText)
        XCTAssertEqual(partial.stderrText,
                       "recover-tool: error: runs 1, 3 do not verify as one sharded recovery: 1 problem with the set; see the list above\n")

        // A reverted shard leaves the recovery incomplete: the set check names it.
        XCTAssertEqual(try tool(["revert", "--run", "2", "--yes", "--quiet"]).status, 0)
        let afterRevert = try tool(["verify", "--run", "1", "--run", "2", "--run", "3"])
        XCTAssertEqual(afterRevert.status, 71)
        XCTAssertTrue(afterRevert.stdoutText.contains("shards: run 2 was reverted: the sharded recovery is no longer whole\n"),
                      afterRevert.stdoutText)
    }

    func testApplyRefusesAnotherShardsPlanAndChangesNothing() throws {
        try plan("s1", shard: "1/2")
        try plan("whole")
        let before = try count("SELECT count(*) FROM time_slots")
        let wrong = try tool(["apply", dir.file("s1").path, "--db", live.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.file("s1").path), "--shard", "0/2"])
        XCTAssertEqual(wrong.status, 70)
        XCTAssertEqual(wrong.stderrText, "recover-tool: error: refusing the plan in '\(dir.file("s1").path)': it was made for shard 1/2, "
                       + "not shard 0/2 as --shard says; nothing was changed; apply shard 0/2's own plan\n")
        let unsharded = try tool(["apply", dir.file("whole").path, "--db", live.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.file("whole").path), "--shard", "0/2"])
        XCTAssertEqual(unsharded.status, 70)
        XCTAssertTrue(unsharded.stderrText.contains("it was made for all users (no --shard), not shard 0/2"), unsharded.stderrText)
        XCTAssertEqual(try count("SELECT count(*) FROM time_slots"), before)
        XCTAssertEqual(try count("SELECT count(*) FROM pg_namespace WHERE nspname = 'recovery'"), "0")

        let right = try tool(["apply", dir.file("s1").path, "--db", live.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.file("s1").path), "--shard", "1/2", "--quiet"])
        XCTAssertEqual(right.status, 0, right.stderrText)
        XCTAssertTrue(right.stdoutText.hasPrefix("applied plan \(try planID("s1")) as run 1\n"), right.stdoutText)
        let runs = try tool(["runs"])
        let row = runs.stdoutText.split(separator: "\n")[1].split(separator: " ")
        XCTAssertEqual(row[6...7], ["1/2", "shard-job"], runs.stdoutText)
    }
}
