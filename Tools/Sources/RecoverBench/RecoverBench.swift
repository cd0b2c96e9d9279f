import ArgumentParser

/// `recover-bench`: benchmarks of the pipeline's stages, one subcommand each, each compared in the
/// same run with its limit (`lz4 -dc`, `psql \copy`). Release builds only:
/// `swift run -c release recover-bench SUBCOMMAND`. Results go to BENCHMARKS.md with the command.
@main
struct RecoverBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover-bench",
        abstract: "Benchmarks of recover-tool's stages (run a release build).",
        subcommands: [LogsBenchmark.self, SnapshotBench.self, DigestBench.self, ApplyBench.self]
    )
}
