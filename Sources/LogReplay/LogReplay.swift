import Dispatch
import Foundation
import RecoveryModel
import SourceFiles

/// Reads server logs (CONTRACT §3) into slot events for a window, one file per thread.
///
/// Lines are read whatever their `ts`; an event is kept when its `slot_start` is inside the
/// window. Results are merged in sorted path order, so they never depend on scheduling or on the
/// order the files were given in. Bad lines become quarantine records; only a file that cannot be
/// opened or read at all throws.
public struct LogReplay: Sendable {
    public var window: Window
    /// Lines longer than this are quarantined (`line_too_long`) without being parsed.
    public var maxLineLength: Int
    /// Files read at once; 1 reads them one after the other on the calling thread.
    public var threads: Int
    /// Adds each file's SHA-256 to its report (the plan records it), hashed as it is read.
    public var computeDigests = false
    /// Keeps only the events (and slot quarantine records) of this shard's users, as they are
    /// read, so a shard's memory follows its share of the users. File and host figures still
    /// count every line.
    public var shard: Shard?
    /// When set, each file's events are handed over a chunk at a time as they are read (and the
    /// result's batches are empty), so that they need not all be in memory.
    public var chunks: EventChunks?

    public init(window: Window, maxLineLength: Int = 1 << 20, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.window = window
        self.maxLineLength = maxLineLength
        self.threads = max(1, threads)
    }

    /// `[from, to + 180 min)`: where a host's silence matters.
    public var coverageRange: Window {
        Window(from: window.from, to: CoveragePolicy.needed(for: window))
    }

    /// Reads `files` (as `InputDiscovery.files` finds them; repeats are read once).
    ///
    /// `progress(bytesDone, bytesTotal)` counts bytes of the files on disk (compressed bytes for
    /// LZ4 files); it is called from the reading threads, one call at a time, with `done` growing.
    ///
    /// `alongside`, when given, is other reading work (a snapshot) done by one of the reading
    /// threads before it takes files, while the others start on the files: on as many threads as
    /// cores, a task of its own thread would share a core three ways and finish last, alone. It
    /// is run once, also when there are no files.
    public func read(
        _ files: [String], progress: (@Sendable (_ done: Int64, _ total: Int64) -> Void)? = nil,
        alongside: (@Sendable () -> Void)? = nil
    ) throws(SourceError) -> LogReplayResult {
        let paths = Array(Set(files)).sorted()
        let sizes = paths.map { InputDiscovery.fileSize($0) ?? 0 }
        let meter = ProgressMeter(total: sizes.reduce(0, +), report: progress)
        // Largest files first, so that the threads finish close together; `alongside` (-1) before
        // them all.
        let schedule = (alongside == nil ? [] : [-1])
            + paths.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }
        let results = FileResults(count: paths.count)
        let run: @Sendable (Int) -> Void = { i in
            if i < 0 {
                alongside?()
            } else {
                results.set(i, Result { () throws(SourceError) in try readFile(paths[i], meter) })
            }
        }

