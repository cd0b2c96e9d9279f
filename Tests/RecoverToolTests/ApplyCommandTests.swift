import Foundation
import PlanFormat
import PlanReport
import PostgresClient
import TestSupport
import XCTest

/// End to end: the built `recover-tool apply`, `verify`, `revert` and `runs` against a real
/// PostgreSQL: standard output, the one error line, the exit status, and the database.
final class ApplyCommandTests: XCTestCase {
    var tool: String { BuiltProducts.recoverTool }

    func makeIncident(users: Int64 = 3, perUser: Int = 4) throws -> (TestDatabase, TemporaryDirectory, PlanDocument) {
        let db = try TestDatabase(label: "cli")
        try PlanFixture.seed(try db.connect(), users: Int(users))
        let dir = try TemporaryDirectory(prefix: "plan")
        let plan = try PlanFixture.write(PlanFixture.slots(users: 1...users, perUser: perUser), to: dir.path, for: try db.identity())
        return (db, dir, plan)
    }

    func run(_ arguments: [String], _ db: TestDatabase, environment: [String: String] = [:]) throws -> ProcessOutput {
        try runProcess(tool, arguments, environment: db.processEnvironment.merging(["USER": "incident-engineer"]) { $1 }
            .merging(environment) { $1 })
    }

    func assertOneErrorLine(_ output: ProcessOutput, _ line: String, status: Int32, file: StaticString = #filePath, line l: UInt = #line) {
        XCTAssertEqual(output.status, status, output.stderrText, file: file, line: l)
        XCTAssertEqual(output.stderrText, "recover-tool: error: \(line)\n", file: file, line: l)
    }

    func testApplyApplyAgainRunsVerifyRevertRevertAgain() throws {
        let (db, dir, plan) = try makeIncident()
        let connection = try db.connect()

        let applied = try run(["apply", dir.path, "--db", db.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.path)], db)
        XCTAssertEqual(applied.status, 0, applied.stderrText)
        XCTAssertEqual(applied.stderrText, "")
        XCTAssertEqual(applied.stdoutText, """
            applied plan \(plan.planID) as run 1
            planned 12, inserted 12, dropped 0 already present and 0 overlapping offline time since the plan
            check it with 'recover-tool verify --run 1'; undo it with 'recover-tool revert --run 1'

            """)
        XCTAssertEqual(try connection.execute("SELECT operator || ' ' || database_user FROM recovery.runs").scalar, "incident-engineer postgres")

