import ArgumentParser

/// Checks of the command line that ArgumentParser does not make.
enum ArgumentChecks {
    /// The options each subcommand may be given more than once (its array options, whose values
    /// add up); every other option of every subcommand takes one value.
    static let repeatable: [String: Set<String>] = ["scan": ["--logs"], "plan": ["--logs", "--snapshot"], "verify": ["--run"]]

    /// The options' short names (`-o`, or grouped flags as `-qy`), counted as their long ones.
    static let shortNames: [Character: String] = ["o": "--out", "q": "--quiet", "v": "--verbose", "y": "--yes"]

    /// A single-valued option given twice (`--from A --from B`, `-o A --out B`) is refused, not
    /// silently the last: returns the error line, or nil. `arguments` start with the subcommand;
    /// options are looked at up to a `--` terminator.
    static func repeatedOption(in arguments: some Collection<String>) -> String? {
        let adding = arguments.first.flatMap { repeatable[$0] } ?? []
        var seen: Set<String> = []
        for argument in arguments {
            if argument == "--" { break }
            var names: [String] = []
            if argument.hasPrefix("--") {
                if argument.count > 2 { names = [String(argument.prefix { $0 != "=" })] }
            } else if argument.hasPrefix("-") {
                // Grouped short names up to the first that is none (a value such as '-5' names
                // nothing). ArgumentParser takes no value inside a group: '-oq A' is '-o A -q'.
                for c in argument.dropFirst() {
                    guard let name = shortNames[c] else { break }
                    names.append(name)
                }
            }
            for name in names where !adding.contains(name) {
                if !seen.insert(name).inserted {
                    return "'\(name)' is given more than once; give it once"
                }
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
