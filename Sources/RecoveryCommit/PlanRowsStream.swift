import PostgresClient
import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams a plan's rows file into a `COPY ... FROM STDIN`, in fixed chunks, hashing what it sends.
///
/// The plan was checked when it was loaded; hashing again while sending proves that the bytes the
/// server received are the reviewed ones, even if the file changed in between.
struct PlanRowsStream {
    var path: String
    var chunkBytes: Int

    struct Sent {
        var sha256: String
        var bytes: Int
        var lines: Int
    }

    /// Reads the file (`read(2)`) and writes it through `copy`; calls `chunkSent(n)` after the n-th chunk.
    func send(into copy: inout CopyIn, chunkSent: (Int) -> Void) throws -> Sent {
        let file: RegularFile
        do {
            file = try RegularFile(path)
        } catch {
            throw CommitError(.planRefused, "cannot read '\(path)': \(error.reason); the plan changed after it was checked")
        }
        let fd = file.descriptor
        let hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        var bytes = 0, lines = 0, chunks = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CommitError(.planRefused, "cannot read '\(path)': \(FileFailure.reason(errno: errno))")
            }
            if n == 0 { break }
            try buffer.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                hash.update(chunk)
                lines += newlineCount(chunk)
                try copy.write(chunk)
            }
            bytes += n
            chunks += 1
            chunkSent(chunks)
        }
        return Sent(sha256: hash.finalize(), bytes: bytes, lines: lines)
    }

    private func newlineCount(_ bytes: UnsafeRawBufferPointer) -> Int {
        var count = 0
        var p = bytes.baseAddress!
        var left = bytes.count
        while left > 0, let hit = memchr(p, 0x0A, left) {
            count += 1
            let skip = UnsafeRawPointer(hit) - p + 1
            p += skip
            left -= skip
        }
        return count
    }
}
