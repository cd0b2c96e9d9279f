#!/usr/bin/env bash
# Makes a generated incident and its databases: runs incident-generator (release build, Tools/
# package), then, on the PostgreSQL named by the environment (PGHOST, PGPORT, PGUSER ...), recreates the live database
# (schema, reference data, offline entries, live time_slots) and the backup database (time_slots as
# of the backup), and takes a real pg_dump of the backup's time_slots into DIR/snapshot/ (plain, and
# an lz4 copy), dumped with PGTZ=America/Los_Angeles so timestamptz values carry '-07'.
#
#   scripts/make-incident.sh --seed S --users N --hours H --out DIR
#       [--hosts K] [--window-start T] [--malformed-rate R] [--history-days D]
#       [--live-db NAME] [--backup-db NAME] [--no-build]
#
# Idempotent: files in DIR and both databases are replaced. Prints the two connection strings.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

live_db=tracker backup_db=tracker_backup out="" build=1 gen=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seed|--users|--hours|--hosts|--window-start|--malformed-rate|--history-days)
      [ $# -ge 2 ] || { echo "make-incident: '$1' needs a value" >&2; exit 2; }
      gen+=("$1" "$2"); shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --live-db) live_db=${2:?}; shift 2 ;;
    --backup-db) backup_db=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-incident: unknown option '$1'; see --help" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "make-incident: '--out DIR' is required" >&2; exit 2; }
for name in "$live_db" "$backup_db"; do
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "make-incident: database name '$name' must be a plain lowercase identifier" >&2; exit 2; }
done

step=""
trap 'echo "make-incident: failed at step: $step (see the messages above)" >&2' ERR
# The generator lives in the Tools/ package, which has its own build directory.
scratch=${RECOVER_TOOLS_SCRATCH_PATH:-$PWD/.build-tools}
tools=(--package-path Tools --scratch-path "$scratch" -c release)

step="build incident-generator"
if [ "$build" = 1 ]; then
  swift build "${tools[@]}" --product incident-generator >/dev/null
fi
bin="$(swift build "${tools[@]}" --show-bin-path)/incident-generator"

step="generate the incident"
"$bin" "${gen[@]}" --out "$out"

psql_q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }

step="connect to PostgreSQL"
psql_q -d postgres -c "SELECT 1"

step="recreate databases $live_db and $backup_db"
for name in "$live_db" "$backup_db"; do
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
done

step="load the live database $live_db"
psql_q -d "$live_db" -f fixtures/schema.sql -f "$out/db/reference.sql" -f "$out/db/live.sql" -c "ANALYZE"

step="load the backup database $backup_db"
psql_q -d "$backup_db" -f fixtures/schema.sql -f "$out/db/reference.sql" -f "$out/db/backup.sql" -c "ANALYZE"

step="pg_dump the backup's time_slots"
mkdir -p "$out/snapshot"
PGTZ=America/Los_Angeles pg_dump --table=time_slots --no-owner --no-privileges -d "$backup_db" -f "$out/snapshot/time_slots.sql"
lz4 -q -f "$out/snapshot/time_slots.sql" "$out/snapshot/time_slots.sql.lz4"

conn() { echo "host=${PGHOST:-localhost} port=${PGPORT:-5432} user=${PGUSER:-$(id -un)} dbname=$1"; }
echo "live:     $(conn "$live_db")"
echo "backup:   $(conn "$backup_db")"
echo "snapshot: $out/snapshot/time_slots.sql (.lz4)"
