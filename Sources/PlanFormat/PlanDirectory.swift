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
        let rowsPath = path + "/" + document.rows.file
        let (digest, lines) = try hashFile(rowsPath, planPath: path)
        guard digest == document.rows.sha256 else {
            throw PlanError(.tampered, path: path, detail: "\(document.rows.file) has SHA-256 \(digest), the plan recorded \(document.rows.sha256)")
        }
        guard lines == document.rows.count else {
            throw PlanError(.tampered, path: path, detail: "\(document.rows.file) has \(lines) rows, the plan recorded \(document.rows.count)")
        }
        return PlanDirectory(path: path, document: document, rowsPath: rowsPath)
    }

    /// SHA-256 and newline count of a file, read in 1 MiB pieces.
    static func hashFile(_ file: String, planPath: String) throws -> (String, Int) {
        let name = (file as NSString).lastPathComponent
        let hash = SHA256()
        var lines = 0
        do {
            let handle = try RegularFile(file)
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { chunk.deallocate() }
            while true {
                let n = try handle.read(into: chunk)
                if n == 0 { break }
                let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<n])
                hash.update(bytes)
                lines += bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            }
        } catch {
            throw PlanError(.tampered, path: planPath, detail: error.code == ENOENT ? "\(name) is missing" : "cannot read \(name): \(error.reason)")
        }
        return (hash.finalize(), lines)
    }
}
