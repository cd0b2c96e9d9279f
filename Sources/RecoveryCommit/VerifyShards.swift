import PostgresClient
import RecoveryModel

/// What `verify --run A --run B ...` found for a recovery split with `--shard K/N`: each run's
/// own report, and what is wrong with the runs as a set.
public struct ShardSetReport: Sendable, Encodable {
    public var runs: [VerifyReport]
    /// One line per problem of the set: a shard without a run, a shard run twice, runs of
    /// different windows or N, a slot inserted by two runs, a run holding another shard's user,
    /// a reverted run. Empty when the set is whole.
    public var problems: [String]

    public init(runs: [VerifyReport], problems: [String]) {
        self.runs = runs
        self.problems = problems
    }

    /// Every run verifies and is applied, and together they are shards 0..<N of one N, for one
    /// window, with no slot twice.
    public var isClean: Bool {
        problems.isEmpty && runs.allSatisfy { $0.isClean }
    }

    enum CodingKeys: String, CodingKey { case runs, problems, clean }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runs, forKey: .runs)
        try c.encode(problems, forKey: .problems)
        try c.encode(isClean, forKey: .clean)
    }
}

extension RecoveryVerify {
    /// Verifies each run (as `verify(run:)` does), then the set: every run applied and sharded,
    /// all of one kind (recover or reconcile), with the same N and window, exactly one run for each K of 0..<N, no slot key inserted
    /// by two runs, and every user of a run's slots in that run's shard. Changes nothing.
    public static func verifyShards(runs ids: [Int64], database: ConnectionTarget, limit: Int = 50) throws -> ShardSetReport {
        var seen = Set<Int64>()
        let ids = ids.filter { seen.insert($0).inserted }
        let reports = try ids.map { try verify(run: $0, database: database, limit: limit) }
        var problems: [String] = []
        for report in reports where report.run.status == .reverted {
            problems.append("run \(report.run.id) was reverted: the sharded recovery is no longer whole")
        }

        // Shards: one N, each K once.
        var shards: [(run: RunRecord, shard: Shard)] = []
        for run in reports.map(\.run) {
            guard let shard = run.shard else {
                problems.append("run \(run.id) has no shard: it is a whole recovery; verify it alone")
                continue
            }
            shards.append((run, shard))
        }
        let counts = Set(shards.map(\.shard.count))
        if counts.count > 1 {
            problems.append("the runs split the users in different ways: "
                + shards.map { "run \($0.run.id) is shard \($0.shard)" }.joined(separator: ", "))
        } else if let n = counts.first {
            for k in 0..<n {
                let holders = shards.filter { $0.shard.index == k }.map { String($0.run.id) }
                if holders.isEmpty { problems.append("no run for shard \(k)/\(n)") }
                if holders.count > 1 { problems.append("shard \(k)/\(n) was applied by \(holders.count) runs: \(holders.joined(separator: ", "))") }
            }
        }
        if let first = reports.first?.run {
            for run in reports.map(\.run) where run.kind != first.kind {
                problems.append("run \(run.id) is a \(run.kind) run and run \(first.id) a \(first.kind) run: the runs of one recovery are of one kind")
            }
            for run in reports.map(\.run) where run.window != first.window {
                problems.append("run \(run.id) is for window \(run.window), run \(first.id) for \(first.window)")
            }
        }
        guard !ids.isEmpty else { return ShardSetReport(runs: reports, problems: problems) }

        // Slots: none twice, each run's users in its shard.
        let connection = try RecoveryConnection.open(database, doing: "cannot verify the runs' shards", subcommand: "verify")
        let doing = "cannot verify the runs' shards in '\(connection.redactedConnectionInfo)'"
        do {
            try connection.transaction(readOnly: true, isolation: .repeatableRead) { connection in
                try connection.executeSimple(RecoverySchema.defaultSessionSettings)
                let set = "{" + ids.map(String.init).joined(separator: ",") + "}"
                let twice = try connection.execute(
                    """
                    SELECT user_id, slot_start, string_agg(run_id::text, ', ' ORDER BY run_id), count(*) OVER ()
                    FROM recovery.run_slots WHERE run_id = ANY($1::bigint[])
                    GROUP BY user_id, slot_start HAVING count(*) > 1
                    ORDER BY user_id, slot_start LIMIT $2
                    """, [set, String(limit)], context: "looking for slots inserted by two runs")
                for row in twice.rows {
                    let key = row[0].flatMap { Int64($0) }.flatMap { user in
                        row[1].flatMap { Timestamp.parse($0) }.map { SlotKey(userID: user, slotStart: $0) }
                    }
                    problems.append("slot \(key.map(String.init(describing:)) ?? "?") was inserted by runs \(row[2] ?? "?")")
                }
                if let total = twice.rows.first?[3].flatMap({ Int($0) }), total > twice.rows.count {
                    problems.append("(\(total - twice.rows.count) more slots inserted by two runs)")
                }
                for (run, shard) in shards {
                    let users = try connection.execute(
                        "SELECT DISTINCT user_id FROM recovery.run_slots WHERE run_id = $1 ORDER BY user_id",
                        [String(run.id)], context: "reading run \(run.id)'s users")
                    let strays = try users.read(table: "recovery.run_slots", key: [(0, "user_id")]) { try $0.int64(0, "user_id") }
                        .filter { !shard.contains(userID: $0) }
                    if !strays.isEmpty {
                        problems.append("run \(run.id) (shard \(shard)) inserted slots of \(strays.count) users of other shards, "
                            + "first user \(strays[0])")
                    }
                }
            }
        } catch let error as PostgresError {
            throw CommitError.database(error, doing: doing, lockHint: "try again")
        }
        return ShardSetReport(runs: reports, problems: problems)
    }
}
