import CLZ4
import Foundation
import RecoveryModel

/// The events of a plan, kept in memory while they fit, spilled to LZ4-compressed files by range
/// of users once they would not (`plan --memory-limit`).
///
/// The readers hand their events over a chunk at a time (`chunks`). While the events held stay
/// under a quarter of the limit they are only kept. Past it, the users seen so far give the
/// bounds of `partitionCount` ranges of users; every event held, and every later chunk, is split
/// by range and appended to its range's file as a batch of its own (its events, versions, texts,
/// hosts and app lists), compressed. Ranges in order hold users in order, and the fold's result
/// of each is sorted by key: the ranges folded one after the other make the whole result, with
/// no merge.
///
/// The files live in a directory of their own under `directory`, removed by `removeFiles()` (and
/// when the spill is freed), on success and on failure alike.
public final class EventSpill: @unchecked Sendable {
    // Sendable: every mutable property is touched only under `lock`; `take` is the only entry
    // point the reading threads call.
    /// The memory limit, bytes.
    public let limit: Int64
    /// Where the spill directory is made (TMPDIR).
    public let directory: String
    /// The number of user ranges the events are spilled to.
    public let partitionCount: Int
    /// Events held while reading up to this many bytes (a quarter of the limit).
    var budget: Int64 { max(1, limit / 4) }
    /// Events folded at once up to this many bytes (an eighth of the limit): the slots a group
    /// folds into take about as much again, and more.
    var groupBudget: Int64 { max(1, limit / 8) }

    private let lock = NSLock()
    private var held: [EventBatch] = []
    private var heldBytes: Int64 = 0
    private var files: PartitionFiles?
    private var failure: SpillError?
    private var sourceNumbers: [String: UInt32] = [:]
    private var sourceNames: [String] = []

    public init(limit: Int64, directory: String, partitionCount: Int = 128) {
        self.limit = limit
        self.directory = directory
        self.partitionCount = max(1, partitionCount)
    }

    deinit { removeFiles() }

    /// The events of one chunk, by size: a quarter of the budget split over the two reading
    /// threads' chunks and the spill's copy of one, within 256 and 65,536 events.
    public var chunks: EventChunks {
        let events = Int(min(65_536, max(256, budget / 4 / 128)))
        return EventChunks(events: events) { [self] batch in take(batch) }
    }

    /// What the readers handed over: the batches, when they stayed under the budget, or the
    /// spilled ranges. Throws the first spill failure.
    public enum Events {
        case inMemory([EventBatch])
        case spilled(SpilledEvents)
    }

    public func finish() throws -> Events {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        guard let files else {
            defer { held = [] }
            return .inMemory(held)
        }
        files.close()
        return .spilled(try SpilledEvents(files: files, sources: sourceNames, budget: groupBudget))
    }

    /// Removes the spill directory and everything in it.
    public func removeFiles() {
        lock.lock()
        defer { lock.unlock() }
        files?.remove()
    }

    /// Takes one chunk over: keeps it, or spills it (and, the first time, everything held).
    func take(_ batch: EventBatch) {
        guard !batch.events.isEmpty else { return }
        lock.lock()
        if failure == nil, let files {
            // Split, encoded and compressed outside the lock, so that the reading threads do
            // that at once; only the writes take turns.
            let source = sourceNumber(batch.source)
            lock.unlock()
            let records = Result { try Self.records(batch, source: source, files) }
            lock.lock()
            defer { lock.unlock() }
            guard failure == nil else { return }
            record { for (p, record) in try records.get() { try files.append(record, to: p) } }
            return
        }
        defer { lock.unlock() }
        guard failure == nil else { return }
        held.append(batch)
        heldBytes += Self.bytes(batch)
        guard heldBytes > budget else { return }
        record {
            let files = try PartitionFiles(in: directory, bounds: Self.bounds(held, count: partitionCount))
            self.files = files
            let batches = held
            held = []
            heldBytes = 0
            for batch in batches {
                for (p, record) in try Self.records(batch, source: sourceNumber(batch.source), files) { try files.append(record, to: p) }
            }
        }
    }

    /// Runs `body`, keeping its failure (the first one) and removing the files on failure.
    private func record(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            failure = error as? SpillError ?? SpillError(.cannotWrite, path: directory, detail: "\(error)")
            files?.remove()
            held = []
        }
    }

    /// `batch` split by range, each range's part encoded and compressed, by range.
    private static func records(_ batch: EventBatch, source: UInt32, _ files: PartitionFiles) throws -> [(Int, PartitionFiles.Record)] {
        try PartitionRecord.split(batch, bounds: files.bounds).enumerated().compactMap { p, part in
            part.events.isEmpty ? nil : (p, try PartitionFiles.record(PartitionRecord.encode(part, source: source), path: files.path(p)))
        }
    }

    private func sourceNumber(_ source: String) -> UInt32 {
        if let n = sourceNumbers[source] { return n }
        sourceNames.append(source)
        sourceNumbers[source] = UInt32(sourceNames.count - 1)
        return UInt32(sourceNames.count - 1)
    }

    /// About what `batch` takes in memory.
    static func bytes(_ batch: EventBatch) -> Int64 {
        Int64(batch.events.count * MemoryLayout<EventBatch.Event>.stride + batch.versions.count * MemoryLayout<EventBatch.Version>.stride
            + batch.text.count + batch.appLists.count * 64 + batch.hosts.count * 32)
    }

    /// User ids that split the users of `batches` into about `count` ranges of similar numbers of
    /// events: range `p` holds the users below `bounds[p]` and at or above `bounds[p - 1]`.
    static func bounds(_ batches: [EventBatch], count: Int) -> [Int64] {
        let total = batches.reduce(0) { $0 + $1.events.count }
        let step = max(1, total / (1 << 20))
        var sample: [Int64] = []
        sample.reserveCapacity(total / step + batches.count)
        for batch in batches {
            batch.events.withUnsafeBufferPointer { events in
                for i in stride(from: 0, to: events.count, by: step) { sample.append(events[i].userID) }
            }
        }
        guard !sample.isEmpty else { return [] }
        sample.sort()
        var bounds: [Int64] = []
        for p in 1..<max(1, count) {
            let bound = sample[sample.count * p / count]
            if bound > (bounds.last ?? .min) { bounds.append(bound) }
        }
        return bounds
    }
}

