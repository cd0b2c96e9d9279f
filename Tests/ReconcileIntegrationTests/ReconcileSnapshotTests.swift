import ConflictResolver
import Foundation
import LiveDatabase
import PostgresClient
import Reconcile
import RecoveryModel
import SnapshotDiff
import TestSupport
import XCTest

/// Integration: a real pg_dump of several tables (plain and lz4) and a restored database, read
/// for reconcile, then the rules against a real live database.
final class ReconcileSnapshotTests: XCTestCase {
    var badJob: BadJobRun!

    override func setUpWithError() throws {
        badJob = try BadJobRun(label: "rc", dumping: false)
    }

    override func tearDown() {
        badJob = nil
    }

    func testADumpOfSeveralTablesAndTheRestoredDatabaseReadTheSame() throws {
        let sql = badJob.dir.file("before.sql").path
        try BadJobFixture.dump(badJob.backup, to: sql)
        try runChecked("lz4", ["-q", sql, sql + ".lz4"])
        let lines = try String(contentsOfFile: sql, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let firstSlotLine = lines.firstIndex { $0.hasPrefix("COPY public.time_slots ") }! + 2

        let fromDB = try ReconcileSnapshot.read(.database(conninfo: badJob.backup.conninfo), range: nil, schema: "public")
        XCTAssertEqual(fromDB.slots.count, 8)
        XCTAssertEqual(fromDB.memberships.map(\.membership), [
            .init(projectID: 7, userID: 1), .init(projectID: 7, userID: 2), .init(projectID: 7, userID: 3),
            .init(projectID: 8, userID: 1), .init(projectID: 8, userID: 2), .init(projectID: 8, userID: 3),
        ])
        XCTAssertTrue(fromDB.hasMemberships)
        XCTAssertEqual(fromDB.newestUpdatedAt, Timestamp.parse(BadJobFixture.backupNewest))
        for path in [sql, sql + ".lz4"] {
            let fromDump = try ReconcileSnapshot.read(.dump(path: path), range: nil, schema: "public")
            XCTAssertEqual(fromDump.slots.map(\.row).sorted { $0.key < $1.key }, fromDB.slots.map(\.row), path)
            XCTAssertEqual(Set(fromDump.memberships.map(\.membership)), Set(fromDB.memberships.map(\.membership)))
            XCTAssertEqual(fromDump.newestUpdatedAt, fromDB.newestUpdatedAt)
            XCTAssertTrue(fromDump.hasMemberships)
            XCTAssertEqual(fromDump.quarantined, [])
            XCTAssertEqual(fromDump.slots.map(\.location.line).min(), firstSlotLine)
            XCTAssertEqual(fromDump.sha256?.count, 64)
        }
    }

    /// A restored backup whose service tables are in another schema is read there (`--schema`),
    /// not from a table of the same name in `public`.
    func testARestoredDatabaseIsReadInTheServiceSchema() throws {
        let before = try ReconcileSnapshot.read(.database(conninfo: badJob.backup.conninfo), range: nil, schema: "public")
        try badJob.backup.connect().executeSimple("""
            CREATE SCHEMA svc;
            DO $$ DECLARE t text; BEGIN
              FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
                EXECUTE format('ALTER TABLE public.%I SET SCHEMA svc', t);
              END LOOP;
            END $$;
            CREATE TABLE public.time_slots (LIKE svc.time_slots);
            INSERT INTO public.time_slots SELECT * FROM svc.time_slots LIMIT 1;
            UPDATE public.time_slots SET keystrokes = 999999
            """)
        let moved = try ReconcileSnapshot.read(.database(conninfo: badJob.backup.conninfo), range: nil, schema: "svc")
        XCTAssertEqual(moved.slots.map(\.row), before.slots.map(\.row))
        XCTAssertEqual(moved.memberships.map(\.membership), before.memberships.map(\.membership))
        XCTAssertTrue(moved.hasMemberships)
        XCTAssertEqual(moved.newestUpdatedAt, before.newestUpdatedAt)
    }

    func testTheRangeSelectsSlotsButTheAgeIsTheWholeSnapshots() throws {
        let sql = badJob.dir.file("before.sql").path
        try BadJobFixture.dump(badJob.backup, to: sql)
        // The newest row (2, 09:20, written 09:31) is outside the range.
        let range = Window(from: Timestamp.parse("2026-03-01T09:00:00Z")!, to: Timestamp.parse("2026-03-01T09:10:00Z")!)
        for source in [SnapshotSource.dump(path: sql), .database(conninfo: badJob.backup.conninfo)] {
            let snap = try ReconcileSnapshot.read(source, range: range, schema: "public")
            XCTAssertEqual(snap.slots.map(\.row.key.userID).sorted(), [1, 2, 3], "\(source)")
            XCTAssertEqual(snap.slotsOutsideRange, 5, "\(source)")
            XCTAssertEqual(snap.newestUpdatedAt, Timestamp.parse(BadJobFixture.backupNewest), "\(source)")
            XCTAssertEqual(snap.memberships.count, 6, "memberships are read whatever the range")
        }
    }

    func testADumpWithoutProjectMembersIsReadAndSaysSo() throws {
        let sql = badJob.dir.file("slots.sql").path
        try runChecked("pg_dump", ["-t", "time_slots", "--file=\(sql)"], environment: badJob.backup.processEnvironment)
        let snap = try ReconcileSnapshot.read(.dump(path: sql), range: nil, schema: "public")
        XCTAssertFalse(snap.hasMemberships)
        XCTAssertEqual(snap.slots.count, 8)
    }

    func testADumpWithoutTimeSlotsIsRefused() throws {
        let sql = badJob.dir.file("members.sql").path
        try runChecked("pg_dump", ["-t", "project_members", "--file=\(sql)"], environment: badJob.backup.processEnvironment)
        XCTAssertThrowsError(try ReconcileSnapshot.read(.dump(path: sql), range: nil, schema: "public")) { error in
            XCTAssertEqual((error as? SnapshotError)?.kind, .noTimeSlotsBlock)
        }
    }

    func testTheRulesOnTheRealIncident() throws {
        let sql = badJob.dir.file("before.sql.lz4").path
        try BadJobFixture.dump(badJob.backup, to: badJob.dir.file("before.sql").path)
        try runChecked("lz4", ["-q", badJob.dir.file("before.sql").path, sql])
        let snap = try ReconcileSnapshot.read(.dump(path: sql), range: nil, schema: "public")
        let c = try badJob.live.connect()
        let (rows, refs) = try c.transaction(readOnly: true, isolation: .repeatableRead) { c in
            (try DatabaseSnapshot(connection: c).wholeRows(range: nil).rows,
             try LiveState.references(from: c, users: [1, 2, 3], projects: [7, 8], tasks: [70, 80]))
        }
        XCTAssertEqual(refs.companies, [7: 1, 8: 2])
        let job = Window(from: Timestamp.parse(BadJobFixture.jobFrom)!, to: Timestamp.parse(BadJobFixture.jobTo)!)
        let result = Reconciler.reconcile(
            snapshot: snap.slots, live: rows, memberships: snap.memberships, job: job, columns: [.projectID, .taskID],
            range: nil, references: refs)
        let outcomes = result.slots.map { "\($0.key.userID) \($0.key.slotStart) \($0.outcome.rawValue)" }
        XCTAssertEqual(outcomes, [
            "1 2026-03-01T09:00:00Z restore",
            "1 2026-03-01T09:10:00Z kept_changed_after_job",
            "1 2026-03-01T09:20:00Z missing_from_live",
            "2 2026-03-01T09:00:00Z kept_not_fingerprint",
            "2 2026-03-01T09:10:00Z restore",
            "3 2026-03-01T09:00:00Z restore",
            "3 2026-03-01T09:10:00Z kept_changed_after_job",
        ])
        XCTAssertEqual(result.unchanged, 1)
        XCTAssertEqual(result.restoredMemberships.map(\.membership), [.init(projectID: 7, userID: 2)])
        XCTAssertEqual(result.decisions(.restore).map { $0.restored?.slot.taskID }, [70, 70, 70])
    }
}
