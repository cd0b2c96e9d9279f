import RecoveryModel

/// UTF-8 text built as bytes: the large plan files (rows, recovered slots) are written through it
/// a row at a time, with no `String` per field. Inlinable: the reports call it per field.
public struct TextBuffer {
    public var bytes: [UInt8] = []

    @inlinable
    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    @inlinable
    public mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    /// The decimal digits of `value`, made from the last into a fixed buffer and appended at
    /// once (one capacity check per number, not one per digit).
    @inlinable
    public mutating func append<I: BinaryInteger>(_ value: I) {
        DecimalText.withText(of: Int64(value)) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func append(_ time: Timestamp) {
        time.appendRFC3339(to: &bytes)
    }

    @inlinable
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Text the rows of the large plan files repeat, made once and then copied: the source of each
/// provenance entry (`snapshot dumps/time_slots.sql.lz4:`, a few files behind a million rows)
/// and the date of the day a slot starts on. One per thread making pieces; never shared.
///
/// A path is looked up by the bits of its `String` (its length and flags, and its storage or its
/// inline bytes), read in place: no reference count is touched. The writers run on every core
/// over the same slots, and counting references to the same few path strings from each core made
/// each count a cache miss. Equal bits are the same text: each entry keeps its string, so a
/// storage address it names cannot be freed and reused for another path while this lives. Equal
/// text with other bits (another copy of a path) only takes one more entry.
public struct RepeatedText {
    @usableFromInline
    struct StringBits: Hashable {
        @usableFromInline var low: UInt64
        @usableFromInline var high: UInt64
    }

    /// The text of a provenance entry up to its line: `snapshot dumps/time_slots.sql.lz4:`, the
    /// path escaped for a COPY text field (the rows file).
    @usableFromInline
    struct SourceText {
        @usableFromInline var text: PaddedText
        /// True when `recovered.csv` writes the same bytes: the path needs no COPY escape, and the
        /// text is plain CSV text (`CSVPlainText`).
        @usableFromInline var isCSVText: Bool
    }

    /// The bits of each path's string, by entry; past `listedPaths` entries, an index as well.
    @usableFromInline var pathBits: [StringBits] = []
    @usableFromInline var index: [StringBits: Int] = [:]
    /// Per path, for a `log` entry then a `snapshot` one: the text of an entry up to its line.
    @usableFromInline var sources: [SourceText] = []
    /// The last path seen at each of 64 places (by a hash of its bits), and its entry.
    @usableFromInline var recent: [(bits: StringBits, path: Int)]
    /// The rows file's field of the last `active_apps` list seen at each of `listPlaces` places
    /// (by a hash of the address of its storage), that address (0 for none), and the list, kept
    /// alive so that the address names it. Each reader shares one array per distinct list
    /// (`InternTable`): a few hundred lists are behind a million rows.
    @usableFromInline var listKeys: [UInt]
    @usableFromInline var listTexts: [PaddedText]
    @usableFromInline var lists: [[String]]
    /// The strings of `pathBits`, kept alive (one reference per distinct path, not per row), and
    /// the memory of `sources`.
    @usableFromInline let storage = Storage()
    @usableFromInline var day: Int64 = .min
    /// `2018-07-25T`: the date of `day`, its 11 bytes in a value (no reference to count per row).
    @usableFromInline var dayText: (UInt64, UInt64) = (0, 0)
    /// The text of each status, at its `statusIndex`.
    @usableFromInline var statuses: [PaddedText] = []
    /// A time written the long way (`Timestamp.appendRFC3339`), kept for its capacity.
    @usableFromInline var scratch: [UInt8] = []

    /// What the entries keep: each path's string, and the memory of each entry's text.
    @usableFromInline
    final class Storage {
        var strings: [String] = []
        var texts: [UnsafeMutablePointer<UInt8>] = []
        /// The texts of the lists, one after the other, and 16 bytes more; emptied when full.
        @usableFromInline let listMemory: UnsafeMutablePointer<UInt8>
        @usableFromInline var listMemoryUsed = 0

        @usableFromInline init() {
            listMemory = .allocate(capacity: RepeatedText.listMemoryBytes + 16)
            listMemory.initialize(repeating: 0, count: RepeatedText.listMemoryBytes + 16)
        }

        /// `bytes`, kept with 16 zero bytes after them.
        func keep(_ bytes: [UInt8]) -> PaddedText {
            let kept = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count + 16)
            kept.initialize(repeating: 0, count: bytes.count + 16)
            kept.update(from: bytes, count: bytes.count)
            texts.append(kept)
            return PaddedText(start: UnsafePointer(kept), count: bytes.count)
        }

        deinit {
            for text in texts { text.deallocate() }
            listMemory.deallocate()
        }
    }

    public init() {
        precondition(MemoryLayout<String>.size == MemoryLayout<StringBits>.size)
        precondition(MemoryLayout<[String]>.size == MemoryLayout<UInt>.size)
        recent = Array(repeating: (StringBits(low: 0, high: 0), -1), count: 64)
        listKeys = Array(repeating: 0, count: Self.listPlaces)
        listTexts = Array(repeating: PaddedText(start: UnsafePointer(storage.listMemory), count: 0), count: Self.listPlaces)
        lists = Array(repeating: [], count: Self.listPlaces)
        let statuses = SlotStatus.allCases.sorted { Self.statusIndex($0) < Self.statusIndex($1) }
        precondition(statuses.map(Self.statusIndex) == Array(statuses.indices))
        self.statuses = statuses.map { storage.keep(Array($0.rawValue.utf8)) }
    }

    /// Where a provenance's path lies inside it.
    @usableFromInline
    static let pathOffset = MemoryLayout<Provenance>.offset(of: \Provenance.location)!
        + MemoryLayout<SourceLocation>.offset(of: \SourceLocation.file)!

    /// Writes a slot's provenance as the rows file has it (`log app-1.log:17; log app-1.log:18`:
    /// `Provenance.description` joined by `; `, the paths escaped for COPY), reading each entry in
    /// place. Returns true when `recovered.csv`'s field is the same bytes (see `SourceText`).
    @inlinable
    public mutating func putProvenance(_ provenance: UnsafeBufferPointer<Provenance>, to out: inout PieceWriter) -> Bool {
        guard let base = provenance.baseAddress else { return true }
        var same = true
        for i in 0..<provenance.count {
            let p = base + i
            let kind: Int = switch p.pointee.kind {
            case .log: 0
            case .snapshot: 1
            }
            let source = sources[pathIndex(UnsafeRawPointer(p) + Self.pathOffset) &* 2 &+ kind]
            out.reserve(source.text.count + 48)
            if i > 0 { out.put(word: 0x203B, count: 2) }
            out.putPadded(source.text.start, count: source.text.count)
            same = same && source.isCSVText
            out.put(DecimalText(p.pointee.location.line))
        }
        return same
    }

    /// The entry of the path string at `pointer`, made on first sight: from `recent` most often,
    /// else by a look along the list (a few files) or the index.
    @inlinable
    mutating func pathIndex(_ pointer: UnsafeRawPointer) -> Int {
        let bits = pointer.load(as: StringBits.self)
        let place = Int(truncatingIfNeeded: ((bits.low ^ bits.high) &* 0x9E37_79B9_7F4A_7C15) >> 58)
        let seen = recent[place]
        if seen.path >= 0 && seen.bits == bits { return seen.path }
        return lookUp(pointer, bits: bits, place: place)
    }

    @usableFromInline
    mutating func lookUp(_ pointer: UnsafeRawPointer, bits: StringBits, place: Int) -> Int {
        var found: Int?
        if pathBits.count <= Self.listedPaths {
            found = pathBits.firstIndex(of: bits)
        } else {
            found = index[bits]
        }
        let path = found ?? addPath(pointer.assumingMemoryBound(to: String.self).pointee, bits: bits)
        recent[place] = (bits, path)
        return path
    }

    @usableFromInline
    static var listedPaths: Int { 16 }

    @usableFromInline
    mutating func addPath(_ path: String, bits: StringBits) -> Int {
        let escaped = CopyTextWriter.field(path)
        for kind in [SourceKind.log, .snapshot] {
            sources.append(SourceText(
                text: storage.keep(Array(kind.rawValue.utf8) + [0x20] + Array(escaped.utf8) + [0x3A]),
                isCSVText: escaped == path && CSVPlainText.isPlain(kind.rawValue.utf8) && CSVPlainText.isPlain(path.utf8)))
        }
        storage.strings.append(path)
        pathBits.append(bits)
        if pathBits.count > Self.listedPaths {
            if index.isEmpty { for (i, b) in pathBits.enumerated() { index[b] = i } } else { index[bits] = pathBits.count - 1 }
        }
        return pathBits.count - 1
    }

    @usableFromInline static var listPlaces: Int { 2048 }
    @usableFromInline static var listMemoryBytes: Int { 1 << 18 }

    /// Where a slot's `active_apps` lies inside it.
    @usableFromInline
    static let appsOffset = MemoryLayout<TimeSlot>.offset(of: \TimeSlot.activeApps)!

    /// Writes a slot's `active_apps` as the rows file has it (`CopyTextWriter.appendArrayField`),
    /// copied from the last time its list was written at its place.
    @inlinable
    public mutating func putActiveApps(_ slot: UnsafePointer<TimeSlot>, to out: inout PieceWriter) {
        let key = (UnsafeRawPointer(slot) + Self.appsOffset).load(as: UInt.self)
        let place = Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> 53)
        if listKeys[place] == key {
            let text = listTexts[place]
            out.reserve(text.count + 16)
            out.putPadded(text.start, count: text.count)
        } else {
            putNewActiveApps(slot.pointee.activeApps, key: key, place: place, to: &out)
        }
    }

