/*
 * Op constructors and the per-op validation table.
 *
 * Validation runs in vl_engine_submit, before an id exists, so every
 * synchronous error leaves no trace: no id, no completion (rule 6).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "engine_internal.h"

vl_op vl_op_nop(void)
{
    vl_op op;
    memset(&op, 0, sizeof(op));
    op.kind = VL_OP_NOP;
    return op;
}

vl_op vl_op_read(int fd, void *buf, size_t len, int64_t offset)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_READ;
    op.u.rw.fd = fd;
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
    op.u.accept.fd = fd;
    op.u.accept.addr = addr;
    op.u.accept.addrlen = addrlen;
    return op;
}

vl_op vl_op_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_CONNECT;
    op.u.connect.fd = fd;
    op.u.connect.addr = addr;
    op.u.connect.addrlen = addrlen;
    return op;
}

vl_op vl_op_send(int fd, const void *buf, size_t len, int flags)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_SEND;
    op.u.msg.fd = fd;
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
    op.u.close.fd = fd;
    return op;
}

vl_op vl_op_cancel(uint64_t target_id)
{
    vl_op op = vl_op_nop();
    op.kind = VL_OP_CANCEL;
    op.u.cancel.target_id = target_id;
    return op;
}

/* A buffer and its length: the kernel's limits, checked the same everywhere. */
static int check_buffer(const void *buf, size_t len)
{
    if (len > INT32_MAX)
        return -EINVAL;
    if (buf == NULL && len > 0)
        return -EFAULT;
    return 0;
}

static int check_nop(const vl_op *op)
{
    (void)op;
    return 0;
}

static int check_rw(const vl_op *op)
{
    if (op->u.rw.offset < -1)
        return -EINVAL;
    return check_buffer(op->u.rw.buf, op->u.rw.len);
}

static int check_accept(const vl_op *op)
{
    if (op->u.accept.addr != NULL && op->u.accept.addrlen == NULL)
        return -EFAULT;
    return 0;
}

static int check_connect(const vl_op *op)
{
    if (op->u.connect.addr == NULL)
        return -EFAULT;
    if (op->u.connect.addrlen == 0 || op->u.connect.addrlen > sizeof(struct sockaddr_storage))
        return -EINVAL;
    return 0;
}

static int check_msg(const vl_op *op)
{
    return check_buffer(op->u.msg.buf, op->u.msg.len);
}

static int check_timeout(const vl_op *op)
{
    return op->u.timeout.duration_ns < 0 ? -EINVAL : 0;
}

/* Per-op validation, indexed by kind (STYLE: tables over switches). */
static int (*const check_table[])(const vl_op *) = {
    [VL_OP_NOP] = check_nop,       [VL_OP_READ] = check_rw,         [VL_OP_WRITE] = check_rw,
    [VL_OP_ACCEPT] = check_accept, [VL_OP_CONNECT] = check_connect, [VL_OP_SEND] = check_msg,
    [VL_OP_RECV] = check_msg,      [VL_OP_TIMEOUT] = check_timeout, [VL_OP_CLOSE] = check_nop,
    [VL_OP_CANCEL] = check_nop,
};
_Static_assert(sizeof(check_table) / sizeof(check_table[0]) == VL_OP_KIND_COUNT_,
               "one validator per op kind");

int vl__op_validate(const vl_op *op)
{
    if ((unsigned)op->kind >= VL_OP_KIND_COUNT_ || op->reserved != 0)
        return -EINVAL;
    return check_table[op->kind](op);
}
