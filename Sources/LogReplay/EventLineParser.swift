import RecoveryModel

/// What one log line is, once parsed (CONTRACT §3).
public enum ParsedLine: Hashable, Sendable {
    /// A slot event whose `slot_start` is inside the window: input of the fold.
    case event(SlotEvent)
    /// A valid slot event for a slot outside the window: counted, not kept. Its other fields are
    /// not checked: they cannot change what is recovered.
    case outOfWindow(SlotEvent.Kind, host: String, time: Timestamp)
    /// An event other than `slot.upload`, `slot.processed`, `slot.deleted`: counted by name.
    case otherEvent(name: String, host: String, time: Timestamp)
    /// A line that cannot be stored as given (CONTRACT §5.5), with the slot when the line names a
    /// valid one.
    case quarantined(QuarantineReason, key: SlotKey?)
}

/// Parses server log lines into slot events, on bytes.
///
/// One parser per file and thread: it owns reusable scratch memory, tables that share the strings
/// that repeat (host names, app lists, event names), and the batch its events go to: a line
/// allocates nothing, its event and texts are appended to the batch's arrays.
///
/// Rules beyond the contract's table, chosen here:
/// - a key of the contract's table that appears twice in a line quarantines it
///   (`duplicate_key`); unknown keys may repeat and hold any JSON value;
/// - `ts`, `host` and `event` are required on every line, other events included;
/// - `task_id`, `screenshot_key` and `note` may be absent (read as null); `duration_min` may be
///   absent (10) but not null; every other key of the event's kind is required;
/// - integers must be written as integers: `7.0` or `1e2` is `wrong_type`; a value beyond the
///   key's range (`-1`, `99999999999999999999`) is `out_of_range`; `status` other than
///   `active`/`idle` is `out_of_range`;
/// - the key's fields (`user_id`, `slot_start`) are checked before the window; the rest only for
///   events inside it;
/// - a line that breaks UTF-8 anywhere is `invalid_utf8`, before any JSON error.
public final class EventLineParser {
    public let file: String
    public let window: Window

    // The mutable state below is `@exclusivity(unchecked)`: a parser is used by one thread, and
    // no access to a property overlaps another of the same one, so the runtime's checks on every
    // line's dozen accesses (7% of parsing, measured) would find nothing.
    /// The known keys' fields by `Key.rawValue`, and one more (`Key.count`) where unknown keys'
    /// go unread.
    private let fields: UnsafeMutablePointer<Field>
    private let keys = KeyTable()
    @exclusivity(unchecked) private var scratch: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var scratchCapacity: Int
    @exclusivity(unchecked) private var hosts = InternTable<String>(limit: 1 << 14)
    @exclusivity(unchecked) private var appLists = InternTable<[String]>(limit: 1 << 16)
    @exclusivity(unchecked) private var names = InternTable<String>(limit: 1 << 12)
    /// The file's events, as the reading parse appends them.
    @exclusivity(unchecked) private(set) var batch: EventBatch
    /// The batch's ids of the interned hosts and app lists, by intern index (`UInt32.max`: none yet).
    @exclusivity(unchecked) private var hostIDs: [UInt32] = []
    @exclusivity(unchecked) private var appIDs: [UInt32] = []
    /// The intern index of the app list of the line read last, if it named an interned one.
    @exclusivity(unchecked) private var lastAppIndex: Int?
    /// The date of the last time read, for `Timestamp.parse`.
    @exclusivity(unchecked) private var dates = Timestamp.DateMemo()
    /// The last line's host when the host table is full.
    @exclusivity(unchecked) private var unlistedHost = ""
    /// The batch before the last event was appended.
    @exclusivity(unchecked) private var beforeLastEvent: EventBatch.Mark

    /// The intern index of the last parsed line's host, for per-host tallies; -1 when the line
    /// was quarantined or the table is full.
    @exclusivity(unchecked) private(set) var lastHostIndex = -1
    /// Set by `parse`. A parser is used either a line at a time (`parse`) or to read a file into
    /// its batch (`read`, `dropLastEvent`, `takeBatch`), never both: `parse` empties the batch
    /// after each line, which would lose the lines `read` kept and the mark `dropLastEvent` needs.
    @exclusivity(unchecked) private var parsesOneByOne = false
    /// How much of its file the reader has read (0 to 1), set now and then by `LogReplay`: the
    /// batch's arrays are sized from it (`makeRoom`). 0 leaves them to grow by doubling.
    @exclusivity(unchecked) var fileFraction = 0.0
    /// At most this many events are kept in the batch before it is handed over (a chunk).
    @exclusivity(unchecked) var eventLimit = Int.max

