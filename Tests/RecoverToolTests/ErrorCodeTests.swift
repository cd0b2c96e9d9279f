import EventSpill
import Foundation
import PlanExplain
import PlanFormat
import PostgresClient
import Reconcile
@testable import RecoveryCommit
import RecoveryModel
import SnapshotDiff
import SourceFiles
import TestSupport
import XCTest

/// The error protocol: every code and status is listed in docs/EXIT-STATUS.md, and a `--json`
/// command that fails prints the error object.
final class ErrorCodeTests: XCTestCase {
    static var everyError: [any ToolError] {
        var errors: [any ToolError] = []
        errors += SourceError.Kind.allCases.map { SourceError($0, path: "p", detail: "d") }
        errors += SnapshotError.Kind.allCases.map { SnapshotError($0, source: "s", line: 1, detail: "d") }
        errors += PlanError.Kind.allCases.map { PlanError($0, path: "p", detail: "d") }
        errors += PostgresError.Kind.allCases.map { PostgresError(kind: $0, message: "m", context: "c") }
        errors += CommitError.Kind.allCases.map { CommitError($0, "m") }
        errors += ReconcileError.Kind.allCases.map { ReconcileError($0, snapshot: "s", detail: "d") }
        errors += ExplainError.Kind.allCases.map { ExplainError($0, "m") }
        errors += SpillError.Kind.allCases.map { SpillError($0, path: "p", detail: "d") }
        errors.append(UnreadableValue(table: "t", column: "c", key: "k", value: nil, expected: "e"))
        errors.append(ServiceTableRefused(table: "t", problem: "p"))
        return errors
    }

    func testEveryCodeIsDocumentedWithItsStatus() throws {
        let doc = try String(contentsOf: Repository.root.appendingPathComponent("docs/EXIT-STATUS.md"), encoding: .utf8)
        for status in ExitStatus.allCases {
            XCTAssertTrue(doc.contains("\n| \(status.rawValue) | "), "status \(status) is not in the table")
        }
        let errors = Self.everyError
        XCTAssertEqual(Set(errors.map(\.code)).count, errors.count, "codes are unique")
        for error in errors {
            XCTAssertTrue(doc.contains("| `\(error.code)` | \(error.exitStatus.rawValue) |"), "\(error.code) \(error.exitStatus.rawValue)")
        }
    }

    func testTimeoutsAreBusyEverywhere() {
        XCTAssertEqual(PostgresError(kind: .query, sqlState: "55P03", message: "m", context: "c").exitStatus.rawValue, 75)
        XCTAssertEqual(PostgresError(kind: .query, sqlState: "57014", message: "m", context: "c").exitStatus.rawValue, 75)
        XCTAssertEqual(PostgresError(kind: .query, sqlState: "23505", message: "m", context: "c").exitStatus.rawValue, 69)
        XCTAssertEqual(CommitError(.lockTimeout, "m").exitStatus.rawValue, 75)
        XCTAssertEqual(CommitError(.statementTimeout, "m").exitStatus.rawValue, 75)
        XCTAssertEqual(CommitError(.outcomeUnknown, "m").exitStatus.rawValue, 3)
    }

    func testTheLineIsMessageThenHint() {
        let error = PlanError(.tampered, path: "plans/a", detail: "rows.tsv is missing")
        XCTAssertEqual(error.description, "refusing the plan in 'plans/a': rows.tsv is missing; make a new plan with the command that made this one ('recover-tool plan' or 'reconcile') and review it")
        XCTAssertEqual(error.location, "plans/a")
    }

