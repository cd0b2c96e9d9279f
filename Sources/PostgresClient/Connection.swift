import CLibPQ
import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One open connection to PostgreSQL: the single owner of a `PGconn`.
///
/// Not Sendable: a `PGconn` must not be used from two threads, so a connection lives in one task.
/// The handle is closed (`PQfinish`) in `deinit`, and also when opening fails.
public final class Connection {
    let handle: OpaquePointer
    /// The connection string as shown in messages: no password, ever.
    public let redactedConnectionInfo: String
    /// The schema of the service's tables (the target's `schema`), which the search path is pinned to.
    public private(set) var schema = SessionSettings.defaultSchema
    private let notices: NoticeCollector
    /// The connection string, kept only to redact its secrets from messages.
    private let conninfo: String

    private init(handle: OpaquePointer, redacted: String, notices: NoticeCollector, conninfo: String) {
        self.handle = handle
        self.redactedConnectionInfo = redacted
        self.notices = notices
        self.conninfo = conninfo
    }

    deinit {
        PQfinish(handle)
    }

    /// Opens a connection (`PQconnectdb`) to `target` (a key=value string or a URI; empty for
    /// libpq's defaults: `PGHOST`, `PGDATABASE`, ...). Then pins the session (`SessionSettings`: ISO dates, UTC, UTF-8, a search path that cannot
    /// be shadowed, the application name). Server notices are collected, not printed (`notices`).
    ///
    /// The target's source names what to check in the error's hint (`--db`, `--snapshot`,
    /// `DATABASE_URL`); `role` says what the database is to the tool (`database`, `snapshot database`).
    public static func connect(
        _ target: ConnectionTarget, session: SessionSettings = SessionSettings(), role: String = "database"
    ) throws -> Connection {
        let info = target.conninfo
        let redacted = ConnectionInfo.redacted(info)
        let source = target.source
        let context = "cannot connect to \(role) '\(redacted)'"
        let hint = "check \(source)"
        guard ConnectionInfo.isParseable(info) else {
            // libpq's reason would echo the string; say only what kind of mistake it is.
            var errmsg: UnsafeMutablePointer<CChar>?
            _ = PQconninfoParse(info, &errmsg)
            let reason = errmsg.map { oneLine(String(cString: $0)) } ?? "not a connection string"
            if let errmsg { PQfreemem(errmsg) }
            throw PostgresError(
                kind: .connect, message: ConnectionInfo.redactingSecrets(in: reason, conninfo: info),
                context: "cannot connect to the \(role): the connection string given by \(source) is not valid",
                hint: "check \(source)")
        }
        guard let handle = PQconnectdb(info) else {
            throw PostgresError(kind: .connect, message: "out of memory", context: context, hint: hint)
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = ConnectionInfo.redactingSecrets(in: oneLine(String(cString: PQerrorMessage(handle)), sentences: true), conninfo: info)
            var error = PostgresError(kind: .connect, message: message, context: context, hint: hint)
            if PQconnectionNeedsPassword(handle) == 1 { error.passwordNeededFor = PQuser(handle).map { String(cString: $0) } ?? "" }
            PQfinish(handle)
            throw error
        }
        let notices = NoticeCollector()
        PQsetNoticeProcessor(handle, collectNotice, Unmanaged.passUnretained(notices).toOpaque())
        let connection = Connection(handle: handle, redacted: redacted, notices: notices, conninfo: info)
        guard PQsetClientEncoding(handle, "UTF8") == 0 else {
            throw connection.failure(.connect, context: context, hint: hint)
        }
        // The service schema is the target's: the one the search path is pinned to and names are qualified with.
        var session = session
        session.schema = target.schema
        connection.schema = target.schema
        let pin = session.statement
        try connection.execute(pin.sql, pin.params, context: "cannot set up the session on '\(redacted)'")
        if connection.serverVersion >= 140000 {
            do {
                try connection.execute(
                    "SELECT pg_catalog.set_config($1, $2, false)", [SessionSettings.connectionCheck.name, SessionSettings.connectionCheck.value],
                    context: "cannot set up the session on '\(redacted)'")
            } catch let error as PostgresError where error.sqlState == "22023" {
                // Not on this server's platform: a killed tool's statement runs to its end there.
            }
        }
        return connection
    }

    /// `"svc".time_slots`: a table of the service schema, qualified, as every statement names one.
    public func table(_ name: String) -> String {
        SessionSettings(schema: schema).table(name)
    }

    /// Opens a connection to `conninfo`, given as `--db`.
    public static func connect(_ conninfo: String, session: SessionSettings = SessionSettings()) throws -> Connection {
        try connect(ConnectionTarget(conninfo), session: session)
    }

