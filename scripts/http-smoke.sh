#!/usr/bin/env bash
# scripts/http-smoke.sh HTTP_SERVER DRIVER - the test of examples/http_server.c
# (ctest http_server.<driver>), with real curl and raw requests over bash's
# /dev/tcp:
#   - files of 0 B, 1 KiB, 64 KiB and 10 MiB come back byte for byte (twice:
#     the second time the small ones come from the cache); HEAD gives the
#     headers only, with the file's Content-Length; /plaintext is 13 bytes;
#   - traversal (`/../x`, `/%2e%2e/x`, `/%2E%2E%2Fetc/passwd`, `//etc/passwd`,
#     symlinks in the root to a file and a directory outside) is refused;
#   - a pipelined burst on one connection is answered in order, and so is
#     one of 3,000 requests written whole before the client reads (the
#     server reads on while it answers, up to its input buffer, then waits);
#   - 431 for headers over 8 KiB, 414 for a longer request line, 400 for
#     garbage, 405 with Allow for POST (its body discarded, the connection
#     kept), 501 for Transfer-Encoding, HTTP/1.0 closes;
#   - a stalled request, one trickling a byte at a time (slowloris) and an
#     idle connection are closed by the deadlines;
#   - the open descriptors at rest (but pipes) are the same before and after a
#     burst with clients vanishing mid-response (Linux: /proc/PID/fd);
#   - SIGTERM with a download in flight: exit 0;
#   - with --threads 1 the process has one thread (Linux, not kqueue); with
#     a pool of 2 receive buffers (--recv-buffers 2), 40 connections sending
#     150 pipelined requests at once (the RECVs end -ENOBUFS and wait for
#     buffers) get every reply, in order, and the server idles without
#     spinning afterwards; SIGINT: exit 0.
# HTTP_WRAP, if set, prefixes the server (e.g. "valgrind -q --error-exitcode=99
# --leak-check=full --errors-for-leak-kinds=definite"); HTTP_ARGS, if set,
# are more server options (e.g. "--recv oneshot").
set -uo pipefail
server=${1:?http_server binary} driver=${2:?uring|epoll|kqueue}
read -r -a wrap <<<"${HTTP_WRAP:-}"
read -r -a args <<<"${HTTP_ARGS:-}"
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
    echo "http-smoke ($driver): FAIL: $*" >&2
    [ -s "$tmp/server.log" ] && { echo "--- server log" >&2; tail -20 "$tmp/server.log" >&2; }
    exit 1
}

root=$tmp/root
mkdir -p "$root/sub" "$tmp/outside"
: >"$root/empty.bin"
head -c 1024 /dev/urandom >"$root/k1.bin"
head -c 65536 /dev/urandom >"$root/k64.bin"
head -c 10485760 /dev/urandom >"$root/m10.bin"
printf 'alpha\n' >"$root/a.txt"
for _ in $(seq 16); do printf '%063d\n' 0; done >"$root/k1.txt" # 1 KiB of lines
printf 'bravo\n' >"$root/sub/b.txt"
printf '<p>index</p>\n' >"$root/sub/index.html"
printf 'SECRET\n' >"$tmp/outside/secret.txt"
ln -s "$tmp/outside/secret.txt" "$root/link-file"
ln -s "$tmp/outside" "$root/link-dir"
ln -s ../outside/secret.txt "$root/link-rel"

"${wrap[@]}" "$server" --port 0 --bind 127.0.0.1 --root "$root" --threads 2 --driver "$driver" \
    --header-timeout 1 --idle-timeout 2 "${args[@]}" >"$tmp/server.log" 2>&1 &
pid=$!
port=''
for _ in $(seq 200); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited at start"
    sleep 0.05
done
[ -n "$port" ] || fail "server printed no port"
used=$(sed -n 's/^listening on .*(driver \([a-z_]*\),.*/\1/p' "$tmp/server.log")
case "$driver:$used" in
uring:io_uring | epoll:epoll | kqueue:kqueue) ;;
*) fail "driver in use: '$used'" ;;
esac
base="http://127.0.0.1:$port"

