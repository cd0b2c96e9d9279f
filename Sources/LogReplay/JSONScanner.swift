/// Byte-level JSON scanning for one log line: validates the grammar (RFC 8259), the UTF-8 inside
/// strings and the pairing of `\u` surrogates, without building any value. The event parser uses
/// it to find where each value of interest lies, then decodes only those.
///
/// Every function takes the line as a pointer and a length and an index into it; on success the
/// index is left just past what was scanned. Nothing here allocates.

/// Why a line is not JSON, and where (a byte offset into the line).
struct JSONSyntaxError: Error, Hashable {
    enum Kind: Hashable {
        case unexpectedEnd
        case unexpected(UInt8)
        case controlCharacterInString
        case badEscape
        case loneSurrogate
        case badNumber
        case tooDeep
        case trailingCharacters
        case notAnObject
        /// The line starts with a UTF-8 byte order mark (EF BB BF).
        case byteOrderMark
        case invalidUTF8
        /// Not a syntax error: a key of the contract that appears twice.
        case duplicateKey(String)
    }

    var kind: Kind
    var offset: Int

    /// `expected ':' but found '}' at byte 14`, for the quarantine report.
    var detail: String {
        switch kind {
        case .unexpectedEnd: "the line ends inside a value"
        case .unexpected(let byte): "unexpected \(Self.show(byte)) at byte \(offset)"
        case .controlCharacterInString: "unescaped control character in a string at byte \(offset)"
        case .badEscape: "invalid escape at byte \(offset)"
        case .loneSurrogate: "unpaired UTF-16 surrogate escape at byte \(offset)"
        case .badNumber: "invalid number at byte \(offset)"
        case .tooDeep: "nesting deeper than \(JSONScanner.maxDepth) levels at byte \(offset)"
        case .trailingCharacters: "characters after the object at byte \(offset)"
        case .notAnObject: "the line is not a JSON object"
        case .byteOrderMark: "the line starts with a UTF-8 byte order mark (EF BB BF), which belongs only at the start of a file: lines were joined from files an editor saved"
        case .invalidUTF8: "invalid UTF-8 at byte \(offset)"
        case .duplicateKey(let key): "key '\(key)' appears more than once at byte \(offset)"
        }
    }

    private static func show(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }
}

/// The kind of a JSON value, from its first byte.
enum JSONType: UInt8 {
    case string, number, object, array, bool, null

    /// What the quarantine report calls it.
    var name: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .object: "an object"
        case .array: "an array"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

enum JSONScanner {
    /// Objects and arrays nested deeper than this are refused: a log event has two levels.
    static let maxDepth = 64

    @inline(__always)
    static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
    }

    @inline(__always)
    static func skipSpace(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) {
        // Tokens mostly follow each other without space: one comparison says a byte is none.
        while i < n, p[i] <= 0x20, isSpace(p[i]) { i += 1 }
    }

