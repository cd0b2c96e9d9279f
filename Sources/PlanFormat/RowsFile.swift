import RecoveryModel

/// The rows a plan would insert: one line per slot in PostgreSQL's COPY text format, sorted by
/// key, columns as `PlanDocument.rowColumns`. `apply` streams this file into `COPY ... FROM STDIN`
/// untouched, so what was reviewed is byte for byte what is loaded.
public enum RowsFileFormat {
    /// Appends one row (a recovered slot and the events behind it), with its final newline,
    /// reading the slot and its provenance in place, the paths and dates from `text` (made for
    /// `.copyEscaped` paths): the plan writer's loop over a million slots copies none of them.
    @inlinable
    public static func append(
        _ slot: UnsafePointer<TimeSlot>, provenance: UnsafeBufferPointer<Provenance>, text: inout RepeatedText,
        to out: inout TextBuffer
    ) {
        out.append(slot.pointee.key.userID); out.append(byte: 0x09)
        out.append(slot.pointee.projectID); out.append(byte: 0x09)
        if let task = slot.pointee.taskID { out.append(task) } else { out.append("\\N") }
        out.append(byte: 0x09)
        text.appendTime(slot.pointee.key.slotStart, to: &out); out.append(byte: 0x09)
        out.append(slot.pointee.durationMinutes); out.append(byte: 0x09)
        out.append(slot.pointee.status.rawValue); out.append(byte: 0x09)
        if let level = slot.pointee.activityLevel { out.append(level) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(slot.pointee.keystrokes); out.append(byte: 0x09)
        out.append(slot.pointee.mouseEvents); out.append(byte: 0x09)
        CopyTextWriter.appendArrayField(slot.pointee.activeApps, to: &out.bytes); out.append(byte: 0x09)
        CopyTextWriter.appendField(slot.pointee.note, to: &out.bytes); out.append(byte: 0x09)
        _ = text.appendProvenance(provenance, to: &out)
        out.append(byte: 0x0A)
    }
}