    /// The server NOTICEs and WARNINGs received so far (at most the last 100), one line each.
    public var receivedNotices: [String] { notices.lines }

    /// The server's version number (`PQserverVersion`): 150018 for 15.18.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// The backend's process id (`PQbackendPID`), as in `pg_stat_activity.pid`.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// True inside a transaction block, including a failed one (`PQtransactionStatus`).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Why the session cannot write, or nil: `default_transaction_read_only` is on (for the
    /// server, the database or the role), or the server is a hot standby (`pg_is_in_recovery()`).
    public func readOnlyReason() throws -> String? {
        let row = try execute(
            "SELECT pg_catalog.current_setting('default_transaction_read_only'), pg_catalog.pg_is_in_recovery()",
            context: "cannot check whether '\(redactedConnectionInfo)' is writable").rows.first
        if row?[1] == "t" { return "the server is a standby in recovery: pg_is_in_recovery() is true" }
        if row?[0] == "on" { return "default_transaction_read_only is on" }
        return nil
    }

    /// The database this session is connected to, as the server knows it: the cluster's system
    /// identifier, the database's name and OID, the server version, and the redacted target.
    public func identity() throws -> DatabaseIdentity {
        let row = try execute(
            """
            SELECT s.system_identifier::text, d.datname, d.oid::bigint::text, pg_catalog.current_setting('server_version')
            FROM pg_catalog.pg_control_system() s, pg_catalog.pg_database d
            WHERE d.datname = pg_catalog.current_database()
            """,
            context: "cannot read which database '\(redactedConnectionInfo)' is").rows.first
        guard let row, let system = row[0], let name = row[1], let oid = row[2].flatMap({ Int64($0) }), let version = row[3] else {
            throw PostgresError(
                kind: .query, message: "the server did not say which database this is",
                context: "cannot read which database '\(redactedConnectionInfo)' is")
        }
        return DatabaseIdentity(target: redactedConnectionInfo, systemIdentifier: system, name: name, oid: oid, serverVersion: version, schema: schema)
    }

    /// Where the session is connected: `db1:5432`, or `/var/run/postgresql:5432` for a socket
    /// (`PQhost`, `PQport`).
    public var serverAddress: String {
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        let port = PQport(handle).map { String(cString: $0) } ?? ""
        return (host.isEmpty ? "localhost" : host) + (port.isEmpty ? "" : ":\(port)")
    }

    // MARK: Queries

