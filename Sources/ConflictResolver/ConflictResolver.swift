import Dispatch
import Foundation
import RecoveryModel
import SlotFold

/// Where a folded slot ends: exactly one outcome each (CONTRACT §5.3–5.5).
public struct Resolution: Hashable, Sendable {
    /// To insert, sorted by key.
    public var recovered: [FoldedSlot] = []
    /// A live row has the key: live data is never overwritten.
    public var alreadyPresent: [FoldedSlot] = []
    /// The slot's interval intersects an offline entry of the same user; the entry stays.
    public var offlineOverlap: [OfflineDrop] = []
    /// The slot names a user, project or task that cannot take it.
    public var quarantined: [QuarantinedSlot] = []

    public init() {}
}

public struct OfflineDrop: Hashable, Sendable {
    public var slot: FoldedSlot
    /// The first entry (by start) that the slot overlaps.
    public var entry: OfflineEntry
}

public struct QuarantinedSlot: Hashable, Sendable {
    public var slot: FoldedSlot
    public var record: QuarantineRecord
}

/// Decides each folded slot's outcome against the live database's state, in this order: already
/// present, offline overlap, then the reference checks (user, project, task, membership).
public enum ConflictResolver {
    public static func resolve(
        _ slots: [FoldedSlot], against live: LiveState, partitions: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Resolution {
        var slots = slots
        return resolve(taking: &slots, against: live, partitions: partitions)
    }

    /// As `resolve(_:against:)`, taking the slots over (`slots` is left empty): each slot is
    /// moved to its outcome, not copied, so the slots are never in memory twice.
    public static func resolve(
        taking slots: inout [FoldedSlot], against live: LiveState, partitions: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Resolution {
        var sorted: [FoldedSlot] = []
        swap(&sorted, &slots)
        // The fold hands slots over sorted by key; sort only what comes otherwise.
        let inOrder = sorted.withUnsafeBufferPointer { b in b.indices.dropFirst().allSatisfy { b[$0 - 1].slot.key < b[$0].slot.key } }
        if !inOrder { sorted.sort { $0.slot.key < $1.slot.key } }
        // The live keys sorted, for each range to walk beside its slots (no key hashed).
        let present = live.presentKeys.sorted()
        var resolution = Resolution()
        let kept = sorted.withUnsafeMutableBufferPointer { buffer in
            let slots = SlotBuffer(buffer)
            // Each slot's outcome, decided and the slot moved to it on every core by ranges of
            // users (a slot's outcome depends on its user's slots and entries only); then the
            // ranges' outcomes joined in order.
            let cuts = userCuts(UnsafeBufferPointer(buffer), partitions: partitions)
            let outcomes = Outcomes(ranges: cuts.count - 1)
            DispatchQueue.concurrentPerform(iterations: cuts.count - 1) { p in
                decide(slots, cuts[p]..<cuts[p + 1], against: live, present: present, into: outcomes, range: p)
            }
            return outcomes.join(slots, cuts: cuts, into: &resolution)
        }
        // The recovered slots are the first `kept`, in the memory the slots came in.
        sorted.removeSubrange(kept...)
        resolution.recovered = sorted
        return resolution
    }

    /// Indices that cut the sorted slots into about `partitions` ranges between users.
    static func userCuts(_ sorted: UnsafeBufferPointer<FoldedSlot>, partitions: Int) -> [Int] {
        var cuts = [0]
        if sorted.count >= 4096 {
            for p in 1..<max(1, partitions) {
                var cut = max(cuts.last!, sorted.count * p / partitions)
                while cut > 0, cut < sorted.count, sorted[cut].slot.key.userID == sorted[cut - 1].slot.key.userID { cut += 1 }
                if cut > cuts.last!, cut < sorted.count { cuts.append(cut) }
            }
        }
        cuts.append(sorted.count)
        return cuts
    }

    /// Decides the outcome of the slots of `range`, sorted by key, and moves each to it: a
    /// recovered slot down to the front of the range, in order, any other into the range's
    /// outcome (`Outcomes.Range`). `present` is `live.presentKeys` sorted.
    static func decide(
        _ slots: SlotBuffer, _ range: Range<Int>, against live: LiveState, present: [SlotKey], into outcomes: Outcomes, range p: Int
    ) {
        // The offline sweep walks each user's slots (sorted by start) and entries (sorted by start)
        // together: an entry overlaps a slot when it starts before the slot ends and ends after
        // the slot starts. Slot ends only grow (slots are 10 minutes apart and last at most 10),
        // so the entries that start before the current slot's end only accumulate: keeping the
        // one that ends last is enough.
        var user: Int64 = .min
        var entries: ArraySlice<OfflineEntry> = []
        var latest: OfflineEntry?
        var moved = Outcomes.Range()
        // The live keys are walked beside the slots, both sorted by key.
        var livePosition = 0
        if let first = range.first {
            // The first live key not below the range's first slot.
            let key = slots.base[first].slot.key
            var high = present.count
            while livePosition < high {
                let middle = (livePosition + high) / 2
                if present[middle] < key { livePosition = middle + 1 } else { high = middle }
            }
        }
        // Consecutive slots mostly name the same user, project and task: their reference check
        // is done once.
        var checked: (user: Int64, project: Int64, task: Int64?, problem: QuarantineReason?)?
        for i in range {
            let slot = slots.base + i
            let key = slot.pointee.slot.key
            if key.userID != user {
                user = key.userID
                entries = live.offlineEntries[user]?[...] ?? []
                latest = nil
            }
            let interval = Window(from: key.slotStart, to: key.slotStart.adding(minutes: Int64(slot.pointee.slot.durationMinutes)))
            while let next = entries.first, next.interval.from < interval.to {
                if latest == nil || next.interval.to > latest!.interval.to { latest = next }
                entries.removeFirst()
            }
            while livePosition < present.count, present[livePosition] < key { livePosition += 1 }
            if livePosition < present.count, present[livePosition] == key {
                moved.alreadyPresent.append(slot.move())
            } else if let latest, latest.interval.to > interval.from {
                let entry = live.offlineEntries[user]!.first { $0.interval.overlaps(interval) } ?? latest
                moved.offlineOverlap.append(OfflineDrop(slot: slot.move(), entry: entry))
            } else {
                let project = slot.pointee.slot.projectID, task = slot.pointee.slot.taskID
                if checked == nil || checked!.user != key.userID || checked!.project != project || checked!.task != task {
                    checked = (key.userID, project, task, referenceProblem(user: key.userID, project: project, task: task, live))
                }
                if let reason = checked!.problem {
                    let folded = slot.move()
                    let location = folded.provenance.first?.location ?? SourceLocation(file: "", line: 0)
                    let record = QuarantineRecord(location: location, reason: reason, key: folded.slot.key)
                    moved.quarantined.append(QuarantinedSlot(slot: folded, record: record))
                } else {
                    // Recovered: down to the first place left by the slots moved out (`i` itself
                    // while none was).
                    let to = slots.base + range.lowerBound + moved.kept
                    if to != slot { to.moveInitialize(from: slot, count: 1) }
                    moved.kept += 1
                }
            }
        }
        outcomes.set(p, moved)
    }

    /// CONTRACT §5.5's rules that need the database: the first one the slot breaks.
    public static func referenceProblem(_ slot: TimeSlot, _ live: LiveState) -> QuarantineReason? {
        referenceProblem(user: slot.key.userID, project: slot.projectID, task: slot.taskID, live)
    }

    static func referenceProblem(user: Int64, project: Int64, task: Int64?, _ live: LiveState) -> QuarantineReason? {
        guard live.users.contains(user) else { return .unknownUser(user) }
        guard live.projects.contains(project) else { return .unknownProject(project) }
        if let task {
            guard let taskProject = live.tasks[task] else { return .unknownTask(task) }
            guard taskProject == project else { return .taskOfAnotherProject(task: task, project: project) }
        }
        guard live.memberships.contains(LiveState.Membership(projectID: project, userID: user)) else {
            return .notAMember(user: user, project: project)
        }
        return nil
    }
}

/// The sorted slots being resolved. Sendable: each thread reads and moves the slots of its own
/// range only; the ranges are joined once every thread is done.
struct SlotBuffer: @unchecked Sendable {
    let base: UnsafeMutablePointer<FoldedSlot>
    let count: Int

    init(_ buffer: UnsafeMutableBufferPointer<FoldedSlot>) {
        base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<FoldedSlot>.alignment)!
        count = buffer.count
    }
}

/// Each range's slots moved to their outcomes, then joined in range order.
final class Outcomes: @unchecked Sendable {
    // Sendable: each range's entry of `ranges` is set once, under `lock`, by the thread of that range.

