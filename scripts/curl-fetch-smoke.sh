#!/usr/bin/env bash
# scripts/curl-fetch-smoke.sh CURL_FETCH HTTP_SERVER DRIVER - the test of
# examples/curl_fetch.c (ctest curl_fetch.<driver>): start tests/http_fixture.c
# on loopback, then run curl_fetch --driver DRIVER
#   - on 64 URLs at once (bodies of 0 B to 8 MiB): exit 0 and, in argument
#     order, "200 <bytes> <sha256> <url>" with the sha256 that sha256sum gives
#     for the same bytes (http_fixture --body N writes them);
#   - with a 404 among them: exit 1, the 404 line with the hash of its body,
#     the other lines intact;
#   - with a refused connection: exit 1, "0 0 <sha256 of nothing> <url>";
#   - with a bad command line: exit 2.
# CURL_FETCH_WRAP, if set, prefixes every curl_fetch run (e.g. "valgrind -q
# --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite").
set -uo pipefail
fetch=${1:?curl_fetch binary} server=${2:?http_fixture binary} driver=${3:?uring|epoll|kqueue}
read -r -a wrap <<<"${CURL_FETCH_WRAP:-}"
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "curl-fetch-smoke ($driver): FAIL: $*" >&2
    for f in out err expect; do
        [ -s "$tmp/$f" ] && { echo "--- $f" >&2; head -c 4000 "$tmp/$f" >&2; }
    done
    exit 1
}

"$server" --idle 30 >"$tmp/server.log" 2>&1 &
pid=$!
port='' refused=''
for _ in $(seq 100); do
    read -r _ port _ refused <"$tmp/server.log" 2>/dev/null
    [ -n "$refused" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited at start"
    sleep 0.05
done
[ -n "$refused" ] || fail "server printed no port"
base="http://127.0.0.1:$port"

# run EXPECTED_STATUS URL...: curl_fetch's stdout in $tmp/out, stderr in
# $tmp/err; its exit status and the driver it names must be the expected.
run() {
    local want=$1 rc=0
    shift
    timeout -s KILL 90 "${wrap[@]}" "$fetch" --driver "$driver" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "exit status $rc, expected $want"
    local used
    used=$(sed -n 's/^curl_fetch: driver //p' "$tmp/err")
    case "$driver:$used" in
    uring:io_uring | epoll:epoll | kqueue:kqueue) ;;
    *) fail "driver in use: '$used'" ;;
    esac
}

sha_of_size() { "$server" --body "$1" | sha256sum | cut -d' ' -f1; }
empty_sha=$(sha256sum </dev/null | cut -d' ' -f1)
notfound_sha=$(printf 'not found\n' | sha256sum | cut -d' ' -f1)

# 64 at once: edges around buffer sizes, one 8 MiB, the rest scattered.
sizes=(0 1 2 3 255 256 4095 4096 4097 16384 65535 65536 65537 131072 1000000 8388608)
for i in $(seq 48); do sizes+=($((i * 7919 + 13))); done
urls=()
: >"$tmp/expect"
for n in "${sizes[@]}"; do
    urls+=("$base/bytes/$n")
    echo "200 $n $(sha_of_size "$n") $base/bytes/$n" >>"$tmp/expect"
done
run 0 "${urls[@]}"
diff -u "$tmp/expect" "$tmp/out" >&2 || fail "64 URLs: output differs"

# A 404 among good ones: its line, the others', exit 1.
run 1 "$base/bytes/10" "$base/missing" "$base/bytes/20"
printf '%s\n' "200 10 $(sha_of_size 10) $base/bytes/10" \
    "404 10 $notfound_sha $base/missing" \
    "200 20 $(sha_of_size 20) $base/bytes/20" >"$tmp/expect"
diff -u "$tmp/expect" "$tmp/out" >&2 || fail "404: output differs"
grep -q "HTTP status 404" "$tmp/err" || fail "404: no reason on stderr"

# A refused connection next to a good transfer.
run 1 "http://127.0.0.1:$refused/bytes/5" "$base/bytes/5"
printf '%s\n' "0 0 $empty_sha http://127.0.0.1:$refused/bytes/5" \
    "200 5 $(sha_of_size 5) $base/bytes/5" >"$tmp/expect"
diff -u "$tmp/expect" "$tmp/out" >&2 || fail "refused: output differs"
grep -qi "connect" "$tmp/err" || fail "refused: no reason on stderr"

# Bad command lines.
rc=0
"$fetch" --driver "$driver" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "no URL: exit status $rc, expected 2"
rc=0
"$fetch" --driver bogus "$base/bytes/1" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "unknown driver: exit status $rc, expected 2"

echo "curl-fetch-smoke ($driver): ok"
