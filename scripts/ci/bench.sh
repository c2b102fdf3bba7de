#!/usr/bin/env bash
# scripts/ci/bench.sh [build-dir] - CI leg for bench/: builds the echo
# benchmark (load generator, kernel floor, libev/libuv/liburing servers,
# examples/echo_server) and the micro-benchmarks with -Werror, then proves
# they work, in about a minute:
#  1. a tiny matrix (7 cells: 16 and 256 connections, 64 B and 64 KiB,
#     ping-pong and depth 16, without the 256 MiB cell; every server, one
#     0.5 s run each, plus the floor): every server echoes every byte;
#  2. the load generator's byte check catches a corrupted byte and lost
#     bytes (ev_server and uring_server with --corrupt-after/--stall-after):
#     loadgen must fail, saying why;
#  3. the UDP echo comparison (bench/udp, scripts/bench-udp --smoke): every
#     server echoes every datagram, and udp_load's byte check catches a
#     corrupted one;
#  4. the timer and in-process ping-pong micro-benchmarks run once each,
#     briefly (a case that reports an error fails the leg);
#  5. only with VLLSI_CI_BENCH_HTTP=1 (it adds about 50 s): examples/http_server
#     against nginx, scripts/bench-http --quick --reps 1, where nginx and wrk
#     are installed.
# The figures are not checked (the machine is shared; speed is not asserted).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
source "$root/scripts/deps.sh"
vl_need_packages cmake make gcc libc6-dev g++ pkg-config libcmocka-dev liburing-dev \
    libbenchmark-dev libev-dev libuv1-dev
cmake -S "$root" -B "$build" -DVLLSI_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_echo_loadgen bench_echo_floor \
    bench_echo_ev_server bench_echo_uv_server bench_echo_uring_server echo_server vllsi_micro \
    bench_udp_udp_load bench_udp_mmsg_server bench_udp_uv_udp_server udp_echo
bin=$build/bench/echo

echo "== bench/echo: smoke matrix"
"$root/scripts/bench-echo" --bin "$bin" --vllsi "$build/examples/echo_server" \
    --conns "16 256" --sizes "64 65536" --depths "1 16" --max-inflight $((64 << 20)) \
    --reps 1 --duration 0.5 --warmup 0.2 --servers "libev libuv uring vllsi vllsi-epoll" 2>&1 |
    sed -n '/^bench-echo: /p;/^==/,/^$/p'

echo "== bench/echo: the placement probe"
# A cache line's round trip between two CPUs and a system call's cost on the
# server CPU: positive figures; a probe without two distinct CPUs is a usage
# error.
if [ "$(nproc)" -ge 2 ]; then
    probe=$("$bin/loadgen" --probe --cpu 1 --server-cpu 0)
    case $probe in
    "RESULT xcpu_ns="[1-9]*" sys_ns="[1-9]*) echo "ok: $probe" ;;
    *) echo "FAIL: loadgen --probe said '$probe'"; exit 1 ;;
    esac
fi
rc=0
"$bin/loadgen" --probe --cpu 0 --server-cpu 0 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: loadgen --probe on one CPU: exit $rc, expected 2"; exit 1; }

echo "== bench/echo: the floor counts no CPU time twice"
# One thread that never sleeps: its CPU time per message times its messages
# per second is at most one CPU. Adding the core's softirq time to the
# thread's, which already holds it, would read 1.30-1.35.
line=$("$bin/floor" --conns 16 --size 4096 --depth 16 --cpu 0 --duration 0.5 --warmup 0.1 |
    grep '^RESULT')
share=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%.3f", v["exchange_us_per_msg"] * v["msgs_per_s"] / 1e6 }' <<<"$line")
if awk -v s="$share" 'BEGIN { exit !(s > 0.3 && s <= 1.05) }'; then
    echo "ok: the floor's CPU time is $share of its wall time"
else
    echo "FAIL: the floor's CPU time is $share of its wall time: $line"
    exit 1
fi

