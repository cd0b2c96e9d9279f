import Foundation
import PlanFormat
import PlanReport
import PostgresClient
import RecoveryModel
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Fault tests of the built `recover-tool apply`: killed at every named moment and at timed
/// ones, its server stopped mid-apply, two applies at once. The database must end exactly as
/// before or exactly as after, never in between, and a re-run must say which.
final class ApplyFaultTests: XCTestCase {
    var tool: String { BuiltProducts.recoverTool }

    /// 100 users × 144 slots with 120-byte notes: a rows file of three 1 MiB chunks and a bit.
    static let users: Int64 = 100
    static let note = String(repeating: "recovered from the logs; ", count: 5)

    func seededDatabase(label: String) throws -> TestDatabase {
        let db = try TestDatabase(label: label)
        try PlanFixture.seed(try db.connect(), users: Int(Self.users))
        return db
    }

    /// The plan every test applies, made for `database`: each database gets its own plan (and
    /// plan id), since apply refuses a plan made for another.
    func writePlan(for database: DatabaseIdentity) throws -> (TemporaryDirectory, PlanDocument) {
        let dir = try TemporaryDirectory(prefix: "plan")
        let plan = try PlanFixture.write(
            PlanFixture.slots(users: 1...Self.users, perUser: 144, note: Self.note), to: dir.path, for: database)
        return (dir, plan)
    }

    /// The checkpoints an apply passes, in order; a kill at any of them before `committed` must
    /// leave the database as before.
    static let points = [
        "plan-checked", "connected", "transaction-begun", "lock-acquired", "schema-ready", "previous-run-checked",
        "rows-table-created", "copy-chunk-1", "copy-chunk-2", "copy-chunk-3", "rows-loaded", "run-recorded",
        "offline-locked", "offline-rechecked", "budget-checked", "slots-inserted",
        "counts-recorded", "committing", "committed",
    ]

    /// An apply killed while the server runs its INSERT leaves no session behind for long: the
    /// server checks its client's socket every second (`client_connection_check_interval`,
    /// PostgreSQL 14 and later) and ends the statement, its transaction and its locks. Before,
    /// the backend ran the statement to its end (up to --statement-timeout), holding the
    /// recovery locks and the plan's users' rows, with the client long gone (found by a hostile
    /// test: a client's upload for a plan's user waited 12 s after the kill).
    func testAKilledApplyEndsItsStatementOnTheServer() throws {
        let db = try seededDatabase(label: "killins")
        let connection = try db.connect()
        guard connection.serverVersion >= 140000 else { throw XCTSkip("client_connection_check_interval needs PostgreSQL 14") }
        // A statement-level trigger that keeps the INSERT running for a minute.
        try connection.executeSimple("""
            CREATE FUNCTION public.slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
            CREATE TRIGGER slow AFTER INSERT ON public.time_slots FOR EACH STATEMENT EXECUTE FUNCTION public.slow_insert();
            """)
        let before = try DatabaseState.checksums(connection)
        let (dir, plan) = try writePlan(for: try db.identity())
        let process = try Spawned(tool, ["apply", dir.path, "--yes", "--plan-id", plan.planID], environment: db.processEnvironment)
        XCTAssertTrue(try Self.waitForSleep(of: "apply", on: connection, count: 1), process.stderrText)
        kill(process.pid, SIGKILL)
        process.process.waitUntilExit()
        XCTAssertEqual(try db.sessionCountOnceEnded(excluding: connection), 0)
        XCTAssertEqual(try DatabaseState.checksums(connection), before)
    }

    /// Waits up to 30 s until `count` sessions of `recover-tool SUBCOMMAND` sleep in `pg_sleep`
    /// (a test's trigger); false if they never do.
    static func waitForSleep(of subcommand: String, on connection: Connection, count: Int) throws -> Bool {
        for _ in 0..<600 {
            let sleeping = try connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep'", ["recover-tool \(subcommand)"]).scalar
            if sleeping == String(count) { return true }
            usleep(50_000)
        }
        return false
    }

