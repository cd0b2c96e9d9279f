import Foundation
import LogReplay
import RecoveryModel
import SourceFiles
import TestSupport
import XCTest

/// Reading files written during the test, compressed by the real `lz4` tool.
final class LogReplayReadingTests: XCTestCase {
    var dir: TemporaryDirectory!
    let window = Window(from: Timestamp.parse("2018-07-25T14:00:00Z")!, to: Timestamp.parse("2018-07-25T16:00:00Z")!)

    override func setUpWithError() throws {
        dir = try TemporaryDirectory(prefix: "logreplay")
    }

    override func tearDown() {
        dir = nil
    }

    /// An upload line for `user` at slot `14:00 + slot*10 min`, logged at `ts`.
    static func upload(user: Int, slot: Int, ts: String, host: String = "app-1", request: String? = nil) -> String {
        let m = 14 * 60 + slot * 10
        let start = String(format: "2018-07-25T%02d:%02d:00Z", m / 60, m % 60)
        return #"{"ts":"\#(ts)","host":"\#(host)","event":"slot.upload","request_id":"\#(request ?? "r\(user)-\(slot)")","user_id":\#(user),"project_id":77,"slot_start":"\#(start)","keystrokes":\#(user),"mouse_events":\#(slot),"active_apps":["Xcode"]}"#
    }

    /// `count` lines from `host` at one line per second from `start`, slots cycling in the window.
    static func lines(_ count: Int, host: String, start: Int = 14 * 3600 + 60, user: Int = 1) -> String {
        (0..<count).map { i -> String in
            let s = start + i
            let ts = String(format: "2018-07-25T%02d:%02d:%02dZ", s / 3600, s / 60 % 60, s % 60)
            return upload(user: user, slot: i % 12, ts: ts, host: host, request: "\(host)-\(i)")
        }.joined(separator: "\n") + "\n"
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.file(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: false, encoding: .utf8)
        return url.path
    }

