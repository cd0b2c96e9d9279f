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
        case .notAPlan, .tampered: .refusedPlan
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
        }
    }

    public var hint: String? {
        kind == .tampered ? "make a new plan with 'recover-tool plan' and review it" : nil
    }
}
