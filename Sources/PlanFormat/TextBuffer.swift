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
        let v = Int64(value)
        var magnitude = v.magnitude
        // A sign and 20 digits fit.
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { d in
            var at = d.count
            repeat {
                at -= 1
                d[at] = UInt8(truncatingIfNeeded: 48 + magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if v < 0 {
                at -= 1
                d[at] = 0x2D
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: d.baseAddress!.assumingMemoryBound(to: UInt8.self) + at, count: d.count - at))
        }
    }

    @inlinable
    public mutating func append(_ time: Timestamp) {
        time.appendRFC3339(to: &bytes)
    }

    @inlinable
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Text the rows of a large plan file repeat, made once and then copied: the path of each source
/// file a provenance names (a few files behind a million rows) and the date of the day a slot
/// starts on. One per file being written; never shared between threads.
///
/// A path is looked up by the bits of its `String` (its length and flags, and its storage or its
/// inline bytes), read in place: no reference count is touched. The writers of `rows.tsv` and
/// `recovered.csv` run at once over the same slots, and counting references to the same few
/// path strings from both cores made each count a cache miss. Equal bits are the same text: each
/// entry keeps its string, so a storage address it names cannot be freed and reused for another
/// path while this lives. Equal text with other bits (another copy of a path) only takes one
/// more entry.
public struct RepeatedText {
    /// How a path is written: escaped for a COPY text field (the rows file), or as it is.
    public enum PathStyle: Sendable {
        case copyEscaped, asIs
    }

    @usableFromInline
    struct StringBits: Hashable {
        var low: UInt64
        var high: UInt64
    }

    @usableFromInline let style: PathStyle
    /// The bits of each path's string, by entry; past `listedPaths` entries, an index as well.
    @usableFromInline var pathBits: [StringBits] = []
    /// The strings of `pathBits`, kept alive (one reference per distinct path, not per row), and
    /// the text of each path as written.
    @usableFromInline let storage = Storage()
    @usableFromInline var index: [StringBits: Int] = [:]
    /// The text of each path as written, in `storage`: read per row without a reference count
    /// touched (an array of arrays would count a reference to the row's path twice a row).
    @usableFromInline var paths: [UnsafeBufferPointer<UInt8>] = []
    /// Per path: printable ASCII with no comma or quote, so a CSV field holding it needs no
    /// quoting or escaping (`CSVText.isUnchangedAsText`).
    @usableFromInline var plainPaths: [Bool] = []
    @usableFromInline var day: Int64 = .min
    /// `2018-07-25T`: the date of `day`, its 11 bytes in a value (no reference to count per row).
    @usableFromInline var dayText: (UInt64, UInt64) = (0, 0)

    /// What the entries keep: each path's string, and the memory of each path's text.
    @usableFromInline
    final class Storage {
        var strings: [String] = []
        var texts: [UnsafeMutableBufferPointer<UInt8>] = []

        @usableFromInline init() {}

        deinit {
            for text in texts { text.deallocate() }
        }
    }

    public init(paths style: PathStyle) {
        precondition(MemoryLayout<String>.size == MemoryLayout<StringBits>.size)
        self.style = style
    }

    /// Where a provenance's path lies inside it.
    @usableFromInline
    static let pathOffset = MemoryLayout<Provenance>.offset(of: \Provenance.location)!
        + MemoryLayout<SourceLocation>.offset(of: \SourceLocation.file)!

