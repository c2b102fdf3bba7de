#!/usr/bin/env bash
# scripts/udp-echo-smoke.sh SERVER CHECK DRIVER - the udp_echo example's
# smoke test (ctest udp_echo.uring, .epoll, .kqueue): start udp_echo with
# --driver DRIVER and 2 SO_REUSEPORT threads on an ephemeral port, once on
# 127.0.0.1 and once on ::1 (skipped where this host has no IPv6
# loopback), run udp_echo_check against it (every datagram must come back
# whole to its sender), send SIGTERM and check the server exits 0 having
# echoed what the client sent. Exits non-zero on any failure; always stops
# the server.
set -uo pipefail
server=${1:?server binary} check=${2:?check binary} driver=${3:?uring|epoll|kqueue}
log=$(mktemp)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
    rm -f "$log"
}
trap cleanup EXIT
fail() {
    echo "udp-echo-smoke ($driver): FAIL: $*" >&2
    echo "--- server output" >&2
    cat "$log" >&2
    exit 1
}

run_family() { # bind-address family
    "$server" --port 0 --bind "$1" --driver "$driver" --threads 2 --buffers 64 >"$log" 2>&1 &
    pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        if [ "$driver" = uring ] && grep -q "vl_engine_create" "$log"; then
            echo "udp-echo-smoke: io_uring unavailable here, skipped: $(cat "$log")"
            exit 0
        fi
        if [ "$2" = 6 ] && grep -q "bind" "$log"; then
            echo "udp-echo-smoke: no IPv6 loopback here, ::1 skipped: $(cat "$log")"
            pid=
            return 0
        fi
        fail "server printed no port"
    fi
    timeout 60 "$check" "$port" "$2" || fail "client ($1)"
    kill -TERM "$pid"
    wait "$pid"
    status=$?
    pid=
    [ "$status" -eq 0 ] || fail "server exited with $status ($1)"
    # 80 rounds x 8 sockets x 4 datagrams, spread over the two threads.
    sum=$(awk '/thread [0-9]+: [0-9]+ datagrams/ { s += $4 } END { print s + 0 }' "$log")
    [ "$sum" = 2560 ] || fail "server counted $sum datagrams, the client sent 2560 ($1)"
    bad=$(awk '/thread [0-9]+: / && ($8 != 0 || $10 != 0)' "$log")
    [ -z "$bad" ] || fail "truncated datagrams or send errors ($1): $bad"
    cat "$log"
}

run_family 127.0.0.1 4
run_family ::1 6
echo "udp-echo-smoke ($driver): ok"
