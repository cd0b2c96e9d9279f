import Foundation
import LogReplay
import PlanFormat
import PlanReport
import PostgresClient
import RecoveryModel
import SnapshotDiff
import SourceFiles

/// The read stage of `plan`: logs and snapshots turned into fold events, with each input's health
/// for the report.
struct PlanSources {
    var events: [SlotEvent] = []
    var quarantine: [QuarantineRecord] = []
    var inputs: [PlanDocument.Input] = []
    var hosts: [PlanReport.HostCoverage] = []

    static func read(
        window: Window, logs: [String], snapshots: [String], shard: Shard?,
        progress: (@Sendable (Int64, Int64) -> Void)?
    ) throws -> PlanSources {
        var sources = PlanSources()
        if !logs.isEmpty {
            let files = try InputDiscovery.files(at: logs, suffixes: InputDiscovery.logSuffixes)
            guard !files.isEmpty else {
                throw CommandFailure(.input, "no log files in --logs \(logs.map { "'\($0)'" }.joined(separator: " ")): expected *.log, *.jsonl, *.log.lz4 or *.jsonl.lz4")
            }
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
            sources.hosts = result.hosts.map {
                PlanReport.HostCoverage(host: $0.host, first: $0.firstEvent, last: $0.lastEvent, gaps: $0.gaps)
            }
        }
        for argument in snapshots.sorted() {
            switch SnapshotSource(argument: argument) {
            case .dump(let path):
                let summary = try DumpReader(path: path, computeDigest: true).forEachEvent(in: window) { event in
                    if shard?.contains(userID: event.key.userID) ?? true { sources.events.append(event) }
                }
                sources.quarantine += summary.quarantined
                sources.inputs.append(PlanDocument.Input(
                    kind: .snapshot, path: path, bytes: fileSize(path), sha256: summary.sha256, lines: summary.rows,
                    quarantined: summary.quarantined.count, damage: nil))
            case .database(let conninfo):
                let connection = try Connection.connect(
                    conninfo, session: SessionSettings(applicationName: "recover-tool plan"), flag: "--snapshot",
                    role: "snapshot database")
                var rows = 0
                let quarantined = try connection.transaction(readOnly: true, isolation: .repeatableRead) { c in
                    try DatabaseSnapshot(connection: c).forEachEvent(in: window) { event in
                        rows += 1
                        if shard?.contains(userID: event.key.userID) ?? true { sources.events.append(event) }
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

    private static func fileSize(_ path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }
}

/// The lines `plan` prints: where the plan is, its id, and its counts.
enum PlanSummary {
    static func text(_ plan: PlanDocument, directory: String) -> String {
        let c = plan.counts
        return """
            plan \(plan.planID)
            window [\(plan.window.from), \(plan.window.to))\(plan.shard.map { " shard \($0)" } ?? "")
            recovered \(c.recovered) slots (\(plan.recoveredMinutes) min), already present \(c.alreadyPresent), \
            offline overlap \(c.offlineOverlap), deleted \(c.deleted), orphans \(c.orphans), duplicates \(c.duplicates), \
            quarantined \(c.quarantined)
            evidence \(plan.completeness.complete ? "complete" : "INCOMPLETE: \(plan.completeness.warnings.count) warnings")
            report \(directory)/report.md
            report \(directory)/report.html

            """
    }
}
