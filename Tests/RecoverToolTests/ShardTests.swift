import Foundation
import RecoveryModel
import TestSupport
import XCTest

/// End to end on the demo incident (fixtures/demo): `--shard K/N` on `scan`, `plan`, `apply` and
/// `verify` of the built `recover-tool`, against a real PostgreSQL.
final class ShardCommandTests: XCTestCase {
    var demo: DemoRun!

    override func setUpWithError() throws {
        demo = try DemoRun(label: "shard", environment: ["USER": "shard-job"])
    }

    override func tearDown() {
        demo = nil
    }

    func tool(_ arguments: [String]) throws -> ProcessOutput { try demo.tool(arguments) }

    /// Plans the window into `dir/NAME`, for one shard or all users; returns the rows file's lines.
    @discardableResult
    func plan(_ name: String, shard: String? = nil) throws -> [Substring] {
        let output = try tool(["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot,
                               "--db", demo.live.conninfo, "--out", demo.dir.file(name).path, "--quiet"]
                              + (shard.map { ["--shard", $0] } ?? []))
        XCTAssertEqual(output.status, 0, output.stderrText)
        return try String(contentsOf: demo.dir.file(name + "/rows.tsv"), encoding: .utf8).split(separator: "\n")
    }

    func planID(_ name: String) throws -> String {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: demo.dir.file(name + "/plan.json"))) as? [String: Any]
        return try XCTUnwrap(json?["plan_id"] as? String)
    }

    func count(_ sql: String) throws -> String {
        try demo.live.connect().execute(sql).scalar ?? ""
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

    /// `--verbose` logs the steps of scan, show and combine too, as their help says (they logged
    /// nothing: found by an audit of the docs against the tool); combine takes `-o` as plan does,
    /// and its directories are required in its usage line.
    func testVerboseLogsTheStepsOfScanShowAndCombine() throws {
        try plan("v0", shard: "0/2")
        try plan("v1", shard: "1/2")
        let steps = [
            ["scan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--quiet", "-v"],
            ["show", demo.dir.file("v0").path, "--verbose"],
            ["combine", demo.dir.file("v0").path, demo.dir.file("v1").path, "-o", demo.dir.file("vset").path, "-q", "-v"],
        ]
        for arguments in steps {
            let output = try tool(arguments)
            XCTAssertEqual(output.status, 0, "\(arguments[0]): \(output.stderrText)")
            XCTAssertTrue(output.stderrText.contains(" debug recover-tool: stage done "), "\(arguments[0]): \(output.stderrText)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: demo.dir.file("vset/plan-set.json").path))
        let usage = try tool(["combine", "--help"]).stdoutText
        XCTAssertTrue(usage.contains("recover-tool combine <dir> ... --out <setdir>"), usage)
        XCTAssertTrue(usage.contains("-o, --out <setdir>"), usage)
    }

    func testScanOfEveryShardAddsUpToTheWholeScan() throws {
        func slots(_ shard: [String]) throws -> Int {
            let output = try tool(["scan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--json", "--quiet"] + shard)
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
            return try runProcess(BuiltProducts.recoverTool, ["scan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--json", "--quiet", "--shard", shard],
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
        let spaced = try scan(" 1/2", index: nil)
        XCTAssertEqual(spaced.stderrText, "recover-tool: error: the value ' 1/2' is invalid for '--shard <K/N>': "
                       + "K ' 1' is not a number from 0 to 1; see 'recover-tool help'\n")
        let huge = try scan("0/65536", index: nil)
        XCTAssertEqual(huge.status, 64)
        XCTAssertEqual(huge.stderrText, "recover-tool: error: the value '0/65536' is invalid for '--shard <K/N>': "
                       + "N must be from 1 to 65535; see 'recover-tool help'\n")
    }

    func testApplyingEveryShardThenVerifyingTheSetPasses() throws {
        for k in 0..<3 { try plan("s\(k)", shard: "\(k)/3") }
        var runs: [String] = []
        for k in 0..<3 {
            let applied = try tool(["apply", demo.dir.file("s\(k)").path, "--db", demo.live.conninfo, "--yes", "--plan-id", try approvedPlanID(demo.dir.file("s\(k)").path), "--shard", "\(k)/3", "--quiet"])
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

    /// explain on a shard's plan, for a user of another shard, names that shard: it said "no
    /// input of the plan mentions this slot", though the slot is recovered in the other shard's
    /// plan (found by a hostile test).
    func testExplainNamesTheShardOfAUserOfAnotherShard() throws {
        let whole = try plan("whole")
        let fields = whole[0].split(separator: "\t", maxSplits: 4)  // user_id, project_id, task_id, slot_start
        let user = try XCTUnwrap(Int64(fields[0]))
        let k = try XCTUnwrap((0..<3).first { Shard(index: $0, count: 3)!.contains(userID: user) })
        let other = (k + 1) % 3
        try plan("s\(other)", shard: "\(other)/3")
        let explained = try tool(["explain", demo.dir.file("s\(other)").path, "--user", String(user), "--slot", String(fields[3])])
        XCTAssertEqual(explained.status, 0, explained.stderrText)
        XCTAssertTrue(explained.stdoutText.contains(": other shard: user \(user) is in shard \(k)/3, this plan is shard \(other)/3: "
            + "explain the slot with shard \(k)/3's plan\n"), explained.stdoutText)
        let json = try tool(["explain", demo.dir.file("s\(other)").path, "--user", String(user), "--slot", String(fields[3]), "--json"])
        try JSONSchemas.validate(json.stdout, against: "explain")
    }

    /// A reconcile run is no shard of a recovery: 'verify --run A --run B' with a recovery's
    /// shard 0/2 and a reconcile's shard 1/2 passed, though shard 1/2's slots were never recovered
    /// (found by a hostile test).
    func testARunOfAnotherKindIsNoShardOfTheRecovery() throws {
        // One window for both: after the snapshot's newest row, as reconcile's job window must be.
        let window = ["2018-07-25T16:10:00Z", "2018-07-25T17:50:00Z"]
        let planned = try tool(["plan", "--from", window[0], "--to", window[1], "--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot,
                                "--out", demo.dir.file("s0").path, "--shard", "0/2", "--quiet"])
        XCTAssertEqual(planned.status, 0, planned.stderrText)
        let first = try tool(["apply", demo.dir.file("s0").path, "--yes", "--plan-id", try approvedPlanID(demo.dir.file("s0").path), "--shard", "0/2", "--quiet"])
        XCTAssertEqual(first.status, 0, first.stderrText)
        let reconcile = try tool(["reconcile", "--snapshot", DemoIncident.snapshot, "--job-from", window[0], "--job-to", window[1],
                                  "--columns", "time_slots.project_id", "--shard", "1/2", "--out", demo.dir.file("r1").path, "--quiet"])
        XCTAssertEqual(reconcile.status, 0, reconcile.stderrText)
        let second = try tool(["apply", demo.dir.file("r1").path, "--yes", "--plan-id", try approvedPlanID(demo.dir.file("r1").path), "--shard", "1/2", "--quiet"])
        XCTAssertEqual(second.status, 0, second.stderrText)
        let verified = try tool(["verify", "--run", "1", "--run", "2"])
        XCTAssertEqual(verified.status, 71, verified.stdoutText)
        XCTAssertTrue(verified.stdoutText.contains("shards: run 2 is a reconcile run and run 1 a recover run: the runs of one recovery are of one kind\n"),
                      verified.stdoutText)
    }

    /// One review for a sharded recovery: `combine` the shards into a set, apply every shard at
    /// once with `--plan-set`, and `verify --set`; a set missing a shard, and a shard of another
    /// set, are refused.
    func testCombineApplyTheSetAtOnceAndVerifyTheSet() throws {
        for k in 0..<3 { try plan("s\(k)", shard: "\(k)/3") }
        let setDir = demo.dir.file("set").path
        let missing = try tool(["combine", demo.dir.file("s0").path, demo.dir.file("s2").path, "--out", demo.dir.file("partial").path, "--json"])
        XCTAssertEqual(missing.status, 70)
        XCTAssertEqual(missing.stderrText, "recover-tool: error: refusing the plan set of '\(demo.dir.file("s0").path)': shard 1/3 is missing; "
                       + "plan every shard 0 to N-1 of one N, for one window, from the same inputs and --db, and combine them all\n")
        try JSONSchemas.validate(missing.stdout, against: "error")
        let missingError = (try JSONSerialization.jsonObject(with: missing.stdout) as? [String: Any])?["error"] as? [String: Any]
        XCTAssertEqual(missingError?["code"] as? String, "plan_set_refused")
        XCTAssertFalse(FileManager.default.fileExists(atPath: demo.dir.file("partial/plan-set.json").path))

        // A set directory inside a plan's would be a file the plan does not list: apply would
        // then refuse the plan, approved set and all (found by a hostile test).
        let inside = try tool(["combine"] + (0..<3).map { demo.dir.file("s\($0)").path } + ["--out", demo.dir.file("s1/../s1/set").path])
        XCTAssertEqual(inside.status, 65, inside.stderrText)
        XCTAssertTrue(inside.stderrText.contains("it is inside the plan directory '\(demo.dir.file("s1").path)'"), inside.stderrText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: demo.dir.file("s1/set").path))

        let combined = try tool(["combine"] + (0..<3).map { demo.dir.file("s\($0)").path } + ["--out", setDir, "--json", "--quiet"])
        XCTAssertEqual(combined.status, 0, combined.stderrText)
        try JSONSchemas.validate(combined.stdout, against: "combine")
        try JSONSchemas.validate(file: setDir + "/plan-set.json", against: "plan-set")
        let output = try JSONSerialization.jsonObject(with: combined.stdout) as? [String: Any]
        XCTAssertEqual(output?["directory"] as? String, setDir)
        let set = output?["plan_set"] as? [String: Any]
        let onDisk = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: setDir + "/plan-set.json"))) as? NSDictionary
        XCTAssertEqual(set as NSDictionary?, onDisk, "combine --json prints plan-set.json as written")
        let setID = try XCTUnwrap(set?["set_id"] as? String)
        XCTAssertEqual((set?["plans"] as? [[String: Any]])?.compactMap { $0["plan_id"] as? String },
                       try (0..<3).map { try planID("s\($0)") })
        XCTAssertEqual((set?["counts"] as? [String: Any])?["recovered"] as? Int, 82)
        for report in ["report.md", "report.html"] {
            XCTAssertTrue(try String(contentsOfFile: setDir + "/" + report, encoding: .utf8).contains(setID), report)
        }

        // Shard 1/3 planned for another window is another plan: not in the approved set.
        let other = try tool(["plan", "--from", "2018-07-25T14:50:00Z", "--to", "2018-07-25T17:40:00Z", "--logs", DemoIncident.logs,
                              "--snapshot", DemoIncident.snapshot, "--db", demo.live.conninfo, "--out", demo.dir.file("other").path, "--quiet",
                              "--shard", "1/3"])
        XCTAssertEqual(other.status, 0, other.stderrText)
        let before = try count("SELECT count(*) FROM time_slots")
        let refused = try tool(["apply", demo.dir.file("other").path, "--plan-set", setID, "--set", setDir, "--shard", "1/3", "--yes"])
        XCTAssertEqual(refused.status, 70)
        XCTAssertEqual(refused.stderrText, "recover-tool: error: refusing the plan in '\(demo.dir.file("other").path)': plan \(try planID("other")) "
                       + "is not in the approved plan set \(setID); nothing was changed; apply only the plans of the set that was reviewed\n")
        // A shard of the set, with another set id approved: refused too.
        let otherID = String(repeating: "a", count: 64)
        let unapproved = try tool(["apply", demo.dir.file("s0").path, "--plan-set", otherID, "--set", setDir, "--yes"])
        XCTAssertEqual(unapproved.status, 70)
        XCTAssertTrue(unapproved.stderrText.contains("the plan set is \(setID), not the approved \(otherID)"), unapproved.stderrText)
        XCTAssertEqual(try count("SELECT count(*) FROM time_slots"), before)
        XCTAssertEqual(try count("SELECT count(*) FROM pg_namespace WHERE nspname = 'recovery'"), "0")

        // verify --set before any apply: nothing applied.
        let unapplied = try tool(["verify", "--set", setDir])
        XCTAssertEqual(unapplied.status, 71)
        XCTAssertEqual(unapplied.stderrText, "recover-tool: error: no run to verify as one sharded recovery; see the list above\n")

        // The three shards at once, each admitted by the approved set id.
        let applies = try (0..<3).map { k in
            try Spawned(BuiltProducts.recoverTool, ["apply", demo.dir.file("s\(k)").path, "--plan-set", setID, "--set", setDir,
                                    "--shard", "\(k)/3", "--yes", "--quiet"],
                        environment: demo.live.processEnvironment.merging(["USER": "shard-job"]) { $1 })
        }
        for apply in applies { apply.process.waitUntilExit() }
        XCTAssertEqual(applies.map(\.process.terminationStatus), [0, 0, 0], applies.map(\.stderrText).joined())
        XCTAssertEqual(try count("SELECT count(*) FROM time_slots WHERE source = 'recovered'"), "82")

        let verified = try tool(["verify", "--set", setDir, "--json"])
        XCTAssertEqual(verified.status, 0, verified.stdoutText + verified.stderrText)
        try JSONSchemas.validate(verified.stdout, against: "verify")
        XCTAssertTrue(try tool(["verify", "--set", setDir]).stdoutText.contains(
            "verify as one recovery of [2018-07-25T14:50:00Z, 2018-07-25T17:50:00Z): shards 0 to 2 of 3, each once, no slot twice"))
        // Against another database: named as such (70), not 'no plan of the set was applied'
        // with an empty list of runs (found by a hostile test).
        let otherDatabase = try TestDatabase(label: "other")
        let elsewhere = try tool(["verify", "--set", setDir, "--db", otherDatabase.conninfo])
        XCTAssertEqual(elsewhere.status, 70, elsewhere.stdoutText + elsewhere.stderrText)
        XCTAssertTrue(elsewhere.stderrText.hasPrefix("recover-tool: error: cannot verify plan set \(setID): it was planned against "),
                      elsewhere.stderrText)
        XCTAssertTrue(elsewhere.stderrText.contains("but the connection reaches"), elsewhere.stderrText)
        let shard1 = try count("SELECT id FROM recovery.runs WHERE shard_index = 1")
        XCTAssertEqual(try tool(["revert", "--run", shard1, "--yes", "--quiet"]).status, 0)
        let afterRevert = try tool(["verify", "--set", setDir])
        XCTAssertEqual(afterRevert.status, 71)
        XCTAssertTrue(afterRevert.stdoutText.contains("was reverted: the sharded recovery is no longer whole"), afterRevert.stdoutText)
    }

    func testApplyRefusesAnotherShardsPlanAndChangesNothing() throws {
        try plan("s1", shard: "1/2")
        try plan("whole")
        let before = try count("SELECT count(*) FROM time_slots")
        let wrong = try tool(["apply", demo.dir.file("s1").path, "--db", demo.live.conninfo, "--yes", "--plan-id", try approvedPlanID(demo.dir.file("s1").path), "--shard", "0/2"])
        XCTAssertEqual(wrong.status, 70)
        XCTAssertEqual(wrong.stderrText, "recover-tool: error: refusing the plan in '\(demo.dir.file("s1").path)': it was made for shard 1/2, "
                       + "not shard 0/2 as --shard says; nothing was changed; apply shard 0/2's own plan\n")
        let unsharded = try tool(["apply", demo.dir.file("whole").path, "--db", demo.live.conninfo, "--yes", "--plan-id", try approvedPlanID(demo.dir.file("whole").path), "--shard", "0/2"])
        XCTAssertEqual(unsharded.status, 70)
        XCTAssertTrue(unsharded.stderrText.contains("it was made for all users (no --shard), not shard 0/2"), unsharded.stderrText)
        XCTAssertEqual(try count("SELECT count(*) FROM time_slots"), before)
        XCTAssertEqual(try count("SELECT count(*) FROM pg_namespace WHERE nspname = 'recovery'"), "0")

        let right = try tool(["apply", demo.dir.file("s1").path, "--db", demo.live.conninfo, "--yes", "--plan-id", try approvedPlanID(demo.dir.file("s1").path), "--shard", "1/2", "--quiet"])
        XCTAssertEqual(right.status, 0, right.stderrText)
        XCTAssertTrue(right.stdoutText.hasPrefix("applied plan \(try planID("s1")) as run 1\n"), right.stdoutText)
        let runs = try tool(["runs"])
        let row = runs.stdoutText.split(separator: "\n")[1].split(separator: " ")
        // run, plan, window (date, time, length), shard, applied by, inserted, status
        XCTAssertEqual(row[5...6], ["1/2", "shard-job"], runs.stdoutText)
    }
}
