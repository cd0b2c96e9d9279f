import ArgumentParser

@main
struct RecoverTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-tool",
        abstract: "Recovers lost time slots after an incident, from server logs and backup snapshots.",
        subcommands: [Scan.self, Plan.self, Diff.self]
    )
}
