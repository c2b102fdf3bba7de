/*
 * echo_server - a TCP echo server written directly on the vllsi engine API
 * (<vllsi/engine.h>): multishot ACCEPT and RECV into a buffer pool, SEND
 * straight from the pool's buffers, CLOSE / CANCEL / TIMEOUT; poll
 * completions, dispatch on user_data.
 *
 *   echo_server [--port P] [--bind ADDR] [--driver auto|uring|epoll|kqueue]
 *               [--threads N] [--max-conns N] [--backlog-bytes B] [--grace-ms MS]
 *               [--buffers N] [--buffer-size S] [--gather-us US]
 *
 * Design (docs/echo.md has the long version):
 *  - One engine per thread, each with its own SO_REUSEPORT listening socket
 *    (the kernel spreads new connections); nothing is shared on the hot path.
 *  - Per thread one buffer pool (--buffers x --buffer-size, a provided-buffer
 *    ring on io_uring) that every connection's multishot RECV fills: a buffer is
 *    taken only when data arrives, so idle connections hold no memory.
 *    Received buffers queue on their connection (a linked list through the
 *    pool's buffer ids) and are sent as they are, zero copy; a buffer goes
 *    back to the pool when its last byte is sent. No allocation per
 *    connection or per message: the connection table and pool are made once.
 *  - Per connection one multishot RECV armed for its lifetime and at most one
 *    SEND in flight; when several buffers are queued, that SEND is a SENDV
 *    gathering up to IOV_BATCH of them (one system call or SQE, and larger
 *    TCP segments, instead of one SEND and one round trip each). Backpressure: when a connection's
 * queued output passes
 *    --backlog-bytes (the peer does not read its echoes), its multishot RECV is
 *    cancelled (paused) and armed again once the queue drained to half. When
 *    the whole pool is out (-ENOBUFS), the connection waits on a starved
 *    list and is re-armed as soon as buffers come back; nothing is lost, the
 *    data waits in the socket.
 *  - One multishot ACCEPT per thread, paused (cancelled) while every connection
 *    slot is taken. EMFILE/ENFILE/ENOBUFS/ENOMEM end it; it is re-armed
 *    through a 100 ms TIMEOUT op, so descriptor exhaustion never spins.
 *  - SIGINT/SIGTERM are blocked in every thread; the main thread waits for
 *    them with sigtimedwait, sets a flag and wakes every engine. Each worker
 *    then stops accepting, closes its listener, lets connections run for the
 *    grace period, closes what is left, waits for its last completion and
 *    prints its statistics, its own and its engine's (vl_engine_stats). A
 *    second signal ends the grace period at once.
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

/* macOS has no SOCK_CLOEXEC; this program never execs, so nothing is lost. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

#define ACCEPT_RETRY_NS   (100 * 1000 * 1000LL)
#define CQ_BATCH          256
/*
 * Received bytes one poll's batch should carry, at most: the batch size
 * (completions per vl_engine_poll) shrinks when a batch brought more, and
 * grows back when it brought less than half. See next_batch.
 */
#define BURST_BYTES       (64 * 1024)
#define CQ_BATCH_MIN      2
/* The most completions a poll waits to gather, and how long by default. */
#define GATHER_MAX        16
#define GATHER_NS_DEFAULT 0
#define NO_BUF            UINT32_MAX

/* user_data of connection ops: the conn pointer with the op kind in its low bits. */
enum { TAG_RECV = 1, TAG_SEND = 2, TAG_CLOSE = 3, TAG_MASK = 3 };

/* The most queued buffers one SENDV gathers. */
#define IOV_BATCH 16

struct worker;

struct conn {
    int fd;
    bool active;
    bool closing;  /* no new RECV/SEND; cancel what is pending, then CLOSE */
    bool peer_eof; /* the peer shut its side: echo what is left, then close */
    bool close_submitted;
    bool paused;           /* multishot RECV cancelled for backpressure            */
    bool starved;          /* multishot RECV ended with -ENOBUFS: on w's starved list */
    uint32_t qhead, qtail; /* queued buffers (pool ids), NO_BUF: empty   */
    uint32_t head_off;     /* bytes of qhead already sent                 */
    uint32_t queued;       /* bytes received, not yet echoed              */
    uint64_t recv_id, send_id;
    vl_iovec iov[IOV_BATCH]; /* the SENDV in flight reads it until it completes */
    struct conn *next_free;
    struct conn *starved_prev, *starved_next;
};

