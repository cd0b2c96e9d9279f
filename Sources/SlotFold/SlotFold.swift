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
        var batches = batches
        return withEventBuffers(&batches, mutable: false) { fold($0, window: window, partitions: partitions, consume: false) }
    }

    /// As `fold(batches:)`, taking the arrays over (`batches` is left empty), and lets go of each
    /// event's payload (its strings and boxes) as soon as its slot is folded, so the events and
    /// the result are not all in memory at once. An array someone else also holds is copied whole
    /// before its events are let go: hand over the only reference.
    public static func fold(
        taking batches: inout [[SlotEvent]], window: Window,
        partitions: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> FoldResult {
        withEventBuffers(&batches, mutable: true) { fold($0, window: window, partitions: partitions, consume: true) }
    }

    /// The fold on the events in place. Ranges of users, on every core, are sorted and folded at
    /// once; each range's result is sorted by key, so the ranges' results in order are the whole
    /// result, whatever the split. Sorts small integer keys, not the events: host, file and line
    /// are looked at only when key, time and kind are all equal.
    private static func fold(
        _ buffers: [UnsafeMutableBufferPointer<SlotEvent>], window: Window, partitions: Int, consume: Bool
    ) -> FoldResult {
        precondition(buffers.count <= Int(UInt16.max) && buffers.allSatisfy { $0.count <= Int(UInt32.max) })
        let events = EventBuffers(buffers, consume: consume)
        let bounds = userBounds(buffers, window: window, partitions: max(1, partitions))
        var (parts, outsideWindow) = sortKeys(buffers, window: window, bounds: bounds)
        let ranges = FoldRanges(parts)
        parts = []
        // Sorted at once; then each range's slot count is known, and the ranges fold at once
        // into one array made at its final size (no merge, no copy of the folded slots).
        DispatchQueue.concurrentPerform(iterations: bounds.count + 1) { p in ranges.sort(p, events) }
        let counts = ranges.slots
        let offsets = counts.reduce(into: [0]) { $0.append($0.last! + $1) }
        var result = FoldResult()
        result.slots = Array(unsafeUninitializedCapacity: offsets.last!) { slots, initialized in
            guard let base = slots.baseAddress else { return }
            let out = SlotOutput(base)
            DispatchQueue.concurrentPerform(iterations: counts.count) { p in
                ranges.fold(p, events, into: out.base + offsets[p])
            }
            // Close the gaps the deleted slots left, moving (not copying) each range down.
            var end = 0
            for p in counts.indices {
                let written = ranges.written(p)
                if end != offsets[p] { (base + end).moveInitialize(from: base + offsets[p], count: written) }
                end += written
            }
            initialized = end
        }
        for part in ranges.results() {
            result.deleted += part.deleted
            result.duplicates += part.duplicates
            result.orphans += part.orphans
        }
        result.outsideWindow = outsideWindow
        return result
    }

    /// Calls `body` with a buffer over each array of `batches`, in order; the buffers may be
    /// written only when `mutable` (the arrays are then made unique first, copied if shared).
    private static func withEventBuffers<R>(
        _ batches: inout [[SlotEvent]], mutable: Bool, _ body: ([UnsafeMutableBufferPointer<SlotEvent>]) -> R
    ) -> R {
        var rest = batches
        batches = []
        var buffers: [UnsafeMutableBufferPointer<SlotEvent>] = []
        func next() -> R {
            guard !rest.isEmpty else { return body(buffers) }
            var last = rest.removeLast()
            if !mutable {
                return last.withUnsafeBufferPointer { buffer in
                    buffers.append(UnsafeMutableBufferPointer(mutating: buffer))
                    return next()
                }
            }
            return last.withUnsafeMutableBufferPointer { buffer in
                buffers.append(buffer)
                return next()
            }
        }
        rest.reverse()
        return next()
    }

    /// Each range's sort keys (events in the window only), and the number of events outside.
    private static func sortKeys(
        _ buffers: [UnsafeMutableBufferPointer<SlotEvent>], window: Window, bounds: [Int64]
    ) -> ([[SortKey]], Int) {
        // Each range's array made at its final size, counted first: grown by doubling, the keys
        // would take up to twice their size while every event is still in memory.
        var counts = Array(repeating: 0, count: bounds.count + 1)
        for events in buffers {
            for i in events.indices where window.contains(events[i].key.slotStart) {
                counts[partition(of: events[i].key.userID, bounds)] += 1
            }
        }
        var parts = counts.map { count in
            var keys: [SortKey] = []
            keys.reserveCapacity(count)
            return keys
        }
        var outsideWindow = 0
        for (b, events) in buffers.enumerated() {
            for i in events.indices {
                let key = events[i].key
                if window.contains(key.slotStart) {
                    parts[partition(of: key.userID, bounds)].append(
                        SortKey(key: key, time: events[i].time, kind: events[i].kind, batch: b, index: i))
                } else {
                    outsideWindow += 1
                }
            }
        }
        return (parts, outsideWindow)
    }

    /// Sorts one range's keys in fold order; returns the number of slots (distinct keys) in it.
    static func sortInFoldOrder(_ order: inout [SortKey], _ events: EventBuffers) -> Int {
        order.sort { a, b in
            if a.user != b.user { return a.user < b.user }
            if a.start != b.start { return a.start < b.start }
            if a.time != b.time { return a.time < b.time }
            if a.kind != b.kind { return a.kind < b.kind }
            return SlotEvent.foldOrder(events[a].pointee, events[b].pointee)
        }
        var keys = 0
        for i in order.indices where i == 0 || order[i].user != order[i - 1].user || order[i].start != order[i - 1].start {
            keys += 1
        }
        return keys
    }

    /// Folds one range's sorted keys, writing its slots at `out`; returns how many it wrote.
    static func foldSorted(
        _ order: [SortKey], _ events: EventBuffers, into out: UnsafeMutablePointer<FoldedSlot>, _ result: inout FoldResult
    ) -> Int {
        var written = 0
        order.withUnsafeBufferPointer { order in
            var start = 0
            while start < order.count {
                var end = start + 1
                while end < order.count, order[end].user == order[start].user, order[end].start == order[start].start { end += 1 }
                let slot = UnsafeBufferPointer(rebasing: order[start..<end])
                if let folded = foldKey(slot, events, into: &result) {
                    (out + written).initialize(to: folded)
                    written += 1
                }
                if events.consume {
                    for key in slot { events[key].pointee = .spent }
                }
                start = end
            }
        }
        return written
    }

    /// User ids that split the window's events into about `partitions` ranges of similar size:
    /// range `p` holds the users below `bounds[p]` (and at or above `bounds[p - 1]`). Empty for
    /// one range.
    static func userBounds(_ buffers: [UnsafeMutableBufferPointer<SlotEvent>], window: Window, partitions: Int) -> [Int64] {
        let count = buffers.reduce(0) { $0 + $1.count }
        guard partitions > 1, count >= 4096 else { return [] }
        let step = max(1, count / 4096)
        var sample: [Int64] = []
        for events in buffers {
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

        init(key: SlotKey, time: Timestamp, kind: SlotEvent.Kind, batch: Int, index: Int) {
            user = key.userID
            start = key.slotStart.microseconds
            self.time = time.microseconds
            self.kind = kind.rawValue
            self.batch = UInt16(batch)
            self.index = UInt32(index)
        }
    }

    /// Applies one slot's events, already in fold order: the version it ends with, if any.
    ///
    /// In two passes, so that the version is built once: the first finds the event that made
    /// the last version (and reports duplicates, orphans and the last deletion in order), the
    /// second applies the processed events that follow it.
    static func foldKey(
        _ slot: UnsafeBufferPointer<SortKey>, _ events: EventBuffers, into result: inout FoldResult
    ) -> FoldedSlot? {
        var made: Int?          // the position in `slot` of the event that made the current version
        var deletion: Int?
        for j in slot.indices {
            let event = events[slot[j]]
            switch SlotEvent.Kind(rawValue: slot[j].kind)! {
            case .snapshotRow:
                made = j
                deletion = nil
            case .upload:
                if let first = firstUpload(withRequestOf: j, slot, events) {
                    result.duplicates.append(IgnoredEvent(
                        key: event.pointee.key, location: event.pointee.location, firstSeen: events[slot[first]].pointee.location))
                    continue
                }
                made = j
                deletion = nil
            case .processed:
                if made == nil {
                    result.orphans.append(IgnoredEvent(key: event.pointee.key, location: event.pointee.location, firstSeen: nil))
                }
            case .deleted:
                made = nil
                deletion = j
            }
        }
        guard let made else {
            if let deletion {
                let event = events[slot[deletion]]
                result.deleted.append(DeletedSlot(key: event.pointee.key, location: event.pointee.location))
            }
            return nil
        }
        // Every processed event after the version applies to it; uploads after it are repeats.
        var processed = 0
        for j in (made + 1)..<slot.count where slot[j].kind == SlotEvent.Kind.processed.rawValue { processed += 1 }
        var provenance: [Provenance] = []
        provenance.reserveCapacity(1 + processed)
        let origin = events[slot[made]]
        provenance.append(Provenance(
            kind: slot[made].kind == SlotEvent.Kind.snapshotRow.rawValue ? .snapshot : .log, location: origin.pointee.location))
        var version: TimeSlot
        switch origin.pointee.payload {
        case .snapshotRow(let row):
            version = row
        case .upload(let upload):
            version = TimeSlot(
                key: origin.pointee.key, projectID: upload.projectID, taskID: upload.taskID,
                durationMinutes: upload.durationMinutes, status: .pending, activityLevel: nil,
                keystrokes: upload.keystrokes, mouseEvents: upload.mouseEvents,
                activeApps: upload.activeApps, screenshotKey: upload.screenshotKey, note: upload.note)
        case .processed, .deleted:
            preconditionFailure("a version is made by a snapshot row or an upload")
        }
        for j in (made + 1)..<slot.count where slot[j].kind == SlotEvent.Kind.processed.rawValue {
            let event = events[slot[j]]
            if case .processed(let status, let activityLevel) = event.pointee.payload {
                version.status = status
                version.activityLevel = activityLevel
            }
            provenance.append(Provenance(kind: .log, location: event.pointee.location))
        }
        return FoldedSlot(slot: version, provenance: provenance)
    }

    /// The first upload before position `j` of `slot` with the `request_id` of the upload at `j`.
    private static func firstUpload(
        withRequestOf j: Int, _ slot: UnsafeBufferPointer<SortKey>, _ events: EventBuffers
    ) -> Int? {
        // Most slots have one upload: the request id is read only when there is an earlier one.
        guard let earliest = (0..<j).first(where: { slot[$0].kind == SlotEvent.Kind.upload.rawValue }),
              case .upload(let upload) = events[slot[j]].pointee.payload
        else { return nil }
        for i in earliest..<j where slot[i].kind == SlotEvent.Kind.upload.rawValue {
            if case .upload(let earlier) = events[slot[i]].pointee.payload, earlier.requestID == upload.requestID { return i }
        }
        return nil
    }
}

/// The events being folded, in place: one buffer per batch. Sendable: each thread reads (and,
/// with `consume`, lets go of) the events of its own range of users only.
struct EventBuffers: @unchecked Sendable {
    let buffers: [UnsafeMutableBufferPointer<SlotEvent>]
    let consume: Bool

    init(_ buffers: [UnsafeMutableBufferPointer<SlotEvent>], consume: Bool) {
        self.buffers = buffers
        self.consume = consume
    }

    @inline(__always)
    subscript(key: SlotFold.SortKey) -> UnsafeMutablePointer<SlotEvent> {
        buffers[Int(key.batch)].baseAddress! + Int(key.index)
    }
}

/// Where the ranges write their slots. Sendable: each range writes its own part only.
private struct SlotOutput: @unchecked Sendable {
    let base: UnsafeMutablePointer<FoldedSlot>
    init(_ base: UnsafeMutablePointer<FoldedSlot>) { self.base = base }
}

extension SlotEvent {
    /// What a folded event is left as when the fold lets go of it: no strings, no box.
    static let spent = SlotEvent(
        key: SlotKey(userID: 0, slotStart: Timestamp(microseconds: 0)), time: Timestamp(microseconds: 0), host: "",
        location: SourceLocation(file: "", line: 0), payload: .deleted)
}

/// The ranges' sort keys, sorted and folded by the thread of each range, and their results.
private final class FoldRanges: @unchecked Sendable {
    // Sendable: each index of the buffers is touched by one thread at a time: the thread of its
    // range during `sort` and `fold`, the caller before, between and after them. The buffers are
    // allocated here, so that no array is accessed from two threads at once.
    private let keys: UnsafeMutableBufferPointer<[SlotFold.SortKey]>
    private let folded: UnsafeMutableBufferPointer<FoldResult>
    private let slotCounts: UnsafeMutableBufferPointer<Int>
    private let writtenCounts: UnsafeMutableBufferPointer<Int>

    init(_ parts: [[SlotFold.SortKey]]) {
        keys = .allocate(capacity: parts.count)
        _ = keys.initialize(from: parts)
        folded = .allocate(capacity: parts.count)
        folded.initialize(repeating: FoldResult())
        slotCounts = .allocate(capacity: parts.count)
        slotCounts.initialize(repeating: 0)
        writtenCounts = .allocate(capacity: parts.count)
        writtenCounts.initialize(repeating: 0)
    }

    deinit {
        keys.deinitialize().deallocate()
        folded.deinitialize().deallocate()
        slotCounts.deallocate()
        writtenCounts.deallocate()
    }

    /// Sorts range `i` in fold order and counts its slots.
    func sort(_ i: Int, _ events: EventBuffers) {
        slotCounts[i] = SlotFold.sortInFoldOrder(&keys[i], events)
    }

    /// Each range's number of slots, once sorted.
    var slots: [Int] { Array(slotCounts) }

    /// Folds range `i` into `out`, then lets go of its sort keys.
    func fold(_ i: Int, _ events: EventBuffers, into out: UnsafeMutablePointer<FoldedSlot>) {
        writtenCounts[i] = SlotFold.foldSorted(keys[i], events, into: out, &folded[i])
        keys[i] = []
    }

    /// The number of slots range `i` wrote.
    func written(_ i: Int) -> Int { writtenCounts[i] }

    /// The results (deletions, duplicates, orphans) in range order, moved out.
    func results() -> [FoldResult] {
        let all = Array(folded)
        for i in folded.indices { folded[i] = FoldResult() }
        return all
    }
}
