import Foundation
import RecoveryModel

/// A plan directory read back for `apply`: `plan.json` parsed and checked, and the rows file
/// checked against its recorded hash and count. Anything changed, cut or foreign is refused.
public struct PlanDirectory: Sendable {
    public var path: String
    public var document: PlanDocument
    public var rowsPath: String

    /// plan.json larger than this is not one this tool wrote (a plan of 1M users is about 100 MB).
    static let maximumPlanJSONBytes = 256 << 20

    public static func load(_ path: String) throws -> PlanDirectory {
        let planPath = path + "/plan.json"
        let data: Data
        do {
            // Only a regular file, opened without blocking: a FIFO or a device is refused, not waited on.
            data = Data(try RegularFile.contents(of: planPath, limit: maximumPlanJSONBytes))
        } catch {
            throw PlanError(.notAPlan, path: path, detail: "cannot read plan.json: \(error.reason)")
        }
        let document: PlanDocument
        do {
            document = try PlanJSON.decode(data)
        } catch {
            throw PlanError(.notAPlan, path: path, detail: "plan.json does not parse as a plan (\(PlanJSON.reason(error)))")
        }
        guard document.format == PlanDocument.formatName else {
            throw PlanError(.notAPlan, path: path, detail: "format is '\(document.format)', not '\(PlanDocument.formatName)'")
        }
        guard document.formatVersion == PlanDocument.currentVersion else {
            throw PlanError(.notAPlan, path: path, detail: "format version \(document.formatVersion) is not \(PlanDocument.currentVersion)")
        }
        guard document.window.window != nil else {
            throw PlanError(.tampered, path: path, detail: "the window in plan.json is not valid")
        }
        guard document.computePlanID() == document.planID else {
            throw PlanError(.tampered, path: path, detail: "plan.json does not match its plan id \(document.planID)")
        }
        guard document.rows.file == PlanDocument.rowsFileName, document.rows.columns == PlanDocument.rowColumns else {
            throw PlanError(.tampered, path: path, detail: "the rows file entry is not the one this tool writes")
        }
        let counts = document.counts
        guard [counts.recovered, counts.alreadyPresent, counts.offlineOverlap, counts.deleted, counts.orphans, counts.duplicates,
               counts.quarantined].allSatisfy({ $0 >= 0 }) else {
            throw PlanError(.tampered, path: path, detail: "plan.json holds a negative count")
        }
        guard counts.recovered == document.rows.count else {
            throw PlanError(
                .tampered, path: path,
                detail: "plan.json counts \(counts.recovered) recovered slots, rows.tsv holds \(document.rows.count) according to it")
        }
        try PlanFile.checkDirectory(path, rows: [document.rows], files: document.files)
        // rows.count is now the file's: at most 10 minutes a slot.
        guard (0...10 * counts.recovered).contains(document.recoveredMinutes) else {
            throw PlanError(.tampered, path: path, detail: "plan.json's recovered minutes (\(document.recoveredMinutes)) are not those of its slots")
        }
        let rowsPath = path + "/" + document.rows.file
        return PlanDirectory(path: path, document: document, rowsPath: rowsPath)
    }
}