    public init(file: String, window: Window) {
        self.file = file
        self.window = window
        fields = .allocate(capacity: Key.count + 1)
        fields.initialize(repeating: Field(), count: Key.count + 1)
        scratchCapacity = 4096
        scratch = .allocate(capacity: scratchCapacity)
        batch = EventBatch(source: file)
        beforeLastEvent = batch.mark
    }

    deinit {
        fields.deallocate()
        scratch.deallocate()
    }

    /// The host names seen so far, by intern index.
    var hostNames: [String] { hosts.values }

    /// Parses one line (without its `\n`; a final `\r` is ignored) numbered `line` in `file`.
    public func parse(_ bytes: UnsafeRawBufferPointer, line: Int) -> ParsedLine {
        precondition(batch.events.isEmpty && batch.versions.isEmpty, "EventLineParser.parse on a parser that read lines into its batch")
        parsesOneByOne = true
        let parsed = read(bytes, line: line)
        defer {
            batch = EventBatch(source: file)
            hostIDs.removeAll(keepingCapacity: true)
            appIDs.removeAll(keepingCapacity: true)
            lastAppIndex = nil
        }
        switch parsed {
        case .event: return .event(batch.event(at: batch.events.count - 1))
        case .outOfWindow(let kind, let time): return .outOfWindow(kind, host: lastHostName, time: time)
        case .otherEvent(let name, let time): return .otherEvent(name: name, host: lastHostName, time: time)
        case .quarantined(let reason, let key): return .quarantined(reason, key: key)
        }
    }

    /// What `read` found in a line; an event is appended to `batch`.
    enum ReadLine {
        case event(SlotEvent.Kind, SlotKey, Timestamp)
        case outOfWindow(SlotEvent.Kind, Timestamp)
        case otherEvent(String, Timestamp)
        case quarantined(QuarantineReason, key: SlotKey?)
    }

    /// Parses one line as `parse` does, appending its event, if any, to `batch`.
    func read(_ bytes: UnsafeRawBufferPointer, line: Int) -> ReadLine {
        lastHostIndex = -1
        lastAppIndex = nil
        guard let base = bytes.baseAddress else {
            return .quarantined(.malformedJSON("empty line"), key: nil)
        }
        let p = base.assumingMemoryBound(to: UInt8.self)
        var n = bytes.count
        if n > 0 && p[n - 1] == 0x0D { n -= 1 }
        do throws(JSONSyntaxError) {
            try scanObject(p, n)
        } catch {
            if JSONScanner.firstInvalidUTF8(p, bytes.count) != nil { return .quarantined(.invalidUTF8, key: nil) }
            if case .duplicateKey(let key) = error.kind { return .quarantined(.duplicateKey(key), key: nil) }
            return .quarantined(.malformedJSON(n == 0 ? "empty line" : error.detail), key: nil)
        }
        let mark = batch.mark
        do throws(Rejection) {
            let parsed = try extractFields(p, line: line)
            if case .event = parsed { beforeLastEvent = mark }
            return parsed
        } catch {
            lastHostIndex = -1
            rollBack(to: mark)
            return .quarantined(error.reason, key: error.key)
        }
    }

    /// Drops from the batch what was added since `mark`, and forgets the batch ids of the app
    /// lists it dropped (an interned list gets a new id when a later line names it).
    private func rollBack(to mark: EventBatch.Mark) {
        batch.truncate(to: mark)
        // A line adds at most one interned list to the batch: the one `appList` last gave an id.
        if let i = lastAppIndex, i < appIDs.count, appIDs[i] != .max, Int(appIDs[i]) >= mark.appLists { appIDs[i] = .max }
    }

    /// Takes the last event appended out of the batch again (an event of another shard).
    func dropLastEvent() {
        precondition(!parsesOneByOne, "EventLineParser.dropLastEvent on a parser used by parse")
        rollBack(to: beforeLastEvent)
    }

    /// The batch of the events read so far, handed over.
    func takeBatch() -> EventBatch {
        precondition(!parsesOneByOne, "EventLineParser.takeBatch on a parser used by parse")
        defer { batch = EventBatch(source: file) }
        return batch
    }

