/*
 * src/drivers/sync.c - the sync driver: the seed's "async compiles to
 * blocking execution", for targets with no readiness or completion
 * mechanism (the embedded runtime) and as the simplest reference for what a
 * driver must report.
 *
 * Every op runs to completion inside submit, with a blocking system call,
 * and its completion waits in the core's queue for poll. Nothing is ever in
 * flight in the driver, which shapes the rest:
 *   - an op on a non-blocking fd that answers EAGAIN (or a connect that
 *     answers EINPROGRESS) is waited for with ppoll on that one fd and
 *     retried, so the op still completes with the kernel's real result;
 *   - TIMEOUT sleeps (clock_nanosleep, absolute) until the deadline the core
 *     fixed at submit, so it never fires early;
 *   - CANCEL can never find its target running: the core resolves it first
 *     (-ENOENT for an op that already completed, -EALREADY for a second
 *     CANCEL), and cancel() has nothing to do;
 *   - wait only sleeps until the timeout or a wake (a futex word), because no
 *     completion can arrive by itself; a wake cannot interrupt an op that is
 *     blocked in the kernel, only the wait between ops;
 *   - multishot ops (RECV, ACCEPT, POLL, RECVMSG with VL_OP_F_MULTISHOT) would never
 *     return from submit while the peer stays connected, so they complete
 *     -EOPNOTSUPP; a one-shot POLL is one blocking ppoll.
 * The price: an op that waits for a peer the same thread drives (a RECV
 * before the matching SEND is submitted) blocks for ever. Programs on this
 * driver order their ops the way blocking code would.
 *
 * The driver calls the kernel only through the sys layer's raw system calls
 * and allocates its state with vl_os_alloc, so it needs no libc and, in the
 * embedded runtime, draws its one page from the stack arena.
 */
#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/wait.h>

#include <vllsi/sys/linux.h>
#include <vllsi/sys/mem.h>
#include <vllsi/sys/time.h>

#include "driver.h"
#include "statx.h"

/* Signal numbers and sigprocmask's `how`: the same on x86-64 and aarch64. */
#define SIG_BLOCK_HOW      0
#define SIG_SETMASK_HOW    2
#define SIGPIPE_NUM        13
/* The clock ids and flag of clock_nanosleep(2) (kernel ABI values). */
#define CLOCK_MONOTONIC_ID 1
#define TIMER_ABSTIME_FLAG 1
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100 /* Linux 6.18: this write raises no SIGPIPE */
#endif

struct sync_drv {
    uint32_t wake_pending; /* futex word: 1 after vl_engine_wake, until taken */
    int nosignal_known;    /* 0 once the kernel refused RWF_NOSIGNAL          */
};

static struct sync_drv *drv_of(vl_engine *e)
{
    return *vl__engine_drv(e);
}

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    return vl_syscall6(n, a, b, c, d, e, f);
}

/* ---- blocking helpers -------------------------------------------------------- */

/* Block until fd is ready for events (POLLIN / POLLOUT); 0 or -errno. Errors
 * and hangups count as ready: the retried op then reports them. */
static long wait_fd(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    long r;
    do
        r = sys6(__NR_ppoll, (long)&p, 1, 0, 0, 0, 0);
    while (r == -EINTR);
    if (r >= 0 && (p.revents & POLLNVAL))
        return -EBADF;
    return r < 0 ? r : 0;
}

/* Run a call until it stops answering EINTR, and (non-blocking fds) until it
 * stops answering EAGAIN, waiting for `events` in between. */
#define RETRY(call, fd, events)           \
    ({                                    \
        long r_;                          \
        for (;;) {                        \
            r_ = (call);                  \
            if (r_ == -EINTR)             \
                continue;                 \
            if (r_ != -EAGAIN)            \
                break;                    \
            r_ = wait_fd((fd), (events)); \
            if (r_ < 0)                   \
                break;                    \
        }                                 \
        r_;                               \
    })

/* ---- the ops ------------------------------------------------------------------- */

static long do_read(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int fd = op->fd;
    long buf = (long)op->u.rw.buf, len = (long)op->u.rw.len;
    if (op->u.rw.offset < 0)
        return RETRY(sys6(__NR_read, fd, buf, len, 0, 0, 0), fd, POLLIN);
    return RETRY(sys6(__NR_pread64, fd, buf, len, op->u.rw.offset, 0, 0), fd, POLLIN);
}

