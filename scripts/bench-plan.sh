#!/usr/bin/env bash
# The plan benchmark: a generated incident, `lz4 -dc` of every input it reads (the limit), then
# `recover-tool plan` on the same inputs with its stage timings and peak memory, in one run.
#
#   scripts/bench-plan.sh [--users N] [--hours H] [--history-days D] [--seed S] [--rounds R] [--dir DIR] [--keep] [--baseline]
#
# Starts its own throwaway PostgreSQL (stopped on exit), builds release binaries, makes the
# incident with scripts/make-incident.sh, and prints a table for BENCHMARKS.md. The floor and
# plan are timed in turn, --rounds times (5 by default): on a shared machine one pair can be off
# by 15% either way, so each round's figures are printed, then their medians, the ratio being
# the median of each plan run over its own round's floor. The default
# incident is the realistic one: 20,000 users, a 14-hour window, and 4 days of history before the
# logs in both databases, so the snapshot holds about 2.4 M rows of which under 15% lie in the
# window, and the live table about 2.3 M rows outside the window. --baseline also times, in the same
# run, the same recovery scripted with DuckDB (scripts/baseline-duckdb.py, which checks its rows
# against expected.json), installing the duckdb module from PyPI if it is missing.
set -euo pipefail
shopt -s inherit_errexit   # a failing lz4 inside $(floor) stops the script too
cd "$(dirname "$0")/.."

users=20000 hours=14 history=4 seed=7 rounds=5 dir="" keep=0 baseline=0
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=${2:?}; shift 2 ;;
    --hours) hours=${2:?}; shift 2 ;;
    --history-days) history=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    --baseline) baseline=1; shift ;;
    *) echo "bench-plan: unknown option '$1'" >&2; exit 2 ;;
  esac
done
case "$rounds" in ''|*[!0-9]*) rounds=0 ;; esac
[ "$((10#$rounds))" -ge 1 ] || { echo "bench-plan: --rounds takes a count of 1 or more" >&2; exit 2; }
rounds=$((10#$rounds))
[ -n "$dir" ] || dir=$(mktemp -d /tmp/rt-bench.XXXXXX)

bash scripts/setup.sh
env=$(bash scripts/pg-start.sh) && eval "$env"
cleanup() { bash scripts/pg-stop.sh "$RECOVER_PGDIR"; [ "$keep" = 1 ] || rm -rf "$dir"; }
trap cleanup EXIT

echo "bench-plan: building release binaries" >&2
swift build -c release --product recover-tool 2>&1 | tail -3 >&2
echo "bench-plan: making a ${users}-user, ${hours}-hour incident in $dir" >&2
bash scripts/make-incident.sh --seed "$seed" --users "$users" --hours "$hours" --history-days "$history" --out "$dir/incident" \
  --live-db bench_live --backup-db bench_backup >/dev/null
# Both databases as a production one stands between incidents: vacuumed, so that no autovacuum of
# the rows just loaded (several seconds of a core each) runs beside the timed rounds, and written
# out (a checkpoint, then the page cache), so that no writeback of the load does either.
psql -q -d bench_live -c "VACUUM ANALYZE"
psql -q -d bench_backup -c "VACUUM ANALYZE"
psql -q -d postgres -c "CHECKPOINT"

from=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['window']['from'])" "$dir/incident/expected.json")
to=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['window']['to'])" "$dir/incident/expected.json")
snapshot="$dir/incident/snapshot/time_slots.sql.lz4"
mapfile -t files < <(find "$dir/incident/logs" -type f | sort)

# The limit: decompressing every input once, one after the other, as plan must read them.
sync
cat "${files[@]}" "$snapshot" > /dev/null   # warm the page cache for both
floor() {
  local start end
  start=$(date +%s.%N)
  # (The crashed host's file ends in a cut frame: lz4 says "Unfinished stream", exit 68, after
  # writing everything before the cut, as plan reads it.)
  for f in "${files[@]}" "$snapshot"; do
    case "$f" in *.lz4) lz4 -dc "$f" || [ $? = 68 ] ;; *) cat "$f" ;; esac
  done > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
# One plan first, not timed: the live database's pages in its buffers, as for any later plan.
.build/release/recover-tool plan --from "$from" --to "$to" --logs "$dir/incident/logs" --snapshot "$snapshot" \
  --db "dbname=bench_live" --out "$dir/plan" --quiet > /dev/null 2> "$dir/warmup.err" \
  || { echo "bench-plan: the untimed plan failed:" >&2; cat "$dir/warmup.err" >&2; exit 1; }
: > "$dir/rounds.txt"
for round in $(seq "$rounds"); do
  lz4_seconds=$(floor)
  rm -rf "$dir/plan"
  /usr/bin/time -v -o "$dir/time.txt" .build/release/recover-tool plan --from "$from" --to "$to" \
    --logs "$dir/incident/logs" --snapshot "$snapshot" --db "dbname=bench_live" --out "$dir/plan" \
    --verbose --quiet > "$dir/plan.out" 2> "$dir/plan.err"
  echo "floor=$lz4_seconds $(grep -o 'seconds=[0-9.]* stage=[a-z]*' "$dir/plan.err" | sed 's/seconds=\([0-9.]*\) stage=\(.*\)/\2=\1/' | tr '\n' ' ')$(awk -F': ' '
    /Elapsed/ {printf "wall=%s ", $2} /Percent of CPU/ {printf "cpu=%s ", $2} /Maximum resident/ {printf "rss=%s ", $2}' "$dir/time.txt")" >> "$dir/rounds.txt"
