import ArgumentParser
import Foundation
import RecoveryModel

/// `bad-job-generator`: a Harvest-style bad-job incident (CONTRACT §7), deterministically from a
/// seed, with the outcome reconcile must reach worked out from the generator's own knowledge of
/// what happened to each row (never by running the rules).
///
/// The story: users record slots for days; a backup is taken; users keep working and edit a few
/// rows; then a job, between JOB_FROM and JOB_TO, moves some users' slots to another company's
/// project, nulls their task, and deletes those users' memberships of their own projects, while
/// the service goes on processing other slots; after the job, users edit or delete some damaged
/// rows, and an admin moves a task to another project.
@main
struct BadJobGenerator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bad-job-generator",
        abstract: "Generate a bad-job incident: backup and live databases as SQL, and its expected reconcile outcome.",
        discussion: """
            Writes DIR/backup.sql and DIR/live.sql (COPY blocks for psql after fixtures/schema.sql), \
            DIR/expected.json (job window, columns, counts per outcome, memberships to restore) and \
            DIR/expected-after.tsv (every live row after a correct apply: id, project_id, task_id, note, \
            updated_at, where 'RESTORED' stands for the apply's time). scripts/make-bad-job.sh loads \
            them and takes the pg_dump of the backup.
            """)

    @Option(help: "Seed of the pseudo-random generator: the same seed gives the same incident.")
    var seed: UInt64 = 1

    @Option(help: "Number of users.")
    var users: Int = 40

    @Option(help: "Slots each user recorded before the backup.")
    var slotsPerUser: Int = 60

    @Option(help: "Output directory (created; its files are replaced).")
    var out: String

    func validate() throws {
        guard users >= 10 else { throw ValidationError("'--users' must be at least 10") }
        guard (10...100_000).contains(slotsPerUser) else { throw ValidationError("'--slots-per-user' must be between 10 and 100000") }
    }

    func run() throws {
        let world = BadJobWorld(seed: seed, users: users, slotsPerUser: slotsPerUser)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try world.write(to: dir)
        FileHandle.standardError.write(Data("""
            bad-job-generator: seed \(seed), \(users) users, \(world.backupRows.count) backup rows, \(world.liveRows.count) live rows
              job [\(world.jobFrom), \(world.jobTo)); expected: \(world.countsText)
              wrote \(out)

            """.utf8))
    }
}
