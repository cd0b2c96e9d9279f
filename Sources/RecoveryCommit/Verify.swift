import PostgresClient
import RecoveryModel

/// What `verify` found for one run.
public struct VerifyReport: Sendable, Encodable {
    /// One slot of the run that is not as the apply left it.
    public struct SlotDifference: Hashable, Sendable, Encodable {
        public enum Kind: String, Hashable, Sendable, Encodable {
            /// The row is gone from `time_slots`.
            case missing
            /// The row's values differ from those the apply wrote (its fingerprint).
            case changed
            /// The row overlaps an offline entry of its user (`otherID`).
            case offlineOverlap = "offline_overlap"
            /// A slot the apply found already present (a drop it relied on: `slotID` is the row
            /// it found) with no row for its key now.
            case presentGone = "present_gone"
        }

        public var kind: Kind
        public var slotID: Int64
        public var key: SlotKey
        public var offlineEntryID: Int64?

        enum CodingKeys: String, CodingKey {
            case kind, slotID = "slot_id", userID = "user_id", slotStart = "slot_start", offlineEntryID = "offline_entry_id"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(slotID, forKey: .slotID)
            try c.encode(key.userID, forKey: .userID)
            try c.encode(key.slotStart.rfc3339, forKey: .slotStart)
            try c.encode(offlineEntryID, forKey: .offlineEntryID)
        }
    }

    /// A count recorded in `recovery.runs` that the rows do not bear out.
    public struct CountDifference: Hashable, Sendable, Encodable {
        /// `inserted`, `dropped_present`, `dropped_offline`, `planned`
        public var name: String
        public var recorded: Int
        public var found: Int
    }

    public var run: RunRecord
    /// Slots of the run checked (rows of `recovery.run_slots`).
    public var checked: Int
    public var missing: Int
    public var changed: Int
    public var offlineOverlap: Int
    /// Slots the apply found already present, and did not insert for that reason, with no row
    /// for their key now (the run that inserted them reverted, or a user deleted them).
    public var presentGone = 0
    /// The first differences (at most the limit given to `verify`): the run's own slots by key,
    /// then the slots it found present that are gone, by key.
    public var slots: [SlotDifference]
    public var counts: [CountDifference]
    /// Reconcile runs: inserted memberships no longer in `project_members`.
    public var membersMissing = 0
    /// The first of them, by project and user (at most the limit given to `verify`).
    public var membersGone: [ProjectMembership] = []

    /// True when the run is as the apply left it. A reverted run has nothing to check.
    public var isClean: Bool {
        run.status == .reverted
            || (missing == 0 && changed == 0 && offlineOverlap == 0 && presentGone == 0 && membersMissing == 0 && counts.isEmpty)
    }

    enum CodingKeys: String, CodingKey {
        case run, checked, missing, changed, offlineOverlap = "offline_overlap", presentGone = "present_gone", slots, counts, clean
        case membersMissing = "members_missing", membersGone = "members_gone"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(run, forKey: .run)
        try c.encode(checked, forKey: .checked)
        try c.encode(missing, forKey: .missing)
        try c.encode(changed, forKey: .changed)
        try c.encode(offlineOverlap, forKey: .offlineOverlap)
        if run.kind != "reconcile" { try c.encode(presentGone, forKey: .presentGone) }
        try c.encode(slots, forKey: .slots)
        try c.encode(counts, forKey: .counts)
        try c.encode(isClean, forKey: .clean)
        if run.kind == "reconcile" {
            try c.encode(membersMissing, forKey: .membersMissing)
            try c.encode(membersGone.map { ["project_id": $0.projectID, "user_id": $0.userID] }, forKey: .membersGone)
        }
    }
}

