import Foundation
import PlanFormat
import PostgresClient
import RecoveryModel

/// One row of `recovery.runs`: an applied plan, what it inserted and dropped, and its revert.
public struct RunRecord: Hashable, Sendable, Encodable {
    public enum Status: String, Sendable, Hashable, Encodable {
        case applied, reverted
    }

    public struct Counts: Hashable, Sendable, Encodable {
        /// Rows in the plan.
        public var planned: Int
        public var inserted: Int
        /// Plan rows whose key had gained a live row since the plan (CONTRACT §5.3).
        public var droppedPresent: Int
        /// Plan rows that overlapped an offline entry added since the plan (CONTRACT §5.4).
        public var droppedOffline: Int

        public init(planned: Int, inserted: Int, droppedPresent: Int, droppedOffline: Int) {
            self.planned = planned
            self.inserted = inserted
            self.droppedPresent = droppedPresent
            self.droppedOffline = droppedOffline
        }
    }

    public struct Revert: Hashable, Sendable, Encodable {
        public var at: String
        public var by: String
        /// Slots deleted: unchanged since the apply.
        public var deleted: Int
        /// Slots kept: edited by the service since the apply.
        public var kept: Int
        /// Slots already gone when the revert ran.
        public var missing: Int
    }

    public var id: Int64
    public var planID: String
    public var planPath: String
    public var window: Window
    /// `--shard K/N` of the plan; nil for a whole recovery.
    public var shard: Shard?
    public var operatorName: String
    public var toolVersion: String
    public var databaseUser: String
    public var startedAt: Timestamp
    /// The time written to the inserted slots' `updated_at`.
    public var appliedAt: Timestamp
    public var status: Status
    public var counts: Counts
    public var revert: Revert?
    /// `recover` (slots inserted) or `reconcile` (rows a bad job rewrote put back).
    public var kind: String
    /// Reconcile runs: memberships in the plan and inserted (0 for recovery runs).
    public var membersPlanned: Int
    public var membersInserted: Int
    /// Reconcile runs: memberships the revert deleted.
    public var revertMembersDeleted: Int?
    /// The database the run was applied to (`recovery.runs.applied_to`); nil for runs recorded
    /// before schema version 4.
    public var appliedTo: DatabaseIdentity?

    enum CodingKeys: String, CodingKey {
        case id, planID = "plan_id", planPath = "plan_path", window
        case shard, operatorName = "operator", toolVersion = "tool_version", databaseUser = "database_user"
        case startedAt = "started_at", appliedAt = "applied_at", status, counts, revert, kind
        case membersPlanned = "members_planned", membersInserted = "members_inserted"
        case revertMembersDeleted = "revert_members_deleted"
    }

    enum WindowKeys: String, CodingKey { case from, to }

    enum CountKeys: String, CodingKey {
        case planned, inserted, droppedPresent = "dropped_present", droppedOffline = "dropped_offline"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(planID, forKey: .planID)
        try c.encode(planPath, forKey: .planPath)
        var window = c.nestedContainer(keyedBy: WindowKeys.self, forKey: .window)
        try window.encode(self.window.from.rfc3339, forKey: .from)
        try window.encode(self.window.to.rfc3339, forKey: .to)
        try c.encode(shard, forKey: .shard)
        try c.encode(operatorName, forKey: .operatorName)
        try c.encode(toolVersion, forKey: .toolVersion)
        try c.encode(databaseUser, forKey: .databaseUser)
        try c.encode(startedAt.rfc3339, forKey: .startedAt)
        try c.encode(appliedAt.rfc3339, forKey: .appliedAt)
        try c.encode(status, forKey: .status)
        var counts = c.nestedContainer(keyedBy: CountKeys.self, forKey: .counts)
        try counts.encode(self.counts.planned, forKey: .planned)
        try counts.encode(self.counts.inserted, forKey: .inserted)
        try counts.encode(self.counts.droppedPresent, forKey: .droppedPresent)
        try counts.encode(self.counts.droppedOffline, forKey: .droppedOffline)
        try c.encode(revert, forKey: .revert)
        try c.encode(kind, forKey: .kind)
        if kind == "reconcile" {
            try c.encode(membersPlanned, forKey: .membersPlanned)
            try c.encode(membersInserted, forKey: .membersInserted)
            try c.encode(revertMembersDeleted, forKey: .revertMembersDeleted)
        }
    }

