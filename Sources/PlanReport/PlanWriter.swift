import Foundation
import PlanFormat
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RecoveryModel
import SlotFold

/// Writes a plan directory: `rows.tsv`, `plan.json`, and the reviewer's reports. Writes nothing
/// outside `directory` and its staging directory beside it; never writes over anything.
public enum PlanWriter {
    public struct Output: Sendable {
        public var document: PlanDocument
        /// Every file written, relative to the directory.
        public var files: [String]
    }

    /// Writes the plan into a fresh directory beside `directory`, then renames it into place: a
    /// plan directory is complete or absent, never half-written. `directory` must not exist (an
    /// empty directory is taken: nothing in it can be lost); nothing is ever written over.
    public static func write(_ evidence: PlanEvidence, to directory: String) throws -> Output {
        try checkDestination(directory)
        let staging = try makeStagingDirectory(beside: directory)
        do {
            let output = try writeFiles(evidence, into: staging)
            guard rename(staging, directory) == 0 else {
                let code = errno
                throw PlanError(.cannotWrite, path: directory, detail: code == ENOTEMPTY || code == EEXIST || code == ENOTDIR
                    ? "something was created there while the plan was written; nothing was overwritten"
                    : FileFailure.reason(errno: code))
            }
            return output
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Refuses a destination that exists (other than an empty directory) or whose parent cannot
    /// take a new directory: `plan` checks it before reading, so a long read is not wasted.
    public static func checkDestination(_ directory: String) throws(PlanError) {
        var st = stat()
        if lstat(directory, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR, isEmptyDirectory(directory) else {
                let what = (st.st_mode & S_IFMT) == S_IFDIR ? "a directory that is not empty" : FileFailure.kindName(st.st_mode)
                throw PlanError(.exists, path: directory, detail: "it already exists (\(what)); a plan is written only to a new path: choose another --out")
            }
        } else if errno != ENOENT {
            throw PlanError(.cannotWrite, path: directory, detail: FileFailure.reason(errno: errno))
        }
        let parent = parentDirectory(directory)
        var parentStat = stat()
        guard stat(parent, &parentStat) == 0 else {
            let code = errno
            throw PlanError(.cannotWrite, path: directory, detail: code == ENOENT
                ? "its parent directory '\(parent)' does not exist" : "its parent directory '\(parent)': \(FileFailure.reason(errno: code))")
        }
        guard (parentStat.st_mode & S_IFMT) == S_IFDIR else {
            throw PlanError(.cannotWrite, path: directory, detail: "'\(parent)' is \(FileFailure.kindName(parentStat.st_mode)), not a directory")
        }
        guard access(parent, W_OK | X_OK) == 0 else {
            throw PlanError(.cannotWrite, path: directory, detail: "its parent directory '\(parent)': \(FileFailure.reason(errno: errno))")
        }
    }

    private static func isEmptyDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { return false }
        }
        return true
    }

