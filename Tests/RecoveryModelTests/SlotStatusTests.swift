import RecoveryModel
import XCTest

final class SlotStatusTests: XCTestCase {
    /// Events and versions keep a status as its index in `allCases`, read back without the array.
    func testCaseIndexIsThePlaceInAllCases() {
        for (index, status) in SlotStatus.allCases.enumerated() {
            XCTAssertEqual(status.caseIndex, index)
            XCTAssertEqual(SlotStatus(caseIndex: index), status)
        }
    }

    func testProcessedPayloadKeepsStatusAndLevel() {
        for status in SlotStatus.allCases {
            for level: Int16 in [0, 7, 10, -1] {
                let event = EventBatch.Event(
                    userID: 1, slotStart: 0, time: 0, line: 1,
                    payload: EventBatch.Event.processedPayload(status: status, activityLevel: level), host: 0,
                    tag: UInt32(SlotEvent.Kind.processed.rawValue))
                XCTAssertEqual(event.processed.status, status)
                XCTAssertEqual(event.processed.activityLevel, level)
            }
        }
    }
}
