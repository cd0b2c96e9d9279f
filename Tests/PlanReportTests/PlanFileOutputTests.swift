import Foundation
@testable import PlanFormat
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `PlanFileOutput` when a direct write fails: refused (`EINVAL`, a file system without
/// `O_DIRECT`, or a short write that left the file unaligned), the file is written through the
/// page cache from that byte on and holds exactly the bytes given, as its digest says; any other
/// error stops the plan.
final class PlanFileOutputTests: XCTestCase {
    let bytes: [UInt8] = {
        var random = SystemRandomNumberGenerator()
        return (0..<(7 << 19) + 333).map { _ in UInt8.random(in: 0...255, using: &random) }
    }()

    /// Writes `bytes` in pieces of `piece` through an output whose write calls go through `call`
    /// (given the call's number, from 1); returns the file's path and what the output recorded.
    func write(
        in dir: TemporaryDirectory, piece: Int, _ call: @escaping (Int, Int32, UnsafeRawPointer, Int) -> Int
    ) throws -> (String, PlanFileOutput.Written) {
        let path = dir.path + "/f-\(piece)-\(UUID().uuidString)"
        let output = try PlanFileOutput(path: path, direct: true)
        var calls = 0
        output.writeCall = { fd, buffer, count in
            calls += 1
            return call(calls, fd, buffer, count)
        }
        var at = 0
        while at < bytes.count {
            let n = min(piece, bytes.count - at)
            try bytes.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[at..<(at + n)])) }
            at += n
        }
        return (path, try output.finish())
    }

    /// The path of the file open on `fd`.
    func openedPath(_ fd: Int32) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) ?? ""
    }

    func assertHoldsTheBytes(_ path: String, _ written: PlanFileOutput.Written, _ message: String, line: UInt = #line) throws {
        XCTAssertEqual(written.bytes, Int64(bytes.count), message, line: line)
        XCTAssertEqual(written.sha256, FileDigest.of(bytes).sha256, message, line: line)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(bytes), message, line: line)
    }

    func testADirectWriteRefusedAnywhereLeavesTheSameFile() throws {
        let dir = try TemporaryDirectory(prefix: "file-output")
        for refused in 1...3 {
            for piece in [65_537, (1 << 20) + 17, 3 << 20] {
                let (path, written) = try write(in: dir, piece: piece) { call, fd, buffer, count in
                    if call == refused {
                        errno = EINVAL
                        return -1
                    }
                    return Glibc.write(fd, buffer, count)
                }
                try assertHoldsTheBytes(path, written, "write \(refused) refused, pieces of \(piece)")
            }
        }
    }

    /// A direct write that writes less than asked leaves the file's offset unaligned: the next
    /// direct write is refused (here as the kernel refuses it on ext4), and the rest goes plainly.
    func testAShortDirectWriteThenARefusalLeavesTheSameFile() throws {
        let dir = try TemporaryDirectory(prefix: "file-output")
        for piece in [65_537, (1 << 20) + 17] {
            let (path, written) = try write(in: dir, piece: piece) { call, fd, buffer, count in
                switch call {
                case 2:
                    // 1000 bytes written, as a plain write would, and the offset moved past them.
                    let plain = open(self.openedPath(fd), O_WRONLY | O_CLOEXEC)
                    defer { close(plain) }
                    let n = pwrite(plain, buffer, 1000, lseek(fd, 0, SEEK_CUR))
                    lseek(fd, off_t(n), SEEK_CUR)
                    return n
                case 3:
                    errno = EINVAL
                    return -1
                default: return Glibc.write(fd, buffer, count)
                }
            }
            try assertHoldsTheBytes(path, written, "pieces of \(piece)")
        }
    }

    func testAnotherErrorOfADirectWriteStops() throws {
        let dir = try TemporaryDirectory(prefix: "file-output")
        XCTAssertThrowsError(try write(in: dir, piece: 65_537) { call, fd, buffer, count in
            if call == 2 {
                errno = EIO
                return -1
            }
            return Glibc.write(fd, buffer, count)
        }) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .cannotWrite, "\(error)")
        }
    }
    /// A direct write that fails while the caller waits for a free block (every block handed
    /// over): the caller is woken with the error, instead of waiting for ever.
    func testAWriteThatFailsWhileTheCallerWaitsForABlockStopsTheCaller() throws {
        let dir = try TemporaryDirectory(prefix: "file-output")
        let output = try PlanFileOutput(path: dir.path + "/f", direct: true)
        let writing = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        output.writeCall = { _, _, _ in
            writing.signal()
            release.wait()
            errno = EIO
            return -1
        }
        nonisolated(unsafe) let held = output
        let all = bytes, stopped = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: (any Error)?
        DispatchQueue.global().async {
            do { for _ in 0..<4 { try all.withUnsafeBytes { try held.write($0) } } } catch { failure = error }
            stopped.signal()
        }
        guard writing.wait(timeout: .now() + 30) == .success else {
            release.signal()
            return XCTFail("the first block was never written")
        }
        // 14 MiB, more than `BlockWriter.depth` blocks, are given: the caller is now waiting for one.
        usleep(200_000)
        release.signal()
        let result = stopped.wait(timeout: .now() + 30)
        XCTAssertEqual(result, .success, "the caller still waits for a block after the write failed")
        if result == .success { XCTAssertEqual((failure as? PlanError)?.kind, .cannotWrite, "\(String(describing: failure))") }
    }

    /// A direct write returns once the device has the block: the full blocks are written by the
    /// output's own thread, so the caller fills `BlockWriter.depth - 1` blocks more while one
    /// write waits, and the file holds the bytes once it finishes.
    func testTheCallerGoesOnWhileADirectWriteWaits() throws {
        let dir = try TemporaryDirectory(prefix: "file-output")
        let path = dir.path + "/f"
        // Only a direct file has a block writer (tmpfs before Linux 6.6 and some FUSE mounts refuse O_DIRECT).
        let probe = open(dir.path + "/probe", O_CREAT | O_WRONLY, 0o600)
        defer { close(probe) }
        guard FileSink.setDirect(probe, true) else { throw XCTSkip("TMPDIR's file system refuses O_DIRECT") }
        let output = try PlanFileOutput(path: path, direct: true)
        let writing = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        var calls = 0
        output.writeCall = { fd, buffer, count in
            calls += 1
            if calls == 1 {
                writing.signal()
                release.wait()
            }
            return Glibc.write(fd, buffer, count)
        }
        let ahead = (BlockWriter.depth - 1) * PlanFileOutput.blockBytes + 333
        // Filled on another thread, so that a caller held back fails the test instead of hanging it.
        nonisolated(unsafe) let held = output
        let first = Array(bytes[..<ahead]), filled = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            first.withUnsafeBytes { try? held.write(UnsafeRawBufferPointer(rebasing: $0[..<PlanFileOutput.blockBytes])) }
            XCTAssertEqual(writing.wait(timeout: .now() + 30), .success, "the first block is being written")
            first.withUnsafeBytes { try? held.write(UnsafeRawBufferPointer(rebasing: $0[PlanFileOutput.blockBytes...])) }
            filled.signal()
        }
        let result = filled.wait(timeout: .now() + 30)
        release.signal()
        if result == .timedOut { filled.wait() }
        XCTAssertEqual(result, .success, "the caller filled \(BlockWriter.depth - 1) blocks more while the first was written")
        try bytes.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[ahead...])) }
        try assertHoldsTheBytes(path, try output.finish(), "one write held while \(BlockWriter.depth - 1) blocks were filled")
    }
}
