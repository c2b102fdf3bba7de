/*
 * tests/fuzz/engine_fuzz.c - a libFuzzer target for the IOEngine.
 *
 * The input is a program. Byte 0 picks the driver (sim, epoll, io_uring);
 * for sim, bytes 1..3 pick the fault rates and the seed; for the real
 * drivers bytes 1..2 pick injected faults (builds with VLLSI_FAULT_INJECTION). The rest is a
 * sequence of actions, each an opcode byte and its operand bytes (missing
 * bytes read as 0): submit an op (RECV, SEND, SENDV, SENDMSG, RECVMSG, READ, WRITE, READV, WRITEV,
 * TIMEOUT, NOP, CLOSE, SHUTDOWN, FSYNC, WAITPID of no child of ours, SENDFILE and SPLICE between
 * the input's descriptors, POLL one-shot or multishot,
 * multishot RECV and RECVMSG into a buffer pool, file and path ops that cannot make or open
 * anything (bad paths, bad flags); ACCEPT, multishot ACCEPT and CONNECT on a listening socket of
 * the input's own; SOCKET, BIND, LISTEN) on one of six descriptors (two socket pairs and a pipe),
 * with VL_OP_F_LINK when the opcode byte is 0xf0 to 0xf7 (a chain with the next op), cancel a live
 * or stale id, poll, act as the peer outside the engine (write into, read from, half-close or close
 * the other end), or shut the engine down. Every engine call goes through tests/invariants.h, which
 * checks exactly-once delivery, result domains, user_data, and buffer ownership (buffers are mmap'd
 * and sealed PROT_NONE once their completion is harvested); after destroy the descriptor count must
 * be back where it was. A violation prints what broke and aborts, so libFuzzer keeps the input.
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

#include "ct_platform.h" /* macOS: Linux's SOCK_CLOEXEC, pipe2, sigtimedwait */
#include "fault.h"
#include "invariants.h"

#define NFD      6 /* [0]<->[1], [2]<->[3] socket pairs, [4] pipe read, [5] write */
#define MAX_ACTS 200
#define MAX_IDS  64
#define MAX_LEN  512
#ifdef F_SETPIPE_SZ
#define PIPE_BYTES (1 << 20)
#else
#define PIPE_BYTES (16 << 10) /* macOS: a pipe's initial buffer, which it never shrinks below */
#endif
#define MAX_EXTRA 64 /* client sockets and accepted descriptors per input */

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
    int lfd; /* a listening AF_UNIX socket (ct_unix_addr) for ACCEPT/CONNECT */
    struct sockaddr_un laddr;
    socklen_t laddr_len;
    int extra[MAX_EXTRA]; /* client sockets and accepted fds the harness owns */
    unsigned nextra;
    bool link; /* the current action's op carries VL_OP_F_LINK */
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
#ifdef F_SETPIPE_SZ
    /* A pipe that no harness write can fill: direct writes never block. */
    fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
#endif
    return 0;
}

