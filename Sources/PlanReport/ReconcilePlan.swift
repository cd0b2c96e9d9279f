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
    public var database: DatabaseIdentity
    public var snapshot: ReconcileDocument.Snapshot
    /// Snapshot rows that could not be read (with their line).
    public var quarantinedRows: [QuarantineRecord]
    /// Project id → company id, for the projects the decisions name (a customer per project).
    public var companies: [Int64: Int64]
    public var createdAt: Timestamp
    public var toolVersion: String

    public init(
        result: Reconciliation, job: Window, range: Window?, columns: [SlotColumn], shard: Shard?, database: DatabaseIdentity,
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


/// Writes a reconcile plan directory: `rows.tsv`, `memberships.tsv`, `report.md`, `report.html`,
/// `reconcile.csv`, then `plan.json` last; into a directory beside `directory`, renamed into
/// place once complete, as a recovery plan is (`PlanWriter.staged`).
public enum ReconcilePlanWriter {
    public static func write(_ evidence: ReconcileEvidence, to directory: String) throws -> (document: ReconcileDocument, files: [String]) {
        try PlanWriter.staged(directory) { try writeFiles(evidence, into: $0) }
    }

    static func writeFiles(_ evidence: ReconcileEvidence, into directory: String) throws -> (document: ReconcileDocument, files: [String]) {
        let planPath = directory + "/plan.json"
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
            rows: .init(file: PlanDocument.rowsFileName, sha256: FileDigest.of(rows.bytes).sha256, count: restores.count, columns: ReconcileDocument.rowColumns),
            memberships: .init(
                file: ReconcileDocument.membershipsFileName, sha256: FileDigest.of(memberText.bytes).sha256, count: members.count,
                columns: ReconcileDocument.membershipColumns),
            counts: evidence.counts)
        document.planID = document.computePlanID()
        let reports: [(String, String)] = [
            ("report.md", ReconcileReport.markdown(document, evidence)),
            ("report.html", ReconcileReport.html(document, evidence)),
            ("reconcile.csv", ReconcileReport.csv(evidence)),
        ]
        for (name, text) in reports {
            let bytes = Array(text.utf8)
            try write(bytes, to: directory + "/" + name)
            document.files.append(PlanFile(name: name, FileDigest.of(bytes)))
        }
        document.files.sort { $0.name < $1.name }
        try write(Array(try JSONOutput.encode(document).utf8), to: planPath)
        return (document, [PlanDocument.rowsFileName, ReconcileDocument.membershipsFileName] + reports.map(\.0) + ["plan.json"])
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw PlanError(.cannotWrite, path: path, detail: PlanError.reason(error))
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

extension ReconcileDocument.Counts {
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
