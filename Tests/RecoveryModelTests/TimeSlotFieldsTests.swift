import RecoveryModel
import XCTest

/// `TimeSlotFields` maps every compared column to its field, and reconcile's `SlotColumn` names
/// exactly the restorable columns of `TimeSlotColumns`.
final class TimeSlotFieldsTests: XCTestCase {
    let a = TimeSlot(
        key: SlotKey(userID: 7, slotStart: Timestamp(seconds: 1_532_530_200)), projectID: 20, taskID: nil,
        durationMinutes: 10, status: .active, activityLevel: 4, keystrokes: 100, mouseEvents: 50,
        activeApps: ["editor"], screenshotKey: nil, note: nil, updatedAt: Timestamp(seconds: 1_532_530_800))

    func testTheFieldsAreTheComparedColumns() {
        XCTAssertEqual(TimeSlotFields.all.map(\.name), TimeSlotColumns.compared.map(\.name))
    }

    func testEachFieldComparesCopiesAndShowsItsOwnColumn() {
        var b = a
        b.projectID = 21
        b.taskID = 3
        b.durationMinutes = 5
        b.status = .idle
        b.activityLevel = nil
        b.keystrokes = 1
        b.mouseEvents = 2
        b.activeApps = ["mail", "shell"]
        b.screenshotKey = "s/1.png"
        b.note = "call"
        b.updatedAt = Timestamp(seconds: 1_532_531_400)
        XCTAssertEqual(TimeSlotFields.differing(a, b), TimeSlotColumns.compared.map(\.name))
        XCTAssertEqual(TimeSlotFields.differing(a, a), [])
        for field in TimeSlotFields.all {
            var c = a
            field.copy(from: b, into: &c)
            XCTAssertEqual(TimeSlotFields.differing(a, c), [field.name])
            XCTAssertEqual(TimeSlotFields.differing(c, b).contains(field.name), false)
        }
        XCTAssertEqual(
            TimeSlotFields.all.map { $0.display(b) },
            ["21", "3", "5", "idle", "null", "1", "2", "{mail,shell}", "s/1.png", "call", "2018-07-25T15:10:00Z"])
    }

    func testSlotColumnIsEveryColumnButTheKeyIdAndUpdatedAt() {
        let excluded: Set = ["id", "user_id", "slot_start", "updated_at"]
        XCTAssertEqual(
            SlotColumn.allCases.map(\.rawValue), TimeSlotColumns.names.filter { !excluded.contains($0) })
    }
}
