#!/usr/bin/env bash
# The reconcile path on a generated bad job, on a fresh machine, in one command:
#   bash scripts/demo-reconcile.sh [--out DIR]
#
# Installs what is missing (scripts/setup.sh), builds recover-tool (debug) and bad-job-generator,
# starts a throwaway PostgreSQL (stopped on exit, even on failure), generates a Harvest-style bad
# job (scripts/make-bad-job.sh: a job that moved some users' slots to another company's project,
# nulled their task and deleted their memberships; users who edited rows afterwards; the service
# processing slots during the job; a pg_dump of the tables taken before it), then runs and shows:
# reconcile, the report's counts, apply, verify, the check against the generator's expected
# state, runs, revert, verify again. The incident and the plan stay in DIR.
#
# Exit status: 0 when every step passed; otherwise the failing command's status, after one line
# "demo-reconcile: failed at step: STEP".
set -euo pipefail
cd "$(dirname "$0")/.."

out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?'--out' needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo-reconcile: unknown option '$1'; see --help" >&2; exit 64 ;;
  esac
done
[ -n "$out" ] || out=$(mktemp -d /tmp/reconcile-demo.XXXXXX)
[ ! -e "$out/plan" ] || { echo "demo-reconcile: '$out/plan' already exists; give another --out" >&2; exit 64; }
mkdir -p "$out"
field() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"; }

step=""
begin() { step=$1; printf '\n==> %s\n' "$1"; }
trap 'status=$?; echo "demo-reconcile: failed at step: $step (exit $status); see the messages above" >&2; exit $status' ERR

begin "setup: install what is missing"
bash scripts/setup.sh

begin "build recover-tool (debug)"
scratch=${RECOVER_SCRATCH_PATH:-.build}
swift build --scratch-path "$scratch" --product recover-tool >"$out/build.log" 2>&1 || { tail -n 40 "$out/build.log" >&2; false; }
tool="$(swift build --scratch-path "$scratch" --show-bin-path)/recover-tool"

if [ -z "${RECOVER_PGDIR:-}" ]; then
  begin "start a throwaway PostgreSQL"
  env=$(bash scripts/pg-start.sh)
  eval "$env"
  trap 'bash scripts/pg-stop.sh "$RECOVER_PGDIR"' EXIT
fi

begin "generate a bad job: backup 'demo_badjob_backup', live 'demo_badjob', pg_dump of the backup"
bash scripts/make-bad-job.sh --debug --seed 11 --users 40 --slots-per-user 96 --out "$out/incident" \
  --live-db demo_badjob --backup-db demo_badjob_backup
export PGDATABASE=demo_badjob
job_from=$(field "$out/incident/expected.json" job_from) job_to=$(field "$out/incident/expected.json" job_to)
echo "the job ran in [$job_from, $job_to); the backup was taken at $(field "$out/incident/expected.json" backup_taken_at)"

begin "reconcile: the plan that restores exactly the job's damage (changes nothing)"
"$tool" reconcile --snapshot "$out/incident/snapshot/before-job.sql.lz4" --job-from "$job_from" --job-to "$job_to" \
  --columns time_slots.project_id,time_slots.task_id --out "$out/plan" --quiet
plan_id=$(field "$out/plan/plan.json" plan_id)
echo "the generator expects: $(field "$out/incident/expected.json" counts)"

begin "review: report.md's counts and its first restored rows (report.html has the timeline)"
sed -n '/^## Counts/,/^## Per user/p' "$out/plan/report.md" | sed -n '1,40p'
sed -n '/^## Restored/,/^## Kept/p' "$out/plan/report.md" | sed -n '1,8p'

begin "apply exactly the reviewed plan $plan_id"
grep -q "\"plan_id\" : \"$plan_id\"" "$out/plan/plan.json"
"$tool" apply "$out/plan" --yes --plan-id "$plan_id" --json > "$out/apply.json"
run=$(field "$out/apply.json" run id)
echo "applied as run $run: restored $(field "$out/apply.json" run counts inserted) rows, memberships $(field "$out/apply.json" run members_inserted)"

begin "verify run $run"
"$tool" verify --run "$run"

begin "check live against the generator's own expected state"
bash scripts/check-bad-job.sh "$out/incident" "$run"

begin "runs"
"$tool" runs

begin "revert run $run, then verify it again"
"$tool" revert --run "$run" --yes
"$tool" verify --run "$run"

echo
echo "demo-reconcile: every step passed; the incident and the plan are in $out"
