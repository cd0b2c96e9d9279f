import ArgumentParser
import Foundation
import PostgresClient
import RecoveryModel

/// A failure the executable itself decides (a missing `--yes`, incomplete evidence), with its status.
struct CommandFailure: ToolError {
    var exitStatus: ExitStatus
    var code: String
    var message: String
    var hint: String?

    init(_ status: ExitStatus, code: String, _ message: String, hint: String? = nil) {
        self.exitStatus = status
        self.code = "command_\(code)"
        self.message = message
        self.hint = hint
    }
}

/// A subcommand with `--json`: on failure, standard output gets the JSON error object.
protocol JSONReporting {
    var output: OutputOptions { get }
}

extension Scan: JSONReporting {}
extension Diff: JSONReporting {}
extension Plan: JSONReporting {}
extension ReconcileCommand: JSONReporting {}
extension Combine: JSONReporting {}
extension Apply: JSONReporting {}
extension Verify: JSONReporting {}
extension Revert: JSONReporting {}
extension Runs: JSONReporting {}
extension Show: JSONReporting {}
extension Explain: JSONReporting {}

extension RecoverTool {
    /// Runs the command; any failure becomes one `recover-tool: error: ...` line on standard error
    /// and its `ExitStatus`. Help and `--version` print as usual and exit 0.
    static func main() {
        keepHelpWidthUsable()
        var json = CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
        do {
            if let repeated = ArgumentChecks.repeatedOption(in: CommandLine.arguments.dropFirst()) {
                throw ValidationError(repeated)
            }
            var command = try parseAsRoot()
            json = (command as? JSONReporting)?.output.json ?? false
            if let command = command as? DatabaseCommand { PasswordPrompt.askIfNeeded(for: command) }
            try command.run()
            exitIfOutputFailed()
        } catch let code as ExitCode {
            exitIfOutputFailed()
            Foundation.exit(code.rawValue)
        } catch {
            TemporaryPaths.waitIfEnding()
            var error = error
            if let reported = error as? ReportedFailure {
                error = reported.error
                json = false  // its result, with the error object, is already on standard output
            }
            if exitCode(for: error) == .success { exit(withError: error) }  // help, --version
            let failure = describe(error)
            printError(failure.line)
            if json { StandardStreams.output(JSONOutput.failure(failure.json)) }
            Foundation.exit(failure.status.rawValue)
        }
    }

    /// The narrowest help and usage text: swift-argument-parser wraps them at `COLUMNS`, else
    /// the terminal's width, and traps (in a debug build) below about 26 columns.
    static let narrowestHelp = 40

    /// Sets `COLUMNS` to `narrowestHelp` when it, or else the terminal, is narrower (0 and
    /// negative included), before the parser reads it.
    private static func keepHelpWidthUsable() {
        var width = ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if width == nil {
            var size = winsize()
            if ioctl(1, UInt(TIOCGWINSZ), &size) == 0 { width = Int(size.ws_col) }
        }
        if let width, width < narrowestHelp { setenv("COLUMNS", String(narrowestHelp), 1) }
    }

    /// A result that could not be written to standard output (a full disk, a pipe closed with
    /// SIGPIPE ignored) is a failure, said on standard error; what the command did is done.
    private static func exitIfOutputFailed() {
        guard let code = StandardStreams.outputFailure else { return }
        printError("cannot write to standard output: \(String(cString: strerror(code)))")
        Foundation.exit(ExitStatus.failure.rawValue)
    }

    /// A failure's exit status, its error line and its `--json` error object: every error is
    /// rendered here. A library's error says all three itself (`ToolError`); a parser error is a
    /// usage error.
    static func describe(_ error: any Error) -> (status: ExitStatus, line: String, json: JSONError) {
        if let error = error as? any ToolError {
            return (error.exitStatus, error.line, JSONError(code: error.code, message: error.message, hint: error.hint))
        }
        if exitCode(for: error) == .validationFailure {
            var message = message(for: error)
            if let first = message.first { message = first.lowercased() + message.dropFirst() }
            let hint = "see 'recover-tool help'"
            return (.usage, message + "; " + hint, JSONError(code: "usage", message: message, hint: hint))
        }
        let line = String(describing: error)
        return (.failure, line, JSONError(code: "failure", message: line, hint: nil))
    }
}

