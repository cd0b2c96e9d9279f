/// The identity of a time slot: one user, one 10-minute start. `time_slots` is unique on it.
public struct SlotKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var userID: Int64
    public var slotStart: Timestamp

    public init(userID: Int64, slotStart: Timestamp) {
        self.userID = userID
        self.slotStart = slotStart
    }

    public static func < (lhs: SlotKey, rhs: SlotKey) -> Bool {
        (lhs.userID, lhs.slotStart.microseconds) < (rhs.userID, rhs.slotStart.microseconds)
    }

    /// `user 1042 at 2018-07-25T14:50:00Z`
    public var description: String { "user \(userID) at \(slotStart)" }
}
