/// Memory a piece of a large plan file (the rows file, `recovered.csv`) is made in, reused from
/// piece to piece: a piece buffer that is used again is already mapped and in cache, where fresh
/// memory costs a page fault per 4 KiB. Written through a `PieceWriter`. Owns its memory; frees it
/// in `deinit`. Not Sendable: one thread at a time makes, writes or reuses a piece.
public final class PieceMemory {
    @usableFromInline private(set) var base: UnsafeMutablePointer<UInt8>
    @usableFromInline private(set) var capacity: Int
    /// The bytes made, from the start.
    public var count = 0

    public init(capacity: Int) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Calls `body` with the bytes made.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Room for `more` bytes after `count`: larger memory (the bytes moved to it) when needed.
    @usableFromInline
    func makeRoom(_ more: Int) {
        guard count + more > capacity else { return }
        let grown = max(count + more, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        moved.initialize(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = grown
    }
}

/// Appends bytes to a `PieceMemory` without a check per byte: `reserve(n)` makes room for the
/// next `n` bytes, and the `put`s after it must stay within that room (a word store counts 8
/// bytes, whatever it advances by; debug builds check it). `finish()` hands the count back.
public struct PieceWriter {
    @usableFromInline let memory: PieceMemory
    /// The memory's start, end and place: kept here, so that writing reads no property of the class.
    @usableFromInline var start: UnsafeMutablePointer<UInt8>
    @usableFromInline var at: UnsafeMutablePointer<UInt8>
    @usableFromInline var end: UnsafeMutablePointer<UInt8>

    /// Writes after the bytes `memory` holds.
    public init(_ memory: PieceMemory) {
        self.memory = memory
        start = memory.base
        at = memory.base + memory.count
        end = memory.base + memory.capacity
    }

    /// Sets the memory's count to what was written; the writer can go on after it.
    @inlinable
    public func finish() { memory.count = at - start }

    /// The number of bytes in the memory, those written included.
    @inlinable
    public var count: Int { at - start }

    @inlinable
    public mutating func reserve(_ n: Int) {
        if end - at < n { grow(n) }
    }

    @usableFromInline @inline(never)
    mutating func grow(_ n: Int) {
        finish()
        memory.makeRoom(n)
        start = memory.base
        at = memory.base + memory.count
        end = memory.base + memory.capacity
    }

    @inlinable
    public mutating func put(_ byte: UInt8) {
        assert(at < end, "PieceWriter: no room reserved")
        at.pointee = byte
        at += 1
    }

    /// The first `count` bytes of `word` (its low byte first); stores all 8.
    @inlinable
    public mutating func put(word: UInt64, count: Int) {
        assert(end - at >= 8, "PieceWriter: no room reserved")
        UnsafeMutableRawPointer(at).storeBytes(of: word.littleEndian, as: UInt64.self)
        at += count
    }

    @inlinable
    public mutating func put(_ bytes: UnsafeRawPointer, count: Int) {
        assert(end - at >= count, "PieceWriter: no room reserved")
        UnsafeMutableRawPointer(at).copyMemory(from: bytes, byteCount: count)
        at += count
    }

    /// `count` bytes of `bytes`, copied 16 at a time: `bytes` must be readable, and the writer
    /// have room, up to `count` rounded up to 16.
    @inlinable
    public mutating func putPadded(_ bytes: UnsafeRawPointer, count: Int) {
        assert(end - at >= (count + 15) & ~15, "PieceWriter: no room reserved")
        var i = 0
        let to = UnsafeMutableRawPointer(at)
        while i < count {
            to.storeBytes(of: bytes.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self), toByteOffset: i, as: SIMD16<UInt8>.self)
            i += 16
        }
        at += count
    }

    /// Lets `body` write at most `room` bytes at the writer's place; `body` returns how many it wrote.
    @inlinable
    public mutating func write(room: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(room)
        let n = body(at)
        assert(n <= room, "PieceWriter: more written than reserved")
        at += n
    }

    /// The bytes `other` wrote at `range` (of its `count`s), written again; reserves their room.
    @inlinable
    public mutating func putCopy(of other: PieceWriter, _ range: Range<Int>) {
        reserve(range.count)
        put(other.start + range.lowerBound, count: range.count)
    }

    /// The decimal digits of `value`; takes at most 24 bytes of room.
    @inlinable
    public mutating func put(_ value: DecimalText) {
        if value.count > 0 {
            put(word: value.word, count: value.count)
        } else {
            putLong(value.value)
        }
    }

    @usableFromInline
    mutating func putLong(_ value: Int64) {
        DecimalText.withText(of: value) { put($0.baseAddress!, count: $0.count) }
    }
}

/// The decimal text of an integer, as `String(value)` writes it; made once, written to either
/// plan file. A value from 0 to 99,999,999 is held as its digits in a word.
public struct DecimalText {
    /// The digits, the first in the low byte, when `count` > 0.
    @usableFromInline var word: UInt64
    /// The number of digits in `word`; 0 for a value outside 0..<100,000,000, written from `value`.
    @usableFromInline var count: Int
    @usableFromInline var value: Int64

    @inlinable
    public init(_ value: Int64) {
        self.value = value
        guard value >= 0 && value < 100_000_000 else {
            word = 0
            count = 0
            return
        }
        // Eight digits at once, in the lanes of a word: two of 4 digits, four of 2, eight of 1,
        // the first digit in the low byte; then the leading zeros shifted out.
        let x = UInt64(value)
        let fours = x / 10_000 | (x % 10_000) << 32
        let hundreds = (fours &* 10_486) >> 20 & 0x0000_007F_0000_007F  // x / 100 in each lane, x < 10,000
        let twos = (fours &- 100 &* hundreds) << 16 | hundreds
        let tens = (twos &* 103) >> 10 & 0x000F_000F_000F_000F  // x / 10 in each lane, x < 100
        let digits = tens | (twos &- 10 &* tens) << 8
        let zeros = value == 0 ? 7 : digits.trailingZeroBitCount / 8
        word = (digits | 0x3030_3030_3030_3030) >> (8 * UInt64(zeros))
        count = 8 - zeros
    }

    @inlinable
    public init<I: BinaryInteger>(_ value: I) { self.init(Int64(value)) }

    /// Calls `body` with the decimal text of any `value` (a sign and up to 19 digits), made a
    /// digit at a time: the writers' one way to write an integer beyond eight digits.
    @inlinable
    public static func withText(of value: Int64, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes hold a sign and the 20 digits of a UInt64
        withUnsafeMutableBytes(of: &digits) { d in
            var at = d.count
            repeat {
                at -= 1
                d[at] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                at -= 1
                d[at] = 0x2D
            }
            body(UnsafeBufferPointer(start: d.baseAddress!.assumingMemoryBound(to: UInt8.self) + at, count: d.count - at))
        }
    }
}

/// Text kept for a `PieceWriter` to copy with `putPadded`: `count` bytes followed by 16 more that
/// can be read.
public struct PaddedText {
    public var start: UnsafePointer<UInt8>
    public var count: Int

    @inlinable
    public init(start: UnsafePointer<UInt8>, count: Int) {
        self.start = start
        self.count = count
    }
}
