/// Where each compared `time_slots` column lives in a `TimeSlot`: the one map from a column name
/// to its field. `diff`'s changed columns and reconcile's compare, copy and display derive from
/// it; a test checks its names against `TimeSlotColumns.compared`.
public struct TimeSlotField: Sendable {
    /// The column's name in `time_slots`.
    public let name: String
    private let differs: @Sendable (TimeSlot, TimeSlot) -> Bool
    private let copy: @Sendable (TimeSlot, inout TimeSlot) -> Void
    private let show: @Sendable (TimeSlot) -> String

    /// A column held in `path`, shown to a reader with `show`.
    init<Value: Equatable & Sendable>(
        _ name: String, _ path: WritableKeyPath<TimeSlot, Value> & Sendable,
        show: @escaping @Sendable (Value) -> String
    ) {
        self.name = name
        self.differs = { $0[keyPath: path] != $1[keyPath: path] }
        self.copy = { $1[keyPath: path] = $0[keyPath: path] }
        self.show = { show($0[keyPath: path]) }
    }

    /// Whether `a` and `b` hold different values in this column.
    public func differs(_ a: TimeSlot, _ b: TimeSlot) -> Bool { differs(a, b) }

    /// Sets this column of `slot` to its value in `other`.
    public func copy(from other: TimeSlot, into slot: inout TimeSlot) { copy(other, &slot) }

    /// The value for a reader: `null`, a number, a time, a status, a text quoted (`"null"` is the
    /// text, `null` the NULL), or an array with every element quoted (`{"a,b"}` against `{"a","b"}`).
    public func display(_ slot: TimeSlot) -> String { show(slot) }
}

public enum TimeSlotFields {
    /// The compared columns (`TimeSlotColumns.compared`), in table order.
    public static let all: [TimeSlotField] = [
        .init("project_id", \.projectID, show: { String($0) }),
        .init("task_id", \.taskID, show: { $0.map { String($0) } ?? "null" }),
        .init("duration_min", \.durationMinutes, show: { String($0) }),
        .init("status", \.status, show: { $0.rawValue }),
        .init("activity_level", \.activityLevel, show: { $0.map { String($0) } ?? "null" }),
        .init("keystrokes", \.keystrokes, show: { String($0) }),
        .init("mouse_events", \.mouseEvents, show: { String($0) }),
        .init("active_apps", \.activeApps, show: { CopyTextWriter.arrayLiteral($0) }),
        .init("screenshot_key", \.screenshotKey, show: { $0.map(CopyTextWriter.quoted) ?? "null" }),
        .init("note", \.note, show: { $0.map(CopyTextWriter.quoted) ?? "null" }),
        .init("updated_at", \.updatedAt, show: { $0.map { "\($0)" } ?? "null" }),
    ]

    /// The field of column `name`, if it is a compared column.
    public static func named(_ name: String) -> TimeSlotField? { all.first { $0.name == name } }

    /// The compared columns in which `a` and `b` differ, in table order.
    public static func differing(_ a: TimeSlot, _ b: TimeSlot) -> [String] {
        all.filter { $0.differs(a, b) }.map(\.name)
    }
}
