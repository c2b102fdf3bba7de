/*
 * src/engine/reactor.h - the readiness core shared by the readiness drivers
 * (epoll now, kqueue later): it turns "the fd is ready" into completions.
 *
 * The rule is TigerBeetle's: try the op at once without blocking; when the
 * kernel says EAGAIN, park the op on its fd's wait list for the direction it
 * needs (read: READ, RECV, ACCEPT; write: WRITE, SEND, a CONNECT in
 * progress) and ask the backend for one readiness notification; when it
 * comes, run the parked ops in order until one would block again.
 *
 * The core owns, sized once at init from max_inflight:
 *  - an open-addressing hash table keyed by fd (capacity a power of two of at
 *    least 2 * max_inflight, so the load stays at or below one half: an entry
 *    exists only while an op is parked on its fd), each entry holding two
 *    intrusive FIFO lists of slots (linked through slot->drv_next/drv_prev)
 *    and the interest mask the backend currently watches;
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

struct vl__reactor_backend {
    /*
     * Ask for one notification when fd is ready for any direction in want
     * (VL__REACTOR_*). known is false the first time the reactor arms fd
     * since it started tracking it, so the backend may still hold an old,
     * disarmed registration of it (epoll: ADD, and MOD on EEXIST), and true
     * afterwards (epoll: MOD, and ADD on ENOENT). Returns 0; -EPERM when fd
     * cannot be polled at all (a regular file: "always ready", the reactor
     * then runs the op inline); another negative errno fails the ops.
     */
    int (*arm)(void *ctx, int fd, unsigned want, bool known);
    /* Stop watching fd (nothing waits on it any more, or it is closing). */
    void (*disarm)(void *ctx, int fd);
    /*
     * true when a notification disarms every direction of the fd (epoll's
     * EPOLLONESHOT); false when only the reported directions are disarmed
     * (kqueue's per-filter EV_ONESHOT).
     */
    bool event_disarms_all;
};

/* One fd with parked ops. fd < 0 marks a free table entry. */
struct vl__reactor_fd {
    int32_t fd;
    uint8_t armed; /* directions the backend watches now                */
    uint8_t known; /* armed at least once since this entry was made      */
    uint16_t unused_;
    uint32_t head[2]; /* [0] read list, [1] write list; UINT32_MAX: empty */
    uint32_t tail[2];
};

struct vl__reactor {
    vl_engine *e;
    const struct vl__reactor_backend *be;
    void *ctx; /* the backend's first argument */
    struct vl__reactor_fd *tab;
    uint32_t mask; /* table capacity - 1 */
    struct vl__timer_heap timers;
    bool inline_run; /* running an op on an fd epoll refuses (no faults there) */
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
 * count as both: the ops then report them). Runs the parked ops, re-arms.
 */
void vl__reactor_ready(struct vl__reactor *r, int fd, unsigned ready);

/* How long a wait may block: timeout_ns (< 0 forever) cut to the earliest timer. */
int64_t vl__reactor_timeout(const struct vl__reactor *r, int64_t timeout_ns);

/* Complete (with 0) every TIMEOUT whose deadline has passed. */
void vl__reactor_expire(struct vl__reactor *r);

#endif
