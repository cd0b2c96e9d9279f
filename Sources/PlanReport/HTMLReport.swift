import PlanFormat
import RecoveryModel

/// `report.html`: the reviewer's report as one self-contained page: inline CSS, an inline SVG
/// timeline, no script, no external asset or font. Every value is HTML-escaped.
enum HTMLReport {
    static let renderer = ReportRenderer(fileName: "report.html", review: { review, evidence in
        render(review.content, timeline: review.timeline, evidence)
    })

    static func render(_ document: PlanDocument, _ evidence: PlanEvidence) -> String {
        render(ReviewContent(document, evidence), timeline: TimelineSVG(evidence).render(), evidence)
    }

    /// The page of `c`, with `timeline`, `TimelineSVG(evidence).render()`.
    static func render(_ c: ReviewContent, timeline: String, _ evidence: PlanEvidence) -> String {
        var out = pageStart(title: "Recovery plan \(c.planID.prefix(12))")
        out += "<h1>Recovery plan <code>\(HTML.escape(c.planID))</code></h1>\n"
        out += "<p>A dry run: nothing has been written to the database. Approve the plan id, then "
            + "<code>recover-tool apply</code> this directory unchanged.</p>\n"
        out += summary(c.summary) + completeness(c)
        out += "<h2>Totals</h2>\n<p>\(line(c.recoveredLine))</p>\n" + table(c.totals)
        out += "<p class=\"note\">Events of slots outside the window, left out: \(c.outsideWindow).</p>\n"
        out += "<h2>Timeline</h2>\n" + timeline
        out += "<p class=\"note\">Bars: slots per bucket by outcome (hover for figures). Lanes, from the window's start to "
            + "its \(CoveragePolicy.neededText): when each host's logs have events (teal), gaps of more than "
            + "\(CoveragePolicy.gapMinutes) minutes (red) and no events at all (pink). The shaded part after the window is the "
            + "\(CoveragePolicy.clientCacheMinutes) minutes in which clients still upload cached slots: every lane should be teal "
            + "up to the dashed line. The axis is in \(HTML.escape(TimelineSVG.axisZoneName(evidence)))."
            + "</p>\n"
        out += "<h2>Inputs</h2>\n" + table(c.inputs, empty: "No input.")
        out += "<h2>Log coverage per host</h2>\n<p>Each host's logs should run from the window's start to "
            + "<code>\(c.needed.rfc3339)</code> (\(CoveragePolicy.neededText)).</p>\n"
        out += table(c.hosts, empty: "No log event was read from any host.")
        out += "<h2>Per-user totals</h2>\n" + table(c.users, empty: "No user.")
        out += "<h2>Rows to be written (\(c.rows.total))</h2>\n" + table(c.rows, empty: "None: apply would insert nothing.")
        out += "<h2>Dropped slots</h2>\n"
        out += "<h3>Offline overlap (\(c.offline.total))</h3>\n" + table(c.offline)
        out += "<h3>Already present (\(c.present.total))</h3>\n" + table(c.present)
        out += "<h2>Quarantined records (\(c.quarantine.total))</h2>\n" + (c.quarantine.total > 0 ? table(c.quarantineByCode) : "") + table(c.quarantine)
        out += "<h2>Deletions, duplicates and orphans</h2>\n"
        out += "<h3>Deleted (\(c.deleted.total))</h3>\n" + table(c.deleted)
        out += "<h3>Duplicate uploads (\(c.duplicates.total))</h3>\n" + table(c.duplicates)
        out += "<h3>Orphan processed events (\(c.orphans.total))</h3>\n" + table(c.orphans)
        return out + checklist(c.checklist) + "</body>\n</html>\n"
    }

    /// The page up to `<body>`: the inline style and the (escaped) title.
    static func pageStart(title: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            + "<title>\(HTML.escape(title))</title>\n<style>\n\(style)</style>\n</head>\n<body>\n"
    }

