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

    /// The files at `paths`: a file as given, a directory walked for names with one of the
    /// suffixes. The walk follows links to directories (a host's folder linked in from another
    /// disk), each directory once (a link back up ends there), and stops with the path of the
    /// first directory it cannot list or matching name it cannot reach (a link that leads
    /// nowhere): nothing under `paths` is left out without a word.
    public static func files(at paths: [String], suffixes: [String]) throws(SourceError) -> [String] {
        var found = Set<String>()
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
            var visited: Set<DirectoryID> = [DirectoryID(st)]
            try walk(path.hasSuffix("/") ? String(path.dropLast()) : path, suffixes: suffixes, visited: &visited, into: &found)
        }
        return found.sorted()
    }

    /// A directory by device and inode, to visit each once however it is reached.
    private struct DirectoryID: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    private static func walk(
        _ directory: String, suffixes: [String], visited: inout Set<DirectoryID>, into found: inout Set<String>
    ) throws(SourceError) {
        guard let dir = opendir(directory) else {
            throw SourceError(.cannotOpen, path: directory, detail: FileFailure.reason(errno: errno))
        }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                let code = errno
                closedir(dir)
                if code != 0 { throw SourceError(.cannotRead, path: directory, detail: FileFailure.reason(errno: code)) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names.sorted() {
            let full = directory + "/" + name
            var st = stat()
            let matches = suffixes.contains { name.hasSuffix($0) }
            guard stat(full, &st) == 0 else {
                // Unreachable: an input when its name is one, else not ours to judge.
                if matches { throw SourceError(.cannotOpen, path: full, detail: FileFailure.reason(errno: errno)) }
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if visited.insert(DirectoryID(st)).inserted { try walk(full, suffixes: suffixes, visited: &visited, into: &found) }
            } else if matches {
                found.insert(full)
            }
        }
    }
}
