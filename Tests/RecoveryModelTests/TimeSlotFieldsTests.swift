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
            ["21", "3", "5", "idle", "null", "1", "2", #"{"mail","shell"}"#, #""s/1.png""#, #""call""#, "2018-07-25T15:10:00Z"])
    }

    /// A reviewer tells a NULL from the text 'null', and one element 'a,b' from two: texts are
    /// shown quoted, arrays with every element quoted (reconcile's report.md and reconcile.csv
    /// showed `null` and `{a,b}` for both; found by a hostile test).
    func testTheDisplayTellsNullFromTextAndElementsApart() {
        var text = a
        text.note = "null"
        text.screenshotKey = #"a "b" \c"#
        text.activeApps = ["a,b"]
        var two = a
        two.activeApps = ["a", "b"]
        func shown(_ slot: TimeSlot, _ name: String) -> String { TimeSlotFields.named(name)!.display(slot) }
        XCTAssertEqual(shown(a, "note"), "null")
        XCTAssertEqual(shown(text, "note"), #""null""#)
        XCTAssertEqual(shown(text, "screenshot_key"), #""a \"b\" \\c""#)
        XCTAssertEqual(shown(text, "active_apps"), #"{"a,b"}"#)
        XCTAssertEqual(shown(two, "active_apps"), #"{"a","b"}"#)
        XCTAssertEqual(SlotColumn.source.display(SlotRow(id: 1, source: "null", slot: a)), #""null""#)
    }

    func testSlotColumnIsEveryColumnButTheKeyIdAndUpdatedAt() {
        let excluded: Set = ["id", "user_id", "slot_start", "updated_at"]
        XCTAssertEqual(
            SlotColumn.allCases.map(\.rawValue), TimeSlotColumns.names.filter { !excluded.contains($0) })
    }
}
