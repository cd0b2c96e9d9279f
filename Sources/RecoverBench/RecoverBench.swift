import ArgumentParser

/// `recover-bench`: measurements of the pipeline's stages, one subcommand per stage. Results go
/// to BENCHMARKS.md by hand, with the command that produced them.
@main
struct RecoverBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-bench",
        abstract: "Benchmarks of recover-tool's stages.",
        subcommands: [SnapshotBench.self]
    )
}
