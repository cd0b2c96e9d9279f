import Foundation

/// How much memory `plan` may take (`--memory-limit`), in bytes: past it, the events are spilled
/// to disk and folded a range of users at a time.
public enum MemoryLimit {
    /// `64M`, `1.5G`, `512k` or a number of bytes; suffixes k, M, G, T (powers of 1024, an
    /// optional `B` or `iB` after them). Nil for anything else or zero.
    public static func parse(_ text: String) -> Int64? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        for suffix in ["iB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        var scale: Double = 1
        if let last = digits.last, let power = ["k": 1, "K": 1, "m": 2, "M": 2, "g": 3, "G": 3, "t": 4, "T": 4][last] {
            scale = pow(1024, Double(power))
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(digits), value > 0 else { return nil }
        let bytes = (value * scale).rounded()
        guard bytes >= 1, bytes < 9.0e18 else { return nil }
        return Int64(bytes)
    }

    /// The default: half of the machine's memory, or of the cgroup's `memory.max` when that is
    /// smaller (a container's limit).
    public static func systemDefault(
        meminfo: String = "/proc/meminfo", cgroupMax: String = "/sys/fs/cgroup/memory.max"
    ) -> Int64 {
        var total = Int64(ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: meminfo, encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) {
            total = kB * 1024
        }
        if let text = try? String(contentsOfFile: cgroupMax, encoding: .utf8),
           let max = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), max > 0 {
            total = min(total, max)
        }
        return Swift.max(1, total / 2)
    }

    /// `64 MiB`, `1.5 GiB`: a size for messages.
    public static func text(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
