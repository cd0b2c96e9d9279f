/// Writes values in PostgreSQL's COPY text format: tab-separated, `\N` for NULL, backslash
/// escapes, `text[]` as array literals. The plan's rows file uses it, so `apply` loads it with a
/// plain `COPY ... FROM STDIN`. Works on bytes: it runs for every field of every recovered row.
public enum CopyTextWriter {
    /// A text field: backslash and the control characters COPY names (`\b \f \n \r \t \v`)
    /// escaped, as `COPY ... TO` writes them.
    public static func field(_ value: String?) -> String {
        var out: [UInt8] = []
        appendField(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A `text[]` array literal, every element quoted: `{"Xcode","a \"b\""}`; `{}` when empty.
    /// The result still goes through `field` when written to a COPY row.
    public static func arrayLiteral(_ elements: [String]) -> String {
        var out: [UInt8] = [0x7B]
        for (i, element) in elements.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x22)
            for byte in element.utf8 {
                if byte == 0x22 || byte == 0x5C { out.append(0x5C) }
                out.append(byte)
            }
            out.append(0x22)
        }
        out.append(0x7D)
        return String(decoding: out, as: UTF8.self)
    }

    public static func appendField(_ value: String?, to out: inout [UInt8]) {
        guard let value else {
            out.append(contentsOf: [0x5C, 0x4E])  // \N
            return
        }
        // Most text has nothing to escape: then its bytes go in at once.
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: needsEscape) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true { return }
        for byte in value.utf8 { appendEscaped(byte, to: &out) }
    }

    /// True for the bytes `appendEscaped` writes as an escape: backslash, `\b \t \n \v \f \r`.
    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte == 0x5C || (byte >= 0x08 && byte <= 0x0D)
    }

    /// The field of a `text[]` column: the array literal and the COPY escapes in one pass.
    public static func appendArrayField(_ elements: [String], to out: inout [UInt8]) {
        out.append(0x7B)
        for (i, element) in elements.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x22)
            // Most names have nothing to escape: then their bytes go in at once.
            let copied = element.utf8.withContiguousStorageIfAvailable { bytes in
                guard !bytes.contains(where: { $0 == 0x22 || needsEscape($0) }) else { return false }
                out.append(contentsOf: bytes)
                return true
            }
            if copied != true {
                for byte in element.utf8 {
                    // The array literal's backslash before `"` or `\`, itself escaped for COPY.
                    if byte == 0x22 || byte == 0x5C { out.append(contentsOf: [0x5C, 0x5C]) }
                    appendEscaped(byte, to: &out)
                }
            }
            out.append(0x22)
        }
        out.append(0x7D)
    }

    @inline(__always)
    static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x09: out.append(contentsOf: [0x5C, 0x74])
        case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
        case 0x0D: out.append(contentsOf: [0x5C, 0x72])
        case 0x08: out.append(contentsOf: [0x5C, 0x62])
        case 0x0C: out.append(contentsOf: [0x5C, 0x66])
        case 0x0B: out.append(contentsOf: [0x5C, 0x76])
        default: out.append(byte)
        }
    }
}
