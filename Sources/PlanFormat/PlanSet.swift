import Foundation
import RecoveryModel

/// `plan-set.json`: the N shard plans of one sharded recovery (`plan --shard K/N`), bound
/// together so that a reviewer approves one set id instead of N plan ids. Written by
/// `recover-tool combine`; `apply --plan-set` admits only a plan of the approved set, and
/// `verify --set` checks the whole recovery. Keys are snake_case (docs/PLAN-FORMAT.md).
public struct PlanSet: Codable, Hashable, Sendable {
    public static let formatName = "recover-tool-plan-set"
    public static let currentVersion = 1
    public static let fileName = "plan-set.json"

    public var format: String
    public var formatVersion: Int
    /// SHA-256 over the set's window, N, database and each shard's plan id (`computeSetID`).
    public var setID: String
    public var window: PlanDocument.WindowRange
    public var shardCount: Int
    /// The live database every shard was planned against (the first shard's record of it).
    public var database: DatabaseIdentity
    /// One per shard, in shard order: every K of 0..<N once.
    public var plans: [Member]
    /// The shards' counts added up.
    public var counts: PlanDocument.Counts
    /// False when any shard's evidence is incomplete.
    public var complete: Bool

    public struct Member: Codable, Hashable, Sendable {
        public var shard: Shard
        public var planID: String
        /// The plan directory as given to `combine`.
        public var path: String
        public var counts: PlanDocument.Counts
        public var complete: Bool
    }

    /// The hash that names the set: every member's plan id by shard, and what binds them (the
    /// window, N, the database). A set with one plan more, less or other has another id.
    public func computeSetID() -> String {
        let h = SHA256()
        h.update("\(Self.formatName) \(formatVersion)\n")
        h.update("window \(window.from) \(window.to)\n")
        h.update("shards \(shardCount)\n")
        h.update(database.planIDLine)
        for member in plans {
            h.update("plan \(member.shard) \(member.planID)\n")
        }
        return h.finalize()
    }

    /// Binds checked plans into a set: each made with `--shard K/N` for one N, every K once, for
    /// one window and one database. Throws `PlanError(.setRefused)` naming what is wrong.
    public static func combine(_ plans: [PlanDirectory]) throws -> PlanSet {
        guard let first = plans.first else { throw PlanError(.setRefused, path: "", detail: "no plan was given") }
        var problems: [String] = []
        var sharded: [(PlanDirectory, Shard)] = []
        for plan in plans {
            if let shard = plan.document.shard { sharded.append((plan, shard)) } else {
                problems.append("'\(plan.path)' is a plan of all users (no --shard), not a shard")
            }
        }
        let counts = Set(sharded.map(\.1.count))
        if counts.count > 1 {
            problems.append("the plans split the users in different ways: "
                + sharded.map { "'\($0.0.path)' is shard \($0.1)" }.joined(separator: ", "))
        } else if let n = counts.first {
            for k in 0..<n {
                let holders = sharded.filter { $0.1.index == k }.map { "'\($0.0.path)'" }
                if holders.isEmpty { problems.append("shard \(k)/\(n) is missing") }
                if holders.count > 1 { problems.append("shard \(k)/\(n) is given \(holders.count) times: \(holders.joined(separator: ", "))") }
            }
        }
        for plan in plans where plan.document.window != first.document.window {
            problems.append("'\(plan.path)' is for window [\(plan.document.window.from), \(plan.document.window.to)), "
                + "'\(first.path)' for [\(first.document.window.from), \(first.document.window.to))")
        }
        // Every shard reads every input, keeping its own users: by content (a file's SHA-256, a
        // snapshot database's name), since each pod may mount the same files at another path.
        func inputs(_ plan: PlanDirectory) -> [String] {
            plan.document.inputs.map { "\($0.kind.rawValue) \($0.sha256 ?? $0.path)" }.sorted()
        }
        for plan in plans where inputs(plan) != inputs(first) {
            problems.append("'\(plan.path)' read other inputs than '\(first.path)': every shard reads every log and snapshot of the recovery")
        }
        for plan in plans where !plan.document.database.isSameDatabase(as: first.document.database) {
            problems.append("'\(plan.path)' was planned against \(plan.document.database), '\(first.path)' against \(first.document.database)")
        }
        // The same identity through another connection string may be a physical copy of the
        // cluster (pg_basebackup keeps its system identifier, OIDs and names): one --db for all.
        for plan in plans where plan.document.database.isSameDatabase(as: first.document.database)
            && plan.document.database.target != first.document.database.target {
            problems.append("'\(plan.path)' was planned through '\(plan.document.database.target)', '\(first.path)' through "
                + "'\(first.document.database.target)': a physical copy of a cluster has its identity; plan every shard with the same --db")
        }
        guard problems.isEmpty, let n = counts.first else {
            throw PlanError(.setRefused, path: first.path, detail: problems.joined(separator: "; "))
        }
        var total = PlanDocument.Counts()
        for plan in plans {
            guard total.add(plan.document.counts) else {
                throw PlanError(.setRefused, path: first.path, detail: "the plans' counts do not add up (a sum beyond \(Int.max)): plan.json was edited")
            }
        }
        var set = PlanSet(
            format: formatName, formatVersion: currentVersion, setID: "", window: first.document.window, shardCount: n,
            database: first.document.database,
            plans: sharded.sorted { $0.1.index < $1.1.index }.map { plan, shard in
                Member(shard: shard, planID: plan.document.planID, path: plan.path, counts: plan.document.counts,
                       complete: plan.document.completeness.complete)
            },
            counts: total, complete: plans.allSatisfy(\.document.completeness.complete))
        set.setID = set.computeSetID()
        return set
    }

