import ArgumentParser
import Foundation
import RecoveryCommit

/// `recover-tool runs`: the recorded runs, oldest first.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the recorded runs",
        discussion: """
            One line per run, oldest first, in at most 100 columns: the run id, the plan id's first \
            12 characters, the window, the shard, who applied, how many slots were inserted, and \
            the status with who reverted. --wide shows every column.

            EXAMPLES:
              recover-tool runs
              recover-tool runs --wide
              recover-tool runs --json
            """)

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Show every column: the whole plan id, every time and count, the revert's figures (wider than 100 columns).")
    var wide = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let runs = try output.log.timed("runs") { try RecoveryRuns.list(database: database.target) }
        try output.emit(RunsOutput(runs: runs)) { RunText.runs(runs, wide: wide) }
    }
}
