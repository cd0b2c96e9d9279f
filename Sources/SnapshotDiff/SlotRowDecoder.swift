import RecoveryModel

/// Reads `time_slots` rows in COPY text format into `TimeSlot`s, checking what CONTRACT §5.5 lets
/// a row show on its own: types, NULLs in NOT NULL columns, ranges, alignment, UTF-8, NUL.
/// Whether the user, project and task exist is for the resolver to check against the database.
///
/// Holds reusable buffers: one decoder per reader, not shared across threads.
public struct SlotRowDecoder {
    /// The columns recovery reads, in the order `SlotRowDecoder.selectList` writes them.
    public static let columns = TimeSlotColumns.read.map(\.name)

    /// A SELECT list for `COPY (SELECT ...) TO STDOUT` in the order of `columns`.
    public static var selectList: String { columns.joined(separator: ", ") }

    /// For each of `columns`, its position in the row.
    private let positions: [Int]
    private let fieldCount: Int
    /// With `whole`: the positions of `id` and `source` (`decodeWhole`).
    let wholePositions: (id: Int, source: Int)?
    private var fields: [Range<Int>] = []
    private var scratch: [UInt8] = []

    /// The decoder for rows whose columns are `names` (a COPY column list, in order). Returns
    /// the names of the columns recovery needs that `names` lacks, when any is missing.
    /// With `whole`, `id` and `source` are needed too (`decodeWhole`).
    public init(columnNames names: [String], whole: Bool = false) throws(MissingColumns) {
        var positions: [Int] = []
        var missing: [String] = []
        for column in (whole ? ["id", "source"] : []) + Self.columns where names.firstIndex(of: column) == nil {
            missing.append(column)
        }
        for column in Self.columns {
            if let index = names.firstIndex(of: column) { positions.append(index) }
        }
        guard missing.isEmpty else { throw MissingColumns(names: missing) }
        self.positions = positions
        if whole, let id = names.firstIndex(of: "id"), let source = names.firstIndex(of: "source") {
            wholePositions = (id, source)
        } else {
            wholePositions = nil
        }
        self.fieldCount = names.count
        fields.reserveCapacity(names.count + 1)
    }

    /// `active`, `idle`, `pending`, compared as bytes.
    static func status(_ field: UnsafeRawBufferPointer) -> SlotStatus? {
        if field.elementsEqual("active".utf8) { return .active }
        if field.elementsEqual("idle".utf8) { return .idle }
        if field.elementsEqual("pending".utf8) { return .pending }
        return nil
    }

    struct Reject: Error {
        let reason: QuarantineReason
        init(_ reason: QuarantineReason) { self.reason = reason }
    }

    public struct MissingColumns: Error, Hashable {
        public var names: [String]
    }

    /// What one row says: a slot, or why it cannot be taken (with the key when that much was read).
    public enum Row: Hashable, Sendable {
        case slot(TimeSlot)
        case rejected(QuarantineReason, key: SlotKey?)

        public var key: SlotKey? {
            switch self {
            case .slot(let slot): slot.key
            case .rejected(_, let key): key
            }
        }
    }

    /// The byte range of field `index` of the row `decode` was last given.
    func fieldRange(_ index: Int) -> Range<Int> { fields[index] }

    /// A row decoded for a window: its slot lies outside, or it is decoded in full.
    public enum WindowedRow: Hashable, Sendable {
        case inside(Row)
        case outside(SlotKey)
    }

    /// Decodes one row (without its newline).
    public mutating func decode(_ row: UnsafeRawBufferPointer) -> Row {
        switch decode(row, window: nil) {
        case .inside(let row): row
        case .outside: preconditionFailure("no window, no row outside it")
        }
    }

    /// Decodes one row (without its newline) when its slot lies in `window` (every row when nil).
    /// A row whose `user_id` and `slot_start` read well and whose slot lies outside is `.outside`,
    /// its other fields left undecoded: most rows of a backup predate the incident.
    public mutating func decode(_ row: UnsafeRawBufferPointer, window: Window?) -> WindowedRow {
        CopyText.splitFields(row, into: &fields)
        guard fields.count == fieldCount else {
            return .inside(.rejected(.malformedRow("expected \(fieldCount) fields, found \(fields.count)"), key: nil))
        }
        if let window {
            // user_id and slot_start only: the rest is decoded for the rows in the window.
            if let userID = CopyText.integer(field(0, row), in: 1...Int64.max),
               let slotStart = CopyText.timestamp(field(3, row)), !window.contains(slotStart) {
                return .outside(SlotKey(userID: userID, slotStart: slotStart))
            }
        }
        return .inside(decodeFields(row))
    }

