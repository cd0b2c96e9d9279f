import Foundation
import PostgresClient
import RecoveryModel

/// Why an integration test cannot run.
public struct TestEnvironmentError: Error, CustomStringConvertible {
    public var description: String
}

/// A fresh database with the service schema, on the server the environment names (`PGHOST`,
/// `PGPORT`, `PGUSER`: `scripts/test.sh` or `scripts/pg-start.sh` set them), dropped when the
/// value is released or `drop()` is called.
///
///     let db = try TestDatabase()
///     let connection = try db.connect()
///
/// Without `PGHOST` it throws, so an integration test fails with the reason instead of passing
/// without having run.
public final class TestDatabase {
    /// `rt_<label>_<pid>_<random>`
    public let name: String
    /// A key=value connection string to this database, with no password.
    public let conninfo: String
    /// `conninfo`, as the tool's commands are given it (`--db`).
    public var target: ConnectionTarget { ConnectionTarget(conninfo) }
    /// The same for the server's `postgres` database, where databases are created and dropped.
    public let adminConninfo: String
    private var dropped = false

    /// Creates the database and loads `fixtures/schema.sql` (unless `schema` is false).
    public init(label: String = "test", schema: Bool = true) throws {
        let env = ProcessInfo.processInfo.environment
        guard let host = env["PGHOST"], !host.isEmpty else {
            throw TestEnvironmentError(description:
                "PGHOST is not set: integration tests need a PostgreSQL server; run scripts/test.sh, "
                + "or env=$(bash scripts/pg-start.sh) && eval \"$env\" before swift test")
        }
        var server = "host='\(host)'"
        if let port = env["PGPORT"], !port.isEmpty { server += " port=\(port)" }
        if let user = env["PGUSER"], !user.isEmpty { server += " user='\(user)'" }
        let safeLabel = String(label.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.prefix(20))
        name = "rt_\(safeLabel)_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        adminConninfo = server + " dbname=postgres"
        conninfo = server + " dbname=\(name)"

        let admin = try Connection.connect(adminConninfo)
        try admin.executeSimple("CREATE DATABASE \(name) TEMPLATE template0 ENCODING 'UTF8'")
        if schema {
            do {
                try connect().executeSimple(try Repository.serviceSchemaSQL())
            } catch {
                drop()
                throw error
            }
        }
    }

    deinit { drop() }

    /// A new connection to this database.
    public func connect() throws -> Connection {
        try Connection.connect(conninfo)
    }

    /// Which database this is, as a plan made for it records it.
    public func identity() throws -> DatabaseIdentity {
        try connect().identity()
    }

    /// Drops the database, ending any session still connected to it.
    public func drop() {
        guard !dropped else { return }
        dropped = true
        if let admin = try? Connection.connect(adminConninfo) {
            _ = try? admin.executeSimple("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }

    /// Client sessions connected to this database now, other than the caller's own `connection`
    /// (`pg_stat_activity`; an autovacuum worker visiting the database is none).
    public func sessionCount(excluding connection: Connection? = nil) throws -> Int {
        let admin = try Connection.connect(adminConninfo)
        let pid = connection.map { String($0.backendPID) } ?? "0"
        let result = try admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2::int AND backend_type = 'client backend'",
            [name, pid])
        return Int(result.scalar ?? "") ?? -1
    }

    /// `sessionCount` once the sessions whose clients have gone have ended: a backend exits in
    /// the background after its client closes or dies, so the count is read again until it is 0,
    /// for 10 s at most. Returns the last count.
    public func sessionCountOnceEnded(excluding connection: Connection? = nil) throws -> Int {
        var count = try sessionCount(excluding: connection)
        for _ in 0..<200 where count != 0 {
            usleep(50_000)
            count = try sessionCount(excluding: connection)
        }
        return count
    }

    /// `PGHOST`, `PGPORT`, `PGUSER` for subprocesses (`pg_dump`, `psql`) pointed at this database.
    public var processEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("PG") }
        env["PGDATABASE"] = name
        return env
    }
}
