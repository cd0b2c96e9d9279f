// swift-tools-version:6.0
// libFuzzer targets for recover-tool, one executable target per fuzz target. Kept apart from the
// main package: a fuzz executable has no `main`, which would break `swift build` there.
// Build and run one with scripts/fuzz.sh TARGET SECONDS.
import PackageDescription

let package = Package(
    name: "recover-tool-fuzz",
    dependencies: [.package(name: "recover-tool", path: "..")],
    targets: [
        // The COPY text decoder, array literals and the time_slots row decoder.
        .executableTarget(
            name: "FuzzCopyText",
            dependencies: [.product(name: "RecoveryLibraries", package: "recover-tool")]
        ),
    ]
)
