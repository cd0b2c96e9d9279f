import Foundation
import PlanFormat
import PlanReport
import RecoveryCommit
import RecoveryModel

/// What `apply`, `verify`, `revert` and `runs` print on standard output.
enum ApplyText {
    /// The database an apply is about to write, as its confirmation names it first.
    static func target(_ target: ApplyTarget) -> [String] {
        let d = target.database
        return [
            "database '\(d.name)' on host \(target.address) (OID \(d.oid), cluster \(d.systemIdentifier), PostgreSQL \(d.serverVersion)), "
                + "the one the plan was made for",
        ]
    }

    /// The plan as the confirmation shows it.
    static func summary(_ plan: PlanDocument, path: String) -> [String] {
        var lines = [
            "plan \(plan.planID) in '\(path)'",
            "window [\(plan.window.from), \(plan.window.to))" + (plan.shard.map { ", shard \($0)" } ?? ""),
            "to insert \(plan.rows.count) slots (\(plan.recoveredMinutes) minutes) for \(plan.users.filter { $0.recovered > 0 }.count) users; "
                + "at plan time \(plan.counts.alreadyPresent) already present, \(plan.counts.offlineOverlap) overlapping offline time, "
                + "\(plan.counts.quarantined) quarantined",
        ]
        if !plan.completeness.complete {
            lines.append("warning: the evidence is incomplete (\(plan.completeness.warnings.count) warnings in the report)")
        }
        return lines
    }

    static func outcome(_ outcome: ApplyOutcome) -> String {
        switch outcome {
        case .alreadyApplied(let run):
            var text = "plan \(run.planID) was already applied as run \(run.id) at \(run.appliedAt) by \(VisibleText.escaped(run.operatorName)); nothing changed\n"
            if run.status == .reverted, let revert = run.revert {
                text += "run \(run.id) was reverted at \(revert.at) by \(VisibleText.escaped(revert.by)); apply with --again to "
                    + (run.kind == "reconcile" ? "restore these rows again" : "recover these slots again") + " as a new run\n"
            }
            return text
        case .applied(let run, let drops, let afterLostConnection):
            let c = run.counts
            var text = "applied plan \(run.planID) as run \(run.id)\n"
            if afterLostConnection {
                text += "the connection was lost during COMMIT; the run was found committed afterwards\n"
            }
            if run.kind == "reconcile" {
                text += "planned \(c.planned) rows, restored \(c.inserted), skipped \(c.droppedPresent) changed since the plan; "
                    + "memberships planned \(run.membersPlanned), inserted \(run.membersInserted)\n"
            } else {
                text += "planned \(c.planned), inserted \(c.inserted), dropped \(c.droppedPresent) already present "
                    + "and \(c.droppedOffline) overlapping offline time since the plan\n"
            }
            for drop in drops {
                let reason = switch drop.reason {
                case .alreadyPresent: "already present" + (drop.otherID.map { " (live slot \($0))" } ?? "")
                case .offlineOverlap: "overlaps offline entry" + (drop.otherID.map { " \($0)" } ?? "")
                case .changedSincePlan: "changed since the plan" + (drop.otherID.map { " (live row \($0))" } ?? "")
                }
                text += "dropped \(drop.key): \(reason)\n"
            }
            if c.droppedPresent + c.droppedOffline > drops.count {
                text += "(\(c.droppedPresent + c.droppedOffline - drops.count) more in "
                    + (run.kind == "reconcile" ? "recovery.run_skips" : "recovery.run_drops") + ")\n"
            }
            text += "check it with 'recover-tool verify --run \(run.id)'; undo it with 'recover-tool revert --run \(run.id)'\n"
            return text
        }
    }
}

enum RunText {
    static func verify(_ report: VerifyReport) -> String {
        let run = report.run
        if run.status == .reverted {
            return "run \(run.id) was reverted at \(run.revert?.at ?? "?"): nothing of it to verify\n"
        }
        var text = run.kind == "reconcile"
            ? "run \(run.id) (reconcile): \(report.checked) restored rows checked: \(report.missing) missing, "
                + "\(report.changed) changed since the apply; \(report.membersMissing) inserted memberships gone\n"
            : "run \(run.id): \(report.checked) slots checked: \(report.missing) missing, \(report.changed) changed since the apply, "
                + "\(report.offlineOverlap) overlapping offline time"
                + (report.presentGone > 0 ? ", \(report.presentGone) already present at the apply and gone since" : "") + "\n"
        for slot in report.slots {
            switch slot.kind {
            case .missing: text += "missing: slot \(slot.slotID), \(slot.key)\n"
            case .changed: text += "changed: slot \(slot.slotID), \(slot.key)\n"
            case .offlineOverlap:
                text += "overlaps offline entry \(slot.offlineEntryID.map(String.init) ?? "?"): slot \(slot.slotID), \(slot.key)\n"
            case .presentGone: text += "gone since the apply (already present then): slot \(slot.slotID), \(slot.key)\n"
            }
        }
        for membership in report.membersGone {
            text += "membership gone: \(membership)\n"
        }
        for count in report.counts {
            text += "count \(count.name): recorded \(count.recorded), found \(count.found)\n"
        }
        if report.isClean {
            text += run.kind == "reconcile"
                ? "run \(run.id) verifies: every restored row holds what the apply wrote, every inserted membership is there, counts match\n"
                : "run \(run.id) verifies: every slot present and unchanged, none overlaps offline time, counts match\n"
        }
        return text
    }

