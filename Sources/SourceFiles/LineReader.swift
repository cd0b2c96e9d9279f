import Glibc
import RecoveryModel

/// Reads a plain or LZ4-framed file line by line, in a fixed buffer: memory does not grow with
/// the file. A name ending in `.lz4` is read as LZ4 frames; anything else as plain text.
///
/// Lines are handed to a closure as raw bytes without their `\n`, with their 1-based number; the
/// bytes are valid only during the call. Not shared across threads: one reader per file.
public final class LineReader {
    public let path: String
    public let isCompressed: Bool
    /// Size of the file on disk, for progress.
    public var fileSize: Int64 { file.size }
    /// Bytes of the file consumed so far (compressed bytes for an LZ4 file), for progress.
    public var bytesConsumed: Int64 { decoder?.compressedOffset ?? file.offset }

    private let file: FileDescriptorSource
    private let decoder: LZ4FrameDecoder?
    private let maxLineLength: Int

    /// Decompressed bytes asked for per read: LZ4's largest block, so LZ4F decodes in place.
    static let chunkSize = 4 << 20

    /// `computeDigest` adds the file's SHA-256 to the summary (the plan records it), at the cost
    /// of hashing the file's bytes as they are read.
    public init(path: String, maxLineLength: Int = 1 << 20, computeDigest: Bool = false) throws(SourceError) {
        self.path = path
        self.maxLineLength = maxLineLength
        self.file = try FileDescriptorSource(path: path)
        if computeDigest { file.digest = SHA256() }
        self.isCompressed = path.hasSuffix(".lz4")
        if !isCompressed, let format = Self.compressedFormat(file.first4Bytes()) {
            throw SourceError(
                .cannotRead, path: path,
                detail: "it holds \(format.name) data under a plain name, which would be read as lines of junk: \(format.remedy)")
        }
        self.decoder = isCompressed ? try LZ4FrameDecoder(file: file) : nil
    }

    /// The compressed format whose magic number starts a file, if any: such data under a plain
    /// name was read as a few lines of junk, quarantined, and the file's events lost without a
    /// word about the file (found by a hostile test).
    static func compressedFormat(_ head: [UInt8]) -> (name: String, remedy: String)? {
        switch head {
        case [0x04, 0x22, 0x4D, 0x18]: ("LZ4", "give it its .lz4 name (the tool reads LZ4 frames by the name)")
        case _ where head.starts(with: [0x1F, 0x8B]): ("gzip", "decompress it first (gunzip), or recompress it with lz4")
        case [0x28, 0xB5, 0x2F, 0xFD]: ("zstd", "decompress it first (zstd -d), or recompress it with lz4")
        case _ where head.starts(with: [0x42, 0x5A, 0x68]): ("bzip2", "decompress it first (bunzip2), or recompress it with lz4")
        case [0xFD, 0x37, 0x7A, 0x58]: ("xz", "decompress it first (unxz), or recompress it with lz4")
        default: nil
        }
    }

    /// What a pass over the file found besides its lines.
    public struct Summary: Hashable, Sendable {
        public var lines = 0
        /// Decompressed bytes, newlines included.
        public var bytes: Int64 = 0
        public var damage: InputDamage?
        /// The incomplete line before a cut or corrupt frame, which was not delivered.
        public var droppedPartialLine = false
        /// Lines longer than the limit: counted and numbered, not delivered.
        public var overlongLines: [Int] = []
        /// SHA-256 of the file on disk (compressed bytes for an LZ4 file), when asked for.
        public var sha256: String?
    }

    /// Calls `body(bytes, lineNumber)` for every complete line. A last line without a newline is
    /// delivered when the file is whole and dropped (`droppedPartialLine`) after damage.
    public func forEachLine(
        _ body: (UnsafeRawBufferPointer, Int) throws -> Void
    ) throws -> Summary {
        var summary = Summary()
        let capacity = Self.chunkSize + maxLineLength + 1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        let base = buffer.baseAddress!
        var filled = 0
        var skipping = false   // inside a line longer than the limit

        while true {
            let n = try read(into: UnsafeMutableRawBufferPointer(start: base + filled, count: capacity - filled))
            if n == 0 { break }
            summary.bytes += Int64(n)
            var lineStart = 0
            var scan = filled
            let end = filled + n
            while scan < end, let hit = memchr(base + scan, 0x0A, end - scan) {
                let newline = hit.assumingMemoryBound(to: UInt8.self) - base.assumingMemoryBound(to: UInt8.self)
                summary.lines += 1
                if skipping {
                    skipping = false
                } else if newline - lineStart > maxLineLength {
                    summary.overlongLines.append(summary.lines)
                } else {
                    try body(UnsafeRawBufferPointer(start: base + lineStart, count: newline - lineStart), summary.lines)
                }
                lineStart = newline + 1
                scan = lineStart
            }
            let remainder = end - lineStart
            if skipping || remainder > maxLineLength {
                if !skipping { summary.overlongLines.append(summary.lines + 1) }
                skipping = true
                filled = 0
            } else {
                if lineStart > 0 && remainder > 0 { memmove(base, base + lineStart, remainder) }
                filled = remainder
            }
        }
        summary.damage = decoder?.damage
        summary.sha256 = try file.finishDigest()
        if skipping {
            summary.lines += 1
        } else if filled > 0 {
            if summary.damage == nil {
                summary.lines += 1
                try body(UnsafeRawBufferPointer(start: base, count: filled), summary.lines)
            } else {
                summary.droppedPartialLine = true
            }
        }
        return summary
    }

    private func read(into region: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        let want = UnsafeMutableRawBufferPointer(rebasing: region[..<min(region.count, Self.chunkSize)])
        if let decoder { return try decoder.read(into: want) }
        return try file.read(into: want)
    }
}
