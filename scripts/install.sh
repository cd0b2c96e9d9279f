#!/usr/bin/env bash
# Installs recover-tool into PREFIX:
#   PREFIX/bin/recover-tool
#   PREFIX/share/man/man1/recover-tool.1          (swift-argument-parser's generate-manual plugin)
#   PREFIX/share/bash-completion/completions/recover-tool
#   PREFIX/share/zsh/site-functions/_recover-tool
#   PREFIX/share/fish/vendor_completions.d/recover-tool.fish
#
#   bash scripts/install.sh PREFIX [--configuration release|debug]
#
# Builds first (release by default). Exit status: 0 when everything is installed, else the failing
# step's status after one line on standard error.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
prefix="" configuration=release
while [ $# -gt 0 ]; do
  case "$1" in
    --configuration) configuration=${2:?'--configuration' needs release or debug}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "install: unknown option '$1'; see --help" >&2; exit 64 ;;
    *) [ -z "$prefix" ] || { echo "install: one PREFIX only; see --help" >&2; exit 64; }; prefix=$1; shift ;;
  esac
done
[ -n "$prefix" ] || { echo "install: give the PREFIX to install into (for example /usr/local); see --help" >&2; exit 64; }
case "$configuration" in release|debug) ;; *) echo "install: --configuration is release or debug" >&2; exit 64 ;; esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build -c "$configuration" --product recover-tool >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "install: the build failed" >&2; exit 1; }
bin="$(swift build -c "$configuration" --show-bin-path)/recover-tool"

# The man page, from the same command tree as --help.
swift package plugin generate-manual --configuration "$configuration" >"$log" 2>&1 \
  || { tail -n 40 "$log" >&2; echo "install: generate-manual failed" >&2; exit 1; }
manual=$(find .build/plugins -path '*GenerateManual*' -name recover-tool.1 -newer "$bin" -print -quit)
[ -n "$manual" ] || manual=$(find .build/plugins -path '*GenerateManual*' -name recover-tool.1 -print -quit)
[ -n "$manual" ] || { echo "install: generate-manual wrote no recover-tool.1" >&2; exit 1; }

install -D -m 755 "$bin" "$prefix/bin/recover-tool"
install -D -m 644 "$manual" "$prefix/share/man/man1/recover-tool.1"
for shell in bash zsh fish; do
  case "$shell" in
    bash) dest="$prefix/share/bash-completion/completions/recover-tool" ;;
    zsh) dest="$prefix/share/zsh/site-functions/_recover-tool" ;;
    fish) dest="$prefix/share/fish/vendor_completions.d/recover-tool.fish" ;;
  esac
  mkdir -p "$(dirname "$dest")"
  "$bin" --generate-completion-script "$shell" > "$dest"
done
echo "installed recover-tool $("$prefix/bin/recover-tool" --version) into $prefix: bin/recover-tool, share/man/man1/recover-tool.1, bash, zsh and fish completions"
