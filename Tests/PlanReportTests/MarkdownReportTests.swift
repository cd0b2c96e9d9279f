import PlanFormat
import RecoveryModel
import XCTest
@testable import PlanReport

/// `report.md` on the hand-made incident: each section with its figures, the warning block, caps.
final class MarkdownReportTests: XCTestCase {
    func render(_ evidence: PlanEvidence) throws -> (PlanDocument, String) {
        let document = try Incident.document(evidence)
        return (document, MarkdownReport.render(document, evidence))
    }

    /// Users whose time zone no report shows times in get their notice's window in UTC: the
    /// reviewer is told which zones, once each, in the checklist (it was said nowhere; found by a
    /// hostile test). No item when every zone is known.
    func testTheChecklistNamesTheZonesNoticesCannotUse() throws {
        var evidence = Incident.evidence()
        evidence.userContacts = [
            1001: UserContact(email: "a@example.com", timeZone: "UTC+3"),
            1002: UserContact(email: "b@example.com", timeZone: "America/Nowhere"),
            1003: UserContact(email: "c@example.com", timeZone: "UTC+3"),
        ]
        let (_, md) = try render(evidence)
        XCTAssertTrue(md.contains("- [ ] The notices of 3 users give the window in UTC: their time zones (`America/Nowhere`, `UTC+3`) are not "
            + "IANA names of this machine's time zone database. Check them in the live users table before sending."), md)
        evidence.userContacts = [1001: UserContact(email: "a@example.com", timeZone: "Europe/Kyiv")]
        XCTAssertFalse(try render(evidence).1.contains("give the window in UTC"))
    }

    func testHeaderWindowInUTCAndZoneShardAndDatabase() throws {
        let (document, md) = try render(Incident.evidence())
        XCTAssertTrue(md.hasPrefix("# Recovery plan `\(document.planID)`\n"))
        XCTAssertTrue(md.contains("| **Window (UTC)** | `2018-07-25T14:00:00Z` to `2018-07-25T16:00:00Z` (2 h 0 min, half-open) |"))
        XCTAssertTrue(md.contains(
            "| **Window (America/Los\\_Angeles)** | 2018-07-25 07:00:00 -07:00 to 2018-07-25 09:00:00 -07:00 (America/Los\\_Angeles) |"))
        XCTAssertTrue(md.contains("| **Shard** | none (the whole window) |"))
        XCTAssertTrue(md.contains(
            "| **Database** | `tracker` at `host=db1 dbname=tracker user=recover` (OID 16384, cluster `7311023811954282520`, PostgreSQL `16.4`) |"),
            md)
        XCTAssertTrue(md.contains("| **Rows file** | `rows.tsv`, 5 rows, SHA-256 `\(document.rows.sha256)` |"))
        XCTAssertTrue(md.contains("| **Created** | `2018-07-26T09:00:00Z` (the latest event in the evidence) by recover-tool `0.1.0-test` |"))
    }

    func testWithoutZoneSaysUTCOnlyAndShowsShard() throws {
        var evidence = Incident.evidence(zone: nil)
        evidence.shard = .init(index: 2, count: 4)
        let (_, md) = try render(evidence)
        XCTAssertTrue(md.contains("| **Window (local)** | (UTC only) |"))
        XCTAssertTrue(md.contains("| **Shard** | 2 of 4 |"))
    }

    func testUnknownZoneFallsBackToUTCAndSaysWhy() throws {
        let (_, md) = try render(Incident.evidence(zone: "Mars/Olympus_Mons"))
        XCTAssertTrue(md.contains("(UTC only: 'Mars/Olympus\\_Mons' is not a time zone this machine knows)"))
    }

    func testWarningBlockListsEveryCompletenessWarning() throws {
        let (document, md) = try render(Incident.evidence())
        XCTAssertEqual(document.completeness.warnings.count, 3)
        XCTAssertTrue(md.contains("## Completeness: WARNING\n\n> **WARNING: the evidence is incomplete (3 warnings).**"))
        XCTAssertTrue(md.contains("> - host app-1: no event from 2018-07-25T15:20:00Z to 2018-07-25T15:50:00Z (30 min)\n"))
        XCTAssertTrue(md.contains("> - host app-2: logs end at 2018-07-25T17:30:00Z, before 2018-07-25T19:00:00Z "
            + "(window end + 180 min): late uploads may be missing\n"))
        XCTAssertTrue(md.contains("> - log logs/app-1.log.lz4: truncated at byte 123400: the last LZ4 frame is cut\n"))
        XCTAssertFalse(md.contains("The evidence is complete"))
    }

