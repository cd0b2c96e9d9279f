import PostgresClient
import RecoveryModel

/// The tool's own schema `recovery`: the audit trail of every apply and revert, created and
/// upgraded by numbered migrations. Documented table by table in `docs/APPLY.md`.
///
/// Migrations run inside the transaction of an apply (or revert), under the recovery lock, so two
/// tools never migrate at once and a failed apply leaves no half-made schema behind.
public enum RecoverySchema {
    /// One step of the schema's history. Never edit a released migration: add the next one.
    public struct Migration: Sendable {
        public var version: Int
        public var description: String
        public var sql: String
    }

    /// The global key of the transaction-level advisory locks (`pg_advisory_xact_lock`): the bytes
    /// of "recover" in a bigint. Applies and reverts take it shared, so shards apply at once; a
    /// migration of this schema takes it exclusively, so it runs alone.
    public static let lockKey: Int64 = 0x7265_636F_7665_7200

    /// The key of one shard's lock, taken exclusively by an apply or revert of that shard: "recs"
    /// in the high four bytes, then N and K in sixteen bits each (a whole plan is shard 0/1). Two
    /// applies of one shard run one after the other, so the second finds the first's run.
    public static func shardLockKey(_ shard: Shard?) -> Int64 {
        let shard = shard ?? Shard(index: 0, count: 1)!
        return 0x7265_6373 << 32 | Int64(shard.count & 0xFFFF) << 16 | Int64(shard.index & 0xFFFF)
    }

    /// Takes the locks of a write on `shard` inside the caller's transaction, then brings the
    /// schema to `currentVersion`: the global key shared and the shard's key exclusive; while the
    /// schema needs a migration, the global key exclusive instead (a savepoint lets it go again
    /// when another apply migrated meanwhile, so only the first apply on a database runs alone).
    static func lockAndMigrate(
        _ connection: Connection, shard: Shard?, toolVersion: String, database: String, waiting: String
    ) throws {
        let global = [String(lockKey)]
        if try installedVersion(connection) >= currentVersion {
            try connection.execute("SELECT pg_advisory_xact_lock_shared($1)", global, context: waiting)
        } else {
            try connection.executeSimple("SAVEPOINT recovery_migration")
            try connection.execute("SELECT pg_advisory_xact_lock($1)", global, context: waiting)
            if try installedVersion(connection) >= currentVersion {
                try connection.executeSimple("ROLLBACK TO SAVEPOINT recovery_migration")
                try connection.execute("SELECT pg_advisory_xact_lock_shared($1)", global, context: waiting)
            }
        }
        try connection.execute("SELECT pg_advisory_xact_lock($1)", [String(shardLockKey(shard))], context: waiting)
        try migrate(connection, toolVersion: toolVersion, database: database)
    }

