#!/usr/bin/env bash
# cmake.bench-plain-c: bench/echo (the load generator scripts/demo runs) is
# plain C. Configured where no C++ compiler is found (CXX names a missing
# one, as on a machine without g++), the build still has the load generator
# and it works; bench/micro is skipped. Re-configured in the same build
# directory once a C++ compiler is there, bench/micro joins (a cached
# NOTFOUND is looked up again).
# Usage: bench_plain_c.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1
work=$2
fail() { echo "cmake.bench-plain-c: FAIL: $*" >&2; exit 1; }
rm -rf "$work"
opts=(-DVLLSI_BUILD_TESTS=OFF -DVLLSI_BUILD_EXAMPLES=OFF -DVLLSI_BUILD_BENCH=ON
      -DCMAKE_C_COMPILER="${CC:-cc}")

log=$(CXX=/nonexistent/c++ cmake -S "$src" -B "$work" "${opts[@]}")
grep -q 'bench/micro skipped: no C++ compiler' <<<"$log" || fail "no skip message: $log"
grep -q '^CMAKE_CXX_COMPILER:FILEPATH=NOTFOUND$' "$work/CMakeCache.txt" ||
    fail "a C++ compiler was found although CXX names a missing one"
cmake --build "$work" -j2 --target bench_echo_loadgen bench_echo_floor >/dev/null
# The programs run: loadgen without a port prints its usage (exit 2); the
# floor does a short byte-checked exchange over loopback (exit 0).
rc=0
out=$("$work/bench/echo/loadgen" 2>&1) || rc=$?
if [ "$rc" -ne 2 ] || ! grep -q 'usage: loadgen' <<<"$out"; then fail "loadgen: exit $rc: $out"; fi
out=$("$work/bench/echo/floor" --conns 2 --size 64 --duration 0.2 --warmup 0.05 2>&1) ||
    fail "floor: $out"
grep -q '^RESULT' <<<"$out" || fail "floor printed: $out"
echo "ok: no C++ compiler: bench/echo builds and bench/micro is skipped"

if ! command -v "${CXX:-c++}" >/dev/null; then
    echo "cmake.bench-plain-c: no C++ compiler on this machine: the re-configure step is not run"
    exit 0
fi
log=$(cmake -S "$src" -B "$work" "${opts[@]}")
if grep -q 'bench/micro skipped: no C++ compiler' <<<"$log"; then
    fail "re-configure with a C++ compiler present still skips bench/micro: $log"
fi
grep -Eq '^CMAKE_CXX_COMPILER:[A-Z]+=/' "$work/CMakeCache.txt" ||
    fail "re-configure did not find the C++ compiler"
echo "ok: re-configured with a C++ compiler: it is found"
echo "cmake.bench-plain-c: passed"
