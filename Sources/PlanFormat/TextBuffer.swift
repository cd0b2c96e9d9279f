import RecoveryModel

/// UTF-8 text built as bytes: the large plan files (rows, recovered slots) are written through it
/// a row at a time, with no `String` per field. Inlinable: the reports call it per field.
public struct TextBuffer {
    public var bytes: [UInt8] = []

    @inlinable
    public init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    @inlinable
    public mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    @inlinable
    public mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    @inlinable
    public mutating func append<I: BinaryInteger>(_ value: I) {
        var v = Int64(value)
        if v < 0 {
            bytes.append(0x2D)
            guard v != .min else { return append(String(v).dropFirst().description) }
            v = -v
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[count] = UInt8(48 + v % 10)
                v /= 10
                count += 1
            } while v > 0
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }

    @inlinable
    public mutating func append(_ time: Timestamp) {
        time.appendRFC3339(to: &bytes)
    }

    /// `log app-1.log:17; log app-1.log:18`, as `Provenance.description` joined by `; `; with
    /// `copyEscaped`, the paths escaped for a COPY text field (the rows file).
    @inlinable
    public mutating func append(_ provenance: [Provenance], copyEscaped: Bool = false) {
        for (i, p) in provenance.enumerated() {
            if i > 0 { append("; ") }
            append(p.kind.rawValue)
            append(byte: 0x20)
            if copyEscaped { CopyTextWriter.appendField(p.location.file, to: &bytes) } else { append(p.location.file) }
            append(byte: 0x3A)
            append(p.location.line)
        }
    }

    @inlinable
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
