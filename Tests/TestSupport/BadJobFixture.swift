import Foundation
import PostgresClient

/// A small bad-job incident with every outcome of CONTRACT §7, in two real databases: the backup
/// (taken before the job) and live (after the job and later edits).
///
/// Users 1–3; project 7 (company 1) with task 70, project 8 (company 2) with task 80; every user
/// a member of 7, users 1 and 2 of 8. The job ran in [01:00, 03:00) on 2026-03-02: it moved
/// slots to project 8 and nulled their task, and deleted membership (7, 2).
///
/// | slot (user, start on 2026-03-01) | live | outcome |
/// | --- | --- | --- |
/// | (1, 09:00) | job at 01:30 | restore |
/// | (1, 09:10) | job at 01:30, then the user's note at 05:00 | kept, changed after the job |
/// | (2, 09:00) | job at 02:00, with note changed too | kept, not the fingerprint |
/// | (2, 09:10) | job at exactly 01:00:00 | restore (needs membership (7, 2), restored too) |
/// | (3, 09:00) | job at 02:59:59.999999 | restore |
/// | (3, 09:10) | job at exactly 03:00:00 | kept, changed after the job |
/// | (1, 09:20) | deleted | missing from live |
/// | (2, 09:20) | untouched | no outcome |
/// | (3, 09:30) | only in live | no outcome |
public enum BadJobFixture {
    public static let jobFrom = "2026-03-02T01:00:00Z"
    public static let jobTo = "2026-03-02T03:00:00Z"
    public static let columns = "time_slots.project_id,time_slots.task_id"
    /// The newest `updated_at` in the backup.
    public static let backupNewest = "2026-03-01T09:31:00Z"

    static let people = """
        INSERT INTO users VALUES (1, 'a@x', 'UTC'), (2, 'b@x', 'UTC'), (3, 'c@x', 'UTC');
        INSERT INTO projects VALUES (7, 1, 'p7'), (8, 2, 'p8');
        INSERT INTO tasks VALUES (70, 7, 't70'), (80, 8, 't80');
        INSERT INTO project_members VALUES (7, 1), (7, 2), (7, 3), (8, 1), (8, 2), (8, 3);
        INSERT INTO time_slots (id, user_id, project_id, task_id, slot_start, source, status, activity_level,
                                keystrokes, mouse_events, active_apps, note, updated_at) VALUES
          (1, 1, 7, 70, '2026-03-01 09:00:00+00', 'client', 'active', 5, 100, 10, '{Xcode}', NULL, '2026-03-01 09:11:00+00'),
          (2, 1, 7, 70, '2026-03-01 09:10:00+00', 'client', 'active', 5, 110, 10, '{Xcode}', NULL, '2026-03-01 09:21:00+00'),
          (3, 2, 7, 70, '2026-03-01 09:00:00+00', 'client', 'idle', 1, 120, 10, '{}', 'as,is', '2026-03-01 09:12:00+00'),
          (4, 2, 7, 70, '2026-03-01 09:10:00+00', 'client', 'active', 6, 130, 10, '{"a b",c}', NULL, '2026-03-01 09:22:00+00'),
          (5, 3, 7, 70, '2026-03-01 09:00:00+00', 'client', 'active', 7, 140, 10, '{}', NULL, '2026-03-01 09:13:00+00'),
          (6, 3, 7, 70, '2026-03-01 09:10:00+00', 'client', 'active', 7, 150, 10, '{}', NULL, '2026-03-01 09:23:00+00'),
          (7, 1, 7, 70, '2026-03-01 09:20:00+00', 'client', 'active', 8, 160, 10, '{}', NULL, '2026-03-01 09:30:00+00'),
          (8, 2, 7, 70, '2026-03-01 09:20:00+00', 'client', 'active', 8, 170, 10, '{}', NULL, '2026-03-01 09:31:00+00');
        SELECT setval('time_slots_id_seq', 8);
        """

    /// What the job and the users did after the backup.
    static let afterBackup = """
        UPDATE time_slots SET project_id = 8, task_id = NULL, updated_at = '2026-03-02 01:30:00+00' WHERE id IN (1, 2);
        UPDATE time_slots SET note = 'mine', updated_at = '2026-03-02 05:00:00+00' WHERE id = 2;
        UPDATE time_slots SET project_id = 8, task_id = NULL, note = 'job', updated_at = '2026-03-02 02:00:00+00' WHERE id = 3;
        UPDATE time_slots SET project_id = 8, task_id = NULL, updated_at = '2026-03-02 01:00:00+00' WHERE id = 4;
        UPDATE time_slots SET project_id = 8, task_id = NULL, updated_at = '2026-03-02 02:59:59.999999+00' WHERE id = 5;
        UPDATE time_slots SET project_id = 8, task_id = NULL, updated_at = '2026-03-02 03:00:00+00' WHERE id = 6;
        DELETE FROM time_slots WHERE id = 7;
        DELETE FROM project_members WHERE project_id = 7 AND user_id = 2;
        INSERT INTO time_slots (user_id, project_id, task_id, slot_start, source, status, updated_at)
          VALUES (3, 8, 80, '2026-03-01 09:30:00+00', 'client', 'pending', '2026-03-02 06:00:00+00');
        """

    /// Fills `backup` and `live`.
    public static func seed(backup: Connection, live: Connection) throws {
        try backup.executeSimple(people)
        try seedLive(live)
    }

    /// Fills `live` only: the state after the job and the later edits.
    public static func seedLive(_ live: Connection) throws {
        try live.executeSimple(people + afterBackup)
    }

    /// `pg_dump -t time_slots -t project_members -t users` of `backup` into `path` (several tables,
    /// one of them not read), in a zone other than UTC.
    public static func dump(_ backup: TestDatabase, to path: String) throws {
        var env = backup.processEnvironment
        env["PGTZ"] = "America/Los_Angeles"
        _ = try runChecked("pg_dump", ["-t", "users", "-t", "time_slots", "-t", "project_members", "--file=\(path)"], environment: env)
    }
}

/// The reconcile tests' setting: BadJobFixture's backup and live in fresh test databases, and a
/// temporary directory, with the backup's pg_dump in it when asked for.
public final class BadJobRun {
    /// The backup taken before the job.
    public let backup: TestDatabase
    /// Live after the job.
    public let live: TestDatabase
    public let dir: TemporaryDirectory
    /// `before.sql` in `dir`: the backup's plain pg_dump (`BadJobFixture.dump`), when made.
    public let dump: String

    /// Creates `LABEL_backup`, `LABEL_live` and the directory, seeds both databases, and dumps the
    /// backup into `dump` when `dumping`.
    public init(label: String, dumping: Bool = true) throws {
        backup = try TestDatabase(label: label + "_backup")
        live = try TestDatabase(label: label + "_live")
        dir = try TemporaryDirectory(prefix: label)
        dump = dir.file("before.sql").path
        try BadJobFixture.seed(backup: backup.connect(), live: live.connect())
        if dumping { try BadJobFixture.dump(backup, to: dump) }
    }
}
