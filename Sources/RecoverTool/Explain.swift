import ArgumentParser
import Foundation
import PlanExplain
import PlanFormat
import RecoveryModel

/// `recover-tool explain DIR --user U --slot T`: why one slot was recovered or not, with every
/// event behind it, for the support answer to "where is my 10:40 slot".
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain one slot's outcome and the events behind it",
        discussion: """
            Reads the plan's outcome for the slot (recovered, already present, offline overlap with \
            the entry, deleted, quarantined) and re-reads the plan's inputs for the slot's events: \
            each is listed in fold order with its file and line and the rule the fold applied \
            (the version kept, a duplicate upload, an orphan processed event, a deletion, replaced \
            by a later event), with the lines quarantined for the slot. Changes nothing.

            EXAMPLES:
              recover-tool explain /srv/incident/plan --user 1042 \\
                --slot 2018-07-25T17:40:00Z
              recover-tool explain /srv/incident/plan --user 1042 \\
                --slot 2018-07-25T10:40:00-07:00 --json
            """)

    @Argument(help: ArgumentHelp("The plan directory written by 'recover-tool plan'.", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("The user id.", valueName: "id"))
    var user: Int64

    @Option(help: ArgumentHelp("The slot's start, RFC 3339 with Z or an offset (a 10-minute boundary).", valueName: "time"))
    var slot: TimeArgument

    @OptionGroup var output: OutputOptions

    func validate() throws {
        let start = try slot.timestamp(flag: "--slot")
        guard start.microseconds % (600 * 1_000_000) == 0 else {
            throw ValidationError("'--slot' \(start) is not the start of a 10-minute slot (:00, :10, ... :50)")
        }
    }

    func run() throws {
        if ReconcileDirectory.kind(of: directory) == ReconcileDocument.kind {
            throw PlanError(.notAPlan, path: directory, detail: "it is a reconcile plan, and explain answers for recovery plans; "
                + "every decision of a reconcile plan is a line of its reconcile.csv")
        }
        let plan = try PlanDirectory.load(directory)
        let key = SlotKey(userID: user, slotStart: try slot.timestamp(flag: "--slot"))
        let explanation = try output.log.timed("explain") {
            try SlotExplanation.make(plan, key: key, progress: output.progress("reading logs"))
        }
        output.endProgress()
        try output.emit(explanation) { explanation.text }
    }
}
