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
