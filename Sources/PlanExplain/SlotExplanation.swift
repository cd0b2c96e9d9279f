import Foundation
import PlanFormat
import PostgresClient
import ReadStage
import RecoveryModel
import SlotFold

/// One slot's outcome in a plan and the events that led to it (`explain --json`).
public struct SlotExplanation: Encodable, Sendable {
    public struct Outcome: Encodable, Sendable {
        /// `recovered`, `already_present`, `offline_overlap`, `deleted`, `quarantined`, `outside_window`
        /// or `no_events`.
        public var kind: String
        public var detail: String
    }

    public struct Event: Encodable, Sendable {
        public var file: String
        public var line: Int
        /// `ts` of a log line, `updated_at` of a snapshot row.
        public var time: String
        public var host: String
        /// `snapshot_row`, `upload`, `processed` or `deleted`
        public var kind: String
        public var requestID: Nullable<String>
        /// What the fold did with it.
        public var rule: String
    }

    public struct Quarantined: Encodable, Sendable {
        public var file: String
        public var line: Int
        public var reasonCode: String
        public var reason: String
    }

    public var planID: String
    public var userID: Int64
    public var slotStart: String
    public var outcome: Outcome
    public var events: [Event]
    public var quarantined: [Quarantined]
    /// Inputs that could not be re-read as the plan read them.
    public var notes: [String]

    /// The answer for people: the outcome, then each event with its rule, the quarantined lines and the notes.
    /// Every text from an input is escaped on its own (`VisibleText`, line feeds included), so
    /// that none can print a line of its own.
    public var text: String {
        func v(_ text: String) -> String { VisibleText.escaped(text) }
        var out = "slot of user \(userID) at \(slotStart) in plan \(planID.prefix(12)): \(outcome.kind.replacingOccurrences(of: "_", with: " "))"
            + (outcome.detail.isEmpty ? "" : ": \(v(outcome.detail))") + "\n"
        out += events.isEmpty ? "no event for this slot in the plan's inputs\n" : "events, in fold order:\n"
        for (i, e) in events.enumerated() {
            out += "  \(i + 1). \(v(e.file)):\(e.line)  \(e.time)  \(e.host.isEmpty ? "snapshot" : v(e.host))  \(e.kind)"
                + (e.requestID.value.map { " request \(v($0))" } ?? "") + ": \(v(e.rule))\n"
        }
        if !quarantined.isEmpty { out += "quarantined for this slot:\n" }
        for q in quarantined { out += "  \(v(q.file)):\(q.line): \(q.reasonCode): \(v(q.reason))\n" }
        for note in notes { out += "note: \(v(note))\n" }
        return out
    }