    /// Runs one statement with `$1`, `$2`, ... parameters in text format (`PQexecParams`); a nil
    /// parameter is SQL NULL. Returns the rows, all values as text.
    ///
    /// `context` names what the tool was doing, for the error; by default, the statement.
    @discardableResult
    public func execute(_ sql: String, _ params: [String?] = [], context: String? = nil) throws -> QueryResult {
        let result: OpaquePointer? = withCStrings(params) { values in
            PQexecParams(handle, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        return try finish(result, sql: sql, context: context)
    }

    /// Runs a script of one or more statements separated by semicolons (`PQexec`), with no
    /// parameters. Returns the result of the last statement.
    @discardableResult
    public func executeSimple(_ sql: String, context: String? = nil) throws -> QueryResult {
        try finish(PQexec(handle, sql), sql: sql, context: context)
    }

    private func finish(_ result: OpaquePointer?, sql: String, context: String?) throws -> QueryResult {
        guard let result else {
            throw failure(.connection, context: context ?? queryContext(sql))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return QueryResult(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // Leave the connection usable: end the COPY the statement started.
            abandonCopy(PQresultStatus(result))
            throw PostgresError(
                kind: .query, message: "the statement starts a COPY", context: context ?? queryContext(sql),
                hint: "use copyIn or copyOut"
            )
        default:
            throw resultError(result, kind: .query, context: context ?? queryContext(sql))
        }
    }

    // MARK: COPY

    /// Runs `COPY ... TO STDOUT` and hands each row to `body` as it arrives (`PQgetCopyData`):
    /// the bytes of one row in the COPY text format, with its final newline. The bytes are valid
    /// only during the call. Returns the number of rows.
    ///
    /// If `body` throws, the server is asked to cancel the COPY, the rest is drained, and the
    /// error is rethrown: the connection stays usable.
    @discardableResult
    public func copyOut(
        _ sql: String, context: String? = nil, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let context = context ?? queryContext(sql)
        try startCopy(sql, expecting: PGRES_COPY_OUT, context: context)
        var rows = 0
        var bodyError: (any Error)?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(handle, &buffer, 0)
            if n > 0, let buffer {
                defer { PQfreemem(buffer) }
                guard bodyError == nil else { continue }
                rows += 1
                do {
                    try body(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                } catch {
                    bodyError = error
                    cancelRequest()
                }
            } else if n == -1 {
                break
            } else {
                if let buffer { PQfreemem(buffer) }
                let error = failure(.copy, context: context)
                drainResults()
                throw bodyError ?? error
            }
        }
        let serverError = collectResults(kind: .copy, context: context)
        if let bodyError { throw bodyError }
        if let serverError { throw serverError }
        return rows
    }

    /// Runs `COPY ... FROM STDIN` and lets `body` write the data through a `CopyIn`, which sends
    /// it in 1 MiB pieces (`PQputCopyData`). Ends the COPY (`PQputCopyEnd`) and returns the
    /// number of rows loaded. A server-side error (a unique violation, a bad value) is thrown
    /// after the end, naming the COPY line; no row is loaded then.
    ///
    /// If `body` throws, the COPY is ended with an error (nothing loaded) and the error rethrown.
    @discardableResult
    public func copyIn(
        _ sql: String, context: String? = nil, _ body: (inout CopyIn) throws -> Void
    ) throws -> Int {
        let context = context ?? queryContext(sql)
        try startCopy(sql, expecting: PGRES_COPY_IN, context: context)
        var copy = CopyIn(connection: self, context: context)
        do {
            try body(&copy)
            try copy.flush()
        } catch {
            _ = PQputCopyEnd(handle, "aborted by the client")
            drainResults()
            throw error
        }
        guard PQputCopyEnd(handle, nil) == 1 else {
            let error = failure(.copy, context: context)
            drainResults()
            throw error
        }
        var rows = 0
        var firstError: PostgresError?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if firstError == nil {
                firstError = resultError(result, kind: .copy, context: context)
            }
            PQclear(result)
        }
        if let firstError { throw firstError }
        return rows
    }

    func putCopyData(_ bytes: UnsafeRawBufferPointer, context: String) throws {
        guard !bytes.isEmpty else { return }
        let sent = bytes.withMemoryRebound(to: CChar.self) { chars in
            PQputCopyData(handle, chars.baseAddress, Int32(chars.count))
        }
        guard sent == 1 else { throw failure(.copy, context: context) }
    }

    func startCopy(_ sql: String, expecting: ExecStatusType, context: String) throws {
        guard let result = PQexec(handle, sql) else { throw failure(.connection, context: context) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        if status == expecting { return }
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
            throw PostgresError(kind: .copy, message: "the statement is not a COPY", context: context)
        }
        if status == PGRES_COPY_IN || status == PGRES_COPY_OUT {
            abandonCopy(status)
            throw PostgresError(kind: .copy, message: "the COPY goes the other way", context: context)
        }
        throw resultError(result, kind: .copy, context: context)
    }

    private func abandonCopy(_ status: ExecStatusType) {
        if status == PGRES_COPY_IN {
            _ = PQputCopyEnd(handle, "not a COPY FROM STDIN the client expected")
        } else if status == PGRES_COPY_OUT {
            cancelRequest()
            var buffer: UnsafeMutablePointer<CChar>?
            while PQgetCopyData(handle, &buffer, 0) > 0 {
                if let b = buffer { PQfreemem(b) }
                buffer = nil
            }
        }
        drainResults()
    }

    /// Asks the server to stop the running command (`PQcancel`).
    func cancelRequest() {
        guard let cancel = PQgetCancel(handle) else { return }
        var errbuf = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &errbuf, Int32(errbuf.count))
        PQfreeCancel(cancel)
    }

    private func drainResults() {
        while let result = PQgetResult(handle) { PQclear(result) }
    }

    /// Reads results until NULL; returns the first error among them.
    private func collectResults(kind: PostgresError.Kind, context: String) -> PostgresError? {
        var firstError: PostgresError?
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK, firstError == nil {
                firstError = resultError(result, kind: kind, context: context)
            }
            PQclear(result)
        }
        return firstError
    }

    // MARK: Transactions

    public enum Isolation: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// `BEGIN ISOLATION LEVEL ... READ ONLY|READ WRITE`.
    public func begin(readOnly: Bool = false, isolation: Isolation = .readCommitted) throws {
        let sql = "BEGIN ISOLATION LEVEL \(isolation.rawValue) \(readOnly ? "READ ONLY" : "READ WRITE")"
        try transactionCommand(sql, doing: "cannot begin a transaction")
    }

