import Foundation
import PlanFormat
import Reconcile
import RecoveryModel

/// What a reconcile plan is made from: the rules' decisions and the evidence they stand on.
public struct ReconcileEvidence: Sendable {
    public var result: Reconciliation
    public var job: Window
    public var range: Window?
    public var columns: [SlotColumn]
    public var shard: Shard?
    /// The live database, without its password.
    public var database: String
    public var snapshot: ReconcileDocument.Snapshot
    /// Snapshot rows that could not be read (with their line).
    public var quarantinedRows: [QuarantineRecord]
    /// Project id → company id, for the projects the decisions name (a customer per project).
    public var companies: [Int64: Int64]
    public var createdAt: Timestamp
    public var toolVersion: String

    public init(
        result: Reconciliation, job: Window, range: Window?, columns: [SlotColumn], shard: Shard?, database: String,
        snapshot: ReconcileDocument.Snapshot, quarantinedRows: [QuarantineRecord], companies: [Int64: Int64],
        createdAt: Timestamp, toolVersion: String
    ) {
        self.result = result
        self.job = job
        self.range = range
        self.columns = columns
        self.shard = shard
        self.database = database
        self.snapshot = snapshot
        self.quarantinedRows = quarantinedRows
        self.companies = companies
        self.createdAt = createdAt
        self.toolVersion = toolVersion
    }

    /// Per outcome, the number of snapshot rows.
    var counts: ReconcileDocument.Counts {
        var c = ReconcileDocument.Counts()
        for d in result.slots {
            switch d.outcome {
            case .restore: c.restore += 1
            case .keptChangedAfterJob: c.keptChangedAfterJob += 1
            case .keptNotFingerprint: c.keptNotFingerprint += 1
            case .missingFromLive: c.missingFromLive += 1
            case .quarantined: c.quarantined += 1
            }
        }
        c.unchanged = result.unchanged
        c.unreadable = quarantinedRows.count
        c.membershipsRestored = result.restoredMemberships.count
        c.membershipsQuarantined = result.quarantinedMemberships.count
        return c
    }

    /// Per user and per project (the snapshot's project: the customer's), the rows of each outcome.
    func totals(by group: (SlotDecision) -> Int64) -> [(Int64, [SlotOutcome: Int])] {
        var out: [Int64: [SlotOutcome: Int]] = [:]
        for d in result.slots { out[group(d), default: [:]][d.outcome, default: 0] += 1 }
        return out.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

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
    public var database: String
    public var snapshot: Snapshot
    public var rows: PlanDocument.RowsFile
    public var memberships: PlanDocument.RowsFile
    public var counts: Counts

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

        public subscript(outcome: SlotOutcome) -> Int {
            switch outcome {
            case .restore: restore
            case .keptChangedAfterJob: keptChangedAfterJob
            case .keptNotFingerprint: keptNotFingerprint
            case .missingFromLive: missingFromLive
            case .quarantined: quarantined
            }
        }
    }

    /// SHA-256 over what the plan would change and the evidence it stands on: the kind, the job,
    /// range, columns and shard, both rows files (their hashes cover each row's evidence), the
    /// counts and the snapshot's content hash. Not times, paths or the database.
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
        return h.finalize()
    }
}

/// Writes a reconcile plan directory: `rows.tsv`, `memberships.tsv`, `report.md`, `report.html`,
/// `reconcile.csv`, then `plan.json` last.
public enum ReconcilePlanWriter {
    public static func write(_ evidence: ReconcileEvidence, to directory: String) throws -> (document: ReconcileDocument, files: [String]) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let planPath = directory + "/plan.json"
        guard !fm.fileExists(atPath: planPath) else {
            throw PlanError(.exists, path: planPath, detail: "a plan is already there; choose a new --out directory")
        }
        let restores = evidence.result.decisions(.restore)
        var rows = TextBuffer(capacity: restores.count * 200)
        for d in restores { ReconcileRowsFormat.append(d, to: &rows) }
        let members = evidence.result.restoredMemberships
        var memberText = TextBuffer()
        for m in members {
            memberText.append(m.membership.projectID); memberText.append(byte: 0x09)
            memberText.append(m.membership.userID); memberText.append(byte: 0x09)
            memberText.append("snapshot "); CopyTextWriter.appendField(m.snapshot.location.file, to: &memberText.bytes)
            memberText.append(byte: 0x3A); memberText.append(m.snapshot.location.line)
            memberText.append(byte: 0x0A)
        }
        try write(rows.bytes, to: directory + "/" + PlanDocument.rowsFileName)
        try write(memberText.bytes, to: directory + "/" + ReconcileDocument.membershipsFileName)

