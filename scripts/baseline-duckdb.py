#!/usr/bin/env python3
"""The recovery as an engineer would script it with DuckDB: a baseline for `plan`'s speed.

usage: scripts/baseline-duckdb.py --from T --to T --logs DIR --snapshot FILE --db CONNINFO
                                  [--threads N] [--out FILE] [--check expected.json]

Does what `recover-tool plan` decides (CONTRACT section 5) with DuckDB's SQL: the log lines read
with `read_csv` (one column) and parsed with DuckDB's JSON functions, the pg_dump COPY block of
`time_slots` read with `read_csv`, the fold as window functions, and the live state (the window's
keys, offline entries, users, projects, tasks, memberships) read with `psql \\copy`. Writes the
recovered rows as TSV (`--out`), prints the counts and the seconds of each step on stderr. It
writes no report, no hashes of its inputs, no provenance: it is a floor for what a scripted
recovery costs, not a replacement for the tool.

`--check expected.json` compares the counts and the recovered rows' SHA-256 (the canonical form of
scripts/check-expected.py) with a generated incident's expected.json, after the timed part.
Needs the `duckdb` module (PyPI) and the `lz4` and `psql` tools.
"""

import argparse
import hashlib
import importlib.util
import json
import mmap
import os
import subprocess
import sys
import tempfile
import time

import duckdb

# The array-literal parser and the rows hash's canonical text are scripts/check-expected.py's.
_spec = importlib.util.spec_from_file_location("check_expected", os.path.join(os.path.dirname(__file__), "check-expected.py"))
check_expected = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_expected)
pg_array, canon = check_expected.pg_array, check_expected.canon

RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"


def step(name, started, times):
    now = time.monotonic()
    times.append((name, now - started))
    return now


def decompress(path, out):
    """`lz4 -dc` (a cut last frame, exit 68, keeps what came before it, as plan reads it) or a copy."""
    with open(out, "wb") as sink:
        if path.endswith(".lz4"):
            run = subprocess.run(["lz4", "-dc", path], stdout=sink, stderr=subprocess.PIPE)
            if run.returncode not in (0, 68):
                sys.exit("baseline: lz4 -dc %s: %s" % (path, run.stderr.decode(errors="replace").strip()))
        else:
            with open(path, "rb") as source:
                while chunk := source.read(1 << 22):
                    sink.write(chunk)


