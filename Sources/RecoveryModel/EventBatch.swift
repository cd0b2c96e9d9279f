/// The fold events of one source (a log file, a snapshot dump or database) as plain values: the
/// form the read stage keeps them in and the fold reads.
///
/// An event is 40 bytes with no reference in it: its key and time as integers, its line, and ids
/// of its host and of its version. A version (an upload's or a snapshot row's fields) is 64 bytes,
/// its texts side by side in one byte arena (no screenshot key: a recovered slot carries none,
/// CONTRACT §5.6, so the readers check the field and keep nothing of it), its app list an id
/// into lists shared by the events that repeat it. A batch of a million events is a handful of arrays: nothing to allocate, retain
/// or free per event. `SlotEvent` is the same event as a value of its own, for a single line and
/// for tests; `event(at:)` and `append(_:)` convert.
public struct EventBatch: Sendable {
    /// Where the events were read: a file's path as given, or a snapshot database's redacted
    /// connection string. Every event's location is in it.
    public let source: String
    public var events: [Event] = []
    public var versions: [Version] = []
    /// Host names, by `Event.host`.
    public var hosts: [String] = []
    /// `active_apps` lists, by `Version.apps`.
    public var appLists: [[String]] = []
    /// The versions' texts: request id, screenshot key and note, one after the other.
    public var text: [UInt8] = []

    public init(source: String) {
        self.source = source
    }

    /// One event (40 bytes).
    public struct Event: Hashable, Sendable {
        public var userID: Int64
        /// `slot_start`, microseconds since 1970.
        public var slotStart: Int64
        /// `ts` of a log event, `updated_at` of a snapshot row, microseconds since 1970.
        public var time: Int64
        public var line: UInt32
        /// A snapshot row or an upload: the index of its version. A processed event: its status
        /// (`SlotStatus` index) in the high half, its activity level in the low half.
        public var payload: UInt32
        public var host: UInt32
        /// The kind (`SlotEvent.Kind`) in the low 2 bits; the bits above are free for the fold
        /// (which keeps its batch number there).
        public var tag: UInt32

        @inlinable
        public init(userID: Int64, slotStart: Int64, time: Int64, line: UInt32, payload: UInt32, host: UInt32, tag: UInt32) {
            self.userID = userID
            self.slotStart = slotStart
            self.time = time
            self.line = line
            self.payload = payload
            self.host = host
            self.tag = tag
        }

        @inlinable
        public var kind: SlotEvent.Kind { SlotEvent.Kind(rawValue: UInt8(tag & 3))! }

        @inlinable
        public var key: SlotKey { SlotKey(userID: userID, slotStart: Timestamp(microseconds: slotStart)) }

        /// A processed event's status and level.
        @inlinable
        public var processed: (status: SlotStatus, activityLevel: Int16) {
            (SlotStatus.allCases[Int(payload >> 16)], Int16(bitPattern: UInt16(truncatingIfNeeded: payload)))
        }

        @inlinable
        public static func processedPayload(status: SlotStatus, activityLevel: Int16) -> UInt32 {
            UInt32(SlotStatus.allCases.firstIndex(of: status)!) << 16 | UInt32(UInt16(bitPattern: activityLevel))
        }
    }

    /// The fields of an upload or a snapshot row (64 bytes). Texts are `text[textStart...]`:
    /// the request id, then the note.
    public struct Version: Hashable, Sendable {
        public var projectID: Int64
        public var taskID: Int64
        public var keystrokes: Int32
        public var mouseEvents: Int32
        public var apps: UInt32
        public var durationMinutes: Int16
        /// A snapshot row's status, as a `SlotStatus` index.
        public var status: UInt8
        public var flags: Flags
        public var activityLevel: Int16
        public var textStart: Int
        public var requestIDCount: UInt32
        public var noteCount: UInt32
        /// A snapshot row's `updated_at`, microseconds since 1970.
        public var updatedAt: Int64

        public struct Flags: OptionSet, Hashable, Sendable {
            public let rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }
            public static let task = Flags(rawValue: 1)
            public static let activityLevel = Flags(rawValue: 2)
            public static let note = Flags(rawValue: 8)
            public static let updatedAt = Flags(rawValue: 16)
        }

        @inlinable
        public init(
            projectID: Int64, taskID: Int64?, keystrokes: Int32, mouseEvents: Int32, apps: UInt32, durationMinutes: Int16,
            textStart: Int
        ) {
            self.projectID = projectID
            self.taskID = taskID ?? 0
            self.keystrokes = keystrokes
            self.mouseEvents = mouseEvents
            self.apps = apps
            self.durationMinutes = durationMinutes
            self.status = 0
            self.flags = taskID == nil ? [] : .task
            self.activityLevel = 0
            self.textStart = textStart
            self.requestIDCount = 0
            self.noteCount = 0
            self.updatedAt = 0
        }

