/*
 * src/drivers/uring.c - the io_uring driver (liburing 2.3).
 *
 * Every op is one SQE whose user_data is the op's id, so a CQE maps straight
 * back to its slot and a cancel names its target by id. Driver-private
 * requests carry VL__INTERNAL_TAG (bit 63, never set in an id):
 *
 *   WAKE_TAG    an 8-byte READ of the wake eventfd, always armed; its CQE ends
 *               a wait and the read is armed again
 *   DROP_TAG    cancels issued by shutdown and fini; their CQEs mean nothing
 *   PROBE_TAG   the RWF_NOSIGNAL probe at init
 *   FX_TAG      a CLOSE's FILES_UPDATE that clears its fd's registered-file
 *               slot (fx_close_first); its CQE comes only when it failed
 *
 * The CQ is sized to hold every CQE that can be outstanding (one per slot, one
 * per shutdown cancel, the wake read), so it does not overflow in normal
 * operation; if it does anyway (IORING_FEAT_NODROP keeps the surplus in the
 * kernel) the reaper flushes and reaps again, and nothing is lost.
 *
 * SIGPIPE: a WRITE to a pipe or socket without a reader makes the kernel send
 * SIGPIPE to the task that runs it, which for io_uring is the polling thread
 * (inline at submission, or in task work when a full pipe is retried), or an
 * io-wq worker, which blocks every signal and so never acts on it. Three
 * ways to keep it from the default handler, best first (enum sigpipe_mode):
 *  - Linux 6.18+: WRITE takes RWF_NOSIGNAL in sqe->rw_flags (probed at init).
 *  - DEFER_TASKRUN (6.1+): task work runs only inside io_uring_enter, so
 *    blocking SIGPIPE around each enter while a WRITE is in flight, and
 *    swallowing a SIGPIPE that became pending during it, covers every path.
 *  - Otherwise task work may run at the exit of any system call the thread
 *    makes, so no window around io_uring_enter suffices: WRITEs go to io-wq
 *    (IOSQE_ASYNC), whose workers block all signals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vllsi/sys/common.h>
#include <vllsi/sys/mem.h>

#include "driver.h"
#include "engine_internal.h"
#include "fault.h"
#include "child.h"
#include "sendfile.h"
#include "statx.h"

/* Under valgrind, memory the kernel fills through io_uring looks never
 * written (valgrind sees no system call writing it): mark what each
 * completion filled as defined. Outside valgrind the client request is a
 * few no-op instructions; without the header it is nothing. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define VL__MARK_DEFINED(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#define VL__ON_VALGRIND()      (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef VL__MARK_DEFINED
#define VL__MARK_DEFINED(p, n) ((void)(p), (void)(n))
#define VL__ON_VALGRIND()      false
#endif

#define WAKE_TAG        (VL__INTERNAL_TAG | 1u)
#define DROP_TAG        (VL__INTERNAL_TAG | 2u)
#define PROBE_TAG       (VL__INTERNAL_TAG | 3u)
#define MSG_TAG         (VL__INTERNAL_TAG | 4u) /* a MSG_RING wake from another engine */
/* The sender's side of a MSG_RING wake: the target engine's address with
 * this bit, so a failed MSG_RING can fall back to the target's eventfd. */
#define MSG_SENT_BIT    (1ull << 62)
/* A CANCEL waiting to be sent again (see cancel_retry): this base | its slot. */
#define RETRY_TAG       (VL__INTERNAL_TAG | (1ull << 40))
#define RETRY_MASK      0xffffffull
/* A CLOSE's FILES_UPDATE (fx_close_first): this base | the fd, which is
 * below FX_MAX and so within RETRY_MASK. */
#define FX_TAG          (VL__INTERNAL_TAG | (1ull << 41))
/* The most slots a registered-file table has (fx_table). */
#define FX_MAX          65536u
/* How often, and how far apart, a cancel that found nothing is sent again
 * while its target is still running (up to about 100 ms). */
#define CANCEL_RETRIES  100u
#define CANCEL_RETRY_NS (1000 * 1000)

/* From Linux 6.18 <linux/fs.h>; the installed uapi headers may predate it. */
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif

/* Linux 6.12: io_uring_getevents_arg's pad is min_wait_usec (the uapi
 * headers of liburing 2.3 predate it). */
#ifndef IORING_RECVSEND_POLL_FIRST
#define IORING_RECVSEND_POLL_FIRST (1U << 0)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
struct gather_arg {
    uint64_t sigmask;
    uint32_t sigmask_sz;
    uint32_t min_wait_usec;
    uint64_t ts;
};
_Static_assert(sizeof(struct gather_arg) == sizeof(struct io_uring_getevents_arg),
               "gather_arg must be io_uring_getevents_arg");

/* A gathering wait without a timeout still passes one (the kernel would end
 * the whole wait when min_wait_usec runs out, completions or not): a day. */
#define GATHER_FOREVER_NS (86400LL * 1000000000LL)

/*
 * The driver's state in a slot it holds (VL__SLOT_DRV): flags (U_*, the
 * multishot modes below), the user-space pool buffer a multishot RECV holds
 * (U_BID), a CANCEL's retries so far, the re-arm list's link, and the
 * timespec of a TIMEOUT or a cancel retry's wait, which the kernel copies
 * out of the slot at submission.
 */
struct uring_slot {
    uint32_t flags;
    uint32_t bid;
    union {
        struct {
            uint32_t retries;
            uint32_t next;
            union {
                struct __kernel_timespec ts;
                /* A piped SENDFILE (U_SFPIPE): bytes sent, bytes in its pipe. */
                struct {
                    uint64_t sent, inpipe;
                } sf;
            };
        };
        /* An OPENAT with resolve flags: IORING_OP_OPENAT2's argument, which
         * the kernel copies when it takes the SQE. Such an op is never on
         * the re-arm list and is no CANCEL, so nothing else is in use. */
        struct open_how how;
    };
};

static inline struct uring_slot *us(struct vl__slot *s)
{
    return VL__SLOT_DRV(s, struct uring_slot);
}

enum sigpipe_mode {
    SIGPIPE_NOSIGNAL, /* RWF_NOSIGNAL                          */
    SIGPIPE_GUARD,    /* sigmask around io_uring_enter         */
    SIGPIPE_ASYNC,    /* WRITE with IOSQE_ASYNC: runs in io-wq */
};

/*
 * Multishot modes, best first. A multishot RECV on a native pool (a registered
 * provided-buffer ring, 5.19+) is one IORING_RECV_MULTISHOT recv (6.0+), or
 * on 5.19 a single-shot recv with IOSQE_BUFFER_SELECT re-armed by the
 * driver after each completion. On a pool the kernel could not take
 * (before 5.19) the driver takes a buffer from the pool's free list when it
 * arms the recv, or, the pool being empty, arms a POLL_ADD and looks again
 * when data arrives. A multishot ACCEPT is IORING_ACCEPT_MULTISHOT (5.19+) or a
 * re-armed single accept. Either way the caller sees one id that completes
 * with VL_CQE_MORE until its final completion.
 *
 * The slot state's flags (struct uring_slot) for these ops: */
#define U_SINGLE    0x1u     /* armed as a single-shot request: re-arm after each CQE */
#define U_REARM     0x2u     /* on the re-arm list, not in the kernel                 */
#define U_POLLING   0x4u     /* user-space pool was empty: a POLL_ADD waits for data  */
#define U_BID       0x8u     /* user-space pool: the slot state's bid is its buffer   */
#define U_STARVED   0x10u    /* re-armed after -ENOBUFS, no data since (ring_starved) */
#define U_WAITED    0x20u    /* multishot POLL: its fd was looked at (cqe_poll_multi)  */
#define U_NOPOLL    0x40u    /* multishot POLL without the kernel's: a NOP, then -EOPNOTSUPP */
#define U_CALL      0x80u    /* a path op the kernel lacks: a NOP, whose CQE makes the call */
#define U_NOMSG     0x100u   /* multishot RECVMSG the kernel cannot run: a NOP, then -EOPNOTSUPP */
#define U_TYPED     0x200u   /* multishot RECVMSG: U_STREAM says what its socket is */
#define U_STREAM    0x400u   /* multishot RECVMSG on a stream socket (0 bytes: EOF) */
#define U_PIDFD     0x800u   /* WAITPID: s->op.fd is its pidfd, polled (cqe_waitpid) */
#define U_SPOLL     0x1000u  /* SPLICE: a POLL_ADD on the side that said EAGAIN  */
#define U_SPOLL_OUT 0x2000u  /* ... on fd_out for writing (else fd_in, reading)  */
#define U_SFPIPE    0x4000u  /* SENDFILE through the engine's pipe bid (sf_pipe)  */
#define U_SFOUT     0x8000u  /* ... its second stage: the pipe to the socket      */
#define U_SFWAIT    0x10000u /* SENDFILE waiting for a pipe (sf_wait_head's list)  */

/*
 * A native pool's provided-buffer ring, holding a window of the free
 * buffers. The kernel hands ring buffers out in the order they were added,
 * so a ring holding every free buffer of a 512 x 64 KiB pool gives each one
 * out again only after all the others: every receive copy then writes
 * memory that left the cache long ago (perf, echo_server at 16 connections
 * x 64 KiB ping-pong: the receive copy 5.6-6.3 us per message, libev's
 * 1.8-2.0; with the window 2.2-2.3). So the ring holds at most `window`
 * buffers (about WINDOW_BYTES worth), and the other free ones wait on the
 * pool's free stack (p->free, unused by native pools otherwise), the last
 * released on top; each buffer the kernel takes is replaced from the top.
 * A multishot RECV that the kernel ends with -ENOBUFS while spares wait grows
 * the window and is armed again without a word (ring_starved); after 64
 * windows' worth of reads without that, the window shrinks by an eighth of
 * what it has over its start. (At 256 connections x 4 KiB x 16 the copy
 * stays dear with it; docs/benchmarks.md, "What the echo and micro figures
 * show", says what is ruled out.)
 */
struct uring_pool {
    struct io_uring_buf_ring *br;
    size_t len;
    int mask;
    uint32_t inring; /* buffers in the ring the kernel has not taken */
    uint32_t window; /* the most free buffers the ring holds         */
    uint32_t wmin;   /* the window it starts at and shrinks back to  */
    uint32_t calm;   /* buffers taken since the last starvation      */
};

#define WINDOW_BYTES (1u << 20)

/* Top the ring up to its window from the free stack, the last released
 * first, with one tail update. */
static void ring_fill(struct vl_bufpool *p)
{
    struct uring_pool *up = p->drv;
    int n = 0;
    while (up->inring < up->window && p->nfree > 0) {
        uint32_t bid = p->free[--p->nfree];
        io_uring_buf_ring_add(up->br, vl__pool_buf(p, bid), p->size, (unsigned short)bid, up->mask,
                              n++);
        up->inring++;
    }
    if (n > 0)
        io_uring_buf_ring_advance(up->br, n);
}

/* The kernel took a ring buffer (a CQE named it): replace it, and after 64
 * windows' worth without a starvation let the window shrink. */
static void ring_took(struct vl_bufpool *p)
{
    struct uring_pool *up = p->drv;
    up->inring--;
    if (++up->calm >= 64 * up->window && up->window > up->wmin) {
        up->window -= (up->window - up->wmin + 7) / 8;
        up->calm = 0;
    }
    ring_fill(p);
}

/* The kernel ended a recv with -ENOBUFS: its ring was empty. true when the
 * window could grow, or buffers came back since, so that the ring holds
 * some again and the op may be armed once more; false when every buffer is
 * out (held by the caller or in flight): then the caller hears -ENOBUFS. */
static bool ring_starved(struct vl_bufpool *p)
{
    struct uring_pool *up = p->drv;
    up->calm = 0;
    up->window = up->window * 2 < p->count ? up->window * 2 : p->count;
    ring_fill(p);
    return up->inring > 0;
}

/* SENDFILE through a pipe: how many pipes an engine keeps, the size it
 * asks for them (F_SETPIPE_SZ; 1 MiB is Linux's default pipe-max-size),
 * and the smallest count sent that way (prep_sendfile says why). */
#define SF_PIPES     4
#define SF_PIPE_SIZE (1 << 20)
#define SF_PIPE_MIN  (256u << 10)

struct uring {
    struct io_uring ring;
    bool ms_recv;                    /* IORING_RECV_MULTISHOT usable                       */
    bool poll_first;                 /* IORING_RECVSEND_POLL_FIRST usable (5.19+)          */
    bool ms_accept;                  /* IORING_ACCEPT_MULTISHOT usable                     */
    bool ms_poll;                    /* IORING_POLL_ADD_MULTI usable                       */
    bool bufring;                    /* try to register pools as provided-buffer rings     */
    bool msg_ring;                   /* IORING_OP_MSG_RING usable (5.18+)                  */
    bool socket_op;                  /* IORING_OP_SOCKET usable (5.19+)                    */
    bool unlinkat;                   /* IORING_OP_UNLINKAT, RENAMEAT usable (5.11+)        */
    bool mkdirat;                    /* IORING_OP_MKDIRAT usable (5.15+)                   */
    bool min_timeout;                /* IORING_FEAT_MIN_TIMEOUT: gathering waits (6.12+)   */
    bool reg_ring;                   /* the ring fd is registered (enter_ring_fd)          */
    uint32_t rearm_head, rearm_tail; /* slots to arm again (uring_slot.next)      */
    int efd;                         /* wake eventfd                                        */
    int host_efd;    /* registered eventfd for a host loop (uring_event_fd), -1 until asked */
    bool wake_armed; /* the wake READ is in the SQ or in the kernel         */
    bool closing;    /* fini: do not arm the wake read again               */
    enum sigpipe_mode sigpipe;
    uint32_t writes;   /* WRITEs in flight (SIGPIPE_GUARD only) */
    uint64_t wake_buf; /* the wake READ's buffer: lives as long as the ring */
    /* The op kinds whose CQE is their result as it stands (see
     * plain_kinds): the reaper's fast path delivers those directly. */
    struct vl__kindset plain;
    /* SENDV: per slot, the msghdr the kernel reads (until the SQE is
     * submitted, or the op's end on kernels without SUBMIT_STABLE). calloc'd
     * at init for every slot: pages no SENDV touches are never backed. */
    struct uring_msg *msgs;
    struct vl__stats *st; /* the engine's counters (vl__engine_stats) */
    /* SIGPIPE held for the SENDFILEs of one reap (cqe_sendfile, reap). */
    struct vl__sigpipe_batch sf_sigpipe;
    /* SENDFILE's pipes (prep_sendfile): [k][0] read, [k][1] write, -1 until
     * first used; sf_busy has bit k while an op holds pipe k. */
    int sf_pipe[SF_PIPES][2];
    uint32_t sf_cap[SF_PIPES];
    uint32_t sf_busy;
    /* SENDFILEs of a cold range waiting for a pipe, oldest first
     * (uring_slot.next; U_SFWAIT), UINT32_MAX when none. */
    uint32_t sf_wait_head, sf_wait_tail;
    bool sf_nocachestat; /* cachestat(2) is missing or refused (sf_cached) */
    /* The engine's VL_ENGINE_REMEMBER_FDS: a socket a SENDFILE found
     * non-blocking joins sf_nb (sf_nb_learn). */
    bool remember;
    /* The numbers known to hold a non-blocking socket, by number & sf_nb_mask
     * (-1: none; NULL until the first is known): SENDFILE's sendfile(2) asks
     * their flags no more (sf_nb_known). */
    int32_t *sf_nb;
    uint32_t sf_nb_mask;
    /* Registered files (vl_engine_fd_register; "registered files" below):
     * a sparse table of fx_n slots, made at the first register (0 until
     * then), whose slot N holds the file of fd N while fx_flag[N] is
     * IOSQE_FIXED_FILE (else 0): the flag an SQE on fd N takes, so that
     * fx_use needs no bit arithmetic. fx_err: the table cannot be made on
     * this kernel (-EOPNOTSUPP). */
    uint32_t fx_n;
    uint8_t *fx_flag;
    int fx_err;
    bool files_update; /* IORING_OP_FILES_UPDATE usable (5.6+) */
};

