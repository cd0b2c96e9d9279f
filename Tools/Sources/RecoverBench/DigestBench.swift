import ArgumentParser
import Foundation
import RecoveryModel

/// `recover-bench digest FILE`: the SHA-256 that plans record for every input and rows file,
/// against `sha256sum` on the same file in the same run.
struct DigestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest", abstract: "SHA-256 of a file: recover-tool's against sha256sum.")

    @Argument(help: "A file to hash (read once first so both runs read from the page cache).")
    var file: String

    func run() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
        let start = Date()
        let hash = SHA256()
        var offset = 0
        while offset < data.count {
            let end = min(offset + (1 << 20), data.count)
            data[offset..<end].withUnsafeBytes { hash.update($0) }
            offset = end
        }
        let digest = hash.finalize()
        let ours = Date().timeIntervalSince(start)
        let toolStart = Date()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", file]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let theirs = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        p.waitUntilExit()
        let tool = Date().timeIntervalSince(toolStart)
        let mb = Double(data.count) / 1_000_000
        print(String(format: "bytes %d\nsha256sum %.3f s (%.0f MB/s)\nrecover-tool %.3f s (%.0f MB/s), %.2fx the time\nsame digest %@",
                     data.count, tool, mb / tool, ours, mb / ours, ours / tool, digest == theirs ? "yes" : "NO"))
    }
}
