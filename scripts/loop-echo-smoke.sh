#!/usr/bin/env bash
# scripts/loop-echo-smoke.sh SERVER CLIENT DRIVER [--embed] - the guide's
# loop server (examples/loop_echo.c; ctest loop_echo.<driver>, and
# loop_echo_embed.<driver> with --embed, where it runs inside a plain epoll
# host loop, poll on macOS): start it on an ephemeral port with VLLSI_DRIVER=DRIVER, run
# echo_client (which checks every echoed byte) for 1 s with 32 connections,
# SIGTERM, exit status 0. Then again with 20 descriptors (ulimit -n; more
# for a server that holds more at rest): 32 connections exhaust them, the
# multishot ACCEPT ends with EMFILE and the server re-arms it after a pause
# instead of stopping; it must still serve a client after that.
set -uo pipefail
server=${1:?server binary} client=${2:?client binary} driver=${3:?uring|epoll|kqueue}
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
# start_server [NOFILE]: the server on an ephemeral port, its port in $port.
start_server() {
    : >"$log"
    (
        [ $# -gt 0 ] && ulimit -n "$1"
        VLLSI_DRIVER=$driver exec "$server" 0 $embed
    ) >"$log" 2>&1 &
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
    uring:io_uring | epoll:epoll | kqueue:kqueue) ;;
    *) fail "driver in use: '$log_driver'" ;;
    esac
}

stop_server() {
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=
    [ "$rc" -eq 0 ] || fail "server exit status $rc"
    grep -q "stopping" "$log" || fail "no stop message"
    [ -z "$embed" ] || grep -q "embedded" "$log" || fail "not embedded"
}

start_server
# The descriptor limit of the second run: 20, or 10 more than the server
# holds at rest where /proc says (libkqueue's emulation alone takes a dozen).
nofile=20
if [ -d "/proc/$pid/fd" ]; then
    rest=$(ls "/proc/$pid/fd" | wc -l)
    [ $((rest + 10)) -le "$nofile" ] || nofile=$((rest + 10))
fi
timeout 30 "$client" --port "$port" --conns 32 --size 512 --depth 1 --duration 1 || fail "client run"
timeout 30 "$client" --port "$port" --conns 4 --size 65536 --depth 2 --duration 1 || fail "client run (64 KiB)"
stop_server

start_server "$nofile"
# More connections than descriptors: whether this client sees every echo
# depends on how soon connections free theirs; the server must survive it.
timeout 30 "$client" --port "$port" --conns 32 --size 512 --depth 1 --duration 1 >/dev/null 2>&1 || true
grep -q "accept: EMFILE, again in" "$log" || fail "no EMFILE with $nofile descriptors and 32 connections"
kill -0 "$pid" 2>/dev/null || fail "server stopped after EMFILE"
timeout 30 "$client" --port "$port" --conns 4 --size 512 --depth 1 --duration 1 || fail "client run after EMFILE"
stop_server
echo "loop-echo-smoke ($driver${embed:+ $embed}): ok"
