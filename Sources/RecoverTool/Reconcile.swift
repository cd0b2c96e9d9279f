import ArgumentParser
import Foundation
import PlanFormat
import PlanPipeline
import PlanReport
import Reconcile
import RecoveryModel
import SnapshotDiff

/// `recover-tool reconcile`: the dry run of restoring exactly what a bad job rewrote (CONTRACT §7).
/// Reads the snapshot and live in READ ONLY transactions and writes the plan directory; changes
/// nothing.
struct ReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Plan the restore of the rows a bad job rewrote",
        discussion: """
            Compares the snapshot's time_slots and project_members with live: a row written inside \
            the job window whose only differences are in --columns gets the snapshot's values; rows \
            changed after the job, or differing elsewhere, are kept and listed. Writes plan.json \
            ("kind": "reconcile"), rows.tsv, memberships.tsv, report.md, report.html and reconcile.csv \
            into --out. Changes nothing in the database.

            EXAMPLES:
              recover-tool reconcile --snapshot before-job.sql.lz4 \\
                --job-from 2026-03-01T09:00:00Z --job-to 2026-03-01T09:20:00Z \\
                --columns time_slots.project_id -o reconcile-plan
            """
    )

    @Option(help: ArgumentHelp(
        "A pg_dump taken before the job (.sql, .sql.lz4; pg_dump -t time_slots -t project_members), or a restored database's connection string.",
        valueName: "path-or-conninfo"))
    var snapshot: String

    @Option(name: .customLong("job-from"), help: ArgumentHelp("When the bad job started, RFC 3339 with Z or an offset.", valueName: "time"))
    var jobFrom: TimeArgument

    @Option(name: .customLong("job-to"), help: ArgumentHelp("When the bad job ended (exclusive).", valueName: "time"))
    var jobTo: TimeArgument

    @Option(help: ArgumentHelp(
        "The columns the job rewrote, comma-separated: time_slots.project_id,time_slots.task_id.", valueName: "table.column,..."))
    var columns: String

    @Option(help: ArgumentHelp("Only slots with slot_start at or after this time.", valueName: "time"))
    var from: TimeArgument?

    @Option(help: ArgumentHelp("Only slots with slot_start before this time.", valueName: "time"))
    var to: TimeArgument?

    @OptionGroup var database: DatabaseOptions

    @Option(name: [.long, .customShort("o")], help: ArgumentHelp("The plan directory to create.", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp(
        "Plan only the users of shard K of N (0 <= K < N); env/N takes K from JOB_COMPLETION_INDEX.", valueName: "K/N"),
        transform: ShardArgument.init(parsing:))
    var shard: ShardArgument?

    @Flag(help: "Fail (exit 72) when a snapshot row cannot be read or the snapshot holds no project_members.")
    var requireComplete = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        let start = try jobFrom.timestamp(flag: "--job-from")
        let end = try jobTo.timestamp(flag: "--job-to")
        guard start < end else { throw ValidationError("'--job-to' (\(end)) must be after '--job-from' (\(start))") }
        guard (from == nil) == (to == nil) else { throw ValidationError("give both '--from' and '--to', or neither") }
        if let from, let to {
            let f = try from.timestamp(flag: "--from"), t = try to.timestamp(flag: "--to")
            guard f < t else { throw ValidationError("'--to' (\(t)) must be after '--from' (\(f))") }
        }
        if case .failure(let error) = SlotColumn.parse(columns.split(separator: ",").map(String.init)) {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        // As plan: a signal ends the run with its status and takes the staging directory away,
        // and a taken --out stops it before the snapshot is read.
        SignalExit.beforeEnd = { StatusLine.standardError.close() }
        SignalExit.install()
        try PlanWriter.checkDestination(out)
        let evidence = try ReconcilePlanning.evidence(for: request(), stages: output.log)
        let written = try output.log.timed("write") { try ReconcilePlanWriter.write(evidence, to: out) }
        try finish(written.document, evidence: evidence)
    }

    /// What the flags ask for.
    func request() throws -> ReconcilePlanRequest {
        ReconcilePlanRequest(
            snapshot: SnapshotSource(argument: snapshot),
            job: Window(from: try jobFrom.timestamp(flag: "--job-from"), to: try jobTo.timestamp(flag: "--job-to")),
            range: try from.flatMap { f in try to.map { Window(from: try f.timestamp(flag: "--from"), to: try $0.timestamp(flag: "--to")) } },
            columns: try SlotColumn.parse(columns.split(separator: ",").map(String.init)).get(),
            database: database.target, shard: shard?.shard)
    }

    /// Shows the plan's summary or `--json`; fails with `--require-complete` when a snapshot row
    /// cannot be read or the snapshot holds no project_members.
    func finish(_ document: ReconcileDocument, evidence: ReconcileEvidence) throws {
        let planned = ReconcileOutput(directory: out, plan: document)
        if requireComplete {
            var gaps: [String] = []
            if !evidence.quarantinedRows.isEmpty { gaps.append("\(evidence.quarantinedRows.count) snapshot rows cannot be read") }
            if !evidence.snapshot.hasProjectMembers { gaps.append("the snapshot holds no project_members") }
            if !gaps.isEmpty {
                let failure = CommandFailure(
                    .incompleteEvidence, code: "incomplete_evidence", "the evidence is incomplete (\(gaps.joined(separator: "; "))); the plan in '\(out)' is for review only")
                try output.emit(planned, failing: failure) { Self.summary(document, directory: out) }
            }
        }
        try output.emit(planned) { Self.summary(document, directory: out) }
    }

    static func summary(_ d: ReconcileDocument, directory: String) -> String {
        let c = d.counts
        return """
            reconcile plan \(d.planID)
              restore \(c.restore), kept (changed after the job) \(c.keptChangedAfterJob), kept (not the job's fingerprint) \(c.keptNotFingerprint), missing from live \(c.missingFromLive), quarantined \(c.quarantined)
              memberships to restore \(c.membershipsRestored), not restorable \(c.membershipsQuarantined); unchanged rows \(c.unchanged)
            review \(directory)/report.md (or report.html), then: recover-tool apply --plan-id \(d.planID) \(directory)

            """
    }
}
