import ConflictResolver
import PlanFormat
import RecoveryModel
import SlotFold

/// A piece of report text: prose, or a value shown verbatim (a path, a location, an id, a hash).
enum ReportCell: Hashable {
    case text(String)
    case code(String)
    /// A hash prefix: verbatim and never broken across lines.
    case hash(String)
    case number(Int)
}

/// A line of report text made of pieces.
typealias ReportLine = [ReportCell]

/// A table as both human reports show it: the first rows of `total`, the rest in `fullFile`.
struct ReportTable {
    var headers: [String]
    /// Columns holding numbers, right-aligned.
    var numericColumns: Set<Int> = []
    var rows: [ReportLine]
    var total: Int
    /// The file that lists every row, named when rows are left out; nil when only counted.
    var fullFile: String?
    /// Headings between rows: before row `index`, `title` (the rows to write, per user).
    var groups: [(index: Int, title: String)] = []

    var leftOut: Int { total - rows.count }
}

/// What `report.md` and `report.html` say, worked out once: the same figures, order and caps in
/// both layouts. Tables stop at `tableCap` rows (examples at `exampleCap`) and point to the CSV
/// that lists them all.
struct ReviewContent {
    static let tableCap = 200
    static let exampleCap = 5
    /// The rows to be written are listed complete up to this many; the rest are counted.
    static let rowsCap = 2000

    var planID: String
    var summary: [(label: String, value: ReportLine)]
    var warnings: [String]
    /// The window's end + 180 minutes: where every host's logs should reach.
    var needed: Timestamp
    var totals: ReportTable
    var recoveredLine: ReportLine
    var inputs: ReportTable
    var hosts: ReportTable
    var users: ReportTable
    /// The rows `apply` would insert, by user and slot.
    var rows: ReportTable
    var offline: ReportTable
    var present: ReportTable
    var quarantine: ReportTable
    /// The quarantined records by code, most first, with the files they come from.
    var quarantineByCode: ReportTable
    var deleted: ReportTable
    var duplicates: ReportTable
    var orphans: ReportTable
    var outsideWindow: Int
    var checklist: [ReportLine]

    init(_ document: PlanDocument, _ evidence: PlanEvidence) {
        let time = DisplayTime(zoneName: evidence.displayTimeZone)
        let window = evidence.window
        planID = document.planID
        needed = CoveragePolicy.needed(for: window)
        warnings = document.completeness.warnings
        summary = Self.summary(document, evidence, time)
        totals = Self.totals(document.counts)
        recoveredLine = Self.recoveredLine(document)
        inputs = Self.inputs(document.inputs)
        hosts = Self.hosts(evidence.hosts, needed: needed)
        users = Self.users(document.users)
        rows = Self.rows(evidence, users: document.users, time)
        offline = Self.offline(evidence.resolution.offlineOverlap)
        present = Self.present(evidence.resolution.alreadyPresent)
        let quarantined = QuarantinedCSV.records(evidence)
        quarantine = Self.quarantine(quarantined)
        quarantineByCode = Self.quarantineByCode(quarantined)
        deleted = Self.deleted(evidence.fold.deleted)
        duplicates = Self.ignored(evidence.fold.duplicates, headers: ["User", "Slot start", "Repeated upload", "First upload"])
        orphans = Self.ignored(evidence.fold.orphans, headers: ["User", "Slot start", "Processed event"])
        outsideWindow = evidence.fold.outsideWindow
        checklist = Self.checklist(document, evidence)
    }

    /// This content for `document`, the document it was made from once its plan id and rows
    /// hash are in: the parts made from the document are made again, the parts made from the
    /// evidence alone and the rows table (from the document's per-user totals, unchanged) kept.
    /// `PlanWriter` makes the content beside the rows file, before the plan id exists.
    func completed(by document: PlanDocument, _ evidence: PlanEvidence) -> ReviewContent {
        var c = self
        c.planID = document.planID
        c.warnings = document.completeness.warnings
        c.summary = Self.summary(document, evidence, DisplayTime(zoneName: evidence.displayTimeZone))
        c.totals = Self.totals(document.counts)
        c.recoveredLine = Self.recoveredLine(document)
        c.inputs = Self.inputs(document.inputs)
        c.users = Self.users(document.users)
        c.checklist = Self.checklist(document, evidence)
        return c
    }

