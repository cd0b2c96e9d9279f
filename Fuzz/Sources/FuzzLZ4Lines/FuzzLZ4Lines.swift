import Foundation
import LogReplay
import RecoveryModel
import SourceFiles

/// Any bytes as an `.lz4` log file: the reader must deliver lines that fit in what it decoded,
/// report damage instead of trapping, and the replay must account for every line.
private let path = NSTemporaryDirectory() + "/fuzz-lz4-\(getpid()).log.lz4"
private let window = Window(from: Timestamp(seconds: 1_532_476_800), to: Timestamp(seconds: 1_532_563_200))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLZ4Lines(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data ?? UnsafePointer(bitPattern: 1)!, count: size)) else {
        return 0
    }
    do {
        let reader = try LineReader(path: path, maxLineLength: 4096)
        var delivered: Int64 = 0
        var count = 0
        let summary = try reader.forEachLine { bytes, line in
            count += 1
            precondition(line == count || line > count, "line numbers go forward")
            precondition(bytes.count <= 4096)
            delivered += Int64(bytes.count)
        }
        precondition(delivered + Int64(count) - 1 <= summary.bytes || count == 0)
        precondition(count + summary.overlongLines.count <= summary.lines)

        let result = try LogReplay(window: window, maxLineLength: 4096, threads: 1).read([path])
        let file = result.files[0]
        let accounted = file.events.total + file.otherEventCount + file.quarantinedLines
        precondition(accounted == file.lines, "every line is an event, another event or quarantined")
    } catch {
        // An unreadable file is a thrown error, not a crash.
    }
    return 0
}
