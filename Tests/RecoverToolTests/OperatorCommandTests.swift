import Foundation
import TestSupport
import XCTest

/// End to end on the demo incident: `show`, `explain`, `revert --dry-run`, the confirmation on a
/// terminal (a pty from util-linux `script`), and the help text of the built `recover-tool`.
final class OperatorCommandTests: XCTestCase {
    var demo: DemoRun!
    var plan: String { demo.dir.file("plan").path }

    override func setUpWithError() throws {
        // Help is laid out for 80 columns whatever the environment running the tests says
        // (swift-argument-parser reads COLUMNS before the terminal's width).
        demo = try DemoRun(label: "operator", environment: ["USER": "operator-test", "COLUMNS": "80", "LINES": "24"])
        let out = try tool(["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot,
                            "--out", plan, "--quiet"])
        XCTAssertEqual(out.status, 0, out.stderrText)
    }

    override func tearDown() {
        demo = nil
    }

    func tool(_ arguments: [String], stdin: URL? = nil) throws -> ProcessOutput { try demo.tool(arguments, stdin: stdin) }

    func planID() throws -> String {
        try XCTUnwrap((JSONSerialization.jsonObject(with: Data(contentsOf: demo.dir.file("plan/plan.json"))) as? [String: Any])?["plan_id"] as? String)
    }

