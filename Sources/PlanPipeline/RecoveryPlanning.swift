import ConflictResolver
import Dispatch
import EventSpill
import Foundation
import LiveDatabase
import PlanReport
import PostgresClient
import ReadStage
import RecoveryModel
import SlotFold
import SnapshotDiff
import SourceFiles

/// What `plan` is asked for: the window, the sources, the live database, and the choices that
/// shape the reports.
public struct RecoveryPlanRequest: Sendable {
    public var window: Window
    /// Log files or directories (`--logs`).
    public var logs: [String]
    /// Dump files or restored databases' connection strings (`--snapshot`).
    public var snapshots: [String]
    public var database: ConnectionTarget
    public var shard: Shard?
    /// An IANA zone to show times in beside UTC (`--tz`).
    public var displayTimeZone: String?
    public var noticeTemplate: NoticeTemplate
    /// The memory `plan` may take (`--memory-limit`) and where it spills the events past it; nil
    /// keeps every event in memory.
    public var memory: MemorySettings?

    public init(
        window: Window, logs: [String], snapshots: [String], database: ConnectionTarget, shard: Shard?,
        displayTimeZone: String?, noticeTemplate: NoticeTemplate, memory: MemorySettings? = nil
    ) {
        self.window = window
        self.logs = logs
        self.snapshots = snapshots
        self.database = database
        self.shard = shard
        self.displayTimeZone = displayTimeZone
        self.noticeTemplate = noticeTemplate
        self.memory = memory
    }
}

/// `plan --memory-limit`: the limit, bytes, and the directory the spill files go under (TMPDIR).
public struct MemorySettings: Sendable {
    public var limit: Int64
    public var spillDirectory: String

    public init(limit: Int64, spillDirectory: String) {
        self.limit = limit
        self.spillDirectory = spillDirectory
    }
}

/// `plan`'s stages up to the writer: connect, read → fold → resolve against the live database
/// (read only), into the evidence that `PlanWriter` writes.
public enum RecoveryPlanning {
    /// Runs the stages in order and returns the plan's evidence. Connects first: an unreachable
    /// database stops the run before minutes of reading.
    ///
    /// When the inputs may need more than `request.memory`'s limit, the readers hand their events
    /// to an `EventSpill`, which spills them by range of users once they pass a quarter of it;
    /// then the ranges are folded and resolved one group at a time (`resolveSpilled`), in one
    /// read-only transaction, and make the same evidence.
    public static func evidence(for request: RecoveryPlanRequest, stages: some StageObserver) throws -> PlanEvidence {
        let window = request.window
        let shard = request.shard
        let live = try Connection.connect(request.database, session: SessionSettings(applicationName: "recover-tool plan"))
        let identity = try live.identity()
        try ServiceTableRefused.check(live, for: .recovering)
        let spill = try request.memory.flatMap { memory in
            try estimatedNeed(logs: request.logs, snapshots: request.snapshots) >= memory.limit / 2
                ? EventSpill(limit: memory.limit, directory: memory.spillDirectory) : nil
        }
        defer { spill?.removeFiles() }
        var sources = try stages.timed("read") {
            try PlanSources.read(
                window: window, logs: request.logs, snapshots: request.snapshots, schema: request.database.schema, shard: shard,
                progress: stages.progress("reading logs"), chunks: spill?.chunks)
        }
        stages.endProgress()
        // The fold takes the events over and lets go of each as it is folded.
        var batches = sources.batches
        sources.batches = []
        let quarantinedUsers = sources.quarantine.compactMap { $0.key?.userID }
        var fold: FoldResult, resolution: Resolution, contacts: [Int64: UserContact]
        var recovered: SlotSpill?
        switch try spill?.finish() ?? .inMemory([]) {
        case .inMemory(let held):
            batches += held
            (fold, resolution, contacts) = try resolve(taking: &batches, window: window, live: live, quarantinedUsers: quarantinedUsers, stages: stages)
        case .spilled(let spilled):
            let slots = try SlotSpill(
                directory: spill!.directory, headCount: SpilledRecovered.headCount, watched: Set(sources.quarantine.compactMap(\.key)))
            (fold, resolution, contacts) = try stages.timed("ranges") {
                try resolveSpilled(spilled, window: window, live: live, quarantinedUsers: quarantinedUsers, recovered: slots)
            }
            recovered = slots
        }
        var evidence = PlanEvidence(
            window: window, displayTimeZone: request.displayTimeZone, shard: shard, database: identity,
            inputs: sources.inputs, hosts: sources.hosts, fold: fold, resolution: resolution,
            readQuarantine: sources.quarantine, toolVersion: ToolVersion.current,
            createdAt: PlanEvidence.createdAt(window: window, hosts: sources.hosts))
        evidence.userContacts = contacts
        evidence.noticeTemplate = request.noticeTemplate
        if let recovered {
            evidence.spilledRecovered = SpilledRecovered(
                count: recovered.count, minutes: recovered.minutes, users: recovered.users, head: recovered.head,
                starts: recovered.starts, readQuarantineRecovered: recovered.watchedAppended,
                slots: { try recovered.slots($0) }, removeFiles: { recovered.removeFiles() })
        }
        return evidence
    }

