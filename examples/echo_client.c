/*
 * echo_client - a load client for echo_server, on the vllsi engine API.
 *
 *   echo_client [--host H] [--port P] [--conns N] [--size S] [--duration SEC]
 *               [--depth D] [--threads T] [--driver auto|uring|epoll|kqueue] [--rude]
 *
 * Each connection keeps up to D messages of S bytes in flight (D = 1 is
 * ping-pong). Message k of connection c carries a pattern that encodes c and k
 * (an 8-byte header c:k, then bytes derived from c, k and the offset); every
 * echoed byte is compared with what was sent. Each message's send time is
 * kept (a ring of D timestamps per connection) and its round trip recorded in
 * a preallocated log-linear histogram (16 sub-buckets per power of two, ~6 %).
 * After --duration the client stops sending, waits (at most 5 s) for the
 * echoes still owed, closes, and prints msgs/s, MB/s and p50/p99/p99.9.
 * Exit status: 0, or 1 on any mismatch, connection error or missing echo.
 *
 * --rude: a misbehaving client for tests: each connection sends S-byte
 * messages without ever reading, and at the end resets the connection
 * (SO_LINGER 0) with data still in flight. It checks nothing but connect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vllsi/engine.h>
#include <vllsi/sys.h>

/* macOS has no SOCK_CLOEXEC; this program never execs, so nothing is lost. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

#define CQ_BATCH   256
#define DRAIN_NS   (5LL * 1000 * 1000 * 1000)
#define HIST_SUB   16
#define HIST_SLOTS (64 * HIST_SUB)

enum { TAG_CONNECT = 0, TAG_RECV = 1, TAG_SEND = 2, TAG_CLOSE = 3, TAG_MASK = 3 };

struct cconn {
    int fd;
    uint32_t cid; /* global connection number, encoded in the pattern */
    bool open, closing, close_submitted, failed;
    uint8_t *sbuf, *rbuf;
    int64_t *ts;                     /* send time of message k at ts[k % depth] */
    uint64_t sent_msgs, recvd_bytes; /* messages handed to SEND; bytes echoed back */
    uint32_t send_off, send_len;
    uint64_t connect_id, recv_id, send_id;
};

struct cworker {
    int index;
    vl_engine *e;
    struct cconn *conns;
    uint32_t nconns, first_cid;
    uint32_t live; /* connections not yet closed */
    bool stop_sending;
    int64_t start_ns, deadline_ns;
    uint64_t msgs_window, bytes_window, msgs, errors, mismatches;
    uint64_t hist[HIST_SLOTS];
};

static const char *g_host = "127.0.0.1";
static const char *g_port = "7777";
static uint32_t g_size = 64, g_depth = 1;
static double g_duration = 5;
static bool g_rude;
static vl_driver_kind g_driver = VL_DRIVER_AUTO;
static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static atomic_int g_driver_printed;

/* ---- pattern and histogram -------------------------------------------------- */

static uint8_t pattern(uint32_t cid, uint64_t k, uint32_t i)
{
    if (i < 8) {
        uint64_t hdr = ((uint64_t)cid << 40) | (k & 0xffffffffffULL);
        return (uint8_t)(hdr >> (8 * i));
    }
    return (uint8_t)(i * 131u + (uint32_t)k * 7u + cid * 13u + (i >> 8));
}

static unsigned hist_slot(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 4 */
    unsigned sub = (unsigned)(v >> (e - 4)) & (HIST_SUB - 1);
    return (e - 3) * HIST_SUB + sub;
}

static uint64_t hist_value(unsigned slot) /* the middle of the slot */
{
    if (slot < HIST_SUB)
        return slot;
    unsigned e = slot / HIST_SUB + 3, sub = slot % HIST_SUB;
    uint64_t lo = (uint64_t)(HIST_SUB + sub) << (e - 4);
    return lo + ((1ULL << (e - 4)) >> 1);
}

