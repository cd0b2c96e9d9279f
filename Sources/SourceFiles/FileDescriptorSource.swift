import Glibc
import RecoveryModel

/// Raw bytes of a file, read with `read(2)` into the caller's buffer. Owns the descriptor.
final class FileDescriptorSource {
    private let fd: Int32
    let path: String
    /// Bytes read from the file so far.
    private(set) var offset: Int64 = 0
    /// The file's size when opened, for progress.
    let size: Int64
    /// SHA-256 of the bytes read so far, when asked for.
    var digest: SHA256?

    init(path: String) throws(SourceError) {
        self.path = path
        // Check the kind first: opening a named pipe would block until a writer comes.
        var kind = stat()
        if stat(path, &kind) == 0, (kind.st_mode & S_IFMT) != S_IFREG {
            throw SourceError(.cannotOpen, path: path, detail: "not a regular file")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SourceError(.cannotOpen, path: path, detail: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let detail = String(cString: strerror(errno))
            close(fd)
            throw SourceError(.cannotOpen, path: path, detail: detail)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw SourceError(.cannotOpen, path: path, detail: "not a regular file")
        }
        self.fd = fd
        self.size = Int64(st.st_size)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { close(fd) }

    /// The file's first four bytes (fewer for a shorter file), read without moving the offset.
    func first4Bytes() -> [UInt8] {
        var head = [UInt8](repeating: 0, count: 4)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4, 0) }
        return Array(head.prefix(max(0, n)))
    }

    /// Reads what is left of the file into the digest and returns it: the whole file's SHA-256,
    /// even when decoding stopped early.
    func finishDigest() throws(SourceError) -> String? {
        guard digest != nil else { return nil }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { scratch.deallocate() }
        while try read(into: scratch) > 0 {}
        return digest!.finalize()
    }

    /// Reads up to `buffer.count` bytes of the file as it was when opened (its first `size`
    /// bytes); 0 means their end. Bytes appended since are not read, so that the size, the lines
    /// and the SHA-256 recorded are of one file. A file that ends before `size` was cut while it was
    /// read (log rotation's copytruncate): an error, not an end (the reader took the cut for the
    /// file's end, and plan called the file read whole; found by a hostile test).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceError) -> Int {
        let want = Int(min(Int64(buffer.count), size - offset))
        guard want > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, want)
            if n == 0 {
                throw SourceError(
                    .cannotRead, path: path,
                    detail: "the file shrank while it was read (it ended at byte \(offset) of the \(size) it had when opened): it was cut, "
                        + "as log rotation's copytruncate does; read it once it is whole, or a copy of it")
            }
            if n > 0 {
                offset += Int64(n)
                digest?.update(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n))
                return n
            }
            if errno == EINTR { continue }
            throw SourceError(.cannotRead, path: path, detail: String(cString: strerror(errno)))
        }
    }
}
