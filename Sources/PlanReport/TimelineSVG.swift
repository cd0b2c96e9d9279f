import Foundation
import RecoveryModel
import SlotFold

/// The time axis of the timeline: from a little before the window's start (so that its marker
/// shows) to a little past its end + 180 min; from the window's start, cut into equal buckets
/// (10 minutes, or coarser so that there are at most `maxBuckets`).
struct TimelineScale: Equatable {
    static let maxBuckets: Int64 = 200
    static let bucketChoices: [Int64] = [10, 20, 30, 60, 120, 180, 360, 720, 1440]

    let from: Timestamp
    /// Where the axis starts: one bucket or more before `from`.
    let axisStart: Timestamp
    let end: Timestamp
    let bucketMinutes: Int64
    let bucketCount: Int

    init(window: Window) {
        let needed = CoveragePolicy.needed(for: window)
        let span = (needed.microseconds - window.from.microseconds + 59_999_999) / 60_000_000
        let total = span + max(30, span / 10)
        let bucket = Self.bucketChoices.first { (total + $0 - 1) / $0 <= Self.maxBuckets }
            ?? ((total + Self.maxBuckets - 1) / Self.maxBuckets + 9) / 10 * 10
        from = window.from
        bucketMinutes = bucket
        bucketCount = Int((total + bucket - 1) / bucket)
        end = from.adding(minutes: bucket * Int64(bucketCount))
        axisStart = from.adding(minutes: -bucket * Int64(max(1, bucketCount / 30)))
    }

    /// The bucket a time falls in, nil outside the axis.
    func bucket(_ time: Timestamp) -> Int? {
        guard time >= from, time < end else { return nil }
        return Int((time.microseconds - from.microseconds) / (bucketMinutes * 60_000_000))
    }

    func bucketStart(_ index: Int) -> Timestamp {
        from.adding(minutes: bucketMinutes * Int64(index))
    }

    /// A time's place between 0 (`axisStart`) and 1 (`end`), clamped.
    func fraction(_ time: Timestamp) -> Double {
        let f = Double(time.microseconds - axisStart.microseconds) / Double(end.microseconds - axisStart.microseconds)
        return min(1, max(0, f))
    }
}

/// Slots per bucket, by outcome, in stacking order (bottom first).
struct BucketCounts {
    static let outcomes: [(name: String, color: String)] = [
        ("recovered", "#2e7d32"), ("already present", "#78909c"), ("offline overlap", "#ef6c00"), ("quarantined", "#7b1fa2"),
    ]

    var counts: [[Int]]

    init(_ evidence: PlanEvidence, scale: TimelineScale) {
        // Counted in place, in one flat table: the slots' keys are not gathered into lists first
        // (a million keys of fresh memory on the benchmark incident, for counting only).
        let width = Self.outcomes.count
        var flat = [Int](repeating: 0, count: scale.bucketCount * width)
        func count(_ key: SlotKey, as outcome: Int) {
            guard evidence.window.contains(key.slotStart), let b = scale.bucket(key.slotStart) else { return }
            flat[b * width + outcome] += 1
        }
        func count(_ slots: [FoldedSlot], as outcome: Int) {
            slots.withUnsafeBufferPointer { slots in
                guard let base = slots.baseAddress else { return }
                for i in slots.indices { count(FoldedSlot.slotPointer(base + i).pointee.key, as: outcome) }
            }
        }
        let r = evidence.resolution
        count(r.recovered, as: 0)
        count(r.alreadyPresent, as: 1)
        for d in r.offlineOverlap { count(d.slot.slot.key, as: 2) }
        for q in r.quarantined { count(q.slot.slot.key, as: 3) }
        for q in evidence.readQuarantine { if let key = q.key { count(key, as: 3) } }
        // Spilled recovered slots (`plan --memory-limit`) are counted by start as they were spilled.
        for (start, n) in evidence.spilledRecovered?.starts ?? [:] {
            guard evidence.window.contains(start), let b = scale.bucket(start) else { continue }
            flat[b * width] += n
        }
        counts = (0..<scale.bucketCount).map { b in Array(flat[(b * width)..<(b * width + width)]) }
    }

    var nonEmpty: [Int] { counts.indices.filter { counts[$0].contains { $0 > 0 } } }
}

