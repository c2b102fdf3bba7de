/*
 * Op constructors. (Each kind's submit check is vl__check_<name> in
 * opdef.h, inline on the submit fast path.)
 */
#ifdef __linux__
#define _GNU_SOURCE /* POLLRDHUP */
#include <poll.h>
#endif
#include <errno.h>
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
