import Foundation
import RecoveryModel
import SlotFold

/// Folded slots spilled to a file in order, a record (an LZ4 frame) of `recordSlots` at a time,
/// and read back by position: the recovered slots of a spilled plan (`plan --memory-limit`),
/// which the plan's writers read a piece at a time, on several threads, without all of them in
/// memory. The totals the plan needs (count, minutes, per user, per slot start) are kept as the
/// slots are appended.
public final class SlotSpill: @unchecked Sendable {
    // Sendable: `append` and `finish` are called by one thread; after `finish` nothing changes,
    // and each read of `slots` opens the file with a descriptor and a decompression context of
    // its own; `cache` is only touched under `cacheLock`.
    private let files: PartitionFiles
    private var sources: [String] = []
    private var sourceNumbers: [String: UInt32] = [:]
    private var pending: [UInt8] = []
    private var pendingSlots = 0
    /// The number of slots appended, and their minutes.
    public private(set) var count = 0
    public private(set) var minutes = 0
    /// Per user, in order: the number of slots and their minutes.
    public private(set) var users: [(user: Int64, slots: Int, minutes: Int)] = []
    /// The first `headCount` slots, also kept in memory (the reports show the first rows).
    public private(set) var head: [FoldedSlot] = []
    public let headCount: Int
    /// The number of slots by slot start (a window's worth of 10-minute starts).
    public private(set) var starts: [Timestamp: Int] = [:]
    /// The keys of `watched` that were appended.
    public private(set) var watchedAppended = Set<SlotKey>()
    private let watched: Set<SlotKey>
    /// Slots per record.
    let recordSlots: Int
    /// Records decoded once and not yet read a second time, oldest first (`record(_:)`).
    private var cache: [(record: Int, slots: [FoldedSlot])] = []
    private let cacheLock = NSLock()

    /// Makes the spill's directory under `directory`. The keys of `watched` that are appended
    /// are listed in `watchedAppended`.
    public init(directory: String, headCount: Int, watched: Set<SlotKey> = [], recordSlots: Int = 4096) throws {
        files = try PartitionFiles(in: directory, bounds: [])
        self.recordSlots = max(1, recordSlots)
        self.headCount = headCount
        self.watched = watched
    }

    /// Appends `slots`, sorted by key and after every slot appended before.
    public func append(_ slots: [FoldedSlot]) throws {
        try slots.forEachInPlace { folded in
            let slot = FoldedSlot.slotPointer(folded)
            let user = slot.pointee.key.userID, duration = Int(slot.pointee.durationMinutes)
            count += 1
            minutes += duration
            if users.last?.user == user {
                users[users.count - 1].slots += 1
                users[users.count - 1].minutes += duration
            } else {
                users.append((user, 1, duration))
            }
            if head.count < headCount { head.append(folded.pointee) }
            starts[slot.pointee.key.slotStart, default: 0] += 1
            if !watched.isEmpty, watched.contains(slot.pointee.key) { watchedAppended.insert(slot.pointee.key) }
            encode(folded)
            pendingSlots += 1
            if pendingSlots == recordSlots { try flush() }
        }
    }

    /// Writes what is pending and closes the file: the slots can be walked from now on.
    public func finish() throws {
        try flush()
        files.close()
    }