    @usableFromInline
    mutating func putNewActiveApps(_ list: [String], key: UInt, place: Int, to out: inout PieceWriter) {
        let start = out.count
        out.write(room: CopyTextWriter.arrayFieldRoom(list)) { CopyTextWriter.writeArrayField(list, to: $0) }
        let count = out.count - start
        guard count <= Self.listMemoryBytes / 64 else { return }
        if storage.listMemoryUsed + count > Self.listMemoryBytes {
            // Full: every list is made again as it comes.
            for i in listKeys.indices { listKeys[i] = 0 }
            for i in lists.indices { lists[i] = [] }
            storage.listMemoryUsed = 0
        }
        let kept = storage.listMemory + storage.listMemoryUsed
        storage.listMemoryUsed += count
        kept.update(from: out.start + start, count: count)
        listKeys[place] = key
        listTexts[place] = PaddedText(start: UnsafePointer(kept), count: count)
        lists[place] = list
    }

    /// `status.rawValue`, kept.
    @inlinable
    public func statusText(_ status: SlotStatus) -> PaddedText {
        statuses[Self.statusIndex(status)]
    }

    /// The place of `status` in `statuses`.
    @inlinable
    static func statusIndex(_ status: SlotStatus) -> Int {
        switch status {
        case .pending: 0
        case .active: 1
        case .idle: 2
        }
    }

