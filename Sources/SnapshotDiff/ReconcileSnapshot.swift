import PostgresClient
import RecoveryModel

/// What `reconcile` reads of a snapshot: the whole `time_slots` rows in a range, the
/// `project_members` pairs, and the newest `time_slots.updated_at` of the whole snapshot (its
/// age, CONTRACT §7), from a pg_dump plain file holding several tables' COPY blocks or from a
/// restored database.
public struct ReconcileSnapshot: Sendable {
    /// The rows with `slot_start` in the range (all rows when none was given), in file order
    /// (dump) or key order (database).
    public var slots: [SnapshotSlotRow] = []
    /// Rows of `time_slots` outside the range.
    public var slotsOutsideRange = 0
    public var memberships: [SnapshotMembership] = []
    /// Whether the snapshot holds `project_members` at all: without it no membership is restored.
    public var hasMemberships = false
    /// The newest `updated_at` over every readable `time_slots` row, in the range or not.
    public var newestUpdatedAt: Timestamp?
    /// The first `time_slots` row, in the range or not, whose `updated_at` cannot be read
    /// (`infinity`, NULL, a time beyond the years 1 to 9999): the snapshot's age cannot be told.
    /// A database snapshot names the table, not a row.
    public var unreadableUpdatedAt: SourceLocation?
    public var quarantined: [QuarantineRecord] = []
    /// The dump path or the redacted connection string.
    public var name: String
    /// For a dump: its size on disk, SHA-256, and lines read.
    public var bytes: Int64?
    public var sha256: String?
    public var lines = 0

    init(name: String) { self.name = name }

    /// Reads `source`; `range` selects time slots by `slot_start` (memberships are read whole).
    /// A snapshot database's tables are read in the service schema `schema`.
    public static func read(_ source: SnapshotSource, range: Window?, schema: String) throws -> ReconcileSnapshot {
        switch source {
        case .dump(let path): return try read(dump: path, range: range)
        case .database(let conninfo):
            let connection = try SnapshotSource.connect(database: conninfo, schema: schema, application: "recover-tool reconcile")
            return try connection.transaction(readOnly: true, isolation: .repeatableRead) { try read(database: $0, range: range) }
        }
    }

    /// The tables a reconcile dump is read for.
    static let tables = ["time_slots", "project_members"]

    public static func read(dump path: String, range: Window?) throws -> ReconcileSnapshot {
        var snapshot = ReconcileSnapshot(name: path)
        var slots = try SlotRowDecoder(columnNames: SlotRowDecoder.wholeColumns, whole: true)
        var memberColumns: (project: Int, user: Int, count: Int) = (0, 0, 0)
        var fields: [Range<Int>] = []
        let summary = try DumpBlocks(path: path, computeDigest: true).read(tables: tables) { table, columns, line in
            if table == "time_slots" {
                do {
                    slots = try SlotRowDecoder(columnNames: columns, whole: true)
                } catch let error as SlotRowDecoder.MissingColumns {
                    throw SnapshotError(
                        .badCopyLine, source: path, line: line,
                        detail: "the COPY of time_slots lacks the columns \(error.names.joined(separator: ", "))")
                }
            } else {
                guard let p = columns.firstIndex(of: "project_id"), let u = columns.firstIndex(of: "user_id") else {
                    throw SnapshotError(
                        .badCopyLine, source: path, line: line, detail: "the COPY of project_members lacks project_id or user_id")
                }
                memberColumns = (p, u, columns.count)
                snapshot.hasMemberships = true
            }
        } row: { table, bytes, number in
            let location = SourceLocation(file: path, line: number)
            if table == 0 {
                snapshot.take(bytes, decoder: &slots, location: location, range: range)
            } else {
                CopyText.splitFields(bytes, into: &fields)
                if fields.count == memberColumns.count,
                   let p = CopyText.integer(UnsafeRawBufferPointer(rebasing: bytes[fields[memberColumns.project]]), in: 1...Int64.max),
                   let u = CopyText.integer(UnsafeRawBufferPointer(rebasing: bytes[fields[memberColumns.user]]), in: 1...Int64.max) {
                    snapshot.memberships.append(SnapshotMembership(ProjectMembership(projectID: p, userID: u), location: location))
                } else {
                    snapshot.quarantined.append(QuarantineRecord(location: location, reason: .malformedRow("not a project_members row (project_id, user_id)")))
                }
            }
        }
        guard summary.copyLines["time_slots"] != nil else {
            throw SnapshotError(
                .noTimeSlotsBlock, source: path, line: summary.lines.lines,
                detail: "no COPY block of time_slots in the dump (\(summary.lines.lines) lines read)")
        }
        for row in summary.overlongRows {
            snapshot.quarantined.append(QuarantineRecord(
                location: SourceLocation(file: path, line: row.line), reason: .lineTooLong(bytes: DumpBlocks.maxRowLength)))
        }
        snapshot.bytes = summary.lines.bytes
        snapshot.sha256 = summary.lines.sha256
        snapshot.lines = summary.lines.lines
        return snapshot
    }

