#!/usr/bin/env bash
# Stops a server started by pg-start.sh and removes its directory: scripts/pg-stop.sh DIR
set -uo pipefail
dir=${1:?usage: pg-stop.sh DIR}
[ -d "$dir/data" ] || exit 0
bindir=${RECOVER_PGBIN:-}
if [ -z "$bindir" ]; then for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bindir=$d; done; fi
run=()
[ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
"${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
