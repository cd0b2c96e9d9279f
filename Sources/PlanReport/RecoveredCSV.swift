import PlanFormat
import RecoveryModel
import SlotFold

/// `recovered.csv`: one record per slot the plan would insert, in the rows file's order.
enum RecoveredCSV {
    static let header = [
        "user_id", "slot_start", "duration_min", "project_id", "task_id", "status", "activity_level",
        "keystrokes", "mouse_events", "provenance",
    ]

    static let renderer = ReportRenderer(fileName: "recovered.csv", streaming: write)

    static func render(_ evidence: PlanEvidence) -> String {
        var out = TextBuffer()
        write(evidence, to: &out) { _ in }
        return out.text
    }

    /// Appends the file to `out` a record at a time, and hands `out` to `flush` whenever it
    /// holds 1 MiB or more, and once at the end.
    static func write(
        _ evidence: PlanEvidence, to out: inout TextBuffer, flush: (inout TextBuffer) throws -> Void
    ) rethrows {
        out.append(CSVText.record(header))
        var provenance = TextBuffer(capacity: 256)
        try evidence.resolution.recovered.forEachInPlace { folded in
            append(folded, to: &out, provenance: &provenance)
            if out.bytes.count >= 1 << 20 { try flush(&out) }
        }
        try flush(&out)
    }

    /// One record, read in place (see `RowsFileFormat.append`).
    private static func append(_ folded: UnsafePointer<FoldedSlot>, to out: inout TextBuffer, provenance: inout TextBuffer) {
        out.append(folded.pointee.slot.key.userID); out.append(byte: 0x2C)
        out.append(folded.pointee.slot.key.slotStart); out.append(byte: 0x2C)
        out.append(folded.pointee.slot.durationMinutes); out.append(byte: 0x2C)
        out.append(folded.pointee.slot.projectID); out.append(byte: 0x2C)
        if let task = folded.pointee.slot.taskID { out.append(task) }
        out.append(byte: 0x2C)
        out.append(folded.pointee.slot.status.rawValue); out.append(byte: 0x2C)
        if let level = folded.pointee.slot.activityLevel { out.append(level) }
        out.append(byte: 0x2C)
        out.append(folded.pointee.slot.keystrokes); out.append(byte: 0x2C)
        out.append(folded.pointee.slot.mouseEvents); out.append(byte: 0x2C)
        provenance.bytes.removeAll(keepingCapacity: true)
        provenance.append(folded.pointee.provenance)
        if CSVText.isUnchangedAsText(provenance.bytes) {
            out.bytes.append(contentsOf: provenance.bytes)
        } else {
            out.append(CSVText.text(provenance.text))
        }
        out.append("\r\n")
    }
}

/// How a slot's provenance is written in the reports: `log app-1.log:17; log app-1.log:18`, as
/// in the rows file's `provenance` column.
enum ProvenanceText {
    static func joined(_ provenance: [Provenance]) -> String {
        provenance.map(\.description).joined(separator: "; ")
    }
}
