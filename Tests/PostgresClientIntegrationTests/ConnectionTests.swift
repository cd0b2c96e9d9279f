import PostgresClient
import TestSupport
import XCTest

/// Integration tests: a real PostgreSQL named by PGHOST (scripts/test.sh starts one).
final class ConnectionTests: XCTestCase {
    func testQueryWithParametersAndNulls() throws {
        let db = try TestDatabase(label: "params")
        let connection = try db.connect()
        let result = try connection.execute(
            "SELECT $1::bigint + 1 AS next, $2::text AS nothing, upper($3) AS shout, $4::text[] AS apps",
            ["41", nil, "tab\there ✓", "{a,\"b,c\",NULL}"]
        )
        XCTAssertEqual(result.columns, ["next", "nothing", "shout", "apps"])
        XCTAssertEqual(result.rowCount, 1)
        XCTAssertEqual(result[0, "next"], "42")
        XCTAssertNil(result[0, "nothing"])
        XCTAssertEqual(result[0, 2], "TAB\tHERE ✓")
        XCTAssertEqual(result[0, "apps"], "{a,\"b,c\",NULL}")
        XCTAssertEqual(result.commandTag, "SELECT 1")

        try connection.execute("INSERT INTO users (id, email) VALUES ($1, $2), ($3, $4)", ["1", "a@x", "2", "b@x"])
        let none = try connection.execute("SELECT id FROM users WHERE id > $1", ["9"])
        XCTAssertEqual(none.rowCount, 0)
        let updated = try connection.execute("UPDATE users SET time_zone = 'Asia/Kolkata'")
        XCTAssertEqual(updated.affectedRows, 2)
    }

    func testUniqueViolationCarriesSQLState() throws {
        let db = try TestDatabase(label: "unique")
        let connection = try db.connect()
        try connection.execute("INSERT INTO users (id, email) VALUES (1, 'a@x')")
        XCTAssertThrowsError(try connection.execute(
            "INSERT INTO users (id, email) VALUES ($1, $2)", ["1", "b@x"], context: "adding user 1")
        ) { error in
            let error = error as! PostgresError
            XCTAssertEqual(error.kind, .query)
            XCTAssertEqual(error.sqlState, "23505")
            XCTAssertTrue(error.isUniqueViolation)
            XCTAssertEqual(error.serverMessage, "duplicate key value violates unique constraint \"users_pkey\"")
            XCTAssertEqual(error.detail, "Key (id)=(1) already exists.")
            XCTAssertEqual(
                error.description,
                "adding user 1: duplicate key value violates unique constraint \"users_pkey\" (SQLSTATE 23505)"
                    + " (Key (id)=(1) already exists.)")
        }
        // The connection is still usable.
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM users").scalar, "1")
    }

    func testDefaultContextNamesStatementAndDatabase() throws {
        let db = try TestDatabase(label: "context")
        let connection = try db.connect()
        XCTAssertThrowsError(try connection.execute("SELECT * FROM no_such_table")) { error in
            let error = error as! PostgresError
            XCTAssertEqual(error.sqlState, "42P01")
            XCTAssertEqual(
                error.description,
                "cannot run 'SELECT * FROM no_such_table' on '\(connection.redactedConnectionInfo)': "
                    + "relation \"no_such_table\" does not exist (SQLSTATE 42P01)")
        }
    }

    func testConnectFailureNeverShowsPassword() throws {
        let db = try TestDatabase(label: "password", schema: false)
        let host = ProcessInfo.processInfo.environment["PGHOST"]!
        let secret = "s3cr3t-Pa55word"
        let attempts = [
            "host='\(host)' dbname=no_such_database user=postgres password=\(secret)",
            "postgresql://postgres:\(secret)@/no_such_database?host=\(host)",
        ]
        for conninfo in attempts {
            XCTAssertThrowsError(try Connection.connect(conninfo)) { error in
                let error = error as! PostgresError
                XCTAssertEqual(error.kind, .connect)
                XCTAssertFalse(error.description.contains(secret), error.description)
                XCTAssertFalse(String(reflecting: error).contains(secret))
                XCTAssertTrue(error.description.hasPrefix(
                    "cannot connect to database 'host=\(host) port=5432 dbname=no_such_database user=postgres': "
                ), error.description)
                XCTAssertTrue(error.description.hasSuffix(
                    "FATAL: database \"no_such_database\" does not exist; check --db"
                ), error.description)
            }
        }
        _ = db
    }

    /// libpq's message of several lines reads as sentences on the one error line: its lines were
    /// joined with a space ("No such file or directory Is the server running ...").
    func testLibpqMessageLinesReadAsSentences() throws {
        let nowhere = try TemporaryDirectory(prefix: "no-server")
        XCTAssertThrowsError(try Connection.connect("host=\(nowhere.path) dbname=x")) { error in
            let text = (error as? PostgresError)?.description ?? ""
            XCTAssertTrue(text.contains("failed: No such file or directory. Is the server running locally and accepting connections on that socket?"), text)
        }
        // Two hosts: each attempt's message is a part of its own, not run together (found by a hostile test).
        let other = try TemporaryDirectory(prefix: "no-server")
        XCTAssertThrowsError(try Connection.connect("host=\(nowhere.path),\(other.path) dbname=x")) { error in
            let text = (error as? PostgresError)?.description ?? ""
            XCTAssertTrue(text.contains("on that socket?; connection to server on socket \"\(other.path)/.s.PGSQL.5432\" failed"), text)
        }
    }

