/*
 * tests/fuzz/engine_fuzz.c - a libFuzzer target for the IOEngine.
 *
 * The input is a program. Byte 0 picks the driver (sim, epoll, io_uring);
 * for sim, bytes 1..3 pick the fault rates and the seed; for the real
 * drivers bytes 1..2 pick injected faults (builds with VLLSI_FAULT_INJECTION). The rest is a
 * sequence of actions, each an opcode byte and its operand bytes (missing
 * bytes read as 0): submit an op (RECV, SEND, SENDV, SENDMSG, RECVMSG, READ, WRITE, TIMEOUT, NOP,
 * CLOSE, SHUTDOWN, POLL one-shot or multishot, multishot RECV and RECVMSG into a buffer pool;
 * ACCEPT, multishot ACCEPT and CONNECT on a listening socket of the input's own) on one of six
 * descriptors (two socket pairs and a pipe), cancel a live or stale id, poll, act as the peer
 * outside the engine (write into, read from, half-close or close the other end), or shut the engine
 * down. Every engine call goes through tests/invariants.h, which checks exactly-once delivery,
 * result domains, user_data, and buffer ownership (buffers are mmap'd and sealed PROT_NONE once
 * their completion is harvested); after destroy the descriptor count must be back where it was. A
 * violation prints what broke and aborts, so libFuzzer keeps the input.
 *
 * Real drivers never block here: polls wait at most 1 ms, TIMEOUTs last at
 * most 2.55 ms, direct peer I/O uses MSG_DONTWAIT on sockets and writes to
 * the pipe only while its (enlarged) buffer cannot fill.
 *
 * Build: cmake -DVLLSI_FUZZ=ON -DVLLSI_SANITIZE=address,undefined with
 * CC=clang-14 (scripts/ci/fuzz.sh does it), then
 *   engine_fuzz tests/fuzz/corpus -max_total_time=60
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/engine.h>
#include <vllsi/sim.h>

#include "fault.h"
#include "invariants.h"

#define NFD        6 /* [0]<->[1], [2]<->[3] socket pairs, [4] pipe read, [5] write */
#define MAX_ACTS   200
#define MAX_IDS    64
#define MAX_LEN    512
#define PIPE_BYTES (1 << 20)
#define MAX_EXTRA  64 /* client sockets and accepted descriptors per input */

struct prog {
    const uint8_t *p;
    size_t n, at;
};

static uint8_t next_byte(struct prog *g)
{
    return g->at < g->n ? g->p[g->at++] : 0;
}

struct world {
    vl_driver_kind kind;
    vl_engine *e;
    struct inv v;
    int fd[NFD];
    bool closed[NFD];     /* closed directly by the harness (a peer action) */
    bool close_sent[NFD]; /* a CLOSE op named it: the number may be reused  */
    uint64_t ids[MAX_IDS];
    unsigned nids;
    size_t pipe_queued; /* bytes the pipe may hold at most, for direct writes */
    vl_bufpool *pool;   /* multishot RECV's buffers (4 x 64 bytes)            */
    struct msghdr mh;   /* multishot RECVMSG's areas (none), live for the run */
    bool shut;
    int lfd; /* a listening AF_UNIX socket (abstract name) for ACCEPT/CONNECT */
    struct sockaddr_un laddr;
    socklen_t laddr_len;
    int extra[MAX_EXTRA]; /* client sockets and accepted fds the harness owns */
    unsigned nextra;
};

static void die(struct world *w, const char *what)
{
    char d[320] = "";
    if (w->kind == VL_DRIVER_SIM)
        vl_sim_describe(w->e, d, sizeof(d));
    fprintf(stderr, "engine_fuzz: %s (driver %s) %s\n", what, vl_engine_driver_name(w->e), d);
    abort();
}

static void check(struct world *w)
{
    if (!inv_ok(&w->v))
        die(w, inv_why(&w->v));
}

static int make_fds(struct world *w)
{
    if (w->kind == VL_DRIVER_SIM) {
        int p[2];
        if (vl_sim_socketpair(w->e, w->fd) < 0 || vl_sim_socketpair(w->e, w->fd + 2) < 0 ||
            vl_sim_pipe(w->e, p) < 0)
            return -1;
        w->fd[4] = p[0];
        w->fd[5] = p[1];
        return 0;
    }
    int p[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->fd) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w->fd + 2) < 0 ||
        pipe2(p, O_CLOEXEC) < 0)
        return -1;
    w->fd[4] = p[0];
    w->fd[5] = p[1];
    /* A pipe that no harness write can fill: direct writes never block. */
    fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
    return 0;
}

