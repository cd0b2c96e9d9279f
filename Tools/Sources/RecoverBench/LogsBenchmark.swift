import ArgumentParser
import Foundation
import LogReplay
import RecoveryModel
import SourceFiles

/// `recover-bench logs`: log replay against `lz4 -dc` on the same files.
///
/// Generates realistic server logs (uploads, processed events, a few deletions and other events,
/// from several hosts, over twelve hours around a four-hour window), compresses each file with the
/// real `lz4`, then times in one run: `lz4 -dc > /dev/null`, splitting lines only, and the scan
/// (read + parse, keeping the window's events) on one thread and on all threads.
struct LogsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Time the log replay against lz4 -dc on generated logs.")

    @Option(help: "Log lines to generate, in all.")
    var lines = 3_000_000

    @Option(help: "Files (one per app server) to spread them over.")
    var files = 4

    @Option(help: "Working directory for the generated files (reused when they match).")
    var work = "bench-work/logs"

    @Option(help: "Timed repetitions of each measurement; the best is shown.")
    var repeats = 3

    func validate() throws {
        guard lines > 0, files > 0, repeats > 0 else { throw ValidationError("'--lines', '--files' and '--repeats' must be positive") }
    }

    func run() throws {
        let window = Window(from: Timestamp.parse("2018-07-25T14:00:00Z")!, to: Timestamp.parse("2018-07-25T18:00:00Z")!)
        let paths = try generate()
        let compressed = paths.map { $0 + ".lz4" }
        let plainBytes = paths.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }.reduce(0, +)
        let lz4Bytes = compressed.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }.reduce(0, +)
        let mb = Double(plainBytes) / 1_000_000
        print("logs: \(lines) lines in \(files) files, \(String(format: "%.1f", mb)) MB decompressed, "
              + "\(String(format: "%.1f", Double(lz4Bytes) / 1_000_000)) MB as lz4")

        let lz4 = try best { for path in compressed { try decompressToNull(path) } }
        report("lz4 -dc > /dev/null, files one after another", lz4, mb, lz4: lz4)

        var count = 0
        let split = try best {
            count = 0
            for path in compressed { count += try LineReader(path: path).forEachLine { _, _ in }.lines }
        }
        report("LineReader, lines only, 1 thread", split, mb, lz4: lz4)

        var result: LogReplayResult?
        // `result = nil` first, so that one result at a time is held (peak memory).
        let one = try best { result = nil; result = try LogReplay(window: window, threads: 1).read(compressed) }
        report("scan (read + parse), 1 thread", one, mb, lz4: lz4)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let all = try best { result = nil; result = try LogReplay(window: window, threads: cores).read(compressed) }
        report("scan (read + parse), \(cores) threads", all, mb, lz4: lz4)

        let t = result!.totals
        print("scan found \(t.lines) lines, \(result!.events.count) events in the window kept, "
              + "\(t.quarantinedLines) quarantined, \(result!.hosts.count) hosts")
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let maxrssMB = usage.ru_maxrss / 1024  // kilobytes here
        #else
        getrusage(RUSAGE_SELF, &usage)
        let maxrssMB = usage.ru_maxrss / 1_048_576  // bytes on Darwin
        #endif
        print("peak memory (maxrss): \(maxrssMB) MB")
    }

    func report(_ label: String, _ seconds: Double, _ mb: Double, lz4: Double) {
        let rate = Double(lines) / seconds / 1_000_000
        let padded = label.count < 48 ? label + String(repeating: " ", count: 48 - label.count) : label
        print(padded + String(format: " %7.3f s  %6.2f M lines/s  %7.1f MB/s  %5.2fx lz4", seconds, rate, mb / seconds, seconds / lz4))
    }

    /// The best wall time of `repeats` runs.
    func best(_ body: () throws -> Void) throws -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    func decompressToNull(_ path: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["lz4", "-dc", path]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("lz4 -dc \(path) failed") }
    }

    /// Writes `files` plain logs and their `.lz4` copies; keeps them when a marker says they match.
    func generate() throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        let paths = (1...files).map { "\(work)/app-\($0).log" }
        let marker = "\(work)/generated-\(lines)-\(files)"
        if fm.fileExists(atPath: marker) { return paths }
        for (i, path) in paths.enumerated() {
            let share = lines / files + (i < lines % files ? 1 : 0)
            try writeLog(path, host: "app-\(i + 1)", lines: share, seed: UInt64(i + 1))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["lz4", "-q", "-f", path, path + ".lz4"]
            try p.run()
            p.waitUntilExit()
        }
        fm.createFile(atPath: marker, contents: nil)
        return paths
    }

    /// Twelve hours of one host's log from 10:00, in order of `ts`; slots up to 3 hours late.
    func writeLog(_ path: String, host: String, lines: Int, seed: UInt64) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? out.close() }
        var rng = seed &* 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            rng = rng &+ 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let apps = ["Xcode", "Safari", "Slack", "Terminal", "Microsoft Word", "Google Chrome", "Figma", "Mail"]
        let day = Timestamp.parse("2018-07-25T00:00:00Z")!.microseconds
        let span: Int64 = 12 * 3600 * 1_000_000
        var buffer = ""
        buffer.reserveCapacity(1 << 20)
        for n in 0..<lines {
            let ts = day + 10 * 3600 * 1_000_000 + span * Int64(n) / Int64(lines)
            let lateSlots = Int64(next() % 19)  // 0...18 slots (three hours) late
            let slot = max(day, (ts / 600_000_000 - 1 - lateSlots) * 600_000_000)
            let user = 1000 + next() % 5000
            let tsText = Timestamp(microseconds: ts).rfc3339
            let slotText = Timestamp(microseconds: slot).rfc3339
            let roll = next() % 100
            if roll < 58 {
                let a = Int(next() % 8), b = Int(next() % 8)
                let list = a == b ? "\"\(apps[a])\"" : "\"\(apps[a])\",\"\(apps[b])\""
                let task = roll % 5 == 0 ? "null" : String(300 + user % 40)
                buffer += #"{"ts":"\#(tsText)","host":"\#(host)","event":"slot.upload","request_id":"\#(String(user, radix: 16))-\#(n)","user_id":\#(user),"project_id":\#(70 + user % 9),"task_id":\#(task),"slot_start":"\#(slotText)","duration_min":10,"keystrokes":\#(next() % 900),"mouse_events":\#(next() % 2500),"active_apps":[\#(list)],"screenshot_key":"ss/\#(user)/\#(slot / 1_000_000).jpg","note":null}"#
            } else if roll < 95 {
                let status = roll % 3 == 0 ? "idle" : "active"
                buffer += #"{"ts":"\#(tsText)","host":"\#(host)","event":"slot.processed","user_id":\#(user),"slot_start":"\#(slotText)","status":"\#(status)","activity_level":\#(next() % 11)}"#
            } else if roll < 96 {
                buffer += #"{"ts":"\#(tsText)","host":"\#(host)","event":"slot.deleted","user_id":\#(user),"slot_start":"\#(slotText)"}"#
            } else {
                buffer += #"{"ts":"\#(tsText)","host":"\#(host)","event":"user.login","user_id":\#(user),"ip":"10.0.\#(user % 256).\#(n % 256)","agent":{"os":"macOS","version":"4.2.1"}}"#
            }
            buffer += "\n"
            if buffer.utf8.count > (1 << 20) - 1024 {
                out.write(Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        out.write(Data(buffer.utf8))
    }
}