    public static let migrations: [Migration] = [
        Migration(
            version: 1, description: "runs, run slots, run drops",
            sql: """
                CREATE TABLE recovery.runs (
                  id               bigserial PRIMARY KEY,
                  plan_id          text NOT NULL UNIQUE,
                  plan_path        text NOT NULL,
                  window_from      timestamptz NOT NULL,
                  window_to        timestamptz NOT NULL,
                  shard_index      integer,
                  shard_count      integer,
                  operator         text NOT NULL,
                  tool_version     text NOT NULL,
                  database_user    text NOT NULL DEFAULT current_user,
                  started_at       timestamptz NOT NULL DEFAULT now(),
                  applied_at       timestamptz NOT NULL,
                  status           text NOT NULL CHECK (status IN ('applied', 'reverted')),
                  planned          integer NOT NULL,
                  inserted         integer NOT NULL,
                  dropped_present  integer NOT NULL,
                  dropped_offline  integer NOT NULL,
                  reverted_at      timestamptz,
                  reverted_by      text,
                  revert_deleted   integer,
                  revert_kept      integer,
                  revert_missing   integer,
                  CHECK (planned = inserted + dropped_present + dropped_offline)
                );
                -- One row per slot the run inserted. slot_id is time_slots.id; no foreign key, since
                -- the service may delete the row. run_id is runs.id, not declared as a foreign key
                -- either: one would check each of a million rows on its own.
                CREATE TABLE recovery.run_slots (
                  run_id      bigint NOT NULL,
                  slot_id     bigint NOT NULL,
                  user_id     bigint NOT NULL,
                  slot_start  timestamptz NOT NULL,
                  provenance  text NOT NULL,
                  fingerprint text NOT NULL,
                  PRIMARY KEY (run_id, slot_id)
                );
                -- Plan rows the apply did not insert because the database had changed since the plan.
                CREATE TABLE recovery.run_drops (
                  run_id           bigint NOT NULL REFERENCES recovery.runs (id),
                  user_id          bigint NOT NULL,
                  slot_start       timestamptz NOT NULL,
                  reason           text NOT NULL CHECK (reason IN ('already_present', 'offline_overlap')),
                  live_slot_id     bigint,
                  offline_entry_id bigint,
                  provenance       text NOT NULL,
                  PRIMARY KEY (run_id, user_id, slot_start)
                );
                """),
        Migration(
            version: 2, description: "a reverted plan may be applied again as a new run",
            sql: """
                ALTER TABLE recovery.runs DROP CONSTRAINT runs_plan_id_key;
                -- At most one applied run per plan; reverted runs of it stay as history.
                CREATE UNIQUE INDEX runs_plan_id_applied ON recovery.runs (plan_id) WHERE status = 'applied';
                CREATE INDEX runs_plan_id ON recovery.runs (plan_id);
                """),
        Migration(
            version: 3, description: "reconcile runs: kind, row images, skipped rows, inserted memberships",
            sql: """
                ALTER TABLE recovery.runs
                  ADD COLUMN kind text NOT NULL DEFAULT 'recover' CHECK (kind IN ('recover', 'reconcile')),
                  ADD COLUMN members_planned integer NOT NULL DEFAULT 0,
                  ADD COLUMN members_inserted integer NOT NULL DEFAULT 0,
                  ADD COLUMN revert_members_deleted integer;
                -- One row per time_slots row a reconcile run updated: the row before and after, as
                -- to_jsonb(time_slots) (UTC, ISO), so revert can tell whether the after image still stands.
                CREATE TABLE recovery.run_rows (
                  run_id       bigint NOT NULL,
                  slot_id      bigint NOT NULL,
                  user_id      bigint NOT NULL,
                  slot_start   timestamptz NOT NULL,
                  before_image jsonb NOT NULL,
                  after_image  jsonb,
                  evidence     text NOT NULL,
                  PRIMARY KEY (run_id, slot_id)
                );
                -- Plan rows a reconcile run did not update: live had changed since the plan, or the row is gone.
                CREATE TABLE recovery.run_skips (
                  run_id     bigint NOT NULL,
                  slot_id    bigint NOT NULL,
                  user_id    bigint NOT NULL,
                  slot_start timestamptz NOT NULL,
                  reason     text NOT NULL CHECK (reason IN ('changed_since_plan', 'gone')),
                  live_image jsonb,
                  evidence   text NOT NULL,
                  PRIMARY KEY (run_id, slot_id)
                );
                -- project_members rows a reconcile run inserted.
                CREATE TABLE recovery.run_members (
                  run_id     bigint NOT NULL,
                  project_id bigint NOT NULL,
                  user_id    bigint NOT NULL,
                  evidence   text NOT NULL,
                  PRIMARY KEY (run_id, project_id, user_id)
                );
                """),
        Migration(
            version: 4, description: "the database each run was applied to",
            sql: """
                -- The plan's DatabaseIdentity as JSON (system_identifier, name, oid, server_version,
                -- target): verify and revert refuse a run found in another database (a restored copy).
                ALTER TABLE recovery.runs ADD COLUMN applied_to jsonb;
                """),
        Migration(
            version: 5, description: "run slots' fingerprints may be a 64-bit hash of the row's values",
            sql: """
                -- No table changes: from this version apply records, on PostgreSQL 14 and later,
                -- 'hash64:' and hash_record_extended of the row's values instead of MD5 of its text.
                -- The version keeps an older recover-tool, which knows only MD5, from reading them.
                COMMENT ON COLUMN recovery.run_slots.fingerprint IS
                  'md5 of the row''s values as text (ROW(...)::text, in UTC), or hash64: and hash_record_extended(ROW(...), 0) of them';
                """),
    ]

    public static var currentVersion: Int { migrations.last!.version }

