#!/usr/bin/env bash
# scripts/ci/windows.sh [build-dir] - the Windows CI leg: cross-build vllsi
# for Windows x64 with mingw-w64 (-Werror) and run its ctest suites under
# Wine. Bounded to a few minutes; exits non-zero on any failure.
#
# CMocka: Debian ships no mingw-w64 build of it, so this script fetches
# Debian's own cmocka source package (apt-get source, from a deb-src entry it
# adds when none exists) and cross-builds it into a prefix inside the build
# directory, once; later runs reuse it.
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

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

# A deb-src entry for this release, so `apt-get source cmocka` works.
need_deb_src() {
    grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/ &&
        return 0
    local codename
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" | $sudo tee /etc/apt/sources.list.d/vllsi-deb-src.sources >/dev/null
    $sudo apt-get update -qq
}

cmocka_prefix="$build/cmocka-prefix"
build_cmocka() {
    [ -f "$cmocka_prefix/include/cmocka.h" ] && return 0
    step "CMocka for mingw-w64 from Debian's source package"
    need_deb_src
    local src="$build/cmocka-src"
    rm -rf "$src" && mkdir -p "$src"
    (cd "$src" && timeout 120 apt-get source -qq cmocka >/dev/null 2>&1) ||
        { echo "apt-get source cmocka failed" >&2; return 1; }
    local dir
    dir=$(find "$src" -mindepth 1 -maxdepth 1 -type d -name 'cmocka-*' | head -n1)
    cmake -S "$dir" -B "$src/build" \
        -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/x86_64-w64-mingw32.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$cmocka_prefix" \
        -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >/dev/null
    cmake --build "$src/build" -j"$jobs" >/dev/null
    cmake --install "$src/build" >/dev/null
}

# The first Wine start creates its prefix (~/.wine), which takes a while;
# doing it once here keeps that time out of the first test's timeout.
step "Wine prefix"
timeout 300 /usr/lib/wine/wine64 wineboot -i >/dev/null 2>&1 ||
    { echo "wineboot failed or timed out" >&2; exit 1; }

mkdir -p "$build"
build_cmocka

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