struct stats {
    uint64_t accepted, closed, peak, msgs, bytes_in, bytes_out;
    uint64_t errors, stalls, accept_retries, enobufs, rejected;
};

struct worker {
    int index;
    int lfd;
    vl_engine *_Atomic engine; /* published for the signal thread's wake */
    vl_driver_kind driver;
    uint32_t nslots, budget;
    uint32_t nbufs, bufsize;
    vl_bufpool *pool;
    uint32_t *buf_next; /* per pool buffer: the next one in its connection's queue */
    uint32_t *buf_len;  /* per pool buffer: bytes received into it                 */
    struct conn *conns;
    struct conn *free_list;
    struct conn *starved; /* connections waiting for pool buffers */
    uint32_t active;
    uint64_t accept_id, retry_id, grace_id;
    bool stopping, forced, listener_closed, accept_paused;
    int exit_code;
    struct stats st;
    vl_engine_statistics es; /* the engine's, taken before it is destroyed */
    size_t batch_bytes;      /* bytes the current batch's RECV completions brought */
    /* Distinct addresses used as user_data of the worker's own ops. */
    char tag_accept, tag_retry, tag_grace, tag_lclose;
};

static atomic_int g_stop;  /* first signal: stop accepting, grace period */
static atomic_int g_force; /* second signal or grace over: close everything */
static atomic_int g_done;  /* workers that have finished */
static int64_t g_grace_ns = 2000LL * 1000 * 1000;
/* --gather-us: under load a poll waits up to this long for half the last
 * batch (vl_engine_poll_batch); 0: every poll returns at the first completion. */
static int64_t g_gather_ns = GATHER_NS_DEFAULT;

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

/* ---- the starved list: connections whose multishot RECV found the pool empty ---- */

static void starved_add(struct worker *w, struct conn *c)
{
    c->starved = true;
    c->starved_prev = NULL;
    c->starved_next = w->starved;
    if (w->starved)
        w->starved->starved_prev = c;
    w->starved = c;
}

