import ArgumentParser
import Foundation
import PostgresClient
import RecoveryCommit

/// `--db`, for every subcommand that reads or writes the live database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The live database: a libpq connection string or URI; default: DATABASE_URL, then libpq's PG* variables.",
        valueName: "conninfo"))
    var db: String?

    @Option(help: ArgumentHelp(
        "The schema that holds the service's tables (time_slots, users, ...) in the live database and in a snapshot database (--snapshot CONNINFO); every statement names its tables in it, and the session's search path is pinned to it.",
        valueName: "name"))
    var schema = SessionSettings.defaultSchema

    func validate() throws {
        guard !schema.isEmpty, !schema.contains("\0") else { throw ValidationError("'--schema' must name a schema") }
    }

    /// `--db`, else the environment's `DATABASE_URL`, else libpq's defaults: the one place the
    /// tool reads `DATABASE_URL`. The target names its source for the connection error's hint.
    var target: ConnectionTarget {
        var target = ConnectionTarget.resolve(db, flag: "--db", databaseURL: ProcessInfo.processInfo.environment["DATABASE_URL"])
        target.schema = schema
        return target
    }
}

/// `--yes`, `--operator` and `--lock-timeout`, for the subcommands that write (`apply`, `revert`).
struct ConfirmOptions: ParsableArguments {
    @Flag(name: [.long, .customShort("y")], help: "Go ahead without asking (required when standard input is not a terminal).")
    var yes = false

    @Option(name: .customLong("operator"), help: ArgumentHelp("Who does it, recorded in the run; default: the login name.", valueName: "name"))
    var operatorName: String?

    @Option(help: ArgumentHelp("Seconds to wait for another apply or revert (the recovery lock) or a table lock.", valueName: "seconds"))
    var lockTimeout = RecoverySchema.defaultLockTimeoutSeconds

    func validate() throws {
        try ArgumentChecks.checkTimeout(lockTimeout, flag: "--lock-timeout")
    }

    /// `--operator`, else the login name.
    var operatorOrLogin: String { operatorName ?? Confirmation.defaultOperator() }
}
