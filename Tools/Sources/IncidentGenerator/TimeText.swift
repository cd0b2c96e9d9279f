import RecoveryModel

/// Byte-level time formatting for log lines and COPY rows: no `Date`, no `String` per call.
enum TimeText {
    static let minute: Int64 = 60_000_000
    static let second: Int64 = 1_000_000

    @inline(__always)
    static func digits(_ value: Int64, _ width: Int, into out: inout [UInt8]) {
        var buf: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = value
        withUnsafeMutableBytes(of: &buf) { p in
            for i in stride(from: width - 1, through: 0, by: -1) {
                p[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
            }
            out.append(contentsOf: p[0..<width])
        }
    }

    /// `YYYY-MM-DD?HH:MM:SS` of a local time in microseconds, `separator` being `T` or a space.
    static func dateTime(_ micros: Int64, separator: UInt8, into out: inout [UInt8]) {
        let secs = floorDiv(micros, second)
        let days = floorDiv(secs, 86_400)
        let daySecs = secs - days * 86_400
        let (y, m, d) = Timestamp.civilDate(fromDays: days)
        digits(y, 4, into: &out); out.append(45)
        digits(m, 2, into: &out); out.append(45)
        digits(d, 2, into: &out); out.append(separator)
        digits(daySecs / 3600, 2, into: &out); out.append(58)
        digits(daySecs / 60 % 60, 2, into: &out); out.append(58)
        digits(daySecs % 60, 2, into: &out)
    }

    /// How a fraction of a second is printed.
    enum Fraction { case minimal, padded6, padded9 }

    /// RFC 3339 with the given UTC offset in minutes (`Z` when `offset` is nil).
    static func rfc3339(_ micros: Int64, offsetMinutes offset: Int?, fraction: Fraction, into out: inout [UInt8]) {
        let local = micros + Int64(offset ?? 0) * minute
        dateTime(local, separator: UInt8(ascii: "T"), into: &out)
        appendFraction(micros - floorDiv(micros, second) * second, fraction, into: &out)
        appendOffset(offset, colon: true, into: &out)
    }

    /// PostgreSQL `timestamptz` text in UTC: `2018-07-25 14:50:00.25+00`.
    static func postgres(_ micros: Int64, into out: inout [UInt8]) {
        dateTime(micros, separator: 32, into: &out)
        let sub = micros - floorDiv(micros, second) * second
        if sub != 0 {
            out.append(46)
            var v = sub, width = 6
            while v % 10 == 0 { v /= 10; width -= 1 }
            digits(v, width, into: &out)
        }
        out.append(contentsOf: [43, 48, 48])
    }

    static func appendFraction(_ sub: Int64, _ style: Fraction, into out: inout [UInt8]) {
        if sub == 0 {
            switch style {
            case .minimal: return
            case .padded6: out.append(46); digits(0, 3, into: &out)
            case .padded9: out.append(46); digits(0, 6, into: &out)
            }
            return
        }
        out.append(46)
        if sub % 1000 == 0, style == .minimal {
            digits(sub / 1000, 3, into: &out)
        } else {
            digits(sub, 6, into: &out)
            if style == .padded9 { out.append(contentsOf: [48, 48, 48]) }
        }
    }

    static func appendOffset(_ offset: Int?, colon: Bool, into out: inout [UInt8]) {
        guard let offset else { out.append(UInt8(ascii: "Z")); return }
        out.append(offset < 0 ? 45 : 43)
        let a = Int64(abs(offset))
        digits(a / 60, 2, into: &out)
        if colon { out.append(58) }
        digits(a % 60, 2, into: &out)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func string(_ micros: Int64) -> String {
        var out: [UInt8] = []
        rfc3339(micros, offsetMinutes: nil, fraction: .minimal, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `20180725T1450Z`, for file names.
    static func compact(_ micros: Int64) -> String {
        var out: [UInt8] = []
        dateTime(micros, separator: UInt8(ascii: "T"), into: &out)
        let s = String(decoding: out, as: UTF8.self)
        return s.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "").dropLast(2) + "Z"
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendInt(_ value: Int64) {
        if value < 0 { append(45) }
        var v = value.magnitude
        if v == 0 { append(48); return }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &tmp) { p in
            var i = 24
            while v > 0 { i -= 1; p[i] = UInt8(truncatingIfNeeded: 48 + v % 10); v /= 10 }
            append(contentsOf: p[i..<24])
        }
    }

    @inline(__always)
    mutating func appendASCII(_ s: StaticString) {
        s.withUTF8Buffer { append(contentsOf: $0) }
    }
}
