import PlanFormat
import PostgresClient
import RecoveryModel

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

    /// Reads the file and writes it through `copy` (`FileDigest.read`: the one way a plan file is
    /// read and hashed); calls `chunkSent(n)` after the n-th chunk.
    func send(into copy: inout CopyIn, chunkSent: (Int) -> Void) throws -> Sent {
        var chunks = 0
        let digest: FileDigest.Summary
        do {
            digest = try FileDigest.read(path, chunkBytes: chunkBytes) { chunk in
                try copy.write(chunk)
                chunks += 1
                chunkSent(chunks)
            }
        } catch let error as FileFailure {
            throw CommitError(.planRefused, "cannot read '\(path)': \(error.reason); the plan changed after it was checked")
        }
        return Sent(sha256: digest.sha256, bytes: Int(digest.bytes), lines: digest.lines)
    }
}
