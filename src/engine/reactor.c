/*
 * src/engine/reactor.c - the readiness core (see reactor.h).
 *
 * Nothing here may block the thread, even on fds the user left in blocking
 * mode: sockets are driven with MSG_DONTWAIT, pipes and other special files
 * with RWF_NOWAIT, and the few calls that have no per-call non-blocking flag
 * (accept4 on a blocking listener, plain read/write where RWF_NOWAIT is
 * unsupported) run only after the backend reported readiness, one per
 * notification. Work no readiness reports (regular files, which are never
 * "not ready", files the backend cannot poll, blocking kinds) goes to the
 * offload's workers when one is installed, and runs inline when none is;
 * with the offload, what the kernel can answer from its caches without
 * waiting is tried inline first (file_first, openat_first, statx_first).
 *
 * A slot the reactor holds carries a struct vl__reactor_slot (reactor.h)
 * in its driver area: its list links and flags, which hold where it is
 * (WHERE_* bits), the READ/WRITE I/O mode (MODE_*) and the F_* bits below.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/sys/time.h>

#include "engine_internal.h"
#include "fault.h"
#include "reactor.h"
#include "child.h"
#include "sendfile.h"
#include "statx.h"
#include "workers.h"

#define NONE UINT32_MAX

/*
 * Op results that are not results. PARK: the op met EAGAIN, so it may wait
 * for the next readiness edge. RECHECK: it stopped without knowing whether
 * the fd is still ready, so the backend must look at the level again when it
 * parks. HELD: the op is held elsewhere (the timer heap, the held list).
 * STAY: the op stays parked, but it consumed nothing (a POLL only looks), so
 * the ops behind it on the list run on this notification as well.
 * OFFLOAD: the op's work may block, and an offload is installed to run it.
 * Every one is at most OFFLOAD.
 */
#define PARK    INT64_MIN
#define HELD    (INT64_MIN + 1)
#define RECHECK (INT64_MIN + 2)
#define STAY    (INT64_MIN + 3)
#define OFFLOAD (INT64_MIN + 4)

/* flags: where the slot is. WHERE_READ and WHERE_WRITE may both be set (an
 * op parked for both directions); the others exclude every other bit. */
#define WHERE_READ    0x01u /* on its fd's read list  (VL__REACTOR_READ)  */
#define WHERE_WRITE   0x02u /* on its fd's write list (VL__REACTOR_WRITE) */
#define WHERE_LISTS   0x03u
#define WHERE_HEAP    0x04u /* in the timer heap                          */
#define WHERE_HELD    0x08u /* on the held list                           */
#define WHERE_OFFLOAD 0x10u /* the offload has it                         */
#define WHERE_MASK    0x1fu

/* flags: how a READ/WRITE reaches its fd, decided once per op. */
#define MODE_SHIFT  5
#define MODE_MASK   (0x7u << MODE_SHIFT)
#define MODE_NONE   (0u << MODE_SHIFT) /* not classified yet                 */
#define MODE_FILE   (1u << MODE_SHIFT) /* regular file, block device: inline */
#define MODE_SOCK   (2u << MODE_SHIFT) /* recv/send with MSG_DONTWAIT        */
#define MODE_NOWAIT (3u << MODE_SHIFT) /* preadv2/pwritev2 with RWF_NOWAIT   */
#define MODE_PLAIN  (4u << MODE_SHIFT) /* read/write after readiness only    */

/* A CONNECT has started (EINPROGRESS): readiness means "look at SO_ERROR". */
#define F_CONNECTING     0x100u
/* The op may block if run without a fresh readiness notification, so a
 * notification runs at most one such op. */
#define F_ONE_PER_WAKE   0x200u
/* ACCEPT: the listener's blocking mode has been looked at; multishot RECV:
 * the socket's type has. */
#define F_CHECKED        0x400u
/* A multishot RECV on a byte stream (TCP, AF_UNIX stream): a short read means the
 * receive queue was empty, as good as EAGAIN. */
#define F_STREAM         0x800u
/* A worker runs the op (vl__reactor_work): its blocking call runs as is. */
#define F_WORKER         0x1000u
/* A held WAITPID whose child's exit the backend watches (watch_exit). */
#define F_EXIT           0x2000u
/* SPLICE: its fds were looked at (splice_check); the socket across from
 * the pipe (F_STREAM) is fd_in; it waits for fd_out to be writable, which
 * the header's fd names (splice_wait). */
#define F_SPLICE_SEEN    0x4000u
#define F_SPLICE_SOCK_IN 0x8000u
#define F_SPLICE_OUT     0x10000u
/* A CLOSE the offload holds (struct vl__reactor's closes_held counts it). */
#define F_CLOSE_HELD     0x20000u

/* route[kind], beside the park directions (VL__REACTOR_READ/WRITE): the
 * kind is blocking and an offload is installed; ROUTE_REUSE: a data
 * transfer on an fd the caller keeps using (reuse_kind), which may start from
 * the registration its number kept, when the backend has reuse. */
#define ROUTE_OFFLOAD 0x4u
#define ROUTE_REUSE   0x8u
/* route[kind] while the offload holds a CLOSE (closes_held): the kind names
 * an fd, which may be the held CLOSE's number (held_close_fails). */
#define ROUTE_CLOSING 0x10u

/* The fd table has 2 * max_inflight entries: keep each one small. */
_Static_assert(sizeof(struct vl__reactor_fd) == 28, "struct vl__reactor_fd grew");

typedef int64_t (*run_fn)(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready);

static struct vl__slot *slot_of(struct vl__reactor *r, uint32_t i)
{
    return vl__engine_slot(r->e, i);
}

static struct vl__reactor_slot *rslot(struct vl__slot *s)
{
    return VL__SLOT_DRV(s, struct vl__reactor_slot);
}

static struct vl__reactor_slot *rslot_of(struct vl__reactor *r, uint32_t i)
{
    return rslot(slot_of(r, i));
}

static int64_t sys_result(ssize_t n)
{
    return n >= 0 ? (int64_t)n : -(int64_t)errno;
}

static bool would_block(int64_t res)
{
    return res == -EAGAIN || res == -EWOULDBLOCK;
}

/* ---- the fd table ---------------------------------------------------------- */

/* Identity hashing: fd numbers are small and dense, so they spread evenly. */
static uint32_t home(const struct vl__reactor *r, int fd)
{
    return (uint32_t)fd & r->mask;
}

static struct vl__reactor_fd *fd_find(struct vl__reactor *r, int fd)
{
    if (fd < 0)
        return NULL;
    for (uint32_t i = home(r, fd);; i = (i + 1) & r->mask) {
        if (r->tab[i].fd == fd)
            return &r->tab[i];
        if (r->tab[i].fd < 0)
            return NULL;
    }
}

/* The entry for fd, made if needed. There is always room: entries exist only
 * for fds with a parked op, at most max_inflight of them in a table twice as
 * large. */
static struct vl__reactor_fd *fd_get(struct vl__reactor *r, int fd, bool *made)
{
    uint32_t i = home(r, fd);
    *made = false;
    while (r->tab[i].fd >= 0) {
        if (r->tab[i].fd == fd)
            return &r->tab[i];
        i = (i + 1) & r->mask;
    }
    struct vl__reactor_fd *f = &r->tab[i];
    *f = (struct vl__reactor_fd){.fd = fd, .head = {NONE, NONE}, .tail = {NONE, NONE}};
    *made = true;
    if (i != home(r, fd))
        r->displaced++;
    return f;
}

/* Remove an entry by backward shifting (no tombstones, so lookups of absent
 * fds stay short). Entries after it move: pointers into the table die.
 * With every entry at its home (fd numbers below the capacity, the usual
 * case) none can move, and the scan of the cluster behind it is skipped. */
static void fd_drop(struct vl__reactor *r, struct vl__reactor_fd *f)
{
    uint32_t hole = (uint32_t)(f - r->tab);
    if (hole != home(r, f->fd))
        r->displaced--;
    for (uint32_t j = (hole + 1) & r->mask; r->displaced > 0 && r->tab[j].fd >= 0;
         j = (j + 1) & r->mask) {
        /* The entry at j may fill the hole unless its home lies cyclically
         * in (hole, j]: then it would move in front of its home. */
        uint32_t k = home(r, r->tab[j].fd);
        bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (!stays) {
            r->tab[hole] = r->tab[j];
            if (hole == k)
                r->displaced--; /* it is home now */
            hole = j;
        }
    }
    r->tab[hole].fd = -1;
}

static unsigned fd_wants(const struct vl__reactor_fd *f)
{
    return (f->head[0] != NONE ? VL__REACTOR_READ : 0) |
           (f->head[1] != NONE ? VL__REACTOR_WRITE : 0);
}

/* A doubly linked list of slots through link.next[k]/link.prev[k]. */
static void dlist_push(struct vl__reactor *r, uint32_t *head, uint32_t *tail, int k, uint32_t i)
{
    struct vl__reactor_slot *rs = rslot_of(r, i);
    rs->u.link.next[k] = NONE;
    rs->u.link.prev[k] = *tail;
    if (*tail == NONE)
        *head = i;
    else
        rslot_of(r, *tail)->u.link.next[k] = i;
    *tail = i;
}

static void dlist_unlink(struct vl__reactor *r, uint32_t *head, uint32_t *tail, int k, uint32_t i)
{
    struct vl__reactor_slot *rs = rslot_of(r, i);
    uint32_t next = rs->u.link.next[k], prev = rs->u.link.prev[k];
    if (prev == NONE)
        *head = next;
    else
        rslot_of(r, prev)->u.link.next[k] = next;
    if (next == NONE)
        *tail = prev;
    else
        rslot_of(r, next)->u.link.prev[k] = prev;
}

/* Put slot i on f's list for direction index dir (0 read, 1 write). */
static void list_push(struct vl__reactor *r, struct vl__reactor_fd *f, int dir, uint32_t i)
{
    dlist_push(r, &f->head[dir], &f->tail[dir], dir, i);
    rslot_of(r, i)->flags |= 1u << dir; /* WHERE_READ, WHERE_WRITE */
}

static void list_unlink(struct vl__reactor *r, struct vl__reactor_fd *f, int dir, uint32_t i)
{
    dlist_unlink(r, &f->head[dir], &f->tail[dir], dir, i);
    rslot_of(r, i)->flags &= ~(1u << dir);
}

/* Take slot i off every list of f it is on (one, or both directions'). */
static void lists_unlink(struct vl__reactor *r, struct vl__reactor_fd *f, uint32_t i)
{
    unsigned on = rslot_of(r, i)->flags;
    if (on & WHERE_READ)
        list_unlink(r, f, 0, i);
    if (on & WHERE_WRITE)
        list_unlink(r, f, 1, i);
}

/* ---- executing ops --------------------------------------------------------- */

/* Decide once per op how a READ/WRITE reaches its fd, and say which
 * device holds it (*dev) and its size then (*size). 0 or -errno (-EBADF). */
static int classify(struct vl__slot *s, uint64_t *dev, int64_t *size)
{
    struct stat st;
    if (fstat(s->op.fd, &st) < 0)
        return -errno;
    *dev = (uint64_t)st.st_dev;
    *size = (int64_t)st.st_size;
    unsigned mode = MODE_NOWAIT; /* pipes, FIFOs, ttys, eventfds, ... */
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
        mode = MODE_FILE;
    else if (S_ISSOCK(st.st_mode))
        mode = MODE_SOCK;
    rslot(s)->flags = (rslot(s)->flags & ~MODE_MASK) | mode;
    return 0;
}

/*
 * The op's buffers as an iovec array: READV/WRITEV's own list (vl_iovec is
 * laid out as struct iovec), or READ/WRITE's one buffer in *one. The READ
 * and WRITE paths below serve both pairs of kinds through it.
 */
static bool is_vec(const vl_op *op)
{
    return op->kind == VL_OP_READV || op->kind == VL_OP_WRITEV;
}

#ifdef RWF_NOWAIT /* its only users are the preadv2/pwritev2 paths */
static int op_iov(const vl_op *op, struct iovec *one, const struct iovec **iov)
{
    if (is_vec(op)) {
        *iov = (const struct iovec *)(const void *)op->u.rwv.iov;
        return (int)op->u.rwv.iovcnt;
    }
    one->iov_base = op->u.rw.buf;
    one->iov_len = op->u.rw.len;
    *iov = one;
    return 1;
}
#endif

