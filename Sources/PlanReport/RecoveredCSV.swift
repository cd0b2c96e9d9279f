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

    /// The whole file as text, from evidence whose slots are in memory (spilled slots are
    /// written through `write`, whose read of the spill can fail).
    static func render(_ evidence: PlanEvidence) -> String {
        precondition(evidence.spilledRecovered == nil, "recovered.csv of spilled slots is written, not rendered")
        var out = TextBuffer()
        try? write(evidence, to: &out) { _ in }
        return out.text
    }

    /// Appends the file to `out` a record at a time, and hands `out` to `flush` whenever it
    /// holds 1 MiB or more, and once at the end.
    static func write(
        _ evidence: PlanEvidence, to out: inout TextBuffer, flush: (inout TextBuffer) throws -> Void
    ) throws {
        appendHeader(to: &out)
        var text = RepeatedText(paths: .asIs)
        let count = evidence.recoveredCount
        var start = 0
        while start < count {
            let end = min(count, start + 4096)
            try evidence.withRecovered(start..<end) { slots, range in append(slots, range, text: &text, to: &out) }
            if out.bytes.count >= 1 << 20 { try flush(&out) }
            start = end
        }
        try flush(&out)
    }

    static func appendHeader(to out: inout TextBuffer) {
        out.append(CSVText.record(header))
    }

    /// Appends the records of `slots[range]`, reading each slot in place.
    static func append(_ slots: [FoldedSlot], _ range: Range<Int>, text: inout RepeatedText, to out: inout TextBuffer) {
        slots.withUnsafeBufferPointer { slots in
            guard let base = slots.baseAddress else { return }
            for i in range { append(base + i, to: &out, text: &text) }
        }
    }

    /// One record, read in place (see `RowsFileFormat.append`).
    private static func append(_ folded: UnsafePointer<FoldedSlot>, to out: inout TextBuffer, text: inout RepeatedText) {
        let slot = FoldedSlot.slotPointer(folded)
        out.append(slot.pointee.key.userID); out.append(byte: 0x2C)
        text.appendTime(slot.pointee.key.slotStart, to: &out); out.append(byte: 0x2C)
        out.append(slot.pointee.durationMinutes); out.append(byte: 0x2C)
        out.append(slot.pointee.projectID); out.append(byte: 0x2C)
        if let task = slot.pointee.taskID { out.append(task) }
        out.append(byte: 0x2C)
        out.append(slot.pointee.status.rawValue); out.append(byte: 0x2C)
        if let level = slot.pointee.activityLevel { out.append(level) }
        out.append(byte: 0x2C)
        out.append(slot.pointee.keystrokes); out.append(byte: 0x2C)
        out.append(slot.pointee.mouseEvents); out.append(byte: 0x2C)
        // The provenance is written in place; text that CSV would change (a path with a comma,
        // say) is taken back and written through `CSVText.text`. It starts with its source's kind
        // (`log`, `snapshot`), never with a formula start.
        let start = out.bytes.count
        let plain = folded.pointee.provenance.withUnsafeBufferPointer { text.appendProvenance($0, to: &out) }
        if !plain {
            let written = String(decoding: out.bytes[start...], as: UTF8.self)
            out.bytes.removeSubrange(start...)
            out.append(CSVText.text(written))
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
