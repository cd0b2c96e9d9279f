import Foundation
import PlanFormat
import RecoveryModel

#if canImport(Glibc)
import Glibc
#endif

/// One input: a plan directory as bytes, `plan.json` then a NUL byte then `rows.tsv`. Loads it
/// as `apply` does (`PlanDirectory.load`), which must refuse or accept, never crash. Then, as an
/// attacker who edits a plan would, recomputes the rows file's hash and count and the plan id
/// and loads again: that must be accepted, and hand back the same document.
private let directory: String = {
    let path = "/tmp/fuzz-plan-loader-\(getpid())"
    mkdir(path, 0o700)
    return path
}()

private func put(_ bytes: ArraySlice<UInt8>, _ name: String) {
    let path = directory + "/" + name
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path)") }
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            guard n > 0 else { fatalError("cannot write \(path)") }
            offset += n
        }
    }
    close(fd)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPlanLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let json = bytes[..<split]
    let rows = split < bytes.count ? bytes[(split + 1)...] : []
    put(json, "plan.json")
    put(rows, PlanDocument.rowsFileName)
    _ = try? PlanDirectory.load(directory)

    guard var document = try? PlanJSON.decode(Data(json)) else { return 0 }
    let hash = SHA256()
    hash.update(rows)
    document.rows.sha256 = hash.finalize()
    document.rows.count = rows.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    document.planID = document.computePlanID()
    guard let text = try? PlanJSON.encode(document) else { return 0 }
    put(ArraySlice(text.utf8), "plan.json")
    do {
        let loaded = try PlanDirectory.load(directory)
        guard loaded.document.planID == document.planID else { fatalError("the plan id changed on the way back") }
    } catch {
        // Refused for a reason the recomputation does not fix (format, version, window, rows
        // entry): fine, as long as it is a refusal.
    }
    return 0
}
