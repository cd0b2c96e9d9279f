import ArgumentParser

/// Checks of the command line that ArgumentParser does not make.
enum ArgumentChecks {
    /// The options that may be given more than once (their values add up).
    static let repeatable: Set<String> = ["--logs", "--snapshot", "--run"]

    /// A single-valued option given twice (`--from A --from B`) is refused, not silently the last:
    /// returns the error line, or nil. Looks at long options up to a `--` terminator.
    static func repeatedOption(in arguments: some Sequence<String>) -> String? {
        var seen: Set<String> = []
        for argument in arguments {
            if argument == "--" { break }
            guard argument.hasPrefix("--"), argument.count > 2 else { continue }
            let name = String(argument.prefix { $0 != "=" })
            if repeatable.contains(name) { continue }
            if !seen.insert(name).inserted {
                return "'\(name)' is given more than once; give it once"
            }
        }
        return nil
    }

    /// The largest timeout the server accepts: 2^31 - 1 milliseconds, about 24.8 days.
    static let maximumTimeoutSeconds = Double(Int32.max) / 1000

    /// A timeout in seconds: finite, more than 0, at most `maximumTimeoutSeconds`.
    static func checkTimeout(_ seconds: Double, flag: String) throws {
        guard seconds.isFinite, seconds > 0, seconds <= maximumTimeoutSeconds else {
            throw ValidationError(
                "'\(flag)' must be a number of seconds more than 0 and at most \(Int(maximumTimeoutSeconds)) (about 24 days)")
        }
    }
}
