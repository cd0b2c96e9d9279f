import RecoveryModel

/// What the tool relies on in the live service tables beyond their columns' names (CONTRACT §2),
/// checked in one catalog query before a command reads the live database or writes into it:
/// - the times of `time_slots` and `offline_entries`' bounds are `timestamptz`: a `timestamp`
///   column holds a wall time of no known zone, which the tool would read, and write, as UTC;
/// - to plan, apply or reconcile, `time_slots` is a table (or one partitioned with `PARTITION BY`),
///   with no child tables by inheritance, whose rows its unique index would not cover (a trigger
///   routing rows into a child, old style), and it has a unique index on exactly (`user_id`,
///   `slot_start`) that is valid, not partial and not deferrable: a slot that went live between
///   the plan and the apply is found by it and skipped; without it the apply would insert a
///   second row for the key and call it recovered;
/// - to reconcile, `project_members` has one on exactly (`project_id`, `user_id`): a membership
///   the service added again meanwhile is found by it, where a revert would delete it with the
///   run's own.
///
/// A table that breaks one is refused (69), with what to change; nothing is read or written.
public struct ServiceTableRefused: ToolError, Hashable {
    /// What a command does with the live tables, and so what it needs of them.
    public enum Use: Sendable {
        /// Compares them with a snapshot (`diff`): the times only.
        case reading
        /// Plans a recovery against them, or applies one (`plan`, `apply`).
        case recovering
        /// Plans a reconcile against them, or applies one (`reconcile`, its `apply`).
        case reconciling
    }

    /// The table refused: `"public".time_slots`.
    public var table: String
    /// What is wrong with it: `it has no unique index on exactly (user_id, slot_start) ...`.
    public var problem: String
    public var hint: String?

    public init(table: String, problem: String, hint: String? = nil) {
        self.table = table
        self.problem = problem
        self.hint = hint
    }

    public var code: String { "database_unsupported_table" }
    public var exitStatus: ExitStatus { .database }
    public var message: String { "refusing \(table): \(problem); nothing was changed" }

    /// Refuses the service tables of `connection`'s schema when they break a rule of `use`.
    public static func check(_ connection: Connection, for use: Use) throws {
        let slots = connection.table("time_slots"), offline = connection.table("offline_entries")
        let members = connection.table("project_members")
        let times = TimeSlotColumns.all.filter { $0.encoding == .timestamptz }.map(\.name)
        let result = try connection.execute(
            """
            WITH t AS (SELECT $1::text::regclass AS rel), o AS (SELECT $2::text::regclass AS rel), m AS (SELECT $3::text::regclass AS rel)
            SELECT c.relkind,
              (SELECT count(*) FROM pg_catalog.pg_inherits i WHERE i.inhparent = t.rel) > 0 AND c.relkind <> 'p',
              \(uniqueKey("t.rel", "user_id", "slot_start", serverVersion: connection.serverVersion)),
              \(uniqueKey("m.rel", "project_id", "user_id", serverVersion: connection.serverVersion)),
              (SELECT pg_catalog.string_agg(r.relname || '.' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', '
                                            ORDER BY r.relname, a.attnum)
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class r ON r.oid = a.attrelid
               WHERE ((a.attrelid = t.rel AND a.attname = ANY($4::text[])) OR (a.attrelid = o.rel AND a.attname IN ('starts_at', 'ends_at')))
                 AND NOT a.attisdropped AND a.atttypid <> 'pg_catalog.timestamptz'::pg_catalog.regtype)
            FROM t, o, m, pg_catalog.pg_class c WHERE c.oid = t.rel
            """, [slots, offline, members, "{" + times.joined(separator: ",") + "}"], context: "reading the shape of \(slots)")
        guard let row = result.rows.first else { return }
        if let columns = row[4] {
            // `time_slots.slot_start timestamp without time zone, ...`: the tables named, qualified.
            let tables = [("time_slots", slots), ("offline_entries", offline)].filter { columns.contains($0.0 + ".") }.map(\.1)
            throw ServiceTableRefused(
                table: tables.joined(separator: " and "), problem: "times without a time zone (\(columns)) would be read and written as UTC",
                hint: "the service schema stores times as timestamptz; convert the columns (ALTER TABLE ... TYPE timestamptz USING ... AT TIME ZONE '<zone>')")
        }
        guard use != .reading else { return }
        if let kind = row[0], kind != "r" && kind != "p" {
            let what = ["v": "a view", "m": "a materialized view", "f": "a foreign table"][kind] ?? "not a table (relkind '\(kind)')"
            throw ServiceTableRefused(
                table: slots, problem: "it is \(what), not a table",
                hint: "give --schema the schema of the service's own time_slots table")
        }
        if row[1] == "t" {
            throw ServiceTableRefused(
                table: slots, problem: "it has child tables (inheritance), whose rows its unique index does not cover",
                hint: "the tool writes into \(slots) itself: partition it with PARTITION BY, whose unique index covers every partition")
        }
        if row[2] != "t" {
            throw ServiceTableRefused(
                table: slots,
                problem: "it has no unique index on exactly (user_id, slot_start) that is valid, not partial and not deferrable: "
                    + "a slot that went live since the plan could be inserted twice",
                hint: "add one as the service schema has it: CREATE UNIQUE INDEX CONCURRENTLY ... ON time_slots (user_id, slot_start) "
                    + "(on a partitioned table: ALTER TABLE ... ADD UNIQUE (user_id, slot_start))")
        }
        if use == .reconciling && row[3] != "t" {
            throw ServiceTableRefused(
                table: members,
                problem: "it has no unique index on exactly (project_id, user_id) that is valid, not partial and not deferrable: "
                    + "a membership added again since the plan would be inserted twice, and a revert would delete both",
                hint: "add one as the service schema has it: ALTER TABLE ... ADD UNIQUE (project_id, user_id)")
        }
    }

    /// SQL true when the table `relation` has a unique index on exactly the columns `a` and `b`, in
    /// either order, that is valid, not partial, not on expressions and not deferrable.
    static func uniqueKey(_ relation: String, _ a: String, _ b: String, serverVersion: Int) -> String {
        // indnkeyatts (the key columns before INCLUDE's): PostgreSQL 11 and later.
        let keyColumns = serverVersion >= 110000 ? "x.indnkeyatts" : "x.indnatts"
        return """
            EXISTS (SELECT 1 FROM pg_catalog.pg_index x
                      JOIN pg_catalog.pg_attribute ka ON ka.attrelid = \(relation) AND ka.attname = '\(a)'
                      JOIN pg_catalog.pg_attribute kb ON kb.attrelid = \(relation) AND kb.attname = '\(b)'
                      WHERE x.indrelid = \(relation) AND x.indisunique AND x.indisvalid AND x.indimmediate
                        AND x.indpred IS NULL AND x.indexprs IS NULL AND \(keyColumns) = 2
                        AND ((x.indkey[0] = ka.attnum AND x.indkey[1] = kb.attnum) OR (x.indkey[0] = kb.attnum AND x.indkey[1] = ka.attnum)))
            """
    }
}
