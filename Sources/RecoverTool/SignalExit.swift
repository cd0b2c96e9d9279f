import Dispatch
import Foundation
import RecoveryModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// While `plan` runs, SIGINT (Ctrl-C), SIGTERM (how Kubernetes stops a Job's pod) and SIGHUP are
/// taken by a dispatch signal source, not an async-signal handler: its handler removes the
/// temporary directories registered in `TemporaryPaths` (the spill directories under TMPDIR and
/// the plan's `OUT.partial-*` staging directory), restores the signal's default action and raises
/// it again, so the process ends by that signal (status 128 + N in a shell: 130, 143, 129).
/// SIGKILL (and the kernel's OOM killer) cannot be taken: after one, the directories stay.
enum SignalExit {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Blocks the signals in the calling thread (call it before any other thread is started:
    /// threads inherit the mask, and the dispatch's own threads block every signal), so that
    /// they reach only the sources.
    static func install() {
        guard sources.isEmpty else { return }
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let queue = DispatchQueue(label: "recover-tool.signals")
        sources = signals.map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { end(by: number) }
            source.resume()
            return source
        }
    }

    private static func end(by number: Int32) -> Never {
        TemporaryPaths.removeAllForExit()
        signal(number, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(number)
        _exit(128 + number)
    }
}
