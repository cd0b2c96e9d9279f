import GeneratorRandom
import Foundation

/// What the generator is asked for.
struct GeneratorOptions {
    var seed: UInt64
    var users: Int
    var hours: Int
    var windowStart: Int64
    var hosts: Int
    var malformedRate: Double
    var historyDays: Int
    var out: URL
}

/// Generates one incident: walks the timeline slot by slot, draws each slot's events, works out
/// the backup and live database rows they leave, folds what survives in the logs by the rules of
/// CONTRACT §5 (the ground truth), and writes lines, rows and the truth out.
final class Incident {
    /// Twists of a worked slot's story; each is forced once into the window so that small
    /// incidents (the demo) hold every case, then drawn at random.
    enum Twist: CaseIterable {
        case retrySameHost, retryOtherHost, processedOtherHost, unprocessed, change, delete, deleteReupload,
             tieTwoHosts, tieDeleteUpload, late
    }

    /// Records about a slot the user did not work.
    enum Standalone: CaseIterable {
        case orphan, unknownUser, unknownProject, unknownTask, taskOfAnotherProject, notAMember

        var reason: String? {
            switch self {
            case .orphan: nil
            case .unknownUser: "unknown_user"
            case .unknownProject: "unknown_project"
            case .unknownTask: "unknown_task"
            case .taskOfAnotherProject: "task_of_another_project"
            case .notAMember: "not_a_member"
            }
        }
    }

    let options: GeneratorOptions
    let timeline: Timeline
    var world: World
    var rng: Xoshiro256
    let apps: [AppList]
    let notes = Texts.notes
    let encoder: LineEncoder
    let hostNames: [String]
    let hostRank: [Int]
    let logs: LogWriter
    var truth = Truth()

    private var scratch: [Event] = []
    private var order: [Int] = []
    private var survives: [Bool] = []
    private var forcedTwists = Twist.allCases
    private var forcedStandalone = Standalone.allCases
    private var forcedMalformed = Malformation.allCases
    private var nextRequest: UInt64 = 1
    private var nextRowID: Int64 = 1
    private var nextRestoredID: Int64 = 900_000_000
    private var unknownUsers: Int64 = 0
    private var liveRows: CopyFile!
    private var backupRows: CopyFile!

    init(options: GeneratorOptions) throws {
        self.options = options
        timeline = Timeline(from: options.windowStart, hours: options.hours, users: options.users, hosts: options.hosts)
        rng = Xoshiro256(seed: options.seed)
        world = World(users: options.users, timeline: timeline, rng: &rng)
        apps = Texts.appLists(&rng, count: 64)
        let names = (1...options.hosts).map { "app-\($0)" }
        hostNames = names
        let sorted = names.indices.sorted { names[$0] < names[$1] }
        var rank = Array(repeating: 0, count: options.hosts)
        for (r, h) in sorted.enumerated() { rank[h] = r }
        hostRank = rank
        encoder = LineEncoder(hostJSON: names.map { EncodedText.jsonString($0, ascii: false) }, apps: apps, notes: notes)
        let tl = timeline
        let (files, frames) = Self.layout(timeline: tl, hostNames: names)
        logs = try LogWriter(dir: options.out.appendingPathComponent("logs"), hostNames: names,
                             start: tl.logStart, end: tl.logEnd, files: files, frames: frames,
                             lz4: try Self.findExecutable("lz4"))
    }

    // MARK: - Layout of the log files

