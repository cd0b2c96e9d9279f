#!/usr/bin/env bash
# Reviews what a bad job changed in time_slots, from a snapshot taken before it, without changing
# anything: runbooks/review-bad-job.md describes when and how.
#
#   runbooks/review-bad-job.sh --from T --to T --snapshot PATH_OR_CONNINFO --out DIR
#       [--job-from T --job-to T --columns time_slots.C,...] [--db CONNINFO] [--show N] [--tool PATH]
#   runbooks/review-bad-job.sh --from T --to T --out DIR --apply PLAN_ID [--db CONNINFO] [--tool PATH]
#
# Steps: check setup, safety dump of the window's live rows (DIR/safety/), diff (DIR/diff.txt and
# DIR/diff.json), summary; with --job-from/--job-to/--columns, the reconcile plan of exactly the
# job's damage (DIR/reconcile-plan/, changes nothing). With --apply PLAN_ID (after the review):
# applies DIR/reconcile-plan only if its plan id is PLAN_ID, then verifies the run. The window is
# the time the job's damage can touch (by slot_start).
# The database is --db, else DATABASE_URL, else libpq's PG* variables; the tool is --tool, else
# RECOVER_TOOL, else recover-tool on the PATH.
#
# Exit status: 0 reviewed (whatever the diff found: read the summary), or with --apply, applied
# and verified; 13 with --apply: the plan was applied before and its run reverted since (nothing
# written; the line to apply it again is printed); 14 another run of this script is using DIR
# (it holds DIR/.lock; nothing was done); 64 wrong options; any other: the status of the step that
# failed, after "review-bad-job: failed at step: STEP".
set -euo pipefail

die_usage() { echo "review-bad-job: $1; see --help" >&2; exit 64; }
from="" to="" snapshot="" out="" db="" show=20 job_from="" job_to="" columns="" apply_id=""
tool=${RECOVER_TOOL:-recover-tool}
while [ $# -gt 0 ]; do
  case "$1" in
    --from|--to|--snapshot|--out|--db|--show|--tool|--job-from|--job-to|--columns|--apply) [ $# -ge 2 ] || die_usage "'$1' needs a value" ;;&
    --job-from) job_from=$2; shift 2 ;;
    --job-to) job_to=$2; shift 2 ;;
    --columns) columns=$2; shift 2 ;;
    --apply) apply_id=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    --snapshot) snapshot=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --show) show=$2; shift 2 ;;
    --tool) tool=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
[ -n "$from" ] && [ -n "$to" ] && [ -n "$out" ] || die_usage "'--from', '--to' and '--out' are required"
# The apply reads the reviewed plan in DIR, not the snapshot (it was required all the same: found by a hostile test).
[ -n "$snapshot" ] || [ -n "$apply_id" ] || die_usage "'--snapshot' is required (except with '--apply')"
{ [ -z "$job_from$job_to$columns" ] || { [ -n "$job_from" ] && [ -n "$job_to" ] && [ -n "$columns" ]; }; } \
  || die_usage "give '--job-from', '--job-to' and '--columns' together"

# shellcheck source=runbooks/lib.sh
. "$(dirname "$0")/lib.sh"
step=""
begin() { step=$1; printf '\n==> %s\n' "$1"; }
fail() {
  echo "review-bad-job: $1" >&2
  echo "review-bad-job: failed at step: $step (exit 1); see the messages above" >&2
  exit 1
}
trap 'status=$?; echo "review-bad-job: failed at step: $step (exit $status); see the messages above" >&2; exit $status' ERR
dbopt=(); [ -z "$db" ] || dbopt=(--db "$db")
printopt=(); [ -z "$db" ] || printopt=(--db "$(redacted "$db")")  # in lines printed to be typed: no password
psqldb=(); [ -z "$db" ] || psqldb=(-d "$db")
[ -n "$db" ] || [ -z "${DATABASE_URL:-}" ] || psqldb=(-d "$DATABASE_URL")

from_utc=$(date -u -d "$from" +%Y-%m-%dT%H:%M:%S.%6NZ) || fail "--from '$from' is not a time date(1) reads"
to_utc=$(date -u -d "$to" +%Y-%m-%dT%H:%M:%S.%6NZ) || fail "--to '$to' is not a time date(1) reads"
# safety_dump WHEN: the window's live rows into DIR/safety/time_slots-WHEN-TIME.copy.lz4, checked.
safety_dump() {
  mkdir -p "$out/safety"
  dump="$out/safety/time_slots-$1-$(date -u +%Y%m%dT%H%M%SZ).copy.lz4"
  echo "COPY (SELECT * FROM :\"schema\".time_slots WHERE slot_start >= '$from_utc' AND slot_start < '$to_utc' ORDER BY id) TO STDOUT;" \
    | live_psql public | lz4 -q -z > "$dump"
  lz4 -t -q "$dump"
  echo "$(lz4 -dc "$dump" | wc -l) rows of [$from_utc, $to_utc) in $dump"
}

