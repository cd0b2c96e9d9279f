import ArgumentParser
import Foundation
import Logging
import PlanPipeline

/// `--quiet` and `--verbose`, for every subcommand: `--quiet` draws no progress line, `--verbose`
/// logs each stage or step and its time on standard error (swift-log).
struct LogOptions: ParsableArguments {
    @Flag(name: [.long, .customShort("q")], help: "No progress line on standard error.")
    var quiet = false

    @Flag(name: [.long, .customShort("v")], help: "Log each step (what it did, how long it took) on standard error, in UTC.")
    var verbose = false

    /// Debug level with `--verbose`, warnings otherwise; lines in UTC, above the progress line.
    /// Passed down, never global.
    var logger: Logger {
        var logger = Logger(label: "recover-tool") { UTCLogHandler(label: $0, line: .standardError) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }

    /// A `(done, total)` callback that redraws one progress line on a terminal's standard error;
    /// nil with `--quiet` or when standard error is not a terminal.
    func progress(_ label: String) -> (@Sendable (Int64, Int64) -> Void)? {
        guard !quiet, StatusLine.standardError.isTerminal else { return nil }
        let line = ProgressLine(label: label)
        return { done, total in line.update(done, total) }
    }

    /// Clears the progress line, if one was drawn.
    func endProgress() {
        StatusLine.standardError.clear()
    }

    /// A ticker for stages without a measure of their own (`LABEL: N s`); silent with `--quiet`
    /// or when standard error is not a terminal. Stop it when done.
    func ticker() -> StageTicker {
        StageTicker(line: .standardError, enabled: !quiet)
    }

    /// Runs `body` and logs (with `--verbose`) how long it took and the process's peak memory.
    /// Meanwhile a terminal shows `STAGE: N s` (unless a measured progress line is drawing).
    func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
        let start = Date()
        let ticker = ticker()
        ticker.show(stage)
        defer { ticker.stop() }
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

/// The pipeline's stages are timed and drawn as every other step is.
extension LogOptions: StageObserver {}
