import PlanFormat
import PostgresClient
import RecoveryModel

/// What an apply may do, and who does it.
public struct ApplyOptions: Sendable {
    /// Recorded as `recovery.runs.operator`.
    public var operatorName: String
    /// Recorded as `recovery.runs.tool_version`.
    public var toolVersion: String
    /// Refuse the plan if more than this many slots would be inserted; nil for no limit.
    public var maxSlots: Int?
    /// How long to wait for the recovery lock or a table lock (`lock_timeout`).
    public var lockTimeoutSeconds = RecoverySchema.defaultLockTimeoutSeconds
    /// How long one statement may run (`statement_timeout`): the COPY or the insert of a big plan.
    public var statementTimeoutSeconds = RecoverySchema.defaultStatementTimeoutSeconds
    /// Bytes of the rows file read and sent per step.
    public var chunkBytes: Int = 1 << 20
    /// How many dropped slots the outcome lists (all are recorded in `recovery.run_drops`).
    public var dropSampleLimit = 20
    /// Apply a plan whose last run was reverted, as a new run (`apply --again`). Without it such
    /// a plan changes nothing, like one still applied.
    public var againAfterRevert = false

    public init(operatorName: String, toolVersion: String, maxSlots: Int? = nil) {
        self.operatorName = operatorName
        self.toolVersion = toolVersion
        self.maxSlots = maxSlots
    }
}

/// The named moments of an apply, in order, handed to the caller's `checkpoint` closure: for
/// progress display, and for fault tests that stop the process at each one.
public enum ApplyCheckpoint: Hashable, Sendable, CustomStringConvertible {
    case planChecked, connected, transactionBegun, lockAcquired, schemaReady, previousRunChecked
    case rowsTableCreated
    /// The n-th chunk (1-based) of the rows file was handed to the COPY.
    case copyChunkSent(Int)
    case rowsLoaded, runRecorded, offlineLocked, offlineRechecked, budgetChecked
    /// A reconcile apply holds its guard: the memberships' users and projects.
    case usersGuarded
    case slotsInserted, countsRecorded
    /// Everything is written; COMMIT is about to be sent.
    case committing
    /// COMMIT returned: the run is durable.
    case committed

    /// `copy-chunk-2`, `offline-locked`, ...
    public var description: String {
        switch self {
        case .planChecked: "plan-checked"
        case .connected: "connected"
        case .transactionBegun: "transaction-begun"
        case .lockAcquired: "lock-acquired"
        case .schemaReady: "schema-ready"
        case .previousRunChecked: "previous-run-checked"
        case .rowsTableCreated: "rows-table-created"
        case .copyChunkSent(let n): "copy-chunk-\(n)"
        case .rowsLoaded: "rows-loaded"
        case .runRecorded: "run-recorded"
        case .offlineLocked: "offline-locked"
        case .offlineRechecked: "offline-rechecked"
        case .budgetChecked: "budget-checked"
        case .usersGuarded: "users-guarded"
        case .slotsInserted: "slots-inserted"
        case .countsRecorded: "counts-recorded"
        case .committing: "committing"
        case .committed: "committed"
        }
    }
}

/// A plan row that the apply did not insert because the database changed after the plan.
public struct DroppedSlot: Hashable, Sendable {
    public enum Reason: String, Hashable, Sendable {
        case alreadyPresent = "already_present"
        case offlineOverlap = "offline_overlap"
        /// A reconcile plan's row that live changed after the plan (or deleted): not updated.
        case changedSincePlan = "changed_since_plan"
    }

    public var key: SlotKey
    public var reason: Reason
    /// The live row (already present) or the first overlapping offline entry.
    public var otherID: Int64?

    public init(key: SlotKey, reason: Reason, otherID: Int64?) {
        self.key = key
        self.reason = reason
        self.otherID = otherID
    }
}

/// How an apply ended.
public enum ApplyOutcome: Sendable {
    /// This call committed the plan as a new run. `drops` lists the first dropped slots.
    /// `recoveredAfterLostConnection` is true when COMMIT's reply was lost and the run was found
    /// by looking it up afterwards.
    case applied(RunRecord, drops: [DroppedSlot], recoveredAfterLostConnection: Bool)
    /// The plan had been applied before, as this run: nothing was changed.
    case alreadyApplied(RunRecord)

    public var run: RunRecord {
        switch self {
        case .applied(let run, _, _), .alreadyApplied(let run): run
        }
    }
}

