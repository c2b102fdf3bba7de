/*
 * Op constructors. (Each kind's submit check is vl__check_<name> in
 * opdef.h, inline on the submit fast path.)
 */
#ifdef __linux__
#define _GNU_SOURCE /* POLLRDHUP */
#include <poll.h>
#endif
#include <errno.h>
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
