import Foundation
import Logging
import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard error when it is a terminal: one status line (a stage's progress) kept at the bottom,
/// and whole lines (log lines, warnings) written above it, so that neither breaks the other.
/// There is one standard error per process, hence one instance; the lock makes it Sendable.
final class StatusLine: @unchecked Sendable {
    // Sendable: `drawn` is only read and written under `lock`.
    static let standardError = StatusLine(isTerminal: isatty(2) == 1)

    let isTerminal: Bool
    private let lock = NSLock()
    private var drawn = ""
    /// Set by `close()`: nothing is drawn any more.
    private var closed = false
    /// When a measured progress (bytes of a file, of a COPY) last drew the line.
    private var measuredAt = Date.distantPast

    init(isTerminal: Bool) { self.isTerminal = isTerminal }

    /// Replaces the status line with `text` (one line, no newline); nothing when not a terminal.
    func draw(_ text: String) {
        guard isTerminal else { return }
        lock.withLock {
            guard !closed else { return }
            drawn = VisibleText.escaped(text)
            measuredAt = Date()
            StandardStreams.progressLine(text)
        }
    }

    /// Like `draw`, unless a measured progress drew in the last 1.5 s (it says more).
    func drawIfIdle(_ text: String) {
        guard isTerminal else { return }
        lock.withLock {
            guard !closed, Date().timeIntervalSince(measuredAt) > 1.5 else { return }
            drawn = VisibleText.escaped(text)
            StandardStreams.progressLine(text)
        }
    }

    /// Removes the status line.
    func clear() {
        guard isTerminal else { return }
        lock.withLock {
            if !drawn.isEmpty { Self.raw("\r\u{1B}[K") }
            drawn = ""
        }
    }

    /// Removes the status line for good, as the process ends by a signal: the shell's prompt then
    /// starts a clean line. Skipped when another thread is writing the line, or the terminal does
    /// not take output now: waiting for either would keep the process from ending.
    func close() {
        guard isTerminal, lock.try() else { return }
        defer { lock.unlock() }
        // Only when the terminal takes output now: one whose output is stopped (Ctrl-S) would
        // keep the process waiting too.
        var ready = pollfd(fd: 2, events: Int16(POLLOUT), revents: 0)
        if !drawn.isEmpty, poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLOUT) != 0 { Self.raw("\r\u{1B}[K") }
        drawn = ""
        closed = true
    }

    /// Writes `line` (and a newline) on standard error above the status line, then redraws it.
    func write(line: String) {
        lock.withLock {
            let clear = isTerminal && !drawn.isEmpty ? "\r\u{1B}[K" : ""
            Self.raw(clear + VisibleText.escaped(line) + "\n" + (clear.isEmpty ? "" : drawn))
        }
    }

    /// Writes `text` as it is: the tool's own control sequences around text already escaped.
    private static func raw(_ text: String) {
        StandardStreams.writeError(text)
    }
}

/// Shows a long stage that has no measure of its own (fold, resolve, an INSERT, verify) as
/// `LABEL: N s` on the status line, redrawn every second until `stop()`.
final class StageTicker: @unchecked Sendable {
    // Sendable: `label` and `start` are only touched under `lock`; the timer runs on its own queue.
    private let lock = NSLock()
    private var label: String?
    private var start = Date()
    private let timer: DispatchSourceTimer?
    private let line: StatusLine
    /// False with `--quiet` or off a terminal: nothing is drawn.
    private let enabled: Bool

    init(line: StatusLine, enabled: Bool) {
        self.line = line
        self.enabled = enabled && line.isTerminal
        guard self.enabled else {
            timer = nil
            return
        }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "recover-tool.progress"))
        timer.schedule(deadline: .now() + 1, repeating: 1)
        self.timer = timer
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
    }

    /// Shows `label` from now on; nil hides the ticker (another progress draws the line).
    func show(_ label: String?) {
        lock.withLock {
            self.label = label
            start = Date()
        }
        if enabled, let label { line.drawIfIdle("\(label): 0 s") }
    }

    private func tick() {
        guard let text = lock.withLock({ label.map { "\($0): \(Int(Date().timeIntervalSince(start))) s" } }) else { return }
        line.drawIfIdle(text)
    }

    func stop() {
        timer?.cancel()
        lock.withLock { label = nil }
        line.clear()
    }
}

/// swift-log lines on standard error: `2026-12-02T04:24:57.123Z debug recover-tool: MESSAGE key=value`,
/// in UTC whatever the machine's zone, written above the status line.
struct UTCLogHandler: LogHandler {
    let label: String
    let line: StatusLine
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        // Always three fraction digits (RFC 3339 text drops trailing zeros): every line the same width.
        let milliseconds = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let whole = Timestamp(microseconds: milliseconds / 1000 * 1_000_000).rfc3339.dropLast()
        let time = whole + "." + String(format: "%03d", Int(milliseconds % 1000)) + "Z"
        var all = metadata
        if let more = event.metadata { all.merge(more) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        line.write(line: "\(time) \(event.level) \(label): \(event.message)" + (fields.isEmpty ? "" : " " + fields))
    }
}