/* READV: readv at the position, preadv at an offset (64-bit kernels take
 * the whole position in the low word). */
static long do_readv(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int fd = op->fd;
    long iov = (long)op->u.rwv.iov, cnt = (long)op->u.rwv.iovcnt;
    if (op->u.rwv.offset < 0)
        return RETRY(sys6(__NR_readv, fd, iov, cnt, 0, 0, 0), fd, POLLIN);
    return RETRY(sys6(__NR_preadv, fd, iov, cnt, op->u.rwv.offset, 0, 0), fd, POLLIN);
}

/* WRITEV's pwritev2 (vl_iovec is struct iovec's layout), with pwrite2's
 * fallback where the kernel lacks it: writev or pwritev. */
static long pwritev2_list(const vl_op *op, int flags)
{
    int fd = op->fd;
    long iov = (long)op->u.rwv.iov, cnt = (long)op->u.rwv.iovcnt;
    long r = RETRY(sys6(__NR_pwritev2, fd, iov, cnt, op->u.rwv.offset, 0, flags), fd, POLLOUT);
    if (r != -ENOSYS)
        return r;
    if (flags != 0)
        return -EOPNOTSUPP;
    if (op->u.rwv.offset < 0)
        return RETRY(sys6(__NR_writev, fd, iov, cnt, 0, 0, 0), fd, POLLOUT);
    return RETRY(sys6(__NR_pwritev, fd, iov, cnt, op->u.rwv.offset, 0, 0), fd, POLLOUT);
}

/* pwritev2 takes offset -1 as "the current position", like the op. A kernel
 * without it (before 4.6, and qemu-user 7.2) answers -ENOSYS: flags then
 * cannot be honoured (-EOPNOTSUPP, as glibc says), and without flags a plain
 * write or pwrite does the same. */
static long pwrite2(const vl_op *op, int flags)
{
    int fd = op->fd;
    if (op->kind == VL_OP_WRITEV)
        return pwritev2_list(op, flags);
    struct iovec iov = {(void *)op->u.rw.buf, op->u.rw.len};
    long r = RETRY(sys6(__NR_pwritev2, fd, (long)&iov, 1, op->u.rw.offset, 0, flags), fd, POLLOUT);
    if (r != -ENOSYS)
        return r;
    if (flags != 0)
        return -EOPNOTSUPP;
    long buf = (long)op->u.rw.buf, len = (long)op->u.rw.len;
    if (op->u.rw.offset < 0)
        return RETRY(sys6(__NR_write, fd, buf, len, 0, 0, 0), fd, POLLOUT);
    return RETRY(sys6(__NR_pwrite64, fd, buf, len, op->u.rw.offset, 0, 0), fd, POLLOUT);
}

/*
 * A write to a pipe or socket with no reader raises SIGPIPE, whose default
 * action kills the process. Block it around the write and, when the write
 * failed with EPIPE, take the signal it raised, unless one was pending
 * before (then it merged with ours and is the program's to handle).
 */
static long write_masked(const vl_op *op)
{
    uint64_t pipe_set = 1ull << (SIGPIPE_NUM - 1), old = 0, pending = 0;
    sys6(__NR_rt_sigprocmask, SIG_BLOCK_HOW, (long)&pipe_set, (long)&old, 8, 0, 0);
    bool was_pending = (old & pipe_set) &&
                       sys6(__NR_rt_sigpending, (long)&pending, 8, 0, 0, 0, 0) == 0 &&
                       (pending & pipe_set);
    long r = pwrite2(op, 0);
    if (r == -EPIPE && !was_pending) {
        vl_timespec zero = {0, 0};
        while (sys6(__NR_rt_sigtimedwait, (long)&pipe_set, 0, (long)&zero, 8, 0, 0) == -EINTR)
            ;
    }
    sys6(__NR_rt_sigprocmask, SIG_SETMASK_HOW, (long)&old, 0, 8, 0, 0);
    return r;
}

/* One pwritev2(RWF_NOSIGNAL) where the kernel knows the flag (6.18+); the
 * masked write otherwise, remembered once the kernel refused the flag. */
