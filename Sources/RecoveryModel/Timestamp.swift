/// A point in time: whole microseconds since 1970-01-01T00:00:00Z.
///
/// PostgreSQL's `timestamptz` has the same resolution, so a time survives a round trip through the
/// database unchanged. Parsing works on bytes and allocates nothing: it runs once or twice per log
/// line.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public init(seconds: Int64) {
        self.microseconds = seconds * 1_000_000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microseconds < rhs.microseconds
    }

    public func adding(minutes: Int64) -> Timestamp {
        Timestamp(microseconds: microseconds + minutes * 60_000_000)
    }

    public func adding(microseconds delta: Int64) -> Timestamp {
        Timestamp(microseconds: microseconds + delta)
    }

    /// True when the time falls on a 10-minute boundary in UTC with zero seconds.
    public var isSlotAligned: Bool {
        microseconds % Self.slotLength == 0
    }

    /// Ten minutes, in microseconds.
    public static let slotLength: Int64 = 600_000_000

    /// RFC 3339 in UTC: `2018-07-25T14:50:00Z`, with a fraction only when there is one.
    public var description: String { rfc3339 }

    public var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `rfc3339` as UTF-8 bytes, without making a `String`: the plan's files write one per row.
    public func appendRFC3339(to out: inout [UInt8]) {
        let (days, dayMicros) = microseconds.floorDividedBy(86_400_000_000)
        let (y, m, d) = Self.civilDate(fromDays: days)
        let secs = dayMicros / 1_000_000
        var micros = dayMicros % 1_000_000
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            if v >= divisor * 10 {  // a year past 9999: all its digits
                out.append(contentsOf: String(v).utf8)
                return
            }
            while divisor > 0 {
                out.append(UInt8(48 + v / divisor))
                v %= divisor
                divisor /= 10
            }
        }
        digits(y, 4); out.append(0x2D); digits(m, 2); out.append(0x2D); digits(d, 2); out.append(0x54)
        digits(secs / 3600, 2); out.append(0x3A); digits(secs / 60 % 60, 2); out.append(0x3A); digits(secs % 60, 2)
        if micros != 0 {
            var width = 6
            while micros % 10 == 0 { micros /= 10; width -= 1 }
            out.append(0x2E)
            digits(micros, width)
        }
        out.append(0x5A)
    }

    /// Parses RFC 3339 (`2018-07-25T15:02:11.204Z`, `2018-07-25T08:02:11-07:00`) and PostgreSQL's
    /// `timestamptz` output (`2018-07-25 15:02:11.204+00`, `+05:30`). An offset is required: a time
    /// without one is refused rather than guessed. Fractions beyond microseconds are truncated.
    public static func parse(_ text: String) -> Timestamp? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Timestamp? {
        let n = bytes.count
        guard n >= 20 else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int64? {
            let c = bytes[i] &- 48
            return c < 10 ? Int64(c) : nil
        }
        @inline(__always) func number(_ i: Int, _ width: Int) -> Int64? {
            var v: Int64 = 0
            for k in i..<(i + width) {
                guard let d = digit(k) else { return nil }
                v = v * 10 + d
            }
            return v
        }
        guard let year = number(0, 4), bytes[4] == UInt8(ascii: "-"),
              let month = number(5, 2), bytes[7] == UInt8(ascii: "-"),
              let day = number(8, 2),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " "),
              let hour = number(11, 2), bytes[13] == UInt8(ascii: ":"),
              let minute = number(14, 2), bytes[16] == UInt8(ascii: ":"),
              let second = number(17, 2)
        else { return nil }
        guard year >= 1, month >= 1, month <= 12, day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < n, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < n, let d = digit(i) {
                if digits < 6 { fraction = fraction * 10 + d }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { fraction *= 10 }
        }
        guard i < n else { return nil }
        var offsetSeconds: Int64 = 0
        let sign = bytes[i]
        if sign == UInt8(ascii: "Z") || sign == UInt8(ascii: "z") {
            i += 1
        } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            i += 1
            guard i + 2 <= n, let oh = number(i, 2), oh <= 23 else { return nil }
            i += 2
            var om: Int64 = 0
            var os: Int64 = 0
            if i < n, bytes[i] == UInt8(ascii: ":") {
                guard i + 3 <= n, let m = number(i + 1, 2), m <= 59 else { return nil }
                om = m
                i += 3
                if i < n, bytes[i] == UInt8(ascii: ":") {
                    guard i + 3 <= n, let s = number(i + 1, 2), s <= 59 else { return nil }
                    os = s
                    i += 3
                }
            }
            offsetSeconds = (oh * 3600 + om * 60 + os) * (sign == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        guard i == n else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Timestamp(microseconds: secs * 1_000_000 + fraction)
    }

    /// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01
    /// (H. Hinnant's `civil_from_days`).
    public static func civilDate(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    @usableFromInline
    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    @usableFromInline
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}



extension Int64 {
    /// Floor division and a non-negative remainder, for times before 1970.
    public func floorDividedBy(_ divisor: Int64) -> (Int64, Int64) {
        let q = self / divisor
        let r = self % divisor
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}
