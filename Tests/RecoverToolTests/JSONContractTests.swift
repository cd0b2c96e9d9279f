import Foundation
import TestSupport
import XCTest

/// End to end on the demo incident: every `--json` output of the built `recover-tool`, on success
/// and on failure, is one JSON object valid against its schema in docs/schemas/ (checked by
/// `check-jsonschema`), with `format_version`, snake_case keys, and one shape whatever the input.
final class JSONContractTests: XCTestCase {
    var demo: DemoRun!

    override func setUpWithError() throws {
        demo = try DemoRun(label: "json", environment: ["USER": "json-test"])
    }

    override func tearDown() {
        demo = nil
    }

    func tool(_ arguments: [String]) throws -> ProcessOutput { try demo.tool(arguments) }

    /// Runs the command, checks its status and its output against the schema, returns the object.
    @discardableResult
    func json(_ arguments: [String], schema: String, status: Int32 = 0,
              file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let output = try tool(arguments)
        XCTAssertEqual(output.status, status, output.stderrText, file: file, line: line)
        try JSONSchemas.validate(output.stdout, against: schema)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: output.stdout) as? [String: Any], file: file, line: line)
        XCTAssertEqual(object["format_version"] as? Int, 1, file: file, line: line)
        assertSnakeCase(object, path: "", file: file, line: line)
        if object["error"] != nil {
            // The error line on stderr is the object's message, then its hint (docs/EXIT-STATUS.md).
            let error = object["error"] as? [String: Any]
            let message = error?["message"] as? String
            let hint = (error?["hint"] as? String).map { "; \($0)" } ?? ""
            XCTAssertEqual(output.stderrText.split(separator: "\n").last.map(String.init), message.map { "recover-tool: error: \($0)\(hint)" },
                           file: file, line: line)
        }
        return object
    }

    /// Every key of every object is snake_case, except those of maps whose keys are data.
    func assertSnakeCase(_ value: Any, path: String, file: StaticString, line: UInt) {
        let dataKeyed: Set<String> = ["other_events", "quarantined_by_reason"]
        if let object = value as? [String: Any] {
            for (key, child) in object {
                if !dataKeyed.contains(String(path.split(separator: ".").last ?? "")) {
                    XCTAssertNotNil(key.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression), "\(path).\(key)", file: file, line: line)
                }
                assertSnakeCase(child, path: path + "." + key, file: file, line: line)
            }
        } else if let array = value as? [Any] {
            for child in array { assertSnakeCase(child, path: path, file: file, line: line) }
        }
    }

    func testEveryJSONOutputOfARecoveryMatchesItsSchema() throws {
        let db = ["--db", demo.live.conninfo]
        try json(["scan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--json"], schema: "scan")
        try json(["diff"] + DemoIncident.window + ["--snapshot", DemoIncident.snapshot, "--json"] + db, schema: "diff")

        let out = demo.dir.file("plan").path
        let planned = try json(["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot, "--out", out, "--json",
                                "--quiet", "--detailed-exitcode"] + db, schema: "plan-output", status: 2)
        try JSONSchemas.validate(file: out + "/plan.json", against: "plan")
        let plan = try XCTUnwrap(planned["plan"] as? [String: Any])
        let planID = try XCTUnwrap(plan["plan_id"] as? String)
        XCTAssertEqual(planned["directory"] as? String, out)
        let onDisk = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/plan.json"))) as? NSDictionary
        XCTAssertEqual(plan as NSDictionary, onDisk, "plan --json prints plan.json as written")

        // The evidence is incomplete (a truncated log): --require-complete fails with the plan and the error.
        let refused = try json(["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--out", demo.dir.file("incomplete").path, "--json",
                                "--quiet", "--require-complete"] + db, schema: "plan-output", status: 72)
        XCTAssertEqual((refused["error"] as? [String: Any])?["code"] as? String, "command_incomplete_evidence")

        let applied = try json(["apply", out, "--yes", "--plan-id", try approvedPlanID(out), "--json", "--quiet"] + db, schema: "apply")
        XCTAssertEqual(applied["outcome"] as? String, "applied")
        let run = try XCTUnwrap(applied["run"] as? [String: Any])
        let runID = try XCTUnwrap(run["id"] as? Int)
        XCTAssertEqual(run["plan_id"] as? String, planID)
        XCTAssertEqual((run["counts"] as? [String: Int])?["inserted"], 82)
        XCTAssertTrue(run["shard"] is NSNull)
        let again = try json(["apply", out, "--yes", "--plan-id", try approvedPlanID(out), "--json"] + db, schema: "apply")
        XCTAssertEqual(again["outcome"] as? String, "already_applied")
        XCTAssertEqual((again["run"] as? [String: Any])?["id"] as? Int, runID)

        // verify: one shape for one run and for several.
        let one = try json(["verify", "--run", String(runID), "--json"] + db, schema: "verify")
        XCTAssertEqual(one["clean"] as? Bool, true)
        XCTAssertEqual((one["runs"] as? [Any])?.count, 1)
        XCTAssertEqual((one["problems"] as? [Any])?.count, 0)
        let runs = try json(["runs", "--json"] + db, schema: "runs")
        XCTAssertEqual((runs["runs"] as? [[String: Any]])?.map { $0["id"] as? Int }, [runID])

        let reverted = try json(["revert", "--run", String(runID), "--yes", "--json"] + db, schema: "revert")
        XCTAssertEqual(reverted["outcome"] as? String, "reverted")
        XCTAssertEqual(((reverted["run"] as? [String: Any])?["revert"] as? [String: Any])?["deleted"] as? Int, 82)
        let revertedAgain = try json(["revert", "--run", String(runID), "--yes", "--json"] + db, schema: "revert")
        XCTAssertEqual(revertedAgain["outcome"] as? String, "already_reverted")

        // An empty plan: --detailed-exitcode 0.
        let empty = try json(["plan", "--from", "2018-07-20T00:00:00Z", "--to", "2018-07-20T01:00:00Z", "--logs", DemoIncident.logs,
                              "--out", demo.dir.file("empty").path, "--json", "--quiet", "--detailed-exitcode"] + db, schema: "plan-output")
        XCTAssertEqual(((empty["plan"] as? [String: Any])?["rows"] as? [String: Any])?["count"] as? Int, 0)
    }

    func testFailuresPrintTheErrorObject() throws {
        let db = ["--db", demo.live.conninfo]
        let cases: [([String], Int32, String)] = [
            (["apply", demo.dir.file("none").path, "--yes", "--plan-id", unapprovedPlanID, "--json"] + db, 70, "commit_plan_refused"),
            (["verify", "--run", "99", "--json"] + db, 65, "commit_run_not_found"),
            (["verify", "--json"] + db, 64, "usage"),
            (["runs", "--json", "--db", "dbname=no_such_db"], 69, "database_connect"),
            (["revert", "--run", "x", "--json"] + db, 64, "usage"),
            (["scan"] + DemoIncident.window + ["--logs", demo.dir.path, "--json"], 65, "source_no_log_files"),
            (["diff", "--from", "2018-07-25T14:50:00", "--to", "2018-07-25T17:50:00Z", "--snapshot", DemoIncident.snapshot, "--json"], 64, "usage"),
            (["plan", "--json", "--no-such-flag"], 64, "usage"),
        ]
        for (arguments, status, code) in cases {
            let object = try json(arguments, schema: "error", status: status)
            XCTAssertEqual((object["error"] as? [String: Any])?["code"] as? String, code, arguments.joined(separator: " "))
        }
    }
}
