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

    /// The default: half of the machine's memory, or of the process's cgroup limit when that is
    /// smaller (a container's or a Kubernetes pod's limit; `cgroupLimit`).
    public static func systemDefault(
        meminfo: String = "/proc/meminfo", selfCgroup: String = "/proc/self/cgroup", cgroupRoot: String = "/sys/fs/cgroup"
    ) -> Int64 {
        var total = Int64(ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: meminfo, encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) {
            total = kB * 1024
        }
        if let text = try? String(contentsOfFile: selfCgroup, encoding: .utf8),
           let limit = cgroupLimit(selfCgroup: text, root: cgroupRoot, read: { try? String(contentsOfFile: $0, encoding: .utf8) }) {
            total = min(total, limit)
        }
        return Swift.max(1, total / 2)
    }

    /// The tightest memory limit of the process's cgroup and the cgroups above it, from
    /// `/proc/self/cgroup`'s text: cgroup v2's `0::/PATH` reads `ROOT/PATH/memory.max`, then each
    /// parent's up to `ROOT/memory.max`; cgroup v1's memory controller line (`4:memory:/PATH`)
    /// reads `ROOT/memory/PATH/memory.limit_in_bytes` the same way. `max` (and a missing file) is no
    /// limit; nil when no level has one. `read` gives a file's text, nil when it cannot be read.
    public static func cgroupLimit(selfCgroup: String, root: String, read: (String) -> String?) -> Int64? {
        var tightest: Int64?
        for line in selfCgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            let base: String, file: String
            if fields[0] == "0" && fields[1].isEmpty {
                (base, file) = (root, "memory.max")
            } else if fields[1].split(separator: ",").contains("memory") {
                (base, file) = (root + "/memory", "memory.limit_in_bytes")
            } else {
                continue
            }
            var path = fields[2].split(separator: "/").map(String.init)
            while true {
                let dir = ([base] + path).joined(separator: "/")
                if let text = read(dir + "/" + file),
                   let limit = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                    tightest = min(tightest ?? limit, limit)
                }
                if path.isEmpty { break }
                path.removeLast()
            }
        }
        return tightest
    }

    /// `64 MiB`, `1.5 GiB`: a size for messages.
    public static func text(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
