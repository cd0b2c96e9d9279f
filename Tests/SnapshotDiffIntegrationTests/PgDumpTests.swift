import Foundation
import PostgresClient
import RecoveryModel
import SnapshotDiff
import TestSupport
import XCTest

/// Integration tests: rows written by real sessions, dumped by the real pg_dump, compressed by
/// the real lz4, read back.
final class PgDumpTests: XCTestCase {
    static let base = Timestamp.parse("2018-07-25T14:50:00Z")!

    /// Users 1...5, projects 1...3, task N in project N, everyone a member of everything.
    static func seed(_ c: Connection) throws {
        try c.executeSimple("""
            INSERT INTO users (id, email) SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 5) g;
            INSERT INTO projects (id, company_id, name) SELECT g, 1, 'p' || g FROM generate_series(1, 3) g;
            INSERT INTO tasks (id, project_id, name) SELECT g, g, 't' || g FROM generate_series(1, 3) g;
            INSERT INTO project_members SELECT p, u FROM generate_series(1, 3) p, generate_series(1, 5) u;
            """)
    }

    /// Inserts `slot` in a session whose time zone is `zone`, writing both times as local wall
    /// clock text without an offset, so the zone decides what they mean.
    static func insert(_ slot: TimeSlot, apps: String? = nil, zone: String, into c: Connection) throws {
        let zoneOffset = try c.transaction { c -> Int in
            try c.execute("SET LOCAL TIME ZONE '\(zone)'")
            let offset = try c.execute(
                "SELECT extract(timezone FROM $1::timestamptz)::int", [slot.key.slotStart.rfc3339]).scalar!
            return Int(offset)! / 60
        }
        func local(_ t: Timestamp) -> String {
            var s = CopyTextEncoder.timestamptz(t, offsetMinutes: zoneOffset)
            while let last = s.last, last != "+" && last != "-" { s.removeLast() }
            s.removeLast()
            return s
        }
        try c.transaction { c in
            try c.execute("SET LOCAL TIME ZONE '\(zone)'")
            try c.execute("""
                INSERT INTO time_slots (user_id, project_id, task_id, slot_start, duration_min, source, status,
                  activity_level, keystrokes, mouse_events, active_apps, screenshot_key, note, updated_at)
                VALUES ($1, $2, $3, $4, $5, 'client', $6, $7, $8, $9, $10::text[], $11, $12, $13)
                """, [
                    String(slot.key.userID), String(slot.projectID), slot.taskID.map { String($0) },
                    local(slot.key.slotStart), String(slot.durationMinutes), slot.status.rawValue,
                    slot.activityLevel.map { String($0) }, String(slot.keystrokes), String(slot.mouseEvents),
                    apps ?? CopyTextEncoder.arrayLiteral(slot.activeApps), slot.screenshotKey, slot.note,
                    local(slot.updatedAt!),
                ])
        }
    }

    static let trickyRows: [(TimeSlot, String)] = [
        (TimeSlot(key: SlotKey(userID: 1, slotStart: base), projectID: 1, taskID: 1, status: .active,
                  activityLevel: 7, keystrokes: 412, mouseEvents: 1290,
                  activeApps: ["Xcode", "a,b", "q\"uote", "back\\slash", "", "NULL", "sp ace", "{br}", "tab\tin"],
                  screenshotKey: nil, note: "tab\there\nnew \\ back 'single' \"double\"",
                  updatedAt: base.adding(microseconds: 123_456)), "UTC"),
        (TimeSlot(key: SlotKey(userID: 2, slotStart: base.adding(minutes: 10)), projectID: 2, taskID: nil,
                  durationMinutes: 4, status: .pending, activityLevel: nil, keystrokes: 0, mouseEvents: 0,
                  activeApps: [], screenshotKey: "ss/2 x.jpg", note: "😀 ünïcödé ✓",
                  updatedAt: base.adding(minutes: 11)), "America/Los_Angeles"),
        (TimeSlot(key: SlotKey(userID: 3, slotStart: base.adding(minutes: 20)), projectID: 3, taskID: 3,
                  status: .idle, activityLevel: 0, keystrokes: 2_147_483_647, mouseEvents: 5,
                  activeApps: ["😀", "x\\y\"z"], screenshotKey: "k", note: "cr\r\u{8}\u{b}\u{c}\u{1}end",
                  updatedAt: base.adding(microseconds: 1)), "Asia/Kolkata"),
        (TimeSlot(key: SlotKey(userID: 4, slotStart: base.adding(minutes: 30)), projectID: 1, taskID: 1,
                  durationMinutes: 1, status: .active, activityLevel: 10, keystrokes: 1, mouseEvents: 1,
                  activeApps: ["a"], screenshotKey: nil, note: nil,
                  updatedAt: base.adding(minutes: 31).adding(microseconds: 999_999)), "Asia/Kathmandu"),
    ]

