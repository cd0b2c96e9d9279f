import ArgumentParser
import EventSpill
import Foundation
import PlanFormat
import PlanPipeline
import PlanReport
import RecoveryModel
import SourceFiles

/// `recover-tool plan`: the dry run. Reads every source, folds, resolves against the live
/// database in a READ ONLY transaction, and writes the plan directory. Changes nothing.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work out what to recover and write a plan for review",
        discussion: """
            Reads the logs and snapshots for the window, folds their events per slot, checks the \
            slots against the live database (read only), and writes into --out: plan.json (the \
            plan and its id), rows.tsv (the rows to insert), report.md and report.html (for the \
            reviewer), recovered.csv, dropped.csv, quarantined.csv, users.csv and notices.csv (one \
            notice per affected user). Changes nothing in the database. Give --logs, --snapshot or \
            both.

            The placeholders of --notice-template: \(NoticeTemplate.placeholders.map { "{\($0)}" }.joined(separator: " ")).

            EXAMPLES:
              recover-tool plan --from 2018-07-25T14:55:00Z --to 2018-07-26T01:45:00Z \\
                --logs /srv/logs --snapshot backup.sql.lz4 --tz America/Los_Angeles -o plan
              recover-tool plan --from 2018-07-25T14:55:00Z --to 2018-07-26T01:45:00Z \\
                --logs /srv/logs -o plan --require-complete --detailed-exitcode --json
            """
    )

    @OptionGroup var window: WindowOptions

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Log files or directories (searched for *.log, *.jsonl, *.log.lz4, *.jsonl.lz4).", valueName: "path"))
    var logs: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Snapshots: pg_dump files of time_slots (.sql, .sql.lz4) or restored databases' connection strings.",
        valueName: "path-or-conninfo"))
    var snapshot: [String] = []

    @OptionGroup var database: DatabaseOptions

    @Option(name: [.long, .customShort("o")], help: ArgumentHelp("The plan directory to create.", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("Also show times in this IANA zone in the reports (America/Los_Angeles).", valueName: "zone"))
    var tz: String?

    @Option(help: ArgumentHelp(
        "Plan only the users of shard K of N (0 <= K < N); env/N takes K from JOB_COMPLETION_INDEX.", valueName: "K/N"),
        transform: ShardArgument.init(parsing:))
    var shard: ShardArgument?

    @Flag(help: "Fail (exit 72) when the evidence is incomplete: logs ending early, gaps, damaged files.")
    var requireComplete = false

    @Option(help: ArgumentHelp(
        "The text of each user's notice in notices.csv, with placeholders such as {email} and {recovered_time} (listed above); default: the status page's sentences.",
        valueName: "file"))
    var noticeTemplate: String?

    @Option(help: ArgumentHelp(
        "The memory the read events and recovered slots may take (64M, 2G): past it, they are spilled to LZ4 files under TMPDIR and folded a range of users at a time; the process needs about 100 MB more. Default: half of the memory, or of the process's cgroup limit.",
        valueName: "size"))
    var memoryLimit: String?

    @Flag(help: "Exit 2 when the plan has slots to recover and 0 when it has none (1 and up stay failures).")
    var detailedExitcode = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !logs.isEmpty || !snapshot.isEmpty else {
            throw ValidationError("give '--logs' or '--snapshot': there is nothing to recover from")
        }
        try window.requireLogWindowLength()
        if let memoryLimit, MemoryLimit.parse(memoryLimit) == nil {
            throw ValidationError("'--memory-limit' '\(memoryLimit)' is not a size such as 64M, 2G or 1048576")
        }
        if let tz, DisplayTime.zone(named: tz) == nil {
            throw ValidationError("'--tz' '\(tz)' is not an IANA time zone of this machine's time zone database "
                + "(TZDIR, else /usr/share/zoneinfo: the tzdata package), such as America/Los_Angeles or Etc/GMT+5")
        }
    }

    func run() throws {
        // Before the read stage starts its threads, which inherit the blocked signals.
        SignalExit.beforeEnd = { StatusLine.standardError.close() }
        SignalExit.install()
        // A taken --out stops the run before minutes of reading (and the pipeline connects first).
        try PlanWriter.checkDestination(out)
        let evidence = try RecoveryPlanning.evidence(for: request(), stages: output.log)
        // Spilled slots' files go once the plan is written (the evidence is left to the exit).
        defer { evidence.spilledRecovered?.removeFiles() }
        let pause = TestPause(ProcessInfo.processInfo.environment)
        pause.reached("plan-writing")
        let written = try output.log.timed("write") {
            try PlanWriter.write(evidence, to: out) { pause.reached("plan-renaming") }
        }
        // The evidence is most of the process's memory (every kept slot's strings and arrays), and
        // freeing it took about 0.1 s of one core after the files were written (the benchmark
        // incident); the process ends right after this, so the evidence is left for the exit.
        _ = Unmanaged.passRetained(EvidenceAtExit(evidence))
        try finish(written.document)
    }

    /// What the flags ask for.
    func request() throws -> RecoveryPlanRequest {
        RecoveryPlanRequest(
            window: window.window, logs: logs, snapshots: snapshot, database: database.target, shard: shard?.shard,
            displayTimeZone: tz, noticeTemplate: try template(),
            memory: MemorySettings(
                limit: memoryLimit.flatMap(MemoryLimit.parse) ?? MemoryLimit.systemDefault(),
                spillDirectory: ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"))
    }

    /// Shows the plan: its first warnings on standard error, then its summary or `--json`; fails
    /// with `--require-complete` on incomplete evidence, exits 2 with `--detailed-exitcode`.
    func finish(_ document: PlanDocument) throws {
        let warnings = document.completeness.warnings
        // A warning is one line: a line feed from an input (a host's name) is escaped with the rest.
        for warning in warnings.prefix(10) { StandardStreams.error("recover-tool: warning: \(VisibleText.escaped(warning))\n") }
        if warnings.count > 10 {
            StandardStreams.error("recover-tool: warning: \(warnings.count - 10) more in \(out)/report.md\n")
        }
        let result = PlanOutput(directory: out, plan: document)
        if requireComplete && !warnings.isEmpty {
            let failure = CommandFailure(
                .incompleteEvidence, code: "incomplete_evidence",
                "the evidence is incomplete (\(warnings.count) warning\(warnings.count == 1 ? "" : "s") above); the plan in '\(out)' is for review only")
            try output.emit(result, failing: failure) { PlanSummary.text(document, directory: out) }
        }
        try output.emit(result) { PlanSummary.text(document, directory: out) }
        if detailedExitcode && document.rows.count > 0 { throw ExitCode(ExitStatus.somethingToRecover.rawValue) }
    }

    /// The largest `--notice-template` read: a notice is a few lines.
    static let maximumTemplateBytes = 1 << 20

    /// `--notice-template`'s text, checked; the standard notice without the option. A file that
    /// cannot be opened or read, or is not UTF-8, is an input error (65); a text with an unknown
    /// placeholder is a usage error (64). Read before the plan reads anything else.
    func template() throws -> NoticeTemplate {
        guard let noticeTemplate else { return .standard }
        let file: RegularFile
        do { file = try RegularFile(noticeTemplate) } catch {
            throw SourceError(.cannotOpen, path: noticeTemplate, detail: error.reason)
        }
        let bytes: [UInt8]
        do { bytes = try RegularFile.contents(of: file, limit: Self.maximumTemplateBytes) } catch {
            throw SourceError(.cannotRead, path: noticeTemplate, detail: error.reason)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SourceError(.cannotRead, path: noticeTemplate, detail: "not UTF-8 text")
        }
        do { return try NoticeTemplate(text) } catch {
            throw ValidationError("'--notice-template' '\(noticeTemplate)': \(error)")
        }
    }
}

/// A plan's evidence, kept until the process exits (`Plan.run`).
private final class EvidenceAtExit {
    let evidence: PlanEvidence
    init(_ evidence: PlanEvidence) { self.evidence = evidence }
}
