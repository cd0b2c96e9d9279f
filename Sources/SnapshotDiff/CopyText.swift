import RecoveryModel

/// PostgreSQL's COPY text format, decoded on bytes: fields split at tabs, `\N` for NULL,
/// backslash escapes (`\\`, `\b \f \n \r \t \v`, octal `\ooo`, hex `\xhh`, any other `\c` is `c`),
/// and the values recovery needs: integers, text, `text[]` array literals and `timestamptz`.
///
/// Every function works on the raw bytes of one field and allocates only for a text value it
/// returns; integers and times are read in place.
public enum CopyText {
    /// Splits one row (without its newline) at the tabs that separate fields, honouring a
    /// backslash before a tab (`\<TAB>` is a tab inside the field, as PostgreSQL reads it).
    /// `fields` is cleared and reused, so a caller allocates it once.
    @inlinable
    public static func splitFields(_ row: UnsafeRawBufferPointer, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        _ = splitFields(row, from: 0, into: &fields)
    }

    /// Appends the fields of `row` from `start` (0, or where an earlier call stopped), stopping
    /// once `fields` holds `limit` of them: returns where the next field starts when it stopped
    /// there, nil when it reached the end of the row. Eight bytes at a time up to the next tab
    /// or backslash.
    @inlinable
    public static func splitFields(
        _ row: UnsafeRawBufferPointer, from start: Int, into fields: inout [Range<Int>], limit: Int = .max
    ) -> Int? {
        var start = start
        var i = start
        let n = row.count
        while i < n {
            if i + 8 <= n {
                let w = UInt64(littleEndian: (row.baseAddress! + i).loadUnaligned(as: UInt64.self))
                let hits = zeroBytes(w ^ (ones &* 0x09)) | zeroBytes(w ^ (ones &* 0x5C))
                if hits == 0 {
                    i += 8
                    continue
                }
                i += hits.trailingZeroBitCount / 8  // to the first tab or backslash
            }
            let c = row[i]
            if c == 0x5C {          // backslash: the next byte is escaped, whatever it is
                i += 2
                continue
            }
            if c == 0x09 {
                fields.append(start..<i)
                start = i + 1
                if fields.count == limit { return start }
            }
            i += 1
        }
        fields.append(start..<n)
        return nil
    }

    /// The number of fields of `row` from `start` to the end, counted as `splitFields` splits
    /// them (the byte at `start` is not escaped).
    ///
    /// Sixteen bytes at a time, each compared with the block one byte before it: a tab is
    /// escaped when the byte before it is a backslash, as long as no two backslashes stand side
    /// by side (`\\`, where the second is the escaped one); the tabs are summed in the vector,
    /// the pairs noted, and a row with a pair is counted again by `countFieldsInWords`. The
    /// last bytes are read as the end of a block that overlaps the one before, the bytes read
    /// already masked out.
    @inlinable
    public static func countFields(_ row: UnsafeRawBufferPointer, from start: Int) -> Int {
        let n = row.count
        guard let p = row.baseAddress, start < n, n >= 17 else { return countFieldsInWords(row, from: start) }
        let first = p.load(fromByteOffset: start, as: UInt8.self)
        // The byte at `start` is not escaped, whatever comes before it: it is read alone, and the
        // blocks start after it. A backslash there escapes the next byte: the words count it.
        guard first != 0x5C else { return countFieldsInWords(row, from: start) }
        var tabs = first == 0x09 ? 1 : 0
        let tab = SIMD16<UInt8>(repeating: 0x09), backslash = SIMD16<UInt8>(repeating: 0x5C)
        var counts = SIMD16<UInt8>()   // unescaped tabs per lane, at most 31 before they are summed
        var pairs = SIMD16<UInt8>()    // lanes where a backslash follows a backslash
        var blocks = 0
        @inline(__always) func add(_ at: Int, keeping keep: SIMDMask<SIMD16<Int8>>?) {
            let bytes = (p + at).loadUnaligned(as: SIMD16<UInt8>.self)
            let before = (p + at - 1).loadUnaligned(as: SIMD16<UInt8>.self) .== backslash
            var hits = (bytes .== tab) .& .!before
            var pair = (bytes .== backslash) .& before
            if let keep {
                hits = hits .& keep
                pair = pair .& keep
            }
            counts &-= unsafeBitCast(hits, to: SIMD16<UInt8>.self)   // a true lane is 0xFF: adds 1
            pairs |= unsafeBitCast(pair, to: SIMD16<UInt8>.self)
        }
        @inline(__always) func sum() -> Int {
            let halves = unsafeBitCast(counts, to: SIMD2<UInt64>.self)
            return Int((halves[0] &* ones) &>> 56) &+ Int((halves[1] &* ones) &>> 56)
        }
        var i = start &+ 1
        while i &+ 16 <= n {
            add(i, keeping: nil)
            i &+= 16
            blocks &+= 1
            if blocks == 31 {
                tabs &+= sum()
                counts = SIMD16()
                blocks = 0
            }
        }
        if i < n {
            // The block that ends the row, without its first `i - (n - 16)` bytes.
            let skip = SIMD16<Int8>(repeating: Int8(truncatingIfNeeded: i &- (n &- 16)))
            add(n &- 16, keeping: SIMD16<Int8>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= skip)
        }
        tabs &+= sum()
        let paired = unsafeBitCast(pairs, to: SIMD2<UInt64>.self)
        guard paired[0] | paired[1] == 0 else { return countFieldsInWords(row, from: start) }
        return tabs &+ 1
    }