/// `recover-tool verify`: checks a committed run against the database as it is now.
public enum RecoveryVerify {
    /// A reconcile run: every updated row still holding the after image (a row changed since is
    /// `changed`, a deleted one `missing`), every inserted membership still there (else counted in
    /// `members_missing`), and the recorded counts matching the recorded rows.
    static func verifyReconcile(_ report: VerifyReport, connection: Connection, limit: Int) throws -> VerifyReport {
        var report = report
        let runID = String(report.run.id)
        let totals = try connection.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE t.id IS NULL),
              count(*) FILTER (WHERE t.id IS NOT NULL AND \(RecoverySchema.image("t", like: "r.after_image")) IS DISTINCT FROM r.after_image),
              (SELECT count(*) FROM recovery.run_skips WHERE run_id = $1),
              (SELECT count(*) FROM recovery.run_members m WHERE m.run_id = $1),
              (SELECT count(*) FROM recovery.run_members m WHERE m.run_id = $1 AND NOT EXISTS (
                 SELECT 1 FROM \(connection.table("project_members")) pm WHERE pm.project_id = m.project_id AND pm.user_id = m.user_id))
            FROM recovery.run_rows r LEFT JOIN \(connection.table("time_slots")) t ON t.id = r.slot_id
            WHERE r.run_id = $1
            """, [runID], context: "checking the run's rows")
        let row = totals.rows[0].map { $0.flatMap { Int($0) } ?? 0 }
        (report.checked, report.missing, report.changed) = (row[0], row[1], row[2])
        report.membersMissing = row[5]
        if report.missing + report.changed > 0 {
            let listed = try connection.execute(
                """
                SELECT r.slot_id, r.user_id, r.slot_start, CASE WHEN t.id IS NULL THEN 'missing' ELSE 'changed' END
                FROM recovery.run_rows r LEFT JOIN \(connection.table("time_slots")) t ON t.id = r.slot_id
                WHERE r.run_id = $1 AND (t.id IS NULL OR \(RecoverySchema.image("t", like: "r.after_image")) IS DISTINCT FROM r.after_image)
                ORDER BY r.user_id, r.slot_start, r.slot_id LIMIT $2
                """, [runID, String(limit)], context: "listing the run's rows changed since")
            report.slots = try listed.read(table: "recovery.run_rows", key: [(0, "slot_id")]) { row in
                VerifyReport.SlotDifference(
                    kind: try row.value(3, "kind", expected: "a difference", VerifyReport.SlotDifference.Kind.init(rawValue:)),
                    slotID: try row.int64(0, "slot_id"),
                    key: SlotKey(userID: try row.int64(1, "user_id"), slotStart: try row.time(2, "slot_start")), offlineEntryID: nil)
            }
        }
        if report.membersMissing > 0 {
            let gone = try connection.execute(
                """
                SELECT m.project_id, m.user_id FROM recovery.run_members m
                WHERE m.run_id = $1 AND NOT EXISTS (
                  SELECT 1 FROM \(connection.table("project_members")) pm WHERE pm.project_id = m.project_id AND pm.user_id = m.user_id)
                ORDER BY m.project_id, m.user_id LIMIT $2
                """, [runID, String(limit)], context: "listing the run's memberships gone since")
            report.membersGone = try gone.read(table: "recovery.run_members", key: [(0, "project_id"), (1, "user_id")]) { row in
                ProjectMembership(projectID: try row.int64(0, "project_id"), userID: try row.int64(1, "user_id"))
            }
        }
        let c = report.run.counts
        for (name, recorded, found) in [
            ("inserted", c.inserted, report.checked), ("dropped_present", c.droppedPresent, row[3]),
            ("planned", c.planned, report.checked + row[3]), ("members_inserted", report.run.membersInserted, row[4]),
        ] where recorded != found {
            report.counts.append(.init(name: name, recorded: recorded, found: found))
        }
        return report
    }

    /// Every slot of the run present and unchanged since the apply, none overlapping an offline
    /// entry, and the recorded counts matching the recorded rows. Reads in one READ ONLY
    /// REPEATABLE READ transaction (one snapshot); changes nothing. Lists at most `limit` slots.
    public static func verify(run id: Int64, database: ConnectionTarget, limit: Int = 50) throws -> VerifyReport {
        let connection = try RecoveryConnection.open(database, doing: "cannot verify run \(id)", subcommand: "verify")
        let doing = "cannot verify run \(id) in '\(connection.redactedConnectionInfo)'"
        do {
            return try connection.transaction(readOnly: true, isolation: .repeatableRead) { connection in
                try connection.executeSimple(RecoverySchema.defaultSessionSettings)
                guard let run = try RunRecord.load(connection, where: "id", String(id)) else {
                    throw RecoveryRevert.notFound(id, connection)
                }
                try RecoveryConnection.requireRunDatabase(run, connection: connection, refusing: "refusing to verify run \(id)")
                var report = VerifyReport(
                    run: run, checked: 0, missing: 0, changed: 0, offlineOverlap: 0, slots: [], counts: [])
                guard run.status == .applied else { return report }
                let runID = String(id)
                if run.kind == "reconcile" { return try verifyReconcile(report, connection: connection, limit: limit) }
                let fingerprint = RecoverySchema.fingerprint("t", like: "s.fingerprint", serverVersion: connection.serverVersion)
                let overlap = RecoverySchema.offlineOverlap(slot: "t", entry: "o")
                // The offline check is a join on user_id (a hash join), not a subquery per slot:
                // offline_entries has no index on user_id, and a scan of it per slot made a
                // million-slot run take a minute.
                let overlapping = """
                    SELECT t.id AS slot_id, min(o.id) AS entry_id
                    FROM recovery.run_slots s JOIN \(connection.table("time_slots")) t ON t.id = s.slot_id
                    JOIN \(connection.table("offline_entries")) o ON \(overlap)
                    WHERE s.run_id = $1
                    GROUP BY t.id
                    """
                let totals = try connection.execute(
                    """
                    SELECT count(*),
                      count(*) FILTER (WHERE t.id IS NULL),
                      count(*) FILTER (WHERE t.id IS NOT NULL AND \(fingerprint) <> s.fingerprint),
                      (SELECT count(*) FROM (\(overlapping)) ov)
                    FROM recovery.run_slots s LEFT JOIN \(connection.table("time_slots")) t ON t.id = s.slot_id
                    WHERE s.run_id = $1
                    """, [runID], context: "checking the run's slots")
                let row = totals.rows[0].map { $0.flatMap { Int($0) } ?? 0 }
                (report.checked, report.missing, report.changed, report.offlineOverlap) = (row[0], row[1], row[2], row[3])
                if report.missing + report.changed + report.offlineOverlap > 0 {
                    let listed = try connection.execute(
                        """
                        SELECT s.slot_id, s.user_id, s.slot_start,
                          CASE WHEN t.id IS NULL THEN 'missing' WHEN \(fingerprint) <> s.fingerprint THEN 'changed'
                               ELSE 'offline_overlap' END,
                          ov.entry_id
                        FROM recovery.run_slots s LEFT JOIN \(connection.table("time_slots")) t ON t.id = s.slot_id
                          LEFT JOIN (\(overlapping)) ov ON ov.slot_id = s.slot_id
                        WHERE s.run_id = $1 AND (t.id IS NULL OR \(fingerprint) <> s.fingerprint OR ov.slot_id IS NOT NULL)
                        ORDER BY s.user_id, s.slot_start, s.slot_id LIMIT $2
                        """, [runID, String(limit)], context: "listing the run's differing slots")
                    report.slots = try listed.read(table: "recovery.run_slots", key: [(0, "slot_id")]) { row in
                        VerifyReport.SlotDifference(
                            kind: try row.value(3, "kind", expected: "a difference", VerifyReport.SlotDifference.Kind.init(rawValue:)),
                            slotID: try row.int64(0, "slot_id"),
                            key: SlotKey(userID: try row.int64(1, "user_id"), slotStart: try row.time(2, "slot_start")),
                            offlineEntryID: try row.optionalInt64(4, "offline_entry_id"))
                    }
                }
                let drops = try connection.execute(
                    """
                    SELECT count(*) FILTER (WHERE reason = 'already_present'), count(*) FILTER (WHERE reason = 'offline_overlap')
                    FROM recovery.run_drops WHERE run_id = $1
                    """, [runID], context: "counting the run's drops")
                let present = Int(drops.rows[0][0] ?? "0") ?? 0, offline = Int(drops.rows[0][1] ?? "0") ?? 0
                // The slots the apply found already present, looked up by key (the unique index).
                let gone = """
                    FROM recovery.run_drops d
                    WHERE d.run_id = $1 AND d.reason = 'already_present' AND NOT EXISTS (
                      SELECT 1 FROM \(connection.table("time_slots")) t WHERE t.user_id = d.user_id AND t.slot_start = d.slot_start)
                    """
                report.presentGone = Int(try connection.execute("SELECT count(*) \(gone)", [runID], context: "looking for the slots found present").scalar ?? "0") ?? 0
                if report.presentGone > 0 && report.slots.count < limit {
                    let listed = try connection.execute(
                        "SELECT coalesce(d.live_slot_id, 0), d.user_id, d.slot_start \(gone) ORDER BY d.user_id, d.slot_start LIMIT $2",
                        [runID, String(limit - report.slots.count)], context: "listing the slots found present that are gone")
                    report.slots += try listed.read(table: "recovery.run_drops", key: [(1, "user_id"), (2, "slot_start")]) { row in
                        VerifyReport.SlotDifference(
                            kind: .presentGone, slotID: try row.int64(0, "live_slot_id"),
                            key: SlotKey(userID: try row.int64(1, "user_id"), slotStart: try row.time(2, "slot_start")), offlineEntryID: nil)
                    }
                }
                let c = run.counts
                for (name, recorded, found) in [
                    ("inserted", c.inserted, report.checked), ("dropped_present", c.droppedPresent, present),
                    ("dropped_offline", c.droppedOffline, offline),
                    ("planned", c.planned, report.checked + present + offline),
                ] where recorded != found {
                    report.counts.append(.init(name: name, recorded: recorded, found: found))
                }
                return report
            }
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: "try again")
        }
    }
}
