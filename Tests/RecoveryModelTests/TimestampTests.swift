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
