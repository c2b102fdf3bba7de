/*
 * Op constructors. (Each kind's submit check is vl__check_<name> in
 * opdef.h, inline on the submit fast path.)
 */
#ifdef __linux__
#define _GNU_SOURCE /* POLLRDHUP; O_DIRECT, O_PATH, O_TMPFILE; statx */
#include <poll.h>
#include <sys/stat.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#ifndef _WIN32
#include <sys/socket.h> /* Windows: <vllsi/engine.h> brings Winsock */
#endif

#include "engine_internal.h"

/* The drivers hand POLL's events to poll(2) and IORING_OP_POLL_ADD as they
 * are. */
#ifdef __linux__
_Static_assert(VL_POLL_IN == POLLIN && VL_POLL_PRI == POLLPRI && VL_POLL_OUT == POLLOUT &&
                   VL_POLL_ERR == POLLERR && VL_POLL_HUP == POLLHUP && VL_POLL_RDHUP == POLLRDHUP,
               "VL_POLL_* are poll(2)'s POLL*");
#endif

vl_op vl_op_nop(void)
{
    vl_op op;
    memset(&op, 0, sizeof(op));
    op.kind = VL_OP_NOP;
    op.fd = -1;
    return op;
}

vl_op vl_op_read(int fd, void *buf, size_t len, int64_t offset)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_READ;
    op.fd = fd;
    op.u.rw.buf = buf;
    op.u.rw.len = len;
    op.u.rw.offset = offset;
    return op;
}

vl_op vl_op_write(int fd, const void *buf, size_t len, int64_t offset)
{
    vl_op op = vl_op_read(fd, (void *)(uintptr_t)buf, len, offset);
    op.kind = VL_OP_WRITE;
    return op;
}

vl_op vl_op_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_ACCEPT;
    op.fd = fd;
    op.u.accept.addr = addr;
    op.u.accept.addrlen = addrlen;
    return op;
}

vl_op vl_op_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_CONNECT;
    op.fd = fd;
    op.u.connect.addr = addr;
    op.u.connect.addrlen = addrlen;
    return op;
}

vl_op vl_op_send(int fd, const void *buf, size_t len, int flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SEND;
    op.fd = fd;
    op.u.msg.buf = (void *)(uintptr_t)buf;
    op.u.msg.len = len;
    op.u.msg.flags = flags;
    return op;
}

vl_op vl_op_recv(int fd, void *buf, size_t len, int flags)
{
    vl_op op = vl_op_send(fd, buf, len, flags);
    op.kind = VL_OP_RECV;
    return op;
}

vl_op vl_op_timeout(int64_t duration_ns)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_TIMEOUT;
    op.u.timeout.duration_ns = duration_ns;
    return op;
}

vl_op vl_op_close(int fd)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_CLOSE;
    op.fd = fd;
    return op;
}

vl_op vl_op_cancel(uint64_t target_id)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_CANCEL;
    op.u.cancel.target_id = target_id;
    return op;
}

/* A RECV in the multishot mode: a pool instead of a buffer. */
vl_op vl_op_recv_multi(int fd, vl_bufpool *pool, int flags)
{
    vl_op op = vl_op_recv(fd, NULL, 0, flags);
    op.flags = VL_OP_F_MULTISHOT;
    op.u.msg.pool = pool;
    return op;
}

vl_op vl_op_accept_multi(int fd)
{
    vl_op op = vl_op_accept(fd, NULL, NULL);
    op.flags = VL_OP_F_MULTISHOT;
    return op;
}

vl_op vl_op_shutdown(int fd, int how)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SHUTDOWN;
    op.fd = fd;
    op.u.shutdown.how = how;
    return op;
}

vl_op vl_op_waitpid(int pid)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_WAITPID;
    op.u.waitpid.pid = pid;
    return op;
}

vl_op vl_op_sendfile(int sock_fd, int file_fd, int64_t offset, size_t count)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SENDFILE;
    op.fd = sock_fd;
    op.u.sendfile.file_fd = file_fd;
    op.u.sendfile.offset = offset;
    op.u.sendfile.count = count;
    return op;
}

vl_op vl_op_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
                   unsigned flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SPLICE;
    op.fd = fd_in;
    op.u.splice.off_in = off_in;
    op.u.splice.fd_out = fd_out;
    op.u.splice.off_out = off_out;
    op.u.splice.len = len;
    op.u.splice.flags = flags;
    return op;
}

vl_op vl_op_poll(int fd, uint32_t events)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_POLL;
    op.fd = fd;
    op.u.poll.events = events;
    return op;
}

vl_op vl_op_poll_multi(int fd, uint32_t events)
{
    vl_op op = vl_op_poll(fd, events);
    op.flags = VL_OP_F_MULTISHOT;
    return op;
}

vl_op vl_op_socket(int domain, int type, int protocol, uint32_t flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SOCKET;
    op.u.socket.domain = domain;
    op.u.socket.type = type;
    op.u.socket.protocol = protocol;
    op.u.socket.flags = flags;
    return op;
}

