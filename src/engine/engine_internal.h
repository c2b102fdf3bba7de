/*
 * src/engine/engine_internal.h - the engine object and what the core's
 * files (engine.c, ops.c, loop.c) share beyond driver.h. Drivers do not
 * include it: they see the engine only through driver.h.
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
#include "opdef.h"
#include "timer_heap.h"

/*
 * The engine. Its first member is the part the driver interface inlines
 * over (struct vl__engine_io, driver.h); the rest is the core's alone.
 */
struct vl_engine {
    struct vl__engine_io io; /* first: vl__io(e) is a cast */
    const struct vl_driver *drv;
    /* drv->try_submit, one load closer for vl_engine_submit */
    int64_t (*try_submit)(vl_engine *e, struct vl__slot *s, uint32_t slot, int64_t id);
    /* Submission queue: slot indices, in submit order. A slot is in it at
     * most once, so a ring of cap (rounded to a power of two) never fills. */
    uint32_t *sq;
    uint32_t sq_mask, sq_head, sq_tail;
    /* The next poll must enter the kernel: a try_submit took an op the
     * kernel has not seen, or a wake_from queued a request. */
    bool kick;
    /* vl__engine_set_completes_outside_poll (driver.h) */
    bool completes_outside_poll;
    /* Nonzero sends every submit through the slow path (VL__GATE_*), so
     * that the common submit pays one test for shutdown and chains. */
    uint8_t gate;
    /* The last op submitted to a chain still open (it has VL_OP_F_LINK),
     * or VL__NO_SLOT: the next op submitted joins the chain, and poll
     * ends it (VL__GATE_CHAIN while it is open). */
    uint32_t chain_tail;
    /* Ops with a deadline (VL_OP_F_DEADLINE) by their absolute deadline,
     * which submit keeps in the slot's op.deadline_ns. */
    struct vl__deadline_set deadlines;
    /* The CLOCK_MONOTONIC read poll's latest call made last (after its
     * last wait, or at its entry), INT64_MIN if it made none: see
     * vl__engine_poll_clock. */
    int64_t poll_clock;
    struct vl_bufpool *pools[VL__MAX_POOLS];
    vl_driver_kind kind;
    char reason[160];
};

/* vl_engine.gate */
#define VL__GATE_SHUT  0x1u /* vl_engine_shutdown has begun: submit refuses */
#define VL__GATE_CHAIN 0x2u /* a chain is open: chain_tail is its last op  */

/* Ids issued whose final completion poll has not returned yet: every slot
 * not on the free stack. */
static inline uint32_t vl__engine_alive(const vl_engine *e)
{
    return e->io.cap - e->io.nfree;
}

/* loop.c's embedding: whether the driver holds any op (a completion can
 * still come from the kernel), and whether completions land outside poll
 * (vl__engine_set_completes_outside_poll). */
static inline bool vl__engine_driver_holds_ops(const vl_engine *e)
{
    return e->io.in_driver > 0;
}

static inline bool vl__engine_completes_outside_poll(const vl_engine *e)
{
    return e->completes_outside_poll;
}

/* Keep a cold path out of its caller (whose register saves it would raise). */
#if defined(__GNUC__)
#define VL__NOINLINE __attribute__((noinline))
#else
#define VL__NOINLINE
#endif

#ifndef _WIN32
#include <string.h>
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

/*
 * A multishot RECVMSG's pool buffer (buf, size bytes) in the layout of
 * <vllsi/engine.h>: vl_recvmsg_out, then the name and control areas the
 * op's msghdr tmpl sizes, then the payload. vl__recvmsg_prep points m (and
 * its one entry iov) at the areas for recvmsg(2) or recvmmsg(2) and returns
 * the payload's offset; the submit check made sure size leaves room for a
 * payload. vl__recvmsg_fill writes the header for what that call stored
 * (n bytes: its result) and returns the bytes of buf used.
 */
