import Dispatch
import Foundation
import RecoveryModel

/// Folds every source's events into one version per slot (CONTRACT §5.2).
///
/// Events are grouped by slot and applied in `SlotEvent.foldOrder`: time, then snapshot row,
/// upload, processed, deletion, then host, file name and line. The result is sorted by key and does
/// not depend on the order of `events`.
public enum SlotFold {
    /// Folds `events` (as values of their own: tests, `explain`).
    public static func fold(
        _ events: [SlotEvent], window: Window, partitions: Int = 4 * ProcessInfo.processInfo.activeProcessorCount
    ) -> FoldResult {
        var batches = EventBatch.batches(events)
        return fold(taking: &batches, window: window, partitions: partitions)
    }

    /// Folds the events of every batch as one, taking the batches over (`batches` is left empty):
    /// each batch's events are let go once copied into the ranges to sort, and each range's once
    /// its last piece is folded (the range folded last lets them go with the batches), so the
    /// events and the result are not all in memory at once. `partitions` is the number of user
    /// ranges: four per core by default, so that most ranges' events are let go before the last
    /// ranges' slots are made.
    ///
    /// Ranges of users, on every core, are sorted at once, then folded in pieces of whole keys
    /// (about four a range, `FoldPiece`), each piece placed in order as soon as those before it
    /// are; each piece's result is sorted by key, so the pieces' results in order are the whole
    /// result, whatever the split.
    /// The events sorted are the batches' own 40-byte values, with their batch number in their
    /// tag: the fold reads them in order, and looks at a batch only for a version's fields, a
    /// location's file, or the host and file of two events of one slot, time and kind.
    ///
    /// `releasingInBackground`: the batches (their versions and texts, most of the memory left
    /// once the events are copied) are let go on another thread, while the caller goes on with the
    /// slots; otherwise before the call returns.
    public static func fold(
        taking batches: inout [EventBatch], window: Window, partitions: Int = 4 * ProcessInfo.processInfo.activeProcessorCount,
        releasingInBackground: Bool = false
    ) -> FoldResult {
        fold(taking: &batches, window: window, partitions: partitions, piecesPerRange: 4, releasingInBackground: releasingInBackground)
    }

    /// As `fold(taking:window:partitions:releasingInBackground:)`, each range folded in about
    /// `piecesPerRange` pieces (`FoldPiece`).
    static func fold(
        taking batches: inout [EventBatch], window: Window, partitions: Int, piecesPerRange: Int, releasingInBackground: Bool
    ) -> FoldResult {
        precondition(batches.count < 1 << 30, "more than 2^30 sources")
        let bounds = userBounds(batches, window: window, partitions: max(1, partitions))
        let (parts, capacity, outsideWindow) = rangeEvents(&batches, window: window, bounds: bounds)
        let ranges = FoldRanges(parts, capacity: capacity, piecesPerRange: piecesPerRange)
        let held = HeldBatches(batches)
        batches = []
        defer {
            // With the last range's events (`FoldRanges.fold`).
            if releasingInBackground {
                DispatchQueue.global().async {
                    held.release()
                    ranges.releaseEvents()
                }
            } else {
                held.release()
                ranges.releaseEvents()
            }
        }
        return Batches.with(held.batches) { sources in
            // Sorted at once; then each range's slot count is known, and the ranges fold at once
            // into one array made at its final size (no merge, no copy of the folded slots).
            DispatchQueue.concurrentPerform(iterations: bounds.count + 1) { p in ranges.sort(p, sources) }
            // Then each range folds in pieces (`FoldPiece`), so that no range is left to fold
            // alone on one core at the end.
            let pieces = ranges.pieces()
            let slots = Array<FoldedSlot>(unsafeUninitializedCapacity: pieces.last?.slots.upperBound ?? 0) { slots, initialized in
                guard let base = slots.baseAddress else { return }
                let out = SlotOutput(base)
                let placing = PiecePlacing(pieces: pieces.count)
                DispatchQueue.concurrentPerform(iterations: pieces.count) { i in
                    let start = pieces[i].slots.lowerBound
                    ranges.fold(pieces[i], i, sources, into: out.base + start)
                    placing.folded(i) { i, end in
                        // Closes the gap the deleted slots of the pieces before left, moving (not
                        // copying) the piece down, while later pieces fold: it moves below
                        // `start + written`, where no later piece writes.
                        let written = ranges.written(i)
                        let start = pieces[i].slots.lowerBound
                        if end != start { (out.base + end).moveInitialize(from: out.base + start, count: written) }
                        ranges.placeFindings(i)
                        return written
                    }
                }
                initialized = placing.end
            }
            var result = ranges.findings()
            result.slots = slots
            result.outsideWindow += outsideWindow
            return result
        }
    }

    typealias Event = EventBatch.Event

