/// Where a reader hands its events over a chunk at a time as it reads, instead of keeping each
/// source's whole batch: `plan --memory-limit` spills them to disk (`EventSpill`).
///
/// A chunk is a batch of its own (its source, hosts, app lists and texts), so it can be folded
/// beside the other chunks of its source: the fold orders events by their key, time, kind, host,
/// file and line, never by the batch they came in.
public struct EventChunks: Sendable {
    /// A batch is handed over once it holds this many events, and at the end of its source.
    public let events: Int
    /// Takes a chunk over; called from the reading threads, one chunk per call.
    public let take: @Sendable (EventBatch) -> Void

    public init(events: Int, take: @escaping @Sendable (EventBatch) -> Void) {
        self.events = max(1, events)
        self.take = take
    }

    /// Hands `batch` over when it holds `events` events, or at the end of its source (`atEnd`,
    /// when it holds any), leaving an empty batch of the same source in its place.
    @inlinable
    public func offer(_ batch: inout EventBatch, atEnd: Bool = false) {
        guard batch.events.count >= events || (atEnd && !batch.events.isEmpty) else { return }
        let full = batch
        batch = EventBatch(source: full.source)
        take(full)
    }
}
