import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary directories a command has made and not yet removed (`plan`'s spill directories
/// under TMPDIR and its `OUT.partial-*` staging directory), so that a command ended by a signal
/// removes them before it exits (`SignalExit`). Each is made and registered under one lock
/// (`make`), and unregistered once it is removed or renamed into place (`settle`); a pending
/// signal is read only under that lock, so a sweep and a commit never overlap.
public enum TemporaryPaths {
    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var paths: Set<String> = []
        var ending = false
    }

    private static let registry = Registry()

    /// Makes a temporary directory with `body`, which returns its path, and registers it, both
    /// under the registry's lock: a signal's sweep either comes first, and then
    /// nothing is made and the calling thread waits for the exit, or comes after, and removes it.
    /// (Made, then registered, a directory made while the sweep ran was left behind: the signal
    /// ended the process between the two.)
    public static func make<E: Error>(_ body: () throws(E) -> String) throws(E) -> String {
        registry.lock.lock()
        guard !registry.ending else {
            registry.lock.unlock()
            SignalExit.waitForExit()
        }
        defer { registry.lock.unlock() }
        let path = try body()
        registry.paths.insert(path)
        return path
    }

    /// When a signal's sweep has begun, waits for the signal to end the process: an error seen
    /// after it (a file that cannot be made in a staging directory the sweep removed) is its
    /// effect, and is not reported as the command's failure.
    public static func waitIfEnding() {
        registry.lock.lock()
        let ending = registry.ending
        registry.lock.unlock()
        guard ending else { return }
        SignalExit.waitForExit()
    }

    /// Runs `body`, which puts `path` in its place (a rename: the command's commit), then
    /// unregisters `path`; both under the registry's lock, and only if no signal is pending. A
    /// pending signal is claimed instead: every registered directory, `path` with them, is
    /// removed and the process ends by the signal, with nothing put in place.
    public static func settle<E: Error>(_ path: String, _ body: () throws(E) -> Void) throws(E) {
        registry.lock.lock()
        guard !registry.ending else {
            registry.lock.unlock()
            SignalExit.waitForExit()
        }
        if let number = SignalExit.takePending() {
            sweepAndUnlock()
            SignalExit.end(by: number)
        }
        defer { registry.lock.unlock() }
        try body()
        registry.paths.remove(path)
    }

    /// `path` was removed, or renamed into place: it is no longer the command's to clean up.
    public static func unregister(_ path: String) {
        registry.lock.lock()
        registry.paths.remove(path)
        registry.lock.unlock()
    }

    /// The directories registered now (for tests).
    public static var registered: Set<String> {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        return registry.paths
    }

    /// Claims a pending signal, if there is one (the signal watcher's call, once one is pending):
    /// then removes every registered directory and everything in it, and returns the signal,
    /// which is to end the process; a later `make` makes nothing and waits. Nil when none is
    /// pending after all. Once a commit (`settle`) has claimed a signal, it waits for the end.
    static func sweepIfSignalled() -> Int32? {
        registry.lock.lock()
        guard !registry.ending else {
            // A commit claimed a signal and ends the process: a second signal waits for it.
            registry.lock.unlock()
            SignalExit.waitForExit()
        }
        guard let number = SignalExit.takePending() else {
            registry.lock.unlock()
            return nil
        }
        sweepAndUnlock()
        return number
    }

    /// Marks the sweep begun, releases the lock (held by the caller), and removes every
    /// directory that was registered.
    private static func sweepAndUnlock() {
        registry.ending = true
        let paths = registry.paths
        registry.paths = []
        registry.lock.unlock()
        for path in paths { remove(path) }
    }

    /// Removes `path` and what is in it; tries again a few times, in case a file was being made
    /// in it by another thread while it was emptied.
    private static func remove(_ path: String) {
        for _ in 0..<5 {
            try? FileManager.default.removeItem(atPath: path)
            var st = stat()
            if lstat(path, &st) != 0 && errno == ENOENT { return }
            usleep(10_000)
        }
    }
}
