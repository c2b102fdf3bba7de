#!/usr/bin/env bash
# docs/tools/pool_sizing.sh [BUILD_DIR] - the measurement behind echo_server's
# pool defaults (docs/echo.md, "Pool size"): echo_server (AUTO driver) with
# four --buffers x --buffer-size (--backlog-bytes) settings against four load
# cells, interleaved, 3 repetitions of 1.5 s; the server is pinned to CPU 0 and
# bench/echo/loadgen to CPU 1. Prints msgs/s and the server's CPU per echoed
# message (loadgen's srv_core_us_per_msg, the server core's busy time) for
# every run.
# Build first: cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench
set -uo pipefail
B=${1:-build-bench}
cfgs=("1024 4096 16384" "1024 16384 65536" "512 65536 262144" "1024 65536 262144")
cells=("1000 64 1" "256 64 1" "16 4096 16" "256 4096 1")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for _ in 1 2 3; do
    for cell in "${cells[@]}"; do
        read -r conns size depth <<<"$cell"
        for cfg in "${cfgs[@]}"; do
            read -r nb bs bl <<<"$cfg"
            "$B/examples/echo_server" --port 0 --buffers "$nb" --buffer-size "$bs" \
                --backlog-bytes "$bl" --max-conns 2000 >"$log" 2>&1 &
            pid=$!
            port=
            for _ in $(seq 50); do
                port=$(sed -n 's/.*port \([0-9]*\) .*/\1/p' "$log" | head -1)
                [ -n "$port" ] && break
                sleep 0.05
            done
            r=$("$B/bench/echo/loadgen" --port "$port" --conns "$conns" --size "$size" \
                --depth "$depth" --duration 1.5 --warmup 0.3 --server-pid "$pid" \
                --server-cpu 0 --cpu 1 --quiet 2>&1 | grep RESULT)
            kill -TERM "$pid"
            wait "$pid" 2>/dev/null
            rate=$(sed -n 's/.* msgs_per_s=\([0-9]*\).*/\1/p' <<<"$r")
            cpu=$(sed -n 's/.* srv_core_us_per_msg=\([0-9.]*\).*/\1/p' <<<"$r")
            echo "cell=$conns/$size/$depth pool=${nb}x$bs backlog=$bl msgs_per_s=$rate server_us_per_msg=$cpu"
        done
    done
done
