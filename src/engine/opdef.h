/*
 * src/engine/opdef.h - what the core knows about each op kind, in one place.
 *
 * The kinds themselves are the X-macro list VL_OP_KINDS in
 * <vllsi/op_kinds.h>. For each X(NAME, name) in it, this file holds:
 *  - VL__OPDEF_<NAME>: the kind's row, the designated initializers of a
 *    struct vl__opdef (its properties, below; a field left out is false);
 *  - vl__check_<name>(op): the kind's submit-time checks, 0 or -errno.
 * Everything here is generated from the list, so a kind added to it without
 * its row or its check does not compile. Each driver likewise dispatches
 * through a table or switch generated from the list (see the "How to add an
 * op" section of docs/architecture.md), and no switch over kinds has a
 * default: that would hide a kind nobody wrote.
 *
 * The properties are read through vl__op_<field>(kind), expressions over
 * the rows that the compiler folds: to a constant for a kind known at
 * compile time, else to a comparison or a bit test as cheap as a
 * hand-written mask, with no limit on the number of kinds.
 *
 * A kind is a body shape and a system call. A mode that keeps the body
 * (multishot) is a flag of the op, VL_OP_F_MULTISHOT, which the kinds that
 * take it name in their row's modes; what depends on it is read from the
 * op itself (vl__op_is_multishot, vl__op_has_pool), a test of its flags.
 */
#ifndef VLLSI_ENGINE_OPDEF_H
#define VLLSI_ENGINE_OPDEF_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vllsi/engine.h>

/* The kinds' values are ABI within a soname (the shared library's SOVERSION
 * is major.minor while the major version is 0): within one, the list only
 * grows at its end, and a change of these values needs a new soname. */
_Static_assert(VL_OP_NOP == 0 && VL_OP_CANCEL == 9 && VL_OP_SENDV == 10,
               "op kinds keep their values: append new ones to VL_OP_KINDS");

/* The bits of vl_op.flags that are modes: a kind takes those its row names. */
#define VL__OP_F_MODES (VL_OP_F_MULTISHOT | VL_OP_F_POLL_FIRST)

/* Directions a readiness driver parks an op for (the values of
 * VL__REACTOR_READ and VL__REACTOR_WRITE). */
#define VL__PARK_READ  0x1u
#define VL__PARK_WRITE 0x2u

struct vl__opdef {
    /* The op names a file descriptor, in its header's fd (vl__op_fd
     * reads it; the kinds without one ignore the field). */
    bool has_fd;
    /* VL__PARK_*: what a readiness driver waits for when the op would
     * block; 0: the op never parks. A kind that parks has has_fd (the
     * readiness core reads the fd of a parked op without asking). */
    uint8_t park;
    /* Its work is a system call that may block whatever the fd (a file op:
     * open, stat, fsync): a readiness driver hands it to its worker pool
     * (struct vl__reactor_offload) when one is installed, else runs it
     * inline. Such a kind does not park. */
    bool blocking;
    /* Takes a file offset, u.rw.offset (-1: the file's position). */
    bool offset;
    /* The modes (VL__OP_F_MODES bits) the kind takes; submit answers
     * -EINVAL for any other. VL_OP_F_MULTISHOT: the op completes again and
     * again with VL_CQE_MORE until a final completion. VL_OP_F_POLL_FIRST:
     * a one-shot RECV's hint that no data is there yet. */
    uint32_t modes;
    /* With VL_OP_F_MULTISHOT, takes its buffers from a vl_bufpool
     * (u.msg.pool), which the core checks belongs to the engine and holds
     * busy while the op lives. */
    bool pool;
    /* Has no field to check: its check is vl__check_none, and submit
     * returns before the switch. */
    bool unchecked;
    /* VL__XFER_*: where the op's length is, for a kind that moves bytes. A
     * chain (VL_OP_F_LINK) reads a result below that length as a short
     * transfer, which ends the rest of the chain (vl__op_full_len). */
    uint8_t xfer;
    /* offsetof(vl_op, ...) of a second file descriptor (an int) whose
     * number the op's call uses, 0 for none: a CLOSE of that number must
     * find the op as it finds those of the header's fd (vl__op_fd2). */
    uint8_t fd2;
};

