import RecoveryModel
@testable import SnapshotDiff
import XCTest

/// Unit tests: whole rows, and a seeded round-trip property over random rows.
final class RowDecoderTests: XCTestCase {
    static let start = Timestamp.parse("2018-07-25T14:50:00Z")!

    private func decode(_ row: String, columns: [String] = CopyTextEncoder.slotColumns) -> SlotRowDecoder.Row {
        var decoder = try! SlotRowDecoder(columnNames: columns)
        return Array(row.utf8).withUnsafeBytes { decoder.decode($0) }
    }

    private func row(_ overrides: [String: String], columns: [String] = CopyTextEncoder.slotColumns) -> String {
        let values: [String: String] = [
            "id": "1", "user_id": "1042", "project_id": "77", "task_id": "310",
            "slot_start": "2018-07-25 14:50:00+00", "duration_min": "10", "source": "client", "status": "active",
            "activity_level": "7", "keystrokes": "412", "mouse_events": "1290", "active_apps": "{Xcode,Safari}",
            "screenshot_key": "ss/1042.jpg", "note": "\\N", "updated_at": "2018-07-25 15:02:13.95+00",
        ].merging(overrides) { $1 }
        return columns.map { values[$0]! }.joined(separator: "\t")
    }

    /// With a window, a row outside it is told by its key alone, and still quarantined when its
    /// number of fields is wrong; a row inside is decoded in full.
    func testRowsOutsideTheWindow() {
        let window = Window(from: Self.start, to: Self.start.adding(minutes: 10))
        var decoder = try! SlotRowDecoder(columnNames: CopyTextEncoder.slotColumns)
        func decode(_ row: String) -> SlotRowDecoder.WindowedRow {
            Array(row.utf8).withUnsafeBytes { decoder.decode($0, window: window) }
        }
        let before = row(["slot_start": "2018-07-25 14:40:00+00", "note": "a\\tb"])
        XCTAssertEqual(decode(before), .outside(SlotKey(userID: 1042, slotStart: Self.start.adding(minutes: -10))))
        XCTAssertEqual(decode(before + "\textra"), .inside(.rejected(.malformedRow("expected 15 fields, found 16"), key: nil)))
        XCTAssertEqual(decode(row([:])), .inside(self.decode(row([:]))))
        XCTAssertEqual(decode(row(["keystrokes": "x"])), .inside(.rejected(.outOfRange(key: "keystrokes"), key: SlotKey(userID: 1042, slotStart: Self.start))))
    }

    /// A dump whose COPY lists the key last: a row outside the window is still told by its key
    /// alone (the split up to the key reaches the end of the row).
    func testRowsOutsideTheWindowWhenTheKeyIsTheLastColumn() {
        let columns = CopyTextEncoder.slotColumns.filter { $0 != "slot_start" } + ["slot_start"]
        let window = Window(from: Self.start, to: Self.start.adding(minutes: 10))
        var decoder = try! SlotRowDecoder(columnNames: columns)
        func decode(_ row: String) -> SlotRowDecoder.WindowedRow {
            Array(row.utf8).withUnsafeBytes { decoder.decode($0, window: window) }
        }
        let before = row(["slot_start": "2018-07-25 14:40:00+00"], columns: columns)
        XCTAssertEqual(decode(before), .outside(SlotKey(userID: 1042, slotStart: Self.start.adding(minutes: -10))))
        XCTAssertEqual(decode(row([:], columns: columns)), .inside(self.decode(row([:], columns: columns), columns: columns)))
        let short = columns.dropLast(2).map { _ in "1" }.joined(separator: "\t")
        XCTAssertEqual(decode(short), .inside(.rejected(.malformedRow("expected 15 fields, found 13"), key: nil)))
    }

