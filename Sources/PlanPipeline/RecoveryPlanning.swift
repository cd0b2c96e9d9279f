import ConflictResolver
import LiveDatabase
import PlanReport
import PostgresClient
import ReadStage
import RecoveryModel
import SlotFold

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

    public init(
        window: Window, logs: [String], snapshots: [String], database: ConnectionTarget, shard: Shard?,
        displayTimeZone: String?, noticeTemplate: NoticeTemplate
    ) {
        self.window = window
        self.logs = logs
        self.snapshots = snapshots
        self.database = database
        self.shard = shard
        self.displayTimeZone = displayTimeZone
        self.noticeTemplate = noticeTemplate
    }
}

/// `plan`'s stages up to the writer: connect, read → fold → resolve against the live database
/// (read only), into the evidence that `PlanWriter` writes.
public enum RecoveryPlanning {
    /// Runs the stages in order and returns the plan's evidence. Connects first: an unreachable
    /// database stops the run before minutes of reading.
    public static func evidence(for request: RecoveryPlanRequest, stages: some StageObserver) throws -> PlanEvidence {
        let window = request.window
        let shard = request.shard
        let live = try Connection.connect(request.database, session: SessionSettings(applicationName: "recover-tool plan"))
        let identity = try live.identity()
        var sources = try stages.timed("read") {
            try PlanSources.read(
                window: window, logs: request.logs, snapshots: request.snapshots, shard: shard,
                progress: stages.progress("reading logs"))
        }
        stages.endProgress()
        // The fold takes the events over and lets go of each as it is folded.
        var batches = sources.batches
        sources.batches = []
        var fold = stages.timed("fold") { SlotFold.fold(taking: &batches, window: window) }
        let (resolution, contacts) = try stages.timed("resolve") {
            var users = Set<Int64>(), projects = Set<Int64>(), tasks = Set<Int64>()
            fold.slots.forEachInPlace { folded in
                users.insert(folded.pointee.slot.key.userID)
                projects.insert(folded.pointee.slot.projectID)
                if let task = folded.pointee.slot.taskID { tasks.insert(task) }
            }
            let (state, contacts) = try live.transaction(readOnly: true, isolation: .repeatableRead) { live in
                let state = try LiveState.load(from: live, window: window, users: users, projects: projects, tasks: tasks)
                return (state, try LiveState.contacts(from: live, users: state.users.union(sources.quarantine.compactMap { $0.key?.userID })))
            }
            // The resolution takes the slots over: the fold keeps its other findings.
            return (ConflictResolver.resolve(taking: &fold.slots, against: state), contacts)
        }
        var evidence = PlanEvidence(
            window: window, displayTimeZone: request.displayTimeZone, shard: shard, database: identity,
            inputs: sources.inputs, hosts: sources.hosts, fold: fold, resolution: resolution,
            readQuarantine: sources.quarantine, toolVersion: ToolVersion.current,
            createdAt: PlanEvidence.createdAt(window: window, hosts: sources.hosts))
        evidence.userContacts = contacts
        evidence.noticeTemplate = request.noticeTemplate
        return evidence
    }
}
