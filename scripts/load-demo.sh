#!/usr/bin/env bash
# Loads the committed demo incident (fixtures/demo) into the PostgreSQL named by the environment
# (PGHOST, PGPORT, PGUSER ...), without building anything:
#   - the live database (default 'tracker'): schema, reference data, offline entries, live slots;
#   - the backup database (default 'tracker_backup'): schema and reference data, with time_slots
#     restored from the real pg_dump in fixtures/demo/snapshot/time_slots.sql.
#
#   scripts/load-demo.sh [--live-db NAME] [--backup-db NAME] [--dir DIR]
#
# Idempotent: both databases are dropped and created again. Prints the two connection strings.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

live_db=tracker backup_db=tracker_backup dir=fixtures/demo
while [ $# -gt 0 ]; do
  case "$1" in
    --live-db) live_db=${2:?}; shift 2 ;;
    --backup-db) backup_db=${2:?}; shift 2 ;;
    --dir) dir=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load-demo: unknown option '$1'; see --help" >&2; exit 2 ;;
  esac
done
for name in "$live_db" "$backup_db"; do
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "load-demo: database name '$name' must be a plain lowercase identifier" >&2; exit 2; }
done
[ -f "$dir/db/live.sql" ] && [ -f "$dir/snapshot/time_slots.sql" ] || { echo "load-demo: no incident in '$dir' (db/live.sql, snapshot/time_slots.sql)" >&2; exit 1; }

step=""
trap 'echo "load-demo: failed at step: $step (see the messages above)" >&2' ERR
psql_q() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }

step="connect to PostgreSQL"
psql_q -d postgres -c "SELECT 1"
step="recreate databases $live_db and $backup_db"
for name in "$live_db" "$backup_db"; do
  psql_q -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name"
done
step="load the live database $live_db"
psql_q -d "$live_db" -f fixtures/schema.sql -f "$dir/db/reference.sql" -f "$dir/db/live.sql"
step="restore the backup database $backup_db from the pg_dump"
psql_q -d "$backup_db" -f fixtures/schema.sql -f "$dir/db/reference.sql" -c "DROP TABLE time_slots" -f "$dir/snapshot/time_slots.sql"

conn() { echo "host=${PGHOST:-localhost} port=${PGPORT:-5432} user=${PGUSER:-$(id -un)} dbname=$1"; }
echo "live:   $(conn "$live_db")"
echo "backup: $(conn "$backup_db")"
