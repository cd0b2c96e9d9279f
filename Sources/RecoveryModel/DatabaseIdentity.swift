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
    /// The schema of the service's tables (`--schema`), which the plan read and a run wrote;
    /// nil in a plan or run recorded before it was kept, which used `defaultSchema`.
    public var schema: String?

    /// The service schema when none is given (`--schema`).
    public static let defaultSchema = "public"

    public init(target: String, systemIdentifier: String, name: String, oid: Int64, serverVersion: String, schema: String? = nil) {
        self.target = target
        self.systemIdentifier = systemIdentifier
        self.name = name
        self.oid = oid
        self.serverVersion = serverVersion
        self.schema = schema
    }

    /// The service schema, `defaultSchema` when none was recorded.
    public var serviceSchema: String { schema ?? Self.defaultSchema }

    /// True when `other` is the same database and service schema: the same cluster, OID, name
    /// and schema. One database's schemas hold tables of their own, and one `recovery` schema
    /// records the runs of all of them.
    public func isSameDatabase(as other: DatabaseIdentity) -> Bool {
        systemIdentifier == other.systemIdentifier && oid == other.oid && name == other.name && serviceSchema == other.serviceSchema
    }

    /// `database 'tracker' (OID 16384, cluster 7311023811954282520, PostgreSQL 16.4) at 'host=db1 dbname=tracker'`,
    /// with `, schema 'svc'` before ` at` for a schema other than the default.
    public var description: String {
        let schemaText = serviceSchema == Self.defaultSchema ? "" : ", schema '\(serviceSchema)'"
        return "database '\(name)' (OID \(oid), cluster \(systemIdentifier), PostgreSQL \(serverVersion))\(schemaText) at '\(target)'"
    }

    /// The line the plan id covers: every field, each text field preceded by its length in UTF-8
    /// bytes so that no field's content can be mistaken for the next one. A schema other than
    /// the default is a field of its own at the end; the default adds nothing, so that the ids
    /// of plans made before the schema was recorded stay what they were.
    public var planIDLine: String {
        func field(_ s: String) -> String { "\(s.utf8.count):\(s)" }
        let schemaField = serviceSchema == Self.defaultSchema ? "" : " schema \(field(serviceSchema))"
        return "database \(field(systemIdentifier)) \(oid) \(field(name)) \(field(serverVersion)) \(field(target))\(schemaField)\n"
    }
}
