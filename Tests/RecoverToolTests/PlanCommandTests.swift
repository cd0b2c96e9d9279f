import Foundation
import TestSupport
import XCTest

/// End to end: the built `recover-tool plan` on a small hand-made incident — logs written during
/// the test (one plain, one compressed by the real `lz4`), a snapshot made by the real `pg_dump`,
/// and a live database — with every outcome of CONTRACT §5 in it.
final class PlanCommandTests: XCTestCase {
    static var tool: String { BuiltProducts.recoverTool }
    static let window = ["--from", "2018-07-25T14:00:00Z", "--to", "2018-07-25T09:00:00-07:00"]

    var live: TestDatabase!
    var dir: TemporaryDirectory!
    var snapshotPath: String!

    func upload(_ ts: String, user: Int, slot: String, request: String, project: Int = 7, task: String = "70",
                keystrokes: Int = 10, host: String = "app-1") -> String {
        #"{"ts":"2018-07-25T\#(ts)Z","host":"\#(host)","event":"slot.upload","request_id":"\#(request)","user_id":\#(user),"project_id":\#(project),"task_id":\#(task),"slot_start":"2018-07-25T\#(slot):00Z","keystrokes":\#(keystrokes),"mouse_events":5,"active_apps":["Xcode"],"screenshot_key":"ss/x.jpg","note":null}"#
    }

    func processed(_ ts: String, user: Int, slot: String, host: String = "app-1") -> String {
        #"{"ts":"2018-07-25T\#(ts)Z","host":"\#(host)","event":"slot.processed","user_id":\#(user),"slot_start":"2018-07-25T\#(slot):00Z","status":"active","activity_level":6}"#
    }

    override func setUpWithError() throws {
        live = try TestDatabase(label: "plan_live")
        dir = try TemporaryDirectory(prefix: "plan")
        let people = """
            INSERT INTO users VALUES (1, 'a@x', 'UTC'), (2, 'b@x', 'UTC'), (3, 'c@x', 'UTC');
            INSERT INTO projects VALUES (7, 1, 'p7'), (8, 1, 'p8');
            INSERT INTO tasks VALUES (70, 7, 't70'), (80, 8, 't80');
            INSERT INTO project_members VALUES (7, 1), (7, 2), (8, 1);
            """
        try live.connect().executeSimple(people + """
            INSERT INTO time_slots (user_id, project_id, slot_start, source, status)
              VALUES (1, 7, '2018-07-25 14:00:00+00', 'client', 'active');
            INSERT INTO offline_entries (user_id, project_id, starts_at, ends_at, added_by) VALUES
              (1, 8, '2018-07-25 14:25:00+00', '2018-07-25 14:27:00+00', 1),
              (1, 8, '2018-07-25 14:40:00+00', '2018-07-25 15:05:00+00', 1),
              (2, 7, '2018-07-25 15:00:00+00', '2018-07-25 15:10:00+00', 2);
            """)

        // The backup: the snapshot rows, dumped by the real pg_dump in a non-UTC zone.
        let backup = try TestDatabase(label: "plan_backup")
        try backup.connect().executeSimple(people + """
            INSERT INTO time_slots (user_id, project_id, task_id, slot_start, source, status, activity_level,
                                    keystrokes, mouse_events, active_apps, updated_at) VALUES
              (2, 7, 70, '2018-07-25 15:30:00+00', 'client', 'idle', 1, 777, 1, '{Terminal}', '2018-07-25 15:35:00+00'),
              (2, 7, 70, '2018-07-25 15:40:00+00', 'client', 'idle', 1, 888, 1, '{}', '2018-07-25 15:41:00+00'),
              (1, 7, 70, '2018-07-25 15:40:00+00', 'client', 'idle', 1, 999, 1, '{}', '2018-07-25 15:42:00+00'),
              (1, 7, 70, '2018-07-25 13:50:00+00', 'client', 'idle', 1, 1, 1, '{}', '2018-07-25 13:55:00+00');
            """)
        snapshotPath = dir.file("time_slots.sql").path
        var env = backup.processEnvironment
        env["PGTZ"] = "America/Los_Angeles"
        try runChecked("pg_dump", ["--table=time_slots", "--file=\(snapshotPath!)"], environment: env)

        let app1 = [
            upload("14:05:00", user: 1, slot: "14:00", request: "a"),            // already present
            upload("14:15:00", user: 1, slot: "14:10", request: "b"),            // recovered
            upload("14:25:00", user: 1, slot: "14:20", request: "c"),            // offline, part of the slot
            upload("14:35:00", user: 1, slot: "14:30", request: "d"),            // recovered
            upload("14:45:00", user: 1, slot: "14:40", request: "e"),            // offline, another project
            upload("14:55:00", user: 1, slot: "14:50", request: "f"),            // offline
            upload("15:05:00", user: 1, slot: "15:00", request: "g"),            // offline
            upload("15:15:00", user: 1, slot: "15:10", request: "h"),            // recovered
            processed("15:16:00", user: 1, slot: "15:10"),
            #"{"ts":"2018-07-25T15:45:00Z","host":"app-1","event":"slot.deleted","user_id":1,"slot_start":"2018-07-25T15:40:00Z"}"#,
            #"{"ts":"2018-07-25T15:46:00Z","host":"app-1","event":"slot.upload","user_id":"#,  // cut line: quarantined
        ]
        let app2 = [
            upload("14:55:00", user: 2, slot: "14:50", request: "i", host: "app-2"),   // touches the entry's start
            upload("15:15:00", user: 2, slot: "15:10", request: "j", host: "app-2"),   // touches the entry's end
            upload("15:20:00", user: 3, slot: "15:20", request: "k", host: "app-2"),   // not a member of 7
            upload("15:32:00", user: 2, slot: "15:30", request: "l", keystrokes: 11, host: "app-2"),  // older than the snapshot row
            upload("15:50:00", user: 2, slot: "15:40", request: "m", keystrokes: 12, host: "app-2"),  // newer than the snapshot row
            upload("15:51:00", user: 2, slot: "15:40", request: "m", keystrokes: 13, host: "app-2"),  // a retry: duplicate
        ]
        try FileManager.default.createDirectory(at: dir.file("logs/app-2"), withIntermediateDirectories: true)
        try (app1.joined(separator: "\n") + "\n").write(to: dir.file("logs/app-1.jsonl"), atomically: false, encoding: .utf8)
        try (app2.joined(separator: "\n") + "\n").write(to: dir.file("app-2.jsonl"), atomically: false, encoding: .utf8)
        try runChecked("lz4", ["-q", dir.file("app-2.jsonl").path, dir.file("logs/app-2/app-2.jsonl.lz4").path])
    }