    /// Appends a slot's provenance (`log app-1.log:17; log app-1.log:18`: `Provenance.description`
    /// joined by `; `, the paths in `style`), reading each entry in place. Returns false
    /// when a kind or a path is not plain CSV text (see `plainPaths`).
    @inlinable
    public mutating func appendProvenance(_ provenance: UnsafeBufferPointer<Provenance>, to out: inout TextBuffer) -> Bool {
        guard let base = provenance.baseAddress else { return true }
        var plain = true
        for i in 0..<provenance.count {
            let p = base + i
            if i > 0 { out.bytes.append(0x3B); out.bytes.append(0x20) }
            let kind = p.pointee.kind.rawValue
            out.append(kind)
            plain = plain && CSVPlainText.isPlain(kind.utf8)
            out.bytes.append(0x20)
            let path = pathIndex(UnsafeRawPointer(p) + Self.pathOffset)
            out.bytes.append(contentsOf: paths[path])
            plain = plain && plainPaths[path]
            out.bytes.append(0x3A)
            out.append(p.pointee.location.line)
        }
        return plain
    }

    /// The entry of the path string at `pointer`, made on first sight. A row names a file or
    /// two of a few: a look along the list is quicker than hashing.
    @inlinable
    mutating func pathIndex(_ pointer: UnsafeRawPointer) -> Int {
        let bits = pointer.load(as: StringBits.self)
        if paths.count <= Self.listedPaths {
            for i in 0..<pathBits.count where pathBits[i] == bits { return i }
        } else if let found = index[bits] {
            return found
        }
        return addPath(pointer.assumingMemoryBound(to: String.self).pointee, bits: bits)
    }

    @usableFromInline
    static var listedPaths: Int { 16 }

    @usableFromInline
    mutating func addPath(_ path: String, bits: StringBits) -> Int {
        var text: [UInt8] = []
        switch style {
        case .copyEscaped: CopyTextWriter.appendField(path, to: &text)
        case .asIs: text.append(contentsOf: path.utf8)
        }
        let kept = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: text.count)
        _ = kept.initialize(from: text)
        storage.texts.append(kept)
        storage.strings.append(path)
        paths.append(UnsafeBufferPointer(kept))
        plainPaths.append(CSVPlainText.isPlain(path.utf8))
        pathBits.append(bits)
        if paths.count > Self.listedPaths {
            if index.isEmpty { for (i, b) in pathBits.enumerated() { index[b] = i } } else { index[bits] = paths.count - 1 }
        }
        return paths.count - 1
    }

    /// Appends `time` as `Timestamp.appendRFC3339` does (`2018-07-25T14:50:00Z`), the date copied
    /// from the day before when the day is the same.
    @inlinable
    public mutating func appendTime(_ time: Timestamp, to out: inout TextBuffer) {
        let (days, dayMicros) = time.microseconds.floorDividedBy(86_400_000_000)
        guard days == day, dayMicros % 1_000_000 == 0 else {
            let start = out.bytes.count
            time.appendRFC3339(to: &out.bytes)
            // A whole second in a four-digit year: its date serves the next times of the day.
            if dayMicros % 1_000_000 == 0, out.bytes.count - start == 20 {
                day = days
                withUnsafeMutableBytes(of: &dayText) { d in
                    out.bytes.withUnsafeBytes { d.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + 11)])) }
                }
            }
            return
        }
        withUnsafeBytes(of: dayText) { d in
            out.bytes.append(contentsOf: UnsafeBufferPointer(start: d.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 11))
        }
        let seconds = Int(dayMicros / 1_000_000)
        appendTwoDigits(seconds / 3600, to: &out)
        out.bytes.append(0x3A)
        appendTwoDigits(seconds / 60 % 60, to: &out)
        out.bytes.append(0x3A)
        appendTwoDigits(seconds % 60, to: &out)
        out.bytes.append(0x5A)
    }

    @inlinable
    func appendTwoDigits(_ value: Int, to out: inout TextBuffer) {
        out.bytes.append(UInt8(truncatingIfNeeded: 48 + value / 10))
        out.bytes.append(UInt8(truncatingIfNeeded: 48 + value % 10))
    }
}

/// Text a CSV field holds unchanged: printable ASCII without a comma or a quote.
public enum CSVPlainText {
    @inlinable
    public static func isPlain(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != 0x2C && $0 != 0x22 }
    }
}
