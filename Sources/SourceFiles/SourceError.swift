import RecoveryModel

/// An input file that cannot be read at all. A file that is readable up to a point is not an
/// error: its `InputDamage` is reported beside the lines that were read.
public struct SourceError: ToolError, Hashable {
    public enum Kind: String, CaseIterable, Sendable {
        case cannotOpen = "cannot_open"
        case cannotRead = "cannot_read"
        case notFound = "not_found"
        case lz4 = "lz4"
        /// `--logs` named no file with a log suffix; `path` holds the quoted paths given.
        case noLogFiles = "no_log_files"
    }

    public var kind: Kind
    public var path: String
    public var detail: String

    public init(_ kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var code: String { "source_\(kind.rawValue)" }
    public var exitStatus: ExitStatus { .input }
    public var location: String? { kind == .noLogFiles ? nil : path }

    /// `cannot open 'logs/app-1.log.lz4': Permission denied` (hint: check the path and its permissions)
    public var message: String {
        switch kind {
        case .cannotOpen: "cannot open '\(path)': \(detail)"
        case .cannotRead: "cannot read '\(path)': \(detail)"
        case .notFound: "no input at '\(path)': \(detail)"
        case .lz4: "cannot decompress '\(path)': \(detail)"
        case .noLogFiles: "no log files in --logs \(path): \(detail)"
        }
    }

    public var hint: String? {
        switch kind {
        case .cannotOpen: "check the path and its permissions"
        case .notFound: "check --logs and --snapshot"
        case .cannotRead, .lz4, .noLogFiles: nil
        }
    }
}

/// What went wrong inside a readable file: everything before `offset` was read.
public enum InputDamage: Hashable, Sendable, CustomStringConvertible {
    /// The file ends inside an LZ4 frame: a writer that crashed mid-frame. `offset` is the
    /// compressed size, the byte where the cut is.
    case truncated(offset: Int64)
    /// A frame failed to decode (bad header, bad block, content checksum mismatch). `offset` is
    /// the compressed byte where decoding stopped, to within 64 KiB. The fault itself may lie
    /// earlier in the frame: a content checksum is checked only at the frame's end, after its
    /// lines were delivered, so the whole file must be treated as suspect.
    case corrupt(offset: Int64, detail: String)

    public var offset: Int64 {
        switch self {
        case .truncated(let offset), .corrupt(let offset, _): offset
        }
    }

    public var code: String {
        switch self {
        case .truncated: "truncated"
        case .corrupt: "corrupt"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let offset): "truncated at byte \(offset): the last LZ4 frame is incomplete"
        case .corrupt(let offset, let detail): "corrupt: decoding stopped at byte \(offset): \(detail)"
        }
    }
}
