import PlanFormat
import PostgresClient
import RecoveryModel

/// Why `apply`, `verify`, `revert` or `runs` did not do what was asked.
///
/// It carries its parts (`ToolError`): the message says what failed, where (the plan directory,
/// the database without its password, the run) and that nothing was changed; the hint says what
/// to do; the executable renders both. Every failure leaves the database as it was: the work runs
/// in one transaction that is rolled back.
public struct CommitError: ToolError {
    /// A stable category, mapped to the exit statuses `docs/EXIT-STATUS.md` lists.
    public enum Kind: String, CaseIterable, Sendable, Hashable {
        /// The plan directory is not a plan, or does not match its hashes (`PlanError`).
        case planRefused = "plan_refused"
        /// The plan (or the run) was made for another database than the one connected to.
        case databaseMismatch = "database_mismatch"
        /// The plan would insert more slots than `--max-slots` allows.
        case budgetExceeded = "budget_exceeded"
        /// Connecting or a statement failed; the transaction was rolled back.
        case database
        /// Another apply or revert held the recovery lock, or a table lock, past `lock_timeout`.
        case lockTimeout = "lock_timeout"
        /// A statement ran past `statement_timeout` and was cancelled.
        case statementTimeout = "statement_timeout"
        /// The connection was lost while COMMIT was under way and the outcome could not be read back.
        case outcomeUnknown = "outcome_unknown"
        /// No run with that id is recorded.
        case runNotFound = "run_not_found"
        /// `verify` found differences.
        case verificationFailed = "verification_failed"
        /// The `recovery` schema was written by a newer recover-tool.
        case schemaTooNew = "schema_too_new"
        /// The database did something the apply's own checks rule out (a count that does not add up).
        case inconsistent
    }

    public var kind: Kind
    /// What failed and where, and what it left (`nothing was changed`); without the hint.
    public var message: String
    /// The place: the plan directory, or the database without its password.
    public var location: String?
    /// What to do about it; nil when the message already says.
    public var hint: String?
    /// The PostgreSQL error behind it, if any (its SQLSTATE is useful in tests and logs).
    public var postgres: PostgresError?
    /// The plan error behind it, if any.
    public var plan: PlanError?

    public init(
        _ kind: Kind, _ message: String, location: String? = nil, hint: String? = nil, postgres: PostgresError? = nil,
        plan: PlanError? = nil
    ) {
        self.kind = kind
        self.message = message
        self.location = location
        self.hint = hint
        self.postgres = postgres
        self.plan = plan
    }

    /// A plan refused (70) for `error`: its message, place and hint, then `outcome` when given
    /// (`nothing was changed`).
    public init(refusing error: PlanError, outcome: String? = nil) {
        self.init(
            .planRefused, error.message + (outcome.map { "; " + $0 } ?? ""), location: error.location, hint: error.hint,
            plan: error)
    }

    /// A database error (69) while `doing` something: `doing`, then what PostgreSQL said, with
    /// its hint.
    init(doing: String, _ error: PostgresError) {
        self.init(.database, "\(doing): \(error.message)", hint: error.hint, postgres: error)
    }

    /// `commit_KIND`; a database that cannot be reached is `database_connect`, as for every other
    /// command, so that a runbook has one code to wait and try again on.
    public var code: String {
        if kind == .database, let postgres, postgres.kind == .connect { return postgres.code }
        return "commit_\(kind.rawValue)"
    }

    public var exitStatus: ExitStatus {
        switch kind {
        case .planRefused, .databaseMismatch, .budgetExceeded: .refusedPlan
        case .database, .schemaTooNew, .inconsistent: .database
        case .outcomeUnknown: .outcomeUnknown
        case .lockTimeout, .statementTimeout: .busy
        case .runNotFound: .input
        case .verificationFailed: .verificationFailed
        }
    }

    public var underlying: (any Error)? { postgres ?? plan }

    /// Whether the server refused the change itself, as a deferred constraint or constraint trigger
    /// of the service does: an SQLSTATE outside the connection, shutdown, serialization and lock
    /// classes, which running again meets the same way.
    static func isServiceRefusal(_ error: PostgresError) -> Bool {
        guard let state = error.sqlState else { return false }
        return !["08", "40", "55", "57"].contains(String(state.prefix(2)))
    }

    /// The hint for a `isServiceRefusal` error: "run apply again" sent the operator round.
    static let serviceRefusalHint =
        "a deferred constraint or constraint trigger of the service refuses the change, and running it again fails the same way until that is fixed"

    /// The hint after a COMMIT that, looked up afterwards, did not commit: `again` (run the command
    /// again), unless the server refused the COMMIT itself (`isServiceRefusal`).
    static func hintAfterFailedCommit(_ error: PostgresError, again: String) -> String {
        isServiceRefusal(error) ? "the server refused the COMMIT (SQLSTATE \(error.sqlState ?? "")): \(serviceRefusalHint)" : again
    }

    /// A PostgreSQL failure while `doing` something, the transaction rolled back: a lock or
    /// statement timeout gets its own kind and hint; anything else is a database error, whose
    /// hint is PostgreSQL's (or, for a connection, where the target came from).
    static func database(_ error: PostgresError, doing: String, lockHint: String) -> CommitError {
        switch error.sqlState {
        case "55P03":
            return CommitError(
                .lockTimeout,
                "\(doing): \(error.context): timed out waiting for a lock (SQLSTATE 55P03); nothing was changed",
                hint: lockHint, postgres: error)
        case "57014":
            return CommitError(
                .statementTimeout,
                "\(doing): \(error.context): the statement ran past statement_timeout and was cancelled (SQLSTATE 57014); "
                    + "nothing was changed",
                hint: "raise --statement-timeout or apply a smaller plan (shard it)", postgres: error)
        default:
            var failure = CommitError(doing: doing, error)
            if error.kind == .connection || error.kind == .connect { failure.hint = error.hint ?? "check --db or DATABASE_URL" }
            if error.kind != .connect {
                // libpq's messages end in a full stop: 'request; nothing was changed', not 'request.; ...'.
                if failure.message.hasSuffix(".") { failure.message.removeLast() }
                failure.message += "; nothing was changed"
            }
            return failure
        }
    }
}
