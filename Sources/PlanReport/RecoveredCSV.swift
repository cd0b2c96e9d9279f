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
    /// holds 1 MiB or more, and once at the end. (The plan writer makes it beside the rows file,
    /// with `put`.)
    static func write(
        _ evidence: PlanEvidence, to out: inout TextBuffer, flush: (inout TextBuffer) throws -> Void
    ) throws {
        appendHeader(to: &out)
        var text = RepeatedText()
        let rows = PieceMemory(capacity: 1 << 20), records = PieceMemory(capacity: 1 << 20)
        let count = evidence.recoveredCount
        var start = 0
        while start < count {
            let end = min(count, start + 4096)
            rows.count = 0
            records.count = 0
            try evidence.withRecovered(start..<end) { slots, range in put(slots, range, text: &text, rows: rows, csv: records) }
            records.withBytes { out.bytes.append(contentsOf: $0) }
            if out.bytes.count >= 1 << 20 { try flush(&out) }
            start = end
        }
        try flush(&out)
    }

    static func appendHeader(to out: inout TextBuffer) {
        out.append(CSVText.record(header))
    }

    static func putHeader(to out: PieceMemory) {
        var writer = PieceWriter(out)
        let record = Array(CSVText.record(header).utf8)
        writer.reserve(record.count)
        writer.put(record, count: record.count)
        writer.finish()
    }

    /// Appends the lines of the rows file (`RowsFileFormat`) for the slots `slots[range]` to
    /// `rows`, and their records to `csv`, reading each slot in place: the columns both files
    /// have are made once, and the provenance once when its text is the same in both.
    static func put(_ slots: [FoldedSlot], _ range: Range<Int>, text: inout RepeatedText, rows: PieceMemory, csv: PieceMemory) {
        var rowsOut = PieceWriter(rows), csvOut = PieceWriter(csv)
        slots.withUnsafeBufferPointer { slots in
            guard let base = slots.baseAddress else { return }
            for i in range {
                let folded = base + i
                let slot = FoldedSlot.slotPointer(folded)
                let fields = SlotText(slot, text: &text)
                folded.pointee.provenance.withUnsafeBufferPointer { provenance in
                    let same = RowsFileFormat.put(slot, fields, provenance: provenance, text: &text, to: &rowsOut)
                    put(fields, provenance, rowsProvenance: same.map { $0..<(rowsOut.count - 1) }, rows: rowsOut, to: &csvOut)
                }
            }
        }
        rowsOut.finish()
        csvOut.finish()
    }

    /// One record; its provenance copied from `rows` at `rowsProvenance` when it is there.
    @inline(__always)
    private static func put(
        _ fields: SlotText, _ provenance: UnsafeBufferPointer<Provenance>, rowsProvenance: Range<Int>?, rows: PieceWriter,
        to out: inout PieceWriter
    ) {
        out.reserve(SlotText.room + fields.status.count)
        out.put(fields.user); out.put(0x2C)
        out.put(fields.start); out.put(0x2C)
        out.put(fields.duration); out.put(0x2C)
        out.put(fields.project); out.put(0x2C)
        if let task = fields.task { out.put(task) }
        out.put(0x2C)
        out.putPadded(fields.status.start, count: fields.status.count); out.put(0x2C)
        if let level = fields.level { out.put(level) }
        out.put(0x2C)
        out.put(fields.keystrokes); out.put(0x2C)
        out.put(fields.mouseEvents); out.put(0x2C)
        if let rowsProvenance {
            out.putCopy(of: rows, rowsProvenance)
        } else {
            // Text that CSV would change (a path with a comma, say) goes through `CSVText.text`. It
            // starts with its source's kind (`log`, `snapshot`), never with a formula start.
            let field = Array(CSVText.text(ProvenanceText.joined(Array(provenance))).utf8)
            out.reserve(field.count)
            out.put(field, count: field.count)
        }
        out.reserve(8)
        out.put(word: 0x0A0D, count: 2)
    }
}

/// How a slot's provenance is written in the reports: `log app-1.log:17; log app-1.log:18`, as
/// in the rows file's `provenance` column.
enum ProvenanceText {
    static func joined(_ provenance: [Provenance]) -> String {
        provenance.map(\.description).joined(separator: "; ")
    }
}
