import ConflictResolver
import RecoveryModel
import SlotFold
import XCTest

/// Each outcome of CONTRACT §5.3–5.5 on small hand-made incidents, in memory.
final class ConflictResolverTests: XCTestCase {
    let base = Timestamp.parse("2018-07-25T14:50:00Z")!

    func t(_ minutes: Int64) -> Timestamp { base.adding(minutes: minutes) }

    func slot(user: Int64 = 1, at minutes: Int64, duration: Int16 = 10, project: Int64 = 7, task: Int64? = 70) -> FoldedSlot {
        FoldedSlot(
            slot: TimeSlot(key: SlotKey(userID: user, slotStart: t(minutes)), projectID: project, taskID: task,
                           durationMinutes: duration, status: .active, activityLevel: 5, keystrokes: 1, mouseEvents: 1,
                           activeApps: [], screenshotKey: nil, note: nil),
            provenance: [Provenance(kind: .log, location: SourceLocation(file: "app-1.log", line: Int(minutes) + 1))])
    }

    func entry(_ id: Int64, user: Int64 = 1, from: Int64, to: Int64, project: Int64 = 8) -> OfflineEntry {
        OfflineEntry(id: id, userID: user, projectID: project, interval: Window(from: t(from), to: t(to)))
    }

    func live(present: [SlotKey] = [], offline: [OfflineEntry] = []) -> LiveState {
        LiveState(
            presentKeys: Set(present), offlineEntries: offline, users: [1, 2, 3], projects: [7, 8],
            tasks: [70: 7, 80: 8], memberships: [.init(projectID: 7, userID: 1), .init(projectID: 7, userID: 2),
                                                 .init(projectID: 8, userID: 1)])
    }

    func outcome(_ r: Resolution, _ minutes: Int64, user: Int64 = 1) -> String {
        let key = SlotKey(userID: user, slotStart: t(minutes))
        if r.recovered.contains(where: { $0.slot.key == key }) { return "recovered" }
        if r.alreadyPresent.contains(where: { $0.slot.key == key }) { return "already_present" }
        if let d = r.offlineOverlap.first(where: { $0.slot.slot.key == key }) { return "offline:\(d.entry.id)" }
        if let q = r.quarantined.first(where: { $0.slot.slot.key == key }) { return q.record.reason.code }
        return "none"
    }

    func testOfflineEntryCoveringPartOfASlotDropsIt() {
        let r = ConflictResolver.resolve([slot(at: 0), slot(at: 10), slot(at: 20)], against: live(offline: [entry(5, from: 15, to: 17)]))
        XCTAssertEqual(outcome(r, 0), "recovered")
        XCTAssertEqual(outcome(r, 10), "offline:5")
        XCTAssertEqual(outcome(r, 20), "recovered")
    }

    func testOfflineEntryCoveringSeveralSlotsOfAnotherProjectDropsThemAll() {
        let r = ConflictResolver.resolve((0..<6).map { slot(at: $0 * 10) },
                                         against: live(offline: [entry(9, from: 5, to: 41, project: 8)]))
        XCTAssertEqual((0..<6).map { outcome(r, $0 * 10) },
                       ["offline:9", "offline:9", "offline:9", "offline:9", "offline:9", "recovered"])
    }

    func testTouchingABoundaryIsNoOverlap() {
        let r = ConflictResolver.resolve([slot(at: 0), slot(at: 20)],
                                         against: live(offline: [entry(1, from: 10, to: 20), entry(2, from: -30, to: 0)]))
        XCTAssertEqual(outcome(r, 0), "recovered", "entry 2 ends where the slot starts, entry 1 starts where it ends")
        XCTAssertEqual(outcome(r, 20), "recovered", "entry 1 ends where the slot starts")
    }

    func testShortSlotEndsBeforeTheEntry() {
        let r = ConflictResolver.resolve([slot(at: 0, duration: 4)], against: live(offline: [entry(1, from: 5, to: 30)]))
        XCTAssertEqual(outcome(r, 0), "recovered", "[0, 4) does not reach an entry starting at 5")
        let r2 = ConflictResolver.resolve([slot(at: 0, duration: 6)], against: live(offline: [entry(1, from: 5, to: 30)]))
        XCTAssertEqual(outcome(r2, 0), "offline:1")
    }

