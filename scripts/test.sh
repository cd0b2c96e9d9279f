#!/usr/bin/env bash
# The test command: installs what is missing, starts a throwaway PostgreSQL (stopped on exit, even
# on failure), builds, and runs every test tier; then, on the same server, every runbook script
# end to end and the demo (scripts/test-runbooks.sh). Extra arguments go to 'swift test' and skip
# the runbook checks (for example: scripts/test.sh --filter LogReplayTests). The full run also builds
# the Tools/ package (generator and benchmarks), so a library change that breaks them fails here.
set -euo pipefail
cd "$(dirname "$0")/.."

export RECOVER_WITH_CHROMIUM=1  # the report.html render test needs headless Chromium
bash scripts/setup.sh
env=$(bash scripts/pg-start.sh) && eval "$env"
# The tests' temporary files go to a folder of this run's own (RECOVER_TEST_TMPDIR; SwiftPM keeps
# its own files in TMPDIR), which must be empty when they end: a test that leaves a directory
# behind (each demo run's holds its plans) fails the run.
tests_tmp=""
trap 'bash scripts/pg-stop.sh "$RECOVER_PGDIR"; [ -z "$tests_tmp" ] || rm -rf "$tests_tmp"' EXIT
tests_tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-tests.XXXXXX")
echo "test: PostgreSQL running at $PGHOST" >&2

swift build --build-tests
RECOVER_TEST_TMPDIR=$tests_tmp swift test --skip-build "$@"
left=$(cd "$tests_tmp" && ls -A)
if [ -n "$left" ]; then
  echo "test: the tests left in their temporary folder (a fixture not released in tearDown?): ${left//$'\n'/ }" >&2
  exit 1
fi
if [ $# -eq 0 ]; then
  swift build --package-path Tools --scratch-path "$PWD/.build-tools"
  bash scripts/test-runbooks.sh
else
  echo "test: runbook checks skipped (arguments given to swift test); run scripts/test-runbooks.sh" >&2
fi
