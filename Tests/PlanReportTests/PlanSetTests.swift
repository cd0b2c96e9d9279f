import Foundation
import PlanFormat
import PlanReport
import RecoveryModel
import TestSupport
import XCTest

/// `combine`'s plan set: shards bound under one set id, refusals of incomplete or mixed sets, and
/// the check `apply --plan-set` makes.
final class PlanSetTests: XCTestCase {
    var tmp: TemporaryDirectory!

    override func setUpWithError() throws {
        tmp = try TemporaryDirectory(prefix: "plan-set")
    }

    override func tearDown() {
        tmp = nil
    }

    /// Writes shard K of N of 8 users' slots; `perUser` changes the plan (and its id).
    func shard(_ k: Int, of n: Int, perUser: Int = 3, database: String = "test", name: String? = nil) throws -> PlanDirectory {
        let shard = Shard(index: k, count: n)!
        let dir = tmp.path + "/" + (name ?? "plan-\(k)-of-\(n)-\(perUser)-\(database.filter(\.isLetter))")
        if FileManager.default.fileExists(atPath: dir + "/plan.json") { return try PlanDirectory.load(dir) }
        try PlanFixture.write(
            PlanFixture.slots(users: 1...8, perUser: perUser).filter { shard.contains(userID: $0.slot.key.userID) },
            to: dir, for: PlanFixture.database(database), shard: shard)
        return try PlanDirectory.load(dir)
    }

