import ArgumentParser
import RecoveryModel
import Foundation
import PlanReport
import RecoveryCommit

/// `recover-tool apply DIR`: commits exactly the reviewed plan in DIR, in one transaction.
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commits a reviewed plan to the database in one transaction; a second apply changes nothing.",
        discussion: """
            Checks the plan's hashes, then in one transaction under the recovery lock: loads the rows \
            with COPY, drops the slots that gained a live row or an overlapping offline entry since \
            the plan, inserts the rest with source 'recovered', and records the run in the \
            'recovery' schema. Undo it with 'recover-tool revert --run ID'.
            """
    )

    @Argument(help: "The plan directory written by 'recover-tool plan'.")
    var directory: String

    @Option(help: "The database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    @Flag(help: "Apply without asking (required when standard input is not a terminal).")
    var yes = false

    @Option(name: .customLong("operator"), help: "Who applies, recorded in the run; default: the login name.")
    var operatorName: String?

    @Option(help: "Refuse the plan if it would insert more than this many slots.")
    var maxSlots: Int?

    @Option(help: "Seconds to wait for another apply or revert (the recovery lock) or a table lock.")
    var lockTimeout: Double = 30

    @Option(help: "Seconds one statement (the COPY, the insert) may run before it is cancelled.")
    var statementTimeout: Double = 900

    func validate() throws {
        if let maxSlots, maxSlots < 0 { throw ValidationError("'--max-slots' must be 0 or more") }
        guard lockTimeout > 0 else { throw ValidationError("'--lock-timeout' must be more than 0 seconds") }
        guard statementTimeout > 0 else { throw ValidationError("'--statement-timeout' must be more than 0 seconds") }
    }

    func run() throws {
        let plan: PlanDirectory
        do { plan = try PlanDirectory.load(directory) } catch let error as PlanError {
            throw CommitError(.planRefused, error.description, plan: error)
        }
        try Confirmation.require(
            ApplyText.summary(plan.document, path: directory), question: "Apply this plan?", yes: yes,
            flagHint: "apply the plan")
        var options = ApplyOptions(
            operatorName: operatorName ?? Confirmation.defaultOperator(), toolVersion: ToolVersion.current,
            maxSlots: maxSlots)
        options.lockTimeoutSeconds = lockTimeout
        options.statementTimeoutSeconds = statementTimeout
        let pause = TestPause(ProcessInfo.processInfo.environment)
        pause.reached(ApplyCheckpoint.planChecked.description)
        let outcome = try RecoveryApply.apply(plan, conninfo: db, options: options) { pause.reached($0.description) }
        print(ApplyText.outcome(outcome), terminator: "")
    }
}
