import ArgumentParser
import Foundation
import RecoveryCommit

/// `recover-tool runs`: the recorded runs, oldest first.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists the recorded runs: window, time, operator, counts, status.")

    @Option(help: "The database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let runs = try output.log.timed("runs") { try RecoveryRuns.list(conninfo: db) }
        try output.emit(RunsOutput(runs: runs)) { RunText.runs(runs) }
    }
}
