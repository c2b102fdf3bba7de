#!/usr/bin/env bash
# scripts/nop-instructions.sh [BUILD_DIR] [DRIVER] [BATCH] [IDLE] - user-space
# instructions per NOP through vl_engine_submit + vl_engine_poll, counted by
# callgrind (valgrind): the figure docs/benchmarks.md quotes for the engine's
# hot path. It builds bench/nop_count.c against BUILD_DIR's static libraries
# (default build/, which must be built), runs it under callgrind for 2,000 and
# 12,000 rounds of BATCH NOPs (default 32) on DRIVER (uring or epoll, default
# uring), and divides the difference by the NOPs between them, so that setup
# and teardown cancel out. IDLE > 0: each NOP carries a deadline while IDLE
# RECVs with deadlines wait (a server's shape; bench/nop_count.c). Needs
# valgrind and liburing; takes about 10 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"} driver=${2:-uring} batch=${3:-32} idle=${4:-0}
command -v valgrind >/dev/null || { echo "nop-instructions: valgrind is missing" >&2; exit 1; }
for lib in "$build/libvllsi-engine.a" "$build/libvllsi-sys.a"; do
    [ -f "$lib" ] || { echo "nop-instructions: $lib missing: build $build first" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -I"$root/include" "$root/bench/nop_count.c" "$build/libvllsi-engine.a" \
    "$build/libvllsi-sys.a" -luring -lpthread -o "$tmp/nop_count"
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$tmp/nop_count" "$driver" "$batch" "$1" "$idle" 2>&1 |
        awk '/Collected/ { print $4 }'
}
a=$(instructions 2000)
b=$(instructions 12000)
awk -v a="$a" -v b="$b" -v n="$batch" -v d="$driver" -v i="$idle" \
    'BEGIN { x = i > 0 ? sprintf(", deadlines among %d idle", i) : ""
             printf "%s, batch %d%s: %.1f instructions per NOP\n", d, n, x, (b - a) / (10000 * n) }'