    /// Each range's events in the window, with their batch number in their tag, and the number
    /// of events outside. Each batch's events are let go once copied. The ranges' buffers are
    /// the caller's to deallocate; each can hold `capacity` events, the largest range's count
    /// (the pages past a range's own events are never touched), so that any can take another's
    /// events once sorted (`SortBuffers`).
    ///
    /// On every core: the batches are cut into pieces of `pieceEvents` events; each piece's
    /// events are counted by range, then copied to their range at the place the pieces before
    /// it leave (each range holds its events in batch order, then in the batch's order, as one
    /// thread would put them).
    private static func rangeEvents(
        _ batches: inout [EventBatch], window: Window, bounds: [Int64]
    ) -> (parts: [UnsafeMutableBufferPointer<Event>], capacity: Int, outsideWindow: Int) {
        let ranges = bounds.count + 1
        let pieces = batches.indices.flatMap { b in
            let count = batches[b].events.count
            return stride(from: 0, to: count, by: pieceEvents).map { Piece(batch: b, events: $0..<min(count, $0 + pieceEvents)) }
        }
        // Each range's buffer made at its final size, counted first: grown by doubling, the events
        // would take up to twice their size while the batches still hold them.
        // `places[i * ranges + p]`: how many of piece i's events go to range p, then where they go.
        let places = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, pieces.count * ranges))
        places.initialize(repeating: 0)
        defer { places.deallocate() }
        let shared = RangeScatter(places: places, outside: .allocate(capacity: max(1, pieces.count)))
        defer { shared.outside.deallocate() }
        batches.withUnsafeBufferPointer { batches in
            let read = BatchList(batches)
            DispatchQueue.concurrentPerform(iterations: pieces.count) { i in
                let piece = pieces[i]
                read.batches[piece.batch].events.withUnsafeBufferPointer { events in
                    let counts = shared.places + i * ranges
                    for e in UnsafeBufferPointer(rebasing: events[piece.events]) where window.contains(microseconds: e.slotStart) {
                        counts[partition(of: e.userID, bounds)] += 1
                    }
                }
            }
        }
        var totals = Array(repeating: 0, count: ranges)
        for i in pieces.indices {
            for p in 0..<ranges {
                let count = places[i * ranges + p]
                places[i * ranges + p] = totals[p]
                totals[p] += count
            }
        }
        let capacity = max(1, totals.max()!)
        let parts = totals.map { UnsafeMutableBufferPointer(start: UnsafeMutablePointer<Event>.allocate(capacity: capacity), count: $0) }
        // A batch's events are let go by the thread that copies its last piece.
        var piecesLeft = Array(repeating: 0, count: batches.count)
        for piece in pieces { piecesLeft[piece.batch] += 1 }
        let left = PiecesLeft(piecesLeft)
        let out = PartBases(parts.map { $0.baseAddress! })
        batches.withUnsafeMutableBufferPointer { batches in
            let write = BatchList(batches)
            DispatchQueue.concurrentPerform(iterations: pieces.count) { i in
                let piece = pieces[i]
                let tag = UInt32(piece.batch) << 2
                let filled = shared.places + i * ranges
                var outside = 0
                write.batches[piece.batch].events.withUnsafeBufferPointer { events in
                    for var e in UnsafeBufferPointer(rebasing: events[piece.events]) {
                        if window.contains(microseconds: e.slotStart) {
                            e.tag = tag | (e.tag & 3)
                            let p = partition(of: e.userID, bounds)
                            (out.bases[p] + filled[p]).initialize(to: e)
                            filled[p] += 1
                        } else {
                            outside += 1
                        }
                    }
                }
                shared.outside[i] = outside
                if left.finished(piece.batch) { write.mutableBatches[piece.batch].events = [] }
            }
        }
        let outsideWindow = (0..<pieces.count).reduce(0) { $0 + shared.outside[$1] }
        return (parts, capacity, outsideWindow)
    }

    /// How many events a piece of a batch holds at most (`rangeEvents`): 2.5 MiB of events.
    static let pieceEvents = 1 << 16

    /// Events `events` of batch `batch`.
    private struct Piece {
        var batch: Int
        var events: Range<Int>
    }

    /// Sorts one range's events in fold order; returns the number of slots (distinct keys) in it.
    ///
    /// The order is the one a stable sort by `inFoldOrder` makes: events equal in it stay in the
    /// order given. The events are put in key order by a radix sort of their keys packed into
    /// integers with their position (`sortByKey`), then each key's few events are sorted by time,
    /// kind and tie (`sortWithinKeys`). Keys that do not pack (users or slot starts too far
    /// apart) are sorted by `inFoldOrder` alone.
    ///
    /// `order` may come back as another of `buffers`' buffers; the one it was is then theirs.
    /// `marks` gets the starts of the keys it asks for (`KeyMarks`).
    static func sortInFoldOrder(
        _ order: inout UnsafeMutableBufferPointer<Event>, _ batches: Batches, _ buffers: SortBuffers, marks: inout KeyMarks
    ) -> Int {
        guard order.count > 1 else { return order.count }
        if sortByKey(&order, buffers) { return sortWithinKeys(order, batches, marks: &marks) }
        var order = order
        order.sort { a, b in inFoldOrder(a, b, batches) }
        var keys = 1
        for i in order.indices.dropFirst() where order[i].userID != order[i - 1].userID || order[i].slotStart != order[i - 1].slotStart {
            marks.key(startsAt: i, keysBefore: keys)
            keys += 1
        }
        return keys
    }

    /// The starts of some keys of a sorted range, where it is cut into pieces to fold apart: the
    /// first key starting at or after each `step` events past the last mark.
    struct KeyMarks {
        /// The events a piece starts at, and the keys (slots) before them; the first at 0.
        private(set) var starts: [(event: Int, keysBefore: Int)] = [(0, 0)]
        private var next: Int
        private let step: Int

        /// Marks about `pieces` pieces of `events` events.
        init(events: Int, pieces: Int) {
            step = max(1, (events + pieces - 1) / max(1, pieces))
            next = step
        }

        @inline(__always)
        mutating func key(startsAt event: Int, keysBefore: Int) {
            guard event >= next else { return }
            starts.append((event, keysBefore))
            next = event + step
        }
    }

    /// The fold order of two events (CONTRACT §5.2): key, time, kind, then host, file and line.
    @inline(__always)
    static func inFoldOrder(_ a: Event, _ b: Event, _ batches: Batches) -> Bool {
        if a.userID != b.userID { return a.userID < b.userID }
        if a.slotStart != b.slotStart { return a.slotStart < b.slotStart }
        return inFoldOrderWithinKey(a, b, batches)
    }

    /// The fold order of two events of one key: time, kind, then host, file and line.
    @inline(__always)
    static func inFoldOrderWithinKey(_ a: Event, _ b: Event, _ batches: Batches) -> Bool {
        if a.time != b.time { return a.time < b.time }
        if a.tag & 3 != b.tag & 3 { return a.tag & 3 < b.tag & 3 }
        return batches.tieOrder(a, b)
    }

    /// How the keys of a range's events pack into integers, with the events' positions below
    /// them: a user's and a slot start's distances from the range's least, in as few bits as
    /// they need (slot starts that are all multiples of 10 minutes as slot numbers).
    struct KeyPacking {
        static let slotMicroseconds: Int64 = 600_000_000
        static let sign: UInt64 = 1 << 63  // Int64 to UInt64, keeping the order

        let leastUser: UInt64
        let leastStart: UInt64
        let slotNumbers: Bool
        let startBits: Int
        let keyBits: Int
        let positionBits: Int

        /// Nil when the keys and the positions do not fit in 64 bits together.
        init?(_ events: UnsafeBufferPointer<Event>) {
            var minUser = UInt64.max, maxUser = UInt64.min, minStart = UInt64.max, maxStart = UInt64.min
            var aligned = true
            for e in events {
                let user = UInt64(bitPattern: e.userID) ^ Self.sign, start = UInt64(bitPattern: e.slotStart) ^ Self.sign
                minUser = min(minUser, user)
                maxUser = max(maxUser, user)
                minStart = min(minStart, start)
                maxStart = max(maxStart, start)
                if e.slotStart % Self.slotMicroseconds != 0 { aligned = false }
            }
            func bits(_ x: UInt64) -> Int { UInt64.bitWidth - x.leadingZeroBitCount }
            leastUser = minUser
            leastStart = minStart
            slotNumbers = aligned
            startBits = bits(aligned ? (maxStart - minStart) / UInt64(Self.slotMicroseconds) : maxStart - minStart)
            keyBits = bits(maxUser &- minUser) + startBits
            positionBits = bits(UInt64(max(1, events.count) - 1))
            guard events.isEmpty || keyBits + positionBits <= 64 else { return nil }
        }

        @inline(__always)
        func key(_ e: Event, position: Int) -> UInt64 {
            let user = (UInt64(bitPattern: e.userID) ^ Self.sign) - leastUser
            var start = (UInt64(bitPattern: e.slotStart) ^ Self.sign) - leastStart
            if slotNumbers { start /= UInt64(Self.slotMicroseconds) }
            return (user << startBits | start) << positionBits | UInt64(position)
        }
    }

    /// Sorts `events` stably by key (user, then slot start); false, leaving them as they were,
    /// when the keys do not pack (`KeyPacking`).
    ///
    /// A least-significant-digit radix sort of the packed keys (11 bits at a time, stable), then
    /// the events copied in that order to one of `buffers`' buffers, which `events` becomes; the
    /// buffer they were in is given to `buffers`. (Moved in place instead, a cycle of the
    /// permutation at a time, each move waits for the last one's read: several times slower.)
    static func sortByKey(_ events: inout UnsafeMutableBufferPointer<Event>, _ buffers: SortBuffers) -> Bool {
        let n = events.count
        guard let packing = KeyPacking(UnsafeBufferPointer(events)) else { return false }
        let keyBuffer = buffers.takeKeys(), scratchBuffer = buffers.takeKeys()
        defer {
            buffers.giveKeys(keyBuffer)
            buffers.giveKeys(scratchBuffer)
        }
        var keys = UnsafeMutableBufferPointer(start: keyBuffer, count: n)
        var scratch = UnsafeMutableBufferPointer(start: scratchBuffer, count: n)
        for i in 0..<n { keys[i] = packing.key(events[i], position: i) }
        if radixSort(keys, scratch, from: packing.positionBits, bits: packing.keyBits) { swap(&keys, &scratch) }
        let mask: UInt64 = packing.positionBits == 64 ? .max : (1 << UInt64(packing.positionBits)) - 1
        let sorted = buffers.takeEvents()
        for j in 0..<n { (sorted + j).initialize(to: events[Int(keys[j] & mask)]) }
        buffers.giveEvents(events.baseAddress!)
        events = UnsafeMutableBufferPointer(start: sorted, count: n)
        return true
    }

    /// Sorts `keys` stably by their bits `low..<low + bits`, 11 at a time from the lowest, using
    /// `scratch` (as many); true when the sorted keys ended in `scratch`.
    static func radixSort(
        _ keys: UnsafeMutableBufferPointer<UInt64>, _ scratch: UnsafeMutableBufferPointer<UInt64>, from low: Int, bits: Int
    ) -> Bool {
        let n = keys.count
        guard n > 1, bits > 0 else { return false }
        let digitBits = 11, buckets = 1 << 11
        let digits = (bits + digitBits - 1) / digitBits
        var counts = [Int](repeating: 0, count: digits * buckets)
        var inScratch = false
        counts.withUnsafeMutableBufferPointer { counts in
            let last = low + bits
            for key in keys {
                for d in 0..<digits {
                    let shift = low + d * digitBits
                    let width = min(digitBits, last - shift)
                    counts[d * buckets + Int((key >> UInt64(shift)) & ((1 << UInt64(width)) - 1))] += 1
                }
            }
            for d in 0..<digits {
                let shift = low + d * digitBits
                let width = min(digitBits, last - shift)
                let mask: UInt64 = (1 << UInt64(width)) - 1
                let count = UnsafeMutableBufferPointer(rebasing: counts[(d * buckets)..<(d * buckets + buckets)])
                // A digit that every key shares moves nothing.
                if count.contains(n) { continue }
                var sum = 0
                for b in count.indices {
                    let c = count[b]
                    count[b] = sum
                    sum += c
                }
                let (from, to) = inScratch ? (scratch, keys) : (keys, scratch)
                for key in from {
                    let b = Int((key >> UInt64(shift)) & mask)
                    to[count[b]] = key
                    count[b] += 1
                }
                inScratch.toggle()
            }
        }
        return inScratch
    }

    /// Sorts the events of each key (the events already in key order) in fold order, keeping
    /// the order given for events equal in it; returns the number of keys.
    static func sortWithinKeys(_ order: UnsafeMutableBufferPointer<Event>, _ batches: Batches, marks: inout KeyMarks) -> Int {
        do {
            var keys = 0
            var start = 0
            while start < order.count {
                var end = start + 1
                while end < order.count, order[end].userID == order[start].userID, order[end].slotStart == order[start].slotStart {
                    end += 1
                }
                marks.key(startsAt: start, keysBefore: keys)
                keys += 1
                if end - start <= 32 {
                    // A key has a few events: an insertion sort, moving past greater events only.
                    for i in (start + 1)..<end {
                        let e = order[i]
                        var j = i
                        while j > start, inFoldOrderWithinKey(e, order[j - 1], batches) {
                            order[j] = order[j - 1]
                            j -= 1
                        }
                        if j != i { order[j] = e }
                    }
                } else {
                    var events = UnsafeMutableBufferPointer(rebasing: order[start..<end])
                    events.sort { a, b in inFoldOrderWithinKey(a, b, batches) }
                }
                start = end
            }
            return keys
        }
    }

    /// Folds one range's sorted events, writing its slots at `out`; returns how many it wrote.
    static func foldSorted(
        _ order: UnsafeBufferPointer<Event>, _ batches: Batches, into out: UnsafeMutablePointer<FoldedSlot>, _ result: inout FoldResult
    ) -> Int {
        var written = 0
        do {
            var start = 0
            var touched = 0
            while start < order.count {
                if start >= touched {
                    touched = min(order.count, start + touchAhead)
                    touchVersions(UnsafeBufferPointer(rebasing: order[start..<touched]), batches)
                }
                var end = start + 1
                while end < order.count, order[end].userID == order[start].userID, order[end].slotStart == order[start].slotStart {
                    end += 1
                }
                if foldKey(UnsafeBufferPointer(rebasing: order[start..<end]), batches, into: &result, out + written) {
                    written += 1
                }
                start = end
            }
        }
        return written
    }

    /// User ids that split the window's events into about `partitions` ranges of similar size:
    /// range `p` holds the users below `bounds[p]` (and at or above `bounds[p - 1]`). Empty for
    /// one range.
    static func userBounds(_ batches: [EventBatch], window: Window, partitions: Int) -> [Int64] {
        let count = batches.reduce(0) { $0 + $1.events.count }
        guard partitions > 1, count >= 4096 else { return [] }
        let step = max(1, count / 4096)
        var sample: [Int64] = []
        for batch in batches {
            let events = batch.events
            for i in stride(from: 0, to: events.count, by: step) where window.contains(Timestamp(microseconds: events[i].slotStart)) {
                sample.append(events[i].userID)
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

    /// How many events ahead of the fold `touchVersions` reads.
    static let touchAhead = 64

    /// Reads (`Batches.touch`) what `Batches.version` will read of each upload or snapshot row
    /// of `events`, so that the fold finds it in cache: the versions are in file order and the
    /// events in key order, and these reads, independent of each other, wait for memory side by
    /// side where the fold's would wait one after another.
    static func touchVersions(_ events: UnsafeBufferPointer<Event>, _ batches: Batches) {
        var sum: UInt8 = 0
        for e in events where e.kind == .snapshotRow || e.kind == .upload { sum &+= batches.touch(e) }
        keep(sum)
    }

    /// Takes a value so that the reads that made it are not optimized away.
    @_optimize(none) @inline(never)
    static func keep(_ value: UInt8) {}

    /// Applies one slot's events, already in fold order: the version it ends with, if any.
    ///
    /// In two passes, so that the version is built once: the first finds the event that made
    /// the last version (and reports duplicates, orphans and the last deletion in order), the
    /// second applies the processed events that follow it.
    ///
    /// The version is made at `out` (true), or not at all (false): handed back as a value, it
    /// was copied and destroyed on its way (a retain and a release of each array and string).
    static func foldKey(
        _ slot: UnsafeBufferPointer<Event>, _ batches: Batches, into result: inout FoldResult, _ out: UnsafeMutablePointer<FoldedSlot>
    ) -> Bool {
        var made: Int?          // the position in `slot` of the event that made the current version
        var deletion: Int?
        for j in slot.indices {
            switch slot[j].kind {
            case .snapshotRow:
                made = j
                deletion = nil
            case .upload:
                if let first = firstUpload(withRequestOf: j, slot, batches) {
                    result.duplicates.append(IgnoredEvent(
                        key: slot[j].key, location: batches.location(slot[j]), firstSeen: batches.location(slot[first])))
                    continue
                }
                made = j
                deletion = nil
            case .processed:
                if made == nil {
                    result.orphans.append(IgnoredEvent(key: slot[j].key, location: batches.location(slot[j]), firstSeen: nil))
                }
            case .deleted:
                made = nil
                deletion = j
            }
        }
        guard let made else {
            if let deletion {
                result.deleted.append(DeletedSlot(key: slot[deletion].key, location: batches.location(slot[deletion])))
            }
            return false
        }
        // Every processed event after the version applies to it; uploads after it are repeats.
        let origin = slot[made]
        let first = Provenance(kind: origin.kind == .snapshotRow ? .snapshot : .log, location: batches.location(origin))
        let applied = UnsafeBufferPointer(rebasing: slot[(made + 1)...])
        var provenance: [Provenance]
        var last: Event?
        // Most versions have one processed event or none: an array literal is made at its size
        // (`reserveCapacity` goes the long way round).
        switch applied.lazy.filter({ $0.kind == .processed }).count {
        case 0:
            provenance = [first]
        case 1:
            last = applied.first { $0.kind == .processed }!
            provenance = [first, Provenance(kind: .log, location: batches.location(last!))]
        case let processed:
            provenance = []
            provenance.reserveCapacity(1 + processed)
            provenance.append(first)
            for e in applied where e.kind == .processed {
                provenance.append(Provenance(kind: .log, location: batches.location(e)))
                last = e
            }
        }
        // Each processed event sets the status and the level: the last one's stay.
        out.initialize(to: FoldedSlot(slot: batches.version(origin, processed: last), provenance: provenance))
        return true
    }

    /// The first upload before position `j` of `slot` with the `request_id` of the upload at `j`.
    private static func firstUpload(withRequestOf j: Int, _ slot: UnsafeBufferPointer<Event>, _ batches: Batches) -> Int? {
        // Most slots have one upload: the request id is read only when there is an earlier one.
        guard let earliest = (0..<j).first(where: { slot[$0].kind == .upload }) else { return nil }
        let upload = slot[j]
        let version = batches[upload].versions[Int(upload.payload)]
        for i in earliest..<j where slot[i].kind == .upload {
            let earlier = batches[slot[i]]
            if earlier.sameRequestID(earlier.versions[Int(slot[i].payload)], version, in: batches[upload]) { return i }
        }
        return nil
    }
}

/// The batches being folded, read by every range's thread, in place: a batch is never copied
/// (a copy retains its arrays and its source). Sendable: nothing writes them while the ranges
/// sort and fold.
struct Batches: @unchecked Sendable {
    private let base: UnsafePointer<EventBatch>

    private init(_ base: UnsafePointer<EventBatch>) { self.base = base }

    /// Calls `body` with `batches`, held in memory of their own for the call.
    static func with<R>(_ batches: [EventBatch], _ body: (Batches) throws -> R) rethrows -> R {
        let storage = UnsafeMutablePointer<EventBatch>.allocate(capacity: max(1, batches.count))
        _ = UnsafeMutableBufferPointer(start: storage, count: batches.count).initialize(fromContentsOf: batches)
        defer { storage.deinitialize(count: batches.count).deallocate() }
        return try body(Batches(storage))
    }

    /// The batch of a sorted event (its number is in its tag).
    @inline(__always)
    subscript(event: EventBatch.Event) -> EventBatch {
        unsafeAddress { base + Int(event.tag >> 2) }
    }

    /// The version the upload or snapshot row `event` makes (`EventBatch.slot`), read in place,
    /// as the fold keeps it: without its screenshot key, as a recovered slot has none
    /// (CONTRACT §5.6). (Made for every slot of the window, the key's text would be a string
    /// allocated, checked and later freed per slot, for nothing.) With the status and level of
    /// `processed`, the last processed event applied to it, when there is one. (Set after the
    /// version is made, they cost a copy of it.)
    @inline(__always)
    func version(_ event: EventBatch.Event, processed: EventBatch.Event?) -> TimeSlot {
        let batch = base + Int(event.tag >> 2)
        let version = batch.pointee.versions[Int(event.payload)]
        let status: SlotStatus, level: Int16?
        if let processed {
            (status, level) = processed.processed
        } else {
            status = event.kind == .snapshotRow ? SlotStatus.allCases[Int(version.status)] : .pending
            level = version.flags.contains(.activityLevel) ? version.activityLevel : nil
        }
        return TimeSlot(
            key: event.key, projectID: version.projectID, taskID: version.flags.contains(.task) ? version.taskID : nil,
            durationMinutes: version.durationMinutes, status: status, activityLevel: level,
            keystrokes: version.keystrokes, mouseEvents: version.mouseEvents, activeApps: batch.pointee.appLists[Int(version.apps)],
            screenshotKey: nil, note: version.flags.contains(.note) ? Self.note(version, batch) : nil,
            updatedAt: version.flags.contains(.updatedAt) ? Timestamp(microseconds: version.updatedAt) : nil)
    }

    /// Reads the first bytes of what `version(event, processed:)` reads: the version, and its
    /// note's first byte when it has one (most have none: the texts are read for the note only);
    /// returns something made of them, for the caller to keep so that the reads are not left out.
    @inline(__always)
    func touch(_ event: EventBatch.Event) -> UInt8 {
        let batch = base + Int(event.tag >> 2)
        let version = batch.pointee.versions[Int(event.payload)]
        let sum = UInt8(truncatingIfNeeded: version.projectID)
        guard version.noteCount > 0 else { return sum }
        return sum &+ batch.pointee.text[version.noteStart]
    }

    /// `EventBatch.note` of `version`, read in place (a method of the batch called through its
    /// pointer copies it, retaining and releasing its arrays).
    private static func note(_ version: EventBatch.Version, _ batch: UnsafePointer<EventBatch>) -> String {
        let start = version.noteStart
        return batch.pointee.text.withUnsafeBytes { text in
            String(decoding: UnsafeRawBufferPointer(rebasing: text[start..<(start + Int(version.noteCount))]), as: UTF8.self)
        }
    }

    func location(_ event: EventBatch.Event) -> SourceLocation {
        SourceLocation(file: self[event].source, line: Int(event.line))
    }

    /// `SlotEvent.tieOrder` of two events of one slot, time and kind.
    func tieOrder(_ a: EventBatch.Event, _ b: EventBatch.Event) -> Bool {
        if a.tag >> 2 == b.tag >> 2 && a.host == b.host { return a.line < b.line }
        return SlotEvent.tieOrder(
            host: self[a].hosts[Int(a.host)], file: self[a].source, line: Int(a.line),
            self[b].hosts[Int(b.host)], self[b].source, Int(b.line))
    }
}

/// Where the ranges write their slots. Sendable: each range writes its own part only.
private struct SlotOutput: @unchecked Sendable {
    let base: UnsafeMutablePointer<FoldedSlot>
    init(_ base: UnsafeMutablePointer<FoldedSlot>) { self.base = base }
}

/// The batches a fold reads, until it lets them go (`release`), on its thread or another.
private final class HeldBatches: @unchecked Sendable {
    // Sendable: `batches` is read by the fold, then emptied by one thread, once the fold is done.
    private(set) var batches: [EventBatch]

    init(_ batches: [EventBatch]) { self.batches = batches }

    func release() { batches = [] }
}

/// Places the folded pieces, in order, each as soon as it and every piece before it are folded:
/// the thread that folds a piece places it and any later pieces already folded, one thread
/// placing at a time, so that only the pieces folded last are placed after the fold.
private final class PiecePlacing: @unchecked Sendable {
    // Sendable: `done`, `next`, `placing` and `placed` are only touched under `lock`; `end` is
    // written by the one placing thread, and read after every range is placed.
    private let lock = NSLock()
    private var done: [Bool]
    private var next = 0
    private var placing = false
    /// Where the next piece's slots go: the slots of the pieces placed.
    private(set) var end = 0

    init(pieces: Int) { done = Array(repeating: false, count: pieces) }

    /// Records piece `p` folded; then, unless another thread is placing, places the pieces ready
    /// in order: `place(piece, end)` moves the piece's slots to `end` and returns their count.
    func folded(_ p: Int, place: (Int, Int) -> Int) {
        lock.lock()
        done[p] = true
        guard !placing else { return lock.unlock() }
        placing = true
        while next < done.count, done[next] {
            let range = next
            lock.unlock()
            end += place(range, end)
            lock.lock()
            next = range + 1
        }
        placing = false
        lock.unlock()
    }
}

/// Buffers the ranges' sorts write in, lent to the ranges in turn: memory that one range wrote
/// (its keys, the buffer its events were sorted from) is used again by the next, where fresh
/// memory would cost a zeroed page each 4 KiB.
final class SortBuffers: @unchecked Sendable {
    // Sendable: the free lists are only touched under `lock`; a buffer lent is used by one thread.
    /// How many events, or keys, each buffer holds.
    let capacity: Int
    private let lock = NSLock()
    private var keys: [UnsafeMutablePointer<UInt64>] = []
    private var events: [UnsafeMutablePointer<EventBatch.Event>] = []

    init(capacity: Int) { self.capacity = max(1, capacity) }

    deinit {
        for buffer in keys { buffer.deallocate() }
        for buffer in events { buffer.deallocate() }
    }

    /// A buffer of `capacity` keys.
    func takeKeys() -> UnsafeMutablePointer<UInt64> {
        lock.lock()
        defer { lock.unlock() }
        return keys.popLast() ?? .allocate(capacity: capacity)
    }

    func giveKeys(_ buffer: UnsafeMutablePointer<UInt64>) {
        lock.lock()
        keys.append(buffer)
        lock.unlock()
    }

    /// A buffer of `capacity` events, uninitialized (the events are plain values).
    func takeEvents() -> UnsafeMutablePointer<EventBatch.Event> {
        lock.lock()
        defer { lock.unlock() }
        return events.popLast() ?? .allocate(capacity: capacity)
    }

    /// Gives a buffer of at least `capacity` events, theirs to deallocate from then on.
    func giveEvents(_ buffer: UnsafeMutablePointer<EventBatch.Event>) {
        lock.lock()
        events.append(buffer)
        lock.unlock()
    }
}

/// The ranges' events, sorted by the thread of each range, then folded in pieces by the thread
/// of each piece, and the pieces' results.
private final class FoldRanges: @unchecked Sendable {
    // Sendable: each index of the buffers is touched by one thread at a time: the thread of its
    // range during `sort`, of its piece during `fold`, the caller before, between and after them;
    // `piecesLeft` and `rangesLeft` only under `lock`; `placed` by the placing thread, one at a
    // time (`PiecePlacing`). The buffers are allocated here, so that no array is accessed from
    // two threads at once.
    private let events: UnsafeMutableBufferPointer<UnsafeMutableBufferPointer<EventBatch.Event>>
    private let slotCounts: UnsafeMutableBufferPointer<Int>
    private let marks: UnsafeMutableBufferPointer<SlotFold.KeyMarks>
    private var folded: UnsafeMutableBufferPointer<FoldResult> = .init(start: nil, count: 0)
    private var writtenCounts: UnsafeMutableBufferPointer<Int> = .init(start: nil, count: 0)
    private var piecesLeft: [Int] = []
    private var rangesLeft = 0
    /// The findings of the pieces placed, in order (`placeFindings`).
    private var placed = FoldResult()
    private let lock = NSLock()
    private var buffers: SortBuffers?

    /// Takes the ranges' event buffers over.
    /// `capacity`: how many events each part's buffer can hold (`SortBuffers`); `piecesPerRange`:
    /// about how many pieces each range is folded in.
    init(_ parts: [UnsafeMutableBufferPointer<EventBatch.Event>], capacity: Int, piecesPerRange: Int) {
        buffers = SortBuffers(capacity: capacity)
        events = .allocate(capacity: parts.count)
        _ = events.initialize(from: parts)
        slotCounts = .allocate(capacity: parts.count)
        slotCounts.initialize(repeating: 0)
        marks = .allocate(capacity: parts.count)
        _ = marks.initialize(from: parts.map { SlotFold.KeyMarks(events: $0.count, pieces: piecesPerRange) })
    }

    deinit {
        for range in events { range.deallocate() }
        events.deinitialize().deallocate()
        slotCounts.deallocate()
        marks.deinitialize().deallocate()
        folded.deinitialize().deallocate()
        writtenCounts.deallocate()
    }

    /// Sorts range `i` in fold order, counts its slots and marks where its pieces start.
    func sort(_ i: Int, _ batches: Batches) {
        slotCounts[i] = SlotFold.sortInFoldOrder(&events[i], batches, buffers!, marks: &marks[i])
    }

    /// Once every range is sorted: lets go of the sorts' spare buffers, and returns the pieces to
    /// fold, in order, with the places of their slots in the result.
    func pieces() -> [FoldPiece] {
        buffers = nil
        var pieces: [FoldPiece] = []
        var offset = 0
        piecesLeft = Array(repeating: 0, count: events.count)
        for range in events.indices {
            let starts = marks[range].starts + [(events[range].count, slotCounts[range])]
            for j in starts.indices.dropLast() where starts[j].event < starts[j + 1].event {
                pieces.append(FoldPiece(
                    range: range, events: starts[j].event..<starts[j + 1].event,
                    slots: (offset + starts[j].keysBefore)..<(offset + starts[j + 1].keysBefore)))
                piecesLeft[range] += 1
            }
            if piecesLeft[range] > 0 { rangesLeft += 1 }
            offset += slotCounts[range]
        }
        folded = .allocate(capacity: pieces.count)
        folded.initialize(repeating: FoldResult())
        writtenCounts = .allocate(capacity: pieces.count)
        writtenCounts.initialize(repeating: 0)
        return pieces
    }

    /// Folds `piece`, the `i`th, into `out`; then, if it was its range's last piece folded, and
    /// another range is still folding, lets go of the range's events.
    func fold(_ piece: FoldPiece, _ i: Int, _ batches: Batches, into out: UnsafeMutablePointer<FoldedSlot>) {
        let range = UnsafeBufferPointer(rebasing: events[piece.range][piece.events])
        writtenCounts[i] = SlotFold.foldSorted(range, batches, into: out, &folded[i])
        lock.lock()
        piecesLeft[piece.range] -= 1
        let last = piecesLeft[piece.range] == 0
        if last { rangesLeft -= 1 }
        let rest = rangesLeft
        lock.unlock()
        // The range folded last keeps its events: let go of here, they would keep the fold's
        // caller waiting; `releaseEvents` lets go of them.
        if last && rest > 0 {
            events[piece.range].deallocate()
            events[piece.range] = UnsafeMutableBufferPointer(start: nil, count: 0)
        }
    }

    /// The number of slots piece `i` wrote.
    func written(_ i: Int) -> Int { writtenCounts[i] }

    /// Appends piece `i`'s findings (deletions, duplicates, orphans) to those of the pieces
    /// before it. Called for each piece in order, by one thread at a time (`PiecePlacing`).
    func placeFindings(_ i: Int) {
        placed.appendFindings(of: folded[i])
        folded[i] = FoldResult()
    }

    /// The findings of every piece, in order, once placed; moved out.
    func findings() -> FoldResult {
        defer { placed = FoldResult() }
        return placed
    }

    /// Lets go of the events of the ranges still holding theirs, once every piece is folded.
    func releaseEvents() {
        for i in events.indices where events[i].baseAddress != nil {
            events[i].deallocate()
            events[i] = UnsafeMutableBufferPointer(start: nil, count: 0)
        }
    }
}

/// Events `events` of a sorted range, whole keys, folded apart; their slots go to `slots` of
/// the result (before the gaps of deleted slots are closed).
private struct FoldPiece {
    var range: Int
    var events: Range<Int>
    var slots: Range<Int>
}

/// The pieces' counts and places, and their numbers of events outside the window, in memory
/// allocated for `rangeEvents`. Sendable: each piece's part is touched by the thread of that
/// piece only, and by the caller between the threads' passes.
private struct RangeScatter: @unchecked Sendable {
    let places: UnsafeMutablePointer<Int>
    let outside: UnsafeMutablePointer<Int>

    init(places: UnsafeMutableBufferPointer<Int>, outside: UnsafeMutablePointer<Int>) {
        self.places = places.baseAddress!
        self.outside = outside
    }
}

/// The batches `rangeEvents` copies from, in place. Sendable: the threads read them, and a
/// batch's events are let go (`mutableBatches`) only by the thread of its last piece, once
/// every other piece of it is copied.
private struct BatchList: @unchecked Sendable {
    private let base: UnsafeMutablePointer<EventBatch>?

    init(_ batches: UnsafeBufferPointer<EventBatch>) { base = UnsafeMutablePointer(mutating: batches.baseAddress) }
    init(_ batches: UnsafeMutableBufferPointer<EventBatch>) { base = batches.baseAddress }

    var batches: UnsafePointer<EventBatch> { UnsafePointer(base!) }
    var mutableBatches: UnsafeMutablePointer<EventBatch> { base! }
}

/// Where each range's events go (`rangeEvents`). Sendable: the threads write each its own
/// pieces' places, which do not overlap.
private struct PartBases: @unchecked Sendable {
    let bases: [UnsafeMutablePointer<EventBatch.Event>]
    init(_ bases: [UnsafeMutablePointer<EventBatch.Event>]) { self.bases = bases }
}

/// How many pieces of each batch are still to copy (`rangeEvents`).
private final class PiecesLeft: @unchecked Sendable {
    // Sendable: `left` is only touched under `lock`.
    private let lock = NSLock()
    private var left: [Int]

    init(_ left: [Int]) { self.left = left }

    /// Counts one more piece of `batch` copied; true for its last.
    func finished(_ batch: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        left[batch] -= 1
        return left[batch] == 0
    }
}