    func testThreeShardsCombineIntoOneSetWithOneReport() throws {
        let plans = try (0..<3).map { try shard($0, of: 3) }
        let set = try PlanSet.combine([plans[2], plans[0], plans[1]])
        XCTAssertEqual(set.shardCount, 3)
        XCTAssertEqual(set.plans.map(\.shard.index), [0, 1, 2])
        XCTAssertEqual(set.plans.map(\.planID), plans.map(\.document.planID))
        XCTAssertEqual(set.counts.recovered, 24)
        XCTAssertEqual(set.setID, set.computeSetID())
        XCTAssertEqual(try PlanSet.combine(plans).setID, set.setID, "the order the plans are given in must not matter")

        let out = tmp.path + "/set"
        XCTAssertEqual(try SetReport.write(set, plans: plans.map(\.document), to: out), ["report.md", "report.html", "plan-set.json"])
        XCTAssertEqual(try PlanSet.load(out), set)
        let markdown = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.hasPrefix("# Sharded recovery: plan set `\(set.setID)`\n"), markdown)
        for plan in plans { XCTAssertTrue(markdown.contains(plan.document.planID), "report.md lacks \(plan.document.planID)") }
        XCTAssertTrue(markdown.contains("Recovered: 24 slots"), markdown)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<h1>Sharded recovery: plan set <code>\(set.setID)</code></h1>"), html)
        XCTAssertThrowsError(try SetReport.write(set, plans: plans.map(\.document), to: out)) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .exists)
        }
        // Nor into a shard's own plan directory: its report.md and report.html were overwritten,
        // and the plan then refused as changed (found by a hostile test).
        let before = try Data(contentsOf: URL(fileURLWithPath: plans[0].path + "/report.md"))
        XCTAssertThrowsError(try SetReport.write(set, plans: plans.map(\.document), to: plans[0].path)) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .exists)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: plans[0].path + "/report.md")), before)
        XCTAssertNoThrow(try PlanDirectory.load(plans[0].path))

        // Every plan of the set is admitted by its id.
        for plan in plans {
            XCTAssertNoThrow(try set.admit(planID: plan.document.planID, shard: plan.document.shard, planPath: plan.path, approvedID: set.setID))
        }
    }

    /// plan.json's counts rewritten and its plan id recomputed (anyone can): a count that is not
    /// the rows file's, or a negative one, is refused when the plan is read; counts whose sum
    /// does not fit are refused by combine, which trapped on the overflow (found by a hostile test).
    func testForgedCountsAreRefusedNotTrappedOn() throws {
        let plans = try (0..<2).map { try shard($0, of: 2) }
        func forge(_ plan: PlanDirectory, _ edit: (inout PlanDocument.Counts) -> Void) throws {
            var document = plan.document
            edit(&document.counts)
            document.planID = document.computePlanID()
            try FileManager.default.removeItem(atPath: plan.path + "/plan.json")
            try JSONOutput.encode(document).write(toFile: plan.path + "/plan.json", atomically: false, encoding: .utf8)
        }
        try forge(plans[0]) { $0.recovered = 0 }
        XCTAssertThrowsError(try PlanDirectory.load(plans[0].path)) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .tampered, "\(error)")
            XCTAssertTrue("\(error)".contains("plan.json counts 0 recovered slots, rows.tsv holds \(plans[0].document.rows.count)"), "\(error)")
        }
        try forge(plans[0]) { $0.recovered = plans[0].document.counts.recovered; $0.orphans = -1 }
        XCTAssertThrowsError(try PlanDirectory.load(plans[0].path)) { error in
            XCTAssertTrue("\(error)".contains("plan.json holds a negative count"), "\(error)")
        }
        var minutes = plans[0].document
        minutes.recoveredMinutes = Int.max
        minutes.planID = minutes.computePlanID()
        try FileManager.default.removeItem(atPath: plans[0].path + "/plan.json")
        try JSONOutput.encode(minutes).write(toFile: plans[0].path + "/plan.json", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try PlanDirectory.load(plans[0].path)) { error in
            XCTAssertTrue("\(error)".contains("plan.json's recovered minutes (\(Int.max)) are not those of its slots"), "\(error)")
        }
        for plan in plans { try forge(plan) { $0.orphans = 0; $0.quarantined = Int.max } }
        let forged = try plans.map { try PlanDirectory.load($0.path) }
        XCTAssertThrowsError(try PlanSet.combine(forged)) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .setRefused, "\(error)")
            XCTAssertTrue("\(error)".contains("the plans' counts do not add up"), "\(error)")
        }
    }

    /// A set directory that cannot be used is named as a set, with combine as the way out: it
    /// was called "not a recover-tool plan" or "the plan", with 'recover-tool plan' as the hint
    /// (found by a hostile test).
    func testASetThatCannotBeUsedIsNamedAsASet() throws {
        let plans = try (0..<2).map { try shard($0, of: 2) }
        let out = tmp.path + "/set-edited"
        _ = try SetReport.write(try PlanSet.combine(plans), plans: plans.map(\.document), to: out)
        let manifest = out + "/plan-set.json"
        let edited = try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(of: "\"shard_count\" : 2", with: "\"shard_count\" : 3")
        try edited.write(toFile: manifest, atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try PlanSet.load(out)) { error in
            let error = error as? PlanError
            XCTAssertEqual(error?.code, "plan_not_a_set")
            XCTAssertTrue(error?.message.hasPrefix("'\(out)' is not a plan set this tool can use: plan-set.json does not match its set id") ?? false,
                          error?.message ?? "")
            XCTAssertEqual(error?.hint, "write the set again with 'recover-tool combine' from its shard plans, and review it")
        }
        XCTAssertThrowsError(try PlanSet.load(tmp.path)) { error in
            XCTAssertEqual((error as? PlanError)?.code, "plan_not_a_set", "\(error)")
        }
    }

    /// Shards planned through other connection strings are refused even when the server names
    /// the same database: a physical copy of the cluster (pg_basebackup) has its system
    /// identifier, OID and name, so a shard planned against a restored copy was combined and its
    /// users' slots lost (found by a hostile test).
    func testShardsPlannedThroughAnotherTargetAreRefused() throws {
        let first = try shard(0, of: 2)
        var copy = PlanFixture.database("test")
        copy.target = "host=copy port=5433 dbname=test"
        let dir = tmp.path + "/through-copy"
        try PlanFixture.write(
            PlanFixture.slots(users: 1...8, perUser: 3).filter { Shard(index: 1, count: 2)!.contains(userID: $0.slot.key.userID) },
            to: dir, for: copy, shard: Shard(index: 1, count: 2))
        XCTAssertThrowsError(try PlanSet.combine([first, try PlanDirectory.load(dir)])) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .setRefused, "\(error)")
            XCTAssertTrue("\(error)".contains("'\(dir)' was planned through 'host=copy port=5433 dbname=test', '\(first.path)' through 'test': "
                + "a physical copy of a cluster has its identity; plan every shard with the same --db"), "\(error)")
        }
    }

    /// Shards planned for another service schema (`--schema`) of the same database are no set:
    /// a shard read and written in another schema was combined, and its users' slots went to
    /// the other schema's tables while `verify --set` passed (found by a hostile test).
    func testShardsPlannedForAnotherSchemaAreRefused() throws {
        let first = try shard(0, of: 2)
        var other = PlanFixture.database("test")
        other.schema = "alt"
        let dir = tmp.path + "/other-schema"
        try PlanFixture.write(
            PlanFixture.slots(users: 1...8, perUser: 3).filter { Shard(index: 1, count: 2)!.contains(userID: $0.slot.key.userID) },
            to: dir, for: other, shard: Shard(index: 1, count: 2))
        XCTAssertThrowsError(try PlanSet.combine([first, try PlanDirectory.load(dir)])) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .setRefused, "\(error)")
            XCTAssertTrue("\(error)".contains("'\(dir)' was planned against \(other), '\(first.path)' against \(first.document.database)"), "\(error)")
            XCTAssertTrue("\(error)".contains("schema 'alt'"), "\(error)")
        }
    }

    /// The plan id covers the service schema: a plan of the same evidence for another schema
    /// has another id (apply took the second for the first, "already applied", status 0), and
    /// a plan for the default schema keeps the id it had before the schema was recorded.
    func testThePlanIDCoversTheSchemaButThatOfTheDefaultOne() throws {
        let plan = try shard(0, of: 2)
        var unrecorded = plan.document, publicSchema = plan.document, other = plan.document
        unrecorded.database.schema = nil
        publicSchema.database.schema = "public"
        other.database.schema = "alt"
        XCTAssertEqual(publicSchema.computePlanID(), unrecorded.computePlanID())
        XCTAssertNotEqual(other.computePlanID(), publicSchema.computePlanID())
    }

    /// Shards that read other inputs are no set: their union is not the recovery of either
    /// input set (a shard planned from one host's logs and no snapshot was combined, status 0;
    /// found by a hostile test).
    func testShardsThatReadOtherInputsAreRefused() throws {
        let plans = try (0..<2).map { try shard($0, of: 2) }
        var document = plans[1].document
        document.inputs[0].sha256 = String(repeating: "1", count: 64)
        document.planID = document.computePlanID()
        try FileManager.default.removeItem(atPath: plans[1].path + "/plan.json")
        try JSONOutput.encode(document).write(toFile: plans[1].path + "/plan.json", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try PlanSet.combine([plans[0], try PlanDirectory.load(plans[1].path)])) { error in
            XCTAssertEqual((error as? PlanError)?.kind, .setRefused, "\(error)")
            XCTAssertTrue("\(error)".contains("'\(plans[1].path)' read other inputs than '\(plans[0].path)': "
                + "every shard reads every log and snapshot of the recovery"), "\(error)")
        }
    }

    func testASetMissingAShardIsRefused() throws {
        let plans = try [shard(0, of: 3), shard(2, of: 3)]
        XCTAssertThrowsError(try PlanSet.combine(plans)) { error in
            XCTAssertEqual("\(error)", "refusing the plan set of '\(plans[0].path)': shard 1/3 is missing; "
                + "plan every shard 0 to N-1 of one N, for one window, from the same inputs and --db, and combine them all")
        }
    }

    func testMixedShardsWindowsAndDatabasesAreRefused() throws {
        let twice = try [shard(0, of: 2), shard(1, of: 2), shard(1, of: 2, perUser: 4)]
        XCTAssertThrowsError(try PlanSet.combine(twice)) { error in
            XCTAssertTrue("\(error)".contains("shard 1/2 is given 2 times: '\(twice[1].path)', '\(twice[2].path)'"), "\(error)")
        }
        let mixed = try [shard(0, of: 2), shard(1, of: 3)]
        XCTAssertThrowsError(try PlanSet.combine(mixed)) { error in
            XCTAssertTrue("\(error)".contains("the plans split the users in different ways: '\(mixed[0].path)' is shard 0/2, "
                + "'\(mixed[1].path)' is shard 1/3"), "\(error)")
        }
        let databases = try [shard(0, of: 2), shard(1, of: 2, database: "dbname=other")]
        XCTAssertThrowsError(try PlanSet.combine(databases)) { error in
            XCTAssertTrue("\(error)".contains("'\(databases[1].path)' was planned against \(PlanFixture.database("dbname=other")), "
                + "'\(databases[0].path)' against \(PlanFixture.database("test"))"),
                          "\(error)")
        }
        let whole = tmp.path + "/whole"
        try PlanFixture.write(PlanFixture.slots(users: 1...8, perUser: 3), to: whole, for: PlanFixture.database("test"))
        XCTAssertThrowsError(try PlanSet.combine([try shard(0, of: 1), try PlanDirectory.load(whole)])) { error in
            XCTAssertTrue("\(error)".contains("'\(whole)' is a plan of all users (no --shard), not a shard"), "\(error)")
        }
    }

    func testAShardOfAnotherSetIsNotAdmitted() throws {
        let set = try PlanSet.combine([shard(0, of: 2), shard(1, of: 2)])
        let other = try shard(1, of: 2, perUser: 4)  // the same shard, planned again: another plan id
        XCTAssertThrowsError(try set.admit(planID: other.document.planID, shard: other.document.shard, planPath: other.path,
                                           approvedID: set.setID)) { error in
            XCTAssertEqual("\(error)", "refusing the plan in '\(other.path)': plan \(other.document.planID) is not in the approved "
                + "plan set \(set.setID); apply only the plans of the set that was reviewed")
            XCTAssertEqual((error as? PlanError)?.code, "plan_not_in_set")
        }
        let otherSet = try PlanSet.combine([shard(0, of: 2), other])
        let member = try shard(0, of: 2)
        XCTAssertThrowsError(try otherSet.admit(planID: member.document.planID, shard: member.document.shard, planPath: member.path,
                                                approvedID: set.setID)) { error in
            XCTAssertEqual("\(error)", "refusing the plan in '\(member.path)': the plan set is \(otherSet.setID), not the approved "
                + "\(set.setID); apply only the plans of the set that was reviewed")
        }
        // Held by the set, but as another shard than the plan says it is.
        XCTAssertThrowsError(try set.admit(planID: member.document.planID, shard: Shard(index: 1, count: 2), planPath: member.path,
                                           approvedID: set.setID)) { error in
            XCTAssertTrue("\(error)".contains("is shard 1/2 but the set holds it as shard 0/2"), "\(error)")
        }
    }

    func testAnEditedManifestIsRefused() throws {
        let plans = try [shard(0, of: 2), shard(1, of: 2)]
        let set = try PlanSet.combine(plans)
        let out = tmp.path + "/set"
        try SetReport.write(set, plans: plans.map(\.document), to: out)
        let url = URL(fileURLWithPath: out + "/plan-set.json")
        let edited = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: plans[1].document.planID, with: String(repeating: "0", count: 64))
        try edited.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PlanSet.load(out)) { error in
            XCTAssertEqual("\(error)", "'\(out)' is not a plan set this tool can use: plan-set.json does not match its set id \(set.setID); "
                + "write the set again with 'recover-tool combine' from its shard plans, and review it")
        }
    }
}
