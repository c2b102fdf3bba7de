/*
 * echo_server - a TCP echo server written directly on the vllsi engine API
 * (<vllsi/engine.h>): submit single-shot ACCEPT / RECV / SEND / CLOSE /
 * CANCEL / TIMEOUT ops, poll completions, dispatch on user_data.
 *
 *   echo_server [--port P] [--bind ADDR] [--driver auto|uring|epoll]
 *               [--threads N] [--max-conns N] [--backlog-bytes B] [--grace-ms MS]
 *
 * Design (docs/echo.md has the long version):
 *  - One engine per thread, each with its own SO_REUSEPORT listening socket
 *    (the kernel spreads new connections); nothing is shared on the hot path.
 *  - A connection table preallocated per thread (with a free list) and one
 *    ring buffer of --backlog-bytes per connection, allocated once at start:
 *    no allocation per connection or per message.
 *  - Per connection at most one RECV and one SEND are in flight. RECV fills
 *    the ring's free space while SEND drains the filled part; a partial send
 *    resubmits the rest. When the ring is full (the peer does not read its
 *    echoes), no RECV is submitted until a SEND frees space: backpressure,
 *    bounded memory.
 *  - ACCEPT is single-shot and only armed while a connection slot is free.
 *    EMFILE/ENFILE/ENOBUFS/ENOMEM re-arm it through a 100 ms TIMEOUT op.
 *  - SIGINT/SIGTERM are blocked in every thread; the main thread waits for
 *    them with sigtimedwait, sets a flag and wakes every engine. Each worker
 *    then stops accepting, closes its listener, lets connections run for the
 *    grace period, closes what is left, waits for its last completion and
 *    prints its statistics. A second signal ends the grace period at once.
 *
 * Seam for multishot ops: arm_accept() and conn_arm_recv() are the only
 * places that submit ACCEPT and RECV; a multishot ACCEPT / buffer-pool RECV
 * would replace them and make on_accept()/on_recv() handle VL_CQE_MORE.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/engine.h>
#include <vllsi/sys.h>

#define ACCEPT_RETRY_NS (100 * 1000 * 1000LL)
#define CQ_BATCH        256

/* user_data of connection ops: the conn pointer with the op kind in its low bits. */
enum { TAG_RECV = 1, TAG_SEND = 2, TAG_CLOSE = 3, TAG_MASK = 3 };

struct worker;

struct conn {
    int fd;
    bool active;
    bool closing;  /* no new RECV/SEND; cancel what is pending, then CLOSE */
    bool peer_eof; /* the peer shut its side: echo what is left, then close */
    bool close_submitted;
    uint8_t *buf; /* ring of w->budget bytes */
    uint32_t head, len;
    uint32_t send_len; /* bytes of the SEND in flight */
    uint64_t recv_id, send_id;
    struct conn *next_free;
};

struct stats {
    uint64_t accepted, closed, peak, msgs, bytes_in, bytes_out;
    uint64_t errors, stalls, accept_retries;
};

struct worker {
    int index;
    int lfd;
    vl_engine *_Atomic engine; /* published for the signal thread's wake */
    vl_driver_kind driver;
    uint32_t nslots, budget;
    struct conn *conns;
    uint8_t *arena;
    struct conn *free_list;
    uint32_t active;
    uint64_t accept_id, retry_id, grace_id;
    bool stopping, forced, listener_closed;
    int exit_code;
    struct stats st;
    /* Distinct addresses used as user_data of the worker's own ops. */
    char tag_accept, tag_retry, tag_grace, tag_lclose;
};

static atomic_int g_stop;  /* first signal: stop accepting, grace period */
static atomic_int g_force; /* second signal or grace over: close everything */
static atomic_int g_done;  /* workers that have finished */
static int64_t g_grace_ns = 2000LL * 1000 * 1000;

static void *tag(struct conn *c, int t)
{
    return (void *)((uintptr_t)c | (uintptr_t)t);
}

