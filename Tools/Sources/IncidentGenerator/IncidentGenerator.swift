import ArgumentParser
import Foundation
import RecoveryModel

/// `incident-generator`: makes a realistic incident, deterministically from a seed, with the
/// ground truth of what recovery must give.
@main
struct IncidentGenerator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident-generator",
        abstract: "Generate an incident: logs of several hosts, live and backup database rows, and expected.json.",
        discussion: """
            Writes DIR/logs/<host>/*.jsonl.lz4 (and one plain .log), DIR/db/{reference,live,backup}.sql \
            (COPY blocks for psql after fixtures/schema.sql) and DIR/expected.json. \
            scripts/make-incident.sh loads them into PostgreSQL and takes the pg_dump snapshot.
            """)

    @Option(help: "Seed of the pseudo-random generator: the same seed gives the same incident.")
    var seed: UInt64 = 1

    @Option(help: "Number of users.")
    var users: Int = 12

    @Option(help: "Length of the lost window, in hours.")
    var hours: Int = 3

    @Option(name: .customLong("window-start"), help: "Start of the lost window (RFC 3339, aligned to 10 minutes).")
    var windowStart: String = "2018-07-25T14:50:00Z"

    @Option(help: "Number of app servers writing logs (2-26).")
    var hosts: Int = 3

    @Option(name: .customLong("malformed-rate"), help: "Share of the window's slot events followed by a malformed line.")
    var malformedRate: Double = 0.002

    @Option(name: .customLong("history-days"), help: "Days of ordinary slots before the logs, in both databases.")
    var historyDays: Int = 0

    @Option(help: "Output directory (created; files in it are replaced).")
    var out: String

    func validate() throws {
        guard let t = Timestamp.parse(windowStart) else {
            throw ValidationError("'--window-start' must be an RFC 3339 time with 'Z' or an offset, like 2018-07-25T14:50:00Z")
        }
        guard t.isSlotAligned else { throw ValidationError("'--window-start' must be on a 10-minute boundary") }
        guard users >= 5 else { throw ValidationError("'--users' must be at least 5") }
        guard (1...48).contains(hours) else { throw ValidationError("'--hours' must be between 1 and 48") }
        guard (2...26).contains(hosts) else { throw ValidationError("'--hosts' must be between 2 and 26") }
        guard (0...0.5).contains(malformedRate) else { throw ValidationError("'--malformed-rate' must be between 0 and 0.5") }
        guard (0...30).contains(historyDays) else { throw ValidationError("'--history-days' must be between 0 and 30") }
    }

    func run() throws {
        let started = Date()
        let dir = URL(fileURLWithPath: out)
        let fm = FileManager.default
        for sub in ["logs", "db", "expected.json"] { try? fm.removeItem(at: dir.appendingPathComponent(sub)) }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let options = GeneratorOptions(
            seed: seed, users: users, hours: hours, windowStart: Timestamp.parse(windowStart)!.microseconds,
            hosts: hosts, malformedRate: malformedRate, historyDays: historyDays, out: dir)
        do {
            let incident = try Incident(options: options)
            try incident.run()
            let expected = ExpectedWriter(incident: incident).expected()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try (encoder.encode(expected) + Data([10])).write(to: dir.appendingPathComponent("expected.json"))
            let seconds = Date().timeIntervalSince(started)
            let bytes = expected.files.reduce(0) { $0 + $1.bytes }
            let plain = expected.files.reduce(0) { $0 + $1.uncompressed_bytes }
            FileHandle.standardError.write(Data("""
                incident-generator: seed \(seed), \(users) users, window \(expected.window.from) to \(expected.window.to), \(hosts) hosts
                  logs: \(expected.files.count) files, \(expected.lines.total) readable lines, \(plain) bytes of text, \(bytes) bytes on disk
                  db: \(expected.database.live_time_slots) live slots, \(expected.database.snapshot_rows) backup rows, \(expected.database.offline_entries) offline entries
                  truth: \(expected.plan.recovered) recovered, \(expected.plan.already_present) already present, \(expected.plan.offline_overlap) offline overlap, \(expected.plan.deleted) deleted, \(expected.plan.quarantined) quarantined
                  wrote \(out) in \(String(format: "%.1f", seconds)) s

                """.utf8))
        } catch let error as GeneratorError {
            throw ValidationError("incident-generator: \(error.description)")
        }
    }
}

/// Turns the incident's truth into `expected.json`.
struct ExpectedWriter {
    let incident: Incident

