import ArgumentParser

/// Checks of the command line that ArgumentParser does not make.
enum ArgumentChecks {
    /// The options each subcommand may be given more than once (its array options, whose values
    /// add up); every other option of every subcommand takes one value.
    static let repeatable: [String: Set<String>] = ["scan": ["--logs"], "plan": ["--logs", "--snapshot"], "verify": ["--run"]]

    /// A single-valued option given twice (`--from A --from B`) is refused, not silently the last:
    /// returns the error line, or nil. `arguments` start with the subcommand; long options are
    /// looked at up to a `--` terminator.
    static func repeatedOption(in arguments: some Collection<String>) -> String? {
        let adding = arguments.first.flatMap { repeatable[$0] } ?? []
        var seen: Set<String> = []
        for argument in arguments {
            if argument == "--" { break }
            guard argument.hasPrefix("--"), argument.count > 2 else { continue }
            let name = String(argument.prefix { $0 != "=" })
            if adding.contains(name) { continue }
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