/* A listener per input, at a name no other input or process uses. */
static int make_listener(struct world *w)
{
    static unsigned counter;
    memset(&w->laddr, 0, sizeof(w->laddr));
    w->laddr.sun_family = AF_UNIX;
    int n = snprintf(w->laddr.sun_path + 1, sizeof(w->laddr.sun_path) - 1, "vllsi-fuzz-%d-%u",
                     (int)getpid(), counter++);
    w->laddr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    if (w->kind == VL_DRIVER_SIM) {
        w->lfd = vl_sim_listen(w->e, (struct sockaddr *)&w->laddr, w->laddr_len, 8);
        return w->lfd < 0 ? -1 : 0;
    }
    w->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (w->lfd < 0 || bind(w->lfd, (struct sockaddr *)&w->laddr, w->laddr_len) < 0 ||
        listen(w->lfd, 8) < 0)
        return -1;
    return 0;
}

/* Take ownership of a descriptor made during the run (closed at the end). */
static void own_fd(struct world *w, int fd)
{
    if (w->nextra < MAX_EXTRA) {
        w->extra[w->nextra++] = fd;
        return;
    }
    if (w->kind == VL_DRIVER_SIM)
        vl_sim_close(w->e, fd);
    else
        close(fd);
}

/* Accepted descriptors become the harness's, whenever they are harvested
 * (inv_finish's drain included). */
static void on_completion(void *ctx, const vl_op *op, const vl_completion *c)
{
    if (op->kind == VL_OP_ACCEPT && c->result >= 0)
        own_fd(ctx, (int)c->result);
}

static void remember(struct world *w, int64_t id)
{
    if (id > 0)
        w->ids[w->nids++ % MAX_IDS] = (uint64_t)id;
}

static void submit(struct world *w, const vl_op *op, void *ud)
{
    remember(w, inv_submit(&w->v, w->e, op, ud));
    check(w);
}

static void fill(uint8_t *b, size_t len, uint8_t seed)
{
    for (size_t k = 0; k < len; k++)
        b[k] = (uint8_t)(seed + k * 7);
}

/* A transfer op on one of the descriptors with a guarded buffer. */
/*
 * A SENDV of len bytes in 1..4 pieces (some may be empty): the data and
 * the iov array share one guarded buffer, so the checker seals both when
 * the op is harvested and a driver touching either afterwards faults. The
 * array goes last: the buffer ends at a page boundary, so it is aligned
 * there (and reading past it faults).
 */
static void act_sendv(struct world *w, int fd, size_t len, uint8_t flags)
{
    uint32_t n = 1 + ((flags >> 2) & 3);
    uint8_t *data = inv_buf(&w->v, len + n * sizeof(vl_iovec));
    if (data == NULL)
        die(w, "inv_buf failed");
    vl_iovec *iov = (vl_iovec *)(void *)(data + len);
    fill(data, len, flags);
    size_t at = 0;
    for (uint32_t k = 0; k < n; k++) {
        size_t piece = k + 1 == n ? len - at : (len - at) * ((flags >> (k + 4)) & 1) / 2;
        iov[k] = (vl_iovec){data + at, piece};
        at += piece;
    }
    vl_op op = vl_op_sendv(fd, iov, n, 0);
    submit(w, &op, (void *)(uintptr_t)(w->v.issued + 1));
}

/*
 * A SENDMSG or RECVMSG (sendto / recvfrom, no address: the descriptors are
 * connected streams and a pipe) of len bytes: the data and the vl_msgio
 * share one guarded buffer, sealed when the op is harvested. flags 0x10:
 * a RECVMSG with MSG_PEEK.
 */
static void act_msg(struct world *w, int fd, size_t len, bool recv_side, uint8_t flags)
{
    uint8_t *data = inv_buf(&w->v, len + sizeof(vl_msgio));
    if (data == NULL)
        die(w, "inv_buf failed");
    vl_msgio *m = (vl_msgio *)(void *)(data + len);
    fill(data, len, flags);
    vl_op op = recv_side ? vl_op_recvfrom(fd, m, data, len, (flags & 0x10) ? MSG_PEEK : 0, NULL, 0)
                         : vl_op_sendto(fd, m, data, len, 0, NULL, 0);
    submit(w, &op, (void *)(uintptr_t)(w->v.issued + 1));
}