    /// `countFields`, eight bytes at a time where there is no backslash.
    @inlinable
    static func countFieldsInWords(_ row: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard let p = row.baseAddress else { return 1 }
        let n = row.count
        var i = start
        var tabs = 0
        while i < n {
            if i + 8 <= n {
                let w = UInt64(littleEndian: (p + i).loadUnaligned(as: UInt64.self))
                let tab = zeroBytes(w ^ (ones &* 0x09)), backslash = zeroBytes(w ^ (ones &* 0x5C))
                if backslash == 0 {
                    tabs += markedBytes(tab)
                    i += 8
                } else {
                    let before = backslash.trailingZeroBitCount / 8  // bytes before the first backslash
                    tabs += markedBytes(tab & ((1 << (before * 8)) &- 1))
                    i += before + 2  // the backslash and the byte it escapes
                }
                continue
            }
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if c == 0x5C {
                i += 2
                continue
            }
            if c == 0x09 { tabs += 1 }
            i += 1
        }
        return tabs + 1
    }

    /// Splits and counts `row`'s fields in one pass, as `splitFields` splits them: stores where
    /// each of the first `ends.count` fields ends (the offset of its tab, or `row.count` for the
    /// last field) and returns the number of fields. Field `k` is
    /// `(k == 0 ? 0 : ends[k - 1] + 1)..<ends[k]`.
    ///
    /// Sixteen bytes at a time (`FieldBlock`), each block once: a byte is escaped when the byte
    /// before it is a backslash that is not escaped itself, and an escaped tab separates nothing.
    /// Where no two backslashes of a block are side by side, each one escapes the byte after it,
    /// so the block's escaped bytes are its backslash mask moved up a byte, with the escape a
    /// block's last byte passes to the next one; a block with two side by side (`\\`, rare) is
    /// read byte by byte. The last bytes of a row are read as the end of a block that overlaps
    /// the one before it, the bytes read already masked out; a row under sixteen bytes, byte by
    /// byte. Once `ends` is full, tabs are counted a block at a time.
    @inlinable
    public static func fieldEnds(_ row: UnsafeRawBufferPointer, into ends: UnsafeMutableBufferPointer<Int>) -> Int {
        let n = row.count
        let capacity = ends.count
        var count = 0
        /// The tabs of `tabs` (a mask of 0x80 bytes) at `offset`, in order.
        @inline(__always) func record(_ tabs: UInt64, at offset: Int) {
            guard tabs != 0 else { return }
            guard count < capacity else {
                count &+= markedBytes(tabs)
                return
            }
            var tabs = tabs
            repeat {
                if count < capacity { ends[count] = offset &+ tabs.trailingZeroBitCount &>> 3 }
                count &+= 1
                tabs &= tabs &- 1
            } while tabs != 0
        }
        guard let p = row.baseAddress else {
            record(0x80, at: 0)
            return count
        }
        /// Bytes `from..<to` one at a time, the first escaped when `escaped`; whether the byte
        /// after them is escaped.
        @inline(__always) func bytewise(from: Int, to: Int, escaped: Bool) -> Bool {
            var escaped = escaped
            var j = from
            while j < to {
                let c = p.load(fromByteOffset: j, as: UInt8.self)
                if escaped {
                    escaped = false
                } else if c == 0x5C {
                    escaped = true
                } else if c == 0x09 {
                    record(0x80, at: j)
                }
                j &+= 1
            }
            return escaped
        }
        /// The tabs of a block at `offset` whose bytes before `skip` were read already, the
        /// byte at `skip` escaped when `carry` is 0x80; the carry of the next block.
        @inline(__always) func take(_ block: FieldBlock, at offset: Int, skipping skip: Int, carry: UInt64) -> UInt64 {
            var (tabsLow, tabsHigh) = block.tabs
            var (slashLow, slashHigh) = block.backslashes
            var carryLow = carry, carryHigh: UInt64 = 0
            if skip > 0 {
                let keepLow: UInt64 = skip >= 8 ? 0 : ~0 &<< UInt64(skip &* 8)
                let keepHigh: UInt64 = skip <= 8 ? ~0 : ~0 &<< UInt64((skip &- 8) &* 8)
                tabsLow &= keepLow
                slashLow &= keepLow
                tabsHigh &= keepHigh
                slashHigh &= keepHigh
                if skip < 8 {
                    carryLow = carry &<< UInt64(skip &* 8)
                } else {
                    carryLow = 0
                    carryHigh = carry &<< UInt64((skip &- 8) &* 8)
                }
            }
            if slashLow | slashHigh | carry != 0 {
                // The bytes a backslash would escape if no two were side by side.
                let afterLow = slashLow &<< 8 | carryLow
                let afterHigh = slashHigh &<< 8 | slashLow &>> 56 | carryHigh
                if slashLow & afterLow | slashHigh & afterHigh != 0 {
                    return bytewise(from: offset &+ skip, to: offset &+ 16, escaped: carry != 0) ? 0x80 : 0
                }
                tabsLow &= ~afterLow
                tabsHigh &= ~afterHigh
            }
            record(tabsLow, at: offset)
            record(tabsHigh, at: offset &+ 8)
            return slashHigh &>> 56
        }
        var i = 0
        var carry: UInt64 = 0
        while i &+ 16 <= n {
            carry = take(FieldBlock(p + i), at: i, skipping: 0, carry: carry)
            i &+= 16
        }
        if i < n {
            if n >= 16 {
                carry = take(FieldBlock(p + (n &- 16)), at: n &- 16, skipping: i &- (n &- 16), carry: carry)
            } else {
                _ = bytewise(from: i, to: n, escaped: false)
            }
        }
        record(0x80, at: n)
        return count
    }

