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
        let plan = try admitted { try ReconcileDirectory.load($0) }
        try requireAdmitted(planID: plan.document.planID, shard: plan.document.shard)
        let d = plan.document
        let summary = [
            "reconcile plan \(d.planID) in '\(directory)'",
            "job window [\(d.job.from), \(d.job.to)), columns \(d.columns.joined(separator: ","))" + (d.shard.map { ", shard \($0)" } ?? ""),
            "to restore \(d.rows.count) rows and \(d.memberships.count) memberships; kept at plan time: "
                + "\(d.counts.keptChangedAfterJob) changed after the job, \(d.counts.keptNotFingerprint) not the job's fingerprint, "
                + "\(d.counts.quarantined) quarantined",
        ]
        try commit(rowsPath: plan.rowsPath, rows: d.rows.count, summary: summary) { options, confirm, checkpoint in
            try ReconcileApply.apply(plan, database: database.target, options: options, confirm: confirm, checkpoint: checkpoint)
        }
    }
}