    /// A row decoded for a window is what the whole decode says of it, or `.outside` with its key
    /// when its number of fields is right and its `user_id` and `slot_start` read well (by
    /// `Timestamp.parse`) and lie outside: rows in and out of the window in zones of whole hours
    /// and not, with escaped tabs, a field too many or too few, a bad `slot_start` or `user_id`,
    /// a backslash last, and a bad time of day after a good one of the same day.
    func testWindowedDecodeAgreesWithTheWholeDecode() {
        let window = Window(from: Self.start, to: Self.start.adding(minutes: 600))
        var rng = SplitMix64(seed: 0x0057_1DE5)
        var windowed = try! SlotRowDecoder(columnNames: CopyTextEncoder.slotColumns)
        var whole = try! SlotRowDecoder(columnNames: CopyTextEncoder.slotColumns)
        for i in 0..<20_000 {
            let start = Self.start.adding(minutes: 10 * (Int64(rng.next() % 300) - 150))
            let slot = TimeSlot(
                key: SlotKey(userID: Int64(rng.next() % 40) + 1, slotStart: start), projectID: 77,
                taskID: rng.next() % 3 == 0 ? nil : 310, durationMinutes: 10, status: .active, activityLevel: 7,
                keystrokes: 412, mouseEvents: 1290, activeApps: ["Xcode"],
                screenshotKey: rng.next() % 2 == 0 ? nil : "ss/\(i)", note: ["a\tb", "c\\", nil, "é"][Int(rng.next() % 4)],
                updatedAt: start.adding(minutes: 12))
            var bytes: [UInt8] = []
            CopyTextEncoder.appendRow(slot, id: Int64(i), offsetMinutes: [0, -420, 330, 600][Int(rng.next() % 4)], to: &bytes)
            bytes.removeLast()
            var fields = String(decoding: bytes, as: UTF8.self).split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch rng.next() % 12 {
            case 0: fields.append("extra")
            case 1: fields.removeLast(Int(rng.next() % 14) + 1)
            case 2: fields[4] = String(fields[4].prefix(11)) + ["24", "2x", "9:", "23"][Int(rng.next() % 4)] + String(fields[4].dropFirst(13))
            case 3: fields[4] = String(fields[4].prefix(14)) + ["60", "6", "5x"][Int(rng.next() % 3)] + String(fields[4].dropFirst(16))
            case 4: fields[1] = ["\\N", "0", "x", "12\\"][Int(rng.next() % 4)]
            case 5: fields[4] = "\\N"
            case 6: fields[13] = "lone\\"
            default: break
            }
            let row = Array(fields.joined(separator: "\t").utf8)
            let got = row.withUnsafeBytes { windowed.decode($0, window: window) }
            let all = row.withUnsafeBytes { whole.decode($0) }
            var split: [Range<Int>] = []
            row.withUnsafeBytes { CopyText.splitFields($0, into: &split) }
            var expected = SlotRowDecoder.WindowedRow.inside(all)
            if split.count == 15,
               let user = row.withUnsafeBytes({ CopyText.integer(UnsafeRawBufferPointer(rebasing: $0[split[1]]), in: 1...Int64.max) }),
               let start = row.withUnsafeBytes({ Timestamp.parse(UnsafeRawBufferPointer(rebasing: $0[split[4]])) }),
               !window.contains(start) {
                expected = .outside(SlotKey(userID: user, slotStart: start))
            }
            XCTAssertEqual(got, expected, String(decoding: row, as: UTF8.self))
        }
    }

    /// The decoder's column constants name the columns it reads, in `TimeSlotColumns.read`'s order.
    func testColumnConstants() {
        typealias C = SlotRowDecoder.Column
        let names = SlotRowDecoder.columns
        XCTAssertEqual(names.count, 13)
        let constants: [(Int, String)] = [
            (C.user, "user_id"), (C.project, "project_id"), (C.task, "task_id"), (C.slotStart, "slot_start"),
            (C.duration, "duration_min"), (C.status, "status"), (C.activity, "activity_level"),
            (C.keystrokes, "keystrokes"), (C.mouse, "mouse_events"), (C.apps, "active_apps"),
            (C.screenshot, "screenshot_key"), (C.note, "note"), (C.updatedAt, "updated_at"),
        ]
        for (index, name) in constants { XCTAssertEqual(names[index], name) }
    }

    func testAGoodRow() {
        let expected = TimeSlot(
            key: SlotKey(userID: 1042, slotStart: Self.start), projectID: 77, taskID: 310, status: .active,
            activityLevel: 7, keystrokes: 412, mouseEvents: 1290, activeApps: ["Xcode", "Safari"],
            screenshotKey: "ss/1042.jpg", note: nil,
            updatedAt: Timestamp.parse("2018-07-25T15:02:13.95Z"))
        XCTAssertEqual(decode(row([:])), .slot(expected))
    }

    func testColumnOrderComesFromTheCopyLine() throws {
        let columns = CopyTextEncoder.slotColumns.reversed() as [String]
        let text = row([:]).split(separator: "\t", omittingEmptySubsequences: false).reversed().joined(separator: "\t")
        guard case .slot(let slot) = decode(text, columns: columns) else { return XCTFail() }
        XCTAssertEqual(slot.keystrokes, 412)
        XCTAssertThrowsError(try SlotRowDecoder(columnNames: ["id", "user_id"])) { error in
            XCTAssertEqual((error as! SlotRowDecoder.MissingColumns).names.first, "project_id")
        }
    }