    /// Scans a string whose opening quote is at `i - 1`; leaves `i` past the closing quote.
    /// Returns true when the string holds a backslash escape (its bytes need decoding).
    ///
    /// Sixteen bytes at a time (`skipToSpecial`): a block's first quote, backslash, control or
    /// non-ASCII byte is found with one test and the index jumps straight to it, so a key costs
    /// one block. A string of plain ASCII ends here, in the caller's code; the first other special
    /// byte, and the last seven bytes of the line, go to `scanStringRest`.
    @inline(__always)
    static func scanString(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(JSONSyntaxError) -> Bool {
        if skipToSpecial(p, n, &i) && p[i] == 0x22 {
            i += 1
            return false
        }
        return try scanStringRest(p, n, &i)
    }

    /// The rest of `scanString` from `i`, a special byte or one of the last seven of the line;
    /// returns true when the string holds a backslash escape.
    @inline(never)
    static func scanStringRest(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(JSONSyntaxError) -> Bool {
        var escaped = false
        while true {
            _ = skipToSpecial(p, n, &i)
            guard i < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
            let c = p[i]
            if c == 0x22 {
                i += 1
                return escaped
            }
            if c == 0x5C {
                escaped = true
                try scanEscape(p, n, &i)
            } else if c < 0x20 {
                throw JSONSyntaxError(kind: .controlCharacterInString, offset: i)
            } else if c >= 0x80 {
                try scanUTF8Sequence(p, n, &i)
            } else {
                i += 1  // an ordinary byte among the last seven of the line
            }
        }
    }

    /// Moves `i` to the first quote, backslash, control or non-ASCII byte from `i` on and returns
    /// true; or, when the bytes up to the last seven of the line hold none, moves it there and
    /// returns false (the caller reads those seven one at a time). Sixteen bytes a step, then
    /// eight: nothing is read past `n`.
    @inline(__always)
    static func skipToSpecial(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        while i + 16 <= n {
            let special = specialBytes(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt8>.self))
            let low = UInt64(littleEndian: special[0]), high = UInt64(littleEndian: special[1])
            if low != 0 {
                i += low.trailingZeroBitCount >> 3
                return true
            }
            if high != 0 {
                i += 8 + high.trailingZeroBitCount >> 3
                return true
            }
            i += 16
        }
        if i + 8 <= n {
            let special = specialBytes(UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            if special != 0 {
                i += special.trailingZeroBitCount >> 3
                return true
            }
            i += 8
        }
        return false
    }

    /// The high bit of each byte of `w` (eight bytes, little-endian) that is a quote, a backslash,
    /// a control byte or a non-ASCII byte. The bytes above the first one so marked may be marked
    /// wrongly (a borrow runs on), the first never is: only its position is used.
    @inline(__always)
    static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let w = UInt64(littleEndian: w)
        let quote = w ^ (ones &* 0x22), backslash = w ^ (ones &* 0x5C)
        return (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | (w &- ones &* 0x20) | w) & highs
    }

    /// The same test on sixteen bytes, lane by lane (no borrow crosses lanes, so every mark is
    /// right), as two words whose bytes are the lanes in memory order. Lane-wise arithmetic, not
    /// `.==`: the comparisons are not compiled to vector instructions, the arithmetic is.
    @inline(__always)
    static func specialBytes(_ v: SIMD16<UInt8>) -> SIMD2<UInt64> {
        let one = SIMD16<UInt8>(repeating: 1)
        let quote = v ^ SIMD16(repeating: 0x22), backslash = v ^ SIMD16(repeating: 0x5C)
        // A lane's high bit: it was 0 before `&- 1` (quote, backslash), it is below 0x20 or at
        // least 0x80.
        let marks = ((quote &- one) & ~quote) | ((backslash &- one) & ~backslash) | (v &- SIMD16(repeating: 0x20)) | v
        return unsafeBitCast(marks & SIMD16(repeating: 0x80), to: SIMD2<UInt64>.self)
    }

    /// A backslash escape at `i`; a high surrogate must be followed by a low one.
    static func scanEscape(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(JSONSyntaxError) {
        guard i + 1 < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
        switch p[i + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            i += 2
        case UInt8(ascii: "u"):
            guard let unit = hex4(p, n, i + 2) else { throw JSONSyntaxError(kind: .badEscape, offset: i) }
            if unit >= 0xDC00 && unit <= 0xDFFF { throw JSONSyntaxError(kind: .loneSurrogate, offset: i) }
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard i + 11 < n, p[i + 6] == UInt8(ascii: "\\"), p[i + 7] == UInt8(ascii: "u"),
                      let low = hex4(p, n, i + 8), low >= 0xDC00 && low <= 0xDFFF
                else { throw JSONSyntaxError(kind: .loneSurrogate, offset: i) }
                i += 12
            } else {
                i += 6
            }
        default:
            throw JSONSyntaxError(kind: .badEscape, offset: i)
        }
    }

    /// Four hex digits at `i`, or nil.
    @inline(__always)
    static func hex4(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> UInt32? {
        guard i + 4 <= n else { return nil }
        var v: UInt32 = 0
        for k in i..<(i + 4) {
            let c = p[k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c &- 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c &- 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c &- 55
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// One multi-byte UTF-8 sequence at `i` (its lead byte is ≥ 0x80). Refuses stray continuation
    /// bytes, overlong forms, surrogates (U+D800–DFFF), values above U+10FFFF and cut sequences.
    @inline(__always)
    static func scanUTF8Sequence(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(JSONSyntaxError) {
        let lead = p[i]
        let bad = JSONSyntaxError(kind: .invalidUTF8, offset: i)
        @inline(__always) func cont(_ k: Int) -> Bool { k < n && p[k] & 0xC0 == 0x80 }
        if lead < 0xC2 {
            throw bad  // continuation byte as a lead, or an overlong two-byte form (C0, C1)
        } else if lead < 0xE0 {
            guard cont(i + 1) else { throw bad }
            i += 2
        } else if lead < 0xF0 {
            guard cont(i + 1), cont(i + 2) else { throw bad }
            let second = p[i + 1]
            if lead == 0xE0 && second < 0xA0 { throw bad }   // overlong
            if lead == 0xED && second >= 0xA0 { throw bad }  // UTF-16 surrogate
            i += 3
        } else if lead < 0xF5 {
            guard cont(i + 1), cont(i + 2), cont(i + 3) else { throw bad }
            let second = p[i + 1]
            if lead == 0xF0 && second < 0x90 { throw bad }   // overlong
            if lead == 0xF4 && second >= 0x90 { throw bad }  // above U+10FFFF
            i += 4
        } else {
            throw bad
        }
    }

    /// Scans a number at `i`; returns true when it is written as an integer (no fraction or
    /// exponent).
    @inline(__always)
    static func scanNumber(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) throws(JSONSyntaxError) -> Bool {
        var value: Int64 = 0
        return try scanNumber(p, n, &i, value: &value)
    }

    /// `scanNumber`, and sets `value` to the integer part's value, wrapped around on overflow:
    /// `int64`'s answer when the number is an integer of at most 18 bytes, sign included.
    @inline(__always)
    static func scanNumber(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, value: inout Int64) throws(JSONSyntaxError) -> Bool {
        let start = i
        let negative = p[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < n else { throw JSONSyntaxError(kind: .badNumber, offset: start) }
        var v: Int64 = 0
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else if p[i] &- 49 < 9 {
            v = Int64(p[i] &- 48)
            i += 1
            while i < n {
                let d = p[i] &- 48
                guard d < 10 else { break }
                v = v &* 10 &+ Int64(d)
                i += 1
            }
        } else {
            throw JSONSyntaxError(kind: .badNumber, offset: start)
        }
        value = negative ? 0 &- v : v
        var integer = true
        if i < n, p[i] == UInt8(ascii: ".") {
            integer = false
            i += 1
            guard i < n, p[i] &- 48 < 10 else { throw JSONSyntaxError(kind: .badNumber, offset: start) }
            while i < n, p[i] &- 48 < 10 { i += 1 }
        }
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
            integer = false
            i += 1
            if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n, p[i] &- 48 < 10 else { throw JSONSyntaxError(kind: .badNumber, offset: start) }
            while i < n, p[i] &- 48 < 10 { i += 1 }
        }
        return integer
    }

    @inline(__always)
    static func scanLiteral(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard i + count <= n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
        let w = word.utf8Start
        for k in 0..<count where p[i + k] != w[k] {
            throw JSONSyntaxError(kind: .unexpected(p[i + k]), offset: i + k)
        }
        i += count
    }

    /// Scans any value at `i` (no leading space); returns its type.
    static func scanValue(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, depth: Int) throws(JSONSyntaxError) -> JSONType {
        var plain = false
        return try scanValue(p, n, &i, depth: depth, plain: &plain)
    }

    /// As `scanValue`, and sets `plain` for a string without escapes or a number written as an
    /// integer.
    static func scanValue(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, depth: Int, plain: inout Bool) throws(JSONSyntaxError) -> JSONType {
        guard i < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
        switch p[i] {
        case UInt8(ascii: "\""):
            i += 1
            plain = !(try scanString(p, n, &i))
            return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            plain = try scanNumber(p, n, &i)
            return .number
        case UInt8(ascii: "{"):
            try scanContainer(p, n, &i, depth: depth + 1, object: true)
            return .object
        case UInt8(ascii: "["):
            try scanContainer(p, n, &i, depth: depth + 1, object: false)
            return .array
        case UInt8(ascii: "t"):
            try scanLiteral(p, n, &i, "true")
            return .bool
        case UInt8(ascii: "f"):
            try scanLiteral(p, n, &i, "false")
            return .bool
        case UInt8(ascii: "n"):
            try scanLiteral(p, n, &i, "null")
            return .null
        case let c:
            throw JSONSyntaxError(kind: .unexpected(c), offset: i)
        }
    }

    /// An array of strings without space around its elements at `i` (its `[`), as `active_apps`
    /// mostly is: returns true and leaves `i` past its `]`. Returns false, `i` unchanged, for an
    /// array of any other shape or with an error: the caller scans it again as any value, which
    /// finds the same error at the same place.
    @inline(__always)
    static func scanPlainStringArray(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        var j = i + 1
        guard j < n else { return false }
        if p[j] == UInt8(ascii: "]") {
            i = j + 1
            return true
        }
        while p[j] == UInt8(ascii: "\"") {
            j += 1
            do throws(JSONSyntaxError) {
                _ = try scanString(p, n, &j)
            } catch {
                return false
            }
            guard j + 1 < n else { return false }  // a `,` and another element, or the `]` and the rest
            let c = p[j]
            j += 1
            if c == UInt8(ascii: "]") {
                i = j
                return true
            }
            guard c == UInt8(ascii: ",") else { return false }
        }
        return false
    }

    /// An object or array whose opening bracket is at `i`, nested values included.
    static func scanContainer(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, depth: Int, object: Bool) throws(JSONSyntaxError) {
        guard depth <= maxDepth else { throw JSONSyntaxError(kind: .tooDeep, offset: i) }
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        i += 1
        skipSpace(p, n, &i)
        if i < n, p[i] == close {
            i += 1
            return
        }
        while true {
            if object {
                try expect(p, n, &i, UInt8(ascii: "\""))
                _ = try scanString(p, n, &i)
                skipSpace(p, n, &i)
                try expect(p, n, &i, UInt8(ascii: ":"))
                skipSpace(p, n, &i)
            }
            _ = try scanValue(p, n, &i, depth: depth)
            skipSpace(p, n, &i)
            guard i < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
            if p[i] == UInt8(ascii: ",") {
                i += 1
                skipSpace(p, n, &i)
            } else if p[i] == close {
                i += 1
                return
            } else {
                throw JSONSyntaxError(kind: .unexpected(p[i]), offset: i)
            }
        }
    }

    @inline(__always)
    static func expect(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ c: UInt8) throws(JSONSyntaxError) {
        guard i < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
        guard p[i] == c else { throw JSONSyntaxError(kind: .unexpected(p[i]), offset: i) }
        i += 1
    }

    /// The offset of the first byte that breaks UTF-8 in the whole line, or nil when it is valid.
    /// Used only on the error path, so that a line with bad UTF-8 anywhere is reported as such.
    static func firstInvalidUTF8(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        var i = 0
        while i < n {
            if p[i] < 0x80 {
                i += 1
                continue
            }
            do throws(JSONSyntaxError) {
                try scanUTF8Sequence(p, n, &i)
            } catch {
                return error.offset
            }
        }
        return nil
    }

    /// Decodes the content of a string with escapes (already validated by `scanString`) into
    /// `out`, which holds at least `end - start` bytes. Returns the decoded length and whether a
    /// NUL character (`\u0000`) appeared.
    static func decode(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into out: UnsafeMutablePointer<UInt8>) -> (count: Int, nul: Bool) {
        var i = start
        var o = 0
        var nul = false
        while i < end {
            let c = p[i]
            if c != 0x5C {
                out[o] = c
                o += 1
                i += 1
                continue
            }
            let e = p[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out[o] = 0x08; o += 1
            case UInt8(ascii: "f"): out[o] = 0x0C; o += 1
            case UInt8(ascii: "n"): out[o] = 0x0A; o += 1
            case UInt8(ascii: "r"): out[o] = 0x0D; o += 1
            case UInt8(ascii: "t"): out[o] = 0x09; o += 1
            case UInt8(ascii: "u"):
                var scalar = hex4(p, end, i)!
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = hex4(p, end, i + 2)!
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                if scalar == 0 { nul = true }
                o += encodeUTF8(scalar, out + o)
            default: out[o] = e; o += 1  // \" \\ \/
            }
        }
        return (o, nul)
    }

    @inline(__always)
    static func encodeUTF8(_ s: UInt32, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        switch s {
        case 0..<0x80:
            out[0] = UInt8(s)
            return 1
        case 0x80..<0x800:
            out[0] = UInt8(0xC0 | s >> 6)
            out[1] = UInt8(0x80 | s & 0x3F)
            return 2
        case 0x800..<0x10000:
            out[0] = UInt8(0xE0 | s >> 12)
            out[1] = UInt8(0x80 | s >> 6 & 0x3F)
            out[2] = UInt8(0x80 | s & 0x3F)
            return 3
        default:
            out[0] = UInt8(0xF0 | s >> 18)
            out[1] = UInt8(0x80 | s >> 12 & 0x3F)
            out[2] = UInt8(0x80 | s >> 6 & 0x3F)
            out[3] = UInt8(0x80 | s & 0x3F)
            return 4
        }
    }

    /// A JSON integer (validated by `scanNumber`, no fraction or exponent) as Int64, or nil when
    /// it does not fit.
    static func int64(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var i = start
        let negative = p[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var v: Int64 = 0
        if end - i <= 18 {
            // Below 10^18, far from Int64's limits: no digit needs an overflow check.
            while i < end {
                v = v &* 10 &+ Int64(p[i] &- 48)
                i += 1
            }
            return negative ? -v : v
        }
        while i < end {
            let d = Int64(p[i] &- 48)
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            v = s
            i += 1
        }
        return v
    }
}