vl_op vl_op_bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_BIND;
    op.fd = fd;
    op.u.bind.addr = addr;
    op.u.bind.addrlen = addrlen;
    return op;
}

vl_op vl_op_listen(int fd, int backlog)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_LISTEN;
    op.fd = fd;
    op.u.listen.backlog = backlog;
    return op;
}

vl_op vl_op_sendv(int fd, const vl_iovec *iov, uint32_t iovcnt, int flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SENDV;
    op.fd = fd;
    op.u.vec.iov = iov;
    op.u.vec.iovcnt = iovcnt;
    op.u.vec.flags = flags;
    return op;
}

/* ---- files and paths ----------------------------------------------------------- */

/* The drivers hand VL_AT_* to the *at(2) calls and io_uring, and read
 * STATX's mask and type bits, as they are on Linux. */
#ifdef __linux__
_Static_assert(VL_AT_FDCWD == AT_FDCWD && VL_AT_SYMLINK_NOFOLLOW == AT_SYMLINK_NOFOLLOW &&
                   VL_AT_REMOVEDIR == AT_REMOVEDIR && VL_AT_EMPTY_PATH == AT_EMPTY_PATH,
               "VL_AT_* are Linux's AT_*");
_Static_assert(VL_STATX_TYPE == STATX_TYPE && VL_STATX_MODE == STATX_MODE &&
                   VL_STATX_NLINK == STATX_NLINK && VL_STATX_UID == STATX_UID &&
                   VL_STATX_GID == STATX_GID && VL_STATX_ATIME == STATX_ATIME &&
                   VL_STATX_MTIME == STATX_MTIME && VL_STATX_CTIME == STATX_CTIME &&
                   VL_STATX_INO == STATX_INO && VL_STATX_SIZE == STATX_SIZE &&
                   VL_STATX_BLOCKS == STATX_BLOCKS && VL_STATX_BASIC_STATS == STATX_BASIC_STATS &&
                   VL_STATX_BTIME == STATX_BTIME,
               "VL_STATX_* are Linux's STATX_*");
_Static_assert(VL_S_IFMT == S_IFMT && VL_S_IFSOCK == S_IFSOCK && VL_S_IFLNK == S_IFLNK &&
                   VL_S_IFREG == S_IFREG && VL_S_IFBLK == S_IFBLK && VL_S_IFDIR == S_IFDIR &&
                   VL_S_IFCHR == S_IFCHR && VL_S_IFIFO == S_IFIFO,
               "VL_S_IF* are Linux's S_IF*");
_Static_assert(
    sizeof(struct vl_statx) == 256 && sizeof(struct statx) <= sizeof(struct vl_statx),
    "the kernel's struct statx fits in a vl_statx (the io_uring driver converts in place)");
/* The drivers hand VL_SPLICE_F_* to splice(2) and IORING_OP_SPLICE, and
 * VL_RESOLVE_* to openat2(2) and IORING_OP_OPENAT2, as they are. */
_Static_assert(VL_SPLICE_F_MOVE == SPLICE_F_MOVE && VL_SPLICE_F_MORE == SPLICE_F_MORE,
               "VL_SPLICE_F_* are Linux's SPLICE_F_*");
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
_Static_assert(VL_RESOLVE_NO_XDEV == RESOLVE_NO_XDEV &&
                   VL_RESOLVE_NO_MAGICLINKS == RESOLVE_NO_MAGICLINKS &&
                   VL_RESOLVE_NO_SYMLINKS == RESOLVE_NO_SYMLINKS &&
                   VL_RESOLVE_BENEATH == RESOLVE_BENEATH && VL_RESOLVE_IN_ROOT == RESOLVE_IN_ROOT,
               "VL_RESOLVE_* are Linux's RESOLVE_*");
#endif
#endif
#else
_Static_assert(sizeof(struct vl_statx) == 256, "struct vl_statx is 256 bytes");
#endif

/* OPENAT's flags besides the access mode (<vllsi/engine.h>, vl_op_openat). */
#if defined(_WIN32)
#define OPENAT_FLAGS (O_CREAT | O_EXCL | O_TRUNC | O_APPEND)
#else
#define OPENAT_POSIX                                                                    \
    (O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK | O_NOCTTY | O_DSYNC | O_SYNC | \
     O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#ifdef __linux__
#define OPENAT_FLAGS (OPENAT_POSIX | O_DIRECT | O_NOATIME | O_PATH | O_TMPFILE)
#else
#define OPENAT_FLAGS OPENAT_POSIX
#endif
#endif
#define OPENAT_ACCMODE (O_RDONLY | O_WRONLY | O_RDWR)

const int vl__openat_flags = OPENAT_FLAGS;
const int vl__openat_accmode = OPENAT_ACCMODE;

vl_op vl_op_openat(int dirfd, const char *path, int flags, uint32_t mode)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_OPENAT;
    op.fd = dirfd;
    op.u.openat.path = path;
    op.u.openat.flags = flags;
    op.u.openat.mode = mode;
    return op;
}