    /// A connection ended by the server while idle: the next statement's error reads as libpq's
    /// sentences and says the connection was lost ('unexpectedly This probably means', no hint).
    func testAConnectionEndedByTheServerSaysSo() throws {
        let db = try TestDatabase(label: "terminated", schema: false)
        let victim = try db.connect()
        let pid = try XCTUnwrap(try victim.execute("SELECT pg_backend_pid()").scalar)
        try db.connect().executeSimple("SELECT pg_terminate_backend(\(pid))")
        XCTAssertThrowsError(try victim.execute("SELECT 1")) { error in
            let error = error as? PostgresError
            XCTAssertEqual(error?.kind, .connection, "\(String(describing: error))")
            XCTAssertFalse(error?.description.contains("unexpectedly This") ?? true, "\(String(describing: error))")
            XCTAssertTrue(error?.description.hasSuffix("; the connection to the server was lost") ?? false, "\(String(describing: error))")
        }
    }

    func testRedactedConnectionInfo() {
        XCTAssertEqual(
            ConnectionInfo.redacted("host=db1 port=6432 dbname=tracker user=recover password=hunter2 sslmode=require"),
            "host=db1 port=6432 dbname=tracker user=recover sslmode=require")
        XCTAssertEqual(
            ConnectionInfo.redacted("postgresql://recover:hunter2@db1:6432/tracker?sslmode=require"),
            "host=db1 port=6432 dbname=tracker user=recover sslmode=require")
        XCTAssertEqual(ConnectionInfo.redacted("host=db1 password='unterminated"), "<invalid connection string>")
        XCTAssertEqual(ConnectionTarget.resolve("host=a", flag: "--db", databaseURL: "postgresql:///b").conninfo, "host=a")
        XCTAssertEqual(ConnectionTarget.resolve(nil, flag: "--db", databaseURL: "postgresql:///b").conninfo, "postgresql:///b")
        XCTAssertEqual(ConnectionTarget.resolve(nil, flag: "--db", databaseURL: nil).conninfo, "")
    }

    func testNoticesAreCollectedNotPrinted() throws {
        let db = try TestDatabase(label: "notice")
        let connection = try db.connect()
        try connection.executeSimple("DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$")
        XCTAssertEqual(connection.receivedNotices, ["NOTICE: hello from the server"])
    }

    func testCopyRoundTripOf100kRows() throws {
        let db = try TestDatabase(label: "copy")
        let connection = try db.connect()
        try connection.executeSimple("CREATE TABLE public.t (n bigint PRIMARY KEY, label text, note text)")
        let count = 100_000
        let loaded = try connection.copyIn("COPY t (n, label, note) FROM STDIN") { copy in
            for n in 0..<count {
                try copy.write("\(n)\tlabel\\t\(n)\t\(n % 7 == 0 ? "\\N" : "x")\n")
            }
        }
        XCTAssertEqual(loaded, count)
        XCTAssertEqual(try connection.execute("SELECT count(*), count(note), sum(n) FROM t").rows[0],
                       ["100000", "85714", "4999950000"])

        var seen = 0
        var bytes = 0
        var last = ""
        let copied = try connection.copyOut("COPY (SELECT n, label, note FROM t ORDER BY n) TO STDOUT") { row in
            seen += 1
            bytes += row.count
            if seen == count { last = String(decoding: row, as: UTF8.self) }
        }
        XCTAssertEqual(copied, count)
        XCTAssertEqual(seen, count)
        XCTAssertEqual(last, "99999\tlabel\\t99999\tx\n")
        XCTAssertGreaterThan(bytes, count * 10)
    }

