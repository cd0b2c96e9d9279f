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
  echo "$name: to apply it again, once you know why it was reverted:$(printf ' %q' recover-tool apply "$plan" --again --yes --plan-id "$id" "$@")" >&2
  exit 13
}

# plan_differs PLAN_JSON FROM TO SHARD: prints, one per line, how the plan's window and shard
# (as plan.json records them) differ from these options, and returns 1 when they differ. Times
# are compared as instants, to the microsecond (2018-07-25T07:50:00-07:00 is 14:50:00Z); SHARD
# is K/N, env/N (K from JOB_COMPLETION_INDEX) or empty for the whole recovery.
plan_differs() {
  python3 - "$@" <<'PY'
import datetime, json, os, sys
plan, given_from, given_to, shard = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
def instant(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return text
differ = []
for key, given in (("from", given_from), ("to", given_to)):
    if instant(plan["window"][key]) != instant(given):
        differ.append("--%s: the plan's is %s, given now %s" % (key, plan["window"][key], given))
made = plan.get("shard")
made = "%d/%d" % (made["index"], made["count"]) if made else ""
if shard.startswith("env/"):
    shard = "%s/%s" % (os.environ.get("JOB_COMPLETION_INDEX", "?"), shard[4:])
if made != shard:
    differ.append("--shard: the plan's is %s, given now %s" % (made or "none (every user)", shard or "none (every user)"))
print("\n".join(differ))
sys.exit(1 if differ else 0)
PY
}

# input_list ARG...: the inputs as a plan-options.txt line each: a path by its real path (a
# trailing slash or a relative path is the same input), a connection string by its SHA-256 (no
# password is written down), sorted (the tool sorts them too).
input_list() {
  local arg
  for arg in "$@"; do
    case "$arg" in
      *=*|postgres://*|postgresql://*) echo "connection string sha256 $(printf '%s' "$arg" | sha256sum | cut -c1-64)" ;;
      *) echo "path $(realpath -m -- "$arg")" ;;
    esac
  done | LC_ALL=C sort -u
}
