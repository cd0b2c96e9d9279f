import Foundation
import TestSupport
import XCTest

/// The module graph, read from the manifest (`swift package dump-package`), runs one way: from the
/// shared vocabulary through read → fold → resolve → report → commit to the executable.
/// docs/ARCHITECTURE.md draws the same graph.
final class ModuleGraphTests: XCTestCase {
    /// Each library target's stage; a target may depend only on targets of its stage or earlier.
    static let stage: [String: Int] = [
        "CCrypto": 0, "CLZ4": 0, "CLibPQ": 0, "CSignalFD": 0,
        "RecoveryModel": 1,
        "SourceFiles": 2, "PostgresClient": 2, "PlanFormat": 2,
        "LogReplay": 3, "SnapshotDiff": 3, "LiveDatabase": 3, "ReadStage": 3,
        "SlotFold": 4, "EventSpill": 4,
        "ConflictResolver": 5, "Reconcile": 5,
        "PlanReport": 6, "PlanExplain": 6,
        "RecoveryCommit": 7, "PlanPipeline": 7,
        "RecoverTool": 8,
        "TestSupport": 9,
    ]

    func testNoEdgeRunsAgainstThePipeline() throws {
        let scratch = try TemporaryDirectory(prefix: "dump-package")
        let out = try runProcess("swift", ["package", "--scratch-path", scratch.path, "dump-package"],
                                 currentDirectory: Repository.root)
        XCTAssertEqual(out.status, 0, out.stderrText)
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: out.stdout) as? [String: Any])
        let targets = try XCTUnwrap(manifest["targets"] as? [[String: Any]])
        var edges = 0
        for target in targets {
            let name = try XCTUnwrap(target["name"] as? String)
            let type = target["type"] as? String
            let dependencies = (target["dependencies"] as? [[String: Any]] ?? []).compactMap { dependency -> String? in
                // {"byName": [NAME, null]} or {"target": [NAME, null]}; products of other packages are leaves.
                guard let pair = (dependency["byName"] ?? dependency["target"]) as? [Any] else { return nil }
                return pair.first as? String
            }
            let rank = type == "test" ? Int.max : try XCTUnwrap(Self.stage[name], "\(name): give the new target its stage in ModuleGraphTests.stage and docs/ARCHITECTURE.md")
            for dependency in dependencies {
                guard let dependencyRank = Self.stage[dependency] else {
                    XCTAssertNotNil(Self.stage[dependency], "\(name) → \(dependency): a target with no stage")
                    continue
                }
                XCTAssertLessThanOrEqual(dependencyRank, rank, "\(name) → \(dependency) runs against the pipeline")
                XCTAssertFalse(type != "test" && dependency == "TestSupport", "\(name) → TestSupport")
                edges += 1
            }
        }
        XCTAssertGreaterThan(edges, 20, "the manifest's edges were read")
    }

    /// The libraries under the resolver and the reports do not link libpq, and apply does not link
    /// the renderers: the edges the PlanFormat and LiveDatabase modules exist for.
    func testPureStagesStayPure() throws {
        let scratch = try TemporaryDirectory(prefix: "dump-package")
        let out = try runProcess("swift", ["package", "--scratch-path", scratch.path, "dump-package"],
                                 currentDirectory: Repository.root)
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: out.stdout) as? [String: Any])
        var graph: [String: [String]] = [:]
        for target in manifest["targets"] as? [[String: Any]] ?? [] {
            guard let name = target["name"] as? String else { continue }
            graph[name] = (target["dependencies"] as? [[String: Any]] ?? []).compactMap {
                (($0["byName"] ?? $0["target"]) as? [Any])?.first as? String
            }
        }
        func closure(_ name: String) -> Set<String> {
            var seen = Set<String>(), stack = [name]
            while let next = stack.popLast() {
                for d in graph[next] ?? [] where seen.insert(d).inserted { stack.append(d) }
            }
            return seen
        }
        for pure in ["SlotFold", "ConflictResolver", "PlanFormat", "PlanReport"] {
            XCTAssertFalse(closure(pure).contains("PostgresClient"), "\(pure) links libpq")
        }
        XCTAssertFalse(closure("RecoveryCommit").contains("PlanReport"), "apply links the renderers")
    }
}
