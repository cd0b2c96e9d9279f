import CLZ4
import Glibc

/// Decompresses a stream of concatenated LZ4 frames (`LZ4F_decompress`), as the `lz4` tool or a
/// logger writing one frame per flush leaves them. Owns its `LZ4F_dctx` and its input buffer.
///
/// A file that ends inside a frame is reported as `InputDamage.truncated`; a frame that fails to
/// decode as `.corrupt`. Either way, every byte decoded before is delivered. A file cut exactly at
/// a frame boundary is a valid, shorter stream: nothing can tell it apart.
///
/// Each call hands `LZ4F_decompress` whole blocks (up to `inputStep` bytes of them, or one larger
/// block) and room for all they can hold, so that it decodes straight from the input buffer into
/// the caller's memory: given part of a block, it copies the block into a buffer of its own, and
/// given less room than a block, it decodes into another and copies out. The block boundaries
/// come from `FrameUnits`; where it cannot follow the bytes, the calls take `inputStep` bytes as
/// they come. A corrupt frame is reported at the start of the failing call's input, or for a block
/// larger than the step, `inputStep` bytes before the end of that input (it is checked once whole).
///
/// The checksums of a frame whose blocks it follows from its header on (each block's, before the
/// block is decoded, and the content's, before the frame's last blocks are delivered) it checks
/// itself (`XXH32`), with LZ4F's own turned off (`skipChecksums`): liblz4's took 7–8% of a plan's
/// CPU. The header's checksum LZ4F always checks. A frame met while the blocks are not followed
/// is checked by LZ4F, as before.
final class LZ4FrameDecoder {
    private let file: FileDescriptorSource
    private var context: OpaquePointer?
    private let input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    private var endOfFile = false
    /// `LZ4F_decompress`'s hint from the last call: non-zero while a frame is unfinished.
    private var pendingHint = 0
    private(set) var damage: InputDamage?
    private var finished = false
    /// The frame format at `inputStart`, while the bytes follow it.
    private var units: FrameUnits? = FrameUnits()
    /// The frame being decoded, when its checksums are checked here (LZ4F's are off for it).
    private var check: FrameCheck?

    /// Bytes read from the file at once.
    static let readSize = 1 << 20
    /// Room for a read and for the largest unit a call takes whole: a 4 MiB block, its header and checksum.
    static let inputBufferSize = (4 << 20) + (64 << 10)
    static let inputStep = 64 << 10

    init(file: FileDescriptorSource) throws(SourceError) {
        self.file = file
        var context: OpaquePointer?
        let code = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(code) == 0, let context else {
            throw SourceError(.lz4, path: file.path, detail: "cannot create a decompression context")
        }
        self.context = context
        self.input = .allocate(byteCount: Self.inputBufferSize, alignment: 16)
    }

    deinit {
        LZ4F_freeDecompressionContext(context)
        input.deallocate()
    }

    /// Compressed bytes consumed so far.
    var compressedOffset: Int64 { file.offset - Int64(inputEnd - inputStart) }

