#!/usr/bin/env bash
# install.consumer: install the build tree into a fresh prefix outside the
# loader's default paths, then build tiny consumers against the *installed*
# tree - with find_package(vllsi) and with pkg-config, each shared and
# static, the sys layer alone and (when built) the engine - and run every
# one of them with no LD_LIBRARY_PATH: the shared ones find the libraries
# through their rpath (CMake sets it in the build tree; the pkg-config ones
# pass -Wl,-rpath as README.md shows), and libvllsi-engine finds
# libvllsi-sys through its own RUNPATH ($ORIGIN). Then check that a sys-only
# consumer carries no engine symbol or liburing dependency, and that only
# vl_ names leave the libraries.
set -euo pipefail
build=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
fail() { echo "install.consumer: FAIL: $*" >&2; exit 1; }
unset LD_LIBRARY_PATH
cc=${CC:-cc}

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
libdir=${libdir%/}
[ -f "$prefix/include/vllsi/sys.h" ] || fail "headers not installed"
[ -f "$libdir/libvllsi-sys.a" ] || fail "static library not installed"
ls "$libdir"/libvllsi-sys.so.* >/dev/null 2>&1 || fail "shared library not installed"
[ -f "$libdir/pkgconfig/vllsi-sys.pc" ] || fail "vllsi-sys.pc not installed"
[ -f "$libdir/cmake/vllsi/vllsiConfig.cmake" ] || fail "CMake package not installed"
engine=0
[ -f "$libdir/pkgconfig/vllsi.pc" ] && engine=1