    /// The first `ends.count` fields of `row`, as `fieldEnds` splits them, and no further: where
    /// each ends, how many there are (fewer when the row ends first) and, when the row goes on
    /// after the last of them, where the next field starts. With `countFields` from there, the
    /// row's fields are counted: the key of a row is in its first fields.
    @inlinable
    public static func leadingFieldEnds(
        _ row: UnsafeRawBufferPointer, into ends: UnsafeMutableBufferPointer<Int>
    ) -> (count: Int, next: Int?) {
        let n = row.count
        let capacity = ends.count
        guard capacity > 0 else { return (0, 0) }
        guard let p = row.baseAddress else {
            ends[0] = 0
            return (1, nil)
        }
        var count = 0
        var escaped = false
        var i = 0
        /// The tab at `at`; true when it ends the last field wanted.
        @inline(__always) func record(_ at: Int) -> Bool {
            ends[count] = at
            count &+= 1
            return count == capacity
        }
        /// Bytes `i..<to` one at a time; true when the last field wanted ended in them.
        @inline(__always) func bytewise(to: Int) -> Bool {
            while i < to {
                let c = p.load(fromByteOffset: i, as: UInt8.self)
                i &+= 1
                if escaped {
                    escaped = false
                } else if c == 0x5C {
                    escaped = true
                } else if c == 0x09, record(i &- 1) {
                    return true
                }
            }
            return false
        }
        while i &+ 16 <= n {
            let block = FieldBlock(p + i)
            var (tabsLow, tabsHigh) = block.tabs
            let (slashLow, slashHigh) = block.backslashes
            let carry: UInt64 = escaped ? 0x80 : 0
            if slashLow | slashHigh | carry != 0 {
                let afterLow = slashLow &<< 8 | carry
                let afterHigh = slashHigh &<< 8 | slashLow &>> 56
                if slashLow & afterLow | slashHigh & afterHigh != 0 {
                    if bytewise(to: i &+ 16) { return (count, i) }
                    continue
                }
                tabsLow &= ~afterLow
                tabsHigh &= ~afterHigh
                escaped = slashHigh &>> 56 != 0
            }
            while tabsLow != 0 {
                let at = i &+ tabsLow.trailingZeroBitCount &>> 3
                if record(at) { return (count, at &+ 1) }
                tabsLow &= tabsLow &- 1
            }
            while tabsHigh != 0 {
                let at = i &+ 8 &+ tabsHigh.trailingZeroBitCount &>> 3
                if record(at) { return (count, at &+ 1) }
                tabsHigh &= tabsHigh &- 1
            }
            i &+= 16
        }
        if bytewise(to: n) { return (count, i) }
        ends[count] = n
        return (count &+ 1, nil)
    }

