import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new file of a plan directory, written with `write(2)` and hashed as it is written: its
/// SHA-256 and size are what `plan.json` records. Owns the descriptor; closes it in `deinit`.
///
/// With `direct`, on Linux, the bytes go to the file with `O_DIRECT` in aligned blocks, copied
/// into an aligned block first: not into the page cache. A plan writes hundreds of megabytes that
/// nothing reads back soon, and the page cache takes a fresh page for each 4 KiB of them, which
/// costs several times the copy on a virtual machine that returns free pages to its host. The
/// last partial block is written without `O_DIRECT`; a file system that refuses `O_DIRECT` gets
/// the same bytes without it. Not Sendable: one thread writes at a time.
public final class PlanFileOutput {
    public let path: String
    private let descriptor: Int32
    private let hash = SHA256()
    private var bytes: Int64 = 0
    /// The aligned block being filled, while the file is written with `O_DIRECT`.
    private var block: UnsafeMutableRawPointer?
    private var blockCount = 0
    /// `write(2)`; a test puts a failing one in its place.
    var writeCall: (Int32, UnsafeRawPointer, Int) -> Int = systemWrite

    /// Bytes a direct write takes at once; a multiple of `directAlignment`.
    static let blockBytes = 1 << 20
    /// The alignment of a direct write's memory, offset and length: the page size, a multiple of
    /// every block device's logical block size.
    static let directAlignment = 4096

    /// Creates (or empties) the file at `path`, with mode 0666 less the umask.
    public init(path: String, direct: Bool = false) throws(PlanError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw PlanError(.cannotWrite, path: path, detail: "cannot create the file: " + FileFailure.reason(errno: errno)) }
        self.path = path
        descriptor = fd
        if direct, Self.setDirect(fd, true) {
            block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockBytes, alignment: Self.directAlignment)
        }
    }

    deinit {
        block?.deallocate()
        close(descriptor)
    }

    /// Hashes `chunk` and writes it (or keeps it in the block, to be written when the block is full).
    public func write(_ chunk: UnsafeRawBufferPointer) throws(PlanError) {
        guard let source = chunk.baseAddress, chunk.count > 0 else { return }
        hash.update(chunk)
        bytes += Int64(chunk.count)
        var done = 0
        while done < chunk.count {
            // Without a block (not direct, or `writeBlock` gave direct writes up in the middle of
            // this chunk), the rest goes through the page cache.
            guard let block else { return try writeAll(source + done, chunk.count - done) }
            let n = min(Self.blockBytes - blockCount, chunk.count - done)
            (block + blockCount).copyMemory(from: source + done, byteCount: n)
            blockCount += n
            done += n
            if blockCount == Self.blockBytes { try writeBlock(upTo: blockCount) }
        }
    }

    /// Writes what the block holds; returns the file's SHA-256 and size. Call once, last.
    public func finish() throws(PlanError) -> Written {
        if block != nil {
            try writeBlock(upTo: blockCount - blockCount % Self.directAlignment)
            if let block, blockCount > 0 {
                // The last partial block, through the page cache.
                _ = Self.setDirect(descriptor, false)
                try writeAll(block, blockCount)
                blockCount = 0
            }
        }
        return Written(sha256: hash.finalize(), bytes: bytes)
    }

    /// What a file's entry in `plan.json` records of it.
    public struct Written: Sendable {
        public var sha256: String
        public var bytes: Int64
    }

    /// Writes the first `aligned` bytes of the block with `O_DIRECT` and moves the rest to its
    /// start. A file system that refuses them (`EINVAL`) is written without `O_DIRECT` from then on.
    private func writeBlock(upTo aligned: Int) throws(PlanError) {
        guard let block, aligned > 0 else { return }
        var done = 0
        while done < aligned {
            let n = writeCall(descriptor, block + done, aligned - done)
            if n > 0 {
                done += n
                continue
            }
            let code = n < 0 ? errno : ENOSPC
            if code == EINTR { continue }
            guard code == EINVAL, Self.setDirect(descriptor, false) else {
                throw PlanError(.cannotWrite, path: path, detail: FileFailure.reason(errno: code))
            }
            // Refused, or a short write left the rest unaligned: the rest through the page cache.
            try writeAll(block + done, blockCount - done)
            self.block = nil
            blockCount = 0
            block.deallocate()
            return
        }
        blockCount -= aligned
        if blockCount > 0 { block.copyMemory(from: block + aligned, byteCount: blockCount) }
    }

    /// `write(2)` until all `count` bytes are written; `write` returning 0 is a full disk.
    private func writeAll(_ source: UnsafeRawPointer, _ count: Int) throws(PlanError) {
        var done = 0
        while done < count {
            let n = writeCall(descriptor, source + done, count - done)
            if n > 0 {
                done += n
            } else if n < 0, errno == EINTR {
                continue
            } else {
                throw PlanError(.cannotWrite, path: path, detail: FileFailure.reason(errno: n < 0 ? errno : ENOSPC))
            }
        }
    }

    /// Sets or clears `O_DIRECT` on `fd` (`fcntl` `F_SETFL`); false where there is none.
    private static func setDirect(_ fd: Int32, _ on: Bool) -> Bool {
        #if os(Linux) && arch(x86_64)
        let direct: Int32 = 0o40000  // O_DIRECT of the kernel's x86 fcntl.h (Glibc does not export it)
        #elseif os(Linux) && arch(arm64)
        let direct: Int32 = 0o200000  // O_DIRECT of the kernel's arm64 fcntl.h
        #else
        let direct: Int32 = 0
        #endif
        guard direct != 0 else { return false }
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return false }
        return fcntl(fd, F_SETFL, on ? flags | direct : flags & ~direct) == 0
    }
}

/// `write(2)`: the methods above are named `write` too.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}
