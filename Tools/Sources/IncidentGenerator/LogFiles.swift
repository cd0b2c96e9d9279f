import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One log file of one host: a time range of its lines, plain or LZ4-framed.
struct LogFileSpec {
    var host: Int
    var name: String
    var start: Int64
    var end: Int64
    var plain: Bool
    /// The server crashed while writing it: its last frame is cut mid-block.
    var truncated: Bool
    var lines = 0
    /// Lines in the cut last frame, which no reader can get back.
    var lostLines = 0
    var plainBytes = 0
    var fileBytes = 0
    var frames = 0
}

/// A frame of a file: the lines of `[start, end)`, compressed with one `lz4` run.
struct FrameSpec {
    var file: Int
    var start: Int64
    var end: Int64
    var options: [String]
    var last: Bool
}

/// Where lines go: per host, one bucket per minute, sorted and flushed in time order into frames,
/// each frame compressed by the real `lz4` tool (in parallel with the generation) and the frames of
/// a file concatenated at the end.
final class LogWriter {
    struct LineRef { var ts: Int64; var seq: Int64; var start: Int32; var count: Int32 }
    struct Bucket { var bytes: [UInt8] = []; var refs: [LineRef] = [] }

    let dir: URL
    let hostNames: [String]
    let start: Int64
    let end: Int64
    var files: [LogFileSpec] = []
    private var frames: [[FrameSpec]] = []
    private var frameCursor: [Int]
    private var frameBuffer: [[UInt8]]
    private var frameLines: [Int]
    private var buckets: [[Bucket]]
    private var flushedMinutes = 0
    private var seq: Int64 = 0
    private let workDir: URL
    private let lz4: String
    private var jobs: [(pid: pid_t, file: Int, part: URL)] = []
    private var parts: [[URL]]
    private var plainHandles: [Int: FileHandle] = [:]

