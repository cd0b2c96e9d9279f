import RecoveryModel
import XCTest
@testable import PlanReport

/// `report.html`: self-contained, escaped, and a timeline with one bar group per non-empty bucket.
final class HTMLReportTests: XCTestCase {
    func render(_ evidence: PlanEvidence) throws -> String {
        HTMLReport.render(try Incident.document(evidence), evidence)
    }

    func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    func testPageIsSelfContained() throws {
        let html = try render(Incident.evidence())
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>\n"))
        for forbidden in ["http://", "https://", "src=", "<script", "<link", "@import", "url(", "@font-face", "<iframe", "<img"] {
            XCTAssertFalse(html.lowercased().contains(forbidden), "report.html holds '\(forbidden)'")
        }
        XCTAssertEqual(count("<style>", in: html), 1)
        XCTAssertEqual(count("<svg", in: html), 1)
    }

    func testHostileTextIsEscaped() throws {
        var evidence = Incident.evidence()
        evidence.hosts.append(HostCoverage(host: "<b onmouseover=\"x\">evil</b>", events: 1, firstEvent: Incident.t(0), lastEvent: Incident.t(400), gaps: []))
        evidence.inputs.append(.init(kind: .log, path: "logs/<img src=x onerror=alert(1)>&'q'.log", bytes: 1, sha256: "c3", lines: 1,
                                     quarantined: 0, damage: "corrupt: <b>bad</b> & \"worse\""))
        let html = try render(evidence)
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("<img"))
        XCTAssertFalse(html.contains("<b "))
        XCTAssertFalse(html.contains("<b>"))
        XCTAssertTrue(html.contains("malformed JSON: unexpected &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; &amp; &quot;x&quot; | `y`"))
        XCTAssertTrue(html.contains("<code>logs/&lt;img src=x onerror=alert(1)&gt;&amp;&#39;q&#39;.log</code>"))
        XCTAssertTrue(html.contains("&lt;b onmouseover=&quot;x&quot;&gt;evil&lt;/b&gt;"))
        XCTAssertTrue(html.contains("<li>log logs/&lt;img src=x onerror=alert(1)&gt;&amp;&#39;q&#39;.log: corrupt: &lt;b&gt;bad&lt;/b&gt; &amp; &quot;worse&quot;</li>"))
    }

    func testWarningsTotalsAndTablesAreThere() throws {
        let html = try render(Incident.evidence())
        XCTAssertTrue(html.contains("<section class=\"warning\">\n<h2>WARNING: the evidence is incomplete (3 warnings)</h2>"))
        XCTAssertTrue(html.contains("<li>host app-1: no event from 2018-07-25T15:20:00Z to 2018-07-25T15:50:00Z (30 min)</li>"))
        XCTAssertTrue(html.contains("<p>Recovered: 5 slots, 45 min for 3 users.</p>"))
        XCTAssertTrue(html.contains("<tr><td data-label=\"Outcome\"><code>recovered</code></td><td class=\"num\" data-label=\"Slots\">5</td>"))
        XCTAssertTrue(html.contains("<tr><td class=\"num\" data-label=\"User\">1001</td><td class=\"num\" data-label=\"Recovered\">3</td>"
            + "<td class=\"num\" data-label=\"Minutes\">30</td><td class=\"num\" data-label=\"Already present\">1</td>"
            + "<td class=\"num\" data-label=\"Offline overlap\">0</td><td class=\"num\" data-label=\"Quarantined\">1</td></tr>"))
        // Hash prefixes never wrap; the caption names the legend's colours.
        XCTAssertTrue(html.contains("<td data-label=\"SHA-256\"><code class=\"hash\">"))
        XCTAssertTrue(html.contains("code.hash { white-space: nowrap;"))
        XCTAssertTrue(html.contains("has events (teal)") || html.contains("events (teal)"))
        XCTAssertFalse(html.contains("(green)"))
        XCTAssertTrue(html.contains("@media (max-width: 720px)"))
        XCTAssertTrue(html.contains("<h3>Offline overlap (2)</h3>"))
        XCTAssertTrue(html.contains("<h2>Quarantined records (3)</h2>"))
        XCTAssertTrue(html.contains("<th>Code</th><th>Records</th><th>Files</th>"), html)
        XCTAssertTrue(html.contains("<h2>Reviewer&#39;s checklist</h2>") || html.contains("<h2>Reviewer's checklist</h2>"))
        let complete = try render(Incident.completeEvidence())
        XCTAssertTrue(complete.contains("<section class=\"complete\"><strong>The evidence is complete</strong>"))
        XCTAssertFalse(complete.contains("class=\"warning\""))
    }

    /// The timeline's buckets count each outcome's slots, the readers' quarantined slots of the
    /// window (not a record without a key, nor one past the window's end that the axis still
    /// shows), and spilled recovered slots by their start (also only within the window).
    func testBucketsCountEveryOutcomeTheReadersQuarantineAndSpilledSlots() {
        var evidence = Incident.evidence()
        let scale = TimelineScale(window: evidence.window)
        func cell(_ minutes: Int64) -> [Int] { BucketCounts(evidence, scale: scale).counts[scale.bucket(Incident.t(minutes))!] }
        func total() -> Int { BucketCounts(evidence, scale: scale).counts.joined().reduce(0, +) }
        // Recovered 14:00 (two users), 14:10, 14:20, 15:40; already present 14:30; offline
        // 15:00, 15:10; quarantined 14:40 (by the resolver) and 15:30 (by a reader).
        XCTAssertEqual(cell(0), [2, 0, 0, 0])
        XCTAssertEqual(cell(30), [0, 1, 0, 0])
        XCTAssertEqual(cell(60), [0, 0, 1, 0])
        XCTAssertEqual(cell(40), [0, 0, 0, 1])
        XCTAssertEqual(cell(90), [0, 0, 0, 1])
        XCTAssertEqual(total(), 10)
        XCTAssertEqual(BucketCounts(evidence, scale: scale).counts.count, scale.bucketCount)
        evidence.readQuarantine += [
            QuarantineRecord(location: SourceLocation(file: Incident.app2, line: 40), reason: .malformedJSON("x"), key: Incident.key(1002, 90)),
            QuarantineRecord(location: SourceLocation(file: Incident.app2, line: 41), reason: .malformedJSON("x")),
            QuarantineRecord(location: SourceLocation(file: Incident.app2, line: 42), reason: .malformedJSON("x"), key: Incident.key(1002, 150)),
        ]
        evidence.spilledRecovered = SpilledRecovered(
            count: 7, minutes: 70, users: [], head: [], starts: [Incident.t(0): 3, Incident.t(150): 4], readQuarantineRecovered: [],
            slots: { _ in [] }, removeFiles: {})
        XCTAssertNotNil(scale.bucket(Incident.t(150)), "past the window's end, on the axis")
        XCTAssertEqual(cell(0), [5, 0, 0, 0])
        XCTAssertEqual(cell(90), [0, 0, 0, 2])
        XCTAssertEqual(cell(150), [0, 0, 0, 0])
        XCTAssertEqual(total(), 14)
    }

    func testTimelineHasOneBarGroupPerNonEmptyBucket() throws {
        let evidence = Incident.evidence()
        let html = try render(evidence)
        let scale = TimelineScale(window: evidence.window)
        XCTAssertEqual(scale.bucketMinutes, 10)
        XCTAssertEqual(scale.bucketCount, 33, "2 h window + 180 min + 30 min margin")
        // Slot starts by outcome: recovered 14:00 (two users), 14:10, 14:20, 15:40; already present
        // 14:30; offline 15:00, 15:10; quarantined 14:40 and 15:30.
        XCTAssertEqual(count("<g class=\"bucket\">", in: html), 9)
        XCTAssertTrue(html.contains("<title>2018-07-25T14:00:00Z (10 min): 2 recovered, 0 already present, 0 offline overlap, 0 quarantined</title>"))
        XCTAssertTrue(html.contains("<title>2018-07-25T15:30:00Z (10 min): 0 recovered, 0 already present, 0 offline overlap, 1 quarantined</title>"))
        XCTAssertEqual(count("<g class=\"lane\">", in: html), 2)
        XCTAssertTrue(html.contains("<title>app-1: no event from 2018-07-25T15:20:00Z to 2018-07-25T15:50:00Z</title>"))
        XCTAssertTrue(html.contains(">window end + 180 min</text>"))
        // The axis is in the --tz zone (14:00Z is 07:00 in Los Angeles), starts before the window,
        // and marks its start.
        XCTAssertTrue(html.contains(">America/Los_Angeles</text>"))
        XCTAssertTrue(html.contains(">07:00</text>"))
        XCTAssertFalse(html.contains(">14:00</text>"))
        XCTAssertTrue(html.contains(">window start</text>"))
        XCTAssertTrue(html.contains("The axis is in America/Los_Angeles."))
        XCTAssertLessThan(scale.axisStart, scale.from)
        let utc = try render(Incident.evidence(zone: nil))
        XCTAssertTrue(utc.contains(">UTC</text>"))
        XCTAssertTrue(utc.contains(">14:00</text>"))
    }

    func testLongWindowsUseCoarserBuckets() {
        let from = Timestamp.parse("2018-07-25T00:00:00Z")!
        let fourteenHours = TimelineScale(window: Window(from: from, to: from.adding(minutes: 14 * 60)))
        XCTAssertEqual(fourteenHours.bucketMinutes, 10)
        XCTAssertLessThanOrEqual(fourteenHours.bucketCount, 200)
        let threeDays = TimelineScale(window: Window(from: from, to: from.adding(minutes: 3 * 1440)))
        XCTAssertEqual(threeDays.bucketMinutes, 30)
        XCTAssertLessThanOrEqual(threeDays.bucketCount, 200)
        let year = TimelineScale(window: Window(from: from, to: from.adding(minutes: 365 * 1440)))
        XCTAssertLessThanOrEqual(year.bucketCount, 200)
        XCTAssertGreaterThanOrEqual(year.end, from.adding(minutes: 365 * 1440 + 180))
    }

    func testTimelineDrawsLongWindowsAndCoverageBeyondTheAxis() throws {
        var evidence = Incident.manyUsers(300)
        let from = Incident.base
        evidence.window = Window(from: from, to: from.adding(minutes: 3 * 1440))
        evidence.hosts = [
            HostCoverage(host: "early", events: 1, firstEvent: from.adding(minutes: -600), lastEvent: from.adding(minutes: 10 * 1440),
                         gaps: [Window(from: from.adding(minutes: 100), to: from.adding(minutes: 4000))]),
            HostCoverage(host: "late-only", events: 1, firstEvent: from.adding(minutes: 9 * 1440), lastEvent: from.adding(minutes: 9 * 1440 + 5), gaps: []),
        ]
        let html = try render(evidence)
        XCTAssertEqual(count("<g class=\"bucket\">", in: html), 1, "every slot starts in the first 30-minute bucket")
        XCTAssertEqual(count("<g class=\"lane\">", in: html), 2)
        XCTAssertTrue(html.contains("<title>2018-07-25T14:00:00Z (30 min): 300 recovered, 0 already present, 0 offline overlap, 0 quarantined</title>"))
        XCTAssertTrue(html.contains(">2018-07-27</text>"), "a date label where the day changes")
    }

    func testCoverageSegmentsLeaveOutGaps() {
        let svg = TimelineSVG(Incident.evidence())
        let app1 = Incident.hosts[1]
        XCTAssertEqual(svg.coveredSegments(app1), [
            // The lane stops at the window's end + 180 min (t(300)) though the logs go on to t(305).
            Window(from: Incident.t(0), to: Incident.t(80)), Window(from: Incident.t(110), to: Incident.t(300)),
        ])
        let gapToTheEnd = HostCoverage(host: "y", events: 1, firstEvent: Incident.t(0), lastEvent: Incident.t(100), gaps: [Window(from: Incident.t(50), to: Incident.t(100))])
        XCTAssertEqual(svg.coveredSegments(gapToTheEnd), [Window(from: Incident.t(0), to: Incident.t(50))])
    }
}
