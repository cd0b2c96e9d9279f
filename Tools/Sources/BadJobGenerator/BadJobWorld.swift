import GeneratorRandom
import Foundation
import RecoveryModel

/// One `time_slots` row as the generator tracks it.
struct Row {
    var id: Int64
    var user: Int64
    var start: Int64          // µs
    var project: Int64
    var task: Int64?
    var status: String
    var activity: Int?
    var keystrokes: Int
    var mouse: Int
    var note: String?
    var updatedAt: Int64      // µs
}

/// The incident, built in time order; `expected` holds each backup row's outcome as the story
/// made it.
struct BadJobWorld {
    static let minute: Int64 = 60_000_000
    static let t0 = Timestamp.parse("2026-03-02T00:00:00Z")!.microseconds

    var rng: Xoshiro256
    let users: Int
    var backupRows: [Row] = []
    var liveRows: [Row] = []
    var backupMembers: Set<[Int64]> = []
    var liveMembers: Set<[Int64]> = []
    /// project → company; task → project (backup and live).
    var projects: [Int64: Int64] = [:]
    var backupTasks: [Int64: Int64] = [:]
    var liveTasks: [Int64: Int64] = [:]
    /// Backup row id → its outcome (`restore`, `kept_changed_after_job`, ...); absent: unchanged.
    var outcome: [Int64: String] = [:]
    var restoredMembers: Set<[Int64]> = []
    let backupAt: Int64, jobFrom: Timestamp, jobTo: Timestamp

    init(seed: UInt64, users: Int, slotsPerUser: Int) {
        rng = Xoshiro256(seed: seed)
        self.users = users
        let days = Int64((slotsPerUser + 47) / 48)
        backupAt = Self.t0 + days * 1440 * Self.minute + 30 * Self.minute
        jobFrom = Timestamp(microseconds: backupAt + 4 * 60 * Self.minute)
        jobTo = Timestamp(microseconds: jobFrom.microseconds + 5 * 60 * Self.minute)
        build(slotsPerUser: slotsPerUser)
    }

