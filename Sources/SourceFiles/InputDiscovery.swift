import Foundation
import RecoveryModel

/// Finds the input files named on the command line: a file is taken as given; a directory is
/// searched recursively for names with one of the suffixes. The result is sorted and without
/// repeats, so the order the engineer typed the paths in does not matter.
public enum InputDiscovery {
    /// Log names of CONTRACT §3.
    public static let logSuffixes = [".log", ".jsonl", ".log.lz4", ".jsonl.lz4"]
    /// Snapshot dump names of CONTRACT §4.
    public static let dumpSuffixes = [".sql", ".sql.lz4"]

    /// The size of the file at `path` in bytes (`stat`); nil when it cannot be read.
    public static func fileSize(_ path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    /// The log files under `paths`; at least one, else `SourceError.noLogFiles`.
    public static func logFiles(at paths: [String]) throws(SourceError) -> [String] {
        let files = try files(at: paths, suffixes: logSuffixes)
        guard !files.isEmpty else {
            throw SourceError(.noLogFiles, path: paths.map { "'\($0)'" }.joined(separator: " "),
                              detail: "expected *.log, *.jsonl, *.log.lz4 or *.jsonl.lz4")
        }
        return files
    }

    public static func files(at paths: [String], suffixes: [String]) throws(SourceError) -> [String] {
        var found = Set<String>()
        let fm = FileManager.default
        for path in paths {
            // stat, not fileExists: a loop of symbolic links or a denied directory is not "no such file".
            var st = stat()
            guard stat(path, &st) == 0 else {
                let code = errno
                throw SourceError(code == ENOENT ? .notFound : .cannotOpen, path: path, detail: FileFailure.reason(errno: code))
            }
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                found.insert(path)
                continue
            }
            guard let walker = fm.enumerator(atPath: path) else {
                throw SourceError(.cannotOpen, path: path, detail: "cannot list the directory")
            }
            let prefix = path.hasSuffix("/") ? path : path + "/"
            for case let relative as String in walker where suffixes.contains(where: { relative.hasSuffix($0) }) {
                let full = prefix + relative
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue { found.insert(full) }
            }
        }
        return found.sorted()
    }
}