if [ -n "$apply_id" ]; then
  begin "apply the reviewed reconcile plan $apply_id"
  command -v "$tool" >/dev/null 2>&1 || fail "recover-tool not found at '$tool': build it and pass --tool"
  plan="$out/reconcile-plan"
  [ -f "$plan/plan.json" ] || fail "no reconcile plan in '$plan': run this script without --apply first, and review it"
  hold_out review-bad-job "$out"
  found=$(sed -n 's/^  "plan_id" : "\([0-9a-f]*\)",$/\1/p' "$plan/plan.json")
  [ "$found" = "$apply_id" ] || fail "the plan in '$plan' is '$found', not the reviewed '$apply_id': nothing was changed"
  # The rows as they are just before the restore: the review's dump may be hours old (found by a hostile test).
  begin "safety dump of the window's live rows just before the restore"
  safety_dump before-apply
  begin "apply the reviewed reconcile plan $apply_id"
  "$tool" apply "$plan" --yes --plan-id "$apply_id" "${dbopt[@]}" --json > "$out/apply.json"
  run=$(field "$out/apply.json" run id) || fail "apply printed no run id (see $out/apply.json)"
  stop_if_reverted review-bad-job "$out/apply.json" "$(realpath "$plan")" "$apply_id" "${printopt[@]}"
  if [ "$(field "$out/apply.json" outcome)" = applied ]; then
    echo "applied plan $apply_id as run $run"
  else
    echo "plan $apply_id was already applied as run $run; nothing changed"
  fi
  begin "verify run $run"
  "$tool" verify --run "$run" "${dbopt[@]}" | tee "$out/verify.txt"
  echo "run $run applied and verified; undo it with:$(printf ' %q' "$tool" revert --run "$run" --yes "${printopt[@]}")"
  exit 0
fi

begin "check setup"
command -v "$tool" >/dev/null 2>&1 || fail "recover-tool not found at '$tool': build it and pass --tool"
for cmd in psql lz4 python3 flock; do command -v "$cmd" >/dev/null 2>&1 || fail "'$cmd' is not installed: run scripts/setup.sh"; done
case "$snapshot" in *=*|postgres://*|postgresql://*) ;; *) [ -e "$snapshot" ] || fail "snapshot '$snapshot' does not exist" ;; esac
live=$(echo "SELECT current_database() || ', ' || count(*) || ' time_slots rows' FROM :\"schema\".time_slots;" | live_psql public -A -t) \
  || fail "cannot read time_slots in the live database (psql's error above): check --db, DATABASE_URL or the PG* variables"
echo "live database: $live"
mkdir -p "$out/safety"
hold_out review-bad-job "$out"

begin "safety dump of the window's live rows (before anyone restores anything)"
safety_dump review

begin "diff: the snapshot against live (changes nothing)"
"$tool" diff --from "$from" --to "$to" --snapshot "$snapshot" "${dbopt[@]}" --show "$show" | tee "$out/diff.txt"
"$tool" diff --from "$from" --to "$to" --snapshot "$snapshot" "${dbopt[@]}" --show "$show" --json > "$out/diff.json"

begin "summary"
count() { sed -n "s/^$1: \\([0-9]*\\)$/\\1/p" "$out/diff.txt"; }
missing=$(count missing_from_live) changed=$(count changed) only=$(count only_in_live) same=$(count identical)
[ -n "$missing" ] && [ -n "$changed" ] || fail "cannot read the counts in $out/diff.txt"
echo "missing from live: $missing   changed since the snapshot: $changed   only in live: $only   identical: $same"
echo "missing rows: recover them with runbooks/recover-lost-window.md, giving this snapshot to 'plan --snapshot'"
echo "changed rows: see the changed columns above and in $out/diff.json; restoring them is the manual, reviewed step in runbooks/review-bad-job.md"
echo "nothing was changed; the diff is in $out/diff.txt and $out/diff.json, the live rows in $dump"

if [ -n "$job_from" ]; then
  begin "reconcile: the plan that restores exactly the job's damage (changes nothing)"
  "$tool" reconcile --snapshot "$snapshot" --job-from "$job_from" --job-to "$job_to" --columns "$columns" --from "$from" --to "$to" \
    --require-complete \
    "${dbopt[@]}" --out "$out/reconcile-plan" --quiet | tee "$out/reconcile.txt"
  plan_id=$(sed -n 's/^reconcile plan \([0-9a-f]*\)$/\1/p' "$out/reconcile.txt")
  [ -n "$plan_id" ] || fail "cannot read the plan id in $out/reconcile.txt"
  echo "review $out/reconcile-plan/report.md (or report.html); when approved, apply exactly this plan with:"
  echo "  runbooks/review-bad-job.sh ... --out $out --apply $plan_id"
fi
