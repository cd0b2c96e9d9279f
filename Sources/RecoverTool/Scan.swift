import ArgumentParser
import RecoveryModel
import LogReplay
import SlotFold
import SourceFiles

/// `recover-tool scan`: the engineer's first look at the logs for a window, before planning.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Report what the server logs hold for a window",
        discussion: """
            Per file (lines, events, quarantined lines, damage), per host (first and last event, \
            gaps of more than \(CoveragePolicy.gapMinutes) minutes up to the \(CoveragePolicy.neededText)), \
            and the totals after the fold. Changes nothing.

            EXAMPLES:
              recover-tool scan --from 2018-07-25T14:55:00Z --to 2018-07-26T01:45:00Z \\
                --logs /srv/logs
              recover-tool scan --from 2018-07-25T07:55:00-07:00 \\
                --to 2018-07-25T18:45:00-07:00 --logs app-1.log.lz4 --json
            """
    )

    @OptionGroup var window: WindowOptions

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Log files or directories (searched for *.log, *.jsonl, *.log.lz4, *.jsonl.lz4).", valueName: "path"))
    var logs: [String]

    @Option(help: ArgumentHelp("Quarantined lines to list; all are counted.", valueName: "n"))
    var showQuarantined = 20

    @Option(help: ArgumentHelp(
        "Fold only the users of shard K of N (0 <= K < N), as 'plan --shard K/N' does; file and host figures stay those of every line; env/N: K from JOB_COMPLETION_INDEX.",
        valueName: "K/N"), transform: ShardArgument.init(parsing:))
    var shard: ShardArgument?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("'--logs' needs at least one file or directory") }
        try window.requireLogWindowLength()
        guard showQuarantined >= 0 else { throw ValidationError("'--show-quarantined' must be 0 or more") }
    }

    func run() throws {
        let window = self.window.window
        let files = try InputDiscovery.logFiles(at: logs)
        var replay = LogReplay(window: window)
        replay.shard = shard?.shard
        let logs = try output.log.timed("read") { try replay.read(files, progress: output.progress("reading logs")) }
        output.endProgress()
        var batches = logs.batches
        let fold = output.log.timed("fold") { SlotFold.fold(taking: &batches, window: window) }
        var report = ScanReport(logs: logs, fold: fold, quarantineShown: showQuarantined)
        report.shard = Nullable(shard?.shard)
        try output.emit(report, text: report.text)
    }
}