static long do_write(struct sync_drv *d, const struct vl__slot *s)
{
    const vl_op *op = &s->op;
    if (__atomic_load_n(&d->nosignal_known, __ATOMIC_RELAXED)) {
        long r = pwrite2(op, RWF_NOSIGNAL);
        if (r != -EOPNOTSUPP && r != -EINVAL)
            return r;
        r = write_masked(op);
        if (r != -EOPNOTSUPP && r != -EINVAL)
            __atomic_store_n(&d->nosignal_known, 0, __ATOMIC_RELAXED);
        return r;
    }
    return write_masked(op);
}

static long do_send(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int fd = op->fd;
    return RETRY(sys6(__NR_sendto, fd, (long)op->u.msg.buf, (long)op->u.msg.len,
                      op->u.msg.flags | MSG_NOSIGNAL, 0, 0),
                 fd, POLLOUT);
}

/* vl_iovec is laid out as struct iovec (tests/test_common.c checks it). */
static long do_sendv(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int fd = op->fd;
    struct msghdr m = {0};
    m.msg_iov = (struct iovec *)(uintptr_t)op->u.vec.iov;
    m.msg_iovlen = op->u.vec.iovcnt;
    return RETRY(sys6(__NR_sendmsg, fd, (long)&m, op->u.vec.flags | MSG_NOSIGNAL, 0, 0, 0), fd,
                 POLLOUT);
}

/* Multishot ops would never return from submit while the peer stays
 * connected: not supported here (see the top of this file). */
static long do_recv(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    if (vl__op_is_multishot(op))
        return -EOPNOTSUPP;
    int fd = op->fd;
    return RETRY(
        sys6(__NR_recvfrom, fd, (long)op->u.msg.buf, (long)op->u.msg.len, op->u.msg.flags, 0, 0),
        fd, POLLIN);
}

