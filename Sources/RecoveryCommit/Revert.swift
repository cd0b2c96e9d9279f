import PostgresClient
import RecoveryModel

/// How a revert ended.
public enum RevertOutcome: Sendable {
    /// This call reverted the run: `deleted` slots removed; `kept` were edited by the service
    /// since the apply and stay (the first of them listed); `missing` were already gone.
    case reverted(RunRecord, kept: [KeptSlot], reliedOn: [Reliance])
    /// The run had been reverted before: nothing was changed.
    case alreadyReverted(RunRecord)
    /// `dryRun`: what the revert would do now (`deleted` and `kept`, the first of each listed, and
    /// for a reconcile run the memberships it would delete), worked out by the revert itself in a
    /// transaction that was then rolled back.
    case wouldRevert(
        RunRecord, deleted: [KeptSlot], deletedCount: Int, kept: [KeptSlot], keptCount: Int, missing: Int, reliedOn: [Reliance],
        membersDeleted: Int?)

    public var run: RunRecord {
        switch self {
        case .reverted(let run, _, _), .alreadyReverted(let run), .wouldRevert(let run, _, _, _, _, _, _, _): run
        }
    }
}

/// Another applied run that found some of the reverted run's slots present when it applied, and
/// so inserted none of them: it relies on them, and the revert takes them away.
public struct Reliance: Hashable, Sendable {
    public var runID: Int64
    public var slots: Int
}

/// A slot of a reverted run that stays because it changed after the apply.
public struct KeptSlot: Hashable, Sendable {
    public var slotID: Int64
    public var key: SlotKey
}

