import Foundation
import RecoveryModel

extension BadJobWorld {
    func write(to dir: URL) throws {
        try sql(rows: backupRows, members: backupMembers, tasks: backupTasks).write(to: dir.appendingPathComponent("backup.sql"))
        try sql(rows: liveRows, members: liveMembers, tasks: liveTasks).write(to: dir.appendingPathComponent("live.sql"))
        try expectedAfter().write(to: dir.appendingPathComponent("expected-after.tsv"))
        let expected: [String: Any] = [
            "job_from": jobFrom.rfc3339, "job_to": jobTo.rfc3339,
            "backup_taken_at": Timestamp(microseconds: backupAt).rfc3339,
            "columns": "time_slots.project_id,time_slots.task_id",
            "counts": counts,
            "memberships_restored": restoredMembers.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) },
            "backup_rows": backupRows.count, "live_rows": liveRows.count,
        ]
        var data = try JSONSerialization.data(withJSONObject: expected, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(10)
        try data.write(to: dir.appendingPathComponent("expected.json"))
    }

    /// COPY blocks of every table, for psql after fixtures/schema.sql.
    func sql(rows: [Row], members: Set<[Int64]>, tasks: [Int64: Int64]) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * 160)
        func line(_ s: String) { out.append(contentsOf: s.utf8); out.append(10) }
        line("COPY users (id, email, time_zone) FROM stdin;")
        for u in 1...users { line("\(u)\tuser\(u)@example.com\tUTC") }
        line("\\.")
        line("COPY projects (id, company_id, name) FROM stdin;")
        for (p, c) in projects.sorted(by: { $0.key < $1.key }) { line("\(p)\t\(c)\tproject \(p)") }
        line("\\.")
        line("COPY tasks (id, project_id, name) FROM stdin;")
        for (t, p) in tasks.sorted(by: { $0.key < $1.key }) { line("\(t)\t\(p)\ttask \(t)") }
        line("\\.")
        line("COPY project_members (project_id, user_id) FROM stdin;")
        for m in members.sorted(by: { ($0[0], $0[1]) < ($1[0], $1[1]) }) { line("\(m[0])\t\(m[1])") }
        line("\\.")
        line("COPY time_slots (id, user_id, project_id, task_id, slot_start, duration_min, source, status, activity_level, keystrokes, mouse_events, active_apps, screenshot_key, note, updated_at) FROM stdin;")
        for r in rows {
            var fields = "\(r.id)\t\(r.user)\t\(r.project)\t\(r.task.map(String.init) ?? "\\N")\t\(Timestamp(microseconds: r.start).rfc3339)\t10\tclient\t\(r.status)\t"
            fields += "\(r.activity.map(String.init) ?? "\\N")\t\(r.keystrokes)\t\(r.mouse)\t{}\t\\N\t"
            out.append(contentsOf: fields.utf8)
            CopyTextWriter.appendField(r.note, to: &out)
            out.append(contentsOf: "\t\(Timestamp(microseconds: r.updatedAt).rfc3339)\n".utf8)
        }
        line("\\.")
        line("SELECT setval('time_slots_id_seq', (SELECT max(id) FROM time_slots));")
        return Data(out)
    }

    /// Every live row after a correct apply, by id: `id, project_id, task_id, note, updated_at`,
    /// with `RESTORED` for the apply's time; the rows to restore take the backup's project and task.
    func expectedAfter() -> Data {
        let backup = Dictionary(uniqueKeysWithValues: backupRows.map { ($0.id, $0) })
        var out = ""
        for r in liveRows.sorted(by: { $0.id < $1.id }) {
            var row = r
            var written = Timestamp(microseconds: r.updatedAt).rfc3339
            if outcome[r.id] == "restore", let b = backup[r.id] {
                row.project = b.project
                row.task = b.task
                written = "RESTORED"
            }
            out += "\(row.id)\t\(row.project)\t\(row.task.map(String.init) ?? "\\N")\t\(CopyTextWriter.field(row.note))\t\(written)\n"
        }
        return Data(out.utf8)
    }
}
