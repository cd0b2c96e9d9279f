import RecoveryModel

/// Folds every source's events into one version per slot (CONTRACT §5.2).
///
/// Events are grouped by slot and applied in `SlotEvent.foldOrder`: time, then snapshot row,
/// upload, processed, deletion, then host, file name and line. The result is sorted by key and does
/// not depend on the order of `events`.
public enum SlotFold {
    public static func fold(_ events: [SlotEvent], window: Window) -> FoldResult {
        var result = FoldResult()
        // Sort small integer keys, not the events: comparing two `SlotEvent`s copies their strings.
        // Host, file and line are looked at only when key, time and kind are all equal.
        var order: [SortKey] = []
        order.reserveCapacity(events.count)
        for (i, event) in events.enumerated() {
            if window.contains(event.key.slotStart) {
                order.append(SortKey(event, index: i))
            } else {
                result.outsideWindow += 1
            }
        }
        events.withUnsafeBufferPointer { events in
            order.sort { a, b in
                if a.user != b.user { return a.user < b.user }
                if a.start != b.start { return a.start < b.start }
                if a.time != b.time { return a.time < b.time }
                if a.kind != b.kind { return a.kind < b.kind }
                return SlotEvent.foldOrder(events[Int(a.index)], events[Int(b.index)])
            }
            var start = 0
            while start < order.count {
                var end = start + 1
                while end < order.count, order[end].user == order[start].user, order[end].start == order[start].start { end += 1 }
                foldKey(order[start..<end].lazy.map { events[Int($0.index)] }, into: &result)
                start = end
            }
        }
        return result
    }

    /// The integer part of the fold order, and where the event is.
    struct SortKey {
        var user: Int64
        var start: Int64
        var time: Int64
        var kind: UInt8
        var index: Int32

        init(_ event: SlotEvent, index: Int) {
            user = event.key.userID
            start = event.key.slotStart.microseconds
            time = event.time.microseconds
            kind = event.kind.rawValue
            self.index = Int32(index)
        }
    }

    /// Applies one slot's events, already in fold order.
    static func foldKey<Events: Collection<SlotEvent>>(_ events: Events, into result: inout FoldResult) {
        var version: FoldedSlot?
        var deletion: SourceLocation?
        var requests: [(id: String, location: SourceLocation)] = []
        for event in events {
            switch event.payload {
            case .snapshotRow(let row):
                version = FoldedSlot(slot: row, provenance: [event.provenance])
                deletion = nil
            case .upload(let upload):
                if let first = requests.first(where: { $0.id == upload.requestID }) {
                    result.duplicates.append(IgnoredEvent(key: event.key, location: event.location, firstSeen: first.location))
                    continue
                }
                requests.append((upload.requestID, event.location))
                let slot = TimeSlot(
                    key: event.key, projectID: upload.projectID, taskID: upload.taskID,
                    durationMinutes: upload.durationMinutes, status: .pending, activityLevel: nil,
                    keystrokes: upload.keystrokes, mouseEvents: upload.mouseEvents,
                    activeApps: upload.activeApps, screenshotKey: upload.screenshotKey, note: upload.note)
                version = FoldedSlot(slot: slot, provenance: [event.provenance])
                deletion = nil
            case .processed(let status, let activityLevel):
                guard version != nil else {
                    result.orphans.append(IgnoredEvent(key: event.key, location: event.location, firstSeen: nil))
                    continue
                }
                version!.slot.status = status
                version!.slot.activityLevel = activityLevel
                version!.provenance.append(event.provenance)
            case .deleted:
                version = nil
                deletion = event.location
            }
        }
        if let version {
            result.slots.append(version)
        } else if let deletion, let key = events.first?.key {
            result.deleted.append(DeletedSlot(key: key, location: deletion))
        }
    }
}
