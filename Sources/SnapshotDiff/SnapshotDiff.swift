import Foundation
import PostgresClient
import RecoveryModel

/// Where a snapshot is: a pg_dump file, or a restored database.
public enum SnapshotSource: Hashable, Sendable {
    case dump(path: String)
    case database(conninfo: String)

    /// `--snapshot` as given: an existing file is a dump; a `postgres://`/`postgresql://` URI or a
    /// string with `=` is a connection string; anything else is taken as a (missing) dump path.
    public init(argument: String) {
        if FileManager.default.fileExists(atPath: argument) {
            self = .dump(path: argument)
        } else if argument.hasPrefix("postgres://") || argument.hasPrefix("postgresql://") || argument.contains("=") {
            self = .database(conninfo: argument)
        } else {
            self = .dump(path: argument)
        }
    }

    /// Opens a restored snapshot database (`--snapshot CONNINFO`) with its tables named in the
    /// service schema `schema` and its search path pinned to it, as the live database's are: the
    /// one place a snapshot database is connected to.
    public static func connect(database conninfo: String, schema: String, application: String) throws -> Connection {
        guard !conninfo.isEmpty else {
            throw PostgresError(kind: .connect, message: "empty connection string", context: "cannot open the snapshot", hint: "check --snapshot")
        }
        var target = ConnectionTarget(conninfo, source: "--snapshot")
        target.schema = schema
        return try Connection.connect(target, session: SessionSettings(applicationName: application), role: "snapshot database")
    }

    /// The path, or the connection string without its password.
    public var displayName: String {
        switch self {
        case .dump(let path): path
        case .database(let conninfo): ConnectionInfo.redacted(conninfo)
        }
    }
}

/// How a slot of the window compares between a snapshot and live.
public enum DiffKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// In the snapshot, not in live: a candidate for recovery.
    case missingFromLive = "missing_from_live"
    /// In both, with different values: changed since the backup.
    case changed
    /// In live only: added since the backup.
    case onlyInLive = "only_in_live"
    case identical
}

/// One slot of the diff.
public struct DiffEntry: Hashable, Sendable {
    public var kind: DiffKind
    public var key: SlotKey
    /// For `.changed`: the columns that differ (`status`, `keystrokes`, ...), in table order.
    public var changedColumns: [String]
    /// Where the snapshot's row is (nil for `.onlyInLive`).
    public var snapshotLocation: SourceLocation?
}

/// Counts of one kind or another.
public struct DiffCounts: Hashable, Sendable, Codable {
    public var missingFromLive = 0
    public var changed = 0
    public var onlyInLive = 0
    public var identical = 0

    public init() {}

