#!/usr/bin/env bash
# Checks a live database against a generated bad-job incident's expected state after a correct
# reconcile apply (DIR/expected-after.tsv from bad-job-generator): every row's project_id,
# task_id and note, and its updated_at (the run's applied_at for the restored rows, unchanged for
# every other row); and the memberships DIR/expected.json says are restored.
#
#   scripts/check-bad-job.sh DIR RUN_ID      (the database: PG* variables or DATABASE_URL)
#
# Exit status: 0 when the database is exactly as expected, 1 otherwise (with a diff).
set -euo pipefail
dir=${1:?usage: check-bad-job.sh DIR RUN_ID} run=${2:?usage: check-bad-job.sh DIR RUN_ID}
q() { psql -X -A -t -v ON_ERROR_STOP=1 ${DATABASE_URL:+-d "$DATABASE_URL"} -c "$1"; }
applied=$(q "SELECT applied_at FROM recovery.runs WHERE id = $run")
[ -n "$applied" ] || { echo "check-bad-job: no run $run" >&2; exit 1; }
actual=$(mktemp) expected=$(mktemp)
trap 'rm -f "$actual" "$expected"' EXIT
psql -X -q -v ON_ERROR_STOP=1 ${DATABASE_URL:+-d "$DATABASE_URL"} -c "SET TimeZone = 'UTC'" -c "\\copy (
  SELECT id, project_id, task_id, note,
    CASE WHEN updated_at = '$applied' THEN 'RESTORED'
         ELSE to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') ||
              CASE WHEN extract(microseconds FROM updated_at)::bigint % 1000000 = 0 THEN ''
                   ELSE '.' || rtrim(lpad((extract(microseconds FROM updated_at)::bigint % 1000000)::text, 6, '0'), '0') END || 'Z' END
  FROM time_slots ORDER BY id) TO '$actual'"
if ! diff -u "$dir/expected-after.tsv" "$actual" | head -40; then
  echo "check-bad-job: time_slots differ from $dir/expected-after.tsv (- expected, + actual)" >&2; exit 1
fi
members=$(python3 -c "import json; print(' '.join('(%d,%d)' % tuple(p) for p in json.load(open('$dir/expected.json'))['memberships_restored']))")
for pair in $members; do
  p=${pair#(}; p=${p%)}
  [ "$(q "SELECT count(*) FROM project_members WHERE (project_id, user_id) = ($p)")" = 1 ] \
    || { echo "check-bad-job: membership $pair is not restored" >&2; exit 1; }
done
echo "check-bad-job: time_slots ($(wc -l < "$actual") rows) and the $(echo $members | wc -w) memberships are as expected"
