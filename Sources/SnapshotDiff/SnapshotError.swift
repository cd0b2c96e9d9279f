import RecoveryModel
import SourceFiles

/// A snapshot that cannot be used: the whole input is refused, with the place and what to do.
public struct SnapshotError: ToolError, Hashable {
    public enum Kind: String, CaseIterable, Sendable {
        /// The dump has no `COPY ... time_slots ... FROM stdin;` block.
        case noTimeSlotsBlock = "no_time_slots_block"
        /// The block ends (end of file, damage) before its `\.` line.
        case truncated
        /// The COPY line lacks a column recovery needs, or cannot be parsed.
        case badCopyLine = "bad_copy_line"
        /// The dump is not in UTF-8.
        case unsupportedEncoding = "unsupported_encoding"
        /// The dump has more lines or rows than an event numbers (`EventBatch.maxLine`). (A dump that
        /// cannot be opened or read is the file layer's `SourceError`.)
        case unreadable
        /// A pg_dump archive (custom, directory or tar format), not the plain SQL this tool reads.
        case notPlainFormat = "not_plain_format"
        /// A table the tool reads has more than one COPY block (a whole database's dump with the
        /// table in two schemas): which is the service's cannot be told.
        case tableTwice = "table_twice"
    }

    public var kind: Kind
    /// The dump file, or the snapshot database's redacted connection string.
    public var source: String
    /// The 1-based line the problem is at; 0 when it is the whole input.
    public var line: Int
    public var detail: String

    public init(_ kind: Kind, source: String, line: Int, detail: String) {
        self.kind = kind
        self.source = source
        self.line = line
        self.detail = detail
    }

    /// `snapshots/db-0725.sql.lz4:5012: the time_slots COPY block from line 40 ends without '\.'; ...`
    public var code: String { "snapshot_\(kind.rawValue)" }
    public var exitStatus: ExitStatus { .input }
    public var location: String? { line > 0 ? "\(source):\(line)" : source }

    public var message: String { "\(location ?? source): \(detail)" }

    public var hint: String? {
        switch kind {
        case .noTimeSlotsBlock: "give a pg_dump of the time_slots table (pg_dump --table=time_slots)"
        case .truncated: "the dump is cut or damaged: use a complete copy"
        case .badCopyLine: "give a pg_dump of the service's time_slots table"
        case .unsupportedEncoding: "dump it again with pg_dump --encoding=UTF8"
        case .unreadable: nil
        case .notPlainFormat:
            "turn it into plain SQL with 'pg_restore -f - \(source) > time_slots.sql' (or dump with pg_dump --format=plain) and give that"
        case .tableTwice: "dump the service's schema alone (pg_dump --schema=NAME) or its tables (pg_dump --table=NAME.time_slots)"
        }
    }
}
