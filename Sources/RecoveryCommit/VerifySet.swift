import PlanFormat
import PostgresClient
import RecoveryModel

extension RecoveryVerify {
    /// `verify --set SETDIR`: the whole of a sharded recovery approved as one plan set. Finds the
    /// latest run of each of the set's plans, then checks them as `verifyShards` does (each run,
    /// then every K of one N once, one window, no slot twice); a shard of the set that was never
    /// applied is named. Changes nothing.
    public static func verifySet(_ set: PlanSet, database: ConnectionTarget, limit: Int = 50) throws -> ShardSetReport {
        let connection = try RecoveryConnection.open(database, doing: "cannot verify plan set \(set.setID)", subcommand: "verify")
        let doing = "cannot verify plan set \(set.setID) in '\(connection.redactedConnectionInfo)'"
        var runs: [String: Int64] = [:]
        do {
            try connection.transaction(readOnly: true) { connection in
                // The database the set was planned against, or a refusal naming both (70), before
                // its runs are looked for where they cannot be.
                try RecoveryConnection.requireSameDatabase(
                    live: try RecoveryConnection.identity(of: connection, doing: doing), recorded: set.database,
                    refusing: "cannot verify plan set \(set.setID): it was planned against")
                guard try RecoverySchema.installedVersion(connection) > 0 else { return }
                let found = try connection.execute(
                    """
                    SELECT DISTINCT ON (plan_id) plan_id, id FROM recovery.runs
                    WHERE plan_id = ANY($1::text[]) ORDER BY plan_id, id DESC
                    """, ["{" + set.plans.map(\.planID).joined(separator: ",") + "}"], context: "finding the set's runs")
                for row in found.rows {
                    if let plan = row[0], let id = row[1].flatMap({ Int64($0) }) { runs[plan] = id }
                }
            }
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: "try again")
        }
        let ids = set.plans.compactMap { runs[$0.planID] }
        guard !ids.isEmpty else {
            return ShardSetReport(runs: [], problems: ["no plan of set \(set.setID) was applied: no run in recovery.runs"])
        }
        var report = try verifyShards(runs: ids, database: database, limit: limit)
        for member in set.plans where runs[member.planID] == nil {
            report.problems.removeAll { $0 == "no run for shard \(member.shard)" }
            report.problems.append("no run for shard \(member.shard): its plan \(member.planID) was not applied")
        }
        return report
    }
}
