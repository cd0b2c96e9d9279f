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

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var confirm: ConfirmOptions

    @Flag(help: "Show what the revert would delete and keep, and change nothing (the revert runs and is rolled back).")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    var log: LogOptions { output.log }

    func validate() throws {
        guard runID > 0 else { throw ValidationError("'--run' must be a run id (1 or more), as 'recover-tool runs' lists them") }
    }

    func run() throws {
        if !confirm.yes && !dryRun {
            let record = try RecoveryRuns.find(run: runID, database: database.target)
            try Confirmation.require(
                [RunText.runs([record])], question: "Revert run \(runID)?", yes: confirm.yes, flagHint: "revert run \(runID)")
        }
        let outcome = try log.timed("revert") {
            try RecoveryRevert.revert(
                run: runID, database: database.target, operatorName: confirm.operatorOrLogin,
                toolVersion: ToolVersion.current, lockTimeoutSeconds: confirm.lockTimeout, dryRun: dryRun)
        }
        try output.emit(RevertOutput(outcome)) { RunText.revert(outcome) }
    }
}
