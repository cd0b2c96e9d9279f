#!/usr/bin/env bash
# The whole recovery of the demo incident (fixtures/demo), on a fresh machine, in one command:
#   bash scripts/demo.sh [--out DIR]
#
# Installs what is missing (scripts/setup.sh), builds recover-tool (debug: on a fresh clone it
# builds in about half the time of a release build, and the demo's data is too small for the
# optimiser to win that back), starts a throwaway PostgreSQL (stopped on exit, even on failure),
# loads the demo incident, then runs and shows: scan, plan, a safety dump of the window's rows,
# apply, verify, runs, revert, verify again. The plan, its reports and the safety dump stay in DIR
# (default: a new directory under /tmp), for reading afterwards.
#
# Exit status: 0 when every step passed; otherwise the failing command's status, after one line
# "demo: failed at step: STEP".
# Environment: RECOVER_SCRATCH_PATH, the build directory (default .build, the one scripts/test.sh
# uses, so the demo after the tests does not build again).
set -euo pipefail
cd "$(dirname "$0")/.."

out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?'--out' needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$1'; see --help" >&2; exit 64 ;;
  esac
done
[ -n "$out" ] || out=$(mktemp -d /tmp/recover-demo.XXXXXX)
[ ! -e "$out/plan" ] || { echo "demo: '$out/plan' already exists; give another --out" >&2; exit 64; }
mkdir -p "$out"

from=2018-07-25T14:50:00Z to=2018-07-25T17:50:00Z
window=(--from "$from" --to "$to")
# field FILE KEY...: one value of a JSON file (a --json output, plan.json); ids are read, never scraped.
field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}

step=""
begin() { step=$1; printf '\n==> %s\n' "$1"; }
trap 'status=$?; echo "demo: failed at step: $step (exit $status); see the messages above" >&2; exit $status' ERR

begin "setup: install what is missing"
bash scripts/setup.sh

begin "build recover-tool (debug)"
scratch=${RECOVER_SCRATCH_PATH:-.build}
swift build --scratch-path "$scratch" --product recover-tool >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log" >&2; false; }
tail -n 1 "$out/build.log"
tool="$(swift build --scratch-path "$scratch" --show-bin-path)/recover-tool"
"$tool" --version

begin "start a throwaway PostgreSQL"
env=$(bash scripts/pg-start.sh)
eval "$env"
trap 'bash scripts/pg-stop.sh "$RECOVER_PGDIR"' EXIT
echo "PostgreSQL at $PGHOST (stopped when the demo ends)"

begin "load the demo incident: live database 'tracker', backup 'tracker_backup'"
bash scripts/load-demo.sh
export PGDATABASE=tracker
echo "time_slots rows in live before: $(psql -X -A -t -c 'SELECT count(*) FROM time_slots')"

begin "scan: a first look at the logs"
"$tool" scan "${window[@]}" --logs fixtures/demo/logs

begin "plan: the dry run (changes nothing)"
"$tool" plan "${window[@]}" --logs fixtures/demo/logs --snapshot fixtures/demo/snapshot/time_slots.sql.lz4 \
  --tz America/Los_Angeles --out "$out/plan"
plan_id=$(field "$out/plan/plan.json" plan_id)
echo "the reviewer reads $out/plan/report.md (or report.html in a browser) and approves plan $plan_id"

begin "safety dump of the window's rows before writing"
mkdir -p "$out/safety"
psql -X -v ON_ERROR_STOP=1 -c "\\copy (SELECT * FROM time_slots WHERE slot_start >= '$from' AND slot_start < '$to' ORDER BY id) TO STDOUT" \
  | lz4 -q -z > "$out/safety/time_slots-window.copy.lz4"
lz4 -t -q "$out/safety/time_slots-window.copy.lz4"
echo "$(lz4 -dc "$out/safety/time_slots-window.copy.lz4" | wc -l) rows in $out/safety/time_slots-window.copy.lz4"

begin "apply the reviewed plan (one transaction)"
"$tool" apply "$out/plan" --yes --plan-id "$plan_id" --json > "$out/apply.json"
run=$(field "$out/apply.json" run id)
echo "applied plan $plan_id as run $run: inserted $(field "$out/apply.json" run counts inserted) slots (the whole result: $out/apply.json)"

begin "verify run $run"
"$tool" verify --run "$run"

begin "runs"
"$tool" runs

begin "revert run $run"
"$tool" revert --run "$run" --yes

begin "verify run $run again (it reports the revert)"
"$tool" verify --run "$run"
echo "time_slots rows in live after the revert: $(psql -X -A -t -c 'SELECT count(*) FROM time_slots')"

begin "stop PostgreSQL"
trap - EXIT
bash scripts/pg-stop.sh "$RECOVER_PGDIR"
echo "stopped"

printf '\ndemo: every step passed; the plan, its reports and the safety dump are in %s\n' "$out"
