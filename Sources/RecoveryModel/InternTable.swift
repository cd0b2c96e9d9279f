/// Maps byte strings that repeat across lines (host names, app lists, event names; a dump's
/// `active_apps` fields) to one shared value and a small index, so that a repeat costs a hash and
/// a compare instead of a new `String`.
///
/// Open addressing over a power-of-two table; keys are kept in one byte arena. It stops growing
/// at `limit` entries or `byteLimit` bytes of keys (then `index` returns nil and the caller builds
/// its own value), so a file of a million distinct names, or of long lists each different, cannot
/// make it grow without bound.
public struct InternTable<Value> {
    @usableFromInline var slots: [Int32]
    @usableFromInline var hashes: [UInt64] = []
    @usableFromInline var keyStarts: [Int] = []
    @usableFromInline var keyCounts: [Int] = []
    @usableFromInline var arena: [UInt8] = []
    public private(set) var values: [Value] = []
    public let limit: Int
    public let byteLimit: Int

    /// The bytes of keys a table keeps by default: 4 MiB, beside the values made from them.
    public static var defaultByteLimit: Int { 1 << 22 }

    public init(limit: Int, byteLimit: Int = defaultByteLimit) {
        self.limit = limit
        self.byteLimit = byteLimit
        self.slots = Array(repeating: -1, count: 64)
    }

    public var count: Int { values.count }

    /// Where `key` is, or where it would go: `found` is its index when present.
    public struct Probe {
        public var found: Int?
        @usableFromInline var slot: Int
        @usableFromInline var hash: UInt64

        @inlinable init(found: Int?, slot: Int, hash: UInt64) {
            self.found = found
            self.slot = slot
            self.hash = hash
        }
    }

    @inlinable @inline(__always)
    public func find(_ key: UnsafeRawBufferPointer) -> Probe {
        let hash = Self.hash(key)
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let e = Int(slots[s])
            if e < 0 { return Probe(found: nil, slot: s, hash: hash) }
            if hashes[e] == hash, keyCounts[e] == key.count, equal(e, key) { return Probe(found: e, slot: s, hash: hash) }
            s = (s + 1) & mask
        }
    }

    /// Adds `value` for a key that `find` did not find; nil when the table is full (in entries or
    /// in bytes).
    public mutating func insert(_ key: UnsafeRawBufferPointer, _ value: Value, at probe: Probe) -> Int? {
        guard values.count < limit, arena.count + key.count <= byteLimit else { return nil }
        let e = values.count
        slots[probe.slot] = Int32(e)
        hashes.append(probe.hash)
        keyStarts.append(arena.count)
        keyCounts.append(key.count)
        arena.append(contentsOf: key)
        values.append(value)
        if values.count * 2 > slots.count { grow() }
        return e
    }

    /// The index of `key`, adding `make(key)` when it is new; nil when the table is full.
    @inlinable @inline(__always)
    public mutating func index(of key: UnsafeRawBufferPointer, make: (UnsafeRawBufferPointer) -> Value) -> Int? {
        let probe = find(key)
        if let found = probe.found { return found }
        return insert(key, make(key), at: probe)
    }

    @inlinable
    func equal(_ e: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard let base = key.baseAddress, key.count > 0 else { return key.count == 0 }
        return arena.withUnsafeBytes { arenaBytes in
            // An arena that holds only empty keys may have no buffer at all.
            guard let arenaBase = arenaBytes.baseAddress else { return false }
            return memcmp(arenaBase + keyStarts[e], base, key.count) == 0
        }
    }

    private mutating func grow() {
        slots = Array(repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (e, hash) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: hash) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(e)
        }
    }

    /// FNV-1a, 64 bits: keys are short.
    @inlinable @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key {
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3
        }
        return h
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