    /// The summary table: a bold label and its value per row.
    static func summary(_ rows: [(label: String, value: ReportLine)]) -> String {
        var out = "<table class=\"summary\">\n"
        for (label, value) in rows {
            out += "<tr><th>\(HTML.escape(label))</th><td>\(line(value))</td></tr>\n"
        }
        return out + "</table>\n"
    }

    /// The warning box: `missing` says where slots may be missing, `advice` follows it.
    static func warningBox(_ warnings: [String], missing: String, advice: String = "") -> String {
        var out = "<section class=\"warning\">\n<h2>WARNING: the evidence is incomplete (\(warnings.count) "
            + (warnings.count == 1 ? "warning" : "warnings") + ")</h2>\n"
        out += "<p>Slots may be missing from \(missing).\(advice)</p>\n<ul>\n"
        for warning in warnings {
            out += "<li>\(HTML.escape(warning))</li>\n"
        }
        return out + "</ul>\n</section>\n"
    }

    /// The reviewer's checklist, as boxes to tick.
    static func checklist(_ items: [ReportLine]) -> String {
        var out = "<h2>Reviewer's checklist</h2>\n<ul class=\"checklist\">\n"
        for item in items {
            out += "<li><label><input type=\"checkbox\"> \(line(item))</label></li>\n"
        }
        return out + "</ul>\n"
    }

    static func completeness(_ c: ReviewContent) -> String {
        guard !c.warnings.isEmpty else {
            return "<section class=\"complete\"><strong>The evidence is complete</strong>: every host's logs reach "
                + "<code>\(c.needed.rfc3339)</code> (\(CoveragePolicy.neededText)) without a gap, and every file was read whole.</section>\n"
        }
        return warningBox(
            c.warnings, missing: "this plan", advice: " <code>recover-tool plan --require-complete</code> refuses such evidence.")
    }

    static func table(_ t: ReportTable, empty: String = "None.") -> String {
        guard t.total > 0 else { return "<p>\(HTML.escape(empty))</p>\n" }
        // Made as bytes: a table of 2,000 rows is most of the page.
        var out: [UInt8] = []
        out.reserveCapacity(1024 + t.rows.count * 160 * max(1, t.headers.count))
        // Each cell carries its column's name: on a narrow screen the rows become cards (see `style`).
        out += "<div class=\"table\"><table>\n<tr class=\"head\">".utf8
        for header in t.headers {
            out += "<th>".utf8
            HTML.append(header, to: &out)
            out += "</th>".utf8
        }
        out += "</tr>\n".utf8
        // `<td data-label="...">` and `<td class="num" data-label="...">`, made once per column.
        let opens: [[UInt8]] = t.headers.indices.map { i in
            var open = Array((t.numericColumns.contains(i) ? "<td class=\"num\" data-label=\"" : "<td data-label=\"").utf8)
            HTML.append(t.headers[i], to: &open)
            open += "\">".utf8
            return open
        }
        let plainOpen = Array("<td>".utf8), numOpen = Array("<td class=\"num\">".utf8)
        var groups = t.groups[...]
        for (r, row) in t.rows.enumerated() {
            if let group = groups.first, group.index == r {
                out += "<tr class=\"group\"><th colspan=\"".utf8
                ReportEscape.append(t.headers.count, to: &out)
                out += "\">".utf8
                HTML.append(group.title, to: &out)
                out += "</th></tr>\n".utf8
                groups = groups.dropFirst()
            }
            out += "<tr>".utf8
            for (i, cell) in row.enumerated() {
                out += i < opens.count ? opens[i] : t.numericColumns.contains(i) ? numOpen : plainOpen
                append(cell, to: &out)
                out += "</td>".utf8
            }
            out += "</tr>\n".utf8
        }
        out += "</table></div>\n".utf8
        var text = String(decoding: out, as: UTF8.self)
        if t.leftOut > 0 {
            text += "<p class=\"note\">Showing the first \(t.rows.count) of \(t.total); "
            text += t.fullFile.map { "the other \(t.leftOut) are in <code>\(HTML.escape($0))</code>.</p>\n" }
                ?? "\(t.leftOut) more are counted in plan.json.</p>\n"
        }
        return text
    }

