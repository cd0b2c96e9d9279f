import ArgumentParser
import ConflictResolver
import Foundation
import PlanFormat
import PlanReport
import PostgresClient
import RecoveryCommit
import RecoveryModel
import SlotFold

/// `recover-bench apply`: an apply of N recovered slots against `psql \copy` of the same rows.
///
/// Builds a database of its own on the server libpq points at: the service schema, `--existing`
/// rows in `time_slots`, and `time_slots_copy`, the same table with the same rows, indexes, checks
/// and foreign keys. Writes a plan of `--rows` slots (a real plan directory) and the same rows
/// as `time_slots` columns, then times in one run: `psql \copy` of them into `time_slots_copy`,
/// and `RecoveryApply.apply` of the plan into `time_slots` (plan check, COPY, re-checks, insert,
/// run records, COMMIT).
struct ApplyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "Time an apply of a plan against psql \\copy of the same rows.")

    @Option(help: "Recovered slots in the plan.")
    var rows = 1_000_000

    @Option(help: "Rows already in time_slots (and in the copy) before either load.")
    var existing = 3_000_000

    @Option(help: "Users the slots are spread over.")
    var users = 2_000

    @Option(help: "The server's maintenance database (connection string); default: libpq's PG* variables.")
    var db: String?

    @Option(help: "The benchmark's own database, dropped and created anew.")
    var database = "recover_bench_apply"

    @Option(help: "The service schema.")
    var schema = "fixtures/schema.sql"

    @Option(help: "Same-run pairs of \\copy and apply, each from the same state (the rows both loaded are deleted and the tables vacuumed in between); the order alternates. The ratio printed is their median.")
    var pairs = 1

    @Option(help: "Working directory for the plan and the \\copy file.")
    var work = "bench-work/apply"

    func validate() throws {
        guard pairs >= 1 else { throw ValidationError("'--pairs' must be 1 or more") }
        guard rows > 0, existing >= 0, users > 0, rows % users == 0, existing % users == 0 else {
            throw ValidationError("'--rows' and '--existing' must be multiples of '--users'")
        }
    }

    func run() throws {
        let admin = try Connection.connect(
            ConnectionTarget.resolve(db, flag: "--db", databaseURL: ProcessInfo.processInfo.environment["DATABASE_URL"]))
        try admin.executeSimple("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        try admin.executeSimple("CREATE DATABASE \(database) TEMPLATE template0 ENCODING 'UTF8'")
        let conninfo = (db.map { $0 + " " } ?? "") + "dbname=\(database)"
        let connection = try Connection.connect(conninfo)
        let (setupSeconds, _) = try timed { try setUp(connection) }
        print("database: \(existing) rows in time_slots and in time_slots_copy, \(users) users (\(fmt(setupSeconds)) s)")

        let plan = "\(work)/plan", copyFile = "\(work)/copy.tsv"
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let (planSeconds, document) = try timed { try writePlan(to: plan, for: try connection.identity()) }
        try writeCopyFile(from: plan + "/rows.tsv", to: copyFile)
        let bytes = (try FileManager.default.attributesOfItem(atPath: plan + "/rows.tsv")[.size] as? Int) ?? 0
        print("plan: \(document.rows.count) slots, rows.tsv \(bytes / 1_000_000) MB (written in \(fmt(planSeconds)) s)")

        let clock = CPUClock(serverPID: try connection.execute("SELECT pg_backend_pid()").scalar.flatMap { Int32($0) })
        var ratios: [Double] = [], cpuRatios: [Double] = []
        for pair in 1...pairs {
            if pair > 1 { try reset(connection) }
            // The order alternates, so that neither load always runs on the warmer cache.
            let copyFirst = pair % 2 == 1
            var psql = (seconds: 0.0, cpu: 0.0), applied = (seconds: 0.0, cpu: 0.0)
            if copyFirst { psql = try copy(copyFile, connection, clock) }
            applied = try apply(plan, conninfo: conninfo, connection, clock)
            if !copyFirst { psql = try copy(copyFile, connection, clock) }
            let ratio = psql.seconds / applied.seconds
            ratios.append(ratio)
            var line = "pair \(pair) (\(copyFirst ? "\\copy first" : "apply first")): apply throughput is "
                + "\(percent(ratio)) of psql \\copy"
            if clock.measuresServer {
                cpuRatios.append(psql.cpu / applied.cpu)
                line += "; per CPU second, \(percent(psql.cpu / applied.cpu))"
            }
            print(line)
        }
        print("ratio: apply throughput is \(percent(median(ratios))) of psql \\copy (median of \(ratios.count) same-run "
            + "pairs: \(ratios.map(percent).joined(separator: ", ")))")
        if !cpuRatios.isEmpty {
            print("ratio per CPU second (server and client): apply \(percent(median(cpuRatios))) of psql \\copy (median of "
                + "\(cpuRatios.count): \(cpuRatios.map(percent).joined(separator: ", ")))")
        }
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private func percent(_ ratio: Double) -> String { "\(Int((ratio * 100).rounded()))%" }

    /// psql \copy of the plan's rows, as `time_slots` columns, into the copy of the table: its
    /// seconds and the CPU seconds of the server and of psql.
    private func copy(_ copyFile: String, _ connection: Connection, _ clock: CPUClock) throws -> (seconds: Double, cpu: Double) {
        try connection.executeSimple("CHECKPOINT")
        let columns = PlanDocument.rowColumns.filter { $0 != "provenance" } + ["source"]
        let cpuBefore = clock.now()
        let psqlSeconds = try timed {
            try shell("psql -X -q -v ON_ERROR_STOP=1 -d '\(database)' -c \"\\\\copy time_slots_copy (\(columns.joined(separator: ", "))) FROM '\(copyFile)'\"")
        }.0
        let copied = try connection.execute("SELECT count(*) FROM time_slots_copy").scalar ?? "?"
        let cpu = clock.now() - cpuBefore
        print("psql \\copy: \(fmt(psqlSeconds)) s, \(Int(Double(rows) / psqlSeconds)) rows/s (time_slots_copy now \(copied) rows)"
            + clock.describe(cpu))
        return (psqlSeconds, cpu.total)
    }

    /// The apply, with the time of each phase: its seconds and the CPU seconds of the server and
    /// of this process.
    private func apply(_ plan: String, conninfo: String, _ connection: Connection, _ clock: CPUClock) throws -> (seconds: Double, cpu: Double) {
        try connection.executeSimple("CHECKPOINT")
        let cpuBefore = clock.now()
        var marks: [(String, Double)] = []
        let start = Date()
        var options = ApplyOptions(operatorName: "bench", toolVersion: "bench")
        options.dropSampleLimit = 5
        let (applySeconds, outcome) = try timed {
            try RecoveryApply.apply(planDirectory: plan, database: ConnectionTarget(conninfo), options: options) { point in
                if case .copyChunkSent = point { return }
                marks.append((point.description, Date().timeIntervalSince(start)))
            }
        }
        guard case .applied(let run, _, _) = outcome, run.counts.inserted == rows else {
            throw ValidationError("the apply did not insert \(rows) slots: \(outcome)")
        }
        let cpu = clock.now() - cpuBefore
        print("apply: \(fmt(applySeconds)) s, \(Int(Double(rows) / applySeconds)) rows/s (run \(run.id), \(run.counts.inserted) inserted)"
            + clock.describe(cpu))
        var last = 0.0
        print("  phases: " + marks.map { name, t in
            defer { last = t }
            return "\(name) +\(fmt(t - last))"
        }.joined(separator: ", "))
        return (applySeconds, cpu.total)
    }

    /// Back to the state before the first pair: both loads' rows and the run deleted, both tables
    /// vacuumed (so neither load of the next pair meets the other's dead rows).
    private func reset(_ c: Connection) throws {
        try c.executeSimple(
            """
            DELETE FROM public.time_slots WHERE source = 'recovered';
            DELETE FROM public.time_slots_copy WHERE source = 'recovered';
            DELETE FROM recovery.run_slots; DELETE FROM recovery.run_drops; DELETE FROM recovery.runs;
            """)
        for table in ["public.time_slots", "public.time_slots_copy", "recovery.run_slots", "recovery.run_drops", "recovery.runs"] {
            try c.executeSimple("VACUUM ANALYZE \(table)")
        }
    }

    /// Schema, users, projects, tasks, memberships, `existing` slots (before the plan's window),
    /// offline entries (beside the window: checked, none overlapping), and the copy table.
    private func setUp(_ c: Connection) throws {
        // The session's search_path starts with pg_catalog (SessionSettings): the schema file's
        // unqualified names go to public.
        try c.executeSimple("SET search_path = public, pg_catalog")
        try c.executeSimple(try String(contentsOfFile: schema, encoding: .utf8))
        let perUser = existing / users
        try c.executeSimple(
            """
            INSERT INTO users (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, \(users)) g;
            INSERT INTO projects (id, company_id, name) SELECT g, 1, 'project ' || g FROM generate_series(1, 20) g;
            INSERT INTO tasks (id, project_id, name) SELECT g, (g - 1) % 20 + 1, 'task ' || g FROM generate_series(1, 100) g;
            INSERT INTO project_members (project_id, user_id) SELECT (g - 1) % 20 + 1, g FROM generate_series(1, \(users)) g;
            INSERT INTO time_slots (user_id, project_id, task_id, slot_start, source, status, activity_level, keystrokes,
                                    mouse_events, active_apps, note, updated_at)
            SELECT u, (u - 1) % 20 + 1, (u - 1) % 20 + 1, '2018-07-01T00:00:00Z'::timestamptz + i * interval '10 minutes',
                   'client', 'active', i % 11, 100 + i % 500, 300 + i % 900, '{Xcode,Safari}',
                   CASE WHEN i % 10 = 0 THEN 'note ' || i END, '2018-07-02T00:00:00Z'
            FROM generate_series(1, \(users)) u, generate_series(0, \(perUser - 1)) i;
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by)
            SELECT u, (u - 1) % 20 + 1, '2018-07-24T09:00:00Z'::timestamptz + k * interval '1 hour',
                   '2018-07-24T09:30:00Z'::timestamptz + k * interval '1 hour', u
            FROM generate_series(1, \(users)) u, generate_series(0, 4) k;
            CREATE TABLE public.time_slots_copy (LIKE public.time_slots INCLUDING ALL);
            ALTER TABLE time_slots_copy ADD FOREIGN KEY (user_id) REFERENCES users (id),
              ADD FOREIGN KEY (project_id) REFERENCES projects (id), ADD FOREIGN KEY (task_id) REFERENCES tasks (id);
            INSERT INTO time_slots_copy SELECT * FROM time_slots;
            """)
        try c.executeSimple("VACUUM ANALYZE")
        // Neither load may meet an autovacuum of the other's table.
        try c.executeSimple(
            """
            ALTER TABLE time_slots SET (autovacuum_enabled = off);
            ALTER TABLE time_slots_copy SET (autovacuum_enabled = off);
            """)
    }

    /// A plan of `rows` slots: `rows / users` consecutive slots per user from 2018-07-25T00:00Z.
    private func writePlan(to directory: String, for database: DatabaseIdentity) throws -> PlanDocument {
        let perUser = rows / users
        let from = Timestamp.parse("2018-07-25T00:00:00Z")!
        var slots: [FoldedSlot] = []
        slots.reserveCapacity(rows)
        for user in 1...Int64(users) {
            let project = (user - 1) % 20 + 1
            for i in 0..<perUser {
                let slot = TimeSlot(
                    key: SlotKey(userID: user, slotStart: from.adding(minutes: Int64(i) * 10)), projectID: project,
                    taskID: i % 3 == 0 ? nil : project, durationMinutes: 10, status: i % 2 == 0 ? .active : .idle,
                    activityLevel: Int16(i % 11), keystrokes: Int32(100 + i % 500), mouseEvents: Int32(300 + i % 900),
                    activeApps: ["Xcode", "Safari"], screenshotKey: nil, note: i % 10 == 0 ? "recovered note \(i)" : nil)
                slots.append(FoldedSlot(slot: slot, provenance: [
                    Provenance(kind: .log, location: SourceLocation(file: "logs/app-\(user % 4 + 1).log.lz4", line: Int(user) * 1000 + i)),
                ]))
            }
        }
        var resolution = Resolution()
        resolution.recovered = slots
        var fold = FoldResult()
        fold.slots = slots
        let window = Window(from: from, to: from.adding(minutes: Int64(perUser) * 10))
        let evidence = PlanEvidence(
            window: window, displayTimeZone: nil, shard: nil, database: database, inputs: [], hosts: [], fold: fold,
            resolution: resolution, readQuarantine: [], toolVersion: "bench", createdAt: from)
        return try PlanWriter.write(evidence, to: directory).document
    }

    /// The plan's rows as `time_slots` columns for `\copy`: the provenance column replaced by `source`.
    private func writeCopyFile(from rowsPath: String, to path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: rowsPath))
        var out = [UInt8]()
        out.reserveCapacity(data.count)
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var lineStart = 0
            var lastTab = -1
            for i in 0..<bytes.count {
                if bytes[i] == 0x09 { lastTab = i }
                if bytes[i] == 0x0A {
                    out.append(contentsOf: bytes[lineStart..<lastTab])
                    out.append(contentsOf: Array("\trecovered\n".utf8))
                    lineStart = i + 1
                }
            }
        }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }
}