    public subscript(kind: DiffKind) -> Int {
        get {
            switch kind {
            case .missingFromLive: missingFromLive
            case .changed: changed
            case .onlyInLive: onlyInLive
            case .identical: identical
            }
        }
        set {
            switch kind {
            case .missingFromLive: missingFromLive = newValue
            case .changed: changed = newValue
            case .onlyInLive: onlyInLive = newValue
            case .identical: identical = newValue
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case missingFromLive = "missing_from_live", changed, onlyInLive = "only_in_live", identical
    }
}

/// The result of `SnapshotDiffer.diff`: counts, per-user totals, the first entries of each kind,
/// and the snapshot rows that could not be read.
public struct SnapshotDiffReport: Hashable, Sendable {
    public var window: Window
    /// The dump path or the redacted connection string of the snapshot.
    public var snapshot: String
    public var counts = DiffCounts()
    /// Per user, in user order.
    public var users: [(userID: Int64, counts: DiffCounts)] { perUser.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    /// The first `sampleLimit` entries of each kind, in key order.
    public var samples: [DiffKind: [DiffEntry]] = [:]
    public var quarantined: [QuarantineRecord] = []
    var perUser: [Int64: DiffCounts] = [:]
    let sampleLimit: Int

    init(window: Window, snapshot: String, sampleLimit: Int) {
        self.window = window
        self.snapshot = snapshot
        self.sampleLimit = sampleLimit
    }

    mutating func add(_ entry: DiffEntry) {
        counts[entry.kind] += 1
        perUser[entry.key.userID, default: DiffCounts()][entry.kind] += 1
        if samples[entry.kind, default: []].count < sampleLimit { samples[entry.kind, default: []].append(entry) }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.window == b.window && a.snapshot == b.snapshot && a.counts == b.counts && a.perUser == b.perUser
            && a.samples == b.samples && a.quarantined == b.quarantined
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(snapshot)
        hasher.combine(counts)
    }
}

/// Compares a snapshot with the live database for a window, streaming both sides in
/// `(user_id, slot_start)` order.
///
/// A restored database and live are both read with ordered `COPY ... TO STDOUT` cursors. A dump
/// is in the order rows were stored, so its rows in the window (only those) are gathered and
/// sorted first. Nothing is changed: each database is read in a READ ONLY, REPEATABLE READ
/// transaction.
public enum SnapshotDiffer {
    /// Connects to live (`database`) and to a snapshot database when the snapshot is one, and
    /// diffs them: what `recover-tool diff` calls.
    public static func diff(
        snapshot: SnapshotSource, database: ConnectionTarget, window: Window, sampleLimit: Int = 10
    ) throws -> SnapshotDiffReport {
        let live = try Connection.connect(database, session: SessionSettings(applicationName: "recover-tool diff"))
        try ServiceTableRefused.check(live, for: .reading)
        return try diff(snapshot: snapshot, live: live, window: window, sampleLimit: sampleLimit)
    }

    public static func diff(
        snapshot: SnapshotSource, live: Connection, window: Window, sampleLimit: Int = 10
    ) throws -> SnapshotDiffReport {
        var report = SnapshotDiffReport(window: window, snapshot: snapshot.displayName, sampleLimit: sampleLimit)
        switch snapshot {
        case .dump(let path):
            var slots: [(TimeSlot, SourceLocation)] = []
            let summary = try DumpReader(path: path).forEachSlot(in: window) { slots.append(($0, $1)) }
            report.quarantined = summary.quarantined
            slots.sort { $0.0.key < $1.0.key }
            var index = 0
            try live.transaction(readOnly: true, isolation: .repeatableRead) { live in
                try merge(into: &report, live: live, window: window) {
                    guard index < slots.count else { return nil }
                    defer { index += 1 }
                    return slots[index]
                }
            }
        case .database(let conninfo):
            // The snapshot's tables in the live database's service schema.
            let source = try SnapshotSource.connect(database: conninfo, schema: live.schema, application: "recover-tool diff")
            try source.transaction(readOnly: true, isolation: .repeatableRead) { source in
                var rows = try DatabaseSnapshot(connection: source).rows(in: window)
                var rejected: [QuarantineRecord] = []
                defer { report.quarantined = rejected + report.quarantined }
                try live.transaction(readOnly: true, isolation: .repeatableRead) { live in
                    try merge(into: &report, live: live, window: window) {
                        while let (row, location) = try rows.next() {
                            switch row {
                            case .slot(let slot): return (slot, location)
                            case .rejected(let reason, let key):
                                rejected.append(QuarantineRecord(location: location, reason: reason, key: key))
                            }
                        }
                        return nil
                    }
                }
            }
        }
        return report
    }

    /// The merge join: `nextSnapshot` yields snapshot slots in key order (no repeats).
    private static func merge(
        into report: inout SnapshotDiffReport, live: Connection, window: Window,
        nextSnapshot: () throws -> (TimeSlot, SourceLocation)?
    ) throws {
        var liveRows = try DatabaseSnapshot(connection: live).rows(in: window)
        var snap = try nextSnapshot()
        var current = try liveRows.next()
        var lastSnapshotKey: SlotKey?
        while snap != nil || current != nil {
            if let (slot, _) = snap, let key = lastSnapshotKey, !(key < slot.key) {
                // A dump holding a slot twice: the first one (by line) stands for it.
                snap = try nextSnapshot()
                continue
            }
            let liveKey = current?.0.key
            if let (slot, location) = snap, liveKey == nil || slot.key < liveKey! {
                report.add(DiffEntry(kind: .missingFromLive, key: slot.key, changedColumns: [], snapshotLocation: location))
                lastSnapshotKey = slot.key
                snap = try nextSnapshot()
                continue
            }
            guard let (liveRow, liveLocation) = current, let key = liveKey else {
                // A live row without a readable key: report it and move on.
                if case .rejected(let reason, _)? = current?.0, let location = current?.1 {
                    report.quarantined.append(QuarantineRecord(location: location, reason: reason))
                }
                current = try liveRows.next()
                continue
            }
            if let (slot, location) = snap, slot.key == key {
                let columns: [String]
                switch liveRow {
                case .slot(let liveSlot): columns = changedColumns(slot, liveSlot)
                case .rejected(let reason, _):
                    report.quarantined.append(QuarantineRecord(location: liveLocation, reason: reason, key: key))
                    columns = ["unreadable live row"]
                }
                report.add(DiffEntry(
                    kind: columns.isEmpty ? .identical : .changed, key: key, changedColumns: columns,
                    snapshotLocation: location))
                lastSnapshotKey = slot.key
                snap = try nextSnapshot()
            } else {
                report.add(DiffEntry(kind: .onlyInLive, key: key, changedColumns: [], snapshotLocation: nil))
            }
            current = try liveRows.next()
        }
    }

    /// The compared columns whose values differ, in table order.
    public static func changedColumns(_ a: TimeSlot, _ b: TimeSlot) -> [String] {
        TimeSlotFields.differing(a, b)
    }
}
