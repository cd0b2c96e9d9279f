import ConflictResolver
import PlanFormat
import PlanReport
import RecoveryModel
import SlotFold
import TestSupport

/// A small hand-made incident and the plan evidence it gives: every outcome, a host with a gap,
/// a host whose logs stop early, a truncated input, and hostile text in a reason.
///
/// Window 2018-07-25T14:00Z to 16:00Z. Users 1001, 1002, 1003 are members of project 7; 9999 is
/// unknown.
/// - 1001: 14:00 and 14:10 uploaded and processed, 14:20 from the snapshot: recovered (30 min);
///   14:30 is live: already present.
/// - 1002: 15:00 and 15:10 overlap offline entry 42 [15:05, 15:30): dropped; 15:40 recovered;
///   15:50 uploaded then deleted.
/// - 1003: 14:00 a 5-minute slot uploaded twice with one request id: recovered, one duplicate;
///   14:50 a processed event with no upload: orphan; 17:00 is outside the window.
/// - 9999: 14:40 quarantined as an unknown user.
/// - The readers quarantined app-2.log:17 (malformed JSON, hostile text) and app-2.log:31 (out of
///   range, slot 1001 at 15:30).
enum Incident {
    static let base = Timestamp.parse("2018-07-25T14:00:00Z")!
    static let window = Window(from: base, to: t(120))
    static let app1 = "logs/app-1.log.lz4"
    static let app2 = "logs/app-2.log"
    static let snapshot = "host=backup dbname=tracker user=recover"
    static let hostileDetail = "unexpected '<script>alert(1)</script>' & \"x\" | `y`"

    static func t(_ minutes: Int64) -> Timestamp { base.adding(minutes: minutes) }

    static func key(_ user: Int64, _ minutes: Int64) -> SlotKey { SlotKey(userID: user, slotStart: t(minutes)) }

    static func upload(_ user: Int64, _ minutes: Int64, line: Int, file: String = app1, host: String = "app-1",
                       request: String? = nil, duration: Int16 = 10, late: Int64 = 9, note: String? = nil) -> SlotEvent {
        SlotEvent(key: key(user, minutes), time: t(minutes + late), host: host, location: SourceLocation(file: file, line: line),
                  payload: .upload(SlotUpload(requestID: request ?? "r-\(user)-\(minutes)", projectID: 7, taskID: 70,
                                              durationMinutes: duration, keystrokes: 100, mouseEvents: 200,
                                              activeApps: ["Xcode"], screenshotKey: "ss/\(user)/\(minutes).jpg", note: note)))
    }

    static func processed(_ user: Int64, _ minutes: Int64, line: Int, file: String = app1, host: String = "app-1") -> SlotEvent {
        SlotEvent(key: key(user, minutes), time: t(minutes + 10), host: host, location: SourceLocation(file: file, line: line),
                  payload: .processed(status: .active, activityLevel: 7))
    }

    static var events: [SlotEvent] {
        let snapshotRow = TimeSlot(key: key(1001, 20), projectID: 7, taskID: 70, status: .idle, activityLevel: 2,
                                   keystrokes: 5, mouseEvents: 6, activeApps: [], screenshotKey: nil, note: nil,
                                   updatedAt: t(29))
        return [
            upload(1001, 0, line: 1), processed(1001, 0, line: 2),
            upload(1001, 10, line: 3), processed(1001, 10, line: 4),
            SlotEvent(key: key(1001, 20), time: t(29), host: "", location: SourceLocation(file: snapshot, line: 1),
                      payload: .snapshotRow(snapshotRow)),
            upload(1001, 30, line: 5),
            upload(1002, 60, line: 6, file: app2, host: "app-2"),
            upload(1002, 70, line: 7, file: app2, host: "app-2"),
            upload(1002, 100, line: 8, file: app2, host: "app-2", note: "=HYPERLINK(\"http://example.invalid\")"),
            upload(1002, 110, line: 9, file: app2, host: "app-2"),
            SlotEvent(key: key(1002, 110), time: t(150), host: "app-1", location: SourceLocation(file: app1, line: 40),
                      payload: .deleted),
            upload(1003, 0, line: 10, request: "retry-me", duration: 5),
            upload(1003, 0, line: 11, request: "retry-me", duration: 5, late: 12),
            processed(1003, 50, line: 12),
            upload(1003, 180, line: 13),
            upload(9999, 40, line: 14),
        ]
    }

