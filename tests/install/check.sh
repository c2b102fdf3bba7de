#!/usr/bin/env bash
# install.consumer: install the build tree into a fresh prefix, then build a
# tiny consumer against the *installed* tree twice - with find_package(vllsi)
# and with pkg-config vllsi-sys - and check that each links the sys layer
# alone: it runs, and neither the binary nor the library carries an engine
# symbol or a liburing dependency, and only vl_ names leave libvllsi-sys.
set -euo pipefail
build=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
fail() { echo "install.consumer: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
libdir=${libdir%/}
[ -f "$prefix/include/vllsi/sys.h" ] || fail "headers not installed"
[ -f "$libdir/libvllsi-sys.a" ] || fail "static library not installed"
ls "$libdir"/libvllsi-sys.so.* >/dev/null 2>&1 || fail "shared library not installed"
[ -f "$libdir/pkgconfig/vllsi-sys.pc" ] || fail "vllsi-sys.pc not installed"
[ -f "$libdir/cmake/vllsi/vllsiConfig.cmake" ] || fail "CMake package not installed"

# 1. find_package(vllsi)
cmake -S "$here/consumer" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_COMPILER="${CC:-cc}" >/dev/null
cmake --build "$work/cm" >/dev/null
LD_LIBRARY_PATH=$libdir "$work/cm/consumer_cmake" | grep -q 'tid>0=1' || fail "cmake consumer"
"$work/cm/consumer_cmake_static" | grep -q 'tid>0=1' || fail "cmake static consumer"

# 2. pkg-config vllsi-sys
export PKG_CONFIG_PATH=$libdir/pkgconfig
${CC:-cc} -o "$work/pc_consumer" "$here/consumer/consumer.c" \
    $(pkg-config --cflags vllsi-sys) $(pkg-config --libs vllsi-sys)
LD_LIBRARY_PATH=$libdir "$work/pc_consumer" | grep -q 'tid>0=1' || fail "pkg-config consumer"
${CC:-cc} -static -o "$work/pc_consumer_static" "$here/consumer/consumer.c" \
    $(pkg-config --cflags vllsi-sys) $(pkg-config --libs --static vllsi-sys)
"$work/pc_consumer_static" | grep -q 'tid>0=1' || fail "static pkg-config consumer"

# 3. The sys layer alone: no engine, no liburing, only vl_ exports.
# (Outputs are captured first: with pipefail, `grep -q` closing a pipe early
# would turn a match into a failure of the writer.)
for bin in "$work/cm/consumer_cmake" "$work/pc_consumer"; do
    deps=$(LD_LIBRARY_PATH=$libdir ldd "$bin")
    grep -q 'libvllsi-sys' <<<"$deps" || fail "$bin does not use libvllsi-sys"
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
# 4. The engine, when it was built: both mechanisms give a working program.
if [ -f "$libdir/pkgconfig/vllsi.pc" ]; then
    [ -x "$work/cm/engine_consumer_cmake" ] || fail "find_package(vllsi) gave no vllsi::engine"
    LD_LIBRARY_PATH=$libdir "$work/cm/engine_consumer_cmake" | grep -q 'nop=1' ||
        fail "cmake engine consumer"
    ${CC:-cc} -o "$work/pc_engine" "$here/consumer/engine_consumer.c" \
        $(pkg-config --cflags vllsi) $(pkg-config --libs vllsi)
    LD_LIBRARY_PATH=$libdir "$work/pc_engine" | grep -q 'nop=1' || fail "pkg-config engine consumer"
    exports=$(nm -D --defined-only "$libdir"/libvllsi-engine.so.*.*.* | awk '{print $3}')
    if grep -v '^vl_' <<<"$exports" | grep -q .; then
        fail "libvllsi-engine exports names without the vl_ prefix"
    fi
fi
echo "install.consumer: find_package and pkg-config consumers link the sys layer alone"