    /// `COMMIT`, sent as its own round trip. A transaction that had failed is rolled back by the
    /// server on COMMIT: that is thrown as an error, not reported as success.
    public func commit() throws {
        let result = try transactionCommand("COMMIT", doing: "cannot commit")
        if result.commandTag == "ROLLBACK" {
            throw PostgresError(
                kind: .transaction, message: "the transaction had failed and was rolled back",
                context: "cannot commit on '\(redactedConnectionInfo)'"
            )
        }
    }

    /// `ROLLBACK`.
    public func rollback() throws {
        try transactionCommand("ROLLBACK", doing: "cannot roll back")
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws (and
    /// rethrows its error, not a rollback failure).
    public func transaction<T>(
        readOnly: Bool = false, isolation: Isolation = .readCommitted, _ body: (Connection) throws -> T
    ) throws -> T {
        try begin(readOnly: readOnly, isolation: isolation)
        return try finishTransaction(body)
    }

    /// Runs `body` in the transaction `begin` opened, then ends it as `transaction` does: commits
    /// when `body` returns, rolls back when it throws (and rethrows its error). Without
    /// `committing`, the transaction is left open when `body` returns, for the caller to commit
    /// and tell a failed COMMIT from any other failure.
    public func finishTransaction<T>(committing: Bool = true, _ body: (Connection) throws -> T) throws -> T {
        let value: T
        do {
            value = try body(self)
        } catch {
            try? rollback()
            throw error
        }
        if committing { try commit() }
        return value
    }

    @discardableResult
    private func transactionCommand(_ sql: String, doing: String) throws -> QueryResult {
        do {
            return try finish(PQexec(handle, sql), sql: sql, context: "\(doing) on '\(redactedConnectionInfo)'")
        } catch var error as PostgresError {
            error.kind = .transaction
            throw error
        }
    }

    // MARK: Errors

    func queryContextFor(_ sql: String) -> String { queryContext(sql) }

    /// Ends a COPY OUT that the reader stops early: cancel, then drain.
    func abandonCopyOut() {
        abandonCopy(PGRES_COPY_OUT)
    }

    /// After `PQgetCopyData` returned -1 (or failed): collects the COPY's final results.
    func finishCopyOut(failed: Bool, context: String) throws {
        if failed {
            let error = failure(.copy, context: context)
            drainResults()
            throw error
        }
        if let error = collectResults(kind: .copy, context: context) { throw error }
    }

    private func queryContext(_ sql: String) -> String {
        var statement = oneLine(sql)
        if statement.count > 60 { statement = String(statement.prefix(57)) + "..." }
        return "cannot run '\(statement)' on '\(redactedConnectionInfo)'"
    }

    /// An error from the connection's last message (`PQerrorMessage`).
    private func failure(_ kind: PostgresError.Kind, context: String, hint: String? = nil) -> PostgresError {
        var message = oneLine(String(cString: PQerrorMessage(handle)), sentences: true)
        if message.isEmpty { message = "unknown libpq error" }
        if PQstatus(handle) != CONNECTION_OK {
            return PostgresError(
                kind: .connection, message: ConnectionInfo.redactingSecrets(in: message, conninfo: conninfo), context: context,
                hint: hint ?? PostgresError.connectionLostHint
            )
        }
        return PostgresError(kind: kind, message: ConnectionInfo.redactingSecrets(in: message, conninfo: conninfo), context: context, hint: hint)
    }

    /// An error from a failed result's fields (`PQresultErrorField`).
    private func resultError(_ result: OpaquePointer, kind: PostgresError.Kind, context: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            let text = oneLine(String(cString: value), sentences: true)
            return text.isEmpty ? nil : ConnectionInfo.redactingSecrets(in: text, conninfo: conninfo)
        }
        let message = field("M")
            ?? ConnectionInfo.redactingSecrets(in: oneLine(String(cString: PQresultErrorMessage(result)), sentences: true), conninfo: conninfo)
        let lost = PQstatus(handle) != CONNECTION_OK
        return PostgresError(
            kind: lost ? .connection : kind,
            sqlState: field("C"), message: message.isEmpty ? "unknown error" : message,
            detail: field("D"), context: context, hint: field("H") ?? (lost ? PostgresError.connectionLostHint : nil)
        )
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings` (NULL for nil).
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { copies.forEach { free($0) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}

/// The notices a connection received; the `PQsetNoticeProcessor` argument.
private final class NoticeCollector {
    var lines: [String] = []

    func add(_ line: String) {
        if lines.count == 100 { lines.removeFirst() }
        lines.append(line)
    }
}

private func collectNotice(_ argument: UnsafeMutableRawPointer?, _ message: UnsafePointer<CChar>?) {
    guard let argument, let message else { return }
    Unmanaged<NoticeCollector>.fromOpaque(argument).takeUnretainedValue().add(oneLine(String(cString: message)))
}