    func testKilledAtEveryMomentLeavesBeforeOrAfter() throws {
        // The state a clean apply ends in (its plan id replaced by each database's own below).
        let reference = try seededDatabase(label: "ref")
        let (referenceDir, referencePlan) = try writePlan(for: try reference.identity())
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: referenceDir.file("rows.tsv").path)[.size] as! Int, 3 << 20)
        let cleanStart = Date()
        let clean = try runProcess(
            tool, ["apply", referenceDir.path, "--yes", "--plan-id", referencePlan.planID], environment: reference.processEnvironment)
        let cleanMilliseconds = Date().timeIntervalSince(cleanStart) * 1000
        XCTAssertEqual(clean.status, 0, clean.stderrText)
        let referenceAfter = try DatabaseState.outcome(try reference.connect())
        reference.drop()

        var outcomes: [String: Int] = ["before": 0, "after": 0]
        // Kills at fractions of a clean run's time, from the process's start to past its COMMIT.
        let timed = [0.02, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 0.97, 1.05].map { "after \(Int($0 * cleanMilliseconds)) ms" }
        for point in Self.points + timed {
            let db = try seededDatabase(label: "kill")
            let connection = try db.connect()
            let (dir, plan) = try writePlan(for: try db.identity())
            let after = referenceAfter.replacingOccurrences(of: referencePlan.planID, with: plan.planID)
            let before = try DatabaseState.checksums(connection)
            let beforeOutcome = try DatabaseState.outcome(connection)
            let process: Spawned
            if let ms = Int(point.dropFirst(6).dropLast(3)), point.hasPrefix("after ") {
                process = try Spawned(tool, ["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path)], environment: db.processEnvironment)
                usleep(useconds_t(ms * 1000))
            } else {
                process = try Spawned(tool, ["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path)],
                                      environment: db.processEnvironment.merging(["RECOVER_TOOL_TEST_PAUSE_AT": point]) { $1 })
                XCTAssertTrue(process.waitForPause(at: point),
                              "\(point): \(process.stderrText)")
            }
            XCTAssertEqual(process.pid, process.process.processIdentifier)
            kill(process.pid, SIGKILL)
            process.process.waitUntilExit()
            // The killed client's session ends (and with it its transaction and lock) on its own.
            XCTAssertEqual(try db.sessionCountOnceEnded(excluding: connection), 0, point)

            let state: String
            if try DatabaseState.checksums(connection) == before {
                state = "before"
            } else {
                XCTAssertEqual(try DatabaseState.outcome(connection), after, "\(point): in between")
                state = "after"
            }
            outcomes[state, default: 0] += 1
            if Self.points.contains(point) {
                XCTAssertEqual(state, point == "committed" ? "after" : "before", point)
            }
            // A re-run says what happened and ends in the state after.
            let rerun = try runProcess(tool, ["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path)], environment: db.processEnvironment)
            XCTAssertEqual(rerun.status, 0, "\(point): \(rerun.stderrText)")
            let expected = state == "before" ? "applied plan \(plan.planID) as run " : "plan \(plan.planID) was already applied as run "
            XCTAssertTrue(rerun.stdoutText.hasPrefix(expected), "\(point) (\(state)): \(rerun.stdoutText)")
            XCTAssertEqual(try DatabaseState.outcome(connection), after, point)
            XCTAssertNotEqual(beforeOutcome, after)
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), Self.points.count + timed.count)
        print("kill points: \(Self.points.count + timed.count), ended before: \(outcomes["before"]!), after: \(outcomes["after"]!)")
    }

    func testTwoAppliesAtOnceInsertEachSlotOnce() throws {
        let db = try seededDatabase(label: "twice")
        let (dir, plan) = try writePlan(for: try db.identity())
        let a = try Spawned(tool, ["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path)], environment: db.processEnvironment)
        let b = try Spawned(tool, ["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path)], environment: db.processEnvironment)
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual([a.process.terminationStatus, b.process.terminationStatus], [0, 0], a.stderrText + b.stderrText)
        let outputs = [a.stdoutText, b.stdoutText].sorted()
        XCTAssertTrue(outputs[0].hasPrefix("applied plan \(plan.planID) as run 1\n"), outputs[0])
        XCTAssertTrue(outputs[1].hasPrefix("plan \(plan.planID) was already applied as run 1 at "), outputs[1])
        let connection = try db.connect()
        XCTAssertEqual(try connection.execute("SELECT count(*), count(DISTINCT (user_id, slot_start)) FROM time_slots").rows, [["14400", "14400"]])
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM recovery.runs").scalar, "1")

        // Two different plans over the same keys at once: each slot once; the second run drops them as present.
        let db2 = try seededDatabase(label: "twoplans")
        let dirA = try TemporaryDirectory(prefix: "planA"), dirB = try TemporaryDirectory(prefix: "planB")
        try PlanFixture.write(PlanFixture.slots(users: 1...60, perUser: 144), to: dirA.path, for: try db2.identity())
        try PlanFixture.write(PlanFixture.slots(users: 41...100, perUser: 144, note: "other"), to: dirB.path, for: try db2.identity())
        let c = try Spawned(tool, ["apply", dirA.path, "--yes", "--plan-id", try approvedPlanID(dirA.path)], environment: db2.processEnvironment)
        let d = try Spawned(tool, ["apply", dirB.path, "--yes", "--plan-id", try approvedPlanID(dirB.path)], environment: db2.processEnvironment)
        c.process.waitUntilExit()
        d.process.waitUntilExit()
        XCTAssertEqual([c.process.terminationStatus, d.process.terminationStatus], [0, 0], c.stderrText + d.stderrText)
        let connection2 = try db2.connect()
        XCTAssertEqual(try connection2.execute("SELECT count(*), count(DISTINCT (user_id, slot_start)) FROM time_slots").rows, [["14400", "14400"]])
        XCTAssertEqual(try connection2.execute("SELECT sum(inserted), sum(dropped_present), min(dropped_present) FROM recovery.runs").rows,
                       [["14400", "2880", "0"]])
    }

    // MARK: The server stopped mid-apply

    func testServerStoppedMidApplyGivesClearErrorAndCommitsNothing() throws {
        let server = try ThrowawayServer()
        defer { server.stop() }
        for point in ["copy-chunk-2", "offline-locked", "committing"] {
            let name = "stop_\(point.replacingOccurrences(of: "-", with: "_"))"
            try server.admin().executeSimple("CREATE DATABASE \(name) TEMPLATE template0")
            let setup = try server.connect(name)
            try setup.executeSimple(try Repository.serviceSchemaSQL())
            try PlanFixture.seed(setup, users: Int(Self.users))
            let before = try DatabaseState.checksums(setup)
            // The test server runs with synchronous_commit=off: make the setup durable before the
            // immediate stop, so that only the apply's own transaction is at stake.
            try setup.executeSimple("CHECKPOINT")
            let (dir, _) = try writePlan(for: try setup.identity())

            var env = server.environment
            env["PGDATABASE"] = name
            env["RECOVER_TOOL_TEST_PAUSE_AT"] = point
            let process = try Spawned(tool, ["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path)], environment: env)
            XCTAssertTrue(process.waitForPause(at: point), process.stderrText)
            try server.stopImmediately()
            kill(process.pid, SIGCONT)
            process.process.waitUntilExit()
            // Stopped at COMMIT, the outcome cannot be read back: 3 (outcome unknown); before it, 69.
            XCTAssertEqual(process.process.terminationStatus, point == "committing" ? 3 : 69, "\(point): \(process.stderrText)")
            let lines = process.stderrText.split(separator: "\n")
            XCTAssertEqual(lines.count, 2, process.stderrText)  // the test pause note, then the one error line
            let error = String(lines.last ?? "")
            print("server stopped at \(point): \(error)")
            XCTAssertTrue(error.hasPrefix("recover-tool: error: cannot apply the plan in '\(dir.path)' to 'host="), error)
            if point == "committing" {
                XCTAssertTrue(error.contains(": COMMIT failed ("), error)
                XCTAssertTrue(error.hasSuffix("and the outcome cannot be read back (" + error.components(separatedBy: "and the outcome cannot be read back (").last!), error)
                XCTAssertTrue(error.contains("'recover-tool runs' shows whether plan "), error)
            } else {
                XCTAssertTrue(error.contains("server closed the connection unexpectedly") || error.contains("connection"), error)
                // The message ends with what the failure left; then the hint, where the lost
                // connection carries one.
                XCTAssertTrue(error.hasSuffix("; nothing was changed")
                              || error.hasSuffix("; nothing was changed; the connection to the server was lost"), error)
            }
            try server.start()
            XCTAssertEqual(try DatabaseState.checksums(try server.connect(name)), before, point)
        }
    }
}

/// A child process started directly (its pid is the tool's own, no shell or wrapper), its output
/// going to files.
final class Spawned {
    let process = Process()
    let scratch: TemporaryDirectory
    var pid: pid_t { process.processIdentifier }

    init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        scratch = try TemporaryDirectory(prefix: "spawn")
        FileManager.default.createFile(atPath: scratch.file("stdout").path, contents: nil)
        FileManager.default.createFile(atPath: scratch.file("stderr").path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: scratch.file("stdout"))
        process.standardError = try FileHandle(forWritingTo: scratch.file("stderr"))
        try process.run()
    }

    var stdoutText: String { (try? String(contentsOf: scratch.file("stdout"), encoding: .utf8)) ?? "" }
    var stderrText: String { (try? String(contentsOf: scratch.file("stderr"), encoding: .utf8)) ?? "" }

    /// Waits up to 60 s for `text` on standard error; false if the process ended first or time ran out.
    func waitForStderr(containing text: String) -> Bool {
        for _ in 0..<1200 {
            if stderrText.contains(text) { return true }
            if !process.isRunning { return stderrText.contains(text) }
            usleep(50_000)
        }
        return false
    }

    /// Waits (a minute at most) until the tool has stopped itself at `RECOVER_TOOL_TEST_PAUSE_AT`
    /// `point`: its line says so, then the kernel shows it stopped. The line comes just before the
    /// stop, so a SIGCONT sent on the line alone could come first and leave the tool stopped.
    func waitForPause(at point: String) -> Bool {
        guard waitForStderr(containing: "test pause at \(point) (pid \(pid))") else { return false }
        for _ in 0..<1200 {
            // /proc/PID/stat: `PID (NAME) STATE ...`; T is stopped by a signal.
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
               let close = stat.lastIndex(of: ")"), stat[close...].dropFirst(2).first == "T" {
                return true
            }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }
}

/// A PostgreSQL server of the test's own (`scripts/pg-start.sh`), which it may stop and start.
final class ThrowawayServer {
    let environment: [String: String]
    let directory: String
    let bindir: String

    init() throws {
        let scratch = try TemporaryDirectory(prefix: "pgstart")
        let exports = scratch.file("exports").path
        let status = spawnAndWait(["/bin/bash", "-c", "bash \"$0\" > \"$1\"",
                                   Repository.root.appendingPathComponent("scripts/pg-start.sh").path, exports])
        guard status == 0 else { throw ServerError("scripts/pg-start.sh exited with \(status)") }
        let output = try String(contentsOfFile: exports, encoding: .utf8)
        var env: [String: String] = [:]
        for word in output.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.contains("=") {
            let parts = word.split(separator: "=", maxSplits: 1)
            env[String(parts[0])] = String(parts[1])
        }
        environment = env.filter { $0.key.hasPrefix("PG") }
        directory = env["RECOVER_PGDIR"]!
        bindir = env["RECOVER_PGBIN"]!
    }

    func conninfo(_ database: String) -> String {
        "host='\(environment["PGHOST"]!)' port=\(environment["PGPORT"] ?? "5432") user=postgres dbname=\(database)"
    }

    func admin() throws -> Connection { try Connection.connect(conninfo("postgres")) }
    func connect(_ database: String) throws -> Connection { try Connection.connect(conninfo(database)) }

    private func pgCtl(_ arguments: [String]) throws {
        var command = ["\(bindir)/pg_ctl", "-D", "\(directory)/data"] + arguments
        if getuid() == 0 { command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command }
        let status = spawnAndWait(command)
        guard status == 0 else {
            throw ServerError("\(command.joined(separator: " ")) exited with \(status)")
        }
    }

    func stopImmediately() throws { try pgCtl(["-m", "immediate", "-w", "stop"]) }

    func start() throws {
        try pgCtl(["-l", "\(directory)/server.log", "-w", "-t", "60", "-o",
                   "-k \(directory) -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off", "start"])
    }

    func stop() {
        _ = spawnAndWait(["/bin/bash", Repository.root.appendingPathComponent("scripts/pg-stop.sh").path, directory])
    }
}

/// Runs `argv` (`posix_spawn`, output to /dev/null unless redirected by a shell) and waits for it
/// with `waitpid`. Used for the server scripts: pg_ctl leaves a daemon behind, which Foundation's
/// `Process` was seen to wait on forever.
func spawnAndWait(_ argv: [String]) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

struct ServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