    static var live: LiveState {
        LiveState(
            presentKeys: [key(1001, 30)],
            offlineEntries: [OfflineEntry(id: 42, userID: 1002, projectID: 7, interval: Window(from: t(65), to: t(90)))],
            users: [1001, 1002, 1003], projects: [7], tasks: [70: 7],
            memberships: [.init(projectID: 7, userID: 1001), .init(projectID: 7, userID: 1002), .init(projectID: 7, userID: 1003)])
    }

    static var readQuarantine: [QuarantineRecord] {
        [
            QuarantineRecord(location: SourceLocation(file: app2, line: 31), reason: .outOfRange(key: "keystrokes"), key: key(1001, 90)),
            QuarantineRecord(location: SourceLocation(file: app2, line: 17), reason: .malformedJSON(hostileDetail)),
        ]
    }

    static var inputs: [PlanDocument.Input] {
        [
            .init(kind: .log, path: app1, bytes: 123_456, sha256: String(repeating: "a1", count: 32), lines: 500,
                  quarantined: 0, damage: "truncated at byte 123400: the last LZ4 frame is cut"),
            .init(kind: .log, path: app2, bytes: 2048, sha256: String(repeating: "b2", count: 32), lines: 40, quarantined: 2, damage: nil),
            .init(kind: .snapshot, path: snapshot, bytes: nil, sha256: nil, lines: 1, quarantined: 0, damage: nil),
        ]
    }

    static var hosts: [HostCoverage] {
        [
            HostCoverage(host: "app-2", events: 1, firstEvent: t(-2), lastEvent: t(210), gaps: []),
            HostCoverage(host: "app-1", events: 1, firstEvent: t(-5), lastEvent: t(305), gaps: [Window(from: t(80), to: t(110))]),
        ]
    }

    /// The live database the incident is planned against.
    static let database = DatabaseIdentity(
        target: "host=db1 dbname=tracker user=recover", systemIdentifier: "7311023811954282520", name: "tracker", oid: 16384,
        serverVersion: "16.4")

    /// The incident's evidence, shown in `zone` beside UTC.
    static func evidence(zone: String? = "America/Los_Angeles") -> PlanEvidence {
        let fold = SlotFold.fold(events, window: window)
        return PlanEvidence(
            window: window, displayTimeZone: zone, shard: nil, database: database,
            inputs: inputs, hosts: hosts, fold: fold, resolution: ConflictResolver.resolve(fold.slots, against: live),
            readQuarantine: readQuarantine, toolVersion: "0.1.0-test", createdAt: Timestamp.parse("2018-07-26T09:00:00Z")!)
    }

    /// The same incident with complete evidence: every host reaches window end + 180 min, no gap,
    /// no damaged file.
    static func completeEvidence() -> PlanEvidence {
        var e = evidence(zone: nil)
        e.hosts = [HostCoverage(host: "app-1", events: 1, firstEvent: t(-5), lastEvent: t(305), gaps: []),
                   HostCoverage(host: "app-2", events: 1, firstEvent: t(-5), lastEvent: t(301), gaps: [])]
        e.inputs = e.inputs.map { var i = $0; i.damage = nil; return i }
        return e
    }

    /// `count` users with one recovered slot each.
    static func manyUsers(_ count: Int) -> PlanEvidence {
        var e = completeEvidence()
        let events = (0..<count).map { upload(Int64(20_000 + $0), 0, line: $0 + 1) }
        let fold = SlotFold.fold(events, window: window)
        let users = Set((0..<count).map { Int64(20_000 + $0) })
        let live = LiveState(users: users, projects: [7], tasks: [70: 7],
                             memberships: Set(users.map { LiveState.Membership(projectID: 7, userID: $0) }))
        e.fold = fold
        e.resolution = ConflictResolver.resolve(fold.slots, against: live)
        e.readQuarantine = []
        return e
    }

    /// The plan document `PlanWriter` would write for `evidence`, without writing it.
    static func document(_ evidence: PlanEvidence) throws -> PlanDocument {
        let dir = try TemporaryDirectory(prefix: "plan-doc")
        return try PlanWriter.write(evidence, to: dir.path + "/plan").document
    }
}
