/// Writes values in PostgreSQL's COPY text format: tab-separated, `\N` for NULL, backslash
/// escapes, `text[]` as array literals. The plan's rows file uses it, so `apply` loads it with a
/// plain `COPY ... FROM STDIN`.
public enum CopyTextWriter {
    /// A text field: backslash, tab, newline and carriage return escaped.
    public static func field(_ value: String?) -> String {
        guard let value else { return "\\N" }
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A `text[]` array literal, every element quoted: `{"Xcode","a \"b\""}`; `{}` when empty.
    /// The result still goes through `field` when written to a COPY row.
    public static func arrayLiteral(_ elements: [String]) -> String {
        "{" + elements.map { element in
            var quoted = "\""
            for scalar in element.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { quoted += "\\" }
                quoted.unicodeScalars.append(scalar)
            }
            return quoted + "\""
        }.joined(separator: ",") + "}"
    }
}