    func testRowsThatAreQuarantined() {
        let key = SlotKey(userID: 1042, slotStart: Self.start)
        let cases: [([String: String], QuarantineReason, SlotKey?)] = [
            (["slot_start": "2018-07-25 14:51:00+00"], .misalignedSlotStart, SlotKey(userID: 1042, slotStart: Self.start.adding(minutes: 1))),
            (["slot_start": "2018-07-25 14:50:00"], .invalidTime(key: "slot_start"), nil),
            (["user_id": "\\N"], .malformedRow("'user_id' is null"), nil),
            (["duration_min": "11"], .outOfRange(key: "duration_min"), key),
            (["activity_level": "-1"], .outOfRange(key: "activity_level"), key),
            (["keystrokes": "2147483648"], .outOfRange(key: "keystrokes"), key),
            (["status": "paused"], .outOfRange(key: "status"), key),
            (["note": "bad \\xff byte"], .invalidUTF8, key),
            (["note": "nul \\000 here"], .nulInText(key: "note"), key),
            // A backslash before the tab escapes it, as PostgreSQL reads it: the row has a field less.
            (["note": "lone\\"], .malformedRow("expected 15 fields, found 14"), nil),
            (["active_apps": "{a,NULL}"], .wrongType(key: "active_apps", expected: "an array without NULL elements"), key),
            (["active_apps": "{a"], .wrongType(key: "active_apps", expected: "a text[] literal (ends inside the array)"), key),
            (["updated_at": "\\N"], .invalidTime(key: "updated_at"), key),
        ]
        for (overrides, reason, expectedKey) in cases {
            XCTAssertEqual(decode(row(overrides)), .rejected(reason, key: expectedKey), "\(overrides)")
        }
        XCTAssertEqual(decode("1\t2"), .rejected(.malformedRow("expected 15 fields, found 2"), key: nil))
    }

    /// Read for a batch, a row's screenshot key is checked as the whole decode checks it, and not
    /// kept: the arena holds the note only (a recovered slot has no screenshot key, CONTRACT §5.6).
    func testABatchChecksTheScreenshotKeyAndKeepsOnlyTheNote() {
        var decoder = try! SlotRowDecoder(columnNames: CopyTextEncoder.slotColumns)
        let key = SlotKey(userID: 1042, slotStart: Self.start)
        for (value, reason) in [("bad \\xff byte", QuarantineReason.invalidUTF8), ("nul \\000 here", .nulInText(key: "screenshot_key"))] {
            let bad = row(["screenshot_key": value, "note": "kept"])
            XCTAssertEqual(decode(bad), .rejected(reason, key: key))
            var text: [UInt8] = [1, 2]
            let got = Array(bad.utf8).withUnsafeBytes { decoder.decodeForBatch($0, window: nil, text: &text) }
            guard case .rejected(let why, let at) = got else { return XCTFail("\(got)") }
            XCTAssertEqual(why, reason)
            XCTAssertEqual(at, key)
            XCTAssertEqual(text, [1, 2], "a rejected row leaves the arena as it was")
        }
        var text: [UInt8] = [1, 2]
        let good = Array(row(["screenshot_key": "ss/1042 \\303\\251.jpg", "note": "a\\tb"]).utf8)
        guard case .fields(let fields) = good.withUnsafeBytes({ decoder.decodeForBatch($0, window: nil, text: &text) })
        else { return XCTFail("the row was not read") }
        XCTAssertEqual(text, [1, 2] + Array("a\tb".utf8))
        XCTAssertEqual(fields.note, 3)
    }

    /// Random rows, written with the encoder in random time zones, decode to what was written.
    func testRoundTripProperty() {
        var rng = SplitMix64(seed: 0x5EED_2018_0725)
        let alphabet: [String] = ["a", "Z", " ", "\t", "\n", "\r", "\\", "\"", ",", "{", "}", "'", "é", "😀", "NULL", "\u{8}", "\u{b}", "\u{c}", "\u{1}", "x"]
        func text(_ rng: inout SplitMix64) -> String {
            (0..<Int(rng.next() % 8)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
        }
        var decoder = try! SlotRowDecoder(columnNames: CopyTextEncoder.slotColumns)
        for i in 0..<5_000 {
            let start = Timestamp(microseconds: Int64(rng.next() % 5_000_000) * Timestamp.slotLength)
            let slot = TimeSlot(
                key: SlotKey(userID: Int64(rng.next() % 1_000_000) + 1, slotStart: start),
                projectID: Int64(rng.next() >> 2) + 1, taskID: rng.next() % 3 == 0 ? nil : Int64(rng.next() % 999) + 1,
                durationMinutes: Int16(rng.next() % 10) + 1, status: SlotStatus.allCases[Int(rng.next() % 3)],
                activityLevel: rng.next() % 4 == 0 ? nil : Int16(rng.next() % 11),
                keystrokes: Int32(rng.next() % UInt64(Int32.max)), mouseEvents: Int32(rng.next() % 100_000),
                activeApps: (0..<Int(rng.next() % 4)).map { _ in text(&rng) },
                screenshotKey: rng.next() % 2 == 0 ? nil : text(&rng),
                note: rng.next() % 2 == 0 ? nil : text(&rng),
                updatedAt: start.adding(microseconds: Int64(rng.next() % 10_000_000_000)))
            let offset = [0, -420, 330, 345, 60, -600][Int(rng.next() % 6)]
            var bytes: [UInt8] = []
            CopyTextEncoder.appendRow(slot, id: Int64(i), offsetMinutes: offset, to: &bytes)
            XCTAssertEqual(bytes.removeLast(), 0x0A)
            let decoded = bytes.withUnsafeBytes { decoder.decode($0) }
            XCTAssertEqual(decoded, .slot(slot), "row \(i): \(String(decoding: bytes, as: UTF8.self))")
            if decoded != .slot(slot) { break }
        }
    }
}