    func testOfflineEntriesOfAnotherUserDoNotCount() {
        let r = ConflictResolver.resolve([slot(user: 1, at: 0), slot(user: 2, at: 0)],
                                         against: live(offline: [entry(1, user: 2, from: 0, to: 10)]))
        XCTAssertEqual(outcome(r, 0, user: 1), "recovered")
        XCTAssertEqual(outcome(r, 0, user: 2), "offline:1")
    }

    func testALongEarlyEntryStillCoversLaterSlotsAfterShortOnes() {
        // Entries sorted by start: a long one, then a short one that ends first. The sweep must
        // remember the one that ends last.
        let r = ConflictResolver.resolve([slot(at: 0), slot(at: 30), slot(at: 60)],
                                         against: live(offline: [entry(1, from: -10, to: 45), entry(2, from: 1, to: 2)]))
        XCTAssertEqual(outcome(r, 0), "offline:1")
        XCTAssertEqual(outcome(r, 30), "offline:1")
        XCTAssertEqual(outcome(r, 60), "recovered")
    }

    func testAlreadyPresentWinsAndLiveDataIsNeverOverwritten() {
        let key = SlotKey(userID: 1, slotStart: t(0))
        let r = ConflictResolver.resolve([slot(at: 0), slot(at: 10)], against: live(present: [key], offline: [entry(1, from: 0, to: 5)]))
        XCTAssertEqual(outcome(r, 0), "already_present")
        XCTAssertEqual(outcome(r, 10), "recovered")
    }

    func testReferenceChecks() {
        let r = ConflictResolver.resolve([
            slot(user: 99, at: 0),
            slot(user: 1, at: 10, project: 66, task: nil),
            slot(user: 1, at: 20, project: 7, task: 666),
            slot(user: 1, at: 30, project: 7, task: 80),
            slot(user: 3, at: 40, project: 7, task: 70),
            slot(user: 1, at: 50, project: 8, task: nil),
        ], against: live())
        XCTAssertEqual(outcome(r, 0, user: 99), "unknown_user")
        XCTAssertEqual(outcome(r, 10), "unknown_project")
        XCTAssertEqual(outcome(r, 20), "unknown_task")
        XCTAssertEqual(outcome(r, 30), "task_of_another_project")
        XCTAssertEqual(outcome(r, 40, user: 3), "not_a_member")
        XCTAssertEqual(outcome(r, 50), "recovered")
        XCTAssertEqual(r.quarantined.first { $0.slot.slot.key.userID == 99 }?.record.location,
                       SourceLocation(file: "app-1.log", line: 1), "quarantined at the event that made the version")
    }

    func testEveryCandidateEndsInExactlyOneOutcome() {
        var slots: [FoldedSlot] = []
        for user in Int64(1)...3 { for m in 0..<30 { slots.append(slot(user: user, at: Int64(m * 10))) } }
        let offline = [entry(1, from: 33, to: 71), entry(2, user: 2, from: 100, to: 101), entry(3, user: 3, from: -5, to: 500)]
        let present = [SlotKey(userID: 1, slotStart: t(0)), SlotKey(userID: 2, slotStart: t(100))]
        let r = ConflictResolver.resolve(slots.shuffled(), against: live(present: present, offline: offline))
        let all = r.recovered.map(\.slot.key) + r.alreadyPresent.map(\.slot.key)
            + r.offlineOverlap.map(\.slot.slot.key) + r.quarantined.map(\.slot.slot.key)
        XCTAssertEqual(all.count, slots.count)
        XCTAssertEqual(Set(all), Set(slots.map(\.slot.key)))
        XCTAssertEqual(r.recovered.map(\.slot.key), r.recovered.map(\.slot.key).sorted())
        // Brute force agrees with the sweep.
        for s in slots {
            let overlaps = offline.contains { $0.userID == s.slot.key.userID && $0.interval.overlaps(s.slot.interval) }
            let dropped = r.offlineOverlap.contains { $0.slot.slot.key == s.slot.key }
            if !present.contains(s.slot.key) { XCTAssertEqual(overlaps, dropped, "\(s.slot.key)") }
        }
    }

