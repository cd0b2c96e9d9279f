import RecoveryModel
import XCTest

final class TimestampTests: XCTestCase {
    func testParsesRFC3339WithOffsetsAndFractions() {
        let utc = Timestamp.parse("2018-07-25T15:02:11.204Z")!
        XCTAssertEqual(utc.microseconds, 1_532_530_931_204_000)
        XCTAssertEqual(Timestamp.parse("2018-07-25T08:02:11.204-07:00"), utc)
        XCTAssertEqual(Timestamp.parse("2018-07-25T20:32:11.204+05:30"), utc)
        XCTAssertEqual(Timestamp.parse("2018-07-25t15:02:11.204z"), utc)
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.204123456Z")!.microseconds, 1_532_530_931_204_123)
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.2Z")!.microseconds, 1_532_530_931_200_000)
    }

    func testParsesPostgresTimestamptzOutput() {
        let utc = Timestamp.parse("2018-07-25T15:02:11Z")!
        XCTAssertEqual(Timestamp.parse("2018-07-25 15:02:11+00"), utc)
        XCTAssertEqual(Timestamp.parse("2018-07-25 08:02:11-07"), utc)
        XCTAssertEqual(Timestamp.parse("2018-07-25 20:32:11+05:30"), utc)
        XCTAssertEqual(Timestamp.parse("1900-01-01 00:00:00+00:53:28")!.microseconds, (-2_208_988_800 - 3208) * 1_000_000)
    }

    func testRefusesTimesWithoutOffsetOrOutOfRange() {
        for text in ["2018-07-25T15:02:11", "2018-07-25 15:02", "2018-02-29T00:00:00Z", "2018-13-01T00:00:00Z",
                     "2018-07-25T24:00:00Z", "2018-07-25T15:02:11.Z", "2018-07-25T15:02:11+5", "2018-07-25T15:02:11Z ",
                     "2018-07-25T15:02:11+24:00", "x018-07-25T15:02:11Z", ""] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
        XCTAssertNotNil(Timestamp.parse("2020-02-29T00:00:00Z"))
    }

    func testLeapDaysAndTheEndsOfTheRange() {
        XCTAssertEqual(Timestamp.parse("2020-02-29T00:00:00Z")?.microseconds, 1_582_934_400_000_000)
        XCTAssertEqual(Timestamp.parse("2000-02-29T12:00:00.5+05:30")?.microseconds, 951_805_800_500_000)
        for text in ["2019-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2020-02-30T00:00:00Z",
                     "2018-04-31T00:00:00Z", "2018-00-10T00:00:00Z", "2018-07-00T00:00:00Z", "0000-01-01T00:00:00Z"] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
        XCTAssertEqual(Timestamp.parse("0001-01-01T00:00:00Z")?.microseconds, -62_135_596_800_000_000)
        XCTAssertEqual(Timestamp.parse("9999-12-31T23:59:59.999999Z")?.microseconds, 253_402_300_799_999_999)
        // The instant, once the offset is applied, must lie in the years 1 to 9999: PostgreSQL
        // refuses year 0 written as such, and the plan's files would hold it.
        XCTAssertNil(Timestamp.parse("0001-01-01T00:00:00+14:00"))
        XCTAssertNil(Timestamp.parse("0001-01-01T00:00:00.000001+00:00:01"))
        XCTAssertNil(Timestamp.parse("9999-12-31T23:59:59-00:01"))
        XCTAssertNil(Timestamp.parse("9999-12-31T23:59:59.999999-00:00:01"))
        XCTAssertEqual(Timestamp.parse("0001-01-01T14:00:00+14:00"), Timestamp.earliest)
        XCTAssertEqual(Timestamp.parse("9999-12-31T13:59:59.999999-10:00"), Timestamp.latest)
        XCTAssertEqual(Timestamp.parseIgnoringRange("0001-01-01T00:00:00+14:00")?.rfc3339, "0000-12-31T10:00:00Z")
        XCTAssertEqual(Timestamp.parse("2018-12-31T23:59:59Z")?.microseconds, 1_546_300_799_000_000)
        XCTAssertEqual(Timestamp.parse("2019-01-01T00:00:00Z")?.microseconds, 1_546_300_800_000_000)
    }