    // MARK: Sections

    static func summary(_ document: PlanDocument, _ evidence: PlanEvidence, _ time: DisplayTime) -> [(label: String, value: ReportLine)] {
        let w = evidence.window
        let minutes = w.durationMicroseconds / 60_000_000
        var rows: [(label: String, value: ReportLine)] = [
            ("Plan id", [.code(document.planID)]),
            ("Window (UTC)", [.code(w.from.rfc3339), .text(" to "), .code(w.to.rfc3339),
                              .text(" (\(durationText(minutes: minutes)), half-open)")]),
            ("Window (\(evidence.displayTimeZone ?? "--tz"))", [.text(time.window(w))]),
            ("Shard", [.text(document.shard.map { "\($0.index) of \($0.count)" } ?? "none (the whole window)")]),
            ("Database", [.code(document.database.name), .text(" at "), .code(document.database.target),
                          .text(" (OID \(document.database.oid), cluster "), .code(document.database.systemIdentifier),
                          .text(", PostgreSQL "), .code(document.database.serverVersion), .text(")")]),
            ("Rows file", [.code(document.rows.file), .text(", \(document.rows.count) rows, SHA-256 "), .code(document.rows.sha256)]),
            ("Created", [.code(document.createdAt), .text(" (the latest event in the evidence) by recover-tool "), .code(document.toolVersion)]),
        ]
        if evidence.displayTimeZone == nil { rows[2].label = "Window (local)" }
        return rows
    }

    static func totals(_ c: PlanDocument.Counts) -> ReportTable {
        let rows: [ReportLine] = [
            [.code("recovered"), .number(c.recovered), .text("inserted by apply, with source 'recovered'")],
            [.code("already_present"), .number(c.alreadyPresent), .text("a live row has the key: live data is never overwritten")],
            [.code("offline_overlap"), .number(c.offlineOverlap), .text("overlaps an offline entry of the same user: the entry stays")],
            [.code("quarantined"), .number(c.quarantined), .text("records that cannot be stored as given (bad lines, unknown references)")],
            [.code("deleted"), .number(c.deleted), .text("slots whose last event is a deletion")],
            [.code("duplicates"), .number(c.duplicates), .text("retried uploads (a repeated request_id): changed nothing")],
            [.code("orphans"), .number(c.orphans), .text("processed events with no version before them")],
        ]
        return ReportTable(headers: ["Outcome", "Slots", "Meaning"], numericColumns: [1], rows: rows, total: rows.count)
    }

    static func recoveredLine(_ document: PlanDocument) -> ReportLine {
        let users = document.users.filter { $0.recovered > 0 }.count
        return [.text("Recovered: \(document.counts.recovered) slots, \(minutesText(document.recoveredMinutes)) for \(users) users.")]
    }

    static func inputs(_ inputs: [PlanDocument.Input]) -> ReportTable {
        let sorted = inputs.sorted { ($0.kind.rawValue, $0.path) < ($1.kind.rawValue, $1.path) }
        let rows: [ReportLine] = sorted.map { input in
            [
                .text(input.kind.rawValue), .code(input.path),
                .text(input.bytes.map(sizeText) ?? "database"),
                input.sha256.map { .hash(String($0.prefix(12))) } ?? .text("-"),
                .number(input.lines), .number(input.quarantined),
                .text(input.damage.map { "DAMAGED: \($0)" } ?? "read whole"),
            ]
        }
        return ReportTable(headers: ["Kind", "Path", "Size", "SHA-256", "Lines", "Quarantined", "Health"],
                           numericColumns: [4, 5], rows: rows, total: rows.count)
    }

