import Foundation
import RecoveryModel

/// A reconcile plan directory read back for `apply`: `plan.json` parsed and checked against its
/// plan id, and both rows files against their recorded hashes and counts.
public struct ReconcileDirectory: Sendable {
    public var path: String
    public var document: ReconcileDocument
    public var rowsPath: String
    public var membershipsPath: String

    /// `"reconcile"` or `"recover"` (a plan without `kind` is a recovery plan): which loader reads it.
    public static func kind(of path: String) -> String? {
        guard let bytes = try? RegularFile.contents(of: path + "/plan.json", limit: PlanDirectory.maximumPlanJSONBytes),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        return object["kind"] as? String ?? "recover"
    }

    public static func load(_ path: String) throws -> ReconcileDirectory {
        let planPath = path + "/plan.json"
        let data: Data
        do {
            // Only a regular file of a plan's size, as `PlanDirectory.load` reads one.
            data = Data(try RegularFile.contents(of: planPath, limit: PlanDirectory.maximumPlanJSONBytes))
        } catch {
            throw PlanError(.notAPlan, path: path, detail: "cannot read plan.json: \(error.reason)")
        }
        let document: ReconcileDocument
        do {
            document = try PlanJSON.decoder.decode(ReconcileDocument.self, from: data)
        } catch {
            throw PlanError(.notAPlan, path: path, detail: "plan.json does not parse as a reconcile plan (\(error.localizedDescription))")
        }
        guard document.format == PlanDocument.formatName, document.kind == ReconcileDocument.kind else {
            throw PlanError(.notAPlan, path: path, detail: "format is '\(document.format)' of kind '\(document.kind)', not a reconcile plan")
        }
        guard document.formatVersion == PlanDocument.currentVersion else {
            throw PlanError(.notAPlan, path: path, detail: "format version \(document.formatVersion) is not \(PlanDocument.currentVersion)")
        }
        guard document.job.window != nil else {
            throw PlanError(.tampered, path: path, detail: "the job window in plan.json is not valid")
        }
        guard document.computePlanID() == document.planID else {
            throw PlanError(.tampered, path: path, detail: "plan.json does not match its plan id \(document.planID)")
        }
        guard document.rows.file == PlanDocument.rowsFileName, document.rows.columns == ReconcileDocument.rowColumns,
              document.memberships.file == ReconcileDocument.membershipsFileName,
              document.memberships.columns == ReconcileDocument.membershipColumns else {
            throw PlanError(.tampered, path: path, detail: "the rows file entries are not the ones this tool writes")
        }
        try PlanFile.checkDirectory(path, rows: [document.rows, document.memberships], files: document.files)
        return ReconcileDirectory(
            path: path, document: document, rowsPath: path + "/" + document.rows.file,
            membershipsPath: path + "/" + document.memberships.file)
    }
}
