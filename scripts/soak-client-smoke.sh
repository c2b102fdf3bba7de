#!/usr/bin/env bash
# scripts/soak-client-smoke.sh SERVER CLIENT DRIVER - a short run of every
# mode of the soak client (tests/soak/soak_client.c) against echo_server
# with --driver DRIVER on an ephemeral loopback port: load (50 connections,
# every byte checked), a probe that reconnects for every round trip,
# hostile clients of each kind, and a load against a port nobody listens
# on, which must fail. ctest soak_client.kqueue runs it with the client's
# kqueue side built against libkqueue (the side macOS uses), so that side
# runs somewhere; scripts/soak is the long soak. Exits non-zero on any
# failure; always stops the server.
set -uo pipefail
server=${1:?server binary} client=${2:?client binary} driver=${3:?uring|epoll|kqueue}
log=$(mktemp) out=$(mktemp)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
    rm -f "$log" "$out"
}
trap cleanup EXIT
fail() {
    echo "soak-client-smoke ($driver): FAIL: $*" >&2
    echo "--- client output" >&2
    cat "$out" >&2
    echo "--- server output" >&2
    cat "$log" >&2
    exit 1
}

"$server" --port 0 --driver "$driver" --threads 2 >"$log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited at start"
    sleep 0.05
done
[ -n "$port" ] || fail "server printed no port"

# run NAME ARGS...: the client must end with "soak_client: ok" and exit 0.
run() {
    local name=$1
    shift
    timeout 60 "$client" --port "$port" "$@" >"$out" 2>&1 || fail "$name: exit status $?"
    tail -n1 "$out" | grep -q '^soak_client: ok$' || fail "$name: no ok"
    echo "soak-client-smoke: $name: $(grep -v '^soak_client: ok$' "$out" | tail -n1)"
}
run load --mode load --conns 50 --duration 2 --size 4096 --interval-ms 5
run probe --mode probe --kind reconnect --duration 1
for kind in reset halfclose slowread noread; do
    run "hostile $kind" --mode hostile --kind "$kind" --conns 8 --duration 1
done

kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ "$status" -eq 0 ] || fail "server exited with $status"

# Nobody listens on the port now: every connection must count as failed.
timeout 30 "$client" --port "$port" --mode load --conns 3 --duration 1 >"$out" 2>&1 &&
    fail "load against a closed port passed"
grep -q 'established=0 .*failed=3' "$out" || fail "refused connections not counted as failed"
echo "soak-client-smoke ($driver): ok"