    /// The columns `init(row:)` reads, in order.
    static let selectList = """
        id, plan_id, plan_path, window_from, window_to, shard_index, shard_count, operator, tool_version,
        database_user, started_at, applied_at, status, planned, inserted, dropped_present, dropped_offline,
        reverted_at, reverted_by, revert_deleted, revert_kept, revert_missing,
        coalesce(to_jsonb(runs) ->> 'kind', 'recover'), coalesce(to_jsonb(runs) ->> 'members_planned', '0'),
        coalesce(to_jsonb(runs) ->> 'members_inserted', '0'), to_jsonb(runs) ->> 'revert_members_deleted',
        to_jsonb(runs) ->> 'applied_to'
        """

    init?(row: [String?]) {
        func int(_ i: Int) -> Int? { row[i].flatMap { Int($0) } }
        func time(_ i: Int) -> Timestamp? { row[i].flatMap { Timestamp.parse($0) } }
        guard row.count == 27, let id = row[0].flatMap({ Int64($0) }), let planID = row[1], let planPath = row[2],
              let from = time(3), let to = time(4), from < to, let op = row[7], let tool = row[8], let user = row[9],
              let started = time(10), let applied = time(11), let status = row[12].flatMap(Status.init(rawValue:)),
              let planned = int(13), let inserted = int(14), let present = int(15), let offline = int(16)
        else { return nil }
        self.id = id
        self.planID = planID
        self.planPath = planPath
        self.window = Window(from: from, to: to)
        guard case .some(let shard) = Self.shard(index: row[5], count: row[6]) else { return nil }
        self.shard = shard
        operatorName = op
        toolVersion = tool
        databaseUser = user
        startedAt = started
        appliedAt = applied
        self.status = status
        counts = Counts(planned: planned, inserted: inserted, droppedPresent: present, droppedOffline: offline)
        if let at = row[17], let by = row[18], let deleted = int(19), let kept = int(20), let missing = int(21) {
            revert = Revert(at: Timestamp.parse(at)?.rfc3339 ?? at, by: by, deleted: deleted, kept: kept, missing: missing)
        } else {
            revert = nil
        }
        kind = row[22] ?? "recover"
        membersPlanned = int(23) ?? 0
        membersInserted = int(24) ?? 0
        revertMembersDeleted = int(25)
        if let json = row[26] {
            // An identity this tool did not write makes the row unreadable, not a run of any database.
            guard let identity = try? PlanJSON.decoder.decode(DatabaseIdentity.self, from: Data(json.utf8)) else { return nil }
            appliedTo = identity
        } else {
            appliedTo = nil
        }
    }

    /// A run's shard as `shard_index` and `shard_count` hold it: `.some(nil)` for a whole
    /// recovery (both NULL); nil when they are not a shard (one NULL, N 0, K ≥ N): such a row is
    /// unreadable, never taken for a whole recovery, whose lock and checks differ.
    static func shard(index: String?, count: String?) -> Shard?? {
        switch (index, count) {
        case (nil, nil): return .some(nil)
        case (let k?, let n?): return Int(k).flatMap { k in Int(n).flatMap { Shard(index: k, count: $0) } }.map { .some($0) }
        default: return nil
        }
    }

    /// Reads one run; nil when there is none (or no recovery schema yet).
    static func load(_ connection: Connection, where condition: String, _ value: String, lock: Bool = false) throws -> RunRecord? {
        guard try RecoverySchema.installedVersion(connection) > 0 else { return nil }
        let result = try connection.execute(
            // The newest: a plan applied, reverted and applied again has several runs.
            "SELECT \(selectList) FROM recovery.runs WHERE \(condition) = $1 ORDER BY id DESC LIMIT 1\(lock ? " FOR UPDATE" : "")",
            [value],
            context: "reading recovery.runs")
        guard let row = result.rows.first else { return nil }
        guard let record = RunRecord(row: row) else {
            throw CommitError(.inconsistent, "recovery.runs row \(row[0] ?? "?") cannot be read", hint: "check the recovery schema")
        }
        return record
    }
}

