import RecoveryModel
import SlotFold

/// `recovered.csv`: one record per slot the plan would insert, in the rows file's order.
enum RecoveredCSV {
    static let header = [
        "user_id", "slot_start", "duration_min", "project_id", "task_id", "status", "activity_level",
        "keystrokes", "mouse_events", "provenance",
    ]

    static let renderer = ReportRenderer(fileName: "recovered.csv") { _, evidence in render(evidence) }

    static func render(_ evidence: PlanEvidence) -> String {
        var out = CSVText.record(header)
        for folded in evidence.resolution.recovered {
            out += CSVText.record(fields(folded))
        }
        return out
    }

    static func fields(_ folded: FoldedSlot) -> [String] {
        let s = folded.slot
        return [
            String(s.key.userID),
            s.key.slotStart.rfc3339,
            String(s.durationMinutes),
            String(s.projectID),
            s.taskID.map(String.init) ?? "",
            s.status.rawValue,
            s.activityLevel.map(String.init) ?? "",
            String(s.keystrokes),
            String(s.mouseEvents),
            CSVText.text(ProvenanceText.joined(folded.provenance)),
        ]
    }
}

/// How a slot's provenance is written in the reports: `log app-1.log:17; log app-1.log:18`, as
/// in the rows file's `provenance` column.
enum ProvenanceText {
    static func joined(_ provenance: [Provenance]) -> String {
        provenance.map(\.description).joined(separator: "; ")
    }
}
