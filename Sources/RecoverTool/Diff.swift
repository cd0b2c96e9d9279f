import ArgumentParser
import RecoveryModel
import SnapshotDiff

/// `recover-tool diff`: how a snapshot and live differ for a window. Changes nothing.
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compares a snapshot with the live database for a window; changes nothing.",
        discussion: """
            Counts the window's slots missing from live (candidates for recovery), changed since \
            the backup (with the changed columns), only in live, and identical, per user, and \
            lists the first of each kind. Both databases are read in READ ONLY transactions.
            """
    )

    @Option(help: "Start of the window (RFC 3339 with Z or an offset), inclusive.")
    var from: DiffTime

    @Option(help: "End of the window (RFC 3339 with Z or an offset), exclusive.")
    var to: DiffTime

    @Option(help: "A pg_dump of time_slots (.sql or .sql.lz4), or a restored database's connection string or URI.")
    var snapshot: String

    @Option(help: "The live database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    @Flag(help: "Print one JSON object instead of the text report.")
    var json = false

    @Option(help: "How many entries of each kind to list.")
    var show = 10

    func validate() throws {
        guard from.time < to.time else { throw ValidationError("'--to' must be after '--from'") }
    }

    func run() throws {
        let report = try SnapshotDiffer.diff(
            snapshot: SnapshotSource(argument: snapshot), db: db,
            window: Window(from: from.time, to: to.time), sampleLimit: show)
        print(json ? try report.json() : report.text, terminator: json ? "\n" : "")
    }
}

/// A `--from`/`--to` value: RFC 3339 with `Z` or an offset; a time without one is refused.
struct DiffTime: ExpressibleByArgument {
    var time: Timestamp

    init?(argument: String) {
        guard let time = Timestamp.parse(argument) else { return nil }
        self.time = time
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