    mutating func build(slotsPerUser: Int) {
        // Companies of 5 users, 2 projects each with 3 tasks; users are members of their company's projects.
        let companies = (users + 4) / 5
        for c in 1...companies {
            for p in 1...2 {
                let project = Int64(c * 10 + p)
                projects[project] = Int64(c)
                for t in 1...3 { backupTasks[project * 10 + Int64(t)] = project }
            }
        }
        liveTasks = backupTasks
        func company(_ user: Int64) -> Int { Int((user - 1) / 5) + 1 }
        for u in 1...Int64(users) {
            for p in 1...2 { backupMembers.insert([Int64(company(u) * 10 + p), u]) }
        }
        // Before the backup: 8 hours a day, 10-minute slots, updated a few minutes after their end.
        var id: Int64 = 0
        for u in 1...Int64(users) {
            for i in 0..<slotsPerUser {
                let day = Int64(i / 48), slot = Int64(i % 48)
                let start = Self.t0 + day * 1440 * Self.minute + (8 * 60 + slot * 10) * Self.minute
                let project = Int64(company(u) * 10 + 1 + rng.below(2))
                id += 1
                backupRows.append(Row(
                    id: id, user: u, start: start, project: project,
                    task: rng.below(10) == 0 ? nil : project * 10 + Int64(1 + rng.below(3)), status: rng.below(5) == 0 ? "idle" : "active",
                    activity: rng.below(11), keystrokes: rng.below(900), mouse: rng.below(3000),
                    note: rng.below(20) == 0 ? "client call, \"quoted\"\tand tabbed" : nil,
                    updatedAt: start + Int64(11 + rng.below(5)) * Self.minute + Int64(rng.below(1_000_000))))
            }
        }
        liveMembers = backupMembers
        var live = backupRows
        func at(_ from: Int64, _ to: Int64) -> Int64 { from + Int64(rng.next() % UInt64(to - from)) }

        // Between the backup and the job: users edit a few rows (kept: written before the job).
        let editedBefore = Set(live.indices.filter { _ in rng.below(50) == 0 })
        for i in editedBefore {
            live[i].note = "fixed before the job"
            live[i].updatedAt = at(backupAt, jobFrom.microseconds)
            outcome[live[i].id] = "kept_not_fingerprint"
        }
        // The job: a third of the users; their slots (not those edited just before) move to the
        // next company's first project with no task; their memberships of their own projects go.
        let affected = Set((1...Int64(users)).filter { _ in rng.below(3) == 0 })
        for u in affected {
            let other = Int64((company(u) % companies + 1) * 10 + 1)
            for p in 1...2 {
                let pair: [Int64] = [Int64(company(u) * 10 + p), u]
                liveMembers.remove(pair)
                restoredMembers.insert(pair)
            }
            liveMembers.insert([other, u])   // the job also made them members of the wrong project
        }
        var damaged: [Int] = []
        for i in live.indices where affected.contains(live[i].user) && !editedBefore.contains(i) && rng.below(4) != 0 {
            live[i].project = Int64((company(live[i].user) % companies + 1) * 10 + 1)
            live[i].task = nil
            live[i].updatedAt = at(jobFrom.microseconds, jobTo.microseconds)
            if live[i].project == backupRows[i].project && backupRows[i].task == nil {
                // The job wrote the row but changed nothing in it: equal in every compared column.
                outcome[live[i].id] = nil
            } else {
                outcome[live[i].id] = "restore"
                damaged.append(i)
            }
        }
        // The job's edges, to the microsecond: one damaged row written at exactly JOB_FROM, one at JOB_TO - 1 µs.
        if damaged.count >= 2 {
            live[damaged[0]].updatedAt = jobFrom.microseconds
            live[damaged[1]].updatedAt = jobTo.microseconds - 1
        }
        // The service during the job: processing pending-style updates on other rows (and a few damaged ones).
        for i in live.indices where !editedBefore.contains(i) && rng.below(40) == 0 {
            live[i].status = live[i].status == "active" ? "idle" : "active"
            live[i].activity = ((live[i].activity ?? 0) + 1) % 11
            live[i].updatedAt = max(live[i].updatedAt, at(jobFrom.microseconds, jobTo.microseconds))
            outcome[live[i].id] = "kept_not_fingerprint"
        }
        // After the job: users fix or annotate some damaged rows (kept: changed after the job);
        // one damaged row written at exactly JOB_TO; some damaged rows deleted (missing from live).
        var deleted = Set<Int>()
        for i in damaged where outcome[live[i].id] == "restore" {
            switch rng.below(12) {
            case 0:
                live[i].note = "reassigned by hand"
                live[i].updatedAt = at(jobTo.microseconds, jobTo.microseconds + 600 * Self.minute)
                outcome[live[i].id] = "kept_changed_after_job"
            case 1:
                deleted.insert(i)
                outcome[live[i].id] = "missing_from_live"
            default: break
            }
        }
        if let i = damaged.dropFirst(2).first(where: { outcome[live[$0].id] == "restore" }) {
            live[i].updatedAt = jobTo.microseconds
            outcome[live[i].id] = "kept_changed_after_job"
        }
        // An admin moves one task to another project after the job: its damaged rows would get a
        // task of another project back, so they are quarantined.
        if let i = damaged.first(where: { outcome[live[$0].id] == "restore" && backupRows[$0].task != nil }) {
            let task = backupRows[i].task!
            let moved = backupTasks[task]! == Int64(company(backupRows[i].user) * 10 + 1)
                ? backupTasks[task]! + 1 : backupTasks[task]! - 1
            liveTasks[task] = moved
            for j in damaged where backupRows[j].task == task && outcome[live[j].id] == "restore" {
                outcome[live[j].id] = "quarantined"
            }
            // Rows of the task that the job did not touch now name a task of another project in
            // live too; they are unchanged and have no outcome.
        }
        liveRows = live.enumerated().filter { !deleted.contains($0.offset) }.map(\.element)
        // New work since the backup, only in live: a slot per user after the job.
        var nextID = id
        for u in 1...Int64(users) {
            nextID += 1
            let project = Int64(company(u) * 10 + 1)
            liveRows.append(Row(
                id: nextID, user: u, start: jobTo.microseconds + 60 * Self.minute, project: project, task: project * 10 + 1,
                status: "active", activity: 5, keystrokes: 10, mouse: 10, note: nil,
                updatedAt: jobTo.microseconds + 71 * Self.minute))
        }
    }

    var counts: [String: Int] {
        var c: [String: Int] = [
            "restore": 0, "kept_changed_after_job": 0, "kept_not_fingerprint": 0, "missing_from_live": 0, "quarantined": 0,
        ]
        for value in outcome.values { c[value, default: 0] += 1 }
        c["unchanged"] = backupRows.count - outcome.count
        c["memberships_restored"] = restoredMembers.count
        return c
    }

    var countsText: String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
