import Foundation
import PlanReport
import PostgresClient
import RecoveryCommit
import RecoveryModel
import TestSupport
import XCTest

/// Shards applying at once, and offline time the service writes while an apply runs
/// (docs/APPLY.md, "Once, and concurrency"), against a real PostgreSQL.
final class ConcurrentApplyTests: XCTestCase {
    var options: ApplyOptions {
        var options = ApplyOptions(operatorName: "tester", toolVersion: "test")
        options.lockTimeoutSeconds = 2
        return options
    }

    /// Users 1...users seeded; a plan of 4 slots per user for each shard of `n` (none when the
    /// shard has no user), in directories kept by the returned values.
    func shardPlans(_ db: TestDatabase, users: Int64, n: Int) throws -> [TemporaryDirectory] {
        let slots = PlanFixture.slots(users: 1...users, perUser: 4)
        return try (0..<n).map { k in
            let shard = Shard(index: k, count: n)!
            let dir = try TemporaryDirectory(prefix: "shard\(k)")
            try PlanFixture.write(slots.filter { shard.contains(userID: $0.slot.key.userID) }, to: dir.path, for: try db.identity(), shard: shard)
            return dir
        }
    }

    /// The recovery schema as a first apply leaves it: that apply migrates, and so runs alone.
    func migrated(_ db: TestDatabase, user: Int64) throws {
        let dir = try TemporaryDirectory(prefix: "first")
        try PlanFixture.write(PlanFixture.slots(users: user...user, perUser: 1), to: dir.path, for: try db.identity())
        guard case .applied = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) else {
            return XCTFail("the first apply did not apply")
        }
    }

    func count(_ db: TestDatabase, _ sql: String) throws -> String {
        try db.connect().execute(sql).scalar ?? ""
    }

    /// Recovered slots that overlap an offline entry of their user (CONTRACT §5.4).
    static let overlaps = """
        SELECT count(*) FROM recovery.run_slots s JOIN time_slots t ON t.id = s.slot_id
        JOIN offline_entries o ON o.user_id = t.user_id
          AND o.starts_at < t.slot_start + make_interval(mins => t.duration_min::int) AND o.ends_at > t.slot_start
        """

    func testShardsApplyAtOnceAndOneShardOneAfterTheOther() throws {
        let db = try TestDatabase(label: "shards")
        try PlanFixture.seed(try db.connect(), users: 9)
        let plans = try shardPlans(db, users: 8, n: 2)
        try migrated(db, user: 9)
        var other: Result<ApplyOutcome, any Error>?
        var sameShard: (any Error)?
        let first = try RecoveryApply.apply(planDirectory: plans[0].path, database: db.target, options: options) { point in
            guard point == .slotsInserted else { return }
            // Shard 0/2 has inserted and holds its locks: shard 1/2 applies from start to COMMIT.
            other = Result { try RecoveryApply.apply(planDirectory: plans[1].path, database: db.target, options: self.options) }
            // Another plan of shard 0/2 waits for this one (and here times out).
            var quick = self.options
            quick.lockTimeoutSeconds = 0.3
            do {
                let dir = try TemporaryDirectory(prefix: "again")
                try PlanFixture.write(PlanFixture.slots(users: 1...8, perUser: 6).filter { Shard(index: 0, count: 2)!.contains(userID: $0.slot.key.userID) },
                                      to: dir.path, for: try db.identity(), shard: Shard(index: 0, count: 2)!)
                _ = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: quick)
            } catch {
                sameShard = error
            }
        }
        guard case .applied(let run0, _, _) = first, case .applied(let run1, _, _)? = try other?.get() else {
            return XCTFail("not both applied: \(first), \(String(describing: other))")
        }
        XCTAssertLessThan(run0.id, run1.id)
        XCTAssertEqual(run0.counts.inserted + run1.counts.inserted, 32)
        XCTAssertEqual((sameShard as? CommitError)?.kind, .lockTimeout, "\(String(describing: sameShard))")
        XCTAssertEqual(try count(db, "SELECT count(*) FROM time_slots WHERE source = 'recovered'"), "33")
        // Shard 1/2 committed first, inside shard 0/2's transaction.
        XCTAssertEqual(try count(db, "SELECT string_agg(shard_index::text, ' ' ORDER BY applied_at) FROM recovery.runs WHERE shard_count = 2"), "0 1")
    }

    func testAMigrationWaitsForEveryApplyAndAnApplyForAMigration() throws {
        let db = try TestDatabase(label: "migrate")
        try PlanFixture.seed(try db.connect(), users: 4)
        let plans = try shardPlans(db, users: 4, n: 2)
        try migrated(db, user: 4)
        // A migration (the global key taken exclusively) holds: every apply waits.
        let migration = try db.connect()
        try migration.begin()
        try migration.execute("SELECT pg_advisory_xact_lock($1)", [String(RecoverySchema.lockKey)])
        var quick = options
        quick.lockTimeoutSeconds = 0.3
        XCTAssertThrowsError(try RecoveryApply.apply(planDirectory: plans[0].path, database: db.target, options: quick)) { error in
            XCTAssertEqual((error as? CommitError)?.kind, .lockTimeout)
        }
        try migration.rollback()
        // An apply holds it shared: a migration waits.
        var blocked: PostgresError?
        _ = try RecoveryApply.apply(planDirectory: plans[0].path, database: db.target, options: options) { point in
            guard point == .rowsLoaded else { return }
            do {
                try migration.executeSimple("BEGIN; SET LOCAL lock_timeout = '200ms'")
                try migration.execute("SELECT pg_advisory_xact_lock($1)", [String(RecoverySchema.lockKey)])
            } catch let error as PostgresError { blocked = error } catch {}
            try? migration.rollback()
        }
        XCTAssertEqual(blocked?.sqlState, "55P03")
    }

    /// The re-check guarantee: an offline entry committed before the apply's COMMIT is seen by the
    /// re-check (the guard waits for it), both a new entry and an edit of an old one.
    func testOfflineTimeWrittenDuringTheApplyIsNeverOverlapped() throws {
        let db = try TestDatabase(label: "offline")
        let setup = try db.connect()
        try PlanFixture.seed(setup, users: 3)
        try setup.execute("""
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            VALUES (2, 10, '2018-07-25T20:00:00Z', '2018-07-25T21:00:00Z', 2)
            """)
        let dir = try TemporaryDirectory(prefix: "plan")
        try PlanFixture.write(PlanFixture.slots(users: 1...3, perUser: 4), to: dir.path, for: try db.identity())  // 14:00 to 14:40

        // The service, in two transactions that commit after the apply has re-checked (half a
        // second and a second later): user 1 adds offline time over 14:10, and user 2's entry is
        // moved over 14:00 to 14:15.
        let service = [
            ("""
             INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
             VALUES (1, 10, '2018-07-25T14:10:00Z', '2018-07-25T14:20:00Z', 1)
             """, 0.5),
            ("UPDATE offline_entries SET starts_at = '2018-07-25T14:00:00Z', ends_at = '2018-07-25T14:15:00Z' WHERE user_id = 2", 1.0),
        ]
        let written = DispatchSemaphore(value: 0), committed = DispatchSemaphore(value: 0)
        let conninfo = db.conninfo
        let outcome = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) { point in
            switch point {
            case .runRecorded:
                for (sql, delay) in service {
                    Thread.detachNewThread {
                        do {
                            let connection = try Connection.connect(conninfo)
                            try connection.begin()
                            try connection.executeSimple(sql)
                            written.signal()
                            Thread.sleep(forTimeInterval: delay)
                            try connection.commit()
                        } catch {
                            written.signal()
                        }
                        committed.signal()
                    }
                    written.wait()
                }
            case .committing:
                // Whether or not the guard waited for them, both commit before the apply's COMMIT.
                XCTAssertEqual(committed.wait(timeout: .now() + 10), .success)
                XCTAssertEqual(committed.wait(timeout: .now() + 10), .success)
            default:
                break
            }
        }
        guard case .applied(let run, _, _) = outcome else { return XCTFail("not applied: \(outcome)") }
        XCTAssertEqual(try count(db, "SELECT count(*) FROM offline_entries WHERE starts_at < '2018-07-25T15:00:00Z'"), "2")
        XCTAssertEqual(try count(db, Self.overlaps), "0")
        XCTAssertEqual(run.counts.droppedOffline, 3)  // user 1 at 14:10; user 2 at 14:00 and 14:10
        XCTAssertEqual(run.counts.inserted, 9)
    }

    /// The guard holds the plan's users only: another user's offline time goes through at once.
    func testTheGuardHoldsOnlyThePlansUsers() throws {
        let db = try TestDatabase(label: "guard")
        let setup = try db.connect()
        try PlanFixture.seed(setup, users: 4)
        try setup.execute("""
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            VALUES (2, 10, '2018-07-25T20:00:00Z', '2018-07-25T21:00:00Z', 2)
            """)
        let dir = try TemporaryDirectory(prefix: "plan")
        try PlanFixture.write(PlanFixture.slots(users: 1...3, perUser: 4), to: dir.path, for: try db.identity())
        let service = try db.connect()
        try service.executeSimple("SET lock_timeout = '200ms'")
        var results: [String: String] = [:]
        func attempt(_ name: String, _ sql: String) {
            do { try service.executeSimple(sql); results[name] = "done" } catch let error as PostgresError {
                results[name] = error.sqlState ?? "?"
            } catch { results[name] = "\(error)" }
        }
        _ = try RecoveryApply.apply(planDirectory: dir.path, database: db.target, options: options) { point in
            guard point == .offlineLocked else { return }
            attempt("other user's new entry", """
                INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
                VALUES (4, 10, '2018-07-25T14:00:00Z', '2018-07-25T15:00:00Z', 4)
                """)
            attempt("plan user's new entry", """
                INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
                VALUES (1, 10, '2018-07-25T14:00:00Z', '2018-07-25T15:00:00Z', 1)
                """)
            attempt("plan user's entry moved", "UPDATE offline_entries SET starts_at = '2018-07-25T14:00:00Z' WHERE user_id = 2")
        }
        XCTAssertEqual(results, [
            "other user's new entry": "done", "plan user's new entry": "55P03", "plan user's entry moved": "55P03",
        ])
        XCTAssertEqual(try count(db, Self.overlaps), "0")
    }
}
