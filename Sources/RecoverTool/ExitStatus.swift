import ArgumentParser
import RecoveryModel
import Foundation
import PlanFormat
import PlanReport
import PostgresClient
import Reconcile
import RecoveryModel
import RecoveryCommit
import SnapshotDiff
import SourceFiles

/// The exit statuses of every subcommand, as `docs/EXIT-STATUS.md` lists them. Every failure
/// prints exactly one line on standard error: `recover-tool: error: ...`.
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    /// An error no other status names.
    case failure = 1
    /// `plan --detailed-exitcode`: the plan has slots to recover (0 then means none).
    case somethingToRecover = 2
    /// A wrong flag or argument, or a confirmation the command needed and did not get.
    case usage = 64
    /// An input that cannot be used: a missing file, a run id that is not recorded.
    case input = 65
    /// The database could not be reached, or a statement failed; nothing was changed.
    case database = 69
    /// The plan was refused: changed, cut or foreign, or over the `--max-slots` budget.
    case refusedPlan = 70
    /// `verify` found differences.
    case verificationFailed = 71
    /// The evidence is incomplete (logs end early, a file is damaged).
    case incompleteEvidence = 72
    /// Another apply or revert held the lock past `--lock-timeout`, or a statement timed out.
    case busy = 75

    init(for error: any Error) {
        switch error {
        case let error as CommitError:
            switch error.kind {
            case .planRefused, .budgetExceeded: self = .refusedPlan
            case .database, .outcomeUnknown, .schemaTooNew, .inconsistent: self = .database
            case .lockTimeout, .statementTimeout: self = .busy
            case .runNotFound: self = .input
            case .verificationFailed: self = .verificationFailed
            }
        case let error as PlanError:
            switch error.kind {
            case .notAPlan, .tampered: self = .refusedPlan
            case .exists, .cannotWrite: self = .input
            }
        case let error as PostgresError: self = error.isTimeout ? .busy : .database
        case is SourceError, is SnapshotError: self = .input
        case is ReconcileError: self = .incompleteEvidence
        case let error as CommandFailure: self = error.status
        default: self = .failure
        }
    }
}

extension ExitStatus {
    /// The `code` of a `--json` failure object: the status's name in snake_case.
    var code: String {
        switch self {
        case .success: "success"
        case .failure: "failure"
        case .somethingToRecover: "something_to_recover"
        case .usage: "usage"
        case .input: "unusable_input"
        case .database: "database"
        case .refusedPlan: "plan_refused"
        case .verificationFailed: "verification_failed"
        case .incompleteEvidence: "incomplete_evidence"
        case .busy: "busy"
        }
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
extension Apply: JSONReporting {}
extension Verify: JSONReporting {}
extension Revert: JSONReporting {}
extension Runs: JSONReporting {}

/// A failure the executable itself decides (a missing `--yes`, no log files), with its status.
struct CommandFailure: Error, CustomStringConvertible {
    var status: ExitStatus
    var description: String

    init(_ status: ExitStatus, _ description: String) {
        self.status = status
        self.description = description
    }
}

extension RecoverTool {
    /// Runs the command; any failure becomes one `recover-tool: error: ...` line on standard error
    /// and its `ExitStatus`. Help and `--version` print as usual and exit 0.
    static func main() {
        var json = CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
        do {
            if let repeated = ArgumentChecks.repeatedOption(in: CommandLine.arguments.dropFirst()) {
                printError(repeated + "; see 'recover-tool help'")
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            var command = try parseAsRoot()
            json = (command as? JSONReporting)?.output.json ?? false
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            var error = error
            if let reported = error as? ReportedFailure {
                error = reported.error
                json = false  // its result, with the error object, is already on standard output
            }
            if exitCode(for: error) == .success { exit(withError: error) }  // help, --version
            let (status, line) = describe(error)
            printError(line)
            if json { StandardStreams.output(JSONOutput.failure(JSONError(code: status.code, message: line, hint: nil))) }
            Foundation.exit(status.rawValue)
        }
    }

    /// The exit status of a failure, and its error line.
    static func describe(_ error: any Error) -> (ExitStatus, String) {
        if error is CommitError || error is PlanError || error is PostgresError || error is CommandFailure
            || error is SourceError || error is SnapshotError || error is ReconcileError {
            return (ExitStatus(for: error), String(describing: error))
        }
        if exitCode(for: error) == .validationFailure {
            var message = message(for: error)
            if let first = message.first { message = first.lowercased() + message.dropFirst() }
            return (.usage, message + "; see 'recover-tool help'")
        }
        return (ExitStatus(for: error), String(describing: error))
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
    FileHandle.standardError.write(Data("recover-tool: error: \(VisibleText.escaped(flat))\n".utf8))
}

/// Writes a line on standard error (confirmation prompts, notes), not as an error.
func printNote(_ line: String) {
    FileHandle.standardError.write(Data((VisibleText.escaped(line, keepingLayout: true) + "\n").utf8))
}

/// Writes to standard output and error through `FileHandle` (the C globals are not
/// concurrency-safe in Swift 6). Everything written passes `VisibleText`: no text from an input
/// can drive the terminal.
enum StandardStreams {
    static func output(_ text: String) {
        FileHandle.standardOutput.write(Data(VisibleText.escaped(text, keepingLayout: true).utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(VisibleText.escaped(text, keepingLayout: true).utf8))
    }

    /// Redraws the progress line: `\r`, the tool's own clear-line sequence, then `text` escaped.
    static func progressLine(_ text: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + VisibleText.escaped(text)).utf8))
    }
}