    /// A binary COPY: the header and trailer are skipped, each row's fields come in order as the
    /// types send them (a `timestamptz` as microseconds, whatever DateStyle and the time zone say),
    /// NULL as nil; an empty result has no row; a text COPY is refused, and a body that throws
    /// leaves the connection usable.
    func testBinaryCopyOut() throws {
        struct Stop: Error {}
        let db = try TestDatabase(label: "copybinary")
        let connection = try db.connect()
        try connection.executeSimple("SET DateStyle = 'German'; SET TIME ZONE 'Asia/Kolkata'")
        var rows: [[String]] = []
        let copied = try connection.copyOutBinary("""
            COPY (SELECT * FROM (VALUES
                (1::bigint, timestamptz '2018-07-25 14:50:00.000001+00', 'a ✓'::text),
                (-9223372036854775808, '1999-12-31 23:59:59.999999+00', NULL),
                (NULL, 'infinity', ''),
                (9223372036854775807, '-infinity', 'x'),
                (0, '1970-01-01 00:00:00+00', 'y')) AS v(n, t, s) ORDER BY s NULLS FIRST) TO STDOUT (FORMAT binary)
            """
        ) { row in
            XCTAssertEqual(row.count, 3)
            let n = row.next(), t = row.next(), s = row.next()
            XCTAssertNil(row.next())
            rows.append([
                n?.int64.map(String.init) ?? "NULL", t?.timestamptzMicroseconds.map(String.init) ?? "nil",
                s?.text ?? "NULL", n?.hex ?? "NULL",
            ])
        }
        XCTAssertEqual(copied, 5)
        XCTAssertEqual(rows, [
            ["-9223372036854775808", "946684799999999", "NULL", "\\x8000000000000000"],
            ["NULL", "nil", "", "NULL"],
            ["1", "1532530200000001", "a ✓", "\\x0000000000000001"],
            ["9223372036854775807", "nil", "x", "\\x7fffffffffffffff"],
            ["0", "0", "y", "\\x0000000000000000"],
        ])
        XCTAssertEqual(try connection.copyOutBinary("COPY (SELECT 1 WHERE false) TO STDOUT (FORMAT binary)") { _ in
            XCTFail("no row")
        }, 0)
        XCTAssertThrowsError(try connection.copyOutBinary("COPY (SELECT 1) TO STDOUT", context: "reading one") { _ in }) { error in
            XCTAssertEqual((error as! PostgresError).message, "reading one: the server's data is not binary COPY: no valid header")
        }
        XCTAssertEqual(try connection.execute("SELECT 1").scalar, "1")
        XCTAssertThrowsError(try connection.copyOutBinary("COPY (SELECT generate_series(1, 200000)) TO STDOUT (FORMAT binary)") { _ in
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(try connection.execute("SELECT 2").scalar, "2")
    }

    func testCopyInServerErrorLoadsNothing() throws {
        let db = try TestDatabase(label: "copyerr")
        let connection = try db.connect()
        try connection.executeSimple("CREATE TABLE public.t (n bigint PRIMARY KEY)")
        XCTAssertThrowsError(try connection.copyIn("COPY t FROM STDIN") { copy in
            try copy.write("1\n2\n1\n")
        }) { error in
            let error = error as! PostgresError
            XCTAssertEqual(error.kind, .copy)
            XCTAssertEqual(error.sqlState, "23505")
        }
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM t").scalar, "0")
        XCTAssertThrowsError(try connection.copyIn("COPY t FROM STDIN") { copy in
            try copy.write("x\n")
        }) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "22P02")
        }
    }

    func testCopyBodyErrorLeavesConnectionUsable() throws {
        struct Stop: Error {}
        let db = try TestDatabase(label: "copystop")
        let connection = try db.connect()
        XCTAssertThrowsError(try connection.copyOut("COPY (SELECT generate_series(1, 200000)) TO STDOUT") { _ in
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(try connection.execute("SELECT 1").scalar, "1")
        try connection.executeSimple("CREATE TABLE public.t (n int)")
        XCTAssertThrowsError(try connection.copyIn("COPY t FROM STDIN") { copy in
            try copy.write("1\n")
            throw Stop()
        }) { XCTAssertTrue($0 is Stop) }
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM t").scalar, "0")
        XCTAssertThrowsError(try connection.execute("COPY t FROM STDIN")) { error in
            XCTAssertEqual((error as! PostgresError).serverMessage, "the statement starts a COPY")
        }
        XCTAssertEqual(try connection.execute("SELECT 2").scalar, "2")
    }

    func testTransactions() throws {
        let db = try TestDatabase(label: "tx")
        let connection = try db.connect()
        struct Boom: Error {}
        XCTAssertThrowsError(try connection.transaction { c in
            try c.execute("INSERT INTO users (id, email) VALUES (1, 'a@x')")
            throw Boom()
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM users").scalar, "0")

        try connection.transaction(isolation: .serializable) { c in
            try c.execute("INSERT INTO users (id, email) VALUES (1, 'a@x')")
        }
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM users").scalar, "1")

        try connection.begin(readOnly: true)
        XCTAssertTrue(connection.isInTransaction)
        XCTAssertThrowsError(try connection.execute("DELETE FROM users")) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "25006")
        }
        XCTAssertThrowsError(try connection.commit()) { error in
            XCTAssertEqual((error as! PostgresError).kind, .transaction)
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM users").scalar, "1")
    }

    func testEveryConnectionIsClosed() throws {
        let db = try TestDatabase(label: "closed")
        // The database's setup has just closed its own session, whose backend may not have exited.
        XCTAssertEqual(try db.sessionCountOnceEnded(), 0)
        do {
            let a = try db.connect()
            let b = try db.connect()
            XCTAssertEqual(try db.sessionCount(), 2)
            _ = try a.execute("SELECT 1")
            _ = try? b.execute("SELECT * FROM nowhere")
            _ = try b.copyOut("COPY (SELECT 1) TO STDOUT") { _ in }
        }
        // A failed connect must not leave a session either.
        _ = try? Connection.connect(db.conninfo + " options='-c no_such_setting=1'")
        XCTAssertEqual(try db.sessionCountOnceEnded(), 0)
    }
}
