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
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepingLayout: keepingLayout) }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if needsEscape(scalar, keepingLayout: keepingLayout) {
                out.append(contentsOf: "\\u".unicodeScalars)
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: (String(repeating: "0", count: max(0, 4 - hex.count)) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
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
}
