import RecoveryModel
@testable import SnapshotDiff
import XCTest

/// Unit tests: the COPY text decoder on bytes, no database.
final class CopyTextTests: XCTestCase {
    private func unescaped(_ field: String) -> [UInt8]? {
        var out: [UInt8] = []
        let ok = Array(field.utf8).withUnsafeBytes { CopyText.unescape($0, into: &out) }
        return ok ? out : nil
    }

    private func fields(_ row: String) -> [String] {
        var ranges: [Range<Int>] = []
        let bytes = Array(row.utf8)
        bytes.withUnsafeBytes { CopyText.splitFields($0, into: &ranges) }
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    private func array(_ literal: String) -> Result<[String?], CopyText.FieldFault> {
        Array(literal.utf8).withUnsafeBytes { CopyText.arrayLiteral($0) }
    }

    func testEveryEscape() {
        XCTAssertEqual(unescaped(#"a\\b"#), Array(#"a\b"#.utf8))
        XCTAssertEqual(unescaped(#"\b\f\n\r\t\v"#), [8, 12, 10, 13, 9, 11])
        XCTAssertEqual(unescaped(#"\101\7\0123"#), [65, 7, 10, 0x33])       // octal: at most 3 digits
        XCTAssertEqual(unescaped(#"\x41\x4a\xg\x7"#), [0x41, 0x4A, UInt8(ascii: "x"), UInt8(ascii: "g"), 7])
        XCTAssertEqual(unescaped(#"\q\"\."#), Array("q\".".utf8))          // any other \c is c
        XCTAssertEqual(unescaped(#"\377\400"#), [0xFF, 0x00])               // \400 wraps like PostgreSQL
        XCTAssertNil(unescaped(#"ends\"#))
    }

    func testNullIsTheRawFieldOnly() {
        XCTAssertTrue(Array(#"\N"#.utf8).withUnsafeBytes { CopyText.isNull($0) })
        XCTAssertFalse(Array(#"a\N"#.utf8).withUnsafeBytes { CopyText.isNull($0) })
        XCTAssertFalse(Array(#"\\N"#.utf8).withUnsafeBytes { CopyText.isNull($0) })
        XCTAssertEqual(unescaped(#"a\N"#), Array("aN".utf8))
    }

    func testSplitHonoursEscapedTabs() {
        XCTAssertEqual(fields("1\t\\N\t\ta\\\tb\t\\\\\t"), ["1", "\\N", "", "a\\\tb", "\\\\", ""])
        XCTAssertEqual(fields(""), [""])
    }

    /// The split up to a limit, the split of the rest and the count of the rest agree with the
    /// whole split, escapes and eight-byte words included.
    func testSplitInPartsAndCountAgreeWithTheWholeSplit() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [UInt8(ascii: "a"), 0x09, 0x5C, UInt8(ascii: "N"), 0x09, UInt8(ascii: "7")]
        for _ in 0..<5000 {
            let row = (0..<Int.random(in: 0...60, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            row.withUnsafeBytes { bytes in
                var whole: [Range<Int>] = []
                CopyText.splitFields(bytes, into: &whole)
                XCTAssertEqual(CopyText.countFields(bytes, from: 0), whole.count, "\(row)")
                for limit in 1...6 {
                    var part: [Range<Int>] = []
                    if let next = CopyText.splitFields(bytes, from: 0, into: &part, limit: limit) {
                        XCTAssertEqual(part, Array(whole[..<limit]), "\(row) limit \(limit)")
                        XCTAssertEqual(limit + CopyText.countFields(bytes, from: next), whole.count, "\(row) limit \(limit)")
                        _ = CopyText.splitFields(bytes, from: next, into: &part)
                    }
                    XCTAssertEqual(part, whole, "\(row) limit \(limit)")
                }
            }
        }
    }

    /// The one-pass split and count (`fieldEnds`) agrees with `splitFields`: escaped tabs and
    /// backslashes in and across eight-byte words, a backslash last, `\N`, and fewer places for
    /// ends than there are fields (the count goes on).
    func testFieldEndsAgreeWithTheSplit() {
        var rng = SplitMix64(seed: 0xF1E1_D5E0)
        let alphabet: [UInt8] = [UInt8(ascii: "a"), 0x09, 0x5C, UInt8(ascii: "N"), 0x09, UInt8(ascii: "7"), UInt8(ascii: "b")]
        var rows: [[UInt8]] = [[], [0x09], [0x5C], [0x5C, 0x09], Array("a\\\tb\\\\\tc\\N\t\\N".utf8),
                               Array("12345678\t\\\t345678\\\\\t".utf8)]
        for _ in 0..<20_000 {
            rows.append((0..<Int(rng.next() % 90)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
        for row in rows {
            row.withUnsafeBytes { bytes in
                var whole: [Range<Int>] = []
                CopyText.splitFields(bytes, into: &whole)
                for capacity in [0, 1, 3, whole.count, whole.count + 2] {
                    var ends = [Int](repeating: -1, count: capacity)
                    let count = ends.withUnsafeMutableBufferPointer { CopyText.fieldEnds(bytes, into: $0) }
                    XCTAssertEqual(count, whole.count, "\(row)")
                    for k in 0..<min(capacity, count) {
                        XCTAssertEqual((k == 0 ? 0 : ends[k - 1] + 1)..<ends[k], whole[k], "\(row) field \(k)")
                    }
                }
            }
        }
    }

    /// `fieldEnds` on rows of dump length: a backslash, two, three or a `\N` at every place
    /// around the edges of the sixteen-byte blocks (the last byte of a block escaping the first
    /// of the next, a pair across the edge, in the overlapping last block), and random rows of
    /// up to 300 bytes (some to 1,200), sparse and dense in backslashes, against `splitFields`;
    /// with them `leadingFieldEnds` and `countFields`, which read a row outside the window.
    func testFieldEndsAtBlockEdges() {
        func check(_ row: [UInt8], _ note: @autoclosure () -> String) {
            row.withUnsafeBytes { bytes in
                var whole: [Range<Int>] = []
                CopyText.splitFields(bytes, into: &whole)
                for capacity in [0, 2, 5, whole.count] {
                    var ends = [Int](repeating: -1, count: capacity)
                    let count = ends.withUnsafeMutableBufferPointer { CopyText.fieldEnds(bytes, into: $0) }
                    XCTAssertEqual(count, whole.count, note())
                    for k in 0..<min(capacity, count) {
                        XCTAssertEqual((k == 0 ? 0 : ends[k - 1] + 1)..<ends[k], whole[k], "\(note()) field \(k)")
                    }
                }
                // The leading fields and the count of the rest, as a row outside the window is read.
                for capacity in [1, 2, 5, 6] {
                    var ends = [Int](repeating: -1, count: capacity)
                    let (found, next) = ends.withUnsafeMutableBufferPointer { CopyText.leadingFieldEnds(bytes, into: $0) }
                    XCTAssertEqual(found, min(capacity, whole.count), note())
                    XCTAssertEqual(next, whole.count > capacity ? whole[capacity].lowerBound : nil, note())
                    for k in 0..<found {
                        XCTAssertEqual((k == 0 ? 0 : ends[k - 1] + 1)..<ends[k], whole[k], "\(note()) leading field \(k)")
                    }
                    if let next {
                        XCTAssertEqual(found + CopyText.countFields(bytes, from: next), whole.count, "\(note()) counted from \(next)")
                    }
                }
                // The count from any place, its first byte taken as not escaped.
                for start in Set([0, 1, 2, 15, 16, 17, bytes.count / 2, bytes.count - 17, bytes.count - 1]) where start >= 0 && start < bytes.count {
                    var rest: [Range<Int>] = []
                    CopyText.splitFields(UnsafeRawBufferPointer(rebasing: bytes[start...]), into: &rest)
                    XCTAssertEqual(CopyText.countFields(bytes, from: start), rest.count, "\(note()) counted from \(start)")
                }
            }
        }
        let base = Array("1001\t103\t\\N\t2018-07-21 09:20:00-07\t10\tclient\tactive\t4\t84\t2350\t{zoom.us}\tss/1\t\\N\t2018-07-21 09:31:45.029-07".utf8)
        let inserts: [[UInt8]] = [[0x5C], [0x5C, 0x5C], [0x5C, 0x5C, 0x5C], [0x5C, 0x09], [0x5C, 0x5C, 0x09], Array("\\N".utf8), [0x09, 0x5C]]
        for insert in inserts {
            for length in [15, 16, 17, 31, 32, 33, 47, 48, 49, base.count] {
                for at in max(0, length - 20)...length {
                    var row = Array(base.prefix(length))
                    row.insert(contentsOf: insert, at: min(at, row.count))
                    check(row, "\(insert) at \(at) of \(length)")
                    check(row + [0x5C], "\(insert) at \(at) of \(length), a backslash last")
                }
            }
        }
        for length in [16 * 31, 16 * 31 + 1, 16 * 31 + 2, 16 * 31 + 17, 16 * 62 + 5] {
            check([UInt8](repeating: 0x09, count: length), "\(length) tabs")
        }
        var rng = SplitMix64(seed: 0xB10C_ED6E)
        let sparse: [UInt8] = Array("abcdefgh1234 -:{},\t\t\t".utf8) + [0x5C]
        let dense: [UInt8] = [0x5C, 0x5C, 0x09, UInt8(ascii: "N"), UInt8(ascii: "x")]
        for _ in 0..<20_000 {
            let alphabet = rng.next() % 2 == 0 ? sparse : dense
            let length: UInt64 = rng.next() % 50 == 0 ? 1200 : 300
            var row: [UInt8] = []
            for _ in 0..<rng.next() % length {
                row.append(alphabet[Int(rng.next() % UInt64(alphabet.count))])
            }
            check(row, "\(row)")
        }
    }

    /// `appendText` appends the bytes of the String `text` makes, or gives its fault and leaves
    /// the buffer as it was.
    func testAppendTextAgreesWithText() {
        let fields = ["", "plain", #"tab\there"#, #"back\\slash"#, "caf\\303\\251", "café", #"bad \xff byte"#,
                      #"nul \000 here"#, #"lone\"#, #"\x41\102\q"#, "😀 \\t", #"\N"#, #"a\N"#, #"\xc3"#]
        for field in fields {
            let raw = Array(field.utf8)
            var scratch: [UInt8] = []
            let expected = raw.withUnsafeBytes { CopyText.text($0, scratch: &scratch) }
            var out: [UInt8] = [1, 2, 3]
            let fault = raw.withUnsafeBytes { CopyText.appendText($0, to: &out) }
            switch expected {
            case .success(let string):
                XCTAssertNil(fault, field)
                XCTAssertEqual(out, [1, 2, 3] + Array(string.utf8), field)
            case .failure(let expectedFault):
                XCTAssertEqual(fault, expectedFault, field)
                XCTAssertEqual(out, [1, 2, 3], field)
            }
        }
    }

    /// `timestamp(_:zones:dates:)` gives what `Timestamp.parse` gives, whatever came before:
    /// times of the same day and zone (the memo's shortcut), of another day, zone, separator or
    /// sign, bad times of day on a remembered day (hour 24, minute 60, second 60, a letter, a
    /// missing colon), fractions, `+05:30` zones, `Z`, bad dates and texts of other lengths.
    func testTimestampWithAZoneMemoAgreesWithParse() {
        let good = ["2018-07-21 09:20:00-07", "2018-07-21 23:59:59-07", "2018-07-21 00:00:00-07", "2018-07-21 09:20:00+07",
                    "2018-07-21 09:20:00+00", "2018-07-21T09:20:00-07", "2018-07-21t09:20:00-07", "2018-07-22 09:20:00-07",
                    "2016-02-29 12:00:00-07", "2018-07-21 09:20:00.5-07", "2018-07-21 09:20:00+05:30", "2018-07-21 09:20:00Z",
                    "2018-07-21 09:20:00-23", "0001-01-01 00:00:00+00", "9999-12-31 23:59:59-00",
                    // Days at the ends of the years 1 to 9999, where some times of day are beyond them.
                    "0001-01-01 23:00:00+14", "0001-01-01 00:00:00+14", "9999-12-31 00:00:00-10", "9999-12-31 23:59:59-10"]
        let bad = ["2018-07-21 24:00:00-07", "2018-07-21 09:60:00-07", "2018-07-21 09:20:60-07", "2018-07-21 0a:20:00-07",
                   "2018-07-21 09-20:00-07", "2018-07-21 09:20-00-07", "2018-07-21 09:20:00*07", "2018-07-21 09:20:00-24",
                   "2018-07-21 09:20:00-0a", "2018-07-21x09:20:00-07", "2018-02-30 09:20:00-07", "2018-07-21 09:20:00-7",
                   "2018-07-21 09:20:00", "2018-07-21 9:20:00-07", "2018-07-21 09:20:0\u{0}-07", "2018-07-21 09:2/:00-07",
                   "2018-07-21 09:20:00-07 ", "2018-07-21 :9:20:00-07", "2018-07-21 19:20:00-07\u{0}"]
        var rng = SplitMix64(seed: 0x2018_0721)
        var zones = CopyText.ZoneMemo()
        var dates = Timestamp.DateMemo()
        for _ in 0..<20_000 {
            // Mostly good times, each often followed by a bad one on the same day and zone.
            let pool = rng.next() % 3 == 0 ? bad : good
            var text = Array(pool[Int(rng.next() % UInt64(pool.count))].utf8)
            if rng.next() % 4 == 0, text.count == 22 {
                // Another time of day, or a stray byte in it, on the same day and zone.
                let place = 11 + Int(rng.next() % 8)
                text[place] = Array("0123456789:/a".utf8)[Int(rng.next() % 13)]
            }
            let expected = text.withUnsafeBytes { Timestamp.parse($0) }
            let got = text.withUnsafeBytes { CopyText.timestamp($0, zones: &zones, dates: &dates) }
            XCTAssertEqual(got, expected, String(decoding: text, as: UTF8.self))
        }
    }

    func testIntegers() {
        func int(_ s: String, _ r: ClosedRange<Int64> = Int64.min...Int64.max) -> Int64? {
            Array(s.utf8).withUnsafeBytes { CopyText.integer($0, in: r) }
        }
        XCTAssertEqual(int("0"), 0)
        XCTAssertEqual(int("-42"), -42)
        XCTAssertEqual(int("9223372036854775807"), Int64.max)
        XCTAssertEqual(int("-9223372036854775808"), Int64.min)
        XCTAssertNil(int("9223372036854775808"))
        XCTAssertNil(int(""))
        XCTAssertNil(int("-"))
        XCTAssertNil(int("1 "))
        XCTAssertNil(int("11", 0...10))
        XCTAssertEqual(int(#"\61\x32"#), 12)   // escapes are valid input
        XCTAssertEqual(int("000000000000000042"), 42)
        XCTAssertEqual(int("999999999999999999"), 999_999_999_999_999_999)
        XCTAssertEqual(int("1000000000000000000"), 1_000_000_000_000_000_000)
        XCTAssertEqual(int("+7"), 7)
        XCTAssertEqual(int("-0"), 0)
        XCTAssertNil(int("0", 1...Int64.max))
        XCTAssertNil(int("12a"))
        XCTAssertNil(int("1\\"))
    }

    func testArrayLiterals() {
        XCTAssertEqual(try array("{}").get(), [])
        XCTAssertEqual(try array(" { } ").get(), [])
        XCTAssertEqual(try array("{Xcode,Safari}").get(), ["Xcode", "Safari"])
        XCTAssertEqual(try array(#"{"a,b","q\"uote","back\\slash","",NULL,null,"NULL", spaced out ,x\,y}"#).get(),
                       ["a,b", "q\"uote", "back\\slash", "", nil, nil, "NULL", "spaced out", "x,y"])
        XCTAssertEqual(try array("{\"{braces}\",\"tab\there\",😀}").get(), ["{braces}", "tab\there", "😀"])
        XCTAssertEqual(try array("[1:2]={a,b}").get(), ["a", "b"])
        XCTAssertEqual(try array(#"{a\ }"#).get(), ["a "])      // an escaped space is kept
        for bad in ["", "a", "{", "{a", "{a,}", "{,a}", "{{a}}", "{\"a}", "{a}x", "{a\"b}", "{a\\"] {
            guard case .failure = array(bad) else { return XCTFail("accepted \(bad)") }
        }
    }

    func testTimestamps() {
        func t(_ s: String) -> Timestamp? { Array(s.utf8).withUnsafeBytes { CopyText.timestamp($0) } }
        // A zero-filled date (a damaged dump) is not a time.
        XCTAssertNil(t(String(repeating: "\0", count: 10) + " 14:50:00+00"))
        let base = Timestamp.parse("2018-07-25T14:50:00Z")!
        XCTAssertEqual(t("2018-07-25 14:50:00+00"), base)
        XCTAssertEqual(t("2018-07-25 07:50:00-07"), base)
        XCTAssertEqual(t("2018-07-25 20:20:00+05:30"), base)
        XCTAssertEqual(t("2018-07-25 20:20:00.123456+05:30"), base.adding(microseconds: 123_456))
        XCTAssertEqual(t("2018-07-25 14:50:00.5+00"), base.adding(microseconds: 500_000))
        XCTAssertNil(t("2018-07-25 14:50:00"))
        XCTAssertNil(t("infinity"))
        XCTAssertEqual(CopyTextEncoder.timestamptz(base.adding(microseconds: 500_000), offsetMinutes: 330),
                       "2018-07-25 20:20:00.5+05:30")
        XCTAssertEqual(CopyTextEncoder.timestamptz(base, offsetMinutes: -420), "2018-07-25 07:50:00-07")
    }

    /// The times a decoder reads with the date before (`Timestamp.DateMemo`) agree with
    /// `Timestamp.parse` on PostgreSQL's form, on its neighbours (other separators, `Z`, seconds in the offset, long fractions, days out
    /// of their month, leap years) and on random damage to them.
    func testTimestampsAgreeWithTheParser() {
        var rng = SplitMix64(seed: 0x7135_2018)
        func random(_ bound: UInt64) -> UInt64 { rng.next() % bound }
        func pick(_ values: [String]) -> String { values[Int(random(UInt64(values.count)))] }
        func number(_ values: [UInt64]) -> UInt64 { values[Int(random(UInt64(values.count)))] }
        func digits(_ value: UInt64, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let damage = Array("0123456789-:+. TZz/a".utf8)
        var checked = 0
        var dates = Timestamp.DateMemo()   // shared: dates that repeat and dates that change
        for _ in 0..<200_000 {
            let year: UInt64 = number([random(10_000), 1970 + random(80), 2000, 1900, 2024, 2023])
            let month: UInt64 = number([random(14), 2])
            let day: UInt64 = number([random(33), 28, 29, 30, 31])
            var text = digits(year, 4) + "-" + digits(month, 2) + "-" + digits(day, 2)
            text += pick([" ", " ", " ", "T", "t"])
            text += digits(random(25), 2) + ":" + digits(random(61), 2) + ":" + digits(random(61), 2)
            if random(2) == 0 {
                let count = Int(random(9))
                text += "." + (0..<count).map { _ in String(random(10)) }.joined()
            }
            text += pick(["+", "-", "+", "-", "Z", ""]) + digits(random(25), 2)
            text += pick(["", "", ":" + digits(random(61), 2), ":30:15", ":3", "0"])
            var bytes = Array(text.utf8)
            if random(3) == 0, !bytes.isEmpty {
                bytes[Int(random(UInt64(bytes.count)))] = damage[Int(random(UInt64(damage.count)))]
            }
            if random(10) == 0, !bytes.isEmpty { bytes.removeLast() }
            bytes.withUnsafeBytes { raw in
                let expected = Timestamp.parse(raw)
                XCTAssertEqual(CopyText.timestamp(raw), expected, String(decoding: bytes, as: UTF8.self))
                XCTAssertEqual(CopyText.timestamp(raw, dates: &dates), expected, String(decoding: bytes, as: UTF8.self))
                if expected != nil { checked += 1 }
            }
        }
        XCTAssertGreaterThan(checked, 20_000)
    }

    func testEncoderMatchesArrayOut() {
        XCTAssertEqual(CopyTextEncoder.arrayLiteral([]), "{}")
        XCTAssertEqual(CopyTextEncoder.arrayLiteral(["a", "b c", "", nil, "null", "q\"", "x\\y", "{"]),
                       #"{a,"b c","",NULL,"null","q\"","x\\y","{"}"#)
        var out: [UInt8] = []
        CopyTextEncoder.appendField("a\tb\nc\\d\r\u{8}\u{b}\u{c}", to: &out)
        CopyTextEncoder.appendField(nil, to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #"a\tb\nc\\d\r\b\v\f\N"#)
    }
}
