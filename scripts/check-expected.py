#!/usr/bin/env python3
"""Recomputes an incident's expected.json from its files, independently of the generator.

usage: scripts/check-expected.py DIR [--snapshot PATH] [--lz4-cli] [--quiet]

Reads what recover-tool reads: the logs under DIR/logs (plain and LZ4-framed, decoded here in pure
Python unless --lz4-cli), the snapshot (default DIR/snapshot/time_slots.sql, the real pg_dump
output; else DIR/snapshot/time_slots.sql.lz4; else DIR/db/backup.sql), and the live database's
load files DIR/db/reference.sql and DIR/db/live.sql. Applies CONTRACT section 5 for the window
of DIR/expected.json, compares every count and both hashes with expected.json, prints a table
and exits 1 on any difference. Standard library only.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
from collections import Counter, defaultdict

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MINUTE = 60_000_000
SLOT = 10 * MINUTE
INT32_MAX = 2**31 - 1

# ---------------------------------------------------------------------------------------------
# LZ4 frame format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md)


def lz4_block(src, dst):
    """Decodes one LZ4 block, appending to dst (which holds the earlier blocks of the frame)."""
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            while True:
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        dst += src[i:i + lit]
        i += lit
        if i >= n:
            break
        off = src[i] | src[i + 1] << 8
        i += 2
        ml = token & 15
        if ml == 15:
            while True:
                b = src[i]
                i += 1
                ml += b
                if b != 255:
                    break
        ml += 4
        start = len(dst) - off
        if off >= ml:
            dst += dst[start:start + ml]
        else:
            pattern = bytes(dst[start:])
            dst += (pattern * (ml // off + 1))[:ml]


def lz4_frames(data):
    """Returns (bytes decoded, truncated). Complete blocks before a cut are kept."""
    out = bytearray()
    pos, n = 0, len(data)
    while pos < n:
        if n - pos < 7:
            return bytes(out), True
        magic = struct.unpack_from("<I", data, pos)[0]
        if 0x184D2A50 <= magic <= 0x184D2A5F:
            size = struct.unpack_from("<I", data, pos + 4)[0]
            pos += 8 + size
            continue
        if magic != 0x184D2204:
            raise ValueError("not an LZ4 frame at byte %d" % pos)
        flg = data[pos + 4]
        header = 7 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
        if pos + header > n:
            return bytes(out), True
        pos += header
        block_checksum = 4 if flg & 0x10 else 0
        frame = bytearray()
        while True:
            if pos + 4 > n:
                out += frame
                return bytes(out), True
            size = struct.unpack_from("<I", data, pos)[0]
            pos += 4
            if size == 0:
                break
            raw = size & 0x80000000
            size &= 0x7FFFFFFF
            if pos + size + block_checksum > n:
                out += frame
                return bytes(out), True
            block = data[pos:pos + size]
            if raw:
                frame += block
            else:
                lz4_block(block, frame)
            pos += size + block_checksum
        if flg & 0x04:
            if pos + 4 > n:
                out += frame
                return bytes(out), True
            pos += 4
        out += frame
    return bytes(out), False


def read_maybe_lz4(path, use_cli=False):
    if not path.endswith(".lz4"):
        with open(path, "rb") as f:
            return f.read(), False
    if use_cli:
        p = subprocess.run(["lz4", "-dc", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return p.stdout, p.returncode != 0
    with open(path, "rb") as f:
        return lz4_frames(f.read())


# ---------------------------------------------------------------------------------------------
# Times

RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
PGTIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-]\d{2})(?::(\d{2}))?(?::(\d{2}))?$")


def micros(y, mo, d, h, mi, s, frac, offset_seconds):
    base = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=dt.timezone.utc)
    us = (base - EPOCH) // dt.timedelta(microseconds=1)
    if frac:
        us += int((frac[1:] + "000000")[:6])
    return us - offset_seconds * 1_000_000


def parse_rfc3339(text):
    m = RFC3339.match(text) if isinstance(text, str) else None
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off in ("Z", "z"):
        secs = 0
    else:
        sign = -1 if off[0] == "-" else 1
        secs = sign * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    try:
        return micros(y, mo, d, h, mi, s, frac, secs)
    except ValueError:
        return None


def parse_pg(text):
    m = PGTIME.match(text)
    if not m:
        raise ValueError("bad timestamptz %r" % text)
    y, mo, d, h, mi, s, frac, oh, om, os_ = m.groups()
    sign = -1 if oh[0] == "-" else 1
    secs = sign * (int(oh[1:]) * 3600 + int(om or 0) * 60 + int(os_ or 0))
    return micros(y, mo, d, h, mi, s, frac, secs)


def rfc(us):
    t = EPOCH + dt.timedelta(microseconds=us)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if us % 1_000_000:
        s += ("." + "%06d" % (us % 1_000_000)).rstrip("0")
    return s + "Z"


# ---------------------------------------------------------------------------------------------
# PostgreSQL COPY text format and array literals

COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def copy_field(f):
    if f == "\\N":
        return None
    if "\\" not in f:
        return f
    out, i = [], 0
    while i < len(f):
        c = f[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = f[i + 1]
        if nxt in COPY_ESCAPES:
            out.append(COPY_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", f[i + 1:])
            out.append(chr(int(m.group(0), 8)))
            i += 1 + len(m.group(0))
        elif nxt == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", f[i + 2:])
            out.append(chr(int(m.group(0), 16)))
            i += 2 + len(m.group(0))
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def copy_blocks(text):
    """Yields (table, columns, rows) of every `COPY table (cols) FROM stdin;` block."""
    lines = text.split("\n")
    i = 0
    head = re.compile(r"^COPY ([\w.]+) \(([^)]*)\) FROM stdin;$")
    while i < len(lines):
        m = head.match(lines[i])
        i += 1
        if not m:
            continue
        table = m.group(1).split(".")[-1]
        cols = [c.strip() for c in m.group(2).split(",")]
        rows = []
        while lines[i] != "\\.":
            rows.append(dict(zip(cols, [copy_field(f) for f in lines[i].split("\t")])))
            i += 1
        i += 1
        yield table, cols, rows


def pg_array(text):
    assert text[0] == "{" and text[-1] == "}", text
    body, items, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == '"':
            i += 1
            cur = []
            while body[i] != '"':
                if body[i] == "\\":
                    i += 1
                cur.append(body[i])
                i += 1
            items.append("".join(cur))
            i += 1
        else:
            j = i
            while j < len(body) and body[j] != ",":
                j += 1
            items.append(body[i:j].strip())
            i = j
        if i < len(body) and body[i] == ",":
            i += 1
    return items


# ---------------------------------------------------------------------------------------------
# Log lines (CONTRACT section 3, quarantine rules of 5.5 that a line alone shows)


class Quarantine(Exception):
    def __init__(self, reason):
        self.reason = reason


def is_int(v):
    return type(v) is int


def need(obj, key, check, expected):
    if key not in obj:
        raise Quarantine("missing_key")
    if not check(obj[key]):
        raise Quarantine("wrong_type")
    return obj[key]


def text_or_null(v):
    return v is None or isinstance(v, str)


def reject_constant(name):
    raise ValueError("not JSON: " + name)


def parse_line(raw):
    """Returns ('other', None), ('event', dict) or raises Quarantine."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Quarantine("invalid_utf8")
    try:
        obj = json.loads(text, parse_constant=reject_constant)
    except ValueError:
        raise Quarantine("malformed_json")
    if not isinstance(obj, dict):
        raise Quarantine("malformed_json")
    ts_text = need(obj, "ts", lambda v: isinstance(v, str), "string")
    host = need(obj, "host", lambda v: isinstance(v, str), "string")
    event = need(obj, "event", lambda v: isinstance(v, str), "string")
    ts = parse_rfc3339(ts_text)
    if ts is None:
        raise Quarantine("invalid_time")
    if event not in ("slot.upload", "slot.processed", "slot.deleted"):
        return "other", None
    e = {"ts": ts, "host": host, "event": event}
    e["user"] = need(obj, "user_id", is_int, "integer")
    slot_text = need(obj, "slot_start", lambda v: isinstance(v, str), "string")
    slot = parse_rfc3339(slot_text)
    if slot is None:
        raise Quarantine("invalid_time")
    if slot % SLOT:
        raise Quarantine("misaligned_slot_start")
    e["slot"] = slot
    texts = [host]
    if event == "slot.upload":
        e["request"] = need(obj, "request_id", lambda v: isinstance(v, str), "string")
        e["project"] = need(obj, "project_id", is_int, "integer")
        e["task"] = need(obj, "task_id", lambda v: v is None or is_int(v), "integer or null")
        e["duration"] = obj.get("duration_min", 10)
        if not is_int(e["duration"]):
            raise Quarantine("wrong_type")
        e["keystrokes"] = need(obj, "keystrokes", is_int, "integer")
        e["mouse"] = need(obj, "mouse_events", is_int, "integer")
        e["apps"] = need(obj, "active_apps", lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v), "array")
        e["screenshot"] = need(obj, "screenshot_key", text_or_null, "string or null")
        e["note"] = need(obj, "note", text_or_null, "string or null")
        if not 1 <= e["duration"] <= 10 or not 0 <= e["keystrokes"] <= INT32_MAX or not 0 <= e["mouse"] <= INT32_MAX:
            raise Quarantine("out_of_range")
        if e["project"] > 2**63 - 1 or (e["task"] is not None and e["task"] > 2**63 - 1):
            raise Quarantine("out_of_range")
        texts += [e["request"], e["screenshot"] or "", e["note"] or ""] + e["apps"]
    elif event == "slot.processed":
        e["status"] = need(obj, "status", lambda v: isinstance(v, str), "string")
        e["activity"] = need(obj, "activity_level", is_int, "integer")
        if e["status"] not in ("active", "idle") or not 0 <= e["activity"] <= 10:
            raise Quarantine("out_of_range")
    if any("\x00" in t for t in texts):
        raise Quarantine("nul_in_text")
    return "event", e


