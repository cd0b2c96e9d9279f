#!/usr/bin/env bash
# Runs one libFuzzer target of the Fuzz/ package for SECONDS (default 60).
#   scripts/fuzz.sh FuzzEventLine 600
# Builds it with the recipe that works here (--sanitize=fuzzer and ASan), seeds a working corpus
# from Fuzz/seeds/TARGET, uses Fuzz/dicts/TARGET.dict (else Fuzz/dicts/json.dict), and leaves crashes in fuzz-artifacts/TARGET/.
# Extra arguments go to the fuzzer (for example -workers=2 -jobs=2, or a crash file to replay).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS] [libFuzzer args...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))

scratch=$PWD/.build-fuzz
# Re-plan every time: a stale plan names source files that a merge removed.
rm -f "$scratch/release.yaml"
(cd Fuzz && swift build -c release --scratch-path "$scratch" --product "$target" \
    --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address) >&2
work=fuzz-artifacts/$target
mkdir -p "$work/corpus"
if [ -d "Fuzz/seeds/$target" ]; then cp -n "Fuzz/seeds/$target"/* "$work/corpus/" 2>/dev/null || true; fi
dict=()
if [ -f "Fuzz/dicts/$target.dict" ]; then dict=(-dict="Fuzz/dicts/$target.dict")
elif [ "$target" != FuzzLZ4Lines ]; then dict=(-dict=Fuzz/dicts/json.dict); fi
SWIFT_BACKTRACE=enable=no "$scratch/release/$target" "${dict[@]}" \
    -max_total_time="$seconds" -artifact_prefix="$work/" -print_final_stats=1 "$@" "$work/corpus"