        let workers = min(threads, schedule.count)
        if workers <= 1 {
            for i in schedule { run(i) }
        } else {
            let next = Counter()
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while let k = next.take(below: schedule.count) { run(schedule[k]) }
            }
        }

        var merged = LogReplayResult(window: window, coverageRange: coverageRange)
        var hosts: [String: HostCoverageBuilder] = [:]
        var files = results.take()
        // Each file's events stay in the file's batch: nothing is copied into one array.
        for i in files.indices {
            let file = try files[i].get()
            files[i] = .success(FileResult(report: file.report, batch: EventBatch(source: file.report.path)))
            merged.files.append(file.report)
            merged.batches.append(file.batch)
            merged.quarantine.append(contentsOf: file.quarantine)
            for host in file.hosts {
                hosts[host.host, default: HostCoverageBuilder(host: host.host, range: coverageRange)].merge(host)
            }
        }
        merged.hosts = hosts.keys.sorted().map { hosts[$0]!.coverage(gapMinutes: CoveragePolicy.gapMinutes) }
        return merged
    }

    /// One file, on the calling thread.
    func readFile(_ path: String, _ meter: ProgressMeter) throws(SourceError) -> FileResult {
        let reader = try LineReader(path: path, maxLineLength: maxLineLength, computeDigest: computeDigests)
        let parser = EventLineParser(file: path, window: window)
        if let chunks { parser.eventLimit = chunks.events }
        var result = FileResult(
            report: LogFileReport(path: path, compressed: reader.isCompressed, fileBytes: reader.fileSize), batch: EventBatch(source: path))
        var hosts: [HostCoverageBuilder] = []
        let range = coverageRange
        var reported: Int64 = 0
        var otherByName: [String: Int] = [:]

        let summary: LineReader.Summary
        do {
            summary = try reader.forEachLine { bytes, line in
                var bytes = bytes
                if line == 1, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                    result.report.byteOrderMark = true
                    bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
                }
                guard line <= EventBatch.maxLine else {
                    throw SourceError(.cannotRead, path: path, detail: "more than \(EventBatch.maxLine) lines: split the file")
                }
                let parsed = parser.read(bytes, line: line)
                let hostIndex = parser.lastHostIndex
                switch parsed {
                case .event(let kind, let key, let time):
                    result.report.events[kind] += 1
                    result.report.inWindow[kind] += 1
                    if let shard, !shard.contains(userID: key.userID) { parser.dropLastEvent() }
                    if let chunks, parser.batch.events.count >= chunks.events { chunks.take(parser.takeChunk()) }
                    Self.cover(&hosts, hostIndex, parser, time, range)
                case .outOfWindow(let kind, let time):
                    result.report.events[kind] += 1
                    Self.cover(&hosts, hostIndex, parser, time, range)
                case .otherEvent(let name, let time):
                    otherByName[name, default: 0] += 1
                    Self.cover(&hosts, hostIndex, parser, time, range)
                case .quarantined(let reason, let key):
                    result.report.quarantined[reason.code, default: 0] += 1
                    if let shard, let key, !shard.contains(userID: key.userID) { break }
                    result.quarantine.append(QuarantineRecord(location: SourceLocation(file: path, line: line), reason: reason, key: key))
                }
                if line & 0xFFF == 0 {
                    let done = reader.bytesConsumed
                    if reader.fileSize > 0 { parser.fileFraction = Double(done) / Double(reader.fileSize) }
                    if line & 0x3FFF == 0 {
                        meter.advance(by: done - reported)
                        reported = done
                    }
                }
            }
        } catch let error as SourceError {
            throw error
        } catch {
            throw SourceError(.cannotRead, path: path, detail: "\(error)")
        }
        meter.advance(by: reader.fileSize - reported)
        result.batch = parser.takeBatch()
        chunks?.offer(&result.batch, atEnd: true)

        for line in summary.overlongLines {
            let reason = QuarantineReason.lineTooLong(bytes: maxLineLength)
            result.report.quarantined[reason.code, default: 0] += 1
            result.quarantine.append(QuarantineRecord(location: SourceLocation(file: path, line: line), reason: reason))
        }
        result.quarantine.sort { $0.location.line < $1.location.line }
        result.report.lines = summary.lines
        result.report.bytes = summary.bytes
        result.report.damage = summary.damage
        result.report.sha256 = summary.sha256
        result.report.droppedPartialLine = summary.droppedPartialLine
        result.report.otherEvents = otherByName
        result.hosts = hosts.filter { $0.events > 0 }
        return result
    }

    @inline(__always)
    static func cover(_ hosts: inout [HostCoverageBuilder], _ index: Int, _ parser: EventLineParser, _ time: Timestamp, _ range: Window) {
        guard index >= 0 else { return }
        while hosts.count <= index {
            hosts.append(HostCoverageBuilder(host: parser.hostNames[hosts.count], range: range))
        }
        hosts[index].add(time)
    }

}

/// What reading the logs found.
public struct LogReplayResult: Sendable {
    public var window: Window
    /// `[window.from, window.to + 180 min)`, where host coverage is measured.
    public var coverageRange: Window
    /// One report per file, in path order.
    public var files: [LogFileReport] = []
    /// Slot events inside the window: one batch per file, in path order, each in line order.
    public var batches: [EventBatch] = []
    /// Quarantined lines, by path, then line.
    public var quarantine: [QuarantineRecord] = []
    /// One entry per host that logged a valid event, sorted by host.
    public var hosts: [HostCoverage] = []

    public init(window: Window, coverageRange: Window) {
        self.window = window
        self.coverageRange = coverageRange
    }

    /// Every event of `batches` as a value of its own, by path, then line.
    public var events: [SlotEvent] { batches.flatMap(\.slotEvents) }

