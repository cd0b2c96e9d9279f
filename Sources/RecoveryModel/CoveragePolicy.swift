/// How far past a window the evidence must reach, and which silences count as gaps: the one home
/// of the 180- and 15-minute figures, which the reports interpolate.
public enum CoveragePolicy {
    /// Clients cache up to this many minutes of slots while the server is unreachable, so a
    /// window's uploads arrive until its end plus this (CONTRACT §3).
    public static let clientCacheMinutes: Int64 = 180
    /// A host silent for more than this many whole minutes has a coverage gap.
    public static let gapMinutes = 15

    /// Where every host's logs should reach for `window`: its end + `clientCacheMinutes`.
    public static func needed(for window: Window) -> Timestamp {
        window.to.adding(minutes: clientCacheMinutes)
    }

    /// `window end + 180 min`, as the reports say it.
    public static var neededText: String { "window end + \(clientCacheMinutes) min" }
}