    /// Sixteen bytes of a row as masks of their tabs and backslashes, in two halves whose bytes
    /// are each 0x80 (the byte is one) or 0: two compares and two ands on SSE2 or NEON.
    @usableFromInline
    struct FieldBlock {
        @usableFromInline var tabs: (UInt64, UInt64)
        @usableFromInline var backslashes: (UInt64, UInt64)

        @inlinable @inline(__always)
        init(_ p: UnsafeRawPointer) {
            let bytes = p.loadUnaligned(as: SIMD16<UInt8>.self)
            let high = SIMD16<UInt8>(repeating: 0x80)
            let tabs = unsafeBitCast(
                SIMD16<UInt8>(repeating: 0).replacing(with: high, where: bytes .== SIMD16<UInt8>(repeating: 0x09)), to: SIMD2<UInt64>.self)
            let backslashes = unsafeBitCast(
                SIMD16<UInt8>(repeating: 0).replacing(with: high, where: bytes .== SIMD16<UInt8>(repeating: 0x5C)), to: SIMD2<UInt64>.self)
            self.tabs = (UInt64(littleEndian: tabs[0]), UInt64(littleEndian: tabs[1]))
            self.backslashes = (UInt64(littleEndian: backslashes[0]), UInt64(littleEndian: backslashes[1]))
        }
    }

    @inlinable static var ones: UInt64 { 0x0101_0101_0101_0101 }

    /// The high bit of each byte of `w` that is zero, and of no other.
    @inlinable @inline(__always)
    static func zeroBytes(_ w: UInt64) -> UInt64 {
        let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        return ~(((w & lows) &+ lows) | w | lows)
    }

    /// How many bytes of `marks` (each 0x80 or 0) are marked: one multiply, where a population
    /// count is a dozen instructions on the baseline x86-64 (no POPCNT).
    @inlinable @inline(__always)
    static func markedBytes(_ marks: UInt64) -> Int {
        Int(((marks >> 7) &* ones) >> 56)
    }

