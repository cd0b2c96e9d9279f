#!/usr/bin/env bash
# The plan benchmark: a generated incident, `lz4 -dc` of every input it reads (the limit), then
# `recover-tool plan` on the same inputs with its stage timings and peak memory, in one run.
#
#   scripts/bench-plan.sh [--users N] [--hours H] [--seed S] [--dir DIR] [--keep]
#
# Starts its own throwaway PostgreSQL (stopped on exit), builds release binaries, makes the
# incident with scripts/make-incident.sh, and prints a table for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

users=20000 hours=14 seed=7 dir="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=${2:?}; shift 2 ;;
    --hours) hours=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "bench-plan: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || dir=$(mktemp -d /tmp/rt-bench.XXXXXX)

bash scripts/setup.sh
env=$(bash scripts/pg-start.sh) && eval "$env"
cleanup() { bash scripts/pg-stop.sh "$RECOVER_PGDIR"; [ "$keep" = 1 ] || rm -rf "$dir"; }
trap cleanup EXIT

echo "bench-plan: building release binaries" >&2
swift build -c release --product recover-tool 2>&1 | tail -3 >&2
echo "bench-plan: making a ${users}-user, ${hours}-hour incident in $dir" >&2
bash scripts/make-incident.sh --seed "$seed" --users "$users" --hours "$hours" --out "$dir/incident" \
  --live-db bench_live --backup-db bench_backup >/dev/null

from=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['window']['from'])" "$dir/incident/expected.json")
to=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['window']['to'])" "$dir/incident/expected.json")
snapshot="$dir/incident/snapshot/time_slots.sql.lz4"
mapfile -t files < <(find "$dir/incident/logs" -type f | sort)

# The limit: decompressing every input once, one after the other, as plan must read them.
sync
cat "${files[@]}" "$snapshot" > /dev/null   # warm the page cache for both runs
start=$(date +%s.%N)
# (The crashed host's file ends in a cut frame: lz4 says "Unfinished stream", exit 68, after
# writing everything before the cut, as plan reads it.)
for f in "${files[@]}" "$snapshot"; do
  case "$f" in *.lz4) lz4 -dc "$f" || [ $? = 68 ] ;; *) cat "$f" ;; esac
done > /dev/null
end=$(date +%s.%N)
lz4_seconds=$(echo "$end - $start" | bc)

rm -rf "$dir/plan"
/usr/bin/time -v -o "$dir/time.txt" .build/release/recover-tool plan --from "$from" --to "$to" \
  --logs "$dir/incident/logs" --snapshot "$snapshot" --db "dbname=bench_live" --out "$dir/plan" \
  --verbose --quiet > "$dir/plan.out" 2> "$dir/plan.err"

wall=$(awk -F': ' '/Elapsed/ {print $2}' "$dir/time.txt")
rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$dir/time.txt")
lines=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['lines']['total'])" "$dir/incident/expected.json")
text=$(for f in "${files[@]}"; do case "$f" in *.lz4) lz4 -dc "$f" 2>/dev/null || true ;; *) cat "$f" ;; esac; done | wc -c)
echo "incident: $users users, $hours h, seed $seed; $lines log lines ($text bytes of text) in ${#files[@]} files; snapshot $(stat -c %s "$snapshot") bytes (lz4)"
echo "lz4 -dc of every input: ${lz4_seconds} s"
grep -o 'seconds=[0-9.]* stage=[a-z]*' "$dir/plan.err" | sed 's/seconds=\([0-9.]*\) stage=\(.*\)/stage \2: \1 s/'
echo "plan wall time: $wall; peak memory: $((rss / 1024)) MB"
head -3 "$dir/plan.out"
python3 - "$dir/plan/plan.json" "$dir/incident/expected.json" <<'PY'
import json, sys
plan, truth = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))['plan']
keys = ['recovered', 'already_present', 'offline_overlap', 'deleted', 'orphans', 'duplicates', 'quarantined']
same = all(plan['counts'][k] == truth[k] for k in keys) and plan['recovered_minutes'] == truth['recovered_minutes']
print('counts agree with expected.json' if same else 'COUNTS DIFFER from expected.json: %s vs %s' % (plan['counts'], truth))
PY
