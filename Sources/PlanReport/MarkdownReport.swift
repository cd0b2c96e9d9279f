import PlanFormat
import RecoveryModel

/// `report.md`: the reviewer's report, in GitHub-flavoured Markdown that also reads as plain text.
/// Text from the sources is escaped (prose) or shown as code spans (paths, locations), so a hostile
/// path or reason cannot change the report's structure.
enum MarkdownReport {
    static let renderer = ReportRenderer(fileName: "report.md") { document, evidence in render(document, evidence) }

    static func render(_ document: PlanDocument, _ evidence: PlanEvidence) -> String {
        let c = ReviewContent(document, evidence)
        var out = "# Recovery plan \(Markdown.code(c.planID))\n\n"
        out += "A dry run: nothing has been written to the database. Approve the plan id, then "
            + "`recover-tool apply` this directory unchanged.\n\n"
        out += summary(c.summary) + completeness(c)
        out += "## Totals\n\n" + Markdown.line(c.recoveredLine) + "\n\n" + table(c.totals)
        out += "Events of slots outside the window, left out: \(c.outsideWindow).\n\n"
        out += "## Inputs\n\n" + table(c.inputs, empty: "No input.")
        out += "## Log coverage per host\n\n"
        out += "Each host's logs should run from the window's start to \(Markdown.code(c.needed.rfc3339)) "
            + "(\(CoveragePolicy.neededText): clients upload cached slots up to three hours late).\n\n"
        out += table(c.hosts, empty: "No log event was read from any host.")
        out += "## Per-user totals\n\n" + table(c.users, empty: "No user.")
        out += "## Rows to be written (\(c.rows.total))\n\n" + table(c.rows, empty: "None: apply would insert nothing.")
        out += "## Dropped slots\n\n"
        out += "### Offline overlap (\(c.offline.total))\n\n" + table(c.offline, empty: "None.")
        out += "### Already present (\(c.present.total))\n\n" + table(c.present, empty: "None.")
        out += "## Quarantined records (\(c.quarantine.total))\n\n" + table(c.quarantine, empty: "None.")
        out += "## Deletions, duplicates and orphans\n\n"
        out += "### Deleted (\(c.deleted.total))\n\n" + table(c.deleted, empty: "None.")
        out += "### Duplicate uploads (\(c.duplicates.total))\n\n" + table(c.duplicates, empty: "None.")
        out += "### Orphan processed events (\(c.orphans.total))\n\n" + table(c.orphans, empty: "None.")
        return out + checklist(c.checklist)
    }

    /// The summary table: a bold label and its value per row, then a blank line.
    static func summary(_ rows: [(label: String, value: ReportLine)]) -> String {
        var out = "| | |\n| --- | --- |\n"
        for (label, value) in rows {
            out += "| **\(Markdown.text(label))** | \(Markdown.line(value, inTable: true)) |\n"
        }
        return out + "\n"
    }

    /// The warning block: `missing` says where slots may be missing, `advice` follows it.
    static func warningBox(_ warnings: [String], missing: String, advice: String = "") -> String {
        var out = "## Completeness: WARNING\n\n"
        out += "> **WARNING: the evidence is incomplete (\(warnings.count) "
            + (warnings.count == 1 ? "warning" : "warnings") + ").** "
            + "Slots may be missing from \(missing).\(advice)\n>\n"
        for warning in warnings {
            out += "> - " + Markdown.text(warning) + "\n"
        }
        return out + "\n"
    }

    /// The reviewer's checklist, as boxes to tick.
    static func checklist(_ items: [ReportLine]) -> String {
        var out = "## Reviewer's checklist\n\n"
        for item in items { out += "- [ ] " + Markdown.line(item) + "\n" }
        return out
    }

    /// The warning block, or the line saying the evidence is complete.
    static func completeness(_ c: ReviewContent) -> String {
        guard !c.warnings.isEmpty else {
            return "## Completeness\n\n**The evidence is complete**: every host's logs reach "
                + "\(Markdown.code(c.needed.rfc3339)) (\(CoveragePolicy.neededText)) without a gap, and every file was read whole.\n\n"
        }
        return warningBox(c.warnings, missing: "this plan", advice: " `recover-tool plan --require-complete` refuses such evidence.")
    }

    static func table(_ t: ReportTable, empty: String = "None.") -> String {
        guard t.total > 0 else { return empty + "\n\n" }
        var out = "| " + t.headers.map(Markdown.text).joined(separator: " | ") + " |\n|"
        for i in t.headers.indices {
            out += t.numericColumns.contains(i) ? " ---: |" : " --- |"
        }
        out += "\n"
        var groups = t.groups[...]
        for (i, row) in t.rows.enumerated() {
            if let group = groups.first, group.index == i {
                out += "| **\(Markdown.text(group.title))** |" + String(repeating: " |", count: t.headers.count - 1) + "\n"
                groups = groups.dropFirst()
            }
            out += "| " + row.map { Markdown.cell($0, inTable: true) }.joined(separator: " | ") + " |\n"
        }
        if t.leftOut > 0 {
            out += "\n*Showing the first \(t.rows.count) of \(t.total); "
            out += t.fullFile.map { "the other \(t.leftOut) are in \(Markdown.code($0)).*\n" }
                ?? "\(t.leftOut) more are counted in plan.json.*\n"
        }
        return out + "\n"
    }
}

/// Markdown escaping for text this tool did not write.
enum Markdown {
    /// Prose: control and bidirectional characters escaped visibly (`VisibleText`), then the
    /// characters Markdown would act on backslash-escaped.
    static func text(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in VisibleText.escaped(value).unicodeScalars {
            if active.contains(scalar) { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    /// A code span, fenced with more backticks than the value holds in a row; in a table a `|`
    /// is written `\|` (GitHub's tables split on it even inside code).
    static func code(_ value: String, inTable: Bool = false) -> String {
        var body = ""
        var run = 0, longest = 0
        for scalar in VisibleText.escaped(value).unicodeScalars {
            run = scalar == "`" ? run + 1 : 0
            longest = max(longest, run)
            if scalar == "|" && inTable {
                body += "\\|"
            } else {
                body.unicodeScalars.append(scalar)
            }
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = body.hasPrefix("`") || body.hasSuffix("`") ? " " : ""
        return fence + pad + body + pad + fence
    }

    static func cell(_ cell: ReportCell, inTable: Bool = false) -> String {
        switch cell {
        case .text(let s): text(s)
        case .code(let s), .hash(let s): code(s, inTable: inTable)
        case .number(let n): String(n)
        }
    }

    static func line(_ cells: ReportLine, inTable: Bool = false) -> String {
        cells.map { cell($0, inTable: inTable) }.joined()
    }

    private static let active: Set<Unicode.Scalar> = ["\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "~", "#"]
}