struct uring_msg {
    struct msghdr m;
    struct iovec head; /* a fault-injected short SENDV sends part of iov[0] */
};

/* CQEs whose user_data named no live slot. Always a bug; kept for debuggers. */
static uint64_t vl__uring_stray_cqes;

static struct uring *state(vl_engine *e)
{
    return *vl__engine_drv(e);
}

static void say(char *reason, size_t len, const char *what, int err)
{
    snprintf(reason, len, "%s: %s (%s)", what, vl_strerror(err), vl_errname(err));
}

/* ---- registered files (vl_engine_fd_register) -------------------------------- */

/*
 * Slot N of the table holds fd N's file, so an SQE keeps its fd field and
 * only gains IOSQE_FIXED_FILE, and the fd stays usable by number for what
 * needs the real descriptor (sendfile(2), SPLICE, setsockopt(2)). The
 * kernel looks a fixed file up when a request is issued, as it looks a
 * plain fd up, so an op sees the file its fd number held at that moment
 * either way: clearing a slot in SQ order right before a CLOSE
 * (fx_close_first) keeps every op exactly as it would be unregistered.
 * All on the polling thread.
 */
static int fx_none = -1; /* what a cleared slot holds; the kernel only reads it */

static inline bool fx_has(const struct uring *d, int fd)
{
    return (uint32_t)fd < d->fx_n && d->fx_flag[fd] != 0;
}

static inline void fx_set(struct uring *d, int fd, bool on)
{
    d->fx_flag[fd] = on ? IOSQE_FIXED_FILE : 0;
}

/* The op's SQE names fd's slot when fd is registered. Kept to one compare
 * and a byte load: the preps are inlined into the submit fast path, where
 * anything bigger costs every op, NOP included, a register save
 * (scripts/nop-instructions.sh). */
static inline void fx_use(const struct uring *d, struct io_uring_sqe *sqe, int fd)
{
    if ((uint32_t)fd < d->fx_n)
        sqe->flags |= d->fx_flag[fd];
}

/* Make the table: one slot per descriptor the process may open
 * (RLIMIT_NOFILE's soft limit, which the kernel also caps the table at), at
 * most FX_MAX. Sparse tables came with 5.19 (an older kernel says
 * -EINVAL); IOSQE_CQE_SKIP_SUCCESS (5.17), which fx_close_first sets, is
 * then there too, but is checked all the same. */
static int fx_table(struct uring *d)
{
    if (d->fx_n > 0)
        return 0;
    if (d->fx_err < 0)
        return d->fx_err;
    if (!d->files_update || !(d->ring.features & IORING_FEAT_CQE_SKIP)) {
        d->fx_err = -EOPNOTSUPP;
        return d->fx_err;
    }
    struct rlimit rl;
    uint32_t n = FX_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
        n = rl.rlim_cur > 0 ? (uint32_t)rl.rlim_cur : 1;
    uint8_t *on = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : calloc(n, 1);
    if (on == NULL)
        return -ENOMEM;
    int rc = io_uring_register_files_sparse(&d->ring, n);
    if (rc < 0) {
        free(on);
        if (rc == -EINVAL)
            d->fx_err = rc = -EOPNOTSUPP;
        return rc;
    }
    d->fx_flag = on;
    d->fx_n = n;
    return 0;
}

static int fx_register(struct uring *d, int fd)
{
    int rc = fx_table(d);
    if (rc < 0)
        return rc;
    if ((uint32_t)fd >= d->fx_n)
        return -ENOSPC;
    if (fx_has(d, fd))
        return -EEXIST;
    rc = io_uring_register_files_update(&d->ring, (unsigned)fd, &fd, 1);
    if (rc < 0)
        return rc;
    if (rc != 1)
        return -EIO;
    fx_set(d, fd, true);
    return 0;
}

static int ring_submit(struct uring *d);

/* Clear fd's slot now, for the caller's close(2). SQEs written but not yet
 * submitted may name the slot: they go to the kernel first, so they find
 * the file as they would unregistered. */
static int fx_unregister(struct uring *d, int fd)
{
    if (!fx_has(d, fd))
        return -ENOENT;
    if (io_uring_sq_ready(&d->ring) > 0)
        (void)ring_submit(d); /* if it fails they find an empty slot: -EBADF */
    int rc = io_uring_register_files_update(&d->ring, (unsigned)fd, &fx_none, 1);
    if (rc < 0)
        return rc;
    fx_set(d, fd, false);
    return 0;
}

static int uring_fd_table(vl_engine *e, int fd, bool add)
{
    struct uring *d = state(e);
    return add ? fx_register(d, fd) : fx_unregister(d, fd);
}

static struct io_uring_sqe *get_sqe(struct uring *d);

/*
 * A CLOSE of a registered fd: an IORING_OP_FILES_UPDATE that clears the
 * slot goes into the SQ right before the CLOSE's SQE, so the kernel runs
 * both in order after every op submitted before them (which found the file)
 * and before any after them (which find neither the slot nor the fd).
 * False when the SQ has no room: the CLOSE waits in the core's queue.
 */
static bool fx_close_first(struct uring *d, int fd)
{
    struct io_uring_sqe *sqe = get_sqe(d);
    if (sqe == NULL)
        return false;
    io_uring_prep_files_update(sqe, &fx_none, 1, fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, FX_TAG | (uint32_t)fd);
    fx_set(d, fd, false);
    return true;
}

/* A CLOSE's FILES_UPDATE failed (it cannot for a slot in range, but if it
 * did the table would keep the socket open): clear the slot now, unless
 * the number was registered again since. */
static void fx_close_failed(struct uring *d, int fd, int res)
{
    if (res < 0 && !fx_has(d, fd))
        (void)io_uring_register_files_update(&d->ring, (unsigned)fd, &fx_none, 1);
}

/* ---- SIGPIPE guard (SIGPIPE_GUARD) ------------------------------------------- */

struct sigpipe_guard {
    bool on;
    bool was_pending;
    sigset_t old;
};

static void guard_begin(const struct uring *d, struct sigpipe_guard *g)
{
    g->on = d->sigpipe == SIGPIPE_GUARD && d->writes > 0;
    if (!g->on)
        return;
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

/* Swallow the SIGPIPE our WRITE raised, but never one that was already
 * pending: that one belongs to someone else. */
static void guard_end(const struct sigpipe_guard *g)
{
    if (!g->on)
        return;
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
        const struct timespec zero = {0, 0};
        sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Count an io_uring_enter for vl_engine_stats (per system call, never per op). */
static void count_enter(const struct uring *d, bool may_block)
{
    if (may_block)
        d->st->kernel_waits++;
    else
        d->st->kernel_nowait++;
}

/* Every io_uring_enter that may run a WRITE goes through one of these. */
static int ring_submit(struct uring *d)
{
    struct sigpipe_guard g;
    /* liburing enters only with SQEs to submit or the CQ needing a flush. */
    if (io_uring_sq_ready(&d->ring) > 0 ||
        (IO_URING_READ_ONCE(*d->ring.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)))
        count_enter(d, false);
    guard_begin(d, &g);
    int rc = io_uring_submit(&d->ring);
    guard_end(&g);
    return rc;
}

static int ring_get_events(struct uring *d, bool submit)
{
    struct sigpipe_guard g;
    count_enter(d, false);
    guard_begin(d, &g);
    int rc = submit ? io_uring_submit_and_get_events(&d->ring) : io_uring_get_events(&d->ring);
    guard_end(&g);
    return rc;
}

static int ring_wait(struct uring *d, struct __kernel_timespec *ts)
{
    struct io_uring_cqe *cqe;
    struct sigpipe_guard g;
    guard_begin(d, &g);
    int rc;
    /* Waiting without a timeout for a CQ that is empty: one io_uring_enter
     * that submits and waits, without the CQ peeks around it (callgrind: a
     * few instructions per op of a batch). */
    if (ts == NULL && io_uring_cq_ready(&d->ring) == 0)
        rc = io_uring_submit_and_wait(&d->ring, 1);
    else
        rc = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, ts, NULL);
    guard_end(&g);
    return rc;
}

/*
 * vl_engine_poll_batch's wait: submit what is queued and wait for `want`
 * CQEs, or once gather_ns has passed for one (the kernel's min_wait_usec),
 * at most until ts (NULL: no timeout).
 * liburing 2.3 cannot pass min_wait_usec, so this is our own io_uring_enter:
 * it publishes the SQ tail as liburing's submit does (the SQ array is
 * liburing's identity map) and enters with the same ring fd.
 */
static int ring_wait_gather(struct uring *d, unsigned want, int64_t gather_ns,
                            const struct __kernel_timespec *ts)
{
    static const struct __kernel_timespec forever = {GATHER_FOREVER_NS / 1000000000, 0};
    struct io_uring_sq *sq = &d->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    unsigned to_submit = tail - IO_URING_READ_ONCE(*sq->khead);
    uint64_t us = ((uint64_t)gather_ns + 999) / 1000;
    struct gather_arg arg = {0, _NSIG / 8, us > UINT32_MAX ? UINT32_MAX : (uint32_t)us,
                             (uint64_t)(uintptr_t)(ts != NULL ? ts : &forever)};
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    int fd = d->ring.ring_fd;
    if (d->reg_ring) {
        flags |= IORING_ENTER_REGISTERED_RING;
        fd = d->ring.enter_ring_fd;
    }
    struct sigpipe_guard g;
    guard_begin(d, &g);
    long rc = syscall(__NR_io_uring_enter, fd, to_submit, want, flags, &arg, sizeof arg);
    int err = errno;
    guard_end(&g);
    return rc < 0 ? -err : (int)rc;
}

/* An SQE, submitting what is queued once to make room if the SQ is full. */
static struct io_uring_sqe *get_sqe(struct uring *d)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe == NULL && ring_submit(d) >= 0)
        sqe = io_uring_get_sqe(&d->ring);
    return sqe;
}

static void arm_wake(struct uring *d)
{
    if (d->wake_armed || d->closing)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe == NULL)
        return; /* the SQ is full: the next wait tries again */
    io_uring_prep_read(sqe, d->efd, &d->wake_buf, sizeof(d->wake_buf), (uint64_t)-1);
    sqe->user_data = WAKE_TAG;
    d->wake_armed = true;
}

/* ---- setup ------------------------------------------------------------------ */

/*
 * Ask for the task-run flags newest first and step down on -EINVAL, which is
 * how a kernel says it does not know a setup flag: DEFER_TASKRUN (6.1) runs
 * completions only inside io_uring_enter, on our thread, with no IPIs;
 * COOP_TASKRUN (5.19) at least avoids the IPIs. TASKRUN_FLAG lets a zero
 * wait skip the system call when the kernel has nothing for us.
 */
static const unsigned taskrun_ladder[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    0,
};

static int setup_ring(struct uring *d, const vl_engine_config *cfg)
{
    /* Room for a CQE per slot, one per shutdown cancel and the wake read.
     * CLAMP caps it at the kernel's maximum instead of failing; the CQ must
     * also be at least as large as the SQ. */
    uint32_t cq = 2 * cfg->max_inflight + 2;
    if (cq < cfg->entries)
        cq = cfg->entries;
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    size_t first = (cfg->flags & VL_ENGINE_NO_TASKRUN_FLAGS) ? 2
                   : (cfg->flags & VL_ENGINE_EMBEDDED)       ? 1
                                                             : 0;
    int rc = -EINVAL;
    for (size_t i = first; i < sizeof(taskrun_ladder) / sizeof(taskrun_ladder[0]); i++) {
        /* SUBMIT_ALL (5.18) keeps submitting past a failing SQE, so one bad
         * op never leaves the ones behind it stranded in the SQ. */
        for (unsigned all = 0; all < 2 && rc == -EINVAL; all++) {
            struct io_uring_params p;
            memset(&p, 0, sizeof(p));
            p.flags = base | taskrun_ladder[i] | (all == 0 ? IORING_SETUP_SUBMIT_ALL : 0);
            p.cq_entries = cq;
            rc = io_uring_queue_init_params(cfg->entries, &d->ring, &p);
        }
        if (rc != -EINVAL)
            break;
    }
    return rc;
}

static const struct {
    uint8_t op;
    const char *name;
} needed_ops[] = {
    {IORING_OP_NOP, "NOP"},         {IORING_OP_READ, "READ"},
    {IORING_OP_WRITE, "WRITE"},     {IORING_OP_ACCEPT, "ACCEPT"},
    {IORING_OP_CONNECT, "CONNECT"}, {IORING_OP_SEND, "SEND"},
    {IORING_OP_RECV, "RECV"},       {IORING_OP_TIMEOUT, "TIMEOUT"},
    {IORING_OP_CLOSE, "CLOSE"},     {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_OPENAT, "OPENAT"},   {IORING_OP_STATX, "STATX"},
};

static int probe_ops(struct uring *d, char *reason, size_t len)
{
    struct io_uring_probe *p = io_uring_get_probe_ring(&d->ring);
    if (p == NULL) {
        snprintf(reason, len, "io_uring: the kernel cannot list its opcodes (before 5.6)");
        return -EOPNOTSUPP;
    }
    int rc = 0;
    /* Multishot accept and provided-buffer rings came with 5.19, multishot
     * recv with 6.0; the probe lists opcodes, not flags, so the opcodes
     * that came with the same releases (SOCKET, SEND_ZC) stand for them. */
    d->ms_accept = io_uring_opcode_supported(p, IORING_OP_SOCKET);
    d->ms_recv = io_uring_opcode_supported(p, IORING_OP_SEND_ZC);
    d->bufring = d->ms_accept;
    /* IORING_RECVSEND_POLL_FIRST came with 5.19 too; a kernel before it may
     * refuse a recv with ioprio set (-EINVAL), so the hint goes only where
     * known. */
    d->poll_first = d->ms_accept;
    /* Multishot poll came with 5.13, which added no opcode: MKDIRAT (5.15)
     * is the first one after it. */
    d->ms_poll = io_uring_opcode_supported(p, IORING_OP_MKDIRAT);
    d->msg_ring = io_uring_opcode_supported(p, IORING_OP_MSG_RING);
    d->socket_op = io_uring_opcode_supported(p, IORING_OP_SOCKET);
    d->unlinkat = io_uring_opcode_supported(p, IORING_OP_UNLINKAT) &&
                  io_uring_opcode_supported(p, IORING_OP_RENAMEAT);
    d->mkdirat = io_uring_opcode_supported(p, IORING_OP_MKDIRAT);
    d->files_update = io_uring_opcode_supported(p, IORING_OP_FILES_UPDATE);
    for (size_t i = 0; i < sizeof(needed_ops) / sizeof(needed_ops[0]) && rc == 0; i++) {
        if (!io_uring_opcode_supported(p, needed_ops[i].op)) {
            snprintf(reason, len, "io_uring: IORING_OP_%s is not supported", needed_ops[i].name);
            rc = -EOPNOTSUPP;
        }
    }
    io_uring_free_probe(p);
    return rc;
}

/*
 * Does WRITE take RWF_NOSIGNAL? The kernel checks rw flags before it looks at
 * the file, and a pipe answers a zero-length write with 0 before it looks for
 * readers, so this write can neither block nor raise SIGPIPE: 0 means yes,
 * -EOPNOTSUPP (an unknown flag) means no.
 */
static bool probe_nosignal(struct uring *d)
{
#ifdef VL__URING_NO_RWF_NOSIGNAL
    (void)d;
    return false; /* test hook: exercise the sigmask guard on any kernel */
#else
    int p[2];
    static char byte;
    bool ok = false;
    if (pipe2(p, O_CLOEXEC) < 0)
        return false;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe != NULL) {
        io_uring_prep_write(sqe, p[1], &byte, 0, (uint64_t)-1);
        sqe->rw_flags = RWF_NOSIGNAL;
        sqe->user_data = PROBE_TAG;
        struct io_uring_cqe *cqe;
        if (io_uring_submit_and_wait(&d->ring, 1) >= 0 && io_uring_peek_cqe(&d->ring, &cqe) == 0) {
            ok = cqe->user_data == PROBE_TAG && cqe->res == 0;
            io_uring_cqe_seen(&d->ring, cqe);
        }
    }
    close(p[0]);
    close(p[1]);
    return ok;
