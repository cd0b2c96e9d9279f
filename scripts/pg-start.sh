#!/usr/bin/env bash
# Starts a throwaway PostgreSQL in a new temporary directory, listening on a unix socket only, and
# prints the shell exports that point libpq at it. Use it as:
#   env=$(scripts/pg-start.sh) && eval "$env"        # then later: scripts/pg-stop.sh "$RECOVER_PGDIR"
# As root it runs the server as the 'postgres' user (initdb refuses root), creating it if absent.
set -euo pipefail

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
[ -n "$bindir" ] || bindir=$(dirname "$(command -v initdb)")
dir=$(mktemp -d /tmp/rt-pg.XXXXXX)   # short: a unix socket path is limited to 107 bytes

run=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --create-home postgres
  chown postgres "$dir"
  run=(runuser -u postgres --)
fi

"${run[@]}" "$bindir/initdb" -D "$dir/data" --no-sync -A trust -E UTF8 --locale=C -U postgres \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
"${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

echo "export PGHOST=$dir PGPORT=5432 PGUSER=postgres PGDATABASE=postgres RECOVER_PGDIR=$dir RECOVER_PGBIN=$bindir"
