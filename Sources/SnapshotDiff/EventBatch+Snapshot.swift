import RecoveryModel

extension EventBatch {
    /// Appends a snapshot row read at `location`; a source with more rows or lines than an event
    /// can number (`EventBatch.maxLine`) stops the read with its place instead of a crash.
    /// With `chunks`, the batch is handed to it once full.
    mutating func appendSnapshotRow(_ slot: TimeSlot, at location: SourceLocation, chunks: EventChunks? = nil) throws {
        guard location.line <= EventBatch.maxLine else {
            throw SnapshotError(
                .unreadable, source: location.file, line: location.line,
                detail: "more than \(EventBatch.maxLine) lines or rows: split the snapshot into smaller dumps")
        }
        appendSnapshotRow(slot, line: location.line)
        chunks?.offer(&self)
    }
}
