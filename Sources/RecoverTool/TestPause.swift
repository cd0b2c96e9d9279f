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
/// on (`SIGCONT`). With `RECOVER_TOOL_TEST_HOLD_AT=NAME`, the thread that reaches NAME writes
/// `recover-tool: test hold at NAME (pid N)` above the progress line and waits there for good,
/// while the other threads go on, until a signal ends the process. Unset, they do nothing.
struct TestPause {
    let point: String?
    let hold: String?

    init(_ environment: [String: String]) {
        point = environment["RECOVER_TOOL_TEST_PAUSE_AT"].flatMap { $0.isEmpty ? nil : $0 }
        hold = environment["RECOVER_TOOL_TEST_HOLD_AT"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func reached(_ name: String) {
        if let hold, hold == name {
            StatusLine.standardError.write(line: "recover-tool: test hold at \(name) (pid \(getpid()))")
            while true { sleep(60) }
        }
        guard let point, point == name else { return }
        StandardStreams.writeError("recover-tool: test pause at \(name) (pid \(getpid()))\n")
        raise(SIGSTOP)
    }
}