    private static func parentDirectory(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// `DIR.partial-1a2b3c4d` beside `directory`, made with `mkdir` (so the umask applies).
    private static func makeStagingDirectory(beside directory: String) throws(PlanError) -> String {
        var trimmed = directory
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        for _ in 0..<100 {
            let candidate = trimmed + ".partial-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
            if mkdir(candidate, 0o777) == 0 { return candidate }
            guard errno == EEXIST else {
                throw PlanError(.cannotWrite, path: directory, detail: "cannot make a directory beside it: \(FileFailure.reason(errno: errno))")
            }
        }
        throw PlanError(.cannotWrite, path: directory, detail: "no free name for a directory beside it")
    }

    /// Writes every file of the plan into `directory`, which is new and empty.
    static func writeFiles(_ evidence: PlanEvidence, into directory: String) throws -> Output {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let planPath = directory + "/plan.json"
        guard !fm.fileExists(atPath: planPath) else {
            throw PlanError(.exists, path: planPath, detail: "a plan is already there; choose a new --out directory")
        }
        // First, on every core, each thread taking the next job as it is free: the rows file
        // (whose SHA-256 the plan id binds), the reports that need no plan document (the large
        // ones streamed to their files), and the plan's totals. Then the plan id, then the
        // reports that show it, at once.
        let early = ReportRenderers.all.filter { !$0.needsDocument }.sorted { startOrder($0) < startOrder($1) }
        let rowsDigest = LockedValue<FileDigest.Summary>()
        let totals = LockedValue<Totals>()
        let digests = DigestBox()
        let failures = FailureBox()
        DispatchQueue.concurrentPerform(iterations: 2 + early.count) { i in
            do {
                if i == 0 {
                    rowsDigest.set(try writeRows(evidence.resolution.recovered, to: directory + "/" + PlanDocument.rowsFileName))
                } else if i <= early.count {
                    let report = early[i - 1]
                    digests.add(PlanFile(name: report.fileName, try write(report, plan: nil, evidence, into: directory)))
                } else {
                    totals.set(Totals(evidence))
                }
            } catch {
                failures.set(i, error)
            }
        }
        if let failure = failures.first { throw failure }
        let rowsHash = rowsDigest.value!.sha256
        let facts = totals.value!

        var document = PlanDocument(
            format: PlanDocument.formatName,
            formatVersion: PlanDocument.currentVersion,
            kind: .recover,
            planID: "",
            createdAt: evidence.createdAt.rfc3339,
            toolVersion: evidence.toolVersion,
            window: .init(evidence.window),
            shard: evidence.shard,
            database: evidence.database,
            inputs: evidence.inputs,
            rows: .init(file: PlanDocument.rowsFileName, sha256: rowsHash,
                        count: evidence.resolution.recovered.count, columns: PlanDocument.rowColumns),
            counts: facts.counts,
            recoveredMinutes: facts.recoveredMinutes,
            users: facts.users,
            completeness: .init(warnings: facts.warnings))
        document.planID = document.computePlanID()

        let late = ReportRenderers.all.filter(\.needsDocument)
        let plan = document
        DispatchQueue.concurrentPerform(iterations: late.count) { i in
            do {
                digests.add(PlanFile(name: late[i].fileName, try write(late[i], plan: plan, evidence, into: directory)))
            } catch {
                failures.set(i, error)
            }
        }
        if let failure = failures.first { throw failure }
        let files = [PlanDocument.rowsFileName] + ReportRenderers.all.map(\.fileName) + ["plan.json"]
        document.files = digests.files
        // plan.json last: a directory with a plan.json is a finished plan.
        try Data(PlanJSON.encode(document).utf8).write(to: URL(fileURLWithPath: planPath))
        return Output(document: document, files: files)
    }

    /// The reports that take longest are started first, so that no core is left with a long one
    /// at the end while the other waits.
    private static func startOrder(_ report: ReportRenderer) -> Int {
        [RecoveredCSV.renderer.fileName, NoticesCSV.renderer.fileName].firstIndex(of: report.fileName) ?? 2
    }

    /// The figures of `plan.json` that come from the whole evidence, worked out beside the files.
    private struct Totals: Sendable {
        var counts: PlanDocument.Counts
        var recoveredMinutes: Int
        var users: [PlanDocument.UserTotals]
        var warnings: [String]

        init(_ evidence: PlanEvidence) {
            counts = evidence.counts
            recoveredMinutes = evidence.recoveredMinutes
            users = evidence.userTotals
            warnings = evidence.completenessWarnings
        }
    }

    /// Writes one report into `directory` (streamed, when it streams) and returns its digest.
    private static func write(_ report: ReportRenderer, plan: PlanDocument?, _ evidence: PlanEvidence, into directory: String) throws -> FileDigest.Summary {
        let path = directory + "/" + report.fileName
        if let streaming = report.streaming {
            return try writeStreamed(to: path) { out, flush in try streaming(evidence, &out, flush) }
        }
        let text = report.needsDocument ? report.render(plan!, evidence) : report.renderEvidence!(evidence)
        return try writeStreamed(to: path) { out, flush in
            out.append(text)
            try flush(&out)
        }
    }

    /// Writes the rows file in 1 MiB pieces, hashing as it goes; returns its digest. One COPY
    /// line per recovered slot, in the resolver's order (sorted by key).
    static func writeRows(_ slots: [FoldedSlot], to path: String) throws -> FileDigest.Summary {
        try writeStreamed(to: path) { buffer, flush in
            var text = RepeatedText(paths: .copyEscaped)
            try slots.forEachInPlace { folded in
                folded.pointee.provenance.withUnsafeBufferPointer { provenance in
                    RowsFileFormat.append(FoldedSlot.slotPointer(folded), provenance: provenance, text: &text, to: &buffer)
                }
                if buffer.bytes.count >= 1 << 20 { try flush(&buffer) }
            }
            try flush(&buffer)
        }
    }

    /// Creates the file at `path` and lets `body` fill it through a buffer it hands to `flush`
    /// whenever it likes (each flush writes the buffer and empties it); returns the file's digest.
    static func writeStreamed(
        to path: String,
        _ body: (inout TextBuffer, (inout TextBuffer) throws -> Void) throws -> Void
    ) throws -> FileDigest.Summary {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw PlanError(.cannotWrite, path: path, detail: "cannot create the file")
        }
        defer { try? handle.close() }
        let digest = FileDigest()
        var buffer = TextBuffer(capacity: (1 << 20) + 4096)
        try body(&buffer) { out in
            out.bytes.withUnsafeBytes { digest.update($0) }
            do {
                try handle.write(contentsOf: out.bytes)
            } catch {
                throw PlanError(.cannotWrite, path: path, detail: PlanError.reason(error))
            }
            out.bytes.removeAll(keepingCapacity: true)
        }
        return digest.finalize()
    }
}

