import PlanFormat
import RecoveryModel

/// The reports a plan directory holds besides `plan.json` and the rows file, in the order they are
/// written. Each is a pure function of the plan and its evidence.
public enum ReportRenderers {
    public static let all: [ReportRenderer] = [
        MarkdownReport.renderer,
        HTMLReport.renderer,
        RecoveredCSV.renderer,
        DroppedCSV.renderer,
        QuarantinedCSV.renderer,
        UsersCSV.renderer,
        NoticesCSV.renderer,
    ]
}

/// The escaping the human reports share, over UTF-8 bytes: text from the sources is copied a run
/// at a time up to the next byte the format acts on or `VisibleText` escapes.
enum ReportEscape {
    /// The bytes at which a copy stops: the ASCII controls and DEL, the first bytes of the
    /// scalars `VisibleText` may escape, and the printable ASCII the format acts on.
    struct Stops {
        var low: UInt64 = 0xFFFF_FFFF
        var high: UInt64 = 1 << 63

        init(_ special: String) {
            for byte in special.utf8 {
                precondition(byte >= 0x20 && byte < 0x7F, "a special byte is printable ASCII")
                if byte < 64 { low |= 1 << byte } else { high |= 1 << (byte - 64) }
            }
        }

        @inline(__always)
        func contains(_ byte: UInt8) -> Bool {
            if byte < 64 { return low >> byte & 1 != 0 }
            if byte < 128 { return high >> (byte - 64) & 1 != 0 }
            return byte == 0xC2 || byte == 0xD8 || byte == 0xE2
        }
    }

    /// Appends `text` to `out` as `VisibleText.escaped(text)` gives it, except that each
    /// printable ASCII byte of `stops` is handed to `special` (with its offset in `text`) to
    /// write, and each escape gets `backslash` more backslashes before it (Markdown prose escapes
    /// the escape's own `\`).
    @inline(__always)
    static func append(
        _ text: String, to out: inout [UInt8], stops: Stops, backslash: Bool = false,
        special: (UInt8, Int, inout [UInt8]) -> Void
    ) {
        var copy = text
        copy.withUTF8 { bytes in
            var at = 0, runStart = 0
            while at < bytes.count {
                let byte = bytes[at]
                guard stops.contains(byte) else {
                    at += 1
                    continue
                }
                if byte >= 0x20 && byte < 0x7F {
                    if runStart < at { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<at])) }
                    special(byte, at, &out)
                    at += 1
                    runStart = at
                } else if let scalar = VisibleText.escapedScalar(bytes, at: at) {
                    if runStart < at { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<at])) }
                    if backslash { out.append(0x5C) }
                    VisibleText.appendEscape(scalar.value, to: &out)
                    at += scalar.length
                    runStart = at
                } else {
                    at += 1
                }
            }
            if runStart < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count])) }
        }
    }

    /// The decimal digits of `n`.
    @inline(__always)
    static func append(_ n: Int, to out: inout [UInt8]) {
        var buffer = TextBuffer()
        swap(&buffer.bytes, &out)
        buffer.append(n)
        swap(&buffer.bytes, &out)
    }
}
