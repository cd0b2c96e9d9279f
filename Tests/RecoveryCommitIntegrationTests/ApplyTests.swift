import Foundation
import PlanFormat
import PlanReport
import PostgresClient
import RecoveryCommit
import RecoveryModel
import TestSupport
import XCTest

/// Integration tests: apply, verify, revert and runs on a real PostgreSQL (PGHOST).
final class ApplyTests: XCTestCase {
    let options = ApplyOptions(operatorName: "tester", toolVersion: "test")

    /// A seeded database and a plan of `perUser` slots for each of `users` users.
    func makeIncident(users: Int64 = 3, perUser: Int = 4, note: String? = nil) throws -> (TestDatabase, TemporaryDirectory, PlanDocument) {
        let db = try TestDatabase(label: "apply")
        try PlanFixture.seed(try db.connect(), users: Int(users))
        let dir = try TemporaryDirectory(prefix: "plan")
        let plan = try PlanFixture.write(PlanFixture.slots(users: 1...users, perUser: perUser, note: note), to: dir.path, for: try db.identity())
        return (db, dir, plan)
    }

    func testApplyApplyAgainVerifyRevertRevertAgain() throws {
        let (db, dir, plan) = try makeIncident()
        let connection = try db.connect()

        let first = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        guard case .applied(let run, let drops, false) = first else { return XCTFail("not applied: \(first)") }
        XCTAssertEqual(run.planID, plan.planID)
        XCTAssertEqual(run.counts, .init(planned: 12, inserted: 12, droppedPresent: 0, droppedOffline: 0))
        XCTAssertEqual(run.status, .applied)
        XCTAssertEqual(run.operatorName, "tester")
        XCTAssertEqual(run.window, PlanFixture.window)
        XCTAssertTrue(drops.isEmpty)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots WHERE source = 'recovered' AND screenshot_key IS NULL").scalar, "12")
        XCTAssertEqual(try connection.execute("SELECT count(DISTINCT updated_at) FROM time_slots").scalar, "1")
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM recovery.run_slots WHERE provenance = 'log logs/app-1.log:' || (1 + (user_id - 1) * 4 + extract(epoch FROM slot_start - '2018-07-25T14:00:00Z') / 600)::int").scalar, "12")
        XCTAssertEqual(try connection.execute("SELECT max(version) FROM recovery.schema_version").scalar, "5")

        // The same plan again: nothing changes, and the run is named.
        let state = try DatabaseState.checksums(connection)
        let second = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        guard case .alreadyApplied(let again) = second else { return XCTFail("applied twice: \(second)") }
        XCTAssertEqual(again.id, run.id)
        XCTAssertEqual(try DatabaseState.checksums(connection), state)

        let report = try RecoveryVerify.verify(run: run.id, database: db.target)
        XCTAssertTrue(report.isClean, "\(report)")
        XCTAssertEqual(report.checked, 12)

        let list = try RecoveryRuns.list(database: db.target)
        XCTAssertEqual(list.map(\.id), [run.id])

        let reverted = try RecoveryRevert.revert(run: run.id, database: db.target, operatorName: "undoer", toolVersion: "test")
        guard case .reverted(let after, let kept, _) = reverted else { return XCTFail("not reverted") }
        XCTAssertEqual(after.status, .reverted)
        XCTAssertEqual(after.revert?.deleted, 12)
        XCTAssertEqual(after.revert?.by, "undoer")
        XCTAssertTrue(kept.isEmpty)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots").scalar, "0")

        let revertedState = try DatabaseState.checksums(connection)
        let again2 = try RecoveryRevert.revert(run: run.id, database: db.target, operatorName: "undoer", toolVersion: "test")
        guard case .alreadyReverted = again2 else { return XCTFail("reverted twice") }
        XCTAssertEqual(try DatabaseState.checksums(connection), revertedState)
        // Applying a reverted plan again changes nothing either: it names the run.
        guard case .alreadyApplied(let named) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail("re-applied a reverted plan") }
        XCTAssertEqual(named.status, .reverted)
        XCTAssertEqual(try DatabaseState.checksums(connection), revertedState)

