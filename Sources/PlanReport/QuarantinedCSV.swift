import RecoveryModel

/// `quarantined.csv`: every record that was not recovered because it cannot be stored as given,
/// from the readers (bad lines and rows) and from the resolver (unknown references), sorted by
/// file and line.
enum QuarantinedCSV {
    static let header = ["file", "line", "reason_code", "reason", "user_id", "slot_start"]

    static let renderer = ReportRenderer(fileName: "quarantined.csv", evidence: render)

    static func render(_ evidence: PlanEvidence) -> String {
        var out = CSVText.record(header)
        for q in records(evidence) {
            out += CSVText.record([
                CSVText.text(q.location.file), String(q.location.line), q.reason.code, CSVText.text(q.reason.description),
                q.key.map { String($0.userID) } ?? "", q.key?.slotStart.rfc3339 ?? "",
            ])
        }
        return out
    }

    /// The readers' and the resolver's quarantine together, by location, then reason code.
    static func records(_ evidence: PlanEvidence) -> [QuarantineRecord] {
        (evidence.readQuarantine + evidence.resolution.quarantined.map(\.record)).sorted {
            ($0.location, $0.reason.code) < ($1.location, $1.reason.code)
        }
    }
}
