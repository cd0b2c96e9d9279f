/// One column of the service's `time_slots` table (CONTRACT §2).
public struct TimeSlotColumn: Hashable, Sendable {
    /// How the column's value is written in COPY text and read back.
    public enum Encoding: String, Hashable, Sendable {
        case integer, timestamptz, text, textArray
    }

    /// Where a recovered slot's value comes from.
    public enum Origin: Hashable, Sendable {
        /// The database assigns it (`bigserial`).
        case generated
        /// The plan's rows file: the folded value, reviewed.
        case rowsFile
        /// `apply` sets it to this SQL constant (`'recovered'`, `NULL`).
        case constant(String)
        /// `apply` sets it to the time of the insert.
        case insertTime
    }

    public var name: String
    public var sqlType: String
    public var nullable: Bool
    public var encoding: Encoding
    public var origin: Origin

    /// `user_id bigint NOT NULL`: a column definition.
    public var definition: String { "\(name) \(sqlType)\(nullable ? "" : " NOT NULL")" }
}

/// The `time_slots` columns, in table order: the one list every other list derives from (the
/// plan's rows file, apply's temporary table and INSERT, the fingerprint, the snapshot decoder and
/// encoder, the diff, the generator). A test checks it against `fixtures/schema.sql` and checks
/// that no SQL in the tree names a `time_slots` column that is not here.
public enum TimeSlotColumns {
    public static let all: [TimeSlotColumn] = [
        .init(name: "id", sqlType: "bigint", nullable: false, encoding: .integer, origin: .generated),
        .init(name: "user_id", sqlType: "bigint", nullable: false, encoding: .integer, origin: .rowsFile),
        .init(name: "project_id", sqlType: "bigint", nullable: false, encoding: .integer, origin: .rowsFile),
        .init(name: "task_id", sqlType: "bigint", nullable: true, encoding: .integer, origin: .rowsFile),
        .init(name: "slot_start", sqlType: "timestamptz", nullable: false, encoding: .timestamptz, origin: .rowsFile),
        .init(name: "duration_min", sqlType: "smallint", nullable: false, encoding: .integer, origin: .rowsFile),
        .init(name: "source", sqlType: "text", nullable: false, encoding: .text, origin: .constant("'recovered'")),
        .init(name: "status", sqlType: "text", nullable: false, encoding: .text, origin: .rowsFile),
        .init(name: "activity_level", sqlType: "smallint", nullable: true, encoding: .integer, origin: .rowsFile),
        .init(name: "keystrokes", sqlType: "integer", nullable: false, encoding: .integer, origin: .rowsFile),
        .init(name: "mouse_events", sqlType: "integer", nullable: false, encoding: .integer, origin: .rowsFile),
        .init(name: "active_apps", sqlType: "text[]", nullable: false, encoding: .textArray, origin: .rowsFile),
        .init(name: "screenshot_key", sqlType: "text", nullable: true, encoding: .text, origin: .constant("NULL")),
        .init(name: "note", sqlType: "text", nullable: true, encoding: .text, origin: .rowsFile),
        .init(name: "updated_at", sqlType: "timestamptz", nullable: false, encoding: .timestamptz, origin: .insertTime),
    ]

    /// Every name, in table order.
    public static var names: [String] { all.map(\.name) }

    /// The column called `name`, if `time_slots` has one.
    public static func named(_ name: String) -> TimeSlotColumn? { all.first { $0.name == name } }

    /// Every column but `id`: what an insert writes and what the fingerprint covers.
    public static var stored: [TimeSlotColumn] { all.filter { $0.origin != .generated } }

    /// The columns of a plan's rows file, before its `provenance`.
    public static var rowsFile: [TimeSlotColumn] { all.filter { $0.origin == .rowsFile } }

    /// The columns recovery reads from a snapshot or live row into a `TimeSlot`: all but `id`
    /// (a restored row gets a new one) and `source`.
    public static var read: [TimeSlotColumn] { all.filter { $0.name != "id" && $0.name != "source" } }

    /// The columns `diff` compares: those read, less the key (`user_id`, `slot_start`).
    public static var compared: [TimeSlotColumn] { read.filter { $0.name != "user_id" && $0.name != "slot_start" } }
}