    /// True when the raw field is exactly `\N` (PostgreSQL compares before unescaping: `a\N` is `aN`).
    @inlinable
    public static func isNull(_ field: UnsafeRawBufferPointer) -> Bool {
        field.count == 2 && field[0] == 0x5C && field[1] == 0x4E
    }

    /// Appends the unescaped bytes of `field` to `out`. Returns false for a lone backslash at the
    /// end of the field, which PostgreSQL never writes.
    @inlinable
    public static func unescape(_ field: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Bool {
        let n = field.count
        var i = 0
        while i < n {
            let c = field[i]
            i += 1
            guard c == 0x5C else {
                out.append(c)
                continue
            }
            guard i < n else { return false }
            let e = field[i]
            i += 1
            switch e {
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(e - 48)
                var digits = 1
                while digits < 3, i < n, field[i] >= 48, field[i] <= 55 {
                    value = value * 8 + UInt32(field[i] - 48)
                    i += 1
                    digits += 1
                }
                out.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                if i < n, let h = hexValue(field[i]) {
                    var value = h
                    i += 1
                    if i < n, let h2 = hexValue(field[i]) {
                        value = value * 16 + h2
                        i += 1
                    }
                    out.append(value)
                } else {
                    out.append(e)
                }
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "v"): out.append(0x0B)
            default: out.append(e)
            }
        }
        return true
    }

