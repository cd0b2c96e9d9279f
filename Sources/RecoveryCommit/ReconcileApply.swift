import PlanFormat
import PostgresClient

import RecoveryModel

/// `recover-tool apply` of a reconcile plan (CONTRACT §7): in one transaction under the recovery
/// locks of its shard (as a recovery apply: shards apply at once), each planned row is updated only if live still holds exactly the row the plan saw
/// (every column, `updated_at` included: a compare-and-swap), with `updated_at` set to the commit
/// time; rows changed since are skipped and recorded. The memberships the plan restores are
/// inserted. The run keeps each row's before and after images (`recovery.run_rows`), so
/// `revert` can put the before image back where the after image still stands.
///
/// The same guarantees as a recovery plan: the plan's hashes and id are checked, everything is
/// one transaction committed by a COMMIT of its own, a second apply of the plan finds its run and
/// changes nothing, `--max-slots` bounds the rows updated, and the timeouts are the same.
public enum ReconcileApply {
    public static func apply(
        _ plan: ReconcileDirectory, database: ConnectionTarget, options: ApplyOptions,
        confirm: (ApplyTarget) throws -> Void = { _ in }, checkpoint: (ApplyCheckpoint) -> Void = { _ in }
    ) throws -> ApplyOutcome {
        let connection = try RecoveryConnection.openForApply(
            database, planPath: plan.path, planned: plan.document.database, confirm: confirm)
        checkpoint(.connected)
        let doing = "cannot apply the plan in '\(plan.path)' to '\(connection.redactedConnectionInfo)'"
        let lockHint = "another apply or revert of this shard is running, or a session holds a user or project of the "
            + "memberships; try again when it ends, or raise --lock-timeout"
        do {
            try connection.begin()
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: lockHint)
        }
        checkpoint(.transactionBegun)
        let result: (runID: Int64, skipped: [DroppedSlot])?
        let previous: RunRecord?
        do {
            (previous, result) = try run(plan, connection: connection, options: options, doing: doing, checkpoint: checkpoint)
        } catch {
            try? connection.rollback()
            if let error = error as? PostgresError { throw CommitError.database(error, doing: doing, lockHint: lockHint) }
            throw error
        }
        guard let result else {
            try? connection.rollback()
            return .alreadyApplied(previous!)
        }
        checkpoint(.committing)
        do {
            try connection.commit()
        } catch let error as PostgresError {
            return try RecoveryApply.resolveUnknownOutcome(
                planID: plan.document.planID, shard: plan.document.shard, database: database, runID: result.runID, drops: result.skipped,
                commitError: error, options: options, doing: doing)
        }
        checkpoint(.committed)
        return try RecoveryApply.committedOutcome(
            runID: result.runID, drops: result.skipped, connection: connection, database: database, doing: doing)
    }

    static let rowsTable = "recovery_reconcile_rows"
    static let membersTable = "recovery_reconcile_members"

    /// The SQL type of each restorable column, as `time_slots` has it.
    static let columnTypes: [SlotColumn: String] = [
        .projectID: "bigint NOT NULL", .taskID: "bigint", .durationMin: "smallint NOT NULL", .source: "text NOT NULL",
        .status: "text NOT NULL", .activityLevel: "smallint", .keystrokes: "integer NOT NULL",
        .mouseEvents: "integer NOT NULL", .activeApps: "text[] NOT NULL", .screenshotKey: "text", .note: "text",
    ]

    /// The temporary table's columns, in `ReconcileDocument.rowColumns` order.
    /// The after images taken again from time_slots once the triggers ran (an AFTER UPDATE
    /// trigger runs after the update's `RETURNING`, one of project_members after the membership
    /// insert, a deferred one at `RecoverySchema.runDeferred`, first): a trigger stamping the rows
    /// it saw updated made verify fail right after the apply and revert put back nothing (found by a
    /// hostile test). A row that, then, does not hold the reviewed value of a column the restore
    /// changed on it (a trigger cleared it), or is gone, refuses the apply: what was reviewed is not
    /// what would be committed. A named column the restore left as it was on the row may change.
    static func afterImagesAsStored(_ run: String, columns: [String], connection: Connection, doing: String) throws {
        let context = "taking the restored rows as stored, after the triggers of time_slots"
        try RecoverySchema.runDeferred(connection, doing: doing)
        let restored = columns.map { $0.hasPrefix("time_slots.") ? String($0.dropFirst("time_slots.".count)) : $0 }
            .filter { SlotColumn(rawValue: $0) != nil }
        let differs = restored.map { "(p.after_\($0) IS DISTINCT FROM p.before_\($0) AND t.\($0) IS DISTINCT FROM p.after_\($0))" }
            .joined(separator: " OR ")
        let row = try connection.execute(
            """
            WITH stored AS (
              SELECT r.slot_id, t.id IS NULL AS gone, to_jsonb(t) AS image, \(differs.isEmpty ? "false" : "(\(differs))") AS differs
              FROM recovery.run_rows r JOIN \(rowsTable) p ON p.id = r.slot_id LEFT JOIN \(connection.table("time_slots")) t ON t.id = r.slot_id
              WHERE r.run_id = $1
            ), updated AS (
              UPDATE recovery.run_rows r SET after_image = d.image FROM stored d
              WHERE r.run_id = $1 AND r.slot_id = d.slot_id AND NOT d.gone AND r.after_image IS DISTINCT FROM d.image
              RETURNING 1
            )
            SELECT count(*) FILTER (WHERE gone OR differs) FROM stored
            """, [run], context: context).scalar.flatMap { Int($0) } ?? 0
        guard row == 0 else {
            throw CommitError(
                .inconsistent,
                "\(doing): \(row) of the restored rows do not hold the reviewed values once the triggers of time_slots ran "
                    + "(a trigger changed a restored column, or removed the row); nothing was changed",
                hint: "disable the trigger for the apply, or find out what it does to the restored columns")
        }
    }

    static var rowsTableDefinition: String {
        var columns = ["id bigint NOT NULL", "user_id bigint NOT NULL", "slot_start timestamptz NOT NULL"]
        columns += SlotColumn.allCases.map { "before_\($0.rawValue) \(columnTypes[$0]!)" }
        columns.append("before_updated_at timestamptz NOT NULL")
        columns += SlotColumn.allCases.map { "after_\($0.rawValue) \(columnTypes[$0]!)" }
        columns.append("evidence text NOT NULL")
        return columns.joined(separator: ", ")
    }

    /// The live row `t` is exactly the plan's before image in `p`: every column but `id` (the join).
    static var unchangedSincePlan: String {
        let live = ["t.user_id", "t.slot_start"] + SlotColumn.allCases.map { "t.\($0.rawValue)" } + ["t.updated_at"]
        let plan = ["p.user_id", "p.slot_start"] + SlotColumn.allCases.map { "p.before_\($0.rawValue)" } + ["p.before_updated_at"]
        return "(\(live.joined(separator: ", "))) IS NOT DISTINCT FROM (\(plan.joined(separator: ", ")))"
    }

    private static func run(
        _ plan: ReconcileDirectory, connection: Connection, options: ApplyOptions, doing: String,
        checkpoint: (ApplyCheckpoint) -> Void
    ) throws -> (RunRecord?, (runID: Int64, skipped: [DroppedSlot])?) {
        let document = plan.document
        try connection.executeSimple(
            RecoverySchema.sessionSettings(
                lockTimeoutSeconds: options.lockTimeoutSeconds, statementTimeoutSeconds: options.statementTimeoutSeconds),
            context: "setting the apply's timeouts")
        // The same locks as a recovery apply: the global key shared (exclusive only while migrating)
        // and the plan's shard key, so the shards of a reconcile apply at once.
        try RecoverySchema.lockAndMigrate(
            connection, shard: document.shard, toolVersion: options.toolVersion, database: connection.redactedConnectionInfo,
            waiting: "waiting for the recovery lock")
        checkpoint(.lockAcquired)
        checkpoint(.schemaReady)
        if let previous = try RunRecord.load(connection, where: "plan_id", document.planID),
           previous.status == .applied || !options.againAfterRevert {
            return (previous, nil)
        }
        checkpoint(.previousRunChecked)
        if let maxSlots = options.maxSlots, document.rows.count > maxSlots {
            throw CommitError(
                .budgetExceeded,
                "refusing the plan in '\(plan.path)': it would update \(document.rows.count) rows, more than --max-slots \(maxSlots); "
                    + "nothing was changed",
                location: plan.path, hint: "check the plan, then raise --max-slots or shard the plan")
        }
        checkpoint(.budgetChecked)
        try ServiceTableRefused.check(connection, for: .reconciling)
        try RecoverySchema.requirePrivileges(connection, [
            ("time_slots", "UPDATE", SlotColumn.allCases.map(\.rawValue) + ["updated_at"], "the run could not restore its rows"),
            ("project_members", "INSERT", ["project_id", "user_id"], "the run could not restore its memberships"),
            ("project_members", "DELETE", [], "a revert of the run could not undo it"),
        ], doing: doing)

        // 1. Both rows files, byte for byte as reviewed, into temporary tables.
        try connection.executeSimple(
            """
            CREATE TEMPORARY TABLE \(rowsTable) (\(rowsTableDefinition)) ON COMMIT DROP;
            CREATE TEMPORARY TABLE \(membersTable) (project_id bigint NOT NULL, user_id bigint NOT NULL, evidence text NOT NULL) ON COMMIT DROP
            """, context: "creating the rows tables")
        checkpoint(.rowsTableCreated)
        var chunks = 0
        for (table, entry, path) in [
            (rowsTable, document.rows, plan.rowsPath), (membersTable, document.memberships, plan.membershipsPath),
        ] {
            var sent = PlanRowsStream.Sent(sha256: "", bytes: 0, lines: 0)
            let stream = PlanRowsStream(path: path, chunkBytes: options.chunkBytes)
            let copied = try connection.copyIn(
                "COPY \(table) (\(entry.columns.joined(separator: ", "))) FROM STDIN", context: "loading \(path) into the database"
            ) { copy in
                sent = try stream.send(into: &copy) { _ in
                    chunks += 1
                    checkpoint(.copyChunkSent(chunks))
                }
            }
            guard sent.sha256 == entry.sha256, sent.lines == entry.count, copied == entry.count else {
                throw CommitError(
                    .planRefused,
                    "refusing the plan in '\(plan.path)': \(entry.file) changed while it was applied "
                        + "(SHA-256 \(sent.sha256), \(copied) rows; the plan recorded \(entry.sha256), \(entry.count)); "
                        + "nothing was changed",
                    location: plan.path, hint: "make a new plan with 'recover-tool reconcile' and review it")
            }
        }
        try connection.execute("ANALYZE \(rowsTable)", context: "analyzing the rows table")
        checkpoint(.rowsLoaded)

        // 2. The run.
        let runID = try connection.execute(
            """
            INSERT INTO recovery.runs (plan_id, plan_path, window_from, window_to, shard_index, shard_count, operator,
              tool_version, applied_at, status, planned, inserted, dropped_present, dropped_offline, kind, applied_to)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), 'applied', 0, 0, 0, 0, 'reconcile', $9::jsonb)
            RETURNING id
            """,
            [document.planID, plan.path, document.job.from, document.job.to, document.shard.map { String($0.index) },
             document.shard.map { String($0.count) }, options.operatorName, options.toolVersion,
             try JSONOutput.encode(document.database)],
            context: "recording the run in recovery.runs"
        ).scalar.flatMap { Int64($0) }
        guard let runID else { throw CommitError(.inconsistent, "\(doing): recovery.runs returned no id") }
        checkpoint(.runRecorded)
        let run = String(runID)

        // 3. The per-user guard, held to COMMIT, before any row of time_slots is touched (the same
        // order as a recovery apply: users, then slots, so the two never wait on each other in a
        // cycle). The memberships' users and projects FOR KEY SHARE, in id order: one deleted
        // before this is skipped by the insert below, and a delete after it waits for COMMIT,
        // instead of failing the insert's foreign-key check. The rows themselves are guarded by
        // the compare-and-swap's own row locks.
        try connection.execute(
            """
            SELECT (SELECT count(*) FROM (SELECT 1 FROM \(connection.table("users")) WHERE id IN (SELECT user_id FROM \(membersTable))
                                          ORDER BY id FOR KEY SHARE) u),
                   (SELECT count(*) FROM (SELECT 1 FROM \(connection.table("projects")) WHERE id IN (SELECT project_id FROM \(membersTable))
                                          ORDER BY id FOR KEY SHARE) p)
            """,
            context: "guarding the memberships' users and projects (for up to \(options.lockTimeoutSeconds) s)")
        checkpoint(.usersGuarded)

        // 4. Compare and swap. The rows still exactly as the plan saw them are locked and their
        // before image kept; a row a session changes meanwhile is re-checked by FOR UPDATE (READ
        // COMMITTED re-reads it) and left out. Then those rows get the after image, with
        // updated_at the time the update starts (now() would be the transaction's start).
        guard let appliedAt = try connection.execute("SELECT clock_timestamp()", context: "reading the clock").scalar else {
            throw CommitError(.inconsistent, "\(doing): the server returned no time")
        }
        let locked = try connection.execute(
            """
            INSERT INTO recovery.run_rows (run_id, slot_id, user_id, slot_start, before_image, evidence)
            SELECT $1, t.id, t.user_id, t.slot_start, to_jsonb(t), p.evidence
            FROM \(connection.table("time_slots")) t JOIN \(rowsTable) p ON p.id = t.id
            WHERE \(unchangedSincePlan)
            FOR UPDATE OF t
            """, [run], context: "locking the rows unchanged since the plan").affectedRows
        let assignments = SlotColumn.allCases.map { "\($0.rawValue) = p.after_\($0.rawValue)" }.joined(separator: ", ")
        let updated = try connection.execute(
            """
            WITH updated AS (
              UPDATE \(connection.table("time_slots")) t SET \(assignments), updated_at = $2::timestamptz
              FROM \(rowsTable) p, recovery.run_rows r
              WHERE r.run_id = $1 AND r.slot_id = t.id AND p.id = t.id
              RETURNING t.id, to_jsonb(t) AS image
            )
            UPDATE recovery.run_rows r SET after_image = u.image FROM updated u WHERE r.run_id = $1 AND r.slot_id = u.id
            """, [run, appliedAt], context: "restoring the rows in time_slots").affectedRows
        guard updated == locked else {
            throw CommitError(
                .inconsistent,
                "\(doing): \(locked - updated) of the rows to restore were not updated: a trigger or rule on time_slots skipped them; nothing was changed",
                hint: "disable the trigger or rule for the apply, or find out why it skips the restore")
        }
        let skipped = try connection.execute(
            """
            INSERT INTO recovery.run_skips (run_id, slot_id, user_id, slot_start, reason, live_image, evidence)
            SELECT $1, p.id, p.user_id, p.slot_start, CASE WHEN t.id IS NULL THEN 'gone' ELSE 'changed_since_plan' END,
              to_jsonb(t), p.evidence
            FROM \(rowsTable) p LEFT JOIN \(connection.table("time_slots")) t ON t.id = p.id
            WHERE NOT EXISTS (SELECT 1 FROM recovery.run_rows r WHERE r.run_id = $1 AND r.slot_id = p.id)
            """, [run], context: "recording the rows changed since the plan").affectedRows
        let members = try connection.execute(
            """
            WITH inserted AS (
              INSERT INTO \(connection.table("project_members")) (project_id, user_id)
              SELECT m.project_id, m.user_id FROM \(membersTable) m
              WHERE EXISTS (SELECT 1 FROM \(connection.table("users")) u WHERE u.id = m.user_id)
                AND EXISTS (SELECT 1 FROM \(connection.table("projects")) p WHERE p.id = m.project_id)
              ON CONFLICT DO NOTHING
              RETURNING project_id, user_id
            )
            INSERT INTO recovery.run_members (run_id, project_id, user_id, evidence)
            SELECT $1, i.project_id, i.user_id, m.evidence FROM inserted i
            JOIN \(membersTable) m ON m.project_id = i.project_id AND m.user_id = i.user_id
            """, [run], context: "restoring the memberships in project_members").affectedRows
        if try RecoverySchema.hasReconcileTriggers(connection) {
            try afterImagesAsStored(run, columns: document.columns, connection: connection, doing: doing)
        }
        checkpoint(.slotsInserted)

        // 5. The counts: planned = updated + skipped (the runs CHECK holds them to it).
        let counted = try connection.execute(
            """
            UPDATE recovery.runs SET planned = $2, inserted = $3, dropped_present = $4, applied_at = $5,
              members_planned = $6, members_inserted = $7
            WHERE id = $1
            """, [run, String(document.rows.count), String(updated), String(skipped), appliedAt,
                  String(document.memberships.count), String(members)], context: "recording the run's counts")
        guard counted.affectedRows == 1 else { throw CommitError(.inconsistent, "\(doing): run \(runID) vanished") }
        checkpoint(.countsRecorded)

        let sample = try connection.execute(
            "SELECT user_id, slot_start, slot_id FROM recovery.run_skips WHERE run_id = $1 ORDER BY user_id, slot_start LIMIT $2",
            [run, String(options.dropSampleLimit)], context: "reading the skipped rows")
        let drops = try sample.read(table: "recovery.run_skips", key: [(0, "user_id"), (1, "slot_start")]) { row in
            DroppedSlot(
                key: SlotKey(userID: try row.int64(0, "user_id"), slotStart: try row.time(1, "slot_start")),
                reason: .changedSincePlan, otherID: try row.optionalInt64(2, "slot_id"))
        }
        return (nil, (runID, drops))
    }
}