/// `recover-tool apply`: commits exactly a reviewed plan, in one transaction.
///
/// All or nothing: every write (schema migrations, the run, its slots and drops, the inserts into
/// `time_slots`) happens in one transaction, committed by a COMMIT of its own. Once: the run is
/// recorded under the plan id inside that transaction, and every apply first takes its shard's
/// transaction-level advisory lock (`RecoverySchema.lockAndMigrate`), so a second apply of the
/// same plan waits, then finds the run and changes nothing, while other shards apply at once; the
/// unique key of `time_slots` (`ON CONFLICT DO NOTHING`) keeps even two different plans from
/// inserting a slot twice.
///
/// Offline entries the service writes while the apply runs are kept out by a per-user guard,
/// taken just before the offline re-check and held to COMMIT: the plan's users rows FOR UPDATE
/// and their offline entries FOR SHARE. An entry committed before the guard is seen by the
/// re-check; one written after it waits for COMMIT. SERIALIZABLE was the alternative and is not
/// used: it detects conflicts only among SERIALIZABLE transactions, so it would not see the
/// service's READ COMMITTED inserts, and a retry would redo the whole COPY (docs/APPLY.md).
public enum RecoveryApply {
    public static func apply(
        planDirectory: String, database: ConnectionTarget, options: ApplyOptions,
        checkpoint: (ApplyCheckpoint) -> Void = { _ in }
    ) throws -> ApplyOutcome {
        let plan: PlanDirectory
        do {
            plan = try PlanDirectory.load(planDirectory)
        } catch let error as PlanError {
            throw CommitError(refusing: error)
        }
        checkpoint(.planChecked)
        return try apply(plan, database: database, options: options, checkpoint: checkpoint)
    }

    /// Applies a plan already loaded (and so checked) by `PlanDirectory.load`, to the database it
    /// was made for only; `confirm` sees that database before anything is written, and may throw.
    public static func apply(
        _ plan: PlanDirectory, database: ConnectionTarget, options: ApplyOptions,
        confirm: (ApplyTarget) throws -> Void = { _ in }, checkpoint: (ApplyCheckpoint) -> Void = { _ in }
    ) throws -> ApplyOutcome {
        let connection = try RecoveryConnection.openForApply(
            database, planPath: plan.path, planned: plan.document.database, confirm: confirm)
        checkpoint(.connected)
        let doing = "cannot apply the plan in '\(plan.path)' to '\(connection.redactedConnectionInfo)'"
        let lockHint = "another apply or revert of this shard, or a schema migration, is running (or a session holds offline entries of the plan's users); "
            + "try again when it ends, or raise --lock-timeout"
        do {
            try connection.begin()
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: lockHint)
        }
        checkpoint(.transactionBegun)
        let result: ApplyTransaction.Result
        do {
            result = try withoutActuallyEscaping(checkpoint) { checkpoint in
                let transaction = ApplyTransaction(
                    plan: plan, connection: connection, options: options, doing: doing, checkpoint: checkpoint)
                return try transaction.run()
            }
        } catch {
            try? connection.rollback()
            if let error = error as? PostgresError { throw CommitError.database(error, doing: doing, lockHint: lockHint) }
            throw error
        }
        switch result {
        case .alreadyApplied(let run):
            // Nothing was written but the read of the run: end the transaction without a trace.
            try? connection.rollback()
            return .alreadyApplied(run)
        case .ready(let runID, let drops):
            checkpoint(.committing)
            do {
                try connection.commit()
            } catch let error as PostgresError {
                // The reply to COMMIT is the only uncertain step: the server may have committed
                // before the connection failed. The run row was written in the transaction, so
                // looking it up (under the lock, which the old session holds until it ends) tells.
                return try resolveUnknownOutcome(
                    planID: plan.document.planID, shard: plan.document.shard, database: database, runID: runID, drops: drops, commitError: error, options: options, doing: doing)
            }
            checkpoint(.committed)
            return try committedOutcome(runID: runID, drops: drops, connection: connection, database: database, doing: doing)
        }
    }

    /// The outcome of an apply whose COMMIT succeeded: its run, read on its connection or, when
    /// that was lost after the COMMIT, on a new one.
    static func committedOutcome(
        runID: Int64, drops: [DroppedSlot], connection: Connection, database: ConnectionTarget, doing: String
    ) throws -> ApplyOutcome {
        if let run = try? readRun(id: runID, connection: connection) {
            return .applied(run, drops: drops, recoveredAfterLostConnection: false)
        }
        let run: RunRecord?
        do {
            let again = try Connection.connect(database, session: SessionSettings(applicationName: "recover-tool apply"))
            run = try readRun(id: runID, connection: again)
        } catch let error as PostgresError {
            throw CommitError(
                .outcomeUnknown,
                "\(doing): run \(runID) was committed, but the connection was lost before it was read back and it cannot be read now "
                    + "(\(error.serverMessage))",
                hint: "when the database is back, 'recover-tool runs' shows run \(runID); apply again is safe", postgres: error)
        }
        guard let run else {
            throw CommitError(.inconsistent, "\(doing): run \(runID) was committed but is not in recovery.runs", hint: "check 'recover-tool runs'")
        }
        return .applied(run, drops: drops, recoveredAfterLostConnection: true)
    }

    static func readRun(id: Int64, connection: Connection) throws -> RunRecord? {
        try connection.transaction(readOnly: true) { connection in
            try connection.executeSimple("SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'")
            return try RunRecord.load(connection, where: "id", String(id))
        }
    }

    /// After COMMIT failed: reconnects, waits for the recovery locks the old session held (so it
    /// has ended: the global key, exclusive while it migrated, and the key of `shard`), and looks
    /// the plan id up.
    static func resolveUnknownOutcome(
        planID: String, shard: Shard? = nil, database: ConnectionTarget, runID: Int64, drops: [DroppedSlot], commitError: PostgresError,
        options: ApplyOptions, doing: String
    ) throws -> ApplyOutcome {
        let lost = "\(doing): COMMIT failed (\(commitError.serverMessage))"
        do {
            // This apply's own run row: an earlier, reverted run of the plan is not an answer.
            let found = try RecoveryConnection.runAfterLostCommit(
                id: runID, shard: shard, database: database, subcommand: "apply", lockTimeoutSeconds: options.lockTimeoutSeconds)
            if let found, found.planID == planID {
                return .applied(found, drops: found.id == runID ? drops : [], recoveredAfterLostConnection: true)
            }
            throw CommitError(
                .database, "\(lost); looked up afterwards, the plan is not recorded: nothing was committed",
                hint: CommitError.hintAfterFailedCommit(commitError, again: "run apply again"), postgres: commitError)
        } catch let error as PostgresError {
            throw CommitError(
                .outcomeUnknown,
                "\(lost) and the outcome cannot be read back (\(error.serverMessage))",
                hint: "when the database is back, 'recover-tool runs' shows whether plan \(planID) was applied; apply again is safe",
                postgres: commitError)
        }
    }
}