vl_op vl_op_openat2(int dirfd, const char *path, int flags, uint32_t mode, uint64_t resolve)
{
    vl_op op = vl_op_openat(dirfd, path, flags, mode);
    op.u.openat.resolve = resolve;
    return op;
}

vl_op vl_op_statx(int dirfd, const char *path, int flags, struct vl_statx *buf)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_STATX;
    op.fd = dirfd;
    op.u.statx.path = path;
    op.u.statx.flags = flags;
    op.u.statx.buf = buf;
    return op;
}

vl_op vl_op_ftruncate(int fd, int64_t length)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_FTRUNCATE;
    op.fd = fd;
    op.u.ftruncate.length = length;
    return op;
}

vl_op vl_op_unlinkat(int dirfd, const char *path, int flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_UNLINKAT;
    op.fd = dirfd;
    op.u.unlinkat.path = path;
    op.u.unlinkat.flags = flags;
    return op;
}

vl_op vl_op_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_RENAMEAT;
    op.fd = olddirfd;
    op.u.renameat.oldpath = oldpath;
    op.u.renameat.newpath = newpath;
    op.u.renameat.newdirfd = newdirfd;
    return op;
}

vl_op vl_op_mkdirat(int dirfd, const char *path, uint32_t mode)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_MKDIRAT;
    op.fd = dirfd;
    op.u.mkdirat.path = path;
    op.u.mkdirat.mode = mode;
    return op;
}

vl_op vl_op_readv(int fd, const vl_iovec *iov, uint32_t iovcnt, int64_t offset)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_READV;
    op.fd = fd;
    op.u.rwv.iov = iov;
    op.u.rwv.iovcnt = iovcnt;
    op.u.rwv.offset = offset;
    return op;
}

vl_op vl_op_writev(int fd, const vl_iovec *iov, uint32_t iovcnt, int64_t offset)
{
    vl_op op = vl_op_readv(fd, iov, iovcnt, offset);
    op.kind = VL_OP_WRITEV;
    return op;
}

vl_op vl_op_fsync(int fd, uint32_t flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_FSYNC;
    op.fd = fd;
    op.u.fsync.flags = flags;
    return op;
}

vl_op vl_op_sendmsg(int fd, const vl_msghdr *msg, int flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SENDMSG;
    op.fd = fd;
    op.u.mh.msg = (vl_msghdr *)(uintptr_t)msg;
    op.u.mh.flags = flags;
    return op;
}

vl_op vl_op_recvmsg(int fd, vl_msghdr *msg, int flags)
{
    vl_op op = vl_op_sendmsg(fd, msg, flags);
    op.kind = VL_OP_RECVMSG;
    return op;
}

vl_op vl_op_recvmsg_multi(int fd, const vl_msghdr *msg, vl_bufpool *pool, int flags)
{
    vl_op op = vl_op_sendmsg(fd, msg, flags);
    op.kind = VL_OP_RECVMSG;
    op.flags = VL_OP_F_MULTISHOT;
    op.u.mh.pool = pool;
    return op;
}

/* One buffer and an address in the caller's vl_msgio. m NULL leaves the
 * msghdr NULL, which submit refuses (-EINVAL). */
static vl_msghdr *msg_fill(vl_msgio *m, const void *buf, size_t len, const struct sockaddr *addr,
                           socklen_t addrlen)
{
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof(*m));
#ifdef _WIN32
    m->iov.buf = (char *)(uintptr_t)buf;
    m->iov.len = (ULONG)(len > ULONG_MAX ? ULONG_MAX : len);
    m->hdr.name = (struct sockaddr *)(uintptr_t)addr;
    m->hdr.namelen = addrlen;
    m->hdr.lpBuffers = &m->iov;
    m->hdr.dwBufferCount = 1;
#else
    m->iov.iov_base = (void *)(uintptr_t)buf;
    m->iov.iov_len = len;
    m->hdr.msg_name = (void *)(uintptr_t)addr;
    m->hdr.msg_namelen = addrlen;
    m->hdr.msg_iov = &m->iov;
    m->hdr.msg_iovlen = 1;
#endif
    return &m->hdr;
}

vl_op vl_op_sendto(int fd, vl_msgio *m, const void *buf, size_t len, int flags,
                   const struct sockaddr *addr, socklen_t addrlen)
{
    return vl_op_sendmsg(fd, msg_fill(m, buf, len, addr, addrlen), flags);
}

vl_op vl_op_recvfrom(int fd, vl_msgio *m, void *buf, size_t len, int flags, struct sockaddr *addr,
                     socklen_t addrlen)
{
    return vl_op_recvmsg(fd, msg_fill(m, buf, len, addr, addrlen), flags);
}
