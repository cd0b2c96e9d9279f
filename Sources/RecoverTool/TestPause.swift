import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A test-only hook: with `RECOVER_TOOL_TEST_PAUSE_AT=NAME` in the environment, the process
/// stops itself (`SIGSTOP`) when an apply reaches the checkpoint NAME (`lock-acquired`,
/// `copy-chunk-2`, `committing`, ...), after writing `recover-tool: test pause at NAME (pid N)`
/// on standard error. The fault tests then kill it (`SIGKILL`), or stop the server and let it go
/// on (`SIGCONT`). Unset, it does nothing.
struct TestPause {
    let point: String?

    init(_ environment: [String: String]) {
        point = environment["RECOVER_TOOL_TEST_PAUSE_AT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func reached(_ name: String) {
        guard let point, point == name else { return }
        FileHandle.standardError.write(Data("recover-tool: test pause at \(name) (pid \(getpid()))\n".utf8))
        raise(SIGSTOP)
    }
}
