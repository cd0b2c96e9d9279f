import RecoveryModel
import XCTest
@testable import SlotFold

/// The fold rules of CONTRACT §5.2, one test each, on in-memory events.
final class SlotFoldTests: XCTestCase {
    let window = Window(from: Timestamp.parse("2018-07-25T14:00:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)
    let start = Timestamp.parse("2018-07-25T14:50:00Z")!
    var key: SlotKey { SlotKey(userID: 1042, slotStart: start) }

    func at(_ minutes: Int64, _ seconds: Int64 = 0) -> Timestamp {
        start.adding(minutes: minutes).adding(microseconds: seconds * 1_000_000)
    }

    func upload(_ t: Timestamp, _ request: String, keystrokes: Int32 = 5, host: String = "app-1",
                file: String = "logs/app-1.log", line: Int = 1, key: SlotKey? = nil) -> SlotEvent {
        SlotEvent(
            key: key ?? self.key, time: t, host: host, location: SourceLocation(file: file, line: line),
            payload: .upload(SlotUpload(
                requestID: request, projectID: 77, taskID: 310, keystrokes: keystrokes, mouseEvents: 9,
                activeApps: ["Xcode"], screenshotKey: "ss/1.jpg", note: nil)))
    }

    func processed(_ t: Timestamp, _ status: SlotStatus = .active, level: Int16 = 7,
                   host: String = "app-1", file: String = "logs/app-1.log", line: Int = 2) -> SlotEvent {
        SlotEvent(key: key, time: t, host: host, location: SourceLocation(file: file, line: line),
                  payload: .processed(status: status, activityLevel: level))
    }

    func deleted(_ t: Timestamp, line: Int = 3) -> SlotEvent {
        SlotEvent(key: key, time: t, host: "app-2", location: SourceLocation(file: "logs/app-2.log", line: line), payload: .deleted)
    }

    func snapshotRow(_ updatedAt: Timestamp, keystrokes: Int32 = 100, status: SlotStatus = .idle) -> SlotEvent {
        let slot = TimeSlot(key: key, projectID: 77, taskID: nil, status: status, activityLevel: 2,
                            keystrokes: keystrokes, mouseEvents: 1, activeApps: [], screenshotKey: "old", note: "n",
                            updatedAt: updatedAt)
        return SlotEvent(key: key, time: updatedAt, host: "", location: SourceLocation(file: "dump.sql", line: 40),
                         payload: .snapshotRow(slot))
    }

    func testUploadThenProcessedGivesAProcessedVersion() {
        let r = SlotFold.fold([processed(at(12)), upload(at(11), "r1")], window: window)
        XCTAssertEqual(r.slots.count, 1)
        XCTAssertEqual(r.slots[0].slot.status, .active)
        XCTAssertEqual(r.slots[0].slot.activityLevel, 7)
        XCTAssertEqual(r.slots[0].slot.keystrokes, 5)
        XCTAssertEqual(r.slots[0].provenance.map(\.location.line), [1, 2])
        XCTAssertTrue(r.orphans.isEmpty)
    }

    /// A recovered slot carries no screenshot (CONTRACT §5.6): the folded version has no key,
    /// whether it came from an upload or a snapshot row; its other texts are kept.
    func testTheFoldedVersionHasNoScreenshotKey() {
        let uploaded = SlotFold.fold([upload(at(11), "r1")], window: window).slots[0].slot
        XCTAssertNil(uploaded.screenshotKey)
        XCTAssertEqual(uploaded.activeApps, ["Xcode"])
        let restored = SlotFold.fold([snapshotRow(at(11))], window: window).slots[0].slot
        XCTAssertNil(restored.screenshotKey)
        XCTAssertEqual(restored.note, "n")
        XCTAssertEqual(restored.updatedAt, at(11))
    }

    func testUploadAloneIsPendingWithNoActivity() {
        let r = SlotFold.fold([upload(at(11), "r1")], window: window)
        XCTAssertEqual(r.slots[0].slot.status, .pending)
        XCTAssertNil(r.slots[0].slot.activityLevel)
    }

    func testRepeatedRequestIDIsADuplicateAndChangesNothing() {
        let r = SlotFold.fold([
            upload(at(11), "r1", keystrokes: 5, line: 1),
            processed(at(12), line: 2),
            upload(at(13), "r1", keystrokes: 999, line: 3),
        ], window: window)
        XCTAssertEqual(r.slots[0].slot.keystrokes, 5)
        XCTAssertEqual(r.slots[0].slot.status, .active, "a duplicate does not reset the status to pending")
        XCTAssertEqual(r.duplicates, [IgnoredEvent(key: key, location: SourceLocation(file: "logs/app-1.log", line: 3),
                                                   firstSeen: SourceLocation(file: "logs/app-1.log", line: 1))])
    }

    func testANewRequestIDReplacesTheUploadFieldsAndResetsToPending() {
        let r = SlotFold.fold([upload(at(11), "r1", keystrokes: 5), processed(at(12)), upload(at(13), "r2", keystrokes: 6, line: 4)],
                              window: window)
        XCTAssertEqual(r.slots[0].slot.keystrokes, 6)
        XCTAssertEqual(r.slots[0].slot.status, .pending)
        XCTAssertNil(r.slots[0].slot.activityLevel)
        XCTAssertTrue(r.duplicates.isEmpty)
    }

    func testProcessedWithoutVersionIsAnOrphan() {
        let r = SlotFold.fold([processed(at(10)), upload(at(11), "r1")], window: window)
        XCTAssertEqual(r.orphans.count, 1)
        XCTAssertEqual(r.slots[0].slot.status, .pending)
    }

    func testDeletionRemovesUntilALaterUpload() {
        let gone = SlotFold.fold([upload(at(11), "r1"), deleted(at(20)), processed(at(21))], window: window)
        XCTAssertTrue(gone.slots.isEmpty)
        XCTAssertEqual(gone.deleted.map(\.key), [key])
        XCTAssertEqual(gone.orphans.count, 1, "processed after a deletion has no version")

        let back = SlotFold.fold([upload(at(11), "r1"), deleted(at(20)), upload(at(30), "r2")], window: window)
        XCTAssertEqual(back.slots.count, 1)
        XCTAssertTrue(back.deleted.isEmpty)

        let retry = SlotFold.fold([upload(at(11), "r1"), deleted(at(20)), upload(at(30), "r1")], window: window)
        XCTAssertTrue(retry.slots.isEmpty, "a retried request_id does not bring a deleted slot back")
        XCTAssertEqual(retry.duplicates.count, 1)
    }

    func testSnapshotRowReplacesTheWholeVersion() {
        let r = SlotFold.fold([upload(at(11), "r1"), processed(at(12)), snapshotRow(at(20), keystrokes: 100)], window: window)
        XCTAssertEqual(r.slots[0].slot.keystrokes, 100)
        XCTAssertEqual(r.slots[0].slot.status, .idle)
        XCTAssertEqual(r.slots[0].provenance.map(\.kind), [.snapshot])
    }

    func testSnapshotRowBringsBackADeletedSlotAndADeletionAfterItRemovesIt() {
        XCTAssertEqual(SlotFold.fold([deleted(at(10)), snapshotRow(at(20))], window: window).slots.count, 1)
        let r = SlotFold.fold([snapshotRow(at(20)), deleted(at(30))], window: window)
        XCTAssertTrue(r.slots.isEmpty)
        XCTAssertEqual(r.deleted.count, 1)
    }

    func testTiesAtTheSameTimeApplySnapshotUploadProcessedDeletion() {
        let t = at(15)
        // All at one time: snapshot row first, then the upload replaces it, then processed, then deletion.
        let r = SlotFold.fold([deleted(t), processed(t), upload(t, "r1"), snapshotRow(t)], window: window)
        XCTAssertTrue(r.slots.isEmpty)
        XCTAssertEqual(r.deleted.count, 1)
        XCTAssertTrue(r.orphans.isEmpty)

        let kept = SlotFold.fold([processed(t), upload(t, "r1"), snapshotRow(t)], window: window)
        XCTAssertEqual(kept.slots[0].slot.keystrokes, 5, "the upload is applied after the snapshot row")
        XCTAssertEqual(kept.slots[0].slot.status, .active)
    }

    func testTiesBetweenUploadsAreBrokenByHostThenFileThenLine() {
        let t = at(15)
        let events = [
            upload(t, "b", keystrokes: 2, host: "app-2", file: "a/app.log", line: 1),
            upload(t, "a", keystrokes: 1, host: "app-1", file: "z/app.log", line: 9),
        ]
        XCTAssertEqual(SlotFold.fold(events, window: window).slots[0].slot.keystrokes, 2, "app-2 is applied last")
        let sameHost = [
            upload(t, "b", keystrokes: 2, file: "x/b.log", line: 1),
            upload(t, "a", keystrokes: 1, file: "y/a.log", line: 5),
            upload(t, "c", keystrokes: 3, file: "x/b.log", line: 2),
        ]
        XCTAssertEqual(SlotFold.fold(sameHost, window: window).slots[0].slot.keystrokes, 3)
    }

    func testResultDoesNotDependOnInputOrder() {
        var rng = SystemRandomNumberGenerator()
        var events: [SlotEvent] = []
        for user in 1...20 {
            for slot in 0..<6 {
                let k = SlotKey(userID: Int64(user), slotStart: window.from.adding(minutes: Int64(slot * 10)))
                for i in 0..<5 {
                    let t = k.slotStart.adding(minutes: Int64(Int.random(in: 0...3, using: &rng)))
                    switch Int.random(in: 0...3, using: &rng) {
                    case 0: events.append(upload(t, "r\(i % 3)", keystrokes: Int32(i), host: "app-\(i % 2)", line: i, key: k))
                    case 1: events.append(SlotEvent(key: k, time: t, host: "app-1", location: SourceLocation(file: "p.log", line: i),
                                                    payload: .processed(status: .idle, activityLevel: Int16(i))))
                    case 2: events.append(SlotEvent(key: k, time: t, host: "app-2", location: SourceLocation(file: "d.log", line: i),
                                                    payload: .deleted))
                    default: events.append(upload(t, "s\(i)", keystrokes: Int32(100 + i), host: "app-3", line: 100 + i, key: k))
                    }
                }
            }
        }
        let reference = SlotFold.fold(events, window: window)
        for _ in 0..<10 {
            XCTAssertEqual(SlotFold.fold(events.shuffled(using: &rng), window: window), reference)
        }
        XCTAssertEqual(reference.slots.map(\.slot.key), reference.slots.map(\.slot.key).sorted())
    }

    func testEventsOutsideTheWindowAreLeftOut() {
        let outside = SlotKey(userID: 1, slotStart: window.to)
        let r = SlotFold.fold([upload(at(1), "r1"), upload(at(1), "r2", key: outside)], window: window)
        XCTAssertEqual(r.slots.map(\.slot.key), [key])
        XCTAssertEqual(r.outsideWindow, 1)
    }

    /// A fold of very many batches (a spill read back as many records, or many log files): the
    /// batches are read in place without a frame of stack per batch, which overflowed the stack.
    func testAFoldOfAHundredThousandBatchesCompletes() {
        var events: [SlotEvent] = []
        for i in 0..<100_000 {
            let k = SlotKey(userID: Int64(i % 5_000), slotStart: start.adding(minutes: Int64(i / 5_000 % 6) * 10))
            events.append(upload(at(Int64(i / 5_000 % 6) * 10 + 1), "r\(i)", file: "logs/f\(i).log", line: 1, key: k))
        }
        var batches = EventBatch.batches(events)
        XCTAssertEqual(batches.count, 100_000)
        let folded = SlotFold.fold(taking: &batches, window: window, partitions: 2)
        XCTAssertEqual(folded.slots.count, 5_000 * 6)
    }

    /// The fold copies the events into their ranges a piece of 65,536 events at a time, on
    /// every core: the ranges must hold them in input order across pieces and batches (events
    /// tied in the fold order are told apart by it). A batch of one piece exactly, an empty one,
    /// and one of a piece and one event, against the same events in small batches.
    func testTheEventsOfBatchesOfManyPiecesAreFoldedInInputOrder() {
        func uploads(_ count: Int, file: String) -> [SlotEvent] {
            (0..<count).map { i in
                let slot = Int64(i % 6)
                let k = SlotKey(userID: Int64(i * 7919 % 3_000), slotStart: start.adding(minutes: slot * 10))
                // Many events share a key, time, host, file and line: only their order tells them apart.
                return upload(at(slot * 10 + Int64(i % 3)), "\(file)-\(i)", keystrokes: Int32(i), file: file,
                              line: i % 50 + 1, key: k)
            }
        }
        let files = [("logs/a.log", 65_536), ("logs/c.log", 65_537)]
        var pieces: [EventBatch] = [], small: [EventBatch] = []
        for (n, (file, count)) in files.enumerated() {
            let events = uploads(count, file: file)
            var whole = EventBatch(source: file)
            for event in events { whole.append(event) }
            pieces.append(whole)
            if n == 0 { pieces.append(EventBatch(source: "logs/empty.log")) }
            for from in stride(from: 0, to: count, by: 30_000) {
                var part = EventBatch(source: file)
                for event in events[from..<min(count, from + 30_000)] { part.append(event) }
                small.append(part)
            }
        }
        for partitions in [1, 3] {
            var a = pieces, b = small
            let folded = SlotFold.fold(taking: &a, window: window, partitions: partitions)
            // Compared whole, but not printed whole: the results hold 3,000 slots.
            XCTAssertTrue(folded == SlotFold.fold(taking: &b, window: window, partitions: partitions), "\(partitions) ranges")
            XCTAssertEqual(folded.slots.count, 3_000, "\(partitions) ranges")
        }
    }

    /// The fold splits the users into ranges folded at once: the result must not depend on how
    /// many ranges there are.
    func testFoldOnSeveralCoresGivesTheSameResult() {
        var rng = SystemRandomNumberGenerator()
        var events: [SlotEvent] = []
        for user in Int64(1)...300 {
            for slot in Int64(0)..<12 {
                let k = SlotKey(userID: user * 7919 % 1000, slotStart: start.adding(minutes: slot * 10))
                for i in 0..<Int.random(in: 1...4, using: &rng) {
                    let t = at(slot * 10 + Int64(i))
                    switch Int.random(in: 0..<6, using: &rng) {
                    case 0: events.append(processed(t).with(key: k))
                    case 1: events.append(deleted(t, line: 300 + i).with(key: k))
                    case 2: events.append(upload(t, "dup", line: 200 + i, key: k))
                    default: events.append(upload(t, "r\(i)", keystrokes: Int32(i), host: "app-\(i % 3)", line: 100 + i, key: k))
                    }
                }
            }
        }
        let one = SlotFold.fold(events, window: window, partitions: 1)
        XCTAssertGreaterThan(one.slots.count, 1000)
        XCTAssertFalse(one.duplicates.isEmpty || one.orphans.isEmpty || one.deleted.isEmpty)
        for partitions in [2, 3, 8] {
            XCTAssertEqual(SlotFold.fold(events, window: window, partitions: partitions), one, "\(partitions) ranges")
        }
        // The fold that takes the arrays over and lets go of each event as it folds it.
        for partitions in [1, 2, 8] {
            let half = events.count / 2
            var batches = EventBatch.batches(Array(events[..<half])) + EventBatch.batches(Array(events[half...]))
            XCTAssertEqual(SlotFold.fold(taking: &batches, window: window, partitions: partitions), one, "taking, \(partitions) ranges")
            XCTAssertTrue(batches.isEmpty)
        }
        XCTAssertEqual(SlotFold.fold(events, window: window, partitions: 2), one, "the events given are left as they were")
    }

    /// Each range is folded in pieces, at once, and the gaps the deleted slots leave are closed
    /// as the pieces are placed: the result must not depend on how many pieces there are, down
    /// to a piece per slot.
    func testFoldInPiecesGivesTheSameResult() {
        var rng = SystemRandomNumberGenerator()
        var events: [SlotEvent] = []
        for user in Int64(1)...200 {
            for slot in Int64(0)..<6 {
                let k = SlotKey(userID: user, slotStart: start.adding(minutes: slot * 10))
                for i in 0..<Int.random(in: 1...3, using: &rng) {
                    let t = at(slot * 10 + Int64(i))
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0: events.append(deleted(t, line: 300 + i).with(key: k))
                    case 1: events.append(processed(t).with(key: k))
                    default: events.append(upload(t, "r\(i)", keystrokes: Int32(i), line: 100 + i, key: k))
                    }
                }
            }
        }
        func folded(partitions: Int, pieces: Int) -> FoldResult {
            var batches = EventBatch.batches(events)
            return SlotFold.fold(taking: &batches, window: window, partitions: partitions, piecesPerRange: pieces, releasingInBackground: false)
        }
        let whole = folded(partitions: 1, pieces: 1)
        XCTAssertFalse(whole.deleted.isEmpty || whole.slots.isEmpty)
        for partitions in [1, 3] {
            for pieces in [2, 7, events.count] {
                XCTAssertEqual(folded(partitions: partitions, pieces: pieces), whole, "\(partitions) ranges, \(pieces) pieces")
            }
        }
    }

    /// Events of many keys, with ties at one time and kind across hosts, files (one file name
    /// in two folders) and lines, and events equal in the fold order, in batches of several files.
    func tiedEvents(users: [Int64], starts: [Timestamp], using rng: inout some RandomNumberGenerator) -> [SlotEvent] {
        let places = [("app-1", "a/app.log"), ("app-2", "a/app.log"), ("app-1", "b/app.log"), ("app-2", "b/other.log"), ("", "dump.sql")]
        var events: [SlotEvent] = []
        for user in users {
            for start in starts {
                let k = SlotKey(userID: user, slotStart: start)
                for i in 0..<Int.random(in: 1...40, using: &rng) {
                    let t = start.adding(minutes: Int64.random(in: 0...1, using: &rng))
                    let (host, file) = places.randomElement(using: &rng)!
                    let line = Int.random(in: 1...3, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: events.append(processed(t, level: Int16(i), host: host, file: file, line: line).with(key: k))
                    case 1: events.append(SlotEvent(key: k, time: t, host: host, location: SourceLocation(file: file, line: line), payload: .deleted))
                    default: events.append(upload(t, "r\(i % 4)", keystrokes: Int32(i), host: host, file: file, line: line, key: k))
                    }
                }
            }
        }
        return events.shuffled(using: &rng)
    }

    /// Sorts `events` as the fold does, and as a stable sort by the fold order does; both with
    /// their batch number in their tag.
    func sortBothWays(_ events: [SlotEvent]) -> (sorted: [EventBatch.Event], reference: [EventBatch.Event], keys: Int, packs: Bool) {
        let batches = EventBatch.batches(events)
        var tagged: [EventBatch.Event] = []
        for (b, batch) in batches.enumerated() {
            for var e in batch.events {
                e.tag = UInt32(b) << 2 | e.tag & 3
                tagged.append(e)
            }
        }
        return Batches.with(batches) { batches in
            var sorted = tagged, reference = tagged
            var buffer = UnsafeMutableBufferPointer<EventBatch.Event>.allocate(capacity: sorted.count)
            _ = buffer.initialize(fromContentsOf: sorted)
            var marks = SlotFold.KeyMarks(events: sorted.count, pieces: 3)
            let keys = SlotFold.sortInFoldOrder(&buffer, batches, SortBuffers(capacity: sorted.count), marks: &marks)
            sorted = Array(buffer)
            buffer.deallocate()
            // The pieces start at keys' first events, after as many keys as the marks say.
            for (event, keysBefore) in marks.starts {
                let before = sorted[..<event]
                XCTAssertEqual(Set(before.map { [$0.userID, $0.slotStart] }).count, keysBefore)
                XCTAssertTrue(event == 0 || sorted[event].userID != sorted[event - 1].userID || sorted[event].slotStart != sorted[event - 1].slotStart)
            }
            reference.sort { SlotFold.inFoldOrder($0, $1, batches) }
            return (sorted, reference, keys, tagged.withUnsafeBufferPointer { SlotFold.KeyPacking($0) } != nil)
        }
    }

    /// The radix sort by key and the sort within each key give the order of a stable sort by the
    /// fold order, ties across hosts, files and batches included.
    func testKeyOrderThenTiesIsAStableSortInFoldOrder() {
        var rng = SystemRandomNumberGenerator()
        let starts = (0..<12).map { window.from.adding(minutes: Int64($0 * 10)) }
        let cases: [(String, [Int64], [Timestamp])] = [
            ("near users", Array(1...30), starts),
            ("users spread over 40 bits (several digits)", (0..<30).map { _ in Int64.random(in: -(1 << 39)...(1 << 39), using: &rng) }, starts),
            ("slot starts off the 10-minute grid", Array(1...30), starts.map { $0.adding(microseconds: Int64.random(in: 0..<600_000_000, using: &rng)) }),
            ("one key", [7], [start]),
        ]
        for (name, users, slotStarts) in cases {
            let events = tiedEvents(users: users, starts: slotStarts, using: &rng)
            let (sorted, reference, keys, packs) = sortBothWays(events)
            XCTAssertTrue(packs, name)
            XCTAssertEqual(sorted, reference, name)
            XCTAssertEqual(keys, Set(events.map(\.key)).count, name)
        }
    }

    /// Keys that do not pack into 64 bits with their positions are sorted by the fold order alone.
    func testKeysThatDoNotPackAreSortedInFoldOrder() {
        var rng = SystemRandomNumberGenerator()
        let starts = [window.from, window.from.adding(microseconds: 1 << 40 + 1)]
        let events = tiedEvents(users: [.min, -1, 0, 5, .max], starts: starts, using: &rng)
        let (sorted, reference, keys, packs) = sortBothWays(events)
        XCTAssertFalse(packs)
        XCTAssertEqual(sorted, reference)
        XCTAssertEqual(keys, 10)
    }
}

extension SlotEvent {
    func with(key: SlotKey) -> SlotEvent {
        var event = self
        event.key = key
        return event
    }
}