    /// Compresses `text` into `name` with `lz4 ARGS`; several parts become concatenated frames.
    @discardableResult
    func compress(_ name: String, _ parts: [String], _ args: [String] = []) throws -> String {
        var data = Data()
        for (i, part) in parts.enumerated() {
            let plain = try write("\(name).part\(i).txt", part)
            try runChecked("lz4", ["-q", "-f"] + args + [plain, plain + ".lz4"])
            data.append(try Data(contentsOf: URL(fileURLWithPath: plain + ".lz4")))
            try FileManager.default.removeItem(atPath: plain)
            try FileManager.default.removeItem(atPath: plain + ".lz4")
        }
        let path = dir.file(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func read(_ files: [String], threads: Int = 2) throws -> LogReplayResult {
        try LogReplay(window: window, threads: threads).read(files)
    }

    /// A file read whole gives the events of its lines parsed one by one, in order, also when a
    /// line is rejected after some of its texts were kept (a bad `note` or `keystrokes` after
    /// `request_id`), and with a shard, the shard's users' events only.
    func testAFileReadsLikeItsLinesParsedOneByOne() throws {
        var lines: [String] = []
        for i in 0..<600 {
            let m = 14 * 60 + 1 + i / 60, s = i % 60
            let ts = String(format: "2018-07-25T%02d:%02d:%02dZ", m / 60, m % 60, s)
            var line = Self.upload(user: 1 + i % 7, slot: i % 12, ts: ts, host: "app-\(i % 3)", request: "request-\(i)-long-enough")
            switch i % 5 {
            case 1: line = line.replacingOccurrences(of: #""keystrokes":"#, with: #""keystrokes":-"#)
            case 2: line = line.replacingOccurrences(of: "}", with: #","screenshot_key":"ss/\#(i).jpg","note":"a\u0000b"}"#)
            case 3: line = line.replacingOccurrences(of: "}", with: #","screenshot_key":"ss/\#(i).jpg","note":"n\#(i)"}"#)
            default: break
            }
            lines.append(line)
        }
        let path = try write("mixed/app.log", lines.joined(separator: "\n") + "\n")
        let parser = EventLineParser(file: path, window: window)
        let oneByOne = lines.enumerated().compactMap { i, line -> SlotEvent? in
            guard case .event(let event) = Array(line.utf8).withUnsafeBytes({ parser.parse($0, line: i + 1) }) else { return nil }
            return event
        }
        XCTAssertEqual(oneByOne.count, 360)
        let whole = try read([path])
        XCTAssertEqual(whole.events, oneByOne)
        let texts = oneByOne.reduce(0) { count, event in
            guard case .upload(let u) = event.payload else { return count }
            return count + u.requestID.utf8.count + (u.note?.utf8.count ?? 0)  // no screenshot key is kept
        }
        XCTAssertEqual(whole.batches.map(\.text.count).reduce(0, +), texts, "a rejected line leaves none of its texts")
        let shard = try XCTUnwrap(Shard(index: 1, count: 3))
        var replay = LogReplay(window: window, threads: 1)
        replay.shard = shard
        XCTAssertEqual(try replay.read([path]).events, oneByOne.filter { shard.contains(userID: $0.key.userID) })
    }

    /// A rejected line and an event of another shard leave no app list in the batch: with every
    /// upload naming a list of its own, a batch holds one list per event it keeps, and the events
    /// read after them name the right lists.
    func testRejectedAndDroppedLinesLeaveNoAppList() throws {
        var lines: [String] = []
        for i in 0..<300 {
            let ts = String(format: "2018-07-25T14:%02d:%02dZ", 1 + i / 60, i % 60)
            var line = Self.upload(user: 1 + i % 7, slot: i % 12, ts: ts, request: "request-\(i)")
                .replacingOccurrences(of: #"["Xcode"]"#, with: #"["app-\#(i)"]"#)
            if i % 3 == 1 { line = line.replacingOccurrences(of: "}", with: #","note":"a\u0000b"}"#) }
            lines.append(line)
        }
        let path = try write("apps/app.log", lines.joined(separator: "\n") + "\n")
        let whole = try read([path])
        XCTAssertEqual(whole.events.count, 200)
        XCTAssertEqual(whole.batches.map(\.appLists.count).reduce(0, +), 200, "a rejected line leaves no app list")
        for event in whole.events {
            guard case .upload(let upload) = event.payload else { return XCTFail("\(event)") }
            XCTAssertEqual(upload.activeApps, ["app-\(upload.requestID.dropFirst("request-".count))"])
        }
        let shard = try XCTUnwrap(Shard(index: 1, count: 3))
        var replay = LogReplay(window: window, threads: 1)
        replay.shard = shard
        let sharded = try replay.read([path])
        XCTAssertEqual(sharded.events, whole.events.filter { shard.contains(userID: $0.key.userID) })
        XCTAssertEqual(sharded.batches.map(\.appLists.count).reduce(0, +), sharded.events.count, "a dropped event leaves no app list")
    }

    func testMultiFrameFileReadsLikeThePlainText() throws {
        let a = Self.lines(3000, host: "app-1"), b = Self.lines(2000, host: "app-1", start: 15 * 3600)
        let plain = try write("plain/app-1.log", a + b)
        let framed = try compress("framed/app-1.log.lz4", [a, b], ["-B4"])
        let p = try read([plain]), f = try read([framed])
        XCTAssertEqual(p.events.count, 5000)
        XCTAssertEqual(p.events.map(\.payload), f.events.map(\.payload))
        XCTAssertEqual(p.events.map(\.location.line), f.events.map(\.location.line))
        XCTAssertEqual(f.files[0].lines, 5000)
        XCTAssertEqual(f.files[0].bytes, Int64((a + b).utf8.count))
        XCTAssertTrue(f.files[0].compressed)
        XCTAssertNil(f.files[0].damage)
        XCTAssertEqual(f.files[0].inWindow.uploads, 5000)
    }

    func testTruncatedFileKeepsTheLinesBeforeTheCut() throws {
        let whole = try compress("whole.log.lz4", [Self.lines(20000, host: "app-2")], ["-B4"])
        let data = try Data(contentsOf: URL(fileURLWithPath: whole))
        for cut in [data.count / 3, data.count / 2 + 17, data.count - 5] {
            let path = dir.file("cut-\(cut).log.lz4").path
            try data.prefix(cut).write(to: URL(fileURLWithPath: path))
            // What the real tool gets out before it fails: its complete lines are ours.
            let lz4 = try runProcess("lz4", ["-dc", path])
            XCTAssertNotEqual(lz4.status, 0)
            let complete = lz4.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).count - 1
            let r = try read([path])
            XCTAssertEqual(r.files[0].damage, .truncated(offset: Int64(cut)), "cut at \(cut)")
            XCTAssertEqual(r.files[0].lines, complete, "cut at \(cut)")
            XCTAssertEqual(r.events.count, complete)
            XCTAssertEqual(r.files[0].droppedPartialLine, !lz4.stdout.isEmpty && lz4.stdout.last != 0x0A)
            XCTAssertEqual(r.quarantine, [])
        }
    }

    func testResultDoesNotDependOnArgumentOrderPathFormOrThreads() throws {
        try write("logs/a/app-1.log", Self.lines(500, host: "app-1", user: 1))
        try compress("logs/b/app-2.log.lz4", [Self.lines(400, host: "app-2", user: 1), Self.lines(300, host: "app-2", start: 15 * 3600, user: 2)])
        try write("logs/b/c/app-3.jsonl", Self.lines(200, host: "app-3", user: 3) + "not json\n")
        try write("logs/ignored.txt", "not a log\n")
        let root = dir.file("logs").path
        let byDir = try read(try InputDiscovery.files(at: [root], suffixes: InputDiscovery.logSuffixes))
        let files = [root + "/b/c/app-3.jsonl", root + "/a/app-1.log", root + "/b/app-2.log.lz4"]
        for (order, threads) in [(files, 1), (files.reversed(), 2), ([files[1], files[2], files[0], files[1]], 2)] {
            let r = try read(Array(order), threads: threads)
            XCTAssertEqual(r.files, byDir.files)
            XCTAssertEqual(r.events, byDir.events)
            XCTAssertEqual(r.quarantine, byDir.quarantine)
            XCTAssertEqual(r.hosts, byDir.hosts)
        }
        XCTAssertEqual(byDir.files.map { ($0.path as NSString).lastPathComponent }, ["app-1.log", "app-2.log.lz4", "app-3.jsonl"])
        XCTAssertEqual(byDir.quarantine.map(\.description), [root + "/b/c/app-3.jsonl:201: malformed JSON: the line is not a JSON object"])
        XCTAssertEqual(byDir.events.count, 1400)
    }

    func testHostCoverageGaps() throws {
        func at(_ hm: String, _ host: String = "app-1") -> String {
            #"{"ts":"2018-07-25T\#(hm)Z","host":"\#(host)","event":"heartbeat"}"#
        }
        // Window 14:00-16:00: coverage until 19:00. app-1 silent 14:10:30-14:26:10 (15 empty
        // minutes: not a gap), 14:30-15:00 (a gap), and 18:50-19:00 (9 minutes to the range's end).
        let text = ["14:00:00", "14:05:00", "14:10:30", "14:26:10", "14:30:59", "15:00:00", "15:30:00", "16:00:00", "16:15:00",
                    "16:30:00", "16:45:00", "17:00:00", "17:15:00", "17:30:00", "17:45:00", "18:00:00", "18:15:00", "18:30:00", "18:45:00",
                    "18:50:00", "13:00:00", "21:00:00"].map { at($0) }
        try write("a.log", text.joined(separator: "\n") + "\n" + at("15:00:00", "app-2") + "\n")
        let r = try read([dir.file("a.log").path])
        XCTAssertEqual(r.hosts.map(\.host), ["app-1", "app-2"])
        let h = r.hosts[0]
        XCTAssertEqual(h.events, 22)
        XCTAssertEqual(h.firstEvent, Timestamp.parse("2018-07-25T13:00:00Z"))
        XCTAssertEqual(h.lastEvent, Timestamp.parse("2018-07-25T21:00:00Z"))
        let t = { (s: String) in Timestamp.parse("2018-07-25T\(s):00Z")! }
        XCTAssertEqual(h.gaps, [
            Window(from: t("14:31"), to: t("15:00")),
            Window(from: t("15:01"), to: t("15:30")),
            Window(from: t("15:31"), to: t("16:00")),
        ])
        XCTAssertEqual(r.hosts[1].gaps, [Window(from: t("14:00"), to: t("15:00")), Window(from: t("15:01"), to: t("19:00"))])
    }

    func testOverlongLinesAreQuarantinedAndCountsAddUp() throws {
        let long = #"{"ts":"2018-07-25T14:00:00Z","host":"h","event":"x","pad":""# + String(repeating: "x", count: 5000) + "\"}"
        let path = try write("long.log", Self.lines(3, host: "h") + long + "\n" + Self.lines(2, host: "h") + "{}\n")
        let r = try LogReplay(window: window, maxLineLength: 4096, threads: 1).read([path])
        let f = r.files[0]
        XCTAssertEqual(f.lines, 7)
        XCTAssertEqual(f.quarantined, ["line_too_long": 1, "missing_key": 1])
        XCTAssertEqual(r.quarantine.map(\.location.line), [4, 7])
        XCTAssertEqual(r.quarantine[0].reason, .lineTooLong(bytes: 4096))
        XCTAssertEqual(f.events.total + f.otherEventCount + f.quarantinedLines, f.lines)
        XCTAssertEqual(r.totals.lines, 7)
    }

    func testProgressReachesTheTotal() throws {
        let a = try write("a.log", Self.lines(40000, host: "a"))
        let b = try compress("b.log.lz4", [Self.lines(40000, host: "b")])
        let seen = Seen()
        _ = try LogReplay(window: window, threads: 2).read([a, b]) { done, total in seen.add(done, total) }
        let expected = try [a, b].map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as! Int }.reduce(0, +)
        XCTAssertEqual(seen.last?.1, Int64(expected))
        XCTAssertEqual(seen.last?.0, Int64(expected))
        XCTAssertGreaterThan(seen.count, 2)
    }

    func testUnreadableInputThrows() throws {
        XCTAssertThrowsError(try read([dir.file("missing.log").path])) { error in
            XCTAssertEqual((error as? SourceError)?.kind, .cannotOpen)
        }
    }
}

private final class Seen: @unchecked Sendable {
    // Sendable: touched under `lock` only.
    private let lock = NSLock()
    private(set) var last: (Int64, Int64)?
    private(set) var count = 0

    func add(_ done: Int64, _ total: Int64) {
        lock.lock()
        defer { lock.unlock() }
        if let last { precondition(done >= last.0) }
        last = (done, total)
        count += 1
    }
}
