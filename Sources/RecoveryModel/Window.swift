/// A half-open interval of time `[from, to)`.
///
/// The recovery window, a slot's interval and an offline entry are all windows: two of them
/// overlap only when they share more than zero time, so intervals that touch at a boundary do not.
public struct Window: Hashable, Sendable, CustomStringConvertible {
    public let from: Timestamp
    public let to: Timestamp

    /// `to` must be after `from`; callers validate user input before building one.
    public init(from: Timestamp, to: Timestamp) {
        precondition(from < to, "a window ends after it starts")
        self.from = from
        self.to = to
    }

    public func contains(_ time: Timestamp) -> Bool {
        from <= time && time < to
    }

    /// `contains`, for a time given as its microseconds since 1970 (a packed event's slot start).
    @inlinable
    public func contains(microseconds time: Int64) -> Bool {
        from.microseconds <= time && time < to.microseconds
    }

    public func overlaps(_ other: Window) -> Bool {
        from < other.to && other.from < to
    }

    public var durationMicroseconds: Int64 { to.microseconds - from.microseconds }

    /// `[2018-07-25T14:50:00Z, 2018-07-26T01:50:00Z)`
    public var description: String { "[\(from), \(to))" }
}
