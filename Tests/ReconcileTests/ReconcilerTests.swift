import ConflictResolver
import RecoveryModel
import XCTest

@testable import Reconcile

/// CONTRACT §7's rules, one test per outcome and per edge.
final class ReconcilerTests: XCTestCase {
    static func t(_ text: String) -> Timestamp { Timestamp.parse(text)! }
    let jobFrom = t("2026-03-02T01:00:00Z")
    let jobTo = t("2026-03-02T03:00:00Z")
    var job: Window { Window(from: jobFrom, to: jobTo) }
    let taskColumns: Set<SlotColumn> = [.projectID, .taskID]

    /// User 7's slot at `start`, as the backup holds it: project 10, task 100.
    func snapshotRow(user: Int64 = 7, start: String = "2026-03-01T09:00:00Z", line: Int = 40) -> SnapshotSlotRow {
        let slot = TimeSlot(
            key: SlotKey(userID: user, slotStart: Self.t(start)), projectID: 10, taskID: 100, status: .active,
            activityLevel: 6, keystrokes: 300, mouseEvents: 900, activeApps: ["Xcode"], screenshotKey: "ss/1.jpg",
            note: nil, updatedAt: Self.t("2026-03-01T09:12:00Z"))
        return SnapshotSlotRow(row: SlotRow(id: 5000 + user, source: "client", slot: slot), location: SourceLocation(file: "before.sql", line: line))
    }

    /// The live row: the snapshot's, with `change` applied and written at `written`.
    func live(_ snap: SnapshotSlotRow, written: Timestamp, _ change: (inout SlotRow) -> Void = { _ in }) -> SlotRow {
        var row = snap.row
        row.slot.updatedAt = written
        change(&row)
        return row
    }

    /// Users 7 and 8, projects 10 and 20, task 100 in 10 and 200 in 20; 7 and 8 in both projects.
    var references: LiveState {
        LiveState(
            users: [7, 8], projects: [10, 20], tasks: [100: 10, 200: 20],
            memberships: [.init(projectID: 10, userID: 7), .init(projectID: 20, userID: 7), .init(projectID: 10, userID: 8), .init(projectID: 20, userID: 8)])
    }

    /// The job's fingerprint: task nulled, project moved to 20.
    func jobDamage(_ row: inout SlotRow) {
        row.slot.taskID = nil
        row.slot.projectID = 20
    }

    func decide(
        _ snap: [SnapshotSlotRow], _ live: [SlotRow], members: [SnapshotMembership] = [], columns: Set<SlotColumn>? = nil,
        range: Window? = nil, references: LiveState? = nil
    ) -> Reconciliation {
        Reconciler.reconcile(
            snapshot: snap, live: live, memberships: members, job: job, columns: columns ?? taskColumns, range: range,
            references: references ?? self.references)
    }

    // MARK: outcomes

    func testRestoreTakesTheSnapshotValuesOfTheNamedColumns() throws {
        let snap = snapshotRow()
        let current = live(snap, written: Self.t("2026-03-02T01:30:00Z"), jobDamage)
        let result = decide([snap], [current])
        XCTAssertEqual(result.slots.count, 1)
        let decision = try XCTUnwrap(result.slots.first)
        XCTAssertEqual(decision.outcome, .restore)
        XCTAssertEqual(decision.differing, [.projectID, .taskID])
        XCTAssertEqual(decision.live, current)
        var expected = current
        expected.slot.projectID = 10
        expected.slot.taskID = 100
        XCTAssertEqual(decision.restored, expected)
        XCTAssertEqual(
            decision.evidence,
            "snapshot before.sql:40; live updated_at 2026-03-02T01:30:00Z in the job window; differs in project_id, task_id")
    }

    func testLiveWrittenAfterTheJobIsKept() {
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T05:00:00Z"), jobDamage)])
        XCTAssertEqual(result.slots.map(\.outcome), [.keptChangedAfterJob])
    }

    func testAfterTheJobWinsOverAColumnOutsideTheFingerprint() {
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T05:00:00Z")) { self.jobDamage(&$0); $0.slot.note = "mine" }])
        XCTAssertEqual(result.slots.map(\.outcome), [.keptChangedAfterJob])
    }

