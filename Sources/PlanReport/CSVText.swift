import PlanFormat
import RecoveryModel

/// Writes the plan's CSV reports: RFC 4180 (comma separated, CRLF line ends, a field quoted when it
/// holds a comma, a quote, CR or LF, quotes inside doubled), UTF-8 without a byte order mark.
///
/// Text that came from the sources (paths, reasons, details) is guarded against spreadsheet
/// formula injection: a text field starting with `=`, `+`, `-`, `@`, a tab or a carriage return
/// gets a leading `'`, so a spreadsheet shows it as text instead of evaluating it. Numbers and
/// times this tool writes itself are never guarded. `docs/PLAN-FORMAT.md` says so for readers.
enum CSVText {
    /// A field that needs no formula guard: a number or a time this tool wrote.
    static func plain(_ value: String) -> String {
        quoted(value)
    }

    /// A text field from the sources: control and bidirectional characters escaped visibly
    /// (`VisibleText`; line feeds and tabs stay, inside quotes), formula-guarded, then quoted
    /// when needed.
    static func text(_ value: String) -> String {
        if let printable = printableASCIIText(value) { return printable }
        return quoted(guarded(VisibleText.escaped(value, keepingLayout: true)))
    }

    /// Appends `text(value)`: printable ASCII straight from its bytes, other text the long way.
    static func appendText(_ value: String, to out: inout [UInt8]) {
        var copy = value
        let done = copy.withUTF8 { bytes -> Bool in
            var needsQuotes = false
            for byte in bytes {
                guard byte >= 0x20 && byte <= 0x7E else { return false }
                if byte == 0x2C || byte == 0x22 { needsQuotes = true }
            }
            let guardByte = bytes.first.map(startsFormula) ?? false
            if !needsQuotes && !guardByte {
                out.append(contentsOf: bytes)
                return true
            }
            if needsQuotes { out.append(0x22) }
            if guardByte { out.append(0x27) }
            // Copied a run at a time: each quote ends a run, and is written again.
            var runStart = 0
            for (at, byte) in bytes.enumerated() where byte == 0x22 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...at]))
                out.append(0x22)
                runStart = at + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
            if needsQuotes { out.append(0x22) }
            return true
        }
        if !done { out += text(value).utf8 }
    }

    /// `text` of printable ASCII (nothing to escape), made from its bytes in one pass; nil for
    /// other text.
    private static func printableASCIIText(_ value: String) -> String? {
        var copy = value
        return copy.withUTF8 { bytes -> String? in
            var needsQuotes = false
            for byte in bytes {
                guard byte >= 0x20 && byte <= 0x7E else { return nil }
                if byte == 0x2C || byte == 0x22 { needsQuotes = true }
            }
            guard needsQuotes || (bytes.first.map(startsFormula) ?? false) else { return value }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 8)
            if needsQuotes { out.append(0x22) }
            if let first = bytes.first, startsFormula(first) { out.append(0x27) }
            for byte in bytes {
                out.append(byte)
                if byte == 0x22 { out.append(0x22) }
            }
            if needsQuotes { out.append(0x22) }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// True when `text` gives these UTF-8 bytes back unchanged: printable ASCII only (nothing to
    /// escape), no comma or quote (nothing to quote), and no formula start. Lets a writer skip
    /// making a `String` of each field.
    static func isUnchangedAsText(_ bytes: [UInt8]) -> Bool {
        if let first = bytes.first, startsFormula(first) { return false }
        return CSVPlainText.isPlain(bytes)
    }

    /// True for the first byte of a field that a spreadsheet would read as a formula (`guarded`).
    static func startsFormula(_ byte: UInt8) -> Bool {
        formulaStartBytes.contains(byte)
    }

    /// `'=1+2'` for `=1+2`: the leading `'` makes a spreadsheet keep the cell as text.
    static func guarded(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, formulaStarts.contains(first) else { return value }
        return "'" + value
    }

    static func quoted(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return value
        }
        return "\"" + value.replacingAll("\"", with: "\"\"") + "\""
    }

    /// One record with its CRLF.
    static func record(_ fields: [String]) -> String {
        fields.joined(separator: ",") + "\r\n"
    }

    private static let formulaStartBytes: [UInt8] = Array("=+-@\t\r".utf8)
    private static let formulaStarts = Set(formulaStartBytes.map(Unicode.Scalar.init))
}

extension String {
    /// Every occurrence of `target` replaced, without Foundation.
    func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}