    /// Files rotate every `rotation`, frames every `frameLength`; the crashed host's file ends at
    /// the crash with a short last frame (cut later) and a new file starts at the restart. The last
    /// host's first file is plain text.
    static func layout(timeline: Timeline, hostNames: [String]) -> ([LogFileSpec], [[FrameSpec]]) {
        var files: [LogFileSpec] = []
        var frames: [[FrameSpec]] = Array(repeating: [], count: hostNames.count)
        let optionSets: [[String]] = [
            ["-B4"], ["-B4", "--content-size"], ["-B5", "--no-frame-crc"], ["-BD", "-B4"],
            ["-B6", "-BX"], ["-B7", "--content-size", "--no-frame-crc"],
        ]
        for (h, host) in hostNames.enumerated() {
            var ranges: [(Int64, Int64, Bool)] = []   // start, end, crashed
            var t = timeline.logStart
            while t < timeline.logEnd {
                let next = min(timeline.logEnd, t + timeline.rotation)
                if h == timeline.crashHost, timeline.crash >= t, timeline.crash < next {
                    ranges.append((t, timeline.crash, true))
                    if timeline.restart < next { ranges.append((timeline.restart, next, false)) }
                } else if h == timeline.crashHost, t < timeline.restart, next > timeline.restart, t > timeline.crash {
                    ranges.append((timeline.restart, next, false))
                } else if !(h == timeline.crashHost && t >= timeline.crash && next <= timeline.restart) {
                    ranges.append((t, next, false))
                }
                t = next
            }
            for (start, end, crashed) in ranges {
                let plain = h == hostNames.count - 1 && start == timeline.logStart
                let name = "\(host)/\(host)-\(TimeText.compact(start))" + (plain ? ".log" : ".jsonl.lz4")
                let file = files.count
                files.append(LogFileSpec(host: h, name: name, start: start, end: end, plain: plain, truncated: crashed))
                var cuts: [Int64] = []
                var c = start
                while c < end { cuts.append(c); c = (c - timeline.logStart) / timeline.frameLength * timeline.frameLength + timeline.logStart + timeline.frameLength }
                if crashed {
                    cuts.removeAll { $0 >= timeline.lostStart }
                    cuts.append(timeline.lostStart)
                }
                for (k, s) in cuts.enumerated() {
                    let e = k + 1 < cuts.count ? cuts[k + 1] : end
                    let last = k == cuts.count - 1
                    // The frame the crash cut is one 4 MiB block, so a reader gets nothing of it.
                    let options = crashed && last ? ["-B7", "--content-size"] : optionSets[(file + k) % optionSets.count]
                    frames[h].append(FrameSpec(file: file, start: s, end: e, options: options, last: last))
                }
            }
        }
        return (files, frames)
    }

    static func findExecutable(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw GeneratorError("cannot find '\(name)' on PATH; install it (apt-get install \(name))")
    }

    // MARK: - Run

    func run() throws {
        let db = options.out.appendingPathComponent("db")
        try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
        try writeReference(db.appendingPathComponent("reference.sql"))
        liveRows = try CopyFile(db.appendingPathComponent("live.sql"))
        backupRows = try CopyFile(db.appendingPathComponent("backup.sql"))
        try writeOffline(liveRows)
        liveRows.text("COPY time_slots (\(CopyFile.timeSlotColumns)) FROM stdin;\n")
        backupRows.text("-- time_slots as of the backup taken at \(TimeText.string(timeline.backup))\n")
        backupRows.text("COPY time_slots (\(CopyFile.timeSlotColumns)) FROM stdin;\n")
        try writeHistory()

        var cursor = Array(repeating: 0, count: world.users.count)
        for i in 0..<timeline.slotCount {
            let t = timeline.slotStart(i)
            otherLines(at: t)
            for u in world.users.indices {
                let sessions = world.users[u].sessions
                while cursor[u] < sessions.count, sessions[cursor[u]].end <= i { cursor[u] += 1 }
                if cursor[u] < sessions.count, sessions[cursor[u]].start <= i {
                    try workedSlot(user: u, index: i, session: sessions[cursor[u]])
                } else if timeline.inWindow(t) {
                    try idleSlot(user: u, index: i)
                }
            }
            try logs.flush(before: t + Timeline.slot)
        }
        try logs.finish()
        for (rows, table) in [(liveRows!, "live"), (backupRows!, "backup")] {
            rows.text("\\.\n\n")
            rows.text("SELECT pg_catalog.setval('time_slots_id_seq', \(max(nextRowID, nextRestoredID)), false);\n")
            if table == "live" { rows.text("SELECT pg_catalog.setval('offline_entries_id_seq', \(world.offline.count + 1), false);\n") }
            try rows.close()
        }
        truth.liveBytes = liveRows.bytes
        truth.backupBytes = backupRows.bytes
        let readable = logs.files.reduce(0) { $0 + $1.lines - $1.lostLines }
        guard readable == truth.lines else {
            throw GeneratorError("internal: \(readable) readable lines written but \(truth.lines) counted")
        }
    }

    // MARK: - Reference data, offline time, history

