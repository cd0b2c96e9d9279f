#!/usr/bin/env bash
# Recovers a lost window, step by step, as runbooks/recover-lost-window.md describes, and applies
# only a plan whose id a reviewer approved.
#
#   runbooks/recover-lost-window.sh --from T --to T --logs PATH [--logs PATH ...] --out DIR
#       [--snapshot PATH_OR_CONNINFO ...] [--db CONNINFO] [--schema NAME] [--shard K/N] [--tz ZONE]
#       [--require-complete] [--operator NAME] [--tool PATH]
#       [--approve PLAN_ID | --approved-file FILE]
#
# Steps: check setup, scan, plan (into DIR/plan; an existing DIR/plan is reused, never made
# again: it is what the reviewer read; only for the window and shard given, as its plan.json
# records them, and the inputs and zone given, as DIR/plan-options.txt keeps them when this
# script made the plan; with --require-complete only if its evidence is complete),
# approval check, safety dump (DIR/safety/, the window's live rows just before writing), apply,
# verify. Without an approval it stops after the plan and
# prints the plan id and the reports to read. Run it again with --approve PLAN_ID (or
# --approved-file FILE, a file holding the id) to apply.
#
# T is RFC 3339 with Z or an offset. The database is --db, else DATABASE_URL, else libpq's PG*
# variables (keep a password out of them: in a PGPASSFILE, a command line shows it in ps); the
# service's tables are in --schema (public). The tool is --tool, else RECOVER_TOOL, else
# recover-tool on the PATH. One run at a time uses a DIR (it holds DIR/.lock).
#
# Exit status:
#   0   applied and verified
#   10  plan written (or found) and no approval given: nothing was written to the database
#   11  the approved id is not this plan's id: refused, nothing was written
#   12  DIR/plan was made with other options (window, shard, inputs, zone): refused, nothing was
#       written; give another --out (another database is refused by apply: 70)
#   13  the approved plan was applied before and its run reverted since: nothing was written;
#       the line to apply it again (apply --again) is printed
#   14  another run of this script is using DIR: nothing was done
#   72  --require-complete and the plan's evidence is incomplete (made now or before)
#   64  wrong options
#   any other: the status of the step that failed (recover-tool's statuses are in
#       docs/EXIT-STATUS.md), after one line "recover-lost-window: failed at step: STEP"
set -euo pipefail

usage() { sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; }
die_usage() { echo "recover-lost-window: $1; see --help" >&2; exit 64; }

from="" to="" out="" db="" schema=public shard="" tz="" approve="" approved_file="" operator="" require_complete=0
logs=() snapshots=()
tool=${RECOVER_TOOL:-recover-tool}
while [ $# -gt 0 ]; do
  case "$1" in
    --from|--to|--logs|--snapshot|--out|--db|--schema|--shard|--tz|--approve|--approved-file|--operator|--tool)
      [ $# -ge 2 ] || die_usage "'$1' needs a value" ;;&
    --from) from=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    --logs) logs+=("$2"); shift 2 ;;
    --snapshot) snapshots+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --schema) schema=$2; shift 2 ;;
    --shard) shard=$2; shift 2 ;;
    --tz) tz=$2; shift 2 ;;
    --approve) approve=$2; shift 2 ;;
    --approved-file) approved_file=$2; shift 2 ;;
    --operator) operator=$2; shift 2 ;;
    --tool) tool=$2; shift 2 ;;
    --require-complete) require_complete=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
