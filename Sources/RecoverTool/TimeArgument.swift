import ArgumentParser
import RecoveryModel

/// A `--from`/`--to` value: RFC 3339 with `Z` or an explicit offset. A time without one is kept
/// as refused, so that `validate()` can name the flag and say how to write it: incident timelines
/// mix zones, and a guessed zone recovers the wrong hours.
struct TimeArgument: ExpressibleByArgument, Sendable {
    enum Reading: Sendable {
        case time(Timestamp)
        /// Why it was refused, and a way to write it (`2018-07-25T14:55:00Z`), when one is known.
        case noOffset(suggestion: String)
        /// `23:59:60Z`: valid RFC 3339, but not a time PostgreSQL or the tool can hold.
        case leapSecond
        /// More than six digits after the seconds' point: PostgreSQL rounds such a time to the
        /// microsecond and the tool's timestamps would cut it, so the two would disagree.
        case finerThanMicroseconds
        /// A time that its offset takes out of the years 1 to 9999 (the instant, in UTC).
        case outOfRange(Timestamp)
        case notATime
    }

    let text: String
    let reading: Reading

    init?(argument: String) {
        text = argument
        reading = Self.read(argument)
    }

    static var defaultCompletionKind: CompletionKind { .default }

    /// The time, or a `ValidationError` naming `flag`.
    func timestamp(flag: String) throws -> Timestamp {
        switch reading {
        case .time(let t):
            return t
        case .noOffset(let suggestion):
            throw ValidationError("\(flag) '\(text)' has no UTC offset: write it as \(suggestion) or with an offset such as -07:00")
        case .leapSecond:
            throw ValidationError(
                "\(flag) '\(text)' is a leap second (:60), which PostgreSQL's timestamps and this tool do not represent: "
                    + "write the second before or after it, such as 23:59:59Z")
        case .finerThanMicroseconds:
            throw ValidationError(
                "\(flag) '\(text)' is finer than a microsecond, which PostgreSQL's timestamps do not hold: "
                    + "write at most six digits after the seconds' point")
        case .outOfRange(let instant):
            throw ValidationError(
                "\(flag) '\(text)' is \(instant) in UTC, outside the years 1 to 9999 that PostgreSQL's timestamps and this tool share")
        case .notATime:
            throw ValidationError("\(flag) '\(text)' is not an RFC 3339 time: write it as 2018-07-25T14:55:00Z or with an offset such as -07:00")
        }
    }

    private static func read(_ text: String) -> Reading {
        let fine = isFinerThanMicroseconds(text)
        if let t = Timestamp.parse(text) { return fine ? .finerThanMicroseconds : .time(t) }
        if let instant = Timestamp.parseIgnoringRange(text) { return .outOfRange(instant) }
        // A local time: date, `T` or space, hours and minutes, maybe seconds and a fraction.
        var local = text
        if local.count == 10 { local += "T00:00:00" }
        if local.count == 16 { local += ":00" }
        let chars = Array(local)
        if chars.count >= 19, chars[10] == " " || chars[10] == "t" { local = String(chars[..<10]) + "T" + String(chars[11...]) }
        if Timestamp.parse(local + "Z") != nil { return fine ? .finerThanMicroseconds : .noOffset(suggestion: local + "Z") }
        let given = Array(text)
        if given.count >= 20, given[16] == ":", given[17] == "6", given[18] == "0" {
            var earlier = given
            earlier[17] = "5"
            earlier[18] = "9"
            if Timestamp.parse(String(earlier)) != nil { return .leapSecond }
        }
        return .notATime
    }

    /// `2018-07-25T14:50:00.1234567Z`, with or without an offset: a digit other than 0 after the
    /// sixth one past the seconds' point (index 19). `.123456000` is the same microsecond.
    private static func isFinerThanMicroseconds(_ text: String) -> Bool {
        let chars = Array(text.utf8)
        guard chars.count > 26, chars[19] == UInt8(ascii: ".") else { return false }
        let digits = chars[20...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return digits.dropFirst(6).contains { $0 != UInt8(ascii: "0") }
    }
}

/// `--from T --to T`: the recovery window, shared by scan, plan and diff.
struct WindowOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Start of the window, RFC 3339 with Z or an offset (2018-07-25T14:50:00Z, 2018-07-25T07:50:00-07:00).",
        valueName: "time"))
    var from: TimeArgument

    @Option(help: ArgumentHelp("End of the window (exclusive), RFC 3339 with Z or an offset.", valueName: "time"))
    var to: TimeArgument

    /// The longest window whose logs are read, in days: a longer one is a mistyped year (0018
    /// for 2018), and the hosts' coverage keeps a bit per minute of it for every host and file.
    /// `diff`, which reads no logs, takes any window (a bad job's review may start at the
    /// snapshot's oldest slot).
    static let maximumLogDays: Int64 = 366

    func validate() throws {
        let start = try from.timestamp(flag: "--from")
        let end = try to.timestamp(flag: "--to")
        guard start < end else {
            throw ValidationError("'--to' (\(end)) must be after '--from' (\(start))")
        }
    }

    /// Refuses a window longer than `maximumLogDays`: `scan` and `plan`, which read logs.
    func requireLogWindowLength() throws {
        let start = try from.timestamp(flag: "--from")
        let end = try to.timestamp(flag: "--to")
        let microsecondsPerDay: Int64 = 86_400_000_000
        let length = end.microseconds - start.microseconds
        guard length <= Self.maximumLogDays * microsecondsPerDay else {
            let days = length / microsecondsPerDay
            throw ValidationError("the window [\(start), \(end)) is " + (days > Self.maximumLogDays ? "\(days) days long" : "longer than \(Self.maximumLogDays) days") + "; "
                + "a recovery window is at most \(Self.maximumLogDays) days: check the years of --from and --to")
        }
    }

    /// The window, in UTC; call after validation.
    var window: Window {
        guard case .time(let start) = from.reading, case .time(let end) = to.reading, start < end else {
            preconditionFailure("WindowOptions used before validate()")
        }
        return Window(from: start, to: end)
    }
}