/// The statements of one apply, in order, on a connection inside `BEGIN`.
private struct ApplyTransaction {
    enum Result {
        case alreadyApplied(RunRecord)
        case ready(runID: Int64, drops: [DroppedSlot])
    }

    let plan: PlanDirectory
    let connection: Connection
    let options: ApplyOptions
    let doing: String
    let checkpoint: (ApplyCheckpoint) -> Void

    /// The temporary table the rows file is copied into; its columns are `PlanDocument.rowColumns`:
    /// the rows file's `time_slots` columns as the table defines them, then the provenance; then
    /// `id`, which the COPY leaves to its default: the id default of `time_slots` (`Target`).
    static let rowsTable = "recovery_plan_rows"
    static let rowsTableDefinition = (TimeSlotColumns.rowsFile.map(\.definition) + ["provenance text NOT NULL"])
        .joined(separator: ", ")

    /// The INSERT's column list, after `id`, and, for each, its value for a row `p` of the rows
    /// table (`$1`: the time of the insert).
    static let insertColumns = TimeSlotColumns.stored.map(\.name).joined(separator: ", ")
    static let insertValues = storedValues(typed: false).joined(separator: ", ")

    /// Each stored column's value for a row `p` of the rows table; `typed` casts the constants to
    /// the column's type, as the fingerprint of the values needs (the INSERT leaves the cast to
    /// the table, whatever type it gives the column).
    static func storedValues(typed: Bool) -> [String] {
        TimeSlotColumns.stored.map { column -> String in
            switch column.origin {
            case .rowsFile: "p.\(column.name)"
            case .constant(let sql): typed ? "(\(sql))::\(column.sqlType)" : sql
            case .insertTime: "$1::timestamptz"
            case .generated: "DEFAULT"  // not in `stored`
            }
        }
    }

    /// What the apply needs to know of the live `time_slots` before it loads the rows.
    struct Target {
        /// The `id` column's default as SQL: `nextval` of its identity sequence, or the column's
        /// default expression (`bigserial`'s `nextval`); nil when it has none (the insert then
        /// fails on the NULL id, as it would with the table's own default).
        var idDefault: String?
        /// A row is stored as inserted: `time_slots` has no BEFORE INSERT row trigger and no INSERT
        /// rule, and every stored column has the type CONTRACT §2 gives it (`TimeSlotColumns`)
        /// and a deterministic collation. Then a slot's fingerprint, computed from its values in
        /// the rows table, is the fingerprint of the row as stored, which `verify` and `revert`
        /// compute.
        var storesRowsAsInserted: Bool
        /// `time_slots` (or a partition) has an INSERT trigger that fires, which may change the rows
        /// after the insert has returned them, itself or through another table's trigger (an
        /// apply's only other writes are to the recovery schema): their fingerprints are taken
        /// again once they have run.
        var hasInsertTriggers = false
    }