    func expected() -> Expected {
        let tl = incident.timeline
        var truth = incident.truth
        let world = incident.world
        let s = TimeText.string
        truth.recovered.sort { ($0.user, $0.slot) < ($1.user, $1.slot) }
        let keysHash = SHA256(), rowsHash = SHA256()
        var buffer: [UInt8] = []
        for r in truth.recovered {
            buffer.removeAll(keepingCapacity: true)
            Canonical.keyLine(r.user, r.slot, into: &buffer)
            keysHash.update(buffer)
            buffer.removeAll(keepingCapacity: true)
            Canonical.rowLine(r, apps: incident.apps, notes: incident.notes, into: &buffer)
            rowsHash.update(buffer)
        }
        let files = incident.logs.files.filter { $0.frames > 0 }.map { f in
            Expected.File(
                path: "logs/" + f.name, host: incident.hostNames[f.host], format: f.plain ? "plain" : "lz4-frames",
                frames: f.frames, lines_written: f.lines, lines_readable: f.lines - f.lostLines, truncated: f.truncated,
                bytes: f.fileBytes, uncompressed_bytes: f.plainBytes)
        }
        var reasons = truth.reasons
        let quarantinedSlots = truth.outcomes[.quarantined, default: 0]
        for (k, v) in reasons where v == 0 { reasons[k] = nil }
        let candidates = Outcome.allCases.filter { $0 != .deleted }.reduce(0) { $0 + truth.outcomes[$1, default: 0] }
        var keys: Expected.Keys?
        if candidates + truth.outcomes[.deleted, default: 0] <= 3000 {
            func list(_ o: Outcome) -> [String] {
                (truth.keys[o] ?? []).sorted { $0 < $1 }.map { "\($0.0)@\(s($0.1))" }
            }
            keys = Expected.Keys(recovered: list(.recovered), already_present: list(.alreadyPresent),
                                 offline_overlap: list(.offlineOverlap), deleted: list(.deleted), quarantined: list(.quarantined))
        }
        var kinds: [String: Int] = [:]
        for e in world.offline { kinds[e.kind.rawValue, default: 0] += 1 }
        let o = incident.options
        return Expected(
            generator: .init(seed: o.seed, users: o.users, hours: o.hours, hosts: o.hosts, window_start: s(o.windowStart),
                             malformed_rate: o.malformedRate, history_days: o.historyDays),
            window: .init(from: s(tl.from), to: s(tl.to)),
            times: .init(logs_from: s(tl.logStart), logs_to: s(tl.logEnd), backup_taken_at: s(tl.backup),
                         crashed_host: incident.hostNames[tl.crashHost], crash: s(tl.crash), lost_frame_from: s(tl.lostStart),
                         restart: s(tl.restart)),
            files: files,
            lines: .init(total: truth.lines, uploads: truth.uploads, processed: truth.processed, deleted: truth.deleted,
                         other_events: truth.otherEvents, quarantined: truth.quarantinedLines,
                         in_window: .init(uploads: truth.inWindowUploads, processed: truth.inWindowProcessed, deleted: truth.inWindowDeleted)),
            logs_only: .init(slots: truth.logsOnly.slots, deleted: truth.logsOnly.deleted,
                             duplicates: truth.logsOnly.duplicates, orphans: truth.logsOnly.orphans),
            plan: .init(candidates: candidates, recovered: truth.outcomes[.recovered, default: 0],
                        recovered_minutes: truth.recovered.reduce(0) { $0 + Int($1.version.duration) },
                        already_present: truth.outcomes[.alreadyPresent, default: 0],
                        offline_overlap: truth.outcomes[.offlineOverlap, default: 0],
                        deleted: truth.outcomes[.deleted, default: 0], orphans: truth.orphans, duplicates: truth.duplicates,
                        quarantined: truth.quarantinedLines + quarantinedSlots, quarantined_lines: truth.quarantinedLines,
                        quarantined_slots: quarantinedSlots, quarantined_by_reason: reasons),
            recovered_keys_sha256: keysHash.finalize(),
            recovered_rows_sha256: rowsHash.finalize(),
            database: .init(users: world.users.count, projects: world.projects.count,
                            tasks: world.projects.reduce(0) { $0 + $1.tasks.count },
                            project_members: world.users.reduce(0) { $0 + $1.projects.count },
                            offline_entries: world.offline.count, live_time_slots: truth.liveRows,
                            live_time_slots_in_window: truth.liveWindowRows, snapshot_rows: truth.snapshotRows,
                            snapshot_rows_in_window: truth.snapshotWindowRows,
                            snapshot_rows_in_window_missing_from_live: truth.snapshotWindowMissingFromLive,
                            snapshot_rows_in_window_changed_in_live: truth.snapshotWindowChangedInLive,
                            offline_entries_by_kind: kinds),
            coverage: truth.coverage,
            slots_left_out_as_ambiguous: truth.discarded,
            keys: keys)
    }
}