# run NAME PROGRAM WORD: PROGRAM starts, exits 0 and prints WORD.
run() {
    local out rc=0
    out=$("$2" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q "$3" <<<"$out"; then fail "$1: exit $rc: $out"; fi
    echo "ok: $1 runs"
}

# The soname carries the version the ABI holds for: major.minor while the
# major version is 0 (libvllsi-sys.so.0.3.0 is libvllsi-sys.so.0.3), else
# the major version alone.
for so in "$libdir"/libvllsi-*.so.*.*.*; do
    file=$(basename "$so")
    base=${file%%.so.*} ver=${file#*.so.}
    major=${ver%%.*} rest=${ver#*.}
    minor=${rest%%.*}
    if [ "$major" = 0 ]; then want="$base.so.0.$minor"; else want="$base.so.$major"; fi
    soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "$want" ] || fail "$file has soname '$soname', expected '$want'"
    [ -L "$libdir/$want" ] || fail "$want is not installed as a link to $file"
done
echo "ok: sonames carry the ABI's version"

# The installed shared libraries find each other by themselves.
for so in "$libdir"/libvllsi-*.so.*.*.*; do
    dyn=$(readelf -d "$so")
    # shellcheck disable=SC2016 # a literal $ORIGIN
    grep -Eq '(RUNPATH|RPATH).*\[\$ORIGIN\]' <<<"$dyn" ||
        fail "$(basename "$so") has no RUNPATH \$ORIGIN"
done

# 1. find_package(vllsi): vllsi::sys, vllsi::sys_static, vllsi::engine,
#    vllsi::engine_static.
cmake -S "$here/consumer" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$work/cm" >/dev/null
run "find_package vllsi::sys" "$work/cm/consumer_cmake" 'tid>0=1'
run "find_package vllsi::sys_static" "$work/cm/consumer_cmake_static" 'tid>0=1'
if [ $engine = 1 ]; then
    [ -x "$work/cm/engine_consumer_cmake" ] || fail "find_package(vllsi) gave no vllsi::engine"
    run "find_package vllsi::engine" "$work/cm/engine_consumer_cmake" 'nop=1'
    run "find_package vllsi::engine_static" "$work/cm/engine_consumer_cmake_static" 'nop=1'
fi

# 2. pkg-config, as README.md shows: shared with an rpath to the prefix's
#    libdir, static with --static. -Wl,--enable-new-dtags makes the rpath a
#    RUNPATH (the linker's default here may differ), which applies to the
#    program's own dependencies only: the engine library's RUNPATH must find
#    libvllsi-sys.
export PKG_CONFIG_PATH=$libdir/pkgconfig
pclib=$(pkg-config --variable=libdir vllsi-sys)
[ "$pclib" -ef "$libdir" ] || fail "vllsi-sys.pc libdir is $pclib, not $libdir"
# shellcheck disable=SC2054 # linker options, one per word
rpath=(-Wl,--enable-new-dtags -Wl,-rpath,"$pclib")
# shellcheck disable=SC2046 # pkg-config output is a list of flags
"$cc" -o "$work/pc_consumer" "$here/consumer/consumer.c" \
    $(pkg-config --cflags --libs vllsi-sys) "${rpath[@]}"
run "pkg-config vllsi-sys" "$work/pc_consumer" 'tid>0=1'
# shellcheck disable=SC2046
"$cc" -static -o "$work/pc_consumer_static" "$here/consumer/consumer.c" \
    $(pkg-config --cflags --libs --static vllsi-sys)
run "pkg-config --static vllsi-sys" "$work/pc_consumer_static" 'tid>0=1'
if [ $engine = 1 ]; then
    # shellcheck disable=SC2046
    "$cc" -o "$work/pc_engine" "$here/consumer/engine_consumer.c" \
        $(pkg-config --cflags --libs vllsi) "${rpath[@]}"
    run "pkg-config vllsi" "$work/pc_engine" 'nop=1'
    # shellcheck disable=SC2046
    "$cc" -static -o "$work/pc_engine_static" "$here/consumer/engine_consumer.c" \
        $(pkg-config --cflags --libs --static vllsi)
    run "pkg-config --static vllsi" "$work/pc_engine_static" 'nop=1'
    # The prefix really is outside the loader's paths: without the rpath the
    # same program does not start (what README.md says to do about it).
    # shellcheck disable=SC2046
    "$cc" -o "$work/pc_engine_norpath" "$here/consumer/engine_consumer.c" \
        $(pkg-config --cflags --libs vllsi)
    if out=$("$work/pc_engine_norpath" 2>&1); then
        fail "a program without rpath started from $libdir (is it in the loader's path?)"
    fi
    grep -q 'cannot open shared object file' <<<"$out" ||
        fail "program without rpath: unexpected failure: $out"
    echo "ok: without an rpath the program does not start ($libdir is outside the loader's path)"
fi
# The static consumers carry vllsi inside (the pkg-config ones are fully static).
static_bins=("$work/pc_consumer_static" "$work/cm/consumer_cmake_static")
[ $engine = 1 ] && static_bins+=("$work/pc_engine_static" "$work/cm/engine_consumer_cmake_static")
for bin in "${static_bins[@]}"; do
    dyn=$(readelf -d "$bin")
    if grep -q 'NEEDED.*libvllsi' <<<"$dyn"; then fail "$bin needs a shared libvllsi"; fi
    case $bin in
    */pc_*) if grep -q 'NEEDED' <<<"$dyn"; then fail "$bin is not static"; fi ;;
    esac
done

# 3. The sys layer alone: no engine, no liburing, only vl_ exports.
# (Outputs are captured first: with pipefail, `grep -q` closing a pipe early
# would turn a match into a failure of the writer.)
for bin in "$work/cm/consumer_cmake" "$work/pc_consumer"; do
    deps=$(ldd "$bin")
    grep -q 'libvllsi-sys.*=> /' <<<"$deps" || fail "$bin does not resolve libvllsi-sys: $deps"
    if grep -Eq 'liburing|libvllsi-engine' <<<"$deps"; then
        fail "$bin pulls in liburing or the engine"
    fi
done
for bin in "$work/cm/consumer_cmake_static" "$work/pc_consumer_static"; do
    syms=$(nm "$bin")
    if grep -Eq 'vl_engine_|io_uring_' <<<"$syms"; then
        fail "$bin carries engine or liburing symbols"
    fi
done
so=$(ls "$libdir"/libvllsi-sys.so.*.*.*)
exports=$(nm -D --defined-only "$so" | awk '{print $3}')
if grep -v '^vl_' <<<"$exports" | grep -q .; then
    grep -v '^vl_' <<<"$exports" >&2
    fail "libvllsi-sys exports names without the vl_ prefix"
fi
if grep -Eq 'vl_engine_|io_uring' <<<"$exports"; then
    fail "libvllsi-sys exports engine symbols"
fi
if readelf -d "$so" | grep 'NEEDED' | grep -q 'liburing'; then
    fail "libvllsi-sys depends on liburing"
fi
if [ $engine = 1 ]; then
    exports=$(nm -D --defined-only "$libdir"/libvllsi-engine.so.*.*.* | awk '{print $3}')
    if grep -v '^vl_' <<<"$exports" | grep -q .; then
        fail "libvllsi-engine exports names without the vl_ prefix"
    fi
fi
echo "install.consumer: find_package and pkg-config consumers, shared and static, run from $prefix"
