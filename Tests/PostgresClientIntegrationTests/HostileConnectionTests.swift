import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Connection strings and server settings as a hostile or careless user gives them: no secret
/// ever reaches a message, and no server default changes what the tool reads.
final class HostileConnectionTests: XCTestCase {
    /// Every form a password can take in a connection string, well-formed or not.
    static let hostile: [(conninfo: String, secret: String)] = [
        ("postgresql://rt:Secret1@[::1/tracker", "Secret1"),
        ("postgres://rt:Secret2@db1:5432/tracker", "Secret2"),
        ("postgresql://rt:Sec%72et3@db1/tracker", "Sec%72et3"),
        ("postgresql://rt:Sec@ret4@db1/tracker", "Sec@ret4"),
        ("postgresql://rt:Secret5@db1/tracker?sslmode=bogus", "Secret5"),
        ("postgresql://rt@db1/tracker?password=Secret6&sslmode=require", "Secret6"),
        ("postgresql://rt@db1/tracker?pass%77ord=Secret7", "Secret7"),
        ("postgresql://rt@db1/tracker?sslpassword=Secret8", "Secret8"),
        ("postgresql://rt:Secret9@db1/tracker?host=%zz", "Secret9"),
        ("host=db1 password=Secret10 dbname=tracker", "Secret10"),
        ("host=db1 password = 'Sec ret11' dbname=tracker", "ret11"),
        ("host=db1 password='Secret12", "Secret12"),
        ("host=db1 PASSWORD=Secret13", "Secret13"),
        ("host=db1 password Secret14", "Secret14"),
        ("host=db1 password=Sec ret15", "ret15"),
        ("host=db1 passwrd=Secret16", "Secret16"),
        ("host=db1 sslpassword=Secret17 sslmode=require", "Secret17"),
        ("host=db1 password=Secret18\\", "Secret18"),
    ]

    func testRedactionHidesEveryPassword() {
        for (conninfo, secret) in Self.hostile {
            // As libpq or a reader might echo it: bare, quoted, inside a sentence.
            for text in [conninfo, "cannot open \"\(conninfo)\": no", "x '\(conninfo)' y"] {
                let shown = ConnectionInfo.redactingSecrets(in: text, conninfo: conninfo)
                XCTAssertFalse(shown.contains(secret), "\(conninfo) → \(shown)")
                let patternsOnly = ConnectionInfo.redactingSecrets(in: text)
                if !["Secret14", "ret15", "Secret16"].contains(secret) {
                    XCTAssertFalse(patternsOnly.contains(secret), "\(conninfo) → \(patternsOnly)")
                }
            }
            XCTAssertFalse(ConnectionInfo.redacted(conninfo).contains(secret), conninfo)
        }
        // What carries no secret is left alone.
        XCTAssertEqual(
            ConnectionInfo.redactingSecrets(in: "cannot connect to 'host=db1 dbname=tracker': timeout; check --db"),
            "cannot connect to 'host=db1 dbname=tracker': timeout; check --db")
        XCTAssertEqual(
            ConnectionInfo.redactingSecrets(in: "postgresql://rt:Secret@db1/x and password=hunter2&y"),
            "postgresql://rt:********@db1/x and password=********&y")
    }

    /// Row 5: a malformed URI, through --db and through --snapshot's connection path.
    func testMalformedConnectionStringNeverShowsItsPassword() throws {
        for (conninfo, secret) in Self.hostile {
            for flag in ["--db", "--snapshot"] {
                XCTAssertThrowsError(try Connection.connect(ConnectionTarget(conninfo, source: flag))) { error in
                    let text = String(describing: error)
                    XCTAssertFalse(text.contains(secret), text)
                    XCTAssertFalse(String(reflecting: error).contains(secret), text)
                    XCTAssertTrue(text.hasSuffix("; check \(flag)"), text)
                }
            }
        }
        XCTAssertThrowsError(try Connection.connect("postgresql://rt:Secret@[::1/tracker")) { error in
            XCTAssertEqual(
                String(describing: error),
                "cannot connect to the database: the connection string given by --db is not valid: "
                    + "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"********\"; check --db")
        }
    }

