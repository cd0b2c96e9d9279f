/// Text from the inputs (hosts, paths, notes, apps, reasons) as it may be shown to a person: every
/// character that could drive a terminal or reorder what is read is written out as a visible
/// `\u001b`-style escape. One function for stdout, stderr, the reports and the CSV files.
///
/// Escaped: the C0 and C1 control characters and DEL (general category Cc), the bidirectional
/// embeddings, overrides, isolates and marks (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066
/// to U+2069), and the line and paragraph separators U+2028 and U+2029. The escape is also a valid
/// JSON escape, so JSON text stays JSON.
public enum VisibleText {
    /// `app-1\u001b[2J`: `text` with every such character escaped. With `keepingLayout`, line
    /// feeds and tabs stay as they are (for multi-line output the tool writes itself).
    public static func escaped(_ text: String, keepingLayout: Bool = false) -> String {
        var copy = text
        let escaped = copy.withUTF8 { bytes -> [UInt8]? in
            var at = 0
            while at < bytes.count, mayStartEscape(bytes[at]) == false || escapedScalar(bytes, at: at, keepingLayout: keepingLayout) == nil {
                at += 1
            }
            guard at < bytes.count else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16)
            var runStart = 0
            while at < bytes.count {
                if mayStartEscape(bytes[at]), let scalar = escapedScalar(bytes, at: at, keepingLayout: keepingLayout) {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<at]))
                    appendEscape(scalar.value, to: &out)
                    at += scalar.length
                    runStart = at
                } else {
                    at += 1
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            return out
        }
        return escaped.map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// True when `scalar` is escaped by `escaped`.
    public static func needsEscape(_ scalar: Unicode.Scalar, keepingLayout: Bool = false) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: !keepingLayout
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: true
        default: false
        }
    }

    /// False for a byte that never starts a scalar `escaped` writes out: any byte but the ASCII
    /// controls, DEL, and the first bytes of U+0080 to U+00BF, U+0600 to U+063F and U+2000 to
    /// U+2FFF. Lets a writer copy the runs of other bytes at once.
    @inlinable @inline(__always)
    public static func mayStartEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == 0xC2 || byte == 0xD8 || byte == 0xE2
    }

    /// The scalar of valid UTF-8 that starts at `bytes[at]` and its length in bytes, when
    /// `escaped` writes it out (`needsEscape`); nil when it stays as it is.
    @inlinable
    public static func escapedScalar(
        _ bytes: UnsafeBufferPointer<UInt8>, at: Int, keepingLayout: Bool = false
    ) -> (value: UInt32, length: Int)? {
        let lead = bytes[at]
        if lead < 0x80 {
            if lead == 0x0A || lead == 0x09 { return keepingLayout ? nil : (UInt32(lead), 1) }
            return lead < 0x20 || lead == 0x7F ? (UInt32(lead), 1) : nil
        }
        switch lead {
        case 0xC2:
            // U+0080 to U+00BF: the second byte is the scalar.
            guard at + 1 < bytes.count, bytes[at + 1] <= 0x9F else { return nil }
            return (UInt32(bytes[at + 1]), 2)
        case 0xD8:
            guard at + 1 < bytes.count, bytes[at + 1] == 0x9C else { return nil }
            return (0x061C, 2)
        case 0xE2:
            guard at + 2 < bytes.count else { return nil }
            let second = bytes[at + 1], third = bytes[at + 2]
            let value = 0x2000 + (UInt32(second & 0x3F) << 6) + UInt32(third & 0x3F)
            switch value {
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: return (value, 3)
            default: return nil
            }
        default:
            return nil
        }
    }

    /// Appends `\u001b`, the escape `escaped` writes for the scalar `value` (at most U+FFFF here):
    /// four lowercase hex digits.
    @inlinable
    public static func appendEscape(_ value: UInt32, to out: inout [UInt8]) {
        func hex(_ digit: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: digit < 10 ? 0x30 + digit : 0x57 + digit) }
        out.append(0x5C)
        out.append(0x75)
        out.append(hex(value >> 12 & 0xF))
        out.append(hex(value >> 8 & 0xF))
        out.append(hex(value >> 4 & 0xF))
        out.append(hex(value & 0xF))
    }
}
