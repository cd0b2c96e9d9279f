import RecoveryModel

/// The rows a plan would insert: one line per slot in PostgreSQL's COPY text format, sorted by
/// key, columns as `PlanDocument.rowColumns`. `apply` streams this file into `COPY ... FROM STDIN`
/// untouched, so what was reviewed is byte for byte what is loaded.
public enum RowsFileFormat {
    /// Appends one row (a recovered slot and the events behind it), with its final newline.
    @inlinable
    public static func append(_ s: TimeSlot, provenance: [Provenance], to out: inout TextBuffer) {
        withUnsafePointer(to: s) { append($0, provenance: provenance, to: &out) }
    }

    /// As `append(_:provenance:to:)`, reading the slot in place: the plan writer's loop over a
    /// million slots copies none of them.
    @inlinable
    public static func append(_ slot: UnsafePointer<TimeSlot>, provenance: [Provenance], to out: inout TextBuffer) {
        out.append(slot.pointee.key.userID); out.append(byte: 0x09)
        out.append(slot.pointee.projectID); out.append(byte: 0x09)
        if let task = slot.pointee.taskID { out.append(task) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(slot.pointee.key.slotStart); out.append(byte: 0x09)
        out.append(slot.pointee.durationMinutes); out.append(byte: 0x09)
        out.append(slot.pointee.status.rawValue); out.append(byte: 0x09)
        if let level = slot.pointee.activityLevel { out.append(level) } else { out.append("\\N") }
        out.append(byte: 0x09)
        out.append(slot.pointee.keystrokes); out.append(byte: 0x09)
        out.append(slot.pointee.mouseEvents); out.append(byte: 0x09)
        CopyTextWriter.appendArrayField(slot.pointee.activeApps, to: &out.bytes); out.append(byte: 0x09)
        CopyTextWriter.appendField(slot.pointee.note, to: &out.bytes); out.append(byte: 0x09)
        out.append(provenance, copyEscaped: true)
        out.append(byte: 0x0A)
    }
}
