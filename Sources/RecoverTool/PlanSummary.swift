import PlanFormat

/// The lines `plan` prints: where the plan is, its id, and its counts.
enum PlanSummary {
    static func text(_ plan: PlanDocument, directory: String) -> String {
        let c = plan.counts
        return """
            plan \(plan.planID)
            window [\(plan.window.from), \(plan.window.to))\(plan.shard.map { " shard \($0)" } ?? "")
            recovered \(c.recovered) slots (\(plan.recoveredMinutes) min), already present \(c.alreadyPresent), \
            offline overlap \(c.offlineOverlap), deleted \(c.deleted), orphans \(c.orphans), duplicates \(c.duplicates), \
            quarantined \(c.quarantined)
            evidence \(plan.completeness.complete ? "complete" : "INCOMPLETE: \(plan.completeness.warnings.count) warnings")
            report \(directory)/report.md
            report \(directory)/report.html

            """
    }
}
