import Foundation
import LogReplay
import PlanFormat
import PostgresClient
import RecoveryModel
import SnapshotDiff
import SourceFiles

/// The read stage of `plan`: logs and snapshots turned into fold events, with each input's health
/// for the report.
public struct PlanSources {
    /// The events: one batch per log file in path order, then one per snapshot.
    public var batches: [EventBatch] = []
    public var quarantine: [QuarantineRecord] = []
    public var inputs: [PlanDocument.Input] = []
    public var hosts: [HostCoverage] = []

    /// Reads every log file under `logs` and every snapshot (a dump file or a database connection
    /// string), keeping the events of `window` (and of `shard`, when given).
    ///
    /// With `chunks`, the events are handed to it a chunk at a time as they are read and
    /// `batches` holds none: `plan --memory-limit` spills them.
    ///
    /// The snapshots are read by one of the log reading threads, first, while the others start
    /// on the log files (a backup's dump is as large as the logs: one after the other left a core
    /// idle; on a thread of its own, three threads shared two cores and the dump finished last,
    /// alone). The result does not depend on which finishes first: the logs' part comes first,
    /// then the snapshots' in sorted order. When both fail, the logs' error is the one thrown.
    public static func read(
        window: Window, logs: [String], snapshots: [String], schema: String, shard: Shard?,
        progress: (@Sendable (Int64, Int64) -> Void)?, chunks: EventChunks? = nil
    ) throws -> PlanSources {
        let snapshotPart = OnceTask { try readSnapshots(snapshots.sorted(), window: window, schema: schema, shard: shard, chunks: chunks) }
        let logPart = Result {
            try readLogs(logs, window: window, shard: shard, progress: progress, chunks: chunks, alongside: snapshotPart.run)
        }
        // Run here when the logs' reading did not run it (no logs, or none found).
        snapshotPart.run()
        var sources = try logPart.get()
        let snapshot = try snapshotPart.result().get()
        sources.batches += snapshot.batches
        sources.quarantine += snapshot.quarantine
        sources.inputs += snapshot.inputs
        if let shard {  // snapshot rows the readers quarantined
            sources.quarantine.removeAll { $0.key.map { !shard.contains(userID: $0.userID) } ?? false }
        }
        return sources
    }

    /// The logs' events, quarantine, inputs and hosts; `alongside` is run by one of the reading
    /// threads (`LogReplay.read`).
    static func readLogs(
        _ logs: [String], window: Window, shard: Shard?, progress: (@Sendable (Int64, Int64) -> Void)?,
        chunks: EventChunks? = nil, alongside: (@Sendable () -> Void)? = nil
    ) throws -> PlanSources {
        var sources = PlanSources()
        guard !logs.isEmpty else { return sources }
        let files = try InputDiscovery.logFiles(at: logs)
        var replay = LogReplay(window: window)
        replay.computeDigests = true
        replay.shard = shard
        replay.chunks = chunks
        let result = try replay.read(files, progress: progress, alongside: alongside)
        sources.batches = result.batches
        sources.quarantine = result.quarantine
        sources.inputs = result.files.map { file in
            PlanDocument.Input(
                kind: .log, path: file.path, bytes: file.fileBytes, sha256: file.sha256, lines: file.lines,
                quarantined: file.quarantinedLines,
                damage: file.damage.map { $0.description + (file.droppedPartialLine ? "; its last partial line was dropped" : "") },
                byteOrderMark: file.byteOrderMark ? true : nil)
        }
        sources.hosts = result.hosts
        return sources
    }

    /// The events of slot `key`, as values of their own, in batch order.
    public func events(of key: SlotKey) -> [SlotEvent] {
        batches.flatMap { batch in
            batch.events.indices.filter { batch.events[$0].key == key }.map(batch.event(at:))
        }
    }

    /// The snapshots' events, quarantine and inputs, in the order of `snapshots`; a snapshot
    /// database's tables are read in the service schema `schema`.
    static func readSnapshots(
        _ snapshots: [String], window: Window, schema: String, shard: Shard?, chunks: EventChunks? = nil
    ) throws -> PlanSources {
        var sources = PlanSources()
        for argument in snapshots {
            switch SnapshotSource(argument: argument) {
            case .dump(let path):
                var batch = EventBatch(source: path)
                let summary = try DumpReader(path: path, computeDigest: true).forEachEvent(in: window, into: &batch, chunks: chunks) { user in
                    shard?.contains(userID: user) ?? true
                }
                sources.batches.append(batch)
                sources.quarantine += summary.quarantined
                sources.inputs.append(PlanDocument.Input(
                    kind: .snapshot, path: path, bytes: InputDiscovery.fileSize(path), sha256: summary.sha256, lines: summary.rows,
                    quarantined: summary.quarantined.count, damage: nil))
            case .database(let conninfo):
                let connection = try SnapshotSource.connect(database: conninfo, schema: schema, application: "recover-tool plan")
                var rows = 0
                var batch = EventBatch(source: connection.redactedConnectionInfo)
                let quarantined = try connection.transaction(readOnly: true, isolation: .repeatableRead) { c in
                    try DatabaseSnapshot(connection: c).forEachEvent(in: window, into: &batch, chunks: chunks) { user in
                        rows += 1
                        return shard?.contains(userID: user) ?? true
                    }
                }
                sources.batches.append(batch)
                sources.quarantine += quarantined
                sources.inputs.append(PlanDocument.Input(
                    kind: .snapshot, path: connection.redactedConnectionInfo, bytes: nil, sha256: nil,
                    lines: rows + quarantined.count, quarantined: quarantined.count, damage: nil))
            }
        }
        return sources
    }
}

/// Work run once, by whichever thread calls `run()` first; `result()` waits for it.
final class OnceTask<Value>: @unchecked Sendable {
    // Sendable: `started` is only touched under `lock`, so one caller runs `body`; `outcome` is
    // written once by it before `done` is signalled, and read only after waiting on `done`.
    private let lock = NSLock()
    private var started = false
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Result<Value, any Error>?
    private let body: @Sendable () throws -> Value

    init(_ body: @escaping @Sendable () throws -> Value) { self.body = body }

    /// Runs the work unless another call did, on the calling thread.
    @Sendable func run() {
        lock.lock()
        let first = !started
        started = true
        lock.unlock()
        guard first else { return }
        outcome = Result { try body() }
        done.signal()
    }

    func result() -> Result<Value, any Error> {
        done.wait()
        done.signal()  // for a later call
        return outcome!
    }
}
