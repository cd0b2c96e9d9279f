import Foundation
import RecoveryModel

/// Times as the reviewer reads them: always UTC, and beside it the `--tz` zone when one was given.
/// Foundation's calendar code runs here only, a few times per report, never per record.
public struct DisplayTime {
    /// The zone name as given, nil for UTC only.
    let zoneName: String?
    private let formatter: DateFormatter?

    init(zoneName: String?) {
        self.zoneName = zoneName
        guard let zoneName, let zone = Self.zone(named: zoneName) else {
            formatter = nil
            return
        }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.calendar = Calendar(identifier: .gregorian)
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm:ss xxxxx"
        formatter = f
    }

    /// The zone of an IANA name (`America/Los_Angeles`, `Etc/GMT-5`, `UTC`): one that the
    /// machine's time zone database (`TZDIR`, else /usr/share/zoneinfo), which PostgreSQL reads
    /// too, holds as a file. Nil for any other name, which no report shows times in. Foundation
    /// takes more: `UTC+3` and `GMT-5` with the sign the other way from PostgreSQL's (and
    /// `Etc/GMT-5`'s) reading, `PST` as Los Angeles' time where PostgreSQL has a fixed -08:00.
    public static func zone(named name: String) -> TimeZone? {
        zones.lock.lock()
        defer { zones.lock.unlock() }
        if let known = zones.found[name] { return known }
        let zone = isDatabaseName(name) ? TimeZone(identifier: name) : nil
        zones.found[name] = .some(zone)
        return zone
    }

    /// True when `name` is a path below the time zone database to a TZif file (`UTC`, `Etc/UTC`
    /// and `America/New_York` are; `PST`, `UTC+3` and `GMT-5` are not) and not a sign-ambiguous
    /// `GMT±N`/`UTC±N` that Foundation reads before the file.
    private static func isDatabaseName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.utf8.count <= 128, !name.hasPrefix("/"),
              parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
              name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || "0123456789/_+-".unicodeScalars.contains($0)) })
        else { return false }
        let upper = name.uppercased()
        if (upper.hasPrefix("GMT") || upper.hasPrefix("UTC")) && upper.count > 3
            && ["+", "-"].contains(upper.dropFirst(3).prefix(1)) { return false }
        let directory = ProcessInfo.processInfo.environment["TZDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
        guard let file = FileHandle(forReadingAtPath: directory + "/" + name) else { return false }
        defer { try? file.close() }
        return (try? file.read(upToCount: 4)) == Data("TZif".utf8)
    }

    private static let zones = ZoneTable()

    private final class ZoneTable: @unchecked Sendable {
        // Sendable: `found` is only touched under `lock`.
        let lock = NSLock()
        var found: [String: TimeZone?] = [:]
    }

    /// False when `--tz` named no zone this machine knows; the reports then say so.
    var zoneIsKnown: Bool { formatter != nil }

    /// `2018-07-25 07:50:00 -07:00` (`07:50:00.5` with a fraction of a second), or nil without
    /// a usable zone. The whole seconds go through Foundation's `Date`, exact as a `Double`; the
    /// fraction is written from the microseconds, which a `Double` of 2018 holds only to a fifth.
    func local(_ time: Timestamp) -> String? {
        let (seconds, micros) = time.microseconds.floorDividedBy(1_000_000)
        guard let text = formatter?.string(from: Date(timeIntervalSince1970: Double(seconds))) else { return nil }
        guard micros != 0 else { return text }
        var digits = String(micros)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        guard let afterSeconds = text.lastIndex(of: " ") else { return text }  // before ` -07:00`
        return String(text[..<afterSeconds]) + "." + digits + String(text[afterSeconds...])
    }

    /// The window in the zone, or why it is not shown: `(UTC only)`.
    func window(_ window: Window) -> String {
        guard let zoneName else { return "(UTC only)" }
        guard let from = local(window.from), let to = local(window.to) else {
            return "(UTC only: '\(zoneName)' is not a time zone this machine knows)"
        }
        return "\(from) to \(to) (\(zoneName))"
    }
}

/// `11 h 30 min`, `45 min`, `2 d 3 h 0 min`: durations in whole minutes.
func durationText(minutes: Int64) -> String {
    let days = minutes / 1440, hours = minutes % 1440 / 60, mins = minutes % 60
    if days > 0 { return "\(days) d \(hours) h \(mins) min" }
    if hours > 0 { return "\(hours) h \(mins) min" }
    return "\(mins) min"
}

/// `813 min (13 h 33 min)`, `45 min`: an amount of recovered time, the one way the reports write it.
func minutesText(_ minutes: Int) -> String {
    minutes < 60 ? "\(minutes) min" : "\(minutes) min (\(durationText(minutes: Int64(minutes))))"
}

/// `1.5 MiB (1572864 bytes)`
func sizeText(_ bytes: Int64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = "bytes"
    for u in units where value >= 1024 {
        value /= 1024
        unit = u
    }
    if unit == "bytes" { return "\(bytes) bytes" }
    return String(format: "%.1f", value) + " \(unit) (\(bytes) bytes)"
}