static int64_t submit(struct worker *w, vl_op op, void *ud)
{
    int64_t id = vl_engine_submit(atomic_load(&w->engine), &op, ud);
    if (id < 0)
        fprintf(stderr, "thread %d: submit kind %d: %s\n", w->index, (int)op.kind,
                vl_strerror((int)-id));
    return id;
}

static void cancel(struct worker *w, uint64_t id)
{
    if (id)
        (void)submit(w, vl_op_cancel(id), NULL); /* its own completion is ignored */
}

/* ---- connections ---------------------------------------------------------- */

static void conn_try_close(struct worker *w, struct conn *c);

static void conn_begin_close(struct worker *w, struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    cancel(w, c->recv_id);
    cancel(w, c->send_id);
    conn_try_close(w, c);
}

/* Multishot seam: a buffer-pool RECV would be armed once here. */
static void conn_arm_recv(struct worker *w, struct conn *c)
{
    if (c->closing || c->peer_eof || c->recv_id || w->forced)
        return;
    uint32_t cap = w->budget;
    if (c->len == cap) {
        w->st.stalls++; /* backpressure: wait for the SEND to drain */
        return;
    }
    if (c->len == 0)
        c->head = 0;
    uint32_t tail = (c->head + c->len) % cap;
    uint32_t n = tail >= c->head ? cap - tail : c->head - tail;
    int64_t id = submit(w, vl_op_recv(c->fd, c->buf + tail, n, 0), tag(c, TAG_RECV));
    if (id < 0) {
        conn_begin_close(w, c);
        return;
    }
    c->recv_id = (uint64_t)id;
}

static void conn_arm_send(struct worker *w, struct conn *c)
{
    if (c->closing || c->send_id || c->len == 0)
        return;
    uint32_t n = c->len < w->budget - c->head ? c->len : w->budget - c->head;
    int64_t id = submit(w, vl_op_send(c->fd, c->buf + c->head, n, 0), tag(c, TAG_SEND));
    if (id < 0) {
        conn_begin_close(w, c);
        return;
    }
    c->send_id = (uint64_t)id;
    c->send_len = n;
}

static void arm_accept(struct worker *w);

static void conn_free(struct worker *w, struct conn *c)
{
    c->active = false;
    c->fd = -1;
    c->next_free = w->free_list;
    w->free_list = c;
    w->active--;
    w->st.closed++;
    if (w->stopping && w->active == 0)
        cancel(w, w->grace_id); /* nothing left to wait for */
    arm_accept(w);              /* a slot is free again */
}

static void conn_try_close(struct worker *w, struct conn *c)
{
    if (!c->closing || c->recv_id || c->send_id || c->close_submitted)
        return;
    c->close_submitted = true;
    if (submit(w, vl_op_close(c->fd), tag(c, TAG_CLOSE)) < 0) {
        close(c->fd); /* nothing of ours is pending on it */
        conn_free(w, c);
    }
}

/* The peer closed its side and every byte was echoed: close. */
static void conn_check_done(struct worker *w, struct conn *c)
{
    if (c->peer_eof && c->len == 0 && !c->send_id)
        conn_begin_close(w, c);
    else if (w->forced)
        conn_begin_close(w, c);
}

static void on_recv(struct worker *w, struct conn *c, int64_t res)
{
    c->recv_id = 0;
    if (res > 0) {
        c->len += (uint32_t)res;
        w->st.msgs++;
        w->st.bytes_in += (uint64_t)res;
        conn_arm_send(w, c);
        conn_arm_recv(w, c);
    } else if (res == 0) {
        c->peer_eof = true;
    } else {
        if (res != -ECANCELED)
            w->st.errors++; /* -ECONNRESET and friends: the client vanished */
        conn_begin_close(w, c);
    }
    conn_check_done(w, c);
    conn_try_close(w, c);
}

