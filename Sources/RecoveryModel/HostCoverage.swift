/// When one app server was logging: its first and last event, and its silences. `LogReplay`
/// measures it; the plan's report and `scan` show it. A host is known only through its events,
/// so it has at least one.
public struct HostCoverage: Hashable, Sendable {
    public var host: String
    /// Valid lines (slot events in or out of the window, other events) it logged.
    public var events: Int
    public var firstEvent: Timestamp
    public var lastEvent: Timestamp
    /// Runs of more than `CoveragePolicy.gapMinutes` whole minutes, inside the coverage range, in which
    /// the host logged nothing. Each gap starts at the first silent minute and ends at the start
    /// of the next minute with an event (or the range's end).
    public var gaps: [Window]

    public init(host: String, events: Int, firstEvent: Timestamp, lastEvent: Timestamp, gaps: [Window]) {
        self.host = host
        self.events = events
        self.firstEvent = firstEvent
        self.lastEvent = lastEvent
        self.gaps = gaps
    }
}