static void act_transfer(struct world *w, struct prog *g, unsigned kind)
{
    int fd = w->fd[next_byte(g) % NFD];
    size_t len = 1 + (size_t)next_byte(g) * 2;
    uint8_t flags = next_byte(g);
    if (len > MAX_LEN)
        len = MAX_LEN;
    if (kind == 1 && (flags & 0x40)) {
        act_sendv(w, fd, len, flags);
        return;
    }
    if (kind <= 1 && (flags & 0x20)) {
        act_msg(w, fd, len, kind == 0, flags);
        return;
    }
    uint8_t *buf = inv_buf(&w->v, len);
    if (buf == NULL)
        die(w, "inv_buf failed");
    fill(buf, len, flags);
    vl_op op;
    int64_t off = (flags & 0x80) ? 0 : -1; /* an offset on a stream: -ESPIPE */
    switch (kind) {
    case 0:
        op = vl_op_recv(fd, buf, len, (flags & 1) ? MSG_DONTWAIT : 0);
        break;
    case 1:
        op = vl_op_send(fd, buf, len, 0);
        break;
    case 2:
        op = vl_op_read(fd, buf, len, off);
        break;
    default:
        op = vl_op_write(fd, buf, len, off);
        if (fd == w->fd[5])
            w->pipe_queued += len;
        break;
    }
    submit(w, &op, (void *)(uintptr_t)(w->v.issued + 1));
}

static void act_cancel(struct world *w, struct prog *g)
{
    uint8_t b = next_byte(g);
    uint64_t target = w->nids && b < 200 ? w->ids[b % (w->nids < MAX_IDS ? w->nids : MAX_IDS)]
                                         : ((uint64_t)b << 32) | 1; /* likely stale */
    vl_op op = vl_op_cancel(target);
    submit(w, &op, NULL);
}

/* A multishot RECV completion hands a pool buffer to us: it must be one the
 * pool had lent out (released exactly once), and it goes back at once. */
static void give_back(struct world *w, const vl_completion *c)
{
    if (!(c->flags & VL_CQE_BUFFER))
        return;
    uint32_t bid = vl_cqe_buffer(c->flags);
    int rc = w->pool ? vl_bufpool_release(w->pool, bid) : -EINVAL;
    if (rc != 0)
        inv_fail(&w->v, "id %llx: buffer %u handed out but release says %d",
                 (unsigned long long)c->id, bid, rc);
}

static void act_poll(struct world *w, struct prog *g, bool wait)
{
    vl_completion c[16];
    uint8_t b = next_byte(g);
    int64_t t = 0;
    if (wait)
        t = w->kind == VL_DRIVER_SIM ? (int64_t)b * 1000000 : (int64_t)b * 4000;
    int n = inv_poll(&w->v, w->e, t, c, 1 + b % 16);
    if (n < 0)
        die(w, "poll failed");
    for (int k = 0; k < n; k++)
        give_back(w, &c[k]);
    check(w);
}

/* ACCEPT / multishot ACCEPT on the listener, or CONNECT a new socket to it. */
static void act_conn(struct world *w, unsigned kind)
{
    vl_op op;
    if (kind == 0) {
        op = vl_op_accept(w->lfd, NULL, NULL);
    } else if (kind == 2) {
        op = vl_op_accept_multi(w->lfd);
    } else {
        if (w->nextra >= MAX_EXTRA)
            return;
        int c = w->kind == VL_DRIVER_SIM ? vl_sim_socket(w->e)
                                         : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0)
            return; /* after shutdown (sim), or out of descriptors */
        own_fd(w, c);
        op = vl_op_connect(c, (struct sockaddr *)&w->laddr, w->laddr_len);
    }
    submit(w, &op, NULL);
}

/* SHUTDOWN of one of the descriptors (b: which, and how); a how of 3 is
 * -EINVAL at submit. A number that may have been reused since its close
 * names -1 instead (-EBADF), as CLOSE does. */
static void act_shutdown(struct world *w, uint8_t b)
{
    unsigned i = b % NFD;
    int how = (b >> 4) & 3;
    bool gone = w->close_sent[i] || w->closed[i];
    vl_op op = vl_op_shutdown(gone ? -1 : w->fd[i], how);
    int64_t id = inv_submit(&w->v, w->e, &op, NULL);
    if (how == 3 && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "SHUTDOWN with how 3: submit = %lld, expected -EINVAL", (long long)id);
    remember(w, id);
    check(w);
}

