import ArgumentParser
import Foundation
import RecoveryCommit

/// `recover-tool verify --run ID`: checks a committed run against the database as it is now.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks that a run's slots are present, unchanged and clear of offline time; changes nothing.")

    @Option(name: .customLong("run"), help: "The run id, as 'recover-tool runs' lists it.")
    var runID: Int64

    @Option(help: "The database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "How many differing slots to list.")
    var show = 50

    func run() throws {
        let report = try RecoveryVerify.verify(run: runID, conninfo: db, limit: show)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(RunText.verify(report), terminator: "")
        }
        guard report.isClean else {
            throw CommitError(.verificationFailed, RunText.verifyFailure(report))
        }
    }
}
