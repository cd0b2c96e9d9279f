// swift-tools-version:6.0
// recover-tool: gets lost time slots back after an incident.
// Pipeline: read sources (LogReplay, SnapshotDiff) → fold (SlotFold) → resolve (ConflictResolver)
// → report (PlanReport) → commit (RecoveryCommit). RecoverTool is the thin executable over them.
import PackageDescription

let package = Package(
    name: "recover-tool",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "recover-tool", targets: ["RecoverTool"]),
        // The readers, for the fuzz targets in Fuzz/.
        .library(name: "RecoveryLibraries", targets: ["LogReplay", "SnapshotDiff", "SourceFiles"]),
        // Every library, for the generator and the benchmarks in Tools/.
        .library(
            name: "RecoveryPipeline",
            targets: [
                "RecoveryModel", "SourceFiles", "PostgresClient", "LogReplay", "SnapshotDiff", "LiveDatabase",
                "SlotFold", "ConflictResolver", "PlanFormat", "PlanReport", "RecoveryCommit",
            ]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries, from Debian's -dev packages.
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // SHA-256 from OpenSSL's libcrypto (libpq-dev depends on libssl-dev): uses the CPU's SHA
        // instructions, 8x a portable Swift loop here.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Linux's signalfd (glibc's header, not in Swift's Glibc module): how `plan` reads a signal.
        .systemLibrary(name: "CSignalFD"),

        // The shared vocabulary: slot keys, slots, windows, times, provenance, quarantine.
        .target(name: "RecoveryModel", dependencies: ["CCrypto", "CSignalFD"]),
        // Files → LZ4 frames → lines, in fixed buffers.
        .target(name: "SourceFiles", dependencies: ["CLZ4", "RecoveryModel"]),
        // libpq: connections, queries, COPY, transactions.
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "RecoveryModel"]),

        // 1. Read sources.
        .target(name: "LogReplay", dependencies: ["RecoveryModel", "SourceFiles"]),
        .target(name: "SnapshotDiff", dependencies: ["RecoveryModel", "SourceFiles", "PostgresClient"]),
        // The read stage of `plan`: every log and snapshot into fold events, with each input's health.
        .target(
            name: "ReadStage",
            dependencies: ["RecoveryModel", "SourceFiles", "LogReplay", "SnapshotDiff", "PostgresClient", "PlanFormat"]
        ),
        // 2. Fold events into one version per slot.
        .target(name: "SlotFold", dependencies: ["RecoveryModel"]),
        // `plan --memory-limit`: the read events spilled to LZ4 files by range of users, read back a
        // range at a time, and the recovered slots spilled in order.
        .target(name: "EventSpill", dependencies: ["RecoveryModel", "CLZ4", "SlotFold"]),
        // What the live database holds for a window (`LiveState`), read with libpq.
        .target(name: "LiveDatabase", dependencies: ["RecoveryModel", "PostgresClient"]),
        // 3. Resolve against the live state (pure: no database).
        .target(name: "ConflictResolver", dependencies: ["RecoveryModel", "SlotFold"]),
        // CONTRACT §7: which rows a bad job rewrote, restored from a snapshot taken before it.
        .target(name: "Reconcile", dependencies: ["RecoveryModel", "ConflictResolver"]),
        // The plan contract between `plan` and `apply`: plan.json, the plan directory and its
        // hashes, the rows file format, plan errors.
        .target(name: "PlanFormat", dependencies: ["RecoveryModel"]),
        // 4. Report: writes the plan directory and renders report.md, report.html, CSV.
        .target(name: "PlanReport", dependencies: ["RecoveryModel", "PlanFormat", "SlotFold", "ConflictResolver", "Reconcile"]),
        // `explain`: one slot's outcome in a plan and the events behind it, read again.
        .target(name: "PlanExplain", dependencies: ["RecoveryModel", "PlanFormat", "ReadStage", "SlotFold", "PostgresClient"]),
        // 5. Commit: apply, verify, revert, runs (no renderers: only the plan format).
        .target(name: "RecoveryCommit", dependencies: ["RecoveryModel", "PostgresClient", "PlanFormat"]),
        // `plan` and `reconcile` up to the writer: connect, read, fold, resolve (or reconcile)
        // against the live database, into the evidence the plan writers take.
        .target(
            name: "PlanPipeline",
            dependencies: [
                "RecoveryModel", "SourceFiles", "PostgresClient", "SnapshotDiff", "ReadStage", "EventSpill", "LiveDatabase", "SlotFold",
                "ConflictResolver", "Reconcile", "PlanReport",
            ]
        ),

        .executableTarget(
            name: "RecoverTool",
            dependencies: [
                "RecoveryModel", "SourceFiles", "PostgresClient", "LogReplay", "SnapshotDiff", "SlotFold", "Reconcile",
                "PlanFormat", "PlanReport", "PlanPipeline", "PlanExplain", "RecoveryCommit", "EventSpill",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Tests in three tiers. Unit (no server: `swift test --skip 'IntegrationTests|RecoverToolTests'`),
        // integration (*IntegrationTests: a real PostgreSQL, real lz4 and pg_dump output), and end to
        // end (RecoverToolTests: the built recover-tool).
        .target(
            name: "TestSupport",
            dependencies: ["PostgresClient", "RecoveryModel", "SlotFold", "ConflictResolver", "PlanFormat", "PlanReport"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "RecoveryModelTests", dependencies: ["RecoveryModel"]),
        .testTarget(name: "SourceFilesTests", dependencies: ["SourceFiles", "TestSupport"]),
        .testTarget(name: "LogReplayTests", dependencies: ["LogReplay", "TestSupport"]),
        .testTarget(name: "SlotFoldTests", dependencies: ["SlotFold", "LogReplay"]),
        .testTarget(name: "EventSpillTests", dependencies: ["EventSpill", "ReadStage", "SlotFold", "ConflictResolver", "TestSupport"]),
        .testTarget(name: "SnapshotDiffTests", dependencies: ["SnapshotDiff"]),
        .testTarget(name: "SnapshotDiffIntegrationTests", dependencies: ["SnapshotDiff", "TestSupport"]),
        .testTarget(name: "PostgresClientIntegrationTests", dependencies: ["PostgresClient", "TestSupport"]),
        .testTarget(name: "LiveDatabaseIntegrationTests", dependencies: ["LiveDatabase", "TestSupport"]),
        .testTarget(name: "ConflictResolverTests", dependencies: ["ConflictResolver", "SlotFold"]),
        .testTarget(
            name: "PlanReportTests",
            dependencies: ["PlanFormat", "PlanReport", "ConflictResolver", "SlotFold", "RecoveryModel", "TestSupport"]
        ),
        .testTarget(name: "ReconcileTests", dependencies: ["Reconcile", "ConflictResolver", "RecoveryModel"]),
        .testTarget(
            name: "ReconcileIntegrationTests",
            dependencies: ["Reconcile", "ConflictResolver", "RecoveryModel", "SnapshotDiff", "LiveDatabase", "TestSupport"]),
        .testTarget(name: "RecoveryCommitIntegrationTests", dependencies: ["RecoveryCommit", "PlanFormat", "PlanReport", "TestSupport"]),
        .testTarget(
            name: "RecoverToolTests",
            dependencies: [
                "TestSupport", "PlanFormat", "PlanReport", "RecoveryModel", "SlotFold",
                // the error types whose codes docs/EXIT-STATUS.md lists
                "SourceFiles", "SnapshotDiff", "PostgresClient", "RecoveryCommit", "Reconcile", "PlanExplain", "EventSpill",
            ]
        ),
    ]
)