    /// Folds every event at once, then resolves the slots against the live state, read in one
    /// read-only, repeatable-read transaction. What the users alone decide (the live keys, the
    /// longest query, offline entries, users, memberships, contacts) is read while the fold runs
    /// (`LiveUserStateRead`), for every user the read saw: only the slots' users' (and the
    /// quarantined users' contacts) are kept, so the state is the one read after the fold.
    static func resolve(
        taking batches: inout [EventBatch], window: Window, live: Connection, quarantinedUsers: [Int64], stages: some StageObserver
    ) throws -> (FoldResult, Resolution, [Int64: UserContact]) {
        try live.begin(readOnly: true, isolation: .repeatableRead)
        let early = LiveUserStateRead(on: live, window: window, usersOf: batches, quarantinedUsers: quarantinedUsers)
        var fold = stages.timed("fold") { SlotFold.fold(taking: &batches, window: window, releasingInBackground: true) }
        let (resolution, contacts) = try stages.timed("resolve") {
            let ids = candidateIDs(fold.slots)
            let (state, contacts) = try live.finishTransaction { live in
                let read = try early.result()
                let state = try LiveState.load(
                    from: live, userState: read.state, users: ids.users, projects: ids.projects, tasks: ids.tasks)
                let contacted = state.users.union(quarantinedUsers)
                return (state, read.contacts.filter { contacted.contains($0.key) })
            }
            // The resolution takes the slots over: the fold keeps its other findings.
            return (ConflictResolver.resolve(taking: &fold.slots, against: state), contacts)
        }
        return (fold, resolution, contacts)
    }

    /// Folds and resolves the spilled events a group of user ranges at a time, in range order,
    /// against one snapshot of the live database (a read-only, repeatable-read transaction): each
    /// group's results are sorted by key and hold users above the last group's, so appended in
    /// order they are what `resolve(taking:...)` makes of all the events at once. The recovered
    /// slots go to `recovered`, not to the resolution: most of a plan's memory.
    static func resolveSpilled(
        _ spilled: SpilledEvents, window: Window, live: Connection, quarantinedUsers: [Int64], recovered: SlotSpill
    ) throws -> (FoldResult, Resolution, [Int64: UserContact]) {
        try live.transaction(readOnly: true, isolation: .repeatableRead) { live in
            var fold = FoldResult(), resolution = Resolution()
            var liveUsers = Set<Int64>()
            for group in spilled.groups {
                var batches = try spilled.batches(group)
                var part = SlotFold.fold(taking: &batches, window: window)
                let ids = candidateIDs(part.slots)
                if !ids.users.isEmpty {
                    // The live keys of the group's users only (`LiveState.load` reads no others).
                    let state = try LiveState.load(from: live, window: window, users: ids.users, projects: ids.projects, tasks: ids.tasks)
                    liveUsers.formUnion(state.users)
                    let outcomes = ConflictResolver.resolve(taking: &part.slots, against: state)
                    try recovered.append(outcomes.recovered)
                    resolution.alreadyPresent += outcomes.alreadyPresent
                    resolution.offlineOverlap += outcomes.offlineOverlap
                    resolution.quarantined += outcomes.quarantined
                }
                fold.appendFindings(of: part)
            }
            try recovered.finish()
            return (fold, resolution, try LiveState.contacts(from: live, users: liveUsers.union(quarantinedUsers)))
        }
    }

    /// The users, projects and tasks `slots` name, read in place (no slot copied): a part of the
    /// slots on each core, then the parts' ids merged.
    static func candidateIDs(_ slots: [FoldedSlot]) -> CandidateIDs {
        candidateIDs(slots, parts: slots.count < 1 << 14 ? 1 : ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The ids `slots` name, gathered in `parts` parts at once.
    static func candidateIDs(_ slots: [FoldedSlot], parts: Int) -> CandidateIDs {
        let parts = max(1, min(parts, slots.count))
        let gathered = UnsafeMutableBufferPointer<CandidateIDs>.allocate(capacity: parts)
        gathered.initialize(repeating: CandidateIDs())
        defer { gathered.deinitialize().deallocate() }
        let out = GatheredIDs(gathered.baseAddress!)
        slots.withUnsafeBufferPointer { slots in
            let read = SlotsRead(slots)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                var ids = CandidateIDs()
                for i in (read.slots.count * part / parts)..<(read.slots.count * (part + 1) / parts) {
                    let slot = read.slots.baseAddress! + i
                    ids.add(user: slot.pointee.slot.key.userID, project: slot.pointee.slot.projectID, task: slot.pointee.slot.taskID)
                }
                (out.base + part).pointee = ids
            }
        }
        var ids = gathered[0]
        for part in gathered.dropFirst() { ids.formUnion(part) }
        return ids
    }

    /// About the most memory the inputs can make `plan` take, bytes: three times an LZ4 file's
    /// size (about five times smaller than its text) and once a plain file's; unbounded for a
    /// snapshot database. The peak on the benchmark incident was about 0.6 byte per byte of text
    /// read (docs/SCALING.md): this errs high, so that a plan near its limit spills.
    static func estimatedNeed(logs: [String], snapshots: [String]) throws -> Int64 {
        var paths = logs.isEmpty ? [] : try InputDiscovery.logFiles(at: logs)
        for snapshot in snapshots {
            guard case .dump(let path) = SnapshotSource(argument: snapshot) else { return .max }
            paths.append(path)
        }
        return paths.reduce(0) { need, path in
            need + (InputDiscovery.fileSize(path) ?? 0) * (path.hasSuffix(".lz4") ? 3 : 1)
        }
    }
}

/// Where `candidateIDs` gathers each part's ids. Sendable: each part writes its own element.
private struct GatheredIDs: @unchecked Sendable {
    let base: UnsafeMutablePointer<CandidateIDs>
    init(_ base: UnsafeMutablePointer<CandidateIDs>) { self.base = base }
}

/// The slots `candidateIDs` reads. Sendable: only read while the parts gather.
private struct SlotsRead: @unchecked Sendable {
    let slots: UnsafeBufferPointer<FoldedSlot>
    init(_ slots: UnsafeBufferPointer<FoldedSlot>) { self.slots = slots }
}