[ -n "$from" ] && [ -n "$to" ] || die_usage "'--from' and '--to' are required"
[ ${#logs[@]} -gt 0 ] || die_usage "'--logs' is required (a file or directory; repeat it)"
[ -n "$out" ] || die_usage "'--out DIR' is required"
[ -z "$approve" ] || [ -z "$approved_file" ] || die_usage "give '--approve' or '--approved-file', not both"
case "$shard" in
  ''|[0-9]*/[0-9]*) [[ "$shard" =~ ^([0-9]+/[0-9]+)?$ ]] || die_usage "'--shard' takes K/N or env/N" ;;
  env/*) [[ "$shard" =~ ^env/[0-9]+$ ]] || die_usage "'--shard' takes K/N or env/N"
         [[ "${JOB_COMPLETION_INDEX:-}" =~ ^[0-9]+$ ]] || die_usage "'--shard env/N' takes K from JOB_COMPLETION_INDEX, which is not set to a number" ;;
  *) die_usage "'--shard' takes K/N or env/N" ;;
esac

# shellcheck source=runbooks/lib.sh
. "$(dirname "$0")/lib.sh"

step=""
begin() { step=$1; printf '\n==> %s\n' "$1"; }
fail() {
  echo "recover-lost-window: $1" >&2
  echo "recover-lost-window: failed at step: $step (exit 1); see the messages above" >&2
  exit 1
}
trap 'status=$?; echo "recover-lost-window: failed at step: $step (exit $status); see the messages above" >&2; exit $status' ERR

window=(--from "$from" --to "$to")
dbopt=(); [ -z "$db" ] || dbopt=(--db "$db")
schemaopt=(--schema "$schema")
shardopt=(); [ -z "$shard" ] || shardopt=(--shard "$shard")
psqldb=(); [ -z "$db" ] || psqldb=(-d "$db")
[ -n "$db" ] || [ -z "${DATABASE_URL:-}" ] || psqldb=(-d "$DATABASE_URL")
plan="$out/plan"

begin "check setup"
command -v "$tool" >/dev/null 2>&1 || fail "recover-tool not found at '$tool': build it (swift build -c release) and pass --tool .build/release/recover-tool"
for cmd in psql lz4 python3 flock; do command -v "$cmd" >/dev/null 2>&1 || fail "'$cmd' is not installed: run scripts/setup.sh"; done
for path in "${logs[@]}"; do [ -e "$path" ] || fail "log path '$path' does not exist: collect every host's logs first"; done
for snap in "${snapshots[@]}"; do
  case "$snap" in *=*|postgres://*|postgresql://*) ;; *) [ -e "$snap" ] || fail "snapshot '$snap' does not exist" ;; esac
done
echo "recover-tool $("$tool" --version)"
live=$(echo "SELECT current_database() || ', ' || count(*) || ' time_slots rows' FROM :\"schema\".time_slots;" | live_psql "$schema" -A -t) \
  || fail "cannot read $schema.time_slots in the live database (psql's error above): check --db, DATABASE_URL or the PG* variables, and --schema"
echo "live database: $live"
mkdir -p "$out"
hold_out recover-lost-window "$out"

# The inputs and zone a plan is made with (the window and shard are in its plan.json), written
# once the plan is, under its plan id: a plan is reused only with the same ones. No connection
# string is written down (a snapshot database's is kept as its SHA-256); the database is apply's
# to check (it refuses another one, 70).
options_file="$out/plan-options.txt"
options=$(printf '%s\n' "--tz $tz"; echo "--logs"; input_list "${logs[@]}"; echo "--snapshot"; input_list "${snapshots[@]}")

if [ -f "$plan/plan.json" ]; then
  begin "plan: reusing $plan (what the reviewer read; apply re-checks its hashes)"
  refuse() {
    echo "recover-lost-window: refused: the plan in $plan was made with other options than these; nothing was written" >&2
    echo "$1" | sed 's/^/  /' >&2
    echo "recover-lost-window: give another --out for a new plan (or the options the reviewed plan was made with)" >&2
    exit 12
  }
  differs=$(plan_differs "$plan/plan.json" "$from" "$to" "$shard") || case $? in
    1) refuse "$differs" ;;
    *) fail "$differs: make the plan again into another --out" ;;
  esac
  kept_id=$(sed -n '1s/^plan_id //p' "$options_file" 2>/dev/null || true)
  if [ -n "$kept_id" ] && [ "$kept_id" = "$(field "$plan/plan.json" plan_id)" ]; then
    [ "$(tail -n +2 "$options_file")" = "$options" ] \
      || refuse "$(diff <(tail -n +2 "$options_file") <(echo "$options") | sed -n 's/^< /made with: /p; s/^> /given now: /p')"
  else
    echo "(the plan was not made by this script: its inputs are not compared; they are listed in $plan/plan.json)"
  fi
  if [ "$require_complete" = 1 ] && [ "$(field "$plan/plan.json" completeness complete)" != True ]; then
    echo "recover-lost-window: the plan in $plan has incomplete evidence (its warnings are in report.md) and --require-complete was given; nothing was written" >&2
    exit 72
  fi
else
  begin "scan"
  "$tool" scan "${window[@]}" --logs "${logs[@]}" "${shardopt[@]}"

  begin "plan"
  extra=("${shardopt[@]}")
  [ -z "$tz" ] || extra+=(--tz "$tz")
  [ "$require_complete" = 0 ] || extra+=(--require-complete)
  snapopt=(); [ ${#snapshots[@]} -eq 0 ] || snapopt=(--snapshot "${snapshots[@]}")
  rm -f "$options_file"
  status=0
  "$tool" plan "${window[@]}" --logs "${logs[@]}" "${snapopt[@]}" "${dbopt[@]}" "${schemaopt[@]}" "${extra[@]}" --out "$plan" || status=$?
  # Kept with the plan whenever this plan wrote one (--require-complete writes it and exits 72).
  if { [ "$status" = 0 ] || [ "$status" = 72 ]; } && [ -f "$plan/plan.json" ]; then printf 'plan_id %s\n%s\n' "$(field "$plan/plan.json" plan_id)" "$options" > "$options_file"; fi
  if [ "$status" != 0 ]; then
    echo "recover-lost-window: failed at step: $step (exit $status); see the messages above" >&2
    exit "$status"
  fi
fi
plan_id=$(field "$plan/plan.json" plan_id) || fail "no plan_id in $plan/plan.json"

begin "approval check"
if [ -n "$approved_file" ]; then
  [ -r "$approved_file" ] || fail "cannot read the approval file '$approved_file'"
  approve=$(tr -d ' \t\r\n' < "$approved_file")
fi
if [ -z "$approve" ]; then
  echo "plan $plan_id is written and waits for review; nothing was written to the database"
  echo "read $plan/report.md (or $plan/report.html), with the checklist in docs/REVIEW.md"
  echo "to apply it, run this command again with: --approve $plan_id"
  exit 10
fi
if [ "$approve" != "$plan_id" ]; then
  echo "recover-lost-window: refused: the approved id $approve is not the id of the plan in $plan ($plan_id); nothing was written" >&2
  exit 11
fi
echo "plan $plan_id is the approved one"

begin "safety dump of the window's rows before writing"
mkdir -p "$out/safety"
dump="$out/safety/time_slots-$(date -u +%Y%m%dT%H%M%SZ).copy.lz4"
from_utc=$(date -u -d "$from" +%Y-%m-%dT%H:%M:%S.%6NZ)
to_utc=$(date -u -d "$to" +%Y-%m-%dT%H:%M:%S.%6NZ)
echo "COPY (SELECT * FROM :\"schema\".time_slots WHERE slot_start >= '$from_utc' AND slot_start < '$to_utc' ORDER BY id) TO STDOUT;" \
  | live_psql "$schema" | lz4 -q -z > "$dump"
lz4 -t -q "$dump"
echo "$(lz4 -dc "$dump" | wc -l) rows of [$from_utc, $to_utc) in $dump"

begin "apply"
applyopt=(--yes --plan-id "$approve" "${dbopt[@]}" "${schemaopt[@]}" "${shardopt[@]}")
[ -z "$operator" ] || applyopt+=(--operator "$operator")
# The options of a command line printed for the operator: --db without its password.
printopt=(); [ -z "$db" ] || printopt=(--db "$(redacted "$db")")
[ "$schema" = public ] || printopt+=("${schemaopt[@]}")
"$tool" apply "$plan" "${applyopt[@]}" --json > "$out/apply.json"
run=$(field "$out/apply.json" run id) || fail "apply printed no run id (see $out/apply.json)"
againopt=("${printopt[@]}" "${shardopt[@]}"); [ -z "$operator" ] || againopt+=(--operator "$operator")
stop_if_reverted recover-lost-window "$out/apply.json" "$(realpath "$plan")" "$plan_id" "${againopt[@]}"
if [ "$(field "$out/apply.json" outcome)" = applied ]; then
  echo "applied plan $plan_id as run $run: planned $(field "$out/apply.json" run counts planned)," \
    "inserted $(field "$out/apply.json" run counts inserted), dropped $(field "$out/apply.json" run counts dropped_present)" \
    "already present and $(field "$out/apply.json" run counts dropped_offline) overlapping offline time since the plan"
else
  echo "plan $plan_id was already applied as run $run; nothing changed"
fi

begin "verify"
"$tool" verify --run "$run" "${dbopt[@]}" "${schemaopt[@]}"

printf '\nrecover-lost-window: plan %s applied as run %s and verified; undo it with:%s\n' \
  "$plan_id" "$run" "$(printf ' %q' "$tool" revert --run "$run" --yes "${printopt[@]}")"
