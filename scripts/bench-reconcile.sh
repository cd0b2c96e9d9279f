#!/usr/bin/env bash
# Benchmark of reconcile: a generated bad job of USERS x SLOTS snapshot rows (default 1000 x 1000:
# 1 M rows in the pg_dump and about 1 M in live), planned with the release recover-tool against
# the floor of reading the same dump, `lz4 -dc FILE > /dev/null`; each timed RUNS times, medians
# and the same-run ratio printed. Uses the PostgreSQL the environment names (PGHOST ...).
#
#   scripts/bench-reconcile.sh [--users N] [--slots-per-user K] [--runs R] [--out DIR] [--debug-generator]
#
# --debug-generator makes the incident with the debug build of bad-job-generator (what
# scripts/test.sh builds): only recover-tool's build matters to the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
users=1000 slots=1000 runs=3 out=/tmp/bench-reconcile gen=()
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users=$2; shift 2 ;;
    --slots-per-user) slots=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --debug-generator) gen=(--debug); shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-reconcile: unknown option '$1'" >&2; exit 64 ;;
  esac
done
scratch=${RECOVER_SCRATCH_PATH:-.build}
swift build -c release --scratch-path "$scratch" --product recover-tool 2>&1 | tail -1 >&2
tool=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/recover-tool
bash scripts/make-bad-job.sh "${gen[@]}" --seed 1 --users "$users" --slots-per-user "$slots" --out "$out/incident" \
  --live-db bench_badjob --backup-db bench_badjob_backup >&2
dump="$out/incident/snapshot/before-job.sql.lz4"
field() { python3 -c "import json,sys; print(json.load(open('$out/incident/expected.json'))['$1'])"; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
floor=() recon=()
for i in $(seq "$runs"); do
  floor+=("$(seconds lz4 -dc "$dump")")
  rm -rf "$out/plan"
  recon+=("$(seconds "$tool" reconcile --snapshot "$dump" --job-from "$(field job_from)" --job-to "$(field job_to)" \
    --columns "$(field columns)" --db "dbname=bench_badjob" --out "$out/plan" --quiet)")
done
f=$(printf '%s\n' "${floor[@]}" | median) r=$(printf '%s\n' "${recon[@]}" | median)
echo "snapshot rows: $(field backup_rows), live rows: $(field live_rows), dump: $(stat -c %s "$dump") bytes lz4, $(stat -c %s "${dump%.lz4}") bytes plain"
echo "lz4 -dc (floor):  ${floor[*]} s, median $f s"
echo "reconcile:        ${recon[*]} s, median $r s"
echo "ratio (median reconcile / median floor): $(echo "scale=1; $r / $f" | bc)"
python3 -c "import json; print('plan counts:', json.load(open('$out/plan/plan.json'))['counts'])"
