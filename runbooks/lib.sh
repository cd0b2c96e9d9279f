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
# Applying it again is a decision (why was it reverted?): the line to do it is printed.
stop_if_reverted() {
  local name=$1 json=$2 plan=$3 id=$4
  shift 4
  [ "$(field "$json" outcome)" != applied ] && [ "$(field "$json" run status)" = reverted ] || return 0
  echo "$name: run $(field "$json" run id) of plan $id was reverted: nothing of the plan is in the database, and nothing was changed now" >&2
  echo "$name: to apply it again, once you know why it was reverted: recover-tool apply $plan --again --yes --plan-id $id $*" >&2
  exit 13
}