    static func hosts(_ hosts: [HostCoverage], needed: Timestamp) -> ReportTable {
        let rows: [ReportLine] = hosts.sorted { $0.host < $1.host }.map { host in
            [
                .code(host.host),
                .code(host.firstEvent.rfc3339),
                .code(host.lastEvent.rfc3339),
                .text(reach(host.lastEvent, needed: needed)),
                .text(gapsText(host.gaps)),
            ]
        }
        return ReportTable(headers: ["Host", "First event", "Last event", "Reaches \(CoveragePolicy.neededText)", "Gaps (> \(CoveragePolicy.gapMinutes) min)"],
                           rows: rows, total: rows.count)
    }

    static func reach(_ last: Timestamp, needed: Timestamp) -> String {
        if last >= needed { return "yes" }
        let short = (needed.microseconds - last.microseconds + 59_999_999) / 60_000_000
        return "NO: \(durationText(minutes: short)) short"
    }

    static func gapsText(_ gaps: [Window]) -> String {
        guard !gaps.isEmpty else { return "none" }
        let listed = gaps.prefix(exampleCap).map { gap in
            "\(gap.from) to \(gap.to) (\(durationText(minutes: gap.durationMicroseconds / 60_000_000)))"
        }
        let more = gaps.count > exampleCap ? "; and \(gaps.count - exampleCap) more" : ""
        return "\(gaps.count): " + listed.joined(separator: "; ") + more
    }

    static func users(_ users: [PlanDocument.UserTotals]) -> ReportTable {
        let rows: [ReportLine] = users.prefix(tableCap).map { u in
            [.number(Int(u.userID)), .number(u.recovered), .number(u.recoveredMinutes), .number(u.alreadyPresent),
             .number(u.offlineOverlap), .number(u.quarantined)]
        }
        return ReportTable(headers: ["User", "Recovered", "Minutes", "Already present", "Offline overlap", "Quarantined"],
                           numericColumns: [0, 1, 2, 3, 4, 5], rows: rows, total: users.count, fullFile: "users.csv")
    }

    /// Every row to be written, by user then slot, up to `rowsCap`; a heading per user with
    /// their count and minutes, as `users` (the plan's per-user totals, sorted by user) has them.
    /// The slot start also in the `--tz` zone when one was given.
    static func rows(_ evidence: PlanEvidence, users: [PlanDocument.UserTotals], _ time: DisplayTime) -> ReportTable {
        // The resolver's order is by key already: sorted again only if not (a copy of every slot).
        // Spilled slots (`plan --memory-limit`) are in order, their first rows kept in memory.
        let recovered = evidence.spilledRecovered?.head ?? evidence.resolution.recovered
        // Each key read in place, as `UserNotice` reads them.
        let inOrder = recovered.withUnsafeBufferPointer { b -> Bool in
            guard let base = b.baseAddress else { return true }
            func key(_ i: Int) -> SlotKey { FoldedSlot.slotPointer(base + i).pointee.key }
            return b.indices.dropFirst().allSatisfy { key($0 - 1) < key($0) }
        }
        let sorted = inOrder ? recovered : recovered.sorted { $0.slot.key < $1.slot.key }
        let local = time.zoneIsKnown ? time.zoneName : nil
        var groups: [(index: Int, title: String)] = []
        var rows: [ReportLine] = []
        // The rows' users come in the order of `users`: one walk along it finds each one's totals.
        var next = users.startIndex
        for (i, f) in sorted.prefix(rowsCap).enumerated() {
            let s = f.slot
            if i == 0 || sorted[i - 1].slot.key.userID != s.key.userID {
                while next < users.endIndex, users[next].userID < s.key.userID { next += 1 }
                if next < users.endIndex, users[next].userID == s.key.userID {
                    let u = users[next]
                    groups.append((i, "User \(s.key.userID): \(u.recovered) slot\(u.recovered == 1 ? "" : "s"), \(minutesText(u.recoveredMinutes))"))
                }
            }
            var row: ReportLine = [.number(Int(s.key.userID)), .code(s.key.slotStart.rfc3339)]
            if local != nil { row.append(.code(time.local(s.key.slotStart) ?? "")) }
            row += [.number(Int(s.durationMinutes)), .number(Int(s.projectID)), s.taskID.map { .number(Int($0)) } ?? .text("-"),
                    .text(s.status.rawValue), s.activityLevel.map { .number(Int($0)) } ?? .text("-"),
                    .number(Int(s.keystrokes)), .number(Int(s.mouseEvents)), .code(ProvenanceText.bytewiseJoined(f.provenance))]
            rows.append(row)
        }
        var headers = ["User", "Slot start (UTC)"]
        if let local { headers.append("Slot start (\(local))") }
        headers += ["Minutes", "Project", "Task", "Status", "Activity", "Keystrokes", "Mouse events", "Provenance"]
        let shift = local == nil ? 0 : 1
        return ReportTable(headers: headers, numericColumns: Set([0, 2 + shift, 3 + shift, 4 + shift, 6 + shift, 7 + shift, 8 + shift]),
                           rows: rows, total: evidence.recoveredCount, fullFile: "recovered.csv", groups: groups)
    }

