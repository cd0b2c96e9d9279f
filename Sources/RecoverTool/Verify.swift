import ArgumentParser
import Foundation
import PlanFormat
import RecoveryCommit

/// `recover-tool verify --run ID [--run ID ...]`: checks committed runs against the database as
/// it is now; several runs are checked as one sharded recovery.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that runs are still as they were applied",
        discussion: """
            Checks that a run's slots are present, unchanged and clear of offline time. With several \
            --run options, the runs are one recovery split with --shard K/N: each run is checked, \
            and then the set: shards 0 to N-1 of one N, each applied once, for one window, no slot \
            inserted twice. --set <setdir> does the same for the runs of a plan set's plans. \
            Changes nothing.

            EXAMPLES:
              recover-tool verify --run 12
              recover-tool verify --run 12 --run 13 --run 14 --json
              recover-tool verify --set plan-set
            """)

    @Option(name: .customLong("run"), help: ArgumentHelp(
        "The run id, as 'recover-tool runs' lists it; repeat it for every shard of a sharded recovery.", valueName: "id"))
    var runIDs: [Int64] = []

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "A plan set directory ('recover-tool combine'): verify the runs of all its shards as one recovery.", valueName: "setdir"))
    var setDirectory: String?

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("How many differing slots (and, for a reconcile run, memberships gone) to list.", valueName: "n"))
    var show = 50

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !runIDs.isEmpty || setDirectory != nil else {
            throw ValidationError("give '--run' (a run id, as 'recover-tool runs' lists them; repeatable) or '--set' (a plan set directory)")
        }
        guard runIDs.isEmpty || setDirectory == nil else {
            throw ValidationError("give '--run' or '--set', not both: '--set' checks every run of the set")
        }
        guard show >= 0 else { throw ValidationError("'--show' must be 0 or more") }
    }

    func run() throws {
        // The result is written once the ticker's line is cleared, on a line of its own.
        let (set, text, failure) = try output.log.timed("verify") { try verify() }
        guard set.isClean else { try output.emit(set, failing: failure) { text } }
        try output.emit(set) { text }
    }

    /// The runs' report (one JSON shape whatever the number of runs: a set, of one run with no
    /// set problems for a single `--run`), its text, and the failure to report if it is not clean.
    private func verify() throws -> (ShardSetReport, String, CommitError) {
        if let setDirectory {
            let set = try RecoveryVerify.verifySet(PlanSet.load(setDirectory), database: database.target, limit: show)
            return (set, RunText.verify(set), RunText.verifyFailure(set))
        }
        if runIDs.count == 1 {
            let report = try RecoveryVerify.verify(run: runIDs[0], database: database.target, limit: show)
            return (ShardSetReport(runs: [report], problems: []), RunText.verify(report), RunText.verifyFailure(report))
        }
        let set = try RecoveryVerify.verifyShards(runs: runIDs, database: database.target, limit: show)
        return (set, RunText.verify(set), RunText.verifyFailure(set))
    }
}
