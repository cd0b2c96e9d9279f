import PlanFormat
import PlanReport
import RecoveryCommit
import RecoveryModel

/// The bodies of the `--json` outputs that are not a library's own value; `JSONOutput` adds
/// `format_version`. Each has a schema in docs/schemas/.

/// `plan --json`: where the plan was written, and plan.json itself.
struct PlanOutput: Encodable {
    var directory: String
    var plan: PlanDocument
}

/// `reconcile --json` (and `show --json` of a reconcile plan): where the plan was written and its
/// plan.json, as `plan --json` has them.
struct ReconcileOutput: Encodable {
    var directory: String
    var plan: ReconcileDocument
}

/// `combine --json`: where the plan set was written, and plan-set.json itself.
struct CombineOutput: Encodable {
    var directory: String
    var planSet: PlanSet
}

/// `apply --json`
struct ApplyOutput: Encodable {
    struct Drop: Encodable {
        var userID: Int64
        var slotStart: String
        /// `already_present` or `offline_overlap`
        var reason: String
        /// The live slot, or the overlapping offline entry.
        var otherID: Nullable<Int64>
    }

    /// `applied` (this call committed a new run) or `already_applied` (nothing changed).
    var outcome: String
    var run: RunRecord
    /// The first dropped slots; `run.counts` has them all.
    var drops: [Drop]
    /// True when COMMIT's reply was lost and the run was found committed afterwards.
    var connectionLostDuringCommit: Bool

    init(_ outcome: ApplyOutcome) {
        switch outcome {
        case .alreadyApplied(let run):
            self.outcome = "already_applied"
            self.run = run
            drops = []
            connectionLostDuringCommit = false
        case .applied(let run, let drops, let lost):
            self.outcome = "applied"
            self.run = run
            self.drops = drops.map {
                Drop(userID: $0.key.userID, slotStart: $0.key.slotStart.rfc3339, reason: $0.reason.rawValue,
                     otherID: Nullable($0.otherID))
            }
            connectionLostDuringCommit = lost
        }
    }
}

/// `revert --json`
struct RevertOutput: Encodable {
    struct Kept: Encodable {
        var slotID: Int64
        var userID: Int64
        var slotStart: String
    }

    /// What `revert --dry-run` found: the counts, and the first slots it would delete.
    struct DryRun: Encodable {
        var deleted: Int
        var kept: Int
        var missing: Int
        var deletedSlots: [Kept]
        /// A reconcile run's memberships the revert would delete; absent for a recovery run.
        var membersDeleted: Int?
    }

    /// `reverted` (this call deleted), `already_reverted` (nothing changed) or `dry_run`
    /// (nothing changed: what a revert would do now).
    var outcome: String
    var run: RunRecord
    /// The first slots kept (or that would be kept) because they were edited since the apply.
    var kept: [Kept]
    /// Only with `--dry-run`; null otherwise.
    var dryRun: Nullable<DryRun> = Nullable(nil)
    /// Other applied runs that found some of the slots present when they applied (`Reliance`).
    var reliedOn: [ReliedOn] = []
    /// The connection was lost at COMMIT and the run was found reverted afterwards, as `apply`'s.
    var connectionLostDuringCommit = false

    struct ReliedOn: Encodable {
        var runID: Int64
        var slots: Int
    }

    init(_ outcome: RevertOutcome) {
        switch outcome {
        case .alreadyReverted(let run):
            self.outcome = "already_reverted"
            self.run = run
            kept = []
        case .wouldRevert(let run, let deleted, let deletedCount, let kept, let keptCount, let missing, let reliance, let membersDeleted):
            self.outcome = "dry_run"
            self.run = run
            func form(_ s: KeptSlot) -> Kept { Kept(slotID: s.slotID, userID: s.key.userID, slotStart: s.key.slotStart.rfc3339) }
            self.kept = kept.map(form)
            dryRun = Nullable(DryRun(
                deleted: deletedCount, kept: keptCount, missing: missing, deletedSlots: deleted.map(form), membersDeleted: membersDeleted))
            reliedOn = reliance.map { ReliedOn(runID: $0.runID, slots: $0.slots) }
        case .reverted(let run, let kept, let reliance):
            self.outcome = "reverted"
            self.run = run
            self.kept = kept.map { Kept(slotID: $0.slotID, userID: $0.key.userID, slotStart: $0.key.slotStart.rfc3339) }
            reliedOn = reliance.map { ReliedOn(runID: $0.runID, slots: $0.slots) }
        }
    }
}

/// `runs --json`: the recorded runs, oldest first.
struct RunsOutput: Encodable {
    var runs: [RunRecord]
}
