import Foundation
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// End to end: `reconcile` → `apply` → `verify` → `revert` → `runs` with the built tool on
/// BadJobFixture, against a real PostgreSQL and a real pg_dump of several tables.
final class ReconcileApplyTests: XCTestCase {
    var tool: String { BuiltProducts.recoverTool }

    var badJob: BadJobRun!

    override func setUpWithError() throws {
        badJob = try BadJobRun(label: "rca")
    }

    override func tearDown() {
        badJob = nil
    }

    /// A reconcile plan into `out`, made against `database` (default: `live`); returns its id.
    func plan(_ out: String = "p", shard: String? = nil, against database: TestDatabase? = nil) throws -> String {
        let run = try runProcess(tool, [
            "reconcile", "--snapshot", badJob.dump, "--job-from", BadJobFixture.jobFrom, "--job-to", BadJobFixture.jobTo,
            "--columns", BadJobFixture.columns, "--db", (database ?? badJob.live).conninfo, "--out", badJob.dir.file(out).path, "--quiet",
        ] + (shard.map { ["--shard", $0] } ?? []))
        XCTAssertEqual(run.status, 0, run.stderrText)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: badJob.dir.file(out + "/plan.json"))) as! [String: Any]
        return json["plan_id"] as! String
    }

    /// Applies the plan in `p` with its approved id, which must succeed.
    func applyApproved() throws {
        let applied = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path)])
        XCTAssertEqual(applied.status, 0, applied.stderrText)
    }

    func tool(_ args: [String]) throws -> ProcessOutput {
        try runProcess(tool, args + ["--db", badJob.live.conninfo])
    }

    /// `id|project_id|task_id|note|updated_at` of every slot, by id, and the memberships.
    func state(_ c: Connection) throws -> [String] {
        try c.executeSimple("SET TimeZone = 'UTC'")
        let slots = try c.execute(
            "SELECT id || '|' || project_id || '|' || coalesce(task_id::text, '-') || '|' || coalesce(note, '-') || '|' || updated_at FROM time_slots ORDER BY id")
        let members = try c.execute("SELECT 'member ' || project_id || ',' || user_id FROM project_members ORDER BY 1")
        return (slots.rows + members.rows).map { $0[0]! }
    }

    /// The state a correct apply ends in, worked out from the fixture's own table, not from the
    /// tool: rows 1, 4 and 5 back in project 7 with task 70 and updated_at the run's time;
    /// membership (7, 2) back; everything else as it was.
    func expectedAfter(_ before: [String], appliedAt: String) -> [String] {
        before.map { line in
            let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, ["1", "4", "5"].contains(f[0]) else { return line }
            return [f[0], "7", "70", f[3], appliedAt].joined(separator: "|")
        } .filter { !$0.hasPrefix("member") } + (before.filter { $0.hasPrefix("member") } + ["member 7,2"]).sorted()
    }

    func testApplyVerifyRevertRuns() throws {
        let planID = try plan()
        let c = try badJob.live.connect()
        let before = try state(c)
        let checksumsBefore = try DatabaseState.checksums(c).filter { $0.key.hasPrefix("public.") }

        let applied = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path)])
        XCTAssertEqual(applied.status, 0, applied.stderrText)
        XCTAssertEqual(applied.stdoutText, """
            applied plan \(planID) as run 1
            planned 3 rows, restored 3, skipped 0 changed since the plan; memberships planned 1, inserted 1
            check it with 'recover-tool verify --run 1'; undo it with 'recover-tool revert --run 1'

            """)
        let appliedAt = try c.execute("SELECT applied_at FROM recovery.runs WHERE id = 1").scalar!
        XCTAssertEqual(try state(c), expectedAfter(before, appliedAt: appliedAt))
        // The audit: before and after images, and the evidence (the dump holds the rows in id order).
        let copyLine = try String(contentsOfFile: badJob.dump, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("COPY public.time_slots ") }! + 1
        XCTAssertEqual(try c.execute(
            "SELECT slot_id, before_image ->> 'task_id', after_image ->> 'task_id', evidence FROM recovery.run_rows ORDER BY slot_id").rows.map { $0.map { $0 ?? "null" } },
            [1, 4, 5].map { ["\($0)", "null", "70", "snapshot \(badJob.dump):\(copyLine + $0)"] })

        // Again: nothing changes.
        let again = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path)])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stdoutText.hasPrefix("plan \(planID) was already applied as run 1 at "), again.stdoutText)
        XCTAssertEqual(try state(c), expectedAfter(before, appliedAt: appliedAt))

        let verified = try tool(["verify", "--run", "1"])
        XCTAssertEqual(verified.status, 0, verified.stdoutText + verified.stderrText)
        XCTAssertTrue(verified.stdoutText.hasPrefix("run 1 (reconcile): 3 restored rows checked: 0 missing, 0 changed since the apply; 0 inserted memberships gone\n"))

        let runs = try tool(["runs"])
        let row = runs.stdoutText.split(separator: "\n")[1].split(separator: " ")
        XCTAssertEqual(row.first, "1", runs.stdoutText)
        XCTAssertEqual(row[1], "reconcile", runs.stdoutText)
        XCTAssertEqual(row.last, "applied", runs.stdoutText)

        // A user edits a restored row: verify reports it; revert keeps it and puts the rest back.
        try c.execute("UPDATE time_slots SET note = 'edited after the apply', updated_at = now() WHERE id = 5")
        let changed = try tool(["verify", "--run", "1"])
        XCTAssertEqual(changed.status, 71)
        XCTAssertTrue(changed.stdoutText.contains("changed: slot 5, user 3 at 2026-03-01T09:00:00Z\n"), changed.stdoutText)
        try c.execute("UPDATE time_slots SET note = NULL, updated_at = $1 WHERE id = 5", [appliedAt])
        // The membership the run inserted is deleted: verify names it, in its text, its error
        // line and its JSON.
        let inserted = try c.execute("SELECT project_id, user_id FROM recovery.run_members WHERE run_id = 1").rows
        XCTAssertEqual(inserted.count, 1)
        let (project, user) = (inserted[0][0]!, inserted[0][1]!)
        try c.execute("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2", [project, user])
        let gone = try tool(["verify", "--run", "1"])
        XCTAssertEqual(gone.status, 71)
        XCTAssertTrue(gone.stdoutText.contains("0 changed since the apply; 1 inserted memberships gone\nmembership gone: project \(project), user \(user)\n"),
                      gone.stdoutText)
        XCTAssertEqual(gone.stderrText, "recover-tool: error: run 1 (reconcile) does not verify: 0 missing, 0 changed, "
                       + "1 inserted memberships gone, 0 counts differ; see the list above\n")
        let goneJSON = try tool(["verify", "--run", "1", "--json"])
        XCTAssertEqual(goneJSON.status, 71)
        XCTAssertTrue(goneJSON.stdoutText.contains("\"members_gone\" : [\n"), goneJSON.stdoutText)
        try JSONSchemas.validate(Data(goneJSON.stdoutText.utf8), against: "verify")
        try c.execute("INSERT INTO project_members (project_id, user_id) VALUES ($1, $2)", [project, user])

        // A dry run says the memberships it would delete too (it said nothing of them; found by a hostile test).
        let dry = try tool(["revert", "--run", "1", "--dry-run"])
        XCTAssertEqual(dry.stdoutText, "dry run: reverting run 1 now would put back 3 rows, keep 0 edited since the apply, "
                       + "find 0 already gone, and delete 1 memberships; nothing was changed\n")
        let dryJSON = try tool(["revert", "--run", "1", "--dry-run", "--json"])
        XCTAssertTrue(dryJSON.stdoutText.contains("\"members_deleted\" : 1"), dryJSON.stdoutText)
        try JSONSchemas.validate(Data(dryJSON.stdoutText.utf8), against: "revert")
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.status, 0, reverted.stderrText)
        XCTAssertEqual(reverted.stdoutText, "reverted run 1: put back 3 rows, kept 0 edited since the apply, 0 gone; deleted 1 memberships\n")
        XCTAssertEqual(try DatabaseState.checksums(c).filter { $0.key.hasPrefix("public.") }, checksumsBefore, "byte for byte as before the apply")
        XCTAssertEqual(try state(c), before)
        // Applied again once reverted: what was restored, and how to restore it again.
        let afterRevert = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path)])
        XCTAssertEqual(afterRevert.status, 0, afterRevert.stderrText)
        XCTAssertTrue(afterRevert.stdoutText.contains("; apply with --again to restore these rows again as a new run\n"), afterRevert.stdoutText)
    }

    func testARowEditedBetweenPlanAndApplyIsSkippedAndRecorded() throws {
        let planID = try plan()
        let c = try badJob.live.connect()
        try c.execute("UPDATE time_slots SET note = 'mine', updated_at = '2026-03-02 07:00:00+00' WHERE id = 4")
        let edited = try state(c)
        let applied = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path)])
        XCTAssertEqual(applied.status, 0, applied.stderrText)
        XCTAssertEqual(applied.stdoutText, """
            applied plan \(planID) as run 1
            planned 3 rows, restored 2, skipped 1 changed since the plan; memberships planned 1, inserted 1
            dropped user 2 at 2026-03-01T09:10:00Z: changed since the plan (live row 4)
            check it with 'recover-tool verify --run 1'; undo it with 'recover-tool revert --run 1'

            """)
        XCTAssertTrue(try state(c).contains("4|8|-|mine|2026-03-02 07:00:00+00"), "the edited row is untouched")
        XCTAssertEqual(edited.filter { $0.hasPrefix("4|") }, try state(c).filter { $0.hasPrefix("4|") })
        XCTAssertEqual(
            try c.execute("SELECT slot_id, reason, live_image ->> 'note' FROM recovery.run_skips").rows, [["4", "changed_since_plan", "mine"]])
        XCTAssertEqual(try tool(["verify", "--run", "1"]).status, 0)
    }

    func testRevertKeepsRowsChangedSinceTheApply() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try applyApproved()
        try c.execute("UPDATE time_slots SET note = 'later', updated_at = now() WHERE id = 1")
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.stdoutText, """
            reverted run 1: put back 2 rows, kept 1 edited since the apply, 0 gone; deleted 1 memberships
            kept (edited since the apply): row 1, user 1 at 2026-03-01T09:00:00Z

            """)
        XCTAssertEqual(try c.execute("SELECT project_id, task_id, note FROM time_slots WHERE id = 1").rows, [["7", "70", "later"]])
        XCTAssertEqual(try c.execute("SELECT project_id, task_id FROM time_slots WHERE id = 4").rows, [["8", nil]])
    }

    /// A column added to time_slots after the apply changes no row: verify passes and revert puts
    /// every row back. The images were compared whole (`to_jsonb`), so the new NULL column made
    /// every row "changed since the apply": verify failed, and revert put back nothing, deleted
    /// the memberships and marked the run reverted (found by a hostile test).
    func testAColumnAddedAfterTheApplyChangesNoRow() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try applyApproved()
        try c.execute("ALTER TABLE time_slots ADD COLUMN device text")
        let verified = try tool(["verify", "--run", "1"])
        XCTAssertEqual(verified.status, 0, verified.stdoutText + verified.stderrText)
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.stdoutText, "reverted run 1: put back 3 rows, kept 0 edited since the apply, 0 gone; deleted 1 memberships\n")
        XCTAssertEqual(try c.execute("SELECT project_id, task_id FROM time_slots WHERE id = 4").rows, [["8", nil]])
    }

    /// A service trigger that stamps `updated_at` on every update also stamps the revert's: the
    /// rows put back are counted once, as put back, not also as kept (put back 3, kept 3, -3
    /// gone; found by a hostile test).
    func testATriggerThatStampsUpdatedAtDoesNotMakeRowsKept() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try c.executeSimple("""
            CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
            CREATE TRIGGER stamp BEFORE UPDATE ON public.time_slots FOR EACH ROW EXECUTE FUNCTION public.stamp();
            """)
        try applyApproved()
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.stdoutText, "reverted run 1: put back 3 rows, kept 0 edited since the apply, 0 gone; deleted 1 memberships\n")
        XCTAssertEqual(try c.execute("SELECT revert_deleted, revert_kept, revert_missing FROM recovery.runs WHERE id = 1").rows, [["3", "0", "0"]])
    }

    /// A membership the run inserted stays when a row revert keeps (edited since the apply) still
    /// uses it, and revert says so: it was deleted under the row, which then named a project its
    /// user is no member of (rule 5 of CONTRACT §7; found by a hostile test).
    func testRevertKeepsAMembershipAKeptRowStillUses() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try applyApproved()
        try c.execute("UPDATE time_slots SET note = 'later', updated_at = now() WHERE user_id = 2 AND slot_start = '2026-03-01 09:10:00+00'")
        // A dry run says what a revert would keep, as what would be, and changes nothing.
        let dry = try tool(["revert", "--run", "1", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderrText)
        XCTAssertTrue(dry.stderrText.contains("dry run, nothing was changed: a revert now would have kept 1 of the memberships"), dry.stderrText)
        // A warning is not a lost connection (every warning set the flag; found by a hostile test).
        let dryJSON = try tool(["revert", "--run", "1", "--dry-run", "--json"])
        XCTAssertTrue(dryJSON.stdoutText.contains("\"connection_lost_during_commit\" : false"), dryJSON.stdoutText)
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.status, 0, reverted.stderrText)
        XCTAssertTrue(reverted.stdoutText.hasPrefix("reverted run 1: put back 2 rows, kept 1 edited since the apply, 0 gone; deleted 0 memberships\n"),
                      reverted.stdoutText)
        XCTAssertTrue(reverted.stderrText.contains("kept 1 of the memberships the run inserted: live slots still use them"), reverted.stderrText)
        XCTAssertEqual(try c.execute("SELECT count(*) FROM project_members WHERE project_id = 7 AND user_id = 2").scalar, "1")
    }

    func testTheBudgetAndTheHashAreChecked() throws {
        _ = try plan()
        let over = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path), "--max-slots", "2"])
        XCTAssertEqual(over.status, 70)
        XCTAssertTrue(over.stderrText.contains("it would update 3 rows, more than --max-slots 2"), over.stderrText)
        let rows = badJob.dir.file("p/rows.tsv").path
        let text = try String(contentsOfFile: rows, encoding: .utf8)
        try text.replacingOccurrences(of: "\t70\t", with: "\t80\t").write(toFile: rows, atomically: true, encoding: .utf8)
        let tampered = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", unapprovedPlanID])
        XCTAssertEqual(tampered.status, 70)
        XCTAssertTrue(tampered.stderrText.contains("rows.tsv has SHA-256"), tampered.stderrText)
        XCTAssertEqual(try badJob.live.connect().execute("SELECT to_regclass('recovery.runs') IS NULL").scalar, "t", "nothing written")
    }

    /// Shards of a reconcile plan apply at once, as those of a recovery plan do: each takes the
    /// global recovery key shared and its own shard's key (docs/APPLY.md), and guards the users
    /// and projects of the memberships it restores until COMMIT. Users 1, 2 and 3 are shards 2/3,
    /// 1/3 and 0/3.
    func testShardsApplyAtOnce() throws {
        for k in 0..<3 { _ = try plan("s\(k)", shard: "\(k)/3") }
        func apply(_ k: Int) throws -> [String] {
            ["apply", badJob.dir.file("s\(k)").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("s\(k)").path), "--shard", "\(k)/3",
             "--lock-timeout", "5"]
        }
        // The first apply on the database creates the recovery schema, and so runs alone.
        let first = try tool(try apply(2))
        XCTAssertEqual(first.status, 0, first.stderrText)
        let paused = try Spawned(tool, try apply(1) + ["--db", badJob.live.conninfo],
                                 environment: badJob.live.processEnvironment.merging(["RECOVER_TOOL_TEST_PAUSE_AT": "users-guarded"]) { $1 })
        XCTAssertTrue(paused.waitForPause(at: "users-guarded"), paused.stderrText)
        // The guard, before shard 1/3 restores anything: user 2, whose membership it restores,
        // cannot be deleted until its COMMIT (without the guard, the delete fails at once on
        // user 2's slots, SQLSTATE 23503).
        let c = try badJob.live.connect()
        try c.executeSimple("SET lock_timeout = '300ms'")
        XCTAssertThrowsError(try c.execute("DELETE FROM users WHERE id = 2")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "55P03", "\(error)")
        }
        // Shard 1/3 holds its locks and guard, uncommitted: shard 0/3 applies from start to COMMIT.
        let other = try tool(try apply(0))
        XCTAssertEqual(other.status, 0, other.stderrText)
        XCTAssertTrue(paused.process.isRunning)
        kill(paused.pid, SIGCONT)
        paused.process.waitUntilExit()
        XCTAssertEqual(paused.process.terminationStatus, 0, paused.stderrText)
        XCTAssertEqual(try c.execute("SELECT string_agg(shard_index || ':' || inserted || ':' || members_inserted, ' ' ORDER BY id) FROM recovery.runs").scalar,
                       "2:1:0 1:1:1 0:1:0")
        XCTAssertEqual(try c.execute("SELECT string_agg(id::text, ' ' ORDER BY id) FROM time_slots WHERE project_id = 7 AND task_id = 70 AND id IN (1, 4, 5)").scalar,
                       "1 4 5")
        XCTAssertEqual(try c.execute("SELECT count(*) FROM project_members WHERE project_id = 7 AND user_id = 2").scalar, "1")
        for run in 1...3 { XCTAssertEqual(try tool(["verify", "--run", "\(run)"]).status, 0, "run \(run)") }
    }

    static let points = [
        "plan-checked", "connected", "transaction-begun", "lock-acquired", "schema-ready", "previous-run-checked",
        "budget-checked", "rows-table-created", "copy-chunk-1", "copy-chunk-2", "rows-loaded", "run-recorded",
        "users-guarded", "slots-inserted", "counts-recorded", "committing", "committed",
    ]

    func testKilledAtEveryCheckpointLeavesBeforeOrAfter() throws {
        for point in Self.points {
            let db = try TestDatabase(label: "rck")
            try BadJobFixture.seedLive(try db.connect())
            // Each database its own plan: apply refuses a plan made for another.
            let out = "p-\(point)"
            let id = try plan(out, against: db)
            let c = try db.connect()
            let before = try DatabaseState.checksums(c)
            let process = try Spawned(tool, ["apply", badJob.dir.file(out).path, "--yes", "--plan-id", id],
                                      environment: db.processEnvironment.merging(["RECOVER_TOOL_TEST_PAUSE_AT": point]) { $1 })
            XCTAssertTrue(process.waitForPause(at: point), "\(point): \(process.stderrText)")
            kill(process.pid, SIGKILL)
            process.process.waitUntilExit()
            XCTAssertEqual(try db.sessionCountOnceEnded(excluding: c), 0, point)
            if point == "committed" {
                let appliedAt = try c.execute("SELECT applied_at FROM recovery.runs WHERE id = 1").scalar!
                XCTAssertEqual(try state(c).filter { $0.hasPrefix("1|") }, ["1|7|70|-|\(appliedAt)"], point)
            } else {
                XCTAssertEqual(try DatabaseState.checksums(c), before, "\(point): the database is as before")
            }
            let rerun = try runProcess(tool, ["apply", badJob.dir.file(out).path, "--yes", "--plan-id", id], environment: db.processEnvironment)
            XCTAssertEqual(rerun.status, 0, "\(point): \(rerun.stderrText)")
            XCTAssertEqual(try c.execute("SELECT count(*) FROM recovery.run_rows").scalar, "3", point)
        }
    }
}

