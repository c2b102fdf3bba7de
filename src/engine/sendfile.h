/*
 * src/engine/sendfile.h - the system calls behind SENDFILE, SPLICE and
 * OPENAT's resolve flags, shared by the POSIX drivers that make them in
 * user space (the readiness core, and the io_uring driver for SENDFILE).
 *
 * Each call here is one attempt that never blocks the thread on a socket
 * and never lets SIGPIPE reach its default action:
 *  - sendfile(2) and splice(2) have no per-call non-blocking flag for a
 *    socket (SPLICE_F_NONBLOCK covers only the pipe side), so a socket the
 *    caller left blocking is made non-blocking for the call and its flags
 *    restored right after it, as the readiness core's CONNECT does (another
 *    thread using the same socket in that window would see O_NONBLOCK); a
 *    socket the engine made non-blocking itself skips that check;
 *  - neither takes MSG_NOSIGNAL, so SIGPIPE is blocked around the call and,
 *    after EPIPE, the signal it raised is taken, unless one was pending
 *    before (then it merged with ours and is the program's); a driver
 *    running a batch of them with nothing of the caller's in between holds
 *    it once for the batch (struct vl__sigpipe_batch).
 */
#ifndef VLLSI_ENGINE_SENDFILE_H
#define VLLSI_ENGINE_SENDFILE_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#include <sys/syscall.h>
#else
#include <sys/uio.h>
#endif

#include <vllsi/engine.h>

#include "sigpipe.h"

/* vl__nonblock_begin's answer for an fd that was non-blocking already. */
#define VL__NB_KEPT INT32_MIN

/* O_NONBLOCK added to fd's status flags for one call: the flags to give
 * back to vl__nonblock_end (>= 0), VL__NB_KEPT (nothing to restore), or
 * -errno (-4095..-1). */
static inline int vl__nonblock_begin(int fd)
{
    if (fd < 0)
        return VL__NB_KEPT; /* known non-blocking (vl__sendfile_held) */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK)
        return VL__NB_KEPT;
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return fl;
}

static inline void vl__nonblock_end(int fd, int fl)
{
    if (fl >= 0 && fd >= 0)
        fcntl(fd, F_SETFL, fl);
}

/*
 * One sendfile of up to count bytes of in (from offset, or its position for
 * -1) to out: the bytes sent, 0 at the file's end, or -errno (-EAGAIN: out
 * is full). Linux: sendfile(2), which leaves the file's position alone when
 * given an offset and moves it when not. macOS and FreeBSD: their
 * sendfile(2), which always takes an offset and reads count 0 as "to the
 * end of the file", so count 0 is 0 without a call and the position for
 * -1 is read and moved with lseek. A partial send that then met EAGAIN
 * counts its bytes (both report them beside the error). nb (or NULL):
 * true when out is known to be non-blocking, so its flags are not asked (no
 * fcntl); else set to true when asking them found it so.
 * vl__sendfile_held is the same call for a caller that holds SIGPIPE
 * already (struct vl__sigpipe_batch, which it then tells of the result).
 */
static inline int64_t vl__sendfile_held(int out, int in, int64_t offset, size_t count, bool *nb)
{
    int fl = vl__nonblock_begin(nb != NULL && *nb ? -1 : out);
    if (nb != NULL && fl == VL__NB_KEPT)
        *nb = true;
    if (fl < 0 && fl != VL__NB_KEPT)
        return fl;
    int64_t res;
#ifdef __linux__
    off_t off = (off_t)offset;
    ssize_t n = sendfile(out, in, offset >= 0 ? &off : NULL, count);
    res = n >= 0 ? (int64_t)n : -(int64_t)errno;
#else
    off_t start = (off_t)offset;
    if (offset < 0)
        start = lseek(in, 0, SEEK_CUR);
    if (count == 0 || start < 0) {
        res = count == 0 ? 0 : -(int64_t)errno;
    } else {
#ifdef __APPLE__
        off_t len = (off_t)count;
        int rc = sendfile(in, out, start, &len, NULL, 0);
        off_t sent = len;
#else
        off_t sent = 0;
        int rc = sendfile(in, out, start, count, NULL, &sent, 0);
#endif
        res = rc == 0 || ((errno == EAGAIN || errno == EINTR) && sent > 0) ? (int64_t)sent
                                                                           : -(int64_t)errno;
        if (res > 0 && offset < 0)
            lseek(in, start + (off_t)res, SEEK_SET);
    }
#endif
    vl__nonblock_end(out, fl);
    return res;
}

static inline int64_t vl__sendfile_once(int out, int in, int64_t offset, size_t count, bool *nb)
{
    struct vl__sigpipe_hold h;
    vl__sigpipe_hold(&h);
    int64_t res = vl__sendfile_held(out, in, offset, count, nb);
    vl__sigpipe_release(&h, res);
    return res;
}

#ifdef __linux__
/*
 * One splice of up to len bytes from in to out with SPLICE_F_NONBLOCK (the
 * pipe side), a blocking socket on the other side made non-blocking for the
 * call (sock: that side's fd, or -1 when there is none or it is known to be
 * non-blocking), for a caller that holds SIGPIPE (struct
 * vl__sigpipe_batch, or vl__sigpipe_hold): the bytes, 0 at the end, or
 * -errno (-EAGAIN: the pipe side is empty or full).
 */
static inline int64_t vl__splice_held(const vl_op *op, int sock)
{
    int fl = vl__nonblock_begin(sock);
    if (fl < 0 && fl != VL__NB_KEPT)
        return fl;
    loff_t oin = op->u.splice.off_in, oout = op->u.splice.off_out;
    ssize_t n =
        splice(op->fd, oin >= 0 ? &oin : NULL, op->u.splice.fd_out, oout >= 0 ? &oout : NULL,
               op->u.splice.len, op->u.splice.flags | SPLICE_F_NONBLOCK);
    int64_t res = n >= 0 ? (int64_t)n : -(int64_t)errno;
    vl__nonblock_end(sock, fl);
    return res;
}

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same number on every architecture */
#endif

/* openat2(2) (Linux 5.6+) with O_CLOEXEC added: the fd or -errno; a
 * kernel without the call (ENOSYS) is -EOPNOTSUPP, since opening without
 * the resolve check would be what the caller asked not to happen. */
static inline int64_t vl__openat2(int dirfd, const char *path, int flags, uint32_t mode,
                                  uint64_t resolve)
{
    struct {
        uint64_t flags, mode, resolve;
    } how = {(uint64_t)(uint32_t)(flags | O_CLOEXEC), mode, resolve};
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd >= 0)
        return fd;
    return errno == ENOSYS ? -EOPNOTSUPP : -(int64_t)errno;
}
#endif

#endif