    @inlinable
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 65...70: c - 55
        case 97...102: c - 87
        default: nil
        }
    }

    /// A decimal integer field (`-12`, `0`) within `range`; nil when it is anything else. A field
    /// holding escapes is unescaped first (PostgreSQL never writes one, but it is valid input).
    @inlinable
    public static func integer(_ field: UnsafeRawBufferPointer, in range: ClosedRange<Int64>) -> Int64? {
        // Up to 18 digits and nothing else, as PostgreSQL writes ids and counts: no sign, no
        // escape, and no overflow to check (10^18 - 1 < Int64.max).
        let n = field.count
        if n > 0, n <= 18, let p = field.baseAddress {
            var value: Int64 = 0
            var i = 0
            while i < n {
                let d = p.load(fromByteOffset: i, as: UInt8.self) &- 48
                guard d < 10 else { break }
                value = value &* 10 &+ Int64(d)
                i += 1
            }
            if i == n { return range.contains(value) ? value : nil }
        }
        if field.contains(0x5C) {
            var bytes: [UInt8] = []
            guard unescape(field, into: &bytes) else { return nil }
            return bytes.withUnsafeBytes { plainInteger($0, in: range) }
        }
        return plainInteger(field, in: range)
    }

    @inlinable
    static func plainInteger(_ field: UnsafeRawBufferPointer, in range: ClosedRange<Int64>) -> Int64? {
        let n = field.count
        guard n > 0, n <= 20 else { return nil }
        var i = 0
        var negative = false
        if field[0] == UInt8(ascii: "-") || field[0] == UInt8(ascii: "+") {
            negative = field[0] == UInt8(ascii: "-")
            i = 1
            guard n > 1 else { return nil }
        }
        var value: Int64 = 0
        while i < n {
            let d = field[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = s
            i += 1
        }
        return range.contains(value) ? value : nil
    }

    /// A `timestamptz` field as PostgreSQL writes it with `DateStyle` ISO (`2018-07-25 14:50:00+00`,
    /// `2018-07-25 07:50:00.25-07`, `+05:30`) or as RFC 3339; nil for anything else.
    @inlinable
    public static func timestamp(_ field: UnsafeRawBufferPointer) -> Timestamp? {
        Timestamp.parse(field)
    }

    /// `timestamp(_:)` with the date it read last and its day number (`Timestamp.DateMemo`), for
    /// a caller that reads many times of the same days: a dump's rows come a user at a time in
    /// time order.
    @inlinable
    public static func timestamp(_ field: UnsafeRawBufferPointer, dates: inout Timestamp.DateMemo) -> Timestamp? {
        Timestamp.parse(field, dates: &dates)
    }

    /// The day and zone of the last time `timestamp(_:zones:dates:)` parsed in pg_dump's form
    /// with a whole-hour zone (`2018-07-21 09:20:00-07`, 22 bytes): a dump's times share a few
    /// zones and, a user at a time in time order, run over the same day.
    public struct ZoneMemo: Sendable {
        /// Bytes 0..<8 (`YYYY-MM-`), 8..<11 (`DD `, in the low three bytes) and 19..<22 (`-07`,
        /// in the low three bytes) of the time, as loaded.
        @usableFromInline var head: UInt64 = 0
        @usableFromInline var day: UInt64 = 0
        @usableFromInline var zone: UInt64 = 0
        /// Its microseconds less its time of day's: midnight of that day in that zone; nil
        /// before the first.
        @usableFromInline var midnight: Int64?

        public init() {}
    }

    /// `timestamp(_:dates:)`, the same results: a 22-byte time whose date, separator and zone are
    /// those of the last 22-byte time it parsed (`ZoneMemo`) is that time's midnight plus its
    /// own time of day, when that is one `Timestamp.parse` takes (`HH:MM:SS`, hours to 23,
    /// minutes and seconds to 59). `Timestamp.parse` of such a text reads the same date, the
    /// same separator and the same zone, all of which it took before, and no fraction (byte 19
    /// is the zone's sign), so it adds the same day and zone to the same time of day, and bounds
    /// the instant as it does. Anything else goes to `Timestamp.parse`.
    @inlinable
    public static func timestamp(
        _ field: UnsafeRawBufferPointer, zones: inout ZoneMemo, dates: inout Timestamp.DateMemo
    ) -> Timestamp? {
        guard field.count == 22, let p = field.baseAddress else { return Timestamp.parse(field, dates: &dates) }
        let head = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))                           // YYYY-MM-
        let day = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & 0xFF_FFFF // DD?
        let time = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 11, as: UInt64.self))       // HH:MM:SS
        let zone = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 14, as: UInt64.self)) &>> 40 // -07
        let seconds = secondsOfDay(time)
        if let midnight = zones.midnight, head == zones.head, day == zones.day, zone == zones.zone, let seconds {
            let t = Timestamp(microseconds: midnight &+ seconds &* 1_000_000)
            // The bound `Timestamp.parse` puts on the instant, for the days at its ends.
            return t >= Timestamp.earliest && t <= Timestamp.latest ? t : nil
        }
        guard let parsed = Timestamp.parse(field, dates: &dates) else { return nil }
        let sign = UInt8(truncatingIfNeeded: zone)
        if let seconds, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            zones = ZoneMemo()
            zones.head = head
            zones.day = day
            zones.zone = zone
            zones.midnight = parsed.microseconds - seconds * 1_000_000
        }
        return parsed
    }

    /// `HH:MM:SS` (bytes 0..<8 of `time`, byte 0 lowest) as seconds, when `Timestamp.parse`
    /// takes it: six ASCII digits and two colons, hours to 23, minutes and seconds to 59.
    @inlinable @inline(__always)
    static func secondsOfDay(_ time: UInt64) -> Int64? {
        let digits: UInt64 = 0xFFFF_00FF_FF00_FFFF
        // Each digit byte is 0x30...0x39: its high nibble is 3 and its low nibble plus 6 stays
        // under 0x10 (no byte carries into the next: a low nibble plus 6 is at most 0x15).
        guard (time & digits & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_0030_3000_3030,
              (((time & digits & 0x0F0F_0F0F_0F0F_0F0F) &+ 0x0606_0006_0600_0606) & 0xF0F0_F0F0_F0F0_F0F0) == 0,
              time & 0x0000_FF00_00FF_0000 == 0x0000_3A00_003A_0000
        else { return nil }
        @inline(__always) func digit(_ k: UInt64) -> Int64 { Int64(truncatingIfNeeded: time &>> (8 &* k) & 0xF) }
        let hour = digit(0) &* 10 &+ digit(1), minute = digit(3) &* 10 &+ digit(4), second = digit(6) &* 10 &+ digit(7)
        guard hour <= 23, minute <= 59, second <= 59 else { return nil }
        return hour &* 3600 &+ minute &* 60 &+ second
    }

    /// Why a text or array field cannot be taken as given.
    public enum FieldFault: Error, Hashable, Sendable {
        case badEscape, invalidUTF8, nul, malformedArray(String), nullElement
    }

    /// A text field: unescaped, valid UTF-8 and without NUL. `scratch` is reused between calls.
    @inlinable
    public static func text(_ field: UnsafeRawBufferPointer, scratch: inout [UInt8]) -> Result<String, FieldFault> {
        if !field.contains(0x5C) { return string(field) }    // no escapes: straight from the row
        scratch.removeAll(keepingCapacity: true)
        guard unescape(field, into: &scratch) else { return .failure(.badEscape) }
        return scratch.withUnsafeBytes { string($0) }
    }

    /// Bytes as a String when they are UTF-8 without NUL; ASCII skips the validator.
    @inlinable
    static func string(_ bytes: UnsafeRawBufferPointer) -> Result<String, FieldFault> {
        var ascii = true
        for b in bytes {
            if b == 0 { return .failure(.nul) }
            if b >= 0x80 { ascii = false }
        }
        if ascii { return .success(String(decoding: bytes, as: UTF8.self)) }
        guard let s = String(validating: bytes, as: UTF8.self) else { return .failure(.invalidUTF8) }
        return .success(s)
    }

    /// A text field's bytes appended to `out`, unescaped, when `text` would take them (UTF-8
    /// without NUL; its String's bytes are these bytes); the fault `text` would give otherwise,
    /// with `out` left as it was. No `String` is made of ASCII bytes.
    @inlinable
    public static func appendText(_ field: UnsafeRawBufferPointer, to out: inout [UInt8]) -> FieldFault? {
        let start = out.count
        if field.contains(0x5C) {
            guard unescape(field, into: &out) else {
                out.removeSubrange(start...)
                return .badEscape
            }
        } else {
            out.append(contentsOf: field)
        }
        let fault: FieldFault? = out.withUnsafeBytes { all in
            let bytes = UnsafeRawBufferPointer(rebasing: all[start...])
            var ascii = true
            for b in bytes {
                if b == 0 { return .nul }
                if b >= 0x80 { ascii = false }
            }
            return ascii || String(validating: bytes, as: UTF8.self) != nil ? nil : .invalidUTF8
        }
        if fault != nil { out.removeSubrange(start...) }
        return fault
    }

    /// A one-dimensional array literal (`{}`, `{Xcode,"a,b",NULL,"q\"uote"}`), already unescaped
    /// from COPY, as PostgreSQL's `array_in` reads it: elements quoted or not, `\` escapes,
    /// unquoted `NULL` (any case) for a NULL element, whitespace around elements ignored, an
    /// optional `[1:3]=` dimension prefix. Nested arrays are refused.
    ///
    /// The phases: the optional dimensions and the `{` (`ArrayCursor.open`), then each element,
    /// quoted (`quotedElement`) or not (`unquotedElement`), and its `,` or `}`, then the end.
    public static func arrayLiteral(_ bytes: UnsafeRawBufferPointer) -> Result<[String?], FieldFault> {
        var cursor = ArrayCursor(bytes)
        do throws(FieldFault) {
            try cursor.open()
            var elements: [String?] = []
            if cursor.take(UInt8(ascii: "}")) {
                cursor.skipSpace()
                try cursor.end()
                return .success(elements)
            }
            var element: [UInt8] = []
            while true {
                cursor.skipSpace()
                guard !cursor.atEnd else { throw ArrayCursor.fail("ends inside the array") }
                element.removeAll(keepingCapacity: true)
                if cursor.take(UInt8(ascii: "\"")) {
                    try cursor.quotedElement(into: &element)
                    elements.append(try string(element))
                } else if try cursor.unquotedElement(into: &element) {
                    elements.append(nil)
                } else {
                    elements.append(try string(element))
                }
                guard !cursor.atEnd else { throw ArrayCursor.fail("ends inside the array") }
                if cursor.take(UInt8(ascii: "}")) { break }
                guard cursor.take(UInt8(ascii: ",")) else { throw ArrayCursor.fail("expected ',' or '}'") }
            }
            cursor.skipSpace()
            try cursor.end()
            return .success(elements)
        } catch {
            return .failure(error)
        }
    }

    /// An element's bytes as a String (see `string(_:)`).
    private static func string(_ element: [UInt8]) throws(FieldFault) -> String {
        try element.withUnsafeBytes { string($0) }.get()
    }

    /// A position in an array literal, and the phases that read it.
    struct ArrayCursor {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        static func fail(_ why: String) -> FieldFault { .malformedArray(why) }

        var atEnd: Bool { i >= bytes.count }

        static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

        mutating func skipSpace() {
            while i < bytes.count, Self.isSpace(bytes[i]) { i += 1 }
        }

        /// Consumes `byte` when it is next.
        mutating func take(_ byte: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }

        /// Leading space, the optional `[1:3]=` dimensions, the `{`, and the space after it.
        mutating func open() throws(FieldFault) {
            skipSpace()
            if take(UInt8(ascii: "[")) {
                while i < bytes.count, bytes[i] != UInt8(ascii: "=") { i += 1 }
                guard take(UInt8(ascii: "=")) else { throw Self.fail("dimensions without '='") }
                skipSpace()
            }
            guard take(UInt8(ascii: "{")) else { throw Self.fail("does not start with '{'") }
            skipSpace()
        }

        /// Nothing but the end after the closing `}`.
        func end() throws(FieldFault) {
            guard i == bytes.count else { throw Self.fail("text after the closing '}'") }
        }

        /// The rest of a quoted element, after its opening quote, and the space after it.
        mutating func quotedElement(into element: inout [UInt8]) throws(FieldFault) {
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\\") {
                    guard i < n else { throw Self.fail("ends after a backslash") }
                    element.append(bytes[i])
                    i += 1
                } else if c == UInt8(ascii: "\"") {
                    skipSpace()
                    return
                } else {
                    element.append(c)
                }
            }
            throw Self.fail("unterminated quoted element")
        }

        /// An unquoted element up to its `,` or `}`, trailing space dropped; true when it is a
        /// NULL element (`NULL` in any case, unescaped).
        mutating func unquotedElement(into element: inout [UInt8]) throws(FieldFault) -> Bool {
            let n = bytes.count
            if bytes[i] == UInt8(ascii: "{") { throw Self.fail("nested arrays are not text[]") }
            var escaped = false
            var keep = 0   // length up to the last escaped or non-space byte
            while i < n {
                let c = bytes[i]
                if c == UInt8(ascii: ",") || c == UInt8(ascii: "}") { break }
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "{") {
                    throw Self.fail("unexpected '\(Character(UnicodeScalar(c)))'")
                }
                i += 1
                if c == UInt8(ascii: "\\") {
                    guard i < n else { throw Self.fail("ends after a backslash") }
                    element.append(bytes[i])
                    i += 1
                    escaped = true
                    keep = element.count
                } else {
                    element.append(c)
                    if !Self.isSpace(c) { keep = element.count }
                }
            }
            element.removeLast(element.count - keep)
            guard !element.isEmpty else { throw Self.fail("empty unquoted element") }
            return !escaped && element.count == 4
                && element[0] | 0x20 == 0x6E && element[1] | 0x20 == 0x75
                && element[2] | 0x20 == 0x6C && element[3] | 0x20 == 0x6C
        }
    }

    /// A `text[]` COPY field: unescaped from COPY, then read as an array literal.
    public static func textArray(_ field: UnsafeRawBufferPointer, scratch: inout [UInt8]) -> Result<[String?], FieldFault> {
        if !field.contains(0x5C) { return arrayLiteral(field) }
        scratch.removeAll(keepingCapacity: true)
        guard unescape(field, into: &scratch) else { return .failure(.badEscape) }
        return scratch.withUnsafeBytes { arrayLiteral($0) }
    }
}