#endif
}

/*
 * Test knob: VLLSI_URING_FALLBACK=multishot runs multishot ops as re-armed
 * single-shot requests (what a 5.19 kernel gets), =msgring wakes other
 * engines through their eventfd instead of MSG_RING (before 5.18), =socket
 * makes SOCKET's call in the driver instead of IORING_OP_SOCKET (before
 * 5.19), =paths makes UNLINKAT, RENAMEAT and MKDIRAT NOPs whose CQE makes
 * the call (before 5.11 and 5.15), =all does all of that and keeps pools in
 * user space (before 5.19), so the suites can check those paths on any
 * kernel.
 */
static void fallback_knob(struct uring *d)
{
    const char *v = getenv("VLLSI_URING_FALLBACK");
    if (v == NULL)
        return;
    if (strcmp(v, "multishot") == 0 || strcmp(v, "all") == 0)
        d->ms_recv = d->ms_accept = d->ms_poll = false;
    if (strcmp(v, "all") == 0)
        d->bufring = false;
    if (strcmp(v, "msgring") == 0 || strcmp(v, "all") == 0)
        d->msg_ring = false;
    if (strcmp(v, "socket") == 0 || strcmp(v, "all") == 0)
        d->socket_op = false;
    if (strcmp(v, "paths") == 0 || strcmp(v, "all") == 0)
        d->unlinkat = d->mkdirat = false;
}

/*
 * The op kinds whose CQE needs nothing from on_cqe beyond its result (apart
 * from -EINTR, which the reaper always sends there): not CANCEL (-ENOENT may
 * be retried), TIMEOUT (-ETIME is success), WRITE while
 * the SIGPIPE guard counts writes, ACCEPT (its new socket may be one SENDFILE
 * knows non-blocking: sf_nb_new_file), and, under valgrind only, the kinds whose
 * kernel-filled memory must be marked defined. Multishot ops are never plain,
 * whatever their kind: the reaper tests their flag.
 */
static struct vl__kindset plain_kinds(const struct uring *d)
{
    struct vl__kindset m = {.has = {[VL_OP_NOP] = true,
                                    [VL_OP_CONNECT] = true,
                                    [VL_OP_SEND] = true,
                                    [VL_OP_SENDV] = true,
                                    [VL_OP_SENDMSG] = true,
                                    [VL_OP_CLOSE] = true,
                                    [VL_OP_FSYNC] = true}};
    m.has[VL_OP_WRITE] = m.has[VL_OP_WRITEV] = d->sigpipe != SIGPIPE_GUARD;
    m.has[VL_OP_READ] = m.has[VL_OP_RECV] = !VL__ON_VALGRIND();
    m.has[VL_OP_READV] = !VL__ON_VALGRIND();
    return m;
}

static int uring_init(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    struct uring *d = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : calloc(1, sizeof(*d));
    if (d != NULL) {
        d->msgs = calloc(vl__engine_capacity(e), sizeof(*d->msgs));
        if (d->msgs == NULL) {
            free(d);
            d = NULL;
        }
    }
    if (d == NULL)
        return -ENOMEM;
    d->st = vl__engine_stats(e);
    int rc = setup_ring(d, cfg);
    if (rc < 0) {
        say(reason, len, "io_uring_setup", rc);
        free(d->msgs);
        free(d);
        return rc;
    }
    rc = probe_ops(d, reason, len);
    if (rc == 0) {
        d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (d->efd < 0) {
            rc = -errno;
            say(reason, len, "eventfd", rc);
        }
    }
    if (rc < 0) {
        io_uring_queue_exit(&d->ring);
        free(d->msgs);
        free(d);
        return rc;
    }
    fallback_knob(d);
    d->host_efd = -1;
    d->remember = (cfg->flags & VL_ENGINE_REMEMBER_FDS) != 0;
    d->rearm_head = d->rearm_tail = UINT32_MAX;
    d->sf_wait_head = d->sf_wait_tail = UINT32_MAX;
    for (int k = 0; k < SF_PIPES; k++)
        d->sf_pipe[k][0] = d->sf_pipe[k][1] = -1;
    if (probe_nosignal(d))
        d->sigpipe = SIGPIPE_NOSIGNAL;
    else if (d->ring.flags & IORING_SETUP_DEFER_TASKRUN)
        d->sigpipe = SIGPIPE_GUARD;
    else
        d->sigpipe = SIGPIPE_ASYNC;
    arm_wake(d);
    d->plain = plain_kinds(d);
    vl__engine_set_completes_outside_poll(e, !(d->ring.flags & IORING_SETUP_DEFER_TASKRUN));
    /* A registered ring fd saves an fdget per io_uring_enter, but it belongs
     * to the registering thread; without SINGLE_ISSUER the engine may move
     * between threads, so only register when it cannot. Failure is fine. */
    if (d->ring.flags & IORING_SETUP_SINGLE_ISSUER)
        d->reg_ring = io_uring_register_ring_fd(&d->ring) == 1;
    d->min_timeout = (d->ring.features & IORING_FEAT_MIN_TIMEOUT) != 0;
    d->st->kernel_dropped = d->ring.cq.koverflow;
    *vl__engine_drv(e) = d;
    return 0;
}

/* Called after every op completed (rule 3); only the wake read is left. */
static void uring_fini(vl_engine *e)
{
    struct uring *d = state(e);
    d->closing = true;
    d->st->kernel_dropped = NULL; /* the ring's memory goes below */
    /* Cancel the wake read and see its CQE before freeing its buffer, so no
     * late eventfd write can land in freed memory. Bounded: a broken ring
     * must not hang destroy. */
    struct io_uring_sqe *sqe = d->wake_armed ? get_sqe(d) : NULL;
    if (sqe != NULL) {
        io_uring_prep_cancel64(sqe, WAKE_TAG, 0);
        sqe->user_data = DROP_TAG;
    }
    for (int i = 0; i < 50 && d->wake_armed; i++) {
        struct __kernel_timespec ts = {0, 100 * 1000 * 1000};
        int rc = ring_wait(d, &ts);
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&d->ring, head, cqe)
        {
            if (cqe->user_data == WAKE_TAG)
                d->wake_armed = false;
            n++;
        }
        io_uring_cq_advance(&d->ring, n);
        if (rc < 0 && rc != -ETIME && rc != -EINTR)
            break;
    }
    io_uring_queue_exit(&d->ring);
    close(d->efd);
    if (d->host_efd >= 0)
        close(d->host_efd); /* the ring's exit unregistered it */
    for (int k = 0; k < SF_PIPES; k++)
        if (d->sf_pipe[k][0] >= 0) {
            close(d->sf_pipe[k][0]);
            close(d->sf_pipe[k][1]);
        }
    free(d->sf_nb);
    free(d->fx_flag); /* the ring's exit dropped the table's file references */
    free(d->msgs);
    free(d);
    *vl__engine_drv(e) = NULL;
}

/* ---- ops -------------------------------------------------------------------- */

static void prep_nop(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)s, (void)e;
    io_uring_prep_nop(sqe);
}

/* An offset of -1 becomes (u64)-1, which the kernel reads as "the file
 * position" (and the only offset a pipe or socket accepts). */
static void prep_read(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    io_uring_prep_read(sqe, s->op.fd, s->op.u.rw.buf, (unsigned)VL__FAULT_SHORTEN(s->op.u.rw.len),
                       (uint64_t)s->op.u.rw.offset);
    fx_use(d, sqe, s->op.fd);
}

static void prep_write(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)e;
    io_uring_prep_write(sqe, s->op.fd, s->op.u.rw.buf, (unsigned)VL__FAULT_SHORTEN(s->op.u.rw.len),
                        (uint64_t)s->op.u.rw.offset);
    if (d->sigpipe == SIGPIPE_NOSIGNAL)
        sqe->rw_flags = RWF_NOSIGNAL;
    else if (d->sigpipe == SIGPIPE_GUARD)
        d->writes++;
    else
        io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
    fx_use(d, sqe, s->op.fd);
}

/* READV, WRITEV: IORING_OP_READV/WRITEV over the caller's array (vl_iovec
 * is struct iovec's layout), the offset as READ's; WRITEV keeps SIGPIPE
 * away as WRITE does. */
static void prep_readv(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    io_uring_prep_readv(sqe, s->op.fd, (const struct iovec *)(const void *)s->op.u.rwv.iov,
                        s->op.u.rwv.iovcnt, (uint64_t)s->op.u.rwv.offset);
    fx_use(d, sqe, s->op.fd);
}

static void prep_writev(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)e;
    io_uring_prep_writev(sqe, s->op.fd, (const struct iovec *)(const void *)s->op.u.rwv.iov,
                         s->op.u.rwv.iovcnt, (uint64_t)s->op.u.rwv.offset);
    if (d->sigpipe == SIGPIPE_NOSIGNAL)
        sqe->rw_flags = RWF_NOSIGNAL;
    else if (d->sigpipe == SIGPIPE_GUARD)
        d->writes++;
    else
        io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
    fx_use(d, sqe, s->op.fd);
}

/* FSYNC: IORING_OP_FSYNC; VL_FSYNC_DATASYNC is IORING_FSYNC_DATASYNC. */
_Static_assert(VL_FSYNC_DATASYNC == IORING_FSYNC_DATASYNC, "VL_FSYNC_DATASYNC is io_uring's");

static void prep_fsync(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    io_uring_prep_fsync(sqe, s->op.fd, s->op.u.fsync.flags);
}

static void prep_recv_multi(struct uring *d, struct vl__slot *s, vl_engine *e,
                            struct io_uring_sqe *sqe);
static void prep_accept_multi(struct uring *d, struct vl__slot *s, vl_engine *e,
                              struct io_uring_sqe *sqe);

/* accept4(2)'s flags for an ACCEPT: always close-on-exec, non-blocking
 * with VL_SOCK_NONBLOCK. */
static int accept_flags(const vl_op *op)
{
    return SOCK_CLOEXEC | ((op->u.accept.flags & VL_SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0);
}

static void prep_accept(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    if (VL_UNLIKELY(vl__op_is_multishot(&s->op))) {
        prep_accept_multi(d, s, e, sqe);
        return;
    }
    (void)d, (void)e;
    struct sockaddr *addr = s->op.u.accept.addr;
    io_uring_prep_accept(sqe, s->op.fd, addr, addr ? s->op.u.accept.addrlen : NULL,
                         accept_flags(&s->op));
}

static void prep_connect(struct uring *d, struct vl__slot *s, vl_engine *e,
                         struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    io_uring_prep_connect(sqe, s->op.fd, s->op.u.connect.addr, s->op.u.connect.addrlen);
}

static void prep_send(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    io_uring_prep_send(sqe, s->op.fd, s->op.u.msg.buf, VL__FAULT_SHORTEN(s->op.u.msg.len),
                       s->op.u.msg.flags | MSG_NOSIGNAL);
    fx_use(d, sqe, s->op.fd);
}

/* SENDV: a SENDMSG over the caller's array (vl__sendv_msghdr). */
static void prep_sendv(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    struct uring_msg *u = &d->msgs[s - vl__engine_slot(e, 0)];
    const vl_op *op = &s->op;
    vl__sendv_msghdr(op, &u->m, &u->head);
    io_uring_prep_sendmsg(sqe, op->fd, &u->m, (unsigned)(op->u.vec.flags | MSG_NOSIGNAL));
    fx_use(d, sqe, op->fd);
}

static void prep_recv(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    if (VL_UNLIKELY(vl__op_is_multishot(&s->op))) {
        prep_recv_multi(d, s, e, sqe);
        return;
    }
    io_uring_prep_recv(sqe, s->op.fd, s->op.u.msg.buf, VL__FAULT_SHORTEN(s->op.u.msg.len),
                       s->op.u.msg.flags);
    fx_use(d, sqe, s->op.fd);
    /* The caller's guess that no data is there yet: arm the poll without
     * the recv attempt that would say EAGAIN. */
    if ((s->op.flags & VL_OP_F_POLL_FIRST) && d->poll_first)
        sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
}

/* An absolute CLOCK_MONOTONIC deadline (io_uring's default clock), fixed by
 * the core at submit, so a late flush never stretches the timeout. The
 * timespec lives in the slot until the kernel copies it at submission. */
static void prep_timeout(struct uring *d, struct vl__slot *s, vl_engine *e,
                         struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    us(s)->ts.tv_sec = (int64_t)(s->deadline_ns / 1000000000u);
    us(s)->ts.tv_nsec = (long long)(s->deadline_ns % 1000000000u);
    io_uring_prep_timeout(sqe, &us(s)->ts, 0, IORING_TIMEOUT_ABS);
}

/* ---- SENDFILE's knowledge of non-blocking sockets (struct uring's sf_nb) ---- */

/*
 * What the readiness core keeps in its hints' nonblock (reactor.c), for
 * the same use: a SENDFILE on a socket known to be non-blocking makes its
 * sendfile(2) without asking the socket's flags (vl__sendfile_held's nb).
 * Known are the sockets an ACCEPT or SOCKET of this engine made with
 * VL_SOCK_NONBLOCK, which VL_SOCK_NONBLOCK's paragraph (engine.h) promises
 * stay so, and under VL_ENGINE_REMEMBER_FDS the sockets a SENDFILE found
 * non-blocking. A number forgets when the engine sees it get a new file
 * (ACCEPT, SOCKET, OPENAT) or lose it (CLOSE, at its prep, before the
 * kernel can hand the number out again). All on the polling thread.
 */
static bool sf_nb_known(const struct uring *d, int fd)
{
    return d->sf_nb != NULL && fd >= 0 && d->sf_nb[(uint32_t)fd & d->sf_nb_mask] == fd;
}

static void sf_nb_forget(struct uring *d, int fd)
{
    if (sf_nb_known(d, fd))
        d->sf_nb[(uint32_t)fd & d->sf_nb_mask] = -1;
}

/* fd holds a non-blocking socket. The table is made at the first (one
 * entry per two slots of the engine's, as the reactor's hints); without
 * memory nothing is known and every SENDFILE asks. */
static void sf_nb_learn(vl_engine *e, struct uring *d, int fd)
{
    if (d->sf_nb == NULL) {
        uint32_t cap = 2;
        while (cap < 2 * (uint64_t)vl__engine_capacity(e))
            cap <<= 1;
        d->sf_nb = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : malloc((size_t)cap * sizeof(*d->sf_nb));
        if (d->sf_nb == NULL)
            return;
        for (uint32_t k = 0; k < cap; k++)
            d->sf_nb[k] = -1;
        d->sf_nb_mask = cap - 1;
    }
    d->sf_nb[(uint32_t)fd & d->sf_nb_mask] = fd;
}

/* An ACCEPT's or SOCKET's new socket fd, non-blocking where flags has
 * VL_SOCK_NONBLOCK; an OPENAT's new file (flags 0). */
static void sf_nb_new_file(vl_engine *e, struct uring *d, int64_t fd, uint32_t flags)
{
    if (fd < 0)
        return;
    if (flags & VL_SOCK_NONBLOCK)
        sf_nb_learn(e, d, (int)fd);
    else
        sf_nb_forget(d, (int)fd);
}

static void prep_close(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)e;
    sf_nb_forget(d, s->op.fd); /* the number's next file starts unknown */
    io_uring_prep_close(sqe, s->op.fd);
}

/* The kernel answers for us: 0 cancelled, -ENOENT not found (already done),
 * -EALREADY running and will complete by itself. */
static void prep_cancel(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d;
    (void)e;
    /* The id the caller named (the core checked it was live): never the
     * target slot's current id, which a retry much later could find reused. */
    io_uring_prep_cancel64(sqe, s->op.u.cancel.target_id, 0);
}

/*
 * SHUTDOWN: a NOP, whose CQE makes the call (cqe_shutdown), in poll.
 * IORING_OP_SHUTDOWN (5.11+) is never issued inline: the kernel hands every
 * one to an io-wq worker thread, for a call that never blocks (6.18: a
 * SHUTDOWN round trip took 12-14 us that way, 2.7 us this way, and each
 * burst woke or made a worker). So the driver carries it out: emulated.
 */
