import RecoveryModel

/// What every session of the tool relies on, set right after connecting so that neither the
/// server's, the database's or the role's defaults nor `PG*` variables (`PGDATESTYLE`,
/// `PGTZ`, `PGOPTIONS`) can change how values are written or names resolve.
public struct SessionSettings: Sendable, Equatable {
    /// `application_name`: `recover-tool plan`, as `pg_stat_activity` shows it.
    public var applicationName: String
    /// The schema that holds the service's tables (`time_slots`, `users`, ...).
    public var schema: String

    /// The service schema when none is given (`--schema`).
    public static var defaultSchema: String { DatabaseIdentity.defaultSchema }

    public init(applicationName: String = "recover-tool", schema: String = Self.defaultSchema) {
        self.applicationName = applicationName
        self.schema = schema
    }

    /// The settings, in the order they are set: `DateStyle` ISO (output) with year-month-day
    /// input, UTC, `postgres` intervals, shortest exact floats, UTF-8, a `search_path` that
    /// starts with `pg_catalog` and ends with `pg_temp`, so that no table, function or operator of
    /// the service schema or a temporary schema shadows a built-in one, and `row_security` off.
    public var parameters: [(name: String, value: String)] {
        [
            ("DateStyle", "ISO, YMD"),
            ("TimeZone", "UTC"),
            ("IntervalStyle", "postgres"),
            ("extra_float_digits", "3"),
            ("client_encoding", "UTF8"),
            ("application_name", applicationName),
            ("search_path", "pg_catalog, \(Self.quotedIdentifier(schema)), pg_temp"),
            // A row-level security policy that would hide or skip rows is an error, never a
            // filter: a plan must not call hidden slots lost, nor a revert deleted rows it skipped.
            ("row_security", "off"),
        ]
    }

    /// `"public"`: an identifier quoted for SQL, inner quotes doubled.
    public static func quotedIdentifier(_ name: String) -> String {
        "\"" + name.replacingDoubleQuotes() + "\""
    }

    /// `"public".time_slots`: a table of the service schema, qualified.
    public func table(_ name: String) -> String {
        Self.quotedIdentifier(schema) + "." + name
    }

    /// On PostgreSQL 14 and later, how often the server checks, while a statement runs, that the
    /// tool is still connected: a tool stopped or killed mid-statement (an apply's INSERT, a
    /// revert's DELETE) has its statement, transaction and locks ended within this time, not when
    /// the statement would have finished. Set apart from `parameters`: a server on a platform
    /// that cannot tell a closed socket (Windows; macOS and FreeBSD before PostgreSQL 15)
    /// refuses it (SQLSTATE 22023), and the session goes on without it.
    static let connectionCheck = (name: "client_connection_check_interval", value: "1s")

    /// One statement that sets every parameter for the session (`set_config`, parameterised).
    var statement: (sql: String, params: [String?]) {
        let calls = parameters.indices.map { "pg_catalog.set_config($\(2 * $0 + 1), $\(2 * $0 + 2), false)" }
        return ("SELECT " + calls.joined(separator: ", "), parameters.flatMap { [$0.name, $0.value] })
    }
}

extension String {
    fileprivate func replacingDoubleQuotes() -> String {
        var out = ""
        for ch in self {
            if ch == "\"" { out.append("\"") }
            out.append(ch)
        }
        return out
    }
}