    func testFractionsAndOffsets() {
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.000001Z")?.microseconds, 1_532_530_931_000_001)
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.1234567890123Z")?.microseconds, 1_532_530_931_123_456)
        XCTAssertEqual(Timestamp.parse("2020-02-29T23:59:59.999999-01:00")?.microseconds, 1_583_024_399_999_999)
        for text in ["2018-07-25T15:02:11.", "2018-07-25T15:02:11.+00", "2018-07-25T15:02:11.5", "2018-07-25T15:02:11+23:60",
                     "2018-07-25T15:02:11+00:00:60", "2018-07-25T15:02:11+0", "2018-07-25T15:02:11+00:0", "2018-07-25T15:02:11Zz"] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
    }

    /// Each digit of the date and clock replaced by a byte next to the digits (or far from them),
    /// and each separator by another byte: all refused, with or without a memo that holds the date.
    func testRefusesABadByteAnywhereInTheDateAndClock() {
        let good = Array("2018-07-25T15:02:11.204+02:00".utf8)
        var dates = Timestamp.DateMemo()
        XCTAssertEqual(good.withUnsafeBytes { Timestamp.parse($0, dates: &dates) }, Timestamp.parse("2018-07-25T13:02:11.204Z"))
        for position in 0..<19 {
            // The bytes a separator's place allows; a digit's place allows none of the list.
            let allowed: [UInt8] = switch position {
            case 4, 7: [0x2D]
            case 10: [0x20, 0x54, 0x74]
            case 13, 16: [0x3A]
            default: []
            }
            for byte: UInt8 in [0x00, 0x20, 0x2D, 0x2F, 0x3A, 0x3F, 0x40, 0x54, 0x74, 0x7F, 0xB0, 0xB9, 0xFF] where !allowed.contains(byte) {
                var bytes = good
                bytes[position] = byte
                var fresh = Timestamp.DateMemo()
                XCTAssertNil(bytes.withUnsafeBytes { Timestamp.parse($0, dates: &fresh) }, "byte \(byte) at \(position)")
                XCTAssertNil(bytes.withUnsafeBytes { Timestamp.parse($0, dates: &dates) }, "byte \(byte) at \(position)")
                XCTAssertNil(bytes.withUnsafeBytes { Timestamp.parse($0) }, "byte \(byte) at \(position)")
            }
        }
    }

    /// A date of NUL bytes (a zero-filled run in a damaged dump) is refused, by a fresh memo too:
    /// a memo that holds no date yet must match no text.
    func testADateOfNulBytesIsRefused() {
        for clock in ["T00:00:00Z", " 14:50:00+00"] {
            let bytes = Array(repeating: UInt8(0), count: 10) + Array(clock.utf8)
            var fresh = Timestamp.DateMemo()
            XCTAssertNil(bytes.withUnsafeBytes { Timestamp.parse($0, dates: &fresh) }, clock)
            XCTAssertNil(bytes.withUnsafeBytes { Timestamp.parse($0) }, clock)
        }
    }