static void prep_shutdown(struct uring *d, struct vl__slot *s, vl_engine *e,
                          struct io_uring_sqe *sqe)
{
    (void)s, (void)e;
    d->st->not_native++;
    io_uring_prep_nop(sqe);
}

/*
 * WAITPID: a NOP first, whose CQE (cqe_waitpid) reaps a child that exited
 * already, answers -ECHILD for a pid that is not a child, or opens the
 * child's pidfd (pidfd_open(2), 5.3+), which becomes readable when the
 * child exits; the re-arm (U_PIDFD) is a POLL_ADD on it, and its CQE reaps
 * with waitid(WNOHANG). So the polling thread never blocks, and a CANCEL
 * of the POLL_ADD leaves the child unreaped. IORING_OP_WAITID (6.7+) would
 * save the NOP, but liburing 2.3 has no prep for it and the pidfd path
 * serves every kernel from 5.3, as the epoll driver's does: emulated.
 */
static void prep_waitpid(struct uring *d, struct vl__slot *s, vl_engine *e,
                         struct io_uring_sqe *sqe)
{
    (void)e;
    if (us(s)->flags & U_PIDFD) {
        io_uring_prep_poll_add(sqe, s->op.fd, POLLIN);
        return;
    }
    d->st->not_native++;
    io_uring_prep_nop(sqe);
}

/*
 * SENDFILE, two ways, by size and by the page cache. Below SF_PIPE_MIN
 * (256 KiB), from it when cachestat(2) finds the whole range cached
 * (sf_cached), or when no pipe can be made (no fds left): a POLL_ADD for the
 * socket's writability,
 * whose CQE (cqe_sendfile) makes one non-blocking sendfile(2)
 * (vl__sendfile_held, SIGPIPE held for the whole reap: struct
 * vl__sigpipe_batch; a blocking socket made non-blocking for the call); EAGAIN arms the POLL_ADD
 * again (the re-arm list). Otherwise: the kernel moves the bytes as SPLICEs through a pipe
 * of the engine's (U_SFPIPE: the file into the pipe, then the pipe to the socket until it is empty,
 * cqe_sendfile_piped), on its io-wq threads. Measured on 6.18 (loopback TCP, a reader thread
 * draining, medians of 5 to 7 runs of a raw liburing program on a loaded 2-core host), POLL_ADD +
 * sendfile against the splice pair on a non-blocking socket, MiB/s: 16 KiB 842 / 664, 64 KiB 2147 /
 * 1824, 256 KiB 2160 / 2786, 1 MiB 1380 / 2279. Each op in the second stage holds its pipe, and one
 * that may hold bytes when the op ends (an error, a cancel) is closed, never handed to the next.
 * Both count emulated.
 * A cold file makes the first way wait for the disk on the polling
 * thread (as nginx's sendfile does); the second reads it on io-wq. So a
 * large range the page cache holds whole takes the first way: copied from
 * memory, it cannot wait for the disk, and it skips the pipe's io-wq
 * round trips (1 MiB responses of examples/http_server over loopback: 1.03
 * to 1.13 io-wq work items and 0.2 to 0.45 context switches per response
 * against 1.35 to 1.45 and 0.5 to 0.8, for one cachestat(2) more: 7 to
 * 9.5 us for 1 MiB of 4 KiB pages in a VM whose null system call takes
 * 2.4 to 3.1 us; server CPU per response measured the same within the
 * noise of a loaded host). It also leaves the pipes free for the cold
 * files that need them, which hot ones would otherwise hold under load.
 * A cold range that finds all SF_PIPES held waits for one, in a FIFO
 * (sf_wait_push; sf_pipe_put hands a returned pipe to the oldest), rather
 * than read the disk on the polling thread: more pipes would only move
 * the limit (each is two fds and up to 1 MiB of pipe buffers the user's
 * pipe-user-pages quota pays for), and the pipes held are busy moving
 * bytes, so a wait is as long as one pipe's worth of sending. A cancel,
 * a deadline or shutdown takes a waiting op off the FIFO (rearm_take).
 */
/* A free pipe of the engine's for a SENDFILE, made on first use (close-on-
 * exec, as large as the system lets it be): its index, or -1 when all are
 * held (the op then waits for one) or none can be made (the op then takes
 * the POLL_ADD way). */
static bool sf_pipe_make(struct uring *d, int k)
{
    if (d->sf_pipe[k][0] >= 0)
        return true;
    if (pipe2(d->sf_pipe[k], O_CLOEXEC) != 0) {
        d->sf_pipe[k][0] = d->sf_pipe[k][1] = -1;
        return false;
    }
    (void)fcntl(d->sf_pipe[k][1], F_SETPIPE_SZ, SF_PIPE_SIZE);
    int cap = fcntl(d->sf_pipe[k][1], F_GETPIPE_SZ);
    d->sf_cap[k] = cap > 0 ? (uint32_t)cap : 65536u;
    return true;
}

static int sf_pipe_take(struct uring *d)
{
    for (int k = 0; k < SF_PIPES; k++) {
        if (d->sf_busy & (1u << k))
            continue;
        if (!sf_pipe_make(d, k))
            return -1;
        d->sf_busy |= 1u << k;
        return k;
    }
    return -1;
}

#define SF_ALL_BUSY ((1u << SF_PIPES) - 1u)

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* the same number on every architecture */
#endif

/*
 * Whether the page cache holds every page of a SENDFILE's range
 * (cachestat(2), Linux 6.5+): then sendfile(2) on the polling thread
 * copies from memory and never waits for the disk, and the op skips the
 * pipe's io-wq round trips. A page evicted between this check and the
 * copy makes that one sendfile read it synchronously: a rare, bounded
 * wait, accepted. False (the piped path) for a range not known to be
 * cached: a position of -1 (not asked, to save the lseek), a range past
 * the file's end (its pages are not in the cache), a file cachestat does
 * not cover, or a kernel without the call (ENOSYS, or EPERM from a
 * filter: remembered, never asked again). The whole range is asked, not
 * only what the socket can take now: over loopback one sendfile(2) sends
 * a 1 MiB response whole (1.0 call per /1m request of examples/http_server
 * at 64 and 256 connections), and the socket's room would cost two calls
 * more (SIOCOUTQ, SO_SNDBUF). Its cost, measured on 6.18 in a VM: 1.1 us
 * for 4 KiB to 2.8 us for 1 MiB called in a loop (a null system call: 1.0
 * us), 1.8 % of the server's CPU time per /1m response under load.
 */
static bool sf_cached(struct uring *d, const vl_op *op)
{
    if (d->sf_nocachestat || op->u.sendfile.offset < 0)
        return false;
    struct {
        uint64_t off, len;
    } range = {(uint64_t)op->u.sendfile.offset, op->u.sendfile.count};
    struct {
        uint64_t cache, dirty, writeback, evicted, recently_evicted;
    } cs;
    if (syscall(SYS_cachestat, op->u.sendfile.file_fd, &range, &cs, 0) != 0) {
        if (errno == ENOSYS || errno == EPERM)
            d->sf_nocachestat = true;
        return false;
    }
    uint64_t page = (uint64_t)getpagesize();
    uint64_t pages = (range.off + range.len + page - 1) / page - range.off / page;
    return cs.cache >= pages;
}

static void rearm_push(vl_engine *e, struct uring *d, uint32_t i);

/* Slot i (a SENDFILE whose POLL_ADD found its socket writable) starts its
 * piped way through pipe k: its first stage next (prep_sendfile). */
static void sf_start_piped(vl_engine *e, struct uring *d, uint32_t i, uint32_t k)
{
    struct uring_slot *u = us(vl__engine_slot(e, i));
    u->flags |= U_SFPIPE;
    u->bid = k;
    u->sf.sent = u->sf.inpipe = 0;
    rearm_push(e, d, i);
}

/*
 * Give pipe k back. dirty: bytes may be left in it (a short or failed
 * second stage, a cancel), which the next SENDFILE must never send, so it
 * is closed and made anew at its next use. The oldest SENDFILE waiting for
 * a pipe (cqe_sendfile) takes it at once; one that finds it cannot be made
 * anew (no fds left) takes the POLL_ADD way again, which decides afresh.
 */
static void sf_pipe_put(vl_engine *e, struct uring *d, uint32_t k, bool dirty)
{
    if (dirty && d->sf_pipe[k][0] >= 0) {
        close(d->sf_pipe[k][0]);
        close(d->sf_pipe[k][1]);
        d->sf_pipe[k][0] = d->sf_pipe[k][1] = -1;
    }
    d->sf_busy &= ~(1u << k);
    uint32_t i = d->sf_wait_head;
    if (i == UINT32_MAX)
        return;
    struct uring_slot *u = us(vl__engine_slot(e, i));
    d->sf_wait_head = u->next;
    if (d->sf_wait_head == UINT32_MAX)
        d->sf_wait_tail = UINT32_MAX;
    u->flags &= ~U_SFWAIT;
    if (!sf_pipe_make(d, (int)k)) {
        rearm_push(e, d, i);
        return;
    }
    d->sf_busy |= 1u << k;
    sf_start_piped(e, d, i, k);
}

/* The driver's FIFOs of slots (re-arms, SENDFILEs waiting for a pipe),
 * linked through uring_slot.next; flag marks a member. */
static void slist_push(vl_engine *e, uint32_t *head, uint32_t *tail, uint32_t i, uint32_t flag)
{
    struct uring_slot *u = us(vl__engine_slot(e, i));
    u->flags |= flag;
    u->next = UINT32_MAX;
    if (*tail == UINT32_MAX)
        *head = i;
    else
        us(vl__engine_slot(e, *tail))->next = i;
    *tail = i;
}

/* Take slot off the FIFO; false if it is not on it. */
static bool slist_take(vl_engine *e, uint32_t *head, uint32_t *tail, uint32_t slot, uint32_t flag)
{
    uint32_t prev = UINT32_MAX;
    for (uint32_t i = *head; i != UINT32_MAX; prev = i, i = us(vl__engine_slot(e, i))->next) {
        if (i != slot)
            continue;
        uint32_t next = us(vl__engine_slot(e, i))->next;
        if (prev == UINT32_MAX)
            *head = next;
        else
            us(vl__engine_slot(e, prev))->next = next;
        if (*tail == i)
            *tail = prev;
        us(vl__engine_slot(e, i))->flags &= ~flag;
        return true;
    }
    return false;
}

/* Slot i waits for a pipe, after those already waiting. */
static void sf_wait_push(vl_engine *e, struct uring *d, uint32_t i)
{
    slist_push(e, &d->sf_wait_head, &d->sf_wait_tail, i, U_SFWAIT);
}

/* Take slot off the list of SENDFILEs waiting for a pipe (a cancel, a
 * deadline, shutdown); false if it is not on it. */
static bool sf_wait_take(vl_engine *e, struct uring *d, uint32_t slot)
{
    return slist_take(e, &d->sf_wait_head, &d->sf_wait_tail, slot, U_SFWAIT);
}

/* A new op, and one on its way to the piped path, starts with the
 * POLL_ADD: the pipe is taken in cqe_sendfile, out of line, because a
 * call in a prep inlined into prep_op makes every submit save registers
 * (callgrind: 5 to 10 instructions per NOP); the extra round trip is
 * nothing beside 256 KiB. */
static void prep_sendfile(struct uring *d, struct vl__slot *s, vl_engine *e,
                          struct io_uring_sqe *sqe)
{
    (void)e;
    const vl_op *op = &s->op;
    struct uring_slot *u = us(s);
    if (!(u->flags & U_REARM)) {
        u->flags = 0; /* a new op: nothing of the slot's last one */
        d->st->not_native++;
    }
    if ((u->flags & (U_SFPIPE | U_SPOLL)) != U_SFPIPE) {
        io_uring_prep_poll_add(sqe, op->fd, POLLOUT);
        return;
    }
    const int *p = d->sf_pipe[u->bid];
    if (u->flags & U_SFOUT) {
        io_uring_prep_splice(sqe, p[0], -1, op->fd, -1, (unsigned)u->sf.inpipe, 0);
        return;
    }
    size_t n = op->u.sendfile.count < d->sf_cap[u->bid] ? op->u.sendfile.count : d->sf_cap[u->bid];
    io_uring_prep_splice(sqe, op->u.sendfile.file_fd, op->u.sendfile.offset, p[1], -1, (unsigned)n,
                         0);
}

/*
 * SPLICE: IORING_OP_SPLICE (5.7), -1 offsets meaning the fd's position
 * there as well. The kernel runs it on io-wq, whose workers block every
 * signal, so a pipe or socket without a reader cannot raise SIGPIPE.
 * SPLICE_F_NONBLOCK is always added, as on the readiness drivers: a splice
 * that waits in io-wq holds the pipe's lock, so a close(2) or read(2) of
 * that pipe from any thread would sleep, uninterruptibly, until the other
 * side moved. With it the kernel answers -EAGAIN rather than wait (io_uring
 * arms no poll for a splice): cqe_splice then polls the side that is not
 * ready (U_SPOLL) and sends the splice again. The one wait left is Linux's
 * TCP, whose splice read honours only the socket's own O_NONBLOCK: a
 * blocking TCP socket as fd_in with no data waits there (vl_op_splice).
 */
static void prep_splice(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    const vl_op *op = &s->op;
    if (!(us(s)->flags & U_REARM))
        us(s)->flags = 0; /* a new op: nothing of the slot's last one */
    if (us(s)->flags & U_SPOLL) {
        if (us(s)->flags & U_SPOLL_OUT)
            io_uring_prep_poll_add(sqe, op->u.splice.fd_out, POLLOUT);
        else
            io_uring_prep_poll_add(sqe, op->fd, POLLIN);
        return;
    }
    io_uring_prep_splice(sqe, op->fd, op->u.splice.off_in, op->u.splice.fd_out,
                         op->u.splice.off_out, (unsigned)op->u.splice.len,
                         op->u.splice.flags | SPLICE_F_NONBLOCK);
}

/*
 * POLL: IORING_OP_POLL_ADD, its result the ready mask; multishot with
 * IORING_POLL_ADD_MULTI (5.13). Before that a multishot POLL completes
 * with -EOPNOTSUPP (through a NOP, cqe_poll_multi): re-armed single
 * shots, the other multishot ops' fallback, would each report the level
 * again at once, a busy loop for a caller that leaves the condition
 * standing (an fd that stays writable), instead of the readiness events
 * the op promises.
 */
static void prep_poll(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)e;
    unsigned events = s->op.u.poll.events;
    if (!vl__op_is_multishot(&s->op)) {
        io_uring_prep_poll_add(sqe, s->op.fd, events);
        return;
    }
    if (!(us(s)->flags & U_REARM))
        us(s)->flags = 0; /* a new op: nothing of the slot's last one */
    if (d->ms_poll) {
        io_uring_prep_poll_multishot(sqe, s->op.fd, events);
    } else {
        d->st->not_native++;
        us(s)->flags |= U_NOPOLL;
        io_uring_prep_nop(sqe);
    }
}

/*
 * SOCKET: IORING_OP_SOCKET (5.19+), always close-on-exec. Before 5.19 a NOP
 * whose CQE makes the call (cqe_socket), counted emulated.
 */
static void prep_socket(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)e;
    if (!d->socket_op) {
        d->st->not_native++;
        io_uring_prep_nop(sqe);
        return;
    }
    const vl_op *op = &s->op;
    int type = op->u.socket.type | SOCK_CLOEXEC;
    if (op->u.socket.flags & VL_SOCK_NONBLOCK)
        type |= SOCK_NONBLOCK;
    io_uring_prep_socket(sqe, op->u.socket.domain, type, op->u.socket.protocol, 0);
}

/*
 * BIND and LISTEN: a NOP whose CQE makes the call (cqe_bind, cqe_listen),
 * counted emulated. IORING_OP_BIND and IORING_OP_LISTEN (6.11+) are newer
 * than the liburing (2.3) the driver builds with, and neither call waits.
 */
static void prep_bind(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)s, (void)e;
    d->st->not_native++;
    io_uring_prep_nop(sqe);
}

#define prep_listen prep_bind