/// The timeline of `report.html`: an inline SVG drawn with plain shapes and `<title>` tooltips,
/// no script. Stacked bars of slots per bucket by outcome (one `<g class="bucket">` per bucket
/// with any slot), a coverage lane per host from the window's start to its end + 180 min (events,
/// gaps, silence), the window's start, end and end + 180 min marked, axis labels in the `--tz`
/// zone (UTC without one).
struct TimelineSVG {
    static let width = 1200.0
    static let left = 150.0
    static let right = 24.0
    static let chartTop = 60.0
    static let chartHeight = 220.0
    static let laneHeight = 18.0
    static let laneGap = 8.0

    let evidence: PlanEvidence
    let scale: TimelineScale
    let buckets: BucketCounts
    /// The axis's zone: `--tz` when this machine knows it, else UTC.
    let zone: TimeZone

    init(_ evidence: PlanEvidence) {
        self.evidence = evidence
        scale = TimelineScale(window: evidence.window)
        buckets = BucketCounts(evidence, scale: scale)
        zone = evidence.displayTimeZone.flatMap(DisplayTime.zone(named:)) ?? TimeZone(identifier: "UTC")!
    }

    /// The name the axis is labelled with: the `--tz` zone, or `UTC`.
    static func axisZoneName(_ evidence: PlanEvidence) -> String {
        evidence.displayTimeZone.flatMap { DisplayTime.zone(named: $0) == nil ? nil : $0 } ?? "UTC"
    }