    /// Reads a restored database (run inside a read-only transaction).
    public static func read(database connection: Connection, range: Window?) throws -> ReconcileSnapshot {
        let name = connection.redactedConnectionInfo
        var snapshot = ReconcileSnapshot(name: name)
        try DatabaseSnapshot.prepare(connection)
        // Over every row, those outside the range too: NULL and infinite times are no age.
        let newest = try connection.execute(
            "SELECT max(updated_at), bool_or(updated_at IS NULL OR NOT pg_catalog.isfinite(updated_at)) FROM \(connection.table("time_slots"))",
            context: "reading the snapshot's newest updated_at from '\(name)'")
        snapshot.newestUpdatedAt = newest.rows.first?[0].flatMap { Timestamp.parse($0) }
        if newest.rows.first?[1] == "t" || (newest.rows.first?[0] != nil && snapshot.newestUpdatedAt == nil) {
            snapshot.unreadableUpdatedAt = SourceLocation(file: name + " time_slots", line: 0)
        }
        let total = try connection.execute("SELECT count(*) FROM \(connection.table("time_slots"))", context: "counting the snapshot's time_slots in '\(name)'")
        var decoder = try! SlotRowDecoder(columnNames: SlotRowDecoder.wholeColumns, whole: true)
        var number = 0
        try connection.copyOut(DatabaseSnapshot.wholeCopyStatement(range: range, table: connection.table("time_slots")), context: "reading time_slots from '\(name)'") { bytes in
            number += 1
            let line = bytes.last == 0x0A ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes
            snapshot.take(line, decoder: &decoder, location: SourceLocation(file: name, line: number), range: nil)
        }
        snapshot.slotsOutsideRange = (total.rows.first?[0].flatMap { Int($0) } ?? number) - number
        let hasMembers = try connection.execute(
            "SELECT to_regclass($1) IS NOT NULL", [connection.table("project_members")], context: "looking for project_members in '\(name)'")
        snapshot.hasMemberships = hasMembers.rows.first?[0] == "t"
        if snapshot.hasMemberships {
            let members = try connection.execute(
                "SELECT project_id, user_id FROM \(connection.table("project_members")) ORDER BY project_id, user_id",
                context: "reading project_members from '\(name)'")
            let pairs = try members.read(table: "project_members", key: [(0, "project_id"), (1, "user_id")]) { row in
                ProjectMembership(projectID: try row.int64(0, "project_id"), userID: try row.int64(1, "user_id"))
            }
            for (i, pair) in pairs.enumerated() {
                snapshot.memberships.append(SnapshotMembership(pair, location: SourceLocation(file: name + " project_members", line: i + 1)))
            }
        }
        return snapshot
    }

    mutating func take(_ bytes: UnsafeRawBufferPointer, decoder: inout SlotRowDecoder, location: SourceLocation, range: Window?) {
        let row = decoder.decodeWhole(bytes)
        switch row {
        case .row(let row):
            note(updatedAt: row.updatedAt)
            if let range, !range.contains(row.key.slotStart) {
                slotsOutsideRange += 1
            } else {
                slots.append(SnapshotSlotRow(row: row, location: location))
            }
        case .rejected(let reason, let key):
            // Quarantined for another field, the row still tells its age when its updated_at reads.
            if reason != .invalidTime(key: "updated_at"), let updatedAt = decoder.updatedAtAlone(bytes) {
                note(updatedAt: updatedAt)
            } else if unreadableUpdatedAt == nil {
                unreadableUpdatedAt = location
            }
            if let range, let key, !range.contains(key.slotStart) {
                slotsOutsideRange += 1
            } else {
                quarantined.append(QuarantineRecord(location: location, reason: reason, key: key))
            }
        }
    }
}

extension ReconcileSnapshot {
    private mutating func note(updatedAt: Timestamp) {
        if newestUpdatedAt == nil || updatedAt > newestUpdatedAt! { newestUpdatedAt = updatedAt }
    }
}

extension DatabaseSnapshot {
    /// `COPY` of whole rows (`SlotRowDecoder.wholeColumns`) of `table` (schema-qualified) with
    /// `slot_start` in `range` (every row when nil), in key order. Times are written by the tool,
    /// never taken from input text.
    public static func wholeCopyStatement(range: Window?, table: String) -> String {
        let condition = range.map { " WHERE slot_start >= '\($0.from.rfc3339)' AND slot_start < '\($0.to.rfc3339)'" } ?? ""
        return "COPY (SELECT \(SlotRowDecoder.wholeColumns.joined(separator: ", ")) FROM \(table)\(condition)"
            + " ORDER BY user_id, slot_start) TO STDOUT"
    }

    /// The live (or restored) whole rows with `slot_start` in `range`, in key order, as they are
    /// now: what reconcile compares a snapshot with. Run it in a transaction for a consistent view.
    public func wholeRows(range: Window?) throws -> (rows: [SlotRow], quarantined: [QuarantineRecord]) {
        try Self.prepare(connection)
        var decoder = try! SlotRowDecoder(columnNames: SlotRowDecoder.wholeColumns, whole: true)
        var rows: [SlotRow] = []
        var quarantined: [QuarantineRecord] = []
        var number = 0
        let name = connection.redactedConnectionInfo
        try connection.copyOut(Self.wholeCopyStatement(range: range, table: connection.table("time_slots")), context: "reading time_slots from '\(name)'") { bytes in
            number += 1
            let line = bytes.last == 0x0A ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes
            switch decoder.decodeWhole(line) {
            case .row(let row): rows.append(row)
            case .rejected(let reason, let key):
                quarantined.append(QuarantineRecord(location: SourceLocation(file: name, line: number), reason: reason, key: key))
            }
        }
        return (rows, quarantined)
    }
}
