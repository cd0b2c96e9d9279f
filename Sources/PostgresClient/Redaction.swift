import CLibPQ

extension ConnectionInfo {
    /// The one redaction of the tool: `text` with every secret a connection string can carry
    /// replaced by `********`. Every message that can hold a connection string or libpq's (or the
    /// server's) error text passes through it before a user sees it.
    ///
    /// - `password=...` and `sslpassword=...` in key=value form, quoted or not, with or without
    ///   spaces around `=`, and as URI query parameters (`?password=...&`);
    /// - the password of a URI's userinfo (`postgresql://user:SECRET@host`), malformed or not;
    /// - a token that names a password only once percent-decoded (`pass%77ord=...`) is hidden whole;
    /// - when `conninfo` is given: its password wherever it appears, as given or percent-decoded,
    ///   and, if libpq cannot parse it, every piece of it other than a plain `keyword=value`, and
    ///   every double-quoted piece of it that libpq echoes (`missing "=" after "Secret"`).
    public static func redactingSecrets(in text: String, conninfo: String? = nil) -> String {
        var out = text
        if let conninfo, !conninfo.isEmpty {
            let parseable = isParseable(conninfo)
            if !parseable {
                // Its parts cannot be told apart: hide every piece that is not `keyword=value`.
                for token in conninfo.split(whereSeparator: \.isWhitespace) where token.count >= 3 && !isPlainSetting(token) {
                    out = out.replacingEvery(String(token), with: mask)
                }
            }
            for secret in secrets(in: conninfo) where secret.count >= 3 {
                out = out.replacingEvery(secret, with: mask)
            }
            if !parseable { out = hidingEchoes(of: conninfo, in: out) }
        }
        out = hidingUserinfoPasswords(in: out)
        out = hidingKeyValuePasswords(in: out)
        out = hidingEncodedPasswordTokens(in: out)
        return out
    }

    static let mask = "********"
    private static let secretKeys = ["password", "sslpassword"]

    /// The secret values `conninfo` carries (parsed by libpq when it can be, else found by
    /// pattern), each also percent-decoded.
    static func secrets(in conninfo: String) -> [String] {
        var found: [String] = []
        var errmsg: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(conninfo, &errmsg) {
            defer { PQconninfoFree(options) }
            var index = 0
            while let keyword = options[index].keyword {
                if secretKeys.contains(String(cString: keyword)), let value = options[index].val {
                    found.append(String(cString: value))
                }
                index += 1
            }
        } else if let errmsg {
            PQfreemem(errmsg)
        }
        found += userinfoPasswords(in: conninfo)
        var all = found
        for value in found { if let decoded = percentDecoded(value), decoded != value { all.append(decoded) } }
        return all.sorted { $0.count > $1.count }
    }

