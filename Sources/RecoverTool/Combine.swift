import ArgumentParser
import Foundation
import PlanFormat
import PlanReport

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

    /// Refuses an `--out` inside one of the plan directories: the set's files would be files the
    /// plan does not list, and apply would refuse the plan (its directory holds what `plan`
    /// wrote, nothing else).
    func validate() throws {
        let setPath = Self.realPath(of: out)
        for directory in directories {
            let planPath = Self.realPath(of: directory)
            if setPath == planPath || setPath.hasPrefix(planPath.hasSuffix("/") ? planPath : planPath + "/") {
                throw ValidationError("'--out' \(out) is inside the plan directory '\(directory)', which must hold only what plan wrote: "
                    + "choose a set directory outside the plans")
            }
        }
    }

    /// `path` with its existing part resolved (`realpath`), the rest appended as given: `..`
    /// and symbolic links cannot hide where a new directory would be made.
    static func realPath(of path: String) -> String {
        var existing = path, rest: [String] = []
        while true {
            if let resolved = realpath(existing, nil) {
                defer { free(resolved) }
                return ([String(cString: resolved)] + rest.reversed()).joined(separator: "/")
            }
            let url = URL(fileURLWithPath: existing)
            let parent = url.deletingLastPathComponent().path
            guard parent != existing, !parent.isEmpty else { return path }
            rest.append(url.lastPathComponent)
            existing = parent
        }
    }

    func run() throws {
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