    func testAColumnOutsideTheFingerprintKeepsTheRow() throws {
        // One differing column inside --columns (task_id), one outside (note).
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T02:00:00Z")) { $0.slot.taskID = nil; $0.slot.note = "x" }])
        let decision = try XCTUnwrap(result.slots.first)
        XCTAssertEqual(decision.outcome, .keptNotFingerprint)
        XCTAssertEqual(decision.differing, [.taskID, .note])
        XCTAssertEqual(decision.outside, [.note])
        XCTAssertFalse(decision.writtenBeforeJob)
        XCTAssertEqual(
            decision.evidence,
            "snapshot before.sql:40; live updated_at 2026-03-02T02:00:00Z; differs outside --columns in note; differs in task_id, note")
    }

    func testTheSameRowIsRestoredWhenBothColumnsAreNamed() {
        let snap = snapshotRow()
        let result = decide(
            [snap], [live(snap, written: Self.t("2026-03-02T02:00:00Z")) { $0.slot.taskID = nil; $0.slot.note = "x" }],
            columns: [.taskID, .note])
        XCTAssertEqual(result.slots.map(\.outcome), [.restore])
    }

    func testLiveWrittenBeforeTheJobIsNotTheFingerprint() throws {
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T00:59:59.999999Z"), jobDamage)])
        let decision = try XCTUnwrap(result.slots.first)
        XCTAssertEqual(decision.outcome, .keptNotFingerprint)
        XCTAssertTrue(decision.writtenBeforeJob)
        XCTAssertEqual(decision.outside, [])
    }

    func testARowMissingFromLiveIsCountedOnly() throws {
        let snap = snapshotRow()
        let result = decide([snap], [])
        let decision = try XCTUnwrap(result.slots.first)
        XCTAssertEqual(decision.outcome, .missingFromLive)
        XCTAssertNil(decision.live)
        XCTAssertNil(decision.restored)
    }

    func testMissingFromLiveComesFirstEvenForAnOtherwiseChangedKey() {
        // Live holds the user's neighbour slot only.
        let snap = snapshotRow()
        let neighbour = live(snapshotRow(start: "2026-03-01T09:10:00Z"), written: Self.t("2026-03-02T01:30:00Z"), jobDamage)
        let result = decide([snap], [neighbour])
        XCTAssertEqual(result.slots.map(\.outcome), [.missingFromLive])
    }

    func testARowEqualInEveryComparedColumnHasNoOutcome() {
        // updated_at and id differ: neither is compared.
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z")) { $0.id = 1 }])
        XCTAssertEqual(result.slots, [])
        XCTAssertEqual(result.unchanged, 1)
        XCTAssertEqual(result.snapshotRowsInRange, 1)
    }

    func testSourceIsCompared() {
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z")) { $0.source = "recovered" }])
        XCTAssertEqual(result.slots.map(\.outcome), [.keptNotFingerprint])
        XCTAssertEqual(result.slots.first?.outside, [.source])
    }

    // MARK: job window edges, to the microsecond

    func testUpdatedAtExactlyJobFromIsInsideTheJob() {
        let snap = snapshotRow()
        XCTAssertEqual(decide([snap], [live(snap, written: jobFrom, jobDamage)]).slots.map(\.outcome), [.restore])
        XCTAssertEqual(
            decide([snap], [live(snap, written: jobFrom.adding(microseconds: -1), jobDamage)]).slots.map(\.outcome),
            [.keptNotFingerprint])
    }

    func testUpdatedAtExactlyJobToIsAfterTheJob() {
        let snap = snapshotRow()
        XCTAssertEqual(decide([snap], [live(snap, written: jobTo, jobDamage)]).slots.map(\.outcome), [.keptChangedAfterJob])
        XCTAssertEqual(
            decide([snap], [live(snap, written: jobTo.adding(microseconds: -1), jobDamage)]).slots.map(\.outcome), [.restore])
    }

    // MARK: references, judged after the restore

    func testARestoredTaskOfAnotherProjectIsQuarantined() throws {
        // Since the backup, task 100 moved to project 20; the job nulled the slot's task.
        var refs = references
        refs.tasks[100] = 20
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z")) { $0.slot.taskID = nil }], references: refs)
        let decision = try XCTUnwrap(result.slots.first)
        XCTAssertEqual(decision.outcome, .quarantined)
        XCTAssertEqual(decision.reason, .taskOfAnotherProject(task: 100, project: 10))
    }