    /// Fills `output` with decompressed bytes, or stops early when the room left is less than the
    /// next blocks can hold; returns how many. 0 means the stream has ended (check `damage`).
    /// Keep `output` at least 4 MiB (the largest block) so LZ4F decodes straight into it.
    func read(into output: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        guard !finished else { return 0 }
        var produced = 0
        // Set on a call that left the frame's history in `output` (`stableDst`): LZ4F keeps it
        // itself before `output` can change, once this read returns.
        var historyInOutput = false
        defer { if historyInOutput && !finished { keepHistory(output) } }
        while produced < output.count {
            var outSize = output.count - produced
            let startsFrame = units?.atFrameStart == true
            let plan = try units.flatMap { units throws(SourceError) in try self.plan(units, room: outSize) }
            if let plan, produced > 0, plan.room > outSize { break }
            if let plan, let bad = plan.badBlockChecksum {
                damage = .corrupt(offset: failureOffset(given: bad), detail: "ERROR_blockChecksum_invalid")
                finished = true
                return produced
            }
            if let plan, startsFrame {
                check = FrameCheck(content: plan.after.contentChecksum ? XXH32() : nil)
            }
            var inSize: Int
            if let plan {
                inSize = plan.bytes
            } else {
                if inputStart == inputEnd && !endOfFile {
                    inputStart = 0
                    inputEnd = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: input[..<Self.readSize]))
                    if inputEnd == 0 { endOfFile = true }
                }
                // Bounded input per call, so a corrupt frame is located to within `inputStep` bytes.
                inSize = min(inputEnd - inputStart, Self.inputStep)
            }
            let given = inSize
            var options = LZ4F_decompressOptions_t()
            options.stableDst = plan != nil ? 1 : 0
            options.skipChecksums = check != nil ? 1 : 0
            let hint = LZ4F_decompress(
                context, output.baseAddress! + produced, &outSize,
                input.baseAddress! + inputStart, &inSize, &options)
            let failedAt = failureOffset(given: given)
            if LZ4F_isError(hint) != 0 {
                damage = .corrupt(offset: failedAt, detail: String(cString: LZ4F_getErrorName(hint)))
                finished = true
                return produced
            }
            if check != nil {
                check!.content?.update(UnsafeRawBufferPointer(start: output.baseAddress! + produced, count: outSize))
                if let plan, inSize == plan.bytes {
                    if plan.after.atFrameStart {
                        // The frame's end: its last four bytes are the content's checksum, if it has one.
                        if let content = check!.content, content.digest()
                            != UInt32(littleEndian: UnsafeRawPointer(input.baseAddress! + inputStart + inSize - 4).loadUnaligned(as: UInt32.self)) {
                            damage = .corrupt(offset: failedAt, detail: "ERROR_contentChecksum_invalid")
                            finished = true
                            return produced
                        }
                        check = nil
                    }
                } else if plan != nil || hint == 0 {
                    // LZ4F left the blocks followed here (it took part of them), or ended the frame
                    // once they were no longer followed (the file ended inside a block, which is a
                    // cut, not an end): the checksums only this decoder checks could not be.
                    damage = .corrupt(offset: failedAt, detail: "the frame's blocks could not be followed to check its checksums")
                    finished = true
                    return produced
                }
            }
            if let plan {
                historyInOutput = true
                // Anything but the whole plan taken: the bytes are no longer followed.
                units = inSize == plan.bytes ? plan.after : nil
            }
            inputStart += inSize
            produced += outSize
            // A call that moved nothing (at end of file) only announces the next frame's header.
            if inSize > 0 || outSize > 0 { pendingHint = hint }
            if endOfFile && inputStart == inputEnd && outSize == 0 {
                // Nothing left to read and nothing more held inside the context.
                if pendingHint != 0 { damage = .truncated(offset: file.offset) }
                finished = true
                return produced
            }
        }
        return produced
    }

    /// Where damage in the `given` bytes from `inputStart` is reported: at their start, or for a
    /// block larger than the step (checked once whole), `inputStep` bytes before their end.
    private func failureOffset(given: Int) -> Int64 {
        compressedOffset + Int64(max(0, given - Self.inputStep))
    }

    /// The next call's input: whole units from `inputStart`, reading more of the file when the
    /// first is not all there. Nil when the bytes do not follow the frame format, or the file
    /// ends inside the first unit (the calls then take the bytes as they come).
    private func plan(_ start: FrameUnits, room: Int) throws(SourceError) -> Plan? {
        var plan = Plan(bytes: 0, room: 0, after: start, badBlockChecksum: nil)
        while true {
            var next = plan.after
            let at = input.baseAddress! + inputStart + plan.bytes
            let available = inputEnd - inputStart - plan.bytes
            switch next.take(at, available: available) {
            case .unit(let size, let isBlock, let endsFrame):
                // A frame's end (at most 8 bytes) joins the blocks before it, in any case: the
                // last blocks are delivered only once the frame's checksum holds.
                guard plan.bytes == 0 || (endsFrame && size <= available) || (plan.bytes + size <= Self.inputStep
                    && size <= available && plan.room + (isBlock ? next.blockSize : 0) <= room) else { return plan }
                if size > available {
                    try fill(size)
                    guard inputEnd - inputStart >= size else {
                        units = nil
                        return nil
                    }
                }
                if isBlock && next.blockChecksum {
                    // The block's stored bytes, then their checksum; checked before it is decoded.
                    let block = UnsafeRawPointer(input.baseAddress! + inputStart + plan.bytes)
                    let stored = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: size - 4, as: UInt32.self))
                    if XXH32.of(UnsafeRawBufferPointer(start: block + 4, count: size - 8)) != stored {
                        // Those before it are decoded first; alone, it is the damage.
                        guard plan.bytes == 0 else { return plan }
                        plan.badBlockChecksum = size
                        return plan
                    }
                }
                plan.bytes += size
                if isBlock { plan.room += next.blockSize }
                plan.after = next
                if endsFrame { return plan }
            case .needs(let count):
                guard plan.bytes == 0 else { return plan }
                try fill(count)
                guard inputEnd - inputStart >= count else {
                    units = nil
                    return nil
                }
            case .unknown:
                guard plan.bytes == 0 else { return plan }
                units = nil
                return nil
            }
        }
    }

    private struct Plan {
        var bytes: Int
        /// The room the blocks among them can take when decoded.
        var room: Int
        /// The format after them.
        var after: FrameUnits
        /// Set, to the block's size with its header and checksum, when the first unit is a block
        /// whose checksum does not hold (`bytes` is then 0).
        var badBlockChecksum: Int?
    }

    /// What is checked of a frame as it is decoded.
    private struct FrameCheck {
        /// The content's checksum so far, when the frame has one.
        var content: XXH32?
    }

    /// Reads until `count` bytes are ahead of the decoder or the file ends; what is left of the
    /// last read (part of a unit) moves to the buffer's start first.
    private func fill(_ count: Int) throws(SourceError) {
        precondition(count <= input.count, "a unit larger than the input buffer")
        while inputEnd - inputStart < count && !endOfFile {
            if inputStart > 0 {
                let left = inputEnd - inputStart
                if left > 0 { memmove(input.baseAddress!, input.baseAddress! + inputStart, left) }
                inputStart = 0
                inputEnd = left
            }
            let end = max(Self.readSize, count)
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: input[inputEnd..<end]))
            if n == 0 { endOfFile = true }
            inputEnd += n
        }
    }

    /// A call without input or room and without `stableDst`: LZ4F copies the frame's history
    /// (its last 64 KiB, which a linked block refers to) out of `output` into its own memory.
    private func keepHistory(_ output: UnsafeMutableRawBufferPointer) {
        var outSize = 0, inSize = 0
        var options = LZ4F_decompressOptions_t()
        options.stableDst = 0
        _ = LZ4F_decompress(context, output.baseAddress!, &outSize, input.baseAddress! + inputStart, &inSize, &options)
    }
}

