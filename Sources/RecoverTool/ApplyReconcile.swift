import Foundation
import PlanFormat
import PlanReport
import RecoveryCommit
import RecoveryModel
import SourceFiles

extension Apply {
    /// `apply` of a reconcile plan (`"kind": "reconcile"`): the same checks, confirmation and
    /// options as a recovery plan; `--max-slots` bounds the rows updated.
    func runReconcile() throws {
        let plan: ReconcileDirectory
        do { plan = try ReconcileDirectory.load(directory) } catch let error as PlanError {
            throw CommitError(.planRefused, error.message, hint: error.hint, plan: error)
        }
        try requireApproved(plan.document.planID)
        if let expected = shard?.shard, plan.document.shard != expected {
            throw CommitError(
                .planRefused,
                "refusing the plan in '\(directory)': it was made for "
                    + (plan.document.shard.map { "shard \($0)" } ?? "all users (no --shard)")
                    + ", not shard \(expected) as --shard says; nothing was changed; apply shard \(expected)'s own plan")
        }
        let d = plan.document
        try Confirmation.require(
            [
                "reconcile plan \(d.planID) in '\(directory)'",
                "job window [\(d.job.from), \(d.job.to)), columns \(d.columns.joined(separator: ","))" + (d.shard.map { ", shard \($0)" } ?? ""),
                "to restore \(d.rows.count) rows and \(d.memberships.count) memberships; kept at plan time: "
                    + "\(d.counts.keptChangedAfterJob) changed after the job, \(d.counts.keptNotFingerprint) not the job's fingerprint, "
                    + "\(d.counts.quarantined) quarantined",
            ], question: "Apply this plan?", yes: confirm.yes, flagHint: "apply the plan")
        var options = ApplyOptions(
            operatorName: confirm.operatorOrLogin, toolVersion: ToolVersion.current, maxSlots: maxSlots)
        options.lockTimeoutSeconds = confirm.lockTimeout
        options.againAfterRevert = again
        options.statementTimeoutSeconds = statementTimeout
        let pause = TestPause(ProcessInfo.processInfo.environment)
        pause.reached(ApplyCheckpoint.planChecked.description)
        let steps = ApplySteps(
            logger: log.logger, progress: log.progress("loading rows"), chunkBytes: options.chunkBytes,
            rowsBytes: InputDiscovery.fileSize(plan.rowsPath) ?? 0)
        let outcome = try ReconcileApply.apply(plan, conninfo: database.conninfo, options: options) { checkpoint in
            steps.reached(checkpoint)
            pause.reached(checkpoint.description)
        }
        log.endProgress()
        try output.emit(ApplyOutput(outcome)) { ApplyText.outcome(outcome) }
    }
}
