#!/usr/bin/env bash
# setup.sh -- set up a fresh Debian 12 machine, build Torchlet, and run it.
#
#   ./setup.sh demo    install what is missing, build, run the main demo
#   ./setup.sh test    install what is missing, build, run every spec
#                      (release build, the ASan+UBSan debug build, and the
#                      debug build under GC stress), then the hardening
#                      checks: fuzzers, valgrind, memory growth
#   ./setup.sh build   install what is missing and build only
#   ./setup.sh bench [--compare] [--update] ...
#                      build, then run the benchmarks (bench/run.lua)
#
# Needs root or sudo for apt-get, and only when a package is missing.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES="build-essential lua5.4 liblua5.4-dev lua-busted premake4 pkg-config
libcairo2-dev libgraphviz-dev graphviz valgrind clang libclang-rt-14-dev lua-dkjson"

install_missing() {
  local missing=()
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() {
  premake4 --file=premake5.lua gmake >/dev/null
  make -s -C build config="$1" -j2
}

export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$PWD/build/?.so;;"

# Runs a command as one check: passed if it exits 0.
run_check() {
  local name=$1
  shift
  if "$@"; then
    echo "-- check $name: passed"
    TOTAL_PASSED=$((TOTAL_PASSED + 1))
  else
    echo "-- check $name: FAILED"
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
  fi
}

# Runs busted with TAP output and adds its counts to TOTAL_PASSED and
# TOTAL_FAILED.  A run that dies before printing its plan line ("1..N"),
# a crash for instance, counts one failure more.
TOTAL_PASSED=0
TOTAL_FAILED=0
run_specs() {
  local out passed failed
  out=$("$@" -o TAP 2>&1) || true
  printf '%s\n' "$out"
  passed=$(printf '%s\n' "$out" | grep -c '^ok ' || true)
  failed=$(printf '%s\n' "$out" | grep -c '^not ok ' || true)
  printf '%s\n' "$out" | grep -q '^1\.\.[0-9]' || failed=$((failed + 1))
  echo "-- $passed passed, $failed failed"
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
}

cmd=${1:-demo}
install_missing
case "$cmd" in
  build)
    build release
    ;;
  demo)
    build release
    # trains the moons model and redraws the README's pictures in images/
    lua5.4 examples/moons.lua --images images
    lua5.4 examples/draw_graph.lua
    ;;
  test)
    build release
    echo "== specs, release build"
    run_specs lua5.4 /usr/bin/busted spec
    build debug
    echo "== specs, debug build (ASan + UBSan)"
    # The stock lua5.4 is not instrumented: preload the ASan runtime so the
    # sanitized module can load.  Lua's own allocations are not ours to leak-
    # check here (valgrind does that); UBSan reports are fatal.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LUA_CPATH="$PWD/build/debug/?.so;;" \
      run_specs lua5.4 /usr/bin/busted spec
    echo "== specs, debug build, generational GC with a full collection every 1000 instructions"
    LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LUA_CPATH="$PWD/build/debug/?.so;;" \
      run_specs lua5.4 /usr/bin/busted --helper=spec/support/gc_stress.lua spec
    echo "== hardening"
    run_check "fuzzers (${TORCHLET_FUZZ_SECONDS:-60} s each)" \
      spec/fuzz/run.sh "${TORCHLET_FUZZ_SECONDS:-60}"
    run_check "valgrind, 1000 training steps" \
      valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --suppressions=spec/support/valgrind.supp \
        --error-exitcode=1 lua5.4 examples/moons.lua --plain --steps 1000
    run_check "resident memory over 100000 training steps" \
      lua5.4 bench/rss_growth.lua 100000 1000
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    [ "$TOTAL_FAILED" -eq 0 ]
    ;;
  bench)
    build release
    shift
    lua5.4 bench/run.lua "$@"
    ;;
  *)
    echo "usage: $0 demo|test|build|bench" >&2
    exit 2
    ;;
esac