    private func writeReference(_ url: URL) throws {
        let f = try CopyFile(url)
        f.text("-- Reference data of the incident (seed \(options.seed)): users, projects, tasks, memberships.\n")
        f.text("COPY users (id, email, time_zone) FROM stdin;\n")
        for u in world.users {
            f.text("\(u.id)\tuser\(u.id)@company\(u.company + 1).example\t\(Texts.timeZones[u.timeZone])\n")
        }
        f.text("\\.\n\nCOPY projects (id, company_id, name) FROM stdin;\n")
        for p in world.projects { f.text("\(p.id)\t\(p.company + 1)\tProject \(p.id) of company \(p.company + 1)\n") }
        f.text("\\.\n\nCOPY tasks (id, project_id, name) FROM stdin;\n")
        for p in world.projects {
            for (k, t) in p.tasks.enumerated() { f.text("\(t)\t\(p.id)\t\(["Design", "Build", "Review", "Support", "Meetings", "Ops"][k % 6]) \(t)\n") }
        }
        f.text("\\.\n\nCOPY project_members (project_id, user_id) FROM stdin;\n")
        for u in world.users { for p in u.projects { f.text("\(world.projects[p].id)\t\(u.id)\n") } }
        f.text("\\.\n")
        try f.close()
        truth.referenceBytes = f.bytes
    }

    private func writeOffline(_ f: CopyFile) throws {
        f.text("-- Live database after the incident (seed \(options.seed)): offline time users added, then time_slots.\n")
        f.text("COPY offline_entries (id, user_id, project_id, task_id, starts_at, ends_at, added_by, reason, created_at) FROM stdin;\n")
        for e in world.offline {
            try f.row { out in
                out.appendInt(e.id); out.append(9); out.appendInt(e.user); out.append(9); out.appendInt(e.project); out.append(9)
                if e.task < 0 { out.appendASCII("\\N") } else { out.appendInt(e.task) }
                out.append(9); TimeText.postgres(e.starts, into: &out)
                out.append(9); TimeText.postgres(e.ends, into: &out)
                out.append(9); out.appendInt(e.addedBy)
                out.append(9); out.append(contentsOf: Texts.offlineReasons[e.reason].copy)
                out.append(9); TimeText.postgres(e.created, into: &out)
            }
        }
        f.text("\\.\n\n")
    }

    /// Days of ordinary work before the generated slots: the same rows in live and in the backup.
    private func writeHistory() throws {
        let day: Int64 = 24 * 60 * TimeText.minute
        for d in stride(from: options.historyDays, through: 1, by: -1) {
            let dayStart = timeline.genStart - Int64(d) * day
            for u in world.users where !u.sessions.isEmpty {
                var t = dayStart + Int64(rng.int(0...48)) * Timeline.slot
                for _ in 0..<rng.int(2...4) {
                    let project = world.projects[u.projects[rng.below(u.projects.count)]]
                    let task = rng.chance(0.15) ? -1 : project.tasks[rng.below(project.tasks.count)]
                    for _ in 0..<rng.int(3...15) where t < dayStart + day {
                        var v = drawVersion(project: project.id, task: task, duration: 10)
                        process(&v)
                        v.updatedAt = t + Timeline.slot + rng.int64(1_000_000...120_000_000) / 1000 * 1000
                        let id = nextRowID
                        nextRowID += 1
                        try liveRows.row { CopyFile.timeSlot(id: id, user: u.id, slot: t, v, apps: apps, notes: notes, into: &$0) }
                        try backupRows.row { CopyFile.timeSlot(id: id, user: u.id, slot: t, v, apps: apps, notes: notes, into: &$0) }
                        truth.liveRows += 1
                        truth.snapshotRows += 1
                        t += Timeline.slot
                    }
                    t += Int64(rng.int(1...6)) * Timeline.slot
                }
            }
        }
    }

    // MARK: - Drawing events

    private func drawVersion(project: Int64, task: Int64, duration: Int16) -> Version {
        let idle = rng.chance(0.1)
        return Version(
            project: project, task: task, duration: duration,
            keystrokes: Int32(idle ? rng.int(0...30) : rng.int(0...2500)),
            mouse: Int32(idle ? rng.int(0...60) : rng.int(0...4000)),
            apps: Int32(rng.below(apps.count)), note: rng.chance(0.12) ? Int32(rng.below(notes.count)) : -1,
            screenshot: rng.chance(0.85))
    }

