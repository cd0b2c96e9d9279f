import ConflictResolver
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

    /// The writers' shortcut: text the CSV rules leave as it is is copied without a `String`.
    func testUnchangedTextIsTold() {
        let samples = ["plain", "log logs/app-1.log.lz4:17; log logs/app-2.log:3", "", "a,b", "say \"hi\"", "two\nlines",
                       "cr\rhere", "=1+2", "+1", "-cmd", "@x", "\tx", "a=b", "caf\u{E9}", "app\u{1B}[2J", "del\u{7F}", "~ok ^_^"]
        for sample in samples {
            let unchanged = CSVText.isUnchangedAsText(Array(sample.utf8))
            if unchanged { XCTAssertEqual(CSVText.text(sample), sample, sample) }
            XCTAssertEqual(unchanged, CSVText.text(sample) == sample && sample.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, sample)
        }
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

/// `notices.csv`: what each affected user is told.
final class NoticesTests: XCTestCase {
    func testNoticesTellEachAffectedUserWhatHappened() throws {
        var evidence = Incident.evidence()
        evidence.userContacts = [
            1001: UserContact(email: "ann@example.com", timeZone: "America/Los_Angeles"),
            1002: UserContact(email: "=bob@example.com", timeZone: "UTC"),
        ]
        let csv = NoticesCSV.render(evidence)
        let lines = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines[0], "user_id,email,recovered_slots,recovered_minutes,offline_covered_minutes,not_recovered_slots,notice")
        let byUser = Dictionary(uniqueKeysWithValues: lines.dropFirst().map { (String($0.prefix(4)), $0) })
        let ann = try XCTUnwrap(byUser["1001"])
        XCTAssertTrue(ann.hasPrefix("1001,ann@example.com,3,30,0,"), ann)
        XCTAssertTrue(ann.contains("We recovered 30 min of your work time lost between 2018-07-25 07:00:00 -07:00 and 2018-07-25 09:00:00 -07:00 (America/Los_Angeles)."), ann)
        XCTAssertTrue(ann.contains("Recovered time has no screenshots"), ann)
        // The offline overlaps are user 1002's: their offline time stays as is. The email is
        // formula-guarded.
        let bob = try XCTUnwrap(byUser["1002"])
        XCTAssertTrue(bob.hasPrefix("1002,'=bob@example.com,"), bob)
        XCTAssertTrue(bob.contains("Your offline time stays as is: 20 min of the lost time is covered by offline time you added"), bob)
        // Every user with a recovered slot, an offline overlap or an unrecoverable slot has a notice.
        let notices = UserNotice.all(evidence)
        XCTAssertEqual(notices.map(\.recoveredMinutes).reduce(0, +), evidence.recoveredMinutes)
        XCTAssertEqual(notices.map(\.offlineCoveredMinutes).reduce(0, +), evidence.resolution.offlineOverlap.count * 10)
        XCTAssertGreaterThan(notices.map(\.notRecoveredSlots).reduce(0, +), 0)
    }

    /// A user's zone is shown only when it is an IANA name of the machine's time zone database,
    /// read as that database reads it. `UTC+3` and `GMT-5` are POSIX-style names whose sign
    /// PostgreSQL (and `Etc/GMT-5`) read the other way from Foundation, which showed UTC+3 as
    /// +03:00 where the service's own database means -03:00; `PST` is fixed -08:00 for
    /// PostgreSQL and Los Angeles' summer time for Foundation (found by a hostile test). Such a
    /// name gives the window in UTC, labelled so, as an unknown one does.
    func testOnlyIANAZonesAreShownAndAsTheTimeZoneDatabaseReadsThem() throws {
        var evidence = Incident.evidence()
        evidence.userContacts = [
            1001: UserContact(email: "a@example.com", timeZone: "UTC+3"),
            1002: UserContact(email: "b@example.com", timeZone: "Etc/GMT-5"),
        ]
        let byUser = Dictionary(uniqueKeysWithValues: NoticesCSV.render(evidence).components(separatedBy: "\r\n").dropFirst()
            .filter { !$0.isEmpty }.map { (String($0.prefix(4)), $0) })
        let utcWindow = "between 2018-07-25T14:00:00Z and 2018-07-25T16:00:00Z (UTC)"
        XCTAssertTrue(try XCTUnwrap(byUser["1001"]).contains(utcWindow), byUser["1001"] ?? "")
        XCTAssertTrue(try XCTUnwrap(byUser["1002"]).contains("between 2018-07-25 19:00:00 +05:00 and 2018-07-25 21:00:00 +05:00 (Etc/GMT-5)"),
                      byUser["1002"] ?? "")
        for name in ["UTC+3", "GMT-5", "PST", "america/los_angeles", "America/Nowhere", "", "../../etc/passwd", String(repeating: "A", count: 200)] {
            XCTAssertNil(DisplayTime.zone(named: name), name)
        }
        for name in ["UTC", "Etc/UTC", "America/Los_Angeles", "Asia/Kolkata", "Etc/GMT-14", "EST5EDT"] {
            XCTAssertNotNil(DisplayTime.zone(named: name), name)
        }
    }

    /// A time with a fraction of a second keeps it in the zone's text: `14:50:00.5Z` was shown as
    /// `07:50:00 -07:00`, another instant (found by a hostile test).
    func testALocalTimeKeepsItsFraction() {
        let zone = DisplayTime(zoneName: "America/Los_Angeles")
        XCTAssertEqual(zone.local(Timestamp.parse("2018-07-25T14:50:00.5Z")!), "2018-07-25 07:50:00.5 -07:00")
        XCTAssertEqual(zone.local(Timestamp.parse("2018-07-25T14:50:00.000001Z")!), "2018-07-25 07:50:00.000001 -07:00")
        XCTAssertEqual(zone.local(Timestamp.parse("1969-12-31T23:59:59.999999Z")!), "1969-12-31 15:59:59.999999 -08:00")
        XCTAssertEqual(zone.local(Timestamp.parse("2018-07-25T14:50:00Z")!), "2018-07-25 07:50:00 -07:00")
        // A local year of five digits (the last UTC second, 14 hours east).
        XCTAssertEqual(DisplayTime(zoneName: "Pacific/Kiritimati").local(Timestamp.parse("9999-12-31T23:59:59.5Z")!), "10000-01-01 13:59:59.5 +14:00")
    }

    /// A lost slot counts as not recovered only when no recovered slot has its key; the slots are
    /// looked up by key whether or not they come sorted.
    func testALostSlotThatIsRecoveredIsNotCountedAsLost() throws {
        var evidence = Incident.evidence()
        let recovered = try XCTUnwrap(evidence.resolution.recovered.last).slot.key
        let before = UserNotice.all(evidence)
        evidence.readQuarantine.append(QuarantineRecord(
            location: SourceLocation(file: "logs/app-1.log.lz4", line: 99), reason: .malformedJSON("not JSON"), key: recovered))
        XCTAssertEqual(UserNotice.all(evidence).map(\.notRecoveredSlots), before.map(\.notRecoveredSlots))
        evidence.resolution.recovered.reverse()
        XCTAssertEqual(UserNotice.all(evidence).map(\.notRecoveredSlots), before.map(\.notRecoveredSlots))
        evidence.resolution.recovered.removeFirst()  // the last by key: now lost
        let lost = UserNotice.all(evidence).first { $0.userID == recovered.userID }
        XCTAssertEqual(lost?.notRecoveredSlots, (before.first { $0.userID == recovered.userID }?.notRecoveredSlots ?? 0) + 1)
    }

    /// Printable ASCII takes a shortcut through `CSVText.text`: the same text as the long way.
    func testPrintableTextIsWrittenAsTheLongWay() {
        for sample in ["plain", "a,b", "say \"hi\"", "=1+2", "-5", "@x,y", "\"", ",", "", "~ok ^_^", "We recovered 30 min, of \"it\"."] {
            XCTAssertEqual(CSVText.text(sample), CSVText.quoted(CSVText.guarded(VisibleText.escaped(sample, keepingLayout: true))), sample)
        }
    }

    func testATemplateIsFilledInAndUnknownPlaceholdersAreRefused() throws {
        var evidence = Incident.evidence()
        evidence.userContacts = [1001: UserContact(email: "ann@example.com", timeZone: "UTC")]
        evidence.noticeTemplate = try NoticeTemplate("Hi {email}: {recovered_minutes} min back, {offline_covered_minutes} min offline, {not_recovered_slots} lost. { not one } stays")
        let csv = NoticesCSV.render(evidence)
        XCTAssertTrue(csv.contains("1001,ann@example.com,3,30,0,1,\"Hi ann@example.com: 30 min back, 0 min offline, 1 lost. { not one } stays\"\r\n"), csv)
        // A value from the database cannot add lines to the notice support sends: an email with a
        // line feed had it put into the text (found by a hostile test).
        evidence.userContacts = [1001: UserContact(email: "ann@example.com\nP.S. reply with your password", timeZone: "UTC")]
        XCTAssertTrue(NoticesCSV.render(evidence).contains("\"Hi ann@example.com\\u000aP.S. reply with your password: 30 min back,"),
                      NoticesCSV.render(evidence))
        // A value is never read as a template: an email holding a placeholder stays as it is.
        evidence.userContacts = [1001: UserContact(email: "{recovered_minutes}@example.com", timeZone: "UTC")]
        XCTAssertTrue(NoticesCSV.render(evidence).contains(",\"Hi {recovered_minutes}@example.com: 30 min back,"))
        // A brace that opens no placeholder is text, up to the next one that does; trailing spaces go.
        evidence.userContacts = [1001: UserContact(email: "ann@example.com", timeZone: "UTC")]
        evidence.noticeTemplate = try NoticeTemplate("{{email}} {user_id {recovered_time}{window} {}{ {recovered_slots}}  ")
        XCTAssertTrue(NoticesCSV.render(evidence).contains(
            "1001,ann@example.com,3,30,0,1,{ann@example.com} {user_id 30 min2018-07-25T14:00:00Z and 2018-07-25T16:00:00Z (UTC) {}{ 3}\r\n"),
            NoticesCSV.render(evidence))
        XCTAssertThrowsError(try NoticeTemplate("Hello {name}")) { error in
            XCTAssertTrue("\(error)".hasPrefix("unknown placeholder '{name}'; the placeholders are {user_id}, {email}"), "\(error)")
        }
        // A placeholder mistyped in its case, with a hyphen or with spaces is refused, not sent to
        // users as written (found by a hostile test); other braced text stays text.
        for typo in ["{Email}", "{RECOVERED_TIME}", "{recovered-time}", "{ email }"] {
            XCTAssertThrowsError(try NoticeTemplate("Hello " + typo), typo) { error in
                XCTAssertTrue("\(error)".hasPrefix("unknown placeholder '\(typo)'"), "\(error)")
            }
        }
        // A template saved with Windows line ends is the same template: no carriage return in the
        // notices (each was shown as \u000d).
        evidence.noticeTemplate = try NoticeTemplate("Hello {email},\r\n{recovered_time} back.\r\n")
        XCTAssertTrue(NoticesCSV.render(evidence).contains("\"Hello ann@example.com,\n30 min back.\n\""), NoticesCSV.render(evidence))
    }
}
