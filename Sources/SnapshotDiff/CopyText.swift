import RecoveryModel

/// PostgreSQL's COPY text format, decoded on bytes: fields split at tabs, `\N` for NULL,
/// backslash escapes (`\\`, `\b \f \n \r \t \v`, octal `\ooo`, hex `\xhh`, any other `\c` is `c`),
/// and the values recovery needs: integers, text, `text[]` array literals and `timestamptz`.
///
/// Every function works on the raw bytes of one field and allocates only for a text value it
/// returns; integers and times are read in place.
public enum CopyText {
    /// Splits one row (without its newline) at the tabs that separate fields, honouring a
    /// backslash before a tab (`\<TAB>` is a tab inside the field, as PostgreSQL reads it).
    /// `fields` is cleared and reused, so a caller allocates it once.
    @inlinable
    public static func splitFields(_ row: UnsafeRawBufferPointer, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        _ = splitFields(row, from: 0, into: &fields)
    }

    /// Appends the fields of `row` from `start` (0, or where an earlier call stopped), stopping
    /// once `fields` holds `limit` of them: returns where the next field starts when it stopped
    /// there, nil when it reached the end of the row. Eight bytes at a time up to the next tab
    /// or backslash.
    @inlinable
    public static func splitFields(
        _ row: UnsafeRawBufferPointer, from start: Int, into fields: inout [Range<Int>], limit: Int = .max
    ) -> Int? {
        var start = start
        var i = start
        let n = row.count
        while i < n {
            if i + 8 <= n {
                let w = UInt64(littleEndian: (row.baseAddress! + i).loadUnaligned(as: UInt64.self))
                let hits = zeroBytes(w ^ (ones &* 0x09)) | zeroBytes(w ^ (ones &* 0x5C))
                if hits == 0 {
                    i += 8
                    continue
                }
                i += hits.trailingZeroBitCount / 8  // to the first tab or backslash
            }
            let c = row[i]
            if c == 0x5C {          // backslash: the next byte is escaped, whatever it is
                i += 2
                continue
            }
            if c == 0x09 {
                fields.append(start..<i)
                start = i + 1
                if fields.count == limit { return start }
            }
            i += 1
        }
        fields.append(start..<n)
        return nil
    }

    /// The number of fields of `row` from `start` to the end, counted as `splitFields` splits
    /// them, eight bytes at a time where there is no backslash.
    @inlinable
    public static func countFields(_ row: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard let p = row.baseAddress else { return 1 }
        let n = row.count
        var i = start
        var tabs = 0
        while i < n {
            if i + 8 <= n {
                let w = UInt64(littleEndian: (p + i).loadUnaligned(as: UInt64.self))
                let tab = zeroBytes(w ^ (ones &* 0x09)), backslash = zeroBytes(w ^ (ones &* 0x5C))
                if backslash == 0 {
                    tabs += markedBytes(tab)
                    i += 8
                } else {
                    let before = backslash.trailingZeroBitCount / 8  // bytes before the first backslash
                    tabs += markedBytes(tab & ((1 << (before * 8)) &- 1))
                    i += before + 2  // the backslash and the byte it escapes
                }
                continue
            }
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if c == 0x5C {
                i += 2
                continue
            }
            if c == 0x09 { tabs += 1 }
            i += 1
        }
        return tabs + 1
    }

