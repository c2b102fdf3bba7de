/*
 * src/engine/reactor.h - the readiness core shared by the readiness drivers
 * (epoll now, kqueue later): it turns "the fd is ready" into completions.
 *
 * The rule is TigerBeetle's: try the op at once without blocking; when the
 * kernel says EAGAIN, park the op on its fd's wait list for the direction it
 * needs (read: READ, RECV, ACCEPT; write: WRITE, SEND, a CONNECT in
 * progress) and have the backend watch the fd, edge-triggered; when an edge
 * comes, run the parked ops in order until one would block again.
 *
 * The core owns, sized once at init from max_inflight:
 *  - an open-addressing hash table keyed by fd (capacity a power of two of at
 *    least 2 * max_inflight, so the load stays at or below one half: an entry
 *    exists only while an op is parked on its fd), each entry holding two
 *    intrusive FIFO lists of slots (linked through slot->drv_next/drv_prev)
 *    and the interest mask the backend watches;
 *  - the timer heap for TIMEOUT (slot->drv_index is the heap position).
 *
 * It calls the OS only for the ops themselves (recv, send, accept4, connect,
 * pread, preadv2, close, ...): readiness goes through struct
 * vl__reactor_backend, which the driver implements (epoll_ctl, kevent).
 */
#ifndef VLLSI_ENGINE_REACTOR_H
#define VLLSI_ENGINE_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "driver.h"
#include "timer_heap.h"

/* Directions, as a mask. */
#define VL__REACTOR_READ  0x1u
#define VL__REACTOR_WRITE 0x2u
/*
 * Only in what a backend reports to vl__reactor_ready: the peer will send
 * nothing more (epoll EPOLLRDHUP/EPOLLHUP, kqueue EV_EOF), so a read past
 * the queued data finds EOF. Edge-triggered, the FIN that queued the EOF
 * made its edge once: an op that reads a stream short (its data is gone)
 * may wait for the next edge only while this was never reported, or the
 * EOF behind the data would never be seen.
 */
#define VL__REACTOR_HUP   0x4u

struct vl__reactor_backend {
    /*
     * Make the backend watch fd for the directions in want (VL__REACTOR_*)
     * with an edge-triggered registration that stays until the file closes
     * or disarm: a notification does not disarm it, so an fd with a
     * long-lived op (a multishot RECV) is registered once. Tag the fd's events
     * with tag from now on, and look at the fd's state now, so that one
     * already ready reports at once (epoll: MOD, and ADD on ENOENT, whether
     * or not the fd was registered before). Returns 0; -EPERM when fd cannot
     * be polled at all (a regular file: "always ready", the reactor then
     * runs the op inline); another negative errno fails the ops.
     */
    int (*arm)(void *ctx, int fd, unsigned want, uint32_t tag);
    /* Stop watching fd (it is closing). */
    void (*disarm)(void *ctx, int fd);
};

/*
 * One fd with parked ops. fd < 0 marks a free table entry.
 *
 * Edge-triggered, a notification means "something changed": the parked ops
 * run until one meets EAGAIN, and only then may they wait for the next edge
 * without help. An op that stops without having seen EAGAIN (a burst limit,
 * a full completion queue, a blocking fd that may be read once per
 * notification, an injected fault) leaves its direction in recheck, and the
 * next settle has the backend look at the level again.
 */
struct vl__reactor_fd {
    int32_t fd;
    uint32_t tag;    /* the tag of the latest arm: other events are stale  */
    uint8_t armed;   /* directions the registration watches (only grows)   */
    uint8_t recheck; /* directions whose readiness is unknown: arm again   */
    uint8_t hup;     /* VL__REACTOR_HUP was reported: EOF follows the data */
    uint8_t unused_;
    uint32_t head[2]; /* [0] read list, [1] write list; UINT32_MAX: empty */
    uint32_t tail[2];
};

/*
 * What the reactor remembers of an fd number between ops (direct-mapped by
 * number, so another number may take the entry): whether it is a stream
 * socket (asked once), and whether its last single-shot RECV came back short,
 * i.e. took everything there was, with no read event for the number since.
 * A RECV submitted while that holds parks without trying a read that could
 * only say EAGAIN. Safe whatever the hint says: a parked op's registration
 * is armed (or re-armed) as always, and arming reports an fd that is ready.
 */
struct vl__reactor_hint {
    int32_t fd;      /* -1: empty                                   */
    uint8_t stream;  /* SOCK_STREAM: a short read means drained      */
    uint8_t drained; /* short RECV, no read event since              */
    uint16_t unused_;
};

struct vl__reactor {
    vl_engine *e;
    const struct vl__reactor_backend *be;
    void *ctx; /* the backend's first argument */
    struct vl__reactor_fd *tab;
    struct vl__reactor_hint *hints; /* mask + 1 entries, by fd number */
    uint32_t mask;                  /* table capacity - 1 */
    struct vl__timer_heap timers;
    uint32_t next_tag; /* tags registrations, so stale events are told apart */
    bool inline_run;   /* running an op on an fd epoll refuses (no faults there) */
};

/* Allocate for max_inflight slots. 0 or -ENOMEM (nothing left behind). */
int vl__reactor_init(struct vl__reactor *r, vl_engine *e, uint32_t max_inflight,
                     const struct vl__reactor_backend *be, void *ctx);
void vl__reactor_fini(struct vl__reactor *r);

/* Take an op from the core: finish it now, park it, or start its timer. */
void vl__reactor_submit(struct vl__reactor *r, uint32_t slot);

/* Complete slot (parked or timing) with -ECANCELED. 0, or -ENOENT if not held. */
int vl__reactor_cancel(struct vl__reactor *r, uint32_t slot);

/*
 * The backend saw fd ready for the directions in ready (errors and hangups
 * count as both: the ops then report them; VL__REACTOR_HUP besides when the
 * peer will send no more), on the registration armed with tag. Runs the parked ops. An event whose
 * tag is not the fd's latest is ignored: it comes from a registration the reactor has moved on from
 * (one left on a file that a dup kept open after its number was closed and reused), and the state
 * it reports is not this fd's.
 */
void vl__reactor_ready(struct vl__reactor *r, int fd, uint32_t tag, unsigned ready);

/* How long a wait may block: timeout_ns (< 0 forever) cut to the earliest timer. */
int64_t vl__reactor_timeout(const struct vl__reactor *r, int64_t timeout_ns);

/* Complete (with 0) every TIMEOUT whose deadline has passed. */
void vl__reactor_expire(struct vl__reactor *r);

#endif