    override func tearDown() {
        live = nil
        dir = nil
    }

    func plan(_ out: String, _ args: [String]) throws -> ProcessOutput {
        try runProcess(Self.tool, ["plan"] + Self.window + ["--db", live.conninfo, "--out", dir.file(out).path, "--quiet"] + args)
    }

    func planJSON(_ out: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.file(out + "/plan.json"))) as? [String: Any])
    }

    func rows(_ out: String) throws -> [[String]] {
        try String(contentsOf: dir.file(out + "/rows.tsv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    func tableChecksums() throws -> String {
        let c = try live.connect()
        var sums: [String] = []
        for table in ["users", "projects", "tasks", "project_members", "time_slots", "offline_entries"] {
            sums.append(try c.execute("SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM \(table) t").scalar ?? "")
        }
        sums.append(try c.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'recovery'").scalar ?? "")
        return sums.joined(separator: " ")
    }

    func testEveryOutcomeOfTheContract() throws {
        let before = try tableChecksums()
        let out = try plan("p1", ["--logs", dir.file("logs").path, "--snapshot", snapshotPath])
        XCTAssertEqual(out.status, 0, out.stderrText)
        XCTAssertEqual(try tableChecksums(), before, "plan changes nothing in the database")

        let plan = try planJSON("p1")
        let counts = try XCTUnwrap(plan["counts"] as? [String: Int])
        XCTAssertEqual(counts, [
            "recovered": 7, "already_present": 1, "offline_overlap": 4, "deleted": 1,
            "orphans": 0, "duplicates": 1, "quarantined": 2,
        ])
        XCTAssertEqual(plan["recovered_minutes"] as? Int, 70)
        let recovered = try rows("p1")
        XCTAssertEqual(recovered.map { "\($0[0]) \($0[3])" }, [
            "1 2018-07-25T14:10:00Z", "1 2018-07-25T14:30:00Z", "1 2018-07-25T15:10:00Z",
            "2 2018-07-25T14:50:00Z", "2 2018-07-25T15:10:00Z", "2 2018-07-25T15:30:00Z", "2 2018-07-25T15:40:00Z",
        ])
        // 15:30: the snapshot row (15:35) is newer than the upload (15:32); 15:40: the upload is newer.
        XCTAssertEqual(recovered[5][7], "777")
        XCTAssertEqual(recovered[5][11], "snapshot \(snapshotPath!):\(try snapshotLine(of: "777"))")
        XCTAssertEqual(recovered[6][7], "12")
        XCTAssertEqual(recovered[6][5], "pending")
        XCTAssertEqual(recovered[2][5], "active", "processed after its upload")
        XCTAssertEqual(recovered[2][6], "6")

        let quarantined = try String(contentsOf: dir.file("p1/quarantined.csv"), encoding: .utf8)
        XCTAssertTrue(quarantined.contains("not_a_member"), quarantined)
        XCTAssertTrue(quarantined.contains("app-1.jsonl,11,malformed_json"), quarantined)
        let report = try String(contentsOf: dir.file("p1/report.md"), encoding: .utf8)
        XCTAssertTrue(report.contains(plan["plan_id"] as! String))
    }

    func snapshotLine(of keystrokes: String) throws -> Int {
        let lines = try String(contentsOfFile: snapshotPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        return try XCTUnwrap(lines.firstIndex { $0.contains("\t\(keystrokes)\t") }) + 1
    }

    func testSameInputsInAnyOrderGiveTheSamePlan() throws {
        let logs = dir.file("logs").path
        let a = try plan("a", ["--logs", logs, "--snapshot", snapshotPath])
        let b = try plan("b", ["--snapshot", snapshotPath, "--logs", logs + "/app-2/app-2.jsonl.lz4", logs + "/app-1.jsonl"])
        XCTAssertEqual(a.status, 0, a.stderrText)
        XCTAssertEqual(b.status, 0, b.stderrText)
        XCTAssertEqual(try planJSON("a")["plan_id"] as? String, try planJSON("b")["plan_id"] as? String)
        XCTAssertEqual(try Data(contentsOf: dir.file("a/rows.tsv")), try Data(contentsOf: dir.file("b/rows.tsv")))
    }

    /// The same evidence planned twice, at different times, gives the same bytes in every file:
    /// created_at comes from the evidence, not the clock.
    func testThePlanDirectoryIsByteIdenticalForTheSameEvidence() throws {
        let logs = dir.file("logs").path
        XCTAssertEqual(try plan("same-1", ["--logs", logs, "--snapshot", snapshotPath]).status, 0)
        Thread.sleep(forTimeInterval: 1.1)
        XCTAssertEqual(try plan("same-2", ["--logs", logs, "--snapshot", snapshotPath]).status, 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("same-1").path).sorted()
        XCTAssertEqual(files, try FileManager.default.contentsOfDirectory(atPath: dir.file("same-2").path).sorted())
        XCTAssertTrue(files.contains("notices.csv"))
        for file in files {
            let one = try String(contentsOf: dir.file("same-1/" + file), encoding: .utf8)
            let two = try String(contentsOf: dir.file("same-2/" + file), encoding: .utf8)
            XCTAssertEqual(one.replacingOccurrences(of: "/same-1", with: "/same-N"), two.replacingOccurrences(of: "/same-2", with: "/same-N"), file)
        }
        // The logs end before the window does (15:45): the window's end.
        XCTAssertEqual(try planJSON("same-1")["created_at"] as? String, "2018-07-25T16:00:00Z")
    }

    /// notices.csv: the users' emails from the live database, the status page's sentences, or the
    /// text of --notice-template; an unknown placeholder stops the plan before it reads anything.
    func testNoticesForUsers() throws {
        XCTAssertEqual(try plan("n", ["--logs", dir.file("logs").path]).status, 0)
        let notices = try String(contentsOf: dir.file("n/notices.csv"), encoding: .utf8)
        XCTAssertTrue(notices.hasPrefix("user_id,email,recovered_slots,recovered_minutes,offline_covered_minutes,not_recovered_slots,notice\r\n"))
        XCTAssertTrue(notices.contains("\r\n1,a@x,"), notices)
        XCTAssertTrue(notices.contains("Recovered time has no screenshots"), notices)
        XCTAssertTrue(notices.contains("Your offline time stays as is"), notices)

        let template = dir.file("notice.txt")
        try "Dear {email}, {recovered_minutes} minutes are back.".write(to: template, atomically: true, encoding: .utf8)
        XCTAssertEqual(try plan("t", ["--logs", dir.file("logs").path, "--notice-template", template.path]).status, 0)
        let custom = try String(contentsOf: dir.file("t/notices.csv"), encoding: .utf8)
        XCTAssertTrue(custom.contains(",\"Dear a@x, "), custom)

        try "Dear {name}".write(to: template, atomically: true, encoding: .utf8)
        let refused = try plan("u", ["--logs", dir.file("logs").path, "--notice-template", template.path])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.stderrText.hasPrefix("recover-tool: error: '--notice-template' '\(template.path)': unknown placeholder '{name}'"),
                      refused.stderrText)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("u").path))
    }

    /// --verbose log lines are in UTC whatever TZ says.
    func testLogLinesAreInUTC() throws {
        let out = try runProcess(Self.tool, ["plan"] + Self.window + ["--db", live.conninfo, "--out", dir.file("v").path, "--quiet",
                                 "--verbose", "--logs", dir.file("logs").path], environment: ["TZ": "America/Los_Angeles"])
        XCTAssertEqual(out.status, 0, out.stderrText)
        let lines = out.stderrText.split(separator: "\n").filter { !$0.hasPrefix("recover-tool: warning") }
        XCTAssertGreaterThanOrEqual(lines.count, 4)
        for line in lines {
            XCTAssertNotNil(line.range(of: #"^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z debug recover-tool: "#,
                                       options: .regularExpression), String(line))
        }
    }

    /// On a terminal, the reading's progress line and the stages' log lines: each log line on a
    /// line of its own, above the progress line (it used to end up as `0 s left2026-...`).
    func testOnATerminalLogLinesGoAboveTheProgressLine() throws {
        let out = try runOnTerminal(Self.tool, ["plan"] + Self.window + ["--db", live.conninfo, "--out", dir.file("tty").path,
                                    "--verbose", "--logs", dir.file("logs").path])
        XCTAssertEqual(out.status, 0, out.stdoutText)
        XCTAssertTrue(out.stdoutText.contains("reading logs: 100% of "), out.stdoutText)
        XCTAssertGreaterThanOrEqual(logLines(in: out.stdoutText).count, 4, out.stdoutText)
        XCTAssertEqual(linesBrokenByLogLines(out.stdoutText), [], out.stdoutText)
    }

    func testIncompleteEvidenceIsNeverSilent() throws {
        let out = try plan("c", ["--logs", dir.file("logs").path, "--require-complete"])
        XCTAssertEqual(out.status, 72)
        XCTAssertTrue(out.stderrText.contains("recover-tool: warning: host app-1: logs end at 2018-07-25T15:45:00Z, before 2018-07-25T19:00:00Z"),
                      out.stderrText)
        XCTAssertTrue(out.stderrText.hasSuffix("the plan in '\(dir.file("c").path)' is for review only\n"), out.stderrText)
        let completeness = try XCTUnwrap(try planJSON("c")["completeness"] as? [String: Any])
        XCTAssertEqual(completeness["complete"] as? Bool, false)
    }

    /// `--tz` takes an IANA name of the machine's time zone database only, and the refusal says
    /// where the names come from: a sign-ambiguous `GMT-5` (+05:00 for PostgreSQL, -05:00 for
    /// Foundation), or any name on a machine without tzdata.
    func testTzTakesOnlyNamesOfTheTimeZoneDatabase() throws {
        let out = try plan("tz", ["--logs", dir.file("logs").path, "--tz", "GMT-5"])
        XCTAssertEqual(out.status, 64)
        XCTAssertEqual(out.stderrText, "recover-tool: error: '--tz' 'GMT-5' is not an IANA time zone of this machine's time zone database "
            + "(TZDIR, else /usr/share/zoneinfo: the tzdata package), such as America/Los_Angeles or Etc/GMT+5; see 'recover-tool help'\n")
        XCTAssertEqual(try plan("tz2", ["--logs", dir.file("logs").path, "--tz", "Etc/GMT+5"]).status, 0)
    }

    func testAnExistingPlanIsNotOverwritten() throws {
        XCTAssertEqual(try plan("d", ["--logs", dir.file("logs").path]).status, 0)
        let again = try plan("d", ["--logs", dir.file("logs").path])
        XCTAssertEqual(again.status, 65)
        XCTAssertEqual(again.stderrText,
                       "recover-tool: error: cannot write the plan to '\(dir.file("d").path)': it already exists (a directory that is not empty); "
                        + "a plan is written only to a new path: choose another --out\n")
        // Nor is a new path inside it: a directory the plan does not list makes apply refuse the
        // plan (found by a review).
        let inside = try plan("d/../d/x", ["--logs", dir.file("logs").path])
        XCTAssertEqual(inside.status, 65)
        XCTAssertEqual(inside.stderrText,
                       "recover-tool: error: cannot write '\(dir.file("d/../d/x").path)': it is inside the plan directory "
                        + "'\(dir.file("d").path)', which holds only what made it: choose another --out\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("d/x").path))
    }

    func testUnreachableDatabaseIsOneLineWithoutThePassword() throws {
        let out = try runProcess(Self.tool, ["plan"] + Self.window + [
            "--db", "host=/nonexistent-socket-dir dbname=tracker user=recover password=hunter2",
            "--logs", dir.file("logs").path, "--out", dir.file("e").path, "--quiet"])
        XCTAssertEqual(out.status, 69)
        XCTAssertFalse(out.stderrText.contains("hunter2"))
        XCTAssertFalse(out.stdoutText.contains("hunter2"))
        XCTAssertEqual(out.stderrText.filter { $0 == "\n" }.count, 1, out.stderrText)
        XCTAssertTrue(out.stderrText.hasPrefix("recover-tool: error: cannot connect to database"), out.stderrText)
    }
}
