import Foundation

#if canImport(Glibc)
import CSignalFD
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// While `plan` runs, SIGINT (Ctrl-C), SIGTERM (how Kubernetes stops a Job's pod) and SIGHUP end
/// it cleanly: the temporary directories registered in `TemporaryPaths` (the spill directories
/// under TMPDIR and the plan's `OUT.partial-*` staging directory) are removed, then the signal's
/// default action is restored and the signal raised again, so the process ends by it (status
/// 128 + N in a shell: 130, 143, 129). SIGKILL (and the kernel's OOM killer) cannot be taken:
/// after one, the directories stay.
///
/// The signals are blocked in every thread and read from a `signalfd`, only under the registry's
/// lock (`TemporaryPaths.claimSignal`): by a watcher thread that polls it, and by the plan's
/// commit (`TemporaryPaths.settle`) just before the rename. A signal sent before the commit
/// therefore ends the plan with nothing in place, whichever thread runs first; one sent after
/// finds nothing to remove. (A dispatch signal source read the signal on its own thread and ran
/// its handler later: a plan could rename itself into place and exit 0 in between.)
public enum SignalExit {
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    nonisolated(unsafe) private static var descriptor: Int32 = -1
    /// Run once the directories are removed, just before the process ends by the signal (the
    /// command removes its progress line). Set it before `install`.
    nonisolated(unsafe) public static var beforeEnd: (@Sendable () -> Void)?

    /// Blocks the signals in the calling thread and starts the watcher. Call it before any other
    /// thread is started: threads inherit the mask (the dispatch's own threads block every
    /// signal), and a thread that did not block them would take a signal's default action.
    public static func install() {
        #if os(Linux)
        guard descriptor < 0 else { return }
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else {
            // No watcher: the signals keep their default action (the directories stay, as after SIGKILL).
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            return
        }
        descriptor = fd
        Thread.detachNewThread { watch(fd) }
        #endif
    }

    /// Waits for a signal to be pending, then lets the registry claim it and sweep.
    private static func watch(_ fd: Int32) -> Never {
        while true {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, -1) >= 0 || errno == EINTR else { waitForExit() }
            if let number = TemporaryPaths.sweepIfSignalled() { end(by: number) }
        }
    }

    /// One pending signal, read without waiting; nil when none is pending (or none is watched).
    /// Call it only under the registry's lock.
    static func takePending() -> Int32? {
        #if os(Linux)
        guard descriptor >= 0 else { return nil }
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        guard read(descriptor, &info, size) == size else { return nil }
        return Int32(bitPattern: info.ssi_signo)
        #else
        return nil
        #endif
    }

    /// Ends the process by `number` (its directories already removed).
    static func end(by number: Int32) -> Never {
        beforeEnd?()
        signal(number, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(number)
        _exit(128 + number)
    }

    /// The signal that began a sweep ends the process: the calling thread waits for it.
    static func waitForExit() -> Never {
        while true { sleep(60) }
    }
}