    /// The failure (71) of a run that does not verify.
    static func verifyFailure(_ report: VerifyReport) -> CommitError {
        CommitError(
            .verificationFailed,
            report.run.kind == "reconcile"
                ? "run \(report.run.id) (reconcile) does not verify: \(report.missing) missing, \(report.changed) changed, "
                    + "\(report.membersMissing) inserted memberships gone, \(report.counts.count) counts differ"
                : "run \(report.run.id) does not verify: \(report.missing) missing, \(report.changed) changed, "
                    + "\(report.offlineOverlap) overlapping offline time, "
                    + (report.presentGone > 0 ? "\(report.presentGone) already present and gone, " : "")
                    + "\(report.counts.count) counts differ",
            hint: "see the list above")
    }

    /// Each run's own lines, then the set's problems and its verdict.
    static func verify(_ set: ShardSetReport) -> String {
        var text = set.runs.map { verify($0) }.joined()
        for problem in set.problems { text += "shards: \(problem)\n" }
        if set.isClean, let first = set.runs.first?.run {
            text += "runs \(set.runs.map { String($0.run.id) }.joined(separator: ", ")) verify as one recovery of "
                + "\(first.window): shards 0 to \(set.runs.count - 1) of \(set.runs.count), each once, no slot twice\n"
        }
        return text
    }

    /// The failure (71) of runs that do not verify as one recovery.
    static func verifyFailure(_ set: ShardSetReport) -> CommitError {
        guard !set.runs.isEmpty else {
            return CommitError(.verificationFailed, "no run to verify as one sharded recovery", hint: "see the list above")
        }
        let failing = set.runs.filter { !$0.isClean }.map { String($0.run.id) }
        return CommitError(
            .verificationFailed,
            "runs \(set.runs.map { String($0.run.id) }.joined(separator: ", ")) do not verify as one sharded recovery: "
                + "\(set.problems.count) problem\(set.problems.count == 1 ? "" : "s") with the set"
                + (failing.isEmpty ? "" : ", run\(failing.count == 1 ? "" : "s") \(failing.joined(separator: ", ")) differ"),
            hint: "see the list above")
    }

    static func revert(_ outcome: RevertOutcome) -> String {
        switch outcome {
        case .alreadyReverted(let run):
            return "run \(run.id) was already reverted at \(run.revert?.at ?? "?") by \(VisibleText.escaped(run.revert?.by ?? "?")); nothing changed\n"
        case .wouldRevert(let run, let deleted, let deletedCount, let kept, let keptCount, let missing, let reliedOn, let membersDeleted):
            let rows = run.kind == "reconcile" ? "rows" : "slots"
            let gone = membersDeleted.map { "find \(missing) already gone, and delete \($0) memberships" } ?? "and find \(missing) already gone"
            var text = "dry run: reverting run \(run.id) now would " + (run.kind == "reconcile" ? "put back" : "delete")
                + " \(deletedCount) \(rows), keep \(keptCount) edited since the apply, \(gone); nothing was changed\n"
            for slot in deleted { text += "would delete: slot \(slot.slotID), \(slot.key)\n" }
            if deletedCount > deleted.count && !deleted.isEmpty { text += "(\(deletedCount - deleted.count) more would be deleted)\n" }
            for slot in kept { text += "would keep (edited since the apply): \(rows.dropLast()) \(slot.slotID), \(slot.key)\n" }
            if keptCount > kept.count { text += "(\(keptCount - kept.count) more would be kept)\n" }
            return text + reliance(reliedOn)
        case .reverted(let run, let kept, let reliedOn):
            let r = run.revert
            if run.kind == "reconcile" {
                var text = "reverted run \(run.id): put back \(r?.deleted ?? 0) rows, kept \(r?.kept ?? 0) edited since the apply, "
                    + "\(r?.missing ?? 0) gone; deleted \(run.revertMembersDeleted ?? 0) memberships\n"
                for slot in kept { text += "kept (edited since the apply): row \(slot.slotID), \(slot.key)\n" }
                if let r, r.kept > kept.count { text += "(\(r.kept - kept.count) more kept)\n" }
                return text
            }
            var text = "reverted run \(run.id): deleted \(r?.deleted ?? 0) slots, kept \(r?.kept ?? 0) edited since the apply, "
                + "\(r?.missing ?? 0) already gone\n"
            for slot in kept { text += "kept (edited since the apply): slot \(slot.slotID), \(slot.key)\n" }
            if let r, r.kept > kept.count { text += "(\(r.kept - kept.count) more kept)\n" }
            return text + reliance(reliedOn)
        }
    }