        /// The bytes of the version's texts in its batch's arena, from `textStart`.
        @inlinable
        public var textCount: Int { Int(requestIDCount) + Int(noteCount) }
        /// Where the note starts in the batch's arena.
        @inlinable
        public var noteStart: Int { textStart + Int(requestIDCount) }
        @inlinable
        var requestIDRange: Range<Int> { textStart..<(textStart + Int(requestIDCount)) }
        @inlinable
        var noteRange: Range<Int> { noteStart..<(noteStart + Int(noteCount)) }
    }

    // MARK: Building

    /// Adds a host name; returns its id.
    @inlinable
    public mutating func addHost(_ name: String) -> UInt32 {
        hosts.append(name)
        return UInt32(hosts.count - 1)
    }

    /// Adds an app list; returns its id.
    @inlinable
    public mutating func addAppList(_ apps: [String]) -> UInt32 {
        appLists.append(apps)
        return UInt32(appLists.count - 1)
    }

    /// Appends text bytes to the arena; returns their count. The caller sets the version's counts.
    @inlinable
    public mutating func appendText(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        text.append(contentsOf: bytes)
        return UInt32(bytes.count)
    }

    /// Where the batch stands, to go back to with `truncate(to:)` when an event is not kept after all.
    public struct Mark: Sendable {
        var events: Int
        var versions: Int
        var text: Int
        /// App lists from this id on were added after the mark.
        public var appLists: Int
    }

    public var mark: Mark {
        Mark(events: events.count, versions: versions.count, text: text.count, appLists: appLists.count)
    }

    /// Drops the events, versions, texts and app lists added since `mark` (host names stay: a
    /// few per file). An id of a dropped app list must not be used again.
    public mutating func truncate(to mark: Mark) {
        events.removeSubrange(mark.events...)
        versions.removeSubrange(mark.versions...)
        text.removeSubrange(mark.text...)
        appLists.removeSubrange(mark.appLists...)
    }

    /// Appends a snapshot row as a fold event at its `updated_at` (at its `slot_start` without one).
    public mutating func appendSnapshotRow(_ slot: TimeSlot, line: Int) {
        appendSnapshotRow(slot, time: slot.updatedAt ?? slot.key.slotStart, line: line, host: hostID(""))
    }

    private mutating func appendSnapshotRow(_ slot: TimeSlot, time: Timestamp, line: Int, host: UInt32) {
        var version = Version(
            projectID: slot.projectID, taskID: slot.taskID, keystrokes: slot.keystrokes, mouseEvents: slot.mouseEvents,
            apps: appListID(slot.activeApps), durationMinutes: slot.durationMinutes, textStart: text.count)
        version.status = UInt8(SlotStatus.allCases.firstIndex(of: slot.status)!)
        if let level = slot.activityLevel {
            version.flags.insert(.activityLevel)
            version.activityLevel = level
        }
        appendTexts(requestID: nil, note: slot.note, into: &version)
        if let updatedAt = slot.updatedAt {
            version.flags.insert(.updatedAt)
            version.updatedAt = updatedAt.microseconds
        }
        versions.append(version)
        events.append(Event(
            userID: slot.key.userID, slotStart: slot.key.slotStart.microseconds, time: time.microseconds,
            line: Self.line(line), payload: UInt32(versions.count - 1), host: host, tag: UInt32(SlotEvent.Kind.snapshotRow.rawValue)))
    }

    /// Appends `event`, whose location must be in `source`.
    public mutating func append(_ event: SlotEvent) {
        precondition(event.location.file == source, "an event of '\(event.location.file)' in the batch of '\(source)'")
        let host = hostID(event.host)
        switch event.payload {
        case .snapshotRow(let slot):
            appendSnapshotRow(slot, time: event.time, line: event.location.line, host: host)
            return
        case .upload(let upload):
            var version = Version(
                projectID: upload.projectID, taskID: upload.taskID, keystrokes: upload.keystrokes, mouseEvents: upload.mouseEvents,
                apps: appListID(upload.activeApps), durationMinutes: upload.durationMinutes, textStart: text.count)
            appendTexts(requestID: upload.requestID, note: upload.note, into: &version)
            versions.append(version)
            appendEvent(event, payload: UInt32(versions.count - 1), host: host)
        case .processed(let status, let level):
            appendEvent(event, payload: Event.processedPayload(status: status, activityLevel: level), host: host)
        case .deleted:
            appendEvent(event, payload: 0, host: host)
        }
    }

    private mutating func appendEvent(_ event: SlotEvent, payload: UInt32, host: UInt32) {
        events.append(Event(
            userID: event.key.userID, slotStart: event.key.slotStart.microseconds, time: event.time.microseconds,
            line: Self.line(event.location.line), payload: payload, host: host, tag: UInt32(event.kind.rawValue)))
    }

    private mutating func appendTexts(requestID: String?, note: String?, into version: inout Version) {
        if let requestID { version.requestIDCount = UInt32(requestID.utf8.count); text.append(contentsOf: requestID.utf8) }
        if let note {
            version.flags.insert(.note)
            version.noteCount = UInt32(note.utf8.count)
            text.append(contentsOf: note.utf8)
        }
    }

    /// The id of host `name`, added when new (a linear search from the end: converting events one
    /// by one is for tests and single lines; readers keep their own table).
    private mutating func hostID(_ name: String) -> UInt32 {
        if let last = hosts.indices.last, hosts[last] == name { return UInt32(last) }
        if let i = hosts.firstIndex(of: name) { return UInt32(i) }
        return addHost(name)
    }

    private mutating func appListID(_ apps: [String]) -> UInt32 {
        if let last = appLists.indices.last, appLists[last] == apps { return UInt32(last) }
        return addAppList(apps)
    }

    /// The last line number an event holds; the readers refuse a source with more lines
    /// (`LogReplay`, `DumpReader`, `DatabaseSnapshot`) before it reaches a batch.
    public static let maxLine = Int(UInt32.max)

    /// A line number as kept in an event (at most `maxLine`).
    @inlinable
    public static func line(_ line: Int) -> UInt32 {
        precondition(line >= 0 && line <= maxLine, "line \(line) is beyond what an event holds")
        return UInt32(line)
    }

    // MARK: Reading

    /// The texts of a version, as strings.
    public func requestID(_ version: Version) -> String { string(version.requestIDRange) }

    public func note(_ version: Version) -> String? { version.flags.contains(.note) ? string(version.noteRange) : nil }

    private func string(_ range: Range<Int>) -> String {
        text.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    /// Whether two versions (of this batch and `other`) have the same request id, compared as bytes.
    public func sameRequestID(_ version: Version, _ other: Version, in batch: EventBatch) -> Bool {
        guard version.requestIDCount == other.requestIDCount else { return false }
        return text.withUnsafeBytes { a in
            batch.text.withUnsafeBytes { b in
                UnsafeRawBufferPointer(rebasing: a[version.requestIDRange]).elementsEqual(
                    UnsafeRawBufferPointer(rebasing: b[other.requestIDRange]))
            }
        }
    }

    /// The version a snapshot row or an upload makes, for the slot `event` names: pending with
    /// no activity level for an upload, and no screenshot key (a batch keeps none).
    @inline(__always)
    public func slot(_ event: Event) -> TimeSlot {
        let version = versions[Int(event.payload)]
        let snapshot = event.kind == .snapshotRow
        return TimeSlot(
            key: event.key, projectID: version.projectID, taskID: version.flags.contains(.task) ? version.taskID : nil,
            durationMinutes: version.durationMinutes,
            status: snapshot ? SlotStatus.allCases[Int(version.status)] : .pending,
            activityLevel: version.flags.contains(.activityLevel) ? version.activityLevel : nil,
            keystrokes: version.keystrokes, mouseEvents: version.mouseEvents, activeApps: appLists[Int(version.apps)],
            screenshotKey: nil, note: note(version),
            updatedAt: version.flags.contains(.updatedAt) ? Timestamp(microseconds: version.updatedAt) : nil)
    }

    /// Event `i` as a value of its own.
    public func event(at i: Int) -> SlotEvent {
        let e = events[i]
        let payload: SlotEvent.Payload
        switch e.kind {
        case .snapshotRow: payload = .snapshotRow(slot(e))
        case .upload:
            let version = versions[Int(e.payload)]
            let slot = slot(e)
            payload = .upload(SlotUpload(
                requestID: requestID(version), projectID: slot.projectID, taskID: slot.taskID,
                durationMinutes: slot.durationMinutes, keystrokes: slot.keystrokes, mouseEvents: slot.mouseEvents,
                activeApps: slot.activeApps, screenshotKey: slot.screenshotKey, note: slot.note))
        case .processed:
            let (status, level) = e.processed
            payload = .processed(status: status, activityLevel: level)
        case .deleted: payload = .deleted
        }
        return SlotEvent(
            key: e.key, time: Timestamp(microseconds: e.time), host: hosts[Int(e.host)],
            location: SourceLocation(file: source, line: Int(e.line)), payload: payload)
    }

    /// Every event as a value of its own, in order.
    public var slotEvents: [SlotEvent] { events.indices.map(event(at:)) }

    /// `events` as batches, one per file in the order files first appear.
    public static func batches(_ events: [SlotEvent]) -> [EventBatch] {
        var batches: [EventBatch] = []
        var index: [String: Int] = [:]
        for event in events {
            let file = event.location.file
            let b = index[file] ?? {
                batches.append(EventBatch(source: file))
                index[file] = batches.count - 1
                return batches.count - 1
            }()
            batches[b].append(event)
        }
        return batches
    }
}