static uint64_t hist_quantile(const uint64_t *h, uint64_t n, double q)
{
    uint64_t want = (uint64_t)(q * (double)n), seen = 0;
    if (want >= n)
        want = n - 1;
    for (unsigned i = 0; i < HIST_SLOTS; i++) {
        seen += h[i];
        if (seen > want)
            return hist_value(i);
    }
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void *tag(struct cconn *c, int t)
{
    return (void *)((uintptr_t)c | (uintptr_t)t);
}

static void fail(struct cworker *w, struct cconn *c, const char *what, int64_t res)
{
    if (!c->failed)
        fprintf(stderr, "echo_client: conn %u: %s: %s\n", c->cid, what,
                res < 0 ? vl_strerror((int)-res) : "unexpected end of stream");
    c->failed = true;
    w->errors++;
}

static void conn_try_close(struct cworker *w, struct cconn *c)
{
    if (!c->closing || c->recv_id || c->send_id || c->connect_id || c->close_submitted)
        return;
    c->close_submitted = true;
    if (g_rude) {
        struct linger l = {1, 0}; /* close sends RST: the abrupt disconnect */
        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    vl_op op = vl_op_close(c->fd);
    if (vl_engine_submit(w->e, &op, tag(c, TAG_CLOSE)) < 0) {
        close(c->fd);
        c->open = false;
        w->live--;
    }
}

static void conn_close(struct cworker *w, struct cconn *c)
{
    if (c->closing) {
        conn_try_close(w, c);
        return;
    }
    c->closing = true;
    vl_op op;
    if (c->recv_id) {
        op = vl_op_cancel(c->recv_id);
        (void)vl_engine_submit(w->e, &op, NULL);
    }
    if (c->send_id) {
        op = vl_op_cancel(c->send_id);
        (void)vl_engine_submit(w->e, &op, NULL);
    }
    conn_try_close(w, c);
}

static void arm_recv(struct cworker *w, struct cconn *c)
{
    if (c->closing || c->recv_id || g_rude)
        return;
    vl_op op = vl_op_recv(c->fd, c->rbuf, (size_t)g_size * g_depth, 0);
    int64_t id = vl_engine_submit(w->e, &op, tag(c, TAG_RECV));
    if (id < 0) {
        fail(w, c, "submit RECV", id);
        conn_close(w, c);
        return;
    }
    c->recv_id = (uint64_t)id;
}

static void submit_send(struct cworker *w, struct cconn *c)
{
    vl_op op = vl_op_send(c->fd, c->sbuf + c->send_off, c->send_len - c->send_off, 0);
    int64_t id = vl_engine_submit(w->e, &op, tag(c, TAG_SEND));
    if (id < 0) {
        fail(w, c, "submit SEND", id);
        conn_close(w, c);
        return;
    }
    c->send_id = (uint64_t)id;
}

/* Top the connection up to depth messages in flight (one SEND at a time). */
static void fill_and_send(struct cworker *w, struct cconn *c)
{
    if (c->closing || c->send_id || w->stop_sending)
        return;
    uint64_t owed = c->sent_msgs - c->recvd_bytes / g_size;
    uint32_t n = g_rude ? 1 : g_depth - (uint32_t)owed;
    if (n == 0)
        return;
    int64_t now = vl_time_monotonic_ns();
    for (uint32_t j = 0; j < n; j++) {
        uint64_t k = c->sent_msgs++;
        uint8_t *m = c->sbuf + (size_t)j * g_size;
        for (uint32_t i = 0; i < g_size; i++)
            m[i] = pattern(c->cid, k, i);
        c->ts[k % g_depth] = now;
    }
    c->send_off = 0;
    c->send_len = n * g_size;
    submit_send(w, c);
}

/* All echoes in and nothing more to send: the connection is done. */
static void maybe_finish(struct cworker *w, struct cconn *c)
{
    if (w->stop_sending && !c->send_id && c->recvd_bytes == c->sent_msgs * g_size)
        conn_close(w, c);
}

static void on_recv(struct cworker *w, struct cconn *c, int64_t res)
{
    c->recv_id = 0;
    if (res <= 0) {
        if (res != -ECANCELED || !c->closing)
            fail(w, c, "recv", res);
        conn_close(w, c);
        return;
    }
    int64_t now = vl_time_monotonic_ns();
    uint64_t pos = c->recvd_bytes;
    if (pos + (uint64_t)res > c->sent_msgs * g_size) {
        fprintf(stderr, "echo_client: conn %u: %" PRIu64 " bytes echoed, only %" PRIu64 " sent\n",
                c->cid, pos + (uint64_t)res, c->sent_msgs * g_size);
        w->mismatches++;
        conn_close(w, c);
        return;
    }
    for (int64_t b = 0; b < res; b++, pos++) {
        uint64_t k = pos / g_size;
        uint32_t i = (uint32_t)(pos % g_size);
        if (c->rbuf[b] != pattern(c->cid, k, i)) {
            fprintf(stderr,
                    "echo_client: conn %u: MISMATCH at message %" PRIu64 " byte %u: got 0x%02x, "
                    "want 0x%02x\n",
                    c->cid, k, i, c->rbuf[b], pattern(c->cid, k, i));
            w->mismatches++;
            conn_close(w, c);
            return;
        }
        if (i == g_size - 1) { /* message k complete */
            uint64_t rtt = (uint64_t)(now - c->ts[k % g_depth]);
            w->hist[hist_slot(rtt)]++;
            w->msgs++;
            if (now <= w->deadline_ns)
                w->msgs_window++;
        }
    }
    if (now <= w->deadline_ns)
        w->bytes_window += (uint64_t)res;
    c->recvd_bytes = pos;
    arm_recv(w, c);
    fill_and_send(w, c);
    maybe_finish(w, c);
    conn_try_close(w, c);
}

static void on_send(struct cworker *w, struct cconn *c, int64_t res)
{
    c->send_id = 0;
    if (res <= 0) {
        if (res != -ECANCELED || !c->closing)
            fail(w, c, "send", res);
        conn_close(w, c);
        return;
    }
    c->send_off += (uint32_t)res;
    if (c->send_off < c->send_len)
        submit_send(w, c); /* partial send: the rest */
    else
        fill_and_send(w, c);
    maybe_finish(w, c);
    conn_try_close(w, c);
}

static void on_connect(struct cworker *w, struct cconn *c, int64_t res)
{
    c->connect_id = 0;
    if (res < 0) {
        fail(w, c, "connect", res);
        conn_close(w, c);
        return;
    }
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    arm_recv(w, c);
    fill_and_send(w, c);
    maybe_finish(w, c);
    conn_try_close(w, c);
}

/* ---- the worker ------------------------------------------------------------ */

static void worker_main(void *arg)
{
    struct cworker *w = arg;
    vl_engine_config cfg = {.driver = g_driver, .max_inflight = 6 * w->nconns + 16};
    int rc = vl_engine_create(&cfg, &w->e);
    if (rc < 0) {
        fprintf(stderr, "echo_client: vl_engine_create: %s\n", vl_strerror(-rc));
        w->errors++;
        return;
    }
    if (atomic_fetch_add(&g_driver_printed, 1) == 0)
        printf("echo_client: driver %s (%s)\n", vl_engine_driver_name(w->e),
               vl_engine_driver_reason(w->e));

    for (uint32_t i = 0; i < w->nconns; i++) {
        struct cconn *c = &w->conns[i];
        c->cid = w->first_cid + i;
        c->fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            fprintf(stderr, "echo_client: socket: %s\n", strerror(errno));
            w->errors++;
            continue;
        }
        c->open = true;
        w->live++;
        vl_op op = vl_op_connect(c->fd, (struct sockaddr *)&g_addr, g_addrlen);
        int64_t id = vl_engine_submit(w->e, &op, tag(c, TAG_CONNECT));
        if (id < 0) {
            fail(w, c, "submit CONNECT", id);
            c->closing = true;
            conn_try_close(w, c);
            continue;
        }
        c->connect_id = (uint64_t)id;
    }

    vl_completion cq[CQ_BATCH];
    bool drain_expired = false;
    while (w->live > 0) {
        int64_t now = vl_time_monotonic_ns();
        if (!w->stop_sending && now >= w->deadline_ns) {
            w->stop_sending = true;
            for (uint32_t i = 0; i < w->nconns; i++) {
                struct cconn *c = &w->conns[i];
                if (c->open && (g_rude || c->connect_id))
                    conn_close(w, c);
                else if (c->open)
                    maybe_finish(w, c);
            }
        }
        if (!drain_expired && now >= w->deadline_ns + DRAIN_NS) {
            drain_expired = true;
            for (uint32_t i = 0; i < w->nconns; i++) {
                struct cconn *c = &w->conns[i];
                if (c->open && !c->closing) {
                    fprintf(stderr, "echo_client: conn %u: %" PRIu64 " echoes missing\n", c->cid,
                            c->sent_msgs - c->recvd_bytes / g_size);
                    w->errors++;
                    conn_close(w, c);
                }
            }
        }
        int64_t wait = w->stop_sending ? w->deadline_ns + DRAIN_NS - now : w->deadline_ns - now;
        if (drain_expired || wait < 0)
            wait = drain_expired ? -1 : 0;
        int n = vl_engine_poll(w->e, wait, cq, CQ_BATCH);
        for (int i = 0; i < n; i++) {
            void *ud = cq[i].user_data;
            if (!ud)
                continue; /* a CANCEL */
            struct cconn *c = (struct cconn *)((uintptr_t)ud & ~(uintptr_t)TAG_MASK);
            switch ((uintptr_t)ud & TAG_MASK) {
            case TAG_CONNECT:
                on_connect(w, c, cq[i].result);
                break;
            case TAG_RECV:
                on_recv(w, c, cq[i].result);
                break;
            case TAG_SEND:
                on_send(w, c, cq[i].result);
                break;
            default:
                c->open = false;
                w->live--;
                break;
            }
        }
    }
    vl_engine_destroy(w->e);
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: echo_client [--host H] [--port P] [--conns N] [--size S]\n"
                    "                   [--duration SEC] [--depth D] [--threads T]\n"
                    "                   [--driver auto|uring|epoll|kqueue] [--rude]\n");
    exit(2);
}