    /// One line per run that relied on the reverted slots: what to check, and the way back.
    static func reliance(_ reliedOn: [Reliance]) -> String {
        reliedOn.map {
            "run \($0.runID) found \($0.slots) of these slots present when it applied and inserted none of them: verify it after "
                + "this revert; to put the slots back, revert it and apply its plan again with --again\n"
        }.joined()
    }

    /// The runs as a table: by default at most 100 columns (plan id prefix, window, shard, who
    /// applied, inserted, and the status with who reverted); `wide` adds every time and count.
    static func runs(_ runs: [RunRecord], wide: Bool = false) -> String {
        guard !runs.isEmpty else { return "no runs recorded\n" }
        let header: [String]
        let rows: [[String]]
        if wide {
            header = ["run", "kind", "plan", "status", "applied at", "window from", "window to", "shard", "operator", "planned",
                      "inserted", "present", "offline", "reverted at", "reverted by", "deleted", "kept"]
            rows = runs.map { run in
                [String(run.id), run.kind, run.planID, run.status.rawValue, seconds(run.appliedAt), run.window.from.rfc3339,
                 run.window.to.rfc3339, run.shard.map { "\($0)" } ?? "-", run.operatorName, String(run.counts.planned),
                 String(run.counts.inserted), String(run.counts.droppedPresent), String(run.counts.droppedOffline),
                 run.revert.map { seconds(Timestamp.parse($0.at)) ?? $0.at } ?? "-", run.revert?.by ?? "-",
                 run.revert.map { String($0.deleted) } ?? "-", run.revert.map { String($0.kept) } ?? "-"]
            }
        } else {
            // The kind and shard columns only when a run has them: 100 columns in the common case.
            let kinds = runs.contains { $0.kind != "recover" }, shards = runs.contains { $0.shard != nil }
            header = ["run"] + (kinds ? ["kind"] : []) + ["plan", "window (UTC)"] + (shards ? ["shard"] : [])
                + ["applied by", "inserted", "status"]
            rows = runs.map { run in
                let minutes = run.window.durationMicroseconds / 60_000_000
                let window = String(run.window.from.rfc3339.prefix(16)).replacingOccurrences(of: "T", with: " ")
                    + " +" + (minutes % 60 == 0 ? "\(minutes / 60)h" : "\(minutes)m")
                let status = run.revert.map { "reverted by " + clipped($0.by, 12) } ?? run.status.rawValue
                return [String(run.id)] + (kinds ? [run.kind] : []) + [String(run.planID.prefix(12)), window]
                    + (shards ? [run.shard.map { "\($0)" } ?? "-"] : []) + [clipped(run.operatorName, 12), String(run.counts.inserted), status]
            }
        }
        let numeric: Set<String> = ["run", "planned", "inserted", "present", "offline", "deleted", "kept"]
        // A cell is one line: a name typed with a line feed (`--operator`) is shown escaped.
        let lines: [[String]] = [header] + rows.map { $0.map { VisibleText.escaped($0) } }
        let widths = header.indices.map { i in lines.map { $0[i].count }.max()! }
        return lines.map { row in
            row.indices.map { i in
                numeric.contains(header[i]) && row != header
                    ? String(repeating: " ", count: widths[i] - row[i].count) + row[i]
                    : row[i].padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }.joined()
    }

    /// A time to the second, with no fraction: every row the same width.
    static func seconds(_ time: Timestamp?) -> String? {
        time.map { Timestamp(microseconds: $0.microseconds - (($0.microseconds % 1_000_000) + 1_000_000) % 1_000_000).rfc3339 }
    }

    static func seconds(_ time: Timestamp) -> String { seconds(Optional(time))! }

    /// At most `width` characters: longer text ends in `…`.
    static func clipped(_ text: String, _ width: Int) -> String {
        let text = VisibleText.escaped(text)
        return text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