    func csv(_ name: String) throws -> [[String]] {
        try String(contentsOf: demo.dir.file("plan/" + name), encoding: .utf8).split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    func count() throws -> String { try demo.live.connect().execute("SELECT count(*) FROM time_slots").scalar ?? "" }

    func testShowPrintsSummaryWarningsAndTheApprovalLine() throws {
        let id = try planID()
        let shown = try tool(["show", plan])
        XCTAssertEqual(shown.status, 0, shown.stderrText)
        XCTAssertTrue(shown.stdoutText.hasPrefix("plan \(id)\n"), shown.stdoutText)
        XCTAssertTrue(shown.stdoutText.contains("recovered 82 slots"), shown.stdoutText)
        XCTAssertTrue(shown.stdoutText.contains("warning: host app-2: no event from"), shown.stdoutText)
        XCTAssertTrue(shown.stdoutText.hasSuffix("approve it with the line: approved plan \(id)\n"), shown.stdoutText)
        let json = try tool(["show", plan, "--json"])
        XCTAssertEqual(json.status, 0)
        try JSONSchemas.validate(json.stdout, against: "plan-output")
        // A changed plan is refused, as apply refuses it.
        try "x".write(to: demo.dir.file("plan/rows.tsv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try tool(["show", plan]).status, 70)
    }

    func testExplainGivesTheOutcomeAndEveryEventInFoldOrder() throws {
        let recovered = try XCTUnwrap(try csv("recovered.csv").dropFirst().first)
        let out = try tool(["explain", plan, "--user", recovered[0], "--slot", recovered[1]])
        XCTAssertEqual(out.status, 0, out.stderrText)
        XCTAssertTrue(out.stdoutText.hasPrefix("slot of user \(recovered[0]) at \(recovered[1]) in plan \(try planID().prefix(12)): recovered: "), out.stdoutText)
        XCTAssertTrue(out.stdoutText.contains("events, in fold order:\n  1. "), out.stdoutText)
        XCTAssertTrue(out.stdoutText.contains("the version kept"), out.stdoutText)

        let json = try tool(["explain", plan, "--user", recovered[0], "--slot", recovered[1], "--json"])
        try JSONSchemas.validate(json.stdout, against: "explain")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        let events = try XCTUnwrap(object["events"] as? [[String: Any]])
        XCTAssertFalse(events.isEmpty)
        let times = events.compactMap { $0["time"] as? String }
        XCTAssertEqual(times, times.sorted(), "fold order is time order first")

        // Each kind of outcome the plan's dropped.csv names: the same outcome and detail.
        for dropped in try csv("dropped.csv").dropFirst() {
            let explained = try tool(["explain", plan, "--user", dropped[0], "--slot", dropped[1], "--json"])
            XCTAssertEqual(explained.status, 0, explained.stderrText)
            let o = try XCTUnwrap((JSONSerialization.jsonObject(with: explained.stdout) as? [String: Any])?["outcome"] as? [String: Any])
            XCTAssertEqual(o["kind"] as? String, dropped[2], dropped.joined(separator: ","))
            if dropped[2] == "deleted" {
                XCTAssertTrue(String(decoding: explained.stdout, as: UTF8.self).contains("deletion: the slot's last word"))
            }
        }
        // A slot no readable line names, in a plan whose quarantine holds lines that name no slot:
        // one of them may be its, and the answer says so. It said "no input of the plan mentions
        // this slot" (found by a hostile test: a slot whose line was too long to read).
        let unnamed = try csv("quarantined.csv").dropFirst().filter { $0.count > 5 && $0[4].isEmpty }.count
        XCTAssertGreaterThan(unnamed, 0)
        let nowhere = try tool(["explain", plan, "--user", "999999", "--slot", "2018-07-25T15:00:00Z"])
        XCTAssertEqual(nowhere.status, 0, nowhere.stderrText)
        XCTAssertTrue(nowhere.stdoutText.contains("no readable line of the plan's inputs names this slot; \(unnamed) quarantined lines name no slot "
            + "(quarantined.csv), and one of them may be this slot's"), nowhere.stdoutText)
        // A slot in a zone with an offset, not on a slot boundary: refused, naming the flag.
        let refused = try tool(["explain", plan, "--user", "1", "--slot", "2018-07-25T08:45:00-07:00"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertEqual(refused.stderrText,
                       "recover-tool: error: '--slot' 2018-07-25T15:45:00Z is not the start of a 10-minute slot (:00, :10, ... :50); see 'recover-tool help'\n")
    }

    func testRevertDryRunChangesNothing() throws {
        XCTAssertEqual(try tool(["apply", plan, "--yes", "--plan-id", try planID(), "--quiet"]).status, 0)
        let before = try count()
        let dry = try tool(["revert", "--run", "1", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderrText)
        XCTAssertTrue(dry.stdoutText.hasPrefix("dry run: reverting run 1 now would delete 82 slots, keep 0 edited since the apply, "
            + "and find 0 already gone; nothing was changed\n"), dry.stdoutText)
        XCTAssertEqual(try count(), before)
        try demo.live.connect().execute("UPDATE time_slots SET status = 'idle' WHERE id = (SELECT min(slot_id) FROM recovery.run_slots)")
        let json = try tool(["revert", "--run", "1", "--dry-run", "--json"])
        try JSONSchemas.validate(json.stdout, against: "revert")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json.stdout) as? [String: Any])
        XCTAssertEqual(object["outcome"] as? String, "dry_run")
        XCTAssertEqual((object["dry_run"] as? [String: Any])?["deleted"] as? Int, 81)
        XCTAssertEqual((object["kept"] as? [Any])?.count, 1)
        XCTAssertEqual(try count(), before)
        XCTAssertEqual(try demo.live.connect().execute("SELECT status FROM recovery.runs WHERE id = 1").scalar, "applied")
    }

    /// On a terminal (a pty from util-linux `script`), the question is on the terminal and only
    /// the exact word `yes` goes on.
    func testOnlyTheExactWordYesConfirms() throws {
        for (answer, status) in [("y", Int32(1)), ("Yes", 1), ("yes please", 1), ("yes", 0)] {
            let out = try runOnTerminal(BuiltProducts.recoverTool, ["apply", plan, "--quiet"],
                                        answering: ("Type 'yes' to continue: ", answer), environment: demo.live.processEnvironment)
            XCTAssertEqual(out.status, status, answer + ": " + out.stdoutText)
            XCTAssertTrue(out.stdoutText.contains("Apply this plan? Type 'yes' to continue: "), out.stdoutText)
            if status == 1 { XCTAssertTrue(out.stdoutText.contains("not confirmed (only 'yes' confirms): nothing was changed"), out.stdoutText) }
        }
        XCTAssertEqual(try demo.live.connect().execute("SELECT count(*) FROM recovery.runs").scalar, "1")
    }

    /// A narrow COLUMNS (or terminal) gives help at 40 columns: swift-argument-parser traps below
    /// about 26 in a debug build, as the demo runs it (found by an audit).
    func testHelpAtANarrowWidthIsNoTrap() throws {
        for columns in ["10", "0", "-5"] {
            let help = try demo.tool(["plan", "--help"], environment: ["COLUMNS": columns])
            XCTAssertEqual(help.status, 0, "COLUMNS=\(columns): \(help.stderrText)")
            XCTAssertTrue(help.stdoutText.contains("OVERVIEW:"), help.stdoutText)
        }
    }

    func testHelpNamesValuesShowsShortFlagsExamplesAndOneLineAbstracts() throws {
        let apply = try tool(["apply", "--help"])
        XCTAssertEqual(apply.status, 0)
        for expected in ["OVERVIEW: Commit a reviewed plan in one transaction\n", "<dir>", "--db <conninfo>", "--plan-id <id>",
                         "-y, --yes", "-q, --quiet", "-v, --verbose", "--lock-timeout <seconds>", "--max-slots <n>", "--operator <name>",
                         "EXAMPLES:", "recover-tool apply /srv/incident/plan --yes --plan-id <id> --json"] {
            XCTAssertTrue(apply.stdoutText.contains(expected), expected + "\n" + apply.stdoutText)
        }
        // Required options show as required: not in brackets.
        let scan = try tool(["scan", "--help"])
        XCTAssertTrue(scan.stdoutText.contains("USAGE: recover-tool scan --from <time> --to <time> --logs <path> ..."), scan.stdoutText)
        XCTAssertTrue(try tool(["revert", "--help"]).stdoutText.contains("USAGE: recover-tool revert --run <id> "))
        XCTAssertTrue(try tool(["explain", "--help"]).stdoutText.contains("USAGE: recover-tool explain <dir> --user <id> --slot <time> "))
        XCTAssertTrue(try tool(["plan", "--help"]).stdoutText.contains("-o, --out <dir>"))
        // The exit statuses, from ExitStatus, in the root help (an installed binary has no docs/).
        let root = try tool(["--help"]).stdoutText
        XCTAssertTrue(root.contains("EXIT STATUS:\n  0   done"), root)
        XCTAssertTrue(root.contains("\n  75  a lock or a statement timed out"), root)
        // Every subcommand's abstract fits its line in the list.
        let list = try XCTUnwrap(root.components(separatedBy: "SUBCOMMANDS:\n").last).components(separatedBy: "\n\n").first ?? ""
        let entries = list.split(separator: "\n")
        XCTAssertGreaterThanOrEqual(entries.count, 11, root)
        for entry in entries { XCTAssertFalse(entry.hasPrefix("                        "), "a wrapped abstract: \(entry)") }
        for command in ["", "scan", "diff", "plan", "reconcile", "combine", "show", "explain", "apply", "verify", "revert", "runs"] {
            let help = try tool((command.isEmpty ? [] : [command]) + ["--help"])
            XCTAssertEqual(help.status, 0, command)
            XCTAssertTrue(help.stdoutText.contains("EXAMPLES:"), command)
            XCTAssertFalse(help.stdoutText.contains("docs/"), "\(command): an installed binary has no docs/")
            // One mood (the imperative), on one line, no full stop.
            let overview = try XCTUnwrap(help.stdoutText.split(separator: "\n").first)
            XCTAssertFalse(overview.hasSuffix("."), "\(command): \(overview)")
            XCTAssertLessThanOrEqual(overview.count, 80, "\(command): \(overview)")
            XCTAssertFalse(overview.split(separator: " ")[1].hasSuffix("s"), "\(command): not the imperative: \(overview)")
            // Examples and statuses fit 80 columns: no line of theirs is wrapped onto an unindented one.
            for section in ["EXAMPLES:\n", "EXIT STATUS:\n"] {
                guard let body = help.stdoutText.components(separatedBy: section).dropFirst().first else { continue }
                for line in (body.components(separatedBy: "\n\n").first ?? "").split(separator: "\n") {
                    XCTAssertTrue(line.hasPrefix("  "), "\(command): a wrapped line in \(section): \(line)")
                }
            }
        }
    }
}
