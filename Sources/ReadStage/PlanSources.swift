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
    /// The logs' events.
    public var events: [SlotEvent] = []
    /// The snapshots' events, kept apart from the logs': appending them to that array would copy
    /// it whole (`SlotFold.fold(batches:)` takes both).
    public var snapshotEvents: [SlotEvent] = []
    public var quarantine: [QuarantineRecord] = []
    public var inputs: [PlanDocument.Input] = []
    public var hosts: [HostCoverage] = []

    /// Reads every log file under `logs` and every snapshot (a dump file or a database connection
    /// string), keeping the events of `window` (and of `shard`, when given).
    public static func read(
        window: Window, logs: [String], snapshots: [String], shard: Shard?,
        progress: (@Sendable (Int64, Int64) -> Void)?
    ) throws -> PlanSources {
        var sources = PlanSources()
        if !logs.isEmpty {
            let files = try InputDiscovery.logFiles(at: logs)
            var replay = LogReplay(window: window)
            replay.computeDigests = true
            replay.shard = shard
            let result = try replay.read(files, progress: progress)
            sources.events = result.events
            sources.quarantine = result.quarantine
            sources.inputs = result.files.map { file in
                PlanDocument.Input(
                    kind: .log, path: file.path, bytes: file.fileBytes, sha256: file.sha256, lines: file.lines,
                    quarantined: file.quarantinedLines,
                    damage: file.damage.map { $0.description + (file.droppedPartialLine ? "; its last partial line was dropped" : "") })
            }
            sources.hosts = result.hosts
        }
        for argument in snapshots.sorted() {
            switch SnapshotSource(argument: argument) {
            case .dump(let path):
                let summary = try DumpReader(path: path, computeDigest: true).forEachEvent(in: window) { event in
                    if shard?.contains(userID: event.key.userID) ?? true { sources.snapshotEvents.append(event) }
                }
                sources.quarantine += summary.quarantined
                sources.inputs.append(PlanDocument.Input(
                    kind: .snapshot, path: path, bytes: InputDiscovery.fileSize(path), sha256: summary.sha256, lines: summary.rows,
                    quarantined: summary.quarantined.count, damage: nil))
            case .database(let conninfo):
                let connection = try Connection.connect(
                    ConnectionTarget(conninfo, source: "--snapshot"), session: SessionSettings(applicationName: "recover-tool plan"),
                    role: "snapshot database")
                var rows = 0
                let quarantined = try connection.transaction(readOnly: true, isolation: .repeatableRead) { c in
                    try DatabaseSnapshot(connection: c).forEachEvent(in: window) { event in
                        rows += 1
                        if shard?.contains(userID: event.key.userID) ?? true { sources.snapshotEvents.append(event) }
                    }
                }
                sources.quarantine += quarantined
                sources.inputs.append(PlanDocument.Input(
                    kind: .snapshot, path: connection.redactedConnectionInfo, bytes: nil, sha256: nil,
                    lines: rows + quarantined.count, quarantined: quarantined.count, damage: nil))
            }
        }
        if let shard {  // snapshot rows the readers quarantined
            sources.quarantine.removeAll { $0.key.map { !shard.contains(userID: $0.userID) } ?? false }
        }
        return sources
    }
}