    /// Splits and counts `row`'s fields in one pass, as `splitFields` splits them: stores where
    /// each of the first `ends.count` fields ends (the offset of its tab, or `row.count` for the
    /// last field) and returns the number of fields. Field `k` is
    /// `(k == 0 ? 0 : ends[k - 1] + 1)..<ends[k]`.
    ///
    /// Sixteen bytes at a time (`FieldBlock`): the tabs of a block with no backslash are taken
    /// from its byte mask one after another; a block with one is taken up to its first backslash,
    /// which skips the byte it escapes. The last block of a row overlaps the one before it.
    @inlinable
    public static func fieldEnds(_ row: UnsafeRawBufferPointer, into ends: UnsafeMutableBufferPointer<Int>) -> Int {
        let n = row.count
        let capacity = ends.count
        var count = 0
        @inline(__always) func record(_ end: Int) {
            if count < capacity { ends[count] = end }
            count += 1
        }
        @inline(__always) func recordTabs(_ tabs: UInt64, at offset: Int) {
            var tabs = tabs
            while tabs != 0 {
                record(offset + tabs.trailingZeroBitCount / 8)
                tabs &= tabs &- 1
            }
        }
        /// The tabs of `block` (from `offset`, its first `skip` bytes already read) up to its
        /// first backslash; returns where to go on from.
        @inline(__always) func take(_ block: FieldBlock, at offset: Int, skipping skip: Int) -> Int {
            var (low, high) = block.tabs
            var (slashLow, slashHigh) = block.backslashes
            if skip > 0 {
                // Bytes before `skip` were read already: leave them out of both masks.
                let keepLow: UInt64 = skip >= 8 ? 0 : ~0 &<< UInt64(skip * 8)
                let keepHigh: UInt64 = skip <= 8 ? ~0 : ~0 &<< UInt64((skip - 8) * 8)
                low &= keepLow
                slashLow &= keepLow
                high &= keepHigh
                slashHigh &= keepHigh
            }
            var next = offset + 16
            if slashLow != 0 {
                let bit = slashLow.trailingZeroBitCount            // the first backslash's lowest bit
                low &= (1 &<< UInt64(bit)) &- 1                     // the tabs before it
                high = 0
                next = offset + bit / 8 + 2                         // past the byte it escapes
            } else if slashHigh != 0 {
                let bit = slashHigh.trailingZeroBitCount
                high &= (1 &<< UInt64(bit)) &- 1
                next = offset + 8 + bit / 8 + 2
            }
            recordTabs(low, at: offset)
            recordTabs(high, at: offset + 8)
            return next
        }
        guard let p = row.baseAddress else {
            record(0)
            return count
        }
        var i = 0
        while i + 16 <= n {
            i = take(FieldBlock(p + i), at: i, skipping: 0)
        }
        if i < n, n >= 16 {
            // The last bytes, as the end of a block that overlaps the bytes read already.
            i = take(FieldBlock(p + n - 16), at: n - 16, skipping: i - (n - 16))
        }
        while i < n {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if c == 0x5C {
                i += 2
                continue
            }
            if c == 0x09 { record(i) }
            i += 1
        }
        record(n)
        return count
    }

    /// Sixteen bytes of a row as masks of their tabs and backslashes, in two halves whose bytes
    /// are each 0x80 (the byte is one) or 0: two compares on SSE2 or NEON.
    @usableFromInline
    struct FieldBlock {
        @usableFromInline var tabs: (UInt64, UInt64)
        @usableFromInline var backslashes: (UInt64, UInt64)

        @inlinable @inline(__always)
        init(_ p: UnsafeRawPointer) {
            let bytes = p.loadUnaligned(as: SIMD16<UInt8>.self)
            let tabs = unsafeBitCast(bytes .== SIMD16<UInt8>(repeating: 0x09), to: SIMD2<UInt64>.self)
            let backslashes = unsafeBitCast(bytes .== SIMD16<UInt8>(repeating: 0x5C), to: SIMD2<UInt64>.self)
            let high: UInt64 = 0x8080_8080_8080_8080
            self.tabs = (UInt64(littleEndian: tabs[0]) & high, UInt64(littleEndian: tabs[1]) & high)
            self.backslashes = (UInt64(littleEndian: backslashes[0]) & high, UInt64(littleEndian: backslashes[1]) & high)
        }
    }

    @inlinable static var ones: UInt64 { 0x0101_0101_0101_0101 }

    /// The high bit of each byte of `w` that is zero, and of no other.
    @inlinable @inline(__always)
    static func zeroBytes(_ w: UInt64) -> UInt64 {
        let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ~(((w & lows) &+ lows) | w | lows)
    }

