import Foundation
import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a plan file is hashed, in one place: its SHA-256, size and newline count, fed piece by
/// piece as it is written (`PlanWriter`), read back to be checked (`PlanDirectory.load`) or
/// streamed into the COPY (`apply`).
public final class FileDigest {
    public struct Summary: Hashable, Sendable {
        public var sha256: String
        public var bytes: Int64
        /// Newline bytes: the rows of a rows file.
        public var lines: Int
    }

    private let hash = SHA256()
    private var bytes: Int64 = 0
    private var lines = 0

    public init() {}

    public func update(_ chunk: UnsafeRawBufferPointer) {
        hash.update(chunk)
        bytes += Int64(chunk.count)
        guard var p = chunk.baseAddress else { return }
        var left = chunk.count
        while left > 0, let hit = memchr(p, 0x0A, left) {
            lines += 1
            let skip = UnsafeRawPointer(hit) - p + 1
            p += skip
            left -= skip
        }
    }

    public func finalize() -> Summary {
        Summary(sha256: hash.finalize(), bytes: bytes, lines: lines)
    }

    /// The digest of bytes in memory.
    public static func of(_ bytes: some ContiguousBytes) -> Summary {
        let digest = FileDigest()
        bytes.withUnsafeBytes { digest.update($0) }
        return digest.finalize()
    }

    /// Reads the regular file at `path` (`RegularFile`: never a FIFO or a device) in pieces of
    /// `chunkBytes`, hashing each and then handing it to `each`.
    public static func read(
        _ path: String, chunkBytes: Int = 1 << 20, each: (UnsafeRawBufferPointer) throws -> Void = { _ in }
    ) throws -> Summary {
        let file = try RegularFile(path)
        let digest = FileDigest()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkBytes, 1), alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = try file.read(into: chunk)
            if n == 0 { break }
            let piece = UnsafeRawBufferPointer(rebasing: chunk[..<n])
            digest.update(piece)
            try each(piece)
        }
        return digest.finalize()
    }
}

/// One file of a plan directory as `plan.json`'s `files` lists it: every file the plan wrote
/// besides `plan.json` and the rows files (which have entries of their own).
public struct PlanFile: Codable, Hashable, Sendable {
    public var name: String
    public var bytes: Int64
    public var sha256: String

    public init(name: String, bytes: Int64, sha256: String) {
        self.name = name
        self.bytes = bytes
        self.sha256 = sha256
    }

    public init(name: String, _ digest: FileDigest.Summary) {
        self.init(name: name, bytes: digest.bytes, sha256: digest.sha256)
    }
}

extension PlanFile {
    /// The checks `apply` makes on a plan directory besides plan.json: every rows file (`rows`)
    /// present, a regular file, of its recorded hash and row count; every listed file the same,
    /// of its recorded size and hash; and nothing else in the directory. Throws `tampered`.
    static func checkDirectory(_ path: String, rows: [PlanDocument.RowsFile], files: [PlanFile]) throws {
        var expected: Set<String> = ["plan.json"]
        for entry in rows {
            let digest = try digestOf(entry.file, in: path)
            guard digest.sha256 == entry.sha256 else {
                throw PlanError(.tampered, path: path, detail: "\(entry.file) has SHA-256 \(digest.sha256), the plan recorded \(entry.sha256)")
            }
            guard digest.lines == entry.count else {
                throw PlanError(.tampered, path: path, detail: "\(entry.file) has \(digest.lines) rows, the plan recorded \(entry.count)")
            }
            expected.insert(entry.file)
        }
        for file in files {
            guard isPlainName(file.name), !expected.contains(file.name) else {
                throw PlanError(.tampered, path: path, detail: "plan.json lists '\(VisibleText.escaped(file.name))', which is not a file name of a plan")
            }
            let digest = try digestOf(file.name, in: path)
            guard digest.sha256 == file.sha256, digest.bytes == file.bytes else {
                throw PlanError(
                    .tampered, path: path,
                    detail: "\(file.name) has changed since the plan was written (SHA-256 \(digest.sha256), \(digest.bytes) bytes; "
                        + "the plan recorded \(file.sha256), \(file.bytes) bytes)")
            }
            expected.insert(file.name)
        }
        guard let dir = opendir(path) else {
            throw PlanError(.tampered, path: path, detail: "cannot list the plan directory: \(FileFailure.reason(errno: errno))")
        }
        defer { closedir(dir) }
        var present: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { present.append(name) }
        }
        if let extra = present.sorted().first(where: { !expected.contains($0) }) {
            throw PlanError(
                .tampered, path: path,
                detail: "it holds '\(VisibleText.escaped(extra))', which the plan does not list; a plan directory holds only what 'plan' wrote")
        }
    }

    /// A name without a slash, not `.` or `..`.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }

    static func digestOf(_ name: String, in path: String) throws -> FileDigest.Summary {
        do {
            return try FileDigest.read(path + "/" + name)
        } catch let error as FileFailure {
            throw PlanError(.tampered, path: path, detail: error.code == ENOENT ? "\(name) is missing" : "cannot read \(name): \(error.reason)")
        }
    }
}
