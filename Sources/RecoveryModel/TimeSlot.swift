/// Processing state of a slot, as in `time_slots.status`.
public enum SlotStatus: String, Sendable, Hashable, CaseIterable {
    case pending, active, idle
}

/// One version of a time slot: the columns of `time_slots` that recovery reads or writes.
///
/// `screenshotKey` and `updatedAt` are carried for diffs; a recovered slot is always inserted
/// with no screenshot and `updated_at` set to the commit time (CONTRACT §5.6).
public struct TimeSlot: Hashable, Sendable {
    public var key: SlotKey
    public var projectID: Int64
    public var taskID: Int64?
    /// 1...10
    public var durationMinutes: Int16
    public var status: SlotStatus
    /// 0...10, nil until processed.
    public var activityLevel: Int16?
    public var keystrokes: Int32
    public var mouseEvents: Int32
    public var activeApps: [String]
    public var screenshotKey: String?
    public var note: String?
    /// When this version was written (snapshot rows); nil for versions built from logs.
    public var updatedAt: Timestamp?

    // Inlinable: called from another module, the init copied the slot it made and destroyed
    // the first (a retain and a release of each array and string), once per folded slot.
    @inlinable
    public init(
        key: SlotKey, projectID: Int64, taskID: Int64?, durationMinutes: Int16 = 10,
        status: SlotStatus, activityLevel: Int16?, keystrokes: Int32, mouseEvents: Int32,
        activeApps: [String], screenshotKey: String?, note: String?, updatedAt: Timestamp? = nil
    ) {
        self.key = key
        self.projectID = projectID
        self.taskID = taskID
        self.durationMinutes = durationMinutes
        self.status = status
        self.activityLevel = activityLevel
        self.keystrokes = keystrokes
        self.mouseEvents = mouseEvents
        self.activeApps = activeApps
        self.screenshotKey = screenshotKey
        self.note = note
        self.updatedAt = updatedAt
    }

    /// `[slot_start, slot_start + duration_min minutes)`
    public var interval: Window {
        Window(from: key.slotStart, to: key.slotStart.adding(minutes: Int64(durationMinutes)))
    }
}