extension ReconcileApplyTests {
    /// A reconcile plan names its database too: applied to another (here the backup the
    /// snapshot came from), it is refused (70) and that database is left as it was.
    func testAPlanForAnotherDatabaseIsRefused() throws {
        let id = try plan()
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: badJob.dir.file("p/plan.json"))) as! [String: Any]
        let recorded = try XCTUnwrap(json["database"] as? [String: Any])
        XCTAssertEqual(recorded["name"] as? String, badJob.live.name)
        let before = try DatabaseState.checksums(try badJob.backup.connect())
        let refused = try runProcess(tool, ["apply", badJob.dir.file("p").path, "--yes", "--plan-id", id, "--db", badJob.backup.conninfo])
        XCTAssertEqual(refused.status, 70, refused.stderrText)
        XCTAssertTrue(refused.stderrText.contains("it was made for database '\(badJob.live.name)'"), refused.stderrText)
        XCTAssertTrue(refused.stderrText.contains("but the connection reaches database '\(badJob.backup.name)'"), refused.stderrText)
        XCTAssertEqual(try DatabaseState.checksums(try badJob.backup.connect()), before)
    }
    /// reconcile and its apply refuse the live tables plan and apply refuse (times without a time
    /// zone, no unique key on the slot's key), and a project_members without a unique key on
    /// (project_id, user_id): reconcile called every row "missing from live" with exit 0, and a
    /// revert deleted a membership the run never inserted (found by a hostile test).
    func testReconcileRefusesALiveTableItCannotTrust() throws {
        _ = try plan()
        let planID = try approvedPlanID(badJob.dir.file("p").path)
        let c = try badJob.live.connect()
        for (change, undo, expected) in [
            ("ALTER TABLE public.time_slots ALTER slot_start TYPE timestamp", "ALTER TABLE public.time_slots ALTER slot_start TYPE timestamptz",
             "time_slots.slot_start timestamp without time zone"),
            ("ALTER TABLE public.project_members DROP CONSTRAINT project_members_pkey", "ALTER TABLE public.project_members ADD PRIMARY KEY (project_id, user_id)",
             "has no unique index on exactly (project_id, user_id)"),
        ] {
            try c.executeSimple(change)
            let planned = try runProcess(tool, [
                "reconcile", "--snapshot", badJob.dump, "--job-from", BadJobFixture.jobFrom, "--job-to", BadJobFixture.jobTo,
                "--columns", BadJobFixture.columns, "--db", badJob.live.conninfo, "--out", badJob.dir.file("refused").path, "--quiet"])
            XCTAssertEqual(planned.status, 69, change + "\n" + planned.stderrText)
            XCTAssertTrue(planned.stderrText.contains(expected), change + "\n" + planned.stderrText)
            let before = try DatabaseState.checksums(c)
            let applied = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", planID])
            XCTAssertEqual(applied.status, 69, change + "\n" + applied.stderrText)
            XCTAssertTrue(applied.stderrText.contains(expected), change + "\n" + applied.stderrText)
            XCTAssertEqual(try DatabaseState.checksums(c), before, change)
            try c.executeSimple(undo)
        }
    }

    /// A service trigger that edits rows after the update (AFTER UPDATE stamping a note): the after
    /// images were taken before it ran, so verify failed right after the apply and revert put
    /// back nothing, keeping every row as edited (found by a hostile test).
    func testAnAfterUpdateTriggerIsSeenByReconcileApply() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try c.executeSimple("""
            CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS
              $$BEGIN IF NEW.note IS NULL THEN UPDATE public.time_slots SET note = 'audited' WHERE id = NEW.id; END IF; RETURN NULL; END$$;
            CREATE TRIGGER audit AFTER UPDATE ON public.time_slots FOR EACH ROW EXECUTE FUNCTION public.audit();
            """)
        try applyApproved()
        let verified = try tool(["verify", "--run", "1"])
        XCTAssertEqual(verified.status, 0, verified.stdoutText + verified.stderrText)
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.status, 0, reverted.stderrText)
        XCTAssertTrue(reverted.stdoutText.hasPrefix("reverted run 1: put back 3 rows, kept 0 edited since the apply"), reverted.stdoutText)
    }

    /// A trigger that changes a restored column as the row is updated (task_id cleared when the
    /// project changes), or skips the row: apply said "restored 3" and verify passed with the job's
    /// value still there, or failed on recovery.runs' CHECK (found by a hostile test). Refused (69),
    /// saying what the trigger did.
    func testATriggerThatUndoesOrSkipsTheRestoreIsRefused() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        for (body, expected) in [
            ("IF NEW.project_id IS DISTINCT FROM OLD.project_id THEN NEW.task_id := NULL; END IF; RETURN NEW;",
             "3 of the restored rows do not hold the reviewed values once the triggers of time_slots ran"),
            ("RETURN NULL;", "3 of the rows to restore were not updated: a trigger or rule on time_slots skipped them"),
        ] {
            try c.executeSimple("""
                CREATE FUNCTION public.meddle() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN \(body) END$$;
                CREATE TRIGGER meddle BEFORE UPDATE ON public.time_slots FOR EACH ROW EXECUTE FUNCTION public.meddle();
                """)
            let before = try DatabaseState.checksums(c)
            let applied = try tool(["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path)])
            XCTAssertEqual(applied.status, 69, applied.stderrText)
            XCTAssertTrue(applied.stderrText.contains(expected) && applied.stderrText.contains("nothing was changed"), applied.stderrText)
            XCTAssertEqual(try DatabaseState.checksums(c), before)
            try c.executeSimple("DROP TRIGGER meddle ON public.time_slots; DROP FUNCTION public.meddle()")
        }
    }

    /// A role that may restore rows and memberships but not delete memberships: the apply
    /// committed, and its revert then failed whole (found by a hostile test). Refused before any
    /// write (69), for that: its grants by column are enough for the rest (a review found them
    /// refused).
    func testARoleThatCannotDeleteMembershipsCannotApply() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        let role = "rt_rc_\(getpid())"
        try c.executeSimple("""
            CREATE ROLE \(role) LOGIN;
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(role);
            GRANT UPDATE (project_id, task_id, duration_min, source, status, activity_level, keystrokes, mouse_events, active_apps,
                          screenshot_key, note, updated_at) ON time_slots TO \(role);
            GRANT INSERT (project_id, user_id) ON project_members TO \(role);
            GRANT UPDATE ON users, projects TO \(role);
            CREATE SCHEMA recovery AUTHORIZATION \(role);
            """)
        defer { try? c.executeSimple("DROP SCHEMA IF EXISTS recovery CASCADE; DROP OWNED BY \(role); DROP ROLE \(role)") }
        let before = try DatabaseState.checksums(c)
        let applied = try runProcess(tool, ["apply", badJob.dir.file("p").path, "--yes", "--plan-id", try approvedPlanID(badJob.dir.file("p").path),
                                            "--db", badJob.live.conninfo + " user=\(role)"])
        XCTAssertEqual(applied.status, 69, applied.stderrText)
        XCTAssertTrue(applied.stderrText.contains("may not DELETE from \"public\".project_members"), applied.stderrText)
        XCTAssertEqual(try DatabaseState.checksums(c), before)
    }
    /// A reconcile run's audit trail changed since the apply (its memberships' record emptied, an
    /// after image set to NULL), or a trigger that keeps memberships from being deleted: revert
    /// left what the run restored and marked the run reverted, exit 0 (found by a hostile test).
    /// Each is refused (69), the run still applied, and a dry run says the same.
    func testARevertRefusesAChangedAuditTrailOrAMembershipATriggerKeeps() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try applyApproved()
        try c.executeSimple("CREATE TABLE public.saved_rows AS SELECT * FROM recovery.run_rows; CREATE TABLE public.saved_members AS SELECT * FROM recovery.run_members")
        for (change, undo, expected) in [
            ("DELETE FROM recovery.run_members", "INSERT INTO recovery.run_members SELECT * FROM public.saved_members",
             "recovery.run_members holds 0 of the 1 memberships the run recorded as inserted: its audit trail was changed since the apply"),
            ("UPDATE recovery.run_rows SET after_image = NULL WHERE slot_id = 1",
             "UPDATE recovery.run_rows r SET after_image = s.after_image FROM public.saved_rows s WHERE r.run_id = s.run_id AND r.slot_id = s.slot_id",
             "1 of the rows in recovery.run_rows have no after image: its audit trail was changed since the apply"),
            ("""
             CREATE FUNCTION public.keep_members() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
             CREATE TRIGGER keep_members BEFORE DELETE ON public.project_members FOR EACH ROW EXECUTE FUNCTION public.keep_members();
             """, "DROP TRIGGER keep_members ON public.project_members",
             "1 of the run's memberships no row uses were not deleted: a trigger or rule on project_members kept them"),
        ] {
            try c.executeSimple(change)
            let before = try DatabaseState.checksums(c)
            for mode in ["--dry-run", "--yes"] {
                let reverted = try tool(["revert", "--run", "1", mode])
                XCTAssertEqual(reverted.status, 69, change + "\n" + reverted.stdoutText + reverted.stderrText)
                XCTAssertTrue(reverted.stderrText.contains(expected), change + "\n" + reverted.stderrText)
            }
            XCTAssertEqual(try DatabaseState.checksums(c), before, change)
            try c.executeSimple(undo)
        }
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.status, 0, reverted.stderrText)
        XCTAssertEqual(reverted.stdoutText, "reverted run 1: put back 3 rows, kept 0 edited since the apply, 0 gone; deleted 1 memberships\n")
    }
    /// A live row the tool cannot read (a status the contract has no value for, once the service
    /// dropped its CHECK): reconcile left it out and called its slot "missing from live", exit 0,
    /// even with --require-complete (found by a hostile test). It stops (72), naming the row.
    func testALiveRowReconcileCannotReadStopsIt() throws {
        let c = try badJob.live.connect()
        try c.executeSimple("""
            ALTER TABLE public.time_slots DROP CONSTRAINT time_slots_status_check;
            UPDATE public.time_slots SET status = 'archived' WHERE id = 4;
            """)
        let planned = try runProcess(tool, [
            "reconcile", "--snapshot", badJob.dump, "--job-from", BadJobFixture.jobFrom, "--job-to", BadJobFixture.jobTo,
            "--columns", BadJobFixture.columns, "--db", badJob.live.conninfo, "--out", badJob.dir.file("unread").path, "--quiet"])
        XCTAssertEqual(planned.status, 72, planned.stderrText)
        XCTAssertTrue(planned.stderrText.contains("1 live time_slots rows of the range cannot be read"), planned.stderrText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badJob.dir.file("unread").path))
    }
    /// Triggers a reconcile must live with: one that normalises a column named in --columns but
    /// left as it was on the rows (refused as "a restored column changed"), and one on
    /// project_members that edits the slots of a membership restored (the after images were taken
    /// before it ran: verify failed right after the apply). Both found by a review.
    func testTriggersThatDoNotUndoTheRestoreAreLivedWith() throws {
        let c = try badJob.live.connect()
        try c.executeSimple("""
            CREATE FUNCTION public.normalise() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := coalesce(NEW.note, 'normalised'); RETURN NEW; END$$;
            CREATE TRIGGER normalise BEFORE UPDATE ON public.time_slots FOR EACH ROW EXECUTE FUNCTION public.normalise();
            CREATE FUNCTION public.joined() RETURNS trigger LANGUAGE plpgsql AS
              $$BEGIN UPDATE public.time_slots SET keystrokes = keystrokes + 1 WHERE user_id = NEW.user_id AND project_id = NEW.project_id; RETURN NULL; END$$;
            CREATE TRIGGER joined AFTER INSERT ON public.project_members FOR EACH ROW EXECUTE FUNCTION public.joined();
            """)
        let planned = try runProcess(tool, [
            "reconcile", "--snapshot", badJob.dump, "--job-from", BadJobFixture.jobFrom, "--job-to", BadJobFixture.jobTo,
            "--columns", BadJobFixture.columns + ",time_slots.note", "--db", badJob.live.conninfo, "--out", badJob.dir.file("p").path, "--quiet"])
        XCTAssertEqual(planned.status, 0, planned.stderrText)
        try applyApproved()
        // The restored rows, and those the membership trigger edited, went through the normalising trigger.
        XCTAssertGreaterThanOrEqual(Int(try c.execute("SELECT count(*) FROM time_slots WHERE note = 'normalised'").scalar ?? "") ?? 0, 3)
        let verified = try tool(["verify", "--run", "1"])
        XCTAssertEqual(verified.status, 0, verified.stdoutText + verified.stderrText)
    }
    /// A slot stored since the apply on a membership the run restored (a recovery run's, or the
    /// service's): revert deleted the membership under it, exit 0, no warning, and left the slot on
    /// a project its user is no member of (found by a hostile test). It is kept, with the warning.
    func testRevertKeepsAMembershipASlotStoredSinceUses() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try applyApproved()
        try c.execute("""
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status, updated_at)
            VALUES (2, 7, '2026-03-03 10:00:00+00', 'recovered', 'active', now())
            """)
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.status, 0, reverted.stderrText)
        XCTAssertTrue(reverted.stdoutText.hasSuffix("; deleted 0 memberships\n"), reverted.stdoutText)
        XCTAssertTrue(reverted.stderrText.contains("kept 1 of the memberships the run inserted: live slots still use them"), reverted.stderrText)
        XCTAssertEqual(try c.execute("SELECT count(*) FROM project_members WHERE project_id = 7 AND user_id = 2").scalar, "1")
    }
    /// A trigger that keeps the revert's UPDATE from putting rows back (BEFORE UPDATE returning
    /// NULL, added after the apply): the rows would be counted as edited since and kept, the run
    /// marked reverted. Refused (69), rolled back.
    func testARevertWhoseUpdateATriggerSkipsIsRefused() throws {
        _ = try plan()
        let c = try badJob.live.connect()
        try applyApproved()
        try c.executeSimple("""
            CREATE FUNCTION public.hold_rows() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
            CREATE TRIGGER hold_rows BEFORE UPDATE ON public.time_slots FOR EACH ROW EXECUTE FUNCTION public.hold_rows();
            """)
        let before = try DatabaseState.checksums(c)
        let reverted = try tool(["revert", "--run", "1", "--yes"])
        XCTAssertEqual(reverted.status, 69, reverted.stdoutText + reverted.stderrText)
        XCTAssertTrue(reverted.stderrText.contains("3 of the run's unchanged rows were not put back: a trigger or rule on time_slots kept them"),
                      reverted.stderrText)
        XCTAssertEqual(try DatabaseState.checksums(c), before)
    }
}






