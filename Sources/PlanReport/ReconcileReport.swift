import PlanFormat
import Reconcile
import RecoveryModel

/// The reviewer's reports of a reconcile plan: report.md, report.html (self-contained, with a
/// timeline of the job window and when the differing live rows were written), reconcile.csv.
/// They answer: which customers (companies), which projects, how many rows, and why each row is
/// restored or kept.
enum ReconcileReport {
    /// At most this many rows are listed per outcome in report.md and report.html; reconcile.csv
    /// holds them all.
    static let listLimit = 500

    struct Content {
        var summary: [(String, String)]
        var counts: [(String, Int)]
        var users: (header: [String], rows: [[String]])
        var projects: (header: [String], rows: [[String]])
        var sections: [(title: String, total: Int, header: [String], rows: [[String]])]
        var notes: [String]
    }

    static func content(_ document: ReconcileDocument, _ e: ReconcileEvidence) -> Content {
        var summary: [(String, String)] = [
            ("plan id", document.planID),
            ("kind", "reconcile: restore the columns a bad job rewrote"),
            ("job window", "[\(e.job.from), \(e.job.to))"),
            ("columns", document.columns.joined(separator: ", ")),
            ("slot range", e.range.map { "[\($0.from), \($0.to))" } ?? "every slot of the snapshot"),
            ("snapshot", "\(e.snapshot.path) (\(e.snapshot.kind)\(e.snapshot.sha256.map { ", sha256 \($0)" } ?? ""))"),
            ("snapshot's newest updated_at", e.snapshot.newestUpdatedAt ?? "none"),
            ("database", e.database.description),
            ("created", document.createdAt),
        ]
        if let shard = e.shard { summary.append(("shard", shard.description)) }
        let c = document.counts
        var counts = SlotOutcome.allCases.map { ($0.title, c[$0]) }
        counts += [
            ("unchanged (equal to the snapshot)", c.unchanged), ("unreadable snapshot rows", c.unreadable),
            ("memberships restored", c.membershipsRestored), ("memberships not restorable", c.membershipsQuarantined),
        ]
        let outcomes = SlotOutcome.allCases
        let header = outcomes.map(\.title)
        let users = e.totals { $0.key.userID }.map { user, n in [String(user)] + outcomes.map { String(n[$0] ?? 0) } }
        let projects = e.totals { $0.snapshot.row.slot.projectID }.map { project, n in
            [String(project), e.companies[project].map { String($0) } ?? "gone"] + outcomes.map { String(n[$0] ?? 0) }
        }
        var sections: [(String, Int, [String], [[String]])] = []
        for outcome in outcomes {
            let decisions = e.result.decisions(outcome)
            let rows = decisions.prefix(listLimit).map { d -> [String] in
                let changes = d.differing.map { column in
                    "\(column.rawValue): \(d.live.map { column.display($0) } ?? "-") → \(column.display(d.snapshot.row))"
                }.joined(separator: "; ")
                return [
                    String(d.key.userID), d.key.slotStart.rfc3339, changes.isEmpty ? "-" : changes,
                    d.live.map { $0.updatedAt.rfc3339 } ?? "-", d.reason.map { "\($0)" } ?? "", d.evidence,
                ]
            }
            sections.append((outcome.title, decisions.count, ["user", "slot_start", "column: live (job's) → snapshot", "live updated_at", "reason", "evidence"], rows))
        }
        let memberRows = e.result.memberships.map { m in
            [String(m.membership.projectID), String(m.membership.userID), m.restored ? "restored" : "not restorable: \(m.reason!)",
             "snapshot \(m.snapshot.location)"]
        }
        sections.append(("project memberships", memberRows.count, ["project", "user", "outcome", "evidence"], memberRows))
        let unreadable = e.quarantinedRows.prefix(listLimit).map { ["\($0.location)", "\($0.reason)", $0.key.map { "\($0)" } ?? ""] }
        sections.append(("unreadable snapshot rows", e.quarantinedRows.count, ["location", "reason", "slot"], Array(unreadable)))
        var notes: [String] = []
        if c.missingFromLive > 0 {
            notes.append("\(c.missingFromLive) snapshot rows are missing from live: reconcile does not insert slots; `recover-tool plan --snapshot` recovers them under the offline rule.")
        }
        if !e.snapshot.hasProjectMembers {
            notes.append("The snapshot holds no project_members: no membership is restored. Dump it too (pg_dump -t time_slots -t project_members).")
        }
        if !e.result.duplicateSnapshotRows.isEmpty {
            notes.append("\(e.result.duplicateSnapshotRows.count) snapshot rows repeat a key; the first of each stands.")
        }
        return Content(
            summary: summary, counts: counts, users: (["user"] + header, users),
            projects: (["project (snapshot's)", "company"] + header, projects), sections: sections, notes: notes)
    }

