#!/usr/bin/env bash
# Installs what recover-tool needs on a fresh Debian machine: liblz4-dev (headers and pkg-config
# file), libssl-dev (libcrypto's SHA-256; libpq-dev brings it), the lz4 command-line tool, tzdata
# (the time zones `--tz` and the notices show), and the PostgreSQL client and server when missing; and from PyPI, kubernetes-validate (the Kubernetes API
# schemas, offline: scripts/check-kubernetes.sh), which brings PyYAML (scripts/run-shards.sh), and
# check-jsonschema (the tests validate every --json output against docs/schemas/ with it).
# Safe to run again: it installs only what is absent, and runs 'apt-get update' at most once.
set -euo pipefail

need=()
pkg-config --exists liblz4 2>/dev/null || need+=(liblz4-dev)
command -v lz4 >/dev/null 2>&1 || need+=(lz4)
[ -f /usr/share/zoneinfo/America/Los_Angeles ] || need+=(tzdata)  # --tz and the notices' zones are read from it
command -v man >/dev/null 2>&1 || need+=(man-db)  # scripts/test-runbooks.sh reads the installed man page
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v script >/dev/null 2>&1 || need+=(bsdutils)  # tests run the tool on a pty with util-linux script  # the runbooks read ids from --json outputs with it
pkg-config --exists libpq 2>/dev/null || need+=(libpq-dev)
pkg-config --exists libcrypto 2>/dev/null || need+=(libssl-dev)
command -v pg_dump >/dev/null 2>&1 || need+=(postgresql-client)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if { ! command -v kubernetes-validate >/dev/null 2>&1 || ! command -v check-jsonschema >/dev/null 2>&1; } \
   && ! python3 -m pip --version >/dev/null 2>&1; then
  need+=(python3-pip)
fi
if [ "${RECOVER_WITH_CHROMIUM:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${need[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The PyPI checkers at the versions the project was checked with (installed when absent or at
# another version): a newer release may judge the same manifests and JSON differently.
pypi_tool() {  # pypi_tool COMMAND VERSION: COMMAND --version must end with VERSION
  local command=$1 version=$2
  case "$("$command" --version 2>/dev/null)" in *"$version") return ;; esac
  echo "setup: installing $command $version (PyPI)" >&2
  # Debian's Python refuses a system-wide pip install without --break-system-packages (PEP 668);
  # an older pip does not know the flag.
  python3 -m pip install -q --break-system-packages "$command==$version" 2>/dev/null \
    || python3 -m pip install -q "$command==$version"
  case "$("$command" --version 2>/dev/null)" in
    *"$version") ;;
    *) echo "setup: $command $version is not on PATH after pip install" >&2; exit 1 ;;
  esac
}
pypi_tool kubernetes-validate 1.37.0
pypi_tool check-jsonschema 0.39.0