    init(dir: URL, hostNames: [String], start: Int64, end: Int64, files: [LogFileSpec], frames: [[FrameSpec]], lz4: String) throws {
        self.dir = dir
        self.hostNames = hostNames
        self.start = start
        self.end = end
        self.files = files
        self.frames = frames
        self.lz4 = lz4
        frameCursor = Array(repeating: 0, count: hostNames.count)
        frameBuffer = Array(repeating: [], count: hostNames.count)
        frameLines = Array(repeating: 0, count: hostNames.count)
        let minutes = Int((end - start + TimeText.minute - 1) / TimeText.minute)
        buckets = Array(repeating: Array(repeating: Bucket(), count: minutes), count: hostNames.count)
        parts = Array(repeating: [], count: files.count)
        // Frames wait for lz4 in memory-backed /dev/shm when there is one: on a slow disk, writing
        // the uncompressed text once more doubled the run time.
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDir), isDir.boolValue,
           FileManager.default.isWritableFile(atPath: "/dev/shm") {
            workDir = URL(fileURLWithPath: "/dev/shm/incident-generator-\(getpid())")
        } else {
            workDir = dir.appendingPathComponent(".work")
        }
        let fm = FileManager.default
        try fm.createDirectory(at: workDir, withIntermediateDirectories: true)
        for name in hostNames {
            try fm.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
        }
    }

    /// True when a line at `ts` lands in a file (the logs cover `[start, end)`).
    func covers(_ ts: Int64) -> Bool { ts >= start && ts < end }

    /// Appends one line (without its newline) for `host` at `ts`; `build` writes its bytes.
    @inline(__always)
    func add(host: Int, ts: Int64, _ build: (inout [UInt8]) -> Void) {
        let minute = Int((ts - start) / TimeText.minute)
        precondition(minute >= flushedMinutes, "a line arrived after its minute was flushed")
        let s = buckets[host][minute].bytes.count
        build(&buckets[host][minute].bytes)
        buckets[host][minute].bytes.append(10)
        let count = buckets[host][minute].bytes.count - s
        buckets[host][minute].refs.append(LineRef(ts: ts, seq: seq, start: Int32(s), count: Int32(count)))
        seq += 1
    }

    /// Writes out every minute before `ts`: no later call adds a line there.
    func flush(before ts: Int64) throws {
        let limit = min(buckets[0].count, max(0, Int((ts - start) / TimeText.minute)))
        while flushedMinutes < limit {
            for host in hostNames.indices {
                var bucket = Bucket()
                swap(&bucket, &buckets[host][flushedMinutes])
                bucket.refs.sort { ($0.ts, $0.seq) < ($1.ts, $1.seq) }
                for ref in bucket.refs {
                    try route(host: host, ts: ref.ts)
                    frameBuffer[host].append(contentsOf: bucket.bytes[Int(ref.start)..<Int(ref.start + ref.count)])
                    frameLines[host] += 1
                }
            }
            flushedMinutes += 1
        }
    }

    private func route(host: Int, ts: Int64) throws {
        while ts >= frames[host][frameCursor[host]].end {
            try closeFrame(host: host)
            frameCursor[host] += 1
        }
        precondition(ts >= frames[host][frameCursor[host]].start, "a line in no file: \(hostNames[host]) at \(TimeText.string(ts))")
    }

    private func closeFrame(host: Int) throws {
        let frame = frames[host][frameCursor[host]]
        defer { frameBuffer[host].removeAll(keepingCapacity: true); frameLines[host] = 0 }
        guard !frameBuffer[host].isEmpty else { return }
        files[frame.file].lines += frameLines[host]
        files[frame.file].plainBytes += frameBuffer[host].count
        files[frame.file].frames += 1
        if files[frame.file].truncated, frame.last { files[frame.file].lostLines = frameLines[host] }
        if files[frame.file].plain {
            if plainHandles[frame.file] == nil {
                let url = dir.appendingPathComponent(files[frame.file].name)
                _ = FileManager.default.createFile(atPath: url.path, contents: nil)
                plainHandles[frame.file] = try FileHandle(forWritingTo: url)
            }
            try plainHandles[frame.file]!.write(contentsOf: frameBuffer[host])
            return
        }
        let part = workDir.appendingPathComponent("\(frame.file)-\(parts[frame.file].count)")
        try Data(frameBuffer[host]).write(to: part)
        while jobs.count >= 2 { try waitOldest() }
        let pid = try Self.spawn([lz4, "-q", "-f"] + frame.options + [part.path, part.path + ".lz4"])
        jobs.append((pid, frame.file, part))
        parts[frame.file].append(URL(fileURLWithPath: part.path + ".lz4"))
    }

    private func waitOldest() throws {
        let job = jobs.removeFirst()
        var status: Int32 = 0
        while waitpid(job.pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else {
            throw GeneratorError("lz4 failed with wait status \(status) on \(job.part.lastPathComponent)")
        }
        try FileManager.default.removeItem(at: job.part)
    }

    /// Starts `argv` with posix_spawn (Foundation's `Process.waitUntilExit` polls a run loop and
    /// cost a tenth of a second per frame here).
    private static func spawn(_ argv: [String]) throws -> pid_t {
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], nil, nil, cargs, environ)
        guard rc == 0 else { throw GeneratorError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Flushes everything, waits for `lz4`, concatenates the frames of each file and cuts the
    /// crashed server's file inside its last frame.
    func finish() throws {
        try flush(before: end + TimeText.minute)
        for host in hostNames.indices {
            while frameCursor[host] < frames[host].count {
                try closeFrame(host: host)
                frameCursor[host] += 1
            }
        }
        while !jobs.isEmpty { try waitOldest() }
        for handle in plainHandles.values { try handle.close() }
        for (i, file) in files.enumerated() {
            let url = dir.appendingPathComponent(file.name)
            if file.plain { files[i].fileBytes = file.plainBytes; continue }
            guard !parts[i].isEmpty else { continue }
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            let out = try FileHandle(forWritingTo: url)
            for (k, part) in parts[i].enumerated() {
                var data = try Data(contentsOf: part)
                if file.truncated, k == parts[i].count - 1 {
                    // Cut inside the frame's single block: header (7-15 bytes) and block size are kept.
                    data = data.prefix(max(24, data.count * 3 / 5))
                }
                try out.write(contentsOf: data)
                files[i].fileBytes += data.count
                try FileManager.default.removeItem(at: part)
            }
            try out.close()
        }
        try? FileManager.default.removeItem(at: workDir)
    }
}

struct GeneratorError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