        // With --again it is applied as a new run, which verifies; then it is the one named.
        var reapply = options
        reapply.againAfterRevert = true
        guard case .applied(let second2, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: reapply)
        else { return XCTFail("not applied again") }
        XCTAssertNotEqual(second2.id, run.id)
        XCTAssertEqual(second2.counts.inserted, 12)
        XCTAssertTrue(try RecoveryVerify.verify(run: second2.id, database: db.target).isClean)
        guard case .alreadyApplied(let latest) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: reapply)
        else { return XCTFail("a plan still applied was applied twice") }
        XCTAssertEqual(latest.id, second2.id)
        XCTAssertEqual(try RecoveryRuns.list(database: db.target).map(\.status), [.reverted, .applied])
    }

    func testOfflineEntryAddedAfterPlanIsHonoured() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        // User 2 adds offline time 14:15–14:25 after the plan: it overlaps the slots at 14:10 and 14:20.
        // Another entry ends exactly when user 3's first slot starts: touching is not overlapping.
        try connection.executeSimple(
            """
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            VALUES (2, 10, '2018-07-25T14:15:00Z', '2018-07-25T14:25:00Z', 2),
                   (3, 10, '2018-07-25T13:00:00Z', '2018-07-25T14:00:00Z', 3)
            """)
        let outcome = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        guard case .applied(let run, let drops, _) = outcome else { return XCTFail() }
        XCTAssertEqual(run.counts, .init(planned: 12, inserted: 10, droppedPresent: 0, droppedOffline: 2))
        XCTAssertEqual(drops.map(\.key.description), ["user 2 at 2018-07-25T14:10:00Z", "user 2 at 2018-07-25T14:20:00Z"])
        XCTAssertEqual(drops.map(\.reason), [.offlineOverlap, .offlineOverlap])
        let entry = try connection.execute("SELECT id FROM offline_entries WHERE user_id = 2").scalar.flatMap { Int64($0) }
        XCTAssertEqual(drops.map(\.otherID), [entry, entry])
        XCTAssertEqual(try connection.execute(
            "SELECT count(*) FROM time_slots WHERE user_id = 2 AND slot_start IN ('2018-07-25T14:10:00Z', '2018-07-25T14:20:00Z')").scalar, "0")
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM recovery.run_drops WHERE reason = 'offline_overlap'").scalar, "2")
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM offline_entries").scalar, "2")
        XCTAssertTrue(try RecoveryVerify.verify(run: run.id, database: db.target).isClean)
    }

    /// The re-check joins only the offline entries that meet the span of the plan's rows: an entry
    /// that starts after the last slot's start but before its end is inside it, and one that ends
    /// as the first slot starts, or starts as the last one ends, is not.
    func testOfflineEntryMeetingOnlyTheLastSlotsEndIsHonoured() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        try connection.executeSimple(
            """
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            VALUES (3, 10, '2018-07-25T14:39:00Z', '2018-07-25T16:00:00Z', 3),
                   (1, 10, '2018-07-25T14:40:00Z', '2018-07-25T16:00:00Z', 1),
                   (2, 10, '2018-07-24T10:00:00Z', '2018-07-25T14:00:00Z', 2)
            """)
        guard case .applied(let run, let drops, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail() }
        XCTAssertEqual(run.counts, .init(planned: 12, inserted: 11, droppedPresent: 0, droppedOffline: 1))
        XCTAssertEqual(drops.map { "\($0.reason.rawValue) \($0.key)" }, ["offline_overlap user 3 at 2018-07-25T14:30:00Z"])
        XCTAssertTrue(try RecoveryVerify.verify(run: run.id, database: db.target).isClean)
    }

    func testLiveRowAddedAfterPlanIsHonoured() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        try connection.executeSimple(
            """
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status, note)
            VALUES (1, 10, '2018-07-25T14:20:00Z', 'client', 'pending', 'uploaded late by the client')
            """)
        let live = try connection.execute("SELECT id FROM time_slots").scalar.flatMap { Int64($0) }
        let outcome = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        guard case .applied(let run, let drops, _) = outcome else { return XCTFail() }
        XCTAssertEqual(run.counts, .init(planned: 12, inserted: 11, droppedPresent: 1, droppedOffline: 0))
        XCTAssertEqual(drops, [DroppedSlot(key: SlotKey(userID: 1, slotStart: Timestamp.parse("2018-07-25T14:20:00Z")!),
                                           reason: .alreadyPresent, otherID: live)])
        // The live row is untouched.
        XCTAssertEqual(try connection.execute(
            "SELECT source || ' ' || note FROM time_slots WHERE user_id = 1 AND slot_start = '2018-07-25T14:20:00Z'").scalar,
            "client uploaded late by the client")
    }

    /// The insert runs first without ON CONFLICT; a key that turns live during the apply (a live
    /// slot moved onto it: an UPDATE that leaves user_id alone does not wait for the guard) makes
    /// it fail, and the insert runs again skipping that key, which is recorded as already present.
    func testLiveSlotMovedOntoAPlanKeyDuringTheApplyIsSkipped() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        try connection.executeSimple(
            """
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status, note)
            VALUES (1, 10, '2018-07-25T13:00:00Z', 'client', 'active', 'moved by the service')
            """)
        let live = try connection.execute("SELECT id FROM time_slots").scalar.flatMap { Int64($0) }
        var moved: Result<Int, Error>?
        let outcome = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) { point in
            guard point == .budgetChecked else { return }
            moved = Result {
                try connection.execute(
                    "UPDATE time_slots SET slot_start = '2018-07-25T14:20:00Z' WHERE id = $1", [live.map { String($0) }]).affectedRows
            }
        }
        XCTAssertEqual(try moved?.get(), 1)
        guard case .applied(let run, let drops, _) = outcome else { return XCTFail("not applied: \(outcome)") }
        XCTAssertEqual(run.counts, .init(planned: 12, inserted: 11, droppedPresent: 1, droppedOffline: 0))
        XCTAssertEqual(drops, [DroppedSlot(key: SlotKey(userID: 1, slotStart: Timestamp.parse("2018-07-25T14:20:00Z")!),
                                           reason: .alreadyPresent, otherID: live)])
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots WHERE source = 'recovered'").scalar, "11")
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM recovery.run_slots").scalar, "11")
        XCTAssertTrue(try RecoveryVerify.verify(run: run.id, database: db.target).isClean)
    }

    func testLiveRowComesBeforeOfflineOverlap() throws {
        // CONTRACT §5.3 before §5.4: a key that is live now and overlaps offline time is "already present".
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        try connection.executeSimple(
            """
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
            VALUES (2, 10, '2018-07-25T14:00:00Z', 'client', 'active');
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            VALUES (2, 10, '2018-07-25T13:55:00Z', '2018-07-25T14:05:00Z', 2);
            """)
        guard case .applied(let run, let drops, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail() }
        XCTAssertEqual(run.counts, .init(planned: 12, inserted: 11, droppedPresent: 1, droppedOffline: 0))
        XCTAssertEqual(drops.map(\.reason), [.alreadyPresent])
    }

    func testTamperedPlansAreRefusedAndNothingChanges() throws {
        let (db, dir, plan) = try makeIncident()
        let connection = try db.connect()
        let before = try DatabaseState.checksums(connection)
        let rows = dir.file("rows.tsv")
        let original = try Data(contentsOf: rows)

        // One byte of the rows changed.
        var changed = original
        changed[changed.index(changed.startIndex, offsetBy: 2)] ^= 0x01
        try changed.write(to: rows)
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .planRefused)
            XCTAssertTrue(error.description.hasPrefix("refusing the plan in '\(dir.path)': rows.tsv has SHA-256 "), error.description)
            XCTAssertTrue(error.description.hasSuffix(
                ", the plan recorded \(plan.rows.sha256); make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it"), error.description)
        }
        // Cut: the last line is gone.
        try original.prefix(original.count - 20).write(to: rows)
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)) { error in
            XCTAssertEqual((error as! CommitError).kind, .planRefused)
        }
        // plan.json edited: its counts no longer match the plan id.
        try original.write(to: rows)
        let planJSON = dir.file("plan.json")
        let text = try String(contentsOf: planJSON, encoding: .utf8)
        try text.replacingOccurrences(of: "\"recovered\" : 12", with: "\"recovered\" : 11").write(to: planJSON, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .planRefused)
            XCTAssertEqual(error.plan?.kind, .tampered)
        }
        // Not a plan at all.
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path + "/nothing", database: db.target, options: options)) { error in
            XCTAssertEqual((error as! CommitError).description, "'\(dir.path)/nothing' is not a recover-tool plan: cannot read plan.json: no such file or directory")
        }
        XCTAssertEqual(try DatabaseState.checksums(connection), before)
    }

    func testMaxSlotsBudget() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        let before = try DatabaseState.checksums(connection)
        var limited = options
        limited.maxSlots = 11
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: limited)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .budgetExceeded)
            XCTAssertEqual(error.description, "refusing the plan in '\(dir.path)': it would insert 12 slots, more than --max-slots 11; "
                + "nothing was changed; check the plan, then raise --max-slots or shard the plan")
        }
        XCTAssertEqual(try DatabaseState.checksums(connection), before)
        // The budget counts what is left after the re-checks: with one slot now live, 11 fit.
        try connection.executeSimple(
            "INSERT INTO time_slots (user_id, project_id, slot_start, source, status) VALUES (3, 10, '2018-07-25T14:00:00Z', 'client', 'active')")
        guard case .applied(let run, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: limited)
        else { return XCTFail() }
        XCTAssertEqual(run.counts.inserted, 11)
    }

    func testNotesAreStoredVerbatim() throws {
        let note = "'); DROP TABLE time_slots; -- \"quoted\" \\N back\\slash\ttab\nnew line\r\n$1 $$ E'\\x41' ✓ 𝄞"
        let (db, dir, _) = try makeIncident(users: 1, perUser: 2, note: note)
        guard case .applied = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) else {
            return XCTFail()
        }
        let result = try db.connect().execute("SELECT DISTINCT note FROM time_slots")
        XCTAssertEqual(result.rows, [[note]])
        let apps = try db.connect().execute("SELECT active_apps FROM time_slots ORDER BY slot_start").rows
        XCTAssertEqual(apps, [["{}"], ["{Xcode,\"Safari \\\"beta\\\"\"}"]])
    }

    func testVerifyReportsMissingChangedAndOfflineOverlap() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        guard case .applied(let run, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail() }
        try connection.executeSimple(
            """
            DELETE FROM time_slots WHERE user_id = 1 AND slot_start = '2018-07-25T14:00:00Z';
            UPDATE time_slots SET keystrokes = keystrokes + 1 WHERE user_id = 2 AND slot_start = '2018-07-25T14:10:00Z';
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            VALUES (3, 10, '2018-07-25T14:35:00Z', '2018-07-25T15:00:00Z', 3);
            UPDATE recovery.runs SET dropped_present = 1, planned = 13;
            """)
        let report = try RecoveryVerify.verify(run: run.id, database: db.target)
        XCTAssertFalse(report.isClean)
        XCTAssertEqual([report.checked, report.missing, report.changed, report.offlineOverlap], [12, 1, 1, 1])
        XCTAssertEqual(report.slots.map { "\($0.kind.rawValue) \($0.key)" }, [
            "missing user 1 at 2018-07-25T14:00:00Z", "changed user 2 at 2018-07-25T14:10:00Z",
            "offline_overlap user 3 at 2018-07-25T14:30:00Z",
        ])
        XCTAssertEqual(report.counts.map(\.name), ["dropped_present", "planned"])
        XCTAssertThrowsError(try RecoveryVerify.verify(run: 99, database: db.target)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .runNotFound)
            XCTAssertEqual(error.description, "no run 99 in '\(connection.redactedConnectionInfo)'; list the recorded runs with 'recover-tool runs'")
        }
    }

    func testRevertKeepsEditedSlotsAndCountsMissingOnes() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        guard case .applied(let run, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail() }
        try connection.executeSimple(
            """
            UPDATE time_slots SET note = 'edited by the user' WHERE user_id = 2 AND slot_start = '2018-07-25T14:10:00Z';
            DELETE FROM time_slots WHERE user_id = 3 AND slot_start = '2018-07-25T14:00:00Z';
            """)
        guard case .reverted(let after, let kept, _) = try RecoveryRevert.revert(
            run: run.id, database: db.target, operatorName: "undoer", toolVersion: "test")
        else { return XCTFail() }
        XCTAssertEqual(after.revert.map { [$0.deleted, $0.kept, $0.missing] }, [10, 1, 1])
        XCTAssertEqual(kept.map(\.key.description), ["user 2 at 2018-07-25T14:10:00Z"])
        XCTAssertEqual(try connection.execute("SELECT note FROM time_slots").rows, [["edited by the user"]])
    }

    /// Runs recorded before schema version 5 hold MD5 fingerprints (of the row as text, in UTC);
    /// a run recorded now holds `hash64:` ones (MD5 still on a server before PostgreSQL 14, which
    /// has no `hash_record_extended`). verify and revert read both: the run's fingerprints are put
    /// back in the old form, and one slot edited since is still found and kept.
    func testRunsRecordedWithMD5FingerprintsStillVerifyAndRevert() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        guard case .applied(let run, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail() }
        let recordedForm = connection.serverVersion >= 140000 ? "fingerprint LIKE 'hash64:%'" : "length(fingerprint) = 32"
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM recovery.run_slots WHERE \(recordedForm)").scalar, "12")
        try connection.executeSimple(
            """
            SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD';
            UPDATE recovery.run_slots s SET fingerprint = md5(ROW(t.user_id, t.project_id, t.task_id, t.slot_start, t.duration_min,
              t.source, t.status, t.activity_level, t.keystrokes, t.mouse_events, t.active_apps, t.screenshot_key, t.note,
              t.updated_at)::text)
            FROM time_slots t WHERE t.id = s.slot_id;
            COMMENT ON COLUMN recovery.run_slots.fingerprint IS NULL;
            DELETE FROM recovery.schema_version WHERE version = 5;
            """)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM recovery.run_slots WHERE length(fingerprint) = 32").scalar, "12")
        let clean = try RecoveryVerify.verify(run: run.id, database: db.target)
        XCTAssertTrue(clean.isClean, "\(clean)")
        XCTAssertEqual(clean.checked, 12)

        try connection.executeSimple("UPDATE time_slots SET note = 'edited by the user' WHERE user_id = 2 AND slot_start = '2018-07-25T14:10:00Z'")
        let edited = try RecoveryVerify.verify(run: run.id, database: db.target)
        XCTAssertEqual([edited.checked, edited.missing, edited.changed, edited.offlineOverlap], [12, 0, 1, 0])
        guard case .reverted(let after, let kept, _) = try RecoveryRevert.revert(
            run: run.id, database: db.target, operatorName: "undoer", toolVersion: "test")
        else { return XCTFail() }
        XCTAssertEqual(after.revert.map { [$0.deleted, $0.kept, $0.missing] }, [11, 1, 0])
        // The revert migrated the version 4 schema it found.
        XCTAssertEqual(try connection.execute("SELECT max(version) FROM recovery.schema_version").scalar, "5")
        XCTAssertEqual(kept.map(\.key.description), ["user 2 at 2018-07-25T14:10:00Z"])
        XCTAssertEqual(try connection.execute("SELECT note FROM time_slots").rows, [["edited by the user"]])
    }

    /// Each slot's id comes from the table's own id default: an identity column (`GENERATED
    /// ALWAYS`) as well as `bigserial`. The slots the run records are the rows inserted, and the
    /// service's next insert gets a fresh id from the same sequence.
    func testAnIdentityIdColumnIsFilledFromItsSequence() throws {
        let (db, dir, _) = try makeIncident()
        let connection = try db.connect()
        try connection.executeSimple(
            """
            ALTER TABLE time_slots ALTER COLUMN id DROP DEFAULT;
            DROP SEQUENCE time_slots_id_seq;
            ALTER TABLE time_slots ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status) VALUES (1, 10, '2018-07-24T10:00:00Z', 'client', 'active');
            """)
        guard case .applied(let run, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
        else { return XCTFail() }
        XCTAssertEqual(run.counts.inserted, 12)
        try connection.executeSimple(
            "INSERT INTO time_slots (user_id, project_id, slot_start, source, status) VALUES (2, 10, '2018-07-24T10:00:00Z', 'client', 'active')")
        XCTAssertEqual(try connection.execute("SELECT count(DISTINCT id) FROM time_slots").scalar, "14")
        XCTAssertEqual(try connection.execute(
            """
            SELECT count(*) FROM recovery.run_slots s JOIN time_slots t
              ON t.id = s.slot_id AND t.user_id = s.user_id AND t.slot_start = s.slot_start AND t.source = 'recovered'
            """).scalar, "12")
        let report = try RecoveryVerify.verify(run: run.id, database: db.target)
        XCTAssertTrue(report.isClean, "\(report)")
        XCTAssertEqual(report.checked, 12)
        guard case .reverted(let after, _, _) = try RecoveryRevert.revert(
            run: run.id, database: db.target, operatorName: "undoer", toolVersion: "test")
        else { return XCTFail() }
        XCTAssertEqual(after.revert?.deleted, 12)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots").scalar, "2")
    }

    /// A slot's fingerprint is of the row as stored: a service's BEFORE INSERT trigger that
    /// rewrites a value, or a column of another type than CONTRACT §2's (whose values hash
    /// otherwise), still leaves a run that verifies clean and reverts whole.
    func testFingerprintsAreOfTheRowsAsStored() throws {
        for (name, change) in [
            ("trigger", """
                CREATE FUNCTION stamp_note() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN NEW.note := coalesce(NEW.note, '') || ' (stamped)'; RETURN NEW; END $$;
                CREATE TRIGGER stamp_note BEFORE INSERT ON time_slots FOR EACH ROW EXECUTE FUNCTION stamp_note();
                """),
            ("column type", "ALTER TABLE time_slots ALTER COLUMN activity_level TYPE numeric"),
        ] {
            let (db, dir, _) = try makeIncident()
            let connection = try db.connect()
            try connection.executeSimple(change)
            guard case .applied(let run, _, _) = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)
            else { return XCTFail(name) }
            if name == "trigger" {
                XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots WHERE note LIKE '% (stamped)'").scalar, "12")
            }
            let report = try RecoveryVerify.verify(run: run.id, database: db.target)
            XCTAssertTrue(report.isClean, "\(name): \(report)")
            XCTAssertEqual(report.checked, 12, name)
            guard case .reverted(let after, _, _) = try RecoveryRevert.revert(
                run: run.id, database: db.target, operatorName: "undoer", toolVersion: "test")
            else { return XCTFail(name) }
            XCTAssertEqual(after.revert.map { [$0.deleted, $0.kept, $0.missing] }, [12, 0, 0], name)
        }
    }

    func testRunsOnADatabaseWithoutRecoverySchema() throws {
        let db = try TestDatabase(label: "noruns")
        XCTAssertEqual(try RecoveryRuns.list(database: db.target), [])
        XCTAssertThrowsError(try RecoveryRevert.revert(run: 1, database: db.target, operatorName: "x", toolVersion: "test")) { error in
            XCTAssertEqual((error as! CommitError).kind, .runNotFound)
        }
        XCTAssertEqual(try db.connect().execute("SELECT to_regnamespace('recovery') IS NULL").scalar, "t")
    }

    func testFailureInsideTheTransactionLeavesNothing() throws {
        // A plan for user 9, who does not exist: the insert fails on the foreign key.
        let db = try TestDatabase(label: "fkfail")
        let connection = try db.connect()
        try PlanFixture.seed(connection, users: 2)
        let dir = try TemporaryDirectory(prefix: "plan")
        try PlanFixture.write(PlanFixture.slots(users: 1...2, perUser: 3) + PlanFixture.slots(users: 9...9, perUser: 1), to: dir.path, for: try db.identity())
        let before = try DatabaseState.checksums(connection)
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .database)
            XCTAssertEqual(error.postgres?.sqlState, "23503")
            XCTAssertTrue(error.description.hasPrefix("cannot apply the plan in '\(dir.path)' to '\(connection.redactedConnectionInfo)': "
                + "inserting the recovered slots into time_slots: insert or update on table \"time_slots\" violates foreign key"), error.description)
            XCTAssertTrue(error.description.hasSuffix("; nothing was changed"), error.description)
        }
        XCTAssertEqual(try DatabaseState.checksums(connection), before)
        XCTAssertEqual(try db.sessionCountOnceEnded(excluding: connection), 0)
    }

    func testLockTimeoutWhenAnotherApplyHoldsTheLock() throws {
        let (db, dir, _) = try makeIncident()
        let holder = try db.connect()
        try holder.begin()
        try holder.execute("SELECT pg_advisory_xact_lock($1)", [String(RecoverySchema.lockKey)])
        let before = try DatabaseState.checksums(try db.connect())
        var quick = options
        quick.lockTimeoutSeconds = 0.3
        let started = Date()
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: quick)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .lockTimeout)
            XCTAssertEqual(error.description, "cannot apply the plan in '\(dir.path)' to '\(holder.redactedConnectionInfo)': "
                + "waiting 0.3 s for the recovery lock: timed out waiting for a lock (SQLSTATE 55P03); nothing was changed; "
                + "another apply or revert of this shard, or a schema migration, is running (or a session holds offline entries of the plan's users); "
                + "try again when it ends, or raise --lock-timeout")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        try holder.rollback()
        XCTAssertEqual(try DatabaseState.checksums(try db.connect()), before)
        // Released: the apply goes through.
        guard case .applied = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: quick) else { return XCTFail() }
    }

    func testOfflineEntriesCannotBeWrittenDuringTheInsertPhase() throws {
        let (db, dir, _) = try makeIncident()
        let other = try db.connect()
        var blocked: PostgresError?
        _ = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) { point in
            guard point == .offlineLocked else { return }
            // The service tries to add offline time while the apply holds the lock: it must wait.
            do {
                try other.executeSimple(
                    """
                    SET lock_timeout = '200ms';
                    INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
                    VALUES (1, 10, '2018-07-25T14:00:00Z', '2018-07-25T15:00:00Z', 1)
                    """)
            } catch let error as PostgresError {
                blocked = error
            } catch {}
        }
        XCTAssertEqual(blocked?.sqlState, "55P03")
        // Reading stays possible meanwhile, and after COMMIT the entry can be added.
        try other.executeSimple(
            "INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by) VALUES (1, 10, '2018-07-25T14:00:00Z', '2018-07-25T15:00:00Z', 1)")
    }

    func testCommitFailureIsResolvedByLookingTheRunUp() throws {
        let (db, dir, _) = try makeIncident()
        let admin = try db.connect()
        let before = try DatabaseState.checksums(admin)
        var applyBackend: Int32 = 0
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) { point in
            if point == .committing {
                // The server ends the session just before COMMIT: the outcome must be read back.
                applyBackend = (try? admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                ).scalar.flatMap { Int32($0) }) ?? 0
                _ = try? admin.execute("SELECT pg_terminate_backend($1)", [String(applyBackend)])
                Thread.sleep(forTimeInterval: 0.2)
            }
        }) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .database)
            XCTAssertTrue(error.description.contains("COMMIT failed"), error.description)
            XCTAssertTrue(error.description.hasSuffix("looked up afterwards, the plan is not recorded: nothing was committed; run apply again"), error.description)
        }
        XCTAssertNotEqual(applyBackend, 0)
        XCTAssertEqual(try DatabaseState.checksums(admin), before)
    }

    /// The connection lost after COMMIT succeeded, before the run is read back: the run is read
    /// on a new connection, and the apply ends as applied. It was reported as
    /// `commit_inconsistent` (69), with no run, for a plan that was applied (found by a hostile
    /// test).
    func testARunCommittedButNotReadBackIsReadOnANewConnection() throws {
        let (db, dir, _) = try makeIncident()
        let admin = try db.connect()
        let outcome = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) { point in
            guard point == .committed else { return }
            _ = try? admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            Thread.sleep(forTimeInterval: 0.2)
        }
        guard case .applied(let run, _, let recovered) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(recovered)
        XCTAssertEqual(run.status, .applied)
        XCTAssertEqual(try admin.execute("SELECT count(*) FROM recovery.runs WHERE status = 'applied'").scalar, "1")
    }

    func testNewerSchemaIsRefused() throws {
        let (db, dir, _) = try makeIncident()
        guard case .applied = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) else { return XCTFail() }
        let connection = try db.connect()
        try connection.execute("INSERT INTO recovery.schema_version (version, description, tool_version) VALUES (7, 'future', 'later')")
        let dir2 = try TemporaryDirectory(prefix: "plan")
        try PlanFixture.write(PlanFixture.slots(users: 1...1, perUser: 9), to: dir2.path, for: try db.identity())
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: dir2.path, database: db.target, options: options)) { error in
            let error = error as! CommitError
            XCTAssertEqual(error.kind, .schemaTooNew)
            XCTAssertEqual(error.description, "the recovery schema in '\(connection.redactedConnectionInfo)' is at version 7, newer than this tool's \(RecoverySchema.currentVersion); "
                + "use the recover-tool that wrote it, or a newer one")
        }
    }
}
