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
    /// first directory it cannot list, link it cannot follow (a disk not mounted) or name that is
    /// not UTF-8: nothing under `paths` is left out without a word. `lost+found` (fsck's, often
    /// unreadable) is no input. A file reached by two paths is read once, by the path that sorts
    /// first, whatever the order `paths` were given in: each path given is walked on its own (a
    /// directory given as itself and through a link was walked once, by the first given, and the
    /// plan id followed the order; found by a hostile test).
    public static func files(at paths: [String], suffixes: [String]) throws(SourceError) -> [String] {
        var found: [FileID: String] = [:]
        var walked: Set<String> = []
        for path in paths {
            let st = try status(of: path)
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                add(path, FileID(st), to: &found)
                continue
            }
            let directory = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
            guard walked.insert(directory).inserted else { continue }
            var visited: Set<FileID> = [FileID(st)]
            try walk(directory, suffixes: suffixes, visited: &visited, into: &found)
        }
        return found.values.sorted()
    }

    /// `stat` of an input path given on the command line: no file there is `notFound`, any other
    /// failure `cannotOpen` (stat, not fileExists: a loop of symbolic links or a denied directory
    /// is not "no such file").
    public static func status(of path: String) throws(SourceError) -> stat {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            throw SourceError(code == ENOENT ? .notFound : .cannotOpen, path: path, detail: FileFailure.reason(errno: code))
        }
        return st
    }

    /// A file or directory by device and inode, however it is reached.
    private struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    private static func add(_ path: String, _ id: FileID, to found: inout [FileID: String]) {
        if let known = found[id], known <= path { return }
        found[id] = path
    }

    private static func walk(
        _ directory: String, suffixes: [String], visited: inout Set<FileID>, into found: inout [FileID: String]
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
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            // A name that is not UTF-8 cannot be given back to open(2) through a String: named, not skipped.
            guard let name = String(validating: bytes, as: UTF8.self) else {
                closedir(dir)
                throw SourceError(.cannotRead, path: directory + "/" + String(decoding: bytes, as: UTF8.self),
                                  detail: "its name is not UTF-8; rename it")
            }
            if name != "." && name != ".." && name != "lost+found" { names.append(name) }
        }
        for name in names.sorted() {
            let full = directory + "/" + name
            var st = stat()
            guard stat(full, &st) == 0 else {
                // A link that leads nowhere (a disk not mounted) may be a host's folder: named.
                let code = errno
                var link = stat()
                if suffixes.contains(where: { name.hasSuffix($0) }) || (lstat(full, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK) {
                    throw SourceError(.cannotOpen, path: full, detail: FileFailure.reason(errno: code))
                }
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if visited.insert(FileID(st)).inserted { try walk(full, suffixes: suffixes, visited: &visited, into: &found) }
            } else if suffixes.contains(where: { name.hasSuffix($0) }) {
                add(full, FileID(st), to: &found)
            }
        }
    }
}