    /// The batch of the events read so far, handed over as a chunk of its own: the next
    /// events start a batch that adds its hosts and app lists again.
    func takeChunk() -> EventBatch {
        hostIDs.removeAll(keepingCapacity: true)
        appIDs.removeAll(keepingCapacity: true)
        lastAppIndex = nil
        defer { beforeLastEvent = batch.mark }
        return takeBatch()
    }

    private var lastHostName: String { lastHostIndex >= 0 ? hosts.values[lastHostIndex] : unlistedHost }

    // MARK: Pass 1: the grammar, and where each known key's value lies.

    private func scanObject(_ p: UnsafePointer<UInt8>, _ n: Int) throws(JSONSyntaxError) {
        for k in 0..<Key.count { fields[k].type = nil }
        var i = 0
        var duplicate: (key: Key, offset: Int)?
        var seen: UInt32 = 0  // bit k: key k was read
        JSONScanner.skipSpace(p, n, &i)
        guard i < n, p[i] == UInt8(ascii: "{") else {
            let bom = i + 2 < n && p[i] == 0xEF && p[i + 1] == 0xBB && p[i + 2] == 0xBF
            throw JSONSyntaxError(kind: bom ? .byteOrderMark : i < n ? .notAnObject : .unexpectedEnd, offset: i)
        }
        i += 1
        JSONScanner.skipSpace(p, n, &i)
        if i < n && p[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                try JSONScanner.expect(p, n, &i, UInt8(ascii: "\""))
                let keyStart = i
                // `Key.rawValue`, or `Key.count` for an unknown key.
                let slot: Int
                if keyStart + KeyTable.bytesRead <= n, let known = keys.quoted(p + keyStart) {
                    // A known key and its closing quote, which `scanString` would find there.
                    slot = known.slot
                    i = keyStart + known.count + 1
                } else {
                    let keyEscaped = try JSONScanner.scanString(p, n, &i)
                    if keyEscaped {
                        slot = decodedKey(p, keyStart, i - 1)?.rawValue ?? Key.count
                    } else if keyStart + KeyTable.bytesRead <= n {
                        slot = keys.slot(p + keyStart, i - 1 - keyStart)
                    } else {
                        slot = Key(p + keyStart, i - 1 - keyStart)?.rawValue ?? Key.count
                    }
                }
                if i < n && p[i] == UInt8(ascii: ":") {
                    i += 1  // mostly right after the key
                } else {
                    JSONScanner.skipSpace(p, n, &i)
                    try JSONScanner.expect(p, n, &i, UInt8(ascii: ":"))
                }
                JSONScanner.skipSpace(p, n, &i)
                let valueStart = i
                guard i < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
                // Strings and integers, most values, without a call.
                var plain = false
                var value: Int64 = 0
                let type: JSONType
                let first = p[i]
                if first == UInt8(ascii: "\"") {
                    i += 1
                    plain = !(try JSONScanner.scanString(p, n, &i))
                    type = .string
                } else if first &- UInt8(ascii: "0") < 10 || first == UInt8(ascii: "-") {
                    plain = try JSONScanner.scanNumber(p, n, &i, value: &value)
                    type = .number
                } else if first == UInt8(ascii: "n") {
                    try JSONScanner.scanLiteral(p, n, &i, "null")
                    type = .null
                } else if first == UInt8(ascii: "[") && JSONScanner.scanPlainStringArray(p, n, &i) {
                    type = .array
                } else {
                    type = try JSONScanner.scanValue(p, n, &i, depth: 1, plain: &plain)
                }
                // An unknown key's bit (16) is not looked at: it may repeat.
                let bit: UInt32 = 1 &<< UInt32(truncatingIfNeeded: slot)
                if seen & bit & 0xFFFF != 0 && duplicate == nil { duplicate = (Key(rawValue: slot)!, keyStart) }
                seen |= bit
                fields[slot] = Field(start: valueStart, end: i, type: type, plain: plain, value: value)
                // Mostly a comma or the brace right after the value: no space to skip.
                var next: UInt8 = i < n ? p[i] : 0
                if next != UInt8(ascii: ",") && next != UInt8(ascii: "}") {
                    JSONScanner.skipSpace(p, n, &i)
                    guard i < n else { throw JSONSyntaxError(kind: .unexpectedEnd, offset: n) }
                    next = p[i]
                }
                if next == UInt8(ascii: ",") {
                    i += 1
                    JSONScanner.skipSpace(p, n, &i)
                } else if next == UInt8(ascii: "}") {
                    i += 1
                    break
                } else {
                    throw JSONSyntaxError(kind: .unexpected(p[i]), offset: i)
                }
            }
        }
        JSONScanner.skipSpace(p, n, &i)
        guard i == n else { throw JSONSyntaxError(kind: .trailingCharacters, offset: i) }
        // Reported only for a line that is otherwise JSON.
        if let duplicate { throw JSONSyntaxError(kind: .duplicateKey(duplicate.key.name), offset: duplicate.offset) }
    }

    private func decodedKey(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Key? {
        reserveScratch(end - start)
        let (count, _) = JSONScanner.decode(p, start, end, into: scratch)
        return Key(scratch, count)
    }

    private func reserveScratch(_ count: Int) {
        guard count > scratchCapacity else { return }
        scratch.deallocate()
        scratchCapacity = max(count, scratchCapacity * 2)
        scratch = .allocate(capacity: scratchCapacity)
    }

    // MARK: Pass 2: the event's fields, by kind.

    private struct Rejection: Error {
        var reason: QuarantineReason
        var key: SlotKey?
    }

    private func extractFields(_ p: UnsafePointer<UInt8>, line: Int) throws(Rejection) -> ReadLine {
        let eventName = try text(p, .event)
        let kind: SlotEvent.Kind? = Self.slotKind(eventName)
        let time: Timestamp
        let hostBytes: UnsafeRawBufferPointer
        do throws(Rejection) {
            time = try timestamp(p, .ts)
            hostBytes = try text(p, .host)
        } catch {
            throw Rejection(reason: error.reason, key: kind == nil ? nil : readableKey(p))
        }
        if let h = hosts.index(of: hostBytes, make: { String(decoding: $0, as: UTF8.self) }) {
            lastHostIndex = h
        } else {
            unlistedHost = String(decoding: hostBytes, as: UTF8.self)
        }
        guard let kind else {
            let eventBytes = try text(p, .event)  // the scratch was reused by `host`
            let name = names.index(of: eventBytes, make: { String(decoding: $0, as: UTF8.self) })
                .map { names.values[$0] } ?? String(decoding: eventBytes, as: UTF8.self)
            return .otherEvent(name, time)
        }
        let userID = try integer(p, .userID, in: 1...Int64.max)
        let slotStart = try timestamp(p, .slotStart)
        let key = SlotKey(userID: userID, slotStart: slotStart)
        guard slotStart.isSlotAligned, !Self.hasDigitsPastMicroseconds(try text(p, .slotStart)) else {
            throw Rejection(reason: .misalignedSlotStart, key: key)
        }
        guard window.contains(slotStart) else { return .outOfWindow(kind, time) }

        let payload: UInt32
        do throws(Rejection) {
            switch kind {
            case .deleted:
                payload = 0
            case .processed:
                let statusBytes = try text(p, .status)
                let status: SlotStatus
                if Self.equals(statusBytes, "active") {
                    status = .active
                } else if Self.equals(statusBytes, "idle") {
                    status = .idle
                } else {
                    throw Rejection(reason: .outOfRange(key: Key.status.name))
                }
                let level = try integer(p, .activityLevel, in: 0...10)
                payload = EventBatch.Event.processedPayload(status: status, activityLevel: Int16(level))
            case .upload:
                payload = try upload(p)
            case .snapshotRow:
                preconditionFailure("logs hold no snapshot rows")
            }
        } catch {
            throw Rejection(reason: error.reason, key: key)
        }
        if batch.events.count == batch.events.capacity { Self.makeRoom(&batch.events, fileFraction, limit: eventLimit) }
        batch.events.append(EventBatch.Event(
            userID: userID, slotStart: slotStart.microseconds, time: time.microseconds, line: UInt32(line),
            payload: payload, host: batchHost(), tag: UInt32(kind.rawValue)))
        return .event(kind, key, time)
    }

    /// The slot of the window a line names, when its `user_id` and `slot_start` can be read: the
    /// key of the quarantine record of a slot event refused before them (a `ts` or `host` that
    /// cannot be read), so that the user's reports count it (it had none; found by a differential test).
    private func readableKey(_ p: UnsafePointer<UInt8>) -> SlotKey? {
        guard let user = try? integer(p, .userID, in: 1...Int64.max), let start = try? timestamp(p, .slotStart),
              window.contains(start) else { return nil }
        return SlotKey(userID: user, slotStart: start)
    }

    /// Before `array` (one of the batch's) grows: room for what the rest of the file should bring
    /// at the rate so far, and a quarter more (at most `limit`), instead of doubling, whose copies
    /// touch twice the fresh memory; the rule of a dump's batch (`DumpReader.reserve`). Never less
    /// than doubling: the fraction runs ahead of the lines (an LZ4 file's is counted in compressed
    /// bytes, decoded a chunk ahead), and many small steps would copy more than doubling does.
    /// Too early in the file to tell, nothing: it doubles.
    @inline(never)
    private static func makeRoom<Element>(_ array: inout [Element], _ fraction: Double, limit: Int) {
        let count = array.count
        guard count >= 4096, fraction > 0.02, fraction < 1 else { return }
        let expected = min(max(Int(Double(count) / fraction * 1.25), 2 * count), limit)
        guard expected > array.capacity else { return }
        array.reserveCapacity(expected)
    }

    /// The batch's id of the last line's host, added to the batch when new to it.
    private func batchHost() -> UInt32 {
        let h = lastHostIndex
        guard h >= 0 else { return batch.addHost(unlistedHost) }
        while hostIDs.count <= h { hostIDs.append(.max) }
        if hostIDs[h] == .max { hostIDs[h] = batch.addHost(hosts.values[h]) }
        return hostIDs[h]
    }

    /// An upload's fields, appended to the batch as a version (its texts to the batch's arena);
    /// returns the version's index. Checked in the order of the contract's table.
    private func upload(_ p: UnsafePointer<UInt8>) throws(Rejection) -> UInt32 {
        if batch.versions.count == batch.versions.capacity { Self.makeRoom(&batch.versions, fileFraction, limit: eventLimit) }
        // An upload's texts are short, one line's at most: room for 4 KiB means no copy below.
        if batch.text.capacity - batch.text.count < 4096 { Self.makeRoom(&batch.text, fileFraction, limit: .max) }
        let textStart = batch.text.count
        let requestIDCount = appendText(try text(p, .requestID))
        let projectID = try integer(p, .projectID, in: 1...Int64.max)
        let taskID = fields[Key.taskID.rawValue].isNullOrAbsent ? nil : try integer(p, .taskID, in: 1...Int64.max)
        let duration = fields[Key.durationMin.rawValue].type == nil ? 10 : try integer(p, .durationMin, in: 1...10)
        let keystrokes = try integer(p, .keystrokes, in: 0...Int64(Int32.max))
        let mouseEvents = try integer(p, .mouseEvents, in: 0...Int64(Int32.max))
        let apps = try appList(p)
        var version = EventBatch.Version(
            projectID: projectID, taskID: taskID, keystrokes: Int32(keystrokes), mouseEvents: Int32(mouseEvents), apps: apps,
            durationMinutes: Int16(duration), textStart: textStart)
        version.requestIDCount = requestIDCount
        // Checked as any text, kept nowhere: a recovered slot has no screenshot key (CONTRACT §5.6).
        if !fields[Key.screenshotKey.rawValue].isNullOrAbsent { _ = try text(p, .screenshotKey) }
        if !fields[Key.note.rawValue].isNullOrAbsent {
            version.noteCount = appendText(try text(p, .note))
            version.flags.insert(.note)
        }
        batch.versions.append(version)
        return UInt32(batch.versions.count - 1)
    }

    /// `EventBatch.appendText`, with the bytes typed: an array appends a typed buffer with one
    /// copy, raw bytes one byte at a time (100 instructions for a request id).
    @inline(__always)
    private func appendText(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        batch.text.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
        return UInt32(bytes.count)
    }

    /// `active_apps`: an array of strings, as the batch's id of a list shared with earlier lines
    /// that wrote the same array.
    private func appList(_ p: UnsafePointer<UInt8>) throws(Rejection) -> UInt32 {
        let f = fields[Key.activeApps.rawValue]
        guard let type = f.type else { throw Rejection(reason: .missingKey(Key.activeApps.name)) }
        guard type == .array else {
            throw Rejection(reason: .wrongType(key: Key.activeApps.name, expected: "an array of strings"))
        }
        let raw = UnsafeRawBufferPointer(start: p + f.start, count: f.end - f.start)
        let probe = appLists.find(raw)
        let index: Int
        if let found = probe.found {
            index = found
        } else {
            let apps = try buildAppList(p, f)
            guard let added = appLists.insert(raw, apps, at: probe) else { return batch.addAppList(apps) }
            index = added
        }
        while appIDs.count <= index { appIDs.append(.max) }
        if appIDs[index] == .max { appIDs[index] = batch.addAppList(appLists.values[index]) }
        lastAppIndex = index
        return appIDs[index]
    }

    private func buildAppList(_ p: UnsafePointer<UInt8>, _ f: Field) throws(Rejection) -> [String] {
        var apps: [String] = []
        var i = f.start + 1
        JSONScanner.skipSpace(p, f.end, &i)
        while p[i] != UInt8(ascii: "]") {
            guard p[i] == UInt8(ascii: "\"") else {
                throw Rejection(reason: .wrongType(key: Key.activeApps.name, expected: "an array of strings"))
            }
            i += 1
            let start = i
            // Pass 1 validated the array: the string ends at the next unescaped quote.
            let escaped = (try? JSONScanner.scanString(p, f.end, &i)) ?? false
            let end = i - 1
            if escaped {
                reserveScratch(end - start)
                let (count, nul) = JSONScanner.decode(p, start, end, into: scratch)
                if nul { throw Rejection(reason: .nulInText(key: Key.activeApps.name)) }
                apps.append(String(decoding: UnsafeRawBufferPointer(start: scratch, count: count), as: UTF8.self))
            } else {
                apps.append(String(decoding: UnsafeRawBufferPointer(start: p + start, count: end - start), as: UTF8.self))
            }
            JSONScanner.skipSpace(p, f.end, &i)
            if p[i] == UInt8(ascii: ",") {
                i += 1
                JSONScanner.skipSpace(p, f.end, &i)
            }
        }
        return apps
    }

    /// The text of a string-valued key, decoded; valid until the next call.
    private func text(_ p: UnsafePointer<UInt8>, _ key: Key) throws(Rejection) -> UnsafeRawBufferPointer {
        let f = fields[key.rawValue]
        guard let type = f.type else { throw Rejection(reason: .missingKey(key.name)) }
        guard type == .string else { throw Rejection(reason: .wrongType(key: key.name, expected: "a string")) }
        let start = f.start + 1, end = f.end - 1
        guard !f.plain else {
            return UnsafeRawBufferPointer(start: p + start, count: end - start)
        }
        reserveScratch(end - start)
        let (count, nul) = JSONScanner.decode(p, start, end, into: scratch)
        if nul { throw Rejection(reason: .nulInText(key: key.name)) }
        return UnsafeRawBufferPointer(start: scratch, count: count)
    }

    private func timestamp(_ p: UnsafePointer<UInt8>, _ key: Key) throws(Rejection) -> Timestamp {
        let bytes: UnsafeRawBufferPointer
        do throws(Rejection) {
            bytes = try text(p, key)
        } catch {
            if case .nulInText = error.reason { throw Rejection(reason: .invalidTime(key: key.name)) }
            throw error
        }
        guard let t = Timestamp.parse(bytes, dates: &dates) else { throw Rejection(reason: .invalidTime(key: key.name)) }
        return t
    }

    private func integer(_ p: UnsafePointer<UInt8>, _ key: Key, in range: ClosedRange<Int64>) throws(Rejection) -> Int64 {
        let f = fields[key.rawValue]
        guard let type = f.type else { throw Rejection(reason: .missingKey(key.name)) }
        // A fraction or an exponent is not an integer either.
        guard type == .number, f.plain else { throw Rejection(reason: .wrongType(key: key.name, expected: "an integer")) }
        // The scan read an integer of at most 18 bytes; a longer one may not fit.
        guard let v = f.end - f.start <= 18 ? f.value : JSONScanner.int64(p, f.start, f.end), range.contains(v) else {
            throw Rejection(reason: .outOfRange(key: key.name))
        }
        return v
    }

    /// The kind of a slot event's name, nil for another name: its first and last eight bytes
    /// compared as words with the three names' (11 to 14 bytes: the two words cover the name).
    private static func slotKind(_ name: UnsafeRawBufferPointer) -> SlotEvent.Kind? {
        let count = name.count
        guard count == 11 || count == 12 || count == 14 else { return nil }
        let first = UInt64(littleEndian: name.loadUnaligned(as: UInt64.self))
        let last = UInt64(littleEndian: name.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
        @inline(__always) func word(_ text: StaticString, _ offset: Int) -> UInt64 {
            UInt64(littleEndian: UnsafeRawPointer(text.utf8Start).loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        switch count {
        case 11: return first == word("slot.upload", 0) && last == word("slot.upload", 3) ? .upload : nil
        case 14: return first == word("slot.processed", 0) && last == word("slot.processed", 6) ? .processed : nil
        default: return first == word("slot.deleted", 0) && last == word("slot.deleted", 4) ? .deleted : nil
        }
    }

    /// A time's fraction with a digit other than 0 past the sixth (`.000000999`), which
    /// `Timestamp.parse` drops: no slot boundary has one. Most slot starts have no fraction.
    @inline(__always)
    static func hasDigitsPastMicroseconds(_ time: UnsafeRawBufferPointer) -> Bool {
        guard time.count > 26, time[19] == UInt8(ascii: ".") else { return false }
        var i = 26
        while i < time.count, time[i] &- UInt8(ascii: "0") < 10 {
            if time[i] != UInt8(ascii: "0") { return true }
            i += 1
        }
        return false
    }

    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        bytes.count == word.utf8CodeUnitCount && (bytes.count == 0 || memcmp(bytes.baseAddress!, word.utf8Start, bytes.count) == 0)
    }
}

/// Where a known key's value lies in the line, and its type; `type == nil` when absent.
struct Field {
    var start = 0
    var end = 0
    var type: JSONType? = nil
    /// A string without escapes, or a number written as an integer.
    var plain = false
    /// A number's integer part, as `JSONScanner.scanNumber(_:_:_:value:)` reads it.
    var value: Int64 = 0

    var isNullOrAbsent: Bool { type == nil || type == .null }
}

/// The known keys by their bytes, in a table of 32 entries: a key's first sixteen bytes (its bytes
/// and zeros after them) pick an entry, which holds the one known key that may have them. And
/// a second table, by a key's first two bytes, of the known keys with their closing quote: a
/// line's key is matched before its end is known.
final class KeyTable {
    /// Bytes read from a key's start: the caller checks that the line holds them.
    static let bytesRead = 16

    private struct Entry {
        var low: UInt64 = 0
        var high: UInt64 = 0
        var count = -1
        var slot = Key.count
    }

    private let entries: UnsafeMutablePointer<Entry>

    /// A known key and its closing quote: the bytes under the masks, zeros after them.
    private struct Quoted {
        var low: UInt64 = 1  // matches nothing: no bytes are kept
        var high: UInt64 = 0
        var lowMask: UInt64 = 0
        var highMask: UInt64 = 0
        var count = 0
        var slot = Key.count
    }

    /// Two per bucket: `active_apps` and `activity_level` start alike.
    private let quotedKeys: UnsafeMutablePointer<Quoted>

    init() {
        entries = .allocate(capacity: 32)
        entries.initialize(repeating: Entry(), count: 32)
        quotedKeys = .allocate(capacity: 64)
        quotedKeys.initialize(repeating: Quoted(), count: 64)
        for key in Key.allCases {
            var bytes = Array(key.name.utf8) + [UInt8(ascii: "\"")]
            let count = bytes.count
            let masks = [UInt8](repeating: 0xFF, count: count) + [UInt8](repeating: 0, count: 16 - count)
            bytes += [UInt8](repeating: 0, count: 16 - count)
            func word(_ b: [UInt8], _ offset: Int) -> UInt64 {
                UInt64(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) })
            }
            let low = word(bytes, 0)
            var k = 2 * Self.bucket(low)
            if quotedKeys[k].count > 0 { k += 1 }
            precondition(quotedKeys[k].count == 0, "KeyTable: three keys share a bucket")
            quotedKeys[k] = Quoted(low: low, high: word(bytes, 8), lowMask: word(masks, 0), highMask: word(masks, 8),
                                   count: count - 1, slot: key.rawValue)
        }
        for key in Key.allCases {
            var bytes = Array(key.name.utf8)
            let count = bytes.count
            bytes += [UInt8](repeating: 0, count: 16 - count)
            let low = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let high = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
            let e = Self.entry(UInt64(littleEndian: low), UInt64(littleEndian: high))
            precondition(entries[e].count < 0, "KeyTable: two keys share an entry")
            entries[e] = Entry(low: UInt64(littleEndian: low), high: UInt64(littleEndian: high), count: count, slot: key.rawValue)
        }
    }

    deinit {
        entries.deallocate()
        quotedKeys.deallocate()
    }

    /// The bucket of a key's first two bytes; the multiplier spreads the known keys' over all 32.
    @inline(__always)
    private static func bucket(_ low: UInt64) -> Int {
        Int(truncatingIfNeeded: ((low & 0xFFFF) &* 0x7B45_145C_1A81_682D) &>> 59)
    }

    /// The known key whose bytes and closing quote start at `p`, with its length; nil for
    /// anything else (an unknown key, an escape). Reads `bytesRead` bytes.
    @inline(__always)
    func quoted(_ p: UnsafePointer<UInt8>) -> (slot: Int, count: Int)? {
        let low = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
        let high = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let k = 2 * Self.bucket(low)
        var q = quotedKeys[k]
        if low & q.lowMask == q.low && high & q.highMask == q.high { return (q.slot, q.count) }
        q = quotedKeys[k + 1]
        if low & q.lowMask == q.low && high & q.highMask == q.high { return (q.slot, q.count) }
        return nil
    }

    /// The entry of a key's two words; the multiplier spreads the known keys over all 32.
    @inline(__always)
    private static func entry(_ low: UInt64, _ high: UInt64) -> Int {
        Int(truncatingIfNeeded: ((low ^ high) &* 0xAA2C_A1AF_6A10_7B75) &>> 59)
    }

    /// The `Key.rawValue` of the `count` bytes at `p`, or `Key.count` for an unknown key; reads
    /// `bytesRead` bytes.
    @inline(__always)
    func slot(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        guard count <= 14 else { return Key.count }  // the longest key
        var low = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
        var high = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        if count < 8 {
            low &= ~(UInt64.max &<< (UInt64(truncatingIfNeeded: count) &* 8))
            high = 0
        } else {
            high &= ~(UInt64.max &<< (UInt64(truncatingIfNeeded: count - 8) &* 8))
        }
        let e = entries[Self.entry(low, high)]
        return e.low == low && e.high == high && e.count == count ? e.slot : Key.count
    }
}

