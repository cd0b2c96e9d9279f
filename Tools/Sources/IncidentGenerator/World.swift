import GeneratorRandom
/// The service's reference data and who works when: companies, projects, tasks, users, their
/// memberships and work sessions, and the offline time they added after the incident.
struct Project {
    let id: Int64
    let company: Int
    let tasks: [Int64]
}

/// A run of consecutive slots `[start, end)` (slot indexes of the timeline) on one project.
struct Session {
    var start: Int
    var end: Int
    var project: Int
    /// -1: no task.
    var task: Int64
    /// The last slot may be partial (1-10 minutes).
    var lastDuration: Int16
}

struct User {
    let id: Int64
    let company: Int
    var projects: [Int]
    let timeZone: Int
    var sessions: [Session] = []
}

struct OfflineEntry {
    enum Kind: String, CaseIterable {
        /// Covers parts of two or three slots.
        case partial
        /// Covers several whole slots.
        case several
        /// Covers slots of another project than the entry's: still an overlap.
        case otherProject = "other_project"
        /// Starts exactly where a partial last slot ends: touching, not overlapping.
        case touchingAfterShortSlot = "touching_after_short_slot"
        /// Ends exactly where a session's first slot starts.
        case touchingBefore = "touching_before"
        /// Far from any lost slot.
        case elsewhere
    }

    var id: Int64
    var user: Int64
    var project: Int64
    var task: Int64
    var starts: Int64
    var ends: Int64
    var addedBy: Int64
    var reason: Int
    var created: Int64
    var kind: Kind
}

/// The times that shape the incident.
struct Timeline {
    static let slot: Int64 = 600_000_000
    let from: Int64
    let to: Int64
    /// The logs cover `[logStart, logEnd)`: from an hour before the window to 190 minutes past it.
    let logStart: Int64
    let logEnd: Int64
    /// Slots are generated from two hours before the logs start.
    let genStart: Int64
    let slotCount: Int
    /// When the backup copy of `time_slots` was taken (inside the window).
    let backup: Int64
    /// The crashed server, when it died, the start of the frame it never finished, and its restart.
    let crashHost: Int
    let lostStart: Int64
    let crash: Int64
    let restart: Int64
    let rotation: Int64
    let frameLength: Int64

    init(from: Int64, hours: Int, users: Int, hosts: Int) {
        let minute = TimeText.minute
        self.from = from
        to = from + Int64(hours) * 60 * minute
        logStart = from - 60 * minute
        logEnd = to + 190 * minute
        genStart = logStart - 120 * minute
        slotCount = Int((logEnd - genStart) / Self.slot)
        let w = to - from
        backup = from + w * 2 / 5 + 1_234_567 + 17 * minute / 10
        crashHost = 1
        crash = from + w / 4 + 17_123_000
        // About 120 lines of the crashed host are lost; at least 30 seconds, at most 20 minutes.
        let perHostPerSecond = (Double(users) * 0.55 * 2.3 / 600 + 3.0 / 600 * Double(hosts)) / Double(hosts)
        let lost = min(20 * 60.0, max(30.0, 120 / perHostPerSecond))
        lostStart = crash - Int64(lost * 1_000_000)
        restart = crash + 20 * minute
        let span = logEnd - logStart
        let half = 30 * minute
        rotation = max(half, (span / 4 + half - 1) / half * half)
        frameLength = rotation / 4
    }

    func slotStart(_ index: Int) -> Int64 { genStart + Int64(index) * Self.slot }
    func inWindow(_ t: Int64) -> Bool { t >= from && t < to }
    func index(of t: Int64) -> Int { Int((t - genStart) / Self.slot) }
}

struct World {
    var projects: [Project] = []
    var users: [User] = []
    var companies = 0
    var offline: [OfflineEntry] = []
    /// Offline intervals per user index.
    var offlineByUser: [[(Int64, Int64)]] = []

    static func userID(_ index: Int) -> Int64 { Int64(1001 + index + index / 50) }

    init(users userCount: Int, timeline: Timeline, rng: inout Xoshiro256) {
        companies = max(3, userCount / 250)
        var byCompany: [[Int]] = Array(repeating: [], count: companies)
        var taskID: Int64 = 10_000
        for c in 0..<companies {
            for _ in 0..<rng.int(2...5) {
                var tasks: [Int64] = []
                for _ in 0..<rng.int(2...6) { tasks.append(taskID); taskID += 1 }
                byCompany[c].append(projects.count)
                projects.append(Project(id: Int64(100 + projects.count), company: c, tasks: tasks))
            }
        }
        for i in 0..<userCount {
            let company = i < companies ? i : rng.below(companies)
            var mine = byCompany[company]
            rng.shuffle(&mine)
            let count = min(mine.count, rng.int(1...3))
            users.append(User(id: Self.userID(i), company: company, projects: Array(mine.prefix(count)).sorted(),
                              timeZone: rng.below(Texts.timeZones.count)))
        }
        for i in users.indices where !(rng.chance(0.08) && i >= 4) {
            var cursor = rng.int(0...30)
            while cursor < timeline.slotCount {
                let end = min(timeline.slotCount, cursor + rng.int(3...24))
                let project = users[i].projects[rng.below(users[i].projects.count)]
                let tasks = projects[project].tasks
                users[i].sessions.append(Session(
                    start: cursor, end: end, project: project,
                    task: rng.chance(0.15) ? -1 : tasks[rng.below(tasks.count)],
                    lastDuration: rng.chance(0.25) ? Int16(rng.int(1...9)) : 10))
                cursor = end + rng.int(1...18)
            }
        }
        offlineByUser = Array(repeating: [], count: users.count)
        addOfflineEntries(timeline: timeline, rng: &rng)
    }

