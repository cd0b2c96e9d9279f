import RecoveryModel

/// Why `explain` cannot answer: the plan directory is not whole.
public struct ExplainError: ToolError {
    public enum Kind: String, CaseIterable, Sendable, Hashable {
        /// plan.json has no valid window.
        case window = "explain_window"
        /// A CSV file of the plan (recovered.csv, dropped.csv, quarantined.csv) cannot be read.
        case unreadable = "explain_unreadable"
    }

    public var kind: Kind
    public var message: String
    /// The plan directory or the file.
    public var location: String?

    public init(_ kind: Kind, _ message: String, location: String? = nil) {
        self.kind = kind
        self.message = message
        self.location = location
    }

    /// `command_explain_…`: the codes `explain` had when the command decided them itself.
    public var code: String { "command_\(kind.rawValue)" }

    public var exitStatus: ExitStatus { .input }
}
