import ArgumentParser
import Foundation
import RecoveryModel
import RecoveryCommit

/// `recover-tool revert --run ID`: removes what a run inserted, in one transaction.
struct Revert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove what a run inserted and nobody changed since",
        discussion: """
            In one transaction under the recovery lock: deletes the run's slots whose values are \
            those the apply wrote, keeps and lists those edited since, and marks the run reverted. \
            Reverting again changes nothing. On a terminal only the exact word 'yes' goes on; \
            without one, --yes is required. --dry-run shows what it would do and changes nothing.

            EXAMPLES:
              recover-tool revert --run 12 --dry-run
              recover-tool revert --run 12 --yes --json
            """)

    @Option(name: .customLong("run"), help: ArgumentHelp("The run id, as 'recover-tool runs' lists it.", valueName: "id"))
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
        var connectionLost = false
        let outcome = try log.timed("revert") {
            try RecoveryRevert.revert(
                run: runID, database: database.target, operatorName: confirm.operatorOrLogin,
                toolVersion: ToolVersion.current, lockTimeoutSeconds: confirm.lockTimeout, dryRun: dryRun,
                warn: { StandardStreams.error("recover-tool: warning: \(VisibleText.escaped($0))\n") },
                lostCommit: { connectionLost = true })
        }
        var form = RevertOutput(outcome)
        form.connectionLostDuringCommit = connectionLost
        try output.emit(form) { RunText.revert(outcome) }
    }
}