/// `recover-tool revert`: removes what a run inserted, in one transaction.
public enum RecoveryRevert {
    /// Under the lock of the run's shard (so never during an apply of that shard): deletes the run's slots whose values
    /// are those the apply wrote (their fingerprint), keeps and lists those the service edited
    /// since, and marks the run reverted with its counts. A concurrent edit of a slot between the
    /// check and the delete is seen by the DELETE's own re-check of the row, and the slot is kept.
    ///
    /// With `dryRun`, the same transaction runs and is rolled back: nothing changes, and the
    /// outcome says what would have been deleted and kept (`wouldRevert`).
    public static func revert(
        run id: Int64, database: ConnectionTarget, operatorName: String, toolVersion: String,
        lockTimeoutSeconds: Double = RecoverySchema.defaultLockTimeoutSeconds, keptLimit: Int = 50, dryRun: Bool = false,
        warn: (String) -> Void = { _ in }, lostCommit: () -> Void = {}
    ) throws -> RevertOutcome {
        /// Carries a dry run's outcome out of its transaction, which rolls it back.
        struct RolledBack: Error { var outcome: RevertOutcome }
        let connection = try RecoveryConnection.openForWriting(database, doing: "cannot revert run \(id)", subcommand: "revert")
        let doing = "cannot revert run \(id) in '\(connection.redactedConnectionInfo)'"
        let lockHint = "an apply or another revert of the run's shard is running; try again when it ends, or raise --lock-timeout"
        do {
            try connection.begin()
            let outcome = try connection.finishTransaction(committing: false) { connection -> RevertOutcome in
                try connection.executeSimple(
                    RecoverySchema.sessionSettings(
                        lockTimeoutSeconds: lockTimeoutSeconds, statementTimeoutSeconds: RecoverySchema.defaultStatementTimeoutSeconds))
                guard try RecoverySchema.installedVersion(connection) > 0 else { throw notFound(id, connection) }
                let seen = try connection.execute(
                    "SELECT shard_index, shard_count FROM recovery.runs WHERE id = $1", [String(id)], context: "reading the run's shard")
                guard let shardColumns = seen.rows.first else { throw notFound(id, connection) }
                guard case .some(let shard) = RunRecord.shard(index: shardColumns[0], count: shardColumns[1]) else {
                    throw CommitError(.inconsistent, "recovery.runs row \(id) cannot be read", hint: "check the recovery schema")
                }
                // The lock of the run's shard: never during an apply or revert of that shard.
                try RecoverySchema.lockAndMigrate(
                    connection, shard: shard, toolVersion: toolVersion,
                    database: connection.redactedConnectionInfo, waiting: "waiting for the recovery lock")
                guard let run = try RunRecord.load(connection, where: "id", String(id), lock: true) else {
                    throw notFound(id, connection)
                }
                try RecoveryConnection.requireRunDatabase(run, connection: connection, refusing: "refusing to revert run \(id)")
                if run.status == .reverted { return .alreadyReverted(run) }
                let runID = String(id)
                try requireAuditTrail(run, connection: connection, doing: doing)
                if run.kind == "reconcile" {
                    // A dry run's warnings are of a revert that does not happen.
                    let outcome = try revertReconcile(
                        run, connection: connection, operatorName: operatorName, keptLimit: keptLimit, doing: doing,
                        warn: dryRun ? { warn("dry run, nothing was changed: a revert now would have " + $0) } : warn)
                    if dryRun, case .reverted(let after, let kept, _) = outcome {
                        // Rolled back with the rest: the counts of a revert that did not happen.
                        throw RolledBack(outcome: .wouldRevert(
                            run, deleted: [], deletedCount: after.revert?.deleted ?? 0, kept: kept,
                            keptCount: after.revert?.kept ?? kept.count, missing: after.revert?.missing ?? 0, reliedOn: [],
                            membersDeleted: after.revertMembersDeleted ?? 0))
                    }
                    return outcome
                }
                let deletion = try connection.execute(
                    """
                    DELETE FROM \(connection.table("time_slots")) t USING recovery.run_slots s
                    WHERE s.run_id = $1 AND t.id = s.slot_id AND \(RecoverySchema.fingerprint("t", like: "s.fingerprint", serverVersion: connection.serverVersion)) = s.fingerprint
                    """ + (dryRun ? " RETURNING s.slot_id, s.user_id, s.slot_start" : ""),
                    [runID], context: "deleting the run's unchanged slots")
                let deleted = deletion.affectedRows
                let keptRows = try connection.execute(
                    """
                    SELECT s.slot_id, s.user_id, s.slot_start,
                      \(RecoverySchema.fingerprint("t", like: "s.fingerprint", serverVersion: connection.serverVersion)) = s.fingerprint
                    FROM recovery.run_slots s JOIN \(connection.table("time_slots")) t ON t.id = s.slot_id
                    WHERE s.run_id = $1 ORDER BY s.user_id, s.slot_start
                    """, [runID], context: "listing the run's edited slots")
                try requireNoneHeldBack(keptRows.rows.count { $0[3] == "t" }, of: run, doing: doing, what: "unchanged slots were not deleted")
                let kept = try keptRows.read(table: "recovery.run_slots", key: [(0, "slot_id")]) { row in
                    KeptSlot(slotID: try row.int64(0, "slot_id"),
                             key: SlotKey(userID: try row.int64(1, "user_id"), slotStart: try row.time(2, "slot_start")))
                }
                let missing = run.counts.inserted - deleted - kept.count
                // Other applied runs that found these slots present (their drops) lose them now.
                let reliance = try connection.execute(
                    """
                    SELECT d.run_id, count(*) FROM recovery.run_slots s
                      JOIN recovery.run_drops d ON d.user_id = s.user_id AND d.slot_start = s.slot_start
                        AND d.reason = 'already_present' AND d.run_id <> s.run_id
                      JOIN recovery.runs r ON r.id = d.run_id AND r.status = 'applied'
                    WHERE s.run_id = $1 AND NOT EXISTS (SELECT 1 FROM \(connection.table("time_slots")) t WHERE t.id = s.slot_id)
                    GROUP BY d.run_id ORDER BY d.run_id
                    """, [runID], context: "looking for runs that relied on the run's slots")
                let reliedOn = try reliance.read(table: "recovery.run_drops", key: [(0, "run_id")]) { row in
                    Reliance(runID: try row.int64(0, "run_id"), slots: Int(try row.int64(1, "count")))
                }
                if dryRun {
                    let slots = deletion.rows.compactMap { row -> KeptSlot? in
                        guard let slot = row[0].flatMap({ Int64($0) }), let user = row[1].flatMap({ Int64($0) }),
                              let start = row[2].flatMap({ Timestamp.parse($0) }) else { return nil }
                        return KeptSlot(slotID: slot, key: SlotKey(userID: user, slotStart: start))
                    }.sorted { $0.key < $1.key }
                    throw RolledBack(outcome: .wouldRevert(
                        run, deleted: Array(slots.prefix(keptLimit)), deletedCount: deleted,
                        kept: Array(kept.prefix(keptLimit)), keptCount: kept.count, missing: missing, reliedOn: reliedOn,
                        membersDeleted: nil))
                }
                try connection.execute(
                    """
                    UPDATE recovery.runs SET status = 'reverted', reverted_at = clock_timestamp(), reverted_by = $2,
                      revert_deleted = $3, revert_kept = $4, revert_missing = $5
                    WHERE id = $1
                    """, [runID, operatorName, String(deleted), String(kept.count), String(missing)],
                    context: "marking the run reverted")
                guard let updated = try RunRecord.load(connection, where: "id", runID) else {
                    throw CommitError(.inconsistent, "\(doing): the run vanished while it was reverted")
                }
                return .reverted(updated, kept: Array(kept.prefix(keptLimit)), reliedOn: reliedOn)
            }
            do {
                try connection.commit()
            } catch let error as PostgresError {
                // The server may have committed before the connection failed: look the run up.
                lostCommit()
                return try resolveUnknownOutcome(
                    outcome, database: database, commitError: error, lockTimeoutSeconds: lockTimeoutSeconds, doing: doing, warn: warn)
            }
            return outcome
        } catch let rolledBack as RolledBack {
            return rolledBack.outcome
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: lockHint)
        }
    }

    /// After COMMIT failed: reconnects, waits for the recovery locks the old session held (so it
    /// has ended), and reads the run: reverted, the revert committed; still applied, it did not.
    static func resolveUnknownOutcome(
        _ outcome: RevertOutcome, database: ConnectionTarget, commitError: PostgresError, lockTimeoutSeconds: Double, doing: String,
        warn: (String) -> Void
    ) throws -> RevertOutcome {
        guard case .reverted(let run, let kept, let reliedOn) = outcome else { return outcome }  // nothing was written
        let lost = "\(doing): COMMIT failed (\(commitError.serverMessage))"
        do {
            let found = try RecoveryConnection.runAfterLostCommit(
                id: run.id, shard: run.shard, database: database, subcommand: "revert", lockTimeoutSeconds: lockTimeoutSeconds)
            if let found, found.status == .reverted {
                warn("\(lost); looked up afterwards, run \(run.id) is reverted")
                return .reverted(found, kept: kept, reliedOn: reliedOn)
            }
            throw CommitError(
                .database, "\(lost); looked up afterwards, run \(run.id) is not reverted: nothing was committed",
                hint: CommitError.hintAfterFailedCommit(commitError, again: "run revert again"), postgres: commitError)
        } catch let error as PostgresError {
            throw CommitError(
                .outcomeUnknown,
                "\(lost) and the outcome cannot be read back (\(error.serverMessage))",
                hint: "when the database is back, 'recover-tool runs' shows whether run \(run.id) was reverted; revert again is safe",
                postgres: commitError)
        }
    }

    /// A reconcile run: every row still holding the after image gets its before image back
    /// (`updated_at` included); rows changed since the apply are kept and listed; the memberships
    /// the run inserted that are still there are deleted, but for those a slot still needs (a kept
    /// row, a row of another applied reconcile run, a slot stored or edited since the apply; told
    /// through `warn`).
    static func revertReconcile(
        _ run: RunRecord, connection: Connection, operatorName: String, keptLimit: Int, doing: String, warn: (String) -> Void
    ) throws -> RevertOutcome {
        let runID = String(run.id)
        let columns = [
            "user_id", "project_id", "task_id", "slot_start", "duration_min", "source", "status", "activity_level",
            "keystrokes", "mouse_events", "active_apps", "screenshot_key", "note", "updated_at",
        ]
        // The rows still holding the after image get the before image; the other rows still
        // there were edited since the apply and are kept: told apart by the ids the update
        // returned, not by the images afterwards, which a trigger stamping updated_at changes.
        let restoredIDs = try connection.execute(
            """
            UPDATE \(connection.table("time_slots")) t SET (\(columns.joined(separator: ", "))) = (\(columns.map { "b.\($0)" }.joined(separator: ", ")))
            FROM recovery.run_rows r, jsonb_populate_record(NULL::\(connection.table("time_slots")), r.before_image) b
            WHERE r.run_id = $1 AND t.id = r.slot_id AND \(RecoverySchema.image("t", like: "r.after_image")) = r.after_image
            RETURNING t.id
            """, [runID], context: "putting back the run's rows").rows.compactMap { $0[0] }
        let restored = restoredIDs.count
        let restoredArray = "{" + restoredIDs.joined(separator: ",") + "}"
        let keptRows = try connection.execute(
            """
            SELECT r.slot_id, r.user_id, r.slot_start, \(RecoverySchema.image("t", like: "r.after_image")) = r.after_image
            FROM recovery.run_rows r JOIN \(connection.table("time_slots")) t ON t.id = r.slot_id
            WHERE r.run_id = $1 AND NOT (r.slot_id = ANY($2::bigint[])) ORDER BY r.user_id, r.slot_start
            """, [runID, restoredArray], context: "listing the run's rows edited since the apply")
        try requireNoneHeldBack(keptRows.rows.count { $0[3] == "t" }, of: run, doing: doing, what: "unchanged rows were not put back")
        let kept = try keptRows.read(table: "recovery.run_rows", key: [(0, "slot_id")]) { row in
            KeptSlot(slotID: try row.int64(0, "slot_id"),
                     key: SlotKey(userID: try row.int64(1, "user_id"), slotStart: try row.time(2, "slot_start")))
        }
        let stillThere = try connection.execute(
            """
            SELECT count(*) FROM recovery.run_members m JOIN \(connection.table("project_members")) pm
              ON pm.project_id = m.project_id AND pm.user_id = m.user_id
            WHERE m.run_id = $1
            """, [runID], context: "counting the memberships the run inserted").scalar.flatMap { Int($0) } ?? 0
        // A membership `pm` a slot still needs once the rows are put back: a row of the run the
        // revert keeps (edited since the apply), a row another applied reconcile run restored, or a
        // slot stored or edited since the apply (a recovery run's, the service's: only rows of
        // reconcile runs counted, and a later recovery run's slots were left on a project their
        // user was no member of; found by a hostile test). A slot already there before the apply
        // (the job left it without its membership) does not keep it: the revert gives back what was.
        let usedByARow = """
            EXISTS (
                SELECT 1 FROM \(connection.table("time_slots")) t
                WHERE t.user_id = pm.user_id AND t.project_id = pm.project_id AND NOT (t.id = ANY($2::bigint[]))
                  AND (t.updated_at > (SELECT applied_at FROM recovery.runs WHERE id = $1)
                    OR EXISTS (SELECT 1 FROM recovery.run_rows r JOIN recovery.runs u ON u.id = r.run_id
                               WHERE r.slot_id = t.id AND (r.run_id = $1 OR (u.status = 'applied' AND u.kind = 'reconcile')))))
            """
        let members = try connection.execute(
            """
            DELETE FROM \(connection.table("project_members")) pm USING recovery.run_members m
            WHERE m.run_id = $1 AND pm.project_id = m.project_id AND pm.user_id = m.user_id
              AND NOT \(usedByARow)
            """, [runID, restoredArray], context: "deleting the memberships the run inserted").affectedRows
        // Those left are either used by a row (kept, with a warning) or kept by a trigger or rule
        // on project_members, which is no edit to keep.
        let heldBack = try connection.execute(
            """
            SELECT count(*) FROM recovery.run_members m JOIN \(connection.table("project_members")) pm
              ON pm.project_id = m.project_id AND pm.user_id = m.user_id
            WHERE m.run_id = $1
              AND NOT \(usedByARow)
            """, [runID, restoredArray], context: "counting the memberships the revert left").scalar.flatMap { Int($0) } ?? 0
        try requireNoneHeldBack(heldBack, of: run, doing: doing, what: "memberships no row uses were not deleted", table: "project_members")
        if stillThere > members {
            warn("kept \(stillThere - members) of the memberships the run inserted: live slots still use them (a row edited since the apply, "
                + "a row another reconcile run restored, or a slot recovered or stored since); delete them by hand once no slot of theirs needs them")
        }
        let missing = run.counts.inserted - restored - kept.count
        try connection.execute(
            """
            UPDATE recovery.runs SET status = 'reverted', reverted_at = clock_timestamp(), reverted_by = $2,
              revert_deleted = $3, revert_kept = $4, revert_missing = $5, revert_members_deleted = $6
            WHERE id = $1
            """, [runID, operatorName, String(restored), String(kept.count), String(missing), String(members)],
            context: "marking the run reverted")
        guard let updated = try RunRecord.load(connection, where: "id", runID) else {
            throw CommitError(.inconsistent, "\(doing): the run vanished while it was reverted")
        }
        return .reverted(updated, kept: Array(kept.prefix(keptLimit)), reliedOn: [])
    }

    /// Refuses a run whose audit trail no longer holds every slot (or row, or membership) it
    /// recorded, or an after image: with `recovery.run_slots` emptied, revert deleted nothing,
    /// called every slot already gone and marked the run reverted, its slots left live; with a
    /// reconcile run's `run_members` emptied or an after image set to NULL, it left what the run
    /// restored (found by hostile tests).
    static func requireAuditTrail(_ run: RunRecord, connection: Connection, doing: String) throws {
        let reconcile = run.kind == "reconcile"
        let table = reconcile ? "recovery.run_rows" : "recovery.run_slots"
        let row = try connection.execute(
            reconcile
                ? """
                  SELECT (SELECT count(*) FROM recovery.run_rows WHERE run_id = $1),
                         (SELECT count(*) FROM recovery.run_rows WHERE run_id = $1 AND after_image IS NULL),
                         (SELECT count(*) FROM recovery.run_members WHERE run_id = $1)
                  """
                : "SELECT count(*), 0, 0 FROM recovery.run_slots WHERE run_id = $1",
            [String(run.id)], context: "counting the run's recorded slots"
        ).rows.first?.map { $0.flatMap { Int($0) } ?? -1 } ?? [-1, -1, -1]
        let problem: String? =
            row[0] != run.counts.inserted ? "\(table) holds \(row[0]) of the \(run.counts.inserted) slots the run recorded as written"
            : row[1] != 0 ? "\(row[1]) of the rows in \(table) have no after image"
            : reconcile && row[2] != run.membersInserted ? "recovery.run_members holds \(row[2]) of the \(run.membersInserted) memberships the run recorded as inserted"
            : nil
        guard let problem else { return }
        throw CommitError(
            .inconsistent,
            "\(doing): \(problem): its audit trail was changed since the apply; nothing was changed",
            hint: "'recover-tool verify --run \(run.id)' shows what differs; restore the recovery schema's tables from a backup before reverting")
    }

    /// Refuses the revert, rolled back, when `count` of the run's rows still hold what the apply
    /// wrote after the revert's own statement: a trigger or rule on time_slots (a soft delete, a
    /// BEFORE trigger returning NULL) kept them, and they are not edits to keep.
    static func requireNoneHeldBack(_ count: Int, of run: RunRecord, doing: String, what: String, table: String = "time_slots") throws {
        guard count > 0 else { return }
        throw CommitError(
            .inconsistent,
            "\(doing): \(count) of the run's \(what): a trigger or rule on \(table) kept them as they were; nothing was changed",
            hint: "disable the trigger or rule for the revert, or undo the run by hand from its audit trail (recovery.run_slots or run_rows)")
    }

    static func notFound(_ id: Int64, _ connection: Connection) -> CommitError {
        CommitError(
            .runNotFound,
            "no run \(id) in '\(connection.redactedConnectionInfo)'", location: connection.redactedConnectionInfo,
            hint: "list the recorded runs with 'recover-tool runs'")
    }
}
