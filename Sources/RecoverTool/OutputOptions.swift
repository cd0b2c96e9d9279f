import ArgumentParser
import Foundation

/// `--json` and the progress line, shared by the subcommands that report.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object on standard output instead of text.")
    var json = false

    @Flag(help: "No progress line on standard error.")
    var quiet = false

    /// Prints `value` as pretty JSON with sorted keys, or `text()` for people.
    func emit<Report: Encodable>(_ value: Report, text: () -> String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            StandardStreams.output(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
        } else {
            StandardStreams.output(text())
        }
    }

    /// A `(done, total)` callback that redraws one progress line on a terminal's standard error;
    /// nil when standard error is not a terminal or `--quiet` is given.
    func progress(_ label: String) -> (@Sendable (Int64, Int64) -> Void)? {
        guard !quiet, isatty(2) == 1 else { return nil }
        let line = ProgressLine(label: label)
        return { done, total in line.update(done, total) }
    }

    /// Clears the progress line, if one was drawn.
    func endProgress() {
        if !quiet && isatty(2) == 1 { StandardStreams.error("\r\u{1B}[K") }
    }
}

/// One line, redrawn when the percentage changes.
final class ProgressLine: @unchecked Sendable {
    // Sendable: `shown` is only touched under `lock`; `label` never changes.
    private let lock = NSLock()
    private var shown = -1
    let label: String

    init(label: String) { self.label = label }

    func update(_ done: Int64, _ total: Int64) {
        let percent = total > 0 ? Int(done * 100 / total) : 100
        lock.lock()
        defer { lock.unlock() }
        guard percent != shown else { return }
        shown = percent
        StandardStreams.error("\r\(label): \(percent)% of \(Self.megabytes(total))")
    }

    static func megabytes(_ bytes: Int64) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }
}
