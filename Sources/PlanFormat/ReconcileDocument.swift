import RecoveryModel

/// `plan.json` of a reconcile plan (`"kind": "reconcile"`), documented in docs/RECONCILE.md.
public struct ReconcileDocument: Codable, Hashable, Sendable {
    public static let kind = "reconcile"
    public static let membershipsFileName = "memberships.tsv"
    /// The rows file's columns: the live row as the plan saw it (`before_*`, every column), then
    /// the values a restore writes (`after_*`, the restorable columns), then the evidence.
    public static let rowColumns =
        ["id", "user_id", "slot_start"] + SlotColumn.allCases.map { "before_\($0.rawValue)" } + ["before_updated_at"]
        + SlotColumn.allCases.map { "after_\($0.rawValue)" } + ["evidence"]
    public static let membershipColumns = ["project_id", "user_id", "evidence"]

    public var format: String
    public var formatVersion: Int
    public var kind: String
    public var planID: String
    public var createdAt: String
    public var toolVersion: String
    public var job: PlanDocument.WindowRange
    /// `--from`/`--to` on `slot_start`, when given.
    public var range: PlanDocument.WindowRange?
    /// `time_slots.project_id`, ... as given to `--columns`, in table order.
    public var columns: [String]
    public var shard: Shard?
    /// The live database the plan was checked against: `apply` refuses any other.
    public var database: DatabaseIdentity
    public var snapshot: Snapshot
    public var rows: PlanDocument.RowsFile
    public var memberships: PlanDocument.RowsFile
    public var counts: Counts
    /// Every other file of the plan directory (the reports), as in a recovery plan.
    public var files: [PlanFile]

    public init(
        format: String, formatVersion: Int, kind: String, planID: String, createdAt: String, toolVersion: String,
        job: PlanDocument.WindowRange, range: PlanDocument.WindowRange?, columns: [String], shard: Shard?,
        database: DatabaseIdentity, snapshot: Snapshot, rows: PlanDocument.RowsFile, memberships: PlanDocument.RowsFile,
        counts: Counts, files: [PlanFile] = []
    ) {
        self.format = format
        self.formatVersion = formatVersion
        self.kind = kind
        self.planID = planID
        self.createdAt = createdAt
        self.toolVersion = toolVersion
        self.job = job
        self.range = range
        self.columns = columns
        self.shard = shard
        self.database = database
        self.snapshot = snapshot
        self.rows = rows
        self.memberships = memberships
        self.counts = counts
        self.files = files
    }

    public struct Snapshot: Codable, Hashable, Sendable {
        /// `dump` or `database`
        public var kind: String
        public var path: String
        public var bytes: Int64?
        public var sha256: String?
        public var lines: Int
        /// The newest `time_slots.updated_at` in the whole snapshot: before `job.from`.
        public var newestUpdatedAt: String?
        public var hasProjectMembers: Bool
        public var rowsInRange: Int
        public var rowsOutsideRange: Int

        public init(
            kind: String, path: String, bytes: Int64?, sha256: String?, lines: Int, newestUpdatedAt: String?,
            hasProjectMembers: Bool, rowsInRange: Int, rowsOutsideRange: Int
        ) {
            self.kind = kind
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
            self.lines = lines
            self.newestUpdatedAt = newestUpdatedAt
            self.hasProjectMembers = hasProjectMembers
            self.rowsInRange = rowsInRange
            self.rowsOutsideRange = rowsOutsideRange
        }
    }

    public struct Counts: Codable, Hashable, Sendable {
        public var restore = 0
        public var keptChangedAfterJob = 0
        public var keptNotFingerprint = 0
        public var missingFromLive = 0
        public var quarantined = 0
        public var unchanged = 0
        /// Snapshot rows that could not be read.
        public var unreadable = 0
        public var membershipsRestored = 0
        public var membershipsQuarantined = 0

        public init() {}

    }

    /// SHA-256 over what the plan would change and the evidence it stands on: the kind, the job,
    /// range, columns and shard, both rows files (their hashes cover each row's evidence), the
    /// counts, the database's identity and the snapshot's content hash. Not times or paths.
    public func computePlanID() -> String {
        let h = SHA256()
        h.update("\(PlanDocument.formatName) \(formatVersion) \(kind)\n")
        h.update("job \(job.from) \(job.to)\n")
        h.update("range \(range.map { "\($0.from) \($0.to)" } ?? "-")\n")
        h.update("columns \(columns.joined(separator: ","))\n")
        h.update("shard \(shard?.description ?? "-")\n")
        h.update("rows \(rows.sha256) \(rows.count)\n")
        h.update("memberships \(memberships.sha256) \(memberships.count)\n")
        let c = counts
        h.update("counts \(c.restore) \(c.keptChangedAfterJob) \(c.keptNotFingerprint) \(c.missingFromLive) \(c.quarantined) \(c.unchanged) \(c.unreadable) \(c.membershipsRestored) \(c.membershipsQuarantined)\n")
        h.update("snapshot \(snapshot.sha256 ?? "database")\n")
        h.update(database.planIDLine)
        return h.finalize()
    }
}