    static func isParseable(_ conninfo: String) -> Bool {
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errmsg) else {
            if let errmsg { PQfreemem(errmsg) }
            return false
        }
        PQconninfoFree(options)
        return true
    }

    /// `host=db1`: a keyword that is not a secret's, `=`, and a value with no quote.
    private static func isPlainSetting(_ token: Substring) -> Bool {
        guard let equals = token.firstIndex(of: "=") else { return keywords.contains(String(token)) }
        let key = String(token[..<equals]).lowercased()
        return keywords.contains(key) && !secretKeys.contains(key) && !token.contains("'")
    }

    /// libpq's keywords (`host`, `dbname`, ...), which an echo may name safely.
    private static let keywords: Set<String> = {
        var names: Set<String> = []
        guard let all = PQconndefaults() else { return names }
        var i = 0
        while let keyword = all[i].keyword {
            names.insert(String(cString: keyword))
            i += 1
        }
        PQconninfoFree(all)
        return names
    }()

    /// Replaces each `"..."` in `text` that is a piece of `conninfo` (and not a keyword or lone
    /// punctuation) with `"********"`.
    private static func hidingEchoes(of conninfo: String, in text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "\"") {
            out += rest[...open]
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: "\"") else {
                // An unterminated quote: hide the rest if it echoes the string.
                let tail = rest[afterOpen...]
                out += !tail.isEmpty && conninfo.contains(tail) ? mask : String(tail)
                return out
            }
            let piece = rest[afterOpen..<close]
            let harmless = keywords.contains(String(piece)) || piece.allSatisfy { !$0.isLetter && !$0.isNumber }
            out += harmless || !conninfo.contains(piece) ? String(piece) : mask
            out += "\""
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }

    /// `scheme://user:SECRET@host` → the secret, for each URI in `text`.
    private static func userinfoPasswords(in text: String) -> [String] {
        var found: [String] = []
        forEachUserinfo(in: text) { password in found.append(String(password)) }
        return found
    }

    private static func hidingUserinfoPasswords(in text: String) -> String {
        var ranges: [Range<String.Index>] = []
        forEachUserinfo(in: text) { ranges.append($0.startIndex..<$0.endIndex) }
        var out = text
        for range in ranges.reversed() { out.replaceSubrange(range, with: mask) }
        return out
    }

    /// Calls `body` with the password part of each URI's userinfo: after `://`, up to the last `@`
    /// before the URI ends (white space, a quote or the end), from the first `:`.
    private static func forEachUserinfo(in text: String, _ body: (Substring) -> Void) {
        var search = text.startIndex
        while let scheme = text[search...].firstRange(of: "://") {
            let start = scheme.upperBound
            var end = start
            while end < text.endIndex, !text[end].isWhitespace, text[end] != "\"", text[end] != "'" {
                end = text.index(after: end)
            }
            let uri = text[start..<end]
            if let at = uri.lastIndex(of: "@"), let colon = uri[..<at].firstIndex(of: ":") {
                let password = uri[uri.index(after: colon)..<at]
                if !password.isEmpty, password != Substring(mask) { body(password) }
            }
            search = end
        }
    }

    /// `password=SECRET`, `password = 'SE CRET'`, `?sslpassword=SECRET&`: the value hidden.
    private static func hidingKeyValuePasswords(in text: String) -> String {
        let chars = Array(text)
        var out = ""
        var i = 0
        while i < chars.count {
            guard let key = secretKeys.sorted(by: { $0.count > $1.count }).first(where: { matches($0, chars, at: i) }),
                  i == 0 || !(chars[i - 1].isLetter || chars[i - 1].isNumber || chars[i - 1] == "_")
            else {
                out.append(chars[i])
                i += 1
                continue
            }
            var j = i + key.count
            while j < chars.count, chars[j] == " " || chars[j] == "\t" { j += 1 }
            guard j < chars.count, chars[j] == "=" else {
                out.append(chars[i])
                i += 1
                continue
            }
            j += 1
            while j < chars.count, chars[j] == " " || chars[j] == "\t" { j += 1 }
            out += String(chars[i..<j])
            if j < chars.count, chars[j] == "'" {
                var k = j + 1
                while k < chars.count, chars[k] != "'" { k += chars[k] == "\\" ? 2 : 1 }
                j = min(k + 1, chars.count)
            } else {
                while j < chars.count, !chars[j].isWhitespace, chars[j] != "&", chars[j] != "\"" { j += 1 }
            }
            out += mask
            i = j
        }
        return out
    }

    private static func matches(_ key: String, _ chars: [Character], at i: Int) -> Bool {
        var k = i
        for ch in key {
            guard k < chars.count, chars[k].lowercased() == String(ch) else { return false }
            k += 1
        }
        return true
    }

    /// A white-space separated token that says `password` only once percent-decoded is hidden
    /// whole: its parts cannot be told apart safely.
    private static func hidingEncodedPasswordTokens(in text: String) -> String {
        var out = ""
        var token = ""
        func flush() {
            if token.contains("%"), let decoded = percentDecoded(token)?.lowercased(),
               decoded.contains("password"), !token.lowercased().contains("password") {
                out += mask
            } else {
                out += token
            }
            token = ""
        }
        for ch in text {
            if ch.isWhitespace {
                flush()
                out.append(ch)
            } else {
                token.append(ch)
            }
        }
        flush()
        return out
    }

    /// `Sec%72et` → `Secret`; nil when nothing decodes or the bytes are not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        guard text.contains("%") else { return nil }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
        while i < utf8.count {
            if utf8[i] == 0x25, i + 2 < utf8.count, let h = hex(utf8[i + 1]), let l = hex(utf8[i + 2]) {
                bytes.append(h << 4 | l)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension String {
    func replacingEvery(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}
