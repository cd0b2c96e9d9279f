import ArgumentParser
import Foundation
import Logging

/// `--quiet` and `--verbose`, for every subcommand: `--quiet` draws no progress line, `--verbose`
/// logs each stage or step and its time on standard error (swift-log).
struct LogOptions: ParsableArguments {
    @Flag(help: "No progress line on standard error.")
    var quiet = false

    @Flag(help: "Log each step (what it did, how long it took) on standard error.")
    var verbose = false

    /// Debug level with `--verbose`, warnings otherwise. Passed down, never global.
    var logger: Logger {
        var logger = Logger(label: "recover-tool") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }

    /// A `(done, total)` callback that redraws one progress line on a terminal's standard error;
    /// nil with `--quiet` or when standard error is not a terminal.
    func progress(_ label: String) -> (@Sendable (Int64, Int64) -> Void)? {
        guard !quiet, isatty(2) == 1 else { return nil }
        let line = ProgressLine(label: label)
        return { done, total in line.update(done, total) }
    }

    /// Clears the progress line, if one was drawn.
    func endProgress() {
        if !quiet && isatty(2) == 1 { StandardStreams.progressLine("") }
    }

    /// Runs `body` and logs (with `--verbose`) how long it took and the process's peak memory.
    func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        let value = try body()
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        logger.debug("stage done", metadata: [
            "stage": "\(stage)",
            "seconds": "\(String(format: "%.3f", Date().timeIntervalSince(start)))",
            "peak_rss_mb": "\(usage.ru_maxrss / 1024)",
        ])
        return value
    }
}
