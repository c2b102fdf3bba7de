#!/usr/bin/env bash
# cmake.subproject: vllsi as a subproject (add_subdirectory, as FetchContent
# does) builds its libraries and nothing else by default - no test, example
# or bench target, no ctest test, no format target - and the parent's
# programs link and run against them. Then the VLLSI_BUILD_* options bring
# the tests and examples back when asked (configure only).
# Usage: subproject.sh SOURCE_DIR WORK_DIR [ENGINE=ON|OFF]
set -euo pipefail
src=$1
work=$2
engine=${3:-ON}
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "cmake.subproject: FAIL: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
unset LD_LIBRARY_PATH

cmake -S "$here/subproject" -B "$work/default" -DVLLSI_SOURCE_DIR="$src" \
      -DVLLSI_BUILD_ENGINE="$engine" -DCMAKE_C_COMPILER="${CC:-cc}" >/dev/null
# Only the libraries: the object library, the shared and the static one, per layer.
allowed='^vllsi_(sys|engine)(_obj|_static)?$'
extra=$(grep -Ev "$allowed" "$work/default/vllsi-targets.txt" | grep . || true)
[ -z "$extra" ] || fail "vllsi added targets beyond its libraries: $(tr '\n' ' ' <<<"$extra")"
grep -qx vllsi_sys "$work/default/vllsi-targets.txt" || fail "no vllsi_sys target"
for d in tests examples bench; do
    [ ! -e "$work/default/vllsi/$d" ] || fail "vllsi configured $d/"
done
listing=$(cd "$work/default" && ctest -N)
grep -q 'Total Tests: 0' <<<"$listing" || fail "vllsi registered ctest tests: $listing"
cache=$(cat "$work/default/CMakeCache.txt")
grep -q '^CMAKE_BUILD_TYPE:STRING=$' <<<"$cache" || fail "vllsi set the parent's CMAKE_BUILD_TYPE"

cmake --build "$work/default" -j2 >/dev/null
out=$("$work/default/parent_sys") || fail "parent_sys: $out"
grep -q 'tid>0=1' <<<"$out" || fail "parent_sys printed: $out"
if [ "$engine" = ON ]; then
    out=$("$work/default/parent_engine") || fail "parent_engine: $out"
    grep -q 'nop=1' <<<"$out" || fail "parent_engine printed: $out"
fi
built=$(find "$work/default/vllsi" -type f -perm -u+x ! -name '*.so*' ! -name '*.sh' -print)
[ -z "$built" ] || fail "vllsi built programs: $built"
echo "ok: the default subproject build has vllsi's libraries only, and the parent's programs run"

# Asked for: the options bring the tests and examples in.
cmake -S "$here/subproject" -B "$work/asked" -DVLLSI_SOURCE_DIR="$src" \
      -DVLLSI_BUILD_ENGINE="$engine" -DCMAKE_C_COMPILER="${CC:-cc}" \
      -DVLLSI_BUILD_TESTS=ON -DVLLSI_BUILD_EXAMPLES=ON >/dev/null
targets=$(cat "$work/asked/vllsi-targets.txt")
grep -qx sys_demo <<<"$targets" || fail "VLLSI_BUILD_EXAMPLES=ON added no sys_demo"
grep -qx test_mem <<<"$targets" || fail "VLLSI_BUILD_TESTS=ON added no test_mem"
listing=$(cd "$work/asked" && ctest -N)
grep -q 'sys.mem' <<<"$listing" || fail "VLLSI_BUILD_TESTS=ON registered no sys.mem test"
echo "ok: VLLSI_BUILD_TESTS / VLLSI_BUILD_EXAMPLES bring the tests and examples in"
echo "cmake.subproject: passed"
