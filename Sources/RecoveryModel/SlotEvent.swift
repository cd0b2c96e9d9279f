/// What a source says about one slot at one time: the input of the fold (CONTRACT §5.2).
public struct SlotEvent: Hashable, Sendable {
    public var key: SlotKey
    /// `ts` of a log event, `updated_at` of a snapshot row.
    public var time: Timestamp
    /// The app server that logged it; empty for snapshot rows.
    public var host: String
    public var location: SourceLocation
    public var payload: Payload

    public init(key: SlotKey, time: Timestamp, host: String, location: SourceLocation, payload: Payload) {
        self.key = key
        self.time = time
        self.host = host
        self.location = location
        self.payload = payload
    }

    /// The two large cases are boxed (`indirect`): a processed event or a deletion then takes a
    /// few bytes instead of the size of a whole slot, and the events of a big window are most of
    /// the memory a plan needs.
    public enum Payload: Hashable, Sendable {
        /// A full version of the slot as of `updated_at`.
        indirect case snapshotRow(TimeSlot)
        indirect case upload(SlotUpload)
        case processed(status: SlotStatus, activityLevel: Int16)
        case deleted
    }

    /// The tie order of events of one key at the same time: snapshot row, upload, processed, deletion.
    public var kind: Kind {
        switch payload {
        case .snapshotRow: .snapshotRow
        case .upload: .upload
        case .processed: .processed
        case .deleted: .deleted
        }
    }

    public enum Kind: UInt8, Comparable, Sendable, CaseIterable {
        case snapshotRow = 0, upload, processed, deleted

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public var provenance: Provenance {
        Provenance(kind: kind == .snapshotRow ? .snapshot : .log, location: location)
    }

    /// The fold order: time, then kind, then host, file name, path and line, so that the result
    /// never depends on the order the inputs were given in.
    public static func foldOrder(_ a: SlotEvent, _ b: SlotEvent) -> Bool {
        if a.time != b.time { return a.time < b.time }
        if a.kind != b.kind { return a.kind < b.kind }
        return tieOrder(host: a.host, file: a.location.file, line: a.location.line, b.host, b.location.file, b.location.line)
    }

    /// The rest of the fold order, for two events of one slot, time and kind: host, then file
    /// name, path and line.
    public static func tieOrder(host aHost: String, file aFile: String, line aLine: Int, _ bHost: String, _ bFile: String, _ bLine: Int) -> Bool {
        if aHost != bHost { return aHost < bHost }
        let an = fileName(aFile), bn = fileName(bFile)
        if an != bn { return an < bn }
        if aFile != bFile { return aFile < bFile }
        return aLine < bLine
    }

    private static func fileName(_ path: String) -> Substring {
        path.lastIndex(of: "/").map { path[path.index(after: $0)...] } ?? path[...]
    }
}

/// The fields of a `slot.upload` event.
public struct SlotUpload: Hashable, Sendable {
    /// The client's idempotency key; a retried upload repeats it.
    public var requestID: String
    public var projectID: Int64
    public var taskID: Int64?
    public var durationMinutes: Int16
    public var keystrokes: Int32
    public var mouseEvents: Int32
    public var activeApps: [String]
    public var screenshotKey: String?
    public var note: String?

    public init(
        requestID: String, projectID: Int64, taskID: Int64?, durationMinutes: Int16 = 10,
        keystrokes: Int32, mouseEvents: Int32, activeApps: [String], screenshotKey: String?, note: String?
    ) {
        self.requestID = requestID
        self.projectID = projectID
        self.taskID = taskID
        self.durationMinutes = durationMinutes
        self.keystrokes = keystrokes
        self.mouseEvents = mouseEvents
        self.activeApps = activeApps
        self.screenshotKey = screenshotKey
        self.note = note
    }
}