    /// A memo changes no result: times on the memo's date, on others, and refused ones in between.
    func testDateMemoGivesTheResultsOfAFreshParse() {
        let texts = ["2018-07-25T15:02:11.204Z", "2018-07-25T23:59:59.999999+00:00", "2018-07-25 00:00:00-07",
                     "2018-07-25T24:00:00Z", "2018-07-25T15:60:00Z", "2018-07-25T15:02:60Z", "2018-07-25X15:02:11Z",
                     "2018-07-25T15:02:11", "2018-07-26T00:00:00Z", "2018-07-25T15:02:11+05:30",
                     "2020-02-29T12:00:00Z", "2019-02-29T12:00:00Z", "2020-02-29T12:00:00.5-00:30", "2018-07-2:T00:00:00Z",
                     "1970-01-01T00:00:00Z", "1970-01-01 23:59:59+01", "1970-01-02T00:00:00Z"]
        var dates = Timestamp.DateMemo()
        for text in texts + texts.reversed() + texts {
            let bytes = Array(text.utf8)
            let memo = bytes.withUnsafeBytes { Timestamp.parse($0, dates: &dates) }
            var fresh = Timestamp.DateMemo()
            let alone = bytes.withUnsafeBytes { Timestamp.parse($0, dates: &fresh) }
            XCTAssertEqual(memo, alone, text)
            XCTAssertEqual(memo, Timestamp.parse(text), text)
        }
        // A new memo's date is 1970-01-01 itself.
        var fresh = Timestamp.DateMemo()
        XCTAssertEqual(Array("1970-01-01T00:00:01Z".utf8).withUnsafeBytes { Timestamp.parse($0, dates: &fresh) }, Timestamp(microseconds: 1_000_000))
        XCTAssertNil(Timestamp.parse("2018-07-25T24:00:00Z"))
        XCTAssertNotNil(Timestamp.parse("2018-07-25T23:59:59Z"))
    }

