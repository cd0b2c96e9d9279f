import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The built `recover-tool` on a terminal (a pty from util-linux `script`): one progress line for
/// the long stages, `--verbose` log lines in UTC written above it (never into it), and the
/// password prompt when the server wants a password.
final class TerminalTests: XCTestCase {
    var tool: String { BuiltProducts.recoverTool }

    func testApplyDrawsItsStepsWithLogLinesAboveThem() throws {
        let db = try TestDatabase(label: "tty")
        try PlanFixture.seed(try db.connect(), users: 3)
        let dir = try TemporaryDirectory(prefix: "plan")
        let plan = try PlanFixture.write(PlanFixture.slots(users: 1...3, perUser: 4), to: dir.path, for: try db.identity())
        let out = try runOnTerminal(
            tool, ["apply", dir.path, "--db", db.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.path), "--verbose"],
            environment: ["TZ": "America/Los_Angeles"])
        let shown = out.stdoutText
        XCTAssertEqual(out.status, 0, shown)
        XCTAssertTrue(shown.contains("connecting: 0 s"), shown)
        XCTAssertTrue(shown.contains("loading rows (COPY): 100% of "), shown)
        XCTAssertTrue(shown.contains("applied plan \(plan.planID) as run 1"), shown)
        XCTAssertGreaterThanOrEqual(logLines(in: shown).count, 10, shown)
        XCTAssertEqual(linesBrokenByLogLines(shown), [], shown)
    }

    /// `--quiet` draws no progress line, for the commands that tick a stage too: apply, verify
    /// and runs drew `connecting: 0 s`, `verify: 0 s`, `runs: 0 s` with it (found by an audit).
    func testQuietDrawsNoProgressLineOnATerminal() throws {
        let db = try TestDatabase(label: "tty-quiet")
        try PlanFixture.seed(try db.connect(), users: 3)
        let dir = try TemporaryDirectory(prefix: "plan")
        try PlanFixture.write(PlanFixture.slots(users: 1...3, perUser: 4), to: dir.path, for: try db.identity())
        for arguments in [["apply", dir.path, "--db", db.conninfo, "--yes", "--plan-id", try approvedPlanID(dir.path), "--quiet"],
                          ["verify", "--run", "1", "--db", db.conninfo, "-q"],
                          ["runs", "--db", db.conninfo, "-q"]] {
            let out = try runOnTerminal(tool, arguments)
            XCTAssertEqual(out.status, 0, out.stdoutText)
            XCTAssertFalse(out.stdoutText.contains("\u{1B}[K"), "\(arguments[0]): \(out.stdoutText.debugDescription)")
            XCTAssertFalse(out.stdoutText.contains(": 0 s"), "\(arguments[0]): \(out.stdoutText.debugDescription)")
        }
        // Without it, verify's result starts a line of its own: it followed 'verify: 0 s' on the
        // same line, the ticker still drawn when the result was written.
        let shown = try runOnTerminal(tool, ["verify", "--run", "1", "--db", db.conninfo]).stdoutText
        let result = try XCTUnwrap(shown.range(of: "run 1: 12 slots checked"), shown.debugDescription)
        XCTAssertTrue(shown[..<result.lowerBound].isEmpty || shown[..<result.lowerBound].hasSuffix("\u{1B}[K")
                      || shown[..<result.lowerBound].hasSuffix("\n"), shown.debugDescription)
    }

    /// A plan ended by a signal on a terminal removes its progress line before it ends, so that
    /// the shell's prompt starts a line of its own instead of following `write: 3 s`.
    func testAPlanEndedByASignalRemovesItsProgressLine() throws {
        let demo = try DemoRun(label: "tty-signal")
        let out = demo.dir.file("plan").path
        let plan = planHeldBeforeItsRename(demo, out: out)
        // On the terminal, in the background of a shell: once the plan holds before its rename
        // (its staging directory has plan.json) and its write stage's ticker has drawn the line
        // (each second, once 1.5 s have passed since the read's last measured progress; 4 s
        // leave room for a loaded machine), SIGTERM.
        let shell = """
            \(plan) & pid=$!
            \(waitForHeldPlan(out))
            sleep 4
            kill -TERM $pid
            wait $pid
            """
        let shown = try runProcess("bash", ["-c", terminalCommand(shell)], environment: demo.live.processEnvironment)
        let text = shown.stdoutText
        XCTAssertEqual(shown.status, 128 + SIGTERM, text)
        XCTAssertTrue(text.contains("recover-tool: test hold at plan-renaming"), text)
        XCTAssertTrue(text.contains("write: "), "the ticker did not draw: \(text.debugDescription)")
        // The last line drawn is cleared at once: `write: 4 s` then `\r ESC[K`. What the shell
        // prints after it (some shells report the job's end, `Terminated`) starts a line of its own.
        let afterLastDraw = text.components(separatedBy: "write: ").last ?? ""
        XCTAssertNotNil(afterLastDraw.range(of: "^[^\r\n]*\r\u{1B}\\[K", options: .regularExpression),
                        "the progress line was left: \(text.suffix(80).debugDescription)")
        let left = try FileManager.default.contentsOfDirectory(atPath: demo.dir.path).filter { $0.hasPrefix("plan") }
        XCTAssertEqual(left, [], "the plan or its staging directory was left")
    }

    /// A plan whose terminal is gone goes on: its progress and log lines, which the terminal no
    /// longer takes (`EIO`), are dropped, not a trap that ends it. Its session's shell outlived the
    /// hangup and kept it (as `disown` does); a SIGTERM later ends it by the signal, its
    /// directories removed, with nothing left on a terminal to clear.
    func testAPlanWhoseTerminalIsGoneGoesOnAndEndsByASignal() throws {
        let demo = try DemoRun(label: "tty-hangup")
        let out = demo.dir.file("plan").path, pid = demo.dir.file("pid").path, status = demo.dir.file("status").path
        let plan = planHeldBeforeItsRename(demo, out: out, "--verbose")
        // The shell on the terminal outlives the hangup (`trap '' HUP`) to write down the plan's status.
        let inside = "trap '' HUP; \(plan) & echo $! > \(shellQuoted(pid)); wait $!; echo $? > \(shellQuoted(status))"
        // The terminal goes away (its `script` killed) once the plan holds and has drawn its line;
        // its write ticker then draws into it twice or more before the SIGTERM.
        let shell = """
            \(terminalCommand(inside)) > /dev/null & terminal=$!
            \(waitForHeldPlan(out))
            sleep 3
            pkill -KILL -P $terminal -x script || kill -KILL $terminal
            sleep 3
            kill -TERM "$(cat \(shellQuoted(pid)))"
            for i in $(seq 600); do [ -s \(shellQuoted(status)) ] && break; sleep 0.1; done
            cat \(shellQuoted(status))
            """
        let shown = try runProcess("bash", ["-c", shell], environment: demo.live.processEnvironment)
        XCTAssertEqual(shown.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines), String(128 + SIGTERM), shown.stderrText)
        let left = try FileManager.default.contentsOfDirectory(atPath: demo.dir.path).filter { $0.hasPrefix("plan") }
        XCTAssertEqual(left, [], "the plan or its staging directory was left")
    }

    /// A shell line that waits (a minute at most) for the plan into `out` to hold before its
    /// rename: plan.json, written last, is in its staging directory.
    func waitForHeldPlan(_ out: String) -> String {
        "for i in $(seq 1200); do ls \(shellQuoted(out)).partial-*/plan.json >/dev/null 2>&1 && break; sleep 0.05; done"
    }

    /// The shell command of a demo plan into `out` that holds before its rename (its plan.json
    /// written in the staging directory) until a signal ends it.
    func planHeldBeforeItsRename(_ demo: DemoRun, out: String, _ extra: String...) -> String {
        (["env", "RECOVER_TOOL_TEST_HOLD_AT=plan-renaming", tool, "plan"] + DemoIncident.window
            + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot, "--db", demo.live.conninfo, "--out", out] + extra)
            .map(shellQuoted).joined(separator: " ")
    }

    func testThePasswordIsAskedForOnATerminal() throws {
        let pgdir = try XCTUnwrap(ProcessInfo.processInfo.environment["RECOVER_PGDIR"], "run under scripts/test.sh (RECOVER_PGDIR)")
        let hba = pgdir + "/data/pg_hba.conf"
        let original = try String(contentsOfFile: hba, encoding: .utf8)
        let db = try TestDatabase(label: "pw")
        let admin = try db.connect()
        try admin.executeSimple("DROP ROLE IF EXISTS rt_pw_user; CREATE ROLE rt_pw_user LOGIN PASSWORD 'Pw-for-test-1'")
        // The test server trusts every local user: this role needs a password for the test's length.
        try ("local all rt_pw_user scram-sha-256\n" + original).write(toFile: hba, atomically: false, encoding: .utf8)
        defer {
            try? original.write(toFile: hba, atomically: false, encoding: .utf8)
            _ = try? admin.execute("SELECT pg_reload_conf()")
        }
        try admin.execute("SELECT pg_reload_conf()")
        let conninfo = "host=\(pgdir) dbname=\(db.name) user=rt_pw_user"
        // The server reloads its configuration in the background: wait (10 s at most) until it
        // refuses this role without a password. No password file answers for it either.
        let noPasswordFile = ["PGPASSFILE": "/dev/null"]
        for _ in 0..<100 {
            guard (try? Connection.connect(conninfo + " passfile=/dev/null password=''")) != nil else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }

        // Without a terminal nothing is asked: libpq's message, 69.
        let noTerminal = try runProcess(tool, ["runs", "--db", conninfo], environment: noPasswordFile.merging(["PGPASSWORD": ""]) { $1 })
        XCTAssertEqual(noTerminal.status, 69, noTerminal.stderrText)
        XCTAssertTrue(noTerminal.stderrText.contains("no password supplied"), noTerminal.stderrText)

        // On a terminal, as psql: the prompt, no echo, and the command goes on.
        let asked = try runOnTerminal(tool, ["runs", "--db", conninfo], answering: ("Password for user rt_pw_user: ", "Pw-for-test-1"),
                                      environment: noPasswordFile, unsetting: ["PGPASSWORD"])
        XCTAssertEqual(asked.status, 0, asked.stdoutText)
        XCTAssertTrue(asked.stdoutText.contains("Password for user rt_pw_user: "), asked.stdoutText)
        XCTAssertTrue(asked.stdoutText.contains("no runs recorded"), asked.stdoutText)
        XCTAssertFalse(asked.stdoutText.contains("Pw-for-test-1"), "the password is echoed: \(asked.stdoutText)")

        // A wrong password: libpq's refusal, 69.
        let wrong = try runOnTerminal(tool, ["runs", "--db", conninfo], answering: ("Password for user rt_pw_user: ", "not-it"),
                                      environment: noPasswordFile, unsetting: ["PGPASSWORD"])
        XCTAssertEqual(wrong.status, 69, wrong.stdoutText)
        XCTAssertTrue(wrong.stdoutText.contains("password authentication failed for user \"rt_pw_user\""), wrong.stdoutText)
    }
}

/// The `--verbose` log lines in what a terminal showed: `2026-12-02T04:24:57.123Z debug recover-tool: ...`,
/// in UTC whatever `TZ` says.
func logLines(in shown: String) -> [NSTextCheckingResult] {
    let pattern = #"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z (trace|debug|info|notice|warning|error) recover-tool: "#
    let regex = try! NSRegularExpression(pattern: pattern)
    return regex.matches(in: shown, range: NSRange(shown.startIndex..., in: shown))
}

/// The log lines that do not start a line of their own: each must follow a line end or the
/// clear-line sequence that removes the progress line (`\r ESC [K`), never progress text such as
/// `0 s left`. Each offender with the 20 characters before it.
func linesBrokenByLogLines(_ shown: String) -> [String] {
    let text = shown as NSString
    return logLines(in: shown).compactMap { match in
        let before = text.substring(with: NSRange(location: max(0, match.range.location - 20), length: min(20, match.range.location)))
        // Unicode scalars: "\r\n" is one Character, which a String's hasSuffix("\n") does not see.
        if before.isEmpty || before.unicodeScalars.last == "\n" || before.hasSuffix("\r\u{1B}[K") { return nil }
        return before + text.substring(with: NSRange(location: match.range.location, length: 24))
    }
}