/* A SENDMSG's or RECVMSG's msghdr, through the names of the platform's
 * (struct msghdr; Windows: WSAMSG and WSABUF). */
#ifdef _WIN32
#define VL__MH_IOV(m)        ((m)->lpBuffers)
#define VL__MH_IOVLEN(m)     ((uint64_t)(m)->dwBufferCount)
#define VL__MH_IOV_BASE(v)   ((v).buf)
#define VL__MH_IOV_LEN(v)    ((uint64_t)(v).len)
#define VL__MH_NAME(m)       ((m)->name)
#define VL__MH_NAMELEN(m)    ((uint64_t)(uint32_t)(m)->namelen)
#define VL__MH_CONTROL(m)    ((m)->Control.buf)
#define VL__MH_CONTROLLEN(m) ((uint64_t)(m)->Control.len)
#else
#define VL__MH_IOV(m)        ((m)->msg_iov)
#define VL__MH_IOVLEN(m)     ((uint64_t)(m)->msg_iovlen)
#define VL__MH_IOV_BASE(v)   ((v).iov_base)
#define VL__MH_IOV_LEN(v)    ((uint64_t)(v).iov_len)
#define VL__MH_NAME(m)       ((m)->msg_name)
#define VL__MH_NAMELEN(m)    ((uint64_t)(m)->msg_namelen)
#define VL__MH_CONTROL(m)    ((m)->msg_control)
#define VL__MH_CONTROLLEN(m) ((uint64_t)(m)->msg_controllen)
#endif

/* struct vl__opdef.xfer */
#define VL__XFER_NONE 0u /* no length: success is a result >= 0          */
#define VL__XFER_RW   1u /* u.rw.len                                      */
#define VL__XFER_MSG  2u /* u.msg.len                                     */
#define VL__XFER_VEC  3u /* the sum of u.vec.iov[].len over u.vec.iovcnt  */
#define VL__XFER_RWV  4u /* the sum of u.rwv.iov[].len over u.rwv.iovcnt  */
#define VL__XFER_MH   5u /* the sum of the lengths of u.mh.msg's iovec     */
#define VL__XFER_SF   6u /* u.sendfile.count                              */
#define VL__XFER_SPL  7u /* u.splice.len                                  */

/* A set of op kinds. */
struct vl__kindset {
    bool has[VL_OP_KIND_COUNT_];
};

/* Every kind, for a set's initializer: {VL_OP_KINDS(VL__KINDSET_ALL)}. */
#define VL__KINDSET_ALL(NAME, name) [VL_OP_##NAME] = true,

/* ---- the rows ------------------------------------------------------------------ */

#define VL__OPDEF_NOP     .unchecked = true
#define VL__OPDEF_READ    .has_fd = true, .park = VL__PARK_READ, .offset = true, .xfer = VL__XFER_RW
#define VL__OPDEF_WRITE   .has_fd = true, .park = VL__PARK_WRITE, .offset = true, .xfer = VL__XFER_RW
#define VL__OPDEF_ACCEPT  .has_fd = true, .park = VL__PARK_READ, .modes = VL_OP_F_MULTISHOT
#define VL__OPDEF_CONNECT .has_fd = true, .park = VL__PARK_WRITE
#define VL__OPDEF_SEND    .has_fd = true, .park = VL__PARK_WRITE, .xfer = VL__XFER_MSG
#define VL__OPDEF_RECV                                                                      \
    .has_fd = true, .park = VL__PARK_READ, .modes = VL_OP_F_MULTISHOT | VL_OP_F_POLL_FIRST, \
    .pool = true, .xfer = VL__XFER_MSG
#define VL__OPDEF_TIMEOUT .has_fd = false
#define VL__OPDEF_CLOSE   .has_fd = true, .unchecked = true
#define VL__OPDEF_CANCEL  .unchecked = true
#define VL__OPDEF_SENDV   .has_fd = true, .park = VL__PARK_WRITE, .xfer = VL__XFER_VEC

