import Foundation
import RecoveryModel
import SlotFold

/// Writes a plan directory: `rows.tsv`, `plan.json`, and the reviewer's reports. Writes nothing
/// outside `directory`; refuses a directory that already holds a plan.
public enum PlanWriter {
    public struct Output: Sendable {
        public var document: PlanDocument
        /// Every file written, relative to the directory.
        public var files: [String]
    }

    public static func write(_ evidence: PlanEvidence, to directory: String) throws -> Output {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let planPath = directory + "/plan.json"
        guard !fm.fileExists(atPath: planPath) else {
            throw PlanError(.exists, path: planPath, detail: "a plan is already there; choose a new --out directory")
        }
        let rowsHash = try writeRows(evidence.resolution.recovered, to: directory + "/" + PlanDocument.rowsFileName)

        var document = PlanDocument(
            format: PlanDocument.formatName,
            formatVersion: PlanDocument.currentVersion,
            planID: "",
            createdAt: evidence.createdAt.rfc3339,
            toolVersion: evidence.toolVersion,
            window: .init(evidence.window),
            shard: evidence.shard,
            database: evidence.database,
            inputs: evidence.inputs,
            rows: .init(file: PlanDocument.rowsFileName, sha256: rowsHash,
                        count: evidence.resolution.recovered.count, columns: PlanDocument.rowColumns),
            counts: evidence.counts,
            recoveredMinutes: evidence.recoveredMinutes,
            users: evidence.userTotals,
            completeness: .init(warnings: evidence.completenessWarnings))
        document.planID = document.computePlanID()

        // The reports are independent of each other: render them on every core.
        let reports = ReportRenderers.all
        let failures = FailureBox()
        let plan = document
        DispatchQueue.concurrentPerform(iterations: reports.count) { i in
            let text = reports[i].render(plan, evidence)
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/" + reports[i].fileName))
            } catch {
                failures.set(i, PlanError(.cannotWrite, path: directory + "/" + reports[i].fileName, detail: "\(error.localizedDescription)"))
            }
        }
        if let failure = failures.first { throw failure }
        let files = [PlanDocument.rowsFileName] + reports.map(\.fileName) + ["plan.json"]
        // plan.json last: a directory with a plan.json is a finished plan.
        try Data(PlanJSON.encode(document).utf8).write(to: URL(fileURLWithPath: planPath))
        return Output(document: document, files: files)
    }

    /// Writes the rows file in 1 MiB pieces, hashing as it goes; returns its SHA-256. One COPY
    /// line per recovered slot, in the resolver's order (sorted by key).
    static func writeRows(_ slots: [FoldedSlot], to path: String) throws -> String {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw PlanError(.cannotWrite, path: path, detail: "cannot create the file")
        }
        defer { try? handle.close() }
        let hash = SHA256()
        var buffer = TextBuffer(capacity: (1 << 20) + 4096)
        func flush() throws {
            buffer.bytes.withUnsafeBytes { hash.update($0) }
            try handle.write(contentsOf: buffer.bytes)
            buffer.bytes.removeAll(keepingCapacity: true)
        }
        for i in slots.indices {
            RowsFileFormat.append(slots[i], to: &buffer)
            if buffer.bytes.count >= 1 << 20 { try flush() }
        }
        try flush()
        return hash.finalize()
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

    public init(fileName: String, render: @escaping @Sendable (PlanDocument, PlanEvidence) -> String) {
        self.fileName = fileName
        self.render = render
    }
}

enum PlanJSON {
    static func encode(_ document: PlanDocument) throws -> String {
        try JSONOutput.encode(document)
    }

    static func decode(_ data: Data) throws -> PlanDocument {
        let decoder = JSONDecoder()
        // Not .convertFromSnakeCase: it reads `plan_id` as `planId`, which is not `planID`.
        decoder.keyDecodingStrategy = .custom { path in SnakeCaseKey(path.last!.stringValue) }
        return try decoder.decode(PlanDocument.self, from: data)
    }
}

/// A snake_case JSON key read back as the property name the encoder's `.convertToSnakeCase`
/// made it from: `plan_id` → `planID`, `format_version` → `formatVersion`.
private struct SnakeCaseKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ snake: String) {
        let words = snake.split(separator: "_", omittingEmptySubsequences: false)
        stringValue = words.enumerated().map { i, word in
            if i == 0 { return String(word) }
            return word == "id" ? "ID" : word.prefix(1).uppercased() + word.dropFirst()
        }.joined()
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { nil }
}
