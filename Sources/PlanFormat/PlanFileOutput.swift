import Foundation
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
/// costs several times the copy on a virtual machine that returns free pages to its host. A
/// direct write returns only once the device has the bytes, so the full blocks are written by a
/// thread of the output's own (`BlockWriter`) while the caller goes on hashing and filling the
/// next. The last partial block is written without `O_DIRECT`; a file system that refuses
/// `O_DIRECT` gets the same bytes without it. Not Sendable: one thread writes at a time.
public final class PlanFileOutput {
    public let path: String
    private let file: FileSink
    private let hash = SHA256()
    private var bytes: Int64 = 0
    /// The aligned block being filled, while the file is written with `O_DIRECT`.
    private var block: UnsafeMutableRawPointer?
    private var blockCount = 0
    /// Writes the full blocks; started with the first.
    private var writer: BlockWriter?
    /// What writing a full block met: the output takes no more bytes.
    private var failure: PlanError?

    /// `write(2)`; a test puts a failing one in its place. Called by one thread at a time: the
    /// block writer's while it runs, the caller's before and after.
    var writeCall: (Int32, UnsafeRawPointer, Int) -> Int {
        get { file.writeCall }
        set { file.writeCall = newValue }
    }

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
        file = FileSink(descriptor: fd, path: path)
        if direct, FileSink.setDirect(fd, true) {
            file.direct = true
            block = Self.allocateBlock()
        }
    }

    deinit {
        // The writer's thread ends before the descriptor is closed (and its blocks are freed).
        try? writer?.end()
        block?.deallocate()
        close(file.descriptor)
    }

    static func allocateBlock() -> UnsafeMutableRawPointer {
        .allocate(byteCount: blockBytes, alignment: directAlignment)
    }

    /// Hashes `chunk` and writes it (or keeps it in the block, to be written when the block is full).
    public func write(_ chunk: UnsafeRawBufferPointer) throws(PlanError) {
        if let failure { throw failure }
        guard let source = chunk.baseAddress, chunk.count > 0 else { return }
        hash.update(chunk)
        bytes += Int64(chunk.count)
        guard var block else { return try file.writeAll(source, chunk.count) }
        var done = 0
        while done < chunk.count {
            let n = min(Self.blockBytes - blockCount, chunk.count - done)
            (block + blockCount).copyMemory(from: source + done, byteCount: n)
            blockCount += n
            done += n
            if blockCount == Self.blockBytes {
                block = try handOver(block)
            }
        }
    }

    /// Hands the full block to the writer and returns an empty one.
    private func handOver(_ full: UnsafeMutableRawPointer) throws(PlanError) -> UnsafeMutableRawPointer {
        if writer == nil { writer = BlockWriter(file) }
        // The full block is the writer's from here, whatever happens.
        block = nil
        blockCount = 0
        do {
            let empty = try writer!.hand(full)
            block = empty
            return empty
        } catch {
            failure = error
            throw error
        }
    }

    /// Writes what the block holds; returns the file's SHA-256 and size. Call once, last.
    public func finish() throws(PlanError) -> Written {
        if let failure { throw failure }
        try writer?.end()
        if let block, blockCount > 0 {
            let aligned = blockCount - blockCount % Self.directAlignment
            try file.writeBlock(block, aligned)
            // The last partial block, through the page cache.
            file.endDirect()
            try file.writeAll(block + aligned, blockCount - aligned)
            blockCount = 0
        }
        return Written(sha256: hash.finalize(), bytes: bytes)
    }

    /// What a file's entry in `plan.json` records of it.
    public struct Written: Sendable {
        public var sha256: String
        public var bytes: Int64
    }
}

/// The descriptor of a `PlanFileOutput` and the writes to it. Sendable: used by one thread at a
/// time, the block writer's while it runs (its `end()` is the hand-over back).
final class FileSink: @unchecked Sendable {
    let descriptor: Int32
    let path: String
    /// True while the descriptor has `O_DIRECT`.
    var direct = false
    var writeCall: (Int32, UnsafeRawPointer, Int) -> Int = systemWrite

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Writes `count` bytes of an aligned block (`count` a multiple of `directAlignment`), with
    /// `O_DIRECT` while the file system takes it. A file system that refuses it (`EINVAL`, also
    /// what follows a short write that left the offset unaligned) is written without `O_DIRECT`
    /// from then on.
    func writeBlock(_ block: UnsafeMutableRawPointer, _ count: Int) throws(PlanError) {
        var done = 0
        while done < count {
            guard direct else { return try writeAll(block + done, count - done) }
            let n = writeCall(descriptor, block + done, count - done)
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
            direct = false
        }
    }

    /// Clears `O_DIRECT`: the rest goes through the page cache.
    func endDirect() {
        if direct, Self.setDirect(descriptor, false) { direct = false }
    }

    /// `write(2)` until all `count` bytes are written; `write` returning 0 is a full disk.
    func writeAll(_ source: UnsafeRawPointer, _ count: Int) throws(PlanError) {
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
    static func setDirect(_ fd: Int32, _ on: Bool) -> Bool {
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

/// Writes the full blocks of a `PlanFileOutput`, in the order handed over, on a thread of its
/// own: a direct write waits for the device, and the thread making the file goes on meanwhile.
/// At most `depth` blocks exist (the one being filled among them), so a slow disk holds the
/// caller back instead of filling memory. After a failed write the blocks still handed over are
/// not written, and the failure is thrown to the caller. Sendable: `queue`, `spare`, `made`,
/// `failure`, `ending` and `ended` are touched only under `lock`; the sink only by the thread
/// until it has ended.
final class BlockWriter: @unchecked Sendable {
    static let depth = 4
    private let lock = NSCondition()
    private let file: FileSink
    private var queue: [UnsafeMutableRawPointer] = []
    private var spare: [UnsafeMutableRawPointer] = []
    /// Blocks in use: handed over, spare, and the caller's (made before this writer).
    private var made = 1
    private var failure: PlanError?
    private var ending = false
    private var ended = false

    init(_ file: FileSink) {
        self.file = file
        Thread.detachNewThread { self.run() }
    }

    deinit {
        for block in queue + spare { block.deallocate() }
    }

    /// Takes a full block to write and returns an empty one: a written block, a new one, or once
    /// `depth` are in use, the next block written.
    func hand(_ full: UnsafeMutableRawPointer) throws(PlanError) -> UnsafeMutableRawPointer {
        lock.lock()
        defer { lock.unlock() }
        queue.append(full)
        lock.broadcast()
        while spare.isEmpty && made >= Self.depth && failure == nil { lock.wait() }
        if let failure { throw failure }
        if let empty = spare.popLast() { return empty }
        made += 1
        return PlanFileOutput.allocateBlock()
    }

    /// Waits for the blocks handed over to be written and the thread to end; throws what the
    /// writes met.
    func end() throws(PlanError) {
        lock.lock()
        defer { lock.unlock() }
        ending = true
        lock.broadcast()
        while !ended { lock.wait() }
        if let failure { throw failure }
    }

    private func run() {
        lock.lock()
        while true {
            while queue.isEmpty && !ending { lock.wait() }
            guard !queue.isEmpty else { break }
            let block = queue.removeFirst()
            let write = failure == nil
            lock.unlock()
            var met: PlanError?
            if write {
                do { try file.writeBlock(block, PlanFileOutput.blockBytes) } catch { met = error }
            }
            lock.lock()
            if failure == nil { failure = met }
            spare.append(block)
            lock.broadcast()
        }
        ended = true
        lock.broadcast()
        lock.unlock()
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
