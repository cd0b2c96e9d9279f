#!/usr/bin/env bash
# Builds one libFuzzer target of the Fuzz/ package and runs it: scripts/fuzz.sh TARGET SECONDS
# (targets: Fuzz/Sources/*). The build recipe is the only one that gives a working fuzzer
# (see FACTS.md). The corpus grows in fuzz-artifacts/TARGET/corpus; crashes land in
# fuzz-artifacts/TARGET/. A dictionary Fuzz/dict/<target-name>.dict is used when present.
set -euo pipefail
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/Fuzz"

swift build -c release --product "$target" --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address \
  --scratch-path "$root/Fuzz/.build-fuzz" >&2
bin="$root/Fuzz/.build-fuzz/release/$target"

out="$root/fuzz-artifacts/$target"
mkdir -p "$out/corpus"
dict_name=$(echo "${target#Fuzz}" | sed -E 's/([a-z])([A-Z])/\1-\2/g' | tr 'A-Z' 'a-z')
dict=()
[ -f "$root/Fuzz/dict/$dict_name.dict" ] && dict=(-dict="$root/Fuzz/dict/$dict_name.dict")
[ -d "$root/Fuzz/corpus/$target" ] && cp -n "$root/Fuzz/corpus/$target"/* "$out/corpus/" 2>/dev/null || true

SWIFT_BACKTRACE=enable=no "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix="$out/" -print_final_stats=1 "$out/corpus"