    // MARK: report.md

    static func markdown(_ document: ReconcileDocument, _ e: ReconcileEvidence) -> String {
        let c = content(document, e)
        // Markdown.text escapes control characters and what Markdown acts on (a `|` too).
        func cell(_ s: String) -> String { Markdown.text(s) }
        func table(_ header: [String], _ rows: [[String]]) -> String {
            guard !rows.isEmpty else { return "None.\n" }
            var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
            out += "|" + String(repeating: " --- |", count: header.count) + "\n"
            for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
            return out
        }
        var out = "# Reconcile plan `\(document.planID)`\n\n"
        out += "A dry run: nothing has been written to the database. Approve the plan id, then "
            + "`recover-tool apply --plan-id \(document.planID) DIR` this directory unchanged.\n\n"
        out += table(["", ""], c.summary.map { [$0.0, $0.1] }) + "\n"
        out += "## Counts\n\n" + table(["outcome", "rows"], c.counts.map { [$0.0, String($0.1)] }) + "\n"
        for note in c.notes { out += "> \(note)\n\n" }
        out += "## Per project (which customers)\n\n" + table(c.projects.header, c.projects.rows) + "\n"
        out += "## Per user\n\n" + table(c.users.header, c.users.rows) + "\n"
        for s in c.sections {
            out += "## \(s.title.prefix(1).uppercased() + s.title.dropFirst()) (\(s.total))\n\n"
            if s.total > s.rows.count { out += "The first \(s.rows.count); reconcile.csv lists all.\n\n" }
            out += table(s.header, s.rows) + "\n"
        }
        return out
    }

    // MARK: report.html

    static func html(_ document: ReconcileDocument, _ e: ReconcileEvidence) -> String {
        let c = content(document, e)
        func table(_ header: [String], _ rows: [[String]]) -> String {
            guard !rows.isEmpty else { return "<p>None.</p>\n" }
            var out = "<table>\n<tr>" + header.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>\n"
            for row in rows {
                out += "<tr>" + row.map { v in
                    v.allSatisfy(\.isNumber) && !v.isEmpty ? "<td class=\"num\">\(v)</td>" : "<td>\(HTML.escape(v))</td>"
                }.joined() + "</tr>\n"
            }
            return out + "</table>\n"
        }
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<title>Reconcile plan \(HTML.escape(String(document.planID.prefix(12))))</title>\n"
        out += "<style>\n\(HTMLReport.style)</style>\n</head>\n<body>\n"
        out += "<h1>Reconcile plan <code>\(HTML.escape(document.planID))</code></h1>\n"
        out += "<p>A dry run: nothing has been written to the database. Approve the plan id, then "
            + "<code>recover-tool apply --plan-id \(HTML.escape(document.planID))</code> this directory unchanged.</p>\n"
        out += "<table class=\"summary\">\n"
        for (label, value) in c.summary { out += "<tr><th>\(HTML.escape(label))</th><td>\(HTML.escape(value))</td></tr>\n" }
        out += "</table>\n<h2>Counts</h2>\n" + table(["outcome", "rows"], c.counts.map { [$0.0, String($0.1)] })
        for note in c.notes { out += "<p class=\"note\">\(HTML.escape(note))</p>\n" }
        out += "<h2>Timeline</h2>\n" + timeline(e)
        out += "<p class=\"note\">When the live rows that differ from the snapshot were last written, per outcome; "
            + "the shaded band is the job window [JOB_FROM, JOB_TO).</p>\n"
        out += "<h2>Per project (which customers)</h2>\n" + table(c.projects.header, c.projects.rows)
        out += "<h2>Per user</h2>\n" + table(c.users.header, c.users.rows)
        for s in c.sections {
            out += "<h2>\(HTML.escape(s.title.prefix(1).uppercased() + s.title.dropFirst())) (\(s.total))</h2>\n"
            if s.total > s.rows.count { out += "<p class=\"note\">The first \(s.rows.count); reconcile.csv lists all.</p>\n" }
            out += table(s.header, s.rows)
        }
        return out + "</body>\n</html>\n"
    }

