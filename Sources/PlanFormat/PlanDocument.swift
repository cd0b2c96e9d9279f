import RecoveryModel

/// `plan.json`: what a dry run decided, the evidence it stands on, and the hash that names it.
/// Documented field by field in `docs/PLAN-FORMAT.md`; keys are snake_case.
public struct PlanDocument: Codable, Hashable, Sendable {
    /// What a plan does when applied: `recover` inserts lost slots (CONTRACT §5).
    public enum Kind: String, Codable, Hashable, Sendable {
        case recover
    }

    public static let formatName = "recover-tool-plan"
    public static let currentVersion = 1
    /// The rows file's name inside the plan directory.
    public static let rowsFileName = "rows.tsv"
    /// The rows file's columns, in order: the `COPY` column list `apply` loads it with (the
    /// `time_slots` columns a plan carries, then the provenance).
    public static let rowColumns = TimeSlotColumns.rowsFile.map(\.name) + ["provenance"]

    public var format: String
    public var formatVersion: Int
    public var kind: Kind
    /// SHA-256 over the plan's decisions (see `computePlanID`): what a reviewer approves.
    public var planID: String
    public var createdAt: String
    public var toolVersion: String
    public var window: WindowRange
    public var shard: Shard?
    /// The live database the plan was checked against: `apply` refuses any other.
    public var database: DatabaseIdentity
    public var inputs: [Input]
    public var rows: RowsFile
    public var counts: Counts
    public var recoveredMinutes: Int
    public var users: [UserTotals]
    public var completeness: Completeness
    /// Every other file of the plan directory (the reports and CSV files), with its size and
    /// SHA-256, by name: `apply` refuses a directory where one is missing, changed or added.
    public var files: [PlanFile]

    public init(
        format: String = PlanDocument.formatName, formatVersion: Int = PlanDocument.currentVersion, kind: Kind,
        planID: String, createdAt: String, toolVersion: String, window: WindowRange, shard: Shard?, database: DatabaseIdentity,
        inputs: [Input], rows: RowsFile, counts: Counts, recoveredMinutes: Int, users: [UserTotals],
        completeness: Completeness, files: [PlanFile] = []
    ) {
        self.format = format
        self.formatVersion = formatVersion
        self.kind = kind
        self.planID = planID
        self.createdAt = createdAt
        self.toolVersion = toolVersion
        self.window = window
        self.shard = shard
        self.database = database
        self.inputs = inputs
        self.rows = rows
        self.counts = counts
        self.recoveredMinutes = recoveredMinutes
        self.users = users
        self.completeness = completeness
        self.files = files
    }

    public struct WindowRange: Codable, Hashable, Sendable {
        public var from: String
        public var to: String

        public init(_ window: Window) {
            from = window.from.rfc3339
            to = window.to.rfc3339
        }

        public var window: Window? {
            guard let f = Timestamp.parse(from), let t = Timestamp.parse(to), f < t else { return nil }
            return Window(from: f, to: t)
        }
    }

    public struct Input: Codable, Hashable, Sendable {
        public var kind: SourceKind
        /// The path, or a snapshot database's connection string without its password.
        public var path: String
        /// Bytes on disk; nil for a database.
        public var bytes: Int64?
        /// SHA-256 of the file; nil for a database.
        public var sha256: String?
        public var lines: Int
        public var quarantined: Int
        /// `truncated at byte N ...` or `corrupt ...`; nil when the file was read whole.
        public var damage: String?
        /// True when the file starts with a UTF-8 byte order mark, which was skipped; nil otherwise.
        public var byteOrderMark: Bool?

        public init(
            kind: SourceKind, path: String, bytes: Int64?, sha256: String?, lines: Int, quarantined: Int, damage: String?,
            byteOrderMark: Bool? = nil
        ) {
            self.kind = kind
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
            self.lines = lines
            self.quarantined = quarantined
            self.damage = damage
            self.byteOrderMark = byteOrderMark
        }
    }

    public struct RowsFile: Codable, Hashable, Sendable {
        public var file: String
        public var sha256: String
        public var count: Int
        public var columns: [String]

        public init(file: String, sha256: String, count: Int, columns: [String]) {
            self.file = file
            self.sha256 = sha256
            self.count = count
            self.columns = columns
        }
    }

    public struct Counts: Codable, Hashable, Sendable {
        public var recovered = 0
        public var alreadyPresent = 0
        public var offlineOverlap = 0
        public var deleted = 0
        public var orphans = 0
        public var duplicates = 0
        public var quarantined = 0

        public init() {}
    }

    public struct UserTotals: Codable, Hashable, Sendable {
        public var userID: Int64
        public var recovered = 0
        public var recoveredMinutes = 0
        public var alreadyPresent = 0
        public var offlineOverlap = 0
        public var quarantined = 0

        public init(userID: Int64) {
            self.userID = userID
        }
    }

    public struct Completeness: Codable, Hashable, Sendable {
        /// False when any warning stands: a host's logs stop early or have gaps, a file is damaged.
        public var complete: Bool
        public var warnings: [String]

        public init(warnings: [String]) {
            self.complete = warnings.isEmpty
            self.warnings = warnings
        }
    }

    /// The hash that names the plan: SHA-256 over the format, kind, window, shard, rows file hash and
    /// count, counts, the database's identity, and the sorted content hashes of the inputs. It
    /// leaves out times and the tool version (paths count only through the rows' provenance), so
    /// the same evidence under the same paths against the same database gives the same plan id
    /// whenever and in whatever input order it is planned, and any change to what would be
    /// inserted, or to where, changes it.
    public func computePlanID() -> String {
        let h = SHA256()
        h.update("\(Self.formatName) \(formatVersion)\n")
        // A recovery plan's id predates `kind`: it is hashed for the other kinds only, so the ids
        // of recovery plans stay what they were.
        if kind != .recover { h.update("kind \(kind.rawValue)\n") }
        h.update("window \(window.from) \(window.to)\n")
        h.update("shard \(shard?.description ?? "-")\n")
        h.update("rows \(rows.sha256) \(rows.count) \(rows.columns.joined(separator: ","))\n")
        let c = counts
        h.update("counts \(c.recovered) \(c.alreadyPresent) \(c.offlineOverlap) \(c.deleted) \(c.orphans) \(c.duplicates) \(c.quarantined)\n")
        h.update("minutes \(recoveredMinutes)\n")
        h.update(database.planIDLine)
        for digest in inputs.map({ "\($0.kind.rawValue) \($0.sha256 ?? "database")" }).sorted() {
            h.update("input \(digest)\n")
        }
        return h.finalize()
    }
}
