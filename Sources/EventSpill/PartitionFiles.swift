import CLZ4
import Foundation
import RecoveryModel
#if canImport(Glibc)
import Glibc
#endif

/// The spill directory and one file per user range. Each record is a header of two 8-byte sizes
/// (decompressed, compressed), then one LZ4 frame with a checksum of its content. Owns the file
/// descriptors it opens.
///
/// The files are read back only by the process that wrote them, which keeps where each record
/// starts and its sizes: a header that disagrees, a frame whose content fails its checksum or a
/// file cut short is a `spill_cannot_read` error, never other events than the ones spilled.
final class PartitionFiles {
    let directory: String
    let bounds: [Int64]
    /// The start of each range's file name (`range-`, or `range-5.` for the parts of range 5).
    let prefix: String
    /// Whether the directory was made for these files (and is removed with everything in it).
    private let ownsDirectory: Bool
    /// Decompressed bytes spilled to each range.
    private(set) var rawBytes: [Int64]
    private(set) var compressedBytes: Int64 = 0
    /// Where each record of each range starts in its file, and its sizes.
    private var records: [[RecordPlace]]
    private var fileBytes: [Int64]
    private var descriptors: [Int32]
    private var removed = false

    var count: Int { bounds.count + 1 }

    /// Makes a new directory `recover-tool-spill-XXXXXX` under `parent` (mode 0700).
    convenience init(in parent: String, bounds: [Int64]) throws(SpillError) {
        var template = Array((parent.hasSuffix("/") ? parent : parent + "/").utf8CString.dropLast()) + Array("recover-tool-spill-XXXXXX".utf8CString)
        let directory = try TemporaryPaths.make { () throws(SpillError) -> String in
            guard let made = mkdtemp(&template) else {
                throw SpillError(.cannotWrite, path: parent, detail: "cannot make a directory there: " + FileFailure.reason(errno: errno))
            }
            return String(cString: made)
        }
        self.init(directory: directory, prefix: "range-", ownsDirectory: true, bounds: bounds)
    }

    /// The files of the parts of range `p` of `files`, in its directory.
    convenience init(splitting p: Int, of files: PartitionFiles, bounds: [Int64]) {
        self.init(directory: files.directory, prefix: files.prefix + String(p) + ".", ownsDirectory: false, bounds: bounds)
    }

    private init(directory: String, prefix: String, ownsDirectory: Bool, bounds: [Int64]) {
        self.directory = directory
        self.prefix = prefix
        self.ownsDirectory = ownsDirectory
        self.bounds = bounds
        rawBytes = Array(repeating: 0, count: bounds.count + 1)
        descriptors = Array(repeating: -1, count: bounds.count + 1)
        records = Array(repeating: [], count: bounds.count + 1)
        fileBytes = Array(repeating: 0, count: bounds.count + 1)
    }

    deinit {
        close()
        remove()
    }

    func path(_ p: Int) -> String { directory + "/" + prefix + String(p) }

    /// One record as it is written: its header and its LZ4 frame.
    struct Record {
        var bytes: [UInt8]
        var rawCount: Int
    }

    /// Where a record starts in its range's file, and its sizes as its header gives them.
    struct RecordPlace {
        var offset: Int64
        var rawCount: Int
        var compressedCount: Int
    }

    /// `raw` compressed into a record (on any thread).
    static func record(_ raw: [UInt8], path: String) throws(SpillError) -> Record {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        let bound = LZ4F_compressFrameBound(raw.count, &preferences)
        var record = [UInt8](repeating: 0, count: 16 + bound)
        let written = record.withUnsafeMutableBytes { out in
            raw.withUnsafeBytes { input in
                LZ4F_compressFrame(out.baseAddress! + 16, bound, input.baseAddress, input.count, &preferences)
            }
        }
        guard LZ4F_isError(written) == 0 else {
            throw SpillError(.cannotWrite, path: path, detail: "LZ4: " + String(cString: LZ4F_getErrorName(written)))
        }
        withUnsafeBytes(of: UInt64(raw.count).littleEndian) { record.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: UInt64(written).littleEndian) { record.replaceSubrange(8..<16, with: $0) }
        record.removeSubrange((16 + written)...)
        return Record(bytes: record, rawCount: raw.count)
    }

    /// Appends one record (its decompressed bytes) to range `p`'s file.
    func append(_ raw: [UInt8], to p: Int) throws(SpillError) {
        try append(Self.record(raw, path: path(p)), to: p)
    }