static inline size_t vl__recvmsg_prep(const struct msghdr *tmpl, uint8_t *buf, uint32_t size,
                                      struct msghdr *m, struct iovec *iov)
{
    size_t nl = tmpl->msg_namelen, cl = tmpl->msg_controllen;
    size_t head = sizeof(vl_recvmsg_out) + nl + cl;
    *iov = (struct iovec){buf + head, size - head};
    memset(m, 0, sizeof(*m));
    m->msg_name = nl ? buf + sizeof(vl_recvmsg_out) : NULL;
    m->msg_namelen = (socklen_t)nl;
    m->msg_iov = iov;
    m->msg_iovlen = 1;
    m->msg_control = cl ? buf + sizeof(vl_recvmsg_out) + nl : NULL;
    m->msg_controllen = cl;
    return head;
}

static inline int64_t vl__recvmsg_fill(uint8_t *buf, const struct msghdr *m, size_t head, size_t n)
{
    vl_recvmsg_out out = {.namelen = m->msg_namelen,
                          .controllen = (uint32_t)m->msg_controllen,
                          .payloadlen = (uint32_t)n,
                          .flags = (uint32_t)m->msg_flags};
    memcpy(buf, &out, sizeof(out));
    size_t room = m->msg_iov[0].iov_len;
    return (int64_t)(head + (n < room ? n : room));
}

/*
 * One message into a pool buffer with one recvmsg(2) of fd (flags as
 * given: the caller adds MSG_DONTWAIT). Returns the bytes of buf used (> 0,
 * even for an empty datagram), 0 at a stream's EOF (stream: the socket is
 * one, where 0 bytes mean EOF), or -errno (-EAGAIN when nothing waits).
 */
static inline int64_t vl__recvmsg_out(int fd, const struct msghdr *tmpl, uint8_t *buf,
                                      uint32_t size, int flags, bool stream)
{
    struct msghdr m;
    struct iovec iov;
    size_t head = vl__recvmsg_prep(tmpl, buf, size, &m, &iov);
    ssize_t n = recvmsg(fd, &m, flags);
    if (n < 0)
        return -errno;
    if (n == 0 && stream)
        return 0;
    return vl__recvmsg_fill(buf, &m, head, (size_t)n);
}
#endif

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
 * vl_engine_poll whose wait also ends by the CLOCK_MONOTONIC instant until
 * (INT64_MAX: no such bound; a past one: no wait) unless timeout_ns is 0:
 * the loop's earliest timer, so that the loop need not read the clock to
 * turn it into a timeout (poll reads it anyway). Same results and errors.
 */
int vl__engine_poll_until(vl_engine *e, int64_t timeout_ns, int64_t until, vl_completion *out,
                          int cap);

/*
 * vl_engine_submit, except that a relative deadline (VL_OP_F_DEADLINE
 * without _ABS) counts from base, a CLOCK_MONOTONIC instant, instead of a
 * clock read at submit: the loop's time, for ops submitted from inside
 * vl_loop_run, as its timers count from it (loop.h). A driver with its own
 * clock (the simulator) ignores base. TIMEOUT durations still count from a
 * read at submit.
 */
int64_t vl__engine_submit_from(vl_engine *e, const vl_op *op, void *user_data, int64_t base);

/*
 * vl_engine_poll_batch's request for the polls that follow, until set back
 * to want 0: a blocking poll may wait up to ns for want completions (see
 * vl_engine_poll_batch). For the loop's gathering wait (vl_loop_set_gather),
 * which sets it around its blocking poll only. The caller checks the range.
 */
void vl__engine_set_gather(vl_engine *e, uint32_t want, int64_t ns);

/* CLOCK_MONOTONIC as of the latest poll's return: the read it made last
 * (after its wait returned, or at its entry when it did not wait, a few
 * instructions before returning), or a fresh read if it made none. For
 * the loop's time, which is read once per poll. */
int64_t vl__engine_poll_clock(const vl_engine *e);

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