private func timed<T>(_ body: () throws -> T) rethrows -> (Double, T) {
    let start = Date()
    let value = try body()
    return (Date().timeIntervalSince(start), value)
}

private func shell(_ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ValidationError("'\(command)' exited with \(process.terminationStatus)") }
}

private func fmt(_ x: Double) -> String { String(format: "%.2f", x) }

/// CPU seconds (user and system) spent so far by the server and by this process with its children
/// (psql): a figure that the other work on a shared machine moves much less than wall time. The
/// server's is read from /proc: the postmaster with the children it has reaped, and its live
/// children (backends, WAL writer, checkpointer); nil when the server is not on this machine.
struct CPUClock {
    struct Reading {
        var server: Double?
        var client: Double
        var total: Double { (server ?? 0) + client }

        static func - (a: Reading, b: Reading) -> Reading {
            Reading(server: a.server.flatMap { x in b.server.map { x - $0 } }, client: a.client - b.client)
        }
    }

    let postmaster: Int32?

    /// `serverPID`: a backend of the server (`pg_backend_pid()`); its parent is the postmaster.
    init(serverPID: Int32?) {
        postmaster = serverPID.flatMap { Self.stat($0) }.flatMap { Int32($0[1]) }
    }

    var measuresServer: Bool { postmaster.flatMap { Self.stat($0) } != nil }

    func now() -> Reading {
        var server: Double?
        if let postmaster, let own = Self.stat(postmaster) {
            // Fields after the command: state ppid ... utime (11), stime, cutime, cstime (14).
            var ticks = own[11...14].compactMap { Double($0) }.reduce(0, +)
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(entry), let fields = Self.stat(pid), fields[1] == String(postmaster) else { continue }
                ticks += fields[11...12].compactMap { Double($0) }.reduce(0, +)
            }
            server = ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        var own = rusage(), children = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        let client = [own.ru_utime, own.ru_stime, children.ru_utime, children.ru_stime]
            .map { Double($0.tv_sec) + Double($0.tv_usec) / 1e6 }.reduce(0, +)
        return Reading(server: server, client: client)
    }

    func describe(_ cpu: Reading) -> String {
        guard let server = cpu.server else { return "" }
        return "; CPU: server \(fmt(server)) s, client \(fmt(cpu.client)) s"
    }

    /// The fields of /proc/PID/stat after the command name (which may hold spaces): state first.
    private static func stat(_ pid: Int32) -> [String]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").map(String.init)
    }
}