/// A failure whose command already printed its result with the error object in it (`--json`):
/// `main` prints the error line and exits with its status, and no second JSON value.
struct ReportedFailure: Error {
    var error: any Error
}

/// Writes `recover-tool: error: LINE` on standard error, as one line.
func printError(_ line: String) {
    // The last gate: no message leaves with a password in it, whatever produced it.
    let flat = ConnectionInfo.redactingSecrets(in: line.split(whereSeparator: \.isNewline).joined(separator: " "))
    StandardStreams.writeError("recover-tool: error: \(VisibleText.escaped(flat))\n")
}

/// Writes to standard output and error with `write(2)`: `FileHandle`'s `write` traps on an error,
/// and the C globals are not concurrency-safe in Swift 6. Everything written passes
/// `VisibleText`: no text from an input can drive the terminal.
enum StandardStreams {
    /// Writes `text` on standard output. A write that fails is remembered (`outputFailure`) and
    /// the later ones are not tried: `main` ends with the error, not with a trap.
    static func output(_ text: String) {
        guard outputFailure == nil else { return }
        if let code = writeAll(VisibleText.escaped(text, keepingLayout: true), to: 1) { firstOutputFailure.set(code) }
    }

    /// The `errno` of the first write to standard output that failed, if one did.
    static var outputFailure: Int32? { firstOutputFailure.value }
    private static let firstOutputFailure = FirstError()

    static func error(_ text: String) {
        writeError(VisibleText.escaped(text, keepingLayout: true))
    }

    /// Redraws the progress line: `\r`, the tool's own clear-line sequence, then `text` escaped.
    static func progressLine(_ text: String) {
        writeError("\r\u{1B}[K" + VisibleText.escaped(text))
    }

    /// Writes `text` (already escaped) on standard error, ignoring a failure: there is nowhere
    /// left to report it, and a terminal that is gone (`EIO` once it hung up, the session's shell
    /// keeping the process) must not end a plan in the middle of its work.
    static func writeError(_ text: String) {
        _ = writeAll(text, to: 2)
    }

    /// Writes all of `text` to `fd`; the `errno` of a failed write, or nil.
    static func writeAll(_ text: String, to fd: Int32) -> Int32? {
        var text = text
        return text.withUTF8 { bytes -> Int32? in
            guard let base = bytes.baseAddress else { return nil }
            var done = 0
            while done < bytes.count {
                let n = write(fd, base + done, bytes.count - done)
                if n > 0 {
                    done += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return n < 0 ? errno : EIO
                }
            }
            return nil
        }
    }

    /// The first error recorded, for any thread.
    private final class FirstError: @unchecked Sendable {
        // Sendable: `code` is only touched under `lock`.
        private let lock = NSLock()
        private var code: Int32?

        var value: Int32? { lock.withLock { code } }

        func set(_ error: Int32) { lock.withLock { if code == nil { code = error } } }
    }
}

extension ExitStatus {
    /// One line per status for `recover-tool --help` and the man page: `  70  the plan was refused ...`.
    static var helpList: String {
        allCases.map { status in
            let number = String(status.rawValue)
            return "  " + number + String(repeating: " ", count: max(1, 4 - number.count)) + status.meaning
        }.joined(separator: "\n")
    }

    /// What the status means, in a few words for the help (an installed binary has no docs/).
    var meaning: String {
        switch self {
        case .success: "done (plan --detailed-exitcode: nothing to recover)"
        case .failure: "failed, or a confirmation answered with anything but 'yes'"
        case .somethingToRecover: "plan --detailed-exitcode: there is something to recover"
        case .outcomeUnknown: "the connection was lost around COMMIT: 'runs' tells if it applied"
        case .usage: "a wrong flag or argument, or no --yes without a terminal"
        case .input: "an input that cannot be used (a missing file, an unknown run id)"
        case .database: "the database cannot be reached, a statement failed, or it is read-only"
        case .refusedPlan: "the plan was refused (changed, not approved, another database or shard)"
        case .verificationFailed: "verify found differences"
        case .incompleteEvidence: "incomplete evidence (--require-complete)"
        case .busy: "a lock or a statement timed out (another apply or revert is running)"
        }
    }
}
