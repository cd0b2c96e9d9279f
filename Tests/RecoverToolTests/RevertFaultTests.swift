import Foundation
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The SIGKILL matrix for `revert` (issue 10): the built `recover-tool revert` killed at moments
/// spread over a clean revert's time, from its start to past its COMMIT. The database must end
/// exactly as applied or exactly as reverted, and a second revert must end it reverted.
extension ApplyFaultTests {
    func testRevertKilledAtAnyMomentLeavesAppliedOrReverted() throws {
        let reference = try seededDatabase(label: "rref")
        let (referenceDir, referencePlan) = try writePlan(for: try reference.identity())
        XCTAssertEqual(try runProcess(
            tool, ["apply", referenceDir.path, "--yes", "--plan-id", referencePlan.planID], environment: reference.processEnvironment).status, 0)
        let referenceApplied = try DatabaseState.outcome(try reference.connect())
        let cleanStart = Date()
        let clean = try runProcess(tool, ["revert", "--run", "1", "--yes"], environment: reference.processEnvironment)
        let cleanMilliseconds = Date().timeIntervalSince(cleanStart) * 1000
        XCTAssertEqual(clean.status, 0, clean.stderrText)
        let referenceReverted = try DatabaseState.outcome(try reference.connect())
        XCTAssertNotEqual(referenceApplied, referenceReverted)
        reference.drop()

        var outcomes: [String: Int] = ["applied": 0, "reverted": 0]
        let fractions = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 1.05, 1.2]
        for fraction in fractions {
            let ms = Int(fraction * cleanMilliseconds)
            let db = try seededDatabase(label: "rkill")
            // Each database its own plan; the outcomes differ only by its id.
            let (dir, plan) = try writePlan(for: try db.identity())
            let applied = referenceApplied.replacingOccurrences(of: referencePlan.planID, with: plan.planID)
            let reverted = referenceReverted.replacingOccurrences(of: referencePlan.planID, with: plan.planID)
            XCTAssertEqual(try runProcess(tool, ["apply", dir.path, "--yes", "--plan-id", plan.planID], environment: db.processEnvironment).status, 0)
            let connection = try db.connect()
            let process = try Spawned(tool, ["revert", "--run", "1", "--yes"], environment: db.processEnvironment)
            usleep(useconds_t(ms * 1000))
            kill(process.pid, SIGKILL)
            process.process.waitUntilExit()
            XCTAssertEqual(try db.sessionCountOnceEnded(excluding: connection), 0, "after \(ms) ms")
            let now = try DatabaseState.outcome(connection)
            let state = now == applied ? "applied" : now == reverted ? "reverted" : "in between"
            XCTAssertNotEqual(state, "in between", "killed after \(ms) ms: \(now)")
            outcomes[state, default: 0] += 1
            let rerun = try runProcess(tool, ["revert", "--run", "1", "--yes"], environment: db.processEnvironment)
            XCTAssertEqual(rerun.status, 0, "after \(ms) ms: \(rerun.stderrText)")
            XCTAssertEqual(try DatabaseState.outcome(connection), reverted, "after \(ms) ms")
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), fractions.count)
        print("revert kill points: \(fractions.count) over \(Int(cleanMilliseconds)) ms, ended applied: \(outcomes["applied"]!), reverted: \(outcomes["reverted"]!)")
    }
}
