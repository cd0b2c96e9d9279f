import ArgumentParser
import SnapshotDiff

/// `recover-tool diff`: how a snapshot and live differ for a window. Changes nothing.
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a snapshot with live for a window",
        discussion: """
            Counts the window's slots missing from live (candidates for recovery), changed since \
            the backup (with the changed columns), only in live, and identical, per user, and \
            lists the first of each kind. Both databases are read in READ ONLY transactions; \
            nothing is changed.

            EXAMPLES:
              recover-tool diff --from 2018-07-25T14:55:00Z --to 2018-07-26T01:45:00Z \\
                --snapshot backup.sql.lz4
              recover-tool diff --from 2018-07-25T14:55:00Z --to 2018-07-26T01:45:00Z \\
                --snapshot 'dbname=tracker_backup' --json
            """
    )

    @OptionGroup var window: WindowOptions

    @Option(help: ArgumentHelp(
        "A pg_dump of time_slots (.sql, .sql.lz4), or a restored database's connection string or URI.",
        valueName: "path-or-conninfo"))
    var snapshot: String

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("How many entries of each kind to list.", valueName: "n"))
    var show = 10

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard show >= 0 else { throw ValidationError("'--show' must be 0 or more") }
    }

    func run() throws {
        let report = try output.log.timed("diff") {
            try SnapshotDiffer.diff(
                snapshot: SnapshotSource(argument: snapshot), database: database.target, window: window.window, sampleLimit: show)
        }
        try output.emit(report.jsonForm) { report.text }
    }
}
