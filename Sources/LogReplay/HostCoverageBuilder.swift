import RecoveryModel

/// A host's events as a per-minute occupancy bitmap over the coverage range: memory is one bit
/// per minute, whatever the number of events.
struct HostCoverageBuilder: Sendable {
    let host: String
    let range: Window
    private(set) var events = 0
    private var first = Timestamp(microseconds: .max)
    private var last = Timestamp(microseconds: .min)
    private var minutes: [UInt64]

    init(host: String, range: Window) {
        self.host = host
        self.range = range
        let count = Int((range.durationMicroseconds + 59_999_999) / 60_000_000)
        minutes = Array(repeating: 0, count: (count + 63) / 64)
    }

    var minuteCount: Int { Int((range.durationMicroseconds + 59_999_999) / 60_000_000) }

    @inline(__always)
    mutating func add(_ time: Timestamp) {
        events += 1
        if time < first { first = time }
        if time > last { last = time }
        guard range.contains(time) else { return }
        let m = Int((time.microseconds - range.from.microseconds) / 60_000_000)
        minutes[m >> 6] |= 1 << UInt64(m & 63)
    }

    mutating func merge(_ other: HostCoverageBuilder) {
        events += other.events
        first = min(first, other.first)
        last = max(last, other.last)
        for i in minutes.indices { minutes[i] |= other.minutes[i] }
    }

    func coverage(gapMinutes: Int) -> HostCoverage {
        var gaps: [Window] = []
        let count = minuteCount
        var m = 0
        while m < count {
            guard minutes[m >> 6] & (1 << UInt64(m & 63)) == 0 else {
                m += 1
                continue
            }
            let start = m
            while m < count, minutes[m >> 6] & (1 << UInt64(m & 63)) == 0 { m += 1 }
            if m - start > gapMinutes {
                let from = range.from.adding(minutes: Int64(start))
                let to = min(range.from.adding(minutes: Int64(m)), range.to)
                gaps.append(Window(from: from, to: to))
            }
        }
        return HostCoverage(host: host, events: events, firstEvent: first, lastEvent: last, gaps: gaps)
    }
}
