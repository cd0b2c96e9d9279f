import ArgumentParser
import Foundation
import RecoveryModel

/// `--shard K/N`, or `--shard env/N`: K from `JOB_COMPLETION_INDEX`, the index a Kubernetes
/// Indexed Job gives each of its pods (deploy/kubernetes, docs/KUBERNETES.md).
struct ShardArgument {
    var shard: Shard

    /// The variable `env/N` reads K from.
    static let indexVariable = "JOB_COMPLETION_INDEX"

    /// Parses `K/N` or `env/N`; an unset, non-numeric or out-of-range index is a usage error that
    /// names the variable, so a pod started outside its Job stops with one clear line.
    init(parsing text: String) throws {
        try self.init(parsing: text, environment: ProcessInfo.processInfo.environment)
    }

    init(parsing text: String, environment: [String: String]) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else {
            throw ValidationError("expected K/N or env/N, with N at least 1 and 0 <= K < N")
        }
        guard n <= Shard.maximumCount else { throw ValidationError("N must be from 1 to \(Shard.maximumCount)") }
        guard parts[0] == "env" else {
            guard let k = Int(parts[0]) else { throw ValidationError("K '\(parts[0])' is not a number from 0 to \(n - 1)") }
            guard let shard = Shard(index: k, count: n) else { throw ValidationError("K must be from 0 to \(n - 1)") }
            self.shard = shard
            return
        }
        guard let value = environment[Self.indexVariable] else {
            throw ValidationError(
                "\(Self.indexVariable) is not set; run it as a pod of an Indexed Job, or give K/\(n)")
        }
        guard let k = Int(value), let shard = Shard(index: k, count: n) else {
            throw ValidationError(
                "\(Self.indexVariable) is '\(value)', not an index from 0 to \(n - 1); the Job's completions must be \(n)")
        }
        self.shard = shard
    }
}
