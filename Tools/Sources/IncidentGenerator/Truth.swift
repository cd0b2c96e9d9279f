import Foundation

/// Where a candidate slot (one with a folded version, or deleted) ends under CONTRACT §5.
enum Outcome: String, CaseIterable {
    case recovered, alreadyPresent = "already_present", offlineOverlap = "offline_overlap", deleted, quarantined
}

struct RecoveredSlot {
    var user: Int64
    var slot: Int64
    var version: Version
}

/// The ground truth the generator accumulates while it writes.
struct Truth {
    var lines = 0, uploads = 0, processed = 0, deleted = 0, otherEvents = 0, quarantinedLines = 0
    var inWindowUploads = 0, inWindowProcessed = 0, inWindowDeleted = 0
    var reasons: [String: Int] = [:]
    var logsOnly = LogsOnly()
    var outcomes: [Outcome: Int] = [:]
    var keys: [Outcome: [(Int64, Int64)]] = [:]
    var duplicates = 0, orphans = 0
    var recovered: [RecoveredSlot] = []
    var coverage: [String: Int] = [:]
    var discarded = 0
    var liveRows = 0, snapshotRows = 0, liveWindowRows = 0
    var snapshotWindowRows = 0, snapshotWindowMissingFromLive = 0, snapshotWindowChangedInLive = 0
    var referenceBytes = 0, liveBytes = 0, backupBytes = 0

    struct LogsOnly { var slots = 0, deleted = 0, duplicates = 0, orphans = 0 }

    mutating func count(_ outcome: Outcome, key: (Int64, Int64), reason: String?) {
        outcomes[outcome, default: 0] += 1
        keys[outcome, default: []].append(key)
        if outcome == .quarantined, let reason { reasons[reason, default: 0] += 1 }
    }
}

/// The canonical form of recovered rows that `recovered_rows_sha256` hashes (documented in
/// fixtures/README.md): one line per slot, sorted by user then slot start, tab-separated
/// `user_id slot_start project_id task_id duration_min status activity_level keystrokes
/// mouse_events active_apps note`, `\N` for null, texts with COPY escapes plus `\,`, apps joined by
/// commas, `slot_start` as `2018-07-25T14:50:00Z`.
enum Canonical {
    static func keyLine(_ user: Int64, _ slot: Int64, into out: inout [UInt8]) {
        out.appendInt(user); out.append(9)
        TimeText.rfc3339(slot, offsetMinutes: nil, fraction: .minimal, into: &out)
        out.append(10)
    }

    static func rowLine(_ r: RecoveredSlot, apps: [AppList], notes: [EncodedText], into out: inout [UInt8]) {
        let v = r.version
        out.appendInt(r.user); out.append(9)
        TimeText.rfc3339(r.slot, offsetMinutes: nil, fraction: .minimal, into: &out); out.append(9)
        out.appendInt(v.project); out.append(9)
        if v.task < 0 { out.appendASCII("\\N") } else { out.appendInt(v.task) }
        out.append(9); out.appendInt(Int64(v.duration)); out.append(9)
        out.append(contentsOf: Version.statusNames[Int(v.status)].utf8); out.append(9)
        if v.activity < 0 { out.appendASCII("\\N") } else { out.appendInt(Int64(v.activity)) }
        out.append(9); out.appendInt(Int64(v.keystrokes)); out.append(9); out.appendInt(Int64(v.mouse)); out.append(9)
        out.append(contentsOf: apps[Int(v.apps)].canonical); out.append(9)
        if v.note < 0 { out.appendASCII("\\N") } else { out.append(contentsOf: notes[Int(v.note)].canonical) }
        out.append(10)
    }
}

/// `expected.json`: see fixtures/README.md for the meaning of every count.
struct Expected: Encodable {
    struct Generator: Encodable {
        var seed: UInt64, users: Int, hours: Int, hosts: Int, window_start: String
        var malformed_rate: Double, history_days: Int
    }
    struct WindowText: Encodable { var from: String, to: String }
    struct Times: Encodable {
        var logs_from: String, logs_to: String, backup_taken_at: String
        var crashed_host: String, crash: String, lost_frame_from: String, restart: String
    }
    struct File: Encodable {
        var path: String, host: String, format: String, frames: Int, lines_written: Int, lines_readable: Int
        var truncated: Bool, bytes: Int, uncompressed_bytes: Int
    }
    struct Lines: Encodable {
        var total: Int, uploads: Int, processed: Int, deleted: Int, other_events: Int, quarantined: Int
        var in_window: InWindow
        struct InWindow: Encodable { var uploads: Int, processed: Int, deleted: Int }
    }
    struct LogsOnly: Encodable { var slots: Int, deleted: Int, duplicates: Int, orphans: Int }
    struct Plan: Encodable {
        var candidates: Int, recovered: Int, recovered_minutes: Int, already_present: Int, offline_overlap: Int
        var deleted: Int, orphans: Int, duplicates: Int
        var quarantined: Int, quarantined_lines: Int, quarantined_slots: Int
        var quarantined_by_reason: [String: Int]
    }
    struct Database: Encodable {
        var users: Int, projects: Int, tasks: Int, project_members: Int, offline_entries: Int
        var live_time_slots: Int, live_time_slots_in_window: Int
        var snapshot_rows: Int, snapshot_rows_in_window: Int
        var snapshot_rows_in_window_missing_from_live: Int, snapshot_rows_in_window_changed_in_live: Int
        var offline_entries_by_kind: [String: Int]
    }
    struct Keys: Encodable {
        var recovered: [String], already_present: [String], offline_overlap: [String], deleted: [String], quarantined: [String]
    }

    var format = 1
    var generator: Generator
    var window: WindowText
    var times: Times
    var files: [File]
    var lines: Lines
    var logs_only: LogsOnly
    var plan: Plan
    var recovered_keys_sha256: String
    var recovered_rows_sha256: String
    var database: Database
    var coverage: [String: Int]
    /// Slots drawn but not written because a rule would have read them two ways.
    var slots_left_out_as_ambiguous: Int
    /// Per outcome, `user_id@slot_start`, sorted; only for incidents of at most 3,000 candidates.
    var keys: Keys?
}
