#!/usr/bin/env bash
# spec/fuzz/run.sh -- build the libFuzzer harnesses with clang and run each
# for a bounded time over its seed corpus (spec/fuzz/corpus/NAME, read only:
# new inputs go to a temporary directory).  Fails on any crash, sanitizer
# report or leak, and prints one summary line per harness.
#
#   spec/fuzz/run.sh [SECONDS]      default 60 per harness
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

status=0
for harness in spec/fuzz/fuzz_*.c; do
  name=$(basename "$harness" .c)
  name=${name#fuzz_}
  # the core alone needs no drawing libraries; fuzz_lua runs the Lua module,
  # so it links the bindings, the drawing library with graphviz and cairo,
  # and Lua too
  lua=()
  [ "$name" = lua ] && lua=($(ls bindings/*.c core/viz/*.c) \
    $(pkg-config --cflags --libs lua5.4 libgvc libcgraph cairo))
  clang -std=c11 $flags "$harness" core/*.c "${lua[@]}" -lm -o "$out/$name"
  mkdir -p "$out/corpus-$name"
  # absolute paths: fuzz_lua works in a directory of its own
  # fontconfig's caches (cairo's text, in fuzz_lua) are not ours to free
  if LSAN_OPTIONS=suppressions="$PWD/spec/fuzz/lsan.supp" \
     "$out/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 \
       -artifact_prefix="$out/" -print_final_stats=1 \
       "$out/corpus-$name" "$PWD/spec/fuzz/corpus/$name" >"$out/$name.log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$out/$name.log" | tail -n 1 | grep -o '[0-9]*$')
    echo "fuzz $name: ok, $execs executions, coverage $cov edges in ${seconds}s"
  else
    echo "fuzz $name: FAILED"
    tail -n 40 "$out/$name.log"
    status=1
  fi
done
exit $status
