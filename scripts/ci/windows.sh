#!/usr/bin/env bash
# scripts/ci/windows.sh [build-dir] - the Windows CI leg: cross-build vllsi
# for Windows x64 with mingw-w64 (-Werror) and run its ctest suites under
# Wine. Bounded to a few minutes; exits non-zero on any failure.
#
# CMocka: Debian ships no mingw-w64 build of it, so it is cross-built from
# Debian's own source package into a prefix inside the build directory, once
# (scripts/ci/cmocka.sh); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${1:-"$root/build-win"}
case $build in /*) ;; *) build="$root/$build" ;; esac
source scripts/deps.sh
export CTEST_OUTPUT_ON_FAILURE=1 WINEDEBUG=-all
jobs=$(nproc)
step() { printf '\n==== windows: %s ====\n' "$*"; }

vl_need_packages cmake make gcc-mingw-w64-x86-64 wine64 dpkg-dev xz-utils

source scripts/ci/cmocka.sh
cmocka_prefix="$build/cmocka-prefix"

# A Wine prefix of the build directory's own, so that its wineserver is this
# leg's alone: runs that share one (~/.wine) see a client's connection
# reset when another run's server goes away ("wine client error: recvmsg:
# Connection reset by peer"). Its first start creates it, which takes a
# while; doing it once here keeps that time out of the first test's timeout.
mkdir -p "$build"
export WINEPREFIX="$build/wine-prefix"
step "Wine prefix ($WINEPREFIX)"
timeout 300 /usr/lib/wine/wine64 wineboot -i >/dev/null 2>&1 ||
    { echo "wineboot failed or timed out" >&2; exit 1; }

vl_build_cmocka mingw-w64 "$root/cmake/toolchains/x86_64-w64-mingw32.cmake" "$cmocka_prefix"

# The sys layer and the engine (IOCP driver). The examples and the POSIX
# engine suites (conformance, loop, sim, ...) are not built for Windows yet;
# engine.iocp checks the driver (docs/windows.md).
step "configure + build (mingw-w64, -Werror)"
cmake -S "$root" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/x86_64-w64-mingw32.cmake" \
    -DVLLSI_WERROR=ON -DVLLSI_CMOCKA_ROOT="$cmocka_prefix" \
    -DVLLSI_BUILD_ENGINE=ON -DVLLSI_BUILD_EXAMPLES=OFF -DVLLSI_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs"

step "ctest under Wine"
(cd "$build" && timeout -s KILL 600 ctest -j"$jobs" --timeout 120)
