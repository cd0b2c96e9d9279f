import Foundation
import RecoveryModel

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
        // Rows: one COPY line per recovered slot, sorted by key (the resolver's order).
        var rowsHash = SHA256()
        var rowsText = ""
        rowsText.reserveCapacity(evidence.resolution.recovered.count * 120)
        for folded in evidence.resolution.recovered {
            rowsText += RowsFileFormat.line(folded)
        }
        rowsHash.update(rowsText)
        try Data(rowsText.utf8).write(to: URL(fileURLWithPath: directory + "/" + PlanDocument.rowsFileName))

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
            rows: .init(file: PlanDocument.rowsFileName, sha256: rowsHash.finalize(),
                        count: evidence.resolution.recovered.count, columns: PlanDocument.rowColumns),
            counts: evidence.counts,
            recoveredMinutes: evidence.recoveredMinutes,
            users: evidence.userTotals,
            completeness: .init(warnings: evidence.completenessWarnings))
        document.planID = document.computePlanID()

        var files = [PlanDocument.rowsFileName]
        for report in ReportRenderers.all {
            let text = report.render(document, evidence)
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/" + report.fileName))
            files.append(report.fileName)
        }
        // plan.json last: a directory with a plan.json is a finished plan.
        try Data(PlanJSON.encode(document).utf8).write(to: URL(fileURLWithPath: planPath))
        files.append("plan.json")
        return Output(document: document, files: files)
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
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
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
