import PlanFormat
import PostgresClient
import RecoveryModel

/// Why `apply`, `verify`, `revert` or `runs` did not do what was asked.
///
/// `description` is one lowercase line: what failed, where (the plan directory, the database
/// without its password, the run), and what to do. Every failure leaves the database as it was:
/// the work runs in one transaction that is rolled back.
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
    /// What failed and where (the plan directory, the database without its password, the run).
    public var message: String
    /// What to do about it; nil when the message already says.
    public var hint: String?
    /// The PostgreSQL error behind it, if any (its SQLSTATE is useful in tests and logs).
    public var postgres: PostgresError?
    /// The plan error behind it, if any.
    public var plan: PlanError?

    public init(_ kind: Kind, _ message: String, hint: String? = nil, postgres: PostgresError? = nil, plan: PlanError? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.postgres = postgres
        self.plan = plan
    }

    public var code: String { "commit_\(kind.rawValue)" }

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

    /// A PostgreSQL failure while `doing` something: a lock or statement timeout gets its own kind
    /// and hint; anything else is a database error, the transaction rolled back.
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
            var line = "\(doing): \(error.description)"
            if error.kind == .connection || error.kind == .connect {
                if error.hint == nil { line += "; check --db or DATABASE_URL" }
            }
            return CommitError(.database, line + (error.kind == .connect ? "" : "; nothing was changed"), postgres: error)
        }
    }
}
