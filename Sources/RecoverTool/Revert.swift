import ArgumentParser
import Foundation
import RecoveryModel
import RecoveryCommit

/// `recover-tool revert --run ID`: removes what a run inserted, in one transaction.
struct Revert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Removes a run's slots that are unchanged since the apply, in one transaction; keeps and lists edited ones.")

    @Option(name: .customLong("run"), help: "The run id, as 'recover-tool runs' lists it.")
    var runID: Int64

    @Option(help: "The database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    @Flag(help: "Revert without asking (required when standard input is not a terminal).")
    var yes = false

    @Option(name: .customLong("operator"), help: "Who reverts, recorded in the run; default: the login name.")
    var operatorName: String?

    @Option(help: "Seconds to wait for a running apply or revert (the recovery lock).")
    var lockTimeout: Double = 30

    @OptionGroup var output: OutputOptions

    var log: LogOptions { output.log }

    func validate() throws {
        try ArgumentChecks.checkTimeout(lockTimeout, flag: "--lock-timeout")
    }

    func run() throws {
        if !yes {
            let record = try RecoveryRuns.find(run: runID, conninfo: db)
            try Confirmation.require(
                [RunText.runs([record])], question: "Revert run \(runID)?", yes: yes, flagHint: "revert run \(runID)")
        }
        let outcome = try log.timed("revert") {
            try RecoveryRevert.revert(
                run: runID, conninfo: db, operatorName: operatorName ?? Confirmation.defaultOperator(),
                toolVersion: ToolVersion.current, lockTimeoutSeconds: lockTimeout)
        }
        try output.emit(RevertOutput(outcome)) { RunText.revert(outcome) }
    }
}