/// The units of the LZ4 frame format (a frame's header; a block with its header and checksum; a
/// frame's end mark and checksum), read from the compressed bytes ahead of the decoder to cut its
/// input at their boundaries, and to check the checksums of the frames it follows.
struct FrameUnits {
    private var inFrame = false
    /// The flags of the frame last entered.
    private(set) var blockChecksum = false
    private(set) var contentChecksum = false
    /// The largest block of the frame, decoded.
    private(set) var blockSize = 4 << 20

    /// Before a frame's header: between frames, or at the start.
    var atFrameStart: Bool { !inFrame }

    enum Unit {
        case unit(size: Int, isBlock: Bool, endsFrame: Bool)
        /// `count` bytes are needed to tell.
        case needs(Int)
        /// Not the frame format (a skippable frame counts as such).
        case unknown
    }

    /// The unit at `at`, of which `available` bytes are there; moves past it.
    mutating func take(_ at: UnsafeRawPointer, available: Int) -> Unit {
        if !inFrame {
            guard available >= 7 else { return .needs(7) }
            guard at.loadUnaligned(as: UInt32.self).littleEndian == 0x184D_2204 else { return .unknown }
            let flags = at.load(fromByteOffset: 4, as: UInt8.self)
            let sizeID = Int(at.load(fromByteOffset: 5, as: UInt8.self) >> 4 & 7)
            guard flags >> 6 == 1, sizeID >= 4 else { return .unknown }
            inFrame = true
            blockChecksum = flags & 0x10 != 0
            contentChecksum = flags & 0x04 != 0
            blockSize = 1 << (8 + 2 * sizeID)
            return .unit(size: 7 + (flags & 0x08 != 0 ? 8 : 0) + (flags & 0x01 != 0 ? 4 : 0), isBlock: false, endsFrame: false)
        }
        guard available >= 4 else { return .needs(4) }
        let word = at.loadUnaligned(as: UInt32.self).littleEndian
        if word == 0 {
            inFrame = false
            return .unit(size: 4 + (contentChecksum ? 4 : 0), isBlock: false, endsFrame: true)
        }
        let size = Int(word & 0x7FFF_FFFF)
        guard size <= blockSize else { return .unknown }
        return .unit(size: 4 + size + (blockChecksum ? 4 : 0), isBlock: true, endsFrame: false)
    }
}
