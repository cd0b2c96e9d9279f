import CLibPQ

/// A database to connect to, and where the tool was told of it: the source names the flag or the
/// variable to check when the connection fails. This module reads no environment; the executable
/// resolves `--db` and `DATABASE_URL` (`resolve`).
public struct ConnectionTarget: Hashable, Sendable {
    /// A key=value string or a URI; empty for libpq's own defaults (`PGHOST`, `PGDATABASE`, ...).
    public var conninfo: String
    /// `--db`, `--snapshot`, `DATABASE_URL`, or `libpq's PG* variables`.
    public var source: String
    /// The schema that holds the service's tables there (`--schema`, default `public`): the
    /// session's search path is pinned to it, and `Connection.table` qualifies names with it.
    public var schema: String

    public init(_ conninfo: String, source: String = "--db", schema: String = SessionSettings.defaultSchema) {
        self.conninfo = conninfo
        self.source = source
        self.schema = schema
    }

    /// The string given with `flag`, else `databaseURL` (the environment's `DATABASE_URL`), else
    /// libpq's defaults.
    public static func resolve(_ given: String?, flag: String, databaseURL: String?) -> ConnectionTarget {
        if let given, !given.isEmpty { return ConnectionTarget(given, source: flag) }
        if let databaseURL, !databaseURL.isEmpty { return ConnectionTarget(databaseURL, source: "DATABASE_URL") }
        return ConnectionTarget("", source: "libpq's PG* variables")
    }
}

/// Connection strings shown without their passwords.
public enum ConnectionInfo {
    /// `host=/tmp/x port=5432 dbname=tracker user=recover`: the effective host, port, database and
    /// user (from the string, else libpq's defaults), then the string's other settings, without
    /// any secret (libpq marks `password` and `sslpassword` as such). Accepts both the key=value
    /// and the URI forms (`PQconninfoParse`). An unparseable string shows as
    /// `<invalid connection string>`, since it may hold a password in a form libpq cannot split.
    public static func redacted(_ conninfo: String) -> String {
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errmsg) else {
            if let errmsg { PQfreemem(errmsg) }
            return "<invalid connection string>"
        }
        defer { PQconninfoFree(options) }
        var explicit: [(String, String)] = []
        var index = 0
        while let keyword = options[index].keyword {
            let option = options[index]
            index += 1
            guard let value = option.val else { continue }
            let dispchar = option.dispchar.map { String(cString: $0) } ?? ""
            if dispchar.hasPrefix("*") { continue }
            explicit.append((String(cString: keyword), String(cString: value)))
        }
        var defaults: [String: String] = [:]
        if let all = PQconndefaults() {
            var i = 0
            while let keyword = all[i].keyword {
                if let value = all[i].val { defaults[String(cString: keyword)] = String(cString: value) }
                i += 1
            }
            PQconninfoFree(all)
        }
        let leading = ["host", "port", "dbname", "user"]
        var parts: [String] = []
        for key in leading {
            if let value = explicit.first(where: { $0.0 == key })?.1 ?? defaults[key] {
                parts.append("\(key)=\(quoted(value))")
            }
        }
        for (key, value) in explicit where !leading.contains(key) {
            parts.append("\(key)=\(quoted(value))")
        }
        return parts.joined(separator: " ")
    }

    private static func quoted(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "'" || $0 == "\\" }) { return value }
        return "'" + value.replacingBackslashesAndQuotes() + "'"
    }
}

extension String {
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for ch in self {
            if ch == "\\" || ch == "'" { out.append("\\") }
            out.append(ch)
        }
        return out
    }
}