def copy_block(dump, out):
    """Writes the rows of the dump's `COPY ... time_slots (...) FROM stdin;` block; returns its columns."""
    with open(dump, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        start = m.find(b"\nCOPY public.time_slots (")
        if start < 0:
            start = m.find(b"\nCOPY time_slots (")
        if start < 0:
            sys.exit("baseline: %s holds no COPY block of time_slots" % dump)
        head_end = m.find(b"\n", start + 1)
        header = m[start + 1:head_end].decode()
        end = m.find(b"\n\\.\n", head_end)
        with open(out, "wb") as sink:
            sink.write(m[head_end + 1:end + 1])
    return [c.strip() for c in header[header.index("(") + 1:header.index(")")].split(",")]


def psql_copy(db, query, out):
    with open(out, "wb") as sink:
        run = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c",
                              "\\copy (%s) TO STDOUT WITH (FORMAT csv)" % query], stdout=sink, stderr=subprocess.PIPE)
    if run.returncode != 0:
        sys.exit("baseline: psql: %s" % run.stderr.decode(errors="replace").strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="start", required=True)
    ap.add_argument("--to", dest="end", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out")
    ap.add_argument("--check")
    args = ap.parse_args()

    times = []
    began = t = time.monotonic()
    work = tempfile.mkdtemp(prefix="baseline-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    con = duckdb.connect()
    con.execute("SET threads = %d" % args.threads)
    con.execute("SET TimeZone = 'UTC'")
    w_from = con.execute("SELECT epoch_us(CAST(? AS TIMESTAMPTZ))", [args.start]).fetchone()[0]
    w_to = con.execute("SELECT epoch_us(CAST(? AS TIMESTAMPTZ))", [args.end]).fetchone()[0]

    # Read: decompress every input, as plan must.
    logs = []
    for root, _, names in os.walk(args.logs):
        for name in sorted(names):
            if name.endswith((".log", ".jsonl", ".log.lz4", ".jsonl.lz4")):
                logs.append(os.path.join(root, name))
    logs.sort()
    plain = []
    for i, path in enumerate(logs):
        out = os.path.join(work, "%04d.jsonl" % i)
        decompress(path, out)
        plain.append((out, os.path.basename(path), os.path.relpath(path, os.path.dirname(args.logs.rstrip("/")))))
    dump = os.path.join(work, "snapshot.sql")
    decompress(args.snapshot, dump)
    columns = copy_block(dump, os.path.join(work, "rows.tsv"))
    t = step("decompress", t, times)

    # Live state: the window's keys and what the checks need.
    window = "'%s' AND '%s'" % (args.start, args.end)
    psql_copy(args.db, "SELECT user_id, (extract(epoch FROM slot_start) * 1000000)::bigint FROM time_slots "
              "WHERE slot_start >= '%s' AND slot_start < '%s'" % (args.start, args.end), os.path.join(work, "live.csv"))
    psql_copy(args.db, "SELECT user_id, (extract(epoch FROM starts_at) * 1000000)::bigint, "
              "(extract(epoch FROM ends_at) * 1000000)::bigint FROM offline_entries "
              "WHERE ends_at > timestamptz '%s' AND starts_at < timestamptz '%s' + interval '10 minutes'"
              % (args.start, args.end), os.path.join(work, "offline.csv"))
    psql_copy(args.db, "SELECT id FROM users", os.path.join(work, "users.csv"))
    psql_copy(args.db, "SELECT id FROM projects", os.path.join(work, "projects.csv"))
    psql_copy(args.db, "SELECT id, project_id FROM tasks", os.path.join(work, "tasks.csv"))
    psql_copy(args.db, "SELECT project_id, user_id FROM project_members", os.path.join(work, "members.csv"))
    for name, cols in (("live", "user_id BIGINT, slot BIGINT"), ("offline", "user_id BIGINT, s BIGINT, e BIGINT"),
                       ("users", "id BIGINT"), ("projects", "id BIGINT"), ("tasks", "id BIGINT, project_id BIGINT"),
                       ("members", "project_id BIGINT, user_id BIGINT")):
        con.execute("CREATE TABLE %s (%s)" % (name, cols))
        con.execute("COPY %s FROM '%s' (FORMAT csv)" % (name, os.path.join(work, name + ".csv")))
    t = step("live state", t, times)

    # Log lines, parsed by read_json in file order (rowid), each key kept as JSON so that its type
    # can be checked as CONTRACT 3 asks. read_json cannot tell a null from a missing key: a line
    # without task_id is taken as a null task, a null duration_min as 10 (the tool quarantines both).
    con.execute("CREATE TABLE files (path VARCHAR, name VARCHAR, rel VARCHAR)")
    con.executemany("INSERT INTO files VALUES (?, ?, ?)", plain)
    keys = ["ts", "host", "event", "user_id", "slot_start", "request_id", "project_id", "task_id", "duration_min",
            "keystrokes", "mouse_events", "active_apps", "screenshot_key", "note", "status", "activity_level"]
    con.execute("""
        CREATE TABLE parsed AS SELECT filename AS path, * EXCLUDE (filename)
        FROM read_json(?, columns = {%s}, format = 'newline_delimited', ignore_errors = true, filename = true)
        """ % ", ".join("'%s': 'JSON'" % k for k in keys), [[p for p, _, _ in plain]])
    # CONTRACT 3 and 5.5: the lines a line alone shows to be unusable are left out.
    con.execute(r"""
        CREATE TABLE events AS
        WITH typed AS (
            SELECT rowid AS n, path, ts->>'$' AS ts, host->>'$' AS host, event->>'$' AS event, user_id,
                   slot_start->>'$' AS slot, request_id->>'$' AS request, project_id, task_id, duration_min,
                   keystrokes, mouse_events, active_apps, screenshot_key->>'$' AS screenshot, note->>'$' AS note,
                   status->>'$' AS status, activity_level,
                   [json_type(ts), json_type(host), json_type(event), json_type(user_id), json_type(slot_start),
                    json_type(request_id), json_type(project_id), json_type(task_id), json_type(duration_min),
                    json_type(keystrokes), json_type(mouse_events), json_type(screenshot_key), json_type(note),
                    json_type(status), json_type(activity_level)] AS ty
            FROM parsed)
        SELECT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
               CASE event WHEN 'slot.upload' THEN 1 WHEN 'slot.processed' THEN 2 ELSE 3 END AS rank,
               host, f.name, f.rel, n, event, CAST(user_id AS BIGINT) AS user_id,
               epoch_us(CAST(slot AS TIMESTAMPTZ)) AS slot, request, CAST(project_id AS BIGINT) AS project,
               CAST(task_id AS BIGINT) AS task, CAST(coalesce(duration_min, '10') AS INTEGER) AS duration,
               CAST(keystrokes AS BIGINT) AS keystrokes, CAST(mouse_events AS BIGINT) AS mouse,
               CAST(active_apps AS VARCHAR[]) AS apps, note, status, CAST(activity_level AS INTEGER) AS activity
        FROM typed JOIN files f USING (path)
        WHERE ty[1] = 'VARCHAR' AND ty[2] = 'VARCHAR' AND ty[3] = 'VARCHAR'
          AND regexp_full_match(ts, ?) AND TRY_CAST(ts AS TIMESTAMPTZ) IS NOT NULL
          AND event IN ('slot.upload', 'slot.processed', 'slot.deleted')
          AND ty[4] IN ('UBIGINT', 'BIGINT') AND TRY_CAST(user_id AS BIGINT) IS NOT NULL AND ty[5] = 'VARCHAR'
          AND regexp_full_match(slot, ?) AND TRY_CAST(slot AS TIMESTAMPTZ) IS NOT NULL
          AND epoch_us(CAST(slot AS TIMESTAMPTZ)) % 600000000 = 0
          AND epoch_us(CAST(slot AS TIMESTAMPTZ)) >= ? AND epoch_us(CAST(slot AS TIMESTAMPTZ)) < ?
          AND NOT contains(host, chr(0))
          AND (event <> 'slot.upload' OR (
                ty[6] = 'VARCHAR' AND ty[7] IN ('UBIGINT', 'BIGINT') AND (ty[8] IS NULL OR ty[8] IN ('UBIGINT', 'BIGINT'))
                AND (ty[9] IS NULL OR ty[9] IN ('UBIGINT', 'BIGINT')) AND ty[10] IN ('UBIGINT', 'BIGINT')
                AND ty[11] IN ('UBIGINT', 'BIGINT') AND (ty[12] IS NULL OR ty[12] = 'VARCHAR')
                AND (ty[13] IS NULL OR ty[13] = 'VARCHAR') AND json_type(active_apps) = 'ARRAY'
                AND list_bool_and(list_transform(json_extract(active_apps, '$[*]'), lambda a: json_type(a) = 'VARCHAR'))
                AND TRY_CAST(coalesce(duration_min, '10') AS INTEGER) BETWEEN 1 AND 10
                AND TRY_CAST(keystrokes AS BIGINT) BETWEEN 0 AND 2147483647
                AND TRY_CAST(mouse_events AS BIGINT) BETWEEN 0 AND 2147483647
                AND TRY_CAST(project_id AS BIGINT) IS NOT NULL AND (task_id IS NULL OR TRY_CAST(task_id AS BIGINT) IS NOT NULL)
                AND NOT contains(request, chr(0)) AND NOT contains(coalesce(screenshot, ''), chr(0))
                AND NOT contains(coalesce(note, ''), chr(0))
                AND NOT list_bool_or(list_transform(CAST(active_apps AS VARCHAR[]), lambda a: contains(a, chr(0))))))
          AND (event <> 'slot.processed' OR (
                ty[14] = 'VARCHAR' AND ty[15] IN ('UBIGINT', 'BIGINT') AND status IN ('active', 'idle')
                AND TRY_CAST(activity_level AS INTEGER) BETWEEN 0 AND 10))
        """, [RFC3339, RFC3339, w_from, w_to])
    t = step("read logs", t, times)

    # The snapshot's rows in the window, unescaped (COPY text: \\, \t, \n, \r, \b, \f, \v); a
    # key is unique in a dump, so a row needs no line number for the fold's order.
    unescape = ("replace(replace(replace(replace(replace(replace(replace(replace({0}, '\\\\', chr(1)), '\\t', chr(9)), "
                "'\\n', chr(10)), '\\r', chr(13)), '\\b', chr(8)), '\\f', chr(12)), '\\v', chr(11)), chr(1), '\\')")
    spec = "{" + ", ".join("'%s': 'VARCHAR'" % c for c in columns) + "}"
    con.execute("""
        CREATE TABLE snap AS
        SELECT epoch_us(CAST(updated_at AS TIMESTAMPTZ)) AS ts, 0 AS rank, '' AS host, '' AS name, ? AS rel,
               0 AS n, 'snapshot' AS event, CAST(user_id AS BIGINT) AS user_id,
               epoch_us(CAST(slot_start AS TIMESTAMPTZ)) AS slot, NULL AS request,
               CAST(project_id AS BIGINT) AS project, CAST(task_id AS BIGINT) AS task,
               CAST(duration_min AS INTEGER) AS duration, CAST(keystrokes AS BIGINT) AS keystrokes,
               CAST(mouse_events AS BIGINT) AS mouse, active_apps, %s AS note, status,
               CAST(activity_level AS INTEGER) AS activity
        FROM read_csv(?, columns = %s, delim = chr(9), quote = '', escape = '', header = false, nullstr = '\\N')
        WHERE CAST(slot_start AS TIMESTAMPTZ) >= make_timestamptz(?) AND CAST(slot_start AS TIMESTAMPTZ) < make_timestamptz(?)
        """ % (unescape.format("note"), spec), [args.snapshot, os.path.join(work, "rows.tsv"), w_from, w_to])
    # Array literals: quoted elements (with commas, spaces, quotes) need the full grammar.
    con.create_function("pg_array", pg_array, ["VARCHAR"], "VARCHAR[]")
    con.execute("""
        ALTER TABLE snap ADD COLUMN apps VARCHAR[];
        UPDATE snap SET apps = CASE WHEN active_apps = '{}' THEN []
            WHEN NOT contains(active_apps, '"') AND NOT contains(active_apps, '\\') THEN string_split(active_apps[2:-2], ',')
            ELSE pg_array(active_apps) END;
        """)
    t = step("read snapshot", t, times)

    # The fold (CONTRACT 5.2): in each key's order, a snapshot row or the first upload of a request
    # sets the version, a deletion removes it, a processed event sets its status and level.
    con.execute("""
        CREATE TABLE folded AS
        WITH ev AS (
            SELECT ts, rank, host, name, rel, n, event, user_id, slot, request, project, task, duration, keystrokes,
                   mouse, apps, note, status, activity FROM events
            UNION ALL
            SELECT ts, rank, host, name, rel, n, event, user_id, slot, request, project, task, duration, keystrokes,
                   mouse, apps, note, status, activity FROM snap),
        kept AS (
            SELECT *, row_number() OVER (PARTITION BY user_id, slot, request ORDER BY ts, rank, host, name, rel, n) AS copy
            FROM ev),
        base AS (
            SELECT * FROM kept WHERE event <> 'slot.processed' AND (event <> 'slot.upload' OR copy = 1)
            QUALIFY row_number() OVER (PARTITION BY user_id, slot ORDER BY ts DESC, rank DESC, host DESC, name DESC, rel DESC, n DESC) = 1),
        processed AS (
            SELECT p.user_id, p.slot, p.status, p.activity FROM kept p JOIN base b USING (user_id, slot)
            WHERE p.event = 'slot.processed' AND b.event <> 'slot.deleted'
              AND (p.ts, p.rank, p.host, p.name, p.rel, p.n) > (b.ts, b.rank, b.host, b.name, b.rel, b.n)
            QUALIFY row_number() OVER (PARTITION BY p.user_id, p.slot ORDER BY p.ts DESC, p.rank DESC, p.host DESC, p.name DESC, p.rel DESC, p.n DESC) = 1)
        SELECT b.user_id, b.slot, b.project, b.task, b.duration,
               coalesce(p.status, CASE b.event WHEN 'slot.upload' THEN 'pending' ELSE b.status END) AS status,
               CASE WHEN p.status IS NOT NULL THEN p.activity WHEN b.event = 'slot.upload' THEN NULL ELSE b.activity END AS activity,
               b.keystrokes, b.mouse, b.apps, b.note
        FROM base b LEFT JOIN processed p USING (user_id, slot)
        WHERE b.event <> 'slot.deleted'
        """)
    t = step("fold", t, times)

    # Resolve (CONTRACT 5.3-5.5): present in live, overlapping offline time, references, else recovered.
    con.execute("""
        CREATE TABLE outcome AS
        SELECT f.*, CASE
            WHEN l.user_id IS NOT NULL THEN 'already_present'
            WHEN EXISTS (SELECT 1 FROM offline o WHERE o.user_id = f.user_id AND o.s < f.slot + f.duration * 60000000
                         AND f.slot < o.e) THEN 'offline_overlap'
            WHEN f.user_id NOT IN (SELECT id FROM users) THEN 'unknown_user'
            WHEN f.project NOT IN (SELECT id FROM projects) THEN 'unknown_project'
            WHEN f.task IS NOT NULL AND f.task NOT IN (SELECT id FROM tasks) THEN 'unknown_task'
            WHEN f.task IS NOT NULL AND (SELECT t.project_id FROM tasks t WHERE t.id = f.task) <> f.project THEN 'task_of_another_project'
            WHEN NOT EXISTS (SELECT 1 FROM members m WHERE m.project_id = f.project AND m.user_id = f.user_id) THEN 'not_a_member'
            ELSE 'recovered' END AS outcome
        FROM folded f LEFT JOIN live l ON l.user_id = f.user_id AND l.slot = f.slot
        """)
    t = step("resolve", t, times)
    out = args.out or os.path.join(work, "recovered.tsv")
    con.execute("""
        COPY (SELECT user_id, strftime(make_timestamptz(slot), '%%Y-%%m-%%dT%%H:%%M:%%SZ') AS slot_start, project, task,
                     duration, status, activity, keystrokes, mouse, apps, note
              FROM outcome WHERE outcome = 'recovered' ORDER BY user_id, slot) TO '%s' (FORMAT csv, DELIMITER '\t', HEADER false)
        """ % out.replace("'", "''"))
    t = step("write", t, times)
    total = time.monotonic() - began
    counts = dict(con.execute("SELECT outcome, count(*) FROM outcome GROUP BY ALL").fetchall())
    print("baseline: %s; %.2f s in all (%s)" % (
        ", ".join("%s %d" % kv for kv in sorted(counts.items())), total,
        ", ".join("%s %.2f s" % kv for kv in times)), file=sys.stderr)

    status = 0
    if args.check:
        status = check(con, json.load(open(args.check)), counts)
    subprocess.run(["rm", "-rf", work])
    sys.exit(status)


def check(con, expected, counts):
    """The counts and the recovered rows' SHA-256 against expected.json (scripts/check-expected.py's form)."""
    rows_hash = hashlib.sha256()
    cursor = con.execute("""
        SELECT user_id, strftime(make_timestamptz(slot), '%Y-%m-%dT%H:%M:%SZ'), project, task, duration, status,
               activity, keystrokes, mouse, apps, note
        FROM outcome WHERE outcome = 'recovered' ORDER BY user_id, slot""")
    while batch := cursor.fetchmany(100_000):
        for u, s, p, t, d, st, a, k, m, apps, note in batch:
            fields = [str(u), s, str(p), "\\N" if t is None else str(t), str(d), st,
                      "\\N" if a is None else str(a), str(k), str(m), ",".join(canon(x) for x in apps),
                      "\\N" if note is None else canon(note)]
            rows_hash.update(("\t".join(fields) + "\n").encode())
    plan = expected["plan"]
    got = {"recovered": counts.get("recovered", 0), "already_present": counts.get("already_present", 0),
           "offline_overlap": counts.get("offline_overlap", 0), "rows_sha256": rows_hash.hexdigest()}
    want = {"recovered": plan["recovered"], "already_present": plan["already_present"],
            "offline_overlap": plan["offline_overlap"], "rows_sha256": expected["recovered_rows_sha256"]}
    for key in got:
        print("baseline: %-16s %s %s" % (key, "ok  " if got[key] == want[key] else "DIFF",
                                         got[key] if got[key] == want[key] else "got %r, expected %r" % (got[key], want[key])),
              file=sys.stderr)
    return 0 if got == want else 1


if __name__ == "__main__":
    main()