#define VL__OPDEF_SENDMSG .has_fd = true, .park = VL__PARK_WRITE, .xfer = VL__XFER_MH
#define VL__OPDEF_RECVMSG                                                            \
    .has_fd = true, .park = VL__PARK_READ, .modes = VL_OP_F_MULTISHOT, .pool = true, \
    .xfer = VL__XFER_MH

/* Never parks: shutdown(2) does not wait for the peer. */
#define VL__OPDEF_SHUTDOWN .has_fd = true

/* No park: its directions come from its events, so the readiness core's
 * run_poll parks it itself (vl__reactor_park's path). */
#define VL__OPDEF_POLL .has_fd = true, .modes = VL_OP_F_MULTISHOT

/* None of the three waits: socket(2), bind(2) and listen(2) complete at
 * once, so a readiness driver runs them inline. SOCKET names no fd. */
#define VL__OPDEF_SOCKET    .has_fd = false
#define VL__OPDEF_BIND      .has_fd = true
#define VL__OPDEF_LISTEN    .has_fd = true
/* The file and path ops: a file system call, which no readiness reports
 * and which may block for as long as the disk takes, so a readiness
 * driver hands it to its offload. fd is the file (FTRUNCATE) or the
 * directory a relative path starts from (VL_AT_FDCWD, -100, for the
 * working directory). */
#define VL__OPDEF_OPENAT    .has_fd = true, .blocking = true
#define VL__OPDEF_STATX     .has_fd = true, .blocking = true
#define VL__OPDEF_FTRUNCATE .has_fd = true, .blocking = true
#define VL__OPDEF_UNLINKAT  .has_fd = true, .blocking = true
#define VL__OPDEF_RENAMEAT \
    .has_fd = true, .blocking = true, .fd2 = offsetof(vl_op, u.renameat.newdirfd)
#define VL__OPDEF_MKDIRAT .has_fd = true, .blocking = true
/* READ and WRITE with a gather/scatter list: they park and take an offset
 * as READ and WRITE do (u.rwv.offset sits where u.rw.offset does, so the
 * core's and the drivers' offset checks read either). A readiness driver
 * sends a regular file's to its worker pool, as READ's. */
#define VL__OPDEF_READV   .has_fd = true, .park = VL__PARK_READ, .offset = true, .xfer = VL__XFER_RWV
#define VL__OPDEF_WRITEV \
    .has_fd = true, .park = VL__PARK_WRITE, .offset = true, .xfer = VL__XFER_RWV

/* fsync(2) may wait for a disk whatever the fd: a worker's. */
#define VL__OPDEF_FSYNC .has_fd = true, .blocking = true

/* No fd of the caller's (the header's is -1) and no park in the row: a
 * readiness driver's run_waitpid opens a pidfd and parks the op on it
 * itself, as run_poll does. */
#define VL__OPDEF_WAITPID .has_fd = false

/* SENDFILE waits for its socket (fd) to take bytes, as SEND does; the file
 * is read as the page cache has it. SPLICE's fd is fd_in and its row parks
 * for read: run_splice parks on whichever side is the pipe itself. */
#define VL__OPDEF_SENDFILE                                       \
    .has_fd = true, .park = VL__PARK_WRITE, .xfer = VL__XFER_SF, \
    .fd2 = offsetof(vl_op, u.sendfile.file_fd)
#define VL__OPDEF_SPLICE                                         \
    .has_fd = true, .park = VL__PARK_READ, .xfer = VL__XFER_SPL, \
    .fd2 = offsetof(vl_op, u.splice.fd_out)

/*
 * A field of kind's row: vl__op_<field>(kind), false or 0 for a value
 * outside the enum. Each is an expression over the rows,
 * (kind == VL_OP_NOP && <NOP's field>) || (kind == VL_OP_READ && ...) ...,
 * which the compiler folds to a constant, a comparison or a bit test before
 * it weighs inlining. A switch (or a function returning the row) would
 * still count as thirteen branches there: callgrind saw submit stop
 * inlining its slot setup for one, 8 more instructions per NOP.
 */