    /// The column list of a plain dump's `COPY ... time_slots`, and one row of it (user 7, 14:50Z).
    static let copyColumns = "id, user_id, project_id, task_id, slot_start, duration_min, source, status, activity_level, "
        + "keystrokes, mouse_events, active_apps, screenshot_key, note, updated_at"
    static let copyRow = "1\t7\t1\t\\N\t2018-07-25 07:50:00-07\t10\tclient\tidle\t\\N\t0\t0\t{}\t\\N\t\\N\t2018-07-25 15:00:00+00"

    func testRealDumpRoundTripInSeveralZones() throws {
        let db = try TestDatabase(label: "dump")
        let c = try db.connect()
        try Self.seed(c)
        for (slot, zone) in Self.trickyRows { try Self.insert(slot, zone: zone, into: c) }
        // A row the model cannot hold: a NULL array element.
        var nullElement = Self.trickyRows[3].0
        nullElement.key.userID = 5
        try Self.insert(nullElement, apps: "{ok,NULL}", zone: "UTC", into: c)

        let dir = try TemporaryDirectory()
        for (zone, offsetText) in [("Asia/Kolkata", "+05:30"), ("America/Los_Angeles", "-07"), ("UTC", "+00")] {
            let sql = dir.file("slots-\(offsetText).sql")
            var env = db.processEnvironment
            env["PGTZ"] = zone
            try runChecked("pg_dump", ["--table=time_slots", "--file=\(sql.path)"], environment: env)
            let text = try String(contentsOf: sql, encoding: .utf8)
            XCTAssertTrue(text.contains("2018-07-25 \(offsetText == "+05:30" ? "20:20:00" : offsetText == "-07" ? "07:50:00" : "14:50:00")\(offsetText)"),
                          "the dump carries \(offsetText) offsets")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let nullLine = lines.firstIndex { $0.contains("{ok,NULL}") }! + 1
            try runChecked("lz4", ["-q", sql.path, sql.path + ".lz4"])

            for path in [sql.path, sql.path + ".lz4"] {
                var read: [TimeSlot] = []
                let summary = try DumpReader(path: path).forEachSlot { slot, location in
                    XCTAssertEqual(location.file, path)
                    read.append(slot)
                }
                XCTAssertEqual(read.sorted { $0.key < $1.key }, Self.trickyRows.map(\.0), "\(path)")
                XCTAssertEqual(summary.rows, 5)
                XCTAssertEqual(summary.quarantined, [QuarantineRecord(
                    location: SourceLocation(file: path, line: nullLine),
                    reason: .wrongType(key: "active_apps", expected: "an array without NULL elements"),
                    key: nullElement.key)])
            }
        }
    }