    /// The phases, in order; each reports its checkpoint when done.
    func run() throws -> Result {
        try takeRecoveryLock()
        try prepareSchema()
        if let previous = try previousRun() { return .alreadyApplied(previous) }
        try checkRevertible()
        let target = try readTarget()
        try loadRows(idDefault: target.idDefault)
        let runID = try recordRun()
        let offlineDropped = try recheckOfflineOverlap(runID)
        try checkBudget(offlineDropped: offlineDropped)
        let (inserted, appliedAt) = try insertSlots(
            runID, offlineDropped: offlineDropped, storesRowsAsInserted: target.storesRowsAsInserted)
        if target.hasInsertTriggers { try fingerprintAsStored(runID) }
        try recordCounts(runID, inserted: inserted, appliedAt: appliedAt)
        return .ready(runID: runID, drops: try readDrops(runID))
    }

    /// The session's timeouts, then the transaction-level advisory locks: the global key shared
    /// (exclusive while migrating) and the plan's shard key, so shards apply at once.
    private func takeRecoveryLock() throws {
        try connection.executeSimple(
            RecoverySchema.sessionSettings(
                lockTimeoutSeconds: options.lockTimeoutSeconds, statementTimeoutSeconds: options.statementTimeoutSeconds),
            context: "setting the apply's timeouts")
        try RecoverySchema.lockAndMigrate(
            connection, shard: plan.document.shard, toolVersion: options.toolVersion, database: connection.redactedConnectionInfo,
            waiting: "waiting \(seconds(options.lockTimeoutSeconds)) for the recovery lock")
        checkpoint(.lockAcquired)
    }

    /// The `recovery` schema: created or migrated by `RecoverySchema.lockAndMigrate`, under the lock.
    private func prepareSchema() throws {
        checkpoint(.schemaReady)
    }

    /// The run already recorded for this plan, if it stands (applied, or reverted without `--again`).
    private func previousRun() throws -> RunRecord? {
        if let previous = try RunRecord.load(connection, where: "plan_id", plan.document.planID),
           previous.status == .applied || !options.againAfterRevert {
            return previous
        }
        checkpoint(.previousRunChecked)
        return nil
    }

    /// Refuses a `time_slots` that a revert could not delete from: one published (for deletes) with
    /// a row filter or column list its replica identity does not cover, where PostgreSQL refuses
    /// every DELETE (42P10). A partitioned table's rows are deleted from its partitions, each with
    /// its own replica identity and publications (or the root's, with
    /// `publish_via_partition_root`): each is tried. Only when a table of the tree is published,
    /// deleting nothing, inside a savepoint rolled back, so that no statement trigger's work is kept.
    private func checkRevertible() throws {
        let table = connection.table("time_slots")
        let context = "checking that a revert could delete from \(table)"
        try RecoverySchema.requirePrivileges(connection, [("time_slots", "DELETE", [], "a revert of the run could not undo it")], doing: doing)
        // pg_partition_tree: PostgreSQL 12 and later; empty for a table that is not partitioned.
        let tree = connection.serverVersion >= 120000
            ? "SELECT $1::text::regclass UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::text::regclass)"
            : "SELECT $1::text::regclass"
        let published = try connection.execute(
            """
            SELECT count(*) FROM pg_catalog.pg_publication_tables t JOIN pg_catalog.pg_publication p ON p.pubname = t.pubname
            WHERE p.pubdelete AND (pg_catalog.quote_ident(t.schemaname) || '.' || pg_catalog.quote_ident(t.tablename))::regclass IN (\(tree))
            """, [table], context: "reading the publications of \(table)").scalar
        guard published != "0" else { return }
        let leaves = connection.serverVersion >= 120000
            ? "SELECT relid::regclass::text FROM pg_catalog.pg_partition_tree($1::text::regclass) WHERE isleaf"
            : "SELECT $1::text::regclass::text"
        var targets = try connection.execute(leaves, [table], context: context).rows.compactMap { $0[0] }
        if targets.isEmpty { targets = [table] }  // not partitioned
        try connection.executeSimple("SAVEPOINT recover_tool_revertible", context: context)
        for target in targets {
            do {
                try connection.executeSimple("DELETE FROM ONLY \(target) WHERE false", context: context)
            } catch let error as PostgresError where error.sqlState == "42P10" {
                throw CommitError(
                    .database, "\(doing): \(error.message); nothing was changed",
                    hint: "a revert could not delete the run's slots: give \(target) a replica identity that covers the publication's "
                        + "row filter and column list (ALTER TABLE ... REPLICA IDENTITY FULL, on each partition), or publish it without them",
                    postgres: error)
            }
        }
        try connection.executeSimple("ROLLBACK TO SAVEPOINT recover_tool_revertible", context: context)
    }