/// The keys of CONTRACT §3.
enum Key: Int, CaseIterable {
    case ts, host, event, requestID, userID, slotStart, projectID, taskID, durationMin, keystrokes,
         mouseEvents, activeApps, screenshotKey, note, status, activityLevel

    static let count = 16

    var name: String {
        switch self {
        case .ts: "ts"
        case .host: "host"
        case .event: "event"
        case .requestID: "request_id"
        case .userID: "user_id"
        case .slotStart: "slot_start"
        case .projectID: "project_id"
        case .taskID: "task_id"
        case .durationMin: "duration_min"
        case .keystrokes: "keystrokes"
        case .mouseEvents: "mouse_events"
        case .activeApps: "active_apps"
        case .screenshotKey: "screenshot_key"
        case .note: "note"
        case .status: "status"
        case .activityLevel: "activity_level"
        }
    }

    /// Matches a key's bytes; nil for a key the contract does not define.
    @inline(__always)
    init?(_ p: UnsafePointer<UInt8>, _ n: Int) {
        @inline(__always) func eq(_ w: StaticString) -> Bool { memcmp(p, w.utf8Start, n) == 0 }
        switch n {
        case 2: if eq("ts") { self = .ts; return }
        case 4:
            if eq("host") { self = .host; return }
            if eq("note") { self = .note; return }
        case 5: if eq("event") { self = .event; return }
        case 6: if eq("status") { self = .status; return }
        case 7:
            if eq("user_id") { self = .userID; return }
            if eq("task_id") { self = .taskID; return }
        case 10:
            if eq("slot_start") { self = .slotStart; return }
            if eq("request_id") { self = .requestID; return }
            if eq("project_id") { self = .projectID; return }
            if eq("keystrokes") { self = .keystrokes; return }
        case 11: if eq("active_apps") { self = .activeApps; return }
        case 12:
            if eq("duration_min") { self = .durationMin; return }
            if eq("mouse_events") { self = .mouseEvents; return }
        case 14:
            if eq("screenshot_key") { self = .screenshotKey; return }
            if eq("activity_level") { self = .activityLevel; return }
        default: break
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
