import Foundation
import TestSupport
import XCTest

/// End to end on the demo incident: `plan --memory-limit` below the demo's events spills them
/// and writes the same plan directory, file by file, as the plan in memory.
final class SpillCommandTests: XCTestCase {
    var demo: DemoRun!

    override func setUpWithError() throws {
        demo = try DemoRun(label: "spill")
    }

    override func tearDown() {
        demo = nil
    }

    func plan(_ name: String, _ extra: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        try demo.tool(
            ["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot,
             "--db", demo.live.conninfo, "--out", demo.dir.file(name).path, "--quiet"] + extra,
            environment: environment)
    }

    /// Every file under `dir`, by relative path.
    func files(_ dir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let root = URL(fileURLWithPath: dir)
        for case let url as URL in FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)! {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files[String(url.path.dropFirst(root.path.count))] = try Data(contentsOf: url)
        }
        return files
    }

    func testATinyMemoryLimitSpillsAndWritesTheSamePlanDirectory() throws {
        let inMemory = try plan("in-memory", ["--verbose"])
        XCTAssertEqual(inMemory.status, 0, inMemory.stderrText)
        XCTAssertTrue(inMemory.stderrText.contains("stage=fold"), inMemory.stderrText)

        let tmp = try TemporaryDirectory(prefix: "spill-tmp")
        let spilled = try plan("spilled", ["--memory-limit", "64K", "--verbose"], environment: ["TMPDIR": tmp.path])
        XCTAssertEqual(spilled.status, 0, spilled.stderrText)
        XCTAssertTrue(spilled.stderrText.contains("stage=ranges"), "the plan did not spill: " + spilled.stderrText)
        XCTAssertFalse(spilled.stderrText.contains("stage=fold"), spilled.stderrText)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "spill files were left")

        let expected = try files(demo.dir.file("in-memory").path), got = try files(demo.dir.file("spilled").path)
        XCTAssertEqual(expected.keys.sorted(), got.keys.sorted())
        XCTAssertGreaterThan(expected.count, 8)
        for (name, data) in expected { XCTAssertEqual(got[name], data, "\(name) differs") }

        // Every limit from 1K: at 20K a range whose light first user came before a heavy one was
        // split into one part like itself, again and again, until its path was too long (65;
        // found by a hostile test).
        for limit in ["1K", "8K", "18K", "20K", "22K", "40K"] {
            let name = "spilled-\(limit)"
            let output = try plan(name, ["--memory-limit", limit], environment: ["TMPDIR": tmp.path])
            XCTAssertEqual(output.status, 0, "\(limit): \(output.stderrText)")
            let other = try files(demo.dir.file(name).path)
            for (file, data) in expected where file != "plan.json" { XCTAssertEqual(other[file], data, "\(limit): \(file) differs") }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "spill files were left")
    }

    func testASpillThatCannotBeWrittenStopsWithOneLineAndLeavesNothing() throws {
        let missing = demo.dir.file("no-such-dir").path
        let output = try plan("plan", ["--memory-limit", "64K"], environment: ["TMPDIR": missing])
        XCTAssertEqual(output.status, 65)
        XCTAssertEqual(
            output.stderrText,
            "recover-tool: error: cannot spill to '\(missing)': cannot make a directory there: "
                + "no such file or directory; set TMPDIR to a directory with room for the spill (about half the size of the compressed inputs), "
                + "or raise --memory-limit\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: demo.dir.path), [], "the failed plan left files")
    }

    /// SIGTERM (how Kubernetes stops a Job) and SIGINT (Ctrl-C) while the slots are spilled: the
    /// process removes its spill directory and any staging directory, then ends by the signal.
    func testASignalRemovesTheSpillAndStagingDirectoriesAndEndsByTheSignal() throws {
        for number in [SIGTERM, SIGINT] {
            let tmp = try TemporaryDirectory(prefix: "spill-signal")
            let out = demo.dir.file("plan-\(number)").path
            let process = try Spawned(
                BuiltProducts.recoverTool,
                ["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot,
                 "--db", demo.live.conninfo, "--out", out, "--quiet", "--memory-limit", "64K"],
                environment: demo.live.processEnvironment.merging(
                    ["TMPDIR": tmp.path, "RECOVER_TOOL_TEST_PAUSE_AT": "plan-writing"]) { $1 })
            XCTAssertTrue(process.waitForPause(at: "plan-writing"), process.stderrText)
            let spill = try FileManager.default.contentsOfDirectory(atPath: tmp.path)
            XCTAssertEqual(spill.count, 1, "\(spill)")
            XCTAssertTrue(spill.allSatisfy { $0.hasPrefix("recover-tool-spill-") }, "\(spill)")
            kill(process.pid, number)
            kill(process.pid, SIGCONT)
            process.process.waitUntilExit()
            XCTAssertEqual(process.process.terminationReason, .uncaughtSignal, process.stderrText)
            XCTAssertEqual(process.process.terminationStatus, number, process.stderrText)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [], "the spill directory was left")
            let left = try FileManager.default.contentsOfDirectory(atPath: demo.dir.path).filter { $0.hasPrefix("plan-\(number)") }
            XCTAssertTrue(left.allSatisfy { !$0.contains(".partial-") }, "a staging directory was left: \(left)")
        }
    }

    /// A signal that comes just before the staging directory is renamed into place (the plan's
    /// commit) ends the plan: no plan directory, no staging directory, the signal's status. Taken
    /// by another thread while this one went on, it once lost the race and the plan exited 0.
    func testASignalJustBeforeThePlanIsRenamedIntoPlaceEndsThePlanAndLeavesNone() throws {
        for number in [SIGINT, SIGTERM] {
            let out = demo.dir.file("renaming-\(number)").path
            let process = try Spawned(
                BuiltProducts.recoverTool,
                ["plan"] + DemoIncident.window + ["--logs", DemoIncident.logs, "--snapshot", DemoIncident.snapshot,
                 "--db", demo.live.conninfo, "--out", out, "--quiet"],
                environment: demo.live.processEnvironment.merging(["RECOVER_TOOL_TEST_PAUSE_AT": "plan-renaming"]) { $1 })
            XCTAssertTrue(process.waitForPause(at: "plan-renaming"), process.stderrText)
            kill(process.pid, number)
            kill(process.pid, SIGCONT)
            process.process.waitUntilExit()
            XCTAssertEqual(process.process.terminationReason, .uncaughtSignal, process.stderrText)
            XCTAssertEqual(process.process.terminationStatus, number, process.stderrText)
            let left = try FileManager.default.contentsOfDirectory(atPath: demo.dir.path).filter { $0.hasPrefix("renaming-\(number)") }
            XCTAssertEqual(left, [], "a plan or its staging directory was left")
        }
    }

    func testAMemoryLimitThatIsNotASizeIsAUsageError() throws {
        let output = try plan("plan", ["--memory-limit", "lots"])
        XCTAssertEqual(output.status, 64)
        XCTAssertEqual(
            output.stderrText,
            "recover-tool: error: '--memory-limit' 'lots' is not a size such as 64M, 2G or 1048576; see 'recover-tool help'\n")
    }
}