    /// Appends a record `record(_:path:)` made to range `p`'s file.
    func append(_ record: Record, to p: Int) throws(SpillError) {
        if descriptors[p] < 0 {
            let fd = open(path(p), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SpillError(.cannotWrite, path: path(p), detail: FileFailure.reason(errno: errno)) }
            descriptors[p] = fd
        }
        var done = 0
        let total = record.bytes.count
        while done < total {
            let n = record.bytes.withUnsafeBytes { write(descriptors[p], $0.baseAddress! + done, total - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SpillError(.cannotWrite, path: path(p), detail: FileFailure.reason(errno: n < 0 ? errno : ENOSPC)) }
            done += n
        }
        records[p].append(RecordPlace(offset: fileBytes[p], rawCount: record.rawCount, compressedCount: total - 16))
        fileBytes[p] += Int64(total)
        rawBytes[p] += Int64(record.rawCount)
        compressedBytes += Int64(total)
    }

    /// Closes the files written.
    func close() {
        for p in descriptors.indices where descriptors[p] >= 0 {
            _ = Glibc.close(descriptors[p])
            descriptors[p] = -1
        }
    }

    /// Calls `body` with each record of range `p`, decompressed, in the order written.
    func forEachRecord(of p: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !records[p].isEmpty else { return }
        let file = try RecordFile(path(p))
        for place in records[p] { try file.read(place, body) }
    }

    /// Calls `body` with record `i` of range `p` (`recordCount(p)` of them), decompressed.
    func record<R>(_ i: Int, of p: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try RecordFile(path(p)).read(records[p][i], body)
    }

    func recordCount(_ p: Int) -> Int { records[p].count }

    /// Removes range `p`'s file (once split: its parts hold its events).
    func removeFile(_ p: Int) {
        if descriptors[p] >= 0 {
            _ = Glibc.close(descriptors[p])
            descriptors[p] = -1
        }
        unlink(path(p))
    }

    /// Removes the files, and the directory with the files of split ranges when it is these
    /// files' own (once).
    func remove() {
        guard !removed else { return }
        removed = true
        close()
        for p in 0..<count { unlink(path(p)) }
        guard ownsDirectory else { return }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(prefix) {
            unlink(directory + "/" + name)
        }
        rmdir(directory)
        TemporaryPaths.unregister(directory)
    }
}

/// A spill file opened to read records back at their offsets (`pread`): its descriptor and its
/// `LZ4F_dctx`, both freed in `deinit`. One per walk, so walks on several threads do not share one.
private final class RecordFile {
    let path: String
    private let descriptor: Int32
    private let context: OpaquePointer
    private var compressed: [UInt8] = []
    private var raw: [UInt8] = []

    init(_ path: String) throws(SpillError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpillError(.cannotRead, path: path, detail: FileFailure.reason(errno: errno)) }
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            Glibc.close(descriptor)
            throw SpillError(.cannotRead, path: path, detail: "cannot create a decompression context")
        }
        self.context = context
    }

    deinit {
        LZ4F_freeDecompressionContext(context)
        Glibc.close(descriptor)
    }

    /// Calls `body` with the record at `place`, decompressed, once its header agrees with
    /// `place` and its content with its checksum.
    func read<R>(_ place: PartitionFiles.RecordPlace, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let offset = place.offset
        var header = [UInt8](repeating: 0, count: 16)
        try readFully(&header, count: 16, at: offset)
        let headerRaw = header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let headerCompressed = header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        guard headerRaw == place.rawCount, headerCompressed == place.compressedCount else {
            throw SpillError(.cannotRead, path: path, detail: "a record's header does not give the sizes it was written with")
        }
        let rawCount = place.rawCount, compressedCount = place.compressedCount
        if compressed.count < compressedCount { compressed = [UInt8](repeating: 0, count: compressedCount) }
        try readFully(&compressed, count: compressedCount, at: offset + 16)
        if raw.count < rawCount { raw = [UInt8](repeating: 0, count: rawCount) }
        var outSize = rawCount, inSize = compressedCount
        LZ4F_resetDecompressionContext(context)
        let code = raw.withUnsafeMutableBytes { out in
            compressed.withUnsafeBytes { input in
                LZ4F_decompress(context, out.baseAddress, &outSize, input.baseAddress, &inSize, nil)
            }
        }
        guard LZ4F_isError(code) == 0, code == 0, outSize == rawCount, inSize == compressedCount else {
            throw SpillError(.cannotRead, path: path, detail: "a record does not decompress to what was written (its size or its checksum differs)")
        }
        return try raw.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<rawCount])) }
    }

    private func readFully(_ buffer: inout [UInt8], count: Int, at offset: Int64) throws(SpillError) {
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw SpillError(.cannotRead, path: path, detail: n < 0 ? FileFailure.reason(errno: errno) : "the file ends inside a record")
            }
            done += n
        }
    }
}