    /// What the server's processing sets: activity from the counts, active from level 2.
    private func process(_ v: inout Version) {
        v.activity = Int8(min(10, (Int(v.keystrokes) + Int(v.mouse) / 2) / 300))
        v.status = v.activity >= 2 ? 1 : 2
    }

    /// A host that is up at `ts`: the crashed one takes no requests until its restart.
    private func host(at ts: Int64, preferred: Int? = nil, avoiding: Int? = nil) -> Int {
        var h = preferred ?? rng.below(options.hosts)
        for _ in 0..<options.hosts {
            let down = h == timeline.crashHost && ts >= timeline.crash && ts < timeline.restart
            if !down, h != avoiding { return h }
            h = (h + 1) % options.hosts
        }
        return h
    }

    private func time(_ base: Int64, plus range: ClosedRange<Int64>) -> Int64 {
        let t = base + rng.int64(range)
        // Most servers log milliseconds; some lines carry microseconds.
        return rng.chance(0.85) ? t / 1000 * 1000 : t
    }

    private func event(_ kind: Event.Kind, _ time: Int64, host: Int, request: UInt64 = 0, fields: Version) -> Event {
        Event(time: time, kind: kind, host: host, request: request, fields: fields, style: rng.next())
    }

    private func newRequest() -> UInt64 {
        defer { nextRequest += 1 }
        return nextRequest
    }

    private func workedSlot(user u: Int, index i: Int, session: Session) throws {
        let t = timeline.slotStart(i)
        let userID = world.users[u].id
        let minute = TimeText.minute
        if i == session.start, rng.chance(0.5) {
            let ts = time(t, plus: 0...60_000_000)
            let h = host(at: ts)
            if logs.covers(ts) {
                logs.add(host: h, ts: ts) { encoder.other(1, host: h, ts: ts, user: userID, into: &$0) }
                if survives(host: h, ts) { truth.lines += 1; truth.otherEvents += 1 }
            }
        }
        var twist: Twist?
        let lostCandidate = timeline.inWindow(t)
        if lostCandidate, !forcedTwists.isEmpty, rng.chance(0.25) {
            let k = forcedTwists.firstIndex { $0 != .late || t + 185 * minute > timeline.to }
            if let k { twist = forcedTwists.remove(at: k) }
        }
        if twist == nil {
            let r = rng.below(1000)
            twist = r < 20 ? .retrySameHost : r < 40 ? .retryOtherHost : r < 90 ? .unprocessed : r < 105 ? .change
                : r < 115 ? .delete : r < 125 ? .deleteReupload : r < 128 ? .tieTwoHosts : r < 131 ? .tieDeleteUpload
                : r < 180 ? .processedOtherHost : nil
        }
        let forced = lostCandidate && twist != nil

        scratch.removeAll(keepingCapacity: true)
        let duration = i == session.end - 1 ? session.lastDuration : 10
        let fields = drawVersion(project: world.projects[session.project].id, task: session.task, duration: duration)
        let slotEnd = t + Timeline.slot
        var delay: Int64
        if twist == .late {
            delay = max(timeline.to - slotEnd + minute, 0) + rng.int64(0...(5 * minute))
        } else {
            let r = rng.below(100)
            delay = r < 80 ? rng.int64(1_000_000...120_000_000) : r < 94 ? rng.int64(2 * minute...(30 * minute))
                : rng.int64(30 * minute...(180 * minute))
            if lostCandidate, twist != nil, slotEnd + delay >= timeline.to { delay = rng.int64(1_000_000...60_000_000) }
        }
        let tu = time(slotEnd, plus: min(delay, 180 * minute)...min(delay, 180 * minute))
        let h = host(at: tu)
        let r1 = newRequest()
        scratch.append(event(.upload, tu, host: h, request: r1, fields: fields))
        var last = tu
        if twist != .unprocessed {
            var p = fields
            process(&p)
            let tp = time(tu, plus: 50_000...4_000_000)
            let ph = twist == .processedOtherHost ? host(at: tp, avoiding: h) : host(at: tp, preferred: h)
            scratch.append(event(.processed, tp, host: ph, fields: p))
            last = tp
        }
        switch twist {
        case .retrySameHost, .retryOtherHost:
            let tr = time(tu, plus: 300_000...90_000_000)
            let rh = twist == .retrySameHost ? host(at: tr, preferred: h) : host(at: tr, avoiding: h)
            scratch.append(event(.upload, tr, host: rh, request: r1, fields: fields))
            if rng.chance(0.2) {
                let tr2 = time(tr, plus: 1_000_000...120_000_000)
                scratch.append(event(.upload, tr2, host: host(at: tr2), request: r1, fields: fields))
            }
        case .change:
            var changed = fields
            changed.note = (fields.note + 1) % Int32(notes.count)
            changed.keystrokes += 17
            let tc = time(last, plus: 5 * minute...(90 * minute))
            let ch = host(at: tc)
            scratch.append(event(.upload, tc, host: ch, request: newRequest(), fields: changed))
            var p = changed
            process(&p)
            let tp = time(tc, plus: 50_000...3_000_000)
            scratch.append(event(.processed, tp, host: host(at: tp, preferred: ch), fields: p))
        case .delete, .deleteReupload:
            let td = time(last, plus: 2 * minute...(120 * minute))
            scratch.append(event(.deleted, td, host: host(at: td), fields: fields))
            if twist == .deleteReupload {
                let tr = time(td, plus: 1 * minute...(60 * minute))
                let rh = host(at: tr)
                var again = fields
                again.keystrokes += 3
                scratch.append(event(.upload, tr, host: rh, request: newRequest(), fields: again))
                process(&again)
                let tp = time(tr, plus: 50_000...3_000_000)
                scratch.append(event(.processed, tp, host: host(at: tp, preferred: rh), fields: again))
            }
        case .tieTwoHosts:
            // Two different uploads of one slot at the same instant: the host name decides.
            let other = host(at: tu, avoiding: h)
            if other != h {
                var second = fields
                second.keystrokes += 11
                second.note = 0
                scratch.append(event(.upload, tu, host: other, request: newRequest(), fields: second))
            }
        case .tieDeleteUpload:
            // A re-upload and a deletion at the same instant: the deletion applies last.
            let tx = time(last, plus: 2 * minute...(60 * minute))
            let a = host(at: tx)
            scratch.append(event(.upload, tx, host: a, request: newRequest(), fields: fields))
            scratch.append(event(.deleted, tx, host: host(at: tx), fields: fields))
        default:
            break
        }
        if try !settle(user: u, userID: userID, slot: t, bad: nil), forced, let twist {
            forcedTwists.append(twist)
        }
    }