static long do_accept(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    if (vl__op_is_multishot(op))
        return -EOPNOTSUPP;
    int fd = op->fd;
    long flags = SOCK_CLOEXEC | ((op->u.accept.flags & VL_SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0);
    return RETRY(
        sys6(__NR_accept4, fd, (long)op->u.accept.addr, (long)op->u.accept.addrlen, flags, 0, 0),
        fd, POLLIN);
}

/*
 * A connect that the kernel continues in the background (EINPROGRESS on a
 * non-blocking socket; EINTR on a blocking one, after which a second connect
 * would say EALREADY) is finished by waiting for writability and reading
 * SO_ERROR, which is the connection's result.
 */
static long do_connect(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int fd = op->fd;
    long r = sys6(__NR_connect, fd, (long)op->u.connect.addr, op->u.connect.addrlen, 0, 0, 0);
    if (r != -EINPROGRESS && r != -EINTR)
        return r;
    r = wait_fd(fd, POLLOUT);
    if (r < 0)
        return r;
    int err = 0;
    socklen_t len = sizeof(err);
    r = sys6(__NR_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err, (long)&len, 0);
    return r < 0 ? r : -err;
}

/* Linux releases the fd even when close reports EINTR: that is success. */
static long do_close(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    long r = sys6(__NR_close, op->fd, 0, 0, 0, 0, 0);
    return r == -EINTR ? 0 : r;
}

/* Sleep until the deadline the core fixed at submit (absolute, so a signal
 * only shortens one round, never the total). */
static long do_timeout(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    vl_timespec ts = vl_ns_to_timespec((int64_t)s->deadline_ns);
    long r;
    do
        r = sys6(__NR_clock_nanosleep, CLOCK_MONOTONIC_ID, TIMER_ABSTIME_FLAG, (long)&ts, 0, 0, 0);
    while (r == -EINTR);
    return r;
}

static long do_nop(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d, (void)s;
    return 0;
}

/* WRITEV takes WRITE's path (pwrite2 sends it to pwritev2_list), SIGPIPE
 * handling included. */
#define do_writev do_write

/* FSYNC: fsync(2) or fdatasync(2), blocking as every op here. */
static long do_fsync(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    long nr = (s->op.u.fsync.flags & VL_FSYNC_DATASYNC) ? __NR_fdatasync : __NR_fsync;
    long r;
    do
        r = sys6(nr, s->op.fd, 0, 0, 0, 0, 0);
    while (r == -EINTR);
    return r;
}

/*
 * The head of the kernel's siginfo for SIGCHLD on the 64-bit hosts this
 * driver builds for (x86-64, aarch64): si_code at 8, the union at 16, which
 * holds the child's pid, uid and status; 128 bytes in all.
 */
struct child_info {
    int32_t signo, err, code, pad_;
    int32_t pid, uid, status;
    int32_t rest_[25];
};
_Static_assert(sizeof(struct child_info) == 128, "the kernel's siginfo is 128 bytes");
#define CLD_EXITED_CODE 1

/* WAITPID: one blocking waitid(P_PID, WEXITED), which reaps the child;
 * the result encodes its status as <vllsi/engine.h> says. */
static long do_waitpid(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    struct child_info si = {0};
    long r;
    do
        r = sys6(__NR_waitid, P_PID, s->op.u.waitpid.pid, (long)&si, WEXITED, 0, 0);
    while (r == -EINTR);
    if (r < 0)
        return r;
    if (si.code == CLD_EXITED_CODE)
        return si.status & 0xff;
    return VL_CHILD_SIGNALED | (si.status & 0xff);
}

/* SIGPIPE blocked around a call that cannot take MSG_NOSIGNAL (sendfile,
 * splice), as write_masked does: the old mask, and whether one was pending. */
static uint64_t sigpipe_hold(bool *was_pending)
{
    uint64_t pipe_set = 1ull << (SIGPIPE_NUM - 1), old = 0, pending = 0;
    sys6(__NR_rt_sigprocmask, SIG_BLOCK_HOW, (long)&pipe_set, (long)&old, 8, 0, 0);
    *was_pending = (old & pipe_set) &&
                   sys6(__NR_rt_sigpending, (long)&pending, 8, 0, 0, 0, 0) == 0 &&
                   (pending & pipe_set);
    return old;
}

static void sigpipe_release(uint64_t old, bool was_pending, long r)
{
    uint64_t pipe_set = 1ull << (SIGPIPE_NUM - 1);
    if (r == -EPIPE && !was_pending) {
        vl_timespec zero = {0, 0};
        while (sys6(__NR_rt_sigtimedwait, (long)&pipe_set, 0, (long)&zero, 8, 0, 0) == -EINTR)
            ;
    }
    sys6(__NR_rt_sigprocmask, SIG_SETMASK_HOW, (long)&old, 0, 8, 0, 0);
}

/*
 * SENDFILE: sendfile(2) until count bytes are sent or the file ends (a
 * non-blocking socket waited for with ppoll), SIGPIPE held. An error after
 * some bytes went out reports the bytes, as a short transfer.
 */
static long do_sendfile(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int64_t off = op->u.sendfile.offset;
    size_t done = 0;
    bool was_pending;
    uint64_t old = sigpipe_hold(&was_pending);
    long r = 0;
    while (done < op->u.sendfile.count) {
        r = RETRY(sys6(__NR_sendfile, op->fd, op->u.sendfile.file_fd, off >= 0 ? (long)&off : 0,
                       (long)(op->u.sendfile.count - done), 0, 0),
                  op->fd, POLLOUT);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    sigpipe_release(old, was_pending, r);
    return done > 0 ? (long)done : r;
}

/* SPLICE: one splice(2); EAGAIN (a non-blocking pipe or socket) waits for
 * fd_in to be readable and fd_out writable, then tries again. */
static long do_splice(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int64_t oin = op->u.splice.off_in, oout = op->u.splice.off_out;
    bool was_pending;
    uint64_t old = sigpipe_hold(&was_pending);
    long r;
    for (;;) {
        r = sys6(__NR_splice, op->fd, oin >= 0 ? (long)&oin : 0, op->u.splice.fd_out,
                 oout >= 0 ? (long)&oout : 0, (long)op->u.splice.len, op->u.splice.flags);
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN)
            break;
        if ((r = wait_fd(op->fd, POLLIN)) < 0 || (r = wait_fd(op->u.splice.fd_out, POLLOUT)) < 0)
            break;
    }
    sigpipe_release(old, was_pending, r);
    return r;
}

/* SENDMSG: the caller's msghdr, with MSG_NOSIGNAL as SEND. */
static long do_sendmsg(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int fd = op->fd;
    return RETRY(sys6(__NR_sendmsg, fd, (long)op->u.mh.msg, op->u.mh.flags | MSG_NOSIGNAL, 0, 0, 0),
                 fd, POLLOUT);
}

/* RECVMSG into the caller's msghdr; multishot as every multishot op. */
static long do_recvmsg(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    if (vl__op_is_multishot(op))
        return -EOPNOTSUPP;
    int fd = op->fd;
    return RETRY(sys6(__NR_recvmsg, fd, (long)op->u.mh.msg, op->u.mh.flags, 0, 0, 0), fd, POLLIN);
}

/* shutdown(2) never blocks. */
static long do_shutdown(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    return sys6(__NR_shutdown, s->op.fd, s->op.u.shutdown.how, 0, 0, 0, 0);
}

/* ---- files and paths: the system calls, which block as long as they take */

#ifndef __NR_openat2
#define __NR_openat2 437 /* the same number on every architecture */
#endif

/* With resolve flags: openat2(2) (5.6+); a kernel without it is
 * -EOPNOTSUPP, never an open without the check. */
static long do_openat(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    if (op->u.openat.resolve != 0) {
        uint64_t how[3] = {(uint64_t)(uint32_t)(op->u.openat.flags | O_CLOEXEC), op->u.openat.mode,
                           op->u.openat.resolve};
        long r = sys6(__NR_openat2, op->fd, (long)op->u.openat.path, (long)how, sizeof(how), 0, 0);
        return r == -ENOSYS ? -EOPNOTSUPP : r;
    }
    return sys6(__NR_openat, op->fd, (long)op->u.openat.path, op->u.openat.flags | O_CLOEXEC,
                op->u.openat.mode, 0, 0);
}

static long do_statx(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    struct statx k;
    long r = sys6(__NR_statx, op->fd, (long)op->u.statx.path, op->u.statx.flags, VL__STATX_WANT,
                  (long)&k, 0);
    if (r == 0)
        vl__statx_from_linux(op->u.statx.buf, &k);
    return r;
}

static long do_ftruncate(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    return sys6(__NR_ftruncate, s->op.fd, (long)s->op.u.ftruncate.length, 0, 0, 0, 0);
}

static long do_unlinkat(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    return sys6(__NR_unlinkat, op->fd, (long)op->u.unlinkat.path, op->u.unlinkat.flags, 0, 0, 0);
}

/* renameat2 with no flags: every architecture has it (aarch64 has no
 * renameat). */
static long do_renameat(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    return sys6(__NR_renameat2, op->fd, (long)op->u.renameat.oldpath, op->u.renameat.newdirfd,
                (long)op->u.renameat.newpath, 0, 0);
}

static long do_mkdirat(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    return sys6(__NR_mkdirat, op->fd, (long)op->u.mkdirat.path, op->u.mkdirat.mode, 0, 0, 0);
}

/* POLL: one blocking ppoll of the fd; the mask it reports, with ERR and
 * HUP as it always reports them. A negative fd, which ppoll would skip and
 * wait on for ever, is -EBADF, as POLLNVAL is. */
static long do_poll(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    if (vl__op_is_multishot(op))
        return -EOPNOTSUPP;
    if (op->fd < 0)
        return -EBADF;
    struct pollfd p = {op->fd, (short)op->u.poll.events, 0};
    long r;
    do
        r = sys6(__NR_ppoll, (long)&p, 1, 0, 0, 0, 0);
    while (r == -EINTR);
    if (r < 0)
        return r;
    if (p.revents & POLLNVAL)
        return -EBADF;
    return (unsigned short)p.revents & (op->u.poll.events | VL_POLL_ERR | VL_POLL_HUP);
}

/* socket(2), bind(2), listen(2): none blocks. */
static long do_socket(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    const vl_op *op = &s->op;
    int type = op->u.socket.type | SOCK_CLOEXEC;
    if (op->u.socket.flags & VL_SOCK_NONBLOCK)
        type |= SOCK_NONBLOCK;
    return sys6(__NR_socket, op->u.socket.domain, type, op->u.socket.protocol, 0, 0, 0);
}

static long do_bind(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    return sys6(__NR_bind, s->op.fd, (long)s->op.u.bind.addr, s->op.u.bind.addrlen, 0, 0, 0);
}

static long do_listen(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d;
    return sys6(__NR_listen, s->op.fd, s->op.u.listen.backlog, 0, 0, 0, 0);
}

/* Only reached if the core let one through: its target, having run to
 * completion inside its own submit, is not there to cancel. */
static long do_cancel(struct sync_drv *d, const struct vl__slot *s)
{
    (void)d, (void)s;
    return -ENOENT;
}

/* Run s's op: do_<name> for each X(NAME, name) of the list in
 * <vllsi/op_kinds.h> (a kind without one does not compile). */
static long run(struct sync_drv *d, const struct vl__slot *s)
{
    switch (s->op.kind) {
#define RUN_CASE(NAME, name) \
    case VL_OP_##NAME:       \
        return do_##name(d, s);
        VL_OP_KINDS(RUN_CASE)
#undef RUN_CASE
    case VL_OP_KIND_COUNT_:
        break;
    }
    return -EINVAL; /* never: the core validated the kind */
}

/* ---- the driver ---------------------------------------------------------------- */

static int sync_init(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    (void)cfg;
    int err = 0;
    struct sync_drv *d = vl_os_alloc(sizeof(*d), &err);
    if (d == NULL) {
        static const char msg[] = "sync: no memory for the driver state";
        size_t n = len == 0 ? 0 : (len - 1 < sizeof(msg) - 1 ? len - 1 : sizeof(msg) - 1);
        for (size_t i = 0; i < n; i++)
            reason[i] = msg[i];
        if (len > 0)
            reason[n] = '\0';
        return err < 0 ? err : -ENOMEM;
    }
    d->wake_pending = 0;
    d->nosignal_known = 1;
    *vl__engine_drv(e) = d;
    return 0;
}

static void sync_fini(vl_engine *e)
{
    (void)vl_os_free(drv_of(e), sizeof(struct sync_drv));
    *vl__engine_drv(e) = NULL;
}

static int sync_submit(vl_engine *e, uint32_t slot)
{
    struct vl__slot *s = vl__engine_slot(e, slot);
    vl__engine_complete(e, slot, run(drv_of(e), s), 0);
    return 0;
}

/* Nothing is ever held: every op completed inside its submit. */
static int sync_cancel(vl_engine *e, uint32_t slot)
{
    (void)e;
    (void)slot;
    return -ENOENT;
}

static int sync_wake(vl_engine *e)
{
    struct sync_drv *d = drv_of(e);
    __atomic_store_n(&d->wake_pending, 1, __ATOMIC_RELEASE);
    int r = vl_sys_futex_wake(&d->wake_pending, 1);
    return r < 0 ? r : 0;
}

/* Take a pending wake, telling the core; true if there was one. */
static bool take_wake(vl_engine *e, struct sync_drv *d)
{
    if (!__atomic_exchange_n(&d->wake_pending, 0, __ATOMIC_ACQUIRE))
        return false;
    vl__engine_note_wake(e);
    return true;
}

/* Sleep up to timeout_ns (< 0 forever) or until a wake. -EINTR after a
 * signal, as the contract asks; 0 otherwise. */
static int sync_wait(vl_engine *e, int64_t timeout_ns)
{
    struct sync_drv *d = drv_of(e);
    if (take_wake(e, d) || timeout_ns == 0)
        return 0;
    int64_t deadline = timeout_ns < 0 ? -1 : vl__time_sat_add(vl_time_monotonic_ns(), timeout_ns);
    for (;;) {
        vl_timespec rel, *tp = NULL;
        if (deadline >= 0) {
            int64_t left = deadline - vl_time_monotonic_ns();
            if (left <= 0)
                return 0;
            rel = vl_ns_to_timespec(left);
            tp = &rel;
        }
        struct vl__stats *st = vl__engine_stats(e);
        st->kernel_waits++; /* for vl_engine_stats: each futex wait */
        int r = vl_sys_futex_wait(&d->wake_pending, 0, tp);
        if (take_wake(e, d))
            return 0;
        if (r == -EINTR)
            return r;
    }
}

const struct vl_driver vl__driver_sync = {
    .name = "sync",
    .kind = VL_DRIVER_SYNC,
    .runs_to_completion = true,
    .init = sync_init,
    .fini = sync_fini,
    .submit = sync_submit,
    .cancel = sync_cancel,
    .wait = sync_wait,
    .wake = sync_wake,
};