    static let colors: [SlotOutcome: String] = [
        .restore: "#1e88e5", .keptChangedAfterJob: "#43a047", .keptNotFingerprint: "#fb8c00", .quarantined: "#e53935",
    ]

    /// An inline SVG: per outcome, a lane of ticks at each differing live row's `updated_at`,
    /// over a band for the job window.
    static func timeline(_ e: ReconcileEvidence) -> String {
        let times = e.result.slots.compactMap { $0.live?.updatedAt.microseconds }
        var lo = e.job.from.microseconds, hi = e.job.to.microseconds
        if let min = times.min() { lo = Swift.min(lo, min) }
        if let max = times.max() { hi = Swift.max(hi, max) }
        let pad = Swift.max((hi - lo) / 20, 60_000_000)
        lo -= pad
        hi += pad
        let width = 1200.0, left = 200.0, right = 20.0, lane = 28.0
        let lanes: [SlotOutcome] = [.restore, .keptChangedAfterJob, .keptNotFingerprint, .quarantined]
        let height = 40.0 + lane * Double(lanes.count) + 30
        func x(_ t: Int64) -> Double { left + Double(t - lo) / Double(hi - lo) * (width - left - right) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"job window and when the differing live rows were written\">\n"
        let jx = x(e.job.from.microseconds), jw = x(e.job.to.microseconds) - jx
        out += "<rect x=\"\(f(jx))\" y=\"20\" width=\"\(f(jw))\" height=\"\(f(lane * Double(lanes.count) + 10))\" fill=\"#fdecea\" stroke=\"#c62828\"><title>job window \(e.job)</title></rect>\n"
        out += "<text x=\"\(f(jx))\" y=\"14\" font-size=\"11\" fill=\"#b71c1c\">JOB_FROM \(e.job.from)</text>\n"
        out += "<text x=\"\(f(jx + jw))\" y=\"\(f(height - 4))\" font-size=\"11\" fill=\"#b71c1c\" text-anchor=\"end\">JOB_TO \(e.job.to)</text>\n"
        for (i, outcome) in lanes.enumerated() {
            let y = 30.0 + lane * Double(i)
            let decisions = e.result.decisions(outcome)
            out += "<text x=\"4\" y=\"\(f(y + 14))\" font-size=\"12\">\(HTML.escape(outcome.title)) (\(decisions.count))</text>\n"
            // One tick per distinct pixel column, with how many rows it stands for.
            var buckets: [Int: Int] = [:]
            for d in decisions { if let t = d.live?.updatedAt.microseconds { buckets[Int(x(t)), default: 0] += 1 } }
            for (px, n) in buckets.sorted(by: { $0.key < $1.key }) {
                out += "<rect x=\"\(px)\" y=\"\(f(y))\" width=\"2\" height=\"20\" fill=\"\(colors[outcome]!)\"><title>\(n) rows</title></rect>\n"
            }
        }
        return out + "</svg>\n"
    }

    // MARK: reconcile.csv

    /// Every decision: one line per snapshot row with an outcome, then one per membership.
    static func csv(_ e: ReconcileEvidence) -> String {
        var out = CSVText.record(["kind", "outcome", "user_id", "slot_start", "project_id", "column", "live_value", "snapshot_value", "live_updated_at", "reason", "evidence"])
        for d in e.result.slots {
            let columns: [SlotColumn?] = d.differing.isEmpty ? [nil] : d.differing
            for column in columns {
                out += CSVText.record([
                    "time_slots", d.outcome.rawValue, String(d.key.userID), d.key.slotStart.rfc3339,
                    String(d.snapshot.row.slot.projectID), column?.rawValue ?? "",
                    CSVText.text(column.flatMap { c in d.live.map { c.display($0) } } ?? ""),
                    CSVText.text(column.map { $0.display(d.snapshot.row) } ?? ""),
                    d.live?.updatedAt.rfc3339 ?? "", CSVText.text(d.reason.map { "\($0)" } ?? ""), CSVText.text(d.evidence),
                ])
            }
        }
        for m in e.result.memberships {
            out += CSVText.record([
                "project_members", m.restored ? "restore" : "quarantined", String(m.membership.userID), "",
                String(m.membership.projectID), "", "", "", "", CSVText.text(m.reason.map { "\($0)" } ?? ""),
                CSVText.text("snapshot \(m.snapshot.location)"),
            ])
        }
        return out
    }
}
