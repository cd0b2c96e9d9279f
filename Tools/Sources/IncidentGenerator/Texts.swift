import GeneratorRandom
/// The free texts of the incident (notes, application names, offline reasons), each pre-encoded
/// once in every form the output needs: JSON (raw UTF-8 or all-ASCII escapes), PostgreSQL COPY
/// text, and the canonical form of `expected.json`'s row hash.
struct EncodedText {
    let value: String
    /// `"Caf\u00e9"`-style or raw UTF-8, quotes included.
    let json: [UInt8]
    let jsonASCII: [UInt8]
    let copy: [UInt8]
    let canonical: [UInt8]

    init(_ value: String) {
        self.value = value
        json = Self.jsonString(value, ascii: false)
        jsonASCII = Self.jsonString(value, ascii: true)
        copy = Self.copyText(value)
        canonical = Self.canonicalText(value)
    }

    /// A JSON string literal. `ascii` escapes every non-ASCII scalar (surrogate pairs above the
    /// BMP) and the solidus, as some loggers do.
    static func jsonString(_ s: String, ascii: Bool) -> [UInt8] {
        var out: [UInt8] = [34]
        func hex4(_ v: UInt32) {
            let digits = Array("0123456789abcdef".utf8)
            out.appendASCII("\\u")
            for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int(v >> UInt32(shift) & 15)]) }
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.appendASCII("\\\"")
            case "\\": out.appendASCII("\\\\")
            case "\n": out.appendASCII("\\n")
            case "\t": out.appendASCII("\\t")
            case "\r": out.appendASCII("\\r")
            case "/" where ascii: out.appendASCII("\\/")
            default:
                if scalar.value < 0x20 {
                    hex4(scalar.value)
                } else if scalar.value >= 0x80, ascii {
                    if scalar.value >= 0x10000 {
                        let v = scalar.value - 0x10000
                        hex4(0xD800 + (v >> 10))
                        hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        hex4(scalar.value)
                    }
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        out.append(34)
        return out
    }

    /// PostgreSQL COPY text format: backslash, tab, newline and carriage return escaped.
    static func copyText(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        for b in s.utf8 {
            switch b {
            case 92: out.appendASCII("\\\\")
            case 9: out.appendASCII("\\t")
            case 10: out.appendASCII("\\n")
            case 13: out.appendASCII("\\r")
            default: out.append(b)
            }
        }
        return out
    }

    /// The canonical form in `expected.json`'s row hash: COPY escapes plus `\,` for a comma.
    static func canonicalText(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        for b in copyText(s) {
            if b == 44 { out.append(92) }
            out.append(b)
        }
        return out
    }
}

/// A list of active applications, pre-encoded.
struct AppList {
    let names: [String]
    let json: [UInt8]
    let jsonASCII: [UInt8]
    /// The `text[]` literal, COPY-escaped: `{Xcode,"Google Chrome"}`.
    let copy: [UInt8]
    /// Canonical elements joined by commas.
    let canonical: [UInt8]

    init(_ names: [String]) {
        self.names = names
        var j: [UInt8] = [91], a: [UInt8] = [91], c: [UInt8] = [], k: [UInt8] = []
        var literal = "{"
        for (i, name) in names.enumerated() {
            if i > 0 { j.append(44); a.append(44); k.append(44); literal += "," }
            j.append(contentsOf: EncodedText.jsonString(name, ascii: false))
            a.append(contentsOf: EncodedText.jsonString(name, ascii: true))
            k.append(contentsOf: EncodedText.canonicalText(name))
            let needsQuotes = name.isEmpty || name.uppercased() == "NULL"
                || name.contains(where: { "{}\",\\ \t\n".contains($0) })
            if needsQuotes {
                literal += "\"" + name.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\""
            } else {
                literal += name
            }
        }
        literal += "}"
        j.append(93); a.append(93)
        c = EncodedText.copyText(literal)
        json = j; jsonASCII = a; copy = c; canonical = k
    }
}

enum Texts {
    /// Notes users type: quotes, backslashes, accents, an emoji above the BMP, control characters.
    static let notes: [EncodedText] = [
        "Standup",
        "Fixed \"quoted\" bug in parser",
        "Copied C:\\Users\\dev\\build.log",
        "Café with the client",
        "Deploy 🚀 to staging",
        "Line one\nline two",
        "Tab\tseparated",
        "Review / merge PR 42",
        "Ünïcödé ß 中文 naïve",
        "50% done; <b>html</b> & more",
        "Path \\\\server\\share and \"quotes\"",
        "Sprint planning — Q3",
    ].map(EncodedText.init)

    static let appNames: [String] = [
        "Xcode", "Safari", "Google Chrome", "Terminal", "Slack", "Microsoft Word", "Aperçu",
        "Mail, Calendar", "Visual Studio Code", "Figma", "Finder", "zoom.us",
    ]

    static let offlineReasons: [EncodedText] = [
        "client crashed", "worked offline on the train", "meeting with the customer",
        "Réunion « Q3 » chez le client", "data loss on 25 July: re-entered", "forgot to start the client",
    ].map(EncodedText.init)

    static let timeZones = ["UTC", "America/Los_Angeles", "America/Chicago", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu"]

    /// A fixed table of application lists, drawn once from the seed.
    static func appLists(_ rng: inout Xoshiro256, count: Int) -> [AppList] {
        (0..<count).map { _ in
            var names = appNames
            rng.shuffle(&names)
            return AppList(Array(names.prefix(rng.int(1...3))))
        }
    }
}