    /// A commit error carries its parts, as every error does: the message with what the failure
    /// left, the hint apart (the JSON object's `hint`), the error behind it, the place.
    func testCommitErrorCarriesItsParts() {
        let server = PostgresError(kind: .query, sqlState: "23503", message: "violates foreign key", context: "inserting", hint: "add the user")
        let failed = CommitError.database(server, doing: "cannot apply", lockHint: "wait")
        XCTAssertEqual(failed.code, "commit_database")
        XCTAssertEqual(failed.message, "cannot apply: inserting: violates foreign key (SQLSTATE 23503); nothing was changed")
        XCTAssertEqual(failed.hint, "add the user")
        XCTAssertEqual(failed.line, failed.message + "; add the user")
        XCTAssertEqual(failed.underlying as? PostgresError, server)

        // A message that ends in a stop (libpq's) takes the hint without doubling it: 'request.; check --db'.
        let closed = PostgresError(kind: .connect, message: "server closed the connection unexpectedly. This probably means the server "
                                   + "terminated abnormally before or while processing the request.", context: "cannot connect", hint: "check --db")
        XCTAssertTrue(closed.line.hasSuffix("before or while processing the request; check --db"), closed.line)
        // And what the failure left: 'request; nothing was changed', not 'request.; nothing ...'.
        let lost = PostgresError(kind: .connection, message: "server closed the connection unexpectedly. This probably means the server "
                                 + "terminated abnormally before or while processing the request.", context: "loading rows")
        XCTAssertTrue(CommitError.database(lost, doing: "cannot apply", lockHint: "wait").message
            .hasSuffix("before or while processing the request; nothing was changed"))

        let unreachable = PostgresError(kind: .connect, message: "no such file", context: "cannot connect to database 'dbname=x'")
        let notConnected = CommitError.database(unreachable, doing: "cannot list the runs", lockHint: "wait")
        XCTAssertEqual(notConnected.message, "cannot list the runs: cannot connect to database 'dbname=x': no such file")
        XCTAssertEqual(notConnected.hint, "check --db or DATABASE_URL")
        XCTAssertEqual(notConnected.code, "database_connect")

        let locked = PostgresError(kind: .query, sqlState: "55P03", message: "lock timeout", context: "waiting for the lock")
        let busy = CommitError.database(locked, doing: "cannot apply", lockHint: "try again")
        XCTAssertEqual(busy.kind, .lockTimeout)
        XCTAssertEqual(busy.line, "cannot apply: waiting for the lock: timed out waiting for a lock (SQLSTATE 55P03); nothing was changed; try again")

        let tampered = PlanError(.tampered, path: "plans/a", detail: "rows.tsv is missing")
        let refused = CommitError(refusing: tampered, outcome: "nothing was changed")
        XCTAssertEqual(refused.exitStatus, .refusedPlan)
        XCTAssertEqual(refused.location, "plans/a")
        XCTAssertEqual(refused.hint, tampered.hint)
        XCTAssertEqual(refused.line, tampered.message + "; nothing was changed; " + (tampered.hint ?? ""))
    }

    func testJSONCommandPrintsTheErrorObjectOnFailure() throws {
        let missing = "/nonexistent/recover-tool-logs"
        let out = try runProcess(ScanCommandTests.tool,
                                 ["scan", "--from", "2018-07-25T14:00:00Z", "--to", "2018-07-25T15:00:00Z", "--logs", missing, "--json"],
                                 currentDirectory: Repository.root)
        XCTAssertEqual(out.status, 65)
        XCTAssertEqual(out.stderrText, "recover-tool: error: no input at '\(missing)': no such file or directory; check --logs and --snapshot\n")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: out.stdout) as? [String: Any], out.stdoutText)
        XCTAssertEqual(object["format_version"] as? Int, 1)
        let error = try XCTUnwrap(object["error"] as? [String: Any])
        XCTAssertEqual(error["code"] as? String, "source_not_found")
        XCTAssertEqual(error["message"] as? String, "no input at '\(missing)': no such file or directory")
        XCTAssertEqual(error["hint"] as? String, "check --logs and --snapshot")
        XCTAssertEqual(Set(object.keys), ["error", "format_version"])
        XCTAssertEqual(Set(error.keys), ["code", "message", "hint"])
    }
}
