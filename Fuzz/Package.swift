// swift-tools-version:6.0
// libFuzzer targets over recover-tool's readers. A separate package: an executable without a
// `main` breaks the main package's `swift build`. Run one with `scripts/fuzz.sh TARGET SECONDS`.
import PackageDescription

let package = Package(
    name: "recover-tool-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "recover-tool", path: "..")],
    targets: [
        // One log line → EventLineParser.
        .executableTarget(
            name: "FuzzEventLine",
            dependencies: [.product(name: "RecoveryLibraries", package: "recover-tool")]
        ),
        // Bytes as an `.lz4` file → LineReader → EventLineParser.
        .executableTarget(
            name: "FuzzLZ4Lines",
            dependencies: [.product(name: "RecoveryLibraries", package: "recover-tool")]
        ),
        // One COPY text row → CopyText (escapes, integers, times, array literals) and SlotRowDecoder.
        .executableTarget(
            name: "FuzzCopyText",
            dependencies: [.product(name: "RecoveryLibraries", package: "recover-tool")]
        ),
        // plan.json, a NUL byte, rows.tsv → PlanDirectory.load, as given and with the hashes and
        // plan id recomputed.
        .executableTarget(
            name: "FuzzPlanLoader",
            dependencies: [.product(name: "RecoveryPipeline", package: "recover-tool")]
        ),
    ]
)
