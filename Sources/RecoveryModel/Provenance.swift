/// Where a record came from: a file and a 1-based line, or a row of a snapshot database.
///
/// `file` is the path as the engineer gave it (or as found under a given directory); for a
/// database snapshot it is the connection string with its password removed, and `line` is the
/// 1-based row number of the snapshot query.
public struct SourceLocation: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line) < (rhs.file, rhs.line)
    }

    /// `logs/app-1/2018-07-25.log.lz4:1042`
    public var description: String { "\(file):\(line)" }
}

/// Which kind of source a location belongs to.
public enum SourceKind: String, Codable, Sendable, Hashable {
    case log, snapshot
}

/// The evidence behind one recovered version: every event that shaped it, in fold order.
public struct Provenance: Hashable, Sendable, CustomStringConvertible {
    public var kind: SourceKind
    public var location: SourceLocation

    public init(kind: SourceKind, location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    public var description: String { "\(kind.rawValue) \(location)" }
}