static void on_send(struct worker *w, struct conn *c, int64_t res)
{
    c->send_id = 0;
    if (res > 0) {
        c->head = (c->head + (uint32_t)res) % w->budget;
        c->len -= (uint32_t)res;
        w->st.bytes_out += (uint64_t)res;
        conn_arm_send(w, c); /* the rest of a partial send, or what arrived meanwhile */
        conn_arm_recv(w, c); /* resumes reading if backpressure had stopped it */
    } else {
        if (res != -ECANCELED)
            w->st.errors++; /* -EPIPE / -ECONNRESET: the reader is gone */
        conn_begin_close(w, c);
    }
    conn_check_done(w, c);
    conn_try_close(w, c);
}

/* ---- accepting ------------------------------------------------------------ */

static void maybe_close_listener(struct worker *w)
{
    if (!w->stopping || w->accept_id || w->retry_id || w->listener_closed)
        return;
    w->listener_closed = true;
    if (submit(w, vl_op_close(w->lfd), &w->tag_lclose) < 0)
        close(w->lfd);
}

/* Multishot seam: a multishot ACCEPT would be armed once here. */
static void arm_accept(struct worker *w)
{
    if (w->stopping || w->accept_id || w->retry_id || !w->free_list)
        return;
    int64_t id = submit(w, vl_op_accept(w->lfd, NULL, NULL), &w->tag_accept);
    if (id > 0)
        w->accept_id = (uint64_t)id;
}

static void on_accept(struct worker *w, int64_t res)
{
    w->accept_id = 0;
    if (res >= 0) {
        struct conn *c = w->free_list; /* ACCEPT is armed only while one is free */
        w->free_list = c->next_free;
        int fd = (int)res;
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        *c = (struct conn){.fd = fd, .active = true, .buf = c->buf};
        w->active++;
        w->st.accepted++;
        if (w->active > w->st.peak)
            w->st.peak = w->active;
        conn_arm_recv(w, c);
        conn_check_done(w, c); /* accepted after the grace period: close it */
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        /* Out of descriptors or memory: keep serving, retry later, never spin. */
        w->st.accept_retries++;
        if (!w->stopping) {
            int64_t id = submit(w, vl_op_timeout(ACCEPT_RETRY_NS), &w->tag_retry);
            if (id > 0)
                w->retry_id = (uint64_t)id;
        }
    } else if (res != -ECANCELED && res != -ECONNABORTED && res != -EINTR && res != -EPROTO) {
        fprintf(stderr, "thread %d: accept: %s\n", w->index, vl_strerror((int)-res));
        if (res == -EBADF || res == -EINVAL || res == -ENOTSOCK)
            return; /* the listener is unusable: serve what is left */
    }
    arm_accept(w);
    maybe_close_listener(w);
}

/* ---- shutdown ------------------------------------------------------------- */

static void begin_stop(struct worker *w)
{
    w->stopping = true;
    cancel(w, w->accept_id);
    cancel(w, w->retry_id);
    maybe_close_listener(w);
    if (w->active) {
        int64_t id = submit(w, vl_op_timeout(g_grace_ns), &w->tag_grace);
        if (id > 0)
            w->grace_id = (uint64_t)id;
    }
}

static void force_close(struct worker *w)
{
    w->forced = true;
    for (uint32_t i = 0; i < w->nslots; i++)
        if (w->conns[i].active)
            conn_begin_close(w, &w->conns[i]);
}

/* ---- the worker ------------------------------------------------------------ */

static void dispatch(struct worker *w, const vl_completion *cq)
{
    void *ud = cq->user_data;
    if (ud == NULL)
        return; /* a CANCEL's own completion */
    if (ud == &w->tag_accept) {
        on_accept(w, cq->result);
    } else if (ud == &w->tag_retry) {
        w->retry_id = 0;
        arm_accept(w);
        maybe_close_listener(w);
    } else if (ud == &w->tag_grace) {
        w->grace_id = 0;
        if (cq->result == 0 && !w->forced)
            force_close(w); /* grace period over */
    } else if (ud == &w->tag_lclose) {
        /* listener closed */
    } else {
        struct conn *c = (struct conn *)((uintptr_t)ud & ~(uintptr_t)TAG_MASK);
        switch ((uintptr_t)ud & TAG_MASK) {
        case TAG_RECV:
            on_recv(w, c, cq->result);
            break;
        case TAG_SEND:
            on_send(w, c, cq->result);
            break;
        default:
            conn_free(w, c);
            break;
        }
    }
}