    /// The hint names where the string came from: the flag, else DATABASE_URL, else libpq's own
    /// variables; and the library reads no environment (the executable passes DATABASE_URL in).
    func testTheTargetNamesItsSource() throws {
        XCTAssertEqual(ConnectionTarget.resolve("dbname=a", flag: "--db", databaseURL: "dbname=b"), ConnectionTarget("dbname=a", source: "--db"))
        XCTAssertEqual(ConnectionTarget.resolve(nil, flag: "--db", databaseURL: "dbname=b"), ConnectionTarget("dbname=b", source: "DATABASE_URL"))
        XCTAssertEqual(ConnectionTarget.resolve("", flag: "--db", databaseURL: ""), ConnectionTarget("", source: "libpq's PG* variables"))
        let given = ConnectionTarget.resolve(nil, flag: "--db", databaseURL: "postgresql://rt:Secret@[::1/tracker")
        XCTAssertThrowsError(try Connection.connect(given)) { error in
            XCTAssertTrue(String(describing: error).hasSuffix("; check DATABASE_URL"), String(describing: error))
        }
        let sources = try String(contentsOf: Repository.root.appendingPathComponent("Sources/PostgresClient/Connection.swift"), encoding: .utf8)
            + String(contentsOf: Repository.root.appendingPathComponent("Sources/PostgresClient/ConnectionInfo.swift"), encoding: .utf8)
        XCTAssertFalse(sources.contains("getenv"), "the client library reads no environment")
    }

    /// Row 1's cause: the database's (and the environment's) settings cannot change the session.
    func testSessionIsPinnedWhateverTheServerDefaults() throws {
        let db = try TestDatabase(label: "pinned", schema: false)
        try db.connect().executeSimple("""
            CREATE SCHEMA evil;
            CREATE TABLE evil.users (id bigint);
            ALTER DATABASE \(db.name) SET datestyle = 'SQL, DMY';
            ALTER DATABASE \(db.name) SET timezone = 'Asia/Kolkata';
            ALTER DATABASE \(db.name) SET intervalstyle = 'sql_standard';
            ALTER DATABASE \(db.name) SET extra_float_digits = -15;
            ALTER DATABASE \(db.name) SET search_path = evil, public;
            ALTER DATABASE \(db.name) SET client_encoding = 'LATIN1';
            ALTER DATABASE \(db.name) SET session_replication_role = replica;
            CREATE TABLE public.users (id bigint);
            """)
        setenv("PGDATESTYLE", "German", 1)
        setenv("PGTZ", "America/Los_Angeles", 1)
        defer { unsetenv("PGDATESTYLE"); unsetenv("PGTZ") }
        let connection = try Connection.connect(
            db.conninfo, session: SessionSettings(applicationName: "recover-tool plan", schema: "public"))
        let shown = try connection.execute("""
            SELECT current_setting('DateStyle'), current_setting('TimeZone'), current_setting('IntervalStyle'),
                   current_setting('extra_float_digits'), current_setting('client_encoding'),
                   current_setting('application_name'), current_setting('search_path'),
                   '2018-07-25 14:50:00+00'::timestamptz::text, interval '90 minutes'::text,
                   (SELECT count(*) FROM users)::text, to_regclass('users')::text, current_setting('session_replication_role')
            """).rows[0]
        XCTAssertEqual(shown, [
            "ISO, YMD", "UTC", "postgres", "3", "UTF8", "recover-tool plan", "pg_catalog, \"public\", pg_temp",
            "2018-07-25 14:50:00+00", "01:30:00", "0", "users",
            // Left as it is: reads do not depend on it; the sessions that write set it back
            // (`HostileInputTests.testReplicaReplicationRoleIsSetBackForWritesOnly`).
            "replica",
        ])
        XCTAssertEqual(SessionSettings(schema: "svc\"x").table("time_slots"), "\"svc\"\"x\".time_slots")
    }
}
