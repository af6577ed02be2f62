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
#   ./setup.sh install [--no-viz] PREFIX
#                      build, then install the torchlet program, the Lua
#                      modules, the C libraries, headers and pkg-config files
#                      under PREFIX (e.g. /usr/local): `make -C build install`
#                      (install.mk).  --no-viz: without graphviz and cairo,
#                      neither installed nor linked (drawing raises an error)
#   ./setup.sh uninstall PREFIX
#                      remove what install put there
#
# Needs root or sudo for apt-get, and only when a package is missing.
set -euo pipefail
cd "$(dirname "$0")"

# What building, the demo and an install need (build-essential brings g++
# too, for the C++ host of the install test; libedit, BSD-licensed, the
# prompt's line editing); `test` and `bench` add their tools below.
BUILD_PACKAGES="build-essential lua5.4 liblua5.4-dev premake4 pkg-config
libedit-dev"
# drawing (not for `install --no-viz`)
VIZ_PACKAGES="libcairo2-dev libgraphviz-dev graphviz"
# busted, the fuzzers' clang, valgrind, numpy (an independent safetensors
# reader), the other Lua VMs (and their headers,
# for build/lua5.3/... ), luarocks, the benchmark's JSON and OpenBLAS, the
# two real hosts the examples run in (Neovim 0.7 and LÖVE 11.4, LuaJIT), and
# the headless browser that loads the interactive page (spec/viz_html_spec.lua)
TEST_PACKAGES="lua-busted valgrind clang libclang-rt-14-dev lua-dkjson python3-numpy
libopenblas-dev luarocks lua5.3 liblua5.3-dev lua5.1 liblua5.1-0-dev luajit
libluajit-5.1-dev neovim love chromium"
BENCH_PACKAGES="lua-dkjson libopenblas-dev"