/// The spilled events, read back a group of user ranges at a time.
///
/// The bounds of the ranges come from the users of the first quarter of the limit only: when the
/// users come in order (a dump sorted by user), most come after them and fall in the last range.
/// So a range whose events take more than the budget is split again before it is folded: its
/// records are read back one at a time, its own users give the bounds of parts of about half the
/// budget each (exact, as the range holds all their events), and each record is split to the
/// parts' files, which are split again while they take more. Parts in order hold users in order.
/// Only a single user's events cannot be split: a range of one user may take more.
public final class SpilledEvents {
    private let files: PartitionFiles
    private let sources: [String]
    /// The ranges in order of users: a range of `files`, or a part of a range split.
    private let ranges: [(files: PartitionFiles, p: Int)]
    private let parts: [PartitionFiles]
    /// Consecutive user ranges whose events together take at most the budget (or a single range
    /// of one user that takes more), in order.
    public let groups: [Range<Int>]
    /// The events of each group, decompressed bytes.
    public let groupBytes: [Int64]

    init(files: PartitionFiles, sources: [String], budget: Int64) throws {
        self.files = files
        self.sources = sources
        let sourceNumbers = Dictionary(uniqueKeysWithValues: sources.enumerated().map { ($1, UInt32($0)) })
        var ranges: [(files: PartitionFiles, p: Int)] = []
        var parts: [PartitionFiles] = []
        func add(_ p: Int, of files: PartitionFiles) throws {
            guard files.rawBytes[p] > budget else { return ranges.append((files, p)) }
            // The events of each of the range's users, about their bytes.
            var userBytes: [Int64: Int64] = [:]
            try files.forEachRecord(of: p) { bytes in
                let batch = try PartitionRecord.decode(bytes, sources: sources, path: files.path(p))
                for event in batch.events {
                    var size = Int64(MemoryLayout<EventBatch.Event>.stride)
                    if event.kind == .snapshotRow || event.kind == .upload {
                        let version = batch.versions[Int(event.payload)]
                        size += Int64(MemoryLayout<EventBatch.Version>.stride + version.textCount)
                    }
                    userBytes[event.userID, default: 0] += size
                }
            }
            guard userBytes.count > 1 else { return ranges.append((files, p)) }
            let users = userBytes.keys.sorted()
            let total = userBytes.values.reduce(0, +)
            let count = Int(min(128, max(2, files.rawBytes[p] * 2 / budget + 1)))
            var bounds: [Int64] = []
            var below: Int64 = 0
            for user in users {
                if below > 0, below >= total * Int64(bounds.count + 1) / Int64(count) { bounds.append(user) }
                below += userBytes[user]!
            }
            // Light users before a heavy one can leave no bound: a part like the range itself,
            // split again without end. A bound at a user other than the first always makes parts
            // of fewer users each.
            if bounds.isEmpty { bounds = [users[users.count / 2]] }
            let split = PartitionFiles(splitting: p, of: files, bounds: bounds)
            parts.append(split)
            try files.forEachRecord(of: p) { bytes in
                let batch = try PartitionRecord.decode(bytes, sources: sources, path: files.path(p))
                let source = sourceNumbers[batch.source] ?? 0
                for (q, part) in PartitionRecord.split(batch, bounds: bounds).enumerated() where !part.events.isEmpty {
                    try split.append(PartitionRecord.encode(part, source: source), to: q)
                }
            }
            split.close()
            files.removeFile(p)
            for q in 0..<split.count { try add(q, of: split) }
        }
        for p in 0..<files.count { try add(p, of: files) }
        self.ranges = ranges
        self.parts = parts

        var groups: [Range<Int>] = [], groupBytes: [Int64] = []
        var start = 0, bytes: Int64 = 0
        for (i, range) in ranges.enumerated() {
            let rangeBytes = range.files.rawBytes[range.p]
            if bytes > 0, bytes + rangeBytes > budget {
                groups.append(start..<i)
                groupBytes.append(bytes)
                start = i
                bytes = 0
            }
            bytes += rangeBytes
        }
        if !ranges.isEmpty {
            groups.append(start..<ranges.count)
            groupBytes.append(bytes)
        }
        self.groups = groups
        self.groupBytes = groupBytes
    }

    /// The spill directory.
    public var directory: String { files.directory }

    /// The number of bytes written, compressed.
    public var compressedBytes: Int64 { parts.reduce(files.compressedBytes) { $0 + $1.compressedBytes } }

    /// The events of the ranges of `group`, as the batches they were spilled in.
    public func batches(_ group: Range<Int>) throws -> [EventBatch] {
        var batches: [EventBatch] = []
        for (files, p) in ranges[group] {
            try files.forEachRecord(of: p) { bytes in
                batches.append(try PartitionRecord.decode(bytes, sources: sources, path: files.path(p)))
            }
        }
        return batches
    }

    /// Removes the spill directory and everything in it.
    public func removeFiles() { files.remove() }
}