static void worker_main(void *arg)
{
    struct worker *w = arg;
    vl_engine_config cfg = {.driver = w->driver, .max_inflight = 4 * w->nslots + 16};
    vl_engine *e;
    int rc = vl_engine_create(&cfg, &e);
    if (rc < 0) {
        fprintf(stderr, "thread %d: vl_engine_create: %s\n", w->index, vl_strerror(-rc));
        close(w->lfd);
        w->exit_code = 1;
        atomic_store(&g_stop, 1); /* stop the other workers too */
        atomic_store(&g_force, 1);
        atomic_fetch_add(&g_done, 1);
        return;
    }
    printf("thread %d: driver %s (%s)\n", w->index, vl_engine_driver_name(e),
           vl_engine_driver_reason(e));
    atomic_store(&w->engine, e);

    arm_accept(w);
    vl_completion cq[CQ_BATCH];
    while (!(w->stopping && vl_engine_inflight(e) == 0)) {
        if (atomic_load(&g_stop) && !w->stopping)
            begin_stop(w);
        if (atomic_load(&g_force) && !w->forced)
            force_close(w);
        if (w->stopping && vl_engine_inflight(e) == 0)
            break;
        int n = vl_engine_poll(e, -1, cq, CQ_BATCH);
        for (int i = 0; i < n; i++)
            dispatch(w, &cq[i]);
    }
    vl_engine_destroy(e);
    atomic_fetch_add(&g_done, 1);
}

