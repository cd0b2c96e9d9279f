import ArgumentParser
import PlanFormat
import RecoveryModel

/// `recover-tool show DIR`: a plan's summary, warnings and approval line, without opening its files.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a plan's summary, warnings and approval line",
        discussion: """
            Checks the plan's hashes as apply does (a changed plan is refused, exit 70), then prints \
            its id, window, counts, the evidence's warnings, where the reports are, and the line a \
            reviewer writes to approve it. Changes nothing. A recovery plan or a reconcile plan.

            EXAMPLES:
              recover-tool show /srv/incident/plan
              recover-tool show /srv/incident/plan --json
            """)

    @Argument(help: ArgumentHelp("The plan directory written by 'recover-tool plan' or 'reconcile'.", valueName: "dir"))
    var directory: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        if ReconcileDirectory.kind(of: directory) == ReconcileDocument.kind {
            let document = try output.log.timed("check") { try ReconcileDirectory.load(directory).document }
            return try output.emit(ReconcileOutput(directory: directory, plan: document)) { text(document) }
        }
        let document = try output.log.timed("check") { try PlanDirectory.load(directory).document }
        try output.emit(PlanOutput(directory: directory, plan: document)) { text(document) }
    }

    /// A reconcile plan's summary, then the approval line.
    func text(_ document: ReconcileDocument) -> String {
        ReconcileCommand.summary(document, directory: directory) + Self.approval(document.planID)
    }

    /// A plan's summary, its warnings, its users with slots to recover, then the approval line.
    func text(_ document: PlanDocument) -> String {
        var text = PlanSummary.text(document, directory: directory)
        for warning in document.completeness.warnings { text += "warning: \(VisibleText.escaped(warning))\n" }
        text += "users: \(document.users.filter { $0.recovered > 0 }.count) with slots to recover; "
            + "notices for support in \(directory)/notices.csv\n"
        return text + Self.approval(document.planID)
    }

    /// The line a reviewer writes, and the one `apply` takes.
    static func approval(_ planID: String) -> String {
        "approve it with the line: approved plan \(planID)\n"
    }
}
