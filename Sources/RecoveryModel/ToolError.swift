/// The exit statuses of `recover-tool`, as `docs/EXIT-STATUS.md` lists them: the one list.
public enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    /// An error no other status names, or a confirmation answered "no".
    case failure = 1
    /// `plan --detailed-exitcode`: the plan has slots to recover (0 then means none).
    case somethingToRecover = 2
    /// The connection was lost around COMMIT and the outcome could not be read back.
    case outcomeUnknown = 3
    /// A wrong flag or argument, or a confirmation the command needed and did not get.
    case usage = 64
    /// An input that cannot be used: a missing file, a run id that is not recorded.
    case input = 65
    /// The database could not be reached, a statement failed, or the server is read-only.
    case database = 69
    /// The plan was refused: hash, plan id, database identity, shard, plan set, budget.
    case refusedPlan = 70
    /// `verify` found differences.
    case verificationFailed = 71
    /// The evidence is incomplete (logs end early, a file is damaged).
    case incompleteEvidence = 72
    /// A lock or a statement timed out (another apply or revert is running); nothing was changed.
    case busy = 75
}

/// The one shape of every error the tool reports, whatever module threw it.
///
/// `code` is stable (runbooks branch on it; `docs/EXIT-STATUS.md` lists every one), `exitStatus`
/// is what the executable exits with, and `line` is the one line it prints: the message, then
/// the hint. Messages are lowercase, name the place, and never hold a password.
public protocol ToolError: Error, Sendable, CustomStringConvertible {
    /// A stable snake_case code, prefixed by the area: `plan_tampered`, `commit_lock_timeout`.
    var code: String { get }
    var exitStatus: ExitStatus { get }
    /// What failed, and where, without the hint.
    var message: String { get }
    /// The place: a path (`file:line`), a database without its password, a run.
    var location: String? { get }
    /// What to do about it.
    var hint: String? { get }
    /// The error behind this one (a `PostgresError` behind an apply failure), if any.
    var underlying: (any Error)? { get }
}

extension ToolError {
    public var location: String? { nil }
    public var hint: String? { nil }
    public var underlying: (any Error)? { nil }

    /// `MESSAGE; HINT`: the line, rendered here only. A message that ends a sentence of its own
    /// (PostgreSQL's, libpq's) drops its full stop before the hint: `...the request; check --db`.
    public var line: String {
        guard let hint, !hint.isEmpty else { return message }
        return (message.hasSuffix(".") ? String(message.dropLast()) : message) + "; " + hint
    }

    public var description: String { line }
}
