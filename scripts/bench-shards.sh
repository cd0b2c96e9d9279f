#!/usr/bin/env bash
# The sharding benchmark: a generated incident planned and applied in N shards at once, on one
# machine, against one after another; the peak memory per window slot of a plan process.
#
#   scripts/bench-shards.sh [--users N] [--hours H] [--seed S] [--shards "1 2 4"] [--dir DIR] [--keep]
#
# Starts its own throwaway PostgreSQL (stopped on exit), builds a release recover-tool, makes the
# incident with scripts/make-incident.sh (live database bench_live), then for each N:
#   - plan: the N shards' `plan --shard K/N` at once; wall time, each process's peak memory; the
#     shards' rows together must equal N = 1's (SHA-256 of the sorted rows);
#   - apply: on a fresh copy of the live database, the N `apply --shard K/N` at once, then on
#     another copy one after another; wall times, and the guard's step time (--verbose).
# The copies are made from the live database after one empty apply created the recovery schema
# there, so no run pays for the migration (the first apply on a database migrates, and runs alone).
# Prints a table for docs/SCALING.md.
set -euo pipefail
cd "$(dirname "$0")/.."

users=20000 hours=14 seed=7 shards="1 2 4" dir="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=${2:?}; shift 2 ;;
    --hours) hours=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --shards) shards=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "bench-shards: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || dir=$(mktemp -d /tmp/rt-shards.XXXXXX)

bash scripts/setup.sh
env=$(bash scripts/pg-start.sh) && eval "$env"
cleanup() { bash scripts/pg-stop.sh "$RECOVER_PGDIR"; [ "$keep" = 1 ] || rm -rf "$dir"; }
trap cleanup EXIT

echo "bench-shards: building a release recover-tool" >&2
swift build -c release --product recover-tool 2>&1 | tail -1 >&2
tool=.build/release/recover-tool
echo "bench-shards: making a ${users}-user, ${hours}-hour incident in $dir" >&2
bash scripts/make-incident.sh --seed "$seed" --users "$users" --hours "$hours" --out "$dir/incident" \
  --live-db bench_live --backup-db bench_backup >/dev/null
from=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['window']['from'])" "$dir/incident/expected.json")
to=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['window']['to'])" "$dir/incident/expected.json")
plan_args=(--from "$from" --to "$to" --logs "$dir/incident/logs" --snapshot "$dir/incident/snapshot/time_slots.sql.lz4"
           --db dbname=bench_live --quiet)

# The recovery schema, created once in the live database by an apply of an empty plan.
"$tool" plan --from 2018-01-01T00:00:00Z --to 2018-01-01T00:10:00Z --logs fixtures/demo/logs --db dbname=bench_live \
  --out "$dir/empty" --quiet >/dev/null 2>&1
"$tool" apply "$dir/empty" --db dbname=bench_live --yes --quiet >/dev/null

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf '%.1f'; }
fresh() { dropdb --if-exists "$1"; createdb -T bench_live "$1"; }

printf '| N | plan: wall | plan: peak memory per shard | apply at once | apply one after another | guard (users and entries locked) per shard |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: |\n'
whole=""
for n in $shards; do
  # Plan: N processes at once.
  start=$(now)
  for k in $(seq 0 $((n - 1))); do
    /usr/bin/time -f '%M' -o "$dir/plan-$k-of-$n.time" "$tool" plan "${plan_args[@]}" --shard "$k/$n" \
      --out "$dir/plan-$k-of-$n" > /dev/null 2>&1 &
  done
  wait
  plan_wall=$(since "$start")
  rss=$(for k in $(seq 0 $((n - 1))); do echo $(( $(tail -1 "$dir/plan-$k-of-$n.time") / 1024 )); done | paste -sd/)
  rows=$(cat "$dir"/plan-*-of-$n/rows.tsv | sort | sha256sum | cut -c1-12)
  [ -n "$whole" ] || whole=$rows
  [ "$rows" = "$whole" ] || { echo "bench-shards: the $n shards' rows differ from N = 1's ($rows, $whole)" >&2; exit 1; }
  if [ "$n" = 1 ]; then
    slots=$(python3 -c "import json,sys; c = json.load(open(sys.argv[1]))['counts']; print(c['recovered'] + c['already_present'] + c['offline_overlap'] + c['quarantined'])" "$dir/plan-0-of-1/plan.json")
    plan_dir_bytes=$(du -sb "$dir/plan-0-of-1" | cut -f1)
  fi

  # Apply at once, on a fresh copy.
  fresh bench_at_once
  start=$(now)
  for k in $(seq 0 $((n - 1))); do
    "$tool" apply "$dir/plan-$k-of-$n" --db dbname=bench_at_once --shard "$k/$n" --yes --quiet --verbose \
      --lock-timeout 600 --statement-timeout 3600 > "$dir/apply-$k-of-$n.out" 2> "$dir/apply-$k-of-$n.err" &
  done
  wait
  at_once=$(since "$start")
  guard=$(for k in $(seq 0 $((n - 1))); do
    grep -o 'seconds=[0-9.]* step=offline-locked' "$dir/apply-$k-of-$n.err" | sed 's/seconds=\([0-9.]*\).*/\1/'
  done | paste -sd/)
  inserted=$(psql -X -A -t -d bench_at_once -c "SELECT sum(inserted) FROM recovery.runs WHERE shard_count = $n")

  # One after another, on another fresh copy.
  fresh bench_serial
  start=$(now)
  for k in $(seq 0 $((n - 1))); do
    "$tool" apply "$dir/plan-$k-of-$n" --db dbname=bench_serial --shard "$k/$n" --yes --quiet \
      --statement-timeout 3600 > /dev/null
  done
  serial=$(since "$start")
  [ "$(psql -X -A -t -d bench_serial -c "SELECT sum(inserted) FROM recovery.runs WHERE shard_count = $n")" = "$inserted" ] \
    || { echo "bench-shards: N = $n inserted different counts at once and one after another" >&2; exit 1; }
  dropdb bench_at_once; dropdb bench_serial
  printf '| %s | %s s | %s MB | %s s | %s s | %s s |\n' "$n" "$plan_wall" "$rss" "$at_once" "$serial" "$guard"
done
echo
echo "rows of every N: sorted SHA-256 $whole...; inserted $inserted slots"
echo "window slots (recovered, already present, offline overlap, quarantined): $slots"
echo "N = 1 plan: peak $(( $(tail -1 "$dir/plan-0-of-1.time") / 1024 )) MB = $(( $(tail -1 "$dir/plan-0-of-1.time") * 1024 / slots )) bytes per window slot; plan directory $((plan_dir_bytes / 1000000)) MB = $((plan_dir_bytes / slots)) bytes per window slot"
