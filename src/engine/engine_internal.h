/*
 * src/engine/engine_internal.h - what the core's files share beyond driver.h
 * (the engine object itself is in driver.h, for the inline accessors).
 */
#ifndef VLLSI_ENGINE_INTERNAL_H
#define VLLSI_ENGINE_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifndef _WIN32
#include <sys/socket.h> /* Windows: <vllsi/engine.h> brings Winsock */
#endif

#include <vllsi/engine.h>
#include <vllsi/sys/export.h>

#include "driver.h"
#include "fault.h"

/* Keep a cold path out of its caller (whose register saves it would raise). */
#if defined(__GNUC__)
#define VL__NOINLINE __attribute__((noinline))
#else
#define VL__NOINLINE
#endif

/* A buffer and its length: the kernel's limits, checked the same everywhere. */
static inline int vl__check_buffer(const void *buf, size_t len)
{
    if (len > INT32_MAX)
        return -EINVAL;
    if (buf == NULL && len > 0)
        return -EFAULT;
    return 0;
}

/* A SENDV's gather list: the same limits as vl__check_buffer, on the sum. */
static inline int vl__check_iov(const vl_iovec *iov, uint32_t iovcnt)
{
    if (iovcnt == 0 || iovcnt > VL_IOV_MAX)
        return -EINVAL;
    if (iov == NULL)
        return -EFAULT;
    uint64_t total = 0;
    for (uint32_t k = 0; k < iovcnt; k++) {
        if (iov[k].base == NULL && iov[k].len > 0)
            return -EFAULT;
        total += iov[k].len;
        if (iov[k].len > INT32_MAX || total > INT32_MAX)
            return -EINVAL;
    }
    return 0;
}

#ifndef _WIN32
#include <sys/uio.h>

_Static_assert(sizeof(vl_iovec) == sizeof(struct iovec) &&
                   offsetof(vl_iovec, len) == offsetof(struct iovec, iov_len),
               "vl_iovec must be laid out as struct iovec");

/*
 * The msghdr a SENDV sends: the caller's array itself (vl_iovec is a struct
 * iovec), or, when fault injection shortens the transfer, part of its first
 * buffer through head. m and head must live as long as the kernel may read
 * them (io_uring: until the SQE is submitted).
 */
static inline void vl__sendv_msghdr(const vl_op *op, struct msghdr *m, struct iovec *head)
{
    *m = (struct msghdr){.msg_iov = (struct iovec *)(uintptr_t)op->u.vec.iov,
                         .msg_iovlen = op->u.vec.iovcnt};
    *head = (struct iovec){op->u.vec.iov[0].base, VL__FAULT_SHORTEN(op->u.vec.iov[0].len)};
    if (head->iov_len < op->u.vec.iov[0].len) {
        m->msg_iov = head;
        m->msg_iovlen = 1;
    }
}
#endif

/*
 * Validate an op in vl_engine_submit, before an id exists, so every
 * synchronous error leaves no trace: no id, no completion (rule 6).
 * A switch rather than STYLE's table of checkers: it inlines into submit
 * (callgrind: the table's out-of-line indirect call cost 10 of the ~280
 * user-space instructions a NOP takes), and -Wswitch still names any kind
 * left out.
 */
static inline int vl__op_validate(const vl_op *op)
{
    /* Kinds without a field to check: a bit test before the jump table. */
    const uint32_t unchecked =
        1u << VL_OP_NOP | 1u << VL_OP_CLOSE | 1u << VL_OP_CANCEL | 1u << VL_OP_ACCEPT_MULTI;
    if (VL_UNLIKELY(op->reserved != 0))
        return -EINVAL;
    if ((unsigned)op->kind < 32 && ((unchecked >> op->kind) & 1u))
        return 0;
    switch (op->kind) {
    case VL_OP_NOP:
    case VL_OP_CLOSE:
    case VL_OP_CANCEL:
        return 0;
    case VL_OP_READ:
    case VL_OP_WRITE:
        if (op->u.rw.offset < -1)
            return -EINVAL;
        return vl__check_buffer(op->u.rw.buf, op->u.rw.len);
    case VL_OP_SEND:
    case VL_OP_RECV:
        return vl__check_buffer(op->u.msg.buf, op->u.msg.len);
    case VL_OP_ACCEPT:
        return op->u.accept.addr != NULL && op->u.accept.addrlen == NULL ? -EFAULT : 0;
    case VL_OP_CONNECT:
        if (op->u.connect.addr == NULL)
            return -EFAULT;
        /* size_t: socklen_t is a signed int on Windows. */
        if (op->u.connect.addrlen == 0 ||
            (size_t)op->u.connect.addrlen > sizeof(struct sockaddr_storage))
            return -EINVAL;
        return 0;
    case VL_OP_TIMEOUT:
        return op->u.timeout.duration_ns < 0 ? -EINVAL : 0;
    case VL_OP_RECV_MULTI:
        return op->u.multi.pool == NULL ? -EINVAL : 0;
    case VL_OP_ACCEPT_MULTI:
        return 0;
    case VL_OP_SENDV:
        return vl__check_iov(op->u.vec.iov, op->u.vec.iovcnt);
    case VL_OP_KIND_COUNT_:
        break;
    }
    return -EINVAL; /* unknown kind, including values outside the enum */
}

/*
 * Make to's poll return, from the thread that polls from (the loop's
 * messages between loops): through the driver's wake_from when both use the
 * same driver and it has one (io_uring: MSG_RING, no system call until
 * from's next poll), else vl_engine_wake(to). 0 or a negative errno.
 */
int vl__engine_wake_from(vl_engine *from, vl_engine *to);

/* Submit what wake_from queued now, without waiting (a loop leaving
 * vl_loop_run may not poll again for a long time). */
void vl__engine_push(vl_engine *e);

/*
 * The engine's event descriptor for a host loop (the loop's backend fd),
 * brought up to date for a host about to sleep on it: the driver's
 * event_fd (see driver.h). *ready is set when the next poll has something
 * the descriptor may not show: completions or queued ops waiting in the
 * core, or what the driver said. Returns the descriptor, -EOPNOTSUPP when
 * the driver has none, or the driver's error.
 */
int vl__engine_event_fd(vl_engine *e, bool *ready);

#endif