        var document = ReconcileDocument(
            format: PlanDocument.formatName, formatVersion: PlanDocument.currentVersion, kind: ReconcileDocument.kind,
            planID: "", createdAt: evidence.createdAt.rfc3339, toolVersion: evidence.toolVersion,
            job: .init(evidence.job), range: evidence.range.map { .init($0) },
            columns: evidence.columns.map { "time_slots.\($0.rawValue)" }, shard: evidence.shard,
            database: evidence.database, snapshot: evidence.snapshot,
            rows: .init(file: PlanDocument.rowsFileName, sha256: sha256(rows.bytes), count: restores.count, columns: ReconcileDocument.rowColumns),
            memberships: .init(
                file: ReconcileDocument.membershipsFileName, sha256: sha256(memberText.bytes), count: members.count,
                columns: ReconcileDocument.membershipColumns),
            counts: evidence.counts)
        document.planID = document.computePlanID()
        let reports: [(String, String)] = [
            ("report.md", ReconcileReport.markdown(document, evidence)),
            ("report.html", ReconcileReport.html(document, evidence)),
            ("reconcile.csv", ReconcileReport.csv(evidence)),
        ]
        for (name, text) in reports { try write(Array(text.utf8), to: directory + "/" + name) }
        try write(Array(try JSONOutput.encode(document).utf8), to: planPath)
        return (document, [PlanDocument.rowsFileName, ReconcileDocument.membershipsFileName] + reports.map(\.0) + ["plan.json"])
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        let h = SHA256()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalize()
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw PlanError(.cannotWrite, path: path, detail: error.localizedDescription)
        }
    }
}

/// One line of a reconcile plan's rows file per restored row, COPY text, columns as
/// `ReconcileDocument.rowColumns`.
enum ReconcileRowsFormat {
    static func append(_ d: SlotDecision, to out: inout TextBuffer) {
        guard let live = d.live, let after = d.restored else { return }
        out.append(live.id); out.append(byte: 0x09)
        out.append(live.key.userID); out.append(byte: 0x09)
        out.append(live.key.slotStart); out.append(byte: 0x09)
        appendColumns(live, to: &out)
        out.append(live.updatedAt); out.append(byte: 0x09)
        appendColumns(after, to: &out)
        out.append("snapshot ")
        CopyTextWriter.appendField(d.snapshot.location.file, to: &out.bytes)
        out.append(byte: 0x3A); out.append(d.snapshot.location.line)
        out.append(byte: 0x0A)
    }

    /// The restorable columns of `row`, each followed by a tab.
    static func appendColumns(_ row: SlotRow, to out: inout TextBuffer) {
        let s = row.slot
        out.append(s.projectID); out.append(byte: 0x09)
        if let task = s.taskID { out.append(task) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(s.durationMinutes); out.append(byte: 0x09)
        out.append(row.source); out.append(byte: 0x09)
        out.append(s.status.rawValue); out.append(byte: 0x09)
        if let level = s.activityLevel { out.append(level) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(s.keystrokes); out.append(byte: 0x09)
        out.append(s.mouseEvents); out.append(byte: 0x09)
        CopyTextWriter.appendArrayField(s.activeApps, to: &out.bytes); out.append(byte: 0x09)
        CopyTextWriter.appendField(s.screenshotKey, to: &out.bytes); out.append(byte: 0x09)
        CopyTextWriter.appendField(s.note, to: &out.bytes); out.append(byte: 0x09)
    }
}