    func testARestoredTaskOrProjectThatIsGoneIsQuarantined() {
        let snap = snapshotRow()
        let damaged = live(snap, written: Self.t("2026-03-02T01:30:00Z"), jobDamage)
        var noTask = references
        noTask.tasks[100] = nil
        XCTAssertEqual(decide([snap], [damaged], references: noTask).slots.first?.reason, .unknownTask(100))
        var noProject = references
        noProject.projects.remove(10)
        XCTAssertEqual(decide([snap], [damaged], references: noProject).slots.first?.reason, .unknownProject(10))
    }

    func testAUserNoLongerAMemberIsQuarantined() {
        var refs = references
        refs.memberships.remove(.init(projectID: 10, userID: 7))
        let snap = snapshotRow()
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z"), jobDamage)], references: refs)
        XCTAssertEqual(result.slots.map(\.outcome), [.quarantined])
        XCTAssertEqual(result.slots.first?.reason, .notAMember(user: 7, project: 10))
    }

    func testAMembershipThisPlanRestoresCountsAsPresent() {
        // The job deleted (10, 7) and moved the slot to 20: restoring both is consistent.
        var refs = references
        refs.memberships.remove(.init(projectID: 10, userID: 7))
        let snap = snapshotRow()
        let members = [SnapshotMembership(.init(projectID: 10, userID: 7), location: SourceLocation(file: "before.sql", line: 12))]
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z"), jobDamage)], members: members, references: refs)
        XCTAssertEqual(result.slots.map(\.outcome), [.restore])
        XCTAssertEqual(result.restoredMemberships.map(\.membership), [.init(projectID: 10, userID: 7)])
    }