    /// The resolver splits the users into ranges resolved at once: the result must not depend on
    /// how many ranges there are.
    func testResolveOnSeveralCoresGivesTheSameResult() {
        var slots: [FoldedSlot] = []
        var present: [SlotKey] = []
        var offline: [OfflineEntry] = []
        for user in Int64(1)...3 {
            for i in Int64(0)..<2000 {
                var s = slot(user: user, at: i * 10, project: i % 5 == 0 ? 8 : 7, task: i % 7 == 0 ? 80 : 70)
                if i % 11 == 0 { s.slot.key.userID = 3 + user }  // unknown users, between the others
                slots.append(s)
                if i % 13 == 0 { present.append(s.slot.key) }
                if i % 17 == 0 { offline.append(entry(user * 10_000 + i, user: user, from: i * 10 + 3, to: i * 10 + 25)) }
            }
        }
        slots.sort { $0.slot.key < $1.slot.key }
        let state = live(present: present, offline: offline)
        let one = ConflictResolver.resolve(slots, against: state, partitions: 1)
        XCTAssertFalse(one.recovered.isEmpty || one.alreadyPresent.isEmpty || one.offlineOverlap.isEmpty || one.quarantined.isEmpty)
        for partitions in [2, 3, 8] {
            XCTAssertEqual(ConflictResolver.resolve(slots, against: state, partitions: partitions), one, "\(partitions) ranges")
        }
        // Taking the slots over (moved to their outcomes, not copied) gives the same, unsorted too.
        for partitions in [1, 2] {
            var taken = slots.reversed() as [FoldedSlot]
            XCTAssertEqual(ConflictResolver.resolve(taking: &taken, against: state, partitions: partitions), one, "taking, \(partitions) ranges")
            XCTAssertTrue(taken.isEmpty)
        }
        XCTAssertEqual(ConflictResolver.resolve(slots, against: state, partitions: 2), one, "the slots given are left as they were")
    }

    /// The live keys walked beside the slots and the reference checks done once for a run of
    /// slots of one user, project and task give each slot the outcome it gets on its own.
    func testEachSlotGetsTheOutcomeItGetsAlone() {
        var rng = SystemRandomNumberGenerator()
        var slots: [FoldedSlot] = [], present: [SlotKey] = []
        for user in Int64(0)...5 {
            var project: Int64 = 7, task: Int64? = 70
            for i in Int64(0)..<1500 {
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    project = [6, 7, 8].randomElement(using: &rng)!
                    task = [nil, 70, 80, 666].randomElement(using: &rng)!
                }
                let s = slot(user: user, at: i * 10, project: project, task: task)
                slots.append(s)
                if Int.random(in: 0..<5, using: &rng) == 0 { present.append(s.slot.key) }
            }
            present.append(SlotKey(userID: user, slotStart: t(-10)))  // live keys no slot has
            present.append(SlotKey(userID: user, slotStart: t(100_000)))
        }
        let state = live(present: present)
        for partitions in [1, 3] {
            let r = ConflictResolver.resolve(slots.shuffled(using: &rng), against: state, partitions: partitions)
            XCTAssertEqual(r.recovered.count + r.alreadyPresent.count + r.quarantined.count, slots.count)
            let quarantined = Dictionary(uniqueKeysWithValues: r.quarantined.map { ($0.slot.slot.key, $0.record.reason) })
            let alreadyPresent = Set(r.alreadyPresent.map(\.slot.key)), recovered = Set(r.recovered.map(\.slot.key))
            for s in slots {
                let key = s.slot.key
                if state.presentKeys.contains(key) {
                    XCTAssertTrue(alreadyPresent.contains(key), "\(key)")
                } else if let problem = ConflictResolver.referenceProblem(s.slot, state) {
                    XCTAssertEqual(quarantined[key], problem, "\(key)")
                } else {
                    XCTAssertTrue(recovered.contains(key), "\(key)")
                }
            }
        }
    }
}
