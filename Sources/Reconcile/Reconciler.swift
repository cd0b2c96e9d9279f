import ConflictResolver
import RecoveryModel

/// Where a snapshot row of `time_slots` ends (CONTRACT §7). A row equal to live in every compared
/// column has none and is not counted.
public enum SlotOutcome: String, CaseIterable, Hashable, Sendable, Codable {
    /// 1. Live was written inside the job window and differs only in `--columns`: gets the
    /// snapshot's values.
    case restore
    /// 2. Live was written at or after `JOB_TO`: the later edit stands.
    case keptChangedAfterJob = "kept_changed_after_job"
    /// 3. A column outside `--columns` differs, or live was written before `JOB_FROM`.
    case keptNotFingerprint = "kept_not_fingerprint"
    /// 4. Not in live: `plan --snapshot` recovers missing slots.
    case missingFromLive = "missing_from_live"
    /// 5. The restored row would name a project or task that is gone, a task of another project,
    /// or a project the user is not a member of.
    case quarantined

    /// How the report names it.
    public var title: String {
        switch self {
        case .restore: "restored"
        case .keptChangedAfterJob: "kept, changed after the job"
        case .keptNotFingerprint: "kept, not the job's fingerprint"
        case .missingFromLive: "missing from live"
        case .quarantined: "quarantined"
        }
    }
}

/// One snapshot row's outcome, with its evidence.
public struct SlotDecision: Hashable, Sendable {
    public var outcome: SlotOutcome
    public var snapshot: SnapshotSlotRow
    /// The live row as the plan saw it (nil when missing from live).
    public var live: SlotRow?
    /// The compared columns in which live and the snapshot differ, in table order.
    public var differing: [SlotColumn]
    /// The differing columns outside `--columns`.
    public var outside: [SlotColumn]
    /// Live was written before `JOB_FROM`.
    public var writtenBeforeJob: Bool
    /// For `.quarantined`: the reference the restored row would break.
    public var reason: QuarantineReason?

    public var key: SlotKey { snapshot.row.key }

    /// The live row with `differing` set to the snapshot's values (`updated_at` as live has it;
    /// apply sets it to the commit time): what a restore writes.
    public var restored: SlotRow? {
        guard var row = live else { return nil }
        for column in differing { column.copy(from: snapshot.row, into: &row) }
        return row
    }

    /// Why, in a line: `live updated_at 2026-...Z in the job window; project_id, task_id differ`.
    public var evidence: String {
        let where_ = "snapshot \(snapshot.location)"
        guard let live else { return "\(where_); no live row" }
        let written = "live updated_at \(live.updatedAt)"
        let columns = differing.map(\.rawValue).joined(separator: ", ")
        switch outcome {
        case .restore: return "\(where_); \(written) in the job window; differs in \(columns)"
        case .keptChangedAfterJob: return "\(where_); \(written) at or after the job's end; differs in \(columns)"
        case .keptNotFingerprint:
            var why: [String] = []
            if writtenBeforeJob { why.append("\(written) before the job") } else { why.append(written) }
            if !outside.isEmpty { why.append("differs outside --columns in \(outside.map(\.rawValue).joined(separator: ", "))") }
            return "\(where_); \(why.joined(separator: "; ")); differs in \(columns)"
        case .missingFromLive: return "\(where_); no live row"
        case .quarantined: return "\(where_); \(written) in the job window; \(reason.map { "\($0)" } ?? "")"
        }
    }
}

/// Where a snapshot membership missing from live ends.
public struct MembershipDecision: Hashable, Sendable {
    public var snapshot: SnapshotMembership
    /// nil: restored (inserted). Otherwise the user or project no longer exists in live.
    public var reason: QuarantineReason?

    public var membership: ProjectMembership { snapshot.membership }
    public var restored: Bool { reason == nil }
}

/// What the rules decided, sorted by key.
public struct Reconciliation: Hashable, Sendable {
    /// Every snapshot row with an outcome, in key order.
    public var slots: [SlotDecision] = []
    /// Every snapshot membership not in live, in `(project_id, user_id)` order.
    public var memberships: [MembershipDecision] = []
    /// Snapshot rows read in the range (with or without an outcome) and outside it.
    public var snapshotRowsInRange = 0
    public var snapshotRowsOutsideRange = 0
    /// Snapshot rows equal to live in every compared column.
    public var unchanged = 0
    /// A key the snapshot holds more than once: the first row (as given) stands.
    public var duplicateSnapshotRows: [SourceLocation] = []

    public init() {}

    public func count(_ outcome: SlotOutcome) -> Int { slots.reduce(0) { $0 + ($1.outcome == outcome ? 1 : 0) } }
    public func decisions(_ outcome: SlotOutcome) -> [SlotDecision] { slots.filter { $0.outcome == outcome } }
    public var restoredMemberships: [MembershipDecision] { memberships.filter(\.restored) }
    public var quarantinedMemberships: [MembershipDecision] { memberships.filter { !$0.restored } }
}

