import Dispatch
import Foundation
import RecoveryModel

/// Folds every source's events into one version per slot (CONTRACT §5.2).
///
/// Events are grouped by slot and applied in `SlotEvent.foldOrder`: time, then snapshot row,
/// upload, processed, deletion, then host, file name and line. The result is sorted by key and does
/// not depend on the order of `events`.
public enum SlotFold {
    public static func fold(
        _ events: [SlotEvent], window: Window, partitions: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> FoldResult {
        // Sort small integer keys, not the events: comparing two `SlotEvent`s copies their strings.
        // Host, file and line are looked at only when key, time and kind are all equal.
        var order: [SortKey] = []
        order.reserveCapacity(events.count)
        var outsideWindow = 0
        for (i, event) in events.enumerated() {
            if window.contains(event.key.slotStart) {
                order.append(SortKey(event, index: i))
            } else {
                outsideWindow += 1
            }
        }
        // Ranges of users, one per core, folded at once: each range's result is sorted by key, so
        // the ranges' results in order are the whole result, whatever the split.
        let bounds = userBounds(order, partitions: max(1, partitions))
        var parts = Array(repeating: [SortKey](), count: bounds.count + 1)
        if bounds.isEmpty {
            parts[0] = order
        } else {
            for key in order { parts[partition(of: key.user, bounds)].append(key) }
        }
        order = []
        let results = FoldResults(count: parts.count)
        let ranges = parts
        parts = []
        DispatchQueue.concurrentPerform(iterations: ranges.count) { p in
            results.set(p, events.withUnsafeBufferPointer { foldSorted(ranges[p], $0) })
        }
        var result = FoldResult()
        for part in results.take() {
            result.slots += part.slots
            result.deleted += part.deleted
            result.duplicates += part.duplicates
            result.orphans += part.orphans
        }
        result.outsideWindow = outsideWindow
        return result
    }

    /// Sorts one range's keys in fold order and folds them.
    private static func foldSorted(_ keys: [SortKey], _ events: UnsafeBufferPointer<SlotEvent>) -> FoldResult {
        var order = keys
        order.sort { a, b in
            if a.user != b.user { return a.user < b.user }
            if a.start != b.start { return a.start < b.start }
            if a.time != b.time { return a.time < b.time }
            if a.kind != b.kind { return a.kind < b.kind }
            return SlotEvent.foldOrder(events[Int(a.index)], events[Int(b.index)])
        }
        var result = FoldResult()
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, order[end].user == order[start].user, order[end].start == order[start].start { end += 1 }
            foldKey(order[start..<end].lazy.map { events[Int($0.index)] }, into: &result)
            start = end
        }
        return result
    }

    /// User ids that split `keys` into about `partitions` ranges of similar size: range `p` holds
    /// the users below `bounds[p]` (and at or above `bounds[p - 1]`). Empty for one range.
    static func userBounds(_ keys: [SortKey], partitions: Int) -> [Int64] {
        guard partitions > 1, keys.count >= 4096 else { return [] }
        let step = max(1, keys.count / 4096)
        var sample: [Int64] = []
        sample.reserveCapacity(keys.count / step + 1)
        for i in stride(from: 0, to: keys.count, by: step) { sample.append(keys[i].user) }
        sample.sort()
        var bounds: [Int64] = []
        for p in 1..<partitions {
            let bound = sample[sample.count * p / partitions]
            if bound > (bounds.last ?? .min) { bounds.append(bound) }
        }
        return bounds
    }

    @inline(__always)
    static func partition(of user: Int64, _ bounds: [Int64]) -> Int {
        var p = 0
        while p < bounds.count, user >= bounds[p] { p += 1 }
        return p
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

/// One fold result per range, written by whichever thread folded it.
private final class FoldResults: @unchecked Sendable {
    // Sendable: `results` is only touched under `lock`, each index written once.
    private let lock = NSLock()
    private var results: [FoldResult?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ result: FoldResult) {
        lock.lock()
        results[i] = result
        lock.unlock()
    }

    func take() -> [FoldResult] {
        lock.lock()
        defer { lock.unlock() }
        return results.map { $0! }
    }
}
