import RecoveryModel

extension EventBatch {
    /// Appends a snapshot row read at `location`; a source with more rows or lines than an event
    /// can number (`EventBatch.maxLine`) stops the read with its place instead of a crash.
    /// With `chunks`, the batch is handed to it once full.
    mutating func appendSnapshotRow(_ slot: TimeSlot, at location: SourceLocation, chunks: EventChunks? = nil) throws {
        try checkLine(location)
        appendSnapshotRow(slot, line: location.line)
        chunks?.offer(&self)
    }

    /// Appends a row that `SlotRowDecoder.decodeForBatch` decoded, whose texts it appended to
    /// `text` from `textStart`: the event and version `appendSnapshotRow(_:line:)` makes of the
    /// row's `TimeSlot`, with no `TimeSlot` or `String` made. With `chunks`, the batch is handed
    /// to it once full.
    mutating func appendSnapshotRow(
        _ row: SlotRowDecoder.BatchFields, textStart: Int, at location: SourceLocation, chunks: EventChunks? = nil
    ) throws {
        try checkLine(location)
        let host = snapshotHost()
        var apps = UInt32(appLists.count)
        if let last = appLists.indices.last, appLists[last] == row.apps {
            apps = UInt32(last)
        } else {
            appLists.append(row.apps)
        }
        var version = Version(
            projectID: row.projectID, taskID: row.taskID, keystrokes: row.keystrokes, mouseEvents: row.mouseEvents,
            apps: apps, durationMinutes: row.durationMinutes, textStart: textStart)
        version.status = Self.statusIndex(row.status)
        if let level = row.activityLevel {
            version.flags.insert(.activityLevel)
            version.activityLevel = level
        }
        if let count = row.note {
            version.flags.insert(.note)
            version.noteCount = count
        }
        version.flags.insert(.updatedAt)
        version.updatedAt = row.updatedAt.microseconds
        versions.append(version)
        events.append(Event(
            userID: row.key.userID, slotStart: row.key.slotStart.microseconds, time: row.updatedAt.microseconds,
            line: Self.line(location.line), payload: UInt32(versions.count - 1), host: host,
            tag: UInt32(SlotEvent.Kind.snapshotRow.rawValue)))
        chunks?.offer(&self)
    }

    private func checkLine(_ location: SourceLocation) throws {
        guard location.line <= EventBatch.maxLine else {
            throw SnapshotError(
                .unreadable, source: location.file, line: location.line,
                detail: "more than \(EventBatch.maxLine) lines or rows: split the snapshot into smaller dumps")
        }
    }

    /// The id of the empty host name that snapshot rows carry, added when new (as `append` finds it).
    private mutating func snapshotHost() -> UInt32 {
        if let last = hosts.indices.last, hosts[last].isEmpty { return UInt32(last) }
        if let i = hosts.firstIndex(of: "") { return UInt32(i) }
        return addHost("")
    }

    /// `status` as a `SlotStatus` index, as a version keeps it.
    private static func statusIndex(_ status: SlotStatus) -> UInt8 {
        switch status {
        case .pending: 0
        case .active: 1
        case .idle: 2
        }
    }
}