    func testCompleteEvidenceSaysSo() throws {
        let (document, md) = try render(Incident.completeEvidence())
        XCTAssertTrue(document.completeness.complete)
        XCTAssertTrue(md.contains("## Completeness\n\n**The evidence is complete**: every host's logs reach `2018-07-25T19:00:00Z`"))
        XCTAssertFalse(md.contains("WARNING"))
        XCTAssertTrue(md.contains("- [ ] The evidence is complete: no warning to explain.\n"))
    }

    func testTotalsByOutcomeAndRecoveredMinutes() throws {
        let (_, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("Recovered: 5 slots, 45 min for 3 users.\n"))
        for row in ["| `recovered` | 5 |", "| `already_present` | 1 |", "| `offline_overlap` | 2 |", "| `quarantined` | 3 |",
                    "| `deleted` | 1 |", "| `duplicates` | 1 |", "| `orphans` | 1 |"] {
            XCTAssertTrue(md.contains(row), row)
        }
        XCTAssertTrue(md.contains("Events of slots outside the window, left out: 1.\n"))
    }

    func testInputsWithHealth() throws {
        let (_, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("| log | `logs/app-1.log.lz4` | 120.6 KiB (123456 bytes) | `a1a1a1a1a1a1` | 500 | 0 | "
            + "DAMAGED: truncated at byte 123400: the last LZ4 frame is cut |"))
        XCTAssertTrue(md.contains("| log | `logs/app-2.log` | 2.0 KiB (2048 bytes) | `b2b2b2b2b2b2` | 40 | 2 | read whole |"))
        XCTAssertTrue(md.contains("| snapshot | `host=backup dbname=tracker user=recover` | database | - | 1 | 0 | read whole |"))
    }

    func testCoveragePerHostWithGaps() throws {
        let (_, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("| `app-1` | `2018-07-25T13:55:00Z` | `2018-07-25T19:05:00Z` | yes | "
            + "1: 2018-07-25T15:20:00Z to 2018-07-25T15:50:00Z (30 min) |"))
        XCTAssertTrue(md.contains("| `app-2` | `2018-07-25T13:58:00Z` | `2018-07-25T17:30:00Z` | NO: 1 h 30 min short | none |"))
    }

    func testPerUserTable() throws {
        let (_, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("| User | Recovered | Minutes | Already present | Offline overlap | Quarantined |\n"
            + "| ---: | ---: | ---: | ---: | ---: | ---: |\n"
            + "| 1001 | 3 | 30 | 1 | 0 | 1 |\n"
            + "| 1002 | 1 | 10 | 0 | 2 | 0 |\n"
            + "| 1003 | 1 | 5 | 0 | 0 | 0 |\n"
            + "| 9999 | 0 | 0 | 0 | 0 | 1 |\n"))
    }

