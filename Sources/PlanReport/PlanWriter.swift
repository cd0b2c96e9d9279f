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
    /// `beforeRename` runs once the files are written (a test's pause point).
    public static func write(_ evidence: PlanEvidence, to directory: String, beforeRename: () -> Void = {}) throws -> Output {
        try staged(directory, beforeRename: beforeRename) { try writeFiles(evidence, into: $0) }
    }

    /// Calls `write` with a fresh directory beside `directory` to write a plan's files into, then
    /// renames it into place: the one way a plan directory (a recovery or a reconcile plan) is
    /// made. Refuses a `directory` that exists, but for an empty one (`checkDestination`).
    static func staged<Output>(_ directory: String, beforeRename: () -> Void = {}, _ write: (String) throws -> Output) throws -> Output {
        try checkDestination(directory)
        let staging = try TemporaryPaths.make { () throws(PlanError) -> String in try makeStagingDirectory(beside: directory) }
        defer { TemporaryPaths.unregister(staging) }
        do {
            let output = try write(staging)
            beforeRename()
            // A signal pending now ends the plan here instead, with nothing in place.
            try TemporaryPaths.settle(staging) { () throws(PlanError) in
                guard rename(staging, directory) == 0 else {
                    let code = errno
                    throw PlanError(.cannotWrite, path: directory, detail: code == ENOTEMPTY || code == EEXIST || code == ENOTDIR
                        ? "something was created there while the plan was written; nothing was overwritten"
                        : FileFailure.reason(errno: code))
                }
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
        if let holder = planDirectory(holding: parent) {
            throw PlanError(.cannotWrite, path: directory, detail: "it is inside the plan directory '\(holder)', which holds only what made it: choose another --out")
        }
    }

    /// The plan or plan set directory that `path` (an existing directory) is or lies inside,
    /// resolved (`realpath`): one with `plan.json` and `rows.tsv`, or with `plan-set.json`. A
    /// file added there is one the plan does not list, and apply refuses the plan.
    static func planDirectory(holding path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        var current = String(cString: resolved)
        free(resolved)
        while true {
            let isPlan = FileManager.default.fileExists(atPath: current + "/plan.json") && FileManager.default.fileExists(atPath: current + "/rows.tsv")
            if isPlan || FileManager.default.fileExists(atPath: current + "/" + PlanSet.fileName) { return current }
            guard current != "/", let slash = current.lastIndex(of: "/") else { return nil }
            current = slash == current.startIndex ? "/" : String(current[..<slash])
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

    /// The slots of one piece of the rows file and of `recovered.csv`: under 1 MB of text in each,
    /// so that a piece is still in the cache of the core that hashes and writes it, most often the
    /// one that just made it.
    static let slotsPerPiece = 4096

    /// Writes every file of the plan into `directory`, which exists, new and empty. It is never
    /// made here: a signal's sweep (`TemporaryPaths`) may have removed the staging directory, and
    /// making it again would leave it behind once the process ends by the signal.
    static func writeFiles(_ evidence: PlanEvidence, into directory: String, slotsPerPiece: Int = slotsPerPiece) throws -> Output {
        let fm = FileManager.default
        let planPath = directory + "/plan.json"
        guard !fm.fileExists(atPath: planPath) else {
            throw PlanError(.exists, path: planPath, detail: "a plan is already there; choose a new --out directory")
        }
        // First, on every core, each thread taking the next job as it is free: the plan's totals
        // and the plan document but for its id, with the human reports' content made from it; the
        // rows file (whose SHA-256 the plan id binds) and `recovered.csv` in pieces of slots, both
        // made in one pass over a piece's slots, each piece written once the pieces before it
        // are; the other reports that need no plan document. Then the plan id, then the reports
        // that show it and plan.json's text, at once.
        let count = evidence.recoveredCount
        let pieces = (count + slotsPerPiece - 1) / slotsPerPiece
        let rows = try PieceFile(path: directory + "/" + PlanDocument.rowsFileName, pieces: max(1, pieces))
        let csv = try PieceFile(path: directory + "/" + RecoveredCSV.renderer.fileName, pieces: max(1, pieces))
        let others = ReportRenderers.all.filter { !$0.needsDocument && $0.fileName != RecoveredCSV.renderer.fileName }
        // The totals and the review first: the plan document but for its id and the rows file's
        // hash, and the reports' content made from it, beside the large files.
        var jobs: [EarlyJob] = [.totals] + others.filter(Self.isLarge).map { .report($0) }
        for piece in 0..<max(1, pieces) { jobs.append(.recovered(piece)) }
        jobs += others.filter { !Self.isLarge($0) }.map { .report($0) }
        let early = jobs
        let rowTexts = RowTextPool()
        let draft = LockedValue<(PlanDocument, ReviewParts)>()
        let digests = DigestBox()
        let failures = FailureBox()
        DispatchQueue.concurrentPerform(iterations: early.count) { i in
            do {
                switch early[i] {
                case .recovered(let piece):
                    let rowsPiece = rows.memory(for: piece), csvPiece = csv.memory(for: piece)
                    if piece == 0 { RecoveredCSV.putHeader(to: csvPiece) }
                    var text = rowTexts.take()
                    do {
                        try evidence.withRecovered(Self.range(of: piece, count: count, slotsPerPiece)) { slots, range in
                            RecoveredCSV.put(slots, range, text: &text, rows: rowsPiece, csv: csvPiece)
                        }
                    } catch {
                        // No piece after this one is written: none waits for its memory.
                        rows.fail(error)
                        csv.fail(error)
                        throw error
                    }
                    rowTexts.give(text)
                    // The rows file first: a failure in it is the one reported.
                    var met: (any Error)?
                    do { try rows.add(piece, rowsPiece) } catch { met = error }
                    do { try csv.add(piece, csvPiece) } catch { met = met ?? error }
                    if let met { throw met }
                case .report(let report):
                    let written = try write(report, plan: nil, evidence, into: directory)
                    digests.add(PlanFile(name: report.fileName, bytes: written.bytes, sha256: written.sha256))
                case .totals:
                    let document = Self.document(evidence, totals: Totals(evidence), rowsHash: "")
                    draft.set((document, ReviewParts(document, evidence)))
                }
            } catch {
                failures.set(i, error)
            }
        }
        if let failure = failures.first { throw failure }
        let rowsHash = try rows.finish().sha256
        let csvWritten = try csv.finish()
        digests.add(PlanFile(name: RecoveredCSV.renderer.fileName, bytes: csvWritten.bytes, sha256: csvWritten.sha256))
        let (drafted, parts) = draft.value!
        var document = drafted
        document.rows.sha256 = rowsHash
        document.planID = document.computePlanID()
        let review = parts.completed(by: document, evidence)

        // plan.json's text but for its list of files (the other files' digests), beside the reports.
        let late = ReportRenderers.all.filter(\.needsDocument)
        let plan = document
        let planText = LockedValue<String>()
        DispatchQueue.concurrentPerform(iterations: late.count + 1) { i in
            do {
                if i < late.count {
                    let written = try write(late[i], plan: plan, review: review, evidence, into: directory)
                    digests.add(PlanFile(name: late[i].fileName, bytes: written.bytes, sha256: written.sha256))
                } else {
                    var withoutUsers = plan
                    withoutUsers.users = []
                    planText.set(try Self.filling(
                        PlanJSON.encode(withoutUsers), Self.member(JSONOutput.encode(Users(users: []))), with: Self.usersMember(plan.users)))
                }
            } catch {
                failures.set(i, error)
            }
        }
        if let failure = failures.first { throw failure }
        let files = [PlanDocument.rowsFileName] + ReportRenderers.all.map(\.fileName) + ["plan.json"]
        document.files = digests.files
        // plan.json last: a directory with a plan.json is a finished plan.
        let text = try Self.filling(
            planText.value!, Self.member(JSONOutput.encode(Files(files: []))), with: Self.member(JSONOutput.encode(Files(files: document.files))))
        try Data(text.utf8).write(to: URL(fileURLWithPath: planPath))
        return Output(document: document, files: files)
    }

    /// A job of the first part of `writeFiles`.
    private enum EarlyJob {
        case recovered(Int), report(ReportRenderer), totals
    }

    /// The reports without a plan document that take longest: started first, so that no core is
    /// left with a long one at the end while the other waits.
    private static func isLarge(_ report: ReportRenderer) -> Bool {
        [NoticesCSV.renderer.fileName, DroppedCSV.renderer.fileName].contains(report.fileName)
    }

    /// The slots of piece `piece`.
    private static func range(of piece: Int, count: Int, _ slotsPerPiece: Int) -> Range<Int> {
        min(count, piece * slotsPerPiece)..<min(count, (piece + 1) * slotsPerPiece)
    }

    /// `text`, the JSON `JSONOutput.encode` writes for a document, with its member `empty` (a
    /// list left empty) replaced by `member`; both as `member(_:)` gives them. A member starts a
    /// line and holds no line feed inside a string, so it is found only where it stands.
    static func filling(_ text: String, _ empty: Substring, with member: Substring) throws -> String {
        guard let at = text.range(of: "\n" + empty) else {
            throw PlanError(.cannotWrite, path: "plan.json", detail: "the plan document has no empty list to fill")
        }
        // Put together as Swift strings: Foundation's `replacingCharacters` goes through UTF-16.
        var filled = String(text[..<at.lowerBound])
        filled.reserveCapacity(text.utf8.count + member.utf8.count)
        filled += "\n"
        filled += member
        filled += text[at.upperBound...]
        return filled
    }

    /// The member of a value holding one list, as `JSONOutput.encode` writes it at the top level
    /// of a document: `  "files" : [...]`, from `{\n  "files" : [...]\n}\n`.
    static func member(_ text: String) -> Substring { text.dropFirst(2).dropLast(3) }

    /// A value holding a list of plan.json at the depth the document holds it.
    struct Files: Encodable { var files: [PlanFile] }
    struct Users: Encodable { var users: [PlanDocument.UserTotals] }

    /// `member(JSONOutput.encode(Users(users: users)))`, made directly: JSONEncoder takes about
    /// 0.1 s for 20,000 users. The encoder's layout: keys sorted, two spaces of indent a level,
    /// ` : ` after a key.
    static func usersMember(_ users: [PlanDocument.UserTotals]) throws -> Substring {
        guard !users.isEmpty else { return member(try JSONOutput.encode(Users(users: []))) }
        var out = TextBuffer(capacity: users.count * 180)
        out.append("  \"users\" : [\n")
        for (i, u) in users.enumerated() {
            out.append(i == 0 ? "    {\n" : ",\n    {\n")
            out.append("      \"already_present\" : "); out.append(u.alreadyPresent)
            out.append(",\n      \"offline_overlap\" : "); out.append(u.offlineOverlap)
            out.append(",\n      \"quarantined\" : "); out.append(u.quarantined)
            out.append(",\n      \"recovered\" : "); out.append(u.recovered)
            out.append(",\n      \"recovered_minutes\" : "); out.append(u.recoveredMinutes)
            out.append(",\n      \"user_id\" : "); out.append(u.userID)
            out.append("\n    }")
        }
        out.append("\n  ]")
        return Substring(out.text)
    }

    /// The plan document of `evidence`, its id not yet worked out.
    private static func document(_ evidence: PlanEvidence, totals facts: Totals, rowsHash: String) -> PlanDocument {
        PlanDocument(
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
                        count: evidence.recoveredCount, columns: PlanDocument.rowColumns),
            counts: facts.counts,
            recoveredMinutes: facts.recoveredMinutes,
            users: facts.users,
            completeness: .init(warnings: facts.warnings))
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

    /// Writes one report into `directory` (streamed, when it streams) and returns its SHA-256 and size.
    private static func write(
        _ report: ReportRenderer, plan: PlanDocument?, review: ReviewParts? = nil, _ evidence: PlanEvidence, into directory: String
    ) throws -> PlanFileOutput.Written {
        let path = directory + "/" + report.fileName
        if let streaming = report.streaming {
            return try writeStreamed(to: path) { out, flush in try streaming(evidence, &out, flush) }
        }
        let text = if let review, let renderReview = report.renderReview {
            renderReview(review, evidence)
        } else {
            report.needsDocument ? report.render(plan!, evidence) : report.renderEvidence!(evidence)
        }
        return try writeStreamed(to: path) { out, flush in
            out.append(text)
            try flush(&out)
        }
    }

    /// Writes the rows file in pieces of 4096 slots; returns its SHA-256 and size. One COPY line
    /// per recovered slot, in the resolver's order (sorted by key).
    static func writeRows(_ slots: [FoldedSlot], to path: String) throws -> PlanFileOutput.Written {
        let output = try PlanFileOutput(path: path, direct: true)
        let rows = PieceMemory(capacity: 1 << 20), records = PieceMemory(capacity: 1 << 20)
        var text = RepeatedText()
        var start = 0
        while start < slots.count {
            let end = min(slots.count, start + 4096)
            rows.count = 0
            records.count = 0
            RecoveredCSV.put(slots, start..<end, text: &text, rows: rows, csv: records)
            try rows.withBytes { try output.write($0) }
            start = end
        }
        return try output.finish()
    }

    /// Creates the file at `path` and lets `body` fill it through a buffer it hands to `flush`
    /// whenever it likes (each flush writes the buffer and empties it); returns the file's
    /// SHA-256 and size.
    static func writeStreamed(
        to path: String,
        _ body: (inout TextBuffer, (inout TextBuffer) throws -> Void) throws -> Void
    ) throws -> PlanFileOutput.Written {
        let output = try PlanFileOutput(path: path, direct: true)
        var buffer = TextBuffer(capacity: (1 << 20) + 4096)
        try body(&buffer) { out in
            try out.bytes.withUnsafeBytes { try output.write($0) }
            out.bytes.removeAll(keepingCapacity: true)
        }
        return try output.finish()
    }
}

/// A file written in pieces that any thread makes: piece `i` is written (and hashed) once every
/// piece before it is, by the thread that hands over the piece that completes the run, while the
/// others go on making pieces. A piece `window` or more after the next one to be written waits
/// for its memory until the pieces before it are written, so that a slow disk does not leave most
/// of the file in memory; the next piece to be written never waits. Sendable: `ready`, `next`,
/// `writing`, `spare` and `failure` are touched only under `lock`; the output only by the thread
/// that set `writing`.
final class PieceFile: @unchecked Sendable {
    let path: String
    private let pieces: Int
    private let output: PlanFileOutput
    private let lock = NSCondition()
    static let window = 4
    private var ready: [Int: PieceMemory] = [:]
    private var next = 0
    private var writing = false
    /// Memory of pieces written, emptied, for the next pieces.
    private var spare: [PieceMemory] = []
    private var failure: (any Error)?

    init(path: String, pieces: Int) throws {
        self.path = path
        self.pieces = pieces
        output = try PlanFileOutput(path: path, direct: true)
    }

    /// Empty memory to make piece `index` in (a written piece's, when there is one).
    func memory(for index: Int) -> PieceMemory {
        lock.lock()
        defer { lock.unlock() }
        while index >= next + Self.window && failure == nil { lock.wait() }
        return spare.popLast() ?? PieceMemory(capacity: (1 << 20) + (1 << 16))
    }

    /// Ends the file with `error`: a piece that cannot be made. The pieces after it are not written.
    func fail(_ error: any Error) {
        lock.lock()
        if failure == nil { failure = error }
        lock.broadcast()
        lock.unlock()
    }

    /// Hands piece `index` over. Writes it, and the pieces after it that are ready, when it is
    /// the next to be written and no other thread is writing; throws what writing it met.
    func add(_ index: Int, _ piece: PieceMemory) throws {
        lock.lock()
        ready[index] = piece
        guard !writing else { return lock.unlock() }
        writing = true
        var met: (any Error)?
        while met == nil, failure == nil, let piece = ready.removeValue(forKey: next) {
            next += 1
            lock.unlock()
            do {
                try piece.withBytes { try output.write($0) }
            } catch {
                met = error
            }
            piece.count = 0
            lock.lock()
            spare.append(piece)
            lock.broadcast()
        }
        if let met { failure = met }
        writing = false
        lock.broadcast()
        lock.unlock()
        if let met { throw met }
    }

    /// The file's SHA-256 and size, once every piece is written.
    func finish() throws -> PlanFileOutput.Written {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        precondition(next == pieces && ready.isEmpty, "a piece of \(path) was not written")
        return try output.finish()
    }
}

/// The `RepeatedText`s of the threads making pieces, kept from piece to piece so that what each
/// made once serves the next pieces. Sendable: `texts` is only touched under `lock`, and a text
/// taken is used by the one thread that took it until it gives it back.
private final class RowTextPool: @unchecked Sendable {
    private let lock = NSLock()
    private var texts: [RepeatedText] = []

    func take() -> RepeatedText {
        lock.lock()
        defer { lock.unlock() }
        return texts.popLast() ?? RepeatedText()
    }

    func give(_ text: RepeatedText) {
        lock.lock()
        texts.append(text)
        lock.unlock()
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
    /// For a human report: the report from the review made once for both (`ReviewParts`).
    var renderReview: (@Sendable (ReviewParts, PlanEvidence) -> String)?

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

    init(fileName: String, review render: @escaping @Sendable (ReviewParts, PlanEvidence) -> String) {
        self.init(fileName: fileName) { document, evidence in render(ReviewParts(document, evidence), evidence) }
        self.renderReview = render
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

/// What `report.md` and `report.html` are made from, made once for both: the review's content and
/// the timeline's SVG.
struct ReviewParts: Sendable {
    var content: ReviewContent
    var timeline: String

    init(_ document: PlanDocument, _ evidence: PlanEvidence) {
        content = ReviewContent(document, evidence)
        timeline = TimelineSVG(evidence).render()
    }

    /// The parts for `document`, the one these were made from with its plan id and rows hash in
    /// (`ReviewContent.completed(by:_:)`).
    func completed(by document: PlanDocument, _ evidence: PlanEvidence) -> ReviewParts {
        var parts = self
        parts.content = content.completed(by: document, evidence)
        return parts
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
