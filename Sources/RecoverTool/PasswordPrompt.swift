import Foundation
import PostgresClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A subcommand that connects to the live database (`DatabaseOptions`).
protocol DatabaseCommand {
    var database: DatabaseOptions { get }
}

extension Plan: DatabaseCommand {}
extension Diff: DatabaseCommand {}
extension ReconcileCommand: DatabaseCommand {}
extension Apply: DatabaseCommand {}
extension Verify: DatabaseCommand {}
extension Revert: DatabaseCommand {}
extension Runs: DatabaseCommand {}

/// Asks for the database password on the terminal, as psql does, when the server wants one and
/// none was given (`PQconnectionNeedsPassword`): before the command runs, one trial connection;
/// if it fails for want of a password and standard input is a terminal, `Password for user U: `
/// is read without echo (`getpass`) and handed to libpq as `PGPASSWORD` for the rest of the run.
/// Without a terminal nothing is asked, and the command fails with libpq's message.
enum PasswordPrompt {
    static func askIfNeeded(for command: any DatabaseCommand) {
        guard isatty(0) == 1, getenv("PGPASSWORD") == nil else { return }
        do {
            _ = try Connection.connect(command.database.target)
        } catch let error as PostgresError {
            guard let user = error.passwordNeededFor, let typed = getpass("Password for user \(user): ") else { return }
            setenv("PGPASSWORD", String(cString: typed), 1)
        } catch {}
    }
}
