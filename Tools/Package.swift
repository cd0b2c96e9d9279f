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
        .executable(name: "bad-job-generator", targets: ["BadJobGenerator"]),
    ],
    dependencies: [
        .package(name: "recover-tool", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The generators' one source of randomness: a seeded xoshiro256**.
        .target(name: "GeneratorRandom"),
        // Writes a synthetic incident: logs, snapshot rows, databases, and its expected outcome.
        .executableTarget(
            name: "IncidentGenerator",
            dependencies: [
                "GeneratorRandom",
                .product(name: "RecoveryPipeline", package: "recover-tool"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Writes a bad-job incident (CONTRACT §7) and the reconcile outcome it must give.
        .executableTarget(
            name: "BadJobGenerator",
            dependencies: [
                "GeneratorRandom",
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
