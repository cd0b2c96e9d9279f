import ArgumentParser
import Foundation
import PlanReport
import PostgresClient
import SnapshotDiff
import SourceFiles

/// The exit statuses of every subcommand, in one place (documented in docs/EXIT-STATUS.md).
/// Values follow BSD sysexits where one fits.
enum ExitStatus: Int32 {
    case ok = 0
    /// A flag is missing or invalid (ArgumentParser's validation errors exit with it too).
    case usage = 64
    /// An input cannot be used: a missing path, an unreadable file, no log files found.
    case input = 65
    /// The database cannot be reached or a statement failed.
    case database = 69
    /// `apply` refused the plan (changed since review, already applied elsewhere, ...).
    case refusedPlan = 70
    /// `verify` found the database differs from the run's record.
    case verificationFailed = 71
    /// The evidence is incomplete (damaged input) and the command was told not to go on.
    case incompleteEvidence = 72
}

/// A failure the executable reports as one line on standard error and an exit status.
struct CommandFailure: Error, CustomStringConvertible {
    var status: ExitStatus
    var message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }
}

/// Runs a subcommand's body; a library error becomes `recover-tool: MESSAGE` on standard error
/// and its exit status. Each subcommand's `run()` is wrapped in it.
func reportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CommandFailure {
        try exit(error.status, error.message)
    } catch let error as SourceError {
        try exit(.input, error.description)
    } catch let error as SnapshotError {
        try exit(.input, error.description)
    } catch let error as PostgresError {
        try exit(.database, error.description)
    } catch let error as PlanError {
        try exit(error.kind == .exists || error.kind == .cannotWrite ? .input : .refusedPlan, error.description)
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        // Anything else (a file system error writing the plan, say) is still one line.
        try exit(.input, "\(error)")
    }
}

private func exit(_ status: ExitStatus, _ message: String) throws -> Never {
    StandardStreams.error("recover-tool: \(message)\n")
    throw ExitCode(status.rawValue)
}

/// Writes to standard output and error through `FileHandle` (the C globals are not
/// concurrency-safe in Swift 6).
enum StandardStreams {
    static func output(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
