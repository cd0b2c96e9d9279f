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
        "{" + elements.map(quoted).joined(separator: ",") + "}"
    }

    /// An array literal's element: `"a \"b\""`, `"` and `\` escaped.
    public static func quoted(_ text: String) -> String {
        var out: [UInt8] = [0x22]
        for byte in text.utf8 {
            if byte == 0x22 || byte == 0x5C { out.append(0x5C) }
            out.append(byte)
        }
        out.append(0x22)
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

    // Written at a pointer: the plan writer makes its rows in memory it reserved, without a
    // capacity check per byte. The same bytes as `appendField` and `appendArrayField`.

    /// The room `writeField` may take for `value`: every byte escaped.
    public static func fieldRoom(_ value: String) -> Int { 2 * value.utf8.count }

    /// `appendField(value)`'s bytes written at `out`, which has room for `fieldRoom(value)`;
    /// returns how many.
    public static func writeField(_ value: String, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var o = out
        if value.utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            for byte in bytes { o += writeEscaped(byte, to: o) }
            return true
        }) == nil {
            for byte in value.utf8 { o += writeEscaped(byte, to: o) }
        }
        return o - out
    }

    /// The room `writeArrayField` may take for `elements`: the braces, and per element its
    /// quotes, a comma and every byte escaped as `"` or `\\` are (4 bytes).
    public static func arrayFieldRoom(_ elements: [String]) -> Int {
        var room = 2
        for element in elements { room += 3 + 4 * element.utf8.count }
        return room
    }

    /// `appendArrayField(elements)`'s bytes written at `out`, which has room for
    /// `arrayFieldRoom(elements)`; returns how many.
    public static func writeArrayField(_ elements: [String], to out: UnsafeMutablePointer<UInt8>) -> Int {
        var o = out
        o.pointee = 0x7B
        o += 1
        elements.withUnsafeBufferPointer { elements in
            for i in elements.indices {
                if i > 0 { o.pointee = 0x2C; o += 1 }
                o.pointee = 0x22
                o += 1
                if elements[i].utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
                    for byte in bytes { o += writeArrayEscaped(byte, to: o) }
                    return true
                }) == nil {
                    for byte in elements[i].utf8 { o += writeArrayEscaped(byte, to: o) }
                }
                o.pointee = 0x22
                o += 1
            }
        }
        o.pointee = 0x7D
        return o + 1 - out
    }

    /// A byte of an array element: the array literal's backslash before `"` or `\`, itself
    /// escaped for COPY, then the byte as `writeEscaped` writes it.
    @inline(__always)
    static func writeArrayEscaped(_ byte: UInt8, to out: UnsafeMutablePointer<UInt8>) -> Int {
        guard byte == 0x22 || byte == 0x5C else { return writeEscaped(byte, to: out) }
        out[0] = 0x5C
        out[1] = 0x5C
        return 2 + writeEscaped(byte, to: out + 2)
    }

    /// `appendEscaped`, at a pointer; returns the bytes written.
    @inline(__always)
    static func writeEscaped(_ byte: UInt8, to out: UnsafeMutablePointer<UInt8>) -> Int {
        guard needsEscape(byte) else {
            out[0] = byte
            return 1
        }
        out[0] = 0x5C
        switch byte {
        case 0x5C: out[1] = 0x5C
        case 0x09: out[1] = 0x74
        case 0x0A: out[1] = 0x6E
        case 0x0D: out[1] = 0x72
        case 0x08: out[1] = 0x62
        case 0x0C: out[1] = 0x66
        default: out[1] = 0x76  // 0x0B
        }
        return 2
    }
}
