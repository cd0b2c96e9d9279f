import Foundation
import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks before a command writes to the database: on a terminal, shows `summary` and waits for
/// `yes`; without one (runbook automation), `--yes` is required. The summary and question go
/// to standard error, never standard output.
enum Confirmation {
    static func require(_ summary: [String], question: String, yes: Bool, flagHint: String) throws {
        if yes { return }
        try requireTerminal(yes: yes, flagHint: flagHint)
        let text = summary.map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined() + "\(question) Type 'yes' to continue: "
        // The terminal, not standard output: `apply DIR > out.txt` and `--json` keep stdout the result.
        // A terminal that cannot be written (gone, `EIO`) is no trap: its answer cannot come either.
        let shown = VisibleText.escaped(text, keepingLayout: true)
        let terminal = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)
        if terminal >= 0 {
            _ = StandardStreams.writeAll(shown, to: terminal)
            close(terminal)
        } else {
            StandardStreams.writeError(shown)
        }
        // Only the exact word: 'y', 'Yes' or 'yes please' is not a confirmation.
        guard readLine() == "yes" else {
            throw CommandFailure(.failure, code: "declined", "not confirmed (only 'yes' confirms): nothing was changed")
        }
    }

    /// Refuses (64) to go on when it would have to ask and cannot: no `--yes` and standard input
    /// is not a terminal. Called before connecting, so that nothing is opened for nothing.
    /// `yesHint` names what confirms without a terminal (`--yes`, and what it needs with it).
    static func requireTerminal(yes: Bool, flagHint: String, yesHint: String = "--yes") throws {
        guard !yes, isatty(0) != 1 else { return }
        throw CommandFailure(
            .usage, code: "not_confirmed",
            "refusing to \(flagHint) without confirmation: standard input is not a terminal",
            hint: "pass \(yesHint) to confirm non-interactively")
    }

    /// `--operator`'s default: `USER`, else the login name.
    static func defaultOperator() -> String {
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        if let login = getlogin() { return String(cString: login) }
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "uid \(getuid())"
    }
}