    static func cell(_ cell: ReportCell) -> String {
        var out: [UInt8] = []
        append(cell, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `cell(cell)`.
    static func append(_ cell: ReportCell, to out: inout [UInt8]) {
        switch cell {
        case .text(let s):
            HTML.append(s, to: &out)
        case .code(let s):
            out += "<code>".utf8
            HTML.append(s, to: &out)
            out += "</code>".utf8
        case .hash(let s):
            out += "<code class=\"hash\">".utf8
            HTML.append(s, to: &out)
            out += "</code>".utf8
        case .number(let n):
            ReportEscape.append(n, to: &out)
        }
    }

    static func line(_ cells: ReportLine) -> String {
        var out: [UInt8] = []
        for cell in cells { append(cell, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    static let style = """
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
               color: #1d1d1d; background: #fff; max-width: 1240px; margin: 24px auto; padding: 0 16px; }
        h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; }
        code { font: 12px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
        code.hash { white-space: nowrap; overflow-wrap: normal; }
        div.table { max-width: 100%; overflow-x: auto; }
        tr.group th { background: #e8eef3; }
        table { border-collapse: collapse; margin: 8px 0 12px; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f2f2f2; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        table.summary th { width: 12em; }
        .warning { border: 3px solid #c62828; background: #fdecea; padding: 4px 16px 8px; margin: 16px 0; }
        .warning h2 { color: #b71c1c; margin-top: 8px; }
        .complete { border: 2px solid #2e7d32; background: #edf7ed; padding: 8px 16px; margin: 16px 0; }
        .note { color: #555; }
        svg.timeline { width: 100%; height: auto; border: 1px solid #ddd; }
        ul.checklist { list-style: none; padding-left: 4px; }
        /* A phone or a chat preview: no sideways scrolling; each table row becomes a card whose cells
           are labelled with their column (data-label), so every column (Health, Gaps) stays in view. */
        @media (max-width: 720px) {
          body { margin: 8px auto; padding: 0 8px; }
          h1 { font-size: 18px; overflow-wrap: anywhere; }
          table, tbody, tr, th, td { display: block; }
          table { border: 0; }
          tr.head { display: none; }
          tr { border: 1px solid #ccc; margin: 0 0 8px; }
          td, th { border: 0; border-bottom: 1px solid #eee; }
          td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; }
          td.num { text-align: left; }
          table.summary th { width: auto; }
        }

        """
}

/// HTML escaping for text and attribute values; control and bidirectional characters are
/// escaped visibly first (`VisibleText`).
enum HTML {
    static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count + 16)
        append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `escape(value)`.
    static func append(_ value: String, to out: inout [UInt8]) {
        ReportEscape.append(value, to: &out, stops: stops) { byte, _, out in
            switch byte {
            case 0x26: out.append(contentsOf: [0x26, 0x61, 0x6D, 0x70, 0x3B])  // &amp;
            case 0x3C: out.append(contentsOf: [0x26, 0x6C, 0x74, 0x3B])  // &lt;
            case 0x3E: out.append(contentsOf: [0x26, 0x67, 0x74, 0x3B])  // &gt;
            case 0x22: out.append(contentsOf: [0x26, 0x71, 0x75, 0x6F, 0x74, 0x3B])  // &quot;
            default: out.append(contentsOf: [0x26, 0x23, 0x33, 0x39, 0x3B])  // &#39;
            }
        }
    }

    // A NUL needs no case of its own: `VisibleText` writes it as `\u0000`.
    private static let stops = ReportEscape.Stops("&<>\"'")
}
