import RecoveryModel

/// What the tool relies on in the live service tables beyond their columns' names (CONTRACT §2),
/// checked in one catalog query before `plan` reads the live database and before `apply` writes
/// into it:
/// - `time_slots` is a table (or a partitioned one), with no child tables by inheritance, whose
///   rows its unique index would not cover (a trigger routing rows into a child, old style);
/// - it has a unique index on exactly (`user_id`, `slot_start`): not partial, not deferred, valid.
///   A slot that went live between the plan and the apply is found by it and skipped; without it
///   the apply would insert a second row for the key and call it recovered;
/// - its times, and `offline_entries`' bounds, are `timestamptz`: a `timestamp` column holds a wall
///   time of no known zone, which the tool would read, and write, as UTC.
///
/// A table that breaks one is refused (69), with what to change; nothing is read or written.
public struct ServiceTableRefused: ToolError, Hashable {
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

    /// Refuses the service tables of `connection`'s schema when they break one of the rules above.
    public static func check(_ connection: Connection) throws {
        let slots = connection.table("time_slots"), offline = connection.table("offline_entries")
        let times = TimeSlotColumns.all.filter { $0.encoding == .timestamptz }.map(\.name)
        // indnkeyatts (the key columns before INCLUDE's): PostgreSQL 11 and later.
        let keyColumns = connection.serverVersion >= 110000 ? "x.indnkeyatts" : "x.indnatts"
        let result = try connection.execute(
            """
            WITH t AS (SELECT $1::text::regclass AS rel), o AS (SELECT $2::text::regclass AS rel)
            SELECT c.relkind,
              (SELECT count(*) FROM pg_catalog.pg_inherits i WHERE i.inhparent = t.rel) > 0 AND c.relkind <> 'p',
              EXISTS (SELECT 1 FROM pg_catalog.pg_index x
                      JOIN pg_catalog.pg_attribute u ON u.attrelid = t.rel AND u.attname = 'user_id'
                      JOIN pg_catalog.pg_attribute s ON s.attrelid = t.rel AND s.attname = 'slot_start'
                      WHERE x.indrelid = t.rel AND x.indisunique AND x.indisvalid AND x.indimmediate
                        AND x.indpred IS NULL AND x.indexprs IS NULL AND \(keyColumns) = 2
                        AND ((x.indkey[0] = u.attnum AND x.indkey[1] = s.attnum) OR (x.indkey[0] = s.attnum AND x.indkey[1] = u.attnum))),
              (SELECT pg_catalog.string_agg(r.relname || '.' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod), ', '
                                            ORDER BY r.relname, a.attnum)
               FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class r ON r.oid = a.attrelid
               WHERE ((a.attrelid = t.rel AND a.attname = ANY($3::text[])) OR (a.attrelid = o.rel AND a.attname IN ('starts_at', 'ends_at')))
                 AND NOT a.attisdropped AND a.atttypid <> 'pg_catalog.timestamptz'::pg_catalog.regtype)
            FROM t, o, pg_catalog.pg_class c WHERE c.oid = t.rel
            """, [slots, offline, "{" + times.joined(separator: ",") + "}"], context: "reading the shape of \(slots)")
        guard let row = result.rows.first else { return }
        if let kind = row[0], kind != "r" && kind != "p" {
            let what = ["v": "a view", "m": "a materialized view", "f": "a foreign table"][kind] ?? "not a table (relkind '\(kind)')"
            throw ServiceTableRefused(
                table: slots, problem: "it is \(what), not a table",
                hint: "give --schema the schema of the service's own time_slots table")
        }
        if row[1] == "t" {
            throw ServiceTableRefused(
                table: slots, problem: "it has child tables (inheritance), whose rows its unique index does not cover",
                hint: "recover into a table partitioned with PARTITION BY, or into the child table itself")
        }
        if row[2] != "t" {
            throw ServiceTableRefused(
                table: slots,
                problem: "it has no unique index on exactly (user_id, slot_start) that is valid, not partial and not deferred: "
                    + "a slot that went live since the plan could be inserted twice",
                hint: "create one (CREATE UNIQUE INDEX CONCURRENTLY ... ON time_slots (user_id, slot_start)), as the service schema has")
        }
        if let columns = row[3] {
            throw ServiceTableRefused(
                table: "\(slots) and \(offline)", problem: "times without a time zone (\(columns)) would be read and written as UTC",
                hint: "the service schema stores times as timestamptz; convert the columns (ALTER TABLE ... TYPE timestamptz USING ... AT TIME ZONE '<zone>')")
        }
    }
}
