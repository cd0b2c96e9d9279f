import RecoveryModel

/// A value a statement returned that the tool cannot read (a NULL where a value must be, text
/// that is not the number or time it should be): one error naming the table, the column and the
/// row's key, never a row skipped.
public struct UnreadableValue: ToolError, Hashable {
    public var table: String
    public var column: String
    /// The row, by its key: `slot_id 12`.
    public var key: String
    /// The text as returned; nil for NULL.
    public var value: String?
    /// What the value should have been: `an integer`, `a time`.
    public var expected: String

    public init(table: String, column: String, key: String, value: String?, expected: String) {
        self.table = table
        self.column = column
        self.key = key
        self.value = value
        self.expected = expected
    }

    public var code: String { "database_unreadable_value" }
    public var exitStatus: ExitStatus { .database }
    public var message: String {
        let shown = value.map { "'\(VisibleText.escaped($0))'" } ?? "NULL"
        return "cannot read \(table).\(column) of the row with \(key): \(shown) is not \(expected); nothing was skipped and nothing was changed"
    }
    public var hint: String? { "the database does not hold what the tool expects there; check it against the service schema" }
}

/// One row of a `QueryResult`, read column by column: each accessor returns the value or throws
/// `UnreadableValue` naming the table, the column and the row's key.
public struct ResultRow {
    public let values: [String?]
    public let table: String
    /// Which columns name the row in an error, with their names: `[(0, "slot_id")]`.
    let keyColumns: [(index: Int, name: String)]

    var key: String {
        keyColumns.map { "\($0.name) \(values.indices.contains($0.index) ? values[$0.index] ?? "NULL" : "?")" }.joined(separator: ", ")
    }

    private func failure(_ i: Int, _ column: String, _ expected: String) -> UnreadableValue {
        UnreadableValue(table: table, column: column, key: key, value: values.indices.contains(i) ? values[i] : nil, expected: expected)
    }

    public func int64(_ i: Int, _ column: String) throws(UnreadableValue) -> Int64 {
        guard values.indices.contains(i), let text = values[i], let value = Int64(text) else { throw failure(i, column, "an integer") }
        return value
    }

    /// An integer, or nil for NULL.
    public func optionalInt64(_ i: Int, _ column: String) throws(UnreadableValue) -> Int64? {
        guard values.indices.contains(i), values[i] != nil else { return nil }
        return try int64(i, column)
    }

    /// A `timestamptz` as the pinned session writes it (ISO, UTC).
    public func time(_ i: Int, _ column: String) throws(UnreadableValue) -> Timestamp {
        guard values.indices.contains(i), let text = values[i], let value = Timestamp.parse(text) else { throw failure(i, column, "a time") }
        return value
    }

    public func text(_ i: Int, _ column: String) throws(UnreadableValue) -> String {
        guard values.indices.contains(i), let text = values[i] else { throw failure(i, column, "a text") }
        return text
    }

    /// A value that must be one of a set (`reason`): `make` returns nil for any other.
    public func value<T>(_ i: Int, _ column: String, expected: String, _ make: (String) -> T?) throws(UnreadableValue) -> T {
        guard values.indices.contains(i), let text = values[i], let value = make(text) else { throw failure(i, column, expected) }
        return value
    }
}

extension QueryResult {
    /// Every row, read by `body` through a `ResultRow` of `table` whose key is `key` (column
    /// indices and names): a value that cannot be read stops with `UnreadableValue`, never a
    /// row left out.
    public func read<T>(
        table: String, key: [(index: Int, name: String)], _ body: (ResultRow) throws -> T
    ) throws -> [T] {
        try rows.map { try body(ResultRow(values: $0, table: table, keyColumns: key)) }
    }
}
