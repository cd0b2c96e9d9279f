import RecoveryModel
import SlotFold

/// The rows a plan would insert: one line per slot in PostgreSQL's COPY text format, sorted by
/// key, columns as `PlanDocument.rowColumns`. `apply` streams this file into `COPY ... FROM STDIN`
/// untouched, so what was reviewed is byte for byte what is loaded.
public enum RowsFileFormat {
    /// One row, with its final newline.
    public static func line(_ folded: FoldedSlot) -> String {
        let s = folded.slot
        let fields: [String] = [
            String(s.key.userID),
            String(s.projectID),
            s.taskID.map(String.init) ?? "\\N",
            s.key.slotStart.rfc3339,
            String(s.durationMinutes),
            s.status.rawValue,
            s.activityLevel.map(String.init) ?? "\\N",
            String(s.keystrokes),
            String(s.mouseEvents),
            CopyTextWriter.field(CopyTextWriter.arrayLiteral(s.activeApps)),
            CopyTextWriter.field(s.note),
            CopyTextWriter.field(folded.provenance.map(\.description).joined(separator: "; ")),
        ]
        return fields.joined(separator: "\t") + "\n"
    }
}