/// CONTRACT §7's rules on in-memory values: no database, no files.
public enum Reconciler {
    /// Decides every snapshot row and membership.
    ///
    /// - `snapshot`: the snapshot's `time_slots` rows (any order; a repeated key keeps its first).
    /// - `live`: the live rows, as seen, for at least the snapshot's keys (any order).
    /// - `memberships`: the snapshot's `project_members` pairs.
    /// - `references`: live's users, projects, tasks (→ project) and memberships, for at least
    ///   the ids the snapshot rows and pairs name.
    /// - `range`: when given, only slots with `slot_start` in it are considered; memberships are
    ///   restored whatever the range.
    public static func reconcile(
        snapshot: [SnapshotSlotRow], live: [SlotRow], memberships: [SnapshotMembership],
        job: Window, columns: Set<SlotColumn>, range: Window?, references: LiveState
    ) -> Reconciliation {
        var result = Reconciliation()

        // Memberships first: the slot rules count the ones this plan restores as present.
        var references = references
        var seenPairs = Set<ProjectMembership>()
        for pair in memberships.sorted(by: { ($0.membership.projectID, $0.membership.userID, $0.location) < ($1.membership.projectID, $1.membership.userID, $1.location) }) {
            let m = pair.membership
            guard seenPairs.insert(m).inserted, !references.memberships.contains(m) else { continue }
            let reason: QuarantineReason? =
                !references.users.contains(m.userID) ? .unknownUser(m.userID)
                : !references.projects.contains(m.projectID) ? .unknownProject(m.projectID) : nil
            result.memberships.append(MembershipDecision(snapshot: pair, reason: reason))
        }
        for decision in result.memberships where decision.restored {
            references.memberships.insert(decision.membership)
        }

        // Slots: a merge of both sides in key order.
        var snap = snapshot.filter { row in
            let inside = range?.contains(row.row.key.slotStart) ?? true
            if !inside { result.snapshotRowsOutsideRange += 1 }
            return inside
        }
        snap.sort { ($0.row.key, $0.location) < ($1.row.key, $1.location) }
        let liveRows = isSorted(live) ? live : live.sorted { $0.key < $1.key }
        var l = 0
        var previous: SlotKey?
        for entry in snap {
            let key = entry.row.key
            if key == previous {
                result.duplicateSnapshotRows.append(entry.location)
                continue
            }
            previous = key
            result.snapshotRowsInRange += 1
            while l < liveRows.count, liveRows[l].key < key { l += 1 }
            guard l < liveRows.count, liveRows[l].key == key else {
                result.slots.append(SlotDecision(
                    outcome: .missingFromLive, snapshot: entry, live: nil, differing: [], outside: [], writtenBeforeJob: false))
                continue
            }
            let current = liveRows[l]
            let differing = SlotColumn.differing(entry.row, current)
            guard !differing.isEmpty else {
                result.unchanged += 1
                continue
            }
            let written = current.updatedAt
            var decision = SlotDecision(
                outcome: .restore, snapshot: entry, live: current, differing: differing,
                outside: differing.filter { !columns.contains($0) }, writtenBeforeJob: written < job.from)
            // In the contract's order: after the job, then outside the fingerprint, then the references.
            if written >= job.to {
                decision.outcome = .keptChangedAfterJob
            } else if decision.writtenBeforeJob || !decision.outside.isEmpty {
                decision.outcome = .keptNotFingerprint
            } else if let reason = ConflictResolver.referenceProblem(decision.restored!.slot, references) {
                decision.outcome = .quarantined
                decision.reason = reason
            }
            result.slots.append(decision)
        }
        return result
    }

    private static func isSorted(_ rows: [SlotRow]) -> Bool {
        zip(rows, rows.dropFirst()).allSatisfy { $0.key < $1.key }
    }

    /// CONTRACT §7: a snapshot whose newest `time_slots.updated_at` (over the whole snapshot) is at
    /// or after `JOB_FROM` may already hold the job's values. Returns the refusal, or nil.
    public static func ageProblem(newest: Timestamp?, job: Window, snapshot: String) -> ReconcileError? {
        guard let newest, newest >= job.from else { return nil }
        return ReconcileError(
            .snapshotNotOlderThanJob, snapshot: snapshot,
            detail: "the snapshot's newest time_slots.updated_at \(newest) is not before --job-from \(job.from)")
    }
}

/// A reconcile that cannot be planned.
public struct ReconcileError: ToolError, Hashable {
    public enum Kind: String, CaseIterable, Sendable {
        /// The snapshot was taken at or after the job started (exit 72).
        case snapshotNotOlderThanJob = "snapshot_not_older_than_job"
        /// The snapshot holds no `time_slots` rows at all: its age cannot be told (exit 72).
        case snapshotEmpty = "snapshot_empty"
        /// A `time_slots` row's `updated_at` cannot be read: the snapshot's age cannot be told (exit 72).
        case snapshotAgeUnreadable = "snapshot_age_unreadable"
        /// A live `time_slots` row of the range cannot be read: which rows the job changed cannot be told (exit 72).
        case liveUnreadable = "live_unreadable"
    }

    public var kind: Kind
    public var snapshot: String
    public var detail: String

    public init(_ kind: Kind, snapshot: String, detail: String) {
        self.kind = kind
        self.snapshot = snapshot
        self.detail = detail
    }

    public var code: String { "reconcile_\(kind.rawValue)" }
    public var exitStatus: ExitStatus { .incompleteEvidence }
    public var location: String? { snapshot }
    public var message: String { "\(snapshot): \(detail)" }

    public var hint: String? {
        switch kind {
        case .snapshotNotOlderThanJob: "its values may already be the job's: give a backup taken before --job-from"
        case .snapshotEmpty: "give a pg_dump or database holding the time_slots rows from before the job"
        case .snapshotAgeUnreadable: "every row's updated_at must be a time to tell that the snapshot is older than the job: give a backup taken before --job-from whose rows all have one"
        case .liveUnreadable: "reconcile compares every live row of the range with the snapshot: make the row hold values the service schema allows, then reconcile again"
        }
    }
}