    static func offline(_ drops: [OfflineDrop]) -> ReportTable {
        let rows: [ReportLine] = drops.prefix(tableCap).map { d in
            [.number(Int(d.slot.slot.key.userID)), .code(d.slot.slot.key.slotStart.rfc3339), .number(Int(d.entry.id)),
             .code("\(d.entry.interval)"), .number(Int(d.entry.projectID)), .code(ProvenanceText.bytewiseJoined(d.slot.provenance))]
        }
        return ReportTable(headers: ["User", "Slot start", "Offline entry", "Entry interval (UTC)", "Entry project", "Provenance"],
                           numericColumns: [0, 2, 4], rows: rows, total: drops.count, fullFile: "dropped.csv")
    }

    static func present(_ slots: [FoldedSlot]) -> ReportTable {
        let rows: [ReportLine] = slots.prefix(tableCap).map { f in
            [.number(Int(f.slot.key.userID)), .code(f.slot.key.slotStart.rfc3339), .code(ProvenanceText.bytewiseJoined(f.provenance))]
        }
        return ReportTable(headers: ["User", "Slot start", "Provenance"], numericColumns: [0], rows: rows,
                           total: slots.count, fullFile: "dropped.csv")
    }

    /// Every code of `records` with its count and the number of files it comes from, most first
    /// (then by code): the records listed after it stop at `tableCap`, and a flood of one code
    /// would hide the others there.
    static func quarantineByCode(_ records: [QuarantineRecord]) -> ReportTable {
        var counts: [String: (records: Int, files: Set<String>)] = [:]
        for q in records { counts[q.reason.code, default: (0, [])].records += 1; counts[q.reason.code]!.files.insert(q.location.file) }
        let sorted = counts.sorted { $0.value.records != $1.value.records ? $0.value.records > $1.value.records : $0.key < $1.key }
        let rows: [ReportLine] = sorted.map { [.code($0.key), .number($0.value.records), .number($0.value.files.count)] }
        return ReportTable(headers: ["Code", "Records", "Files"], numericColumns: [1, 2], rows: rows, total: rows.count)
    }

    static func quarantine(_ records: [QuarantineRecord]) -> ReportTable {
        let rows: [ReportLine] = records.prefix(tableCap).map { q in
            [.code(q.location.description), .code(q.reason.code), .text(q.reason.description),
             q.key.map { .text("\($0)") } ?? .text("-")]
        }
        return ReportTable(headers: ["Source", "Code", "Reason", "Slot"], rows: rows, total: records.count,
                           fullFile: "quarantined.csv")
    }

