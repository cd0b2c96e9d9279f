import ConflictResolver
import Foundation
import PlanFormat
import PlanReport
import PostgresClient
import RecoveryModel
import SlotFold

/// Small incidents for tests that apply plans: users, a project and a task in a test database,
/// and real plan directories (`PlanWriter`) of recovered slots for them.
///
///     try PlanFixture.seed(connection, users: 3)
///     let slots = PlanFixture.slots(users: 1...3, perUser: 5)
///     let plan = try PlanFixture.write(slots, to: dir.path, for: try db.identity())
public enum PlanFixture {
    public static let projectID: Int64 = 10
    public static let taskID: Int64 = 100
    /// 2018-07-25T14:00:00Z, the first slot of every fixture window.
    public static let windowStart = Timestamp(seconds: 1_532_527_200)

    /// Users `1...users` (`user1@example.com`), project 10 with task 100, every user a member.
    public static func seed(_ connection: Connection, users: Int) throws {
        try connection.executeSimple(
            """
            INSERT INTO users (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, \(users)) g;
            INSERT INTO projects (id, company_id, name) VALUES (\(projectID), 1, 'Recovery fixture');
            INSERT INTO tasks (id, project_id, name) VALUES (\(taskID), \(projectID), 'Fixture task');
            INSERT INTO project_members (project_id, user_id) SELECT \(projectID), g FROM generate_series(1, \(users)) g;
            """)
    }

    /// `perUser` consecutive 10-minute slots from `windowStart` for each user, with a note that
    /// names the slot; `note` replaces it when given.
    public static func slots(users: ClosedRange<Int64>, perUser: Int, note: String? = nil) -> [FoldedSlot] {
        var slots: [FoldedSlot] = []
        slots.reserveCapacity(users.count * perUser)
        var line = 0
        for user in users {
            for i in 0..<perUser {
                line += 1
                let start = windowStart.adding(minutes: Int64(i) * 10)
                let slot = TimeSlot(
                    key: SlotKey(userID: user, slotStart: start), projectID: projectID, taskID: i % 3 == 0 ? nil : taskID,
                    durationMinutes: i % 7 == 6 ? 4 : 10, status: i % 2 == 0 ? .active : .idle,
                    activityLevel: i % 5 == 4 ? nil : Int16(i % 11), keystrokes: Int32(100 + i), mouseEvents: Int32(200 + i),
                    activeApps: i % 4 == 0 ? [] : ["Xcode", "Safari \"beta\""], screenshotKey: nil,
                    note: note ?? "slot \(user)/\(i)")
                slots.append(FoldedSlot(slot: slot, provenance: [
                    Provenance(kind: .log, location: SourceLocation(file: "logs/app-1.log", line: line)),
                ]))
            }
        }
        return slots.sorted { $0.slot.key < $1.slot.key }
    }

    /// The window that holds `slots` (from `windowStart`, a day long).
    public static var window: Window { Window(from: windowStart, to: windowStart.adding(minutes: 24 * 60)) }

    /// A made-up database identity named `name`, for plans no test applies (no server needed).
    public static func database(_ name: String) -> DatabaseIdentity {
        DatabaseIdentity(target: name, systemIdentifier: "1", name: name, oid: 1, serverVersion: "test")
    }

    /// Writes a plan directory recovering `slots` (sorted by key) into `directory`, made for
    /// `database` (`TestDatabase.identity()`): apply refuses it in any other.
    @discardableResult
    public static func write(
        _ slots: [FoldedSlot], to directory: String, for database: DatabaseIdentity, shard: Shard? = nil
    ) throws -> PlanDocument {
        var resolution = Resolution()
        resolution.recovered = slots.sorted { $0.slot.key < $1.slot.key }
        var fold = FoldResult()
        fold.slots = resolution.recovered
        let evidence = PlanEvidence(
            window: window, displayTimeZone: nil, shard: shard, database: database,
            inputs: [PlanDocument.Input(kind: .log, path: "logs/app-1.log", bytes: 1, sha256: String(repeating: "0", count: 64),
                                        lines: slots.count, quarantined: 0, damage: nil)],
            hosts: [], fold: fold, resolution: resolution, readQuarantine: [], toolVersion: "test",
            createdAt: Timestamp(seconds: 1_532_600_000))
        return try PlanWriter.write(evidence, to: directory).document
    }
}

/// The plan id in `directory/plan.json`: what a reviewer approves and `apply --plan-id` takes.
public func approvedPlanID(_ directory: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/plan.json"))
    guard let id = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["plan_id"] as? String else {
        throw TestEnvironmentError(description: "no plan_id in \(directory)/plan.json")
    }
    return id
}

/// A well-formed plan id that no plan has, for commands refused before the id is compared.
public let unapprovedPlanID = String(repeating: "0", count: 64)

/// Checksums of a database's tables, to prove that a failed command changed nothing.
public enum DatabaseState {
    /// `schema.table` → MD5 of all its rows as text (sorted), for every table of the `public` and
    /// `recovery` schemas; `schemas` lists which of those exist.
    public static func checksums(_ connection: Connection) throws -> [String: String] {
        try connection.executeSimple("SET TimeZone = 'UTC'")
        let tables = try connection.execute(
            """
            SELECT table_schema || '.' || table_name FROM information_schema.tables
            WHERE table_schema IN ('public', 'recovery') AND table_type = 'BASE TABLE' ORDER BY 1
            """)
        var sums: [String: String] = [:]
        for row in tables.rows {
            let table = row[0]!
            sums[table] = try connection.execute(
                "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) || ' ' || count(*) FROM \(table) t").scalar
        }
        sums["schemas"] = try connection.execute(
            "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('public', 'recovery')").scalar
        return sums
    }

    /// What an apply decides, without what differs between two applies of one plan (row ids,
    /// times): the recovered rows' values, and the runs with their counts.
    public static func outcome(_ connection: Connection) throws -> String {
        try connection.executeSimple("SET TimeZone = 'UTC'")
        let slots = try connection.execute(
            """
            SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) || ' ' || count(*) FROM (
              SELECT user_id, project_id, task_id, slot_start, duration_min, source, status, activity_level,
                     keystrokes, mouse_events, active_apps, screenshot_key, note FROM time_slots) x
            """).scalar ?? ""
        let hasRecovery = try connection.execute("SELECT to_regclass('recovery.runs') IS NOT NULL").scalar == "t"
        guard hasRecovery else { return "slots \(slots); no recovery schema" }
        let runs = try connection.execute(
            """
            SELECT coalesce(string_agg(plan_id || ' ' || status || ' ' || planned || ' ' || inserted || ' ' || dropped_present
                   || ' ' || dropped_offline, '; ' ORDER BY id), '') FROM recovery.runs
            """).scalar ?? ""
        let runSlots = try connection.execute("SELECT count(*) FROM recovery.run_slots").scalar ?? ""
        let drops = try connection.execute("SELECT count(*) FROM recovery.run_drops").scalar ?? ""
        return "slots \(slots); runs \(runs); run_slots \(runSlots); run_drops \(drops)"
    }
}