/* ---- setup ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: echo_server [--port P (0: any)] [--bind ADDR (127.0.0.1; ::1)]\n"
                    "                   [--driver auto|uring|epoll] [--threads N]\n"
                    "                   [--max-conns N (total)] [--backlog-bytes B (per conn)]\n"
                    "                   [--grace-ms MS]\n");
    exit(2);
}

static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "echo_server: bad number '%s' (%ld..%ld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

static int make_listener(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 4096) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *bind_addr = "127.0.0.1";
    long port = 7777, threads = 1, max_conns = 10000, budget = 16384;
    vl_driver_kind driver = VL_DRIVER_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--port"))
            port = parse_num(v, 0, 65535);
        else if (!strcmp(a, "--bind"))
            bind_addr = v;
        else if (!strcmp(a, "--threads"))
            threads = parse_num(v, 1, 256);
        else if (!strcmp(a, "--max-conns"))
            max_conns = parse_num(v, 1, 1000000);
        else if (!strcmp(a, "--backlog-bytes"))
            budget = parse_num(v, 1, 1L << 30);
        else if (!strcmp(a, "--grace-ms"))
            g_grace_ns = parse_num(v, 0, 3600000) * 1000000LL;
        else if (!strcmp(a, "--driver")) {
            if (!strcmp(v, "auto"))
                driver = VL_DRIVER_AUTO;
            else if (!strcmp(v, "uring"))
                driver = VL_DRIVER_URING;
            else if (!strcmp(v, "epoll"))
                driver = VL_DRIVER_EPOLL;
            else
                usage();
        } else
            usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct sockaddr_storage ss = {0};
    socklen_t sslen;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, bind_addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sslen = sizeof *sin;
    } else if (inet_pton(AF_INET6, bind_addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *sin6;
    } else {
        fprintf(stderr, "echo_server: --bind wants a numeric IPv4 or IPv6 address\n");
        return 2;
    }

    /* SIGINT/SIGTERM go to the main thread's sigtimedwait only: block them
     * before any thread starts (threads inherit the mask). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    uint32_t per = (uint32_t)((max_conns + threads - 1) / threads);
    if (!ws)
        return 1;
    /* Listeners first: with --port 0 the first bind picks the port and the
     * others join it through SO_REUSEPORT. */
    for (long t = 0; t < threads; t++) {
        int fd = make_listener(&ss, sslen);
        if (fd < 0) {
            fprintf(stderr, "echo_server: listen on %s port %u: %s\n", bind_addr,
                    ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port),
                    vl_strerror(-fd));
            return 1;
        }
        if (t == 0) {
            socklen_t l = sslen;
            getsockname(fd, (struct sockaddr *)&ss, &l);
        }
        ws[t].lfd = fd;
    }
    unsigned bound = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    printf("echo_server: listening on %s port %u (threads %ld, max-conns %u per thread, "
           "backlog %ld B per conn)\n",
           bind_addr, bound, threads, per, budget);

    /* Everything a worker needs, allocated once: the connection table and one
     * ring buffer per slot (pages are touched only when a slot is used). */
    vl_thread **th = calloc((size_t)threads, sizeof *th);
    for (long t = 0; t < threads; t++) {
        struct worker *w = &ws[t];
        w->index = (int)t;
        w->driver = driver;
        w->nslots = per;
        w->budget = (uint32_t)budget;
        w->conns = calloc(per, sizeof *w->conns);
        w->arena = calloc(per, (size_t)budget);
        if (!th || !w->conns || !w->arena) {
            fprintf(stderr, "echo_server: out of memory for %u connections\n", per);
            return 1;
        }
        for (uint32_t i = per; i-- > 0;) {
            w->conns[i].fd = -1;
            w->conns[i].buf = w->arena + (size_t)i * (size_t)budget;
            w->conns[i].next_free = w->free_list;
            w->free_list = &w->conns[i];
        }
        int rc = vl_thread_spawn(worker_main, w, 0, &th[t]);
        if (rc < 0) {
            fprintf(stderr, "echo_server: vl_thread_spawn: %s\n", vl_strerror(-rc));
            return 1;
        }
    }

    /* The signal thread (this one): wait for SIGINT/SIGTERM, set the flag,
     * wake every engine; a second signal ends the grace period at once. */
    int signals = 0, woken = 0;
    while (atomic_load(&g_done) < threads) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig > 0) {
            signals++;
            printf("echo_server: %s: %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                   signals == 1 ? "stopping (grace period)" : "closing every connection");
            atomic_store(signals == 1 ? &g_stop : &g_force, 1);
        }
        /* Wake every engine when the level rose (a signal, or a worker that failed). */
        int level = atomic_load(&g_force) ? 2 : atomic_load(&g_stop) ? 1 : 0;
        if (level > woken) {
            woken = level;
            for (long t = 0; t < threads; t++) {
                vl_engine *e = atomic_load(&ws[t].engine);
                if (e)
                    vl_engine_wake(e);
            }
        }
    }

    int code = 0;
    struct stats tot = {0};
    for (long t = 0; t < threads; t++) {
        vl_thread_join(th[t]);
        struct stats *s = &ws[t].st;
        printf("thread %ld: conns %" PRIu64 " (peak %" PRIu64 ", closed %" PRIu64 ") msgs %" PRIu64
               " bytes in %" PRIu64 " echoed %" PRIu64 " errors %" PRIu64
               " backpressure-stalls %" PRIu64 " accept-retries %" PRIu64 "\n",
               t, s->accepted, s->peak, s->closed, s->msgs, s->bytes_in, s->bytes_out, s->errors,
               s->stalls, s->accept_retries);
        tot.accepted += s->accepted;
        tot.msgs += s->msgs;
        tot.bytes_out += s->bytes_out;
        tot.errors += s->errors;
        code |= ws[t].exit_code;
        free(ws[t].conns);
        free(ws[t].arena);
    }
    printf("total: conns %" PRIu64 " msgs %" PRIu64 " bytes echoed %" PRIu64
           " client errors %" PRIu64 "\n",
           tot.accepted, tot.msgs, tot.bytes_out, tot.errors);
    free(th);
    free(ws);
    return code;
}