/* POLL of one of the descriptors (b: which, and multishot with bit 7) for
 * the events e picks (bit k of e: IN, PRI, OUT, ERR, HUP, RDHUP; 0, or
 * e >= 0xc0, which adds POLLRDNORM, is -EINVAL at submit). A number that
 * may have been reused since its close names -1 instead (-EBADF). */
static void act_poll_op(struct world *w, uint8_t b, uint8_t e)
{
    static const uint32_t bit[6] = {VL_POLL_IN,  VL_POLL_PRI, VL_POLL_OUT,
                                    VL_POLL_ERR, VL_POLL_HUP, VL_POLL_RDHUP};
    unsigned i = b % NFD;
    uint32_t events = e >= 0xc0 ? VL_POLL_IN | 0x40u : 0;
    for (int k = 0; k < 6; k++)
        if (e & (1u << k))
            events |= bit[k];
    bool gone = w->close_sent[i] || w->closed[i];
    int fd = gone ? -1 : w->fd[i];
    vl_op op = (b & 0x80) ? vl_op_poll_multi(fd, events) : vl_op_poll(fd, events);
    int64_t id = inv_submit(&w->v, w->e, &op, NULL);
    bool bad = events == 0 || (events & ~VL_POLL_ALL) != 0;
    if (bad && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "POLL with events %#x: submit = %lld, expected -EINVAL", events,
                 (long long)id);
    remember(w, id);
    check(w);
}

/* A multishot RECV into the input's buffer pool (made on first use). A
 * byte of 0xf0 and above makes it malformed instead (a buffer as well as
 * the pool, or the pool without the mode's flag), which submit must refuse
 * with -EINVAL and no id (inv_submit checks the live count). */
static void act_recv_multi(struct world *w, struct prog *g)
{
    uint8_t b = next_byte(g);
    int fd = w->fd[b % NFD];
    if (w->pool == NULL && vl_bufpool_create(w->e, 4, 64, &w->pool) != 0) {
        w->pool = NULL;
        return; /* after shutdown, or an injected ENOMEM */
    }
    vl_op op = vl_op_recv_multi(fd, w->pool, 0);
    static uint8_t spare[8];
    if ((b & 0x70) == 0x70 && b < 0xf0)
        op = vl_op_recvmsg_multi(fd, &w->mh, w->pool, 0); /* RECVMSG, the same pool */
    if (b >= 0xf8) {
        op.flags = 0;
    } else if (b >= 0xf0) {
        op.u.msg.buf = spare;
        op.u.msg.len = sizeof(spare);
    }
    int64_t id = inv_submit(&w->v, w->e, &op, NULL);
    if (b >= 0xf0 && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "a malformed multishot RECV: submit = %lld, expected -EINVAL",
                 (long long)id);
    remember(w, id);
    check(w);
}

/* A direct write to the pipe, whose reader may be gone: SIGPIPE is blocked
 * for it and a pending one taken, so only the engine's own writes can
 * raise one (which must never happen). */
static void pipe_write(struct world *w, int fd, const void *buf, size_t len)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    w->pipe_queued += len;
    if (write(fd, buf, len) < 0 && errno == EPIPE) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The other end, outside the engine. */