#define VL__OPDEF_OR(NAME, name) \
    || (kind == VL_OP_##NAME && ((struct vl__opdef){VL__OPDEF_##NAME}).VL__OPDEF_FIELD)
#define VL__OPDEF_BOOL(field)                          \
    static inline bool vl__op_##field(vl_op_kind kind) \
    {                                                  \
        return false VL_OP_KINDS(VL__OPDEF_OR);        \
    }

#define VL__OPDEF_FIELD has_fd
VL__OPDEF_BOOL(has_fd)
#undef VL__OPDEF_FIELD
#define VL__OPDEF_FIELD offset
VL__OPDEF_BOOL(offset)
#undef VL__OPDEF_FIELD
#define VL__OPDEF_FIELD pool
VL__OPDEF_BOOL(pool)
#undef VL__OPDEF_FIELD
#define VL__OPDEF_FIELD unchecked
VL__OPDEF_BOOL(unchecked)
#undef VL__OPDEF_FIELD

/* The row's modes, 0 for a value outside the enum: the same folding, with
 * each term the row's bits or 0. */
#define VL__OPDEF_MODES_OR(NAME, name) \
    | (kind == VL_OP_##NAME ? ((struct vl__opdef){VL__OPDEF_##NAME}).modes : 0u)
static inline uint32_t vl__op_modes(vl_op_kind kind)
{
    return 0u VL_OP_KINDS(VL__OPDEF_MODES_OR);
}

/* The row's xfer (VL__XFER_*), 0 for a value outside the enum. */
#define VL__OPDEF_XFER_OR(NAME, name) \
    | (kind == VL_OP_##NAME ? ((struct vl__opdef){VL__OPDEF_##NAME}).xfer : 0u)
static inline uint32_t vl__op_xfer(vl_op_kind kind)
{
    return 0u VL_OP_KINDS(VL__OPDEF_XFER_OR);
}

/* The op completes again and again with VL_CQE_MORE (VL_OP_F_MULTISHOT, on
 * a kind that takes it: the core validated it). */
static inline bool vl__op_is_multishot(const vl_op *op)
{
    return (op->flags & VL_OP_F_MULTISHOT) != 0;
}

/* The op takes its buffers from u.msg.pool. One test of the flags on the
 * common path; the kind only for a multishot op. */
static inline bool vl__op_has_pool(const vl_op *op)
{
    return vl__op_is_multishot(op) && vl__op_pool(op->kind);
}

/* The pool of an op that takes one (vl__op_has_pool): a RECVMSG's is in
 * its msghdr body, a RECV's in its buffer body. */
static inline struct vl_bufpool *vl__op_pool_of(const vl_op *op)
{
    return op->kind == VL_OP_RECVMSG ? op->u.mh.pool : op->u.msg.pool;
}

/* The op's size budget (docs/architecture.md, "The op and its records"):
 * a 24-byte header and a 40-byte body, one cache line on every host. */
_Static_assert(sizeof(vl_op) == 64 && sizeof(((vl_op *)0)->u) == 40 && offsetof(vl_op, u) == 24,
               "vl_op is a 24-byte header and a 40-byte body");

/* The op's file descriptor, or -1 for a kind that names none (whatever its
 * fd field holds). */
static inline int vl__op_fd(const vl_op *op)
{
    return vl__op_has_fd(op->kind) ? op->fd : -1;
}

/* The op's second file descriptor (its row's fd2: SENDFILE's file,
 * SPLICE's fd_out, RENAMEAT's newdirfd), or -1 for a kind that names none.
 * It may be negative (RENAMEAT's VL_AT_FDCWD) or the header's fd again. */
#define VL__OPDEF_FD2_OR(NAME, name) \
    | (kind == VL_OP_##NAME ? ((struct vl__opdef){VL__OPDEF_##NAME}).fd2 : 0u)
static inline int vl__op_fd2(const vl_op *op)
{
    vl_op_kind kind = op->kind;
    uint32_t off = 0u VL_OP_KINDS(VL__OPDEF_FD2_OR);
    return off == 0 ? -1 : *(const int *)(const void *)((const char *)op + off);
}

/* The bytes a single-shot op moves when it does all it was asked (its row's
 * xfer), or -1 for a kind that moves none: a chain member succeeded when
 * its result is >= 0 and, for a transfer, this length. */
static inline int64_t vl__op_full_len(const vl_op *op)
{
    switch (vl__op_xfer(op->kind)) {
    case VL__XFER_RW:
        return (int64_t)op->u.rw.len;
    case VL__XFER_MSG:
        return (int64_t)op->u.msg.len;
    case VL__XFER_VEC: {
        int64_t total = 0;
        for (uint32_t k = 0; k < op->u.vec.iovcnt; k++)
            total += (int64_t)op->u.vec.iov[k].len;
        return total;
    }
    case VL__XFER_RWV: {
        int64_t total = 0;
        for (uint32_t k = 0; k < op->u.rwv.iovcnt; k++)
            total += (int64_t)op->u.rwv.iov[k].len;
        return total;
    }
    case VL__XFER_SF:
        return (int64_t)op->u.sendfile.count;
    case VL__XFER_SPL:
        return (int64_t)op->u.splice.len;
    case VL__XFER_MH: {
        int64_t total = 0;
        for (uint64_t k = 0; k < VL__MH_IOVLEN(op->u.mh.msg); k++)
            total += (int64_t)VL__MH_IOV_LEN(VL__MH_IOV(op->u.mh.msg)[k]);
        return total;
    }
    default:
        return -1;
    }
}

/* ---- the checks ------------------------------------------------------------------ */

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

/* The check of a kind whose row says .unchecked: nothing to check. */
static inline int vl__check_none(const vl_op *op)
{
    (void)op;
    return 0;
}

#define vl__check_nop    vl__check_none
#define vl__check_close  vl__check_none
#define vl__check_cancel vl__check_none

static inline int vl__check_read(const vl_op *op)
{
    if (op->u.rw.offset < -1)
        return -EINVAL;
    return vl__check_buffer(op->u.rw.buf, op->u.rw.len);
}

#define vl__check_write vl__check_read

/* SEND, and RECV without VL_OP_F_MULTISHOT: a buffer, no pool. */
static inline int vl__check_send(const vl_op *op)
{
    if (op->u.msg.pool != NULL)
        return -EINVAL;
    return vl__check_buffer(op->u.msg.buf, op->u.msg.len);
}

/* A RECV names a buffer, or with VL_OP_F_MULTISHOT a pool and no buffer.
 * The pool's owner is checked at submit, where the engine is known. */
static inline int vl__check_recv(const vl_op *op)
{
    if (VL_UNLIKELY(vl__op_is_multishot(op)))
        return op->u.msg.pool != NULL && op->u.msg.buf == NULL && op->u.msg.len == 0 ? 0 : -EINVAL;
    return vl__check_send(op);
}

/* Known VL_SOCK_* flags only; a multishot ACCEPT reports no addresses. */
static inline int vl__check_accept(const vl_op *op)
{
    if (VL_UNLIKELY(op->u.accept.flags & ~VL_SOCK_ALL))
        return -EINVAL;
    if (VL_UNLIKELY(vl__op_is_multishot(op)))
        return op->u.accept.addr == NULL && op->u.accept.addrlen == NULL ? 0 : -EINVAL;
    return op->u.accept.addr != NULL && op->u.accept.addrlen == NULL ? -EFAULT : 0;
}

/* An address the op reads (CONNECT, BIND). */
static inline int vl__check_addr(const struct sockaddr *addr, socklen_t addrlen)
{
    if (addr == NULL)
        return -EFAULT;
    /* size_t: socklen_t is a signed int on Windows. */
    if (addrlen == 0 || (size_t)addrlen > sizeof(struct sockaddr_storage))
        return -EINVAL;
    return 0;
}

static inline int vl__check_connect(const vl_op *op)
{
    return vl__check_addr(op->u.connect.addr, op->u.connect.addrlen);
}

static inline int vl__check_timeout(const vl_op *op)
{
    return op->u.timeout.duration_ns < 0 ? -EINVAL : 0;
}

static inline int vl__check_sendv(const vl_op *op)
{
    return vl__check_iov(op->u.vec.iov, op->u.vec.iovcnt);
}

_Static_assert(offsetof(vl_op, u.rwv.offset) == offsetof(vl_op, u.rw.offset),
               "READV/WRITEV's offset is where READ/WRITE's is");
_Static_assert(sizeof(((vl_op *)0)->u.rwv) <= 40 && sizeof(((vl_op *)0)->u.fsync) <= 40,
               "the READV/WRITEV and FSYNC bodies fit the op's 40 bytes");

/* READV, WRITEV: a list as SENDV's, an offset as READ's. */
static inline int vl__check_readv(const vl_op *op)
{
    if (op->u.rwv.offset < -1)
        return -EINVAL;
    return vl__check_iov(op->u.rwv.iov, op->u.rwv.iovcnt);
}

#define vl__check_writev vl__check_readv

static inline int vl__check_fsync(const vl_op *op)
{
    return (op->u.fsync.flags & ~VL_FSYNC_DATASYNC) != 0 ? -EINVAL : 0;
}

/* A pid of one process: 0 and negative values name process groups, which
 * WAITPID does not wait for. */
static inline int vl__check_waitpid(const vl_op *op)
{
    return op->u.waitpid.pid > 0 ? 0 : -EINVAL;
}

/* SENDFILE: a file to read (its fd is not looked at until the op runs,
 * but a negative one is no fd at all), an offset or -1, and a count a
 * result can carry, as SEND's length. */
static inline int vl__check_sendfile(const vl_op *op)
{
    if (op->u.sendfile.file_fd < 0)
        return -EBADF;
    if (op->u.sendfile.offset < -1 || op->u.sendfile.count > INT32_MAX ||
        op->u.sendfile.unused_ != 0)
        return -EINVAL;
    return 0;
}

/* SPLICE: the same rules for its two offsets and its length; flags of
 * VL_SPLICE_F_ALL. */
static inline int vl__check_splice(const vl_op *op)
{
    if (op->u.splice.fd_out < 0)
        return -EBADF;
    if (op->u.splice.off_in < -1 || op->u.splice.off_out < -1 || op->u.splice.len > INT32_MAX ||
        (op->u.splice.flags & ~(uint32_t)VL_SPLICE_F_ALL) != 0)
        return -EINVAL;
    return 0;
}

/* The drivers pass how to the system's call as it is. */
#ifdef _WIN32
_Static_assert(VL_SHUT_RD == SD_RECEIVE && VL_SHUT_WR == SD_SEND && VL_SHUT_RDWR == SD_BOTH,
               "VL_SHUT_* are Winsock's SD_*");
#else
_Static_assert(VL_SHUT_RD == SHUT_RD && VL_SHUT_WR == SHUT_WR && VL_SHUT_RDWR == SHUT_RDWR,
               "VL_SHUT_* are shutdown(2)'s SHUT_*");
#endif

static inline int vl__check_shutdown(const vl_op *op)
{
    int how = op->u.shutdown.how;
    return how == VL_SHUT_RD || how == VL_SHUT_WR || how == VL_SHUT_RDWR ? 0 : -EINVAL;
}

/* The drivers hand events to poll(2) and IORING_OP_POLL_ADD as they are
 * (src/engine/ops.c checks that VL_POLL_* are POLL* on Linux). */
/* At least one known event. VL_POLL_ERR or VL_POLL_HUP alone is a wait for
 * an error or a hangup. */
static inline int vl__check_poll(const vl_op *op)
{
    uint32_t ev = op->u.poll.events;
    return ev != 0 && (ev & ~VL_POLL_ALL) == 0 ? 0 : -EINVAL;
}

/* The domain, type and protocol go to the system as they are: what it does
 * not have is the completion's error, as socket(2)'s. */
static inline int vl__check_socket(const vl_op *op)
{
    return (op->u.socket.flags & ~VL_SOCK_ALL) == 0 ? 0 : -EINVAL;
}

static inline int vl__check_bind(const vl_op *op)
{
    return vl__check_addr(op->u.bind.addr, op->u.bind.addrlen);
}

static inline int vl__check_listen(const vl_op *op)
{
    return op->u.listen.backlog < 0 ? -EINVAL : 0;
}

/* ---- files and paths: NULL paths are -EFAULT, flags and modes a kind
 * does not take -EINVAL (<vllsi/engine.h>, "files and paths"). */

/* Permission bits, for OPENAT's and MKDIRAT's mode. */
#define VL__MODE_BITS 07777u

/* OPENAT's flags: an access mode and the platform's O_* bits of the
 * documented list. The masks are defined in src/engine/ops.c, which sees
 * the Linux-only O_* names; they are data, not a function, because a call
 * here would make every submit save registers (callgrind: 7 instructions
 * per NOP). */
extern const int vl__openat_flags;   /* the O_* bits besides the access mode */
extern const int vl__openat_accmode; /* O_RDONLY | O_WRONLY | O_RDWR */

static inline int vl__check_openat_flags(int flags)
{
    if ((flags & ~(vl__openat_flags | vl__openat_accmode)) != 0)
        return -EINVAL;
    return (flags & vl__openat_accmode) == vl__openat_accmode ? -EINVAL : 0;
}

static inline int vl__check_openat(const vl_op *op)
{
    if ((op->u.openat.mode & ~VL__MODE_BITS) != 0 ||
        vl__check_openat_flags(op->u.openat.flags) != 0 ||
        (op->u.openat.resolve & ~(uint64_t)VL_RESOLVE_ALL) != 0)
        return -EINVAL;
    return op->u.openat.path == NULL ? -EFAULT : 0;
}

static inline int vl__check_statx(const vl_op *op)
{
    if ((op->u.statx.flags & ~(VL_AT_SYMLINK_NOFOLLOW | VL_AT_EMPTY_PATH)) != 0)
        return -EINVAL;
    return op->u.statx.path == NULL || op->u.statx.buf == NULL ? -EFAULT : 0;
}

static inline int vl__check_ftruncate(const vl_op *op)
{
    return op->u.ftruncate.length < 0 ? -EINVAL : 0;
}

static inline int vl__check_unlinkat(const vl_op *op)
{
    if ((op->u.unlinkat.flags & ~VL_AT_REMOVEDIR) != 0)
        return -EINVAL;
    return op->u.unlinkat.path == NULL ? -EFAULT : 0;
}

static inline int vl__check_renameat(const vl_op *op)
{
    return op->u.renameat.oldpath == NULL || op->u.renameat.newpath == NULL ? -EFAULT : 0;
}

static inline int vl__check_mkdirat(const vl_op *op)
{
    if ((op->u.mkdirat.mode & ~VL__MODE_BITS) != 0)
        return -EINVAL;
    return op->u.mkdirat.path == NULL ? -EFAULT : 0;
}

/* The address and control areas of a msghdr: sizes the kernel takes, and
 * memory behind each that has a size. */
static inline int vl__check_mh_areas(const vl_msghdr *m)
{
    if (VL__MH_NAMELEN(m) > sizeof(struct sockaddr_storage) || VL__MH_CONTROLLEN(m) > INT32_MAX)
        return -EINVAL;
    if ((VL__MH_NAME(m) == NULL && VL__MH_NAMELEN(m) > 0) ||
        (VL__MH_CONTROL(m) == NULL && VL__MH_CONTROLLEN(m) > 0))
        return -EFAULT;
    return 0;
}

/* SENDMSG, and RECVMSG without VL_OP_F_MULTISHOT: a msghdr with 1 to
 * VL_IOV_MAX entries (the limits of vl__check_iov), no pool. */
static inline int vl__check_sendmsg(const vl_op *op)
{
    const vl_msghdr *m = op->u.mh.msg;
    if (m == NULL || op->u.mh.pool != NULL)
        return -EINVAL;
    uint64_t n = VL__MH_IOVLEN(m);
    if (n == 0 || n > VL_IOV_MAX)
        return -EINVAL;
    if (VL__MH_IOV(m) == NULL)
        return -EFAULT;
    uint64_t total = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t len = VL__MH_IOV_LEN(VL__MH_IOV(m)[k]);
        if (VL__MH_IOV_BASE(VL__MH_IOV(m)[k]) == NULL && len > 0)
            return -EFAULT;
        total += len;
        if (len > INT32_MAX || total > INT32_MAX)
            return -EINVAL;
    }
    return vl__check_mh_areas(m);
}

/* A multishot RECVMSG: a msghdr without entries (the sizes of the name and
 * control areas) and a pool. Whether the pool's buffers leave room for a
 * payload is checked at submit, with the pool's owner. */
static inline int vl__check_recvmsg(const vl_op *op)
{
    if (VL_LIKELY(!vl__op_is_multishot(op)))
        return vl__check_sendmsg(op);
    const vl_msghdr *m = op->u.mh.msg;
    if (m == NULL || op->u.mh.pool == NULL || VL__MH_IOVLEN(m) != 0)
        return -EINVAL;
    if (VL__MH_NAMELEN(m) > sizeof(struct sockaddr_storage) || VL__MH_CONTROLLEN(m) > INT32_MAX)
        return -EINVAL;
    return 0;
}

/*
 * Validate an op in vl_engine_submit, before an id exists, so every
 * synchronous error leaves no trace: no id, no completion (rule 6).
 * Inline into submit (callgrind: an out-of-line indirect call per kind cost
 * 10 of the ~280 user-space instructions a NOP takes); the kinds with
 * nothing to check return before the switch, through a test the compiler
 * makes a bit test.
 */
/* The header's options and modes (<vllsi/engine.h>, VL_OP_F_*), off the
 * common path: -EINVAL for what is malformed, a mode the kind's row does
 * not name, or a link on a multishot op. They are checked before the
 * kind's own fields (which look at the modes). */
static inline int vl__op_validate_options(const vl_op *op)
{
    if (op->reserved != 0 || (op->flags & ~VL_OP_F_ALL) != 0)
        return -EINVAL;
    if ((op->flags & VL__OP_F_MODES & ~vl__op_modes(op->kind)) != 0)
        return -EINVAL;
    if ((op->flags & (VL_OP_F_DEADLINE | VL_OP_F_DEADLINE_ABS)) == VL_OP_F_DEADLINE_ABS)
        return -EINVAL;
    if ((op->flags & (VL_OP_F_DEADLINE | VL_OP_F_DEADLINE_ABS)) == VL_OP_F_DEADLINE &&
        op->deadline_ns < 0)
        return -EINVAL;
    /* A chain member runs once: a multishot op cannot be linked. (An
     * unflagged multishot op that would join an open chain is refused by
     * submit, which knows the chain.) */
    if ((op->flags & (VL_OP_F_LINK | VL_OP_F_MULTISHOT)) == (VL_OP_F_LINK | VL_OP_F_MULTISHOT))
        return -EINVAL;
    /* The poll-first hint is for one recv; a multishot one waits anyway. */
    if ((op->flags & (VL_OP_F_POLL_FIRST | VL_OP_F_MULTISHOT)) ==
        (VL_OP_F_POLL_FIRST | VL_OP_F_MULTISHOT))
        return -EINVAL;
    return 0;
}

static inline int vl__op_validate(const vl_op *op)
{
    /* One test on the common path: no options, reserved 0. */
    if (VL_UNLIKELY((op->flags | op->reserved) != 0)) {
        int rc = vl__op_validate_options(op);
        if (rc != 0)
            return rc;
    }
    if (vl__op_unchecked(op->kind))
        return 0;
    switch (op->kind) {
#define VL__CHECK_CASE(NAME, name) \
    case VL_OP_##NAME:             \
        return vl__check_##name(op);
        VL_OP_KINDS(VL__CHECK_CASE)
#undef VL__CHECK_CASE
    case VL_OP_KIND_COUNT_:
        break;
    }
    return -EINVAL; /* unknown kind, including values outside the enum */
}

#endif
