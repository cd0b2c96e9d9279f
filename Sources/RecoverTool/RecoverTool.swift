import ArgumentParser
import RecoveryModel

@main
struct RecoverTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-tool",
        abstract: "Recover lost time slots after an incident, from logs and backups",
        discussion: """
            The steps of a recovery: scan the logs, diff a snapshot, plan (a dry run that writes a \
            plan directory for review), show it, apply the approved plan in one transaction, \
            verify the run, and revert it if needed; runs lists what was applied, explain tells \
            why a slot was or was not recovered. Every subcommand takes --json (one JSON object on \
            standard output, with format_version, and an error object on failure).

            EXIT STATUS:
            \(ExitStatus.helpList)

            EXAMPLES:
              recover-tool plan --from 2018-07-25T14:55:00Z --to 2018-07-26T01:45:00Z \\
                --logs /srv/logs --snapshot backup.sql.lz4 -o /srv/incident/plan
              recover-tool show /srv/incident/plan
              recover-tool apply /srv/incident/plan --yes --plan-id <id> --json
            """,
        version: ToolVersion.current,
        subcommands: [
            Scan.self, Diff.self, Plan.self, ReconcileCommand.self, Combine.self, Show.self, Explain.self, Apply.self, Verify.self,
            Revert.self, Runs.self,
        ]
    )
}
