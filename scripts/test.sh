#!/usr/bin/env bash
# The test command: installs what is missing, starts a throwaway PostgreSQL (stopped on exit, even
# on failure), builds, and runs every test tier. Extra arguments go to 'swift test'
# (for example: scripts/test.sh --filter LogReplayTests).
set -euo pipefail
cd "$(dirname "$0")/.."

export RECOVER_WITH_CHROMIUM=1  # the report.html render test needs headless Chromium
bash scripts/setup.sh
env=$(bash scripts/pg-start.sh) && eval "$env"
trap 'bash scripts/pg-stop.sh "$RECOVER_PGDIR"' EXIT
echo "test: PostgreSQL running at $PGHOST" >&2

swift build --build-tests
swift test --skip-build "$@"