/// `recover-tool runs`: the recorded runs.
public enum RecoveryRuns {
    /// One run; `runNotFound` when there is none.
    public static func find(run id: Int64, database: ConnectionTarget) throws -> RunRecord {
        let connection = try RecoveryConnection.open(database, doing: "cannot read run \(id)", subcommand: "runs")
        do {
            return try connection.transaction(readOnly: true) { connection in
                try connection.executeSimple(RecoverySchema.defaultSessionSettings)
                guard let run = try RunRecord.load(connection, where: "id", String(id)) else {
                    throw RecoveryRevert.notFound(id, connection)
                }
                return run
            }
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: "cannot read run \(id) in '\(connection.redactedConnectionInfo)'", lockHint: "try again")
        }
    }

    /// Every run, oldest first; empty when the database has no `recovery` schema yet.
    public static func list(database: ConnectionTarget) throws -> [RunRecord] {
        let connection = try RecoveryConnection.open(database, doing: "cannot list the runs", subcommand: "runs")
        let doing = "cannot list the runs in '\(connection.redactedConnectionInfo)'"
        do {
            return try connection.transaction(readOnly: true, isolation: .repeatableRead) { connection in
                try connection.executeSimple(RecoverySchema.defaultSessionSettings)
                guard try RecoverySchema.installedVersion(connection) > 0 else { return [] }
                let result = try connection.execute(
                    "SELECT \(RunRecord.selectList) FROM recovery.runs ORDER BY id", context: "reading recovery.runs")
                return try result.rows.map { row in
                    guard let record = RunRecord(row: row) else {
                        throw CommitError(.inconsistent, "\(doing): recovery.runs row \(row[0] ?? "?") cannot be read")
                    }
                    return record
                }
            }
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: "try again")
        }
    }
}

/// Opening connections with the module's error shape.
enum RecoveryConnection {
    /// Run `id` as the database holds it once the session that lost its COMMIT has ended: on a
    /// new connection, after waiting (at least 60 s) for the recovery locks that session held,
    /// the global key and the key of `shard`. Nil when there is no such run.
    static func runAfterLostCommit(
        id: Int64, shard: Shard?, database: ConnectionTarget, subcommand: String, lockTimeoutSeconds: Double
    ) throws -> RunRecord? {
        let connection = try Connection.connect(database, session: SessionSettings(applicationName: "recover-tool \(subcommand)"))
        return try connection.transaction(readOnly: true) { connection in
            try connection.executeSimple(
                RecoverySchema.sessionSettings(lockTimeoutSeconds: max(lockTimeoutSeconds, 60), statementTimeoutSeconds: 60))
            try connection.execute(
                "SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock_shared($2)",
                [String(RecoverySchema.lockKey), String(RecoverySchema.shardLockKey(shard))])
            return try RunRecord.load(connection, where: "id", String(id))
        }
    }

    /// Opens a session named `recover-tool SUBCOMMAND` (`application_name`).
    static func open(_ database: ConnectionTarget, doing: String, subcommand: String) throws -> Connection {
        do {
            return try Connection.connect(database, session: SessionSettings(applicationName: "recover-tool \(subcommand)"))
        } catch let error as PostgresError {
            throw CommitError(doing: doing, error)
        }
    }

    /// Opens a session that is to write, and refuses a read-only one before any write: an
    /// explicit `READ WRITE` would override the server's `default_transaction_read_only`, and a
    /// hot standby refuses every write anyway.
    static func openForWriting(_ database: ConnectionTarget, doing: String, subcommand: String) throws -> Connection {
        let connection = try open(database, doing: doing, subcommand: subcommand)
        let reason: String?
        do {
            reason = try connection.readOnlyReason()
        } catch let error as PostgresError {
            throw CommitError(doing: doing, error)
        }
        if let reason {
            throw CommitError(
                .database,
                "\(doing): the database '\(connection.redactedConnectionInfo)' is read-only (\(reason)); nothing was changed",
                location: connection.redactedConnectionInfo, hint: "run it against the primary, or make the database writable first")
        }
        try requireOriginReplicationRole(connection, doing: doing)
        return connection
    }

