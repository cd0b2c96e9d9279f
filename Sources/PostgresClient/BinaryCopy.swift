/// One row of a `COPY ... TO STDOUT (FORMAT binary)`, its fields read in order
/// (`Connection.copyOutBinary`). Each field is in its type's binary send format, which neither
/// DateStyle, the time zone nor `extra_float_digits` can change. Valid only during the call.
public struct BinaryCopyRow {
    /// The fields: for each, a 32-bit big-endian length (-1 for NULL) and that many bytes. Checked
    /// by `init` to end exactly at the row's end.
    private let fields: UnsafeRawBufferPointer
    private var position = 0
    /// The number of fields of the row.
    public let count: Int

    /// The row's fields, after its 16-bit field count; nil when the lengths do not add up to
    /// exactly the bytes given.
    init?(count: Int, fields: UnsafeRawBufferPointer) {
        var position = 0
        for _ in 0..<count {
            guard let length = fields.bigEndianInt32(at: position) else { return nil }
            position += 4
            if length >= 0 {
                guard Int(length) <= fields.count - position else { return nil }
                position += Int(length)
            } else if length != -1 {
                return nil
            }
        }
        guard position == fields.count else { return nil }
        self.count = count
        self.fields = fields
    }

    /// The next field; nil after the last.
    public mutating func next() -> BinaryCopyField? {
        guard let length = fields.bigEndianInt32(at: position) else { return nil }
        position += 4
        guard length >= 0 else { return BinaryCopyField(bytes: nil) }
        defer { position += Int(length) }
        return BinaryCopyField(bytes: UnsafeRawBufferPointer(rebasing: fields[position..<(position + Int(length))]))
    }
}

/// One field of a `BinaryCopyRow`.
public struct BinaryCopyField {
    /// The bytes of the value; nil for NULL.
    public let bytes: UnsafeRawBufferPointer?

    /// Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's epoch for times.
    static let postgresEpoch: Int64 = 946_684_800_000_000

    /// A `bigint` (`int8send`: 8 bytes, big-endian); nil for NULL or any other length.
    public var int64: Int64? {
        guard let bytes, bytes.count == 8 else { return nil }
        return Int64(bigEndian: bytes.loadUnaligned(as: Int64.self))
    }

    /// A `timestamptz` (`timestamptz_send`: 8 bytes, microseconds since 2000-01-01 00:00 UTC) as
    /// microseconds since 1970-01-01 00:00 UTC; nil for NULL, any other length, or `infinity`
    /// and `-infinity` (the extremes of the 64 bits), which no microsecond count stands for.
    public var timestamptzMicroseconds: Int64? {
        guard let value = int64, value != .max, value != .min else { return nil }
        let (since1970, overflow) = value.addingReportingOverflow(Self.postgresEpoch)
        return overflow ? nil : since1970
    }

    /// A `text` value (`textsend`: its bytes in the client encoding, UTF-8 for the tool); nil for NULL.
    public var text: String? {
        bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes in hex as `bytea` prints them (`\x0000...`), for a message; nil for NULL.
    public var hex: String? {
        guard let bytes else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = Array("\\x".utf8)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension UnsafeRawBufferPointer {
    /// The 32-bit big-endian integer at `offset`; nil when fewer than 4 bytes are left there.
    fileprivate func bigEndianInt32(at offset: Int) -> Int32? {
        guard offset >= 0, offset <= count - 4 else { return nil }
        return Int32(bigEndian: loadUnaligned(fromByteOffset: offset, as: Int32.self))
    }

    fileprivate func bigEndianInt16(at offset: Int) -> Int16? {
        guard offset >= 0, offset <= count - 2 else { return nil }
        return Int16(bigEndian: loadUnaligned(fromByteOffset: offset, as: Int16.self))
    }
}

extension Connection {
    /// Runs `COPY ... TO STDOUT (FORMAT binary)` and hands each row to `body` as it arrives: the
    /// file header (signature, flags, extension) and the trailer are checked and skipped, and
    /// each row's field lengths checked against its bytes. Returns the number of rows.
    ///
    /// Data that is not binary COPY (a statement without `FORMAT binary`, a cut or malformed row)
    /// stops the COPY with an error. If `body` throws, the COPY is cancelled and drained and the
    /// error rethrown, as `copyOut` does: the connection stays usable.
    @discardableResult
    public func copyOutBinary(
        _ sql: String, context: String? = nil, _ body: (inout BinaryCopyRow) throws -> Void
    ) throws -> Int {
        let context = context ?? queryContextFor(sql)
        func malformed(_ what: String) -> PostgresError {
            PostgresError(kind: .copy, message: "the server's data is not binary COPY: \(what)", context: context)
        }
        var stream = BinaryCopyStream(), rows = 0
        try copyOut(sql, context: context) { message in
            let taken: BinaryCopyStream.Message
            do throws(BinaryCopyStream.Malformed) {
                taken = try stream.take(message)
            } catch {
                throw malformed(error.what)
            }
            guard case .row(var row) = taken else { return }
            rows += 1
            try body(&row)
        }
        guard stream.sawTrailer else { throw malformed("no trailer") }
        return rows
    }
}

/// The messages of a binary COPY, in the order the server sends them: the file header, then one
/// row per message, then the trailer (PostgreSQL sends the header in the first row's message, or
/// in the trailer's when there is no row; a header in a message of its own is read as well).
struct BinaryCopyStream {
    /// What a message held.
    enum Message {
        case row(BinaryCopyRow)
        /// The header alone, or the trailer.
        case none
    }

    /// Why the data is not binary COPY, for the error's message.
    struct Malformed: Error {
        var what: String
    }

    private(set) var sawHeader = false
    private(set) var sawTrailer = false

    /// The row in `message`, after the header when it is the first message.
    mutating func take(_ message: UnsafeRawBufferPointer) throws(Malformed) -> Message {
        var data = message
        if !sawHeader {
            guard let rest = Self.afterHeader(data) else { throw Malformed(what: "no valid header") }
            data = rest
            sawHeader = true
            if data.isEmpty { return .none }
        }
        guard !sawTrailer else { throw Malformed(what: "data after the trailer") }
        guard let count = data.bigEndianInt16(at: 0) else { throw Malformed(what: "a row without a field count") }
        if count == -1 {
            guard data.count == 2 else { throw Malformed(what: "data after the trailer") }
            sawTrailer = true
            return .none
        }
        guard count >= 0, let row = BinaryCopyRow(count: Int(count), fields: UnsafeRawBufferPointer(rebasing: data[2...])) else {
            throw Malformed(what: "a row whose field lengths do not match its bytes")
        }
        return .row(row)
    }

    /// The bytes after the header at the start of `data`; nil when it holds no valid one: the
    /// 11-byte signature, 32-bit flags, and the length of an extension area to skip. Flag bits
    /// 0–15 are format-critical (a reader must stop on one it does not know) and bit 16 says
    /// rows carry OIDs: the tool asks for none of them. Bits 17–31 may be ignored.
    static func afterHeader(_ data: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard data.count >= 19, data.prefix(11).elementsEqual(signature),
              let flags = data.bigEndianInt32(at: 11), flags & 0x0001_FFFF == 0,
              let extensionLength = data.bigEndianInt32(at: 15), extensionLength >= 0,
              Int(extensionLength) <= data.count - 19
        else { return nil }
        return UnsafeRawBufferPointer(rebasing: data[(19 + Int(extensionLength))...])
    }

    /// `PGCOPY\n\377\r\n\0`: how a binary COPY file starts.
    static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]
}
