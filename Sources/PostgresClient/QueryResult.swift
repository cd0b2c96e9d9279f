import CLibPQ

/// The rows of a statement, copied out of its `PGresult` (which is freed at once), all values in
/// text format; nil is SQL NULL. For large results use `Connection.copyOut`.
public struct QueryResult: Sendable, Hashable {
    /// Column names, in order.
    public let columns: [String]
    /// `rows[row][column]`
    public let rows: [[String?]]
    /// The command tag: `INSERT 0 3`, `SELECT 2`, `COMMIT` (`PQcmdStatus`).
    public let commandTag: String
    /// Rows inserted, updated, deleted or copied (`PQcmdTuples`); 0 when the command says none.
    public let affectedRows: Int

    init(_ result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            rows.append((0..<columnCount).map { c in
                PQgetisnull(result, Int32(r), Int32(c)) == 1
                    ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
            })
        }
        self.rows = rows
        commandTag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public var rowCount: Int { rows.count }
    public var columnCount: Int { columns.count }

    public subscript(row: Int, column: Int) -> String? { rows[row][column] }

    /// The value of the named column; traps on a name the result does not have.
    public subscript(row: Int, column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else {
            preconditionFailure("no column '\(column)' in the result")
        }
        return rows[row][index]
    }

    /// The first column of the first row, or nil (no row or NULL).
    public var scalar: String? { rows.first?.first ?? nil }
}
