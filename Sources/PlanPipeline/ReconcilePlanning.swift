import Foundation
import LiveDatabase
import PlanReport
import PostgresClient
import Reconcile
import RecoveryModel
import SnapshotDiff

/// What `reconcile` is asked for: the snapshot taken before the bad job, the job's window, the
/// columns it rewrote, and the live database.
public struct ReconcilePlanRequest: Sendable {
    /// A dump file or a restored database's connection string (`--snapshot`).
    public var snapshot: SnapshotSource
    public var job: Window
    /// Only slots starting in it (`--from`, `--to`); nil for every slot of the snapshot.
    public var range: Window?
    public var columns: [SlotColumn]
    public var database: ConnectionTarget
    public var shard: Shard?

    public init(
        snapshot: SnapshotSource, job: Window, range: Window?, columns: [SlotColumn], database: ConnectionTarget, shard: Shard?
    ) {
        self.snapshot = snapshot
        self.job = job
        self.range = range
        self.columns = columns
        self.database = database
        self.shard = shard
    }
}

/// `reconcile`'s stages up to the writer: connect, read the snapshot, check its age, read live
/// (read only), reconcile, into the evidence that `ReconcilePlanWriter` writes.
public enum ReconcilePlanning {
    /// Runs the stages in order and returns the reconcile plan's evidence. Connects first: an
    /// unreachable database stops the run before the snapshot is read.
    public static func evidence(for request: ReconcilePlanRequest, stages: some StageObserver) throws -> ReconcileEvidence {
        let job = request.job, range = request.range, shard = request.shard
        let live = try Connection.connect(request.database, session: SessionSettings(applicationName: "recover-tool reconcile"))
        let identity = try live.identity()
        try ServiceTableRefused.check(live, for: .reconciling)
        var snap = try stages.timed("read") { try ReconcileSnapshot.read(request.snapshot, range: range, schema: request.database.schema) }
        guard snap.newestUpdatedAt != nil else {
            throw ReconcileError(.snapshotEmpty, snapshot: snap.name, detail: "the snapshot holds no readable time_slots row, so its age cannot be told")
        }
        if let at = snap.unreadableUpdatedAt {
            let row = at.line > 0 ? "the time_slots row at \(at)" : "a row of \(at.file)"
            throw ReconcileError(
                .snapshotAgeUnreadable, snapshot: snap.name,
                detail: "the updated_at of \(row) cannot be read, so the snapshot's age cannot be told")
        }
        if let problem = Reconciler.ageProblem(newest: snap.newestUpdatedAt, job: job, snapshot: snap.name) { throw problem }
        if let shard {
            snap.slots.removeAll { !shard.contains(userID: $0.row.key.userID) }
            snap.memberships.removeAll { !shard.contains(userID: $0.membership.userID) }
        }
        let (liveRows, references) = try stages.timed("live") {
            try live.transaction(readOnly: true, isolation: .repeatableRead) { live in
                let span = range ?? Self.span(of: snap.slots)
                let whole = try span.map { try DatabaseSnapshot(connection: live).wholeRows(range: $0) }
                // A live row left out would be a slot "missing from live": none is.
                if let whole, let first = whole.quarantined.first {
                    throw ReconcileError(
                        .liveUnreadable, snapshot: "the live database '\(live.redactedConnectionInfo)'",
                        detail: "\(whole.quarantined.count) live time_slots rows of the range cannot be read (the first: row \(first.location.line) of the range, "
                            + "\(first.key.map { "\($0)" } ?? "no readable key"): \(first.reason)), so what the job changed cannot be told")
                }
                var rows = whole?.rows ?? []
                if let shard { rows.removeAll { !shard.contains(userID: $0.key.userID) } }
                let users = Set(snap.slots.map(\.row.key.userID)).union(snap.memberships.map(\.membership.userID))
                let projects = Set(snap.slots.map(\.row.slot.projectID)).union(snap.memberships.map(\.membership.projectID))
                let tasks = Set(snap.slots.compactMap(\.row.slot.taskID))
                return (rows, try LiveState.references(from: live, users: users, projects: projects, tasks: tasks))
            }
        }
        var result = stages.timed("reconcile") {
            Reconciler.reconcile(
                snapshot: snap.slots, live: liveRows, memberships: snap.memberships, job: job, columns: Set(request.columns),
                range: range, references: references)
        }
        result.snapshotRowsOutsideRange += snap.slotsOutsideRange
        return ReconcileEvidence(
            result: result, job: job, range: range, columns: request.columns, shard: shard, database: identity,
            snapshot: .init(
                kind: request.snapshot.isDump ? "dump" : "database", path: snap.name, bytes: snap.bytes, sha256: snap.sha256,
                lines: snap.lines, newestUpdatedAt: snap.newestUpdatedAt?.rfc3339, hasProjectMembers: snap.hasMemberships,
                rowsInRange: result.snapshotRowsInRange, rowsOutsideRange: result.snapshotRowsOutsideRange),
            quarantinedRows: snap.quarantined, companies: references.companies,
            createdAt: Timestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000)), toolVersion: ToolVersion.current)
    }

    /// The slot_start span of the snapshot's rows, as a half-open window; nil when there are none.
    static func span(of rows: [SnapshotSlotRow]) -> Window? {
        guard let first = rows.min(by: { $0.row.key.slotStart < $1.row.key.slotStart }),
              let last = rows.max(by: { $0.row.key.slotStart < $1.row.key.slotStart }) else { return nil }
        return Window(from: first.row.key.slotStart, to: last.row.key.slotStart.adding(microseconds: 1))
    }
}

extension SnapshotSource {
    var isDump: Bool { if case .dump = self { true } else { false } }
}
