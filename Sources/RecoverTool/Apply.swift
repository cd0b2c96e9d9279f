import ArgumentParser
import PlanFormat
import RecoveryModel
import Foundation
import Logging
import PlanReport
import RecoveryCommit
import SourceFiles

/// `recover-tool apply DIR`: commits exactly the reviewed plan in DIR, in one transaction.
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commit a reviewed plan in one transaction",
        discussion: """
            Checks the plan's hashes, then in one transaction under the recovery lock: loads the rows \
            with COPY, drops the slots that gained a live row or an overlapping offline entry since \
            the plan, inserts the rest with source 'recovered', and records the run in the \
            'recovery' schema. Applying it again changes nothing. Undo it with \
            'recover-tool revert --run <id>'.

            On a terminal the plan's summary and the question go to the terminal, and only the \
            exact word 'yes' goes on; without one, --yes (with --plan-id) is required.

            EXAMPLES:
              recover-tool apply /srv/incident/plan --plan-id <id>
              recover-tool apply /srv/incident/plan --yes --plan-id <id> --json
              recover-tool apply /srv/incident/plan-0-of-4 --shard 0/4 --yes --plan-id <id>
            """
    )

    @Argument(help: ArgumentHelp("The plan directory written by 'recover-tool plan' or 'reconcile'.", valueName: "dir"))
    var directory: String

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var confirm: ConfirmOptions

    @Option(name: .customLong("plan-id"), help: ArgumentHelp(
        "The plan id the reviewer approved (plan.json's plan_id, as 'plan' prints it): refuse (exit 70) unless <dir>'s recomputed plan id is this one; --yes needs it. A sharded job may list its shards' ids, comma-separated.",
        valueName: "id"))
    var planID: String?

    @Flag(help: "Apply a plan whose earlier run was reverted, as a new run (otherwise it changes nothing).")
    var again = false

    @Option(help: ArgumentHelp("Refuse the plan if it would insert more than this many slots.", valueName: "n"))
    var maxSlots: Int?

    @Option(help: ArgumentHelp("Seconds one statement (the COPY, the insert) may run before it is cancelled.", valueName: "seconds"))
    var statementTimeout = RecoverySchema.defaultStatementTimeoutSeconds

    @Option(help: ArgumentHelp(
        "Refuse (exit 70) unless the plan was made with this '--shard K/N': a sharded job applies only its own shard's plan (env/N: K from JOB_COMPLETION_INDEX).",
        valueName: "K/N"), transform: ShardArgument.init(parsing:))
    var shard: ShardArgument?

    @Option(help: ArgumentHelp(
        "The plan set id the reviewer approved (plan-set.json's set_id, as 'combine' prints it): refuse (exit 70) unless <dir>'s plan is a shard of that set; with --set, it approves the plan as --plan-id does.",
        valueName: "set-id"))
    var planSet: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("The set directory 'recover-tool combine' wrote, for --plan-set.", valueName: "setdir"))
    var setDirectory: String?

    @OptionGroup var output: OutputOptions

    var log: LogOptions { output.log }

    func validate() throws {
        if let maxSlots, maxSlots < 0 { throw ValidationError("'--max-slots' must be 0 or more") }
        guard (planSet == nil) == (setDirectory == nil) else {
            throw ValidationError("'--plan-set' and '--set' go together: the approved set id, and the set directory 'combine' wrote")
        }
        if confirm.yes && planID == nil && planSet == nil {
            throw ValidationError(
                "'--yes' needs '--plan-id ID', the id of the plan the reviewer approved, so that exactly that plan is applied")
        }
        if let planID { _ = try Self.approvedIDs(planID) }
        if let planSet, !Self.isHash(planSet) {
            throw ValidationError("'--plan-set' '\(planSet)' is not a set id: 64 lowercase hexadecimal digits, as plan-set.json's set_id")
        }
        try ArgumentChecks.checkTimeout(statementTimeout, flag: "--statement-timeout")
    }

    func run() throws {
        if ReconcileDirectory.kind(of: directory) == ReconcileDocument.kind { return try runReconcile() }
        let plan = try admitted { try PlanDirectory.load($0) }
        try requireAdmitted(planID: plan.document.planID, shard: plan.document.shard)
        try commit(rowsPath: plan.rowsPath, rows: plan.document.rows.count, summary: ApplyText.summary(plan.document, path: directory)) {
            options, confirm, checkpoint in
            try RecoveryApply.apply(plan, database: database.target, options: options, confirm: confirm, checkpoint: checkpoint)
        }
    }
}

extension Apply {
    /// `<dir>` loaded by `load` (and so checked against its hashes); a plan error refuses it (70).
    func admitted<Directory>(_ load: (String) throws -> Directory) throws -> Directory {
        do { return try load(directory) } catch let error as PlanError { throw CommitError(refusing: error) }
    }

    /// Refuses (70) a plan that is not the approved one (`--plan-id`), not `--shard`'s, or not its
    /// shard's plan in the approved plan set: every check `apply` makes of a loaded plan.
    func requireAdmitted(planID: String, shard: Shard?) throws {
        try requireApproved(planID)
        try requireShard(shard)
        try requireInSet(planID: planID, shard: shard)
    }

    /// Refuses (70) a plan made for another shard than `--shard` says.
    func requireShard(_ planShard: Shard?) throws {
        guard let expected = shard?.shard, planShard != expected else { return }
        throw CommitError(
            .planRefused,
            "refusing the plan in '\(directory)': it was made for "
                + (planShard.map { "shard \($0)" } ?? "all users (no --shard)")
                + ", not shard \(expected) as --shard says; nothing was changed",
            location: directory, hint: "apply shard \(expected)'s own plan")
    }