    /// How long a recovery transaction waits for a lock (`--lock-timeout` of apply and revert).
    public static let defaultLockTimeoutSeconds: Double = 30
    /// How long one statement of a recovery transaction may run (`apply --statement-timeout`):
    /// the COPY or the insert of a big plan; verify's and revert's reads of a big run.
    public static let defaultStatementTimeoutSeconds: Double = 900

    /// `sessionSettings` with the default timeouts: verify, runs and revert's statements.
    static var defaultSessionSettings: String {
        sessionSettings(lockTimeoutSeconds: defaultLockTimeoutSeconds, statementTimeoutSeconds: defaultStatementTimeoutSeconds)
    }

    /// Session settings of every recovery transaction. UTC and ISO dates make `timestamptz` text,
    /// and so the fingerprints, the same whatever the server's or the role's defaults.
    static func sessionSettings(lockTimeoutSeconds: Double, statementTimeoutSeconds: Double) -> String {
        """
        SET LOCAL lock_timeout = '\(milliseconds(lockTimeoutSeconds))ms';
        SET LOCAL statement_timeout = '\(milliseconds(statementTimeoutSeconds))ms';
        SET LOCAL idle_in_transaction_session_timeout = '\(milliseconds(max(60, lockTimeoutSeconds)))ms';
        SET LOCAL TimeZone = 'UTC';
        SET LOCAL DateStyle = 'ISO, YMD';
        SET LOCAL IntervalStyle = 'postgres';
        SET LOCAL extra_float_digits = 1;
        SET LOCAL work_mem = '256MB'
        """
    }

    /// Seconds as the server's milliseconds, within what it accepts (1 to 2^31 - 1): a value the
    /// command line let through can never trap here.
    static func milliseconds(_ seconds: Double) -> Int {
        let ms = (seconds * 1000).rounded()
        guard !ms.isNaN else { return 1 }
        return Int(min(max(ms, 1), Double(Int32.max)))
    }

    /// SQL: the slot `slot` (a row with `user_id`, `slot_start`, `duration_min`) overlaps the
    /// offline entry `entry` of the same user by more than zero time (CONTRACT §5.4). `apply`'s
    /// re-check and `verify` both use it; the resolver's sweep is the same rule on values.
    static func offlineOverlap(slot: String, entry: String) -> String {
        "\(entry).user_id = \(slot).user_id AND \(entry).starts_at < \(slot).slot_start + make_interval(mins => \(slot).duration_min::int) "
            + "AND \(entry).ends_at > \(slot).slot_start"
    }

    /// SQL: the triggers `g` of the service that fire on the table `relation` (an SQL expression of
    /// a regclass) or, for a partitioned one, on its partitions, where a row routed to a partition
    /// fires the partition's own (pg_partition_tree: PostgreSQL 12 and later; none for a table that
    /// is not partitioned): not internal, and enabled always or at origin, which the sessions that
    /// write keep (`RecoveryConnection.requireOriginReplicationRole`).
    static func firingTriggers(of relation: String, serverVersion: Int) -> String {
        let partitions = serverVersion >= 120000 ? " OR g.tgrelid IN (SELECT relid FROM pg_catalog.pg_partition_tree(\(relation)))" : ""
        return "pg_catalog.pg_trigger g WHERE (g.tgrelid = \(relation)\(partitions)) AND NOT g.tgisinternal AND g.tgenabled IN ('O', 'A')"
    }

    /// Whether a reconcile's writes fire a trigger or rule of the service: UPDATE on `time_slots`
    /// (or a partition), INSERT on `project_members` (whose trigger may edit the slots; found by a
    /// review). The rows restored may then not be stored as the update returned them.
    static func hasReconcileTriggers(_ connection: Connection) throws -> Bool {
        let slots = "$1::text::regclass", members = "$2::text::regclass"
        return try connection.execute(
            """
            SELECT EXISTS (SELECT 1 FROM \(firingTriggers(of: slots, serverVersion: connection.serverVersion)) AND g.tgtype & 16 <> 0)
                OR EXISTS (SELECT 1 FROM \(firingTriggers(of: members, serverVersion: connection.serverVersion)) AND g.tgtype & 4 <> 0)
                OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r
                           WHERE (r.ev_class = \(slots) AND r.ev_type = '2') OR (r.ev_class = \(members) AND r.ev_type = '3'))
            """, [connection.table("time_slots"), connection.table("project_members")], context: "reading the triggers of time_slots and project_members"
        ).scalar == "t"
    }

