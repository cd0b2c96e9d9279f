import Foundation
import PostgresClient
import TestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The SIGKILL matrix for the read-only check, `verify` (issue 10): the built tool killed at
/// moments spread over a clean verify's time, from its start (the connection, the database and
/// run checks) to past its end. Nothing may change, no session may be left behind, and a verify
/// run again must find the run as clean as before.
extension ApplyFaultTests {
    func testVerifyKilledAtAnyMomentChangesNothing() throws {
        let db = try seededDatabase(label: "vkill")
        let (dir, plan) = try writePlan(for: try db.identity())
        XCTAssertEqual(try runProcess(tool, ["apply", dir.path, "--yes", "--plan-id", plan.planID], environment: db.processEnvironment).status, 0)
        let connection = try db.connect()
        let before = try DatabaseState.checksums(connection)
        // Timed to the millisecond: waitUntilExit looks every 50 ms, so a verify of 60 ms was
        // taken for one of 100 and half the kill points fell after its end. The fastest of three
        // clean runs: the first, with cold caches or under load, may take several times as long
        // as the ones killed after it, whose kill points would then fall past their end.
        var cleanMilliseconds = Double.infinity
        for _ in 0..<3 {
            let cleanStart = Date()
            let clean = try Spawned(tool, ["verify", "--run", "1"], environment: db.processEnvironment)
            while clean.process.isRunning { usleep(1000) }
            cleanMilliseconds = min(cleanMilliseconds, Date().timeIntervalSince(cleanStart) * 1000)
            XCTAssertEqual(clean.process.terminationStatus, 0, clean.stderrText)
        }

        let fractions = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2]
        var killed = 0, latestKill = 0
        for fraction in fractions {
            var ms = Int(fraction * cleanMilliseconds)
            // A point inside the clean time whose kill came after the end (the clean runs were
            // slowed, or this one was quick) is tried again at half its delay, four times at most.
            for _ in 0..<(fraction < 1 ? 5 : 1) {
                let process = try Spawned(tool, ["verify", "--run", "1"], environment: db.processEnvironment)
                usleep(useconds_t(ms * 1000))
                kill(process.pid, SIGKILL)
                process.process.waitUntilExit()
                XCTAssertEqual(try db.sessionCountOnceEnded(excluding: connection), 0, "after \(ms) ms")
                XCTAssertEqual(try DatabaseState.checksums(connection), before, "killed after \(ms) ms")
                let rerun = try runProcess(tool, ["verify", "--run", "1"], environment: db.processEnvironment)
                XCTAssertEqual(rerun.status, 0, "after \(ms) ms: \(rerun.stderrText)")
                if process.process.terminationReason == .uncaughtSignal {
                    killed += 1
                    latestKill = max(latestKill, ms)
                    break
                }
                ms /= 2
            }
        }
        XCTAssertGreaterThan(killed, fractions.count / 2)
        // Not all of them at its very start: a kill came past 40% of the clean time.
        XCTAssertGreaterThanOrEqual(Double(latestKill), 0.4 * cleanMilliseconds, "the latest kill came after \(latestKill) ms")
        print("verify kill points: \(fractions.count) over \(Int(cleanMilliseconds)) ms, killed before the end: \(killed), database unchanged: \(fractions.count)")
    }
}