static void act_peer(struct world *w, struct prog *g)
{
    uint8_t b = next_byte(g);
    unsigned i = (b >> 2) % NFD;
    int fd = w->fd[i];
    uint8_t tmp[MAX_LEN];
    size_t len = 1 + next_byte(g) * 2u;
    fill(tmp, sizeof(tmp), b);
    if (w->kind == VL_DRIVER_SIM) {
        switch (b & 3) {
        case 0:
            vl_sim_write(w->e, fd, tmp, len);
            break;
        case 1:
            vl_sim_read(w->e, fd, tmp, len);
            break;
        case 2:
            vl_sim_shutdown(w->e, fd, SHUT_WR);
            break;
        default:
            if (!w->closed[i] && !w->close_sent[i] && vl_sim_close(w->e, fd) == 0)
                w->closed[i] = true;
            break;
        }
        return;
    }
    if (w->closed[i] || (w->close_sent[i] && (b & 3) == 3))
        return; /* never close a number that may have been reused */
    switch (b & 3) {
    case 0:
        if (i < 4)
            (void)!send(fd, tmp, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        else if (i == 5 && w->pipe_queued + len < PIPE_BYTES / 2)
            pipe_write(w, fd, tmp, len);
        break;
    case 1:
        if (i < 4)
            (void)!recv(fd, tmp, len, MSG_DONTWAIT);
        break;
    case 2:
        if (i < 4)
            shutdown(fd, SHUT_WR);
        break;
    default:
        close(fd);
        w->closed[i] = true;
        break;
    }
}

static void act(struct world *w, struct prog *g)
{
    uint8_t op = next_byte(g) % 16;
    vl_op o;
    switch (op) {
    case 0:
    case 1:
    case 2:
    case 3:
        act_transfer(w, g, op);
        break;
    case 4:
        o = vl_op_timeout((int64_t)next_byte(g) * 10000);
        submit(w, &o, NULL);
        break;
    case 5:
        o = vl_op_nop();
        submit(w, &o, NULL);
        break;
    case 6:
        act_cancel(w, g);
        break;
    case 7: {
        /* Once a number may belong to a descriptor made since (an accepted
         * one), closing it again would close that one behind the engine's
         * back: the second CLOSE names -1 instead (-EBADF). */
        unsigned i = next_byte(g) % NFD;
        bool again = w->close_sent[i] || w->closed[i];
        o = vl_op_close(again ? -1 : w->fd[i]);
        w->close_sent[i] = true;
        submit(w, &o, NULL);
        break;
    }
    case 8:
        act_poll(w, g, false);
        break;
    case 9:
        act_poll(w, g, true);
        break;
    case 10:
        act_peer(w, g);
        break;
    case 11: {
        uint8_t b = next_byte(g);
        act_poll_op(w, b, next_byte(g));
        break;
    }
    case 12:
        act_recv_multi(w, g);
        break;
    case 13:
    case 14:
    case 15:
        act_conn(w, op - 13u);
        break;
    default: {
        /* The engine's shutdown, rarely; else a SHUTDOWN op. */
        uint8_t b = next_byte(g);
        if (b < 16 && !w->shut) {
            vl_engine_shutdown(w->e);
            w->shut = true;
        } else if (b >= 16) {
            act_shutdown(w, b);
        }
        break;
    }
    }
}

static void configure_sim(struct world *w, struct prog *g)
{
    uint8_t f = next_byte(g);
    vl_sim_config cfg = {
        .seed = 1 + next_byte(g) + 256u * next_byte(g),
        .short_ppm = (f & 3) * 150000u,
        .eagain_ppm = ((f >> 2) & 3) * 150000u,
        .delay_ppm = ((f >> 4) & 3) * 150000u,
        .reset_ppm = ((f >> 6) & 1) * 20000u,
        .max_delay_ns = 100000,
    };
    if (vl_sim_configure(w->e, &cfg) != 0)
        die(w, "vl_sim_configure failed");
}

/*
 * Real drivers: bytes 1..2 choose the faults the engine's hooks inject
 * (src/engine/fault.h) in a build with VLLSI_FAULT_INJECTION: short
 * transfers, EAGAIN from the kernel, EINTR and EBUSY from the wait, a full
 * submission ring, ENOMEM at create. In other builds the bytes are read and
 * ignored, so a corpus means the same program in both.
 */
static struct vl__fault g_faults;

static void configure_real_faults(struct prog *g)
{
    uint8_t f = next_byte(g), seed = next_byte(g);
    vl__fault_init(&g_faults, 1 + seed);
    g_faults.ppm[VL__FAULT_SHORT] = (f & 3) * 100000u;
    g_faults.ppm[VL__FAULT_EAGAIN] = ((f >> 2) & 3) * 100000u;
    g_faults.ppm[VL__FAULT_EINTR] = ((f >> 4) & 1) * 100000u;
    g_faults.ppm[VL__FAULT_EBUSY] = ((f >> 5) & 1) * 50000u;
    g_faults.ppm[VL__FAULT_SQ_FULL] = ((f >> 6) & 1) * 100000u;
    g_faults.ppm[VL__FAULT_ENOMEM] = ((f >> 7) & 1) * 300000u;
    (void)vl__fault_install(f ? &g_faults : NULL);
}

/* Close what the engine's CLOSE ops and the peer actions left open. No
 * other descriptor is made during a run, so an open number is still ours. */
static void close_leftovers(struct world *w)
{
    if (w->kind == VL_DRIVER_SIM)
        return; /* the engine owns virtual descriptors */
    /* A number closed by a CLOSE op may have been reused by a socket made
     * later; closing it twice then gives EBADF, which is harmless here. */
    for (int i = 0; i < NFD; i++)
        if (!w->closed[i] && fcntl(w->fd[i], F_GETFD) >= 0)
            close(w->fd[i]);
    for (unsigned k = 0; k < w->nextra; k++)
        if (fcntl(w->extra[k], F_GETFD) >= 0)
            close(w->extra[k]);
    if (w->lfd >= 0)
        close(w->lfd);
}

/* VLLSI_FUZZ_DRIVER=sim|epoll|uring|kqueue pins the driver (byte 0 is then
 * ignored), so that each driver gets a fuzzing session of its own. */
static int pinned_driver(vl_driver_kind *kind)
{
    const char *v = getenv("VLLSI_FUZZ_DRIVER");
    if (v == NULL || v[0] == '\0')
        return 0;
    if (strcmp(v, "sim") == 0)
        *kind = VL_DRIVER_SIM;
    else if (strcmp(v, "epoll") == 0)
        *kind = VL_DRIVER_EPOLL;
    else if (strcmp(v, "uring") == 0)
        *kind = VL_DRIVER_URING;
    else if (strcmp(v, "kqueue") == 0)
        *kind = VL_DRIVER_KQUEUE; /* a build with kqueue (VLLSI_KQUEUE on Linux) */
    else {
        fprintf(stderr, "engine_fuzz: VLLSI_FUZZ_DRIVER=%s: want sim, epoll, uring or kqueue\n", v);
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const vl_driver_kind kinds[3] = {VL_DRIVER_SIM, VL_DRIVER_EPOLL, VL_DRIVER_URING};
    struct prog g = {data, size, 0};
    struct world w;
    memset(&w, 0, sizeof(w));
    w.lfd = -1;
    w.kind = kinds[next_byte(&g) % 3];
    if (pinned_driver(&w.kind) < 0)
        abort();
    signal(SIGPIPE, SIG_DFL); /* the engine must never let one through */
    int fds_before = inv_count_fds();
    if (w.kind != VL_DRIVER_SIM)
        configure_real_faults(&g);
    vl_engine_config cfg = {.driver = w.kind, .max_inflight = 128};
    int rc = vl_engine_create(&cfg, &w.e);
    if (rc != 0) {
        (void)vl__fault_install(NULL);
        if (inv_count_fds() != fds_before) {
            fprintf(stderr, "engine_fuzz: a failed create (%d) leaked a descriptor\n", rc);
            abort();
        }
        if (rc == -ENOMEM && g_faults.ppm[VL__FAULT_ENOMEM] > 0)
            return 0; /* the injected ENOMEM, reported cleanly */
        if (w.kind == VL_DRIVER_URING)
            return 0; /* io_uring may be unavailable here; nothing to test */
        fprintf(stderr, "engine_fuzz: cannot create a %d engine: %d\n", (int)w.kind, rc);
        abort();
    }
    if (inv_init(&w.v, w.kind, cfg.max_inflight) != 0 || make_fds(&w) != 0 ||
        make_listener(&w) != 0)
        die(&w, "setup failed");
    w.v.on_completion = on_completion;
    w.v.on_completion_ctx = &w;
    if (w.kind == VL_DRIVER_SIM)
        configure_sim(&w, &g);
    for (int k = 0; k < MAX_ACTS && g.at < g.n; k++)
        act(&w, &g);
    if (!inv_finish(&w.v, w.e))
        die(&w, inv_why(&w.v));
    if (w.pool != NULL && vl_bufpool_destroy(w.pool) != 0)
        die(&w, "vl_bufpool_destroy refused after the last op completed");
    vl_engine_destroy(w.e);
    (void)vl__fault_install(NULL);
    close_leftovers(&w);
    inv_fini(&w.v);
    /* Descriptors only: the fuzzer's own allocator maps and unmaps memory,
     * and io_uring's workers linger; the suites check maps and threads. */
    int fds_after = inv_count_fds();
    if (fds_after != fds_before) {
        fprintf(stderr, "engine_fuzz: fd leak: %d open after destroy, %d before\n", fds_after,
                fds_before);
        abort();
    }
    return 0;
}
