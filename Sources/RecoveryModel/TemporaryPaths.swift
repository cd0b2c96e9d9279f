import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary directories a command has made and not yet removed (`plan`'s spill directories
/// under TMPDIR and its `OUT.partial-*` staging directory), so that a command ended by a signal
/// removes them before it exits (`removeAllForExit`, from `plan`'s signal source). Each is
/// registered right after it is made and unregistered once it is removed or renamed into place.
public enum TemporaryPaths {
    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var paths: Set<String> = []
        var ending = false
    }

    private static let registry = Registry()

    /// `path` was just made. When the process is already ending (a signal was taken), it is
    /// removed at once and the calling thread waits for the exit, so nothing is made after the
    /// sweep.
    public static func register(_ path: String) {
        registry.lock.lock()
        let ending = registry.ending
        if !ending { registry.paths.insert(path) }
        registry.lock.unlock()
        guard ending else { return }
        remove(path)
        while true { sleep(60) }
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

    /// Removes every registered directory and everything in it; later `register` calls remove
    /// their own directory and wait. For the exit on a signal, not an async-signal handler: call
    /// it from a dispatch source's handler.
    public static func removeAllForExit() {
        registry.lock.lock()
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