    /// The catalog's answer about the live `time_slots` (`Target`), in one query.
    private func readTarget() throws -> Target {
        try ServiceTableRefused.check(connection, for: .recovering)
        let table = connection.table("time_slots")
        let contractTypes = TimeSlotColumns.stored.map { "('\($0.name)', '\($0.sqlType)'::regtype)" }.joined(separator: ", ")
        // collisdeterministic: PostgreSQL 12 and later; every collation before was deterministic.
        let nondeterministic = connection.serverVersion >= 120000 ? " OR l.collisdeterministic IS FALSE" : ""
        let triggers = RecoverySchema.firingTriggers(of: "a.attrelid", serverVersion: connection.serverVersion)
        let result = try connection.execute(
            """
            SELECT CASE WHEN a.attidentity <> '' THEN format('nextval(%L::regclass)', pg_get_serial_sequence($1::text, 'id'))
                        ELSE pg_get_expr(d.adbin, d.adrelid) END,
              (SELECT count(*) FROM \(triggers) AND g.tgtype & 7 = 7)
              + (SELECT count(*) FROM pg_rewrite r WHERE r.ev_class = a.attrelid AND r.ev_type = '3')
              + (SELECT count(*) FROM (VALUES \(contractTypes)) c (name, type)
                 LEFT JOIN pg_attribute s ON s.attrelid = a.attrelid AND s.attname = c.name AND NOT s.attisdropped
                 LEFT JOIN pg_collation l ON l.oid = s.attcollation
                 WHERE s.atttypid IS DISTINCT FROM c.type OR s.atttypmod <> -1\(nondeterministic)),
              EXISTS (SELECT 1 FROM \(triggers) AND g.tgtype & 68 = 4)
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1::text::regclass AND a.attname = 'id' AND NOT a.attisdropped
            """, [table], context: "reading how \(table) assigns ids")
        guard let row = result.rows.first else { return Target(idDefault: nil, storesRowsAsInserted: false) }
        return Target(idDefault: row[0], storesRowsAsInserted: row[1] == "0", hasInsertTriggers: row[2] == "t")
    }

    /// The rows, byte for byte as reviewed, into a temporary table; each gets its slot's id from
    /// the id default of `time_slots` (`idDefault`) as it is copied.
    private func loadRows(idDefault: String?) throws {
        let document = plan.document
        let columns = PlanDocument.rowColumns
        try connection.executeSimple(
            "CREATE TEMPORARY TABLE \(Self.rowsTable) (\(Self.rowsTableDefinition), id bigint\(idDefault.map { " DEFAULT \($0)" } ?? "")) ON COMMIT DROP",
            context: "creating the rows table")
        checkpoint(.rowsTableCreated)
        var sent = PlanRowsStream.Sent(sha256: "", bytes: 0, lines: 0)
        let stream = PlanRowsStream(path: plan.rowsPath, chunkBytes: options.chunkBytes)
        let copied = try connection.copyIn(
            "COPY \(Self.rowsTable) (\(columns.joined(separator: ", "))) FROM STDIN",
            context: "loading \(plan.rowsPath) into the database"
        ) { copy in
            sent = try stream.send(into: &copy) { checkpoint(.copyChunkSent($0)) }
        }
        guard sent.sha256 == document.rows.sha256, sent.lines == document.rows.count, copied == document.rows.count else {
            throw CommitError(
                .planRefused,
                "refusing the plan in '\(plan.path)': \(document.rows.file) changed while it was applied "
                    + "(SHA-256 \(sent.sha256), \(copied) rows; the plan recorded \(document.rows.sha256), \(document.rows.count)); "
                    + "nothing was changed",
                location: plan.path, hint: "make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it")
        }
        // Statistics from a sample of 3,000 rows instead of 30,000: the plans only need the rows'
        // count and the number of users (1 M rows: 0.02 against 0.16 s).
        try connection.executeSimple(
            "SET LOCAL default_statistics_target = 10; ANALYZE \(Self.rowsTable); RESET default_statistics_target",
            context: "analyzing the rows table")
        checkpoint(.rowsLoaded)
    }

    /// The run, so that its id can tag the slots and drops.
    private func recordRun() throws -> Int64 {
        let document = plan.document
        let window = document.window
        let runID = try connection.execute(
            """
            INSERT INTO recovery.runs (plan_id, plan_path, window_from, window_to, shard_index, shard_count, operator,
              tool_version, applied_at, status, planned, inserted, dropped_present, dropped_offline, applied_to)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), 'applied', 0, 0, 0, 0, $9::jsonb)
            RETURNING id
            """,
            [document.planID, plan.path, window.from, window.to, document.shard.map { String($0.index) },
             document.shard.map { String($0.count) }, options.operatorName, options.toolVersion,
             try JSONOutput.encode(document.database)],
            context: "recording the run in recovery.runs"
        ).scalar.flatMap { Int64($0) }
        guard let runID else { throw CommitError(.inconsistent, "\(doing): recovery.runs returned no id") }
        checkpoint(.runRecorded)
        return runID
    }

