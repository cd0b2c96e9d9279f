import RecoveryModel

/// The rows a plan would insert: one line per slot in PostgreSQL's COPY text format, sorted by
/// key, columns as `PlanDocument.rowColumns`. `apply` streams this file into `COPY ... FROM STDIN`
/// untouched, so what was reviewed is byte for byte what is loaded.
public enum RowsFileFormat {
    /// Writes one row (a recovered slot and the events behind it), with its final newline,
    /// reading the slot and its provenance in place, the paths and dates from `text`: the plan
    /// writer's loop over a million slots copies none of them. `fields` are the slot's
    /// (`SlotText(slot, text: &text)`), made once for this file and `recovered.csv`. Returns
    /// where the provenance starts in `out` (a `count`) when `recovered.csv`'s provenance field is
    /// the same bytes, else nil.
    @inlinable
    public static func put(
        _ slot: UnsafePointer<TimeSlot>, _ fields: SlotText, provenance: UnsafeBufferPointer<Provenance>,
        text: inout RepeatedText, to out: inout PieceWriter
    ) -> Int? {
        out.reserve(SlotText.room + fields.status.count)
        out.put(fields.user); out.put(0x09)
        out.put(fields.project); out.put(0x09)
        if let task = fields.task { out.put(task) } else { out.put(word: 0x4E5C, count: 2) }  // \N
        out.put(0x09)
        out.put(fields.start); out.put(0x09)
        out.put(fields.duration); out.put(0x09)
        out.putPadded(fields.status.start, count: fields.status.count); out.put(0x09)
        if let level = fields.level { out.put(level) } else { out.put(word: 0x4E5C, count: 2) }
        out.put(0x09)
        out.put(fields.keystrokes); out.put(0x09)
        out.put(fields.mouseEvents); out.put(0x09)
        text.putActiveApps(slot, to: &out)
        out.reserve(1)
        out.put(0x09)
        if let note = slot.pointee.note {
            out.write(room: CopyTextWriter.fieldRoom(note) + 1) { at in
                let n = CopyTextWriter.writeField(note, to: at)
                at[n] = 0x09
                return n + 1
            }
        } else {
            out.reserve(8)
            out.put(word: 0x09_4E5C, count: 3)  // \N and a tab
        }
        let start = out.count
        let same = text.putProvenance(provenance, to: &out)
        out.reserve(1)
        out.put(0x0A)
        return same ? start : nil
    }
}

/// The columns of a recovered slot that the rows file and `recovered.csv` both write, as text:
/// made once per slot for the two.
public struct SlotText {
    public var user: DecimalText
    public var project: DecimalText
    /// Nil for NULL.
    public var task: DecimalText?
    public var start: TimeText
    public var duration: DecimalText
    /// `SlotStatus.rawValue`.
    public var status: PaddedText
    /// Nil for NULL.
    public var level: DecimalText?
    public var keystrokes: DecimalText
    public var mouseEvents: DecimalText

    /// The room the fields take in either file, with their separators, but for the status's
    /// bytes (each number at most 24 bytes of room, the time 32, the status's padding 16).
    public static var room: Int { 9 * 24 + 32 + 16 + 16 }

    @inlinable
    public init(_ slot: UnsafePointer<TimeSlot>, text: inout RepeatedText) {
        user = DecimalText(slot.pointee.key.userID)
        project = DecimalText(slot.pointee.projectID)
        task = slot.pointee.taskID.map { DecimalText($0) }
        start = text.timeText(slot.pointee.key.slotStart)
        duration = DecimalText(slot.pointee.durationMinutes)
        status = text.statusText(slot.pointee.status)
        level = slot.pointee.activityLevel.map { DecimalText($0) }
        keystrokes = DecimalText(slot.pointee.keystrokes)
        mouseEvents = DecimalText(slot.pointee.mouseEvents)
    }
}
