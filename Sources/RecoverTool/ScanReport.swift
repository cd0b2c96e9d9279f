import Foundation
import LogReplay
import RecoveryModel
import SlotFold
import SourceFiles

/// What `scan` prints: the JSON shape (keys in snake case, times in UTC) and its text form.
/// docs/SCAN.md describes both.
struct ScanReport: Encodable {
    struct Range: Encodable {
        var from: String
        var to: String

        init(_ w: Window) {
            from = w.from.rfc3339
            to = w.to.rfc3339
        }
    }

    struct Damage: Encodable {
        var kind: String
        var offset: Int64
        var detail: String
    }

    struct File: Encodable {
        var path: String
        var compressed: Bool
        var file_bytes: Int64
        var bytes: Int64
        var lines: Int
        var events: EventCounts
        var in_window: EventCounts
        var other_events: [String: Int]
        var quarantined: Int
        var quarantined_by_reason: [String: Int]
        var truncated: Bool
        var corrupt: Bool
        var damage: Nullable<Damage>
        var dropped_partial_line: Bool

        init(_ f: LogFileReport) {
            path = f.path
            compressed = f.compressed
            file_bytes = f.fileBytes
            bytes = f.bytes
            lines = f.lines
            events = f.events
            in_window = f.inWindow
            other_events = f.otherEvents
            quarantined = f.quarantinedLines
            quarantined_by_reason = f.quarantined
            if case .truncated = f.damage { truncated = true } else { truncated = false }
            if case .corrupt = f.damage { corrupt = true } else { corrupt = false }
            damage = Nullable(f.damage.map { Damage(kind: $0.code, offset: $0.offset, detail: $0.description) })
            dropped_partial_line = f.droppedPartialLine
        }
    }

    struct Gap: Encodable {
        var from: String
        var to: String
        var minutes: Int64
    }

    struct Host: Encodable {
        var host: String
        var events: Int
        var first_event: String
        var last_event: String
        var gaps: [Gap]

        init(_ h: HostCoverage) {
            host = h.host
            events = h.events
            first_event = h.firstEvent.rfc3339
            last_event = h.lastEvent.rfc3339
            gaps = h.gaps.map { Gap(from: $0.from.rfc3339, to: $0.to.rfc3339, minutes: $0.durationMicroseconds / 60_000_000) }
        }
    }

    struct Totals: Encodable {
        var files: Int
        var lines: Int
        var bytes: Int64
        /// Slot events inside the window, by kind: what the fold reads.
        var uploads: Int
        var processed: Int
        var deleted: Int
        /// Valid slot events whose slot is outside the window.
        var outside_window: Int
        var other_events: Int
        var quarantined: Int
        var quarantined_by_reason: [String: Int]
        var damaged_files: Int
        /// After the fold.
        var slots: Int
        var deleted_slots: Int
        var duplicates: Int
        var orphans: Int
    }

    struct Quarantined: Encodable {
        var file: String
        var line: Int
        var reason: String
        var detail: String
    }

    var window: Range
    var coverage_range: Range
    var files: [File]
    var hosts: [Host]
    var totals: Totals
    /// The first `quarantineShown` quarantined lines, by path and line.
    var quarantine: [Quarantined]
    /// `--shard K/N`: the fold's totals are of this shard's users only (null: every user).
    var shard: Nullable<Shard> = Nullable(nil)

    init(logs: LogReplayResult, fold: FoldResult, quarantineShown: Int) {
        window = Range(logs.window)
        coverage_range = Range(logs.coverageRange)
        files = logs.files.map(File.init)
        hosts = logs.hosts.map(Host.init)
        let t = logs.totals
        totals = Totals(
            files: logs.files.count, lines: t.lines, bytes: t.bytes,
            uploads: t.inWindow.uploads, processed: t.inWindow.processed, deleted: t.inWindow.deleted,
            outside_window: t.events.total - t.inWindow.total, other_events: t.otherEventCount,
            quarantined: t.quarantinedLines, quarantined_by_reason: t.quarantined,
            damaged_files: logs.files.filter { $0.damage != nil }.count,
            slots: fold.slots.count, deleted_slots: fold.deleted.count,
            duplicates: fold.duplicates.count, orphans: fold.orphans.count)
        quarantine = logs.quarantine.prefix(quarantineShown).map {
            Quarantined(file: $0.location.file, line: $0.location.line, reason: $0.reason.code, detail: $0.reason.description)
        }
    }

    /// The report for people.
    func text() -> String {
        var out = "scan of window [\(window.from), \(window.to)) UTC; host coverage until \(coverage_range.to)\n\n"
        out += "files (\(files.count)):\n"
        for f in files {
            out += "  \(VisibleText.escaped(f.path)): \(f.lines) lines, \(f.events.uploads) uploads, \(f.events.processed) processed, "
                + "\(f.events.deleted) deleted; in window \(f.in_window.uploads)/\(f.in_window.processed)/\(f.in_window.deleted); "
                + "\(f.other_events.values.reduce(0, +)) other, \(f.quarantined) quarantined\n"
            if !f.quarantined_by_reason.isEmpty {
                out += "    quarantined: " + Self.list(f.quarantined_by_reason) + "\n"
            }
            if let d = f.damage.value {
                out += "    DAMAGED: \(d.detail)" + (f.dropped_partial_line ? "; the cut last line was not read" : "") + "\n"
            }
        }
        out += "\nhosts (\(hosts.count)), gaps of more than \(CoveragePolicy.gapMinutes) minutes in [\(coverage_range.from), \(coverage_range.to)):\n"
        for h in hosts {
            out += "  \(VisibleText.escaped(h.host)): \(h.events) events, first \(h.first_event), last \(h.last_event)"
            out += h.gaps.isEmpty ? ", no gaps\n" : "\n" + h.gaps.map { "    gap \($0.from) to \($0.to) (\($0.minutes) min)\n" }.joined()
        }
        let t = totals
        out += "\ntotals: \(t.lines) lines in \(t.files) files"
            + (t.damaged_files > 0 ? " (\(t.damaged_files) damaged)" : "") + "\n"
        out += "  in window: \(t.uploads) uploads, \(t.processed) processed, \(t.deleted) deleted; "
            + "\(t.outside_window) slot events outside the window, \(t.other_events) other events\n"
        out += "  quarantined: \(t.quarantined)" + (t.quarantined_by_reason.isEmpty ? "" : " (" + Self.list(t.quarantined_by_reason) + ")") + "\n"
        out += "  after the fold" + (shard.value.map { " (shard \($0): its users only)" } ?? "") + ": \(t.slots) slots with a version, \(t.deleted_slots) deleted, "
            + "\(t.duplicates) duplicate uploads, \(t.orphans) orphan processed events\n"
        if !quarantine.isEmpty {
            out += "\nquarantined lines" + (quarantine.count < t.quarantined ? " (first \(quarantine.count) of \(t.quarantined))" : "") + ":\n"
            for q in quarantine { out += "  \(VisibleText.escaped(q.file)):\(q.line): \(VisibleText.escaped(q.detail))\n" }
        }
        return out
    }

    private static func list(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }
}
