/// Which database a plan was made against (`plan.json`'s `database`), read from the server
/// itself: a plan is applied, and a run verified or reverted, only in the database it names.
///
/// Two databases are the same when their cluster's system identifier (`pg_control_system()`,
/// fixed when `initdb` ran; a streaming replica shares it), their OID in that cluster and their
/// name agree. The target (how the tool reached it) and the server version are recorded for the
/// reader, not compared here: another host name for the same server, or a minor upgrade between
/// plan and apply, is still the same database. (`combine` compares the shards' targets: a physical
/// copy of the cluster has the same identity. Through libpq's `PG*` variables alone the target is
/// empty, and that check sees nothing.)
public struct DatabaseIdentity: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The connection string the tool used, without its password (`ConnectionInfo.redacted`).
    public var target: String
    /// `pg_control_system().system_identifier`, as decimal text (it does not fit a JSON number).
    public var systemIdentifier: String
    /// `current_database()`.
    public var name: String
    /// The database's OID in `pg_database`.
    public var oid: Int64
    /// `server_version`: `16.4 (Debian 16.4-1.pgdg120+1)`.
    public var serverVersion: String

    public init(target: String, systemIdentifier: String, name: String, oid: Int64, serverVersion: String) {
        self.target = target
        self.systemIdentifier = systemIdentifier
        self.name = name
        self.oid = oid
        self.serverVersion = serverVersion
    }

    /// True when `other` is the same database: the same cluster, OID and name.
    public func isSameDatabase(as other: DatabaseIdentity) -> Bool {
        systemIdentifier == other.systemIdentifier && oid == other.oid && name == other.name
    }

    /// `database 'tracker' (OID 16384, cluster 7311023811954282520, PostgreSQL 16.4) at 'host=db1 dbname=tracker'`
    public var description: String {
        "database '\(name)' (OID \(oid), cluster \(systemIdentifier), PostgreSQL \(serverVersion)) at '\(target)'"
    }

    /// The line the plan id covers: every field, each text field preceded by its length in UTF-8
    /// bytes so that no field's content can be mistaken for the next one.
    public var planIDLine: String {
        func field(_ s: String) -> String { "\(s.utf8.count):\(s)" }
        return "database \(field(systemIdentifier)) \(oid) \(field(name)) \(field(serverVersion)) \(field(target))\n"
    }
}
