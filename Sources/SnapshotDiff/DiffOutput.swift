import Foundation
import RecoveryModel

extension SnapshotDiffReport {
    /// The report for a reader: counts, per-user totals, the first entries of each kind, and the
    /// quarantined rows.
    public var text: String {
        var out = "snapshot \(snapshot) against live, window \(window)\n"
        for kind in DiffKind.allCases {
            out += "\(kind.rawValue): \(counts[kind])\n"
        }
        out += "quarantined: \(quarantined.count)\n"
        if !perUser.isEmpty {
            out += "\nper user (missing_from_live changed only_in_live identical):\n"
            for (user, c) in users {
                out += "  user \(user): \(c.missingFromLive) \(c.changed) \(c.onlyInLive) \(c.identical)\n"
            }
        }
        for kind in [DiffKind.missingFromLive, .changed, .onlyInLive] {
            guard let entries = samples[kind], !entries.isEmpty else { continue }
            out += "\nfirst \(kind.rawValue) (\(entries.count) of \(counts[kind])):\n"
            for entry in entries {
                out += "  \(entry.key)"
                if !entry.changedColumns.isEmpty { out += ": " + entry.changedColumns.joined(separator: ", ") }
                if let location = entry.snapshotLocation { out += " (\(location))" }
                out += "\n"
            }
        }
        if !quarantined.isEmpty {
            out += "\nquarantined:\n"
            for record in quarantined.prefix(sampleLimit) { out += "  \(record)\n" }
        }
        return out
    }

    /// What `diff --json` prints: `missing_from_live`, `changed`, `only_in_live`, `identical`
    /// (counts), `quarantined` (count), `window`, `snapshot`, `users`, `samples`, `quarantine`.
    public var jsonForm: some Encodable { JSONForm(self) }
}

private struct JSONForm: Encodable {
    struct Sample: Encodable {
        var user_id: Int64
        var slot_start: String
        var changed_columns: [String]?
        var snapshot_location: String?
    }
    struct User: Encodable {
        var user_id: Int64
        var missing_from_live, changed, only_in_live, identical: Int
    }
    struct Quarantine: Encodable {
        var location: String
        var reason: String
        var code: String
    }
    var window: [String: String]
    var snapshot: String
    var missing_from_live, changed, only_in_live, identical, quarantined: Int
    var users: [User]
    var samples: [String: [Sample]]
    var quarantine: [Quarantine]

    init(_ r: SnapshotDiffReport) {
        window = ["from": r.window.from.rfc3339, "to": r.window.to.rfc3339]
        snapshot = r.snapshot
        missing_from_live = r.counts.missingFromLive
        changed = r.counts.changed
        only_in_live = r.counts.onlyInLive
        identical = r.counts.identical
        quarantined = r.quarantined.count
        users = r.users.map {
            User(user_id: $0.userID, missing_from_live: $0.counts.missingFromLive, changed: $0.counts.changed,
                 only_in_live: $0.counts.onlyInLive, identical: $0.counts.identical)
        }
        var samples: [String: [Sample]] = [:]
        for (kind, entries) in r.samples {
            samples[kind.rawValue] = entries.map {
                Sample(user_id: $0.key.userID, slot_start: $0.key.slotStart.rfc3339,
                       changed_columns: $0.kind == .changed ? $0.changedColumns : nil,
                       snapshot_location: $0.snapshotLocation?.description)
            }
        }
        self.samples = samples
        quarantine = r.quarantined.map { Quarantine(location: $0.location.description, reason: $0.reason.description, code: $0.reason.code) }
    }
}