    /// The zone's offset from UTC at `time`, in microseconds.
    func offset(_ time: Timestamp) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(time.microseconds) / 1_000_000))) * 1_000_000
    }

    var plotWidth: Double { Self.width - Self.left - Self.right }
    var chartBottom: Double { Self.chartTop + Self.chartHeight }
    var lanesTop: Double { chartBottom + 52 }
    var hosts: [HostCoverage] { evidence.hosts.sorted { $0.host < $1.host } }
    var height: Double { lanesTop + Double(max(hosts.count, 1)) * (Self.laneHeight + Self.laneGap) + 16 }

    func x(_ time: Timestamp) -> Double { Self.left + scale.fraction(time) * plotWidth }

    func render() -> String {
        var out = "<svg class=\"timeline\" viewBox=\"0 0 \(n(Self.width)) \(n(height))\" width=\"\(n(Self.width))\" "
            + "height=\"\(n(height))\" role=\"img\" aria-label=\"Timeline of the window: slots per "
            + "\(scale.bucketMinutes)-minute bucket by outcome, and log coverage per host\">\n"
        out += latePeriod()
        out += legend()
        out += yAxis()
        out += bars()
        out += xAxis()
        out += lanes()
        out += markers()
        return out + "</svg>\n"
    }

    // MARK: Parts

    func legend() -> String {
        var items = BucketCounts.outcomes
        items += [("logs present", Self.covered), ("log gap", Self.gap), ("no logs", Self.silent)]
        var out = "<g class=\"legend\" font-size=\"12\">\n"
        var lx = Self.left
        for item in items {
            out += rect(lx, 10, 12, 12, fill: item.color)
            out += "<text x=\"\(n(lx + 16))\" y=\"20\">\(HTML.escape(item.name))</text>\n"
            lx += 16 + Double(item.name.count) * 7 + 18
        }
        return out + "</g>\n"
    }

    /// The time after the window in which late uploads still arrive.
    func latePeriod() -> String {
        let x0 = x(evidence.window.to), x1 = x(CoveragePolicy.needed(for: evidence.window))
        return "<g class=\"late\">" + rect(x0, Self.chartTop, x1 - x0, height - Self.chartTop - 8, fill: "#f1f3f4",
                                          title: "after the window: clients upload cached slots until \(CoveragePolicy.neededText)")
            + "<text x=\"\(n(x0 + 4))\" y=\"\(n(Self.chartTop + 14))\" font-size=\"11\" fill=\"#555\">late uploads (\(CoveragePolicy.clientCacheMinutes) min)</text></g>\n"
    }

    func yAxis() -> String {
        let top = niceMax
        var out = "<g class=\"y-axis\" font-size=\"11\" fill=\"#555\">\n"
        // 0, the top, and the middle when it is a whole number.
        let values = top == 0 ? [0] : top % 2 == 0 ? [0, top / 2, top] : [0, top]
        for value in values {
            let y = chartBottom - Double(value) / Double(max(top, 1)) * Self.chartHeight
            out += line(Self.left, y, Self.width - Self.right, y, stroke: "#e0e0e0")
            out += "<text x=\"\(n(Self.left - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\">\(value)</text>\n"
        }
        out += "<text x=\"\(n(Self.left - 6))\" y=\"\(n(Self.chartTop - 6))\" text-anchor=\"end\">slots</text>\n"
        return out + "</g>\n"
    }

    /// The largest stack, rounded up to 1, 2 or 5 times a power of ten.
    var niceMax: Int {
        let largest = buckets.counts.map { $0.reduce(0, +) }.max() ?? 0
        guard largest > 0 else { return 0 }
        var power = 1
        while true {
            for step in [1, 2, 5] where step * power >= largest { return step * power }
            power *= 10
        }
    }

    func bars() -> String {
        let top = Double(max(niceMax, 1))
        let barWidth = plotWidth / Double(scale.bucketCount)
        var out = "<g class=\"bars\">\n"
        for b in buckets.nonEmpty {
            let counts = buckets.counts[b]
            let start = scale.bucketStart(b)
            var tip = "\(start.rfc3339) (\(scale.bucketMinutes) min): "
            tip += zip(BucketCounts.outcomes, counts).map { "\($1) \($0.name)" }.joined(separator: ", ")
            out += "<g class=\"bucket\"><title>\(HTML.escape(tip))</title>"
            var y = chartBottom
            let bx = x(start) + min(1, barWidth * 0.1)
            let bw = max(barWidth - 2 * min(1, barWidth * 0.1), 0.5)
            for (outcome, count) in counts.enumerated() where count > 0 {
                let h = Double(count) / top * Self.chartHeight
                y -= h
                out += rect(bx, y, bw, h, fill: BucketCounts.outcomes[outcome].color)
            }
            out += "</g>\n"
        }
        return out + "</g>\n"
    }

    /// Ticks on whole multiples, in the axis's zone, of a step that gives at most 12 labels; the
    /// date under the first tick and under every tick where the date changes; the zone's name.
    func xAxis() -> String {
        let totalMinutes = (scale.end.microseconds - scale.axisStart.microseconds) / 60_000_000
        let step: Int64 = [10, 20, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].first { totalMinutes / $0 <= 12 } ?? 10080
        let stepMicros = step * 60_000_000
        let shift = offset(scale.axisStart)
        var t = Timestamp(microseconds: (scale.axisStart.microseconds + shift + stepMicros - 1).floorDividedBy(stepMicros).0 * stepMicros - shift)
        var out = "<g class=\"x-axis\" font-size=\"11\" fill=\"#333\">\n"
        out += line(Self.left, chartBottom, Self.width - Self.right, chartBottom, stroke: "#333")
        var lastDate = ""
        while t <= scale.end {
            let px = x(t)
            let text = Timestamp(microseconds: t.microseconds + offset(t)).rfc3339  // the wall clock in the zone
            out += line(px, chartBottom, px, chartBottom + 5, stroke: "#333")
            out += "<text x=\"\(n(px))\" y=\"\(n(chartBottom + 18))\" text-anchor=\"middle\">\(text.dropFirst(11).prefix(5))</text>\n"
            let date = String(text.prefix(10))
            if date != lastDate {
                out += "<text x=\"\(n(px))\" y=\"\(n(chartBottom + 32))\" text-anchor=\"middle\" fill=\"#666\">\(date)</text>\n"
                lastDate = date
            }
            t = t.adding(microseconds: stepMicros)
        }
        out += "<text x=\"\(n(Self.width - Self.right))\" y=\"\(n(chartBottom + 46))\" text-anchor=\"end\" fill=\"#666\">"
            + "\(HTML.escape(Self.axisZoneName(evidence)))</text>\n"
        return out + "</g>\n"
    }

    static let covered = "#26a69a"
    static let gap = "#e53935"
    static let silent = "#f8d7d7"

    func lanes() -> String {
        var out = "<g class=\"lanes\" font-size=\"12\">\n"
        guard !hosts.isEmpty else {
            return out + "<text x=\"\(n(Self.left))\" y=\"\(n(lanesTop + 13))\" fill=\"#c62828\">no log event from any host</text>\n</g>\n"
        }
        // What is checked: the window's start to its end + 180 min; nothing is drawn past it.
        let start = x(horizon.from), stop = x(horizon.to)
        for (i, host) in hosts.enumerated() {
            let y = lanesTop + Double(i) * (Self.laneHeight + Self.laneGap)
            out += "<g class=\"lane\"><text x=\"\(n(Self.left - 8))\" y=\"\(n(y + 13))\" text-anchor=\"end\">"
                + "\(HTML.escape(Self.shortened(host.host)))<title>\(HTML.escape(host.host))</title></text>"
            out += rect(start, y, stop - start, Self.laneHeight, fill: Self.silent, title: "\(host.host): no events")
            for segment in coveredSegments(host) {
                out += rect(x(segment.from), y, max(x(segment.to) - x(segment.from), 1), Self.laneHeight, fill: Self.covered,
                            title: "\(host.host): events from \(segment.from) to \(segment.to)")
            }
            for gap in host.gaps where gap.to > horizon.from && gap.from < horizon.to {
                let from = max(gap.from, horizon.from), to = min(gap.to, horizon.to)
                out += rect(x(from), y, max(x(to) - x(from), 1), Self.laneHeight, fill: Self.gap,
                            title: "\(host.host): no event from \(gap.from) to \(gap.to)")
            }
            out += "</g>\n"
        }
        return out + "</g>\n"
    }

    /// The stretch every host's logs should cover: the window's start to its end + 180 min.
    var horizon: Window {
        Window(from: evidence.window.from, to: CoveragePolicy.needed(for: evidence.window))
    }

    /// From the first event to the last, minus the gaps, within the horizon.
    func coveredSegments(_ host: HostCoverage) -> [Window] {
        let first = host.firstEvent, last = host.lastEvent
        var segments: [Window] = []
        func add(_ from: Timestamp, _ to: Timestamp) {
            if from < to { segments.append(Window(from: from, to: to)) }
        }
        var start = max(first, horizon.from)
        let stop = min(last, horizon.to)
        for gap in host.gaps.sorted(by: { $0.from < $1.from }) where gap.to > start && start < stop {
            add(start, min(gap.from, stop))
            start = max(start, gap.to)
        }
        add(start, stop)
        return segments
    }

    func markers() -> String {
        let end = x(evidence.window.to)
        let needed = x(CoveragePolicy.needed(for: evidence.window))
        let bottom = height - 8
        let start = x(evidence.window.from)
        var out = "<g class=\"markers\" font-size=\"11\">\n"
        out += line(start, Self.chartTop - 4, start, bottom, stroke: "#333", extra: " stroke-width=\"1.5\"")
        out += "<text x=\"\(n(start + 4))\" y=\"\(n(Self.chartTop - 8))\">window start</text>\n"
        out += line(end, Self.chartTop - 4, end, bottom, stroke: "#333", extra: " stroke-width=\"1.5\"")
        out += "<text x=\"\(n(end - 4))\" y=\"\(n(Self.chartTop - 8))\" text-anchor=\"end\">window end</text>\n"
        out += line(needed, Self.chartTop - 34, needed, bottom, stroke: "#c62828", extra: " stroke-width=\"1.5\" stroke-dasharray=\"6 4\"")
        // The label goes left of the line when the line is near the right edge.
        let rightRoom = Self.width - needed > 150
        out += "<text x=\"\(n(rightRoom ? needed + 4 : needed - 4))\" y=\"\(n(Self.chartTop - 22))\" fill=\"#c62828\""
            + (rightRoom ? "" : " text-anchor=\"end\"") + ">\(CoveragePolicy.neededText)</text>\n"
        return out + "</g>\n"
    }

    // MARK: Shapes

    func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, title: String? = nil) -> String {
        let shape = "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill)\""
        guard let title else { return shape + "/>" }
        return shape + "><title>\(HTML.escape(title))</title></rect>"
    }

    func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, extra: String = "") -> String {
        "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\"\(extra)/>\n"
    }

    static func shortened(_ host: String) -> String {
        host.count <= 20 ? host : host.prefix(19) + "…"
    }

    /// A coordinate with at most one decimal, the same on every machine.
    func n(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let a = abs(tenths)
        return a % 10 == 0 ? "\(sign)\(a / 10)" : "\(sign)\(a / 10).\(a % 10)"
    }
}

