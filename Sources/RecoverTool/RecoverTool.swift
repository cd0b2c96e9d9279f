import ArgumentParser
import RecoveryModel

@main
struct RecoverTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-tool",
        abstract: "Recovers lost time slots after an incident, from server logs and backup snapshots.",
        version: ToolVersion.current,
        subcommands: [
            Scan.self, Diff.self, Plan.self, ReconcileCommand.self, Combine.self, Show.self, Explain.self, Apply.self, Verify.self,
            Revert.self, Runs.self,
        ]
    )
}