# Installs those of the packages $@ that are missing.
install_missing() {
  local missing=()
  for p in "$@"; do
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

# Generates the makefiles (with the premake options in PREMAKE_OPTIONS) and
# builds configuration $1 (and make targets and variables $2...); the
# compiler's file-by-file progress is shown only on failure.
PREMAKE_OPTIONS=()
build() {
  local config=$1 log
  shift
  premake4 --file=premake5.lua "${PREMAKE_OPTIONS[@]}" gmake >/dev/null
  log=$(make -s -C build config="$config" -j2 "$@" 2>&1) || {
    printf '%s\n' "$log" >&2
    echo "setup: the $config build failed" >&2
    return 1
  }
  # warnings still show: the build must stay -Wall -Wextra clean
  printf '%s\n' "$log" | grep -E -A3 "warning:" >&2 || true
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
  # here-strings, not pipes: under pipefail, grep -q leaving at the first
  # match while printf still writes failed the pipeline (SIGPIPE), a
  # failure counted for a run that had none
  passed=$(grep -c '^ok ' <<<"$out" || true)
  failed=$(grep -c '^not ok ' <<<"$out" || true)
  grep -q '^1\.\.[0-9]' <<<"$out" || failed=$((failed + 1))
  echo "-- $passed passed, $failed failed"
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
}

# Runs "$@ FILE" for each spec file in turn, printing each run's TAP and,
# for a run that died before its plan line, a failure naming the file.
# For the GC-stress pass: a full collection costs as much as the live heap,
# and one process holding every file's specs and data made that pass take
# 40 minutes and more; file by file it stays small.
each_spec_file() {
  local f out
  for f in spec/*_spec.lua; do
    out=$("$@" "$f" 2>&1) || true
    printf '%s\n' "$out"
    grep -q '^1\.\.[0-9]' <<<"$out" ||
      echo "not ok - $f stopped before its plan line"
  done
}

# Lua 5.3, Lua 5.1 and LuaJIT run every spec against build/<vm>/ (the
# module and the benchmark's clock and floor built for each), 5.1 and
# LuaJIT but the cases tagged #lua53, which test what only Lua 5.3 and
# later can do (doc/testing.md, "Specs on other Lua VMs", lists them and why).
run_other_vm_specs() {
  local vm
  echo "== specs, Lua 5.3"
  LUA_CPATH="$PWD/build/lua5.3/?.so;;" run_specs lua5.3 /usr/bin/busted spec
  for vm in lua5.1 luajit; do
    echo "== specs, $vm"
    LUA_CPATH="$PWD/build/$vm/?.so;;" \
      run_specs "$vm" /usr/bin/busted --exclude-tags=lua53 spec
  done
}

# {== C programs and the install ============================================

# Builds the tsan configuration of the threads test and runs it; a race
# makes TSan exit 66.
tsan_threads_test() {
  make -s -C build config=tsan -j2 threads_test >/dev/null &&
    TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/threads_test 4 500
}

# The examples and the threads test, release and debug builds (the debug
# programs are ours from main() on, so LeakSanitizer checks them whole),
# the threads test under ThreadSanitizer, and installs (setup.sh install,
# luarocks make) into temporary places used from another directory.
run_c_tests() {
  echo "== C programs"
  local cfg dir
  for cfg in release debug; do
    dir=build
    [ "$cfg" = debug ] && dir=build/debug
    run_check "examples/c ($cfg)" "$dir/examples/xor"
    run_check "examples/embed ($cfg)" "$dir/examples/embed"
    run_check "threads test, 4 threads ($cfg)" "$dir/tests/threads_test" 4 500
    run_check "allocation failures ($cfg)" "$dir/tests/alloc_fail_test"
    run_check "host API: arrays from and to C ($cfg)" "$dir/tests/host_api_test"
  done
  run_check "threads test, 4 threads (ThreadSanitizer)" tsan_threads_test
  run_check "install into a temporary PREFIX" spec/install_test.sh
  run_check "luarocks make into a temporary tree" spec/luarocks_test.sh
}

# The real hosts, headless: Neovim (0.7 has no -l; the script quits with its
# status) and LÖVE with no display (conf.lua turns the window off), each on
# LuaJIT with build/luajit/, each exiting non-zero when its model did not
# learn (examples/neovim/train.lua, examples/love/main.lua say the bounds).
run_host_examples() {
  echo "== real hosts"
  run_check "examples/neovim in nvim --headless" env TORCHLET_ROOT="$PWD" \
    timeout 120 nvim --headless -u NONE -c "luafile examples/neovim/train.lua"
  run_check "examples/love in love, no display" env -u DISPLAY -u WAYLAND_DISPLAY \
    TORCHLET_ROOT="$PWD" timeout 120 love examples/love
}

# }===========================================================================

cmd=${1:-demo}
[ "$cmd" = install ] && [ "${2:-}" = --no-viz ] && PREMAKE_OPTIONS=(--no-viz)
# shellcheck disable=SC2086  # the package lists are meant to split
case "$cmd" in
  build|demo) install_missing $BUILD_PACKAGES $VIZ_PACKAGES ;;
  install)
    if [ ${#PREMAKE_OPTIONS[@]} -gt 0 ]; then install_missing $BUILD_PACKAGES
    else install_missing $BUILD_PACKAGES $VIZ_PACKAGES; fi ;;
  test) install_missing $BUILD_PACKAGES $VIZ_PACKAGES $TEST_PACKAGES ;;
  bench) install_missing $BUILD_PACKAGES $VIZ_PACKAGES $BENCH_PACKAGES ;;
esac
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
    run_other_vm_specs
    build debug
    echo "== specs, debug build (ASan + UBSan)"
    # The stock lua5.4 is not instrumented: preload the ASan runtime so the
    # sanitized module can load.  Lua's own allocations are not ours to leak-
    # check here (valgrind does that); UBSan reports are fatal.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LUA_CPATH="$PWD/build/debug/?.so;;" \
    TORCHLET_BIN=build/debug/bin/torchlet \
      run_specs lua5.4 /usr/bin/busted spec
    echo "== specs, debug build, generational GC with a full collection every 1000 instructions"
    LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LUA_CPATH="$PWD/build/debug/?.so;;" \
      run_specs each_spec_file lua5.4 /usr/bin/busted --helper=spec/support/gc_stress.lua
    echo "== hardening"
    run_check "fuzzers (${TORCHLET_FUZZ_SECONDS:-60} s each)" \
      spec/fuzz/run.sh "${TORCHLET_FUZZ_SECONDS:-60}"
    run_check "valgrind, 1000 training steps" \
      valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --suppressions=spec/support/valgrind.supp \
        --error-exitcode=1 lua5.4 examples/moons.lua --plain --steps 1000
    run_check "resident memory over 100000 training steps" \
      lua5.4 bench/rss_growth.lua 100000 1000
    run_c_tests
    run_host_examples
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
    [ "$TOTAL_FAILED" -eq 0 ]
    ;;
  bench)
    build release
    shift
    lua5.4 bench/run.lua "$@"
    ;;
  install)
    shift
    [ ${#PREMAKE_OPTIONS[@]} -gt 0 ] && shift
    [ $# -eq 1 ] || { echo "usage: $0 install [--no-viz] PREFIX" >&2; exit 2; }
    mkdir -p "$1"
    prefix=$(cd "$1" && pwd)
    build release install PREFIX="$prefix"
    echo "setup: installed Torchlet under $prefix${PREMAKE_OPTIONS[*]:+ (${PREMAKE_OPTIONS[*]})}"
    ;;
  uninstall)
    [ $# -eq 2 ] || { echo "usage: $0 uninstall PREFIX" >&2; exit 2; }
    premake4 --file=premake5.lua gmake >/dev/null
    make -s -C build uninstall PREFIX="$(cd "$2" && pwd)" >/dev/null
    echo "setup: removed Torchlet from $2"
    ;;
  *)
    echo "usage: $0 demo|test|build|bench|install [--no-viz] PREFIX|uninstall PREFIX" >&2
    exit 2
    ;;
esac
