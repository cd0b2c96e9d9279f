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

    /// The first and last instants the tool holds: the years 1 to 9999 in UTC, which RFC 3339
    /// and PostgreSQL's ISO text (without BC) share. `parse` refuses a time beyond them once its
    /// offset is applied (`0001-01-01T00:00:00+14:00` is in year 0, which PostgreSQL refuses).
    public static let earliest = Timestamp(microseconds: -62_135_596_800_000_000)
    public static let latest = Timestamp(microseconds: 253_402_300_799_999_999)

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

    /// `parse`, without its bound on the instant (`earliest`, `latest`): for a caller that says
    /// why a time was refused.
    public static func parseIgnoringRange(_ text: String) -> Timestamp? {
        var text = text
        var dates = DateMemo()
        return text.withUTF8 { instant(UnsafeRawBufferPointer($0), dates: &dates) }
    }

    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Timestamp? {
        var dates = DateMemo()
        return parse(bytes, dates: &dates)
    }

    /// The last date `parse(_:dates:)` read, and its day number. The times of a log fall on a few
    /// dates, so a reader that keeps one memo checks a date and counts its days once per run of
    /// times on it rather than once per time.
    public struct DateMemo: Sendable {
        /// The date's first eight bytes (`YYYY-MM-`) and next two (`DD`), as loaded. A text that
        /// matches them is not checked again, so a new memo holds a real date, 1970-01-01 (day 0),
        /// not zeros: those would match a date of ten NUL bytes and read it as day 0.
        @usableFromInline var head: UInt64 = 0x2D31_302D_3037_3931  // "1970-01-", byte 0 lowest
        @usableFromInline var dayDigits: UInt16 = 0x3130              // "01"
        @usableFromInline var days: Int64 = 0

        public init() {}
    }

    /// `parse(_:)`, with the date of the last time parsed kept in `dates`: same results.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer, dates: inout DateMemo) -> Timestamp? {
        guard let t = instant(bytes, dates: &dates),
              UInt64(bitPattern: t.microseconds &- earliest.microseconds) <= UInt64(latest.microseconds - earliest.microseconds)
        else { return nil }
        return t
    }

    /// The instant of an RFC 3339 or PostgreSQL time, its offset applied, whatever its year.
    @inlinable
    static func instant(_ bytes: UnsafeRawBufferPointer, dates: inout DateMemo) -> Timestamp? {
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
        // `YYYY-MM-DD?HH:MM:SS` in three loads of eight bytes (the last two overlap), each checked
        // in one go: byte k of a word is byte k of its place in the text.
        let base = bytes.baseAddress!
        let a = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))                      // YYYY-MM-
        let b = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt64.self))  // DD?HH:MM
        let c = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 11, as: UInt64.self)) // HH:MM:SS
        // Byte k's digit of a checked word.
        @inline(__always) func digitOf(_ w: UInt64, _ k: UInt64) -> Int64 { Int64(truncatingIfNeeded: w >> (8 * k) & 0xF) }
        let days: Int64
        if a == dates.head && UInt16(truncatingIfNeeded: b) == dates.dayDigits {
            days = dates.days  // the same date as the last time: checked then
        } else {
            guard areDigits(a, 0x00FF_FF00_FFFF_FFFF) && areDigits(b, 0xFFFF),
                  a & 0xFF00_00FF_0000_0000 == 0x2D00_002D_0000_0000  // the two '-'
            else { return nil }
            let year = ((digitOf(a, 0) * 10 + digitOf(a, 1)) * 10 + digitOf(a, 2)) * 10 + digitOf(a, 3)
            let month = digitOf(a, 5) * 10 + digitOf(a, 6), day = digitOf(b, 0) * 10 + digitOf(b, 1)
            guard year >= 1, month >= 1, month <= 12, day >= 1, day <= daysIn(month: month, year: year) else { return nil }
            days = daysFromCivil(year: year, month: month, day: day)
            dates.head = a
            dates.dayDigits = UInt16(truncatingIfNeeded: b)
            dates.days = days
        }
        let separator = UInt8(truncatingIfNeeded: b >> 16)
        guard separator | 0x20 == UInt8(ascii: "t") || separator == UInt8(ascii: " "),
              areDigits(c, 0xFFFF_00FF_FF00_FFFF),
              c & 0x0000_FF00_00FF_0000 == 0x0000_3A00_003A_0000  // the two ':'
        else { return nil }
        // Each pair of digits at once: byte 0 of `pairs` is the hour, byte 3 the minute, byte 6
        // the second (ten times a digit plus the next is at most 99: nothing carries).
        let clockDigits = c & 0x0F0F_000F_0F00_0F0F
        let pairs = clockDigits &* 10 &+ clockDigits >> 8
        let hour = Int64(truncatingIfNeeded: pairs & 0xFF), minute = Int64(truncatingIfNeeded: pairs >> 24 & 0xFF)
        let second = Int64(truncatingIfNeeded: pairs >> 48 & 0xFF)
        guard hour <= 23, minute <= 59, second <= 59 else { return nil }
        // Years 1 to 9999: no sum below comes near Int64's limits.
        let clock = days &* 86_400 &+ hour &* 3600 &+ minute &* 60 &+ second
        if let (fraction, offsetSeconds) = commonTail(bytes) {
            return Timestamp(microseconds: (clock &- offsetSeconds) &* 1_000_000 &+ fraction)
        }
        var i = 19
        var fraction: Int64 = 0
        if i < n, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let first = i
            while i < n, bytes[i] &- 48 < 10 { i += 1 }
            let digits = i - first
            guard digits > 0 else { return nil }
            // At most six digits count, so no overflow can happen.
            for k in first..<min(i, first + 6) { fraction = fraction &* 10 &+ Int64(bytes[k] &- 48) }
            for _ in digits..<max(digits, 6) { fraction &*= 10 }
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
        let secs = clock - offsetSeconds
        return Timestamp(microseconds: secs * 1_000_000 + fraction)
    }

    /// The fraction (in microseconds) and offset (in seconds) of the common shapes of what
    /// follows the seconds, read in a few words: `Z`, `±HH:MM` or `±HH`, after nothing or after
    /// `.` and 1 to 16 digits. Nil for any other text (a longer fraction, `±HH:MM:SS`, a bad byte
    /// or number): the byte-by-byte reading in `parse` decides those, refusals included. Where
    /// it answers, it answers as that reading would: the digits run up to the suffix, so they are
    /// the ones it takes, and the suffix ends the text.
    @inlinable @inline(__always)
    static func commonTail(_ bytes: UnsafeRawBufferPointer) -> (fraction: Int64, offsetSeconds: Int64)? {
        let n = bytes.count  // at least 20
        let base = bytes.baseAddress!
        let end: Int  // where the suffix starts
        var offsetSeconds: Int64 = 0
        if bytes[n - 1] | 0x20 == UInt8(ascii: "z") {
            end = n - 1
        } else {
            // `±HH:MM` or `±HH`: the two digits before the end, and before them `:MM`'s colon and
            // the hours, or the sign.
            let colon = n >= 25 && bytes[n - 3] == UInt8(ascii: ":")
            end = colon ? n - 6 : n - 3
            guard end >= 19 else { return nil }
            let sign = bytes[end]
            guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
            let h1 = bytes[end + 1] &- 48, h2 = bytes[end + 2] &- 48
            guard h1 < 10, h2 < 10 else { return nil }
            let hours = Int64(h1) * 10 + Int64(h2)
            guard hours <= 23 else { return nil }
            var minutes: Int64 = 0
            if colon {
                let m1 = bytes[n - 2] &- 48, m2 = bytes[n - 1] &- 48
                guard m1 < 10, m2 < 10 else { return nil }
                minutes = Int64(m1) * 10 + Int64(m2)
                guard minutes <= 59 else { return nil }
            }
            offsetSeconds = hours * 3600 + minutes * 60
            if sign == UInt8(ascii: "-") { offsetSeconds = -offsetSeconds }
        }
        if end == 19 { return (0, offsetSeconds) }
        // `.` and `count` digits, the last eight (or fewer) loaded in one word that ends at the
        // suffix (it starts at 13 or later: inside the text).
        let count = end - 20
        guard count >= 1, count <= 16, bytes[19] == UInt8(ascii: ".") else { return nil }
        let tail = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self))
        let fraction: Int64
        if count <= 8 {
            let unused = UInt64(8 - count) &* 8  // bits of the bytes before the digits
            guard areDigits(tail, UInt64.max &<< unused) else { return nil }
            // The digits moved to the word's first bytes, zeros after them: eight digits' value.
            fraction = eightDigits((tail & 0x0F0F_0F0F_0F0F_0F0F) &>> unused) / 100
        } else {
            let head = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 20, as: UInt64.self))
            guard areDigits(head, UInt64.max), areDigits(tail, UInt64.max &<< (UInt64(16 - count) &* 8)) else { return nil }
            fraction = eightDigits(head & 0x0F0F_0F0F_0F0F_0F0F) / 100
        }
        return (fraction, offsetSeconds)
    }

    /// The value of eight decimal digits (0 to 9 each, byte 0 the first digit) in a word.
    @inlinable @inline(__always)
    static func eightDigits(_ w: UInt64) -> Int64 {
        var v = (w &* 10 &+ w >> 8) & 0x00FF_00FF_00FF_00FF
        v = (v &* 100 &+ v >> 16) & 0x0000_FFFF_0000_FFFF
        v = (v &* 10_000 &+ v >> 32) & 0xFFFF_FFFF
        return Int64(truncatingIfNeeded: v)
    }

    /// True when the bytes of `w` that `mask` selects (0xFF each) are all ASCII digits: their high
    /// nibble is 3, and adding 6 to their low nibble does not carry into it (so it is at most 9).
    /// No byte carries into the next one: a selected byte is at most 0x3F + 6 when the first test
    /// holds, and the others are masked to 0.
    @inlinable @inline(__always)
    static func areDigits(_ w: UInt64, _ mask: UInt64) -> Bool {
        let highs = mask & 0xF0F0_F0F0_F0F0_F0F0, threes = mask & 0x3030_3030_3030_3030
        return ((w & highs) ^ threes) | (((w & mask) &+ (mask & 0x0606_0606_0606_0606)) & highs ^ threes) == 0
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
