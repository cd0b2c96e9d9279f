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
