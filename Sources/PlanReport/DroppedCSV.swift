import ConflictResolver
import RecoveryModel
import SlotFold

/// `dropped.csv`: every folded slot the plan leaves out on purpose, sorted by user, slot start and
/// outcome: `already_present` (a live row has the key), `offline_overlap` (the user's offline
/// entry wins), `deleted` (the slot's last event is a deletion).
enum DroppedCSV {
    static let header = ["user_id", "slot_start", "outcome", "detail", "provenance"]

    static let renderer = ReportRenderer(fileName: "dropped.csv", evidence: render)

    struct Record {
        var key: SlotKey
        var outcome: String
        var detail: String
        var provenance: String
    }

    static func render(_ evidence: PlanEvidence) -> String {
        var out = CSVText.record(header)
        for r in records(evidence) {
            out += CSVText.record([
                String(r.key.userID), r.key.slotStart.rfc3339, r.outcome, CSVText.text(r.detail), CSVText.text(r.provenance),
            ])
        }
        return out
    }

    static func records(_ evidence: PlanEvidence) -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(evidence.resolution.alreadyPresent.count + evidence.resolution.offlineOverlap.count
            + evidence.fold.deleted.count)
        for folded in evidence.resolution.alreadyPresent {
            records.append(Record(key: folded.slot.key, outcome: "already_present", detail: "a live row has this key",
                                  provenance: ProvenanceText.joined(folded.provenance)))
        }
        for drop in evidence.resolution.offlineOverlap {
            records.append(Record(key: drop.slot.slot.key, outcome: "offline_overlap", detail: offlineDetail(drop.entry),
                                  provenance: ProvenanceText.joined(drop.slot.provenance)))
        }
        for deleted in evidence.fold.deleted {
            records.append(Record(key: deleted.key, outcome: "deleted", detail: "the last event is a deletion",
                                  provenance: Provenance(kind: .log, location: deleted.location).description))
        }
        return records.sorted { ($0.key, $0.outcome) < ($1.key, $1.outcome) }
    }

    /// `offline entry 42 [2018-07-25T15:05:00Z, 2018-07-25T15:30:00Z) project 7`
    static func offlineDetail(_ entry: OfflineEntry) -> String {
        "offline entry \(entry.id) \(entry.interval) project \(entry.projectID)"
    }
}
