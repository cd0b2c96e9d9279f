import Foundation
import PlanFormat
import RecoveryModel

/// The review of a sharded recovery: `report.md` and `report.html` of a plan set, with the same
/// tables and order in both. Each shard's own report stays in its plan directory.
public enum SetReport {
    /// Writes `plan-set.json`, `report.md` and `report.html` into `directory`; returns their names.
    /// `plans` are the set's plan documents, in shard order.
    public static func write(_ set: PlanSet, plans: [PlanDocument], to directory: String) throws -> [String] {
        // Only to a new path (or an empty directory), written beside it and renamed into place,
        // as a plan: never over another set or a plan, never half-written.
        try PlanWriter.staged(directory) { try writeFiles(set, plans: plans, into: $0) }
    }

    static func writeFiles(_ set: PlanSet, plans: [PlanDocument], into directory: String) throws -> [String] {
        let manifest = directory + "/" + PlanSet.fileName
        let content = Content(set, plans: plans)
        for (name, text) in [("report.md", markdown(content)), ("report.html", html(content))] {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/" + name))
            } catch {
                throw PlanError(.cannotWrite, path: directory + "/" + name, detail: error.localizedDescription)
            }
        }
        do {  // the manifest last: a directory with plan-set.json is a finished set
            try Data(JSONOutput.encode(set).utf8).write(to: URL(fileURLWithPath: manifest))
        } catch {
            throw PlanError(.cannotWrite, path: manifest, detail: error.localizedDescription)
        }
        return ["report.md", "report.html", PlanSet.fileName]
    }

    /// What both layouts say, worked out once.
    struct Content {
        var set: PlanSet
        var summary: [(label: String, value: ReportLine)]
        var recoveredLine: ReportLine
        var totals: ReportTable
        var shards: ReportTable
        /// Each distinct completeness warning, with the shards that gave it.
        var warnings: [String]
        var users: ReportTable
        var checklist: [ReportLine]

        init(_ set: PlanSet, plans: [PlanDocument]) {
            self.set = set
            let n = set.shardCount
            summary = [
                ("Plan set id", [.code(set.setID)]),
                ("Window (UTC)", [.code(set.window.from), .text(" to "), .code(set.window.to), .text(" (half-open)")]),
                ("Shards", [.text("\(n): users split by SplitMix64(user_id) mod \(n), every K of 0 to \(n - 1) once")]),
                ("Live database", [.code(set.database.name), .text(" at "), .code(set.database.target),
                                   .text(" (OID \(set.database.oid), cluster "), .code(set.database.systemIdentifier), .text(")")]),
                ("Evidence", [.text(set.complete ? "complete in every shard" : "INCOMPLETE in some shard: see below")]),
            ]
            let minutes = plans.reduce(0) { $0 + $1.recoveredMinutes }
            let users = plans.flatMap(\.users).sorted { ($0.recovered, $1.userID) > ($1.recovered, $0.userID) }
            recoveredLine = [.text("Recovered: \(set.counts.recovered) slots, \(minutesText(minutes)) "
                + "for \(users.filter { $0.recovered > 0 }.count) users.")]
            totals = ReviewContent.totals(set.counts)
            let rows: [ReportLine] = set.plans.map { member in
                [.code(member.shard.description), .code(member.planID), .code(member.path), .number(member.counts.recovered),
                 .number(member.counts.alreadyPresent), .number(member.counts.offlineOverlap), .number(member.counts.quarantined),
                 .text(member.complete ? "complete" : "INCOMPLETE")]
            }
            shards = ReportTable(
                headers: ["Shard", "Plan id", "Directory", "Recovered", "Already present", "Offline overlap", "Quarantined", "Evidence"],
                numericColumns: [3, 4, 5, 6], rows: rows, total: rows.count)
            var seen: [String: [String]] = [:], order: [String] = []
            for plan in plans {
                for warning in plan.completeness.warnings {
                    if seen[warning] == nil { order.append(warning) }
                    seen[warning, default: []].append(plan.shard?.description ?? "-")
                }
            }
            warnings = order.map { warning in
                let shards = seen[warning]!
                return shards.count == n ? "\(warning) (every shard)" : "\(warning) (shards \(shards.joined(separator: ", ")))"
            }
            var table = ReviewContent.users(users)
            table.fullFile = "users.csv of each shard's directory"
            self.users = table
            checklist = [
                [.text("Every shard 0 to \(n - 1) of \(n) is listed once, for one window and one database.")],
                [.text("The evidence is complete in every shard, or each warning above is understood.")],
                [.text("The totals are plausible for the incident; spot-check users in each shard's recovered.csv.")],
                [.text("Quarantined lines that name no user (malformed JSON, broken UTF-8) are counted in every shard: "
                    + "count them once (each shard's quarantined.csv).")],
                [.text("Approve the set id "), .code(set.setID), .text(", then apply every shard with "),
                 .code("--plan-set SETID --set SETDIR"), .text(" and check the whole with "), .code("verify --set SETDIR")],
            ]
        }
    }

    static func markdown(_ c: Content) -> String {
        var out = "# Sharded recovery: plan set \(Markdown.code(c.set.setID))\n\n"
        out += "A dry run in \(c.set.shardCount) shards: nothing has been written to the database. Approve the set id, "
            + "then apply each shard's directory unchanged with `recover-tool apply DIR --plan-set SETID --set SETDIR`.\n\n"
        out += MarkdownReport.summary(c.summary)
        out += c.warnings.isEmpty
            ? "## Completeness\n\n**The evidence is complete** in every shard.\n\n"
            : MarkdownReport.warningBox(c.warnings, missing: "this recovery")
        out += "## Totals\n\n" + Markdown.line(c.recoveredLine) + "\n\n" + MarkdownReport.table(c.totals)
        out += "## Shards\n\nEach shard's own report is `report.md` in its directory.\n\n" + MarkdownReport.table(c.shards)
        out += "## Per-user totals, most recovered first\n\n" + MarkdownReport.table(c.users, empty: "No user.")
        return out + MarkdownReport.checklist(c.checklist)
    }

    static func html(_ c: Content) -> String {
        var out = HTMLReport.pageStart(title: "Plan set \(c.set.setID.prefix(12))")
        out += "<h1>Sharded recovery: plan set <code>\(HTML.escape(c.set.setID))</code></h1>\n"
        out += "<p>A dry run in \(c.set.shardCount) shards: nothing has been written to the database. Approve the set id, "
            + "then apply each shard's directory unchanged with <code>recover-tool apply DIR --plan-set SETID --set SETDIR</code>.</p>\n"
        out += HTMLReport.summary(c.summary)
        out += c.warnings.isEmpty
            ? "<section class=\"complete\"><strong>The evidence is complete</strong> in every shard.</section>\n"
            : HTMLReport.warningBox(c.warnings, missing: "this recovery")
        out += "<h2>Totals</h2>\n<p>\(HTMLReport.line(c.recoveredLine))</p>\n" + HTMLReport.table(c.totals)
        out += "<h2>Shards</h2>\n<p>Each shard's own report is <code>report.html</code> in its directory.</p>\n"
            + HTMLReport.table(c.shards)
        out += "<h2>Per-user totals, most recovered first</h2>\n" + HTMLReport.table(c.users, empty: "No user.")
        return out + HTMLReport.checklist(c.checklist) + "</body>\n</html>\n"
    }
}
