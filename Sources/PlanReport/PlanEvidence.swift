import ConflictResolver
import PlanFormat
import RecoveryModel
import SlotFold

/// Everything a plan is made of: the decisions and the evidence behind them. The `plan`
/// command assembles it from the readers, the fold and the resolver; `PlanWriter` writes it.
public struct PlanEvidence: Sendable {
    public var window: Window
    /// An IANA zone (`America/Los_Angeles`) to show times in beside UTC, from `--tz`.
    public var displayTimeZone: String?
    public var shard: Shard?
    public var database: DatabaseIdentity
    public var inputs: [PlanDocument.Input]
    public var hosts: [HostCoverage]
    public var fold: FoldResult
    public var resolution: Resolution
    /// Records the readers could not take (bad lines, bad snapshot rows), with their places.
    public var readQuarantine: [QuarantineRecord]
    public var toolVersion: String
    public var createdAt: Timestamp
    /// Email and time zone of the users the plan names, for `notices.csv`.
    public var userContacts: [Int64: UserContact] = [:]
    /// The text of each user's notice in `notices.csv` (`plan --notice-template`).
    public var noticeTemplate: NoticeTemplate = .standard
    /// The recovered slots when `plan` spilled them to disk (`--memory-limit`); then
    /// `resolution.recovered` is empty, and the writers read these through `withRecovered`.
    public var spilledRecovered: SpilledRecovered?

    public init(
        window: Window, displayTimeZone: String?, shard: Shard?, database: DatabaseIdentity,
        inputs: [PlanDocument.Input], hosts: [HostCoverage], fold: FoldResult, resolution: Resolution,
        readQuarantine: [QuarantineRecord], toolVersion: String, createdAt: Timestamp
    ) {
        self.window = window
        self.displayTimeZone = displayTimeZone
        self.shard = shard
        self.database = database
        self.inputs = inputs
        self.hosts = hosts
        self.fold = fold
        self.resolution = resolution
        self.readQuarantine = readQuarantine
        self.toolVersion = toolVersion
        self.createdAt = createdAt
    }

    /// `created_at` of a plan: the time of its evidence, the latest log event read and at least
    /// the window's end; never the wall clock, so the same evidence writes byte-identical files.
    public static func createdAt(window: Window, hosts: [HostCoverage]) -> Timestamp {
        hosts.map(\.lastEvent).reduce(window.to) { max($0, $1) }
    }


    /// Why the evidence may be incomplete, one sentence each, hosts by name; empty when it is complete.
    public var completenessWarnings: [String] {
        var warnings: [String] = []
        let needed = CoveragePolicy.needed(for: window)
        if hosts.isEmpty, inputs.contains(where: { $0.kind == .log }) {
            warnings.append("no log event was read from any host")
        }
        for host in hosts.sorted(by: { $0.host < $1.host }) {
            let endsEarly = host.lastEvent < needed
            if endsEarly {
                warnings.append("host \(host.host): logs end at \(host.lastEvent), before \(needed) (\(CoveragePolicy.neededText)): late uploads may be missing")
            }
            // The silence after the last event is the warning above; list the others.
            for gap in host.gaps where !(endsEarly && gap.to >= needed) {
                warnings.append("host \(host.host): no event from \(gap.from) to \(gap.to) (\(gap.durationMicroseconds / 60_000_000) min)")
            }
        }
        for input in inputs {
            if let damage = input.damage { warnings.append("\(input.kind.rawValue) \(input.path): \(damage)") }
        }
        return warnings
    }

    /// The counts of `plan.json`.
    public var counts: PlanDocument.Counts {
        var c = PlanDocument.Counts()
        c.recovered = recoveredCount
        c.alreadyPresent = resolution.alreadyPresent.count
        c.offlineOverlap = resolution.offlineOverlap.count
        c.deleted = fold.deleted.count
        c.orphans = fold.orphans.count
        c.duplicates = fold.duplicates.count
        c.quarantined = readQuarantine.count + resolution.quarantined.count
        return c
    }

    /// The number of recovered slots, in memory or spilled.
    public var recoveredCount: Int { spilledRecovered?.count ?? resolution.recovered.count }

