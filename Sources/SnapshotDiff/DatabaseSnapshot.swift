import PostgresClient
import RecoveryModel

/// A restored backup database as a snapshot: the window's `time_slots` rows, read with
/// `COPY (SELECT ...) TO STDOUT` in `(user_id, slot_start)` order through the same decoder as a
/// dump. A row's location is the redacted connection string and its 1-based row number.
public struct DatabaseSnapshot {
    public let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The COPY statement for `window` from `table` (schema-qualified, `Connection.table`). Times
    /// are written by the tool, never taken from input text.
    public static func copyStatement(for window: Window, table: String) -> String {
        "COPY (SELECT \(SlotRowDecoder.selectList) FROM \(table)"
            + " WHERE slot_start >= '\(window.from.rfc3339)' AND slot_start < '\(window.to.rfc3339)'"
            + " ORDER BY user_id, slot_start) TO STDOUT"
    }

    /// Sets what the decoder expects of the session: ISO dates (`SET DateStyle`).
    static func prepare(_ connection: Connection) throws {
        try connection.execute("SET DateStyle = ISO", context: "cannot set DateStyle on '\(connection.redactedConnectionInfo)'")
    }

    /// A cursor over the window's rows in key order, decoded.
    func rows(in window: Window) throws -> DecodedRows {
        try Self.prepare(connection)
        let cursor = try connection.startCopyOut(
            Self.copyStatement(for: window, table: connection.table("time_slots")),
            context: "cannot read time_slots from '\(connection.redactedConnectionInfo)'")
        return DecodedRows(cursor: cursor, source: connection.redactedConnectionInfo)
    }

    /// Calls `body` with every row in `window`, in key order; rows it cannot take are returned
    /// as quarantine records. Run it in a transaction (`Connection.transaction(readOnly: true)`)
    /// for a consistent view.
    public func forEachSlot(
        in window: Window, _ body: (TimeSlot, SourceLocation) throws -> Void
    ) throws -> [QuarantineRecord] {
        var rows = try rows(in: window)
        var quarantined: [QuarantineRecord] = []
        while let (row, location) = try rows.next() {
            switch row {
            case .slot(let slot): try body(slot, location)
            case .rejected(let reason, let key):
                quarantined.append(QuarantineRecord(location: location, reason: reason, key: key))
            }
        }
        return quarantined
    }

    /// Every row in the window as a fold event (`.snapshotRow` at its `updated_at`), appended to
    /// `batch`; with `chunks`, the batch is handed to it as it fills.
    public func forEachEvent(in window: Window, into batch: inout EventBatch, chunks: EventChunks? = nil, keep: (Int64) -> Bool) throws -> [QuarantineRecord] {
        let summary = try forEachSlot(in: window) { slot, location in
            if keep(slot.key.userID) { try batch.appendSnapshotRow(slot, at: location, chunks: chunks) }
        }
        chunks?.offer(&batch, atEnd: true)
        return summary
    }
}

/// Rows of a `COPY (SELECT selectList ...) TO STDOUT`, decoded one at a time.
struct DecodedRows {
    let cursor: CopyOutCursor
    let source: String
    var decoder = try! SlotRowDecoder(columnNames: SlotRowDecoder.columns)

    init(cursor: CopyOutCursor, source: String) {
        self.cursor = cursor
        self.source = source
    }

    mutating func next() throws -> (SlotRowDecoder.Row, SourceLocation)? {
        var row: SlotRowDecoder.Row?
        let more = try cursor.next { bytes in
            let line = bytes.last == 0x0A ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes
            row = decoder.decode(line)
        }
        guard more, let row else { return nil }
        return (row, SourceLocation(file: source, line: cursor.rows))
    }
}
