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
        fold(batches: [events], window: window, partitions: partitions)
    }

    /// Folds the events of several arrays (the logs', each snapshot's) as one, without copying
    /// them into one array first.
    public static func fold(
        batches: [[SlotEvent]], window: Window, partitions: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> FoldResult {
        precondition(batches.count <= Int(UInt16.max) && batches.allSatisfy { $0.count <= Int(UInt32.max) })
        // Sort small integer keys, not the events: comparing two `SlotEvent`s copies their strings.
        // Host, file and line are looked at only when key, time and kind are all equal.
        // Ranges of users, one per core, folded at once: each range's result is sorted by key, so
        // the ranges' results in order are the whole result, whatever the split.
        let bounds = userBounds(batches, window: window, partitions: max(1, partitions))
        var parts = Array(repeating: [SortKey](), count: bounds.count + 1)
        parts[0].reserveCapacity(bounds.isEmpty ? batches.reduce(0) { $0 + $1.count } : 0)
        var outsideWindow = 0
        for (b, events) in batches.enumerated() {
            for (i, event) in events.enumerated() {
                if window.contains(event.key.slotStart) {
                    parts[partition(of: event.key.userID, bounds)].append(SortKey(event, batch: b, index: i))
                } else {
                    outsideWindow += 1
                }
            }
        }
        let ranges = FoldRanges(parts)
        parts = []
        DispatchQueue.concurrentPerform(iterations: bounds.count + 1) { p in
            var order = ranges.take(p)
            ranges.set(p, foldSorted(&order, batches))
        }
        var results = ranges.results()
        var result = results.removeFirst()
        for part in results {
            result.slots += part.slots
            result.deleted += part.deleted
            result.duplicates += part.duplicates
            result.orphans += part.orphans
        }
        result.outsideWindow = outsideWindow
        return result
    }

    /// Sorts one range's keys in fold order and folds them.
    private static func foldSorted(_ order: inout [SortKey], _ batches: [[SlotEvent]]) -> FoldResult {
        func event(_ key: SortKey) -> SlotEvent { batches[Int(key.batch)][Int(key.index)] }
        order.sort { a, b in
            if a.user != b.user { return a.user < b.user }
            if a.start != b.start { return a.start < b.start }
            if a.time != b.time { return a.time < b.time }
            if a.kind != b.kind { return a.kind < b.kind }
            return SlotEvent.foldOrder(event(a), event(b))
        }
        var result = FoldResult()
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, order[end].user == order[start].user, order[end].start == order[start].start { end += 1 }
            foldKey(order[start..<end].lazy.map(event), into: &result)
            start = end
        }
        return result
    }

    /// User ids that split the window's events into about `partitions` ranges of similar size:
    /// range `p` holds the users below `bounds[p]` (and at or above `bounds[p - 1]`). Empty for
    /// one range.
    static func userBounds(_ batches: [[SlotEvent]], window: Window, partitions: Int) -> [Int64] {
        let count = batches.reduce(0) { $0 + $1.count }
        guard partitions > 1, count >= 4096 else { return [] }
        let step = max(1, count / 4096)
        var sample: [Int64] = []
        for events in batches {
            for i in stride(from: 0, to: events.count, by: step) where window.contains(events[i].key.slotStart) {
                sample.append(events[i].key.userID)
            }
        }
        guard !sample.isEmpty else { return [] }
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
        var batch: UInt16
        var index: UInt32

        init(_ event: SlotEvent, batch: Int, index: Int) {
            user = event.key.userID
            start = event.key.slotStart.microseconds
            time = event.time.microseconds
            kind = event.kind.rawValue
            self.batch = UInt16(batch)
            self.index = UInt32(index)
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

/// The ranges' sort keys, each taken (moved out) by the thread that folds it, and their results.
private final class FoldRanges: @unchecked Sendable {
    // Sendable: `keys` and `folded` are only touched under `lock`; each index is taken and set once.
    private let lock = NSLock()
    private var keys: [[SlotFold.SortKey]]
    private var folded: [FoldResult?]

    init(_ keys: [[SlotFold.SortKey]]) {
        self.keys = keys
        folded = Array(repeating: nil, count: keys.count)
    }

    func take(_ i: Int) -> [SlotFold.SortKey] {
        lock.lock()
        defer { lock.unlock() }
        return keys[i].take()
    }

    func set(_ i: Int, _ result: FoldResult) {
        lock.lock()
        folded[i] = result
        lock.unlock()
    }

    /// The results in range order, moved out.
    func results() -> [FoldResult] {
        lock.lock()
        defer { lock.unlock() }
        let all = folded.map { $0! }
        folded = []
        return all
    }
}

extension Array {
    /// The array, leaving an empty one in its place without a copy.
    fileprivate mutating func take() -> [Element] {
        var taken: [Element] = []
        swap(&taken, &self)
        return taken
    }
}
