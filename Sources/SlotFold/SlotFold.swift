import RecoveryModel

/// Folds every source's events into one version per slot (CONTRACT §5.2).
///
/// Events are grouped by slot and applied in `SlotEvent.foldOrder`: time, then snapshot row,
/// upload, processed, deletion, then host, file name and line. The result is sorted by key and does
/// not depend on the order of `events`.
public enum SlotFold {
    public static func fold(_ events: [SlotEvent], window: Window) -> FoldResult {
        var result = FoldResult()
        var order: [Int32] = []
        order.reserveCapacity(events.count)
        for (i, event) in events.enumerated() {
            if window.contains(event.key.slotStart) {
                order.append(Int32(i))
            } else {
                result.outsideWindow += 1
            }
        }
        events.withUnsafeBufferPointer { events in
            order.sort { a, b in
                let x = events[Int(a)], y = events[Int(b)]
                if x.key != y.key { return x.key < y.key }
                return SlotEvent.foldOrder(x, y)
            }
            var start = 0
            while start < order.count {
                let key = events[Int(order[start])].key
                var end = start + 1
                while end < order.count, events[Int(order[end])].key == key { end += 1 }
                foldKey(order[start..<end].lazy.map { events[Int($0)] }, into: &result)
                start = end
            }
        }
        return result
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