done

lines=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['lines']['total'])" "$dir/incident/expected.json")
text=$(for f in "${files[@]}"; do case "$f" in *.lz4) lz4 -dc "$f" 2>/dev/null || true ;; *) cat "$f" ;; esac; done | wc -c)
echo "incident: $users users, $hours h, $history history days, seed $seed; $lines log lines ($text bytes of text) in ${#files[@]} files; snapshot $(stat -c %s "$snapshot") bytes (lz4)"
python3 - "$dir/incident/expected.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))['database']
print('snapshot rows: %d, of which in the window: %d (%.1f%%); live time_slots: %d, outside the window: %d'
      % (d['snapshot_rows'], d['snapshot_rows_in_window'], 100 * d['snapshot_rows_in_window'] / d['snapshot_rows'],
         d['live_time_slots'], d['live_time_slots'] - d['live_time_slots_in_window']))
PY
python3 - "$dir/rounds.txt" "$dir/medians.txt" <<'PY'
import statistics, sys
def seconds(clock):
    return sum(float(part) * 60 ** i for i, part in enumerate(reversed(clock.split(':'))))
rounds = []
for line in open(sys.argv[1]):
    r = dict(kv.split('=', 1) for kv in line.split())
    r['wall'] = seconds(r['wall'])
    rounds.append(r)
for i, r in enumerate(rounds, 1):
    stages = ', '.join('%s %s s' % (k, r[k]) for k in ('read', 'fold', 'resolve', 'write') if k in r)
    print('round %d: floor %.2f s; plan %.2f s (%.2fx), CPU %s, max RSS %d MB; %s'
          % (i, float(r['floor']), r['wall'], r['wall'] / float(r['floor']), r['cpu'], int(r['rss']) // 1024, stages))
median = lambda key: statistics.median(float(r[key]) for r in rounds if key in r)
print('lz4 -dc of every input (the floor), median: %.2f s' % median('floor'))
for stage in ('read', 'fold', 'resolve', 'write'):
    if any(stage in r for r in rounds):
        print('stage %s, median: %.3f s' % (stage, median(stage)))
cpus = [int(r['cpu'].rstrip('%')) for r in rounds if r['cpu'].rstrip('%').isdigit()]
print('plan wall time, median of %d: %.2f s; CPU: %s; peak memory (max RSS): %d MB; ratio to the floor (median of each round\'s): %.2fx'
      % (len(rounds), median('wall'), '%.0f%%' % statistics.median(cpus) if cpus else '?', int(median('rss')) // 1024,
         statistics.median(r['wall'] / float(r['floor']) for r in rounds)))
with open(sys.argv[2], 'w') as out:  # for --baseline
    out.write('%f %f\n' % (median('floor'), median('wall')))
PY
head -3 "$dir/plan.out"
python3 - "$dir/plan/plan.json" "$dir/incident/expected.json" <<'PY'
import json, sys
plan, truth = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))['plan']
keys = ['recovered', 'already_present', 'offline_overlap', 'deleted', 'orphans', 'duplicates', 'quarantined']
same = all(plan['counts'][k] == truth[k] for k in keys) and plan['recovered_minutes'] == truth['recovered_minutes']
print('counts agree with expected.json' if same else 'COUNTS DIFFER from expected.json: %s vs %s' % (plan['counts'], truth))
PY

if [ "$baseline" = 1 ]; then
  python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install -q --break-system-packages duckdb 2>/dev/null \
    || python3 -m pip install -q duckdb
  /usr/bin/time -v -o "$dir/baseline.time" python3 scripts/baseline-duckdb.py --from "$from" --to "$to" \
    --logs "$dir/incident/logs" --snapshot "$snapshot" --db "dbname=bench_live" --threads "$(nproc)" \
    --out "$dir/baseline.tsv" --check "$dir/incident/expected.json" 2> "$dir/baseline.err" || true
  grep -E '^baseline: ' "$dir/baseline.err" || true
  python3 - "$dir/baseline.time" "$dir/medians.txt" <<'PY'
import sys
f = dict(line.strip().split(': ', 1) for line in open(sys.argv[1]) if ': ' in line)
wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(f['Elapsed (wall clock) time (h:mm:ss or m:ss)'].split(':'))))
floor, plan = map(float, open(sys.argv[2]).read().split())
print('DuckDB baseline wall time: %.2f s; CPU: %s; peak memory: %d MB; ratio to the median floor: %.1fx; plan (median) takes %.2fx its time'
      % (wall, f['Percent of CPU this job got'], int(f['Maximum resident set size (kbytes)']) // 1024, wall / floor, plan / wall))
PY
fi