    /// Reads `DIR/plan-set.json` and checks it against its set id.
    public static func load(_ directory: String) throws -> PlanSet {
        let path = directory + "/" + fileName
        let data: Data
        do {
            // Only a regular file, opened without blocking, as plan.json is read.
            data = Data(try RegularFile.contents(of: path, limit: PlanDirectory.maximumPlanJSONBytes))
        } catch {
            throw PlanError(.notASet, path: directory, detail: "cannot read \(fileName): \(error.reason)")
        }
        let set: PlanSet
        do {
            set = try PlanJSON.decoder.decode(PlanSet.self, from: data)
        } catch {
            throw PlanError(.notASet, path: directory, detail: "\(fileName) does not parse as a plan set (\(PlanJSON.reason(error)))")
        }
        guard set.format == formatName, set.formatVersion == currentVersion else {
            throw PlanError(.notASet, path: directory, detail: "\(fileName) is '\(set.format)' version \(set.formatVersion), not '\(formatName)' version \(currentVersion)")
        }
        guard set.computeSetID() == set.setID else {
            throw PlanError(.notASet, path: directory, detail: "\(fileName) does not match its set id \(set.setID)")
        }
        return set
    }

    /// Admits the plan `planID` (of `shard`, in `planPath`) to an apply of the set the reviewer
    /// approved as `approvedID`: this set must be the approved one, and the plan its plan for
    /// that shard. Throws `PlanError(.notInSet)` otherwise.
    public func admit(planID: String, shard: Shard?, planPath: String, approvedID: String) throws {
        guard setID == approvedID else {
            throw PlanError(.notInSet, path: planPath, detail: "the plan set is \(setID), not the approved \(approvedID)")
        }
        guard let member = plans.first(where: { $0.planID == planID }) else {
            throw PlanError(.notInSet, path: planPath, detail: "plan \(planID) is not in the approved plan set \(setID)")
        }
        guard member.shard == shard else {
            throw PlanError(.notInSet, path: planPath,
                            detail: "plan \(planID) is shard \(shard.map(\.description) ?? "-") but the set holds it as shard \(member.shard)")
        }
    }
}

extension PlanDocument.Counts {
    /// Adds `other`'s counts; false, and `self` unusable, when a sum does not fit (edited counts).
    mutating func add(_ other: Self) -> Bool {
        func add(_ a: inout Int, _ b: Int) -> Bool {
            let (sum, overflow) = a.addingReportingOverflow(b)
            a = sum
            return !overflow
        }
        return add(&recovered, other.recovered) && add(&alreadyPresent, other.alreadyPresent)
            && add(&offlineOverlap, other.offlineOverlap) && add(&deleted, other.deleted) && add(&orphans, other.orphans)
            && add(&duplicates, other.duplicates) && add(&quarantined, other.quarantined)
    }
}