    /// CONTRACT §5.4 again, with the plan's users guarded until COMMIT: their users rows FOR
    /// UPDATE (a new offline entry of one of them waits in its foreign-key check, which takes FOR
    /// KEY SHARE) and their offline entries FOR SHARE (an edit waits), in id order. Other users'
    /// offline time is not held up. A row whose key has a live row now is left to `insertSlots`,
    /// since §5.3 comes first. The plan's users are read from the rows once (a CTE named twice is
    /// computed once), not once per lock. Only the offline entries that meet the span of the plan's
    /// rows, from the first slot's start to past the last one's end, are joined with the rows: an
    /// offline table holds years of entries (the join of a million rows with five entries per user
    /// outside the span: 0.28 against 0.16 s). Returns how many were dropped.
    private func recheckOfflineOverlap(_ runID: Int64) throws -> Int {
        let run = String(runID)
        try connection.execute(
            """
            WITH plan_users AS (SELECT DISTINCT user_id FROM \(Self.rowsTable))
            SELECT (SELECT count(*) FROM (SELECT 1 FROM \(connection.table("users")) WHERE id IN (SELECT user_id FROM plan_users)
                                          ORDER BY id FOR UPDATE) u),
                   (SELECT count(*) FROM (SELECT 1 FROM \(connection.table("offline_entries")) WHERE user_id IN (SELECT user_id FROM plan_users)
                                          ORDER BY id FOR SHARE) o)
            """,
            context: "guarding the plan's users against new offline entries (for up to \(seconds(options.lockTimeoutSeconds)))")
        checkpoint(.offlineLocked)
        let offlineDropped = try connection.execute(
            """
            WITH span AS (SELECT min(slot_start) AS first, max(slot_start) + make_interval(mins => max(duration_min)::int) AS last
                          FROM \(Self.rowsTable))
            INSERT INTO recovery.run_drops (run_id, user_id, slot_start, reason, offline_entry_id, provenance)
            SELECT DISTINCT ON (p.user_id, p.slot_start) $1, p.user_id, p.slot_start, 'offline_overlap', o.id, p.provenance
            FROM \(Self.rowsTable) p JOIN \(connection.table("offline_entries")) o ON \(RecoverySchema.offlineOverlap(slot: "p", entry: "o"))
            WHERE o.starts_at < (SELECT last FROM span) AND o.ends_at > (SELECT first FROM span)
              AND NOT EXISTS (SELECT 1 FROM \(connection.table("time_slots")) t WHERE t.user_id = p.user_id AND t.slot_start = p.slot_start)
            ORDER BY p.user_id, p.slot_start, o.starts_at, o.id
            """, [run], context: "re-checking the plan's slots against offline_entries").affectedRows
        checkpoint(.offlineRechecked)
        return offlineDropped
    }

    /// `--max-slots`, on what is left to insert. The keys that gained a live row are counted only
    /// when the rest is over the budget: it saves a join with time_slots on every apply.
    private func checkBudget(offlineDropped: Int) throws {
        let document = plan.document
        var toInsert = document.rows.count - offlineDropped
        if let maxSlots = options.maxSlots, toInsert > maxSlots {
            let present = try connection.execute(
                """
                SELECT count(*) FROM \(Self.rowsTable) p JOIN \(connection.table("time_slots")) t ON t.user_id = p.user_id AND t.slot_start = p.slot_start
                """, context: "counting the plan's slots that are live now").scalar.flatMap { Int($0) } ?? 0
            toInsert -= present
            if toInsert > maxSlots {
                throw CommitError(
                    .budgetExceeded,
                    "refusing the plan in '\(plan.path)': it would insert \(toInsert) slots, more than --max-slots \(maxSlots); "
                        + "nothing was changed",
                    location: plan.path, hint: "check the plan, then raise --max-slots or shard the plan")
            }
        }
        checkpoint(.budgetChecked)
    }