# ---------------------------------------------------------------------------------------------
# The fold (CONTRACT 5.2) and the outcomes (5.3-5.5)

RANK = {"snapshot": 0, "slot.upload": 1, "slot.processed": 2, "slot.deleted": 3}


def fold(events):
    """events: dicts with 'order' and 'event'. Returns the folded state of one key."""
    version, deleted, seen = None, False, set()
    dups = orphans = 0
    for e in sorted(events, key=lambda e: e["order"]):
        kind = e["event"]
        if kind == "snapshot":
            version, deleted = dict(e["version"]), False
        elif kind == "slot.upload":
            if e["request"] in seen:
                dups += 1
                continue
            seen.add(e["request"])
            version = {k: e[k] for k in ("project", "task", "duration", "keystrokes", "mouse", "apps", "note")}
            version.update(status="pending", activity=None)
            deleted = False
        elif kind == "slot.processed":
            if version is None:
                orphans += 1
            else:
                version["status"], version["activity"] = e["status"], e["activity"]
        else:
            version, deleted = None, True
    return version, deleted, dups, orphans


def canon(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace(",", "\\,")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--snapshot")
    ap.add_argument("--lz4-cli", action="store_true", help="decompress with the lz4 tool (faster on big incidents)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    d = args.dir
    expected = json.load(open(os.path.join(d, "expected.json")))
    w_from = parse_rfc3339(expected["window"]["from"])
    w_to = parse_rfc3339(expected["window"]["to"])

    # Live database load files.
    users, projects, tasks, members = set(), {}, {}, set()
    offline = defaultdict(list)
    live_keys = set()
    db = Counter()
    for name in ("reference.sql", "live.sql"):
        with open(os.path.join(d, "db", name), encoding="utf-8") as f:
            for table, _, rows in copy_blocks(f.read()):
                db[table] += len(rows)
                for r in rows:
                    if table == "users":
                        users.add(int(r["id"]))
                    elif table == "projects":
                        projects[int(r["id"])] = int(r["company_id"])
                    elif table == "tasks":
                        tasks[int(r["id"])] = int(r["project_id"])
                    elif table == "project_members":
                        members.add((int(r["project_id"]), int(r["user_id"])))
                    elif table == "offline_entries":
                        offline[int(r["user_id"])].append((parse_pg(r["starts_at"]), parse_pg(r["ends_at"])))
                    elif table == "time_slots":
                        slot = parse_pg(r["slot_start"])
                        live_keys.add((int(r["user_id"]), slot))
                        if w_from <= slot < w_to:
                            db["live_in_window"] += 1

    # Snapshot.
    snap_path = args.snapshot
    if not snap_path:
        for cand in ("snapshot/time_slots.sql", "snapshot/time_slots.sql.lz4", "db/backup.sql"):
            if os.path.exists(os.path.join(d, cand)):
                snap_path = os.path.join(d, cand)
                break
    data, _ = read_maybe_lz4(snap_path, args.lz4_cli)
    by_key = defaultdict(list)
    snapshot_rows = snapshot_in_window = 0
    for table, _, rows in copy_blocks(data.decode("utf-8")):
        if table != "time_slots":
            continue
        for n, r in enumerate(rows, 1):
            snapshot_rows += 1
            key = (int(r["user_id"]), parse_pg(r["slot_start"]))
            if not w_from <= key[1] < w_to:
                continue
            snapshot_in_window += 1
            version = {
                "project": int(r["project_id"]), "task": None if r["task_id"] is None else int(r["task_id"]),
                "duration": int(r["duration_min"]), "keystrokes": int(r["keystrokes"]), "mouse": int(r["mouse_events"]),
                "apps": pg_array(r["active_apps"]), "note": r["note"], "status": r["status"],
                "activity": None if r["activity_level"] is None else int(r["activity_level"]),
            }
            t = parse_pg(r["updated_at"])
            by_key[key].append({"event": "snapshot", "version": version, "order": (t, 0, "", "", snap_path, n)})

    # Logs.
    lines = Counter()
    reasons = Counter()
    files = {}
    for root, _, names in os.walk(os.path.join(d, "logs")):
        for name in sorted(names):
            if not re.search(r"\.(log|jsonl)(\.lz4)?$", name):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, d)
            data, truncated = read_maybe_lz4(path, args.lz4_cli)
            parts = data.split(b"\n")
            if parts and parts[-1] == b"":
                parts.pop()
            files[rel] = {"lines": len(parts), "truncated": truncated}
            for n, raw in enumerate(parts, 1):
                lines["total"] += 1
                try:
                    kind, e = parse_line(raw)
                except Quarantine as q:
                    lines["quarantined"] += 1
                    reasons[q.reason] += 1
                    continue
                if kind == "other":
                    lines["other_events"] += 1
                    continue
                short = {"slot.upload": "uploads", "slot.processed": "processed", "slot.deleted": "deleted"}[e["event"]]
                lines[short] += 1
                if w_from <= e["slot"] < w_to:
                    lines["in_window_" + short] += 1
                    e["order"] = (e["ts"], RANK[e["event"]], e["host"], name, rel, n)
                    by_key[(e["user"], e["slot"])].append(e)

    # Fold and decide.
    plan = Counter()
    logs_only = Counter()
    recovered = []
    conflicts = 0
    for key in sorted(by_key):
        events = by_key[key]
        user, slot = key
        lv, ld, ldups, lorph = fold([e for e in events if e["event"] != "snapshot"])
        logs_only["duplicates"] += ldups
        logs_only["orphans"] += lorph
        if lv is not None:
            logs_only["slots"] += 1
        elif ld:
            logs_only["deleted"] += 1
        version, deleted, dups, orphans = fold(events)
        plan["duplicates"] += dups
        plan["orphans"] += orphans
        if version is None:
            if deleted:
                plan["deleted"] += 1
            conflicts += key in live_keys
            continue
        plan["candidates"] += 1
        end = slot + version["duration"] * MINUTE
        live = key in live_keys
        overlap = any(s < end and slot < e for s, e in offline.get(user, []))
        reason = None
        project, task = version["project"], version["task"]
        if user not in users:
            reason = "unknown_user"
        elif project not in projects:
            reason = "unknown_project"
        elif task is not None and task not in tasks:
            reason = "unknown_task"
        elif task is not None and tasks[task] != project:
            reason = "task_of_another_project"
        elif (project, user) not in members:
            reason = "not_a_member"
        conflicts += (live + overlap + (reason is not None)) > 1
        if live:
            plan["already_present"] += 1
        elif overlap:
            plan["offline_overlap"] += 1
        elif reason:
            plan["quarantined_slots"] += 1
            reasons[reason] += 1
        else:
            plan["recovered"] += 1
            plan["recovered_minutes"] += version["duration"]
            recovered.append((key, version))

    keys_hash, rows_hash = hashlib.sha256(), hashlib.sha256()
    for (user, slot), v in recovered:
        keys_hash.update(("%d\t%s\n" % (user, rfc(slot))).encode())
        fields = [str(user), rfc(slot), str(v["project"]), "\\N" if v["task"] is None else str(v["task"]),
                  str(v["duration"]), v["status"], "\\N" if v["activity"] is None else str(v["activity"]),
                  str(v["keystrokes"]), str(v["mouse"]), ",".join(canon(a) for a in v["apps"]),
                  "\\N" if v["note"] is None else canon(v["note"])]
        rows_hash.update(("\t".join(fields) + "\n").encode())

    # Compare.
    checks = []

    def check(name, got, want):
        checks.append((name, got, want, got == want))

    el, ep = expected["lines"], expected["plan"]
    for k in ("total", "uploads", "processed", "deleted", "other_events", "quarantined"):
        check("lines." + k, lines[k], el[k])
    for k in ("uploads", "processed", "deleted"):
        check("lines.in_window." + k, lines["in_window_" + k], el["in_window"][k])
    for k in ("slots", "deleted", "duplicates", "orphans"):
        check("logs_only." + k, logs_only[k], expected["logs_only"][k])
    for k in ("candidates", "recovered", "recovered_minutes", "already_present", "offline_overlap", "deleted",
              "orphans", "duplicates", "quarantined_slots"):
        check("plan." + k, plan[k], ep[k])
    check("plan.quarantined_lines", lines["quarantined"], ep["quarantined_lines"])
    check("plan.quarantined", lines["quarantined"] + plan["quarantined_slots"], ep["quarantined"])
    check("plan.quarantined_by_reason", dict(sorted(reasons.items())), dict(sorted(ep["quarantined_by_reason"].items())))
    check("recovered_keys_sha256", keys_hash.hexdigest(), expected["recovered_keys_sha256"])
    check("recovered_rows_sha256", rows_hash.hexdigest(), expected["recovered_rows_sha256"])
    edb = expected["database"]
    for table, k in (("users", "users"), ("projects", "projects"), ("tasks", "tasks"),
                     ("project_members", "project_members"), ("offline_entries", "offline_entries"),
                     ("time_slots", "live_time_slots"), ("live_in_window", "live_time_slots_in_window")):
        check("database." + k, db[table], edb[k])
    check("database.snapshot_rows", snapshot_rows, edb["snapshot_rows"])
    check("database.snapshot_rows_in_window", snapshot_in_window, edb["snapshot_rows_in_window"])
    check("files (readable lines, truncated)",
          {f: (v["lines"], v["truncated"]) for f, v in sorted(files.items())},
          {f["path"]: (f["lines_readable"], f["truncated"]) for f in sorted(expected["files"], key=lambda f: f["path"])})
    check("keys under two rules (must be 0)", conflicts, 0)

    width = max(len(c[0]) for c in checks)
    bad = [c for c in checks if not c[3]]
    if not args.quiet or bad:
        print("check-expected: %s (snapshot %s)" % (d, os.path.relpath(snap_path, d)))
        for name, got, want, ok in checks:
            shown = got if not isinstance(got, dict) or len(str(got)) < 70 else "(%d entries)" % len(got)
            print("  %-*s %s %s" % (width, name, "ok  " if ok else "DIFF", shown if ok else "got %r, expected %r" % (got, want)))
    print("check-expected: %d checks, %d differ" % (len(checks), len(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