    /// Sets `session_replication_role` back to `origin` where the server, database or role set
    /// another: as `replica`, no foreign key or ordinary trigger of the service fires, and an apply
    /// inserted the slots of a user deleted since the plan (found by a hostile test). Only a
    /// superuser (or a role granted it) may set it: another is refused (69), saying why. Only the
    /// sessions that write: a read does not depend on it.
    static func requireOriginReplicationRole(_ connection: Connection, doing: String) throws {
        do {
            let role = try connection.execute(
                "SELECT pg_catalog.current_setting('session_replication_role')", context: "reading session_replication_role").scalar
            guard let role, role != "origin" else { return }
            do {
                try connection.execute(
                    "SELECT pg_catalog.set_config('session_replication_role', 'origin', false)", context: "setting session_replication_role")
            } catch let error as PostgresError where error.sqlState == "42501" {
                throw CommitError(
                    .database,
                    "\(doing): the session's session_replication_role is '\(VisibleText.escaped(role))' (set on the server, database or role), "
                        + "under which the service's foreign keys and triggers do not fire, and the role may not set it to 'origin'; nothing was changed",
                    location: connection.redactedConnectionInfo,
                    hint: "reset it for the role or database (ALTER ROLE ... RESET session_replication_role), or run as a role that may set it")
            }
        } catch let error as PostgresError {
            throw CommitError(doing: doing, error)
        }
    }

    /// Opens the session an apply writes through: refuses a read-only one (69) and a database
    /// other than the one the plan was made for (70), then shows `confirm` the database it is
    /// about to write, before any write.
    static func openForApply(
        _ database: ConnectionTarget, planPath: String, planned: DatabaseIdentity, confirm: (ApplyTarget) throws -> Void
    ) throws -> Connection {
        let doing = "cannot apply the plan in '\(planPath)'"
        let connection = try openForWriting(database, doing: doing, subcommand: "apply")
        let live = try identity(of: connection, doing: doing)
        try requireSameDatabase(live: live, recorded: planned, refusing: "refusing the plan in '\(planPath)': it was made for")
        try confirm(ApplyTarget(database: live, address: connection.serverAddress))
        return connection
    }

    /// Refuses (70) to verify or revert `run` in another database or service schema than the one
    /// it was applied to (a restored copy holds the copy's runs too). Runs recorded before schema
    /// version 4 name no database and pass.
    static func requireRunDatabase(_ run: RunRecord, connection: Connection, refusing: String) throws {
        guard let recorded = run.appliedTo else { return }
        let live = try identity(of: connection, doing: refusing)
        try requireSameDatabase(live: live, recorded: recorded, refusing: "\(refusing): it was applied to")
    }

    /// The database `connection` is connected to, as the server names it.
    static func identity(of connection: Connection, doing: String) throws -> DatabaseIdentity {
        do {
            return try connection.identity()
        } catch let error as PostgresError {
            throw CommitError(doing: doing, error)
        }
    }

    /// Refuses (70) a database or service schema other than `recorded`, naming both. No flag
    /// overrides it: a plan for this database is one `recover-tool plan` away. A plan, set or
    /// run recorded before the schema was kept in it is taken to be of the schema given: which
    /// one it was is not known, and a refusal would leave a run with no way to be verified or
    /// reverted, and a plan made for another schema than `public` with none to be applied.
    static func requireSameDatabase(live: DatabaseIdentity, recorded: DatabaseIdentity, refusing: String) throws {
        var recorded = recorded
        if recorded.schema == nil { recorded.schema = live.schema }
        guard !live.isSameDatabase(as: recorded) else { return }
        var sameTables = live
        sameTables.schema = recorded.schema
        guard !sameTables.isSameDatabase(as: recorded) else {
            var database = live
            database.schema = nil
            throw CommitError(
                .databaseMismatch,
                "\(refusing) schema '\(recorded.serviceSchema)' of \(database), but --schema names '\(live.serviceSchema)'; nothing was changed",
                hint: "give --schema \(recorded.serviceSchema), the schema it was made for, or make a new plan for schema '\(live.serviceSchema)' "
                    + "with the command that made it ('recover-tool plan' or 'reconcile')")
        }
        throw CommitError(
            .databaseMismatch,
            "\(refusing) \(recorded), but the connection reaches \(live); nothing was changed",
            hint: "give --db the database it was made for, or make a new plan against this one with the command that made it ('recover-tool plan' or 'reconcile')")
    }
}

/// The database an apply is about to write, for its confirmation: as the server names it, and
/// the host and port the session reached (`Connection.serverAddress`).
public struct ApplyTarget: Sendable {
    public var database: DatabaseIdentity
    public var address: String
}
