// swift-tools-version:6.0
// recover-tool's own tools, kept out of the shipped package: the incident generator (fixtures and
// benchmark inputs) and the stage benchmarks. Built by scripts/make-incident.sh, scripts/bench-plan.sh
// and scripts/test.sh (which checks that they still compile against the libraries).
import PackageDescription

let package = Package(
    name: "recover-tool-tools",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "incident-generator", targets: ["IncidentGenerator"]),
        .executable(name: "recover-bench", targets: ["RecoverBench"]),
    ],
    dependencies: [
        .package(name: "recover-tool", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Writes a synthetic incident: logs, snapshot rows, databases, and its expected outcome.
        .executableTarget(
            name: "IncidentGenerator",
            dependencies: [
                .product(name: "RecoveryPipeline", package: "recover-tool"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks of the pipeline's stages, each against its floor (lz4 -dc, psql \copy).
        .executableTarget(
            name: "RecoverBench",
            dependencies: [
                .product(name: "RecoveryPipeline", package: "recover-tool"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