    func testTruncatedMissingAndDamagedDumps() throws {
        let db = try TestDatabase(label: "cut")
        let c = try db.connect()
        try Self.seed(c)
        for (slot, zone) in Self.trickyRows { try Self.insert(slot, zone: zone, into: c) }
        let dir = try TemporaryDirectory()
        let sql = dir.file("full.sql")
        try runChecked("pg_dump", ["--table=time_slots", "--file=\(sql.path)"], environment: db.processEnvironment)
        let lines = try String(contentsOf: sql, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let copyLine = lines.firstIndex { $0.hasPrefix("COPY public.time_slots (") }! + 1
        let endLine = lines.firstIndex { $0 == "\\." }! + 1

        // Cut just before the end marker.
        let cut = dir.file("cut.sql")
        try (lines[..<(endLine - 1)].joined(separator: "\n") + "\n").write(to: cut, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DumpReader(path: cut.path).forEachSlot { _, _ in }) { error in
            XCTAssertEqual("\(error)", "\(cut.path):\(endLine - 1): the COPY block that starts at line \(copyLine) has no "
                + "end marker '\\.': the file ends; the dump is cut or damaged: use a complete copy")
        }

        // An LZ4 file cut in the middle of its frame.
        try runChecked("lz4", ["-q", "--no-frame-crc", sql.path, sql.path + ".lz4"])
        let whole = try Data(contentsOf: URL(fileURLWithPath: sql.path + ".lz4"))
        let cutLZ4 = dir.file("cut.sql.lz4")
        try whole.prefix(whole.count - 7).write(to: cutLZ4)
        XCTAssertThrowsError(try DumpReader(path: cutLZ4.path).forEachSlot { _, _ in }) { error in
            let error = error as! SnapshotError
            XCTAssertEqual(error.kind, .truncated)
            XCTAssertTrue("\(error)".hasPrefix("\(cutLZ4.path)"), "\(error)")
            XCTAssertTrue("\(error)".contains("truncated at byte \(whole.count - 7)"), "\(error)")
        }

        // A dump of another table.
        let users = dir.file("users.sql")
        try runChecked("pg_dump", ["--table=users", "--file=\(users.path)"], environment: db.processEnvironment)
        let userLines = try String(contentsOf: users, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).count - 1
        XCTAssertThrowsError(try DumpReader(path: users.path).forEachSlot { _, _ in }) { error in
            XCTAssertEqual("\(error)", "\(users.path):\(userLines): no COPY block of time_slots in the dump (\(userLines) lines read); "
                + "give a pg_dump of the time_slots table (pg_dump --table=time_slots)")
        }

        // A row made misaligned by hand is quarantined with its line; the others still read.
        var edited = lines
        edited[copyLine] = Substring(edited[copyLine].replacingOccurrences(of: "14:50:00+00", with: "14:53:00+00"))
        let bad = dir.file("edited.sql")
        try edited.joined(separator: "\n").write(to: bad, atomically: true, encoding: .utf8)
        var count = 0
        let summary = try DumpReader(path: bad.path).forEachSlot { _, _ in count += 1 }
        XCTAssertEqual(count, 3)
        XCTAssertEqual(summary.quarantined.map(\.description), ["\(bad.path):\(copyLine + 1): 'slot_start' is not on a 10-minute boundary"])
    }

    func testCopyBlockFoundWhateverItsQualificationAndOtherBlocksSkipped() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("hand.sql").path
        let columns = "\"user_id\", id, project_id, task_id, slot_start, duration_min, source, status, activity_level, "
            + "keystrokes, mouse_events, active_apps, screenshot_key, note, updated_at"
        let text = """
            SET client_encoding = 'UTF8';
            COPY "Audit"."Time_Slots" (id) FROM stdin;
            COPY public.time_slots (id) FROM stdin;
            \\.
            COPY "tracker"."time_slots" (\(columns)) FROM stdin;
            7\t1\t1\t\\N\t2018-07-25 07:50:00-07\t10\tclient\tidle\t\\N\t0\t0\t{}\t\\N\t\\N\t2018-07-25 15:00:00+00
            \\.

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var slots: [TimeSlot] = []
        let summary = try DumpReader(path: path).forEachSlot { slot, _ in slots.append(slot) }
        XCTAssertEqual(summary.copyLines, [5])
        XCTAssertEqual(slots.map(\.key), [SlotKey(userID: 7, slotStart: Self.base)])
    }

    /// A partitioned `time_slots` dumped with `--load-via-partition-root` writes one COPY block
    /// of `public.time_slots` per partition: one table, every block read (their rows are disjoint).
    func testAPartitionedTableDumpedThroughItsRootIsReadWhole() throws {
        let db = try TestDatabase(label: "parts")
        let c = try db.connect()
        try Self.seed(c)
        for (slot, zone) in Self.trickyRows { try Self.insert(slot, zone: zone, into: c) }
        try c.executeSimple("""
            ALTER TABLE public.time_slots RENAME TO time_slots_plain;
            CREATE TABLE public.time_slots (LIKE public.time_slots_plain INCLUDING DEFAULTS) PARTITION BY RANGE (slot_start);
            CREATE TABLE public.time_slots_early PARTITION OF public.time_slots
                FOR VALUES FROM (MINVALUE) TO ('2018-07-25 15:10:00+00');
            CREATE TABLE public.time_slots_late PARTITION OF public.time_slots
                FOR VALUES FROM ('2018-07-25 15:10:00+00') TO (MAXVALUE);
            INSERT INTO public.time_slots SELECT * FROM public.time_slots_plain;
            DROP TABLE public.time_slots_plain CASCADE;
            """)
        let dir = try TemporaryDirectory()
        let sql = dir.file("parts.sql")
        try runChecked("pg_dump", ["--load-via-partition-root", "--table=time_slots*", "--file=\(sql.path)"],
                       environment: db.processEnvironment)
        let text = try String(contentsOf: sql, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "COPY public.time_slots (").count - 1, 2, "one block per partition")
        var read: [TimeSlot] = []
        let summary = try DumpReader(path: sql.path).forEachSlot { slot, _ in read.append(slot) }
        XCTAssertEqual(read.sorted { $0.key < $1.key }, Self.trickyRows.map(\.0))
        XCTAssertEqual(summary.copyLines.count, 2)
        let reconciled = try ReconcileSnapshot.read(dump: sql.path, range: nil)
        XCTAssertEqual(reconciled.slots.count, Self.trickyRows.count)
    }

    /// A dump of several databases (pg_dumpall) holds each one's `public.time_slots` after its
    /// `\connect`: the same name, but not the same table. Refused.
    func testTheSameTableInTwoDatabasesOfADumpIsRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("all.sql").path
        let (columns, row) = (Self.copyColumns, Self.copyRow)
        try """
            SET client_encoding = 'UTF8';
            \\connect tracker
            COPY public.time_slots (\(columns)) FROM stdin;
            \(row)
            \\.
            \\connect tracker_copy
            COPY public.time_slots (\(columns)) FROM stdin;
            \(row)
            \\.

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let expected = "\(path):7: the dump holds more than one COPY block of time_slots "
            + "(public.time_slots at line 7, public.time_slots at line 3, in another database: \\connect at line 6): "
            + "which is the service's table cannot be told"
        XCTAssertThrowsError(try DumpReader(path: path).forEachSlot { _, _ in }) { error in
            XCTAssertEqual((error as? SnapshotError)?.kind, .tableTwice, "\(error)")
            XCTAssertEqual((error as? SnapshotError)?.message, expected)
        }
    }

