#!/usr/bin/env bash
# scripts/loop-echo-smoke.sh SERVER CLIENT DRIVER [--embed] - the guide's
# loop server (examples/loop_echo.c; ctest loop_echo.uring / loop_echo.epoll,
# and loop_echo_embed.* with --embed, where it runs inside a plain epoll host
# loop): start it on an ephemeral port with VLLSI_DRIVER=DRIVER, run
# echo_client (which checks every echoed byte) for 1 s with 32 connections,
# SIGTERM, exit status 0.
set -uo pipefail
server=${1:?server binary} client=${2:?client binary} driver=${3:?uring|epoll}
embed=${4:-}
log=$(mktemp)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
    rm -f "$log"
}
trap cleanup EXIT
fail() {
    echo "loop-echo-smoke ($driver): FAIL: $*" >&2
    cat "$log" >&2
    exit 1
}
VLLSI_DRIVER=$driver "$server" 0 $embed >"$log" 2>&1 &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited at start"
    sleep 0.05
done
[ -n "$port" ] || fail "server printed no port"
log_driver=$(sed -n 's/.*(driver \(.*\))/\1/p' "$log")
case "$driver:$log_driver" in
uring:io_uring | epoll:epoll) ;;
*) fail "driver in use: '$log_driver'" ;;
esac
timeout 30 "$client" --port "$port" --conns 32 --size 512 --depth 1 --duration 1 || fail "client run"
timeout 30 "$client" --port "$port" --conns 4 --size 65536 --depth 2 --duration 1 || fail "client run (64 KiB)"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || fail "server exit status $rc"
grep -q "stopping" "$log" || fail "no stop message"
[ -z "$embed" ] || grep -q "embedded" "$log" || fail "not embedded"
echo "loop-echo-smoke ($driver${embed:+ $embed}): ok"
