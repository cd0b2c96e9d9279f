import RecoveryModel

/// A failure talking to PostgreSQL: what kind, the server's SQLSTATE and message, and what the
/// tool was doing.
///
/// `description` is one lowercase line with a hint and never a password (it passes through
/// `ConnectionInfo.redactingSecrets`):
/// `cannot connect to database 'host=/tmp/x dbname=tracker user=recover': FATAL: ...; check --db or DATABASE_URL`
public struct PostgresError: ToolError, Equatable {
    /// A stable category, for exit statuses and tests.
    public enum Kind: String, CaseIterable, Sendable, Hashable {
        /// The connection could not be opened.
        case connect
        /// A statement failed (`PQexec`, `PQexecParams`).
        case query
        /// A `COPY` failed, on either side.
        case copy
        /// `BEGIN`, `COMMIT` or `ROLLBACK` failed, or a commit rolled back.
        case transaction
        /// The connection was lost or libpq could not send the request.
        case connection
    }

    public var kind: Kind
    /// The five-character SQLSTATE (`23505`); nil for client-side failures.
    public var sqlState: String?
    /// The server's primary message (or libpq's), on one line.
    /// The server's (or libpq's) own message.
    public var serverMessage: String
    /// The server's DETAIL, when it sent one.
    public var detail: String?
    /// What the tool was doing: `cannot connect to database 'host=db1 dbname=tracker'`.
    public var context: String
    /// What to do about it: the server's HINT or the tool's own.
    public var hint: String?
    /// The user name, when the connection failed because the server wants a password and none
    /// was given (`PQconnectionNeedsPassword`): a terminal can ask for it and try again.
    public var passwordNeededFor: String?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
        context: String, hint: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.serverMessage = message
        self.detail = detail
        self.context = context
        self.hint = hint
    }

    public var code: String { "database_\(kind.rawValue)" }

    /// A lock or statement timeout is "busy" (try again later); anything else a database failure.
    public var exitStatus: ExitStatus { isTimeout ? .busy : .database }

    public var message: String {
        var line = "\(context): \(serverMessage)"
        if let sqlState { line += " (SQLSTATE \(sqlState))" }
        if let detail { line += " (\(detail))" }
        return ConnectionInfo.redactingSecrets(in: line)
    }

    /// The hint of an error met once the connection was gone (`kind == .connection`).
    static let connectionLostHint = "the connection to the server was lost"

    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// True for `57014` (a statement cancelled by `statement_timeout`) and `55P03` (a lock not
    /// available within `lock_timeout`): busy, not broken.
    public var isTimeout: Bool { sqlState == "57014" || sqlState == "55P03" }
    /// True for `40001` and `40P01`: the transaction may succeed if retried.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
}

/// Collapses libpq's multi-line, double-spaced messages (and SQL text) into one line. With
/// `sentences`, libpq's layout is read: a line that is not indented starts another part (one
/// connection attempt of several hosts) and is joined with "; "; an indented line that starts a
/// word with a capital and a small letter, after a line that ends without a stop, is a new
/// sentence ("...unexpectedly\n\tThis probably means...") and is joined with ". "; any other
/// line continues the one before ("...accepting\n\tTCP/IP connections").
func oneLine(_ text: String, sentences: Bool = false) -> String {
    let chars = Array(text)
    var out = ""
    var pendingSpace = false
    var pendingBreak = false
    var indented = false
    for (k, ch) in chars.enumerated() {
        if ch == " " || ch == "\n" || ch == "\t" || ch == "\r" {
            pendingSpace = !out.isEmpty
            if ch == "\n" && pendingSpace {
                pendingBreak = true
                indented = false
            } else if pendingBreak && (ch == " " || ch == "\t") {
                indented = true
            }
        } else {
            if pendingSpace {
                var joint = " "
                if sentences && pendingBreak {
                    let stop = out.last.map { ".:;!?".contains($0) } ?? true
                    let word = ch.isUppercase && k + 1 < chars.count && chars[k + 1].isLowercase
                    if !indented {
                        joint = stop ? " " : "; "
                        if out.last == "." { out.removeLast(); joint = "; " }
                        if out.last == "?" || out.last == "!" { joint = "; " }
                    } else if !stop && word {
                        joint = ". "
                    }
                }
                out.append(joint)
            }
            pendingSpace = false
            pendingBreak = false
            indented = false
            out.append(ch)
        }
    }
    return out
}