static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "echo_client: bad number '%s' (%ld..%ld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long conns = 64, threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--rude")) {
            g_rude = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host"))
            g_host = v;
        else if (!strcmp(a, "--port"))
            g_port = v;
        else if (!strcmp(a, "--conns"))
            conns = parse_num(v, 1, 1000000);
        else if (!strcmp(a, "--size"))
            g_size = (uint32_t)parse_num(v, 1, 16 << 20);
        else if (!strcmp(a, "--depth"))
            g_depth = (uint32_t)parse_num(v, 1, 4096);
        else if (!strcmp(a, "--threads"))
            threads = parse_num(v, 1, 256);
        else if (!strcmp(a, "--duration")) {
            char *end;
            g_duration = strtod(v, &end);
            if (*end || !(g_duration > 0 && g_duration < 86400))
                usage();
        } else if (!strcmp(a, "--driver")) {
            if (!strcmp(v, "auto"))
                g_driver = VL_DRIVER_AUTO;
            else if (!strcmp(v, "uring"))
                g_driver = VL_DRIVER_URING;
            else if (!strcmp(v, "epoll"))
                g_driver = VL_DRIVER_EPOLL;
            else if (!strcmp(v, "kqueue"))
                g_driver = VL_DRIVER_KQUEUE;
            else
                usage();
        } else
            usage();
    }
    if ((uint64_t)g_size * g_depth > (1u << 30)) {
        fprintf(stderr, "echo_client: size x depth above 1 GiB\n");
        return 2;
    }
    if (threads > conns)
        threads = conns;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(g_host, g_port, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "echo_client: %s port %s: %s\n", g_host, g_port, gai_strerror(gai));
        return 1;
    }
    memcpy(&g_addr, ai->ai_addr, ai->ai_addrlen);
    g_addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    /* Everything preallocated: connections, their buffers and timestamp rings. */
    size_t msgbytes = (size_t)g_size * g_depth;
    struct cworker *ws = calloc((size_t)threads, sizeof *ws);
    struct cconn *cs = calloc((size_t)conns, sizeof *cs);
    uint8_t *bufs = malloc((size_t)conns * msgbytes * 2);
    int64_t *tss = calloc((size_t)conns * g_depth, sizeof *tss);
    vl_thread **th = calloc((size_t)threads, sizeof *th);
    if (!ws || !cs || !bufs || !tss || !th) {
        fprintf(stderr, "echo_client: out of memory\n");
        return 1;
    }
    for (long i = 0; i < conns; i++) {
        cs[i].sbuf = bufs + (size_t)i * msgbytes * 2;
        cs[i].rbuf = cs[i].sbuf + msgbytes;
        cs[i].ts = tss + (size_t)i * g_depth;
        cs[i].fd = -1;
    }
    printf("echo_client: %s port %s, %ld conns x %u B, depth %u, %ld threads, %.1f s%s\n", g_host,
           g_port, conns, g_size, g_depth, threads, g_duration, g_rude ? " (rude)" : "");

    int64_t start = vl_time_monotonic_ns();
    int64_t deadline = start + (int64_t)(g_duration * 1e9);
    uint32_t next = 0;
    for (long t = 0; t < threads; t++) {
        struct cworker *w = &ws[t];
        w->index = (int)t;
        w->nconns = (uint32_t)(conns / threads + (t < conns % threads));
        w->first_cid = next;
        w->conns = cs + next;
        next += w->nconns;
        w->start_ns = start;
        w->deadline_ns = deadline;
        int rc = vl_thread_spawn(worker_main, w, 0, &th[t]);
        if (rc < 0) {
            fprintf(stderr, "echo_client: vl_thread_spawn: %s\n", vl_strerror(-rc));
            return 1;
        }
    }

    uint64_t msgs = 0, msgs_w = 0, bytes_w = 0, errors = 0, mism = 0;
    static uint64_t hist[HIST_SLOTS];
    for (long t = 0; t < threads; t++) {
        vl_thread_join(th[t]);
        struct cworker *w = &ws[t];
        msgs += w->msgs;
        msgs_w += w->msgs_window;
        bytes_w += w->bytes_window;
        errors += w->errors;
        mism += w->mismatches;
        for (unsigned i = 0; i < HIST_SLOTS; i++)
            hist[i] += w->hist[i];
    }
    double secs = (double)(deadline - start) / 1e9;
    if (g_rude) {
        printf("echo_client: rude run done: %" PRIu64 " connection errors\n", errors);
    } else {
        printf("echo_client: %" PRIu64 " msgs echoed and checked; %.0f msgs/s, %.2f MB/s "
               "(echoed payload, 1 MB = 1e6 B)\n",
               msgs, (double)msgs_w / secs, (double)bytes_w / secs / 1e6);
        if (msgs)
            printf("echo_client: round trip p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n",
                   (double)hist_quantile(hist, msgs, 0.50) / 1e3,
                   (double)hist_quantile(hist, msgs, 0.99) / 1e3,
                   (double)hist_quantile(hist, msgs, 0.999) / 1e3);
    }
    printf("echo_client: mismatches %" PRIu64 ", connection errors %" PRIu64 " -> %s\n", mism,
           errors, (mism || errors || (!g_rude && msgs == 0)) ? "FAIL" : "ok");
    free(th);
    free(tss);
    free(bufs);
    free(cs);
    free(ws);
    return (mism || errors || (!g_rude && msgs == 0)) ? 1 : 0;
}