/// The digests of the files written by several threads, listed by name.
private final class DigestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [PlanFile] = []

    func add(_ file: PlanFile) {
        lock.lock()
        stored.append(file)
        lock.unlock()
    }

    var files: [PlanFile] {
        lock.lock()
        defer { lock.unlock() }
        return stored.sorted { $0.name < $1.name }
    }
}

/// A value set by one of several threads. Sendable: `stored` is only touched under `lock`.
private final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?

    func set(_ value: Value) {
        lock.lock()
        stored = value
        lock.unlock()
    }

    var value: Value? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}

/// The first error of work done on several threads. Sendable: `errors` is only touched under `lock`.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Int: any Error] = [:]


    func set(_ index: Int, _ error: any Error) {
        lock.lock()
        errors[index] = error
        lock.unlock()
    }

    var first: (any Error)? {
        lock.lock()
        defer { lock.unlock() }
        return errors.keys.min().flatMap { errors[$0] }
    }
}

/// One report file of a plan directory.
public struct ReportRenderer: Sendable {
    public var fileName: String
    public var render: @Sendable (PlanDocument, PlanEvidence) -> String
    /// False for a report made from the evidence alone: it is written beside the rows file,
    /// before the plan document exists.
    var needsDocument: Bool
    /// The report of a renderer that needs no document, from the evidence alone.
    var renderEvidence: (@Sendable (PlanEvidence) -> String)?
    /// For a large report that needs no plan document: appends to the buffer and hands it to the
    /// flush closure as it fills, so the file is written a piece at a time beside the rows file.
    var streaming: (@Sendable (PlanEvidence, inout TextBuffer, (inout TextBuffer) throws -> Void) throws -> Void)?

    public init(fileName: String, render: @escaping @Sendable (PlanDocument, PlanEvidence) -> String) {
        self.fileName = fileName
        self.render = render
        self.needsDocument = true
    }

    init(fileName: String, evidence render: @escaping @Sendable (PlanEvidence) -> String) {
        self.fileName = fileName
        self.render = { _, evidence in render(evidence) }
        self.needsDocument = false
        self.renderEvidence = render
    }

    init(
        fileName: String,
        streaming: @escaping @Sendable (PlanEvidence, inout TextBuffer, (inout TextBuffer) throws -> Void) throws -> Void
    ) {
        self.init(fileName: fileName, evidence: { evidence in
            var out = TextBuffer()
            try? streaming(evidence, &out) { _ in }
            return out.text
        })
        self.streaming = streaming
    }
}

extension PlanError {
    /// A Foundation file error in the tool's words (`no space left on the device`): the POSIX
    /// error behind it, never Foundation's localized sentence.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return FileFailure.reason(errno: Int32(ns.code)) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return FileFailure.reason(errno: Int32(underlying.code))
        }
        return "the file cannot be written"
    }
}
