import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// The fields up to the last of `user_id` and `slot_start`: what a row outside a window needs.
    private let keyFields: Int
    /// With `whole`: the positions of `id` and `source` (`decodeWhole`).
    let wholePositions: (id: Int, source: Int)?
    /// Where each field of the row `decode` was last given ends (`CopyText.fieldEnds`).
    private var ends: [Int]
    private var scratch: [UInt8] = []
    /// The app lists decoded so far, by their raw field: a dump repeats a few thousand lists over
    /// its rows, and a repeat is then a hash and a compare, with no array or `String` made.
    private var appLists = InternTable<[String]>(limit: 1 << 16)
    /// The date read last and its day number (`Timestamp.DateMemo`).
    private var dates = Timestamp.DateMemo()
    /// The day and zone of the `slot_start` read last (`CopyText.ZoneMemo`).
    private var zones = CopyText.ZoneMemo()
    /// The `user_id` read last: its bytes as a word (`rawUser`), their count (0 before the
    /// first) and its value.
    private var lastUser: (word: UInt64, count: Int, id: Int64) = (0, 0, 0)

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
        self.keyFields = max(positions[Column.user], positions[Column.slotStart]) + 1
        self.ends = Array(repeating: 0, count: names.count)
    }

    /// `active`, `idle`, `pending`, compared as bytes.
    static func status(_ field: UnsafeRawBufferPointer) -> SlotStatus? {
        @inline(__always) func equals(_ word: StaticString) -> Bool {
            field.count == word.utf8CodeUnitCount && memcmp(field.baseAddress!, word.utf8Start, field.count) == 0
        }
        if equals("active") { return .active }
        if equals("idle") { return .idle }
        if equals("pending") { return .pending }
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
    @inline(__always)
    func fieldRange(_ index: Int) -> Range<Int> { (index == 0 ? 0 : ends[index - 1] + 1)..<ends[index] }

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
    ///
    /// The phases: split the row's fields up to the key and count the others (a row of the wrong
    /// number of fields is rejected, in the window or not), read the key from its raw fields and
    /// test it against the window; then split the others (`splitRest`), the key's checks
    /// (`decodeKey`), the numbers (`decodeNumbers`), the app list (`decodeApps`) and the texts
    /// and time (`decodeTail`).
    public mutating func decode(_ row: UnsafeRawBufferPointer, window: Window?) -> WindowedRow {
        if let window {
            switch splitKey(row) {
            case .wrongFieldCount(let reason): return .inside(.rejected(reason, key: nil))
            case .split(let next):
                if let key = rawKey(row), !window.contains(key.slotStart) { return .outside(key) }
                splitRest(row, from: next)
            }
        } else if let rejected = split(row) {
            return .inside(rejected)
        }
        return .inside(decodeFields(row))
    }

    /// Splits `row` into `ends`; the rejection of a row with the wrong number of fields.
    private mutating func split(_ row: UnsafeRawBufferPointer) -> Row? {
        let count = ends.withUnsafeMutableBufferPointer { CopyText.fieldEnds(row, into: $0) }
        return count == fieldCount ? nil : .rejected(Self.fieldCountFault(fieldCount, count), key: nil)
    }

    /// What `splitKey` made of a row.
    private enum KeySplit {
        /// The row has the right number of fields; `ends` holds the key's and those before, and
        /// the next field starts at `next` (nil when the key's is the last).
        case split(next: Int?)
        case wrongFieldCount(QuarantineReason)
    }

    /// `split`, with only the fields up to the key's in `ends` and the rest counted: most rows
    /// of a dump lie outside the window, and the key is all they need. The same rejection.
    private mutating func splitKey(_ row: UnsafeRawBufferPointer) -> KeySplit {
        let keyFields = self.keyFields
        let (found, next) = ends.withUnsafeMutableBufferPointer {
            CopyText.leadingFieldEnds(row, into: UnsafeMutableBufferPointer(rebasing: $0[..<keyFields]))
        }
        let count = next.map { found + CopyText.countFields(row, from: $0) } ?? found
        guard count == fieldCount else { return .wrongFieldCount(Self.fieldCountFault(fieldCount, count)) }
        return .split(next: next)
    }

    /// The rest of `ends` after `splitKey`: the fields from `next`, split as the row from there
    /// (a tab that separates is not escaped, so neither is the byte after it).
    private mutating func splitRest(_ row: UnsafeRawBufferPointer, from next: Int?) {
        guard let next else { return }
        let keyFields = self.keyFields
        ends.withUnsafeMutableBufferPointer { ends in
            let rest = UnsafeMutableBufferPointer(rebasing: ends[keyFields...])
            _ = CopyText.fieldEnds(UnsafeRawBufferPointer(rebasing: row[next...]), into: rest)
            for k in rest.indices { rest[k] += next }
        }
    }

    private static func fieldCountFault(_ expected: Int, _ found: Int) -> QuarantineReason {
        .malformedRow("expected \(expected) fields, found \(found)")
    }

    /// `user_id` and `slot_start` when both read well, with no other check: enough to tell a row
    /// outside the window.
    private mutating func rawKey(_ row: UnsafeRawBufferPointer) -> SlotKey? {
        guard let userID = rawUser(field(Column.user, row), in: row),
              let slotStart = CopyText.timestamp(field(Column.slotStart, row), zones: &zones, dates: &dates)
        else { return nil }
        return SlotKey(userID: userID, slotStart: slotStart)
    }

    /// `CopyText.integer(field, in: 1...Int64.max)`: the same bytes as the last user read (a dump's
    /// rows come a user at a time) are the same user. A field of up to eight bytes with eight
    /// bytes of the row from its start is compared as one word.
    @inline(__always)
    private mutating func rawUser(_ field: UnsafeRawBufferPointer, in row: UnsafeRawBufferPointer) -> Int64? {
        let n = field.count
        guard n > 0, n <= 8, let p = field.baseAddress, p + 8 <= row.baseAddress! + row.count else {
            return CopyText.integer(field, in: 1...Int64.max)
        }
        let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) & (~0 &>> UInt64(64 &- 8 &* n))
        if n == lastUser.count, word == lastUser.word { return lastUser.id }
        guard let id = CopyText.integer(field, in: 1...Int64.max) else { return nil }
        lastUser = (word, n, id)
        return id
    }

    /// The raw bytes of one of `columns` in the row `split` last split.
    @inline(__always)
    private func field(_ column: Int, _ row: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: row[fieldRange(positions[column])])
    }

    /// Indices into `columns` (`TimeSlotColumns.read`), as constants: `RowDecoderTests` checks
    /// each against the name it stands for.
    enum Column {
        static var user: Int { 0 }
        static var project: Int { 1 }
        static var task: Int { 2 }
        static var slotStart: Int { 3 }
        static var duration: Int { 4 }
        static var status: Int { 5 }
        static var activity: Int { 6 }
        static var keystrokes: Int { 7 }
        static var mouse: Int { 8 }
        static var apps: Int { 9 }
        static var screenshot: Int { 10 }
        static var note: Int { 11 }
        static var updatedAt: Int { 12 }
    }

    /// Decodes the fields `split` found.
    private mutating func decodeFields(_ row: UnsafeRawBufferPointer) -> Row {
        let key: SlotKey
        switch decodeKey(row) {
        case .success(let k): key = k
        case .failure(let rejection): return .rejected(rejection.reason, key: rejection.key)
        }
        do throws(Reject) {
            let numbers = try decodeNumbers(row)
            let apps = try decodeApps(row)
            let (screenshot, note, updatedAt) = try decodeTail(row)
            return .slot(TimeSlot(
                key: key, projectID: numbers.projectID, taskID: numbers.taskID, durationMinutes: numbers.duration,
                status: numbers.status, activityLevel: numbers.activity, keystrokes: numbers.keystrokes,
                mouseEvents: numbers.mouse, activeApps: apps, screenshotKey: screenshot, note: note,
                updatedAt: updatedAt))
        } catch {
            return .rejected(error.reason, key: key)
        }
    }

    /// A row decoded for an `EventBatch`: its values, with its texts already appended to the
    /// batch's text arena (`decodeForBatch`), no `String` made.
    struct BatchFields {
        var key: SlotKey
        var numbers: Numbers
        var apps: [String]
        /// The byte count of `note` in the arena, nil for NULL. (`screenshot_key` is checked and
        /// not kept: a recovered slot has none, CONTRACT §5.6.)
        var note: UInt32?
        var updatedAt: Timestamp

        var projectID: Int64 { numbers.projectID }
        var taskID: Int64? { numbers.taskID }
        var durationMinutes: Int16 { numbers.duration }
        var status: SlotStatus { numbers.status }
        var activityLevel: Int16? { numbers.activity }
        var keystrokes: Int32 { numbers.keystrokes }
        var mouseEvents: Int32 { numbers.mouse }
    }

    /// What `decodeForBatch` made of a row.
    enum BatchRow {
        case fields(BatchFields)
        case outside(SlotKey)
        case rejected(QuarantineReason, key: SlotKey?)
    }

    /// `decode(_:window:)` for a batch: the same checks in the same order, with the texts of a
    /// row in the window appended to `text` (unescaped and checked, as `decode` would make
    /// strings of them) instead of made into strings. A rejected row leaves `text` as it was.
    mutating func decodeForBatch(_ row: UnsafeRawBufferPointer, window: Window?, text: inout [UInt8]) -> BatchRow {
        var raw: SlotKey?
        if let window {
            switch splitKey(row) {
            case .wrongFieldCount(let reason): return .rejected(reason, key: nil)
            case .split(let next):
                raw = rawKey(row)
                if let raw, !window.contains(raw.slotStart) { return .outside(raw) }
                splitRest(row, from: next)
            }
        } else if let rejected = split(row), case .rejected(let reason, let key) = rejected {
            return .rejected(reason, key: key)
        }
        let key: SlotKey
        if let raw {
            // Both fields read well: `decodeKey` would read the same key; its alignment is left.
            guard raw.slotStart.isSlotAligned else { return .rejected(.misalignedSlotStart, key: raw) }
            key = raw
        } else {
            switch decodeKey(row) {
            case .success(let k): key = k
            case .failure(let rejection): return .rejected(rejection.reason, key: rejection.key)
            }
        }
        let start = text.count
        do throws(Reject) {
            let numbers = try decodeNumbers(row)
            let apps = try decodeApps(row)
            _ = try appendText(Column.screenshot, row, to: &text)
            text.removeSubrange(start...)
            let note = try appendText(Column.note, row, to: &text)
            let updatedAt = try decodeUpdatedAt(row)
            return .fields(BatchFields(key: key, numbers: numbers, apps: apps, note: note, updatedAt: updatedAt))
        } catch {
            text.removeSubrange(start...)
            return .rejected(error.reason, key: key)
        }
    }

    /// Why the key cannot be read, with the key when it was (a misaligned start).
    private struct KeyRejection: Error {
        var reason: QuarantineReason
        var key: SlotKey?
    }

    /// `user_id` and `slot_start`, checked: a rejected row still names its slot when it can.
    private func decodeKey(_ row: UnsafeRawBufferPointer) -> Result<SlotKey, KeyRejection> {
        let userField = field(Column.user, row)
        if CopyText.isNull(userField) { return .failure(KeyRejection(reason: .malformedRow("'user_id' is null"))) }
        guard let userID = CopyText.integer(userField, in: 1...Int64.max) else {
            return .failure(KeyRejection(reason: .outOfRange(key: "user_id")))
        }
        let startField = field(Column.slotStart, row)
        guard !CopyText.isNull(startField), let slotStart = CopyText.timestamp(startField) else {
            return .failure(KeyRejection(reason: .invalidTime(key: "slot_start")))
        }
        let key = SlotKey(userID: userID, slotStart: slotStart)
        guard slotStart.isSlotAligned else { return .failure(KeyRejection(reason: .misalignedSlotStart, key: key)) }
        return .success(key)
    }

    /// The integer and status columns.
    struct Numbers {
        var projectID: Int64
        var taskID: Int64?
        var duration: Int16
        var status: SlotStatus
        var activity: Int16?
        var keystrokes: Int32
        var mouse: Int32
    }

    private func decodeNumbers(_ row: UnsafeRawBufferPointer) throws(Reject) -> Numbers {
        let projectID = try required(Column.project, 1...Int64.max, row)
        let taskID = try optional(Column.task, 1...Int64.max, row)
        let duration = try required(Column.duration, 1...10, row)
        guard let status = Self.status(field(Column.status, row)) else { throw Reject(.outOfRange(key: "status")) }
        let activity = try optional(Column.activity, 0...10, row)
        let keystrokes = try required(Column.keystrokes, 0...Int64(Int32.max), row)
        let mouse = try required(Column.mouse, 0...Int64(Int32.max), row)
        return Numbers(
            projectID: projectID, taskID: taskID, duration: Int16(duration), status: status,
            activity: activity.map { Int16($0) }, keystrokes: Int32(keystrokes), mouse: Int32(mouse))
    }

    /// `active_apps`: a `text[]` without NULL elements.
    private mutating func decodeApps(_ row: UnsafeRawBufferPointer) throws(Reject) -> [String] {
        let appsField = field(Column.apps, row)
        if CopyText.isNull(appsField) { throw Reject(.malformedRow("'active_apps' is null")) }
        let probe = appLists.find(appsField)
        if let found = probe.found { return appLists.values[found] }
        let elements: [String?]
        switch CopyText.textArray(appsField, scratch: &scratch) {
        case .success(let e): elements = e
        case .failure(let fault): throw Reject(reason(fault, Column.apps))
        }
        var apps: [String] = []
        apps.reserveCapacity(elements.count)
        for element in elements {
            guard let element else { throw Reject(reason(.nullElement, Column.apps)) }
            apps.append(element)
        }
        _ = appLists.insert(appsField, apps, at: probe)
        return apps
    }

    /// `screenshot_key`, `note` and `updated_at`.
    private mutating func decodeTail(_ row: UnsafeRawBufferPointer) throws(Reject) -> (String?, String?, Timestamp) {
        let screenshot = try text(Column.screenshot, row)
        let note = try text(Column.note, row)
        return (screenshot, note, try decodeUpdatedAt(row))
    }

    /// The `updated_at` of a row read on its own, whatever its other fields: nil when the row
    /// has another number of fields or its `updated_at` is no time. A reconcile tells a
    /// snapshot's age from every row, those quarantined for another field too.
    public mutating func updatedAtAlone(_ row: UnsafeRawBufferPointer) -> Timestamp? {
        var fields: [Range<Int>] = []
        CopyText.splitFields(row, into: &fields)
        guard fields.count == fieldCount else { return nil }
        let field = UnsafeRawBufferPointer(rebasing: row[fields[positions[Column.updatedAt]]])
        return CopyText.isNull(field) ? nil : CopyText.timestamp(field, dates: &dates)
    }

    /// `updated_at`.
    private mutating func decodeUpdatedAt(_ row: UnsafeRawBufferPointer) throws(Reject) -> Timestamp {
        let updatedField = field(Column.updatedAt, row)
        guard !CopyText.isNull(updatedField), let updatedAt = CopyText.timestamp(updatedField, dates: &dates) else {
            throw Reject(.invalidTime(key: "updated_at"))
        }
        return updatedAt
    }

    @inline(__always)
    private func required(_ column: Int, _ range: ClosedRange<Int64>, _ row: UnsafeRawBufferPointer) throws(Reject) -> Int64 {
        let f = field(column, row)
        if CopyText.isNull(f) { throw Reject(.malformedRow("'\(Self.columns[column])' is null")) }
        guard let v = CopyText.integer(f, in: range) else { throw Reject(.outOfRange(key: Self.columns[column])) }
        return v
    }

    @inline(__always)
    private func optional(_ column: Int, _ range: ClosedRange<Int64>, _ row: UnsafeRawBufferPointer) throws(Reject) -> Int64? {
        let f = field(column, row)
        if CopyText.isNull(f) { return nil }
        guard let v = CopyText.integer(f, in: range) else { throw Reject(.outOfRange(key: Self.columns[column])) }
        return v
    }

    private mutating func text(_ column: Int, _ row: UnsafeRawBufferPointer) throws(Reject) -> String? {
        let f = field(column, row)
        if CopyText.isNull(f) { return nil }
        switch CopyText.text(f, scratch: &scratch) {
        case .success(let s): return s
        case .failure(let fault): throw Reject(reason(fault, column))
        }
    }

    /// A text column's bytes appended to `out` (see `CopyText.appendText`): their count, nil for NULL.
    private func appendText(_ column: Int, _ row: UnsafeRawBufferPointer, to out: inout [UInt8]) throws(Reject) -> UInt32? {
        let f = field(column, row)
        if CopyText.isNull(f) { return nil }
        let start = out.count
        if let fault = CopyText.appendText(f, to: &out) { throw Reject(reason(fault, column)) }
        return UInt32(out.count - start)
    }

    private func reason(_ fault: CopyText.FieldFault, _ column: Int) -> QuarantineReason {
        let name = Self.columns[column]
        return switch fault {
        case .badEscape: .malformedRow("'\(name)' ends with a lone backslash")
        case .invalidUTF8: .invalidUTF8
        case .nul: .nulInText(key: name)
        case .malformedArray(let why): .wrongType(key: name, expected: "a text[] literal (\(why))")
        case .nullElement: .wrongType(key: name, expected: "an array without NULL elements")
        }
    }
}
