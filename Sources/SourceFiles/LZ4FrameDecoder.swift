import CLZ4

/// Decompresses a stream of concatenated LZ4 frames (`LZ4F_decompress`), as the `lz4` tool or a
/// logger writing one frame per flush leaves them. Owns its `LZ4F_dctx` and its input buffer.
///
/// A file that ends inside a frame is reported as `InputDamage.truncated`; a frame that fails to
/// decode as `.corrupt`. Either way, every byte decoded before is delivered. A file cut exactly at
/// a frame boundary is a valid, shorter stream: nothing can tell it apart.
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

    static let inputBufferSize = 1 << 20
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

    /// Fills `output` with decompressed bytes; returns how many. 0 means the stream has ended
    /// (check `damage`). Keep `output` at least 4 MiB so LZ4F decodes straight into it.
    func read(into output: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        guard !finished else { return 0 }
        var produced = 0
        while produced < output.count {
            if inputStart == inputEnd && !endOfFile {
                inputStart = 0
                inputEnd = try file.read(into: input)
                if inputEnd == 0 { endOfFile = true }
            }
            var outSize = output.count - produced
            // Bounded input per call, so a corrupt frame is located to within `inputStep` bytes.
            var inSize = min(inputEnd - inputStart, Self.inputStep)
            let hint = LZ4F_decompress(
                context, output.baseAddress! + produced, &outSize,
                input.baseAddress! + inputStart, &inSize, nil)
            if LZ4F_isError(hint) != 0 {
                let detail = String(cString: LZ4F_getErrorName(hint))
                damage = .corrupt(offset: compressedOffset, detail: detail)
                finished = true
                return produced
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
}
