import RecoveryModel

/// The rows a plan would insert: one line per slot in PostgreSQL's COPY text format, sorted by
/// key, columns as `PlanDocument.rowColumns`. `apply` streams this file into `COPY ... FROM STDIN`
/// untouched, so what was reviewed is byte for byte what is loaded.
public enum RowsFileFormat {
    /// Appends one row (a recovered slot and the events behind it), with its final newline.
    @inlinable
    public static func append(_ s: TimeSlot, provenance: [Provenance], to out: inout TextBuffer) {
        out.append(s.key.userID); out.append(byte: 0x09)
        out.append(s.projectID); out.append(byte: 0x09)
        if let task = s.taskID { out.append(task) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(s.key.slotStart); out.append(byte: 0x09)
        out.append(s.durationMinutes); out.append(byte: 0x09)
        out.append(s.status.rawValue); out.append(byte: 0x09)
        if let level = s.activityLevel { out.append(level) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(s.keystrokes); out.append(byte: 0x09)
        out.append(s.mouseEvents); out.append(byte: 0x09)
        CopyTextWriter.appendArrayField(s.activeApps, to: &out.bytes); out.append(byte: 0x09)
        CopyTextWriter.appendField(s.note, to: &out.bytes); out.append(byte: 0x09)
        out.append(provenance, copyEscaped: true)
        out.append(byte: 0x0A)
    }
}