    /// Runs the deferred constraints and constraint triggers now (`SET CONSTRAINTS ALL IMMEDIATE`),
    /// before the rows are read back as stored. One that refuses the change is said as such: it
    /// refuses it again the same way at every try (a review found it blamed on the fingerprints).
    static func runDeferred(_ connection: Connection, doing: String) throws {
        do {
            try connection.executeSimple("SET CONSTRAINTS ALL IMMEDIATE", context: "running the deferred constraints and triggers of the service")
        } catch let error as PostgresError where CommitError.isServiceRefusal(error) {
            throw CommitError(.database, "\(doing): \(error.message); nothing was changed", hint: CommitError.serviceRefusalHint, postgres: error)
        }
    }

    /// Refuses, before any write, a role that lacks one of `privileges` (a service table, `INSERT`,
    /// `UPDATE` or `DELETE`, the columns written, if the privilege may be given by column, and why
    /// the run needs it): an apply by a role that could not delete what it wrote committed, and its
    /// revert then failed (found by a hostile test). Grants on columns count (a review found them
    /// refused).
    static func requirePrivileges(
        _ connection: Connection, _ privileges: [(table: String, privilege: String, columns: [String], why: String)], doing: String
    ) throws {
        var checks: [String] = [], params: [String?] = []
        for p in privileges {
            params += [connection.table(p.table), p.privilege]
            let (table, privilege) = ("$\(params.count - 1)::text::regclass", "$\(params.count)")
            checks.append(p.columns.isEmpty
                ? "pg_catalog.has_table_privilege(\(table), \(privilege))"
                : "(" + p.columns.map { "pg_catalog.has_column_privilege(\(table), '\($0)', \(privilege))" }.joined(separator: " AND ") + ")")
        }
        let row = try connection.execute(
            "SELECT current_user, " + checks.joined(separator: ", "), params, context: "checking the role's privileges").rows.first
        guard let missing = privileges.indices.first(where: { row?[$0 + 1] != "t" }) else { return }
        let p = privileges[missing]
        let table = connection.table(p.table)
        let verb = ["INSERT": "INSERT into", "DELETE": "DELETE from"][p.privilege] ?? p.privilege
        throw CommitError(
            .database, "\(doing): the role '\(VisibleText.escaped(row?[0] ?? "?"))' may not \(verb) \(table)"
                + (p.columns.isEmpty ? "" : " (\(p.columns.joined(separator: ", ")))") + ": \(p.why); nothing was changed",
            hint: "GRANT \(p.privilege)\(p.columns.isEmpty ? "" : " (\(p.columns.joined(separator: ", ")))") ON \(table) to the role that applies, or apply as one that has it")
    }

    /// The image of the `time_slots` row `alias` over the columns of `recorded` (an SQL jsonb
    /// expression: a reconcile run's `before_image` or `after_image`, `to_jsonb` of the row as
    /// applied), to compare with it: a column added to the table since is not in the image, and
    /// changes no row.
    static func image(_ alias: String, like recorded: String) -> String {
        "(SELECT pg_catalog.jsonb_object_agg(k, pg_catalog.to_jsonb(\(alias)) -> k) FROM pg_catalog.jsonb_object_keys(\(recorded)) AS k)"
    }

    /// The fingerprint of a `time_slots` row `alias`, as `apply` records it in `run_slots` on a
    /// server of `serverVersion`: any change to any column changes it, so `verify` and `revert`
    /// can tell a slot untouched since the apply from one the service edited.
    ///
    /// From PostgreSQL 14 (and schema version 5) it is `hash64:` and the server's 64-bit hash of
    /// the row's values except `id` (`hash_record_extended`): the type hash functions on the values
    /// themselves, about a quarter of the cost of MD5 of the row as text, which needs each
    /// timestamp and array written out (1 M rows: 0.5 against 2.0 s). Before, and on older
    /// servers, it is `md5Fingerprint`.
    static func fingerprint(_ alias: String, serverVersion: Int) -> String {
        fingerprint(values: storedColumns(alias), serverVersion: serverVersion)
    }

    /// The same fingerprint of a row given as `values`: an SQL expression for each column of
    /// `TimeSlotColumns.stored`, in that order, each of the type the table stores it as.
    static func fingerprint(values: [String], serverVersion: Int) -> String {
        serverVersion >= 140000 ? hashFingerprint(values) : md5Fingerprint(values)
    }

