import RecoveryModel

/// A spill file that cannot be written or read back (`plan --memory-limit`). The plan stops,
/// and its spill files are removed.
public struct SpillError: ToolError {
    public enum Kind: String, CaseIterable, Sendable {
        case cannotWrite = "cannot_write"
        case cannotRead = "cannot_read"
    }

    public var kind: Kind
    /// The spill directory or file.
    public var path: String
    public var detail: String

    public init(_ kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var code: String { "spill_" + kind.rawValue }
    public var exitStatus: ExitStatus { .input }
    public var location: String? { path }

    public var message: String {
        switch kind {
        case .cannotWrite: "cannot spill to '\(path)': \(detail)"
        case .cannotRead: "cannot read back the spill file '\(path)': \(detail)"
        }
    }

    public var hint: String? {
        switch kind {
        case .cannotWrite:
            "set TMPDIR to a directory with room for the spill (about half the size of the compressed inputs), or raise --memory-limit"
        case .cannotRead:
            "run the plan again, with nothing else changing or cleaning TMPDIR while it runs (the spill files were removed)"
        }
    }
}
