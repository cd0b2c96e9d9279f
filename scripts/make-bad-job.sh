#!/usr/bin/env bash
# Makes a generated bad-job incident (CONTRACT §7) and its databases: runs bad-job-generator
# (Tools/ package), then, on the PostgreSQL named by the environment (PGHOST, PGPORT, PGUSER ...),
# recreates the backup database (as before the job) and the live database (after the job and the
# later edits), and takes a real pg_dump of the backup's time_slots and project_members (and
# users) into DIR/snapshot/before-job.sql (plain, and an lz4 copy), with PGTZ=America/Los_Angeles.
#
#   scripts/make-bad-job.sh --out DIR [--seed S] [--users N] [--slots-per-user K]
#       [--live-db NAME] [--backup-db NAME] [--debug]
#
# DIR/expected.json holds the job window, the columns and the outcome counts; DIR/expected-after.tsv
# every live row after a correct apply (scripts/check-bad-job.sh compares). --debug uses the debug
# build of the Tools/ package (what scripts/test.sh builds) instead of a release build.
# Idempotent: files in DIR and both databases are replaced. Prints the connection strings.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

live_db=badjob backup_db=badjob_backup out="" config=release gen=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed|--users|--slots-per-user)
      [ $# -ge 2 ] || { echo "make-bad-job: '$1' needs a value" >&2; exit 2; }
      gen+=("$1" "$2"); shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --live-db) live_db=${2:?}; shift 2 ;;
    --backup-db) backup_db=${2:?}; shift 2 ;;
    --debug) config=debug; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-bad-job: unknown option '$1'; see --help" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "make-bad-job: '--out DIR' is required" >&2; exit 2; }
for name in "$live_db" "$backup_db"; do
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "make-bad-job: database name '$name' must be a plain lowercase identifier" >&2; exit 2; }
done

step=""
trap 'echo "make-bad-job: failed at step: $step (see the messages above)" >&2' ERR
scratch=${RECOVER_TOOLS_SCRATCH_PATH:-$PWD/.build-tools}
tools=(--package-path Tools --scratch-path "$scratch" -c "$config")

step="build bad-job-generator"
swift build "${tools[@]}" --product bad-job-generator >/dev/null
bin="$(swift build "${tools[@]}" --show-bin-path)/bad-job-generator"

step="generate the incident"
"$bin" "${gen[@]}" --out "$out"

psql_q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }
step="recreate databases $live_db and $backup_db"
for name in "$live_db" "$backup_db"; do
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
done
step="load the backup database $backup_db"
psql_q -d "$backup_db" -f fixtures/schema.sql -f "$out/backup.sql" -c "ANALYZE"
step="load the live database $live_db"
psql_q -d "$live_db" -f fixtures/schema.sql -f "$out/live.sql" -c "ANALYZE"

step="pg_dump the backup's users, project_members and time_slots"
mkdir -p "$out/snapshot"
PGTZ=America/Los_Angeles pg_dump -t users -t project_members -t time_slots --no-owner --no-privileges \
  -d "$backup_db" -f "$out/snapshot/before-job.sql"
lz4 -q -f "$out/snapshot/before-job.sql" "$out/snapshot/before-job.sql.lz4"

conn() { echo "host=${PGHOST:-localhost} port=${PGPORT:-5432} user=${PGUSER:-$(id -un)} dbname=$1"; }
echo "live:     $(conn "$live_db")"
echo "backup:   $(conn "$backup_db")"
echo "snapshot: $out/snapshot/before-job.sql (.lz4)"
