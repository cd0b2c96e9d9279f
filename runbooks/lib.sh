# Shared by the runbook scripts (sourced, not run): reading recover-tool's JSON, and the one
# apply outcome that needs a person.

# field FILE KEY...: one value of a JSON file (a --json output, plan.json); ids are read, never
# scraped. A list is indexed by number; true and false print as True and False.
field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}

# stop_if_reverted NAME APPLY_JSON PLAN_DIR PLAN_ID [APPLY_OPTION...]: after `apply --json`, exits
# 13 when the plan had been applied and its run reverted since: nothing of it is in the database
# (apply changed nothing), so neither "applied" nor a verify that passes would be true.
# Applying it again is a decision (why was it reverted?): the line to do it is printed, quoted
# for the shell.
stop_if_reverted() {
  local name=$1 json=$2 plan=$3 id=$4
  shift 4
  [ "$(field "$json" outcome)" != applied ] && [ "$(field "$json" run status)" = reverted ] || return 0
  echo "$name: run $(field "$json" run id) of plan $id was reverted: nothing of the plan is in the database, and nothing was changed now" >&2
  echo "$name: to apply it again, once you know why it was reverted:$(printf ' %q' "$tool" apply "$plan" --again --yes --plan-id "$id" "$@")" >&2
  exit 13
}

# plan_differs PLAN_JSON FROM TO SHARD: prints, one per line, how the plan's window and shard
# (as plan.json records them) differ from these options, and returns 1 when they differ, 3 (with
# the reason) when plan.json cannot be read. Times are compared as instants, to the microsecond
# (2018-07-25T07:50:00-07:00 is 14:50:00Z); SHARD is K/N (01/4 is 1/4), env/N (K from
# JOB_COMPLETION_INDEX) or empty for the whole recovery.
plan_differs() {
  python3 - "$@" <<'PY'
import datetime, json, os, sys
given_from, given_to, shard = sys.argv[2], sys.argv[3], sys.argv[4]
try:
    plan = json.load(open(sys.argv[1]))
    made_from, made_to, made = plan["window"]["from"], plan["window"]["to"], plan.get("shard")
    made = "%d/%d" % (made["index"], made["count"]) if made else ""
except Exception as error:
    print("%s cannot be read: %s" % (sys.argv[1], error))
    sys.exit(3)
def instant(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return text
differ = []
for key, made_time, given in (("from", made_from, given_from), ("to", made_to, given_to)):
    if instant(made_time) != instant(given):
        differ.append("--%s: the plan's is %s, given now %s" % (key, made_time, given))
if shard.startswith("env/"):
    shard = "%s/%s" % (os.environ.get("JOB_COMPLETION_INDEX", "?"), shard[4:])
try:
    shard = "%d/%d" % tuple(int(part) for part in shard.split("/")) if shard else ""
except ValueError:
    pass
if made != shard:
    differ.append("--shard: the plan's is %s, given now %s" % (made or "none (every user)", shard or "none (every user)"))
print("\n".join(differ))
sys.exit(1 if differ else 0)
PY
}

# input_list ARG...: the inputs as a plan-options.txt line each: a path that exists by its real
# path (a trailing slash or a relative path is the same input; a folder named 'date=2018-07-25'
# is a path), anything else (a snapshot's connection string) by its SHA-256, so that no password
# is written down; sorted (the tool sorts them too).
input_list() {
  local arg
  for arg in "$@"; do
    if [ -e "$arg" ]; then echo "path $(realpath -- "$arg")"
    else echo "connection string sha256 $(printf '%s' "$arg" | sha256sum | cut -c1-64)"; fi
  done | LC_ALL=C sort -u
}

# redacted CONNINFO: the connection string without its passwords (password=... and
# sslpassword=..., in key=value form up to the next space or a quoted value's end, in a URI's
# query up to the next &; and the user:password@ of a URI), for a command line printed for the
# operator to type.
redacted() {
  python3 -c 'import re, sys
s = sys.argv[1]
if re.match(r"postgres(?:ql)?://", s):
    s = re.sub(r"(?<=[?&])(?:ssl)?password=[^&]*&?", "", s)
    s = re.sub(r"(postgres(?:ql)?://[^:/@]*):[^@]*@", r"\1@", s)
    print(s.rstrip("?&"), end="")
else:
    s = re.sub(r"\b(?:ssl)?password\s*=\s*(\x27(?:[^\x27\\]|\\.)*\x27|\S*)", "", s)
    print(" ".join(s.split()), end="")' "$1"
}

# hold_out NAME DIR: takes DIR/.lock for this run of the script (kept until it exits), or exits
# 14 when another run holds it: two runs sharing a DIR wrote one plan's options under the other's
# plan id, or read each other's apply output (found by a hostile test).
hold_out() {
  exec 9>>"$2/.lock"
  flock -n 9 || { echo "$1: another run of this script is using $2 (it holds $2/.lock); nothing was done: wait for it to end, or give another --out" >&2; exit 14; }
}

# live_psql SCHEMA [PSQL_OPTION...] < SQL: psql on the live database (psqldb) with the tool's
# own session settings, so that neither PGOPTIONS nor the role's or database's defaults change
# which time_slots is read (the search path: a safety dump of another schema's table; found by a
# hostile test) or how its times are written; SQL names the table :"schema".time_slots.
live_psql() {
  local schema=$1
  shift
  { printf '%s\n' "SET search_path = pg_catalog, pg_temp; SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = postgres;"; cat; } \
    | psql -X -q -v ON_ERROR_STOP=1 -v schema="$schema" "${psqldb[@]}" "$@" -f -
}