    /// The insert, and CONTRACT §5.3 again: a key that has a live row now is skipped, whether it
    /// gained it since the plan or the service inserts it during the apply; those are recorded just
    /// after. Each slot gets the id the rows table holds for it, and run_slots records that id,
    /// the slot's key, provenance and fingerprint. updated_at is the time the insert starts, the
    /// latest time known before COMMIT (now() would be the transaction's start, before the COPY).
    /// Returns the count and that time.
    ///
    /// First a plain INSERT, under a savepoint: `ON CONFLICT` costs a speculative insertion (a probe
    /// of the unique index and one more WAL record) per row, about a tenth of the insert, to skip
    /// keys that are almost never there. Under the guard, the service cannot insert a slot of the
    /// plan's users (its foreign-key check waits), so only a key that was live before the guard, or
    /// a live slot moved onto a plan key, can conflict: then the insert fails with a unique
    /// violation, is rolled back to the savepoint, and runs again with `ON CONFLICT DO NOTHING`,
    /// which skips it. Either way the same rows are inserted and recorded.
    ///
    /// When `time_slots` stores rows as inserted (`Target`), run_slots is filled straight from the
    /// rows table, fingerprints computed from the values inserted: no `RETURNING`, and no join of
    /// the inserted rows back to the rows table for their provenance (about 1 s of a million-slot
    /// apply). Otherwise, and in the `ON CONFLICT` run, the insert's `RETURNING` feeds run_slots
    /// with the fingerprint of each row as stored, joined back to the rows by key.
    private func insertSlots(
        _ runID: Int64, offlineDropped: Int, storesRowsAsInserted: Bool
    ) throws -> (inserted: Int, appliedAt: String) {
        let document = plan.document
        let run = String(runID)
        guard let appliedAt = try connection.execute("SELECT clock_timestamp()", context: "reading the clock").scalar else {
            throw CommitError(.inconsistent, "\(doing): the server returned no time")
        }
        let context = "inserting the recovered slots into time_slots"
        let skippingDrops = offlineDropped > 0
        // $1: the time of the insert; $2: the run, named only to skip the dropped rows.
        let params = [appliedAt] + (skippingDrops ? [run] : [])
        func insertReturning(onConflict: Bool) throws -> Int {
            try connection.execute(
                """
                WITH inserted AS (
                \(insertStatement(skippingDrops: skippingDrops, onConflict: onConflict))
                  RETURNING id, user_id, slot_start, \(RecoverySchema.fingerprint("time_slots", serverVersion: connection.serverVersion)) AS fingerprint
                )
                INSERT INTO recovery.run_slots (run_id, slot_id, user_id, slot_start, provenance, fingerprint)
                SELECT $2, i.id, i.user_id, i.slot_start, p.provenance, i.fingerprint
                FROM inserted i JOIN \(Self.rowsTable) p ON p.user_id = i.user_id AND p.slot_start = i.slot_start
                """, [appliedAt, run], context: context
            ).affectedRows
        }
        func insertThenRecord() throws -> Int {
            let inserted = try connection.execute(
                insertStatement(skippingDrops: skippingDrops, onConflict: false), params, context: context).affectedRows
            let fingerprint = RecoverySchema.fingerprint(values: Self.storedValues(typed: true), serverVersion: connection.serverVersion)
            let recorded = try connection.execute(
                """
                INSERT INTO recovery.run_slots (run_id, slot_id, user_id, slot_start, provenance, fingerprint)
                SELECT $2, p.id, p.user_id, p.slot_start, p.provenance, \(fingerprint)
                \(planRows(skippingDrops: skippingDrops))
                """, [appliedAt, run], context: "recording the inserted slots in recovery.run_slots"
            ).affectedRows
            guard recorded == inserted else {
                throw CommitError(.inconsistent, "\(doing): \(inserted) slots inserted but \(recorded) recorded in recovery.run_slots; nothing was changed")
            }
            return inserted
        }
        var inserted: Int
        try connection.executeSimple("SAVEPOINT recovery_insert", context: context)
        do {
            inserted = storesRowsAsInserted ? try insertThenRecord() : try insertReturning(onConflict: false)
        } catch let error as PostgresError where error.isUniqueViolation {
            try connection.executeSimple("ROLLBACK TO SAVEPOINT recovery_insert", context: context)
            inserted = try insertReturning(onConflict: true)
        }
        try connection.executeSimple("RELEASE SAVEPOINT recovery_insert", context: context)
        if inserted + offlineDropped != document.rows.count {
            let present = try connection.execute(
                """
                INSERT INTO recovery.run_drops (run_id, user_id, slot_start, reason, live_slot_id, provenance)
                SELECT $1, p.user_id, p.slot_start, 'already_present', t.id, p.provenance
                FROM \(Self.rowsTable) p JOIN \(connection.table("time_slots")) t ON t.user_id = p.user_id AND t.slot_start = p.slot_start
                WHERE NOT EXISTS (SELECT 1 FROM recovery.run_drops d
                                  WHERE d.run_id = $1 AND d.user_id = p.user_id AND d.slot_start = p.slot_start)
                  AND NOT EXISTS (SELECT 1 FROM recovery.run_slots s WHERE s.run_id = $1 AND s.slot_id = t.id)
                """, [run], context: "recording the plan's slots that are live now").affectedRows
            // A slot neither inserted nor live was skipped by the table (a BEFORE trigger returning NULL, a rule).
            let unstored = document.rows.count - inserted - offlineDropped - present
            guard unstored == 0 else {
                throw CommitError(
                    .inconsistent,
                    "\(doing): \(unstored) of the plan's slots were neither inserted nor live under their key: a trigger or rule on time_slots "
                        + "skipped them or changed their key; nothing was changed",
                    hint: "disable the trigger or rule for the apply, or find out why it skips recovered slots")
            }
        }
        checkpoint(.slotsInserted)
        return (inserted, appliedAt)
    }

