#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file-system failure as one line's worth of facts: the path and the reason, in words (never
/// Foundation's error text). Modules wrap it in their own error with its exit status.
public struct FileFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    /// `no such file or directory`, `a loop of symbolic links`, `a named pipe (FIFO), not a regular file`
    public var reason: String
    /// The `errno` behind it, 0 when the tool decided (a FIFO, a directory).
    public var code: Int32

    public init(path: String, reason: String, code: Int32 = 0) {
        self.path = path
        self.reason = reason
        self.code = code
    }

    /// `path`'s failure from `errno`.
    public init(path: String, errno code: Int32) {
        self.init(path: path, reason: FileFailure.reason(errno: code), code: code)
    }

    public var description: String { "'\(path)': \(reason)" }

    /// `errno` in words, lowercase: a few named plainly (a symbolic-link loop is not "no such
    /// file"), the rest as `strerror` says.
    public static func reason(errno code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file or directory"
        case ELOOP: return "a loop of symbolic links (or too many of them)"
        case EACCES, EPERM: return "permission denied"
        case EROFS: return "the file system is read-only"
        case ENOSPC: return "no space left on the device"
        case EISDIR: return "a directory, not a regular file"
        case ENOTDIR: return "a part of the path is not a directory"
        case ENAMETOOLONG: return "the path is too long"
        case EEXIST: return "it already exists"
        default:
            let text = String(cString: strerror(code))
            return text.prefix(1).lowercased() + text.dropFirst()
        }
    }

    /// What kind of file `mode` says, in words.
    public static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a named pipe (FIFO)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }
}

/// A regular file opened for reading, and only a regular file: it is opened without blocking
/// (a named pipe would wait for a writer forever) and checked with `fstat` on the open descriptor
/// (so a swap between a check and the open cannot slip a FIFO or a device in). Owns the
/// descriptor; closes it in `deinit`.
public final class RegularFile {
    public let path: String
    public let descriptor: Int32
    /// The size when opened.
    public let size: Int64

    public init(_ path: String) throws(FileFailure) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw FileFailure(path: path, errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw FileFailure(path: path, errno: code)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileFailure(path: path, reason: FileFailure.kindName(st.st_mode) + ", not a regular file")
        }
        // Back to blocking reads: a regular file never blocks, and O_NONBLOCK has no meaning for it.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        descriptor = fd
        size = Int64(st.st_size)
    }

    deinit { close(descriptor) }

    /// Reads up to `buffer.count` bytes (`read(2)`, retried on EINTR); 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileFailure) -> Int {
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            #else
            let n = Darwin.read(descriptor, buffer.baseAddress, buffer.count)
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileFailure(path: path, errno: errno)
        }
    }

    /// The whole file, refused past `limit` bytes.
    public static func contents(of path: String, limit: Int) throws(FileFailure) -> [UInt8] {
        try contents(of: RegularFile(path), limit: limit)
    }

    /// The whole of `file`, opened, refused past `limit` bytes.
    public static func contents(of file: RegularFile, limit: Int) throws(FileFailure) -> [UInt8] {
        let path = file.path
        guard file.size <= Int64(limit) else {
            throw FileFailure(path: path, reason: "larger than \(limit) bytes")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(file.size))
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let n = try file.read(into: chunk)
            if n == 0 { break }
            bytes.append(contentsOf: chunk[..<n])
            guard bytes.count <= limit else { throw FileFailure(path: path, reason: "larger than \(limit) bytes") }
        }
        return bytes
    }
}
