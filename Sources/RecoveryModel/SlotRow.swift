/// A whole `time_slots` row as it stands in a snapshot or in live: what reconcile compares,
/// restores, and swaps (the compare-and-swap of apply matches every column of it).
public struct SlotRow: Hashable, Sendable {
    public var id: Int64
    /// `client` or `recovered`.
    public var source: String
    /// The other columns; `slot.updatedAt` is the row's `updated_at` and is always set.
    public var slot: TimeSlot

    public init(id: Int64, source: String, slot: TimeSlot) {
        precondition(slot.updatedAt != nil, "a stored row has an updated_at")
        self.id = id
        self.source = source
        self.slot = slot
    }

    public var key: SlotKey { slot.key }
    public var updatedAt: Timestamp { slot.updatedAt! }
}

/// A `time_slots` column reconcile can restore: every column but the key (`user_id`,
/// `slot_start`), `id` and `updated_at`, in table order. These are also the columns a snapshot
/// row and a live row are compared on (CONTRACT §7: all but `id` and `updated_at`; the key is
/// equal by the match).
public enum SlotColumn: String, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
    case projectID = "project_id"
    case taskID = "task_id"
    case durationMin = "duration_min"
    case source
    case status
    case activityLevel = "activity_level"
    case keystrokes
    case mouseEvents = "mouse_events"
    case activeApps = "active_apps"
    case screenshotKey = "screenshot_key"
    case note

    public var description: String { rawValue }

    /// Table order.
    public static func < (a: SlotColumn, b: SlotColumn) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The column's field in a `TimeSlot` (`TimeSlotFields`); nil for `source`, which a
    /// `SlotRow` holds beside its slot.
    private var field: TimeSlotField? {
        self == .source ? nil : TimeSlotFields.named(rawValue)!
    }

    /// Whether `a` and `b` hold different values in this column.
    public func differs(_ a: SlotRow, _ b: SlotRow) -> Bool {
        field.map { $0.differs(a.slot, b.slot) } ?? (a.source != b.source)
    }

    /// Sets this column of `row` to its value in `other`.
    public func copy(from other: SlotRow, into row: inout SlotRow) {
        if let field { field.copy(from: other.slot, into: &row.slot) } else { row.source = other.source }
    }

    /// The value for a reader, as `TimeSlotField.display` shows it (`source` is a text, quoted).
    public func display(_ row: SlotRow) -> String {
        field.map { $0.display(row.slot) } ?? CopyTextWriter.quoted(row.source)
    }

    /// The columns in which `a` and `b` differ, in table order.
    public static func differing(_ a: SlotRow, _ b: SlotRow) -> [SlotColumn] {
        allCases.filter { $0.differs(a, b) }
    }

    /// Parses `--columns` entries: `time_slots.task_id` (or a bare `task_id`). Returns the
    /// columns, or a message naming the first entry that is not a restorable column.
    public static func parse(_ list: [String]) -> Result<[SlotColumn], ColumnError> {
        var columns: [SlotColumn] = []
        for entry in list {
            let trimmed = entry.trimmingSpaces
            var name = Substring(trimmed)
            if let dot = name.firstIndex(of: ".") {
                let table = name[..<dot]
                guard table == "time_slots" else { return .failure(ColumnError(entry: trimmed, reason: .notTimeSlots)) }
                name = name[name.index(after: dot)...]
            }
            guard let column = SlotColumn(rawValue: String(name)) else {
                return .failure(ColumnError(entry: trimmed, reason: .notRestorable))
            }
            if !columns.contains(column) { columns.append(column) }
        }
        guard !columns.isEmpty else { return .failure(ColumnError(entry: "", reason: .empty)) }
        return .success(columns.sorted())
    }

    /// Why a `--columns` entry is refused.
    public struct ColumnError: Error, Hashable, Sendable, CustomStringConvertible {
        public enum Reason: Hashable, Sendable { case notTimeSlots, notRestorable, empty }
        public var entry: String
        public var reason: Reason

        public var description: String {
            let names = SlotColumn.allCases.map(\.rawValue).joined(separator: ", ")
            switch reason {
            case .empty: return "'--columns' names no column"
            case .notTimeSlots:
                return "'--columns' entry '\(entry)' is not a time_slots column: project_members rows are restored whole, without --columns"
            case .notRestorable:
                return "'--columns' entry '\(entry)' is not a column reconcile can restore (one of \(names); the key, id and updated_at are not)"
            }
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// A `project_members` pair: the user may put time on the project.
public struct ProjectMembership: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var projectID: Int64
    public var userID: Int64

    public init(projectID: Int64, userID: Int64) {
        self.projectID = projectID
        self.userID = userID
    }

    public static func < (a: Self, b: Self) -> Bool { (a.projectID, a.userID) < (b.projectID, b.userID) }

    /// `project 20, user 7`
    public var description: String { "project \(projectID), user \(userID)" }
}

/// A snapshot's `time_slots` row with where it was read.
public struct SnapshotSlotRow: Hashable, Sendable {
    public var row: SlotRow
    public var location: SourceLocation

    public init(row: SlotRow, location: SourceLocation) {
        self.row = row
        self.location = location
    }
}

/// A snapshot's `project_members` pair with where it was read.
public struct SnapshotMembership: Hashable, Sendable {
    public var membership: ProjectMembership
    public var location: SourceLocation

    public init(_ membership: ProjectMembership, location: SourceLocation) {
        self.membership = membership
        self.location = location
    }
}