    /// How many bytes of `marks` (each 0x80 or 0) are marked: one multiply, where a population
    /// count is a dozen instructions on the baseline x86-64 (no POPCNT).
    @inlinable @inline(__always)
    static func markedBytes(_ marks: UInt64) -> Int {
        Int(((marks >> 7) &* ones) >> 56)
    }

    /// True when the raw field is exactly `\N` (PostgreSQL compares before unescaping: `a\N` is `aN`).
    @inlinable
    public static func isNull(_ field: UnsafeRawBufferPointer) -> Bool {
        field.count == 2 && field[0] == 0x5C && field[1] == 0x4E
    }

    /// Appends the unescaped bytes of `field` to `out`. Returns false for a lone backslash at the
    /// end of the field, which PostgreSQL never writes.
    @inlinable
    public static func unescape(_ field: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        let n = field.count
        var i = 0
        while i < n {
            let c = field[i]
            i += 1
            guard c == 0x5C else {
                out.append(c)
                continue
            }
            guard i < n else { return false }
            let e = field[i]
            i += 1
            switch e {
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(e - 48)
                var digits = 1
                while digits < 3, i < n, field[i] >= 48, field[i] <= 55 {
                    value = value * 8 + UInt32(field[i] - 48)
                    i += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                if i < n, let h = hexValue(field[i]) {
                    var value = h
                    i += 1
                    if i < n, let h2 = hexValue(field[i]) {
                        value = value * 16 + h2
                        i += 1
                    }
                    out.append(value)
                } else {
                    out.append(e)
                }
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            default: out.append(e)
            }
        }
        return true
    }

    @inlinable
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 65...70: c - 55
        case 97...102: c - 87
        default: nil
        }
    }

    /// A decimal integer field (`-12`, `0`) within `range`; nil when it is anything else. A field
    /// holding escapes is unescaped first (PostgreSQL never writes one, but it is valid input).
    @inlinable
    public static func integer(_ field: UnsafeRawBufferPointer, in range: ClosedRange<Int64>) -> Int64? {
        // Up to 18 digits and nothing else, as PostgreSQL writes ids and counts: no sign, no
        // escape, and no overflow to check (10^18 - 1 < Int64.max).
        let n = field.count
        if n > 0, n <= 18, let p = field.baseAddress {
            var value: Int64 = 0
            var i = 0
            while i < n {
                let d = p.load(fromByteOffset: i, as: UInt8.self) &- 48
                guard d < 10 else { break }
                value = value &* 10 &+ Int64(d)
                i += 1
            }
            if i == n { return range.contains(value) ? value : nil }
        }
        if field.contains(0x5C) {
            var bytes: [UInt8] = []
            guard unescape(field, into: &bytes) else { return nil }
            return bytes.withUnsafeBytes { plainInteger($0, in: range) }
        }
        return plainInteger(field, in: range)
    }

    @inlinable
    static func plainInteger(_ field: UnsafeRawBufferPointer, in range: ClosedRange<Int64>) -> Int64? {
        let n = field.count
        guard n > 0, n <= 20 else { return nil }
        var i = 0
        var negative = false
        if field[0] == UInt8(ascii: "-") || field[0] == UInt8(ascii: "+") {
            negative = field[0] == UInt8(ascii: "-")
            i = 1
            guard n > 1 else { return nil }
        }
        var value: Int64 = 0
        while i < n {
            let d = field[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = s
            i += 1
        }
        return range.contains(value) ? value : nil
    }

    /// A `timestamptz` field as PostgreSQL writes it with `DateStyle` ISO (`2018-07-25 14:50:00+00`,
    /// `2018-07-25 07:50:00.25-07`, `+05:30`) or as RFC 3339; nil for anything else.
    @inlinable
    public static func timestamp(_ field: UnsafeRawBufferPointer) -> Timestamp? {
        Timestamp.parse(field)
    }

    /// `timestamp(_:)` with the date it read last and its day number (`Timestamp.DateMemo`), for
    /// a caller that reads many times of the same days: a dump's rows come a user at a time in
    /// time order.
    @inlinable
    public static func timestamp(_ field: UnsafeRawBufferPointer, dates: inout Timestamp.DateMemo) -> Timestamp? {
        Timestamp.parse(field, dates: &dates)
    }

    /// Why a text or array field cannot be taken as given.
    public enum FieldFault: Error, Hashable, Sendable {
        case badEscape, invalidUTF8, nul, malformedArray(String), nullElement
    }

    /// A text field: unescaped, valid UTF-8 and without NUL. `scratch` is reused between calls.
    @inlinable
    public static func text(_ field: UnsafeRawBufferPointer, scratch: inout [UInt8]) -> Result<String, FieldFault> {
        if !field.contains(0x5C) { return string(field) }    // no escapes: straight from the row
        scratch.removeAll(keepingCapacity: true)
        guard unescape(field, into: &scratch) else { return .failure(.badEscape) }
        return scratch.withUnsafeBytes { string($0) }
    }

    /// Bytes as a String when they are UTF-8 without NUL; ASCII skips the validator.
    @inlinable
    static func string(_ bytes: UnsafeRawBufferPointer) -> Result<String, FieldFault> {
        var ascii = true
        for b in bytes {
            if b == 0 { return .failure(.nul) }
            if b >= 0x80 { ascii = false }
        }
        if ascii { return .success(String(decoding: bytes, as: UTF8.self)) }
        guard let s = String(validating: bytes, as: UTF8.self) else { return .failure(.invalidUTF8) }
        return .success(s)
    }

    /// A text field's bytes appended to `out`, unescaped, when `text` would take them (UTF-8
    /// without NUL; its String's bytes are these bytes); the fault `text` would give otherwise,
    /// with `out` left as it was. No `String` is made of ASCII bytes.
    @inlinable
    public static func appendText(_ field: UnsafeRawBufferPointer, to out: inout [UInt8]) -> FieldFault? {
        let start = out.count
        if field.contains(0x5C) {
            guard unescape(field, into: &out) else {
                out.removeSubrange(start...)
                return .badEscape
            }
        } else {
            out.append(contentsOf: field)
        }
        let fault: FieldFault? = out.withUnsafeBytes { all in
            let bytes = UnsafeRawBufferPointer(rebasing: all[start...])
            var ascii = true
            for b in bytes {
                if b == 0 { return .nul }
                if b >= 0x80 { ascii = false }
            }
            return ascii || String(validating: bytes, as: UTF8.self) != nil ? nil : .invalidUTF8
        }
        if fault != nil { out.removeSubrange(start...) }
        return fault
    }

    /// A one-dimensional array literal (`{}`, `{Xcode,"a,b",NULL,"q\"uote"}`), already unescaped
    /// from COPY, as PostgreSQL's `array_in` reads it: elements quoted or not, `\` escapes,
    /// unquoted `NULL` (any case) for a NULL element, whitespace around elements ignored, an
    /// optional `[1:3]=` dimension prefix. Nested arrays are refused.
    ///
    /// The phases: the optional dimensions and the `{` (`ArrayCursor.open`), then each element,
    /// quoted (`quotedElement`) or not (`unquotedElement`), and its `,` or `}`, then the end.
    public static func arrayLiteral(_ bytes: UnsafeRawBufferPointer) -> Result<[String?], FieldFault> {
        var cursor = ArrayCursor(bytes)
        do throws(FieldFault) {
            try cursor.open()
            var elements: [String?] = []
            if cursor.take(UInt8(ascii: "}")) {
                cursor.skipSpace()
                try cursor.end()
                return .success(elements)
            }
            var element: [UInt8] = []
            while true {
                cursor.skipSpace()
                guard !cursor.atEnd else { throw ArrayCursor.fail("ends inside the array") }
                element.removeAll(keepingCapacity: true)
                if cursor.take(UInt8(ascii: "\"")) {
                    try cursor.quotedElement(into: &element)
                    elements.append(try string(element))
                } else if try cursor.unquotedElement(into: &element) {
                    elements.append(nil)
                } else {
                    elements.append(try string(element))
                }
                guard !cursor.atEnd else { throw ArrayCursor.fail("ends inside the array") }
                if cursor.take(UInt8(ascii: "}")) { break }
                guard cursor.take(UInt8(ascii: ",")) else { throw ArrayCursor.fail("expected ',' or '}'") }
            }
            cursor.skipSpace()
            try cursor.end()
            return .success(elements)
        } catch {
            return .failure(error)
        }
    }

    /// An element's bytes as a String (see `string(_:)`).
    private static func string(_ element: [UInt8]) throws(FieldFault) -> String {
        try element.withUnsafeBytes { string($0) }.get()
    }

    /// A position in an array literal, and the phases that read it.
    struct ArrayCursor {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        static func fail(_ why: String) -> FieldFault { .malformedArray(why) }

        var atEnd: Bool { i >= bytes.count }

        static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

        mutating func skipSpace() {
            while i < bytes.count, Self.isSpace(bytes[i]) { i += 1 }
        }

        /// Consumes `byte` when it is next.
        mutating func take(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }

        /// Leading space, the optional `[1:3]=` dimensions, the `{`, and the space after it.
        mutating func open() throws(FieldFault) {
            skipSpace()
            if take(UInt8(ascii: "[")) {
                while i < bytes.count, bytes[i] != UInt8(ascii: "=") { i += 1 }
                guard take(UInt8(ascii: "=")) else { throw Self.fail("dimensions without '='") }
                skipSpace()
            }
            guard take(UInt8(ascii: "{")) else { throw Self.fail("does not start with '{'") }
            skipSpace()
        }

        /// Nothing but the end after the closing `}`.
        func end() throws(FieldFault) {
            guard i == bytes.count else { throw Self.fail("text after the closing '}'") }
        }

        /// The rest of a quoted element, after its opening quote, and the space after it.
        mutating func quotedElement(into element: inout [UInt8]) throws(FieldFault) {
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\\") {
                    guard i < n else { throw Self.fail("ends after a backslash") }
                    element.append(bytes[i])
                    i += 1
                } else if c == UInt8(ascii: "\"") {
                    skipSpace()
                    return
                } else {
                    element.append(c)
                }
            }
            throw Self.fail("unterminated quoted element")
        }

        /// An unquoted element up to its `,` or `}`, trailing space dropped; true when it is a
        /// NULL element (`NULL` in any case, unescaped).
        mutating func unquotedElement(into element: inout [UInt8]) throws(FieldFault) -> Bool {
            let n = bytes.count
            if bytes[i] == UInt8(ascii: "{") { throw Self.fail("nested arrays are not text[]") }
            var escaped = false
            var keep = 0   // length up to the last escaped or non-space byte
            while i < n {
                let c = bytes[i]
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") { break }
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "{") {
                    throw Self.fail("unexpected '\(Character(UnicodeScalar(c)))'")
                }
                i += 1
                if c == UInt8(ascii: "\\") {
                    guard i < n else { throw Self.fail("ends after a backslash") }
                    element.append(bytes[i])
                    i += 1
                    escaped = true
                    keep = element.count
                } else {
                    element.append(c)
                    if !Self.isSpace(c) { keep = element.count }
                }
            }
            element.removeLast(element.count - keep)
            guard !element.isEmpty else { throw Self.fail("empty unquoted element") }
            return !escaped && element.count == 4
                && element[0] | 0x20 == 0x6E && element[1] | 0x20 == 0x75
                && element[2] | 0x20 == 0x6C && element[3] | 0x20 == 0x6C
        }
    }

    /// A `text[]` COPY field: unescaped from COPY, then read as an array literal.
    public static func textArray(_ field: UnsafeRawBufferPointer, scratch: inout [UInt8]) -> Result<[String?], FieldFault> {
        if !field.contains(0x5C) { return arrayLiteral(field) }
        scratch.removeAll(keepingCapacity: true)
        guard unescape(field, into: &scratch) else { return .failure(.badEscape) }
        return scratch.withUnsafeBytes { arrayLiteral($0) }
    }
}