    /// One range's slots moved out, in order, and how many recovered slots it moved down to its front.
    struct Range {
        var kept = 0
        var alreadyPresent: [FoldedSlot] = []
        var offlineOverlap: [OfflineDrop] = []
        var quarantined: [QuarantinedSlot] = []
    }

    private let lock = NSLock()
    private var ranges: [Range]

    init(ranges: Int) {
        self.ranges = Array(repeating: Range(), count: ranges)
    }

    func set(_ index: Int, _ range: Range) {
        lock.lock()
        ranges[index] = range
        lock.unlock()
    }

    /// Moves each range's recovered slots (the first `kept` of the range, from `cuts[p]`) down
    /// behind the ranges before it, in one move each, and appends the ranges' other outcomes in
    /// order to `resolution`; returns the recovered slots' number. What is left behind them is
    /// empty slots (no strings, no arrays).
    func join(_ slots: SlotBuffer, cuts: [Int], into resolution: inout Resolution) -> Int {
        lock.lock()
        defer { lock.unlock() }
        var kept = 0
        for (p, range) in ranges.enumerated() {
            if cuts[p] != kept { (slots.base + kept).moveInitialize(from: slots.base + cuts[p], count: range.kept) }
            kept += range.kept
            resolution.alreadyPresent += range.alreadyPresent
            resolution.offlineOverlap += range.offlineOverlap
            resolution.quarantined += range.quarantined
        }
        (slots.base + kept).initialize(repeating: FoldedSlot.empty, count: slots.count - kept)
        return kept
    }
}

extension FoldedSlot {
    /// What a slot moved to its outcome leaves behind: no strings, no arrays.
    static let empty = FoldedSlot(
        slot: TimeSlot(
            key: SlotKey(userID: 0, slotStart: Timestamp(microseconds: 0)), projectID: 0, taskID: nil, status: .pending,
            activityLevel: nil, keystrokes: 0, mouseEvents: 0, activeApps: [], screenshotKey: nil, note: nil),
        provenance: [])
}

