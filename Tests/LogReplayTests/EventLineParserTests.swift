import LogReplay
import RecoveryModel
import XCTest

/// The line parser on in-memory lines: CONTRACT §3 and the quarantine rules a line alone shows.
final class EventLineParserTests: XCTestCase {
    let window = Window(from: Timestamp.parse("2018-07-25T14:00:00Z")!, to: Timestamp.parse("2018-07-25T18:00:00Z")!)
    lazy var parser = EventLineParser(file: "logs/app-3.log", window: window)

    static let upload = #"{"ts":"2018-07-25T15:02:11.204Z","host":"app-3","event":"slot.upload","request_id":"c1f0-77","user_id":1042,"project_id":77,"task_id":310,"slot_start":"2018-07-25T14:50:00Z","duration_min":10,"keystrokes":412,"mouse_events":1290,"active_apps":["Xcode","Safari"],"screenshot_key":"ss/1042/201807251450.jpg","note":null}"#
    static let processed = #"{"ts":"2018-07-25T15:02:13.950Z","host":"app-3","event":"slot.processed","user_id":1042,"slot_start":"2018-07-25T14:50:00Z","status":"active","activity_level":7}"#
    static let deleted = #"{"ts":"2018-07-25T16:40:00Z","host":"app-1","event":"slot.deleted","user_id":1042,"slot_start":"2018-07-25T14:50:00Z"}"#

    func parse(_ line: String, number: Int = 1) -> ParsedLine {
        parse(bytes: Array(line.utf8), number: number)
    }

    func parse(bytes: [UInt8], number: Int = 1) -> ParsedLine {
        bytes.withUnsafeBytes { parser.parse($0, line: number) }
    }

    func upload(_ line: String) -> SlotUpload? {
        if case .event(let e) = parse(line), case .upload(let u) = e.payload { return u }
        return nil
    }