    /// The fingerprints of the run's slots taken again from time_slots, after its INSERT triggers
    /// ran (an AFTER trigger at the end of the insert's statement, after its `RETURNING`; a
    /// deferred one at `RecoverySchema.runDeferred`, first): a trigger that edits the rows it sees
    /// inserted made verify fail right after the apply, and revert keep every slot as edited since
    /// (found by a hostile test, and the deferred case by a review). A slot such a trigger deleted
    /// refuses the apply: the run could not account for it.
    private func fingerprintAsStored(_ runID: Int64) throws {
        let context = "taking the fingerprints of the slots as stored, after the triggers of time_slots"
        try RecoverySchema.runDeferred(connection, doing: doing)
        let gone = try connection.execute(
            """
            WITH stored AS (
              SELECT s.slot_id, t.id IS NOT NULL AS present, \(RecoverySchema.fingerprint("t", serverVersion: connection.serverVersion)) AS fingerprint
              FROM recovery.run_slots s LEFT JOIN \(connection.table("time_slots")) t ON t.id = s.slot_id
              WHERE s.run_id = $1
            ), updated AS (
              UPDATE recovery.run_slots s SET fingerprint = d.fingerprint FROM stored d
              WHERE s.run_id = $1 AND s.slot_id = d.slot_id AND d.present AND s.fingerprint IS DISTINCT FROM d.fingerprint
              RETURNING 1
            )
            SELECT count(*) FROM stored WHERE NOT present
            """, [String(runID)], context: context).scalar.flatMap { Int($0) } ?? 0
        guard gone == 0 else {
            throw CommitError(
                .inconsistent, "\(doing): \(gone) of the inserted slots were removed by a trigger on time_slots; nothing was changed",
                hint: "disable the trigger for the apply, or find out what it does with recovered slots")
        }
    }

    /// The INSERT into time_slots of the rows to insert, each with its id ($1: the time of the
    /// insert). `onConflict` skips keys that are live now. `OVERRIDING SYSTEM VALUE` lets the ids
    /// into an identity column `GENERATED ALWAYS` (they are its own sequence's); other tables
    /// ignore it.
    private func insertStatement(skippingDrops: Bool, onConflict: Bool) -> String {
        """
          INSERT INTO \(connection.table("time_slots")) (id, \(Self.insertColumns)) OVERRIDING SYSTEM VALUE
          SELECT p.id, \(Self.insertValues)
          \(planRows(skippingDrops: skippingDrops))
        """ + (onConflict ? """

          ON CONFLICT (user_id, slot_start) DO NOTHING
        """ : "")
    }

    /// The rows of the rows table to insert: `skippingDrops` leaves out those the offline re-check
    /// dropped ($2: the run), an anti-join a plan with no such row does not pay.
    private func planRows(skippingDrops: Bool) -> String {
        "FROM \(Self.rowsTable) p" + (skippingDrops ? """

          WHERE NOT EXISTS (SELECT 1 FROM recovery.run_drops d
                            WHERE d.run_id = $2 AND d.user_id = p.user_id AND d.slot_start = p.slot_start)
        """ : "")
    }

    /// The counts, which must add up (a CHECK on recovery.runs holds them to it too).
    private func recordCounts(_ runID: Int64, inserted: Int, appliedAt: String) throws {
        let document = plan.document
        let run = String(runID)
        let counted = try connection.execute(
            """
            UPDATE recovery.runs SET
              planned = $2, inserted = $3,
              dropped_present = (SELECT count(*) FROM recovery.run_drops WHERE run_id = $1 AND reason = 'already_present'),
              dropped_offline = (SELECT count(*) FROM recovery.run_drops WHERE run_id = $1 AND reason = 'offline_overlap'),
              applied_at = $4
            WHERE id = $1
            RETURNING planned, inserted, dropped_present, dropped_offline
            """, [run, String(document.rows.count), String(inserted), appliedAt], context: "recording the run's counts")
        guard counted.rowCount == 1 else { throw CommitError(.inconsistent, "\(doing): run \(runID) vanished") }
        checkpoint(.countsRecorded)
    }

    /// The first `dropSampleLimit` dropped slots, for the summary.
    private func readDrops(_ runID: Int64) throws -> [DroppedSlot] {
        let run = String(runID)
        let sample = try connection.execute(
            """
            SELECT user_id, slot_start, reason, coalesce(live_slot_id, offline_entry_id) FROM recovery.run_drops
            WHERE run_id = $1 ORDER BY user_id, slot_start LIMIT $2
            """, [run, String(options.dropSampleLimit)], context: "reading the dropped slots")
        return try sample.read(table: "recovery.run_drops", key: [(0, "user_id"), (1, "slot_start")]) { row in
            DroppedSlot(
                key: SlotKey(userID: try row.int64(0, "user_id"), slotStart: try row.time(1, "slot_start")),
                reason: try row.value(2, "reason", expected: "a drop reason", DroppedSlot.Reason.init(rawValue:)),
                otherID: try row.optionalInt64(3, "live_slot_id"))
        }
    }

    private func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