    /// `time` as `Timestamp.appendRFC3339` writes it (`2018-07-25T14:50:00Z`), the date taken
    /// from the time before when the day is the same.
    @inlinable @inline(__always)
    public mutating func timeText(_ time: Timestamp) -> TimeText {
        let micros = time.microseconds
        var days = micros / 86_400_000_000
        var dayMicros = micros % 86_400_000_000
        if dayMicros < 0 { days -= 1; dayMicros += 86_400_000_000 }
        guard days == day, dayMicros % 1_000_000 == 0 else { return longTimeText(time, days: days, dayMicros: dayMicros) }
        let s = UInt64(dayMicros / 1_000_000)
        let h = s / 3600, m = s / 60 % 60, sec = s % 60
        // `HH:MM:SSZ` from byte 11 on: the second word after the date's last 3 bytes, then a third.
        let second = dayText.1 | (0x30 + h / 10) << 24 | (0x30 + h % 10) << 32 | 0x3A << 40 | (0x30 + m / 10) << 48 | (0x30 + m % 10) << 56
        let third = 0x3A | (0x30 + sec / 10) << 8 | (0x30 + sec % 10) << 16 | 0x5A << 24
        return TimeText(words: (dayText.0, second, third, 0), count: 20)
    }

    /// A time not of the day before, or with a fraction: made the long way; a whole second in a
    /// four-digit year gives its date to the next times of the day.
    @usableFromInline
    mutating func longTimeText(_ time: Timestamp, days: Int64, dayMicros: Int64) -> TimeText {
        scratch.removeAll(keepingCapacity: true)
        time.appendRFC3339(to: &scratch)
        if dayMicros % 1_000_000 == 0, scratch.count == 20 {
            day = days
            var date: (UInt64, UInt64) = (0, 0)
            scratch.withUnsafeBytes { bytes in
                withUnsafeMutableBytes(of: &date) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<11])) }
            }
            dayText = (date.0.littleEndian, date.1.littleEndian)
        }
        // At most 30 bytes: a year of 7 characters at most (microseconds in an Int64), and a fraction.
        precondition(scratch.count <= 32, "a time of more than 32 bytes")
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        scratch.withUnsafeBytes { bytes in withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) } }
        return TimeText(words: (words.0.littleEndian, words.1.littleEndian, words.2.littleEndian, words.3.littleEndian), count: scratch.count)
    }
}

/// A time as `Timestamp.appendRFC3339` writes it (at most 30 bytes), made once for both large
/// plan files.
public struct TimeText {
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64)
    @usableFromInline var count: Int

    @inlinable
    init(words: (UInt64, UInt64, UInt64, UInt64), count: Int) {
        self.words = words
        self.count = count
    }
}

extension PieceWriter {
    /// Takes 32 bytes of room.
    @inlinable
    public mutating func put(_ time: TimeText) {
        assert(end - at >= 32, "PieceWriter: no room reserved")
        let to = UnsafeMutableRawPointer(at)
        to.storeBytes(of: time.words.0.littleEndian, as: UInt64.self)
        to.storeBytes(of: time.words.1.littleEndian, toByteOffset: 8, as: UInt64.self)
        to.storeBytes(of: time.words.2.littleEndian, toByteOffset: 16, as: UInt64.self)
        if time.count > 24 { to.storeBytes(of: time.words.3.littleEndian, toByteOffset: 24, as: UInt64.self) }
        at += time.count
    }
}

/// Text a CSV field holds unchanged: printable ASCII without a comma or a quote.
public enum CSVPlainText {
    @inlinable
    public static func isPlain(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != 0x2C && $0 != 0x22 }
    }
}
