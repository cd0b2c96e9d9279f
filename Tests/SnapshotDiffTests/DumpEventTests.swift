import Foundation
import RecoveryModel
@testable import SnapshotDiff
import XCTest

/// Unit tests: a dump's rows read straight into a batch (`DumpReader.forEachEvent`) make the
/// batch, figures and quarantine that its `TimeSlot`s make through `EventBatch.appendSnapshotRow`.
final class DumpEventTests: XCTestCase {
    static let start = Timestamp.parse("2018-07-25T14:50:00Z")!
    static let window = Window(from: start, to: start.adding(minutes: 600))

    /// Random rows in and out of the window, in random time zones, with escapes, `\N`, tabs and
    /// newlines in notes, app lists that repeat, and rows each check rejects (one of them with a
    /// good screenshot key before a bad note, whose bytes must not stay in the arena).
    private func dump() throws -> String {
        var rng = SplitMix64(seed: 0xD0_3B_2018)
        let alphabet: [String] = ["a", "Z", " ", "\t", "\n", "\r", "\\", "\"", ",", "{", "}", "é", "😀", "NULL", "\u{8}", "x"]
        func text(_ rng: inout SplitMix64) -> String {
            (0..<Int(rng.next() % 8)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
        }
        let lists: [[String]] = [[], ["Xcode"], ["Xcode", "Safari"], ["a,b", "q\"uote", "back\\slash", "NULL"]]
        var bytes = Array("SET client_encoding = 'UTF8';\nCOPY public.other (a) FROM stdin;\n1\n\\.\n".utf8)
        bytes += Array("COPY public.time_slots (\(CopyTextEncoder.slotColumns.joined(separator: ", "))) FROM stdin;\n".utf8)
        for i in 0..<3_000 {
            let start = Self.start.adding(minutes: 10 * (Int64(rng.next() % 200) - 50))
            let slot = TimeSlot(
                key: SlotKey(userID: Int64(rng.next() % 40) + 1, slotStart: start),
                projectID: Int64(rng.next() >> 2) + 1, taskID: rng.next() % 3 == 0 ? nil : Int64(rng.next() % 999) + 1,
                durationMinutes: Int16(rng.next() % 10) + 1, status: SlotStatus.allCases[Int(rng.next() % 3)],
                activityLevel: rng.next() % 4 == 0 ? nil : Int16(rng.next() % 11),
                keystrokes: Int32(rng.next() % UInt64(Int32.max)), mouseEvents: Int32(rng.next() % 100_000),
                activeApps: rng.next() % 5 == 0 ? (0..<Int(rng.next() % 3)).map { _ in text(&rng) } : lists[Int(rng.next() % 4)],
                screenshotKey: rng.next() % 2 == 0 ? nil : "ss/\(i)/" + text(&rng),
                note: rng.next() % 2 == 0 ? nil : text(&rng),
                updatedAt: start.adding(microseconds: Int64(rng.next() % 10_000_000_000)))
            var row: [UInt8] = []
            CopyTextEncoder.appendRow(slot, id: Int64(i), offsetMinutes: [0, -420, 330][Int(rng.next() % 3)], to: &row)
            var fields = String(decoding: row.dropLast(), as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch rng.next() % 16 {
            case 0: fields[9] = "x"                                       // keystrokes
            case 1: fields[4] = "2018-07-25 14:51:00+00"                 // misaligned
            case 2: fields.append("extra")                                // a field too many
            case 3: (fields[12], fields[13]) = ("ss/kept", #"bad \xff"#) // a good screenshot key, a bad note
            case 4: fields[13] = #"nul \000"#
            case 5: fields[11] = "{a,NULL}"
            case 6: fields[1] = #"\N"#
            case 7: fields[14] = #"\N"#
            default: break
            }
            bytes += Array(fields.joined(separator: "\t").utf8) + [0x0A]
        }
        bytes += Array("\\.\n".utf8)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dump-event-\(UUID()).sql").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func assertSame(_ a: EventBatch, _ b: EventBatch, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.source, b.source, file: file, line: line)
        XCTAssertEqual(a.events, b.events, file: file, line: line)
        XCTAssertEqual(a.versions, b.versions, file: file, line: line)
        XCTAssertEqual(a.text, b.text, file: file, line: line)
        XCTAssertEqual(a.appLists, b.appLists, file: file, line: line)
        XCTAssertEqual(a.hosts, b.hosts, file: file, line: line)
    }

    /// A dump whose lines end in CR LF (saved by an editor, or a transfer in text mode): it was
    /// refused as "no end marker ... the file ends" (found by a hostile test). Said for what it is.
    func testADumpWithWindowsLineEndsIsSaidToBeOne() throws {
        let header = "COPY public.time_slots (\(CopyTextEncoder.slotColumns.joined(separator: ", "))) FROM stdin;\r\n"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dump-crlf-\(UUID()).sql").path
        try Data((header + "\\.\r\n").utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try DumpReader(path: path).forEachSlot(in: Self.window) { _, _ in }) { error in
            XCTAssertTrue("\(error)".contains("the dump's lines end in CR LF"), "\(error)")
        }
    }

    func testEventsMatchTheSlotsPath() throws {
        let path = try dump()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keep: (Int64) -> Bool = { $0 % 7 != 0 }
        for window in [Self.window, nil] {
            var expected = EventBatch(source: path)
            let slots = try DumpReader(path: path).forEachSlot(in: window) { slot, location in
                if keep(slot.key.userID) { expected.appendSnapshotRow(slot, line: location.line) }
            }
            var batch = EventBatch(source: path)
            let summary = try DumpReader(path: path).forEachEvent(in: window, into: &batch, keep: keep)
            XCTAssertEqual(summary, slots)
            XCTAssertGreaterThan(summary.quarantined.count, 100)
            XCTAssertGreaterThan(batch.events.count, 300)
            if window != nil { XCTAssertGreaterThan(summary.outsideWindow, 500) }
            assertSame(batch, expected)
        }
    }

    /// The room made before a batch grows: the rest of the file at the rate so far and a
    /// quarter more, at most a chunk; nothing too early in the file to tell.
    func testReserveEstimatesTheRestOfTheFile() {
        func batch(_ events: Int) -> EventBatch {
            var batch = EventBatch(source: "dump.sql")
            batch.events = Array(repeating: EventBatch.Event(userID: 1, slotStart: 0, time: 0, line: 1, payload: 0, host: 0, tag: 0), count: events)
            batch.text = Array(repeating: 0x61, count: events * 20)
            return batch
        }
        var half = batch(5000)
        DumpReader.reserve(&half, at: 0.5, chunks: nil)
        XCTAssertGreaterThanOrEqual(half.events.capacity, 12_500)
        XCTAssertGreaterThanOrEqual(half.versions.capacity, 12_500)
        XCTAssertGreaterThanOrEqual(half.text.capacity, 250_000)
        var chunked = batch(5000)
        DumpReader.reserve(&chunked, at: 0.5, chunks: EventChunks(events: 6000) { _ in })
        XCTAssertGreaterThanOrEqual(chunked.events.capacity, 6000)
        XCTAssertLessThan(chunked.events.capacity, 12_000)
        for (events, fraction) in [(1000, 0.5), (5000, 0.01), (5000, 1.0)] {
            var early = batch(events)
            let capacity = early.events.capacity
            DumpReader.reserve(&early, at: fraction, chunks: nil)
            XCTAssertEqual(early.events.capacity, capacity)
            XCTAssertEqual(early.versions.capacity, 0)
        }
    }

    /// Handed over in chunks, the batches are the same chunk for chunk.
    func testChunksMatchTheSlotsPath() throws {
        let path = try dump()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let expected = Chunks(), chunks = Chunks()
        var batch = EventBatch(source: path)
        _ = try DumpReader(path: path).forEachSlot(in: Self.window) { slot, location in
            try batch.appendSnapshotRow(slot, at: location, chunks: expected.chunks)
        }
        expected.chunks.offer(&batch, atEnd: true)
        batch = EventBatch(source: path)
        _ = try DumpReader(path: path).forEachEvent(in: Self.window, into: &batch, chunks: chunks.chunks) { _ in true }
        XCTAssertTrue(batch.events.isEmpty)
        XCTAssertEqual(chunks.batches.count, expected.batches.count)
        XCTAssertGreaterThan(chunks.batches.count, 10)
        for (a, b) in zip(chunks.batches, expected.batches) { assertSame(a, b) }
    }
}

/// The chunks a read hands over, in order.
private final class Chunks: @unchecked Sendable {
    // Sendable: the reads in these tests run on the test's thread, which alone calls `take`.
    var batches: [EventBatch] = []
    var chunks: EventChunks { EventChunks(events: 31) { [self] in batches.append($0) } }
}
