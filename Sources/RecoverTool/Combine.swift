import ArgumentParser
import PlanFormat
import PlanReport
import RecoveryModel

/// `recover-tool combine DIR... --out SETDIR`: one review for a sharded recovery.
struct Combine: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bind the shard plans of a recovery into one plan set",
        discussion: """
            Checks every plan (its hashes), then that they are shards 0 to N-1 of one N, each once, \
            for one window and one database, and writes plan-set.json, report.md and report.html \
            into --out. The reviewer approves the set id; 'apply <dir> --plan-set <set-id> --set <setdir>' \
            then applies only a plan of that set. Changes nothing in the database.

            EXAMPLES:
              recover-tool combine plan-0-of-2 plan-1-of-2 --out plan-set
            """)

    @Argument(help: ArgumentHelp("The shards' plan directories, written by 'plan --shard K/N'.", valueName: "dir"))
    var directories: [String]

    @Option(name: [.long, .customShort("o")], help: ArgumentHelp("The set directory to create.", valueName: "setdir"))
    var out: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        // As plan: a signal ends the run with its status and takes the staging directory away.
        SignalExit.beforeEnd = { StatusLine.standardError.close() }
        SignalExit.install()
        let plans = try output.log.timed("check") { try directories.map { try PlanDirectory.load($0) } }
        let set = try output.log.timed("combine") { try PlanSet.combine(plans) }
        _ = try output.log.timed("write") { try SetReport.write(set, plans: plans.map(\.document), to: out) }
        try output.emit(CombineOutput(directory: out, planSet: set)) {
            """
            plan set \(set.setID)
            window [\(set.window.from), \(set.window.to)), \(set.shardCount) shards, \(set.counts.recovered) slots to recover\
            \(set.complete ? "" : ", evidence INCOMPLETE")
            written: \(out)/report.md, \(out)/report.html, \(out)/\(PlanSet.fileName)
            review \(out)/report.md, then apply every shard with --plan-set \(set.setID) --set \(out)

            """
        }
    }
}
