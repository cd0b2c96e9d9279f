import Foundation
import PlanFormat
import PlanReport
import RecoveryModel
import TestSupport
import XCTest

/// `PlanWriter.write` then `PlanDirectory.load`: a round trip, refusals of edited plans, determinism.
final class PlanDirectoryTests: XCTestCase {
    func testWriteThenLoadRoundTrips() throws {
        let tmp = try TemporaryDirectory(prefix: "plan-rt")
        let dir = tmp.path + "/plan"
        let output = try PlanWriter.write(Incident.evidence(), to: dir)
        XCTAssertEqual(output.files, ["rows.tsv", "report.md", "report.html", "recovered.csv", "dropped.csv",
                                      "quarantined.csv", "users.csv", "notices.csv", "plan.json"])
        let loaded = try PlanDirectory.load(dir)
        XCTAssertEqual(loaded.document, output.document)
        XCTAssertEqual(loaded.document.rows.count, 5)
        XCTAssertEqual(loaded.document.counts.quarantined, 3)
        XCTAssertFalse(loaded.document.completeness.complete)
        XCTAssertEqual(loaded.rowsPath, dir + "/rows.tsv")
    }

    func testAnEditedRowsFileIsRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "plan-rows")
        let dir = tmp.path + "/plan"
        let document = try PlanWriter.write(Incident.evidence(), to: dir).document
        let rowsURL = URL(fileURLWithPath: dir + "/rows.tsv")
        var rows = try Data(contentsOf: rowsURL)
        let at = try XCTUnwrap(rows.firstIndex(of: UInt8(ascii: "7")))
        rows[at] = UInt8(ascii: "8")  // project 7 becomes 8 in the first row
        try rows.write(to: rowsURL)
        let hash = SHA256()
        hash.update(rows)
        let digest = hash.finalize()
        XCTAssertThrowsError(try PlanDirectory.load(dir)) { error in
            XCTAssertEqual("\(error)", "refusing the plan in '\(dir)': rows.tsv has SHA-256 \(digest), the plan recorded "
                + "\(document.rows.sha256); make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it")
        }
    }

    func testAnEditedPlanJSONIsRefused() throws {
        let tmp = try TemporaryDirectory(prefix: "plan-json")
        let dir = tmp.path + "/plan"
        let document = try PlanWriter.write(Incident.evidence(), to: dir).document
        let planURL = URL(fileURLWithPath: dir + "/plan.json")
        let text = try String(contentsOf: planURL, encoding: .utf8)
        let original = "\"recovered_minutes\" : 45"
        XCTAssertTrue(text.contains(original), text)
        try Data(text.replacingOccurrences(of: original, with: "\"recovered_minutes\" : 46").utf8).write(to: planURL)
        XCTAssertThrowsError(try PlanDirectory.load(dir)) { error in
            XCTAssertEqual("\(error)", "refusing the plan in '\(dir)': plan.json does not match its plan id \(document.planID); "
                + "make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it")
        }
    }

    func testSameEvidenceGivesByteIdenticalFiles() throws {
        let tmp = try TemporaryDirectory(prefix: "plan-det")
        let first = try PlanWriter.write(Incident.evidence(), to: tmp.path + "/a")
        let second = try PlanWriter.write(Incident.evidence(), to: tmp.path + "/b")
        XCTAssertEqual(first.files, second.files)
        for file in first.files {
            let a = try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/a/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/b/" + file))
            XCTAssertEqual(a, b, "\(file) differs between two writes of the same evidence")
            XCTAssertFalse(a.isEmpty, file)
        }
    }

    func testInputOrderDoesNotChangeTheReports() throws {
        let tmp = try TemporaryDirectory(prefix: "plan-order")
        var shuffled = Incident.evidence()
        shuffled.hosts.reverse()
        shuffled.readQuarantine.reverse()
        let a = try PlanWriter.write(Incident.evidence(), to: tmp.path + "/a")
        _ = try PlanWriter.write(shuffled, to: tmp.path + "/b")
        for file in a.files {
            let x = try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/a/" + file))
            let y = try Data(contentsOf: URL(fileURLWithPath: tmp.path + "/b/" + file))
            XCTAssertEqual(x, y, "\(file) depends on the order of hosts or quarantine records")
        }
    }
}