/*
 * The file and path ops: their own opcodes, which the kernel runs inline
 * when it can and on io-wq when the call would block (OPENAT and STATX came
 * with 5.6, which the probe needs anyway; UNLINKAT and RENAMEAT with 5.11,
 * MKDIRAT with 5.15). Where the kernel lacks one, and for FTRUNCATE, whose
 * IORING_OP_FTRUNCATE (6.9) liburing 2.3 does not know, the SQE is a NOP
 * and its CQE makes the system call (cqe_path), in poll: emulated.
 * ftruncate(2) changes metadata and returns without writing data back, so
 * the thread pays that call's time, as it does SHUTDOWN's; the kernel's
 * opcode would not be cheaper: it hands every FTRUNCATE to io-wq (6.18,
 * ext4: 12.6 us per round trip, one at a time, against 3.3 us this way,
 * measured with a raw opcode-55 SQE).
 */
static void prep_call(struct uring *d, struct vl__slot *s, struct io_uring_sqe *sqe)
{
    d->st->not_native++;
    us(s)->flags = U_CALL;
    io_uring_prep_nop(sqe);
}

/* O_CLOEXEC always: the engine never leaks a descriptor into a child.
 * With resolve flags, IORING_OP_OPENAT2 (5.6, as OPENAT), its open_how in
 * the slot's driver state. */
static void prep_openat(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    const vl_op *op = &s->op;
    if (op->u.openat.resolve != 0) {
        memset(&us(s)->how, 0, sizeof(us(s)->how));
        us(s)->how.flags = (uint64_t)(uint32_t)(op->u.openat.flags | O_CLOEXEC);
        us(s)->how.mode = op->u.openat.mode;
        us(s)->how.resolve = op->u.openat.resolve;
        io_uring_prep_openat2(sqe, op->fd, op->u.openat.path, &us(s)->how);
        return;
    }
    io_uring_prep_openat(sqe, op->fd, op->u.openat.path, op->u.openat.flags | O_CLOEXEC,
                         op->u.openat.mode);
}

/*
 * The kernel writes its struct statx into the caller's vl_statx (which has
 * room for it); cqe_statx converts it in place. io_uring runs no STATX
 * inline: every one is an io-wq work item, a thread hand-off per op. So
 * the fd form on a file system on a block device, whose inode is in
 * memory (vl__statx_cached), never reaches here: the submit paths
 * (statx_answer) answer it with statx(2) and complete it at once
 * (emulated), as nginx's fstat would; a chain member reaches them only
 * when its turn comes. Only the rest (a path, a file system without a
 * block device, AT_STATX_FORCE_SYNC) is an SQE.
 */
static void prep_statx(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)d, (void)e;
    const vl_op *op = &s->op;
    io_uring_prep_statx(sqe, op->fd, op->u.statx.path, op->u.statx.flags, VL__STATX_WANT,
                        (struct statx *)(void *)op->u.statx.buf);
}

static void prep_ftruncate(struct uring *d, struct vl__slot *s, vl_engine *e,
                           struct io_uring_sqe *sqe)
{
    (void)e;
    prep_call(d, s, sqe);
}

static void prep_unlinkat(struct uring *d, struct vl__slot *s, vl_engine *e,
                          struct io_uring_sqe *sqe)
{
    (void)e;
    us(s)->flags = 0;
    if (!d->unlinkat)
        prep_call(d, s, sqe);
    else
        io_uring_prep_unlinkat(sqe, s->op.fd, s->op.u.unlinkat.path, s->op.u.unlinkat.flags);
}

static void prep_renameat(struct uring *d, struct vl__slot *s, vl_engine *e,
                          struct io_uring_sqe *sqe)
{
    (void)e;
    const vl_op *op = &s->op;
    us(s)->flags = 0;
    if (!d->unlinkat)
        prep_call(d, s, sqe);
    else
        io_uring_prep_renameat(sqe, op->fd, op->u.renameat.oldpath, op->u.renameat.newdirfd,
                               op->u.renameat.newpath, 0);
}

static void prep_mkdirat(struct uring *d, struct vl__slot *s, vl_engine *e,
                         struct io_uring_sqe *sqe)
{
    (void)e;
    us(s)->flags = 0;
    if (!d->mkdirat)
        prep_call(d, s, sqe);
    else
        io_uring_prep_mkdirat(sqe, s->op.fd, s->op.u.mkdirat.path, s->op.u.mkdirat.mode);
}

/* A multishot RECV (prep_recv sends it here). */
static void prep_recv_multi(struct uring *d, struct vl__slot *s, vl_engine *e,
                            struct io_uring_sqe *sqe)
{
    (void)e;
    struct vl_bufpool *p = s->op.u.msg.pool;
    int fd = s->op.fd, flags = s->op.u.msg.flags;
    /* A new op (not a re-arm) has not starved yet. Without a multishot
     * recv on a buffer ring the driver emulates the op (re-armed single
     * shots): vl_engine_stats counts it so, once. */
    uint32_t starved = us(s)->flags & U_REARM ? 0 : U_STARVED;
    if (!(us(s)->flags & U_REARM) && !(p->native && d->ms_recv))
        d->st->not_native++;
    us(s)->flags &= ~(U_SINGLE | U_POLLING | U_BID | starved);
    if (p->native) {
        if (d->ms_recv) {
            io_uring_prep_recv_multishot(sqe, fd, NULL, 0, flags);
        } else {
            io_uring_prep_recv(sqe, fd, NULL, p->size, flags);
            us(s)->flags |= U_SINGLE;
        }
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = p->group;
        fx_use(d, sqe, fd);
        return;
    }
    /* A pool in user space (a kernel before 5.19, which has no sparse file
     * table either, or VLLSI_URING_FALLBACK) reads by the plain fd, which
     * is as right: registering only spares the lookup. Without fx_use here
     * the submit fast path keeps its registers (nop-instructions.sh). */
    uint32_t bid;
    us(s)->flags |= U_SINGLE;
    if (vl__pool_take(p, &bid)) {
        us(s)->flags |= U_BID;
        us(s)->bid = bid;
        io_uring_prep_recv(sqe, fd, vl__pool_buf(p, bid), p->size, flags);
    } else {
        us(s)->flags |= U_POLLING;
        io_uring_prep_poll_add(sqe, fd, POLLIN);
    }
}

/* SENDMSG: the caller's msghdr, with MSG_NOSIGNAL as SEND. */
static void prep_sendmsg(struct uring *d, struct vl__slot *s, vl_engine *e,
                         struct io_uring_sqe *sqe)
{
    (void)e;
    io_uring_prep_sendmsg(sqe, s->op.fd, s->op.u.mh.msg,
                          (unsigned)(s->op.u.mh.flags | MSG_NOSIGNAL));
    fx_use(d, sqe, s->op.fd);
}

/*
 * RECVMSG: IORING_OP_RECVMSG on the caller's msghdr. Multishot on a native
 * pool: IORING_RECV_MULTISHOT (6.0), whose buffers are vl_recvmsg_out's
 * layout. On a pool in user space (VLLSI_URING_FALLBACK=all, kernels before
 * 5.19) a POLL_ADD waits for a message and cqe_recvmsg_multi reads with
 * recvmsg(2) into the pool, as the readiness core does. A registered pool
 * on a kernel without multishot recv (5.19) has its free buffers in the
 * kernel's ring, where no user-space read can take one: the op completes
 * -EOPNOTSUPP (through a NOP).
 */
static void prep_recvmsg(struct uring *d, struct vl__slot *s, vl_engine *e,
                         struct io_uring_sqe *sqe)
{
    (void)e;
    const vl_op *op = &s->op;
    if (VL_LIKELY(!vl__op_is_multishot(op))) {
        io_uring_prep_recvmsg(sqe, op->fd, op->u.mh.msg, (unsigned)op->u.mh.flags);
        fx_use(d, sqe, op->fd);
        return;
    }
    struct vl_bufpool *p = op->u.mh.pool;
    bool native = p->native && d->ms_recv;
    if (!(us(s)->flags & U_REARM)) {
        us(s)->flags = 0; /* a new op: nothing of the slot's last one */
        if (!native)
            d->st->not_native++;
    }
    us(s)->flags &= ~(U_SINGLE | U_POLLING);
    if (native) {
        io_uring_prep_recvmsg_multishot(sqe, op->fd, op->u.mh.msg, (unsigned)op->u.mh.flags);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = p->group;
        fx_use(d, sqe, op->fd);
    } else if (!p->native) {
        us(s)->flags |= U_SINGLE | U_POLLING;
        io_uring_prep_poll_add(sqe, op->fd, POLLIN); /* the plain fd, as RECV's */
    } else {
        us(s)->flags |= U_NOMSG;
        io_uring_prep_nop(sqe);
    }
}

/* A multishot ACCEPT (prep_accept sends it here). */
static void prep_accept_multi(struct uring *d, struct vl__slot *s, vl_engine *e,
                              struct io_uring_sqe *sqe)
{
    (void)e;
    if (!(us(s)->flags & U_REARM) && !d->ms_accept)
        d->st->not_native++; /* re-armed single accepts */
    us(s)->flags &= ~U_SINGLE;
    if (d->ms_accept) {
        io_uring_prep_multishot_accept(sqe, s->op.fd, NULL, NULL, accept_flags(&s->op));
    } else {
        io_uring_prep_accept(sqe, s->op.fd, NULL, NULL, accept_flags(&s->op));
        us(s)->flags |= U_SINGLE;
    }
}

/*
 * Prepare sqe for s's op: prep_<name> for each X(NAME, name) of the list in
 * <vllsi/op_kinds.h> (a kind without one does not compile). A switch rather
 * than a table of pointers: the preps inline into their callers (callgrind:
 * the indirect call and the register saves around it were a tenth of a
 * NOP's submit). fast (a constant in each caller): the submit fast path,
 * which leaves an op of a kind that takes an offset, at an explicit offset,
 * to uring_submit (false, sqe untouched: see offset_on_stream); otherwise
 * always true. The row's offset is a constant in each case, so the test
 * costs the other kinds nothing.
 */