    private func idleSlot(user u: Int, index i: Int) throws {
        let t = timeline.slotStart(i)
        var kind: Standalone?
        var forced = false
        if !forcedStandalone.isEmpty, rng.chance(0.05) {
            kind = forcedStandalone.removeFirst()
            forced = true
        } else {
            let r = rng.below(10_000)
            kind = r < 30 ? .orphan : r < 32 ? .unknownUser : r < 34 ? .unknownProject : r < 36 ? .unknownTask
                : r < 38 ? .taskOfAnotherProject : r < 40 ? .notAMember : nil
        }
        guard let kind else { return }
        let user = world.users[u]
        var userID = user.id
        let ts = time(t + Timeline.slot, plus: 1_000_000...(rng.chance(0.9) ? 120_000_000 : 40 * TimeText.minute))
        let h = host(at: ts)
        let own = world.projects[user.projects[0]]
        var fields = drawVersion(project: own.id, task: own.tasks[0], duration: 10)
        scratch.removeAll(keepingCapacity: true)
        switch kind {
        case .orphan:
            process(&fields)
            scratch.append(event(.processed, ts, host: h, fields: fields))
        case .unknownUser:
            unknownUsers += 1
            userID = 900_000 + unknownUsers
        case .unknownProject:
            fields.project = 99_000 + Int64(rng.int(0...999))
            fields.task = -1
        case .unknownTask:
            fields.task = 9_900_000 + Int64(rng.int(0...9999))
        case .taskOfAnotherProject:
            let others = world.projects.filter { $0.id != own.id }
            fields.task = others[rng.below(others.count)].tasks[0]
        case .notAMember:
            let outside = world.projects.indices.filter { !user.projects.contains($0) }
            guard !outside.isEmpty else { return }
            let p = world.projects[outside[rng.below(outside.count)]]
            fields.project = p.id
            fields.task = rng.chance(0.5) ? -1 : p.tasks[0]
        }
        if kind != .orphan { scratch.append(event(.upload, ts, host: h, request: newRequest(), fields: fields)) }
        if try !settle(user: u, userID: userID, slot: t, bad: kind.reason), forced {
            forcedStandalone.append(kind)
        }
    }

