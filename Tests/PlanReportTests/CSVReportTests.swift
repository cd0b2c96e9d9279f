import RecoveryModel
import XCTest
@testable import PlanReport

/// The CSV reports: columns, RFC 4180 quoting, and the spreadsheet formula guard.
final class CSVReportTests: XCTestCase {
    func testQuotingFollowsRFC4180() {
        XCTAssertEqual(CSVText.text("plain"), "plain")
        XCTAssertEqual(CSVText.text("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVText.text("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSVText.text("two\nlines"), "\"two\nlines\"")
        XCTAssertEqual(CSVText.text("cr\rhere"), "cr\\u000dhere", "a bare CR would hide the line before it on a terminal")
        XCTAssertEqual(CSVText.text("app\u{1B}[2J\u{7}\u{202E}txt.exe"), "app\\u001b[2J\\u0007\\u202etxt.exe")
        XCTAssertEqual(CSVText.record(["a", "b"]), "a,b\r\n")
    }

    func testFormulaGuardPrefixesAQuote() {
        XCTAssertEqual(CSVText.text("=1+2"), "'=1+2")
        XCTAssertEqual(CSVText.text("+1"), "'+1")
        XCTAssertEqual(CSVText.text("-cmd"), "'-cmd")
        XCTAssertEqual(CSVText.text("@SUM(A1)"), "'@SUM(A1)")
        XCTAssertEqual(CSVText.text("\tx"), "'\tx")
        XCTAssertEqual(CSVText.text("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")
        XCTAssertEqual(CSVText.text("a=b"), "a=b", "only a leading character is guarded")
        XCTAssertEqual(CSVText.plain("-5"), "-5", "numbers this tool writes are not guarded")
    }

    func testRecoveredCSV() throws {
        let csv = RecoveredCSV.render(Incident.evidence())
        XCTAssertEqual(csv, """
            user_id,slot_start,duration_min,project_id,task_id,status,activity_level,keystrokes,mouse_events,provenance\r
            1001,2018-07-25T14:00:00Z,10,7,70,active,7,100,200,log logs/app-1.log.lz4:1; log logs/app-1.log.lz4:2\r
            1001,2018-07-25T14:10:00Z,10,7,70,active,7,100,200,log logs/app-1.log.lz4:3; log logs/app-1.log.lz4:4\r
            1001,2018-07-25T14:20:00Z,10,7,70,idle,2,5,6,snapshot host=backup dbname=tracker user=recover:1\r
            1002,2018-07-25T15:40:00Z,10,7,70,pending,,100,200,log logs/app-2.log:8\r
            1003,2018-07-25T14:00:00Z,5,7,70,pending,,100,200,log logs/app-1.log.lz4:10\r

            """)
    }

    func testDroppedCSV() throws {
        let csv = DroppedCSV.render(Incident.evidence())
        XCTAssertEqual(csv, """
            user_id,slot_start,outcome,detail,provenance\r
            1001,2018-07-25T14:30:00Z,already_present,a live row has this key,log logs/app-1.log.lz4:5\r
            1002,2018-07-25T15:00:00Z,offline_overlap,"offline entry 42 [2018-07-25T15:05:00Z, 2018-07-25T15:30:00Z) project 7",log logs/app-2.log:6\r
            1002,2018-07-25T15:10:00Z,offline_overlap,"offline entry 42 [2018-07-25T15:05:00Z, 2018-07-25T15:30:00Z) project 7",log logs/app-2.log:7\r
            1002,2018-07-25T15:50:00Z,deleted,the last event is a deletion,log logs/app-1.log.lz4:40\r

            """)
    }

    func testQuarantinedCSVQuotesAndGuardsHostileText() throws {
        var evidence = Incident.evidence()
        evidence.readQuarantine.append(QuarantineRecord(
            location: SourceLocation(file: "=HYPERLINK(\"http://x\",\"y\"),.log", line: 3), reason: .missingKey("user_id")))
        let csv = QuarantinedCSV.render(evidence)
        XCTAssertEqual(csv, """
            file,line,reason_code,reason,user_id,slot_start\r
            "'=HYPERLINK(""http://x"",""y""),.log",3,missing_key,missing key 'user_id',,\r
            logs/app-1.log.lz4,14,unknown_user,unknown user 9999,9999,2018-07-25T14:40:00Z\r
            logs/app-2.log,17,malformed_json,"malformed JSON: unexpected '<script>alert(1)</script>' & ""x"" | `y`",,\r
            logs/app-2.log,31,out_of_range,'keystrokes' is out of range,1001,2018-07-25T15:30:00Z\r

            """)
    }

    func testUsersCSV() throws {
        let evidence = Incident.evidence()
        let csv = UsersCSV.render(try Incident.document(evidence))
        XCTAssertEqual(csv, """
            user_id,recovered,recovered_minutes,already_present,offline_overlap,quarantined\r
            1001,3,30,1,0,1\r
            1002,1,10,0,2,0\r
            1003,1,5,0,0,0\r
            9999,0,0,0,0,1\r

            """)
    }
}

/// The rows to be written, per user, in the reports.
final class RowsToBeWrittenTests: XCTestCase {
    func testRowsToBeWrittenAreListedPerUserUpToTheCap() throws {
        let evidence = Incident.evidence()
        let document = try Incident.document(evidence)
        let md = MarkdownReport.render(document, evidence)
        XCTAssertTrue(md.contains("## Rows to be written (5)\n\n"))
        XCTAssertTrue(md.contains("| **User 1001: 3 slots, 30 min** |"), md)
        XCTAssertTrue(md.contains("| Slot start (America/Los\\_Angeles) |"), md)
        let html = HTMLReport.render(document, evidence)
        XCTAssertTrue(html.contains("<tr class=\"group\"><th colspan=\"11\">User 1001: 3 slots, 30 min</th></tr>"), html)

        let many = Incident.manyUsers(2100)
        let manyMD = MarkdownReport.render(try Incident.document(many), many)
        XCTAssertTrue(manyMD.contains("## Rows to be written (2100)\n\n"))
        XCTAssertTrue(manyMD.contains("*Showing the first 2000 of 2100; the other 100 are in `recovered.csv`.*"))
        XCTAssertTrue(manyMD.contains("| **User 21999: 1 slot, 10 min** |"))
        XCTAssertFalse(manyMD.contains("| **User 22000: 1 slot, 10 min** |"))
    }
}
