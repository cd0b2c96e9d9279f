/// One part of a recovery split across processes: the users whose id hashes to `index` of
/// `count` (`--shard K/N`, K from 0 to N-1, as a Kubernetes Indexed Job numbers its pods).
/// Every user falls in exactly one shard, so N shards together cover the window once.
public struct Shard: Hashable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// The most shards a recovery is split into: the shard's lock key holds 16 bits of N and of K
    /// (`RecoverySchema.shardLockKey`), so that shards of one N never share a key.
    public static let maximumCount = 65_535

    public init?(index: Int, count: Int) {
        guard count >= 1, count <= Self.maximumCount, index >= 0, index < count else { return nil }
        self.index = index
        self.count = count
    }

    /// `3/8` → shard 3 of 8; nil when it is not `K/N` with `0 <= K < N`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: k, count: n)
    }

    /// The shard of `count` that holds `userID`.
    public init?(of userID: Int64, count: Int) {
        guard count >= 1 else { return nil }
        self.init(index: Int(Self.mix(UInt64(bitPattern: userID)) % UInt64(count)), count: count)
    }

    public func contains(userID: Int64) -> Bool {
        Shard(of: userID, count: count)?.index == index
    }

    /// SplitMix64's finaliser: a fixed, well-spread hash, so consecutive ids land in different
    /// shards and the assignment never changes between versions of the tool.
    static func mix(_ x: UInt64) -> UInt64 {
        SplitMix64.finalize(x &+ SplitMix64.increment)
    }

    public var description: String { "\(index)/\(count)" }
}

extension Shard: Codable {
    enum CodingKeys: String, CodingKey { case index, count }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let index = try c.decode(Int.self, forKey: .index), count = try c.decode(Int.self, forKey: .count)
        guard let shard = Shard(index: index, count: count) else {
            throw DecodingError.dataCorruptedError(forKey: .index, in: c, debugDescription: "shard \(index)/\(count) is not 0 <= K < N")
        }
        self = shard
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(count, forKey: .count)
    }
}

/// SplitMix64: the shard hash's function, and a small seeded generator (the tests' random
/// samples are the same on every run, so a failing case can be replayed).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.finalize(state)
    }

    @inline(__always)
    static func finalize(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