    /// A row longer than the reader takes (16 MiB: a huge note) is quarantined with its line,
    /// by plan's reader and reconcile's: it was skipped without a word (found by an audit).
    func testARowTooLongToReadIsQuarantinedNotDropped() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("long.sql").path
        let columns = Self.copyColumns
        func row(_ id: Int, note: String) -> String {
            "\(id)\t7\t1\t\\N\t2018-07-25 07:\(40 + id * 10):00-07\t10\tclient\tidle\t\\N\t0\t0\t{}\t\\N\t\(note)\t2018-07-25 15:00:00+00"
        }
        let text = "SET client_encoding = 'UTF8';\nCOPY public.users (id) FROM stdin;\n\(String(repeating: "u", count: 17 << 20))\n\\.\n"
            + "COPY public.time_slots (\(columns)) FROM stdin;\n\(row(1, note: "short"))\n"
            + "\(row(2, note: String(repeating: "n", count: 17 << 20)))\n\\.\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let expected = [QuarantineRecord(location: SourceLocation(file: path, line: 7), reason: .lineTooLong(bytes: 16 << 20))]
        var read: [TimeSlot] = []
        let summary = try DumpReader(path: path).forEachSlot { slot, _ in read.append(slot) }
        XCTAssertEqual(read.map(\.key.userID), [7])
        XCTAssertEqual(summary.quarantined, expected)
        XCTAssertEqual(summary.rows, 2)
        let reconciled = try ReconcileSnapshot.read(dump: path, range: nil)
        XCTAssertEqual(reconciled.slots.count, 1)
        XCTAssertEqual(reconciled.quarantined, expected)
    }

    /// A COPY whose column list names a column twice is refused, as PostgreSQL refuses it: the
    /// first was used and the second's values dropped (found by a hostile test).
    func testACopyNamingAColumnTwiceIsRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("twice.sql").path
        try "SET client_encoding = 'UTF8';\nCOPY public.time_slots (user_id, \(Self.copyColumns)) FROM stdin;\n\\.\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DumpReader(path: path).forEachSlot { _, _ in }) { error in
            XCTAssertEqual((error as? SnapshotError)?.kind, .badCopyLine, "\(error)")
            XCTAssertEqual((error as? SnapshotError)?.message, "\(path):2: the COPY of time_slots names user_id more than once")
        }
    }

    /// A dump of a whole database can hold `time_slots` in two schemas (an archive copy beside the
    /// service's table). Which one is the snapshot cannot be told from the dump: it is refused,
    /// not read as one table whose first rows win (a wrong plan, status 0), by `plan` and
    /// `reconcile` alike.
    func testADumpWithTheTableInTwoSchemasIsRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("two.sql").path
        let (columns, row) = (Self.copyColumns, Self.copyRow)
        try """
            SET client_encoding = 'UTF8';
            COPY archive.time_slots (\(columns)) FROM stdin;
            \(row)
            \\.
            COPY public.time_slots (\(columns)) FROM stdin;
            \(row)
            \\.

            """.write(toFile: path, atomically: true, encoding: .utf8)
        let expected = "\(path):5: the dump holds more than one COPY block of time_slots "
            + "(public.time_slots at line 5, archive.time_slots at line 2): which is the service's table cannot be told"
        XCTAssertThrowsError(try DumpReader(path: path).forEachSlot { _, _ in }) { error in
            XCTAssertEqual((error as? SnapshotError)?.kind, .tableTwice, "\(error)")
            XCTAssertEqual((error as? SnapshotError)?.message, expected)
        }
        XCTAssertThrowsError(try ReconcileSnapshot.read(dump: path, range: nil)) { error in
            XCTAssertEqual((error as? SnapshotError)?.kind, .tableTwice, "\(error)")
            XCTAssertEqual((error as? SnapshotError)?.message, expected)
        }
    }
}