    static func deleted(_ slots: [DeletedSlot]) -> ReportTable {
        let rows: [ReportLine] = slots.prefix(exampleCap).map { d in
            [.number(Int(d.key.userID)), .code(d.key.slotStart.rfc3339), .code(d.location.description)]
        }
        return ReportTable(headers: ["User", "Slot start", "Deleted by"], numericColumns: [0], rows: rows,
                           total: slots.count, fullFile: "dropped.csv")
    }

    static func ignored(_ events: [IgnoredEvent], headers: [String]) -> ReportTable {
        let first = events.sorted { ($0.key, $0.location) < ($1.key, $1.location) }.prefix(exampleCap)
        let rows: [ReportLine] = first.map { e in
            var row: ReportLine = [.number(Int(e.key.userID)), .code(e.key.slotStart.rfc3339), .code(e.location.description)]
            if headers.count == 4 { row.append(e.firstSeen.map { .code($0.description) } ?? .text("-")) }
            return row
        }
        return ReportTable(headers: headers, numericColumns: [0], rows: rows, total: events.count)
    }

    /// What to check before approving the plan id, with this plan's figures.
    static func checklist(_ document: PlanDocument, _ evidence: PlanEvidence) -> [ReportLine] {
        let c = document.counts
        let warnings = document.completeness.warnings.count
        return Self.basicChecklist(document, evidence, c, warnings) + Self.unknownZones(evidence)
    }

    /// The notices that give the window in UTC for want of a zone (`DisplayTime.zone`): an item
    /// naming the zones, none when every user's zone is shown.
    static func unknownZones(_ evidence: PlanEvidence) -> [ReportLine] {
        let unknown = evidence.userContacts.values.filter { $0.timeZone != "UTC" && DisplayTime.zone(named: $0.timeZone) == nil }
        guard !unknown.isEmpty else { return [] }
        let zones = Set(unknown.map(\.timeZone)).sorted()
        var line: ReportLine = [.text("The notices of \(unknown.count) users give the window in UTC: their time zones (")]
        for (i, zone) in zones.prefix(10).enumerated() {
            if i > 0 { line.append(.text(", ")) }
            line.append(.code(zone))
        }
        if zones.count > 10 { line.append(.text(" and \(zones.count - 10) more")) }
        line.append(.text(") are not IANA names of this machine's time zone database. Check them in the live users table before sending."))
        return [line]
    }

    private static func basicChecklist(_ document: PlanDocument, _ evidence: PlanEvidence, _ c: PlanDocument.Counts, _ warnings: Int) -> [ReportLine] {
        [
            [.text("The plan id you approve is "), .code(document.planID),
             .text(". apply refuses this directory if plan.json or the rows file changed; a new plan gets a new id and needs a new review.")],
            [.text("The window "), .code(evidence.window.from.rfc3339), .text(" to "), .code(evidence.window.to.rfc3339),
             .text(" is the incident's, and the database "), .code(document.database.name), .text(" at "),
             .code(document.database.target), .text(" is the live one it hit: apply refuses any other.")],
            warnings == 0
                ? [.text("The evidence is complete: no warning to explain.")]
                : [.text("Each of the \(warnings) completeness warnings is understood: logs that stop before \(CoveragePolicy.neededText), "
                    + "gaps and damaged files mean slots may be missing. Prefer fetching the missing logs and planning again.")],
            [.text("Every app server that was serving during the window appears under log coverage, and every input is the file you meant (compare the SHA-256).")],
            [.text("The \(c.quarantined) quarantined records have reasons you expect; a burst from one file or one reason can be a reader problem, not bad data.")],
            [.text("The \(c.offlineOverlap) offline overlaps are offline time users added after the incident (spot-check dropped.csv).")],
            [.text("The \(c.recovered) recovered slots (\(minutesText(document.recoveredMinutes))) are plausible per user: read the rows to be written, and spot-check a few users against what they report.")],
        ]
    }
}
