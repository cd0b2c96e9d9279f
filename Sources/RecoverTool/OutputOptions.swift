import ArgumentParser
import Foundation
import Logging
import RecoveryModel

/// `--json`, with `--quiet` and `--verbose` (`LogOptions`), shared by every subcommand.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object on standard output instead of text, with format_version; on failure, an error object.")
    var json = false

    @OptionGroup var log: LogOptions

    var logger: Logger { log.logger }

    /// Prints `value` as a `--json` output (its fields and `format_version`), or `text()` for people.
    func emit<Report: Encodable>(_ value: Report, text: () -> String) throws {
        if json {
            StandardStreams.output(try JSONOutput.output(value))
        } else {
            StandardStreams.output(text())
        }
    }

    /// Prints `value` as `emit` does, then throws `failure`; with `--json` the output carries the
    /// error object too, and `failure` reaches `main` as already reported.
    func emit<Report: Encodable>(_ value: Report, failing failure: any Error, text: () -> String) throws -> Never {
        guard json else {
            StandardStreams.output(text())
            throw failure
        }
        StandardStreams.output(try JSONOutput.output(value, error: RecoverTool.describe(failure).json))
        throw ReportedFailure(error: failure)
    }

    func progress(_ label: String) -> (@Sendable (Int64, Int64) -> Void)? { log.progress(label) }

    func endProgress() { log.endProgress() }
}

/// One line, redrawn at most ten times a second: bytes done of the total, speed, time left.
final class ProgressLine: @unchecked Sendable {
    // Sendable: the mutable state is only touched under `lock`; `label` and `start` never change.
    private let lock = NSLock()
    private var lastDraw = 0.0
    let label: String
    let start = Date()

    init(label: String) { self.label = label }

    func update(_ done: Int64, _ total: Int64) {
        lock.lock()
        defer { lock.unlock() }
        let elapsed = Date().timeIntervalSince(start)
        guard elapsed - lastDraw >= 0.1 || done >= total else { return }
        lastDraw = elapsed
        let percent = total > 0 ? Int(done * 100 / total) : 100
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        StatusLine.standardError.draw(
            "\(label): \(percent)% of \(Self.megabytes(total)), \(Self.megabytes(Int64(rate)))/s, \(Int(left.rounded())) s left")
    }

    static func megabytes(_ bytes: Int64) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}