    /// The slots at positions `range` (of `0..<count`), read back from the records that hold them.
    public func slots(_ range: Range<Int>) throws -> [FoldedSlot] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slots \(range) of \(count)")
        guard !range.isEmpty else { return [] }
        var slots: [FoldedSlot] = []
        slots.reserveCapacity(range.count)
        for r in (range.lowerBound / recordSlots)...((range.upperBound - 1) / recordSlots) {
            // Every record but the last holds `recordSlots` slots.
            let first = r * recordSlots
            let record = try record(r)
            slots += record[(max(range.lowerBound, first) - first)..<(min(range.upperBound, first + record.count) - first)]
        }
        return slots
    }


    /// Record `r`'s slots, decoded, or taken from the records decoded last: the writers read each
    /// piece twice, for `rows.tsv` and for `recovered.csv`, most often at the same time on two
    /// cores, and a record decoded for one is kept for the other (up to 8 records).
    private func record(_ r: Int) throws -> [FoldedSlot] {
        cacheLock.lock()
        if let i = cache.firstIndex(where: { $0.record == r }) {
            let slots = cache[i].slots
            cache.remove(at: i)
            cacheLock.unlock()
            return slots
        }
        cacheLock.unlock()
        let slots = try files.record(r, of: 0) { try decode($0) }
        cacheLock.lock()
        cache.append((r, slots))
        if cache.count > 8 { cache.removeFirst() }
        cacheLock.unlock()
        return slots
    }

    /// Removes the file and its directory.
    public func removeFiles() { files.remove() }

    private func flush() throws {
        guard pendingSlots > 0 else { return }
        var record: [UInt8] = []
        withUnsafeBytes(of: UInt64(pendingSlots)) { record.append(contentsOf: $0) }
        record += pending
        try files.append(record, to: 0)
        pending.removeAll(keepingCapacity: true)
        pendingSlots = 0
    }

    // MARK: The record layout: a slot count, then each slot's fields and provenance (native
    // byte order; read back by the process that wrote it). Paths are numbers into `sources`.

    private func encode(_ folded: UnsafePointer<FoldedSlot>) {
        let slot = FoldedSlot.slotPointer(folded).pointee
        put(slot.key.userID)
        put(slot.key.slotStart.microseconds)
        put(slot.projectID)
        put(slot.taskID ?? 0)
        var flags: UInt8 = 0
        if slot.taskID != nil { flags |= 1 }
        if slot.activityLevel != nil { flags |= 2 }
        if slot.screenshotKey != nil { flags |= 4 }
        if slot.note != nil { flags |= 8 }
        if slot.updatedAt != nil { flags |= 16 }
        pending.append(flags)
        pending.append(UInt8(SlotStatus.allCases.firstIndex(of: slot.status)!))
        put(Int64(slot.durationMinutes))
        put(Int64(slot.activityLevel ?? 0))
        put(Int64(slot.keystrokes))
        put(Int64(slot.mouseEvents))
        put(Int64(slot.updatedAt?.microseconds ?? 0))
        put(Int64(slot.activeApps.count))
        for app in slot.activeApps { put(app) }
        if let key = slot.screenshotKey { put(key) }
        if let note = slot.note { put(note) }
        let provenance = folded.pointee.provenance
        put(Int64(provenance.count))
        for p in provenance {
            pending.append(p.kind == .snapshot ? 1 : 0)
            put(Int64(sourceNumber(p.location.file)))
            put(Int64(p.location.line))
        }
    }

    private func put(_ value: Int64) {
        withUnsafeBytes(of: value) { pending.append(contentsOf: $0) }
    }

    private func put(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            put(Int64(utf8.count))
            pending.append(contentsOf: utf8)
        }
    }

    private func sourceNumber(_ file: String) -> UInt32 {
        if let n = sourceNumbers[file] { return n }
        sources.append(file)
        sourceNumbers[file] = UInt32(sources.count - 1)
        return UInt32(sources.count - 1)
    }

    private func decode(_ bytes: UnsafeRawBufferPointer) throws(SpillError) -> [FoldedSlot] {
        var r = RecordReader(bytes: bytes, path: files.path(0))
        let n = try r.count()
        var slots: [FoldedSlot] = []
        slots.reserveCapacity(n)
        for _ in 0..<n {
            let user = try r.int64(), start = try r.int64(), project = try r.int64(), task = try r.int64()
            let flags = try r.byte(), status = try r.byte()
            let duration = try r.int64(), level = try r.int64(), keystrokes = try r.int64(), mouse = try r.int64()
            let updatedAt = try r.int64()
            let appCount = try r.count()
            var apps: [String] = []
            apps.reserveCapacity(appCount)
            for _ in 0..<appCount { apps.append(try r.string()) }
            let screenshotKey = flags & 4 != 0 ? try r.string() : nil
            let note = flags & 8 != 0 ? try r.string() : nil
            let provenanceCount = try r.count()
            var provenance: [Provenance] = []
            provenance.reserveCapacity(provenanceCount)
            for _ in 0..<provenanceCount {
                let kind: SourceKind = try r.byte() == 1 ? .snapshot : .log
                let source = try r.count()
                guard source < sources.count else { throw SpillError(.cannotRead, path: files.path(0), detail: "a slot names an unknown source") }
                provenance.append(Provenance(kind: kind, location: SourceLocation(file: sources[source], line: try r.count())))
            }
            guard Int(status) < SlotStatus.allCases.count else { throw SpillError(.cannotRead, path: files.path(0), detail: "a slot's status is out of range") }
            slots.append(FoldedSlot(
                slot: TimeSlot(
                    key: SlotKey(userID: user, slotStart: Timestamp(microseconds: start)), projectID: project,
                    taskID: flags & 1 != 0 ? task : nil, durationMinutes: Int16(truncatingIfNeeded: duration),
                    status: SlotStatus.allCases[Int(status)], activityLevel: flags & 2 != 0 ? Int16(truncatingIfNeeded: level) : nil,
                    keystrokes: Int32(truncatingIfNeeded: keystrokes), mouseEvents: Int32(truncatingIfNeeded: mouse), activeApps: apps,
                    screenshotKey: screenshotKey, note: note,
                    updatedAt: flags & 16 != 0 ? Timestamp(microseconds: updatedAt) : nil),
                provenance: provenance))
        }
        try r.end()
        return slots
    }
}
