/// The writing end of a `COPY ... FROM STDIN`: buffers what `body` writes and sends it to the
/// server in 1 MiB pieces (`PQputCopyData`). Only valid inside `Connection.copyIn`.
public struct CopyIn: ~Copyable {
    /// Bytes sent per `PQputCopyData`.
    public static let chunkSize = 1 << 20

    private let connection: Connection
    private let context: String
    private var buffer: [UInt8] = []

    init(connection: Connection, context: String) {
        self.connection = connection
        self.context = context
        buffer.reserveCapacity(Self.chunkSize)
    }

    /// Appends raw bytes of COPY data (rows in the format the COPY statement named).
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    public mutating func write(_ bytes: some Sequence<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    public mutating func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Sends what is buffered.
    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try connection.putCopyData($0, context: context) }
        buffer.removeAll(keepingCapacity: true)
    }
}
