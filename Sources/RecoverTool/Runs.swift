import ArgumentParser
import Foundation
import RecoveryCommit

/// `recover-tool runs`: the recorded runs, oldest first.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists the recorded runs: window, time, operator, counts, status.")

    @Option(help: "The database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    @Flag(help: "Print a JSON array instead of a table.")
    var json = false

    @OptionGroup var log: LogOptions

    func run() throws {
        let runs = try log.timed("runs") { try RecoveryRuns.list(conninfo: db) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(runs), as: UTF8.self))
        } else {
            print(RunText.runs(runs), terminator: "")
        }
    }
}
