import Foundation
import PostgresClient
import RecoveryModel
import SnapshotDiff
import TestSupport
import XCTest

/// The diff on real databases: a backup is taken, then rows are deleted, changed by an
/// "accidental job" and added; the diff must tell each kind apart, from a dump file and from a
/// restored database alike.
final class DiffTests: XCTestCase {
    static let base = PgDumpTests.base
    let window = Window(from: PgDumpTests.base, to: PgDumpTests.base.adding(minutes: 60))

    func testDiffAfterDeletionsAnAccidentalJobAndNewRows() throws {
        let live = try TestDatabase(label: "live")
        let c = try live.connect()
        try PgDumpTests.seed(c)
        // 3 users x 6 slots in the window, plus one slot after it.
        try c.execute("""
            INSERT INTO time_slots (user_id, project_id, task_id, slot_start, source, status, activity_level,
              keystrokes, mouse_events, active_apps, note, updated_at)
            SELECT u, 1 + (s % 2), NULL, $1::timestamptz + s * interval '10 minutes', 'client', 'active', 5,
              100 * u + s, 7, ARRAY['Xcode', 'a,b'], CASE WHEN s = 0 THEN E'line\\nbreak' END,
              $1::timestamptz + s * interval '10 minutes' + interval '1 minute'
            FROM generate_series(1, 3) u, generate_series(0, 6) s
            """, [Self.base.rfc3339])

        // The backup: a pg_dump file, and a restored copy of the whole database.
        let dir = try TemporaryDirectory()
        let dump = dir.file("backup.sql")
        try runChecked("pg_dump", ["--table=time_slots", "--file=\(dump.path)"], environment: live.processEnvironment)
        try runChecked("lz4", ["-q", dump.path, dump.path + ".lz4"])
        let full = dir.file("full.sql")
        try runChecked("pg_dump", ["--file=\(full.path)"], environment: live.processEnvironment)
        let restored = try TestDatabase(label: "restored", schema: false)
        try runChecked("psql", ["-q", "-v", "ON_ERROR_STOP=1", "-f", full.path], environment: restored.processEnvironment)

        // The incident: two slots of user 1 lost; a job sets project 2's slots idle; new slots.
        try c.execute("DELETE FROM time_slots WHERE user_id = 1 AND slot_start IN ($1, $2)",
                      [Self.base.rfc3339, Self.base.adding(minutes: 20).rfc3339])
        let job = try c.execute("""
            UPDATE time_slots SET status = 'idle', activity_level = 0, updated_at = now()
            WHERE project_id = 2 AND slot_start < $1
            """, [window.to.rfc3339])
        XCTAssertEqual(job.affectedRows, 9)    // s = 1, 3, 5 for 3 users
        try c.execute("""
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status, updated_at)
            VALUES (4, 1, $1, 'client', 'pending', now()), (4, 1, $2, 'client', 'pending', now()),
                   (2, 3, $3, 'client', 'pending', now())
            """, [Self.base.rfc3339, Self.base.adding(minutes: 10).rfc3339, Self.base.adding(minutes: -10).rfc3339])

        for source in [SnapshotSource.dump(path: dump.path + ".lz4"), .dump(path: dump.path), .database(conninfo: restored.conninfo)] {
            let report = try SnapshotDiffer.diff(snapshot: source, live: c, window: window, sampleLimit: 3)
            XCTAssertEqual(report.counts.missingFromLive, 2, "\(source)")
            XCTAssertEqual(report.counts.changed, 9, "\(source)")
            XCTAssertEqual(report.counts.onlyInLive, 2, "\(source)")   // the third new row is before the window
            XCTAssertEqual(report.counts.identical, 18 - 2 - 9, "\(source)")
            XCTAssertEqual(report.quarantined, [])
            XCTAssertEqual(report.samples[.missingFromLive]?.map(\.key), [
                SlotKey(userID: 1, slotStart: Self.base), SlotKey(userID: 1, slotStart: Self.base.adding(minutes: 20)),
            ])
            XCTAssertEqual(report.samples[.changed]?.first?.changedColumns, ["status", "activity_level", "updated_at"])
            XCTAssertEqual(report.samples[.changed]?.count, 3)
            XCTAssertEqual(report.samples[.onlyInLive]?.map(\.key.userID), [4, 4])
            XCTAssertEqual(report.users.map(\.userID), [1, 2, 3, 4])
            XCTAssertEqual(report.users[0].counts.missingFromLive, 2)
            XCTAssertEqual(report.users[3].counts.onlyInLive, 2)

            let json = try JSONSerialization.jsonObject(with: Data(JSONOutput.output(report.jsonForm).utf8)) as! [String: Any]
            XCTAssertEqual(json["missing_from_live"] as? Int, 2)
            XCTAssertEqual(json["changed"] as? Int, 9)
            XCTAssertEqual(json["only_in_live"] as? Int, 2)
            XCTAssertEqual(json["identical"] as? Int, 7)
            XCTAssertEqual(json["quarantined"] as? Int, 0)
            XCTAssertTrue(report.text.contains("missing_from_live: 2\nchanged: 9\nonly_in_live: 2\nidentical: 7\n"), report.text)
        }
        XCTAssertEqual(SnapshotSource.database(conninfo: restored.conninfo + " password=hunter22").displayName.contains("hunter22"), false)
        XCTAssertFalse(c.isInTransaction)
    }
}