    static let uploadFields: [(String, String)] = [
        ("ts", #""2018-07-25T15:02:11.204Z""#), ("host", #""app-3""#), ("event", #""slot.upload""#),
        ("request_id", #""c1f0-77""#), ("user_id", "1042"), ("project_id", "77"), ("task_id", "310"),
        ("slot_start", #""2018-07-25T14:50:00Z""#), ("duration_min", "10"), ("keystrokes", "412"),
        ("mouse_events", "1290"), ("active_apps", #"["Xcode","Safari"]"#),
        ("screenshot_key", #""ss/1042/201807251450.jpg""#), ("note", "null"),
    ]

    /// The upload line with `key`'s value replaced by `value` (raw JSON), or removed when nil.
    func uploadWith(_ key: String, _ value: String?) -> String {
        let fields = Self.uploadFields.compactMap { k, v in k == key ? value.map { (k, $0) } : (k, v) }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    func reason(_ line: String) -> QuarantineReason? {
        if case .quarantined(let r, _) = parse(line) { return r }
        return nil
    }

    func reason(bytes: [UInt8]) -> QuarantineReason? {
        if case .quarantined(let r, _) = parse(bytes: bytes) { return r }
        return nil
    }

    // MARK: The contract's examples

    func testContractExamples() throws {
        guard case .event(let e) = parse(Self.upload, number: 17) else { return XCTFail("\(parse(Self.upload))") }
        XCTAssertEqual(e.key, SlotKey(userID: 1042, slotStart: Timestamp.parse("2018-07-25T14:50:00Z")!))
        XCTAssertEqual(e.time, Timestamp.parse("2018-07-25T15:02:11.204Z"))
        XCTAssertEqual(e.host, "app-3")
        XCTAssertEqual(e.location, SourceLocation(file: "logs/app-3.log", line: 17))
        XCTAssertEqual(e.payload, .upload(SlotUpload(
            requestID: "c1f0-77", projectID: 77, taskID: 310, durationMinutes: 10, keystrokes: 412,
            mouseEvents: 1290, activeApps: ["Xcode", "Safari"], screenshotKey: nil, note: nil)))
        // The screenshot key is checked (testAScreenshotKeyIsCheckedThoughNotKept) and not kept:
        // a recovered slot has none (CONTRACT §5.6), so the batch does not hold it.

        guard case .event(let p) = parse(Self.processed) else { return XCTFail() }
        XCTAssertEqual(p.payload, .processed(status: .active, activityLevel: 7))
        guard case .event(let d) = parse(Self.deleted) else { return XCTFail() }
        XCTAssertEqual(d.payload, .deleted)
        XCTAssertEqual(d.host, "app-1")
    }

    func testKeyOrderWhitespaceUnknownKeysAndCRLF() {
        let line = " \t{ \"slot_start\" : \"2018-07-25T14:50:00Z\" ,\"extra\":{\"a\":[1,{\"b\":[true,false,null,-0.5e-3,\"}\\\"]\"]}],\"c\":{}},"
            + "\"user_id\":1042, \"event\":\"slot.deleted\",\"tags\":[],\"host\":\"app-1\",\"ts\":\"2018-07-25T16:40:00Z\" } \r"
        guard case .event(let e) = parse(line) else { return XCTFail("\(parse(line))") }
        XCTAssertEqual(e.payload, .deleted)
        XCTAssertEqual(e.key.userID, 1042)
    }

    func testDefaultsAndNulls() {
        XCTAssertEqual(uploadWith("zzz", nil), Self.upload)
        let u = upload(uploadWith("duration_min", nil).replacingOccurrences(of: "\"task_id\":310", with: "\"task_id\":null"))
        XCTAssertEqual(u?.durationMinutes, 10)
        XCTAssertNil(u?.taskID)
        let bare = upload(uploadWith("note", nil).replacingOccurrences(of: ",\"task_id\":310", with: "")
            .replacingOccurrences(of: ",\"screenshot_key\":\"ss/1042/201807251450.jpg\"", with: ""))
        XCTAssertNotNil(bare)
        XCTAssertNil(bare?.taskID)
        XCTAssertNil(bare?.screenshotKey)
        XCTAssertEqual(reason(uploadWith("duration_min", "null")), .wrongType(key: "duration_min", expected: "an integer"))
        XCTAssertEqual(upload(uploadWith("duration_min", "1"))?.durationMinutes, 1)
    }

    // MARK: Escapes and UTF-8

    func testEveryEscape() {
        let note = #""q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20AC \ud83d\ude00 \uD834\uDD1E""#
        XCTAssertEqual(upload(uploadWith("note", note))?.note, "q\" b\\ s/ \u{8}\u{c}\n\r\t é € 😀 𝄞")
        XCTAssertEqual(upload(uploadWith("active_apps", #"["Caf\u00e9","\"Q\"",  "plain" ]"#))?.activeApps, ["Café", "\"Q\"", "plain"])
        // Escapes inside keys and values the parser matches.
        let line = Self.processed.replacingOccurrences(of: "\"user_id\"", with: "\"user\\u005fid\"")
            .replacingOccurrences(of: "\"active\"", with: "\"\\u0061ctive\"")
            .replacingOccurrences(of: "\"app-3\"", with: "\"app\\u002d3\"")
        guard case .event(let e) = parse(line) else { return XCTFail("\(parse(line))") }
        XCTAssertEqual(e.host, "app-3")
        XCTAssertEqual(e.payload, .processed(status: .active, activityLevel: 7))
        XCTAssertEqual(upload(uploadWith("note", "\"日本語 ✓\""))?.note, "日本語 ✓")
    }

    /// The scanner reads strings sixteen bytes at a time, then eight, then byte by byte: a quote,
    /// a backslash, a control, non-ASCII or invalid byte at each place of those blocks, in a key,
    /// in a value inside the line and in the last value (the line's end cuts the blocks short),
    /// reads as it does anywhere else.
    func testSpecialBytesAtEveryPlaceOfAScanBlock() {
        let specials: [(raw: String, text: String)] = [
            (#"\""#, "\""), (#"\\"#, "\\"), (#"\u00e9"#, "é"), ("é", "é"), ("😀", "😀"), (#"\ud83d\ude00"#, "😀"), (#"\/"#, "/"),
        ]
        for length in 0..<40 {
            for k in 0...length {
                let before = String(repeating: "a", count: k), after = String(repeating: "b", count: length - k)
                for (raw, text) in specials {
                    let value = "\"" + before + raw + after + "\""
                    XCTAssertEqual(upload(uploadWith("note", value))?.note, before + text + after, "\(value) in the last value")
                    XCTAssertEqual(upload(uploadWith("request_id", value))?.requestID, before + text + after, "\(value) inside the line")
                    let keyed = "{" + value + ":[" + value + "]," + Self.deleted.dropFirst()
                    guard case .event = parse(keyed) else { return XCTFail("\(keyed): \(parse(keyed))") }
                }
                // Plain strings of every length: the closing quote at every place.
                XCTAssertEqual(upload(uploadWith("note", "\"" + before + after + "\""))?.note, before + after)
                // A control byte is refused where it is.
                for control: UInt8 in [0x00, 0x09, 0x1F] {
                    var line = Array(uploadWith("note", "\"" + before + "_" + after + "\"").utf8)
                    let at = line.count - 3 - (length - k)
                    XCTAssertEqual(line[at], UInt8(ascii: "_"))
                    line[at] = control
                    XCTAssertEqual(reason(bytes: line), .malformedJSON("unescaped control character in a string at byte \(at)"), "\(k) of \(length)")
                    var key = Array(("{\"" + before + "_" + after + "\":1," + Self.deleted.dropFirst()).utf8)
                    key[2 + k] = control
                    XCTAssertEqual(reason(bytes: key), .malformedJSON("unescaped control character in a string at byte \(2 + k)"))
                }
                // Bytes that break UTF-8.
                for bad: [UInt8] in [[0xFF], [0xC3], [0xE2, 0x82], [0x80]] {
                    var line = Array(uploadWith("note", "\"" + before + "_" + after + "\"").utf8)
                    let at = line.count - 3 - (length - k)
                    line.replaceSubrange(at...at, with: bad)
                    XCTAssertEqual(reason(bytes: line), .invalidUTF8, "\(bad) at \(k) of \(length)")
                }
                // A string left open at the line's end.
                let open = "{\"note\":\"" + before + after
                XCTAssertEqual(reason(open), .malformedJSON("the line ends inside a value"))
                XCTAssertEqual(reason(open + "\\"), .malformedJSON("the line ends inside a value"))
            }
        }
    }

    func testLoneSurrogatesAndBadEscapesAreMalformed() {
        for bad in [#""\ud83d""#, #""\ude00""#, #""\ud83d\u0041""#, #""\ud83dx""#, #""\x""#, #""\u12""#, #""\u12G4""#, #""\'""#] {
            guard case .malformedJSON = reason(uploadWith("note", bad)) else { return XCTFail("\(bad): \(parse(uploadWith("note", bad)))") }
        }
        // Even in a key the parser does not know.
        guard case .malformedJSON = reason(Self.deleted.replacingOccurrences(of: "{", with: #"{"x\udc00":1,"#)) else { return XCTFail() }
    }

    func testInvalidUTF8AnywhereInTheLine() {
        let whole = Array(Self.upload.utf8)
        let cases: [(String, [UInt8])] = [
            ("stray continuation", [0x80]), ("overlong slash", [0xC0, 0xAF]), ("overlong C1", [0xC1, 0x81]),
            ("overlong three-byte", [0xE0, 0x80, 0xAF]), ("overlong four-byte", [0xF0, 0x80, 0x80, 0xAF]),
            ("surrogate", [0xED, 0xA0, 0x80]), ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]), ("F5", [0xF5, 0x80, 0x80, 0x80]),
            ("cut two-byte", [0xC3]), ("cut three-byte", [0xE2, 0x82]), ("cut four-byte", [0xF0, 0x9F, 0x98]), ("FF", [0xFF]),
        ]
        let noteAt = whole.count - 5  // inside `null` would break JSON too: put it in a string
        for (name, bad) in cases {
            let inNote = Array(uploadWith("note", "\"a" + "\"").utf8)
            var line = inNote
            line.insert(contentsOf: bad, at: inNote.count - 2)
            XCTAssertEqual(reason(bytes: line), .invalidUTF8, "\(name) in a string")
            var unknown = whole
            unknown.insert(contentsOf: Array(#""zz":""#.utf8) + bad + Array(#"","#.utf8), at: 1)
            XCTAssertEqual(reason(bytes: unknown), .invalidUTF8, "\(name) in an unknown key's value")
            var outside = whole
            outside.insert(contentsOf: bad, at: noteAt)
            XCTAssertEqual(reason(bytes: outside), .invalidUTF8, "\(name) outside strings")
        }
        XCTAssertEqual(reason(bytes: whole + [0xFF]), .invalidUTF8, "after the object")
        // Valid multi-byte sequences of each length pass.
        XCTAssertEqual(upload(uploadWith("note", "\"\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\""))?.note, "\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}")
    }

    func testNULInTexts() {
        XCTAssertEqual(reason(uploadWith("note", #""a\u0000b""#)), .nulInText(key: "note"))
        XCTAssertEqual(reason(uploadWith("request_id", #""\u0000""#)), .nulInText(key: "request_id"))
        XCTAssertEqual(reason(uploadWith("active_apps", #"["ok","\u0000"]"#)), .nulInText(key: "active_apps"))
        XCTAssertEqual(reason(Self.deleted.replacingOccurrences(of: "app-1", with: #"app\u0000"#)), .nulInText(key: "host"))
        // A raw NUL byte is a control character in a string: not JSON.
        var raw = Array(uploadWith("note", "\"ab\"").utf8)
        raw[raw.count - 3] = 0
        guard case .malformedJSON = reason(bytes: raw) else { return XCTFail() }
    }

    // MARK: Numbers and types

    func testNumbersOutOfRangeOrNotIntegers() {
        for (key, bad) in [("user_id", "0"), ("user_id", "-5"), ("user_id", "99999999999999999999"),
                           ("user_id", "-99999999999999999999"), ("project_id", "9223372036854775808"),
                           ("duration_min", "0"), ("duration_min", "11"), ("keystrokes", "-1"),
                           ("mouse_events", "2147483648"), ("task_id", "0")] {
            XCTAssertEqual(reason(uploadWith(key, bad)), .outOfRange(key: key), "\(key): \(bad)")
        }
        XCTAssertEqual(upload(uploadWith("project_id", "9223372036854775807"))?.projectID, Int64.max)
        XCTAssertEqual(upload(uploadWith("keystrokes", "2147483647"))?.keystrokes, Int32.max)
        XCTAssertEqual(upload(uploadWith("keystrokes", "-0"))?.keystrokes, 0)
        for bad in ["1e400", "7.0", "1e2", "0.5", "-1E-400", "\"7\"", "true", "null", "[7]", "{}"] {
            XCTAssertEqual(reason(uploadWith("keystrokes", bad)), .wrongType(key: "keystrokes", expected: "an integer"), bad)
        }
        for bad in ["01", "1.", ".5", "+1", "1e", "--1", "0x10", "NaN", "Infinity"] {
            guard case .malformedJSON = reason(uploadWith("keystrokes", bad)) else { return XCTFail(bad) }
        }
        let level = { (v: String) in Self.processed.replacingOccurrences(of: "\"activity_level\":7", with: "\"activity_level\":" + v) }
        XCTAssertEqual(reason(level("11")), .outOfRange(key: "activity_level"))
        XCTAssertEqual(reason(level("-1")), .outOfRange(key: "activity_level"))
        XCTAssertEqual(reason(level("1e400")), .wrongType(key: "activity_level", expected: "an integer"))
    }

    /// Not kept, the screenshot key is still read as the contract's table says: a line whose key
    /// is not a string, or holds a NUL, is quarantined, not recovered without it.
    func testAScreenshotKeyIsCheckedThoughNotKept() {
        XCTAssertEqual(reason(uploadWith("screenshot_key", "5")), .wrongType(key: "screenshot_key", expected: "a string"))
        XCTAssertEqual(reason(uploadWith("screenshot_key", "[\"ss\"]")), .wrongType(key: "screenshot_key", expected: "a string"))
        XCTAssertEqual(reason(uploadWith("screenshot_key", #""a\u0000b""#)), .nulInText(key: "screenshot_key"))
        XCTAssertNotNil(upload(uploadWith("screenshot_key", #""ss\/1.jpg \u00e9""#)))
        XCTAssertNotNil(upload(uploadWith("screenshot_key", "null")))
    }

    func testWrongTypes() {
        XCTAssertEqual(reason(uploadWith("user_id", "\"1042\"")), .wrongType(key: "user_id", expected: "an integer"))
        XCTAssertEqual(reason(uploadWith("request_id", "77")), .wrongType(key: "request_id", expected: "a string"))
        XCTAssertEqual(reason(uploadWith("active_apps", "\"Xcode\"")), .wrongType(key: "active_apps", expected: "an array of strings"))
        XCTAssertEqual(reason(uploadWith("active_apps", "[\"Xcode\",1]")), .wrongType(key: "active_apps", expected: "an array of strings"))
        XCTAssertEqual(reason(uploadWith("active_apps", "[null]")), .wrongType(key: "active_apps", expected: "an array of strings"))
        XCTAssertEqual(upload(uploadWith("active_apps", "[]"))?.activeApps, [])
        XCTAssertEqual(reason(uploadWith("note", "5")), .wrongType(key: "note", expected: "a string"))
        XCTAssertEqual(reason(uploadWith("slot_start", "1532530200")), .wrongType(key: "slot_start", expected: "a string"))
        XCTAssertEqual(reason(uploadWith("event", "null")), .wrongType(key: "event", expected: "a string"))
        XCTAssertEqual(reason(Self.processed.replacingOccurrences(of: "\"active\"", with: "\"pending\"")), .outOfRange(key: "status"))
        XCTAssertEqual(reason(Self.processed.replacingOccurrences(of: "\"active\"", with: "\"Active\"")), .outOfRange(key: "status"))
        XCTAssertEqual(reason(Self.processed.replacingOccurrences(of: "\"active\"", with: "1")), .wrongType(key: "status", expected: "a string"))
    }

    /// A slot event whose `ts` or `host` cannot be read still names its slot when its `user_id` and
    /// `slot_start` can be, and the slot is in the window: the quarantine record carries the key,
    /// so the user's reports count it (it had none; found by a differential test).
    func testALineWithABadTimeOrHostStillNamesItsSlot() {
        let key = SlotKey(userID: 1042, slotStart: Timestamp.parse("2018-07-25T14:50:00Z")!)
        func quarantinedKey(_ line: String) -> SlotKey?? {
            if case .quarantined(_, let k) = parse(line) { return .some(k) }
            return nil
        }
        for line in [uploadWith("ts", "\"2018-07-25 15:02:11\""), uploadWith("ts", nil), uploadWith("host", "5"), uploadWith("host", nil),
                     Self.deleted.replacingOccurrences(of: "\"2018-07-25T16:40:00Z\"", with: "\"later\"")] {
            XCTAssertEqual(quarantinedKey(line), .some(key), line)
        }
        // No slot to name: another event, an unreadable user or start, a start outside the window.
        XCTAssertEqual(quarantinedKey(#"{"ts":"x","host":"app-3","event":"user.login","user_id":1042,"slot_start":"2018-07-25T14:50:00Z"}"#), .some(nil))
        let badTime = Self.uploadFields.map { $0.0 == "ts" ? ($0.0, "\"x\"") : $0 }
        for (key, value) in [("user_id", "\"1042\""), ("slot_start", "\"yesterday\""), ("slot_start", "\"2018-07-25T19:00:00Z\"")] {
            let fields = badTime.map { $0.0 == key ? ($0.0, value) : $0 }
            let line = "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
            XCTAssertEqual(quarantinedKey(line), .some(nil), line)
        }
    }

    func testTimes() {
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T14:50:00\"")), .invalidTime(key: "slot_start"))
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25 14:50\"")), .invalidTime(key: "slot_start"))
        XCTAssertEqual(reason(uploadWith("ts", "\"2018-02-30T10:00:00Z\"")), .invalidTime(key: "ts"))
        XCTAssertEqual(reason(uploadWith("ts", "\"yesterday\"")), .invalidTime(key: "ts"))
        // Year 0 once its offset is applied: PostgreSQL would refuse the plan's row.
        XCTAssertEqual(reason(uploadWith("slot_start", "\"0001-01-01T00:00:00+14:00\"")), .invalidTime(key: "slot_start"))
        XCTAssertEqual(reason(uploadWith("ts", "\"9999-12-31T23:59:59-00:01\"")), .invalidTime(key: "ts"))
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T14:55:00Z\"")), .misalignedSlotStart)
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T14:50:01Z\"")), .misalignedSlotStart)
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T14:50:00.5Z\"")), .misalignedSlotStart)
        // Past the microsecond too: the time's reading keeps six digits, and a start 999 ns past a
        // boundary was recovered at the boundary (found by a hostile test). Zeros are aligned.
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T14:50:00.000000999Z\"")), .misalignedSlotStart)
        guard case .event = parse(uploadWith("slot_start", "\"2018-07-25T14:50:00.000000000Z\"")) else { return XCTFail() }
        // An offset that moves it onto a boundary in UTC is aligned; a half-hour zone keeps it so.
        guard case .event(let e) = parse(uploadWith("slot_start", "\"2018-07-25T07:50:00-07:00\"")) else { return XCTFail() }
        XCTAssertEqual(e.key.slotStart, Timestamp.parse("2018-07-25T14:50:00Z"))
        guard case .event = parse(uploadWith("slot_start", "\"2018-07-25T20:20:00+05:30\"")) else { return XCTFail() }
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T20:25:00+05:30\"")), .misalignedSlotStart)
        // The key travels with a rejection that names one.
        if case .quarantined(_, let key) = parse(uploadWith("keystrokes", "-1")) {
            XCTAssertEqual(key, SlotKey(userID: 1042, slotStart: Timestamp.parse("2018-07-25T14:50:00Z")!))
        } else { XCTFail() }
    }

    // MARK: Keys

    /// The parser keeps the date of the last time it read: a later time on that date with a bad
    /// clock, and one on another date, read as they would alone.
    func testTimesOnTheDateOfTheLastOne() {
        guard case .event = parse(Self.upload) else { return XCTFail() }
        XCTAssertEqual(reason(uploadWith("ts", "\"2018-07-25T24:02:11Z\"")), .invalidTime(key: "ts"))
        XCTAssertEqual(reason(uploadWith("ts", "\"2018-07-25T15:02:1xZ\"")), .invalidTime(key: "ts"))
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-25T14:5:00Z\"")), .invalidTime(key: "slot_start"))
        XCTAssertEqual(reason(uploadWith("slot_start", "\"2018-07-2514:50:00Z\"")), .invalidTime(key: "slot_start"))
        guard case .event(let e) = parse(uploadWith("ts", "\"2018-07-26T01:00:00+02:00\"")) else { return XCTFail() }
        XCTAssertEqual(e.time, Timestamp.parse("2018-07-25T23:00:00Z"))
        XCTAssertEqual(reason(uploadWith("ts", "\"2018-07-26T01:00:00+02:0\"")), .invalidTime(key: "ts"))
        guard case .event(let f) = parse(uploadWith("ts", "\"2018-07-25T15:02:11.5Z\"")) else { return XCTFail() }
        XCTAssertEqual(f.time.microseconds, Timestamp.parse("2018-07-25T15:02:11Z")!.microseconds + 500_000)
    }

    func testMissingKeys() {
        for key in ["ts", "host", "event", "user_id", "slot_start", "request_id", "project_id", "keystrokes", "mouse_events", "active_apps"] {
            XCTAssertEqual(reason(uploadWith(key, nil)), .missingKey(key), key)
        }
        XCTAssertEqual(reason(Self.processed.replacingOccurrences(of: ",\"activity_level\":7", with: "")), .missingKey("activity_level"))
        XCTAssertEqual(reason(Self.processed.replacingOccurrences(of: ",\"status\":\"active\"", with: "")), .missingKey("status"))
    }

    /// Decided: a contract key given twice quarantines the line; an unknown key may repeat.
    func testDuplicateKeys() {
        XCTAssertEqual(reason(Self.deleted.replacingOccurrences(of: "}", with: ",\"user_id\":7}")), .duplicateKey("user_id"))
        XCTAssertEqual(reason(Self.deleted.replacingOccurrences(of: "}", with: ",\"user\\u005fid\":1042}")), .duplicateKey("user_id"))
        guard case .event = parse(Self.deleted.replacingOccurrences(of: "}", with: ",\"x\":1,\"x\":[2]}")) else { return XCTFail() }
        // Broken JSON wins over a duplicate: the line is not JSON at all.
        guard case .malformedJSON = reason(Self.deleted.replacingOccurrences(of: "}", with: ",\"user_id\":7")) else { return XCTFail() }
    }

    func testMalformedJSON() {
        let lines = ["", "   ", "\r", "[]", "null", "\"x\"", "{", "{\"ts\"}", "{\"ts\":}", "{'ts':1}", "{\"a\":1,}", "{\"a\":1}}", "{\"a\":1} x",
                     "{\"a\":tru}", "{\"a\":[1,]}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", Self.deleted.replacingOccurrences(of: "\"app-1\"", with: "\"app\t1\""),
                     String(repeating: "[", count: 100), "{\"a\":" + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"]
        for line in lines {
            guard case .malformedJSON = reason(line) else { return XCTFail("\(line.debugDescription): \(parse(line))") }
        }
        XCTAssertEqual(reason("{\"a\":1,}"), .malformedJSON("unexpected '}' at byte 7"))
        XCTAssertEqual(reason(""), .malformedJSON("empty line"))
        // Deep but allowed nesting in an unknown key.
        let deep = Self.deleted.replacingOccurrences(of: "}", with: ",\"x\":" + String(repeating: "[", count: 60) + String(repeating: "]", count: 60) + "}")
        guard case .event = parse(deep) else { return XCTFail("\(parse(deep))") }
    }

    // MARK: Window and other events

    func testOutOfWindowAndOtherEvents() {
        let before = uploadWith("slot_start", "\"2018-07-25T13:50:00Z\"")
        XCTAssertEqual(parse(before), .outOfWindow(.upload, host: "app-3", time: Timestamp.parse("2018-07-25T15:02:11.204Z")!))
        // The window is half-open: its end is outside.
        guard case .outOfWindow = parse(uploadWith("slot_start", "\"2018-07-25T18:00:00Z\"")) else { return XCTFail() }
        guard case .event = parse(uploadWith("slot_start", "\"2018-07-25T14:00:00Z\"")) else { return XCTFail() }
        // Outside the window, fields beyond the key are not checked.
        guard case .outOfWindow = parse(before.replacingOccurrences(of: "\"keystrokes\":412", with: "\"keystrokes\":-1")) else { return XCTFail() }
        // Other events need ts and host only.
        XCTAssertEqual(parse(#"{"event":"user.login","host":"app-2","ts":"2018-07-25T15:00:00Z","user_id":"x"}"#),
                       .otherEvent(name: "user.login", host: "app-2", time: Timestamp.parse("2018-07-25T15:00:00Z")!))
        XCTAssertEqual(reason(#"{"event":"user.login","host":"app-2"}"#), .missingKey("ts"))
        XCTAssertEqual(parse(#"{"event":"slot.uploaded","host":"h","ts":"2018-07-25T15:00:00Z"}"#),
                       .otherEvent(name: "slot.uploaded", host: "h", time: Timestamp.parse("2018-07-25T15:00:00Z")!))
    }

    /// Keys are matched with their closing quote by their first two bytes, then by their first
    /// sixteen bytes in a table when the line holds sixteen bytes from the key's start, byte by
    /// byte otherwise: every known key, and names one byte away from one (cut, longer, an escaped
    /// quote or backslash after it, another byte at each place), read the same every way, at the
    /// line's end too. A name one byte away is an unknown key: it may repeat, and it does not
    /// stand for the key it resembles.
    func testKeysNearTheKnownOnesAreUnknownWhereverTheyAre() {
        let known = ["ts", "host", "event", "request_id", "user_id", "slot_start", "project_id", "task_id", "duration_min",
                     "keystrokes", "mouse_events", "active_apps", "screenshot_key", "note", "status", "activity_level"]
        var near: [String] = []
        for key in known {
            let bytes = Array(key.utf8)
            near += [String(key.dropLast()), key + "x", key + "_id", key + "\\\"", key + "\\\\", key + "\u{7F}", " " + key]
            for k in bytes.indices {
                for replacement: UInt8 in [bytes[k] ^ 0x20, bytes[k] &+ 1, 0x5F] where replacement != bytes[k] {
                    var changed = bytes
                    changed[k] = replacement
                    near.append(String(decoding: changed, as: UTF8.self))
                }
            }
        }
        near = near.filter { !known.contains($0) }
        XCTAssertGreaterThan(near.count, 400)
        for name in near {
            // Twice inside the line (the table), and twice at its end (byte by byte).
            let inside = Self.deleted.replacingOccurrences(of: "{", with: "{\"\(name)\":1,\"\(name)\":[2],")
            guard case .event = parse(inside) else { return XCTFail("\(name): \(parse(inside))") }
            let atEnd = String(Self.deleted.dropLast()) + ",\"\(name)\":1,\"\(name)\":2}"
            guard case .event = parse(atEnd) else { return XCTFail("\(name): \(parse(atEnd))") }
        }
        // Every known key is found both ways: given again first in a line that holds them all,
        // and twice at its end.
        let all = String(Self.upload.dropLast()) + ",\"status\":\"active\",\"activity_level\":7}"
        guard case .event = parse(all) else { return XCTFail("\(parse(all))") }
        for key in known {
            XCTAssertEqual(reason("{\"\(key)\":\"some text\"," + all.dropFirst()), .duplicateKey(key), key)
            XCTAssertEqual(reason(String(all.dropLast()) + ",\"\(key)\":1}"), .duplicateKey(key), key)
            XCTAssertEqual(reason(String(Self.deleted.dropLast()) + ",\"\(key)\":1,\"\(key)\":2}"), .duplicateKey(key), key)
        }
        // A known key with fewer than sixteen bytes left in the line is found.
        XCTAssertEqual(reason(#"{"host":"h","event":"e","tx":"2018-07-25T15:00:00Z"}"#), .missingKey("ts"))
        XCTAssertEqual(upload(String(Self.upload.dropLast(13)) + ",\"note\":\"n\"}")?.note, "n")
    }

    /// The scan reads an integer's value as it goes; `int64` reads those of more than 18 bytes.
    func testIntegersOfEveryLengthAroundTheScansLimit() {
        var digits = ""
        for count in 1...20 {
            digits += String(count % 10)
            for value in [digits, String(repeating: "9", count: count)] {
                let line = uploadWith("project_id", value)
                if let expected = Int64(value) {
                    XCTAssertEqual(upload(line)?.projectID, expected, value)
                } else {
                    XCTAssertEqual(reason(line), .outOfRange(key: "project_id"), value)
                }
                XCTAssertEqual(reason(uploadWith("keystrokes", "-" + value)), .outOfRange(key: "keystrokes"), "-" + value)
            }
        }
        XCTAssertEqual(upload(uploadWith("project_id", "9223372036854775807"))?.projectID, Int64.max)
        XCTAssertEqual(reason(uploadWith("project_id", "9223372036854775808")), .outOfRange(key: "project_id"))
        XCTAssertEqual(reason(uploadWith("project_id", "18446744073709551617")), .outOfRange(key: "project_id"))
        XCTAssertEqual(upload(uploadWith("keystrokes", "0"))?.keystrokes, 0)
        XCTAssertEqual(upload(uploadWith("keystrokes", "-0"))?.keystrokes, 0)
        let leadingZero = uploadWith("keystrokes", "-00")
        XCTAssertEqual(reason(leadingZero), .malformedJSON("unexpected '0' at byte \(Self.offset(of: "-00", in: leadingZero) + 2)"))
        XCTAssertEqual(reason(uploadWith("keystrokes", "12.5")), .wrongType(key: "keystrokes", expected: "an integer"))
    }

    /// The byte offset of `text`'s first occurrence in `line`.
    static func offset(of text: String, in line: String) -> Int {
        line.utf8.distance(from: line.startIndex, to: line.range(of: text)!.lowerBound)
    }

    /// An array of strings without space is read in the object's loop; any other array, and a
    /// broken one, is read again as any value: the same lists, and the same errors at the same
    /// bytes.
    func testArraysOfEveryShape() {
        let long = String(repeating: "y", count: 40)
        let lists: [(String, [String])] = [
            ("[]", []), ("[ ]", []), (#"["a"]"#, ["a"]), (#"["a","b"]"#, ["a", "b"]), (#"[ "a","b"]"#, ["a", "b"]),
            (#"["a" ,"b"]"#, ["a", "b"]), (#"["a", "b"]"#, ["a", "b"]), (#"["a","b" ]"#, ["a", "b"]), (#"["",""]"#, ["", ""]),
            (#"["a\"b","c\\d"]"#, ["a\"b", "c\\d"]), (#"["Mail, Calendar","x]"]"#, ["Mail, Calendar", "x]"]),
            (#"["\u00e9t\u00e9","caf\u00e9"]"#, ["été", "café"]), (#"["日本","✓"]"#, ["日本", "✓"]),
            ("[\"" + long + "\",\"" + long + "\"]", [long, long]),
        ]
        let withoutApps = Self.uploadFields.filter { $0.0 != "active_apps" }.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",")
        for (raw, apps) in lists {
            XCTAssertEqual(upload(uploadWith("active_apps", raw))?.activeApps, apps, raw)
            // The line's last value.
            XCTAssertEqual(upload("{" + withoutApps + ",\"active_apps\":" + raw + "}")?.activeApps, apps, raw)
        }
        for raw in [#"["a",1]"#, "[null]", #"["a",["b"]]"#, #"[{"a":1}]"#, "[true]"] {
            XCTAssertEqual(reason(uploadWith("active_apps", raw)), .wrongType(key: "active_apps", expected: "an array of strings"), raw)
        }
        // Broken arrays: the error and its byte, from the array's `[`.
        let broken: [(String, Int, String)] = [
            (#"["a",]"#, 5, "unexpected ']'"), (#"["a" "b"]"#, 5, "unexpected '\"'"), (#"["a"}"#, 4, "unexpected '}'"),
            (#"["a",,"b"]"#, 5, "unexpected ','"), ("[,]", 1, "unexpected ','"), (#"["a\x"]"#, 3, "invalid escape"),
            (#"["a\ud800"]"#, 3, "unpaired UTF-16 surrogate escape"), ("[\"a\u{1}\"]", 3, "unescaped control character in a string"),
        ]
        for (raw, at, what) in broken {
            let line = uploadWith("active_apps", raw)
            let start = Self.offset(of: "\"active_apps\":", in: line) + 14
            XCTAssertEqual(reason(line), .malformedJSON("\(what) at byte \(start + at)"), raw)
        }
        // Cut at every byte: the line ends inside the array.
        let head = String(Self.upload.prefix { $0 != "[" })
        let array = #"["Xcode","Safari"]"#
        for cut in 0...array.utf8.count {
            XCTAssertEqual(reason(head + array.prefix(cut)), .malformedJSON("the line ends inside a value"), String(array.prefix(cut)))
        }
    }

    /// Event names are matched as words: the three slot events, and names one byte away.
    func testSlotEventNames() {
        for name in ["slot.uploa", "slot.uploadx", "slot.Upload", "slotxupload", "slot.upload ", "slot.processe", "slot.processedx",
                     "slot.procesed", "slot.deleteD", "slot.delete", "slot.deletedx", "Slot.deleted", "slot.", "slot.processedd", "s",
                     "xlot.deleted", "slot.delet_d", "slot_deleted"] {
            let line = Self.deleted.replacingOccurrences(of: "slot.deleted", with: name)
            XCTAssertEqual(parse(line), .otherEvent(name: name, host: "app-1", time: Timestamp.parse("2018-07-25T16:40:00Z")!), name)
        }
        guard case .event(let e) = parse(Self.deleted) else { return XCTFail() }
        XCTAssertEqual(e.payload, .deleted)
        guard case .event = parse(Self.processed), case .event = parse(Self.upload) else { return XCTFail() }
        guard case .event = parse(Self.deleted.replacingOccurrences(of: "slot.deleted", with: "slot.\\u0064eleted")) else { return XCTFail() }
    }

    func testInterningKeepsValuesApart() {
        // Same app list twice (shared), then a different one; a failed list is not remembered.
        XCTAssertEqual(upload(Self.upload)?.activeApps, ["Xcode", "Safari"])
        XCTAssertEqual(upload(Self.upload)?.activeApps, ["Xcode", "Safari"])
        XCTAssertEqual(reason(uploadWith("active_apps", "[\"a\",2]")), .wrongType(key: "active_apps", expected: "an array of strings"))
        XCTAssertEqual(reason(uploadWith("active_apps", "[\"a\",2]")), .wrongType(key: "active_apps", expected: "an array of strings"))
        XCTAssertEqual(upload(uploadWith("active_apps", "[\"a very long application name indeed\"]"))?.activeApps, ["a very long application name indeed"])
        let hosts = (0..<50).map { "host-with-a-long-name-\($0)" }
        for h in hosts + hosts {
            guard case .event(let e) = parse(Self.deleted.replacingOccurrences(of: "app-1", with: h)) else { return XCTFail() }
            XCTAssertEqual(e.host, h)
        }
    }
}
