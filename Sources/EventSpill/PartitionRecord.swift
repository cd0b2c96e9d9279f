import RecoveryModel

/// One chunk's events of one user range, as the bytes of a spill record: a batch of its own, so
/// that the fold reads it as it reads a reader's batch.
///
/// Layout (native byte order and layout: a spill file is read back by the process that wrote it):
/// a header of six 8-byte counts (source number, events, versions, text bytes, hosts, app lists),
/// the events and the versions as they lie in memory, the text arena, then each host name and
/// each app list (a count, then its strings), every string as an 8-byte length and its UTF-8.
enum PartitionRecord {
    /// `batch`'s events split by range of users (`bounds` as `EventSpill.bounds` makes them), each
    /// range's part with only the versions, texts, hosts and app lists its events use. Events keep
    /// their order.
    static func split(_ batch: EventBatch, bounds: [Int64]) -> [EventBatch] {
        var parts = (0...bounds.count).map { _ in EventBatch(source: batch.source) }
        var hostIDs = [[UInt32]](repeating: [], count: parts.count)
        var appIDs = [[UInt32]](repeating: [], count: parts.count)
        batch.events.withUnsafeBufferPointer { events in
            for var event in events {
                let p = range(of: event.userID, bounds)
                if hostIDs[p].isEmpty { hostIDs[p] = Array(repeating: .max, count: batch.hosts.count) }
                let host = Int(event.host)
                if hostIDs[p][host] == .max { hostIDs[p][host] = parts[p].addHost(batch.hosts[host]) }
                event.host = hostIDs[p][host]
                if event.kind == .snapshotRow || event.kind == .upload {
                    var version = batch.versions[Int(event.payload)]
                    let length = version.textCount
                    let start = version.textStart
                    version.textStart = parts[p].text.count
                    parts[p].text.append(contentsOf: batch.text[start..<(start + length)])
                    if appIDs[p].isEmpty { appIDs[p] = Array(repeating: .max, count: batch.appLists.count) }
                    let apps = Int(version.apps)
                    if appIDs[p][apps] == .max { appIDs[p][apps] = parts[p].addAppList(batch.appLists[apps]) }
                    version.apps = appIDs[p][apps]
                    parts[p].versions.append(version)
                    event.payload = UInt32(parts[p].versions.count - 1)
                }
                parts[p].events.append(event)
            }
        }
        return parts
    }

    /// The range of `user`: the number of bounds at or below it.
    @inline(__always)
    static func range(of user: Int64, _ bounds: [Int64]) -> Int {
        var low = 0, high = bounds.count
        while low < high {
            let mid = (low + high) / 2
            if bounds[mid] <= user { low = mid + 1 } else { high = mid }
        }
        return low
    }

    static func encode(_ batch: EventBatch, source: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + batch.events.count * MemoryLayout<EventBatch.Event>.stride
            + batch.versions.count * MemoryLayout<EventBatch.Version>.stride + batch.text.count + 64 * (batch.hosts.count + batch.appLists.count))
        for count in [Int(source), batch.events.count, batch.versions.count, batch.text.count, batch.hosts.count, batch.appLists.count] {
            append(count, to: &out)
        }
        batch.events.withUnsafeBytes { out.append(contentsOf: $0) }
        batch.versions.withUnsafeBytes { out.append(contentsOf: $0) }
        out.append(contentsOf: batch.text)
        for host in batch.hosts { append(host, to: &out) }
        for list in batch.appLists {
            append(list.count, to: &out)
            for app in list { append(app, to: &out) }
        }
        return out
    }

    private static func append(_ count: Int, to out: inout [UInt8]) {
        withUnsafeBytes(of: UInt64(count)) { out.append(contentsOf: $0) }
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { utf8 in
            append(utf8.count, to: &out)
            out.append(contentsOf: utf8)
        }
    }

    /// The batch `encode` wrote; `sources` are the source names by number.
    static func decode(_ bytes: UnsafeRawBufferPointer, sources: [String], path: String) throws(SpillError) -> EventBatch {
        var reader = RecordReader(bytes: bytes, path: path)
        let source = try reader.count()
        guard source < sources.count else { throw SpillError(.cannotRead, path: path, detail: "a record names source \(source) of \(sources.count)") }
        var batch = EventBatch(source: sources[source])
        let events = try reader.count(), versions = try reader.count(), text = try reader.count()
        let hosts = try reader.count(), appLists = try reader.count()
        batch.events = try reader.values(EventBatch.Event.self, events)
        batch.versions = try reader.values(EventBatch.Version.self, versions)
        batch.text = try reader.values(UInt8.self, text)
        batch.hosts.reserveCapacity(hosts)
        for _ in 0..<hosts { batch.hosts.append(try reader.string()) }
        batch.appLists.reserveCapacity(appLists)
        for _ in 0..<appLists {
            let n = try reader.count()
            var list: [String] = []
            list.reserveCapacity(n)
            for _ in 0..<n { list.append(try reader.string()) }
            batch.appLists.append(list)
        }
        try reader.end()
        return batch
    }

}

/// Reads a spill record's fields in order; a record that ends early or runs on is a `SpillError`.
struct RecordReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    mutating func take(_ n: Int) throws(SpillError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - offset else { throw SpillError(.cannotRead, path: path, detail: "a record ends early") }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    mutating func int64() throws(SpillError) -> Int64 { try take(8).loadUnaligned(as: Int64.self) }

    /// A count or an index: not negative.
    mutating func count() throws(SpillError) -> Int {
        let value = try int64()
        guard value >= 0 else { throw SpillError(.cannotRead, path: path, detail: "a record's count is out of range") }
        return Int(value)
    }

    mutating func byte() throws(SpillError) -> UInt8 { try take(1)[0] }

    mutating func values<T>(_ type: T.Type, _ n: Int) throws(SpillError) -> [T] {
        let (size, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow else { throw SpillError(.cannotRead, path: path, detail: "a record's count is out of range") }
        let raw = try take(size)
        return Array(unsafeUninitializedCapacity: n) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
            initialized = n
        }
    }

    mutating func string() throws(SpillError) -> String {
        String(decoding: try take(try count()), as: UTF8.self)
    }

    /// Checks that the record has nothing left.
    func end() throws(SpillError) {
        guard offset == bytes.count else { throw SpillError(.cannotRead, path: path, detail: "a record runs on past its contents") }
    }
}
