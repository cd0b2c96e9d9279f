import ArgumentParser
import Foundation
import RecoveryCommit

/// `recover-tool runs`: the recorded runs, oldest first.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists the recorded runs: window, time, operator, counts, status.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Show every column: the whole plan id, every time and count, the revert's figures (wider than 100 columns).")
    var wide = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let runs = try output.log.timed("runs") { try RecoveryRuns.list(database: database.target) }
        try output.emit(RunsOutput(runs: runs)) { RunText.runs(runs, wide: wide) }
    }
}