    /// Calls `body` with an array that holds the recovered slots `range` (of the slots sorted by
    /// key, `0..<recoveredCount`) and where they are in it: the resolution's own array, or the
    /// slots read back from the spill.
    public func withRecovered<R>(_ range: Range<Int>, _ body: ([FoldedSlot], Range<Int>) throws -> R) throws -> R {
        guard let spilledRecovered else { return try body(resolution.recovered, range) }
        let slots = try spilledRecovered.slots(range)
        return try body(slots, slots.indices)
    }

    public var recoveredMinutes: Int {
        if let spilledRecovered { return spilledRecovered.minutes }
        var minutes = 0
        resolution.recovered.forEachInPlace { minutes += Int($0.pointee.slot.durationMinutes) }
        return minutes
    }

    /// Calls `body` with a user, a number of the user's recovered slots and their minutes, once
    /// per run of the user's slots: once per user, as the slots are sorted by key, instead of a
    /// lookup per slot.
    func forEachUsersRecovered(_ body: (_ user: Int64, _ slots: Int, _ minutes: Int) -> Void) {
        if let spilledRecovered {
            for u in spilledRecovered.users { body(u.user, u.slots, u.minutes) }
            return
        }
        var user: Int64 = 0, slots = 0, minutes = 0
        resolution.recovered.forEachInPlace { f in
            let next = f.pointee.slot.key.userID
            if slots > 0 && next != user {
                body(user, slots, minutes)
                slots = 0
                minutes = 0
            }
            user = next
            slots += 1
            minutes += Int(f.pointee.slot.durationMinutes)
        }
        if slots > 0 { body(user, slots, minutes) }
    }

    /// Per-user totals, sorted by user id.
    public var userTotals: [PlanDocument.UserTotals] {
        var totals: [Int64: PlanDocument.UserTotals] = [:]
        func bump(_ user: Int64, _ change: (inout PlanDocument.UserTotals) -> Void) {
            change(&totals[user, default: PlanDocument.UserTotals(userID: user)])
        }
        forEachUsersRecovered { user, slots, minutes in bump(user) { $0.recovered += slots; $0.recoveredMinutes += minutes } }
        resolution.alreadyPresent.forEachInPlace { f in bump(f.pointee.slot.key.userID) { $0.alreadyPresent += 1 } }
        for d in resolution.offlineOverlap { bump(d.slot.slot.key.userID) { $0.offlineOverlap += 1 } }
        for q in resolution.quarantined { bump(q.slot.slot.key.userID) { $0.quarantined += 1 } }
        for q in readQuarantine { if let key = q.key { bump(key.userID) { $0.quarantined += 1 } } }
        return totals.values.sorted { $0.userID < $1.userID }
    }
}

/// Recovered slots on disk (`plan --memory-limit`): their totals, kept as they were spilled, the
/// first rows the reports show, and a walk over all of them in order.
public struct SpilledRecovered: Sendable {
    public var count: Int
    public var minutes: Int
    /// Per user, sorted by user: the number of recovered slots and their minutes.
    public var users: [(user: Int64, slots: Int, minutes: Int)]
    /// The first `headCount` slots (all of them when fewer).
    public var head: [FoldedSlot]
    /// The number of slots by slot start, for the timeline.
    public var starts: [Timestamp: Int]
    /// The keys of the readers' quarantine records (`PlanEvidence.readQuarantine`) that are
    /// recovered slots' too, for the notices.
    public var readQuarantineRecovered: Set<SlotKey>
    /// The slots of a range of positions (`0..<count`), read back.
    public var slots: @Sendable (Range<Int>) throws -> [FoldedSlot]
    /// Removes the spill files, once the plan is written.
    public var removeFiles: @Sendable () -> Void

    /// How many slots `head` must hold: the rows `report.md` and `report.html` show.
    public static var headCount: Int { ReviewContent.rowsCap }

    public init(
        count: Int, minutes: Int, users: [(user: Int64, slots: Int, minutes: Int)], head: [FoldedSlot],
        starts: [Timestamp: Int], readQuarantineRecovered: Set<SlotKey>,
        slots: @escaping @Sendable (Range<Int>) throws -> [FoldedSlot],
        removeFiles: @escaping @Sendable () -> Void
    ) {
        self.count = count
        self.minutes = minutes
        self.users = users
        self.head = head
        self.starts = starts
        self.readQuarantineRecovered = readQuarantineRecovered
        self.slots = slots
        self.removeFiles = removeFiles
    }
}