    /// Heartbeats every five minutes per host (so a quiet host shows no false gap), the crashed
    /// host's last words, and its restart.
    private func otherLines(at t: Int64) {
        for h in 0..<options.hosts {
            for k in 0..<2 {
                let ts = t + Int64(k) * 5 * TimeText.minute + Int64(h) * 7_000_000 + 250_000
                let down = h == timeline.crashHost && ts >= timeline.crash && ts < timeline.restart
                guard !down, logs.covers(ts) else { continue }
                logs.add(host: h, ts: ts) { encoder.other(0, host: h, ts: ts, user: 0, into: &$0) }
                if survives(host: h, ts) { truth.lines += 1; truth.otherEvents += 1 }
            }
        }
        let lastWords = timeline.crash - 500_000
        if lastWords >= t, lastWords < t + Timeline.slot, logs.covers(lastWords) {
            logs.add(host: timeline.crashHost, ts: lastWords) { encoder.other(2, host: timeline.crashHost, ts: lastWords, user: World.userID(0), into: &$0) }
        }
        if timeline.restart >= t, timeline.restart < t + Timeline.slot, logs.covers(timeline.restart) {
            logs.add(host: timeline.crashHost, ts: timeline.restart) { encoder.other(3, host: timeline.crashHost, ts: timeline.restart, user: 0, into: &$0) }
            truth.lines += 1
            truth.otherEvents += 1
        }
    }

    // MARK: - Settling one slot: database rows, truth, lines

    /// True when a log line at `ts` on `host` can be read back (not in the crashed frame).
    func survives(host: Int, _ ts: Int64) -> Bool {
        logs.covers(ts) && !(host == timeline.crashHost && ts >= timeline.lostStart && ts < timeline.crash)
    }

    /// The database's own view of the slot's events: the last version at the end of `[from, through]`.
    private func simulate(from: Int64?, through: Int64?) -> Version? {
        var v: Version?
        for (n, k) in order.enumerated() {
            let e = scratch[k]
            if let from, e.time < from { continue }
            if let through, e.time > through { continue }
            switch e.kind {
            case .upload:
                let repeated = order[..<n].contains { j in
                    scratch[j].kind == .upload && scratch[j].request == e.request
                        && (from.map { scratch[j].time >= $0 } ?? true) && (through.map { scratch[j].time <= $0 } ?? true)
                }
                if repeated { continue }
                v = e.fields
                v!.status = 0
                v!.activity = -1
                v!.updatedAt = e.time
            case .processed:
                if v != nil { v!.status = e.fields.status; v!.activity = e.fields.activity; v!.updatedAt = e.time }
            case .deleted:
                v = nil
            case .snapshot:
                break
            }
        }
        return v
    }

    struct Folded {
        var version: Version?
        var deleted = false
        var lastDuration: Int16 = 10
        var duplicates = 0
        var orphans = 0
        var ambiguous = false
        var versionFromSnapshot = false
        var snapshotThenDeleted = false
        var snapshotThenChanged = false
        var reuploadAfterDeletion = false
    }

    /// CONTRACT §5.2 over the events a reader gets back, plus the backup's row when given.
    private func fold(snapshot: Version?) -> Folded {
        var f = Folded()
        var pending = snapshot
        var sawSnapshot = false
        func applySnapshot() {
            f.version = pending
            f.deleted = false
            f.versionFromSnapshot = true
            sawSnapshot = true
            pending = nil
        }
        for (n, k) in order.enumerated() where survives[k] {
            let e = scratch[k]
            if let s = pending, s.updatedAt <= e.time { applySnapshot() }
            switch e.kind {
            case .upload:
                let repeated = order[..<n].contains { j in survives[j] && scratch[j].kind == .upload && scratch[j].request == e.request }
                if repeated { f.duplicates += 1; continue }
                if f.deleted { f.reuploadAfterDeletion = true }
                if sawSnapshot { f.snapshotThenChanged = true }
                f.version = e.fields
                f.version!.status = 0
                f.version!.activity = -1
                f.deleted = false
                f.versionFromSnapshot = false
            case .processed:
                if f.version == nil { f.orphans += 1 } else { f.version!.status = e.fields.status; f.version!.activity = e.fields.activity }
            case .deleted:
                // A deletion with nothing to delete reads two ways: such slots are not generated.
                guard let v = f.version else { f.ambiguous = true; continue }
                f.lastDuration = v.duration
                f.version = nil
                f.deleted = true
                if sawSnapshot { f.snapshotThenDeleted = true }
            case .snapshot:
                break
            }
        }
        if pending != nil { applySnapshot() }
        return f
    }

