import PlanFormat
import RecoveryModel

/// `report.md`: the reviewer's report, in GitHub-flavoured Markdown that also reads as plain text.
/// Text from the sources is escaped (prose) or shown as code spans (paths, locations), so a hostile
/// path or reason cannot change the report's structure.
enum MarkdownReport {
    static let renderer = ReportRenderer(fileName: "report.md", review: { review, _ in render(review.content) })

    static func render(_ document: PlanDocument, _ evidence: PlanEvidence) -> String {
        render(ReviewContent(document, evidence))
    }

    static func render(_ c: ReviewContent) -> String {
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
        out += "## Quarantined records (\(c.quarantine.total))\n\n"
            + (c.quarantine.total > 0 ? table(c.quarantineByCode) : "") + table(c.quarantine, empty: "None.")
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
        // Made as bytes: a table of 2,000 rows is most of the report.
        var out: [UInt8] = []
        out.reserveCapacity(1024 + t.rows.count * 96 * max(1, t.headers.count))
        out += "| ".utf8
        for (i, header) in t.headers.enumerated() {
            if i > 0 { out += " | ".utf8 }
            Markdown.appendText(header, to: &out)
        }
        out += " |\n|".utf8
        for i in t.headers.indices {
            out += (t.numericColumns.contains(i) ? " ---: |" : " --- |").utf8
        }
        out += "\n".utf8
        var groups = t.groups[...]
        for (i, row) in t.rows.enumerated() {
            if let group = groups.first, group.index == i {
                out += "| **".utf8
                Markdown.appendText(group.title, to: &out)
                out += "** |".utf8
                for _ in 0..<max(0, t.headers.count - 1) { out += " |".utf8 }
                out += "\n".utf8
                groups = groups.dropFirst()
            }
            out += "| ".utf8
            for (c, cell) in row.enumerated() {
                if c > 0 { out += " | ".utf8 }
                Markdown.append(cell, inTable: true, to: &out)
            }
            out += " |\n".utf8
        }
        var text = String(decoding: out, as: UTF8.self)
        if t.leftOut > 0 {
            text += "\n*Showing the first \(t.rows.count) of \(t.total); "
            text += t.fullFile.map { "the other \(t.leftOut) are in \(Markdown.code($0)).*\n" }
                ?? "\(t.leftOut) more are counted in plan.json.*\n"
        }
        return text + "\n"
    }
}

/// Markdown escaping for text this tool did not write.
enum Markdown {
    /// Prose: control and bidirectional characters escaped visibly (`VisibleText`), then the
    /// characters Markdown would act on backslash-escaped (the escape's own `\` too).
    static func text(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count + 16)
        appendText(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text(value)`.
    static func appendText(_ value: String, to out: inout [UInt8]) {
        ReportEscape.append(value, to: &out, stops: active, backslash: true) { byte, _, out in
            out.append(0x5C)
            out.append(byte)
        }
    }

    /// A code span, fenced with more backticks than the value holds in a row; in a table a `|`
    /// is written `\|` (GitHub's tables split on it even inside code).
    static func code(_ value: String, inTable: Bool = false) -> String {
        var out: [UInt8] = []
        appendCode(value, inTable: inTable, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `code(value, inTable: inTable)`.
    static func appendCode(_ value: String, inTable: Bool, to out: inout [UInt8]) {
        var body: [UInt8] = []
        body.reserveCapacity(value.utf8.count + 8)
        var run = 0, longest = 0, lastTick = -2
        ReportEscape.append(value, to: &body, stops: inTable ? codeInTableStops : codeStops) { byte, at, body in
            if byte == 0x60 {
                run = at == lastTick + 1 ? run + 1 : 1
                lastTick = at
                longest = max(longest, run)
                body.append(0x60)
            } else {
                body.append(0x5C)
                body.append(0x7C)
            }
        }
        let pad = needsPad(body)
        for _ in 0...longest { out.append(0x60) }
        if pad { out.append(0x20) }
        out += body
        if pad { out.append(0x20) }
        for _ in 0...longest { out.append(0x60) }
    }

    /// True when a code span's `body` starts or ends with a backtick, as `String.hasPrefix` and
    /// `hasSuffix` see it (by characters, under canonical equivalence): read from the bytes when
    /// both ends are ASCII, where a character is its byte.
    static func needsPad(_ body: [UInt8]) -> Bool {
        let n = body.count
        guard n > 0 else { return false }
        if body[0] < 0x80, n == 1 || body[1] < 0x80, body[n - 1] < 0x80, n == 1 || body[n - 2] < 0x80 {
            return body[0] == 0x60 || body[n - 1] == 0x60
        }
        let text = String(decoding: body, as: UTF8.self)
        return text.hasPrefix("`") || text.hasSuffix("`")
    }

    static func cell(_ cell: ReportCell, inTable: Bool = false) -> String {
        var out: [UInt8] = []
        append(cell, inTable: inTable, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `cell(cell, inTable: inTable)`.
    static func append(_ cell: ReportCell, inTable: Bool, to out: inout [UInt8]) {
        switch cell {
        case .text(let s): appendText(s, to: &out)
        case .code(let s), .hash(let s): appendCode(s, inTable: inTable, to: &out)
        case .number(let n): ReportEscape.append(n, to: &out)
        }
    }

    static func line(_ cells: ReportLine, inTable: Bool = false) -> String {
        var out: [UInt8] = []
        for cell in cells { append(cell, inTable: inTable, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    private static let active = ReportEscape.Stops("\\`*_[]<>|&~#")
    private static let codeStops = ReportEscape.Stops("`")
    private static let codeInTableStops = ReportEscape.Stops("`|")
}