    /// What every plan kind shares once the plan is checked: the confirmation (the database the
    /// session reached, then `summary`), the options from the flags, the test pauses and progress
    /// at each checkpoint, and the outcome printed.
    func commit(
        rowsPath: String, rows: Int, summary: [String],
        _ transaction: (ApplyOptions, (ApplyTarget) throws -> Void, (ApplyCheckpoint) -> Void) throws -> ApplyOutcome
    ) throws {
        try Confirmation.requireTerminal(
            yes: confirm.yes, flagHint: "apply the plan", yesHint: "--yes with --plan-id ID (or --plan-set SETID --set SETDIR)")
        var options = ApplyOptions(
            operatorName: confirm.operatorOrLogin, toolVersion: ToolVersion.current,
            maxSlots: maxSlots)
        options.lockTimeoutSeconds = confirm.lockTimeout
        options.againAfterRevert = again
        options.statementTimeoutSeconds = statementTimeout
        let pause = TestPause(ProcessInfo.processInfo.environment)
        pause.reached(ApplyCheckpoint.planChecked.description)
        let ticker = log.ticker()
        let steps = ApplySteps(
            logger: log.logger, progress: log.progress("loading rows (COPY)"), ticker: ticker, chunkBytes: options.chunkBytes,
            rowsBytes: InputDiscovery.fileSize(rowsPath) ?? 0, rows: rows)
        ticker.show("connecting")
        let yes = confirm.yes
        // Asked once connected (the database is the plan's): the status line cleared first.
        let ask = { (target: ApplyTarget) throws in
            guard !yes else { return }
            ticker.show(nil)
            log.endProgress()
            try Confirmation.require(
                ApplyText.target(target) + summary, question: "Apply this plan?", yes: yes, flagHint: "apply the plan")
        }
        let outcome: ApplyOutcome
        do {
            defer { ticker.stop() }
            outcome = try transaction(options, ask) { checkpoint in
                steps.reached(checkpoint)
                pause.reached(checkpoint.description)
            }
        }
        log.endProgress()
        try output.emit(ApplyOutput(outcome)) { ApplyText.outcome(outcome) }
    }

    /// Refuses (70) a plan whose recomputed id is not the approved one (`--plan-id`).
    func requireApproved(_ id: String) throws {
        guard let planID, !(try Self.approvedIDs(planID)).contains(id) else { return }
        throw CommitError(
            .planRefused,
            "refusing the plan in '\(directory)': its plan id is \(id), not the approved "
                + (planID.contains(",") ? "ones given" : planID) + " (--plan-id); nothing was changed",
            location: directory, hint: "apply the plan that was reviewed, or review this one")
    }

    /// Refuses (70) a plan that is not its shard's plan in the approved plan set (`--plan-set`,
    /// `--set`), or a set directory that is not the approved set.
    func requireInSet(planID: String, shard: Shard?) throws {
        guard let planSet, let setDirectory else { return }
        do {
            try PlanSet.load(setDirectory).admit(planID: planID, shard: shard, planPath: directory, approvedID: planSet)
        } catch let error as PlanError {
            throw CommitError(refusing: error, outcome: "nothing was changed")
        }
    }

    /// A SHA-256 as the tool writes it: 64 lowercase hexadecimal digits.
    static func isHash(_ text: String) -> Bool {
        text.count == 64 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// `--plan-id`'s ids: each 64 lowercase hexadecimal digits (a SHA-256), comma-separated.
    static func approvedIDs(_ text: String) throws -> Set<String> {
        let ids = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        for id in ids where !isHash(id) {
            throw ValidationError("'--plan-id' '\(id)' is not a plan id: 64 lowercase hexadecimal digits, as plan.json's plan_id")
        }
        return Set(ids)
    }
}

/// What `apply` shows while it runs: on a terminal, the step under way (the COPY's bytes, then
/// the re-checks, the insert and the commit with their seconds), and with `--verbose` each step
/// of the transaction and the seconds since the one before.
final class ApplySteps {
    let logger: Logger
    let progress: (@Sendable (Int64, Int64) -> Void)?
    let ticker: StageTicker
    let chunkBytes: Int
    let rowsBytes: Int64
    let rows: Int
    private var last = Date()

    init(logger: Logger, progress: (@Sendable (Int64, Int64) -> Void)?, ticker: StageTicker, chunkBytes: Int,
         rowsBytes: Int64, rows: Int) {
        self.logger = logger
        self.progress = progress
        self.ticker = ticker
        self.chunkBytes = chunkBytes
        self.rowsBytes = rowsBytes
        self.rows = rows
    }

    /// The step that starts at each checkpoint, as the progress line names it.
    func next(after checkpoint: ApplyCheckpoint) -> String? {
        switch checkpoint {
        case .connected, .transactionBegun: "waiting for the recovery lock"
        case .lockAcquired, .schemaReady, .previousRunChecked: "preparing"
        case .rowsTableCreated, .copyChunkSent: nil  // the COPY's own progress
        case .rowsLoaded, .runRecorded, .offlineLocked: "re-checking \(rows) rows against live"
        case .offlineRechecked, .budgetChecked, .usersGuarded: "writing \(rows) rows"
        case .slotsInserted, .countsRecorded: "recording the run"
        case .committing: "committing"
        case .committed: nil
        case .planChecked: "connecting"
        }
    }

    func reached(_ checkpoint: ApplyCheckpoint) {
        if case .copyChunkSent(let n) = checkpoint {
            progress?(min(Int64(n) * Int64(chunkBytes), rowsBytes), rowsBytes)
            return
        }
        ticker.show(next(after: checkpoint))
        let now = Date()
        logger.debug("step done", metadata: [
            "step": "\(checkpoint)", "seconds": "\(String(format: "%.3f", now.timeIntervalSince(last)))",
        ])
        last = now
    }
}
