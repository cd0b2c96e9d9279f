import CLibPQ

/// A `COPY ... TO STDOUT` read one row at a time, when rows must be pulled rather than pushed
/// (merging two streams). Made by `Connection.startCopyOut`; it holds the connection busy until
/// `next` returns false. Released early, it cancels the COPY and drains it.
public final class CopyOutCursor {
    private let connection: Connection
    private let context: String
    private var finished = false
    /// Rows delivered so far.
    public private(set) var rows = 0

    init(connection: Connection, context: String) {
        self.connection = connection
        self.context = context
    }

    deinit {
        if !finished { connection.abandonCopyOut() }
    }

    /// Calls `body` with the next row (COPY text with its newline; valid only during the call)
    /// and returns true, or returns false at the end of the data (`PQgetCopyData`).
    public func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard !finished else { return false }
        var buffer: UnsafeMutablePointer<CChar>?
        let n = PQgetCopyData(connection.handle, &buffer, 0)
        if n > 0, let buffer {
            defer { PQfreemem(buffer) }
            rows += 1
            try body(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
            return true
        }
        if let buffer { PQfreemem(buffer) }
        finished = true
        try connection.finishCopyOut(failed: n != -1, context: context)
        return false
    }
}

extension Connection {
    /// Starts `COPY ... TO STDOUT` and returns a cursor over its rows.
    public func startCopyOut(_ sql: String, context: String? = nil) throws -> CopyOutCursor {
        let context = context ?? queryContextFor(sql)
        try startCopy(sql, expecting: PGRES_COPY_OUT, context: context)
        return CopyOutCursor(connection: self, context: context)
    }
}
