/// XXH32 with seed 0, streaming: the checksum of the LZ4 frame format (a frame's content, and
/// each block's compressed bytes when the frame asks for it), which `LZ4FrameDecoder` checks
/// itself. Debian's liblz4 is built for the x86-64 baseline, whose SSE2 has no 32-bit vector
/// multiply: its XXH32 spends eight shifts and adds on each multiply, and took half of liblz4's
/// time in a plan. Four scalar multiplies a round here.
///
/// Checked against the reference values in the tests, and against liblz4 by every LZ4 file
/// the tests read.
struct XXH32 {
    private static let prime1: UInt32 = 0x9E37_79B1
    private static let prime2: UInt32 = 0x85EB_CA77
    private static let prime3: UInt32 = 0xC2B2_AE3D
    private static let prime4: UInt32 = 0x27D4_EB2F
    private static let prime5: UInt32 = 0x1656_67B1

    private var v1 = prime1 &+ prime2
    private var v2 = prime2
    private var v3: UInt32 = 0
    private var v4 = 0 &- prime1
    /// Bytes hashed so far, modulo 2^32 as the format takes them.
    private var total: UInt32 = 0
    private var large = false
    /// Up to 15 bytes held until a 16-byte stripe is whole.
    private var held: (UInt64, UInt64) = (0, 0)
    private var heldCount = 0

    @inline(__always)
    private static func round(_ acc: UInt32, _ lane: UInt32) -> UInt32 {
        (acc &+ lane &* prime2).rotated(13) &* prime1
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var left = bytes.count
        total &+= UInt32(truncatingIfNeeded: left)
        if heldCount + left < 16 {
            withUnsafeMutableBytes(of: &held) { ($0.baseAddress! + heldCount).copyMemory(from: p, byteCount: left) }
            heldCount += left
            return
        }
        large = true
        if heldCount > 0 {
            let fill = 16 - heldCount
            withUnsafeMutableBytes(of: &held) { ($0.baseAddress! + heldCount).copyMemory(from: p, byteCount: fill) }
            withUnsafeBytes(of: held) { stripes(UnsafeRawPointer($0.baseAddress!), 16) }
            p += fill
            left -= fill
            heldCount = 0
        }
        let whole = left & ~15
        stripes(UnsafeRawPointer(p), whole)
        heldCount = left - whole
        if heldCount > 0 {
            withUnsafeMutableBytes(of: &held) { $0.baseAddress!.copyMemory(from: p + whole, byteCount: heldCount) }
        }
    }

    /// The four lanes over `count` bytes, a multiple of 16.
    @inline(__always)
    private mutating func stripes(_ p: UnsafeRawPointer, _ count: Int) {
        var a = v1, b = v2, c = v3, d = v4
        var i = 0
        while i < count {
            a = Self.round(a, UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            b = Self.round(b, UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)))
            c = Self.round(c, UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 8, as: UInt32.self)))
            d = Self.round(d, UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 12, as: UInt32.self)))
            i += 16
        }
        v1 = a
        v2 = b
        v3 = c
        v4 = d
    }

    /// The checksum of every byte given so far.
    func digest() -> UInt32 {
        var h = large ? v1.rotated(1) &+ v2.rotated(7) &+ v3.rotated(12) &+ v4.rotated(18) : Self.prime5
        h &+= total
        withUnsafeBytes(of: held) { rest in
            var i = 0
            while i + 4 <= heldCount {
                h = (h &+ UInt32(littleEndian: rest.loadUnaligned(fromByteOffset: i, as: UInt32.self)) &* Self.prime3).rotated(17) &* Self.prime4
                i += 4
            }
            while i < heldCount {
                h = (h &+ UInt32(rest[i]) &* Self.prime5).rotated(11) &* Self.prime1
                i += 1
            }
        }
        h ^= h >> 15
        h &*= Self.prime2
        h ^= h >> 13
        h &*= Self.prime3
        h ^= h >> 16
        return h
    }

    static func of(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hash = XXH32()
        hash.update(bytes)
        return hash.digest()
    }
}

extension UInt32 {
    @inline(__always)
    fileprivate func rotated(_ n: UInt32) -> UInt32 { self << n | self >> (32 - n) }
}
