import Foundation
import TestSupport
import XCTest

/// End to end: the built `recover-tool reconcile` on BadJobFixture, from a real pg_dump of several
/// tables (plain and lz4) and from the restored backup database.
final class ReconcileCommandTests: XCTestCase {
    static var tool: String { BuiltProducts.recoverTool }

    var badJob: BadJobRun!

    override func setUpWithError() throws {
        badJob = try BadJobRun(label: "rcc")
        try runChecked("lz4", ["-q", badJob.dump, badJob.dump + ".lz4"])
    }

    override func tearDown() {
        badJob = nil
    }

    func reconcile(_ snapshot: String, out: String, _ extra: [String] = []) throws -> ProcessOutput {
        try runProcess(Self.tool, [
            "reconcile", "--snapshot", snapshot, "--job-from", BadJobFixture.jobFrom, "--job-to", BadJobFixture.jobTo,
            "--columns", BadJobFixture.columns, "--db", badJob.live.conninfo, "--out", badJob.dir.file(out).path, "--quiet",
        ] + extra)
    }

    func planJSON(_ out: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: badJob.dir.file(out + "/plan.json"))) as! [String: Any]
    }

    func testThePlanOfTheIncident() throws {
        let run = try reconcile(badJob.dump + ".lz4", out: "p")
        XCTAssertEqual(run.status, 0, run.stderrText)
        let plan = try planJSON("p")
        XCTAssertEqual(plan["kind"] as? String, "reconcile")
        XCTAssertEqual(plan["columns"] as? [String], ["time_slots.project_id", "time_slots.task_id"])
        let counts = plan["counts"] as! [String: Int]
        XCTAssertEqual(counts, [
            "restore": 3, "kept_changed_after_job": 2, "kept_not_fingerprint": 1, "missing_from_live": 1, "quarantined": 0,
            "unchanged": 1, "unreadable": 0, "memberships_restored": 1, "memberships_quarantined": 0,
        ])
        let rows = try String(contentsOf: badJob.dir.file("p/rows.tsv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.map { $0.split(separator: "\t").first! }, ["1", "4", "5"], "ids of the restored rows, in key order")
        XCTAssertEqual(rows[0].split(separator: "\t", omittingEmptySubsequences: false).count, (plan["rows"] as! [String: Any])["columns"].map { ($0 as! [String]).count })
        XCTAssertEqual(try String(contentsOf: badJob.dir.file("p/memberships.tsv"), encoding: .utf8).prefix(5), "7\t2\ts")
        let md = try String(contentsOf: badJob.dir.file("p/report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains(#"| 1 | 2026-03-01T09:00:00Z | project\_id: 8 → 7; task\_id: null → 70 | 2026-03-02T01:30:00Z |"#), md)
        XCTAssertTrue(md.contains("## Per project (which customers)"))
        let html = try String(contentsOf: badJob.dir.file("p/report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<svg class=\"timeline\""))
        XCTAssertTrue(html.contains("job window [2026-03-02T01:00:00Z, 2026-03-02T03:00:00Z)"))
        let csv = try String(contentsOf: badJob.dir.file("p/reconcile.csv"), encoding: .utf8)
        XCTAssertTrue(csv.contains("time_slots,restore,1,2026-03-01T09:00:00Z,7,task_id,null,70,2026-03-02T01:30:00Z,,"), csv)

        // explain answers for recovery plans: a reconcile plan is named as one, not as a plan whose
        // 'kind' is not valid (found by a hostile test).
        let explained = try runProcess(BuiltProducts.recoverTool, ["explain", badJob.dir.file("p").path, "--user", "1", "--slot", "2026-03-01T09:00:00Z"])
        XCTAssertEqual(explained.status, 70, explained.stderrText)
        XCTAssertEqual(explained.stderrText, "recover-tool: error: '\(badJob.dir.file("p").path)' is not a recover-tool plan: it is a reconcile plan, "
            + "and explain answers for recovery plans; every decision of a reconcile plan is a line of its reconcile.csv\n")

        // The same evidence planned again gives the same plan id; the plain dump holds the same rows.
        XCTAssertEqual(try reconcile(badJob.dump + ".lz4", out: "again").status, 0)
        XCTAssertEqual(try planJSON("again")["plan_id"] as? String, plan["plan_id"] as? String)
        XCTAssertEqual(try reconcile(badJob.dump, out: "plain").status, 0)
        XCTAssertEqual(try planJSON("plain")["counts"] as? [String: Int], counts)
        XCTAssertEqual(
            try String(contentsOf: badJob.dir.file("plain/rows.tsv"), encoding: .utf8),
            try String(contentsOf: badJob.dir.file("p/rows.tsv"), encoding: .utf8).replacingOccurrences(of: ".sql.lz4:", with: ".sql:"))
        // A restored database as the snapshot.
        XCTAssertEqual(try reconcile(badJob.backup.conninfo, out: "db").status, 0)
        XCTAssertEqual(try planJSON("db")["counts"] as? [String: Int], counts)
    }

    func testNothingIsChanged() throws {
        let before = try badJob.live.connect().execute("SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM time_slots t").scalar
        XCTAssertEqual(try reconcile(badJob.dump, out: "p").status, 0)
        XCTAssertEqual(try badJob.live.connect().execute("SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM time_slots t").scalar, before)
    }

    /// `--out` is written as `plan`'s is: into a directory beside it, renamed into place once
    /// complete, and only to a new path. It was written in place: a directory of someone's files
    /// had its report.md overwritten, and a reconcile stopped by a signal left reports naming a
    /// plan id with no plan.json (found by a hostile test).
    func testTheOutDirectoryIsNewAndWrittenWhole() throws {
        let taken = badJob.dir.file("taken").path
        try FileManager.default.createDirectory(atPath: taken, withIntermediateDirectories: true)
        try Data("my notes\n".utf8).write(to: URL(fileURLWithPath: taken + "/report.md"))
        let refused = try reconcile(badJob.dump, out: "taken")
        XCTAssertEqual(refused.status, 65, refused.stderrText)
        XCTAssertTrue(refused.stderrText.contains("it already exists (a directory that is not empty)"), refused.stderrText)
        XCTAssertEqual(try String(contentsOfFile: taken + "/report.md", encoding: .utf8), "my notes\n")
        let made = try reconcile(badJob.dump, out: "fresh")
        XCTAssertEqual(made.status, 0, made.stderrText)
        let names = try FileManager.default.contentsOfDirectory(atPath: badJob.dir.path)
        XCTAssertFalse(names.contains { $0.contains(".partial-") }, "\(names)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: badJob.dir.file("fresh/plan.json").path))
    }

    func testASnapshotNotOlderThanTheJobIsRefused() throws {
        let run = try runProcess(Self.tool, [
            "reconcile", "--snapshot", badJob.dump, "--job-from", BadJobFixture.backupNewest, "--job-to", BadJobFixture.jobTo,
            "--columns", BadJobFixture.columns, "--db", badJob.live.conninfo, "--out", badJob.dir.file("old").path,
        ])
        XCTAssertEqual(run.status, 72)
        XCTAssertEqual(run.stderrText, """
            recover-tool: error: \(badJob.dump): the snapshot's newest time_slots.updated_at 2026-03-01T09:31:00Z is not before \
            --job-from 2026-03-01T09:31:00Z; its values may already be the job's: give a backup taken before --job-from

            """)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badJob.dir.file("old").path))
    }

    /// A time_slots row whose updated_at cannot be read (`infinity`, beyond the years the tool
    /// holds) leaves the snapshot's age untold: refused (72), as an empty snapshot is. It was left
    /// out of the newest updated_at, and the plan made with exit 0 (found by a hostile test).
    func testASnapshotRowWithAnUnreadableUpdatedAtIsRefused() throws {
        let (edited, line) = try dumpWithFirstSlotRow("infinity.sql") { fields, _ in fields[fields.count - 1] = "infinity" }
        let run = try reconcile(edited, out: "infinity")
        XCTAssertEqual(run.status, 72, run.stderrText)
        XCTAssertTrue(run.stderrText.contains("\(edited): the updated_at of the time_slots row at \(edited):\(line) cannot be read"), run.stderrText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badJob.dir.file("infinity").path))
    }

    /// A row quarantined for another field still tells its age when its updated_at reads: a
    /// row with `source` 'import' (not restorable) dated after --job-from makes the snapshot
    /// not older than the job (found by a review: it was left out of the newest updated_at).
    func testARowQuarantinedForAnotherFieldStillTellsItsAge() throws {
        let (edited, _) = try dumpWithFirstSlotRow("import.sql") { fields, columns in
            fields[try XCTUnwrap(columns.firstIndex(of: "source"))] = "import"
            fields[fields.count - 1] = "2026-03-02 02:00:00+00"
        }
        let run = try reconcile(edited, out: "import")
        XCTAssertEqual(run.status, 72, run.stderrText)
        XCTAssertTrue(run.stderrText.contains("the snapshot's newest time_slots.updated_at 2026-03-02T02:00:00Z is not before --job-from"), run.stderrText)
    }

    /// The fixture's dump, saved as `name`, with the first time_slots row's fields (and the COPY's
    /// column names) given to `edit`; returns its path and the edited row's line.
    func dumpWithFirstSlotRow(_ name: String, _ edit: (inout [String], [String]) throws -> Void) throws -> (path: String, line: Int) {
        var lines = try String(contentsOfFile: badJob.dump, encoding: .utf8).components(separatedBy: "\n")
        let copy = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("COPY public.time_slots ") && $0.contains("updated_at") })
        let columns = lines[copy].components(separatedBy: "(")[1].components(separatedBy: ")")[0].components(separatedBy: ", ")
        var fields = lines[copy + 1].components(separatedBy: "\t")
        try edit(&fields, columns)
        lines[copy + 1] = fields.joined(separator: "\t")
        let path = badJob.dir.file(name).path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, copy + 2)
    }

    func testUsageErrors() throws {
        for (extra, message) in [
            (["--columns", "project_members.user_id"], "'--columns' entry 'project_members.user_id' is not a time_slots column"),
            (["--columns", "time_slots.updated_at"], "'--columns' entry 'time_slots.updated_at' is not a column reconcile can restore"),
            (["--from", "2026-03-01T09:00:00Z"], "give both '--from' and '--to', or neither"),
        ] {
            var args = [
                "reconcile", "--snapshot", badJob.dump, "--job-from", BadJobFixture.jobFrom, "--job-to", BadJobFixture.jobTo,
                "--db", badJob.live.conninfo, "--out", badJob.dir.file("u").path,
            ]
            if !extra.contains("--columns") { args += ["--columns", BadJobFixture.columns] }
            let run = try runProcess(Self.tool, args + extra)
            XCTAssertEqual(run.status, 64, "\(extra)")
            XCTAssertTrue(run.stderrText.hasPrefix("recover-tool: error: \(message)"), run.stderrText)
        }
    }

    func testTheRangeLimitsSlotsNotMemberships() throws {
        let run = try reconcile(badJob.dump, out: "r", ["--from", "2026-03-01T09:00:00Z", "--to", "2026-03-01T09:10:00Z", "--json"])
        XCTAssertEqual(run.status, 0, run.stderrText)
        // --json is plan --json's shape: the directory and plan.json, both against their schemas.
        try JSONSchemas.validate(run.stdout, against: "plan-output")
        try JSONSchemas.validate(file: badJob.dir.file("r/plan.json").path, against: "reconcile-plan")
        let output = try XCTUnwrap(JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        XCTAssertEqual(output["directory"] as? String, badJob.dir.file("r").path)
        XCTAssertEqual((output["plan"] as? [String: Any])?["kind"] as? String, "reconcile")
        // show --json of the reconcile plan: the same object.
        let shown = try runProcess(Self.tool, ["show", badJob.dir.file("r").path, "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderrText)
        try JSONSchemas.validate(shown.stdout, against: "plan-output")
        XCTAssertEqual((try JSONSerialization.jsonObject(with: shown.stdout) as? [String: Any])?["plan"] as? NSDictionary,
                       output["plan"] as? NSDictionary)
        let plan = try planJSON("r")
        let counts = plan["counts"] as! [String: Int]
        XCTAssertEqual(counts["restore"], 2)
        XCTAssertEqual(counts["kept_not_fingerprint"], 1)
        XCTAssertEqual(counts["memberships_restored"], 1)
        XCTAssertEqual((plan["snapshot"] as! [String: Any])["rows_outside_range"] as? Int, 5)
    }

    /// The shards of one N together plan exactly what the unsharded run plans: every count adds up,
    /// and the restored rows are the same rows.
    func testShardsTogetherAreTheUnshardedPlan() throws {
        XCTAssertEqual(try reconcile(badJob.dump, out: "all").status, 0)
        let whole = try planJSON("all")["counts"] as! [String: Int]
        var summed: [String: Int] = [:]
        var shardRows: [Substring] = []
        for k in 0..<2 {
            let run = try reconcile(badJob.dump, out: "s\(k)", ["--shard", "\(k)/2"])
            XCTAssertEqual(run.status, 0, run.stderrText)
            for (key, value) in try planJSON("s\(k)")["counts"] as! [String: Int] { summed[key, default: 0] += value }
            shardRows += try String(contentsOf: badJob.dir.file("s\(k)/rows.tsv"), encoding: .utf8).split(separator: "\n")
        }
        XCTAssertEqual(summed, whole)
        let wholeRows = try String(contentsOf: badJob.dir.file("all/rows.tsv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(shardRows.sorted(), wholeRows.sorted())
        XCTAssertGreaterThan(wholeRows.count, 0)
    }

    /// --require-complete: a snapshot without project_members cannot show lost memberships, so the
    /// plan is written for review and the run exits 72; without the flag the same plan exits 0.
    func testRequireCompleteRefusesASnapshotWithoutMemberships() throws {
        let slotsOnly = badJob.dir.file("slots-only.sql").path
        _ = try runChecked("pg_dump", ["-t", "users", "-t", "time_slots", "--file=\(slotsOnly)"], environment: badJob.backup.processEnvironment)
        let lenient = try reconcile(slotsOnly, out: "lenient")
        XCTAssertEqual(lenient.status, 0, lenient.stderrText)
        let strict = try reconcile(slotsOnly, out: "strict", ["--require-complete"])
        XCTAssertEqual(strict.status, 72, strict.stderrText)
        XCTAssertTrue(strict.stderrText.contains("the snapshot holds no project_members"), strict.stderrText)
        XCTAssertTrue(FileManager.default.fileExists(atPath: badJob.dir.file("strict/plan.json").path), "the plan is still written, for review")
        // With --json: one object, the plan with the error in it.
        let strictJSON = try reconcile(slotsOnly, out: "strict-json", ["--require-complete", "--json"])
        XCTAssertEqual(strictJSON.status, 72, strictJSON.stderrText)
        try JSONSchemas.validate(strictJSON.stdout, against: "plan-output")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: strictJSON.stdout) as? [String: Any])
        XCTAssertEqual((object["error"] as? [String: Any])?["code"] as? String, "command_incomplete_evidence")
        // The full dump is complete evidence: the same flag passes.
        XCTAssertEqual(try reconcile(badJob.dump, out: "complete", ["--require-complete"]).status, 0)
    }
}