    /// Offline time users added for the lost window: each kind of CONTRACT §5.4 case in turn.
    private mutating func addOfflineEntries(timeline: Timeline, rng: inout Xoshiro256) {
        let minute = TimeText.minute
        let early = timeline.from + (timeline.to - timeline.from) * 3 / 4
        let kinds: [OfflineEntry.Kind] = [.touchingAfterShortSlot, .partial, .several, .otherProject, .touchingBefore]
        func fits(_ kind: OfflineEntry.Kind, _ s: Session) -> Bool {
            let first = timeline.slotStart(s.start), last = timeline.slotStart(s.end - 1)
            switch kind {
            case .touchingAfterShortSlot: return last >= timeline.from && last < early
            case .touchingBefore: return first >= timeline.from && first < early
            default: return last >= timeline.from && first < early
            }
        }
        var used = Set<Int>()
        for n in 0..<max(5, users.count / 20) {
            let kind = kinds[n % kinds.count]
            var pairs: [(Int, Int)] = []
            for u in users.indices where !used.contains(u) {
                for s in users[u].sessions.indices where fits(kind, users[u].sessions[s]) { pairs.append((u, s)) }
            }
            guard !pairs.isEmpty else { continue }
            let (u, s) = pairs[rng.below(pairs.count)]
            used.insert(u)
            let user = users[u]
            let session = user.sessions[s]
            let lo = max(session.start, timeline.index(of: timeline.from))
            let hi = min(session.end - 1, timeline.index(of: early))
            let j = rng.int(lo...max(lo, hi))
            var project = projects[session.project].id
            var starts: Int64, ends: Int64
            switch kind {
            case .partial:
                starts = timeline.slotStart(j) + Int64(rng.int(2...7)) * minute + Int64(rng.int(0...59)) * TimeText.second
                ends = starts + Int64(rng.int(8...22)) * minute
            case .several:
                starts = timeline.slotStart(j)
                ends = timeline.slotStart(min(j + rng.int(3...5), session.end))
            case .otherProject:
                starts = timeline.slotStart(j)
                ends = timeline.slotStart(min(j + 2, session.end))
                let others = projects.indices.filter { projects[$0].company == user.company && $0 != session.project }
                project = projects[others.isEmpty ? (session.project + 1) % projects.count : others[rng.below(others.count)]].id
            case .touchingAfterShortSlot:
                let d = Int16(rng.int(3...8))
                users[u].sessions[s].lastDuration = d
                starts = timeline.slotStart(session.end - 1) + Int64(d) * minute
                let next = s + 1 < user.sessions.count ? timeline.slotStart(user.sessions[s + 1].start) : timeline.logEnd
                ends = min(starts + 40 * minute, next)
            case .touchingBefore:
                ends = timeline.slotStart(session.start)
                var previousEnd = timeline.genStart
                if s > 0 {
                    let p = user.sessions[s - 1]
                    previousEnd = timeline.slotStart(p.end - 1) + Int64(p.lastDuration) * minute
                }
                starts = max(ends - 30 * minute, previousEnd)
            case .elsewhere:
                fatalError("not drawn here")
            }
            add(user: u, project: project, starts: starts, ends: ends, kind: kind, timeline: timeline, rng: &rng)
            if n % 3 == 0 {
                // Offline time a day earlier: no slot of the window is near it.
                let day = 24 * 60 * minute
                add(user: u, project: projects[user.projects[0]].id, starts: timeline.from - day + 7 * minute,
                    ends: timeline.from - day + 95 * minute, kind: .elsewhere, timeline: timeline, rng: &rng)
            }
        }
    }

    private mutating func add(user u: Int, project: Int64, starts: Int64, ends: Int64, kind: OfflineEntry.Kind,
                              timeline: Timeline, rng: inout Xoshiro256) {
        precondition(ends > starts)
        let user = users[u]
        let colleagues = users.indices.filter { users[$0].company == user.company && $0 != u }
        let addedBy = rng.chance(0.8) || colleagues.isEmpty ? user.id : users[colleagues[rng.below(colleagues.count)]].id
        let created = max(ends, timeline.to) + rng.int64(5 * TimeText.minute...(20 * 60 * TimeText.minute))
        let tasks = projects.first { $0.id == project }!.tasks
        offline.append(OfflineEntry(
            id: Int64(offline.count + 1), user: user.id, project: project,
            task: rng.chance(0.5) ? tasks[rng.below(tasks.count)] : -1, starts: starts, ends: ends,
            addedBy: addedBy, reason: rng.below(Texts.offlineReasons.count), created: created / 1000 * 1000, kind: kind))
        offlineByUser[u].append((starts, ends))
    }
}