    /// What follows the seconds is read a word at a time in the common shapes (`Z`, `±HH:MM`,
    /// `±HH` after 0 to 16 digits of fraction) and byte by byte otherwise: every tail of a set
    /// (fractions of 0 to 20 digits, every offset shape, each byte of the tail replaced by a byte
    /// near the expected ones or cut off) parses as the byte-by-byte reading of `reference` does.
    func testTheWordWiseTailReadsAsTheByteByByteReading() {
        let heads = ["2018-07-25T15:02:11", "2018-07-25 23:59:59", "2020-02-29t00:00:00", "1969-12-31T23:59:59"]
        let digits = "1234567890123456789012"
        var fractions = [""]
        for count in 0...20 { fractions.append("." + digits.prefix(count)) }
        fractions += [".000000", ".999999999", ".0000000001", ".5", ".05"]
        let suffixes = ["Z", "z", "+00", "-07", "+23", "+24", "-7", "+0", "+00:00", "-07:00", "+05:30", "+23:59", "-23:59",
                        "+24:00", "+05:60", "+05:3", "+05:", "+0530", "+05:30:15", "-00:53:28", "+05:30:60", "+05:30:1",
                        "", "Zz", "ZZ", "Z ", " Z", "+", "-", "x", "+a5:30", "+05:a0", "+05;30", "+-5:30", "++05:30", "Z+05:30"]
        let near: [UInt8] = [0x00, 0x20, 0x2B, 0x2D, 0x2E, 0x2F, 0x30, 0x39, 0x3A, 0x3B, 0x5A, 0x7A, 0xB0]
        var dates = Timestamp.DateMemo()
        var checked = 0
        func check(_ bytes: [UInt8]) {
            let expected = bytes.withUnsafeBytes { Self.referenceParse($0) }
            let memo = bytes.withUnsafeBytes { Timestamp.parse($0, dates: &dates) }
            let alone = bytes.withUnsafeBytes { Timestamp.parse($0) }
            XCTAssertEqual(memo, expected, String(decoding: bytes, as: UTF8.self))
            XCTAssertEqual(alone, expected, String(decoding: bytes, as: UTF8.self))
            checked += 1
        }
        for head in heads {
            for fraction in fractions {
                for suffix in suffixes {
                    let text = Array((head + fraction + suffix).utf8)
                    check(text)
                    for cut in 19..<text.count { check(Array(text[..<cut])) }
                    for position in 19..<text.count {
                        for byte in near where byte != text[position] {
                            var changed = text
                            changed[position] = byte
                            check(changed)
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 500_000)
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.1234567890123456Z")?.microseconds, 1_532_530_931_123_456)
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.12345678901234567Z")?.microseconds, 1_532_530_931_123_456)
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.000000009-07")?.microseconds, 1_532_556_131_000_000)
    }

    /// `parse` as it read every time byte by byte after the date and clock (before the common
    /// tails were read a word at a time): the reference the tests compare it with.
    static func referenceParse(_ bytes: UnsafeRawBufferPointer) -> Timestamp? {
        let n = bytes.count
        guard n >= 20 else { return nil }
        func digit(_ i: Int) -> Int64? {
            let c = bytes[i] &- 48
            return c < 10 ? Int64(c) : nil
        }
        func number(_ i: Int, _ width: Int) -> Int64? {
            var v: Int64 = 0
            for k in i..<(i + width) {
                guard let d = digit(k) else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard let year = number(0, 4), bytes[4] == UInt8(ascii: "-"), let month = number(5, 2), bytes[7] == UInt8(ascii: "-"),
              let day = number(8, 2), bytes[10] | 0x20 == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
              let hour = number(11, 2), bytes[13] == UInt8(ascii: ":"), let minute = number(14, 2), bytes[16] == UInt8(ascii: ":"),
              let second = number(17, 2)
        else { return nil }
        let monthDays: Int64 = switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
        guard year >= 1, month >= 1, month <= 12, day >= 1, day <= monthDays, hour <= 23, minute <= 59, second <= 59 else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < n, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let first = i
            while i < n, bytes[i] &- 48 < 10 { i += 1 }
            let count = i - first
            guard count > 0 else { return nil }
            for k in first..<min(i, first + 6) { fraction = fraction * 10 + Int64(bytes[k] &- 48) }
            for _ in count..<max(count, 6) { fraction *= 10 }
        }
        guard i < n else { return nil }
        var offsetSeconds: Int64 = 0
        let sign = bytes[i]
        if sign == UInt8(ascii: "Z") || sign == UInt8(ascii: "z") {
            i += 1
        } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            i += 1
            guard i + 2 <= n, let oh = number(i, 2), oh <= 23 else { return nil }
            i += 2
            var om: Int64 = 0
            var os: Int64 = 0
            if i < n, bytes[i] == UInt8(ascii: ":") {
                guard i + 3 <= n, let m = number(i + 1, 2), m <= 59 else { return nil }
                om = m
                i += 3
                if i < n, bytes[i] == UInt8(ascii: ":") {
                    guard i + 3 <= n, let s = number(i + 1, 2), s <= 59 else { return nil }
                    os = s
                    i += 3
                }
            }
            offsetSeconds = (oh * 3600 + om * 60 + os) * (sign == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        guard i == n else { return nil }
        // Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
        return Timestamp(microseconds: (days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) * 1_000_000 + fraction)
    }

    func testFormatsAsUTC() {
        XCTAssertEqual(Timestamp.parse("2018-07-25T08:02:11-07:00")!.rfc3339, "2018-07-25T15:02:11Z")
        XCTAssertEqual(Timestamp.parse("2018-07-25T15:02:11.204Z")!.rfc3339, "2018-07-25T15:02:11.204Z")
        XCTAssertEqual(Timestamp(microseconds: -1).rfc3339, "1969-12-31T23:59:59.999999Z")
        for days in stride(from: -719_000, through: 2_900_000, by: 997) {
            let t = Timestamp(seconds: Int64(days) * 86_400 + 3_723)
            XCTAssertEqual(Timestamp.parse(t.rfc3339), t)
        }
    }

    func testSlotAlignmentAndWindows() {
        XCTAssertTrue(Timestamp.parse("2018-07-25T14:50:00Z")!.isSlotAligned)
        XCTAssertFalse(Timestamp.parse("2018-07-25T14:55:00Z")!.isSlotAligned)
        XCTAssertFalse(Timestamp.parse("2018-07-25T14:50:00.001Z")!.isSlotAligned)
        let a = Window(from: Timestamp.parse("2018-07-25T14:50:00Z")!, to: Timestamp.parse("2018-07-25T15:00:00Z")!)
        let touching = Window(from: a.to, to: a.to.adding(minutes: 5))
        XCTAssertFalse(a.overlaps(touching))
        XCTAssertTrue(a.overlaps(Window(from: a.to.adding(microseconds: -1), to: a.to.adding(minutes: 5))))
        XCTAssertTrue(a.contains(a.from))
        XCTAssertFalse(a.contains(a.to))
    }
}