    private func field(_ column: Int, _ row: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: row[fields[positions[column]]])
    }

    /// Decodes the fields `splitFields` found.
    private mutating func decodeFields(_ row: UnsafeRawBufferPointer) -> Row {
        func field(_ column: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: row[fields[positions[column]]])
        }
        func name(_ column: Int) -> String { Self.columns[column] }

        // user_id, slot_start first: a rejected row still names its slot when it can.
        let userField = field(0)
        if CopyText.isNull(userField) { return .rejected(.malformedRow("'user_id' is null"), key: nil) }
        guard let userID = CopyText.integer(userField, in: 1...Int64.max) else {
            return .rejected(.outOfRange(key: "user_id"), key: nil)
        }
        let startField = field(3)
        guard !CopyText.isNull(startField), let slotStart = CopyText.timestamp(startField) else {
            return .rejected(.invalidTime(key: "slot_start"), key: nil)
        }
        let key = SlotKey(userID: userID, slotStart: slotStart)
        guard slotStart.isSlotAligned else { return .rejected(.misalignedSlotStart, key: key) }

        func required(_ column: Int, _ range: ClosedRange<Int64>) throws(Reject) -> Int64 {
            let f = field(column)
            if CopyText.isNull(f) { throw Reject(.malformedRow("'\(name(column))' is null")) }
            guard let v = CopyText.integer(f, in: range) else { throw Reject(.outOfRange(key: name(column))) }
            return v
        }
        func optional(_ column: Int, _ range: ClosedRange<Int64>) throws(Reject) -> Int64? {
            let f = field(column)
            if CopyText.isNull(f) { return nil }
            guard let v = CopyText.integer(f, in: range) else { throw Reject(.outOfRange(key: name(column))) }
            return v
        }
        func reason(_ fault: CopyText.FieldFault, _ column: Int) -> QuarantineReason {
            switch fault {
            case .badEscape: .malformedRow("'\(name(column))' ends with a lone backslash")
            case .invalidUTF8: .invalidUTF8
            case .nul: .nulInText(key: name(column))
            case .malformedArray(let why): .wrongType(key: name(column), expected: "a text[] literal (\(why))")
            case .nullElement: .wrongType(key: name(column), expected: "an array without NULL elements")
            }
        }
        func text(_ column: Int) throws(Reject) -> String? {
            let f = field(column)
            if CopyText.isNull(f) { return nil }
            switch CopyText.text(f, scratch: &scratch) {
            case .success(let s): return s
            case .failure(let fault): throw Reject(reason(fault, column))
            }
        }

        do throws(Reject) {
            let projectID = try required(1, 1...Int64.max)
            let taskID = try optional(2, 1...Int64.max)
            let duration = try required(4, 1...10)
            guard let status = Self.status(field(5)) else { return .rejected(.outOfRange(key: "status"), key: key) }
            let activity = try optional(6, 0...10)
            let keystrokes = try required(7, 0...Int64(Int32.max))
            let mouse = try required(8, 0...Int64(Int32.max))
            let appsField = field(9)
            if CopyText.isNull(appsField) { return .rejected(.malformedRow("'active_apps' is null"), key: key) }
            let elements: [String?]
            switch CopyText.textArray(appsField, scratch: &scratch) {
            case .success(let e): elements = e
            case .failure(let fault): return .rejected(reason(fault, 9), key: key)
            }
            var apps: [String] = []
            apps.reserveCapacity(elements.count)
            for element in elements {
                guard let element else { return .rejected(reason(.nullElement, 9), key: key) }
                apps.append(element)
            }
            let screenshot = try text(10)
            let note = try text(11)
            let updatedField = field(12)
            guard !CopyText.isNull(updatedField), let updatedAt = CopyText.timestamp(updatedField) else {
                return .rejected(.invalidTime(key: "updated_at"), key: key)
            }
            return .slot(TimeSlot(
                key: key, projectID: projectID, taskID: taskID, durationMinutes: Int16(duration),
                status: status, activityLevel: activity.map { Int16($0) }, keystrokes: Int32(keystrokes),
                mouseEvents: Int32(mouse), activeApps: apps, screenshotKey: screenshot, note: note,
                updatedAt: updatedAt))
        } catch {
            return .rejected(error.reason, key: key)
        }
    }
}