echo "== bench/echo: the load generator catches corruption and loss"
tmp=$(mktemp -d)
spid=
cleanup() {
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# expect_fail SERVER FAULT WORD: the load generator must exit 1 and say WORD.
expect_fail() {
    local server=$1 fault=$2 word=$3 port='' rc=0
    # The log exists before the server starts: the shell opens it in the
    # child, which may run after the first sed below.
    : >"$tmp/server.log"
    # shellcheck disable=SC2086 # the fault is two words on purpose
    "$bin/$server" --port 0 $fault >"$tmp/server.log" 2>&1 &
    spid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$tmp/server.log")
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || { cat "$tmp/server.log"; echo "FAIL: $server did not start"; exit 1; }
    timeout 30 "$bin/loadgen" --port "$port" --conns 4 --size 4096 --depth 4 --duration 0.5 \
        --warmup 0.1 --quiet >"$tmp/lg.log" 2>&1 || rc=$?
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null || true
    spid=
    if [ "$rc" -ne 1 ] || ! grep -q "$word" "$tmp/lg.log"; then
        cat "$tmp/lg.log"
        echo "FAIL: loadgen against $server $fault: exit $rc, expected 1 and '$word'"
        exit 1
    fi
    echo "ok: $server $fault -> $(grep FAIL "$tmp/lg.log" | head -1)"
}
expect_fail ev_server "--corrupt-after 100000" "corrupt echo"
expect_fail uring_server "--corrupt-after 100000" "corrupt echo"
expect_fail ev_server "--stall-after 100000" "loss"
# And the same servers without faults pass (the check is not failing everything).
: >"$tmp/server.log"
"$bin/ev_server" --port 0 >"$tmp/server.log" 2>&1 &
spid=$!
sleep 0.3
port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$tmp/server.log")
"$bin/loadgen" --port "$port" --conns 4 --size 4096 --depth 4 --duration 0.5 --warmup 0.1 --quiet
kill -TERM "$spid"
wait "$spid"
spid=

echo "== bench/udp: every server echoes every datagram, and udp_load catches corruption"
"$root/scripts/bench-udp" --bin "$build/bench/udp" --vllsi "$build/examples/udp_echo" --smoke |
    sed -n '/^bench-udp: /p;/^==/,/^$/p'
: >"$tmp/server.log"
"$build/bench/udp/mmsg_server" --port 0 --corrupt-after 1000 >"$tmp/server.log" 2>&1 &
spid=$!
port=''
for _ in $(seq 100); do
    port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    sleep 0.05
done
rc=0
timeout 30 "$build/bench/udp/udp_load" --port "${port:-1}" --duration 0.3 --warmup 0.1 --quiet \
    >"$tmp/lg.log" 2>&1 || rc=$?
kill -TERM "$spid" 2>/dev/null
wait "$spid" 2>/dev/null || true
spid=
if [ "$rc" -ne 1 ] || ! grep -q "corrupt payload" "$tmp/lg.log"; then
    cat "$tmp/lg.log"
    echo "FAIL: udp_load against mmsg_server --corrupt-after 1000: exit $rc, expected 1 and 'corrupt payload'"
    exit 1
fi
echo "ok: mmsg_server --corrupt-after 1000 -> $(grep FAIL "$tmp/lg.log" | head -1)"

echo "== scripts/profile-echo: one ungated 1 s run against ev_server (when perf can sample)"
if command -v perf >/dev/null && perf record -q -C 0 -o "$tmp/probe.perf" -- true >/dev/null 2>&1; then
    out=$("$root/scripts/profile-echo" --bin "$bin" --runs 1 --seconds 1 --conns 4 --size 64 \
        --depth 1 --near-ns 1000000 --dear-ns 1000000 --top 5 "libev=$bin/ev_server" 2>&1) || {
        printf '%s\n' "$out"
        echo "FAIL: scripts/profile-echo"
        exit 1
    }
    printf '%s\n' "$out" | sed -n '/^ns per message/,$p'
    busy=$(printf '%s\n' "$out" | awk '/^all but idle/ { print int($4) }')
    [ "${busy:-0}" -gt 0 ] || { echo "FAIL: profile-echo counted no busy time"; exit 1; }
else
    echo "skipped: perf is missing or may not sample CPU 0 here"
fi

echo "== bench/micro: timers and in-process ping-pong, one short run each"
out=$("$build/bench/vllsi_micro" --benchmark_filter='^(timer|pingpong)\.' --benchmark_min_time=0.01 2>&1)
printf '%s\n' "$out" | sed -n '/^vllsi vs peer/,$p'
if printf '%s\n' "$out" | grep -q 'ERROR OCCURRED'; then
    printf '%s\n' "$out" | grep 'ERROR OCCURRED' >&2
    echo "bench: a micro-benchmark case failed" >&2
    exit 1
fi

# examples/http_server on both drivers against nginx, every row of
# scripts/bench-http once for 1 s: every server must serve /plaintext and
# every file byte for byte, and every run must end without socket errors or
# non-2xx answers. Off by default: it adds about 50 s to the leg.
bench_http_smoke() {
    echo "== bench-http: http_server against nginx, one 1 s run per row"
    if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
        echo "skipped: nginx or wrk is not installed"
        return 0
    fi
    cmake --build "$build" -j"$(nproc)" --target http_server
    "$root/scripts/bench-http" --server "$build/examples/http_server" --quick --reps 1 |
        sed -n '/^bench-http: /p;/^row /,/^$/p'
}
if [ "${VLLSI_CI_BENCH_HTTP:-0}" = 1 ]; then
    bench_http_smoke
fi

echo "bench: all green"
