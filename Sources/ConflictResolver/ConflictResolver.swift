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
        // The fold hands slots over sorted by key; sort only what comes otherwise.
        let sorted = slots.indices.dropFirst().allSatisfy { slots[$0 - 1].slot.key < slots[$0].slot.key }
            ? slots : slots.sorted { $0.slot.key < $1.slot.key }
        // Ranges of users, one per core: each slot's outcome depends on its user's slots and
        // entries only, and the ranges' results in order are the whole result.
        var cuts = [0]
        if sorted.count >= 4096 {
            for p in 1..<max(1, partitions) {
                var cut = max(cuts.last!, sorted.count * p / partitions)
                while cut > 0, cut < sorted.count, sorted[cut].slot.key.userID == sorted[cut - 1].slot.key.userID { cut += 1 }
                if cut > cuts.last!, cut < sorted.count { cuts.append(cut) }
            }
        }
        cuts.append(sorted.count)
        if cuts.count == 2 { return resolveRange(sorted[...], against: live) }
        let results = Resolutions(count: cuts.count - 1)
        let bounds = cuts
        DispatchQueue.concurrentPerform(iterations: bounds.count - 1) { p in
            results.set(p, resolveRange(sorted[bounds[p]..<bounds[p + 1]], against: live))
        }
        var parts = results.take()
        var resolution = parts.removeFirst()
        for part in parts {
            resolution.recovered += part.recovered
            resolution.alreadyPresent += part.alreadyPresent
            resolution.offlineOverlap += part.offlineOverlap
            resolution.quarantined += part.quarantined
        }
        return resolution
    }

    /// Resolves slots sorted by key.
    static func resolveRange(_ sorted: ArraySlice<FoldedSlot>, against live: LiveState) -> Resolution {
        var resolution = Resolution()
        // The offline sweep walks each user's slots (sorted by start) and entries (sorted by start)
        // together: an entry overlaps a slot when it starts before the slot ends and ends after
        // the slot starts. Slot ends only grow (slots are 10 minutes apart and last at most 10),
        // so the entries that start before the current slot's end only accumulate: keeping the
        // one that ends last is enough.
        var user: Int64 = .min
        var entries: ArraySlice<OfflineEntry> = []
        var latest: OfflineEntry?
        for folded in sorted {
            let slot = folded.slot
            if slot.key.userID != user {
                user = slot.key.userID
                entries = live.offlineEntries[user]?[...] ?? []
                latest = nil
            }
            let interval = slot.interval
            while let next = entries.first, next.interval.from < interval.to {
                if latest == nil || next.interval.to > latest!.interval.to { latest = next }
                entries.removeFirst()
            }
            if live.presentKeys.contains(slot.key) {
                resolution.alreadyPresent.append(folded)
            } else if let latest, latest.interval.to > interval.from {
                let first = live.offlineEntries[user]!.first { $0.interval.overlaps(interval) } ?? latest
                resolution.offlineOverlap.append(OfflineDrop(slot: folded, entry: first))
            } else if let reason = referenceProblem(slot, live) {
                let location = folded.provenance.first?.location ?? SourceLocation(file: "", line: 0)
                resolution.quarantined.append(
                    QuarantinedSlot(slot: folded, record: QuarantineRecord(location: location, reason: reason, key: slot.key)))
            } else {
                resolution.recovered.append(folded)
            }
        }
        return resolution
    }

    /// CONTRACT §5.5's rules that need the database: the first one the slot breaks.
    public static func referenceProblem(_ slot: TimeSlot, _ live: LiveState) -> QuarantineReason? {
        guard live.users.contains(slot.key.userID) else { return .unknownUser(slot.key.userID) }
        guard live.projects.contains(slot.projectID) else { return .unknownProject(slot.projectID) }
        if let task = slot.taskID {
            guard let project = live.tasks[task] else { return .unknownTask(task) }
            guard project == slot.projectID else { return .taskOfAnotherProject(task: task, project: slot.projectID) }
        }
        guard live.memberships.contains(LiveState.Membership(projectID: slot.projectID, userID: slot.key.userID)) else {
            return .notAMember(user: slot.key.userID, project: slot.projectID)
        }
        return nil
    }
}

/// One resolution per range of users, written by whichever thread resolved it.
private final class Resolutions: @unchecked Sendable {
    // Sendable: `results` is only touched under `lock`, each index written once.
    private let lock = NSLock()
    private var results: [Resolution?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ result: Resolution) {
        lock.lock()
        results[i] = result
        lock.unlock()
    }

    /// The results in range order, moved out.
    func take() -> [Resolution] {
        lock.lock()
        defer { lock.unlock() }
        let all = results.map { $0! }
        results = []
        return all
    }
}