static inline bool prep_op(struct uring *d, struct vl__slot *s, vl_engine *e,
                           struct io_uring_sqe *sqe, bool fast)
{
    switch (s->op.kind) {
#define PREP_CASE(NAME, name)                                              \
    case VL_OP_##NAME:                                                     \
        if (fast && vl__op_offset(VL_OP_##NAME) && s->op.u.rw.offset >= 0) \
            return false;                                                  \
        if (fast && VL_OP_##NAME == VL_OP_CLOSE && fx_has(d, s->op.fd))    \
            return false;                                                  \
        prep_##name(d, s, e, sqe);                                         \
        return true;
        VL_OP_KINDS(PREP_CASE)
#undef PREP_CASE
    case VL_OP_KIND_COUNT_:
        break;
    }
    io_uring_prep_nop(sqe); /* never: the core validated the kind */
    return true;
}

static inline void prep(struct uring *d, struct vl__slot *s, vl_engine *e, struct io_uring_sqe *sqe)
{
    (void)prep_op(d, s, e, sqe, false);
}

/*
 * io_uring ignores an explicit offset on a pipe, FIFO or socket and reads the
 * stream, where pread(2) answers -ESPIPE. The contract (and the epoll driver)
 * follow pread, so explicit offsets are checked here: one fstat per op that
 * names an offset, which is how files are read; the common offset -1 pays
 * nothing. A bad fd is left to the kernel, which answers -EBADF.
 */
static bool offset_on_stream(const struct vl__slot *s)
{
    if (!vl__op_offset(s->op.kind) || s->op.u.rw.offset < 0)
        return false;
    struct stat st;
    if (fstat(s->op.fd, &st) != 0)
        return false;
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

static bool rearm_take(vl_engine *e, struct uring *d, uint32_t slot);
static void uring_pool_put(vl_engine *e, struct vl_bufpool *p, uint32_t bid);

/* A STATX the kernel answers from memory (prep_statx): made here and
 * completed at once; the result reaches the caller at its next poll.
 * False: the op is an SQE's. */
static bool statx_answer(vl_engine *e, struct vl__slot *s, uint32_t slot)
{
    const vl_op *op = &s->op;
    int rc = vl__statx_cached(op->fd, op->u.statx.path, op->u.statx.flags, op->u.statx.buf);
    if (rc == VL__STATX_NOT_CACHED)
        return false;
    vl__engine_stats(e)->not_native++;
    vl__engine_complete(e, slot, rc, 0);
    return true;
}

static int uring_submit(vl_engine *e, uint32_t slot)
{
    struct uring *d = state(e);
    struct vl__slot *s = vl__engine_slot(e, slot);
    /* A multishot op between two arms is not in the kernel: cancel it here. */
    if (VL_UNLIKELY(s->op.kind == VL_OP_CANCEL)) {
        if (rearm_take(e, d, s->target)) {
            vl__engine_stats(e)->not_native++; /* answered here, not by the kernel */
            vl__engine_complete(e, s->target, -ECANCELED, 0);
            vl__engine_complete(e, slot, 0, 0);
            return 0;
        }
        us(s)->retries = 0;
    }
    if (VL_UNLIKELY(s->op.kind == VL_OP_STATX) && statx_answer(e, s, slot))
        return 0;
    if (VL_UNLIKELY(offset_on_stream(s))) {
        vl__engine_stats(e)->not_native++;
        vl__engine_complete(e, slot, -ESPIPE, 0);
        return 0;
    }
    /* A registered fd's CLOSE clears its slot first (fx_close_first). */
    if (VL_UNLIKELY(s->op.kind == VL_OP_CLOSE) && fx_has(d, s->op.fd) &&
        (VL__FAULT(VL__FAULT_SQ_FULL) || !fx_close_first(d, s->op.fd)))
        return -EBUSY;
    /* Test builds may pretend the ring is full: the op stays queued. */
    struct io_uring_sqe *sqe = VL__FAULT(VL__FAULT_SQ_FULL) ? NULL : get_sqe(d);
    if (sqe == NULL)
        return -EBUSY;
    prep(d, s, e, sqe);
    io_uring_sqe_set_data64(sqe, vl__engine_slot_id(e, slot));
    return 0;
}

/*
 * The submit-time fast path: an SQE if one is free, no system call (get_sqe
 * would submit to make room) and nothing that needs one (an explicit offset
 * is checked with fstat in uring_submit). The SQE is taken as
 * io_uring_get_sqe does, on the same liburing fields, without its tests of
 * ring flags this driver never sets up (setup_ring asks for neither SQPOLL,
 * whose kernel thread would move the head concurrently, nor SQE128): half
 * the instructions.
 */
static VL__NOINLINE int64_t statx_try_submit(vl_engine *e, struct vl__slot *s, uint32_t slot,
                                             int64_t id);

static int64_t uring_try_submit(vl_engine *e, struct vl__slot *s, uint32_t slot, int64_t id)
{
    /* Out of line, as a tail call: the other kinds pay one compare. */
    if (VL_UNLIKELY(s->op.kind == VL_OP_STATX))
        return statx_try_submit(e, s, slot, id);
    struct uring *d = state(e);
    struct io_uring_sq *sq = &d->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (VL_UNLIKELY(tail - IO_URING_READ_ONCE(*sq->khead) >= sq->ring_entries) ||
        VL__FAULT(VL__FAULT_SQ_FULL))
        return vl__engine_requeue(e, slot, id);
    /* The SQE is ours only once sqe_tail moves past it. */
    struct io_uring_sqe *sqe = &sq->sqes[tail & sq->ring_mask];
    if (VL_UNLIKELY(!prep_op(d, s, e, sqe, true)))
        return vl__engine_requeue(e, slot, id);
    sq->sqe_tail = tail + 1;
    io_uring_sqe_set_data64(sqe, (uint64_t)id);
    return id;
}

/* uring_try_submit for a STATX: answered here (statx_answer), else an SQE
 * as any op's; with the SQ full, uring_submit later tries both again. */
static VL__NOINLINE int64_t statx_try_submit(vl_engine *e, struct vl__slot *s, uint32_t slot,
                                             int64_t id)
{
    if (statx_answer(e, s, slot))
        return id;
    struct uring *d = state(e);
    struct io_uring_sq *sq = &d->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (tail - IO_URING_READ_ONCE(*sq->khead) >= sq->ring_entries || VL__FAULT(VL__FAULT_SQ_FULL))
        return vl__engine_requeue(e, slot, id);
    struct io_uring_sqe *sqe = &sq->sqes[tail & sq->ring_mask];
    prep_statx(d, s, e, sqe);
    sq->sqe_tail = tail + 1;
    io_uring_sqe_set_data64(sqe, (uint64_t)id);
    return id;
}

/* ---- completions ------------------------------------------------------------ */

static int uring_wake(vl_engine *e);
static void rearm_push(vl_engine *e, struct uring *d, uint32_t i);

/*
 * A CANCEL the kernel answered -ENOENT while its target is still running:
 * io_uring (6.18, DEFER_TASKRUN) says that of a blocking CONNECT on its way
 * to an io-wq worker, and the CONNECT then goes on. Send the cancel again
 * after CANCEL_RETRY_NS (a TIMEOUT whose completion re-issues it), up to
 * CANCEL_RETRIES times; the CANCEL stays in flight meanwhile. true when a
 * retry is under way, false when the -ENOENT stands.
 */
static bool cancel_retry(vl_engine *e, struct uring *d, uint32_t i)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    uint32_t t;
    if (vl__engine_shutting(e) || us(s)->retries >= CANCEL_RETRIES ||
        !vl__engine_id_slot(e, s->op.u.cancel.target_id, &t) ||
        vl__engine_slot(e, t)->state != VL__SLOT_INFLIGHT)
        return false;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe == NULL)
        return false;
    us(s)->retries++;
    us(s)->ts.tv_sec = 0;
    us(s)->ts.tv_nsec = CANCEL_RETRY_NS;
    io_uring_prep_timeout(sqe, &us(s)->ts, 0, 0);
    io_uring_sqe_set_data64(sqe, RETRY_TAG | i);
    return true;
}

/* The retry delay is over: send the CANCEL again (or queue it to be). */
static void cancel_resend(vl_engine *e, struct uring *d, uint32_t i)
{
    if (i >= vl__engine_capacity(e))
        return;
    struct vl__slot *s = vl__engine_slot(e, i);
    if (s->state != VL__SLOT_INFLIGHT || s->op.kind != VL_OP_CANCEL)
        return;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
    if (sqe == NULL) {
        rearm_push(e, d, i);
        return;
    }
    prep_cancel(d, s, e, sqe);
    io_uring_sqe_set_data64(sqe, vl__engine_slot_id(e, i));
}

static void on_internal(vl_engine *e, struct uring *d, const struct io_uring_cqe *cqe)
{
    if (cqe->user_data == MSG_TAG) {
        vl__engine_note_wake(e); /* another engine's MSG_RING */
        return;
    }
    if (cqe->user_data & MSG_SENT_BIT) {
        /* Our MSG_RING failed (the target's CQ full on an old kernel, say):
         * the wake must not be lost, so take the target's eventfd. */
        if (cqe->res < 0)
            uring_wake(
                (vl_engine *)(uintptr_t)(cqe->user_data & ~(VL__INTERNAL_TAG | MSG_SENT_BIT)));
        return;
    }
    if ((cqe->user_data & ~RETRY_MASK) == RETRY_TAG) {
        cancel_resend(e, d, (uint32_t)(cqe->user_data & RETRY_MASK));
        return;
    }
    if ((cqe->user_data & ~RETRY_MASK) == FX_TAG) {
        fx_close_failed(d, (int)(cqe->user_data & RETRY_MASK), cqe->res);
        return;
    }
    if (cqe->user_data != WAKE_TAG)
        return; /* DROP_TAG: a shutdown cancel's own result is of no interest */
    d->wake_armed = false;
    VL__MARK_DEFINED(&d->wake_buf, sizeof(d->wake_buf));
    /* Only a real read is a wake: -ECANCELED comes from fini, and an old
     * kernel that answers -EAGAIN for a non-blocking eventfd must not turn
     * every wait into a wake. */
    if (cqe->res == (int)sizeof(d->wake_buf))
        vl__engine_note_wake(e);
}

/* ---- multishot: re-arming ----------------------------------------------------- */

/* Slot i joins the re-arm list, after those already on it. */
static void rearm_push(vl_engine *e, struct uring *d, uint32_t i)
{
    slist_push(e, &d->rearm_head, &d->rearm_tail, i, U_REARM);
}

/* Take slot off the re-arm list; false if it is not on it. */
static bool rearm_take(vl_engine *e, struct uring *d, uint32_t slot)
{
    if (slot == UINT32_MAX)
        return false;
    if (us(vl__engine_slot(e, slot))->flags & U_SFWAIT)
        return sf_wait_take(e, d, slot);
    if (!(us(vl__engine_slot(e, slot))->flags & U_REARM))
        return false;
    if (!slist_take(e, &d->rearm_head, &d->rearm_tail, slot, U_REARM))
        return false;
    struct vl__slot *s = vl__engine_slot(e, slot);
    if (us(s)->flags & U_SFPIPE) {
        /* A piped SENDFILE between two stages: its pipe may hold bytes, so
         * it goes. */
        us(s)->flags &= ~(U_SFPIPE | U_SFOUT | U_SPOLL);
        sf_pipe_put(e, d, us(s)->bid, true);
    }
    if (us(s)->flags & U_PIDFD) {
        /* A WAITPID between its NOP and its POLL_ADD: its pidfd goes with
         * the cancel that takes it. */
        close(s->op.fd);
        s->op.fd = -1;
        us(s)->flags &= ~U_PIDFD;
    }
    return true;
}

/* Arm the listed slots again, in order, as far as the SQ has room. */
static void rearm_flush(vl_engine *e, struct uring *d)
{
    while (d->rearm_head != UINT32_MAX) {
        uint32_t i = d->rearm_head;
        struct vl__slot *s = vl__engine_slot(e, i);
        struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
        if (sqe == NULL)
            return; /* the next wait submits and tries again */
        d->rearm_head = us(s)->next;
        if (d->rearm_head == UINT32_MAX)
            d->rearm_tail = UINT32_MAX;
        prep(d, s, e, sqe); /* sees U_REARM: a re-arm, not a new op */
        us(s)->flags &= ~U_REARM;
        io_uring_sqe_set_data64(sqe, vl__engine_slot_id(e, i));
    }
}

/* The kernel ended a multishot request that the caller did not: arm it
 * again, unless a cancel or shutdown is on its way, which it then answers. */
static void rearm_or_end(vl_engine *e, struct uring *d, uint32_t i)
{
    if ((vl__engine_slot(e, i)->core_flags & VL__SLOT_CANCEL_REQUESTED) || vl__engine_shutting(e))
        vl__engine_complete(e, i, -ECANCELED, 0);
    else
        rearm_push(e, d, i);
}

/* The user-space pool was empty and data (or EOF, or an error) arrived. */
static void recv_multi_polled(vl_engine *e, struct uring *d, uint32_t i, int res)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    if (res < 0) {
        vl__engine_complete(e, i, res, 0);
        return;
    }
    if (s->op.u.msg.pool->nfree > 0) {
        rearm_or_end(e, d, i);
        return;
    }
    char byte;
    ssize_t n = recv(s->op.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        rearm_or_end(e, d, i);
    else
        vl__engine_complete(e, i, n >= 0 ? -ENOBUFS : -errno, 0); /* data or EOF wait */
}

/*
 * A multishot RECV's CQE. Data is a VL_CQE_MORE completion naming its buffer;
 * without IORING_CQE_F_MORE the kernel stopped (a single-shot arm, or a CQ
 * overflow), so the driver arms again. 0 (EOF), -ENOBUFS and errors end
 * the op. After shutdown, data that finds no room in the core's queue is
 * dropped and its buffer goes back: the op is being cancelled anyway.
 */
static void cqe_recv_multi(vl_engine *e, struct uring *d, uint32_t i,
                           const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    struct vl_bufpool *p = s->op.u.msg.pool;
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (us(s)->flags & U_POLLING) {
        recv_multi_polled(e, d, i, cqe->res);
        return;
    }
    bool has_buf =
        p->native ? (cqe->flags & IORING_CQE_F_BUFFER) != 0 : (us(s)->flags & U_BID) != 0;
    uint32_t bid = p->native ? cqe->flags >> IORING_CQE_BUFFER_SHIFT : us(s)->bid;
    if (p->native && has_buf)
        ring_took(p);
    if (cqe->res > 0)
        us(s)->flags &= ~U_STARVED;
    if (cqe->res > 0 && has_buf && (vl__engine_cq_room(e) || !vl__engine_shutting(e))) {
        VL__MARK_DEFINED(vl__pool_buf(p, bid), (size_t)cqe->res);
        vl__pool_mark_out(p, bid);
        vl__engine_complete(e, i, cqe->res, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    } else if (has_buf) {
        if (p->native)
            uring_pool_put(e, p, bid);
        else
            vl__pool_untake(p, bid);
    }
    if (more)
        return;
    /* A starvation the window caused is not the caller's: once more, but
     * not twice without data in between, so that a ring the driver
     * miscounted cannot re-arm for ever. */
    if (cqe->res == -ENOBUFS && p->native && !(us(s)->flags & U_STARVED) && ring_starved(p)) {
        us(s)->flags |= U_STARVED;
        d->st->pool_rearmed++;
        rearm_or_end(e, d, i);
    } else if (cqe->res > 0) {
        rearm_or_end(e, d, i);
    } else {
        vl__engine_complete(e, i, cqe->res, 0);
    }
}

static void cqe_final(vl_engine *e, uint32_t i, int64_t res);

/* Whether a multishot RECVMSG's socket is a stream, asked once per op. */
static bool recvmsg_stream(struct vl__slot *s)
{
    if (!(us(s)->flags & U_TYPED)) {
        int type = 0;
        socklen_t len = sizeof(type);
        us(s)->flags |= U_TYPED;
        if (getsockopt(s->op.fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
            us(s)->flags |= U_STREAM;
    }
    return (us(s)->flags & U_STREAM) != 0;
}

/*
 * A multishot RECVMSG on a pool in user space, its POLL_ADD answered: read
 * messages with recvmsg(2) (vl__recvmsg_out) while they come, up to 8 per
 * wakeup, then wait again. An empty pool with a message waiting ends it
 * with -ENOBUFS, a stream's EOF with 0.
 */
static void recvmsg_polled(vl_engine *e, struct uring *d, uint32_t i, int res)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    struct vl_bufpool *p = s->op.u.mh.pool;
    if (res < 0) {
        cqe_final(e, i, res);
        return;
    }
    for (int k = 0; k < 8 && vl__engine_cq_room(e); k++) {
        uint32_t bid;
        if (!vl__pool_take(p, &bid)) {
            char byte;
            ssize_t n = recv(s->op.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            vl__engine_complete(e, i, n >= 0 ? -ENOBUFS : -errno, 0);
            return;
        }
        int64_t n = vl__recvmsg_out(s->op.fd, s->op.u.mh.msg, vl__pool_buf(p, bid), p->size,
                                    s->op.u.mh.flags | MSG_DONTWAIT, recvmsg_stream(s));
        if (n <= 0) {
            vl__pool_untake(p, bid);
            if (n == -EAGAIN || n == -EWOULDBLOCK)
                break;
            vl__engine_complete(e, i, n, 0);
            return;
        }
        vl__pool_mark_out(p, bid);
        vl__engine_complete(e, i, n, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    }
    rearm_or_end(e, d, i);
}

/*
 * A multishot RECVMSG's CQE on a native pool: a message in a ring buffer,
 * laid out as vl_recvmsg_out (the kernel's io_uring_recvmsg_out), is a
 * VL_CQE_MORE completion. The kernel ends the request (no F_MORE) after
 * every read of 0 bytes: a stream's EOF, which ends the op with 0 (its
 * header-only buffer goes back), or an empty datagram, which is delivered
 * and the op armed again. Otherwise as cqe_recv_multi.
 */
static void cqe_recvmsg_multi(vl_engine *e, struct uring *d, uint32_t i,
                              const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    struct vl_bufpool *p = s->op.u.mh.pool;
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (us(s)->flags & U_NOMSG) {
        cqe_final(e, i, cqe->res == 0 ? -EOPNOTSUPP : cqe->res);
        return;
    }
    if (us(s)->flags & U_POLLING) {
        recvmsg_polled(e, d, i, cqe->res);
        return;
    }
    bool has_buf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
    uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (has_buf)
        ring_took(p);
    bool eof = false;
    if (cqe->res > 0 && has_buf) {
        VL__MARK_DEFINED(vl__pool_buf(p, bid), (size_t)cqe->res);
        vl_recvmsg_out out;
        memcpy(&out, vl__pool_buf(p, bid), sizeof(out));
        eof = !more && out.payloadlen == 0 && recvmsg_stream(s);
        us(s)->flags &= ~U_STARVED;
    }
    if (cqe->res > 0 && has_buf && !eof && (vl__engine_cq_room(e) || !vl__engine_shutting(e))) {
        vl__pool_mark_out(p, bid);
        vl__engine_complete(e, i, cqe->res, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    } else if (has_buf) {
        uring_pool_put(e, p, bid);
    }
    if (more)
        return;
    if (eof) {
        vl__engine_complete(e, i, 0, 0);
    } else if (cqe->res == -ENOBUFS && !(us(s)->flags & U_STARVED) && ring_starved(p)) {
        us(s)->flags |= U_STARVED;
        d->st->pool_rearmed++;
        rearm_or_end(e, d, i);
    } else if (cqe->res > 0) {
        rearm_or_end(e, d, i);
    } else {
        cqe_final(e, i, cqe->res);
    }
}

/* A multishot ACCEPT's CQE: a connection, or (without F_MORE) the end. */
static void cqe_accept_multi(vl_engine *e, struct uring *d, uint32_t i,
                             const struct io_uring_cqe *cqe)
{
    bool more = cqe->flags & IORING_CQE_F_MORE;
    int res = cqe->res;
    /* While shutting down, the reaper drains every CQE whether or not the
     * core's CQ has room (the final completions must get in): a connection
     * accepted then without room is closed rather than overrunning the CQ,
     * as cqe_recv_multi drops data then. */
    if (res >= 0 && (vl__engine_cq_room(e) || !vl__engine_shutting(e))) {
        sf_nb_new_file(e, d, res, vl__engine_slot(e, i)->op.u.accept.flags);
        vl__engine_complete(e, i, res, VL_CQE_MORE);
    } else if (res >= 0)
        close(res);
    if (more)
        return;
    /* A connection that died in the backlog is not the listener's error. */
    if (res >= 0 || res == -ECONNABORTED || res == -EINTR)
        rearm_or_end(e, d, i);
    else
        vl__engine_complete(e, i, res, 0);
}

/* Whether fd is a file no kernel wait can watch (poll reports it ready at
 * once and for ever): a regular file, directory or block device. */
static bool never_waits(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 &&
           (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode));
}

/*
 * A multishot POLL's CQE: a mask to report with VL_CQE_MORE, or (without
 * IORING_CQE_F_MORE) the end of the kernel's request. The kernel ends it
 * with a mask after a CQ overflow, or at once on a file it cannot wait on, which it reports ready
 * and never watches: the first such end of an op looks at the file, and ends the op with -EPERM
 * there (the epoll driver's answer; re-arming would report the same readiness for ever). Otherwise
 * the driver arms it again. A negative result ends it (-ECANCELED, -EBADF).
 */
static void cqe_final(vl_engine *e, uint32_t i, int64_t res);

/* The kernel adds POLLRDHUP to what a POLL_ADD reports whether it was asked
 * or not (6.18): keep the asked bits and ERR and HUP, as poll(2) does. */
static int poll_mask(const struct vl__slot *s, int res)
{
    if (res <= 0)
        return res;
    return res & (int)(s->op.u.poll.events | VL_POLL_ERR | VL_POLL_HUP);
}

static void cqe_poll_multi(vl_engine *e, struct uring *d, uint32_t i,
                           const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    bool more = cqe->flags & IORING_CQE_F_MORE;
    int res = poll_mask(s, cqe->res);
    if (us(s)->flags & U_NOPOLL) {
        cqe_final(e, i, res == 0 ? -EOPNOTSUPP : res); /* or its cancel's -ECANCELED */
        return;
    }
    if (res > 0 && !more && !(us(s)->flags & U_WAITED) && never_waits(s->op.fd)) {
        vl__engine_complete(e, i, -EPERM, 0);
        return;
    }
    if (res > 0)
        us(s)->flags |= U_WAITED;
    if (res > 0 && (vl__engine_cq_room(e) || !vl__engine_shutting(e)))
        vl__engine_complete(e, i, res, VL_CQE_MORE);
    if (more)
        return;
    if (res >= 0) /* 0: woken for a bit nobody asked for */
        rearm_or_end(e, d, i);
    else
        cqe_final(e, i, res);
}

/* ---- completions per kind: cqe_<name> ---------------------------------------- */

/* A single-shot op's final CQE: its result, except that a blocking op in
 * io-wq interrupted by its cancel (-EINTR) was cancelled. */
static void cqe_final(vl_engine *e, uint32_t i, int64_t res)
{
    const struct vl__slot *s = vl__engine_slot(e, i);
    if (res == -EINTR && ((s->core_flags & VL__SLOT_CANCEL_REQUESTED) || vl__engine_shutting(e)))
        res = -ECANCELED;
    vl__engine_complete(e, i, res, 0);
}

/* The kinds whose CQE is their result (reap_plain takes most of them). */
static void cqe_nop(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    cqe_final(e, i, cqe->res);
}

#define cqe_connect cqe_nop
#define cqe_send    cqe_nop
#define cqe_sendv   cqe_nop
#define cqe_close   cqe_nop
#define cqe_fsync   cqe_nop

/* The kernel filled memory valgrind cannot see being written. */
static void cqe_read(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    const struct vl__slot *s = vl__engine_slot(e, i);
    if (cqe->res > 0)
        VL__MARK_DEFINED(s->op.u.rw.buf, (size_t)cqe->res);
    cqe_final(e, i, cqe->res);
}

static void cqe_recv(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    const struct vl__slot *s = vl__engine_slot(e, i);
    if (vl__op_is_multishot(&s->op)) {
        cqe_recv_multi(e, d, i, cqe);
        return;
    }
    if (cqe->res > 0)
        VL__MARK_DEFINED(s->op.u.msg.buf, (size_t)cqe->res);
    cqe_final(e, i, cqe->res);
}

#define cqe_sendmsg cqe_nop

/* A one-shot RECVMSG: the kernel wrote the caller's msghdr and buffers. */
static void cqe_recvmsg(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    if (vl__op_is_multishot(&s->op)) {
        cqe_recvmsg_multi(e, d, i, cqe);
        return;
    }
    struct msghdr *m = s->op.u.mh.msg;
    if (cqe->res >= 0) {
        VL__MARK_DEFINED(m, sizeof(*m));
        if (m->msg_name != NULL)
            VL__MARK_DEFINED(m->msg_name, m->msg_namelen);
        if (m->msg_control != NULL)
            VL__MARK_DEFINED(m->msg_control, m->msg_controllen);
        size_t left = (size_t)cqe->res;
        for (size_t k = 0; k < m->msg_iovlen && left > 0; k++) {
            size_t n = m->msg_iov[k].iov_len < left ? m->msg_iov[k].iov_len : left;
            VL__MARK_DEFINED(m->msg_iov[k].iov_base, n);
            left -= n;
        }
    }
    cqe_final(e, i, cqe->res);
}

static void cqe_accept(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    const struct vl__slot *s = vl__engine_slot(e, i);
    if (vl__op_is_multishot(&s->op)) {
        cqe_accept_multi(e, d, i, cqe);
        return;
    }
    if (cqe->res >= 0 && s->op.u.accept.addr != NULL) {
        VL__MARK_DEFINED(s->op.u.accept.addrlen, sizeof(socklen_t));
        VL__MARK_DEFINED(s->op.u.accept.addr, *s->op.u.accept.addrlen);
    }
    sf_nb_new_file(e, d, cqe->res, s->op.u.accept.flags);
    cqe_final(e, i, cqe->res);
}

/* Every WRITE's CQE ends it, a cancelled one's too: the SIGPIPE guard
 * counts it down. */
static void cqe_write(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    if (d->sigpipe == SIGPIPE_GUARD)
        d->writes--;
    cqe_final(e, i, cqe->res);
}

#define cqe_writev cqe_write

/* A READV's bytes are in its buffers, in order: mark them as cqe_read does. */
static void cqe_readv(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    const struct vl__slot *s = vl__engine_slot(e, i);
    size_t left = cqe->res > 0 ? (size_t)cqe->res : 0;
    for (uint32_t k = 0; k < s->op.u.rwv.iovcnt && left > 0; k++) {
        size_t n = s->op.u.rwv.iov[k].len < left ? s->op.u.rwv.iov[k].len : left;
        VL__MARK_DEFINED(s->op.u.rwv.iov[k].base, n);
        left -= n;
    }
    cqe_final(e, i, cqe->res);
}

/* The timer fired (-ETIME): that is a TIMEOUT's success. */
static void cqe_timeout(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    cqe_final(e, i, cqe->res == -ETIME ? 0 : cqe->res);
}

/* SHUTDOWN's NOP came back: make the call, unless a cancel ended it. */
static void cqe_shutdown(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    const struct vl__slot *s = vl__engine_slot(e, i);
    int64_t res = cqe->res;
    if (res == 0)
        res = shutdown(s->op.fd, s->op.u.shutdown.how) == 0 ? 0 : -errno;
    cqe_final(e, i, res);
}

/* SOCKET's CQE: the new fd; or, on a kernel without IORING_OP_SOCKET, its
 * NOP came back and the driver makes the call, unless a cancel ended it. */
static void cqe_socket(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    const vl_op *op = &vl__engine_slot(e, i)->op;
    int64_t res = cqe->res;
    if (!d->socket_op && res == 0) {
        int type = op->u.socket.type | SOCK_CLOEXEC;
        if (op->u.socket.flags & VL_SOCK_NONBLOCK)
            type |= SOCK_NONBLOCK;
        int fd = socket(op->u.socket.domain, type, op->u.socket.protocol);
        res = fd >= 0 ? fd : -errno;
    }
    sf_nb_new_file(e, d, res, op->u.socket.flags);
    cqe_final(e, i, res);
}

/* BIND's and LISTEN's NOPs came back: make the call, unless a cancel ended
 * it. */
static void cqe_bind(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    const vl_op *op = &vl__engine_slot(e, i)->op;
    int64_t res = cqe->res;
    if (res == 0)
        res = bind(op->fd, op->u.bind.addr, op->u.bind.addrlen) == 0 ? 0 : -errno;
    cqe_final(e, i, res);
}

static void cqe_listen(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    const vl_op *op = &vl__engine_slot(e, i)->op;
    int64_t res = cqe->res;
    if (res == 0)
        res = listen(op->fd, op->u.listen.backlog) == 0 ? 0 : -errno;
    cqe_final(e, i, res);
}

/* The system calls of the path ops prep_call sends as NOPs. */
static int call_ftruncate(const vl_op *op)
{
    return ftruncate(op->fd, (off_t)op->u.ftruncate.length);
}

static int call_unlinkat(const vl_op *op)
{
    return unlinkat(op->fd, op->u.unlinkat.path, op->u.unlinkat.flags);
}

static int call_renameat(const vl_op *op)
{
    return renameat(op->fd, op->u.renameat.oldpath, op->u.renameat.newdirfd,
                    op->u.renameat.newpath);
}

static int call_mkdirat(const vl_op *op)
{
    return mkdirat(op->fd, op->u.mkdirat.path, (mode_t)op->u.mkdirat.mode);
}

/* A path op's CQE: its result, or for a NOP (prep_call) the call's,
 * unless a cancel ended the NOP. */
static void cqe_path(vl_engine *e, uint32_t i, const struct io_uring_cqe *cqe,
                     int (*call)(const vl_op *))
{
    struct vl__slot *s = vl__engine_slot(e, i);
    int64_t res = cqe->res;
    if ((us(s)->flags & U_CALL) && res == 0)
        res = call(&s->op) == 0 ? 0 : -errno;
    cqe_final(e, i, res);
}

#define CQE_PATH(name)                                                \
    static void cqe_##name(vl_engine *e, struct uring *d, uint32_t i, \
                           const struct io_uring_cqe *cqe)            \
    {                                                                 \
        (void)d;                                                      \
        cqe_path(e, i, cqe, call_##name);                             \
    }
CQE_PATH(ftruncate)
CQE_PATH(unlinkat)
CQE_PATH(renameat)
CQE_PATH(mkdirat)
#undef CQE_PATH

/* OPENAT's CQE: a new file on the number (sf_nb_new_file). */
static void cqe_openat(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    sf_nb_new_file(e, d, cqe->res, 0);
    cqe_final(e, i, cqe->res);
}

/* STATX's CQE: the kernel's struct statx, in the caller's buffer, becomes
 * a vl_statx there (valgrind cannot see the kernel write it). */
static void cqe_statx(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    (void)d;
    const struct vl__slot *s = vl__engine_slot(e, i);
    if (cqe->res == 0) {
        VL__MARK_DEFINED(s->op.u.statx.buf, sizeof(struct statx));
        vl__statx_from_linux(s->op.u.statx.buf, s->op.u.statx.buf);
    }
    cqe_final(e, i, cqe->res);
}

/* A one-shot POLL's CQE: the mask, or an error. Woken for RDHUP alone,
 * which it did not ask for, it is armed again. */
static void cqe_poll(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    const struct vl__slot *s = vl__engine_slot(e, i);
    if (vl__op_is_multishot(&s->op)) {
        cqe_poll_multi(e, d, i, cqe);
        return;
    }
    int res = poll_mask(s, cqe->res);
    if (cqe->res > 0 && res == 0)
        rearm_or_end(e, d, i);
    else
        cqe_final(e, i, res);
}

/* End a WAITPID: close its pidfd, if it has one. */
static void waitpid_end(vl_engine *e, uint32_t i, int64_t res)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    if (us(s)->flags & U_PIDFD) {
        close(s->op.fd);
        s->op.fd = -1;
        us(s)->flags &= ~U_PIDFD;
    }
    cqe_final(e, i, res);
}

/* WAITPID's CQE (prep_waitpid): its NOP, or the POLL_ADD on its pidfd. */
static void cqe_waitpid(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    if (cqe->res < 0) {
        waitpid_end(e, i, cqe->res); /* cancelled: the child is not reaped */
        return;
    }
    int64_t res = vl__child_reap(s->op.u.waitpid.pid);
    if (res != VL__CHILD_RUNNING) {
        waitpid_end(e, i, res);
        return;
    }
    if (!(us(s)->flags & U_PIDFD)) {
        int pidfd = vl__pidfd_open(s->op.u.waitpid.pid);
        if (pidfd < 0) {
            cqe_final(e, i, pidfd);
            return;
        }
        s->op.fd = pidfd;
        us(s)->flags |= U_PIDFD;
    }
    /* Running still (or the POLL_ADD woke early): poll the pidfd, unless a
     * shutdown or a deadline is on its way, whose cancel (sent once, not
     * retried) found only the NOP. A CANCEL's own retry finds the POLL_ADD
     * (cancel_retry), so that one answers for the outcome. */
    if (vl__engine_shutting(e) || (s->core_flags & VL__SLOT_TIMED_OUT))
        waitpid_end(e, i, -ECANCELED);
    else
        rearm_push(e, d, i);
}

/* The kernel's internal restart codes, -ERESTARTSYS (512) to
 * -ERESTART_RESTARTBLOCK (516): never meant for user space. A splice its
 * cancel interrupted in io-wq hands them out as they are (6.18), where a
 * READ's would read -EINTR; folded into -EINTR, which cqe_final reads as
 * cancelled. */
#define ERESTART_MIN 512
#define ERESTART_MAX 516

static int64_t restart_to_eintr(int64_t res)
{
    return res <= -ERESTART_MIN && res >= -ERESTART_MAX ? -EINTR : res;
}

/* End a piped SENDFILE with res; its pipe is thrown away (bytes may be
 * left in it). */
static void sf_end(vl_engine *e, struct uring *d, uint32_t i, int64_t res)
{
    struct uring_slot *u = us(vl__engine_slot(e, i));
    u->flags &= ~(U_SFPIPE | U_SFOUT | U_SPOLL);
    sf_pipe_put(e, d, u->bid, true);
    cqe_final(e, i, res);
}

/*
 * A piped SENDFILE's CQE (prep_sendfile): its first stage, the file into
 * the pipe (0: the end of the file; an error moved nothing); its second,
 * the pipe to the socket, sent again until the pipe is empty, so that the
 * result counts every byte read from the file; or the POLL_ADD that waits
 * for the socket after the second stage met EAGAIN (a non-blocking
 * socket). An error after some bytes went out reports them (short), but a
 * cancel is a cancel. A shutdown or a deadline whose cancel found the op
 * between two stages ends it (as cqe_waitpid).
 */
static void cqe_sendfile_piped(vl_engine *e, struct uring *d, uint32_t i,
                               const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    struct uring_slot *u = us(s);
    int64_t res = restart_to_eintr(cqe->res);
    if (u->flags & U_SPOLL) {
        u->flags &= ~U_SPOLL;
        if (res < 0) {
            sf_end(e, d, i, res);
            return;
        }
    } else if (!(u->flags & U_SFOUT)) {
        if (res <= 0) {
            u->flags &= ~U_SFPIPE;
            sf_pipe_put(e, d, u->bid, false);
            cqe_final(e, i, res);
            return;
        }
        u->sf.inpipe = (uint64_t)res;
        u->flags |= U_SFOUT;
    } else if (res == -EAGAIN) {
        u->flags |= U_SPOLL;
    } else if (res < 0) {
        bool cancel = res == -EINTR || res == -ECANCELED;
        sf_end(e, d, i, u->sf.sent > 0 && !cancel ? (int64_t)u->sf.sent : res);
        return;
    } else {
        u->sf.sent += (uint64_t)res;
        u->sf.inpipe -= (uint64_t)res;
        if (u->sf.inpipe == 0) {
            u->flags &= ~(U_SFPIPE | U_SFOUT);
            sf_pipe_put(e, d, u->bid, false);
            cqe_final(e, i, (int64_t)u->sf.sent);
            return;
        }
    }
    if (vl__engine_shutting(e) || (s->core_flags & VL__SLOT_TIMED_OUT))
        sf_end(e, d, i, -ECANCELED);
    else
        rearm_push(e, d, i);
}

/* SENDFILE's POLL_ADD completed (prep_sendfile): the sendfile, or the
 * POLL_ADD again after EAGAIN, unless a shutdown or a deadline's cancel,
 * sent once, found the POLL_ADD gone (as cqe_waitpid). */
static void cqe_sendfile(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    if (us(s)->flags & U_SFPIPE) {
        cqe_sendfile_piped(e, d, i, cqe);
        return;
    }
    if (cqe->res < 0) {
        cqe_final(e, i, cqe->res);
        return;
    }
    const vl_op *op = &s->op;
    bool cold = op->u.sendfile.count >= SF_PIPE_MIN && !sf_cached(d, op);
    int k = cold ? sf_pipe_take(d) : -1;
    if (k >= 0) {
        /* The piped path (prep_sendfile): its first stage next. */
        if (vl__engine_shutting(e) || (s->core_flags & VL__SLOT_TIMED_OUT)) {
            sf_pipe_put(e, d, (uint32_t)k, false);
            cqe_final(e, i, -ECANCELED);
        } else {
            sf_start_piped(e, d, i, (uint32_t)k);
        }
        return;
    }
    if (cold && d->sf_busy == SF_ALL_BUSY) {
        /* Every pipe held: wait for one (sf_pipe_put) rather than read a
         * cold range on this thread. */
        if (vl__engine_shutting(e) || (s->core_flags & VL__SLOT_TIMED_OUT))
            cqe_final(e, i, -ECANCELED);
        else
            sf_wait_push(e, d, i);
        return;
    }
    bool known = sf_nb_known(d, op->fd), nb = known;
    vl__sigpipe_batch_hold(&d->sf_sigpipe);
    int64_t res = vl__sendfile_held(op->fd, op->u.sendfile.file_fd, op->u.sendfile.offset,
                                    VL__FAULT_SHORTEN(op->u.sendfile.count), &nb);
    vl__sigpipe_batch_note(&d->sf_sigpipe, res);
    if (nb && !known && d->remember)
        sf_nb_learn(e, d, op->fd); /* VL_ENGINE_REMEMBER_FDS's promise */
    if (res != -EAGAIN) {
        cqe_final(e, i, res);
        return;
    }
    if (vl__engine_shutting(e) || (s->core_flags & VL__SLOT_TIMED_OUT))
        cqe_final(e, i, -ECANCELED);
    else
        rearm_push(e, d, i);
}

/* SPLICE's CQE (prep_splice): the splice's result; -EAGAIN polls the side
 * a poll(2) finds not ready (both ready again: the splice at once); the
 * POLL_ADD's completion sends the splice again. A shutdown or a deadline
 * whose cancel found the op between the two ends it (as cqe_sendfile). */
static void cqe_splice(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    struct vl__slot *s = vl__engine_slot(e, i);
    bool polled = us(s)->flags & U_SPOLL;
    if (cqe->res != -EAGAIN && (!polled || cqe->res < 0)) {
        cqe_final(e, i, restart_to_eintr(cqe->res));
        return;
    }
    us(s)->flags &= ~(U_SPOLL | U_SPOLL_OUT);
    if (!polled) {
        struct pollfd p[2] = {{.fd = s->op.fd, .events = POLLIN},
                              {.fd = s->op.u.splice.fd_out, .events = POLLOUT}};
        if (poll(p, 2, 0) < 0) {
            cqe_final(e, i, -errno);
            return;
        }
        if (p[0].revents == 0)
            us(s)->flags |= U_SPOLL;
        else if (p[1].revents == 0)
            us(s)->flags |= U_SPOLL | U_SPOLL_OUT;
    }
    if (vl__engine_shutting(e) || (s->core_flags & VL__SLOT_TIMED_OUT))
        cqe_final(e, i, -ECANCELED);
    else
        rearm_push(e, d, i);
}

/* -ENOENT: the target may not have reached the kernel yet (cancel_retry). */
static void cqe_cancel(vl_engine *e, struct uring *d, uint32_t i, const struct io_uring_cqe *cqe)
{
    if (cqe->res == -ENOENT && cancel_retry(e, d, i))
        return;
    cqe_final(e, i, cqe->res);
}

/* The reaper's slow path, one CQE. Out of line: inlined into reap, its
 * registers cost the plain fast path (callgrind: 2 instructions per NOP). */
static VL__NOINLINE void on_cqe(vl_engine *e, struct uring *d, const struct io_uring_cqe *cqe)
{
    if (cqe->user_data & VL__INTERNAL_TAG) {
        on_internal(e, d, cqe);
        return;
    }
    uint32_t i;
    if (!vl__engine_id_slot(e, cqe->user_data, &i) ||
        vl__engine_slot(e, i)->state != VL__SLOT_INFLIGHT) {
        vl__uring_stray_cqes++;
        return;
    }
    /* cqe_<name> for each X(NAME, name) of the list in <vllsi/op_kinds.h>
     * (a kind without one does not compile). */
    switch (vl__engine_slot(e, i)->op.kind) {
#define CQE_CASE(NAME, name)      \
    case VL_OP_##NAME:            \
        cqe_##name(e, d, i, cqe); \
        return;
        VL_OP_KINDS(CQE_CASE)
#undef CQE_CASE
    case VL_OP_KIND_COUNT_:
        break;
    }
    cqe_final(e, i, cqe->res); /* never: the core validated the kind */
}

/*
 * The reaper's fast path, from head up to tail: a live single-shot op of
 * a plain kind (see plain_kinds) without a link, whose result stands as
 * the kernel gave it (its deadline, if any, is released here), while the
 * caller's array has room. Its completion is final and goes straight to
 * the caller. Returns where it stopped: tail, or a CQE for on_cqe. A loop of
 * its own, so that nothing the slow path needs is live in it.
 */
static unsigned reap_plain(vl_engine *e, const struct io_uring_cqe *cqes, unsigned mask,
                           unsigned head, unsigned tail, const bool *plain)
{
    struct vl__batch run;
    vl__batch_begin(e, &run);
    for (; head != tail && vl__batch_room(&run); head++) {
        const struct io_uring_cqe *cqe = &cqes[head & mask];
        uint32_t i;
        struct vl__slot *s = vl__batch_slot(&run, cqe->user_data, &i);
        if (s == NULL || !plain[s->op.kind] || cqe->res == -EINTR)
            break;
        int64_t res = cqe->res;
        if (VL_UNLIKELY(!vl__batch_takes(s))) {
            if (!vl__batch_takes_released(s))
                break;
            res = vl__batch_release(&run, i, res); /* a deadline */
        }
        vl__batch_final(&run, s, i, cqe->user_data, res);
    }
    vl__batch_end(e, &run);
    return head;
}

/*
 * One pass over the CQEs the kernel has posted (its tail is read once; the
 * ring never has CQE32): plain ones in runs through reap_plain, the rest
 * one at a time through on_cqe. A multishot completion needs room in the
 * core's queue when it cannot go straight to the caller; when there is
 * none, it and everything after it wait in the kernel's CQ for the next
 * poll (shutdown never stops here: it drops such data instead). A final
 * completion always has room (cq_reserve). Returns false when it stopped
 * for room.
 */
static bool reap_pass(vl_engine *e, struct uring *d, unsigned *seen)
{
    struct io_uring_cq *cq = &d->ring.cq;
    const unsigned first = *cq->khead, tail = io_uring_smp_load_acquire(cq->ktail);
    unsigned head = first;
    bool room = true;
    while (head != tail) {
        head = reap_plain(e, cq->cqes, cq->ring_mask, head, tail, d->plain.has);
        if (head == tail)
            break;
        if (!vl__engine_shutting(e) && vl__engine_direct_room(e) == 0 && !vl__engine_cq_room(e)) {
            d->st->cq_deferred++; /* this CQE and the rest wait in the kernel's CQ */
            room = false;
            break;
        }
        on_cqe(e, d, &cq->cqes[head & cq->ring_mask]);
        head++;
    }
    io_uring_cq_advance(&d->ring, head - first);
    *seen = head - first;
    d->st->kernel_completions += head - first;
    return room;
}

/* Reap every CQE. If the CQ overflowed, the kernel holds the surplus
 * (IORING_FEAT_NODROP); a GETEVENTS enter moves it into the ring. */
static void reap(vl_engine *e, struct uring *d)
{
    for (int flushed = 0;; flushed++) {
        unsigned n;
        bool room = reap_pass(e, d, &n);
        if (!room || !io_uring_cq_has_overflow(&d->ring) || (n == 0 && flushed > 0))
            break;
        d->st->cq_overflow++;
        ring_get_events(d, false);
    }
    /* The reap's sendfile(2) calls are over: SIGPIPE as it was, any it
     * raised taken. Nothing of the caller's ran while it was held
     * (completions only queue). */
    vl__sigpipe_batch_end(&d->sf_sigpipe);
    rearm_flush(e, d);
    arm_wake(d);
}

/* The kernel has work for us only if something is queued, or it flagged
 * task work or an overflow (IORING_SETUP_TASKRUN_FLAG); otherwise a zero
 * wait needs no system call. */
static int enter_nowait(struct uring *d)
{
    if (io_uring_sq_ready(&d->ring) > 0)
        return ring_get_events(d, true);
    unsigned kflags = IO_URING_READ_ONCE(*d->ring.sq.kflags);
    if (kflags & IORING_SQ_CQ_OVERFLOW)
        d->st->cq_overflow++;
    if (kflags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
        return ring_get_events(d, false);
    return 0;
}

static int uring_wait(vl_engine *e, int64_t timeout_ns)
{
    struct uring *d = state(e);
    arm_wake(d);
    int rc;
    if (timeout_ns == 0) {
        rc = enter_nowait(d);
    } else if (VL__FAULT(VL__FAULT_EINTR)) {
        rc = -EINTR; /* test builds: a signal cut the wait short */
    } else if (VL__FAULT(VL__FAULT_EBUSY)) {
        rc = -EBUSY; /* test builds: the kernel refused (CQ overflow) */
    } else {
        struct __kernel_timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
        struct __kernel_timespec *tsp = timeout_ns < 0 ? NULL : &ts;
        /* Here rather than in ring_wait, which then stays inline. (A wait
         * with a timeout and a CQE already posted may return without the
         * system call; counted all the same.) */
        count_enter(d, true);
        uint32_t want;
        int64_t gather_ns;
        vl__engine_gather(e, &want, &gather_ns);
        /* Gather only when the wait's bound lies beyond the window: the
         * kernel may sleep out min_wait_usec even past a shorter timeout, and
         * that bound is a timer's or a deadline's. */
        if (want > 1 && gather_ns > 0 && d->min_timeout &&
            (tsp == NULL || timeout_ns > gather_ns) && io_uring_cq_ready(&d->ring) == 0)
            rc = ring_wait_gather(d, want, gather_ns, tsp);
        else
            rc = ring_wait(d, tsp);
    }
    reap(e, d);
    /* -EBUSY: submission refused while the CQ overflowed (older kernels).
     * The reap made room; what is still in the SQ goes now. */
    if (rc == -EBUSY || rc == -EAGAIN) {
        rc = ring_submit(d);
        reap(e, d);
    }
    if (rc == -EINTR)
        return -EINTR;
    return rc < 0 && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN ? rc : 0;
}

/* Shutdown may cancel more ops than the SQ holds, so make room by submitting
 * and, if the kernel refuses (-EBUSY on an overflowed CQ), by reaping. */
static int uring_cancel(vl_engine *e, uint32_t slot)
{
    struct uring *d = state(e);
    if (rearm_take(e, d, slot)) {
        vl__engine_complete(e, slot, -ECANCELED, 0);
        return 0;
    }
    struct io_uring_sqe *sqe = get_sqe(d);
    for (int i = 0; sqe == NULL && i < 3; i++) {
        reap(e, d);
        sqe = get_sqe(d);
    }
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_cancel64(sqe, vl__engine_slot_id(e, slot), 0);
    io_uring_sqe_set_data64(sqe, DROP_TAG);
    return 0;
}

/* Any thread: only the eventfd write touches shared state. A full counter
 * (-EAGAIN) means a wake is already pending, which is all we want. */
static int uring_wake(vl_engine *e)
{
    const struct uring *d = state(e);
    uint64_t one = 1;
    if (write(d->efd, &one, sizeof(one)) < 0) {
        int err = errno;
        return err == EAGAIN ? 0 : -err;
    }
    return 0;
}

/* From's thread: queue a MSG_RING that posts a MSG_TAG CQE into to's ring.
 * from's next poll submits it (one io_uring_enter for everything queued),
 * and to's wait returns on the CQE: no eventfd write, no eventfd read to
 * re-arm. */
static int uring_wake_from(vl_engine *from, vl_engine *to)
{
    struct uring *src = state(from);
    const struct uring *dst = state(to);
    if (!src->msg_ring)
        return -EOPNOTSUPP;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&src->ring);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_msg_ring(sqe, dst->ring.ring_fd, 0, MSG_TAG, 0);
    io_uring_sqe_set_data64(sqe, VL__INTERNAL_TAG | MSG_SENT_BIT | (uint64_t)(uintptr_t)to);
    return 0;
}

/* ---- a descriptor for a host loop ----------------------------------------------- */

/*
 * An eventfd registered with IORING_REGISTER_EVENTFD, made when a host first
 * asks (the kernel signals it on every CQ commit from then on, which the
 * default path need not pay for). It turns readable when the kernel posts a
 * CQE, and, on a DEFER_TASKRUN ring, when it queues task work that only our
 * io_uring_enter will run (the kernel signals a registered eventfd then too:
 * a completion that is still task work wakes the host, whose next poll
 * enters and runs it). The ring fd itself would not do: polling it does not
 * wake on deferred task work. An eventfd is a counter, so each call resets
 * it; what was posted before the reset is then seen in the CQ or the
 * TASKRUN flag instead (the kernel makes a CQE or the flag visible before it
 * signals, and the counter's lock orders that before our read), which sets
 * *ready.
 */
static int uring_event_fd(vl_engine *e, bool *ready)
{
    struct uring *d = state(e);
    if (d->host_efd < 0) {
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
            return -errno;
        int rc = io_uring_register_eventfd(&d->ring, efd);
        if (rc < 0) {
            close(efd);
            return rc;
        }
        d->host_efd = efd;
    }
    /* Nothing may wait in the SQ (a re-armed multishot, the wake read)
     * while the host sleeps: the kernel would never see it. */
    arm_wake(d);
    if (io_uring_sq_ready(&d->ring) > 0 && ring_submit(d) < 0)
        *ready = true; /* refused (an overflowed CQ): the next poll retries */
    uint64_t v;
    (void)!read(d->host_efd, &v, sizeof(v));
    if (io_uring_cq_ready(&d->ring) > 0 || d->rearm_head != UINT32_MAX ||
        (IO_URING_READ_ONCE(*d->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
        *ready = true;
    return d->host_efd;
}

/* ---- buffer pools -------------------------------------------------------------- */

/*
 * Register p as a provided-buffer ring (group p->group) holding every
 * buffer, low ids first. A kernel without buffer rings (-EINVAL before 5.19)
 * leaves p in user space (p->native false), which the multishot RECV fallback
 * serves; other failures (-ENOMEM: locked-memory limits) are reported.
 */
static int uring_pool_add(vl_engine *e, struct vl_bufpool *p)
{
    struct uring *d = state(e);
    if (!d->bufring)
        return 0;
    struct uring_pool *up = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : calloc(1, sizeof(*up));
    if (up == NULL)
        return -ENOMEM;
    int err = 0;
    up->len = (size_t)p->count * sizeof(struct io_uring_buf);
    up->br = vl_os_alloc(up->len, &err);
    if (up->br == NULL) {
        free(up);
        return err < 0 ? err : -ENOMEM;
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)up->br;
    reg.ring_entries = p->count;
    reg.bgid = p->group;
    int rc = io_uring_register_buf_ring(&d->ring, &reg, 0);
    if (rc < 0) {
        vl_os_free(up->br, up->len);
        free(up);
        return rc == -EINVAL ? 0 : rc;
    }
    io_uring_buf_ring_init(up->br);
    up->mask = io_uring_buf_ring_mask(p->count);
    uint32_t w = WINDOW_BYTES / p->stride;
    if (w < 8)
        w = 8;
    up->wmin = up->window = w < p->count ? w : p->count;
    p->drv = up;
    p->native = true;
    ring_fill(p); /* from the free stack: low ids first */
    return 0;
}

static void uring_pool_put(vl_engine *e, struct vl_bufpool *p, uint32_t bid)
{
    (void)e;
    vl__pool_untake(p, bid);
    ring_fill(p);
}

static void uring_pool_remove(vl_engine *e, struct vl_bufpool *p)
{
    struct uring *d = state(e);
    struct uring_pool *up = p->drv;
    io_uring_unregister_buf_ring(&d->ring, p->group);
    vl_os_free(up->br, up->len);
    free(up);
    p->drv = NULL;
    p->native = false;
}

const struct vl_driver vl__driver_uring = {
    .name = "io_uring",
    .kind = VL_DRIVER_URING,
    .buffers_submissions = true,
    /* Each op is its own opcode, but SHUTDOWN, BIND, LISTEN, FTRUNCATE,
     * WAITPID (a NOP and a POLL_ADD on a pidfd), SENDFILE (a POLL_ADD and
     * sendfile(2)),
     * and SOCKET before 5.19 and the path ops a kernel lacks (their preps
     * report them). */
    .native_kinds = {{VL_OP_KINDS(VL__KINDSET_ALL)}},
    .init = uring_init,
    .fini = uring_fini,
    .submit = uring_submit,
    .try_submit = uring_try_submit,
    .cancel = uring_cancel,
    .wait = uring_wait,
    .wake = uring_wake,
    .wake_from = uring_wake_from,
    .pool_add = uring_pool_add,
    .pool_put = uring_pool_put,
    .pool_remove = uring_pool_remove,
    .event_fd = uring_event_fd,
    .fd_table = uring_fd_table,
};