static void starved_remove(struct worker *w, struct conn *c)
{
    if (!c->starved)
        return;
    c->starved = false;
    if (c->starved_prev)
        c->starved_prev->starved_next = c->starved_next;
    else
        w->starved = c->starved_next;
    if (c->starved_next)
        c->starved_next->starved_prev = c->starved_prev;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_try_close(struct worker *w, struct conn *c);
static void conn_arm_recv(struct worker *w, struct conn *c);

static void conn_begin_close(struct worker *w, struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    starved_remove(w, c);
    cancel(w, c->recv_id);
    cancel(w, c->send_id);
    conn_try_close(w, c);
}

/* Buffers came back to the pool: re-arm starved connections, a few per
 * released buffer so one release does not wake a thundering herd. */
static void kick_starved(struct worker *w)
{
    while (w->starved && vl_bufpool_available(w->pool) > 0) {
        struct conn *c = w->starved;
        starved_remove(w, c);
        conn_arm_recv(w, c);
    }
}

static void release_buf(struct worker *w, uint32_t bid)
{
    int rc = vl_bufpool_release(w->pool, bid);
    if (rc < 0)
        fprintf(stderr, "thread %d: release %u: %s\n", w->index, bid, vl_strerror(-rc));
}

/* Armed once per connection; again only after a pause, -ENOBUFS or a final
 * completion the connection survives. */
static void conn_arm_recv(struct worker *w, struct conn *c)
{
    if (c->closing || c->peer_eof || c->recv_id || c->paused || c->starved || w->forced)
        return;
    int64_t id = submit(w, vl_op_recv_multi(c->fd, w->pool, 0), tag(c, TAG_RECV));
    if (id < 0) {
        conn_begin_close(w, c);
        return;
    }
    c->recv_id = (uint64_t)id;
}

/* SEND what is queued: the unsent part of the first buffer and up to
 * IOV_BATCH - 1 buffers after it, as one SENDV when there are several. */
static void conn_arm_send(struct worker *w, struct conn *c)
{
    if (c->closing || c->send_id || c->qhead == NO_BUF)
        return;
    uint32_t n = 0;
    for (uint32_t b = c->qhead; b != NO_BUF && n < IOV_BATCH; b = w->buf_next[b], n++) {
        uint32_t off = n == 0 ? c->head_off : 0;
        c->iov[n] = (vl_iovec){(uint8_t *)vl_bufpool_buf(w->pool, b) + off, w->buf_len[b] - off};
    }
    vl_op op = n == 1 ? vl_op_send(c->fd, c->iov[0].base, c->iov[0].len, 0)
                      : vl_op_sendv(c->fd, c->iov, n, 0);
    int64_t id = submit(w, op, tag(c, TAG_SEND));
    if (id < 0) {
        conn_begin_close(w, c);
        return;
    }
    c->send_id = (uint64_t)id;
}

static void arm_accept(struct worker *w);

static void conn_free(struct worker *w, struct conn *c)
{
    /* Whatever was never echoed goes back to the pool. */
    for (uint32_t b = c->qhead, next; b != NO_BUF; b = next) {
        next = w->buf_next[b];
        release_buf(w, b);
    }
    starved_remove(w, c);
    c->active = false;
    c->fd = -1;
    c->next_free = w->free_list;
    w->free_list = c;
    w->active--;
    w->st.closed++;
    if (w->stopping && w->active == 0)
        cancel(w, w->grace_id); /* nothing left to wait for */
    kick_starved(w);
    arm_accept(w); /* a slot is free again */
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
    if (c->peer_eof && c->queued == 0 && !c->send_id)
        conn_begin_close(w, c);
    else if (w->forced)
        conn_begin_close(w, c);
}

/* Resume a paused connection once its queue drained to half the budget. */
static void conn_maybe_resume(struct worker *w, struct conn *c)
{
    if (c->paused && !c->recv_id && c->queued <= w->budget / 2) {
        c->paused = false;
        conn_arm_recv(w, c);
    }
}

static void conn_queue(struct worker *w, struct conn *c, uint32_t bid, uint32_t n)
{
    w->buf_len[bid] = n;
    w->buf_next[bid] = NO_BUF;
    if (c->qhead == NO_BUF)
        c->qhead = bid;
    else
        w->buf_next[c->qtail] = bid;
    c->qtail = bid;
    c->queued += n;
}

static void on_recv(struct worker *w, struct conn *c, int64_t res, uint32_t flags)
{
    if (flags & VL_CQE_MORE) {
        /* Data in a pool buffer: queue it for the SEND side. */
        conn_queue(w, c, vl_cqe_buffer(flags), (uint32_t)res);
        w->st.msgs++;
        w->st.bytes_in += (uint64_t)res;
        conn_arm_send(w, c);
        if (c->queued > w->budget && !c->paused && !c->closing) {
            c->paused = true; /* backpressure: stop reading until it drains */
            w->st.stalls++;
            cancel(w, c->recv_id);
        }
        return;
    }
    c->recv_id = 0;
    if (res == 0) {
        c->peer_eof = true;
    } else if (res == -ENOBUFS) {
        w->st.enobufs++; /* the data waits in the socket until buffers return */
        if (!c->closing)
            starved_add(w, c);
        kick_starved(w);
    } else if (res == -ECANCELED && c->paused) {
        conn_maybe_resume(w, c);
    } else if (res < 0) {
        if (res != -ECANCELED)
            w->st.errors++; /* -ECONNRESET and friends: the client vanished */
        conn_begin_close(w, c);
    } else {
        conn_arm_recv(w, c); /* the engine ended it with data: keep reading */
    }
    conn_check_done(w, c);
    conn_try_close(w, c);
}

static void on_send(struct worker *w, struct conn *c, int64_t res)
{
    c->send_id = 0;
    if (res > 0) {
        c->queued -= (uint32_t)res;
        w->st.bytes_out += (uint64_t)res;
        /* Buffers the send finished go back to the pool; it may end inside
         * any of them. */
        bool released = false;
        for (uint32_t left = (uint32_t)res; left > 0;) {
            uint32_t avail = w->buf_len[c->qhead] - c->head_off;
            if (left < avail) {
                c->head_off += left;
                break;
            }
            left -= avail;
            uint32_t done = c->qhead;
            c->qhead = w->buf_next[done];
            if (c->qhead == NO_BUF)
                c->qtail = NO_BUF;
            c->head_off = 0;
            release_buf(w, done);
            released = true;
        }
        if (released)
            kick_starved(w);
        conn_arm_send(w, c); /* the rest of a partial send, or what queued since */
        conn_maybe_resume(w, c);
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

/* One multishot ACCEPT, armed while a connection slot is free. */
static void arm_accept(struct worker *w)
{
    if (w->stopping || w->accept_id || w->retry_id || !w->free_list)
        return;
    int64_t id = submit(w, vl_op_accept_multi(w->lfd), &w->tag_accept);
    if (id > 0) {
        w->accept_id = (uint64_t)id;
        w->accept_paused = false;
    }
}

static void on_accepted(struct worker *w, int fd)
{
    struct conn *c = w->free_list;
    if (c == NULL) {
        close(fd); /* accepted before the pause took effect: no slot */
        w->st.rejected++;
        return;
    }
    w->free_list = c->next_free;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *c = (struct conn){.fd = fd, .active = true, .qhead = NO_BUF, .qtail = NO_BUF};
    w->active++;
    w->st.accepted++;
    if (w->active > w->st.peak)
        w->st.peak = w->active;
    conn_arm_recv(w, c);
    conn_check_done(w, c); /* accepted after the grace period: close it */
    if (w->free_list == NULL && w->accept_id && !w->accept_paused) {
        w->accept_paused = true; /* every slot taken: stop accepting for now */
        cancel(w, w->accept_id);
    }
}

static void on_accept(struct worker *w, int64_t res, uint32_t flags)
{
    if (flags & VL_CQE_MORE) {
        on_accepted(w, (int)res);
        return;
    }
    w->accept_id = 0;
    if (res >= 0) {
        on_accepted(w, (int)res);
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
        on_accept(w, cq->result, cq->flags);
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
            if (cq->result > 0)
                w->batch_bytes += (size_t)cq->result;
            on_recv(w, c, cq->result, cq->flags);
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

/*
 * The next poll's batch size. A batch's RECVs are echoed (their SENDs
 * submitted) at the next poll, so with a full batch of large reads (16
 * connections x 64 KiB) the kernel copies a megabyte in, then the same
 * megabyte out, in two bursts, and the peer reads the echoes after they have
 * left the cache. libev echoes each read before the next. A batch that
 * brought more than BURST_BYTES shrinks the next one to what would have
 * stayed under it (at least CQ_BATCH_MIN); one that brought less than half
 * grows it back, so small messages keep the full CQ_BATCH. Measured at
 * 16 x 64 KiB ping-pong (docs/benchmarks.md): 0.81x libev's throughput
 * with it, 0.55x with full batches; server CPU per message 0.95x libev's
 * against 0.86x.
 *
 * Not while completions queue up (pool_low: more than half the pool is
 * out, e.g. 1000 connections x 4 KiB x 16): small batches there only add
 * polls and leave connections waiting (at 1000 x 4 KiB x 16 they take p99
 * from 40 to 135 ms and server CPU per message from 0.96x to 0.78x
 * libev's), so then the batch is the full CQ_BATCH.
 */
static int next_batch(int cap, int n, size_t bytes, bool pool_low)
{
    if (pool_low)
        return CQ_BATCH;
    if (bytes > BURST_BYTES) {
        size_t fit = (size_t)BURST_BYTES * (size_t)n / bytes;
        return fit < CQ_BATCH_MIN ? CQ_BATCH_MIN : (int)fit;
    }
    if (bytes < BURST_BYTES / 2 && cap < CQ_BATCH)
        return cap * 2 > CQ_BATCH ? CQ_BATCH : cap * 2;
    return cap;
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
    rc = vl_bufpool_create(e, w->nbufs, w->bufsize, &w->pool);
    if (rc < 0) {
        fprintf(stderr, "thread %d: vl_bufpool_create(%u x %u): %s\n", w->index, w->nbufs,
                w->bufsize, vl_strerror(-rc));
        vl_engine_destroy(e);
        close(w->lfd);
        w->exit_code = 1;
        atomic_store(&g_stop, 1);
        atomic_store(&g_force, 1);
        atomic_fetch_add(&g_done, 1);
        return;
    }
    atomic_store(&w->engine, e);

    arm_accept(w);
    vl_completion cq[CQ_BATCH];
    int cap = CQ_BATCH, last = 0;
    while (!(w->stopping && vl_engine_inflight(e) == 0)) {
        if (atomic_load(&g_stop) && !w->stopping)
            begin_stop(w);
        if (atomic_load(&g_force) && !w->forced)
            force_close(w);
        if (w->stopping && vl_engine_inflight(e) == 0)
            break;
        /* Under load (the last poll brought several), let half as many
         * gather before waking; one at a time never waits. */
        int want = last / 2 < GATHER_MAX ? last / 2 : GATHER_MAX;
        int n = g_gather_ns > 0 && want >= 2 && want <= cap && !w->stopping
                    ? vl_engine_poll_batch(e, -1, want, g_gather_ns, cq, cap)
                    : vl_engine_poll(e, -1, cq, cap);
        last = n > 0 ? n : 0;
        w->batch_bytes = 0;
        for (int i = 0; i < n; i++)
            dispatch(w, &cq[i]);
        cap = next_batch(cap, n, w->batch_bytes, vl_bufpool_available(w->pool) < w->nbufs / 2);
    }
    w->es.size = sizeof(w->es);
    if (vl_engine_stats(e, &w->es) < 0)
        w->es.size = 0;
    vl_engine_destroy(e);
    atomic_fetch_add(&g_done, 1);
}

/* ---- setup ---------------------------------------------------------------- */

/* The engine's statistics in two lines: what it did, then the op kinds it
 * ran (submitted/completed). */
static void print_engine_stats(long t, const vl_engine_statistics *s)
{
#define KIND_NAME(NAME, name) #name,
    static const char *const kinds[VL_OP_KIND_COUNT_] = {VL_OP_KINDS(KIND_NAME)};
#undef KIND_NAME
    if (s->size == 0)
        return;
    printf("thread %ld: engine %s: ops %" PRIu64 " (native %" PRIu64 ") completions %" PRIu64
           " syscalls %" PRIu64 " (waits %" PRIu64 ", %.1f completions each) ebusy %" PRIu64
           " cq-overflow %" PRIu64 " cq-deferred %" PRIu64 " pool-starved %" PRIu64
           " pool-rearmed %" PRIu64 "\n",
           t, s->driver_name, s->native + s->emulated, s->native, s->completions, s->kernel_enters,
           s->kernel_waits,
           s->kernel_enters ? (double)s->kernel_completions / (double)s->kernel_enters : 0.0,
           s->busy_refusals, s->cq_overflow + s->cq_dropped, s->cq_deferred, s->pool_starved,
           s->pool_rearmed);
    printf("thread %ld: ops", t);
    for (int k = 0; k < VL_OP_KIND_COUNT_; k++)
        if (s->submitted[k] > 0)
            printf(" %s %" PRIu64 "/%" PRIu64, kinds[k], s->submitted[k], s->completed[k]);
    printf("\n");
}

static void usage(void)
{
    fprintf(stderr, "usage: echo_server [--port P (0: any)] [--bind ADDR (127.0.0.1; ::1)]\n"
                    "                   [--driver auto|uring|epoll|kqueue] [--threads N]\n"
                    "                   [--max-conns N (total)] [--backlog-bytes B (per conn)]\n"
                    "                   [--grace-ms MS] [--buffers N (power of 2, per thread)]\n"
                    "                   [--buffer-size S] [--gather-us US (0: off)]\n");
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

/* One of sigs (blocked in every thread), waiting up to 100 ms; 0 if none
 * came. macOS has no sigtimedwait: there sleep, then take one pending. */
static int next_signal(const sigset_t *sigs)
{
#ifdef __linux__
    struct timespec ts = {0, 100 * 1000 * 1000};
    int sig = sigtimedwait(sigs, NULL, &ts);
    return sig > 0 ? sig : 0;
#else
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return 0;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(sigs, sig) == 1 && sigismember(&pending, sig) == 1) {
            sigset_t one;
            int got;
            sigemptyset(&one);
            sigaddset(&one, sig);
            return sigwait(&one, &got) == 0 ? got : 0;
        }
    }
    return 0;
#endif
}

int main(int argc, char **argv)
{
    const char *bind_addr = "127.0.0.1";
    long port = 7777, threads = 1, max_conns = 10000, budget = 262144;
    long nbufs = 512, bufsize = 65536;
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
        else if (!strcmp(a, "--buffers"))
            nbufs = parse_num(v, 1, VL_BUFPOOL_MAX_COUNT);
        else if (!strcmp(a, "--buffer-size"))
            bufsize = parse_num(v, 1, 1L << 24);
        else if (!strcmp(a, "--gather-us"))
            g_gather_ns = parse_num(v, 0, 100000) * 1000LL;
        else if (!strcmp(a, "--grace-ms"))
            g_grace_ns = parse_num(v, 0, 3600000) * 1000000LL;
        else if (!strcmp(a, "--driver")) {
            if (!strcmp(v, "auto"))
                driver = VL_DRIVER_AUTO;
            else if (!strcmp(v, "uring"))
                driver = VL_DRIVER_URING;
            else if (!strcmp(v, "epoll"))
                driver = VL_DRIVER_EPOLL;
            else if (!strcmp(v, "kqueue"))
                driver = VL_DRIVER_KQUEUE;
            else
                usage();
        } else
            usage();
    }
    if (nbufs & (nbufs - 1)) {
        fprintf(stderr, "echo_server: --buffers must be a power of two\n");
        return 2;
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
           "backlog %ld B per conn, pool %ld x %ld B per thread)\n",
           bind_addr, bound, threads, per, budget, nbufs, bufsize);

    /* Everything a worker needs, allocated once: the connection table and
     * the pool's per-buffer queue links (the pool itself belongs to the
     * worker's engine). */
    vl_thread **th = calloc((size_t)threads, sizeof *th);
    for (long t = 0; t < threads; t++) {
        struct worker *w = &ws[t];
        w->index = (int)t;
        w->driver = driver;
        w->nslots = per;
        w->budget = (uint32_t)budget;
        w->nbufs = (uint32_t)nbufs;
        w->bufsize = (uint32_t)bufsize;
        w->conns = calloc(per, sizeof *w->conns);
        w->buf_next = calloc((size_t)nbufs, sizeof *w->buf_next);
        w->buf_len = calloc((size_t)nbufs, sizeof *w->buf_len);
        if (!th || !w->conns || !w->buf_next || !w->buf_len) {
            fprintf(stderr, "echo_server: out of memory for %u connections\n", per);
            return 1;
        }
        for (uint32_t i = per; i-- > 0;) {
            w->conns[i].fd = -1;
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
        int sig = next_signal(&sigs);
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
               " backpressure-stalls %" PRIu64 " accept-retries %" PRIu64 " enobufs %" PRIu64
               " rejected %" PRIu64 "\n",
               t, s->accepted, s->peak, s->closed, s->msgs, s->bytes_in, s->bytes_out, s->errors,
               s->stalls, s->accept_retries, s->enobufs, s->rejected);
        print_engine_stats(t, &ws[t].es);
        tot.accepted += s->accepted;
        tot.msgs += s->msgs;
        tot.bytes_out += s->bytes_out;
        tot.errors += s->errors;
        code |= ws[t].exit_code;
        free(ws[t].conns);
        free(ws[t].buf_next);
        free(ws[t].buf_len);
    }
    printf("total: conns %" PRIu64 " msgs %" PRIu64 " bytes echoed %" PRIu64
           " client errors %" PRIu64 "\n",
           tot.accepted, tot.msgs, tot.bytes_out, tot.errors);
    free(th);
    free(ws);
    return code;
}