    private func overlapsOffline(user u: Int?, from: Int64, to: Int64) -> Bool {
        guard let u else { return false }
        return world.offlineByUser[u].contains { $0.0 < to && from < $0.1 }
    }

    private func touchesOffline(user u: Int, from: Int64, to: Int64) -> Bool {
        world.offlineByUser[u].contains { $0.0 == to || $0.1 == from }
    }

    /// Works out the slot in `scratch`; returns false (and writes nothing) when a rule would read
    /// it two ways, so that the truth never depends on an unwritten choice.
    private func settle(user u: Int, userID: Int64, slot t: Int64, bad: String?) throws -> Bool {
        let n = scratch.count
        order.removeAll(keepingCapacity: true)
        order.append(contentsOf: 0..<n)
        order.sort { a, b in
            let x = scratch[a], y = scratch[b]
            if x.time != y.time { return x.time < y.time }
            if x.kind != y.kind { return x.kind.rawValue < y.kind.rawValue }
            if x.host != y.host { return hostRank[x.host] < hostRank[y.host] }
            return a < b
        }
        survives.removeAll(keepingCapacity: true)
        for e in scratch { survives.append(survives(host: e.host, e.time)) }
        let inWindow = timeline.inWindow(t)
        var snapshot: Version?
        var live: Version?
        if bad == nil {
            snapshot = simulate(from: nil, through: timeline.backup)
            live = inWindow ? simulate(from: timeline.to, through: nil) : simulate(from: nil, through: nil)
        }
        let minute = TimeText.minute
        var outcome: Outcome?
        var f = Folded(), g = Folded()
        if inWindow {
            f = fold(snapshot: snapshot)
            g = fold(snapshot: nil)
            if f.ambiguous || g.ambiguous { truth.discarded += 1; return false }
            if let v = f.version {
                let end = t + Int64(v.duration) * minute
                let overlap = overlapsOffline(user: bad == "unknown_user" ? nil : u, from: t, to: end)
                let rules = (live != nil ? 1 : 0) + (overlap ? 1 : 0) + (bad != nil ? 1 : 0)
                if rules > 1 { truth.discarded += 1; return false }
                outcome = live != nil ? .alreadyPresent : overlap ? .offlineOverlap : bad != nil ? .quarantined : .recovered
            } else if f.deleted {
                if live != nil || overlapsOffline(user: u, from: t, to: t + Int64(f.lastDuration) * minute) {
                    truth.discarded += 1
                    return false
                }
                outcome = .deleted
            } else if live != nil {
                truth.discarded += 1
                return false
            }
        }

        // The slot is kept: count it, then write its rows and lines.
        if inWindow {
            truth.duplicates += f.duplicates
            truth.orphans += f.orphans
            truth.logsOnly.duplicates += g.duplicates
            truth.logsOnly.orphans += g.orphans
            if g.version != nil { truth.logsOnly.slots += 1 } else if g.deleted { truth.logsOnly.deleted += 1 }
            if let outcome {
                truth.count(outcome, key: (userID, t), reason: bad)
                if let v = f.version {
                    if outcome == .recovered {
                        truth.recovered.append(RecoveredSlot(user: userID, slot: t, version: v))
                        if touchesOffline(user: u, from: t, to: t + Int64(v.duration) * minute) { truth.coverage["recovered_touching_offline_entry", default: 0] += 1 }
                        if v.status == 0 { truth.coverage["recovered_pending", default: 0] += 1 }
                        if v.duration < 10 { truth.coverage["recovered_partial_duration", default: 0] += 1 }
                        if f.versionFromSnapshot { truth.coverage["recovered_from_snapshot_row", default: 0] += 1 }
                        if f.versionFromSnapshot, !survives.contains(true) { truth.coverage["recovered_only_in_snapshot", default: 0] += 1 }
                        if f.snapshotThenChanged { truth.coverage["recovered_changed_after_snapshot", default: 0] += 1 }
                        if f.reuploadAfterDeletion { truth.coverage["recovered_reuploaded_after_deletion", default: 0] += 1 }
                        let uploads = order.filter { survives[$0] && scratch[$0].kind == .upload }
                        if uploads.count > 1, Set(uploads.map { scratch[$0].request }).count > 1,
                           Set(uploads.map { scratch[$0].time }).count < uploads.count {
                            truth.coverage["recovered_same_time_uploads_host_order", default: 0] += 1
                        }
                    }
                    if outcome == .offlineOverlap {
                        let entries = world.offline.filter { $0.user == userID && $0.starts < t + Int64(v.duration) * minute && t < $0.ends }
                        if entries.contains(where: { $0.project != v.project }) { truth.coverage["overlap_other_project", default: 0] += 1 }
                        if entries.allSatisfy({ $0.starts > t || $0.ends < t + Int64(v.duration) * minute }) {
                            truth.coverage["overlap_partial_slot", default: 0] += 1
                        }
                    }
                }
                if outcome == .deleted, f.snapshotThenDeleted { truth.coverage["deleted_after_snapshot_row", default: 0] += 1 }
            }
            if f.orphans > 0, bad == nil, scratch.count == 1 { truth.coverage["orphan_processed_without_upload", default: 0] += 1 }
            if let s = snapshot {
                truth.snapshotWindowRows += 1
                if live == nil { truth.snapshotWindowMissingFromLive += 1 } else if live! != s { truth.snapshotWindowChangedInLive += 1 }
            }
            if live != nil { truth.liveWindowRows += 1 }
        }

        let keyID = nextRowID
        if snapshot != nil || (live != nil && !inWindow) { nextRowID += 1 }
        if let snapshot {
            try backupRows.row { CopyFile.timeSlot(id: keyID, user: userID, slot: t, snapshot, apps: apps, notes: notes, into: &$0) }
            truth.snapshotRows += 1
        }
        if let live {
            var id = keyID
            if inWindow { id = nextRestoredID; nextRestoredID += 1 }
            try liveRows.row { CopyFile.timeSlot(id: id, user: userID, slot: t, live, apps: apps, notes: notes, into: &$0) }
            truth.liveRows += 1
        }

        for k in 0..<n {
            let e = scratch[k]
            guard logs.covers(e.time) else { continue }
            logs.add(host: e.host, ts: e.time) { encoder.slotEvent(e, user: userID, slot: t, into: &$0) }
            if survives[k] {
                truth.lines += 1
                switch e.kind {
                case .upload: truth.uploads += 1; if inWindow { truth.inWindowUploads += 1 }
                case .processed: truth.processed += 1; if inWindow { truth.inWindowProcessed += 1 }
                case .deleted: truth.deleted += 1; if inWindow { truth.inWindowDeleted += 1 }
                case .snapshot: break
                }
            }
            guard inWindow, e.kind == .upload || e.kind == .processed else { continue }
            var malformation: Malformation?
            if let m = forcedMalformed.firstIndex(where: { $0.onProcessed == (e.kind == .processed) }), rng.chance(0.3) {
                malformation = forcedMalformed.remove(at: m)
            } else if rng.chance(options.malformedRate) {
                let choices = Malformation.allCases.filter { $0.onProcessed == (e.kind == .processed) }
                malformation = choices[rng.below(choices.count)]
            }
            guard let malformation else { continue }
            var mts = e.time + rng.int64(1000...3_000_000)
            if e.host == timeline.crashHost, e.time < timeline.crash, mts >= timeline.crash { mts = e.time }
            guard logs.covers(mts) else { continue }
            var copy = e
            copy.time = mts
            logs.add(host: e.host, ts: mts) { out in
                if malformation == .garbage { out.appendASCII(LineEncoder.garbage) } else {
                    encoder.slotEvent(copy, user: userID, slot: t, malformation: malformation, into: &out)
                }
            }
            if survives(host: e.host, mts) {
                truth.lines += 1
                truth.quarantinedLines += 1
                truth.reasons[malformation.reason, default: 0] += 1
            } else {
                forcedMalformed.append(malformation)
            }
        }
        return true
    }
}
