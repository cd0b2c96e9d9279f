import ConflictResolver
import PlanFormat
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
        let records = records(evidence)
        var out = TextBuffer(capacity: 256 + records.count * 160)
        out.append(CSVText.record(header))
        for r in records {
            out.append(r.key.userID)
            out.append(byte: 0x2C)
            out.append(r.key.slotStart)
            out.append(byte: 0x2C)
            out.append(r.outcome)
            out.append(byte: 0x2C)
            CSVText.appendText(r.detail, to: &out.bytes)
            out.append(byte: 0x2C)
            CSVText.appendText(r.provenance, to: &out.bytes)
            out.append("\r\n")
        }
        return out.text
    }

    static func records(_ evidence: PlanEvidence) -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(evidence.resolution.alreadyPresent.count + evidence.resolution.offlineOverlap.count
            + evidence.fold.deleted.count)
        for folded in evidence.resolution.alreadyPresent {
            records.append(Record(key: folded.slot.key, outcome: "already_present", detail: "a live row has this key",
                                  provenance: ProvenanceText.bytewiseJoined(folded.provenance)))
        }
        for drop in evidence.resolution.offlineOverlap {
            records.append(Record(key: drop.slot.slot.key, outcome: "offline_overlap", detail: offlineDetail(drop.entry),
                                  provenance: ProvenanceText.bytewiseJoined(drop.slot.provenance)))
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

extension ProvenanceText {
    /// `joined(provenance)`, made as bytes: no `String` per entry. The reports make one per row.
    static func bytewiseJoined(_ provenance: [Provenance]) -> String {
        var out = TextBuffer(capacity: provenance.count * 48)
        for (i, p) in provenance.enumerated() {
            if i > 0 { out.append("; ") }
            out.append(p.kind.rawValue)
            out.append(byte: 0x20)
            out.append(p.location.file)
            out.append(byte: 0x3A)
            out.append(p.location.line)
        }
        return out.text
    }
}
