#!/bin/sh
# scripts/ci/nolibc.sh - the libc-free CI leg (docs/nolibc.md): build the
# freestanding sys layer (VLLSI_NOLIBC) for x86-64 natively and for aarch64
# with the cross toolchain, run ctest -L nolibc on both (aarch64 under
# qemu-aarch64-static through CMAKE_CROSSCOMPILING_EMULATOR), which runs the
# three runtime programs and checks with nm/readelf/objdump that they are
# static and libc-free and that no_runtime's library code has no system call;
# then compile the hosted library in the embedded and no_runtime runtimes.
# Installs what it needs (scripts/deps.sh): gcc, libc6-dev (the kernel
# headers), gcc-aarch64-linux-gnu with libc6-dev-arm64-cross (its C library
# and kernel headers, which it only recommends) and qemu-user-static.
# Usage: scripts/ci/nolibc.sh [build-root] (default: build).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
# scripts/deps.sh is bash.
bash -c '. "$1/scripts/deps.sh" && shift && vl_need_packages "$@"' deps "$root" \
    cmake make gcc libc6-dev binutils gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
out=${1:-$root/build}
jobs=${VLLSI_JOBS:-2}
# The sys layer and the libc-free engine (epoll, sync, the loop; nolibc.nl_engine);
# the hosted engine, the hosted suites and bench are other legs.
common="-DVLLSI_WERROR=ON -DVLLSI_NOLIBC=ON -DVLLSI_BUILD_TESTS=OFF -DVLLSI_BUILD_ENGINE=OFF
        -DVLLSI_BUILD_EXAMPLES=OFF -DVLLSI_BUILD_BENCH=OFF"

leg() {
    name=$1
    shift
    dir=$out/nolibc-$name
    echo "== nolibc: $name"
    # shellcheck disable=SC2086
    cmake -S "$root" -B "$dir" $common "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" --target nolibc
    (cd "$dir" && timeout 300 ctest -L nolibc --output-on-failure)
    for b in sys embedded noruntime; do
        # Sizes after stripping: what the program costs on disk.
        strip_tool=strip
        [ "$name" = aarch64 ] && strip_tool=aarch64-linux-gnu-strip
        $strip_tool -o "$dir/$b.stripped" "$dir/tests/nolibc/$b"
        echo "   $name $b: $(wc -c <"$dir/$b.stripped") bytes stripped"
    done
}

leg x86_64
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64-static >/dev/null; then
    leg aarch64 -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake"
else
    echo "nolibc: aarch64 leg needs gcc-aarch64-linux-gnu and qemu-user-static" >&2
    exit 1
fi

# The hosted (libc) library in the two other runtimes must still build.
for rt in embedded no_runtime; do
    echo "== runtime: $rt (hosted library)"
    cmake -S "$root" -B "$out/runtime-$rt" -DVLLSI_WERROR=ON -DVLLSI_RUNTIME=$rt >/dev/null
    cmake --build "$out/runtime-$rt" -j"$jobs" --target vllsi_sys vllsi_sys_static
done
echo "nolibc: all legs passed"
