import ArgumentParser
import Foundation
import PostgresClient

/// `--db`, for every subcommand that reads or writes the live database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "The live database (connection string or URI); default: DATABASE_URL, then libpq's PG* variables.")
    var db: String?

    /// `--db`, else the environment's `DATABASE_URL`, else libpq's defaults: the one place the
    /// tool reads `DATABASE_URL`. The target names its source for the connection error's hint.
    var target: ConnectionTarget {
        ConnectionTarget.resolve(db, flag: "--db", databaseURL: ProcessInfo.processInfo.environment["DATABASE_URL"])
    }
}

/// `--yes`, `--operator` and `--lock-timeout`, for the subcommands that write (`apply`, `revert`).
struct ConfirmOptions: ParsableArguments {
    @Flag(help: "Go ahead without asking (required when standard input is not a terminal).")
    var yes = false

    @Option(name: .customLong("operator"), help: "Who does it, recorded in the run; default: the login name.")
    var operatorName: String?

    @Option(help: "Seconds to wait for another apply or revert (the recovery lock) or a table lock.")
    var lockTimeout: Double = 30

    func validate() throws {
        try ArgumentChecks.checkTimeout(lockTimeout, flag: "--lock-timeout")
    }

    /// `--operator`, else the login name.
    var operatorOrLogin: String { operatorName ?? Confirmation.defaultOperator() }
}