# raw: stdin to one connection, then what comes back until the server closes
# it (the requests end with "Connection: close", or an error closes it).
raw() { timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 && cat >&3 && cat <&3' _ "$port"; }
# status URL [curl options]: the status code curl sees.
status() { curl -s -o /dev/null -w '%{http_code}' --path-as-is "${@:2}" "$base$1"; }
# The server's descriptors but pipes: the io_uring driver makes the pipes of
# its SENDFILEs on first use and replaces one an ended op may have left
# bytes in, so their number at rest may grow up to the driver's cap.
fds() {
    [ -d "/proc/$pid/fd" ] || return 0
    for f in /proc/"$pid"/fd/*; do readlink "$f"; done | grep -vc '^pipe:'
}

# Files, byte for byte, twice.
for round in 1 2; do
    for f in empty.bin k1.bin k64.bin m10.bin a.txt sub/b.txt; do
        curl -sf -o "$tmp/got" "$base/$f" || fail "GET /$f: curl failed (round $round)"
        cmp -s "$tmp/got" "$root/$f" || fail "GET /$f: bytes differ (round $round)"
    done
done
curl -sf -o "$tmp/got" "$base/sub/" && cmp -s "$tmp/got" "$root/sub/index.html" ||
    fail "GET /sub/: not its index.html"
[ "$(status /sub)" = 404 ] || fail "a directory without '/' is not 404"
[ "$(curl -sf "$base/plaintext")" = "Hello, World!" ] || fail "/plaintext body"
curl -sf -D "$tmp/h" -o /dev/null "$base/plaintext"
grep -qi '^Content-Type: text/plain' "$tmp/h" && grep -qi '^Server: vllsi' "$tmp/h" &&
    grep -qi '^Date: ' "$tmp/h" || fail "/plaintext headers"
curl -sf -D "$tmp/h" -o /dev/null "$base/k64.bin"
grep -qi '^Content-Type: application/octet-stream' "$tmp/h" || fail "k64.bin Content-Type"

# HEAD: the headers only, with the file's length.
for f in k1.bin m10.bin; do
    size=$(wc -c <"$root/$f")
    printf 'HEAD /%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$f" | raw >"$tmp/out"
    head -1 "$tmp/out" | grep -q '^HTTP/1.1 200' || fail "HEAD /$f: status"
    grep -qi "^Content-Length: $size"$'\r'"$" "$tmp/out" || fail "HEAD /$f: Content-Length"
    [ "$(tail -c 4 "$tmp/out" | od -An -tx1 | tr -d ' \n')" = 0d0a0d0a ] ||
        fail "HEAD /$f: bytes after the headers"
done

# Traversal: never the file outside.
for u in /../x /%2e%2e/x /%2E%2E%2Fetc/passwd //etc/passwd /link-file /link-dir/secret.txt \
    /link-rel /sub/../../outside/secret.txt /a.txt%00.html; do
    code=$(status "$u")
    case $code in 400 | 403 | 404) ;; *) fail "traversal $u: status $code" ;; esac
    printf 'GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$u" | raw >"$tmp/out"
    grep -q 'SECRET\|root:' "$tmp/out" && fail "traversal $u: the file outside came back"
done

# The absolute form names the same path, and is checked the same way.
printf 'GET http://t/a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' | raw >"$tmp/out"
grep -q alpha "$tmp/out" || fail "absolute-form target"
printf 'GET http://t/../outside/secret.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
    raw >"$tmp/out"
grep -q '^HTTP/1.1 404' "$tmp/out" && ! grep -q SECRET "$tmp/out" || fail "absolute-form traversal"

# A pipelined burst in one write: answered in order.
req() { printf '%s %s HTTP/1.1\r\nHost: t\r\n%b\r\n' "$1" "$2" "${3:-}"; }
{
    req GET /a.txt
    req GET /plaintext
    req GET /sub/b.txt
    req HEAD /a.txt
    req GET /missing
    req GET /a.txt
    req GET /plaintext 'Connection: close\r\n'
} | raw >"$tmp/out"
grep -ao 'HTTP/1.1 [0-9]*\|alpha\|bravo\|Hello, World!' "$tmp/out" | tr '\n' '|' >"$tmp/seq"
want='HTTP/1.1 200|alpha|HTTP/1.1 200|Hello, World!|HTTP/1.1 200|bravo|HTTP/1.1 200|HTTP/1.1 404|HTTP/1.1 200|alpha|HTTP/1.1 200|Hello, World!|'
[ "$(cat "$tmp/seq")" = "$want" ] || fail "pipelined: got $(cat "$tmp/seq")"
# Many on one connection, more than one batch (the output buffer fills).
for _ in $(seq 300); do req GET /k1.txt; done >"$tmp/burst"
req GET /plaintext 'Connection: close\r\n' >>"$tmp/burst"
raw <"$tmp/burst" >"$tmp/out"
[ "$(grep -ac '^HTTP/1.1 200' "$tmp/out")" -eq 301 ] && tail -c 13 "$tmp/out" | grep -q 'Hello, World!' ||
    fail "pipelined burst of 301: $(grep -ac '^HTTP/1.1 200' "$tmp/out") status lines"
[ "$(wc -c <"$tmp/out")" -gt $((301 * 1024)) ] || fail "pipelined burst: short"
# 3,000 written before any response is read (about 100 KiB asked, 3 MiB of
# answers): the server reads while its responses wait for the client, then
# stops at its input buffer's cap; every one comes back, in order.
for i in $(seq 3000); do req GET "/k1.txt?$i"; done >"$tmp/burst"
req GET /plaintext 'Connection: close\r\n' >>"$tmp/burst"
raw <"$tmp/burst" >"$tmp/out"
n=$(grep -ac '^HTTP/1.1 200' "$tmp/out")
[ "$n" -eq 3001 ] && tail -c 13 "$tmp/out" | grep -q 'Hello, World!' ||
    fail "pipelined burst of 3001 written before reading: $n status lines"
[ "$(wc -c <"$tmp/out")" -gt $((3001 * 1024)) ] || fail "pipelined burst of 3001: short"

# Errors.
first() { head -1 "$tmp/out" | tr -d '\r'; }
{
    printf 'GET / HTTP/1.1\r\nHost: t\r\nX-Big: '
    head -c 9000 /dev/zero | tr '\0' a
    printf '\r\n\r\n'
} | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 431 Request Header Fields Too Large" ] || fail "big header: $(first)"
{
    printf 'GET /'
    head -c 9000 /dev/zero | tr '\0' a
} | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 414 URI Too Long" ] || fail "long request line: $(first)"
printf 'GARBAGE\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "malformed: $(first)"
printf 'GET / HTTP/1.1\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "no Host: $(first)"
printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "space in a header name: $(first)"
printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 501 Not Implemented" ] || fail "Transfer-Encoding: $(first)"
printf 'GET /a.txt HTTP/2.0\r\nHost: t\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 505 HTTP Version Not Supported" ] || fail "HTTP/2.0: $(first)"
{
    printf 'POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello'
    req GET /a.txt 'Connection: close\r\n'
} | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 405 Method Not Allowed" ] || fail "POST: $(first)"
grep -qi '^Allow: GET, HEAD' "$tmp/out" || fail "405 without Allow"
grep -q 'alpha' "$tmp/out" || fail "POST's body not skipped: no answer to the request after it"
[ "$(status /a.txt -X POST)" = 405 ] || fail "curl POST"
# HTTP/1.0 without keep-alive: answered, then closed (raw returns).
printf 'GET /a.txt HTTP/1.0\r\n\r\n' | raw >"$tmp/out" || fail "HTTP/1.0: not closed"
grep -q alpha "$tmp/out" || fail "HTTP/1.0: no body"

# Bytes inside a line: CR, NUL or another control byte in a value is a 400
# (HTAB is allowed), so are DEL, a byte above ASCII and a control byte in
# the target; header names match in any case.
for v in 'a\rb' 'a\0b' 'a\001b' 'aaaaaaaaaaaaaaaa\rb' 'aaaaaaaaaaaaaaaa\0b'; do
    printf "GET /a.txt HTTP/1.1\r\nHost: t\r\nX-V: $v\r\n\r\n" | raw >"$tmp/out"
    [ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "value '$v': $(first)"
done
for t in '/a\177' '/\303\251' '/aaaaaaaaaaaaaaaa\177' '/aaaaaaaaaaaaaaaaaaaa\001'; do
    printf "GET $t HTTP/1.1\r\nHost: t\r\n\r\n" | raw >"$tmp/out"
    [ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "target '$t': $(first)"
done
printf 'GET /a.txt HTTP/1.1\r\nHOST: t\r\nX-V: a\tb\r\nCONNECTION: close\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 200 OK" ] && grep -q alpha "$tmp/out" || fail "upper-case names, HTAB: $(first)"
printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\nhOsT: u\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "two Hosts: $(first)"
printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\nX-V: a\r\r\n\r\n' | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "CR before CRLF: $(first)"
# Long heads (more lines than the parser keeps from the search for the
# head's end) and heads in pieces: every line is still checked.
many() { for i in $(seq 20); do printf 'X-%d: v\r\n' "$i"; done; }
{ printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\n'; many; printf 'Connection: close\r\n\r\n'; } | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 200 OK" ] && grep -q alpha "$tmp/out" || fail "a 23-line head: $(first)"
{ printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\n'; many; printf 'Bad Name: x\r\n\r\n'; } | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "a bad 23rd line: $(first)"
{ printf 'GET /a.txt HTTP/1.1\r\nHo'; sleep 0.2; printf 'st: t\r\nConnection: close\r\n\r\n'; } |
    raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 200 OK" ] && grep -q alpha "$tmp/out" || fail "a head in two pieces: $(first)"
{ printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\n'; sleep 0.2; printf 'X-V: a\001b\r\n\r\n'; } | raw >"$tmp/out"
[ "$(first)" = "HTTP/1.1 400 Bad Request" ] || fail "a bad line in a head's second piece: $(first)"
# The decoded path's limit: 1,023 bytes fit (here "a" under many empty
# segments: 404), 1,024 are a 414, with or without percent-encoding.
for enc in '' '%61'; do
    for n in 1023 1024; do
        t="$(head -c $((n - 1)) /dev/zero | tr '\0' /)${enc:-a}" # n bytes decoded
        printf 'GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$t" | raw >"$tmp/out"
        want='HTTP/1.1 404 Not Found'
        [ "$n" = 1024 ] && want='HTTP/1.1 414 URI Too Long'
        [ "$(first)" = "$want" ] || fail "a path of $n decoded bytes (${enc:-plain}): $(first)"
    done
done

# Deadlines (1 s for a head, 2 s idle): the server closes, raw returns.
t0=$(date +%s)
printf 'GET /a.txt HTTP/1.1\r\nHost:' | raw >"$tmp/out" || fail "a stalled head was not closed"
printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n' | raw >"$tmp/out" || fail "an idle connection was not closed"
grep -q alpha "$tmp/out" || fail "keep-alive: no answer before the idle close"
[ $(($(date +%s) - t0)) -le 8 ] || fail "deadlines took too long"
# Slowloris: a byte every 0.2 s for 5 s does not stretch the head deadline
# (it counts from the request's first byte): closed in well under 5 s.
t0=$(date +%s%N)
timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
    (for _ in $(seq 25); do printf G >&3 2>/dev/null || exit 0; sleep 0.2; done) &
    cat <&3 >/dev/null 2>&1
    kill $! 2>/dev/null' _ "$port" || fail "slowloris: not closed"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 4000 ] || fail "slowloris: open for $ms ms with a 1 s head deadline"

# Descriptors at rest, before and after a burst with vanishing clients.
sleep 2.5 # the idle connections above are gone
before=$(fds)
pids=()
for i in $(seq 40); do
    curl -s -o /dev/null -o /dev/null -o /dev/null "$base/k64.bin" "$base/plaintext" "$base/a.txt" &
    pids+=($!)
    curl -s -o /dev/null --max-time 0.05 --limit-rate 100k "$base/m10.bin" &
    pids+=($!)
    if [ $((i % 10)) = 0 ]; then
        wait "${pids[@]}"
        pids=()
    fi
done
for _ in $(seq 50); do
    after=$(fds)
    [ "$after" = "$before" ] && break
    sleep 0.1
done
[ "$after" = "$before" ] || fail "descriptors at rest: $before before the burst, $after after"
kill -0 "$pid" 2>/dev/null || fail "server died in the burst"

# SIGTERM with a download in flight: exit 0.
curl -s -o /dev/null --limit-rate 2M "$base/m10.bin" &
cpid=$!
sleep 0.3
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
wait "$cpid" 2>/dev/null
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"

# One thread (the main thread runs the loop) with a pool of 2 receive
# buffers: 40 connections writing 30 pipelined requests each at once run the
# pool dry (RECVs end -ENOBUFS and wait for buffers); every reply comes
# whole and in order. Then SIGINT: exit 0.
"${wrap[@]}" "$server" --port 0 --bind 127.0.0.1 --root "$root" --threads 1 --driver "$driver" \
    --recv-buffers 2 "${args[@]}" >"$tmp/server.log" 2>&1 &
pid=$!
port=''
for _ in $(seq 200); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/server.log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server (1 thread, 2 buffers) exited at start"
    sleep 0.05
done
[ -n "$port" ] || fail "server (1 thread, 2 buffers) printed no port"
# (Not on kqueue here: libkqueue, which provides it on Linux, runs threads
# of its own; not under a wrapper, whose process it would count.)
if [ -r "/proc/$pid/status" ] && [ -z "${HTTP_WRAP:-}" ] && [ "$driver" != kqueue ]; then
    threads=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$pid/status")
    [ "$threads" = 1 ] || fail "--threads 1: $threads threads"
fi
pad=$(printf '%0200d' 0)
{
    for j in $(seq 149); do printf 'GET /k1.txt?%d HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n' "$j" "$pad"; done
    printf 'GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
} >"$tmp/pool.req"
pids=()
for i in $(seq 40); do
    raw <"$tmp/pool.req" >"$tmp/pool.$i" &
    pids+=($!)
done
wait "${pids[@]}"
for i in $(seq 40); do
    n=$(grep -c '^HTTP/1.1 200 OK' "$tmp/pool.$i")
    [ "$n" = 150 ] || fail "pool of 2, connection $i: $n replies of 150"
    z=$(grep -c '^0\{63\}' "$tmp/pool.$i")
    [ "$z" = $((149 * 16)) ] || fail "pool of 2, connection $i: $z body lines of $((149 * 16))"
    [ "$(tail -c 6 "$tmp/pool.$i")" = alpha ] || fail "pool of 2, connection $i: not in order"
    [ "$(wc -c <"$tmp/pool.$i")" = "$(wc -c <"$tmp/pool.1")" ] ||
        fail "pool of 2, connection $i: $(wc -c <"$tmp/pool.$i") bytes, connection 1: $(wc -c <"$tmp/pool.1")"
done
# No spin once the connections are gone: at most 0.2 s of CPU in 1 s idle.
if [ -r "/proc/$pid/stat" ] && [ -z "${HTTP_WRAP:-}" ]; then
    cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
    c0=$(cpu)
    sleep 1
    c1=$(cpu)
    [ $((c1 - c0)) -le $(($(getconf CLK_TCK) / 5)) ] || fail "pool of 2: $((c1 - c0)) ticks of CPU idle"
fi
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGINT (1 thread)"
echo "http-smoke ($driver): ok"