        let again = try run(["apply", dir.path, "--db", db.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.path), "--operator", "someone else"], db)
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stdoutText.hasPrefix("plan \(plan.planID) was already applied as run 1 at "), again.stdoutText)
        XCTAssertTrue(again.stdoutText.hasSuffix(" by incident-engineer; nothing changed\n"), again.stdoutText)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots").scalar, "12")

        let runs = try run(["runs"], db)  // the connection from PGHOST/PGDATABASE
        XCTAssertEqual(runs.status, 0)
        let lines = runs.stdoutText.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        // At most 100 columns: the plan id's prefix, the window as start and length, who applied.
        XCTAssertEqual(String(lines[0]), "run  plan          window (UTC)           applied by    inserted  status")
        XCTAssertEqual(String(lines[1]), "  1  \(plan.planID.prefix(12))  2018-07-25 14:00 +24h  incident-en…        12  applied")
        let wide = try run(["runs", "--wide"], db)
        XCTAssertTrue(wide.stdoutText.hasPrefix("run  kind     plan  "), wide.stdoutText)
        XCTAssertTrue(wide.stdoutText.contains("recover  \(plan.planID)  applied  "), wide.stdoutText)
        XCTAssertTrue(wide.stdoutText.contains("2018-07-25T14:00:00Z  2018-07-26T14:00:00Z  -      incident-engineer"), wide.stdoutText)
        XCTAssertGreaterThan(wide.stdoutText.split(separator: "\n")[0].count, 100)
        let json = try run(["runs", "--json"], db)
        try JSONSchemas.validate(json.stdout, against: "runs")
        let decoded = try XCTUnwrap((JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])?["runs"] as? [[String: Any]])
        XCTAssertEqual(decoded.count, 1)
        XCTAssertEqual(decoded[0]["plan_id"] as? String, plan.planID)
        XCTAssertEqual((decoded[0]["counts"] as? [String: Int])?["inserted"], 12)
        XCTAssertEqual(decoded[0]["window"] as? [String: String], ["from": "2018-07-25T14:00:00Z", "to": "2018-07-26T14:00:00Z"])

        let verified = try run(["verify", "--run", "1"], db)
        XCTAssertEqual(verified.status, 0, verified.stderrText)
        XCTAssertEqual(verified.stdoutText, """
            run 1: 12 slots checked: 0 missing, 0 changed since the apply, 0 overlapping offline time
            run 1 verifies: every slot present and unchanged, none overlaps offline time, counts match

            """)

        try connection.execute("UPDATE time_slots SET status = 'idle' WHERE user_id = 1 AND slot_start = '2018-07-25T14:00:00Z'")
        let failed = try run(["verify", "--run", "1"], db)
        assertOneErrorLine(failed, "run 1 does not verify: 0 missing, 1 changed, 0 overlapping offline time, 0 counts differ; see the list above", status: 71)
        XCTAssertTrue(failed.stdoutText.contains("changed: slot 1, user 1 at 2018-07-25T14:00:00Z\n"), failed.stdoutText)
        let failedJSON = try run(["verify", "--run", "1", "--json"], db)
        XCTAssertEqual(failedJSON.status, 71)
        try JSONSchemas.validate(failedJSON.stdout, against: "verify")
        let report = try JSONSerialization.jsonObject(with: failedJSON.stdout) as! [String: Any]
        XCTAssertEqual(report["clean"] as? Bool, false)
        XCTAssertEqual((report["runs"] as? [[String: Any]])?.first?["changed"] as? Int, 1)
        XCTAssertEqual((report["error"] as? [String: Any])?["code"] as? String, "commit_verification_failed")

        let notConfirmed = try run(["revert", "--run", "1"], db)
        assertOneErrorLine(notConfirmed, "refusing to revert run 1 without confirmation: standard input is not a terminal; pass --yes to confirm non-interactively", status: 64)

        let reverted = try run(["revert", "--run", "1", "--yes"], db)
        XCTAssertEqual(reverted.status, 0, reverted.stderrText)
        XCTAssertEqual(reverted.stdoutText, """
            reverted run 1: deleted 11 slots, kept 1 edited since the apply, 0 already gone
            kept (edited since the apply): slot 1, user 1 at 2018-07-25T14:00:00Z

            """)
        let revertedAgain = try run(["revert", "--run", "1", "--yes"], db)
        XCTAssertEqual(revertedAgain.status, 0)
        // runs: who reverted, in at most 100 columns.
        let afterRevert = try run(["runs"], db)
        XCTAssertTrue(afterRevert.stdoutText.contains("  reverted by incident-en…\n"), afterRevert.stdoutText)
        for line in afterRevert.stdoutText.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 100, String(line)) }
        XCTAssertTrue(revertedAgain.stdoutText.hasPrefix("run 1 was already reverted at "), revertedAgain.stdoutText)
        XCTAssertTrue(revertedAgain.stdoutText.hasSuffix(" by incident-engineer; nothing changed\n"), revertedAgain.stdoutText)
        XCTAssertEqual(try connection.execute("SELECT count(*) FROM time_slots").scalar, "1")

        let missing = try run(["verify", "--run", "7"], db)
        assertOneErrorLine(missing, "no run 7 in '\(connection.redactedConnectionInfo)'; list the recorded runs with 'recover-tool runs'", status: 65)
    }

    func testApplyWithoutTerminalNeedsYes() throws {
        let (db, dir, _) = try makeIncident()
        let before = try DatabaseState.checksums(try db.connect())
        let output = try run(["apply", dir.path], db)
        // The hint names everything --yes needs: '--yes' alone led to a second refusal (found by an audit).
        assertOneErrorLine(
            output,
            "refusing to apply the plan without confirmation: standard input is not a terminal; "
                + "pass --yes with --plan-id ID (or --plan-set SETID --set SETDIR) to confirm non-interactively",
            status: 64)
        XCTAssertEqual(output.stdoutText, "")
        XCTAssertEqual(try DatabaseState.checksums(try db.connect()), before)
    }

    func testTamperedPlanIsRefusedWithItsStatus() throws {
        let (db, dir, plan) = try makeIncident()
        let before = try DatabaseState.checksums(try db.connect())
        let rows = dir.file("rows.tsv")
        var text = try String(contentsOf: rows, encoding: .utf8)
        text = text.replacingOccurrences(of: "\t100\t200\t", with: "\t999\t200\t")
        try text.write(to: rows, atomically: true, encoding: .utf8)
        let output = try run(["apply", dir.path, "--yes", "--plan-id", unapprovedPlanID], db)
        XCTAssertEqual(output.status, 70)
        XCTAssertTrue(output.stderrText.hasPrefix("recover-tool: error: refusing the plan in '\(dir.path)': rows.tsv has SHA-256 "), output.stderrText)
        XCTAssertTrue(output.stderrText.hasSuffix(
            ", the plan recorded \(plan.rows.sha256); make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it\n"), output.stderrText)
        XCTAssertEqual(output.stderrText.filter { $0 == "\n" }.count, 1)
        XCTAssertEqual(try DatabaseState.checksums(try db.connect()), before)

        let foreign = try TemporaryDirectory(prefix: "foreign")
        try Data("{\"format\": \"something-else\"}".utf8).write(to: foreign.file("plan.json"))
        let refused = try run(["apply", foreign.path, "--yes", "--plan-id", unapprovedPlanID], db)
        XCTAssertEqual(refused.status, 70)
        XCTAssertTrue(refused.stderrText.hasPrefix("recover-tool: error: '\(foreign.path)' is not a recover-tool plan: "), refused.stderrText)
    }

    func testMaxSlotsBudget() throws {
        let (db, dir, _) = try makeIncident()
        let before = try DatabaseState.checksums(try db.connect())
        let output = try run(["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path), "--max-slots", "5"], db)
        assertOneErrorLine(output, "refusing the plan in '\(dir.path)': it would insert 12 slots, more than --max-slots 5; nothing was changed; "
            + "check the plan, then raise --max-slots or shard the plan", status: 70)
        XCTAssertEqual(try DatabaseState.checksums(try db.connect()), before)
        XCTAssertEqual(try run(["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path), "--max-slots", "12"], db).status, 0)
    }

    func testLockTimeoutExitsBusy() throws {
        let (db, dir, _) = try makeIncident()
        let holder = try db.connect()
        try holder.begin()
        try holder.execute("SELECT pg_advisory_xact_lock($1)", [String(0x7265_636F_7665_7200 as Int64)])
        let output = try run(["apply", dir.path, "--yes", "--plan-id", try approvedPlanID(dir.path), "--lock-timeout", "0.5"], db)
        XCTAssertEqual(output.status, 75, output.stderrText)
        XCTAssertTrue(output.stderrText.contains("waiting 0.5 s for the recovery lock: timed out waiting for a lock (SQLSTATE 55P03); nothing was changed"),
                      output.stderrText)
        try holder.rollback()
    }

    func testPasswordAppearsInNoOutput() throws {
        let (db, dir, _) = try makeIncident()
        let secret = "Sup3r-s3cret-pw"
        let conninfo = db.conninfo + " password=\(secret)"  // the server trusts: accepted, unused
        var outputs: [ProcessOutput] = []
        outputs.append(try run(["apply", dir.path, "--db", conninfo, "--yes", "--plan-id", try approvedPlanID(dir.path)], db))
        XCTAssertEqual(outputs.last?.status, 0, outputs.last?.stderrText ?? "")
        outputs.append(try run(["apply", dir.path, "--db", conninfo, "--yes", "--plan-id", try approvedPlanID(dir.path)], db))
        outputs.append(try run(["runs", "--db", conninfo], db))
        outputs.append(try run(["runs", "--db", conninfo, "--json"], db))
        try JSONSchemas.validate(outputs.last!.stdout, against: "runs")
        outputs.append(try run(["verify", "--run", "1", "--db", conninfo, "--json"], db))
        try JSONSchemas.validate(outputs.last!.stdout, against: "verify")
        outputs.append(try run(["verify", "--run", "2", "--db", conninfo], db))
        XCTAssertEqual(outputs.last?.status, 65)
        outputs.append(try run(["revert", "--run", "1", "--db", conninfo, "--yes"], db))
        // Failures that print the connection: a database that does not exist, a URI, DATABASE_URL.
        let wrong = conninfo.replacingOccurrences(of: "dbname=\(db.name)", with: "dbname=no_such_db")
        let failed = try run(["apply", dir.path, "--db", wrong, "--yes", "--plan-id", try approvedPlanID(dir.path)], db)
        XCTAssertEqual(failed.status, 69)
        XCTAssertTrue(failed.stderrText.contains("dbname=no_such_db"), failed.stderrText)
        outputs.append(failed)
        let host = db.processEnvironment["PGHOST"]!.replacingOccurrences(of: "/", with: "%2F")
        outputs.append(try run(["runs", "--db", "postgresql://postgres:\(secret)@\(host)/no_such_db"], db))
        XCTAssertEqual(outputs.last?.status, 69)
        outputs.append(try run(["runs"], db, environment: ["DATABASE_URL": "postgresql://postgres:\(secret)@\(host)/no_such_db"]))
        XCTAssertEqual(outputs.last?.status, 69)
        for output in outputs {
            XCTAssertFalse(output.stdoutText.contains(secret), output.stdoutText)
            XCTAssertFalse(output.stderrText.contains(secret), output.stderrText)
        }
        // Each failure is one line.
        for output in outputs where output.status != 0 {
            XCTAssertEqual(output.stderrText.filter { $0 == "\n" }.count, 1, output.stderrText)
        }
    }

    func testUsageErrorsAreOneLine() throws {
        let db = try TestDatabase(label: "usage", schema: false)
        let missing = try run(["apply"], db)
        assertOneErrorLine(missing, "missing expected argument '<dir>'; see 'recover-tool help'", status: 64)
        let bad = try run(["apply", "x", "--max-slots=-3"], db)
        assertOneErrorLine(bad, "'--max-slots' must be 0 or more; see 'recover-tool help'", status: 64)
        let help = try run(["apply", "--help"], db)
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdoutText.contains("--max-slots"), help.stdoutText)
    }
}
