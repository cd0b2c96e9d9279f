import RecoveryModel

/// A plan that cannot be written or must not be applied.
public struct PlanError: ToolError, Hashable {
    public enum Kind: String, CaseIterable, Sendable {
        /// The plan directory already holds a plan.
        case exists
        /// No plan.json, or not one this tool wrote.
        case notAPlan = "not_a_plan"
        /// plan.json or the rows file does not match its recorded hash.
        case tampered
        case cannotWrite = "cannot_write"
        /// The plans given to `combine` are not one whole set of shards.
        case setRefused = "set_refused"
        /// A plan that is not in the plan set approved for `apply --plan-set`.
        case notInSet = "not_in_set"
        /// No plan-set.json, not one this tool wrote, or not matching its set id.
        case notASet = "not_a_set"
    }

    public var kind: Kind
    public var path: String
    public var detail: String

    public init(_ kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var code: String { "plan_\(kind.rawValue)" }

    public var exitStatus: ExitStatus {
        switch kind {
        case .notAPlan, .tampered, .setRefused, .notInSet, .notASet: .refusedPlan
        case .exists, .cannotWrite: .input
        }
    }

    public var location: String? { path }

    public var message: String {
        switch kind {
        case .exists: "cannot write the plan to '\(path)': \(detail)"
        case .notAPlan: "'\(path)' is not a recover-tool plan: \(detail)"
        case .tampered: "refusing the plan in '\(path)': \(detail)"
        case .cannotWrite: "cannot write '\(path)': \(detail)"
        case .setRefused: "refusing the plan set of '\(path)': \(detail)"
        case .notInSet: "refusing the plan in '\(path)': \(detail)"
        case .notASet: "'\(path)' is not a plan set this tool can use: \(detail)"
        }
    }

    public var hint: String? {
        switch kind {
        case .tampered: "make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it"
        case .setRefused: "plan every shard 0 to N-1 of one N, for one window, from the same inputs and --db, and combine them all"
        case .notASet: "write the set again with 'recover-tool combine' from its shard plans, and review it"
        case .notInSet: "apply only the plans of the set that was reviewed"
        case .exists, .notAPlan, .cannotWrite: nil
        }
    }
}
