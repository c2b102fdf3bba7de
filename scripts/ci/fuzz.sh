#!/usr/bin/env bash
# scripts/ci/fuzz.sh - build the engine's libFuzzer target (tests/fuzz/engine_fuzz.c)
# with clang, ASan, UBSan and the engine's fault hooks (VLLSI_FAULT_INJECTION), and
# fuzz each driver (sim, epoll, io_uring) for a bounded time, starting from the seed
# corpus in tests/fuzz/corpus. Fails when any session
# finds a crash, a sanitizer report, an invariant violation or a leaked descriptor; the
# input that did it is kept in $BUILD_DIR/fuzz-artifacts/ and its log is printed.
#
# Usage: scripts/ci/fuzz.sh [seconds-per-driver]
#   seconds-per-driver  default $FUZZ_SECONDS or 15 (CI: 3 drivers x 15 s = 45 s)
#   BUILD_DIR           build directory (default <repo>/build-fuzz)
#   CC                  the compiler (default clang-14; needs libclang-rt-14-dev)
#   FUZZ_DRIVERS        which drivers (default "sim epoll uring")
#   FUZZ_CORPUS_OUT     keep each driver's grown corpus in $FUZZ_CORPUS_OUT/<driver>
# Prints, per driver, the executions and the coverage reached (libFuzzer's cov: and
# ft: figures: edges and features).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${FUZZ_SECONDS:-15}}
build=${BUILD_DIR:-$root/build-fuzz}
cc=${CC:-clang-14}
drivers=${FUZZ_DRIVERS:-sim epoll uring}
source "$root/scripts/deps.sh"
# libclang-rt-14-dev: libFuzzer and the sanitizer runtimes, a package of
# its own that clang-14 neither depends on nor recommends.
vl_need_packages cmake make clang-14 libclang-rt-14-dev libc6-dev pkg-config libcmocka-dev \
    liburing-dev

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DVLLSI_FUZZ=ON \
      -DVLLSI_SANITIZE=address,undefined -DVLLSI_FAULT_INJECTION=ON -DVLLSI_WERROR=ON \
      -DVLLSI_BUILD_EXAMPLES=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target engine_fuzz >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/fuzz-artifacts"
status=0
for drv in $drivers; do
    corpus=${FUZZ_CORPUS_OUT:+$FUZZ_CORPUS_OUT/$drv}
    corpus=${corpus:-$work/$drv}
    mkdir -p "$corpus"
    cp "$root"/tests/fuzz/corpus/* "$corpus"/
    log=$work/$drv.log
    if VLLSI_FUZZ_DRIVER=$drv \
       ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_abort=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/tests/engine_fuzz" -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 \
           -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$drv-" \
           "$corpus" >"$log" 2>&1; then
        res=ok
    else
        res=FAILED
        status=1
        echo "---- fuzz.$drv log (tail) ----"
        tail -n 80 "$log"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
    echo "fuzz.$drv: $res, ${runs:-?} executions in ${secs} s, ${cov:-no coverage line}"
done
exit $status