_Static_assert(sizeof(vl_iovec) == sizeof(struct iovec) &&
                   offsetof(vl_iovec, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(vl_iovec, len) == offsetof(struct iovec, iov_len),
               "vl_iovec is struct iovec's layout");

/* READV/WRITEV on a regular file: readv/writev at the position, or
 * preadv/pwritev at the offset. */
static int64_t file_rwv(const vl_op *op, bool write)
{
    const struct iovec *iov = (const struct iovec *)(const void *)op->u.rwv.iov;
    int cnt = (int)op->u.rwv.iovcnt;
    int64_t off = op->u.rwv.offset;
    ssize_t n;
    do {
        if (write)
            n = off < 0 ? writev(op->fd, iov, cnt) : pwritev(op->fd, iov, cnt, (off_t)off);
        else
            n = off < 0 ? readv(op->fd, iov, cnt) : preadv(op->fd, iov, cnt, (off_t)off);
    } while (n < 0 && errno == EINTR);
    return sys_result(n);
}

static int64_t file_read(const struct vl__slot *s)
{
    const vl_op *op = &s->op;
    if (is_vec(op))
        return file_rwv(op, false);
    ssize_t n;
    do {
        n = op->u.rw.offset < 0 ? read(op->fd, op->u.rw.buf, op->u.rw.len)
                                : pread(op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.offset);
    } while (n < 0 && errno == EINTR);
    return sys_result(n);
}

/* accept(2) whose new fd is close-on-exec (the ACCEPT contract), and
 * non-blocking with VL_SOCK_NONBLOCK in the op's flags. */
static int accept_cloexec(int fd, struct sockaddr *addr, socklen_t *len, uint32_t flags)
{
#ifdef SOCK_CLOEXEC
    return accept4(fd, addr, len, SOCK_CLOEXEC | ((flags & VL_SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0));
#else
    /* No accept4 (macOS): the flags follow at once (a fork in another
     * thread between the two calls would inherit the fd), and the new fd,
     * which the BSDs make non-blocking after a non-blocking listener, gets
     * the mode the op asked for, blocking by default as accept4 leaves it
     * on Linux. Where the platform has
     * SO_NOSIGPIPE the new socket gets it: the engine's sends carry
     * MSG_NOSIGNAL, and the caller's own write(2) to it then raises no
     * SIGPIPE either. */
    int nfd = accept(fd, addr, len);
    if (nfd >= 0) {
        (void)fcntl(nfd, F_SETFD, FD_CLOEXEC);
        int fl = fcntl(nfd, F_GETFL);
        int want = (flags & VL_SOCK_NONBLOCK) ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
        if (fl >= 0 && want != fl)
            (void)fcntl(nfd, F_SETFL, want);
#ifdef SO_NOSIGPIPE
        int one = 1;
        (void)setsockopt(nfd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    }
    return nfd;
#endif
}

static int64_t file_write(const struct vl__slot *s)
{
    const vl_op *op = &s->op;
    if (is_vec(op))
        return file_rwv(op, true);
    ssize_t n;
    do {
        n = op->u.rw.offset < 0 ? write(op->fd, op->u.rw.buf, op->u.rw.len)
                                : pwrite(op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.offset);
    } while (n < 0 && errno == EINTR);
    return sys_result(n);
}

#ifdef RWF_NOWAIT
/* The bytes the op's buffers hold. */
static uint64_t op_bytes(const vl_op *op)
{
    struct iovec one;
    const struct iovec *iov;
    int cnt = op_iov(op, &one, &iov);
    uint64_t n = 0;
    for (int k = 0; k < cnt; k++)
        n += iov[k].iov_len;
    return n;
}

/* preadv2/pwritev2 take offset -1 as "the current position", like the op. */
static int64_t nowait_rw(const struct vl__slot *s, bool write)
{
    struct iovec one;
    const struct iovec *iov;
    int cnt = op_iov(&s->op, &one, &iov);
    off_t off = s->op.u.rw.offset < 0 ? -1 : (off_t)s->op.u.rw.offset;
    ssize_t n = write ? pwritev2(s->op.fd, iov, cnt, off, RWF_NOWAIT)
                      : preadv2(s->op.fd, iov, cnt, off, RWF_NOWAIT);
    return sys_result(n);
}
#else
static int64_t nowait_rw(const struct vl__slot *s, bool write)
{
    (void)s;
    (void)write;
    return -EOPNOTSUPP;
}
#endif

/*
 * A write to a pipe without a reader raises SIGPIPE in the writing thread,
 * and its default action kills the process. Block SIGPIPE around the write
 * and, if the write failed with EPIPE, consume the signal it raised, unless
 * one was already pending (it then merged with ours and is not ours to
 * take). If SIGPIPE was unblocked before, nothing of it can be pending for
 * this thread: it would have been delivered on the way here.
 */
static int64_t write_nosigpipe(const struct vl__slot *s, bool nowait)
{
    struct vl__sigpipe_hold h;
    vl__sigpipe_hold(&h);
    int64_t res = nowait ? nowait_rw(s, true) : file_write(s);
    vl__sigpipe_release(&h, res);
    return res;
}

#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100 /* Linux 6.18: no SIGPIPE for this write */
#endif

/* 1 while the kernel may know RWF_NOSIGNAL; 0 once it refused the flag. */
static int nosignal_known = 1;

/*
 * A non-blocking write that cannot raise SIGPIPE: on Linux 6.18+ one
 * pwritev2(RWF_NOWAIT | RWF_NOSIGNAL), with no signal-mask system calls;
 * older kernels refuse the flag (-EOPNOTSUPP, remembered process-wide) and
 * get the masked write. -EOPNOTSUPP can also mean "no RWF_NOWAIT for this
 * file", so the masked path runs once more to tell the two apart.
 */
static int64_t write_nowait_nosignal(const struct vl__slot *s)
{
#ifndef RWF_NOWAIT
    return write_nosigpipe(s, true); /* nowait_rw answers -EOPNOTSUPP: the plain path */
#endif
    if (__atomic_load_n(&nosignal_known, __ATOMIC_RELAXED)) {
#ifdef RWF_NOWAIT
        struct iovec one;
        const struct iovec *iov;
        int cnt = op_iov(&s->op, &one, &iov);
        off_t off = s->op.u.rw.offset < 0 ? -1 : (off_t)s->op.u.rw.offset;
        int64_t res = sys_result(pwritev2(s->op.fd, iov, cnt, off, RWF_NOWAIT | RWF_NOSIGNAL));
#else
        int64_t res = -EOPNOTSUPP;
#endif
        if (res != -EOPNOTSUPP && res != -EINVAL)
            return res;
        int64_t plain = write_nosigpipe(s, true);
        if (plain != -EOPNOTSUPP && plain != -EINVAL)
            __atomic_store_n(&nosignal_known, 0, __ATOMIC_RELAXED);
        return plain;
    }
    return write_nosigpipe(s, true);
}

/* READ and WRITE on a pipe, tty, eventfd, ...: RWF_NOWAIT when the kernel
 * supports it for this file, else the plain call after readiness. */
static int64_t special_rw(struct vl__slot *s, bool write, bool ready)
{
    if ((rslot(s)->flags & MODE_MASK) == MODE_NOWAIT) {
        int64_t res = write ? write_nowait_nosignal(s) : nowait_rw(s, false);
        if (res != -EOPNOTSUPP)
            return would_block(res) ? PARK : res;
        rslot(s)->flags = (rslot(s)->flags & ~MODE_MASK) | MODE_PLAIN | F_ONE_PER_WAKE;
    }
    if (!ready)
        return RECHECK;
    int64_t res = write ? write_nosigpipe(s, false) : file_read(s);
    return would_block(res) ? PARK : res;
}

/* ---- what READ/WRITE remember of a number's file (struct vl__reactor_hint) ---- */

/* hint.sync_io: F_GETFL not asked yet; asked, and the file's status flags
 * ask for synchronous I/O (O_DIRECT, O_DSYNC, O_SYNC) or not. */
#define SYNC_IO_UNASKED 0
#define SYNC_IO_YES     1
#define SYNC_IO_NO      2

static struct vl__reactor_hint *hint_of(struct vl__reactor *r, int fd);

/* fd's hint if it holds what a READ/WRITE learned of fd's file, else NULL
 * (the engine was not made with VL_ENGINE_REMEMBER_FDS, or the number's
 * entry holds another number, or nothing learned yet). */
static struct vl__reactor_hint *hint_file(struct vl__reactor *r, int fd)
{
    if (!r->remember || fd < 0)
        return NULL;
    struct vl__reactor_hint *h = &r->hints[(uint32_t)fd & r->mask];
    return h->fd == fd && h->mode != 0 ? h : NULL;
}

/*
 * classify, or what an earlier READ/WRITE of the number learned, under
 * VL_ENGINE_REMEMBER_FDS's promise (no new file on a number behind the
 * engine's back: the hint is forgotten where the engine sees one, CLOSE and
 * the results of ACCEPT, SOCKET and OPENAT). From the hint *size is -1:
 * file_first asks it only when a read comes back short. A worker's run
 * never gets here (its op was classified on the polling thread, which alone
 * touches the hints).
 */
static int classify_known(struct vl__reactor *r, struct vl__slot *s, uint64_t *dev, int64_t *size)
{
    int fd = s->op.fd;
    const struct vl__reactor_hint *k = hint_file(r, fd);
    if (k != NULL) {
        rslot(s)->flags = (rslot(s)->flags & ~MODE_MASK) | ((unsigned)k->mode << MODE_SHIFT);
        *dev = k->dev;
        *size = -1;
        return 0;
    }
    int rc = classify(s, dev, size);
    if (rc == 0 && r->remember && !(rslot(s)->flags & F_WORKER)) {
        struct vl__reactor_hint *h = hint_of(r, fd);
        h->mode = (uint8_t)((rslot(s)->flags & MODE_MASK) >> MODE_SHIFT);
        h->dev = *dev;
    }
    return rc;
}

#ifdef RWF_NOWAIT /* its only user is file_first's attempt (Linux) */
/* Whether fd's file asks for synchronous I/O (O_DIRECT, O_DSYNC, O_SYNC;
 * O_SYNC includes O_DSYNC's bit), which the RWF_NOWAIT attempt would wait
 * for: file_first then leaves the op to the offload. F_GETFL per op, or
 * once per file under VL_ENGINE_REMEMBER_FDS's promise, which covers
 * O_DIRECT too (F_SETFL can change it; O_DSYNC and O_SYNC it cannot). An
 * fd whose flags cannot be read counts as synchronous: the offload's call
 * gives the error. */
static bool file_sync_io(struct vl__reactor *r, int fd)
{
    struct vl__reactor_hint *h = hint_file(r, fd);
    if (h != NULL && h->sync_io != SYNC_IO_UNASKED)
        return h->sync_io == SYNC_IO_YES;
    int fl = fcntl(fd, F_GETFL);
    bool sync = fl < 0 || (fl & (O_DIRECT | O_DSYNC));
    if (h != NULL && fl >= 0)
        h->sync_io = sync ? SYNC_IO_YES : SYNC_IO_NO;
    return sync;
}
#endif

/*
 * Fault injection (builds with VLLSI_FAULT_INJECTION, src/engine/fault.h):
 * before a socket transfer the "kernel" may answer EAGAIN; the op then
 * parks with RECHECK (no real EAGAIN consumed the edge), so the backend
 * reports the fd at once if it is ready; and a transfer may move fewer
 * bytes than asked, as the kernel may.
 * Neither happens for an fd epoll refuses (run inline, or on a worker, whose
 * thread is muted: no readiness to wait for, and r->inline_run is the
 * polling thread's, so a worker never reads it here). In other builds both
 * are constants and cost nothing.
 */
static bool fault_eagain(const struct vl__reactor *r)
{
    return VL__FAULT_LIVE() && !r->inline_run && VL__FAULT(VL__FAULT_EAGAIN);
}

/* An injected EAGAIN for a kind whose call works on sockets only (RECV,
 * SEND, SENDV, ACCEPT, SENDMSG, RECVMSG): only where fd is a socket, the one
 * place a real EAGAIN can come from. On any other fd the call fails at once
 * (-ENOTSOCK, -EBADF), and an op parked there could wait forever for an edge
 * that never comes. The getsockopt runs only when a fault hits. */
static bool fault_eagain_sock(const struct vl__reactor *r, int fd)
{
    if (!fault_eagain(r))
        return false;
    int type;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

/* READV/WRITEV on a socket: one recvmsg/sendmsg of the list. */
static int64_t sock_rwv(const vl_op *op, bool write)
{
    struct msghdr m = {0};
    m.msg_iov = (struct iovec *)(uintptr_t)op->u.rwv.iov;
    m.msg_iovlen = op->u.rwv.iovcnt;
    ssize_t n = write ? sendmsg(op->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL)
                      : recvmsg(op->fd, &m, MSG_DONTWAIT);
    int64_t res = sys_result(n);
    return would_block(res) ? PARK : res;
}

static int64_t sock_rw(const struct vl__slot *s, bool write)
{
    const vl_op *op = &s->op;
    if (op->u.rw.offset != -1)
        return -ESPIPE;
    if (is_vec(op))
        return sock_rwv(op, write);
    size_t len = VL__FAULT_SHORTEN(op->u.rw.len);
    ssize_t n = write ? send(op->fd, op->u.rw.buf, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                      : recv(op->fd, op->u.rw.buf, len, MSG_DONTWAIT);
    int64_t res = sys_result(n);
    return would_block(res) ? PARK : res;
}

/*
 * A regular-file READ/WRITE with an offload installed, on the polling
 * thread: one preadv2/pwritev2 with RWF_NOWAIT, which the kernel answers
 * from the page cache or refuses with EAGAIN where it would wait (for the
 * disk, a page lock, block allocation). Refused, the op goes to the
 * offload, which makes the plain call. A read that found only part of the
 * range cached goes to the offload whole (below). A file system without RWF_NOWAIT for the
 * direction
 * (-EOPNOTSUPP: tmpfs for reads, ext4 and tmpfs for buffered writes on
 * Linux 6.18) is remembered by device (dev), so its later ops go to the
 * offload without the attempt. -EINVAL may be the caller's bad input, as
 * well as an older kernel's "no buffered NOWAIT write": the offload's call
 * says which, and nothing is remembered. -EINTR goes there too: the plain
 * call retries it. A file opened O_DIRECT, O_DSYNC or O_SYNC (its status
 * flags, asked per op since F_SETFL may change O_DIRECT, or once per file
 * under VL_ENGINE_REMEMBER_FDS: file_sync_io) goes to the offload
 * without the attempt: RWF_NOWAIT keeps a call from waiting to start I/O,
 * not for the I/O, and a synchronous call waits for a direct read's
 * device I/O, and for a synchronous write's flush. Fault injection: the
 * attempt may be answered EAGAIN, which sends the op to the offload.
 */
static int64_t file_first(struct vl__reactor *r, struct vl__slot *s, bool write, uint64_t dev,
                          int64_t size)
{
#ifdef RWF_NOWAIT
    if (!r->file_nowait || r->nowait_refused[write] == dev + 1 || VL__FAULT(VL__FAULT_EAGAIN))
        return OFFLOAD;
    if (file_sync_io(r, s->op.fd))
        return OFFLOAD;
    int64_t res = nowait_rw(s, write);
    if (res == -EOPNOTSUPP)
        r->nowait_refused[write] = dev + 1;
    if (res == -EAGAIN || res == -EOPNOTSUPP || res == -EINVAL || res == -EINTR)
        return OFFLOAD;
    /* Short, at an offset, and not at the end of the file: the rest was not
     * cached (or not writable without waiting). The worker makes the whole
     * call again, as io_uring finishes such a read in io-wq, so a READ of a
     * file comes back short only at its end, as a blocking one does. At the
     * file position (-1) the attempt has moved it: its part stands. */
    int64_t off = s->op.u.rw.offset;
    if (res > 0 && off >= 0 && (uint64_t)res < op_bytes(&s->op)) {
        struct stat st;
        if (size < 0) /* the classification came from the hint: ask now */
            size = fstat(s->op.fd, &st) == 0 ? (int64_t)st.st_size : INT64_MAX;
        if (off + res < size)
            return OFFLOAD;
    }
    return res;
#else
    (void)r, (void)s, (void)write, (void)dev, (void)size;
    return OFFLOAD;
#endif
}

/* A regular file or block device is never "not ready": its op runs inline
 * without an offload; with one, what the page cache can answer at once
 * runs inline (file_first) and the rest on a worker, since a disk may be
 * slow. A worker's run (F_WORKER) makes the plain call: the polling thread
 * classified the op before handing it off, and a worker reads only its
 * slot. */
static int64_t run_rw(struct vl__reactor *r, struct vl__slot *s, bool write, bool ready)
{
    unsigned flags = rslot(s)->flags;
    uint64_t dev = 0;
    int64_t size = 0;
    if ((flags & MODE_MASK) == MODE_NONE) {
        int rc = classify_known(r, s, &dev, &size);
        if (rc < 0)
            return rc;
        flags = rslot(s)->flags;
    }
    switch (flags & MODE_MASK) {
    case MODE_FILE:
        /* Not on a worker, the op was classified just now: dev is its. */
        if (!(flags & F_WORKER) && r->off != NULL)
            return file_first(r, s, write, dev, size);
        return write ? file_write(s) : file_read(s);
    case MODE_SOCK:
        return sock_rw(s, write);
    default:
        return special_rw(s, write, ready);
    }
}

static int64_t run_read(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    if ((rslot(s)->flags & MODE_MASK) == MODE_SOCK && fault_eagain(r))
        return RECHECK;
    return run_rw(r, s, false, ready);
}

static int64_t run_write(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    if ((rslot(s)->flags & MODE_MASK) == MODE_SOCK && fault_eagain(r))
        return RECHECK;
    return run_rw(r, s, true, ready);
}

/* ---- the drained hint (struct vl__reactor_hint) ----------------------------- */

static struct vl__reactor_hint *hint_at(struct vl__reactor *r, int fd)
{
    return &r->hints[(uint32_t)fd & r->mask];
}

/*
 * Whether fd is a byte stream whose short read proves its queue empty: TCP
 * and AF_UNIX SOCK_STREAM. Not SCTP's one-to-one style, also SOCK_STREAM,
 * whose reads stop at message ends. False for an fd that is no socket.
 */
static bool fd_is_stream(int fd)
{
    int type = 0, proto = -1;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return false;
#ifdef SO_PROTOCOL
    len = sizeof(proto);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
        return false;
    return proto == 0 || proto == IPPROTO_TCP;
#else
    (void)proto; /* no SO_PROTOCOL (macOS): every stream socket is a byte stream */
    return true;
#endif
}

/* Whether a notification for fd's parked ops reported VL__REACTOR_HUP. */
static bool peer_done(struct vl__reactor *r, int fd)
{
    const struct vl__reactor_fd *f = fd_find(r, fd);
    return f != NULL && f->hup;
}

#define STREAM_UNASKED 2 /* hint.stream: fd_is_stream not asked yet */

/* fd's hint, made (knowing nothing) if another number had the entry. */
static struct vl__reactor_hint *hint_of(struct vl__reactor *r, int fd)
{
    struct vl__reactor_hint *h = hint_at(r, fd);
    if (h->fd != fd)
        *h = (struct vl__reactor_hint){.fd = fd, .stream = STREAM_UNASKED};
    return h;
}

/* The number got a new file (ACCEPT, SOCKET, OPENAT) or lost its file (CLOSE):
 * nothing known of the old one holds. */
static void hint_forget(struct vl__reactor *r, int fd)
{
    struct vl__reactor_hint *h = hint_at(r, fd);
    if (h->fd == fd)
        h->fd = -1;
}

/* A SOCKET or ACCEPT made fd: a new file on the number, and one the engine
 * itself made non-blocking where flags has VL_SOCK_NONBLOCK (the hint's
 * nonblock, which SENDFILE and SPLICE trust). */
static void hint_new_socket(struct vl__reactor *r, int fd, uint32_t flags)
{
    hint_forget(r, fd);
    if (flags & VL_SOCK_NONBLOCK)
        hint_of(r, fd)->nonblock = 1;
}

/* A RECV on fd took less than it asked for: on a stream, everything, but
 * not the EOF of a peer known to be done (the next read finds it at once). */
static void hint_short_read(struct vl__reactor *r, int fd)
{
    struct vl__reactor_hint *h = hint_of(r, fd);
    if (h->stream == STREAM_UNASKED)
        h->stream = fd_is_stream(fd);
    h->drained = h->stream && !peer_done(r, fd);
}

static bool hint_drained(struct vl__reactor *r, int fd)
{
    if (fd < 0)
        return false; /* -1 marks an empty entry */
    const struct vl__reactor_hint *h = hint_at(r, fd);
    return h->fd == fd && h->drained;
}

/* A read event for the number (of whichever registration): data may wait. */
static void hint_readable(struct vl__reactor *r, int fd)
{
    struct vl__reactor_hint *h = hint_at(r, fd);
    if (h->fd == fd)
        h->drained = 0;
}

static int64_t run_recv_multi(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready);

static int64_t run_recv(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    if (VL_UNLIKELY(vl__op_is_multishot(&s->op)))
        return run_recv_multi(r, i, s, ready);
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    size_t len = VL__FAULT_SHORTEN(op->u.msg.len);
    int64_t res = sys_result(recv(op->fd, op->u.msg.buf, len, op->u.msg.flags | MSG_DONTWAIT));
    if (res > 0 && (size_t)res < len && !(op->u.msg.flags & MSG_PEEK))
        hint_short_read(r, op->fd);
    return would_block(res) ? PARK : res;
}

static int64_t run_send(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    (void)ready;
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    int64_t res = sys_result(send(op->fd, op->u.msg.buf, VL__FAULT_SHORTEN(op->u.msg.len),
                                  op->u.msg.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    return would_block(res) ? PARK : res;
}

/* SENDV: one sendmsg of the caller's array (vl__sendv_msghdr). */
static int64_t run_sendv(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    (void)ready;
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    struct msghdr m;
    struct iovec head;
    vl__sendv_msghdr(op, &m, &head);
    int64_t res = sys_result(sendmsg(op->fd, &m, op->u.vec.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    return would_block(res) ? PARK : res;
}

/*
 * accept4 has no per-call non-blocking flag. On a blocking listener it runs
 * only after readiness, one per notification; it can still block if another
 * process or engine takes the connection first (a thundering herd): give
 * listeners shared between engines O_NONBLOCK. A blocking fd that is not a
 * listening socket fails at once rather than waiting for a readiness that
 * may never mean "acceptable". Returns 0 or -errno.
 */
static int64_t accept_check(struct vl__slot *s, int fd)
{
    rslot(s)->flags |= F_CHECKED;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK)
        return 0;
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
        return -errno;
    if (!listening)
        return -EINVAL;
    rslot(s)->flags |= F_ONE_PER_WAKE;
    return 0;
}

static int64_t run_accept_multi(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready);

static int64_t run_accept(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    if (VL_UNLIKELY(vl__op_is_multishot(&s->op)))
        return run_accept_multi(r, i, s, ready);
    if (!(rslot(s)->flags & F_CHECKED)) {
        int64_t rc = accept_check(s, s->op.fd);
        if (rc < 0)
            return rc;
    }
    if ((!ready && (rslot(s)->flags & F_ONE_PER_WAKE)) || fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    socklen_t *lenp = op->u.accept.addr ? op->u.accept.addrlen : NULL;
    int64_t res = sys_result(accept_cloexec(op->fd, op->u.accept.addr, lenp, op->u.accept.flags));
    if (res >= 0)
        hint_new_socket(r, (int)res, op->u.accept.flags);
    return would_block(res) ? PARK : res;
}

/* Multishot ops read at most this many times per readiness notification, so
 * one busy connection cannot starve the others in the same wait. */
#define MULTI_BURST 8

/* The pool is empty: end the op with -ENOBUFS only if data or EOF is
 * waiting (it stays in the socket for the op submitted again, as on
 * io_uring), else keep waiting; an error ends it as such. */
static int64_t recv_multi_empty(const struct vl__slot *s)
{
    char byte;
    int64_t res = sys_result(recv(s->op.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT));
    if (would_block(res))
        return PARK;
    return res >= 0 ? -ENOBUFS : res;
}

/* Whether a multishot RECV's socket is a stream (fd_is_stream), looked at once per op. */
static void recv_multi_type(struct vl__slot *s)
{
    rslot(s)->flags |= F_CHECKED;
    if (fd_is_stream(s->op.fd))
        rslot(s)->flags |= F_STREAM;
}

/*
 * A multishot RECV (run_recv sends it here), emulated the way io_uring's provided buffers work: a
 * buffer is taken from the pool only when the read happens, so idle connections hold none. Every
 * read with data is a VL_CQE_MORE completion naming its buffer; the op stays parked for the next
 * readiness. It reads until EAGAIN (or a short read of a stream whose peer was not reported done),
 * or MULTI_BURST times, or until the completion queue has no room; the last two park with RECHECK.
 * EOF, an error or an empty pool with data or EOF waiting end it.
 */
static int64_t run_recv_multi(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready;
    if (!(rslot(s)->flags & F_CHECKED))
        recv_multi_type(s);
    struct vl_bufpool *p = s->op.u.msg.pool;
    for (int k = 0; k < MULTI_BURST; k++) {
        uint32_t bid;
        if (!vl__engine_cq_room(r->e)) {
            vl__engine_stats(r->e)->cq_deferred++; /* read on after the next poll */
            return RECHECK;
        }
        if (fault_eagain(r))
            return RECHECK;
        if (!vl__pool_take(p, &bid))
            return recv_multi_empty(s);
        size_t len = VL__FAULT_SHORTEN(p->size);
        int64_t res =
            sys_result(recv(s->op.fd, vl__pool_buf(p, bid), len, s->op.u.msg.flags | MSG_DONTWAIT));
        if (res <= 0) {
            vl__pool_untake(p, bid);
            return would_block(res) ? PARK : res;
        }
        vl__pool_mark_out(p, bid);
        vl__engine_complete(r->e, i, res, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
        /* A short read drained the stream's data, but an EOF queued behind
         * it made its edge already: read on to find it. */
        if (res < (int64_t)len && (rslot(s)->flags & F_STREAM) && !peer_done(r, s->op.fd))
            return PARK;
    }
    return RECHECK;
}

/* A multishot ACCEPT (run_accept sends it here): every accepted connection is a VL_CQE_MORE
 * completion; an error other than a connection that died in the backlog ends the op. */
static int64_t run_accept_multi(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    int fd = s->op.fd;
    if (!(rslot(s)->flags & F_CHECKED)) {
        int64_t rc = accept_check(s, fd);
        if (rc < 0)
            return rc;
    }
    for (int k = 0; k < MULTI_BURST; k++) {
        if (!vl__engine_cq_room(r->e)) {
            vl__engine_stats(r->e)->cq_deferred++;
            return RECHECK;
        }
        if (!ready && (rslot(s)->flags & F_ONE_PER_WAKE))
            return RECHECK;
        int64_t res = sys_result(accept_cloexec(fd, NULL, NULL, s->op.u.accept.flags));
        if (would_block(res))
            return PARK;
        if (res == -ECONNABORTED || res == -EINTR)
            continue;
        if (res < 0)
            return res;
        hint_new_socket(r, (int)res, s->op.u.accept.flags);
        vl__engine_complete(r->e, i, res, VL_CQE_MORE);
        ready = false; /* a blocking listener accepts once per notification */
    }
    return RECHECK;
}

/*
 * connect has no per-call non-blocking flag either. On a blocking socket the
 * reactor sets O_NONBLOCK for the call and restores the user's flags right
 * after it: the handshake then goes on in the kernel whatever the flag, and
 * writability plus SO_ERROR report its end. (Another thread using the same
 * socket during that window would see O_NONBLOCK.) EAGAIN (a full AF_UNIX
 * backlog) is reported as is.
 */
static int64_t connect_start(struct vl__slot *s)
{
    const vl_op *op = &s->op;
    int fd = op->fd;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int64_t res = sys_result(connect(fd, op->u.connect.addr, op->u.connect.addrlen));
    if (!(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl);
    if (res != -EINPROGRESS)
        return res;
    rslot(s)->flags |= F_CONNECTING;
    return PARK;
}

static int64_t run_connect(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r;
    (void)i;
    (void)ready;
    if (!(rslot(s)->flags & F_CONNECTING))
        return connect_start(s);
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -(int64_t)err;
}

static int64_t run_nop(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r;
    (void)i;
    (void)s;
    (void)ready;
    return 0;
}

static int64_t run_timeout(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready;
    vl__timer_heap_insert(&r->timers, i);
    rslot(s)->flags |= WHERE_HEAP;
    return HELD;
}

static void pidfd_release(struct vl__reactor *r, struct vl__slot *s, struct vl__reactor_fd *f);
static void route_init(struct vl__reactor *r);

/* Take every op off f's lists and complete it with result (CLOSE, a
 * failed backend); an op on both lists completes once. */
static void fd_flush(struct vl__reactor *r, struct vl__reactor_fd *f, int64_t result)
{
    for (int dir = 0; dir < 2; dir++) {
        uint32_t i;
        while ((i = f->head[dir]) != NONE) {
            lists_unlink(r, f, i);
            pidfd_release(r, slot_of(r, i), f);
            vl__engine_complete(r->e, i, result, 0);
        }
    }
}

/*
 * CLOSE cancels every op parked on the fd first, each exactly once, and
 * stops watching it, so no parked op can ever run against a later file that
 * reuses the number. An fd with nothing parked may keep its registration;
 * the kernel drops it with the file's last reference, and while a dup keeps
 * the file alive its events carry a tag no later entry for the number has,
 * so they are ignored. The offload's jobs of the fd go the same way (its
 * close entry cancels the queued ones); while a worker runs one, the
 * offload holds the CLOSE and makes the close(2) on this thread once that
 * job's system call has returned, so the number is never free while a job
 * may use it. Until then an op submitted on the number fails -EBADF
 * (held_close_fails), as if the close had been made, which it is for the
 * caller: the old file never sees the op, and the close(2) has no
 * concurrent user.
 */
static int64_t run_close(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready;
    int fd = s->op.fd;
    hint_forget(r, fd); /* the number's next file starts unknown */
    struct vl__reactor_fd *f = fd_find(r, fd);
    if (f != NULL) {
        fd_flush(r, f, -ECANCELED);
        if (f->armed)
            r->be->disarm(r->ctx, fd);
        fd_drop(r, f);
    }
    if (r->off != NULL && r->off->close != NULL && r->off->close(r->off_ctx, i, fd) > 0) {
        rslot(s)->flags |= WHERE_OFFLOAD | F_WORKER | F_CLOSE_HELD;
        if (r->closes_held++ == 0)
            route_init(r);
        return HELD;
    }
    return sys_result(close(fd));
}

/* SHUTDOWN: shutdown(2) never waits for the peer, so it runs inline (its
 * row has no park). */
static int64_t run_shutdown(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r;
    (void)i;
    (void)ready;
    return sys_result(shutdown(s->op.fd, s->op.u.shutdown.how));
}

/* socket(2), close-on-exec. */
static int64_t socket_open(const struct vl__slot *s)
{
    const vl_op *op = &s->op;
    int type = op->u.socket.type;
#ifdef SOCK_CLOEXEC
    type |= SOCK_CLOEXEC;
    if (op->u.socket.flags & VL_SOCK_NONBLOCK)
        type |= SOCK_NONBLOCK;
    return sys_result(socket(op->u.socket.domain, type, op->u.socket.protocol));
#else
    /* No SOCK_CLOEXEC (macOS): the flags follow at once (a fork in another
     * thread between the calls would inherit the fd, as for ACCEPT). */
    int fd = socket(op->u.socket.domain, type, op->u.socket.protocol);
    if (fd < 0)
        return -errno;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (op->u.socket.flags & VL_SOCK_NONBLOCK)
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
#endif
}

/* SOCKET: inline (it never waits). */
static int64_t run_socket(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    (void)ready;
    int64_t res = socket_open(s);
    if (res >= 0)
        hint_new_socket(r, (int)res, s->op.u.socket.flags);
    return res;
}

/* BIND and LISTEN never wait: inline. */
static int64_t run_bind(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r;
    (void)i;
    (void)ready;
    return sys_result(bind(s->op.fd, s->op.u.bind.addr, s->op.u.bind.addrlen));
}

static int64_t run_listen(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r;
    (void)i;
    (void)ready;
    return sys_result(listen(s->op.fd, s->op.u.listen.backlog));
}

/* ---- files and paths ---------------------------------------------------------- */

/*
 * The file and path ops are blocking kinds (opdef.h): each is one system
 * call, which runs on an offload worker when one is installed, else inline
 * (the route the core picks from the row). Neither parks, so ready means
 * nothing to them. VL_AT_* are Linux's AT_* values; elsewhere at_fd and
 * at_flags translate them.
 */
static int at_fd(int dirfd)
{
    return dirfd == VL_AT_FDCWD ? AT_FDCWD : dirfd;
}

#ifdef __linux__
#define at_flags(f) (f)
#else
static int at_flags(int flags)
{
    int out = 0;
    if (flags & VL_AT_SYMLINK_NOFOLLOW)
        out |= AT_SYMLINK_NOFOLLOW;
    if (flags & VL_AT_REMOVEDIR)
        out |= AT_REMOVEDIR;
    return out;
}
#endif

/* struct vl__reactor's open_cached: whether openat2 knows RESOLVE_CACHED
 * (never, where there is no openat2). */
#define CACHED_NO    0 /* no openat2, or no RESOLVE_CACHED: no attempts */
#define CACHED_MAYBE 1 /* not asked yet                                  */
#define CACHED_YES   2 /* asked: it does                                 */

#ifdef __linux__
#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20 /* openat2, Linux 5.12: only what the dentry cache holds */
#endif

/* After an attempt said -EINVAL, which the caller's flags may also cause
 * (openat2 refuses unknown flags, where openat ignores them): whether
 * RESOLVE_CACHED was the cause, asked once by an O_PATH open of "/", which
 * nothing of the caller's takes part in. */
static bool resolve_cached_known(struct vl__reactor *r)
{
    if (r->open_cached == CACHED_MAYBE) {
        int64_t fd = vl__openat2(AT_FDCWD, "/", O_PATH, 0, RESOLVE_CACHED);
        if (fd >= 0)
            close((int)fd);
        r->open_cached = fd == -EINVAL || fd == -EOPNOTSUPP ? CACHED_NO : CACHED_YES;
    }
    return r->open_cached != CACHED_NO;
}

/*
 * OPENAT with an offload installed, on the polling thread (the route
 * leaves OPENAT to its run when vl__reactor_set_file_nowait is on): one
 * openat2 with RESOLVE_CACHED added to the caller's resolve flags, which
 * fails with -EAGAIN unless every component of the path is in the dentry
 * cache, and for O_CREAT, O_TRUNC and O_TMPFILE, which may write (those go
 * to the offload without the attempt). O_NONBLOCK keeps the open itself
 * from waiting: for a FIFO's other end, a lease's break (-EAGAIN), a
 * device's carrier. The fd then gets the caller's status flags back
 * (F_SETFL of the settable ones), so only the caller's O_NONBLOCK stays;
 * a FIFO opened for writing with no reader (-ENXIO under O_NONBLOCK) is
 * the offload's to wait for. An open that needs neither: O_PATH, which
 * opens nothing, and O_DIRECTORY, which opens only a directory (anything
 * else is -ENOTDIR before the open) and only for reading, so never waits
 * for a FIFO, a device or a lease's break (a read-only open breaks only a
 * write lease, which only a regular file takes). A regular file keeps
 * both: without O_NONBLOCK a write lease held elsewhere makes the open
 * wait for its break (up to /proc/sys/fs/lease-break-time, 45 s). Every
 * other answer is the open's own: a cached negative dentry's -ENOENT, the
 * resolve flags' -EXDEV. A file system whose open talks to a server (FUSE,
 * NFS) may still wait in the open, as io_uring's inline attempt does. A
 * kernel without openat2 (-EOPNOTSUPP) or without RESOLVE_CACHED turns the
 * attempts off.
 */
static int64_t openat_first(struct vl__reactor *r, const vl_op *op)
{
    int flags = op->u.openat.flags;
    if (r->open_cached == CACHED_NO || (flags & (O_CREAT | O_TRUNC)) ||
        (flags & O_TMPFILE) == O_TMPFILE || VL__FAULT(VL__FAULT_EAGAIN))
        return OFFLOAD;
    int nb = (flags & (O_PATH | O_DIRECTORY)) ? 0 : O_NONBLOCK;
    int64_t fd = vl__openat2(at_fd(op->fd), op->u.openat.path, flags | nb, 0,
                             op->u.openat.resolve | RESOLVE_CACHED);
    if (fd >= 0) {
        if (nb && !(flags & O_NONBLOCK) &&
            fcntl((int)fd, F_SETFL, flags & (O_APPEND | O_DIRECT | O_NOATIME)) < 0) {
            close((int)fd);
            return OFFLOAD;
        }
        return fd;
    }
    if (fd == -EOPNOTSUPP)
        r->open_cached = CACHED_NO;
    else if (fd == -EINVAL)
        (void)resolve_cached_known(r);
    if (fd == -EAGAIN || fd == -ENXIO || fd == -EOPNOTSUPP || fd == -EINVAL)
        return OFFLOAD;
    return fd;
}
#endif

/* With resolve flags, openat2(2) (Linux 5.6+); elsewhere, and on a kernel
 * without the call, -EOPNOTSUPP: never an open without the check. */
static int64_t openat_call(struct vl__reactor *r, struct vl__slot *s)
{
    const vl_op *op = &s->op;
#ifdef __linux__
    if (r->off != NULL && !(rslot(s)->flags & F_WORKER))
        return openat_first(r, op);
#else
    (void)r;
#endif
    if (op->u.openat.resolve != 0) {
#ifdef __linux__
        return vl__openat2(at_fd(op->fd), op->u.openat.path, op->u.openat.flags, op->u.openat.mode,
                           op->u.openat.resolve);
#else
        return -EOPNOTSUPP;
#endif
    }
    return sys_result(openat(at_fd(op->fd), op->u.openat.path, op->u.openat.flags | O_CLOEXEC,
                             (mode_t)op->u.openat.mode));
}

/* A new file on the number (hint_forget): here on the polling thread, in
 * vl__reactor_offload_done for a worker's open. */
static int64_t run_openat(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i, (void)ready;
    int64_t res = openat_call(r, s);
    if (res >= 0 && !(rslot(s)->flags & F_WORKER))
        hint_forget(r, (int)res);
    return res;
}

#ifdef __linux__
/* STATX with an offload installed, on the polling thread: an fd's, where
 * the kernel answers it from memory (vl__statx_cached); the rest go to
 * the offload, which makes the caller's call. */
static int64_t statx_first(struct vl__reactor *r, const vl_op *op)
{
    if (!r->file_nowait)
        return OFFLOAD;
    int rc = vl__statx_cached(op->fd, op->u.statx.path, op->u.statx.flags, op->u.statx.buf);
    return rc == VL__STATX_NOT_CACHED ? OFFLOAD : rc;
}
#endif

/* Linux: statx(2), converted as io_uring's is. Elsewhere fstatat, or fstat
 * of the fd for VL_AT_EMPTY_PATH with "" (where AT_EMPTY_PATH is not). */
static int64_t run_statx(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i, (void)ready;
    const vl_op *op = &s->op;
#ifdef __linux__
    if (r->off != NULL && !(rslot(s)->flags & F_WORKER))
        return statx_first(r, op);
    struct statx k;
    if (statx(op->fd, op->u.statx.path, op->u.statx.flags, VL__STATX_WANT, &k) != 0)
        return -errno;
    vl__statx_from_linux(op->u.statx.buf, &k);
#else
    struct stat st;
    int rc = (op->u.statx.flags & VL_AT_EMPTY_PATH) && op->u.statx.path[0] == '\0'
                 ? (op->fd == VL_AT_FDCWD ? stat(".", &st) : fstat(op->fd, &st))
                 : fstatat(at_fd(op->fd), op->u.statx.path, &st, at_flags(op->u.statx.flags));
    if (rc != 0)
        return -errno;
    (void)r;
    vl__statx_from_stat(op->u.statx.buf, &st);
#endif
    return 0;
}

static int64_t run_ftruncate(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r, (void)i, (void)ready;
    return sys_result(ftruncate(s->op.fd, (off_t)s->op.u.ftruncate.length));
}

static int64_t run_unlinkat(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r, (void)i, (void)ready;
    const vl_op *op = &s->op;
    return sys_result(unlinkat(at_fd(op->fd), op->u.unlinkat.path, at_flags(op->u.unlinkat.flags)));
}

static int64_t run_renameat(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r, (void)i, (void)ready;
    const vl_op *op = &s->op;
    return sys_result(renameat(at_fd(op->fd), op->u.renameat.oldpath,
                               at_fd(op->u.renameat.newdirfd), op->u.renameat.newpath));
}

static int64_t run_mkdirat(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r, (void)i, (void)ready;
    const vl_op *op = &s->op;
    return sys_result(mkdirat(at_fd(op->fd), op->u.mkdirat.path, (mode_t)op->u.mkdirat.mode));
}

/* READV and WRITEV take READ's and WRITE's paths, which read the list
 * through op_iov. */
#define run_readv  run_read
#define run_writev run_write

/* FSYNC: blocking (its row), so on a worker when the pool is installed.
 * A pipe, FIFO or socket answers -EINVAL, as Linux's fsync does. */
static int64_t run_fsync(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r, (void)i, (void)ready;
    int rc;
    do {
#ifdef __APPLE__
        rc = fsync(s->op.fd); /* no fdatasync in libSystem's headers */
#else
        rc = (s->op.u.fsync.flags & VL_FSYNC_DATASYNC) ? fdatasync(s->op.fd) : fsync(s->op.fd);
#endif
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -(int64_t)errno : 0;
}

/* SENDMSG: the caller's msghdr as it is, with MSG_NOSIGNAL as SEND. */
static int64_t run_sendmsg(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    (void)ready;
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    int64_t res =
        sys_result(sendmsg(op->fd, op->u.mh.msg, op->u.mh.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    return would_block(res) ? PARK : res;
}

static int64_t run_recvmsg_multi(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready);

/* RECVMSG: recvmsg(2) into the caller's msghdr, which it updates. */
static int64_t run_recvmsg(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    if (VL_UNLIKELY(vl__op_is_multishot(&s->op)))
        return run_recvmsg_multi(r, i, s, ready);
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    int64_t res = sys_result(recvmsg(op->fd, op->u.mh.msg, op->u.mh.flags | MSG_DONTWAIT));
    return would_block(res) ? PARK : res;
}

#ifdef __linux__
/*
 * A multishot RECVMSG on a datagram socket: up to MULTI_BURST datagrams in
 * one recvmmsg(2), each into a pool buffer taken for it, as many as the
 * pool and the completion queue have room for; the buffers it did not fill
 * go back. Fewer datagrams than asked for means the socket is drained.
 */
static int64_t recvmsg_multi_batch(struct vl__reactor *r, uint32_t i, struct vl__slot *s)
{
    struct vl_bufpool *p = s->op.u.mh.pool;
    uint32_t n = vl__engine_cq_room_count(r->e);
    if (n == 0) {
        vl__engine_stats(r->e)->cq_deferred++;
        return RECHECK;
    }
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    if (n > MULTI_BURST)
        n = MULTI_BURST;
    if (n > p->nfree)
        n = p->nfree;
    if (n == 0)
        return recv_multi_empty(s);
    struct mmsghdr mm[MULTI_BURST];
    struct iovec iov[MULTI_BURST];
    uint32_t bid[MULTI_BURST];
    size_t head = 0;
    for (uint32_t k = 0; k < n; k++) {
        (void)vl__pool_take(p, &bid[k]);
        head = vl__recvmsg_prep(s->op.u.mh.msg, vl__pool_buf(p, bid[k]), p->size, &mm[k].msg_hdr,
                                &iov[k]);
        mm[k].msg_len = 0;
    }
    int got = recvmmsg(s->op.fd, mm, n, s->op.u.mh.flags | MSG_DONTWAIT, NULL);
    int64_t res = got < 0 ? -errno : got;
    uint32_t filled = got > 0 ? (uint32_t)got : 0;
    for (uint32_t k = n; k-- > filled;)
        vl__pool_untake(p, bid[k]); /* back in the order they were taken */
    for (uint32_t k = 0; k < filled; k++) {
        int64_t used =
            vl__recvmsg_fill(vl__pool_buf(p, bid[k]), &mm[k].msg_hdr, head, mm[k].msg_len);
        vl__pool_mark_out(p, bid[k]);
        vl__engine_complete(r->e, i, used, VL_CQE_MORE | VL_CQE_BUFFER | (bid[k] << 16));
    }
    if (res < 0)
        return would_block(res) ? PARK : res;
    return filled < n ? PARK : RECHECK;
}
#endif

/* Whether a multishot RECVMSG's socket is a stream (SOCK_STREAM, where 0
 * bytes are EOF), looked at once per op. */
static void recvmsg_multi_type(struct vl__slot *s)
{
    int type = 0;
    socklen_t len = sizeof(type);
    rslot(s)->flags |= F_CHECKED;
    if (getsockopt(s->op.fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
        rslot(s)->flags |= F_STREAM;
}

/*
 * A multishot RECVMSG, emulated as run_recv_multi does a RECV: a buffer is
 * taken only when a message is read, in the layout of vl_recvmsg_out, up
 * to MULTI_BURST per readiness notification: on Linux a datagram socket's
 * in one recvmmsg(2) (recvmsg_multi_batch), otherwise one recvmsg(2) each
 * (vl__recvmsg_out). A stream's EOF ends it with 0; an empty pool with a
 * message waiting with -ENOBUFS (the message stays in the socket).
 */
static int64_t run_recvmsg_multi(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready;
    if (!(rslot(s)->flags & F_CHECKED))
        recvmsg_multi_type(s);
    struct vl_bufpool *p = s->op.u.mh.pool;
    bool stream = (rslot(s)->flags & F_STREAM) != 0;
#ifdef __linux__
    if (!stream)
        return recvmsg_multi_batch(r, i, s);
#endif
    for (int k = 0; k < MULTI_BURST; k++) {
        uint32_t bid;
        if (!vl__engine_cq_room(r->e)) {
            vl__engine_stats(r->e)->cq_deferred++;
            return RECHECK;
        }
        if (fault_eagain(r))
            return RECHECK;
        if (!vl__pool_take(p, &bid))
            return recv_multi_empty(s);
        int64_t res = vl__recvmsg_out(s->op.fd, s->op.u.mh.msg, vl__pool_buf(p, bid), p->size,
                                      s->op.u.mh.flags | MSG_DONTWAIT, stream);
        if (res <= 0) {
            vl__pool_untake(p, bid);
            return would_block(res) ? PARK : res;
        }
        vl__pool_mark_out(p, bid);
        vl__engine_complete(r->e, i, res, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    }
    return RECHECK;
}

/* park's how: the op stopped without meeting EAGAIN (RECHECK), so the
 * backend must look at the level; the op has just found the fd not ready
 * (EAGAIN, or the drained hint), so its entry may start from the
 * registration the number kept (struct vl__reactor_hint). */
#define PARK_RECHECK 0x1u
#define PARK_FRESH   0x2u

static void park(struct vl__reactor *r, uint32_t i, struct vl__slot *s, unsigned dirs,
                 unsigned how);

/* The directions a POLL's events wait for. VL_POLL_ERR and VL_POLL_HUP
 * alone wait on the read side: a backend reports errors and hangups
 * whatever the interest, as both directions. */
static unsigned poll_dirs(uint32_t events)
{
    unsigned dirs = (events & (VL_POLL_IN | VL_POLL_PRI | VL_POLL_RDHUP)) ? VL__REACTOR_READ : 0;
    if (events & VL_POLL_OUT)
        dirs |= VL__REACTOR_WRITE;
    return dirs != 0 ? dirs : VL__REACTOR_READ;
}

/* What a poll(2) of op's fd says now: the ready mask (VL_POLL_ERR and
 * VL_POLL_HUP whether asked or not), 0 for nothing, -EBADF for a bad fd. */
static int64_t poll_now(const vl_op *op)
{
    struct pollfd p = {.fd = op->fd, .events = (short)op->u.poll.events};
    int n;
    do {
        n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (p.revents & POLLNVAL)
        return -EBADF;
    return (uint16_t)p.revents & (op->u.poll.events | VL_POLL_ERR | VL_POLL_HUP);
}

/*
 * A new POLL. A one-shot one looks first and completes at once if the fd is
 * ready; otherwise it parks for its events' directions (the path of
 * vl__reactor_park). A multishot one parks at once with the directions in
 * recheck, so that the backend looks at the level even on an fd another op
 * has armed already: its first report, if the fd is ready now, comes from
 * that look, and looking here as well would report the same readiness twice.
 */
static int64_t poll_start(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool multi)
{
    rslot(s)->seq = r->ready_seq;
    if (!multi) {
        int64_t m = poll_now(&s->op);
        if (m != 0)
            return m;
        /* Neither IN nor OUT: a file, which has only those, can never be
         * ready for it (run_poll). epoll refuses files and says so when it
         * parks; kqueue accepts them, so the core looks. */
        if (!(s->op.u.poll.events & (VL_POLL_IN | VL_POLL_OUT))) {
            struct stat st;
            if (fstat(s->op.fd, &st) < 0)
                return -errno;
            if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
                return -EINVAL;
        }
    } else {
        /* A file is always ready: a multishot POLL would report it for
         * ever. epoll refuses files (the backend's -EPERM ends it); kqueue
         * accepts them, so the core looks, once per POLL. */
        struct stat st;
        if (fstat(s->op.fd, &st) < 0)
            return -errno;
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
            return -EPERM;
    }
    park(r, i, s, poll_dirs(s->op.u.poll.events), multi ? PARK_RECHECK : 0);
    return HELD;
}

/*
 * POLL: readiness alone. Its row has no park (the directions are in its
 * events), so submit runs it, and poll_start parks it. On a notification it
 * runs once (an op parked for both directions sits on both lists: seq keeps
 * it from reporting twice for one notification) and takes the mask from
 * poll(2), which tells apart what a notification folds together (PRI,
 * RDHUP, ERR, HUP) and reports nothing for a readiness that went again. It
 * returns STAY rather than PARK while it waits, because it consumed
 * nothing: the ops behind it still run. A one-shot POLL completes with the
 * mask; a multishot one reports it with VL_CQE_MORE and stays, so it reports
 * once per notification of the edge-triggered registration. On an fd the
 * backend cannot watch (run_always_ready, or a worker) the fd is always
 * ready: a one-shot POLL reports that, a multishot one ends with -EPERM. A
 * one-shot POLL there for none of the bits such an fd has (VL_POLL_PRI or
 * VL_POLL_RDHUP alone) could never complete: -EINVAL, as io_uring answers
 * (a mask of 0 is no result).
 */
static int64_t run_poll(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready; /* the mask comes from poll(2), whichever op ran first */
    struct vl__reactor_slot *rs = rslot(s);
    bool multi = vl__op_is_multishot(&s->op);
    if (s->op.fd < 0)
        return -EBADF; /* poll(2) would skip it, and the fd table cannot hold it */
    if (r->inline_run || (rs->flags & F_WORKER)) {
        if (multi)
            return -EPERM;
        int64_t m = poll_now(&s->op);
        return m != 0 ? m : -EINVAL;
    }
    if (!(rs->flags & WHERE_LISTS))
        return poll_start(r, i, s, multi);
    if (rs->seq == r->ready_seq)
        return STAY; /* ran for this notification already, from its other list */
    rs->seq = r->ready_seq;
    int64_t m = poll_now(&s->op);
    if (m <= 0)
        return m == 0 ? STAY : m;
    if (!multi)
        return m;
    if (!vl__engine_cq_room(r->e)) {
        vl__engine_stats(r->e)->cq_deferred++;
        return RECHECK; /* the level is looked at again after the next poll */
    }
    vl__engine_complete(r->e, i, m, VL_CQE_MORE);
    return STAY;
}

/* Close a WAITPID's pidfd (if it has one), disarming it first while f
 * (its fd entry, or NULL) says the backend watches it. */
static void pidfd_release(struct vl__reactor *r, struct vl__slot *s, struct vl__reactor_fd *f)
{
    if (s->op.kind != VL_OP_WAITPID || s->op.fd < 0)
        return;
    if (f != NULL && f->armed) {
        r->be->disarm(r->ctx, s->op.fd);
        f->armed = 0;
    }
    close(s->op.fd);
    s->op.fd = -1;
}

/*
 * WAITPID through the backend's process filter (watch_exit: kqueue's
 * EVFILT_PROC): the op is held, F_EXIT, until vl__reactor_exited. A child
 * that exits between the first reap and the watch is a zombie the filter
 * may refuse (-ESRCH): it is reaped now.
 */
static int64_t exit_watch(struct vl__reactor *r, uint32_t i, int pid)
{
    int rc = r->be->watch_exit(r->ctx, pid, i);
    if (rc == -ESRCH) {
        int64_t res = vl__child_reap(pid);
        return res == VL__CHILD_RUNNING ? -ESRCH : res;
    }
    if (rc < 0)
        return rc;
    vl__reactor_hold(r, i);
    rslot_of(r, i)->flags |= F_EXIT;
    return HELD;
}

/* Complete held slot i, which waited for a child's exit, with res. */
static void exit_done(struct vl__reactor *r, uint32_t i, int64_t res)
{
    dlist_unlink(r, &r->held_head, &r->held_tail, 0, i);
    rslot_of(r, i)->flags &= ~(WHERE_HELD | F_EXIT);
    vl__engine_complete(r->e, i, res, 0);
}

/* Another held WAITPID waiting for pid's exit, or NONE. */
static uint32_t exit_waiter(struct vl__reactor *r, int pid)
{
    for (uint32_t j = r->held_head; j != NONE; j = rslot_of(r, j)->u.link.next[0])
        if ((rslot_of(r, j)->flags & F_EXIT) && slot_of(r, j)->op.u.waitpid.pid == pid)
            return j;
    return NONE;
}

/*
 * Slot i, a WAITPID off the held list now, stops waiting (CANCEL, a
 * deadline, shutdown): the child is left unreaped. The backend keeps one
 * watch per pid, so while another WAITPID waits for the same child the
 * watch is pointed at it instead of removed; should that fail, that op
 * completes with the error.
 */
static void exit_unwatch(struct vl__reactor *r, uint32_t i)
{
    rslot_of(r, i)->flags &= ~F_EXIT;
    int pid = slot_of(r, i)->op.u.waitpid.pid;
    uint32_t j = exit_waiter(r, pid);
    if (j == NONE) {
        r->be->unwatch_exit(r->ctx, pid);
        return;
    }
    int rc = r->be->watch_exit(r->ctx, pid, j);
    if (rc == -ESRCH) {
        int64_t res = vl__child_reap(pid);
        exit_done(r, j, res == VL__CHILD_RUNNING ? -ESRCH : res);
    } else if (rc < 0) {
        exit_done(r, j, rc);
    }
}

void vl__reactor_exited(struct vl__reactor *r, uint32_t i, int pid)
{
    struct vl__slot *s = slot_of(r, i);
    if (!(rslot(s)->flags & F_EXIT) || s->op.kind != VL_OP_WAITPID || s->op.u.waitpid.pid != pid)
        return; /* cancelled since: its watch was removed or moved */
    int64_t res = vl__child_reap(pid);
    bool reaped = res != VL__CHILD_RUNNING;
    if (!reaped) {
        /* The watch is spent: watch again, unless the child is gone now. */
        int rc = r->be->watch_exit(r->ctx, pid, i);
        if (rc == 0)
            return;
        res = rc == -ESRCH ? vl__child_reap(pid) : rc;
        reaped = rc == -ESRCH && res != VL__CHILD_RUNNING;
        if (res == VL__CHILD_RUNNING)
            res = -ESRCH;
    }
    exit_done(r, i, res);
    /* The other waiters for the child: it is gone (or the error). */
    uint32_t j;
    while ((j = exit_waiter(r, pid)) != NONE)
        exit_done(r, j, reaped ? -ECHILD : res);
}

/*
 * WAITPID: with the backend's process filter, exit_watch. Else on Linux
 * the child's pidfd (pidfd_open(2), 5.3+), which becomes readable when the
 * child exits, parked for read in s->op.fd (the op names no fd of the
 * caller's); on its edge waitid(WNOHANG) reaps the child, so the polling
 * thread never blocks. The pidfd is the op's own: it is closed when the op
 * ends, however it ends (pidfd_release: here, in take for CANCEL,
 * deadlines and shutdown, in fd_flush). Off Linux without a process filter:
 * -EOPNOTSUPP.
 */
static int64_t run_waitpid(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready;
    int pid = s->op.u.waitpid.pid;
#ifdef __linux__
    if (rslot(s)->flags & WHERE_LISTS) {
        /* The pidfd's edge: the child exited (or was reaped by another
         * waiter: -ECHILD). Nothing yet: wait for the next edge. */
        int64_t res = vl__child_reap(pid);
        if (res == VL__CHILD_RUNNING)
            return PARK;
        pidfd_release(r, s, fd_find(r, s->op.fd));
        return res;
    }
#else
    if (r->be->watch_exit == NULL)
        return -EOPNOTSUPP;
#endif
    if (r->inline_run || (rslot(s)->flags & F_WORKER)) {
        pidfd_release(r, s, NULL); /* a backend that cannot poll a pidfd */
        return -EOPNOTSUPP;
    }
    /* New: a child that exited already is reaped now; one that is not
     * ours is -ECHILD. */
    int64_t res = vl__child_reap(pid);
    if (res != VL__CHILD_RUNNING)
        return res;
    if (r->be->watch_exit != NULL)
        return exit_watch(r, i, pid);
#ifdef __linux__
    int pidfd = vl__pidfd_open(pid);
    if (pidfd < 0)
        return pidfd;
    s->op.fd = pidfd;
    park(r, i, s, VL__REACTOR_READ, 0);
    if (!(rslot(s)->flags & WHERE_LISTS))
        pidfd_release(r, s, NULL); /* the arm failed: the op completed */
    return HELD;
#else
    return -EOPNOTSUPP; /* not reached: no process filter returned above */
#endif
}

/* ---- SENDFILE and SPLICE ----------------------------------------------------- */

/* Whether fd's socket is one the engine made non-blocking (struct
 * vl__reactor_hint's nonblock), as s's run on the polling thread knows
 * (the hints are the polling thread's alone). */
static bool hint_nonblock(struct vl__reactor *r, struct vl__slot *s, int fd)
{
    if (fd < 0 || (rslot(s)->flags & F_WORKER))
        return false;
    const struct vl__reactor_hint *h = hint_at(r, fd);
    return h->fd == fd && h->nonblock;
}

/* Whether a SENDFILE's or SPLICE's call may leave SIGPIPE to the batch
 * (struct vl__reactor's sigpipe), which it then holds: on the polling
 * thread inside a wait's dispatch or a run of submits, which end the batch
 * before the caller's code runs; not on a worker, nor for a reactor whose
 * submits come from elsewhere (no end of the run to count on). */
static bool sigpipe_batched(struct vl__reactor *r, struct vl__slot *s)
{
    if ((rslot(s)->flags & F_WORKER) || !(r->in_wait || r->in_submit))
        return false;
    vl__sigpipe_batch_hold(&r->sigpipe);
    return true;
}

/* SENDFILE: one sendfile when the socket may take bytes (vl__sendfile_held:
 * non-blocking whatever the socket's mode, no SIGPIPE); EAGAIN parks it
 * for writability, as SEND. */
static int64_t run_sendfile(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i, (void)ready;
    if (fault_eagain_sock(r, s->op.fd))
        return RECHECK;
    const vl_op *op = &s->op;
    bool nb = hint_nonblock(r, s, op->fd);
    size_t count = VL__FAULT_SHORTEN(op->u.sendfile.count);
    int64_t res;
    bool known = nb;
    if (sigpipe_batched(r, s)) {
        res = vl__sendfile_held(op->fd, op->u.sendfile.file_fd, op->u.sendfile.offset, count, &nb);
        vl__sigpipe_batch_note(&r->sigpipe, res);
    } else {
        res = vl__sendfile_once(op->fd, op->u.sendfile.file_fd, op->u.sendfile.offset, count, &nb);
    }
    if (nb && !known && r->reuse && !(rslot(s)->flags & F_WORKER))
        hint_of(r, op->fd)->nonblock = 1; /* learned (struct vl__reactor_hint) */
    return would_block(res) ? PARK : res;
}

#ifdef __linux__
/* A new SPLICE's fds, looked at once: whether the side that is not the
 * pipe is a socket, made non-blocking for each call (F_STREAM), and which
 * side that is (F_SPLICE_SOCK_IN). Neither a pipe: splice(2) says -EINVAL
 * itself. */
static void splice_check(struct vl__slot *s)
{
    struct stat in, out;
    rslot(s)->flags |= F_SPLICE_SEEN;
    if (fstat(s->op.fd, &in) != 0 || fstat(s->op.u.splice.fd_out, &out) != 0)
        return; /* the call reports the bad fd */
    if (S_ISSOCK(in.st_mode))
        rslot(s)->flags |= F_STREAM | F_SPLICE_SOCK_IN;
    else if (S_ISSOCK(out.st_mode))
        rslot(s)->flags |= F_STREAM;
}

/*
 * Where a new SPLICE that met EAGAIN waits: a poll(2) of both fds finds
 * the side that is not ready, fd_in for reading or fd_out for writing (the
 * pipe, or a socket across from it). To wait on fd_out the slot's copy
 * swaps the two fds (F_SPLICE_OUT), since the core parks an op on its
 * header's fd; run_splice swaps them back for each call. Both ready again:
 * RECHECK, in the row's direction.
 */
static int64_t splice_wait(struct vl__reactor *r, uint32_t i, struct vl__slot *s)
{
    struct pollfd p[2] = {{.fd = s->op.fd, .events = POLLIN},
                          {.fd = s->op.u.splice.fd_out, .events = POLLOUT}};
    if (poll(p, 2, 0) < 0)
        return -errno;
    if (p[0].revents != 0 && p[1].revents == 0) {
        int out = s->op.u.splice.fd_out;
        s->op.u.splice.fd_out = s->op.fd;
        s->op.fd = out;
        rslot(s)->flags |= F_SPLICE_OUT;
        park(r, i, s, VL__REACTOR_WRITE, 0);
        return HELD;
    }
    return p[0].revents == 0 ? PARK : RECHECK;
}

/*
 * SPLICE: splice(2) with SPLICE_F_NONBLOCK. A parked one that meets EAGAIN
 * again waits where it is: the side it waits for changed, so the other
 * is the one that stopped it only if both changed at once, and that one's
 * next change runs it again.
 */
static int64_t run_splice(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)ready;
    if (!(rslot(s)->flags & F_SPLICE_SEEN))
        splice_check(s);
    unsigned flags = rslot(s)->flags;
    vl_op op = s->op;
    if (flags & F_SPLICE_OUT) {
        op.fd = s->op.u.splice.fd_out;
        op.u.splice.fd_out = s->op.fd;
    }
    int sock = (flags & F_STREAM) ? ((flags & F_SPLICE_SOCK_IN) ? op.fd : op.u.splice.fd_out) : -1;
    if (hint_nonblock(r, s, sock))
        sock = -1; /* nothing to make non-blocking */
    int64_t res;
    if (sigpipe_batched(r, s)) {
        res = vl__splice_held(&op, sock);
        vl__sigpipe_batch_note(&r->sigpipe, res);
    } else {
        struct vl__sigpipe_hold h;
        vl__sigpipe_hold(&h);
        res = vl__splice_held(&op, sock);
        vl__sigpipe_release(&h, res);
    }
    if (!would_block(res))
        return res;
    if ((flags & (WHERE_LISTS | F_WORKER)) || r->inline_run) /* a worker's, not its */
        return PARK;
    return splice_wait(r, i, s);
}
#else
/* No splice(2) off Linux. */
static int64_t run_splice(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)r, (void)i, (void)s, (void)ready;
    return -EOPNOTSUPP;
}
#endif

static int take(struct vl__reactor *r, uint32_t i);

static int64_t run_cancel(struct vl__reactor *r, uint32_t i, struct vl__slot *s, bool ready)
{
    (void)i;
    (void)ready;
    if (s->target == UINT32_MAX)
        return -ENOENT;
    int rc = take(r, s->target);
    if (rc < 0)
        return rc;
    vl__engine_complete(r->e, s->target, -ECANCELED, 0);
    return 0;
}

/* Per kind: its row (opdef.h: what it waits for when it would block) and
 * how to run it, run_<name> for each X(NAME, name) of the list in
 * <vllsi/op_kinds.h> (a kind without one does not compile). The row is
 * copied here so that one load finds both. */
#define OP_ROW(NAME, name) [VL_OP_##NAME] = {{VL__OPDEF_##NAME}, run_##name},
static const struct {
    struct vl__opdef def;
    run_fn run;
} op_table[] = {VL_OP_KINDS(OP_ROW)};
#undef OP_ROW
_Static_assert(sizeof(op_table) / sizeof(op_table[0]) == VL_OP_KIND_COUNT_,
               "op_table has a row for every op kind");
_Static_assert(VL__PARK_READ == VL__REACTOR_READ && VL__PARK_WRITE == VL__REACTOR_WRITE,
               "an op's park is a readiness direction");

/* ---- the offload -------------------------------------------------------------- */

/* Hand slot i to the offload (installed): a worker runs its blocking work. */
static void offload_start(struct vl__reactor *r, uint32_t i, struct vl__slot *s)
{
    struct vl__reactor_slot *rs = rslot(s);
    rs->flags = (rs->flags & ~WHERE_MASK) | WHERE_OFFLOAD | F_WORKER;
    int rc = r->off->start(r->off_ctx, i);
    if (rc < 0) {
        rs->flags &= ~(WHERE_OFFLOAD | F_WORKER);
        vl__engine_complete(r->e, i, rc, 0);
    }
}

int64_t vl__reactor_work(struct vl__reactor *r, uint32_t i)
{
    struct vl__slot *s = slot_of(r, i);
    int64_t res = op_table[s->op.kind].run(r, i, s, true);
    /* Run as the fd's readiness notification, an op cannot ask to wait:
     * a would-block answer is the caller's EAGAIN, as inline. */
    return res <= OFFLOAD ? -EAGAIN : res;
}

void vl__reactor_offload_done(struct vl__reactor *r, uint32_t i, int64_t result)
{
    struct vl__reactor_slot *rs = rslot_of(r, i);
    if ((rs->flags & F_CLOSE_HELD) && --r->closes_held == 0)
        route_init(r);
    rs->flags &= ~(WHERE_OFFLOAD | F_WORKER | F_CLOSE_HELD);
    if (result >= 0 && vl__engine_slot(r->e, i)->op.kind == VL_OP_OPENAT)
        hint_forget(r, (int)result); /* a new file on the number */
    vl__engine_complete(r->e, i, result, 0);
}

void vl__reactor_woken(struct vl__reactor *r)
{
    if (r->off != NULL)
        r->off->reap(r->off_ctx);
}

/* The blocking kinds whose run tries first on the polling thread
 * (openat_first, statx_first) rather than going to the offload at once. */
static bool tries_first(const struct vl__reactor *r, uint32_t kind)
{
#ifdef __linux__
    return r->file_nowait && (kind == VL_OP_OPENAT || kind == VL_OP_STATX);
#else
    (void)r, (void)kind;
    return false;
#endif
}

/*
 * The kinds that may start from a number's kept registration: the data
 * transfers, which a connection runs over and over on one file. Not the
 * ones that begin a file's use (CONNECT on a socket just made, ACCEPT on a
 * listener), nor those on an fd the reactor makes itself (WAITPID's pidfd),
 * where a number's old registration is the likeliest to belong to another
 * file.
 */
static bool reuse_kind(vl_op_kind k)
{
    switch (k) {
    case VL_OP_READ:
    case VL_OP_WRITE:
    case VL_OP_READV:
    case VL_OP_WRITEV:
    case VL_OP_SEND:
    case VL_OP_RECV:
    case VL_OP_SENDV:
    case VL_OP_SENDMSG:
    case VL_OP_RECVMSG:
    case VL_OP_SENDFILE:
        return true;
    default:
        return false;
    }
}

/* route[kind] for every kind, from the rows, whether an offload is in and
 * whether it holds a CLOSE. */
static void route_init(struct vl__reactor *r)
{
    for (uint32_t k = 0; k < VL_OP_KIND_COUNT_; k++) {
        const struct vl__opdef *d = &op_table[k].def;
        unsigned route = d->park;
        if (d->blocking && r->off != NULL && !tries_first(r, k))
            route |= ROUTE_OFFLOAD;
        if (route != 0 && r->reuse && reuse_kind((vl_op_kind)k))
            route |= ROUTE_REUSE;
        if (r->closes_held != 0 && d->has_fd)
            route |= ROUTE_CLOSING;
        r->route[k] = (uint8_t)route;
    }
}

void vl__reactor_set_offload(struct vl__reactor *r, const struct vl__reactor_offload *off,
                             void *ctx)
{
    r->off = off;
    r->off_ctx = ctx;
    r->file_nowait = false;
    route_init(r);
}

void vl__reactor_set_file_nowait(struct vl__reactor *r, bool on)
{
    r->file_nowait = on;
    r->open_cached = on ? CACHED_MAYBE : CACHED_NO;
    r->nowait_refused[0] = r->nowait_refused[1] = 0;
    route_init(r);
}

/* ---- parking and readiness ------------------------------------------------- */

/*
 * Make the backend watch what f's lists need, and look again at directions
 * in recheck; forget f when its lists are empty. The registration itself
 * stays when f goes: the next op on the fd re-arms it (one MOD) rather than
 * paying a DEL now and an ADD then; its events meanwhile are stale (no
 * entry, or an older tag) and ignored. Interest only grows while f lives:
 * an edge-triggered direction nobody waits on costs a wakeup at most.
 * Returns 0 or the backend's error (f is then untouched).
 */
static int fd_settle(struct vl__reactor *r, struct vl__reactor_fd *f)
{
    unsigned want = fd_wants(f);
    if (want == 0) {
        if (f->armed && r->reuse && f->unproven == 0) {
            /* What the registration left in place is, for the next entry:
             * only a proven one (an arm, or its event finished the last op),
             * so an op that re-uses a dead registration and ends otherwise
             * (a deadline, a cancel) leaves the next op to arm. */
            struct vl__reactor_hint *h = hint_of(r, f->fd);
            h->tag = f->tag;
            h->armed = f->armed;
            h->hup = f->hup;
        }
        fd_drop(r, f);
        return 0;
    }
    if ((want & ~f->armed) == 0 && (want & f->recheck) == 0)
        return 0;
    unsigned watch = want | f->armed;
    uint32_t tag = r->next_tag++;
    int rc = r->be->arm(r->ctx, f->fd, watch, tag);
    if (rc < 0)
        return rc;
    f->armed = (uint8_t)watch;
    f->recheck = 0;
    f->unproven = 0;
    f->tag = tag;
    return 0;
}

/* The stamp of unproven re-uses made at wait count w: never 0. */
static uint8_t uv_stamp(uint32_t w)
{
    return (uint8_t)(0x80u | (w & 0x7fu));
}

/*
 * A new entry f: start from the registration its number kept, if there is
 * one and the op may (fresh: it has just found the fd not ready), with no
 * arm; the record that has it proven later goes on the ring, and with the
 * ring full the entry arms as usual. Either way the hint's registration is
 * taken: f holds the number's registration from now on.
 */
static void fd_adopt(struct vl__reactor *r, struct vl__reactor_fd *f, bool fresh)
{
    struct vl__reactor_hint *h = hint_at(r, f->fd);
    if (h->fd != f->fd || h->armed == 0)
        return;
    if (fresh && r->uv_len <= r->uv_mask) {
        f->armed = h->armed;
        f->tag = h->tag;
        f->hup = h->hup;
        f->unproven = uv_stamp(r->waits);
        r->uv[(r->uv_head + r->uv_len++) & r->uv_mask] = (struct vl__reactor_unproven){
            .fd = f->fd, .tag = h->tag, .wait = r->waits, .at = r->now};
    }
    h->armed = 0;
}

/* The entry an unproven record was made for, if it still waits unproven:
 * its ops did not complete (which drops it) and nothing armed it. */
static struct vl__reactor_fd *uv_entry(struct vl__reactor *r, const struct vl__reactor_unproven *u)
{
    struct vl__reactor_fd *f = fd_find(r, u->fd);
    if (f == NULL || f->tag != u->tag || f->unproven != uv_stamp(u->wait))
        return NULL;
    return f;
}

/*
 * The records go in the order they were made, so the oldest is first: the
 * ones whose entry no longer waits unproven leave at once (the wait is
 * bounded by the first that does), the due ones have their entry armed.
 */
void vl__reactor_prewait(struct vl__reactor *r, bool all)
{
    r->waits++;
    int64_t age = r->idle ? VL__REACTOR_PROVE_IDLE_NS : VL__REACTOR_PROVE_BUSY_NS;
    while (r->uv_len > 0) {
        struct vl__reactor_unproven u = r->uv[r->uv_head];
        struct vl__reactor_fd *f = uv_entry(r, &u);
        if (f != NULL && !all && r->now - u.at < age)
            break;
        r->uv_head = (r->uv_head + 1) & r->uv_mask;
        r->uv_len--;
        if (f == NULL)
            continue;
        f->recheck |= (uint8_t)fd_wants(f);
        int rc = fd_settle(r, f);
        if (rc < 0)
            vl__reactor_fd_failed(r, u.fd, u.tag, rc);
    }
}

/* The fd cannot be polled (-EPERM: a regular file or /dev/null): it is
 * always ready, so the op runs now, on a worker if an offload is installed,
 * else inline, where it may block only as such files do. A multishot op
 * never runs on a worker: it completes as it goes, and a multishot RECV
 * takes buffers from a pool that only the polling thread may touch. It
 * gets here only when it could not run at once (a full completion queue),
 * and it needs no run: every socket can be waited on, so the fd is none, a
 * multishot POLL ends with -EPERM and RECV, RECVMSG and ACCEPT with what
 * their call would say, -ENOTSOCK. */
static void run_always_ready(struct vl__reactor *r, uint32_t i, struct vl__slot *s)
{
    if (vl__op_is_multishot(&s->op)) {
        vl__engine_complete(r->e, i, s->op.kind == VL_OP_POLL ? -EPERM : -ENOTSOCK, 0);
        return;
    }
    if ((rslot(s)->flags & MODE_MASK) == MODE_NOWAIT)
        rslot(s)->flags = (rslot(s)->flags & ~MODE_MASK) | MODE_PLAIN;
    if (r->off != NULL) {
        offload_start(r, i, s);
        return;
    }
    r->inline_run = true;
    int64_t res = op_table[s->op.kind].run(r, i, s, true);
    r->inline_run = false;
    vl__engine_complete(r->e, i, res == PARK || res == STAY ? -EAGAIN : res, 0);
}

/* Put an op that could not finish on its fd's lists for dirs (read, write
 * or both); how: PARK_RECHECK, PARK_FRESH (above). */
static void park(struct vl__reactor *r, uint32_t i, struct vl__slot *s, unsigned dirs, unsigned how)
{
    if (dirs == 0) {
        /* Nothing to wait for would hold the op for ever. */
        vl__engine_complete(r->e, i, -EINVAL, 0);
        return;
    }
    bool made;
    struct vl__reactor_fd *f = fd_get(r, s->op.fd, &made); /* an op that parks has an fd */
    if (made && r->reuse)
        fd_adopt(r, f, (how & PARK_FRESH) && (r->route[s->op.kind] & ROUTE_REUSE));
    if (dirs & VL__REACTOR_READ)
        list_push(r, f, 0, i);
    if (dirs & VL__REACTOR_WRITE)
        list_push(r, f, 1, i);
    if (how & PARK_RECHECK)
        f->recheck |= (uint8_t)dirs;
    int rc = fd_settle(r, f);
    if (rc == 0)
        return;
    lists_unlink(r, f, i);
    if (fd_wants(f) == 0)
        fd_drop(r, f);
    if (rc == -EPERM)
        run_always_ready(r, i, s);
    /* A failed arm leaves f's other direction as it was: any recheck it
     * asked for stays for its next settle. */
    else
        vl__engine_complete(r->e, i, rc, 0);
}

/* What a run said, when it is not a result (PARK ... OFFLOAD): act on it. */
static VL__NOINLINE void run_said(struct vl__reactor *r, uint32_t i, struct vl__slot *s,
                                  int64_t res)
{
    if (res == PARK || res == RECHECK)
        park(r, i, s, r->route[s->op.kind] & WHERE_LISTS,
             res == RECHECK ? PARK_RECHECK : PARK_FRESH);
    else if (res == OFFLOAD)
        offload_start(r, i, s);
}

/* Run a new op once and act on what it said. */
static inline void run_new(struct vl__reactor *r, uint32_t i, struct vl__slot *s)
{
    int64_t res = op_table[s->op.kind].run(r, i, s, false);
    if (VL_UNLIKELY(res <= OFFLOAD))
        run_said(r, i, s, res);
    else
        vl__engine_complete(r->e, i, res, 0);
}

/*
 * A new op that names a number whose CLOSE the offload holds (run_close):
 * its fd, or its second fd (vl__op_fd2: SENDFILE's file, SPLICE's fd_out,
 * RENAMEAT's newdirfd). The number is closed for the caller, so the op
 * completes -EBADF and true; false for any other op. Only while a CLOSE is
 * held (closes_held), and out of line: every kind with an fd has
 * ROUTE_CLOSING then, so submits pay nothing for it otherwise.
 */
static VL__NOINLINE bool held_close_fails(struct vl__reactor *r, uint32_t i, const vl_op *op)
{
    int fd2 = vl__op_fd2(op);
    int fd = vl__op_fd(op);
    if ((fd < 0 || !r->off->closing(r->off_ctx, fd)) &&
        (fd2 < 0 || !r->off->closing(r->off_ctx, fd2)))
        return false;
    vl__engine_complete(r->e, i, -EBADF, 0);
    return true;
}

/*
 * A new op that may park (its route: its row's park directions) or go to
 * the offload. Ops queued behind others on the same fd and direction wait
 * their turn, so two SENDs on a stream are never reordered. Out of line:
 * inlined, its registers cost every submit, also those of ops that never
 * park (callgrind: 5 instructions per NOP).
 */
static VL__NOINLINE void submit_routed(struct vl__reactor *r, uint32_t i, struct vl__slot *s,
                                       unsigned route)
{
    if (VL_UNLIKELY(route & ROUTE_CLOSING)) {
        if (held_close_fails(r, i, &s->op))
            return;
        route &= ~ROUTE_CLOSING;
        if (route == 0) {
            run_new(r, i, s);
            return;
        }
    }
    if (route & ROUTE_OFFLOAD) {
        offload_start(r, i, s);
        return;
    }
    unsigned dirs = route & WHERE_LISTS;
    struct vl__reactor_fd *f = fd_find(r, s->op.fd); /* it parks: it has an fd */
    if (f != NULL && (fd_wants(f) & dirs)) {
        park(r, i, s, dirs, 0);
        return;
    }
    /* A stream its last RECV drained, with no read event since: the read
     * would say EAGAIN, so park at once. */
    if (s->op.kind == VL_OP_RECV && hint_drained(r, s->op.fd)) {
        park(r, i, s, dirs, PARK_FRESH);
        return;
    }
    run_new(r, i, s);
}

void vl__reactor_submit(struct vl__reactor *r, uint32_t i)
{
    struct vl__slot *s = slot_of(r, i);
    unsigned route = r->route[s->op.kind];
    rslot(s)->flags = 0;
    if (route != 0)
        submit_routed(r, i, s, route);
    else
        run_new(r, i, s);
}

int vl__reactor_drv_submit(vl_engine *e, uint32_t slot)
{
    struct vl__reactor *r = *vl__engine_drv(e);
    r->in_submit = true; /* until vl__reactor_drv_submitted */
    vl__reactor_submit(r, slot);
    return 0;
}

void vl__reactor_drv_submitted(vl_engine *e)
{
    struct vl__reactor *r = *vl__engine_drv(e);
    r->in_submit = false;
    vl__sigpipe_batch_end(&r->sigpipe);
}

int vl__reactor_drv_cancel(vl_engine *e, uint32_t slot)
{
    return vl__reactor_cancel(*vl__engine_drv(e), slot);
}

void vl__reactor_park(struct vl__reactor *r, uint32_t i, unsigned dirs)
{
    struct vl__slot *s = slot_of(r, i);
    rslot(s)->flags = 0;
    park(r, i, s, dirs & WHERE_LISTS, 0);
}

/* Act on the result of a parked op that finished (it left its lists). */
static void finish(struct vl__reactor *r, uint32_t i, struct vl__slot *s, int64_t res)
{
    if (res == OFFLOAD)
        offload_start(r, i, s);
    else
        vl__engine_complete(r->e, i, res, 0);
}

/*
 * Run f's parked ops for one direction in order until one meets EAGAIN: the
 * registration is edge-triggered, so stopping earlier with ops still parked
 * must leave the direction in recheck. Only the first op run may count on
 * the notification's readiness (ready): ops that would block without it
 * (F_ONE_PER_WAKE) stop the run after one, and the recheck reports the fd
 * again at once if it is still ready. Returns the op the run stopped at,
 * still parked, or NONE.
 *
 * An op parked for both directions is on both lists, and a notification of
 * both runs it once: when the read run stopped at it (skip), the write run
 * stops there too, with the write direction in recheck, since nobody knows
 * whether writability would have let it finish. An op that finishes leaves
 * both lists.
 */
static uint32_t run_list(struct vl__reactor *r, struct vl__reactor_fd *f, int dir, uint32_t skip)
{
    uint32_t i = f->head[dir];
    bool first = true;
    while (i != NONE) {
        if (i == skip) {
            f->recheck |= (uint8_t)(1u << dir);
            return i;
        }
        struct vl__slot *s = slot_of(r, i);
        int64_t res = op_table[s->op.kind].run(r, i, s, first);
        uint32_t next = rslot(s)->u.link.next[dir];
        if (res == STAY) {
            i = next; /* it stays where it is, and the run goes on */
            continue;
        }
        if (res == PARK)
            return i;
        if (res == RECHECK) {
            f->recheck |= (uint8_t)(1u << dir);
            return i;
        }
        bool one = rslot(s)->flags & F_ONE_PER_WAKE;
        lists_unlink(r, f, i);
        if (fd_wants(f) == 0)
            f->unproven = 0; /* the registration's event finished the fd's last op */
        finish(r, i, s, res);
        if (one) {
            f->recheck |= (uint8_t)(1u << dir);
            return NONE;
        }
        first = false;
        i = next;
    }
    return NONE;
}

void vl__reactor_ready(struct vl__reactor *r, int fd, uint32_t tag, unsigned ready)
{
    r->in_wait = true; /* until vl__reactor_expire */
    if (ready & VL__REACTOR_READ)
        hint_readable(r, fd);
    struct vl__reactor_fd *f = fd_find(r, fd);
    if (f == NULL || f->tag != tag)
        return; /* stale: its ops finished or were cancelled, or an old file's */
    r->ready_seq++;
    if (ready & VL__REACTOR_HUP)
        f->hup = 1; /* for good: a peer that is done stays done */
    uint32_t stopped = NONE;
    if (ready & VL__REACTOR_READ)
        stopped = run_list(r, f, 0, NONE);
    if (ready & VL__REACTOR_WRITE)
        run_list(r, f, 1, stopped);
    int rc = fd_settle(r, f);
    if (rc < 0) {
        fd_flush(r, f, rc);
        fd_drop(r, f);
    }
}

/*
 * What a failed synchronous arm does, for an error the backend learned
 * later (reactor.h): -EPERM (the fd cannot be polled) runs the ops as
 * always ready; another error completes them with it. An error of a
 * registration the reactor has moved on from (an older tag) is ignored.
 */
void vl__reactor_fd_failed(struct vl__reactor *r, int fd, uint32_t tag, int err)
{
    struct vl__reactor_fd *f = fd_find(r, fd);
    if (f == NULL || f->tag != tag)
        return;
    if (err != -EPERM) {
        fd_flush(r, f, err);
        fd_drop(r, f);
        return;
    }
    uint32_t i;
    while ((i = f->head[0] != NONE ? f->head[0] : f->head[1]) != NONE) {
        lists_unlink(r, f, i);
        run_always_ready(r, i, slot_of(r, i));
    }
    fd_drop(r, f);
}

/* ---- ops on no fd ---------------------------------------------------------- */

void vl__reactor_hold(struct vl__reactor *r, uint32_t i)
{
    rslot_of(r, i)->flags = WHERE_HELD;
    dlist_push(r, &r->held_head, &r->held_tail, 0, i);
}

int vl__reactor_hold_done(struct vl__reactor *r, uint32_t i, int64_t result)
{
    struct vl__reactor_slot *rs = rslot_of(r, i);
    if (!(rs->flags & WHERE_HELD))
        return -ENOENT;
    dlist_unlink(r, &r->held_head, &r->held_tail, 0, i);
    rs->flags &= ~WHERE_HELD;
    vl__engine_complete(r->e, i, result, 0);
    return 0;
}

/* ---- cancelling ------------------------------------------------------------ */

/* Take slot i out of wherever the reactor holds it: 0; -ENOENT if it holds
 * it not; -EALREADY if a worker runs it (it stays). */
static int take(struct vl__reactor *r, uint32_t i)
{
    struct vl__slot *s = slot_of(r, i);
    struct vl__reactor_slot *rs = rslot(s);
    unsigned where = rs->flags & WHERE_MASK;
    if (where & WHERE_OFFLOAD) {
        int rc = r->off->cancel(r->off_ctx, i);
        if (rc < 0)
            return rc;
        rs->flags &= ~(WHERE_OFFLOAD | F_WORKER);
        return 0;
    }
    if (where & WHERE_HELD) {
        dlist_unlink(r, &r->held_head, &r->held_tail, 0, i);
        rs->flags &= ~WHERE_HELD;
        if (rs->flags & F_EXIT)
            exit_unwatch(r, i);
        return 0;
    }
    if (where & WHERE_HEAP) {
        vl__timer_heap_remove(&r->timers, i);
        rs->flags &= ~WHERE_HEAP;
    }
    if (where & WHERE_LISTS) {
        struct vl__reactor_fd *f = fd_find(r, s->op.fd); /* parked: has an fd */
        if (f == NULL)
            return -ENOENT;
        lists_unlink(r, f, i);
        pidfd_release(r, s, f);
        if (fd_wants(f) == 0)
            fd_settle(r, f); /* cannot fail: it only drops */
    }
    return where != 0 ? 0 : -ENOENT;
}

int vl__reactor_cancel(struct vl__reactor *r, uint32_t i)
{
    int rc = take(r, i);
    if (rc < 0)
        return rc;
    vl__engine_complete(r->e, i, -ECANCELED, 0);
    return 0;
}

/* ---- timers ---------------------------------------------------------------- */

int64_t vl__reactor_timeout(const struct vl__reactor *r, int64_t timeout_ns)
{
    if (r->off != NULL && r->off->kick != NULL)
        r->off->kick(r->off_ctx);
    uint32_t i;
    /* An unproven entry may wait for a registration its number no longer
     * has: a wait that finds nothing for VL__REACTOR_PROVE_IDLE_NS ends then
     * (vl__reactor_prewait arms them after it). */
    if (r->uv_len > 0 && (timeout_ns < 0 || timeout_ns > VL__REACTOR_PROVE_IDLE_NS))
        timeout_ns = VL__REACTOR_PROVE_IDLE_NS;
    if (timeout_ns == 0 || !vl__timer_heap_peek(&r->timers, &i))
        return timeout_ns;
    int64_t left = (int64_t)vl__engine_slot(r->e, i)->deadline_ns - vl_time_monotonic_ns();
    if (left < 0)
        left = 0;
    return timeout_ns < 0 || left < timeout_ns ? left : timeout_ns;
}

int64_t vl__reactor_next_deadline(const struct vl__reactor *r)
{
    uint32_t i;
    if (!vl__timer_heap_peek(&r->timers, &i))
        return INT64_MAX;
    return (int64_t)vl__engine_slot(r->e, i)->deadline_ns;
}

void vl__reactor_count_wait(struct vl__reactor *r, int64_t timeout_ns, int n)
{
    struct vl__stats *st = vl__engine_stats(r->e);
    if (r->uv != NULL) {
        r->now = vl_time_monotonic_ns(); /* the age of unproven re-uses */
        r->idle = n == 0 && timeout_ns >= VL__REACTOR_PROVE_IDLE_NS;
    }
    if (timeout_ns != 0)
        st->kernel_waits++;
    else
        st->kernel_nowait++;
    st->kernel_completions += n > 0 ? (uint64_t)n : 0;
}

void vl__reactor_expire(struct vl__reactor *r)
{
    uint32_t i;
    /* No TIMEOUT waiting (a server's common case): no clock read. */
    int64_t now = r->timers.n > 0 ? vl_time_monotonic_ns() : INT64_MIN;
    while (vl__timer_heap_peek(&r->timers, &i) && (int64_t)slot_of(r, i)->deadline_ns <= now) {
        vl__timer_heap_remove(&r->timers, i);
        rslot_of(r, i)->flags &= ~WHERE_HEAP;
        vl__engine_complete(r->e, i, 0, 0);
    }
    r->in_wait = false;
    vl__sigpipe_batch_end(&r->sigpipe);
}

/* ---- setup ----------------------------------------------------------------- */

#define UV_CAP 8192u /* records of unproven re-uses at most (a power of two) */

int vl__reactor_init(struct vl__reactor *r, vl_engine *e, uint32_t max_inflight,
                     const struct vl__reactor_backend *be, void *ctx)
{
    uint32_t cap = 2;
    while (cap < 2 * (uint64_t)max_inflight)
        cap <<= 1;
    *r = (struct vl__reactor){.e = e,
                              .be = be,
                              .ctx = ctx,
                              .mask = cap - 1,
                              .held_head = NONE,
                              .held_tail = NONE,
                              .reuse = be->reuse};
    route_init(r);
    r->tab = malloc((size_t)cap * sizeof(*r->tab));
    r->hints = malloc((size_t)cap * sizeof(*r->hints));
    if (be->reuse) {
        /* Room for the unproven re-uses of a busy server's waits: more
         * arm instead (fd_adopt). */
        r->uv_mask = (cap < UV_CAP ? cap : UV_CAP) - 1;
        r->uv = malloc((size_t)(r->uv_mask + 1) * sizeof(*r->uv));
        r->now = vl_time_monotonic_ns();
    }
    if (r->tab == NULL || r->hints == NULL || (be->reuse && r->uv == NULL)) {
        vl__reactor_fini(r);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < cap; i++) {
        r->tab[i].fd = -1;
        r->hints[i] = (struct vl__reactor_hint){.fd = -1};
    }
    int rc = vl__timer_heap_init(&r->timers, e, max_inflight);
    if (rc < 0)
        vl__reactor_fini(r);
    return rc;
}

int vl__reactor_drv_init(vl_engine *e, const vl_engine_config *cfg,
                         const struct vl__reactor_driver *rd, char *reason, size_t len)
{
    struct vl__reactor *r = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : calloc(1, rd->size);
    if (r == NULL)
        return -ENOMEM;
    int rc = vl__reactor_init(r, e, cfg->max_inflight, rd->be, r);
    if (rc == 0) {
        rc = rd->open(r);
        if (rc == 0)
            rc = vl__workers_create(e, r, cfg->workers ? cfg->workers : vl__workers_default(),
                                    &r->pool);
        if (rc < 0) {
            rd->close(r);
            vl__reactor_fini(r);
        }
    }
    if (rc < 0) {
        snprintf(reason, len, "%s setup: %s", rd->name, strerror(-rc));
        free(r);
        return rc;
    }
    r->remember = (cfg->flags & VL_ENGINE_REMEMBER_FDS) != 0;
    r->reuse = r->reuse && r->remember;
    vl__reactor_set_offload(r, &vl__workers_offload, r->pool); /* routes by reuse */
    vl__reactor_set_file_nowait(r, !(cfg->flags & VL_ENGINE_FILES_ON_POOL));
    *vl__engine_drv(e) = r;
    return 0;
}

void vl__reactor_drv_fini(vl_engine *e, const struct vl__reactor_driver *rd)
{
    struct vl__reactor *r = *vl__engine_drv(e);
    vl__workers_destroy(r->pool);
    rd->close(r);
    vl__reactor_fini(r);
    free(r);
    *vl__engine_drv(e) = NULL;
}

void vl__reactor_fini(struct vl__reactor *r)
{
    vl__timer_heap_fini(&r->timers);
    free(r->tab);
    free(r->hints);
    free(r->uv);
    r->tab = NULL;
    r->hints = NULL;
    r->uv = NULL;
}