/* A listener per input, at a name no other input or process uses. */
static int make_listener(struct world *w)
{
    static unsigned counter;
    char name[64];
    snprintf(name, sizeof(name), "vllsi-fuzz-%d-%u", (int)getpid(), counter++);
    w->laddr_len = ct_unix_addr(&w->laddr, name);
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

/* Accepted descriptors and SOCKET's become the harness's, whenever they
 * are harvested (inv_finish's drain included). */
static void on_completion(void *ctx, const vl_op *op, const vl_completion *c)
{
    if ((op->kind == VL_OP_ACCEPT || op->kind == VL_OP_SOCKET) && c->result >= 0)
        own_fd(ctx, (int)c->result);
}

static void remember(struct world *w, int64_t id)
{
    if (id > 0)
        w->ids[w->nids++ % MAX_IDS] = (uint64_t)id;
}

/* inv_submit, with VL_OP_F_LINK when the action's opcode byte asked for
 * it: the op and the next one submitted form a chain (a multishot op is
 * then -EINVAL, which the checker expects). */
static int64_t submit_op(struct world *w, const vl_op *op, void *ud)
{
    vl_op o = *op;
    if (w->link)
        o.flags |= VL_OP_F_LINK;
    return inv_submit(&w->v, w->e, &o, ud);
}

static void submit(struct world *w, const vl_op *op, void *ud)
{
    remember(w, submit_op(w, op, ud));
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
 * A READV or WRITEV of len bytes in 1..4 pieces on fd, laid out as
 * act_sendv's (data and array in one guarded buffer). off: -1, or 0
 * (-ESPIPE on these streams).
 */
static void act_rwv(struct world *w, int fd, size_t len, uint8_t flags, bool write, int64_t off)
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
    vl_op op = write ? vl_op_writev(fd, iov, n, off) : vl_op_readv(fd, iov, n, off);
    if (write && fd == w->fd[5])
        w->pipe_queued += len;
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
    if (kind >= 2 && (flags & 0x40)) {
        act_rwv(w, fd, len, flags, kind == 3, (flags & 0x80) ? 0 : -1);
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
    int64_t id = submit_op(w, &op, NULL);
    if (how == 3 && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "SHUTDOWN with how 3: submit = %lld, expected -EINVAL", (long long)id);
    remember(w, id);
    check(w);
}

/* FSYNC of one of the descriptors (b: which, and the flags: 2 and 3 are
 * -EINVAL at submit). They are sockets and a pipe: -EINVAL, or -EBADF for a
 * closed one; a number that may have been reused names -1 (-EBADF). */
static void act_fsync(struct world *w, uint8_t b)
{
    unsigned i = b % NFD;
    uint32_t flags = (b >> 4) & 3;
    bool gone = w->close_sent[i] || w->closed[i];
    vl_op op = vl_op_fsync(gone ? -1 : w->fd[i], flags);
    int64_t id = inv_submit(&w->v, w->e, &op, NULL);
    if (flags > VL_FSYNC_DATASYNC && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "FSYNC with flags %u: submit = %lld, expected -EINVAL", flags,
                 (long long)id);
    remember(w, id);
    check(w);
}

/* WAITPID of a pid that is no child of ours (the fuzzer never spawns):
 * b & 3 picks 0 or a negative pid (-EINVAL at submit), the parent, or a pid
 * above any pid_max (both a completion with -ECHILD, or -EOPNOTSUPP on the
 * simulator). */
static void act_waitpid(struct world *w, uint8_t b)
{
    int pids[4] = {0, -1 - (int)(b >> 2), (int)getppid(), INT32_MAX};
    int pid = pids[b & 3];
    vl_op op = vl_op_waitpid(pid);
    int64_t id = submit_op(w, &op, NULL);
    if (pid <= 0 && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "WAITPID of pid %d: submit = %lld, expected -EINVAL", pid, (long long)id);
    remember(w, id);
    check(w);
}

/*
 * SENDFILE or SPLICE (b & 1) between the input's descriptors: SENDFILE to
 * the descriptor b picks from another (the pipe's read end or a socket:
 * whatever the call makes of them), SPLICE from the pipe's read end to a
 * socket or from a socket into the pipe's write end (its bytes counted in
 * pipe_queued). Bit 7 makes the op malformed instead: a file fd or fd_out
 * of -1 (-EBADF), an offset of -2 or an unknown SPLICE flag (-EINVAL).
 * The simulator answers both with -EOPNOTSUPP.
 */
static void act_sendfile_splice(struct world *w, uint8_t b, uint8_t c)
{
    unsigned i = (b >> 1) % NFD, j = c % NFD;
    int to = w->close_sent[i] || w->closed[i] ? -1 : w->fd[i];
    int from = w->close_sent[j] || w->closed[j] ? -1 : w->fd[j];
    size_t len = 1 + (size_t)(c >> 3) * 16;
    bool bad = (b & 0x80) != 0;
    int64_t want = (c & 1) ? -EBADF : -EINVAL;
    vl_op op;
    if ((b & 1) == 0) {
        op = vl_op_sendfile(to,
                            bad && (c & 1) ? -1
                            : from < 0     ? w->fd[4]
                                           : from,
                            bad && !(c & 1) ? -2 : -1, len);
    } else if (c & 2) {
        unsigned k = (c >> 2) % 4; /* a socket; malformed, never run: its number as is */
        int sock = !bad && (w->close_sent[k] || w->closed[k]) ? -1 : w->fd[k];
        op = vl_op_splice(w->fd[4], -1, bad && (c & 1) ? -1 : sock, -1, len, bad ? 0x2 : 0);
    } else {
        unsigned k = (c >> 2) % 4;
        int sock = w->close_sent[k] || w->closed[k] ? -1 : w->fd[k];
        op = vl_op_splice(sock, -1, bad && (c & 1) ? -1 : w->fd[5], -1, len, bad ? 0x2 : 0);
        if (!bad && w->pipe_queued + len < PIPE_BYTES / 2)
            w->pipe_queued += len;
        else if (!bad)
            op.u.splice.len = 0; /* the pipe must never fill: move nothing */
    }
    int64_t id = submit_op(w, &op, NULL);
    if (bad && id != want && id != -ESHUTDOWN)
        inv_fail(&w->v, "kind %d malformed: submit = %lld, expected %lld", op.kind, (long long)id,
                 (long long)want);
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
    int64_t id = submit_op(w, &op, NULL);
    bool bad = events == 0 || (events & ~VL_POLL_ALL) != 0;
    if (bad && id != -EINVAL && id != -ESHUTDOWN)
        inv_fail(&w->v, "POLL with events %#x: submit = %lld, expected -EINVAL", events,
                 (long long)id);
    remember(w, id);
    check(w);
}

/* An AF_UNIX address of the family alone: bind(2) picks a free abstract
 * name (autobind), so BINDs never collide. Read until their completion. */
static const struct sockaddr_un autobind_addr = {.sun_family = AF_UNIX};

/*
 * SOCKET, BIND or LISTEN (b % 3). SOCKET: AF_UNIX or AF_INET (bit 2),
 * stream or datagram (bit 3), flags from bits 4-5: 0, VL_SOCK_NONBLOCK, or
 * an unknown bit (-EINVAL at submit). BIND and LISTEN name one of the
 * descriptors (bits 2-4), -1 once its number may be reused; BIND autobinds
 * an AF_UNIX address (or, with bit 5, names NULL: -EFAULT at submit);
 * LISTEN's backlog is bits 5-7 minus 1 (-1: -EINVAL at submit).
 */
static void act_socket_op(struct world *w, uint8_t b)
{
    unsigned i = (b >> 2) % NFD;
    bool gone = w->close_sent[i] || w->closed[i];
    int fd = gone ? -1 : w->fd[i];
    int64_t want = 0; /* the submit error the op must get, 0 for none */
    vl_op op;
    if (b % 3 == 0) {
        static const uint32_t flags[4] = {0, VL_SOCK_NONBLOCK, 0x2u, 0};
        uint32_t f = flags[(b >> 4) & 3];
        op = vl_op_socket((b & 4) ? AF_INET : AF_UNIX, (b & 8) ? SOCK_DGRAM : SOCK_STREAM, 0, f);
        want = f & ~VL_SOCK_ALL ? -EINVAL : 0;
    } else if (b % 3 == 1) {
        bool null = (b & 0x20) != 0;
        op = vl_op_bind(fd, null ? NULL : (const struct sockaddr *)&autobind_addr,
                        sizeof(sa_family_t));
        want = null ? -EFAULT : 0;
    } else {
        int backlog = (b >> 5) - 1;
        op = vl_op_listen(fd, backlog);
        want = backlog < 0 ? -EINVAL : 0;
    }
    int64_t id = inv_submit(&w->v, w->e, &op, NULL);
    if (want != 0 && id != want && id != -ESHUTDOWN)
        inv_fail(&w->v, "%s: submit = %lld, expected %lld",
                 op.kind == VL_OP_SOCKET ? "SOCKET"
                 : op.kind == VL_OP_BIND ? "BIND"
                                         : "LISTEN",
                 (long long)id, (long long)want);
    remember(w, id);
    check(w);
}

/*
 * A file or path op that can never make or open anything (b: which kind,
 * which bad input): a NULL path (-EFAULT at submit), bad flags or a
 * negative length (-EINVAL at submit), an empty path or one under a
 * directory that does not exist (-ENOENT; the simulator's -EOPNOTSUPP).
 * FTRUNCATE names one of the descriptors (-EINVAL: none is a file), or -1
 * once its number may have been reused.
 */
static void act_path(struct world *w, uint8_t b)
{
    static const char missing[] = "/nonexistent-vllsi-fuzz/x";
    unsigned variant = (b >> 3) & 3;
    const char *path = variant == 0 ? NULL : variant == 1 ? "" : missing;
    bool bad = variant == 0 || variant == 3;
    int64_t want = variant == 0 ? -EFAULT : -EINVAL;
    vl_op op;
    switch (b % 6) {
    case 0:
        /* The missing path, absolute, under VL_RESOLVE_BENEATH: -EXDEV
         * (or -EOPNOTSUPP where there is no openat2), nothing made. */
        op = vl_op_openat2(VL_AT_FDCWD, path, O_RDWR | O_CREAT | (variant == 3 ? 0x40000000 : 0),
                           0600, variant == 2 ? VL_RESOLVE_BENEATH : 0);
        break;
    case 1: {
        struct vl_statx *st = inv_buf(&w->v, sizeof(*st));
        if (st == NULL)
            die(w, "inv_buf failed");
        op = vl_op_statx(VL_AT_FDCWD, path, variant == 3 ? VL_AT_REMOVEDIR : 0, st);
        break;
    }
    case 2: {
        unsigned i = (b >> 5) % NFD;
        bool gone = w->close_sent[i] || w->closed[i];
        op = vl_op_ftruncate(gone ? -1 : w->fd[i], bad ? -1 : (int64_t)b);
        want = -EINVAL;
        break;
    }
    case 3:
        op = vl_op_unlinkat(VL_AT_FDCWD, path, variant == 3 ? 1 : VL_AT_REMOVEDIR);
        break;
    case 4:
        op = vl_op_renameat(VL_AT_FDCWD, path, VL_AT_FDCWD, missing);
        bad = variant == 0;
        break;
    default:
        op = vl_op_mkdirat(VL_AT_FDCWD, path, variant == 3 ? 0x10000 : 0700);
        break;
    }
    int64_t id = inv_submit(&w->v, w->e, &op, NULL);
    if (bad && id != want && id != -ESHUTDOWN)
        inv_fail(&w->v, "kind %d with bad input: submit = %lld, expected %lld", op.kind,
                 (long long)id, (long long)want);
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
    int64_t id = submit_op(w, &op, NULL);
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

/*
 * One action: its opcode is the byte % 16, but for the bytes 0xf8 and up,
 * which escape to the actions that have no opcode of their own: 0xf8,
 * 0xfa, 0xfc and 0xfe a SOCKET, BIND or LISTEN; 0xf9 and 0xfd a file or
 * path op; 0xfb and 0xff the engine's shutdown (rarely), an FSYNC, a
 * WAITPID or a SHUTDOWN op.
 */
static void act(struct world *w, struct prog *g)
{
    uint8_t byte = next_byte(g);
    uint8_t op = byte < 0xf8 ? byte % 16 : (byte & 1) == 0 ? 16 : (byte & 2) == 0 ? 17 : 18;
    w->link = byte >= 0xf0 && byte < 0xf8; /* one byte in 32 links its op to the next */
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
    case 16:
        act_socket_op(w, next_byte(g));
        break;
    case 17:
        act_path(w, next_byte(g));
        break;
    default: {
        /* The engine's shutdown, rarely; else a SHUTDOWN op. */
        uint8_t b = next_byte(g);
        if (b < 16 && !w->shut) {
            vl_engine_shutdown(w->e);
            w->shut = true;
        } else if (b >= 16 && b < 32) {
            act_fsync(w, next_byte(g));
        } else if (b >= 32 && b < 40) {
            act_waitpid(w, next_byte(g));
        } else if (b >= 40 && b < 48) {
            uint8_t x = next_byte(g);
            act_sendfile_splice(w, x, next_byte(g));
        } else if (b >= 48) {
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
    if (w->lfd >= 0) {
        close(w->lfd);
        if (w->kind != VL_DRIVER_SIM)
            ct_unix_release(&w->laddr);
    }
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