    func testTheRowIsJudgedAsItWillBeAfterTheRestore() {
        // Live's project (20) is fine, but the snapshot's task 200 is of project 20 while the
        // snapshot's project is 10: only task_id is restored, and the restored row (project 20,
        // task 200) is consistent.
        var snap = snapshotRow()
        snap.row.slot.projectID = 20
        snap.row.slot.taskID = 200
        let result = decide([snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z")) { $0.slot.taskID = nil }], columns: [.taskID])
        XCTAssertEqual(result.slots.map(\.outcome), [.restore])
        XCTAssertEqual(result.slots.first?.restored?.slot.taskID, 200)
        XCTAssertEqual(result.slots.first?.restored?.slot.projectID, 20)
    }

    // MARK: memberships

    func testMembershipsOnlyInTheSnapshotAreRestoredWhenUserAndProjectExist() {
        var refs = references
        refs.memberships = [.init(projectID: 10, userID: 8)]
        let members = [
            SnapshotMembership(.init(projectID: 10, userID: 8), location: SourceLocation(file: "b.sql", line: 3)),  // in both
            SnapshotMembership(.init(projectID: 20, userID: 7), location: SourceLocation(file: "b.sql", line: 4)),  // restored
            SnapshotMembership(.init(projectID: 30, userID: 7), location: SourceLocation(file: "b.sql", line: 5)),  // project gone
            SnapshotMembership(.init(projectID: 10, userID: 9), location: SourceLocation(file: "b.sql", line: 6)),  // user gone
            SnapshotMembership(.init(projectID: 20, userID: 7), location: SourceLocation(file: "b.sql", line: 7)),  // repeated
        ]
        let result = decide([], [], members: members, references: refs)
        XCTAssertEqual(result.restoredMemberships.map(\.membership), [.init(projectID: 20, userID: 7)])
        XCTAssertEqual(result.restoredMemberships.first?.snapshot.location.line, 4)
        XCTAssertEqual(result.quarantinedMemberships.map(\.reason), [.unknownUser(9), .unknownProject(30)])
    }

    func testMembershipsAreRestoredWhateverTheRange() {
        var refs = references
        refs.memberships = []
        let range = Window(from: Self.t("2026-03-05T00:00:00Z"), to: Self.t("2026-03-06T00:00:00Z"))
        let snap = snapshotRow()
        let result = decide(
            [snap], [live(snap, written: Self.t("2026-03-02T01:30:00Z"), jobDamage)],
            members: [SnapshotMembership(.init(projectID: 10, userID: 7), location: SourceLocation(file: "b.sql", line: 4))],
            range: range, references: refs)
        XCTAssertEqual(result.slots, [])
        XCTAssertEqual(result.snapshotRowsOutsideRange, 1)
        XCTAssertEqual(result.restoredMemberships.count, 1)
    }

    // MARK: range, order, repeats

    func testTheRangeIsHalfOpenOnSlotStart() {
        let inside = snapshotRow(start: "2026-03-01T09:00:00Z")
        let atEnd = snapshotRow(start: "2026-03-01T10:00:00Z")
        let range = Window(from: Self.t("2026-03-01T09:00:00Z"), to: Self.t("2026-03-01T10:00:00Z"))
        let written = Self.t("2026-03-02T01:30:00Z")
        let result = decide([atEnd, inside], [live(inside, written: written, jobDamage), live(atEnd, written: written, jobDamage)], range: range)
        XCTAssertEqual(result.slots.map(\.key), [inside.row.key])
        XCTAssertEqual(result.snapshotRowsOutsideRange, 1)
    }

    func testInputOrderDoesNotMatterAndARepeatedKeyKeepsItsFirstRow() {
        let a = snapshotRow(user: 7, line: 50)
        let b = snapshotRow(user: 8, line: 41)
        var repeat_ = a
        repeat_.location.line = 60
        repeat_.row.slot.note = "later copy"
        let written = Self.t("2026-03-02T01:30:00Z")
        let live = [live(b, written: written, jobDamage), live(a, written: written, jobDamage)]
        let one = decide([repeat_, b, a], live)
        let two = decide([a, repeat_, b], live.reversed())
        XCTAssertEqual(one, two)
        XCTAssertEqual(one.slots.map(\.key.userID), [7, 8])
        XCTAssertEqual(one.slots.map(\.outcome), [.restore, .restore])
        XCTAssertEqual(one.duplicateSnapshotRows, [SourceLocation(file: "before.sql", line: 60)])
    }

    // MARK: the snapshot's age

    func testASnapshotAtOrAfterJobFromIsRefused() {
        XCTAssertNil(Reconciler.ageProblem(newest: jobFrom.adding(microseconds: -1), job: job, snapshot: "b.sql"))
        XCTAssertEqual(Reconciler.ageProblem(newest: jobFrom, job: job, snapshot: "b.sql")?.kind, .snapshotNotOlderThanJob)
        XCTAssertEqual(
            Reconciler.ageProblem(newest: jobTo, job: job, snapshot: "b.sql")?.description,
            "b.sql: the snapshot's newest time_slots.updated_at 2026-03-02T03:00:00Z is not before --job-from 2026-03-02T01:00:00Z; its values may already be the job's: give a backup taken before --job-from")
        XCTAssertNil(Reconciler.ageProblem(newest: nil, job: job, snapshot: "b.sql"))
    }

    // MARK: --columns

    func testColumnsParse() {
        XCTAssertEqual(try SlotColumn.parse(["time_slots.task_id", " time_slots.project_id", "task_id"]).get(), [.projectID, .taskID])
        XCTAssertEqual(
            SlotColumn.parse(["time_slots.updated_at"]).failureReason, .notRestorable)
        XCTAssertEqual(SlotColumn.parse(["time_slots.user_id"]).failureReason, .notRestorable)
        XCTAssertEqual(SlotColumn.parse(["project_members.user_id"]).failureReason, .notTimeSlots)
        XCTAssertEqual(SlotColumn.parse([]).failureReason, .empty)
        XCTAssertEqual(
            SlotColumn.parse(["time_slots.id"]).failureDescription,
            "'--columns' entry 'time_slots.id' is not a column reconcile can restore (one of project_id, task_id, duration_min, source, status, activity_level, keystrokes, mouse_events, active_apps, screenshot_key, note; the key, id and updated_at are not)")
    }
}

extension Result where Failure == SlotColumn.ColumnError {
    var failureReason: SlotColumn.ColumnError.Reason? {
        if case .failure(let error) = self { return error.reason }
        return nil
    }
    var failureDescription: String? {
        if case .failure(let error) = self { return error.description }
        return nil
    }
}