    /// The files' counts added up.
    public var totals: LogFileReport {
        var t = LogFileReport(path: "", compressed: false, fileBytes: 0)
        for f in files {
            t.fileBytes += f.fileBytes
            t.bytes += f.bytes
            t.lines += f.lines
            for kind in [SlotEvent.Kind.upload, .processed, .deleted] {
                t.events[kind] += f.events[kind]
                t.inWindow[kind] += f.inWindow[kind]
            }
            t.otherEvents.merge(f.otherEvents, uniquingKeysWith: +)
            t.quarantined.merge(f.quarantined, uniquingKeysWith: +)
        }
        return t
    }
}

/// Counts of slot events by kind.
public struct EventCounts: Hashable, Sendable, Encodable {
    public var uploads = 0
    public var processed = 0
    public var deleted = 0

    public init() {}

    public var total: Int { uploads + processed + deleted }

    public subscript(kind: SlotEvent.Kind) -> Int {
        get {
            switch kind {
            case .upload: uploads
            case .processed: processed
            case .deleted: deleted
            case .snapshotRow: 0
            }
        }
        set {
            switch kind {
            case .upload: uploads = newValue
            case .processed: processed = newValue
            case .deleted: deleted = newValue
            case .snapshotRow: break
            }
        }
    }
}

/// What one log file held.
public struct LogFileReport: Hashable, Sendable {
    public var path: String
    public var compressed: Bool
    /// Size on disk.
    public var fileBytes: Int64
    /// Decompressed bytes read, newlines included.
    public var bytes: Int64 = 0
    public var lines = 0
    /// Valid slot events, inside the window or not.
    public var events = EventCounts()
    /// Valid slot events whose slot is inside the window.
    public var inWindow = EventCounts()
    /// Other events, by name.
    public var otherEvents: [String: Int] = [:]
    /// Quarantined lines by reason code, overlong lines (`line_too_long`) included.
    public var quarantined: [String: Int] = [:]
    /// A cut or corrupt LZ4 frame: the lines before it were read.
    public var damage: InputDamage?
    /// The incomplete line before the damage, which was not read.
    public var droppedPartialLine = false
    /// SHA-256 of the file on disk, when `LogReplay.computeDigests` is set.
    public var sha256: String?
    /// The file starts with a UTF-8 byte order mark (EF BB BF, an editor's): skipped and counted
    /// here, so its first line is read like any other.
    public var byteOrderMark = false

    public init(path: String, compressed: Bool, fileBytes: Int64) {
        self.path = path
        self.compressed = compressed
        self.fileBytes = fileBytes
    }

    public var quarantinedLines: Int { quarantined.values.reduce(0, +) }
    public var otherEventCount: Int { otherEvents.values.reduce(0, +) }
}

/// One file's share of the result, before the merge.
struct FileResult: Sendable {
    var report: LogFileReport
    var batch: EventBatch
    var quarantine: [QuarantineRecord] = []
    var hosts: [HostCoverageBuilder] = []
}

/// Bytes read by all threads, reported to the caller's closure.
final class ProgressMeter: @unchecked Sendable {
    // Sendable: `done` is only touched under `lock`; `total` and `report` never change.
    private let lock = NSLock()
    private var done: Int64 = 0
    let total: Int64
    let report: (@Sendable (Int64, Int64) -> Void)?

    init(total: Int64, report: (@Sendable (Int64, Int64) -> Void)?) {
        self.total = total
        self.report = report
    }

    func advance(by bytes: Int64) {
        guard let report else { return }
        // Reported under the lock, so that the caller sees `done` only grow.
        lock.lock()
        defer { lock.unlock() }
        done += bytes
        report(done, total)
    }
}

/// Hands out indices 0, 1, 2, ... to the threads.
final class Counter: @unchecked Sendable {
    // Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

/// One result per file, written by whichever thread read it.
final class FileResults: @unchecked Sendable {
    // Sendable: `results` is only touched under `lock`, each index written once.
    private let lock = NSLock()
    private var results: [Result<FileResult, SourceError>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ result: Result<FileResult, SourceError>) {
        lock.lock()
        results[i] = result
        lock.unlock()
    }

    /// The results in file order, moved out.
    func take() -> [Result<FileResult, SourceError>] {
        lock.lock()
        defer { lock.unlock() }
        let all = results.map { $0! }
        results = []
        return all
    }
}