    /// Explains `key`'s outcome in `plan`: the plan's decision from its CSV files, and the plan's
    /// inputs read again (log files and snapshot dumps; a snapshot database is not) for the
    /// slot's events in fold order, each with the rule the fold applied. `progress` sees the logs
    /// being read.
    public static func make(
        _ plan: PlanDirectory, key: SlotKey, progress: (@Sendable (Int64, Int64) -> Void)?
    ) throws -> SlotExplanation {
        let document = plan.document
        guard let window = document.window.window else {
            throw ExplainError(.window, "the plan in '\(plan.path)' has no valid window", location: plan.path)
        }
        // The plan's own read stage over its log files and snapshot dumps, for this user's shard.
        var notes: [String] = document.inputs.filter { $0.kind == .snapshot && $0.sha256 == nil }.map {
            "snapshot \($0.path) is a database: not re-read; its rows count in the outcome above"
        }
        // An input gone since the plan (moved, deleted, a path relative to where the plan was
        // made) is a note: the outcome is the plan's, from its own files.
        func present(_ input: PlanDocument.Input) -> Bool {
            var st = stat()
            guard stat(input.path, &st) != 0 else { return true }
            let reason = FileFailure.reason(errno: errno)
            notes.append("\(input.kind.rawValue) \(input.path) cannot be read now (\(reason)): its events are not shown"
                + (input.path.hasPrefix("/") ? "" : "; the path is relative to where the plan was made"))
            return false
        }
        let logs = document.inputs.filter { $0.kind == .log && present($0) }
        let dumps = document.inputs.filter { $0.kind == .snapshot && $0.sha256 != nil && present($0) }
        var events: [SlotEvent] = []
        var quarantined: [QuarantineRecord] = []
        var read: [String: String?] = [:]
        if !logs.isEmpty || !dumps.isEmpty {
            // Only dumps are read again: the schema, which names a snapshot database's tables, is not used.
            let sources = try PlanSources.read(
                window: window, logs: logs.map(\.path), snapshots: dumps.map(\.path), schema: SessionSettings.defaultSchema,
                shard: document.shard, progress: progress)
            events = sources.events(of: key)
            quarantined = sources.quarantine.filter { $0.key == key }
            read = Dictionary(sources.inputs.map { ($0.path, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        }
        for input in logs + dumps where read[input.path] != input.sha256 {
            notes.append("\(input.kind.rawValue) \(input.path) changed since the plan (the plan read SHA-256 \(input.sha256 ?? "?"))")
        }
        events.sort(by: SlotEvent.foldOrder)
        let fold = SlotFold.fold(events, window: window)
        let kept = Set(fold.slots.flatMap { $0.provenance.map(\.location) })
        let rules = events.map { event -> String in
            if let duplicate = fold.duplicates.first(where: { $0.location == event.location }) {
                return "duplicate upload: repeats the request of \(duplicate.firstSeen.map { "\($0)" } ?? "an earlier upload"); changes nothing"
            }
            if fold.orphans.contains(where: { $0.location == event.location }) {
                return "orphan: a processed event with no version before it; ignored"
            }
            if fold.deleted.contains(where: { $0.location == event.location }) {
                return "deletion: the slot's last word; nothing to recover"
            }
            if kept.contains(event.location) {
                switch event.kind {
                case .processed: return "applied: sets the kept version's status and activity level"
                default: return "the version kept: its values are the slot's"
                }
            }
            return "replaced by a later event"
        }
        return SlotExplanation(
            planID: document.planID, userID: key.userID, slotStart: key.slotStart.rfc3339,
            outcome: try outcome(plan, key: key, window: window, hasEvents: !events.isEmpty),
            events: zip(events, rules).map { event, rule in
                var requestID: String?
                if case .upload(let upload) = event.payload { requestID = upload.requestID }
                return Event(file: event.location.file, line: event.location.line, time: event.time.rfc3339, host: event.host,
                             kind: ["snapshot_row", "upload", "processed", "deleted"][Int(event.kind.rawValue)],
                             requestID: Nullable(requestID), rule: rule)
            },
            quarantined: quarantined.map {
                Quarantined(file: $0.location.file, line: $0.location.line, reasonCode: $0.reason.code, reason: $0.reason.description)
            },
            notes: notes)
    }

    /// The plan's decision for the key, from its CSV files (recovered.csv, dropped.csv, quarantined.csv).
    static func outcome(_ plan: PlanDirectory, key: SlotKey, window: Window, hasEvents: Bool) throws -> Outcome {
        guard window.contains(key.slotStart) else {
            return Outcome(kind: "outside_window", detail: "the plan's window is [\(window.from), \(window.to))")
        }
        if let shard = plan.document.shard, let owner = Shard(of: key.userID, count: shard.count), owner != shard {
            return Outcome(kind: "other_shard", detail: "user \(key.userID) is in shard \(owner), this plan is shard \(shard): "
                + "explain the slot with shard \(owner)'s plan")
        }
        let user = String(key.userID), start = key.slotStart.rfc3339
        func records(_ file: String) throws -> [[String]] {
            let path = plan.path + "/" + file
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ExplainError(.unreadable, "cannot read '\(path)': the plan directory is incomplete", location: path)
            }
            return CSVRecords.parse(text)
        }
        if try records("recovered.csv").dropFirst().contains(where: { $0.count > 1 && $0[0] == user && $0[1] == start }) {
            return Outcome(kind: "recovered", detail: "in rows.tsv: apply inserts it with source 'recovered'")
        }
        if let dropped = try records("dropped.csv").dropFirst().first(where: { $0.count > 3 && $0[0] == user && $0[1] == start }) {
            return Outcome(kind: dropped[2], detail: dropped[3])
        }
        let quarantined = try records("quarantined.csv").dropFirst()
        if let q = quarantined.first(where: { $0.count > 5 && $0[4] == user && $0[5] == start }) {
            return Outcome(kind: "quarantined", detail: "\(q[2]): \(q[3]) (\(q[0]):\(q[1]))")
        }
        guard !hasEvents else { return Outcome(kind: "no_events", detail: "the events below left no version") }
        // A line that could not be read names no slot: it may be this one's.
        let unnamed = quarantined.filter { $0.count > 5 && $0[4].isEmpty }.count
        return Outcome(kind: "no_events", detail: unnamed == 0
            ? "no input of the plan mentions this slot"
            : "no readable line of the plan's inputs names this slot; \(unnamed) quarantined lines name no slot (quarantined.csv), "
                + "and one of them may be this slot's")
    }
}
