import ArgumentParser

/// `recover-bench`: benchmarks of the pipeline's stages, one subcommand each. Release builds only:
/// `swift run -c release recover-bench SUBCOMMAND`.
@main
struct RecoverBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-bench",
        abstract: "Benchmarks of recover-tool's stages (run a release build).",
        subcommands: [LogsBenchmark.self]
    )
}