    /// The fingerprint of the row `alias` in the form of `recorded` (an SQL text expression: a
    /// `run_slots.fingerprint`), so that it can be compared with it: runs recorded before schema
    /// version 5, or on a server before PostgreSQL 14, hold `md5Fingerprint`.
    static func fingerprint(_ alias: String, like recorded: String, serverVersion: Int) -> String {
        let values = storedColumns(alias)
        guard serverVersion >= 140000 else { return md5Fingerprint(values) }
        return "(CASE WHEN pg_catalog.left(\(recorded), 7) = 'hash64:' THEN \(hashFingerprint(values)) ELSE \(md5Fingerprint(values)) END)"
    }

    /// MD5 of the row's values except `id`, as row text. Needs `sessionSettings` (UTC, ISO).
    /// Built-ins are named in `pg_catalog` and given their exact argument types, here and in
    /// `hashFingerprint`: a function of the service schema with a closer match (an `integer`
    /// seed for the literal 0) would win over `pg_catalog`'s despite the search path.
    static func md5Fingerprint(_ values: [String]) -> String {
        "pg_catalog.md5(ROW(\(values.joined(separator: ", ")))::text)"
    }

    /// `hash64:` and the 64-bit hash of the row's values except `id` (PostgreSQL 14 and later),
    /// joined by `pg_catalog.textcat`, not `||`: an operator `||(text, bigint)` of the service
    /// schema matches closer than pg_catalog's `anytextcat` and would win. The same text as
    /// `'hash64:' || hash`, which runs recorded before wrote.
    static func hashFingerprint(_ values: [String]) -> String {
        "pg_catalog.textcat('hash64:', pg_catalog.hash_record_extended(ROW(\(values.joined(separator: ", "))), 0::bigint)::text)"
    }

    private static func storedColumns(_ alias: String) -> [String] {
        TimeSlotColumns.stored.map { "\(alias).\($0.name)" }
    }

    /// The schema's version in this database: 0 when there is no `recovery` schema yet.
    static func installedVersion(_ connection: Connection) throws -> Int {
        // A scan of the catalog, not to_regclass: to_regclass looks the name up in this session's
        // catalog cache, which still says "no such schema" after waiting for the lock behind
        // another apply that created it (a lookup without a lock reads no invalidations).
        let exists = try connection.execute(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = 'recovery' AND c.relname = 'schema_version')
            """, context: "reading the recovery schema version")
        guard exists.scalar == "t" else { return 0 }
        let version = try connection.execute(
            "SELECT coalesce(max(version), 0) FROM recovery.schema_version", context: "reading the recovery schema version")
        return Int(version.scalar ?? "0") ?? 0
    }

    /// Brings the schema to `currentVersion`. Call it inside the transaction, under the lock.
    /// Returns the versions it applied.
    @discardableResult
    static func migrate(_ connection: Connection, toolVersion: String, database: String) throws -> [Int] {
        let installed = try installedVersion(connection)
        guard installed <= currentVersion else {
            throw CommitError(
                .schemaTooNew,
                "the recovery schema in '\(database)' is at version \(installed), newer than this tool's \(currentVersion)",
                location: database, hint: "use the recover-tool that wrote it, or a newer one")
        }
        if installed == 0 {
            // CREATE SCHEMA only when there is none: it needs CREATE on the database even with IF
            // NOT EXISTS, which a recovery role may lack once an administrator made the schema for it.
            let exists = try connection.execute(
                "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = 'recovery'", context: "looking for the recovery schema"
            ).scalar == "1"
            try connection.executeSimple(
                (exists ? "" : "CREATE SCHEMA recovery;\n") + """
                CREATE TABLE recovery.schema_version (
                  version      integer PRIMARY KEY,
                  description  text NOT NULL,
                  tool_version text NOT NULL,
                  applied_at   timestamptz NOT NULL DEFAULT now()
                )
                """, context: "creating the recovery schema")
        }
        var applied: [Int] = []
        for migration in migrations where migration.version > installed {
            try connection.executeSimple(migration.sql, context: "migrating the recovery schema to version \(migration.version)")
            try connection.execute(
                "INSERT INTO recovery.schema_version (version, description, tool_version) VALUES ($1, $2, $3)",
                [String(migration.version), migration.description, toolVersion],
                context: "recording recovery schema version \(migration.version)")
            applied.append(migration.version)
        }
        return applied
    }
}