    func testDroppedAndQuarantinedWithLocations() throws {
        let (_, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("### Offline overlap (2)"))
        XCTAssertTrue(md.contains("| 1002 | `2018-07-25T15:00:00Z` | 42 | `[2018-07-25T15:05:00Z, 2018-07-25T15:30:00Z)` | 7 | "
            + "`log logs/app-2.log:6` |"))
        XCTAssertTrue(md.contains("### Already present (1)\n\n| User | Slot start | Provenance |\n| ---: | --- | --- |\n"
            + "| 1001 | `2018-07-25T14:30:00Z` | `log logs/app-1.log.lz4:5` |\n"))
        XCTAssertTrue(md.contains("## Quarantined records (3)"))
        // First the records by code, most first: a flood of one code cannot push the others out of
        // view, as the first 200 records can (found by a hostile test).
        XCTAssertTrue(md.contains("## Quarantined records (3)\n\n| Code | Records | Files |\n| --- | ---: | ---: |\n"
            + "| `malformed_json` | 1 | 1 |\n| `out_of_range` | 1 | 1 |\n| `unknown_user` | 1 | 1 |\n\n| Source |"), md)
        XCTAssertTrue(md.contains("| `logs/app-1.log.lz4:14` | `unknown_user` | unknown user 9999 | user 9999 at 2018-07-25T14:40:00Z |"))
        XCTAssertTrue(md.contains("| `logs/app-2.log:31` | `out_of_range` | 'keystrokes' is out of range | user 1001 at 2018-07-25T15:30:00Z |"))
        // Hostile text is escaped: it cannot open HTML, split the table or start code.
        XCTAssertTrue(md.contains("| `logs/app-2.log:17` | `malformed_json` | malformed JSON: unexpected '\\<script\\>alert(1)\\</script\\>' "
            + "\\& \"x\" \\| \\`y\\` | - |"))
        XCTAssertFalse(md.contains("<script>"))
    }

    func testDeletionsDuplicatesOrphansWithExamples() throws {
        let (_, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("### Deleted (1)\n\n| User | Slot start | Deleted by |\n| ---: | --- | --- |\n"
            + "| 1002 | `2018-07-25T15:50:00Z` | `logs/app-1.log.lz4:40` |\n"))
        XCTAssertTrue(md.contains("| 1003 | `2018-07-25T14:00:00Z` | `logs/app-1.log.lz4:11` | `logs/app-1.log.lz4:10` |\n"))
        XCTAssertTrue(md.contains("### Orphan processed events (1)\n\n| User | Slot start | Processed event |\n| ---: | --- | --- |\n"
            + "| 1003 | `2018-07-25T14:50:00Z` | `logs/app-1.log.lz4:12` |\n"))
    }

    func testChecklistNamesThePlanIDAndFigures() throws {
        let (document, md) = try render(Incident.evidence())
        XCTAssertTrue(md.contains("## Reviewer's checklist\n\n- [ ] The plan id you approve is `\(document.planID)`."))
        XCTAssertTrue(md.contains("- [ ] Each of the 3 completeness warnings is understood"))
        XCTAssertTrue(md.contains("- [ ] The 3 quarantined records have reasons you expect"))
        XCTAssertTrue(md.contains("- [ ] The 2 offline overlaps are offline time"))
        XCTAssertTrue(md.contains("- [ ] The 5 recovered slots (45 min) are plausible per user"))
    }

    func testLongTablesAreCappedAndPointToTheCSV() throws {
        let (document, md) = try render(Incident.manyUsers(250))
        XCTAssertEqual(document.users.count, 250)
        XCTAssertTrue(md.contains("| 20199 | 1 | 10 | 0 | 0 | 0 |\n\n*Showing the first 200 of 250; the other 50 are in `users.csv`.*\n"))
        XCTAssertFalse(md.contains("| 20200 | 1 | 10 | 0 | 0 | 0 |"))
        // One unit everywhere: minutes, with hours and minutes beside them.
        XCTAssertTrue(md.contains("Recovered: 250 slots, 2500 min (1 d 17 h 40 min) for 250 users."))
        XCTAssertTrue(md.contains("The 250 recovered slots (2500 min (1 d 17 h 40 min))"))
    }

    func testEscapingHelpers() {
        XCTAssertEqual(Markdown.text("a_b *c* [d](e) <f> | g\nh"), "a\\_b \\*c\\* \\[d\\](e) \\<f\\> \\| g\\\\u000ah")
        XCTAssertEqual(Markdown.code("a\u{1B}[2J\u{202E}b"), "`a\\u001b[2J\\u202eb`")
        XCTAssertEqual(HTML.escape("<a\u{7}\u{2066}>"), "&lt;a\\u0007\\u2066&gt;")
        XCTAssertEqual(Markdown.code("a`b"), "``a`b``")
        XCTAssertEqual(Markdown.code("`x"), "`` `x ``")
        XCTAssertEqual(Markdown.code("a|b", inTable: true), "`a\\|b`")
    }
}
