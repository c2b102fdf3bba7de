/*
 * src/engine/driver.h - what a driver implements and what the engine core
 * gives it. One const struct vl_driver per file in src/drivers/; everything
 * else in a driver is static.
 *
 * The core owns the op table, the ids, the submission queue and the
 * completion queue. A driver only ever sees slot indices: the core hands it
 * ops in submission order (submit), asks it to cancel one (cancel), and lets
 * it block in the kernel (wait). The driver reports every finished op exactly
 * once with vl__engine_complete() (or, reaping inside wait, with
 * vl__engine_deliver() or a vl__direct run, which may hand the completion
 * straight to the caller of vl_engine_poll). Multishot ops report several
 * times with VL_CQE_MORE (room permitting, vl__engine_cq_room); only the last
 * one frees the slot.
 */
#ifndef VLLSI_ENGINE_DRIVER_H
#define VLLSI_ENGINE_DRIVER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vllsi/engine.h>

#include "opdef.h"

/* Internal user_data for driver-private kernel requests (wake reads, cancels
 * issued by shutdown): never a valid id, because ids never have bit 63 set. */
#define VL__INTERNAL_TAG (1ull << 63)

struct vl__slot;

struct vl_driver {
    const char *name;
    vl_driver_kind kind;
    /* submit only queues for the kernel (io_uring's SQ): poll must enter the
     * kernel even when completions are already waiting. false: submit acts
     * at once (epoll, IOCP, sync), and that extra wait would be a wasted
     * system call. */
    bool buffers_submissions;
    /* The op kinds the kernel carries out as such on this driver:
     * vl_engine_stats counts them native, less what the driver reports
     * emulated through vl__engine_stats(e)->not_native. None: every op is
     * emulated. */
    struct vl__kindset native_kinds;
    /*
     * Set the driver up for e (store its state in e->drv). 0, or a negative
     * errno; on failure write a one-line reason into reason[len] and leave
     * nothing behind. cfg has been validated and its defaults filled in.
     */
    int (*init)(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len);
    /* Release everything init made. Called once, after the last op completed. */
    void (*fini)(vl_engine *e);
    /*
     * Take slot (the op is vl__engine_slot(e, slot)->op). The driver may finish
     * it at once (vl__engine_complete) or later. 0, or -EBUSY when it cannot
     * take more right now (the core keeps the op queued and retries after
     * the next wait).
     */
    int (*submit)(vl_engine *e, uint32_t slot);
    /*
     * Optional fast path, vl_engine_submit's last act (a tail call, so the
     * submit pays for no register saves) when nothing is queued before the
     * op. The core has already done what taking the op means: slot is
     * INFLIGHT and counted in in_driver, and kick is set. Take slot now if
     * that needs no system call and cannot complete it (io_uring: write its
     * SQE, which the next poll's io_uring_enter submits with the rest) and
     * return id, which vl_engine_submit returns. Otherwise return
     * vl__engine_requeue(e, slot, id): the op waits in the core's queue for
     * submit at the next poll. s is vl__engine_slot(e, slot).
     */
    int64_t (*try_submit)(vl_engine *e, struct vl__slot *s, uint32_t slot, int64_t id);
    /*
     * Cancel slot, which the driver holds (shutdown, CLOSE of its fd). The
     * target must still complete exactly once (-ECANCELED, or its real result
     * if it had already finished). Returns 0 when the cancellation is under
     * way or done.
     */
    int (*cancel)(vl_engine *e, uint32_t slot);
    /*
     * Push what the driver has buffered to the kernel, then wait up to
     * timeout_ns (<0 forever, 0 not at all) for at least one completion or a
     * wake, and report completions. Returns 0 or a negative errno; -EINTR
     * when a signal cut the wait short.
     */
    int (*wait)(vl_engine *e, int64_t timeout_ns);
    /* Make a blocked wait return. Called from any thread. */
    int (*wake)(vl_engine *e);
    /*
     * Buffer pools (optional: NULL means the core's user-space free list
     * serves every pool). pool_add: take p over natively (e.g. register a
     * provided-buffer ring) and set p->native; 0 also when the driver
     * declines (p->native stays false), a negative errno to fail the
     * create. pool_put: the caller released buffer bid of a native pool.
     * pool_remove: undo pool_add (no op uses p any more).
     */
    int (*pool_add)(vl_engine *e, struct vl_bufpool *p);
    /*
     * Optional: make to's poll return, through from (an engine of the same
     * driver, used on its own thread), without a system call now: io_uring
     * queues an IORING_OP_MSG_RING that from's next poll submits. 0, or a
     * negative errno (the core then uses to's wake).
     */
    int (*wake_from)(vl_engine *from, vl_engine *to);
    void (*pool_put)(vl_engine *e, struct vl_bufpool *p, uint32_t bid);
    void (*pool_remove)(vl_engine *e, struct vl_bufpool *p);
    /*
     * Optional (embedding: vl_loop_backend_fd): a descriptor that polls
     * readable while a wait(e, 0) would find something the driver holds: a
     * completion, a wake, a due TIMEOUT, work the kernel runs only inside a
     * wait (io_uring's DEFER_TASKRUN task work). Made at the first call,
     * closed by fini; nothing of it exists, and the hot path pays nothing
     * for it, until a host asks. Every call, on the polling thread between
     * polls, also brings it up to date for a host about to sleep on it:
     * pushes what the driver still buffers to the kernel, re-arms what
     * must be re-armed (epoll: its timerfd to the earliest TIMEOUT), and
     * sets *ready when a wait would find something the descriptor cannot
     * show (io_uring: CQEs posted before the eventfd was reset). Returns
     * the descriptor or a negative errno. NULL: no such descriptor (the
     * loop then falls back to a tick; see loop.h).
     */
    int (*event_fd)(vl_engine *e, bool *ready);
};

/*
 * A buffer pool. Buffers are in the pool or held by the caller (out[] bit
 * set). A non-native pool keeps its free buffers on a stack (LIFO: the
 * buffer used last is the warmest in cache) that drivers take from at read
 * time; a native pool's free buffers are with the kernel.
 */
struct vl_bufpool {
    vl_engine *e;
    uint8_t *mem;    /* count * stride bytes                         */
    size_t map_len;  /* what vl_os_alloc mapped                      */
    uint32_t count;  /* a power of two                               */
    uint32_t size;   /* the caller's buffer size                     */
    uint32_t stride; /* size rounded up to 64 bytes, + 64 if pages  */
    uint32_t avail;  /* buffers not held by the caller               */
    uint32_t users;  /* live ops naming this pool                    */
    uint16_t group;  /* the engine's index for it (io_uring bgid)    */
    bool native;     /* the driver owns the free buffers             */
    uint32_t nfree;  /* free stack depth (io_uring: the spares)     */
    uint32_t *free;  /* free stack of buffer ids                     */
    uint64_t *out;   /* one bit per buffer: held by the caller       */
    void *drv;       /* the driver's per-pool state (native pools)   */
};

#define VL__MAX_POOLS 64u

static inline uint8_t *vl__pool_buf(const struct vl_bufpool *p, uint32_t bid)
{
    return p->mem + (size_t)bid * p->stride;
}

/* Hand buffer bid to the caller (a completion names it). */
static inline void vl__pool_mark_out(struct vl_bufpool *p, uint32_t bid)
{
    p->out[bid >> 6] |= 1ull << (bid & 63);
    p->avail--;
}

/* Non-native pools: take a free buffer for a read (false: the pool is empty).
 * (The io_uring driver keeps a native pool's spare buffers on the same
 * stack, see struct uring_pool.) */
static inline bool vl__pool_take(struct vl_bufpool *p, uint32_t *bid)
{
    if (p->nfree == 0)
        return false;
    *bid = p->free[--p->nfree];
    return true;
}

/* Put a free buffer on the stack (non-native pools: one taken but not handed
 * out, EAGAIN or EOF; io_uring native pools: a released spare). */
static inline void vl__pool_untake(struct vl_bufpool *p, uint32_t bid)
{
    p->free[p->nfree++] = bid;
}

/* The op table entry, shared by the core and the drivers. */
enum vl__slot_state {
    VL__SLOT_FREE = 0,
    VL__SLOT_QUEUED,   /* in the engine's submission queue     */
    VL__SLOT_INFLIGHT, /* handed to the driver                  */
    VL__SLOT_DONE,     /* completion waiting in the core's CQ   */
};

/* vl__slot.core_flags */
#define VL__SLOT_CANCEL_REQUESTED 0x1u /* a CANCEL for this slot went to the driver */

/* Bytes of typed driver state per slot (see VL__SLOT_DRV). */
#define VL__SLOT_DRV_SIZE 32u

struct vl__slot {
    vl_op op;
    void *user_data;
    int64_t result;
    uint64_t deadline_ns; /* TIMEOUT: the monotonic time it may fire      */
    uint32_t gen;         /* generation: the id's upper half               */
    uint32_t state;       /* enum vl__slot_state                            */
    uint32_t cqe_flags;
    uint32_t target;     /* CANCEL: the target slot, or UINT32_MAX if none */
    uint32_t core_flags; /* VL__SLOT_* bits the core keeps                  */
    /* The core's timer heap (timer_heap.h): the slot's position in it and
     * its insertion number, which orders equal deadlines. */
    uint32_t timer_pos;
    uint64_t timer_seq;
    /* Scratch the driver owns while the slot is INFLIGHT (links, indices). */
    uint32_t drv_next;
    uint32_t drv_prev;
    uint32_t drv_index;
    uint32_t drv_flags;
    union {
        uint64_t u64[2];
        struct {
            int64_t tv_sec;
            long long tv_nsec;
        } ts; /* io_uring TIMEOUT keeps its timespec here until submitted */
    } drv_data;
    /* The driver's typed state while it holds the slot: a driver defines
     * its own struct and reaches it through VL__SLOT_DRV (below), which
     * checks at compile time that the struct fits. */
    union {
        uint64_t align_;
        unsigned char bytes[VL__SLOT_DRV_SIZE];
    } drv;
    /* Pads the slot to 192 bytes, three cache lines (64-bit hosts), a
     * multiple of 64 that keeps every slot's op on a line of its own. */
    uint64_t pad_[1];
};
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(offsetof(struct vl__slot, pad_) == 184, "a slot uses 184 bytes on 64-bit hosts");
_Static_assert(sizeof(struct vl__slot) == 192, "a slot is 192 bytes on 64-bit hosts");
#endif
/*
 * The driver's state in slot s as a pointer to type (a struct the driver
 * defines, at most VL__SLOT_DRV_SIZE bytes, 8-byte aligned at most): the
 * driver owns it while it holds the slot and finds it uninitialised when
 * it takes one.
 */
#define VL__SLOT_DRV(s, type)                                                           \
    ((void)sizeof(struct {                                                              \
         _Static_assert(sizeof(type) <= VL__SLOT_DRV_SIZE, #type " fits a slot");       \
         _Static_assert(_Alignof(type) <= _Alignof(uint64_t), #type " alignment fits"); \
         int ok_;                                                                       \
     }),                                                                                \
     (type *)(void *)(s)->drv.bytes)

/* vl__direct_slot reads gen and state as one 64-bit word. */
_Static_assert(offsetof(struct vl__slot, state) == offsetof(struct vl__slot, gen) + 4,
               "state follows gen");

/* A completion waiting for poll: multishot ops may queue several per slot.
 * flags carries the public VL_CQE_* bits and the buffer id in bits 16..31. */
struct vl__cqe {
    uint32_t slot;
    uint32_t flags;
    int64_t result;
};

/*
 * The counters behind vl_engine_stats (<vllsi/engine.h> says what each
 * means). The core counts submitted[] (one increment per submit), the
 * VL_CQE_MORE completions (only multishot ops make them) and its cold
 * paths; drivers count per system call or on cold paths, never per op,
 * through vl__engine_stats.
 */
struct vl__stats {
    uint64_t submitted[VL_STATS_KINDS];
    uint64_t more;       /* VL_CQE_MORE completions made (the final ones are derived) */
    uint64_t not_native; /* ops of native_kinds the engine carried out itself */
    /* System calls that could block, and the others (kernel_enters is the
     * sum: one increment per call), and what they collected. */
    uint64_t kernel_waits, kernel_nowait, kernel_completions;
    uint64_t busy_refusals, driver_busy;
    uint64_t cq_overflow, cq_deferred;
    uint64_t pool_starved, pool_rearmed;
    /* io_uring: the CQ ring's overflow counter (cq.koverflow), which the
     * kernel keeps in memory shared with us; NULL elsewhere. */
    const unsigned *kernel_dropped;
};

/*
 * The engine object. Drivers read it only through the inline accessors
 * below; it is defined here so those compile to a load or two on the hot
 * path (a call across files per op cost ~10% of NOP throughput).
 */
struct vl_engine {
    const struct vl_driver *drv;
    /* drv->try_submit, one load closer for vl_engine_submit */
    int64_t (*try_submit)(vl_engine *e, struct vl__slot *s, uint32_t slot, int64_t id);
    void *drv_state;
    struct vl__slot *slots;
    uint32_t cap;       /* max_inflight: number of slots                            */
    uint32_t alive;     /* ids issued whose final completion poll has not returned */
    uint32_t in_driver; /* slots the driver holds (INFLIGHT)                         */
    uint32_t *free;     /* stack of free slot indices                                */
    uint32_t nfree;
    /* Submission queue: slot indices, in submit order. A slot is in it at
     * most once, so a ring of cap (rounded to a power of two) never fills. */
    uint32_t *sq;
    uint32_t sq_mask, sq_head, sq_tail;
    /* Completion queue, twice the slot ring: single-shot ops queue one entry
     * per slot, so half of it always holds every final completion; multishot
     * ops queue VL_CQE_MORE entries only while vl__engine_cq_room says so. */
    struct vl__cqe *cq;
    uint32_t cq_mask, cq_head, cq_tail;
    uint32_t cq_reserve; /* entries kept for final completions (the slot ring) */
    /* The caller's completion array while vl_engine_poll waits in the driver
     * (out_cap 0 otherwise): vl__engine_deliver writes into it directly while
     * the core's CQ is empty, which saves a copy through the CQ per op. */
    vl_completion *out;
    uint32_t out_n, out_cap;
    /* vl_engine_poll_batch's request while it runs (want 0 otherwise): a
     * driver that can may wait for gather_want completions up to gather_ns. */
    uint32_t gather_want;
    int64_t gather_ns;
    struct vl_bufpool *pools[VL__MAX_POOLS];
    bool shut;
    bool woken;
    bool kick; /* the driver queued an internal request: enter the kernel at the next poll */
    /* Completions may land while no poll runs (io_uring without
     * DEFER_TASKRUN: task work runs at any system call's return), so an fd
     * turning readable does not mean the next poll sees its op complete. */
    bool completes_outside_poll;
    vl_driver_kind kind;
    char reason[160];
    struct vl__stats st; /* last: only submitted[] is touched per op */
};

/* Generations wrap below 2^31, so ids never have bit 63 set. */
#define VL__GEN_MAX 0x7fffffffu

static inline struct vl__slot *vl__engine_slot(vl_engine *e, uint32_t slot)
{
    return &e->slots[slot];
}

/* The driver's state pointer. */
static inline void **vl__engine_drv(vl_engine *e)
{
    return &e->drv_state;
}

static inline uint32_t vl__engine_capacity(const vl_engine *e)
{
    return e->cap;
}

/* The id of slot (for io_uring user_data): (generation << 32) | slot. */
static inline uint64_t vl__engine_slot_id(vl_engine *e, uint32_t slot)
{
    return ((uint64_t)e->slots[slot].gen << 32) | slot;
}

/* id -> slot for a live id; false for stale, internal or unknown ids. */
static inline bool vl__engine_id_slot(vl_engine *e, uint64_t id, uint32_t *slot)
{
    uint32_t i = (uint32_t)id;
    uint64_t gen = id >> 32;
    if (gen == 0 || gen > VL__GEN_MAX || i >= e->cap)
        return false;
    if (e->slots[i].gen != gen || e->slots[i].state == VL__SLOT_FREE)
        return false;
    *slot = i;
    return true;
}

/* try_submit declined slot: undo the take and queue the op for the next
 * poll (nothing can be queued before it). Returns id, for the tail call. */
static inline int64_t vl__engine_requeue(vl_engine *e, uint32_t slot, int64_t id)
{
    e->slots[slot].state = VL__SLOT_QUEUED;
    e->in_driver--;
    e->sq[e->sq_tail++ & e->sq_mask] = slot;
    return id;
}

/* Report the op in slot finished with result (a negative errno or >= 0).
 * Exactly once per slot; VL_CQE_MORE marks a non-final (multishot) one. */
static inline void vl__engine_complete(vl_engine *e, uint32_t slot, int64_t result, uint32_t flags)
{
    struct vl__slot *s = &e->slots[slot];
    struct vl__cqe *c = &e->cq[e->cq_tail++ & e->cq_mask];
    c->slot = slot;
    c->flags = flags;
    c->result = result;
    if (flags & VL_CQE_MORE) {
        e->st.more++;
        return;
    }
    if (s->state == VL__SLOT_INFLIGHT)
        e->in_driver--;
    s->state = VL__SLOT_DONE;
}

/*
 * The slot's final completion (result) has reached the caller: free the slot (its id
 * goes stale) and put it back on the free stack, hot end first.
 */
static inline void vl__engine_release(vl_engine *e, uint32_t slot, int64_t result)
{
    struct vl__slot *s = &e->slots[slot];
    if (VL_UNLIKELY(vl__op_has_pool(&s->op))) {
        s->op.u.msg.pool->users--;
        e->st.pool_starved += result == -ENOBUFS; /* every driver's starvation, counted once */
    }
    s->state = VL__SLOT_FREE;
    e->free[e->nfree++] = slot;
    e->alive--;
}

/* How many completions vl__engine_deliver can write straight into the
 * caller's array now: none unless poll lent one and the core's CQ is empty
 * (anything queued there came first and must reach the caller first). */
static inline uint32_t vl__engine_direct_room(const vl_engine *e)
{
    return e->cq_head == e->cq_tail ? e->out_cap - e->out_n : 0;
}

/*
 * vl__engine_complete for a driver reaping inside its wait: the same report
 * (exactly once, VL_CQE_MORE for a non-final one), but written straight into
 * the array the caller gave vl_engine_poll when vl__engine_direct_room allows,
 * so the completion skips the core's CQ; a final one then frees its slot at
 * once, as drain would. Otherwise it queues, exactly as vl__engine_complete.
 */
static inline void vl__engine_deliver(vl_engine *e, uint32_t slot, int64_t result, uint32_t flags)
{
    if (vl__engine_direct_room(e) == 0) {
        vl__engine_complete(e, slot, result, flags);
        return;
    }
    struct vl__slot *s = &e->slots[slot];
    vl_completion *c = &e->out[e->out_n++];
    c->id = ((uint64_t)s->gen << 32) | slot;
    c->result = result;
    c->flags = flags;
    c->user_data = s->user_data;
    if (flags & VL_CQE_MORE) {
        e->st.more++;
        return;
    }
    if (s->state == VL__SLOT_INFLIGHT)
        e->in_driver--;
    vl__engine_release(e, slot, result);
}

/*
 * A run of direct deliveries, for a reaper that hands over many final
 * completions of single-shot ops in a row (io_uring's CQ after a batch).
 * The run keeps the free stack's top and the caller's array position in
 * locals, so between vl__direct_begin and vl__direct_end nothing else may
 * touch the engine: end the run first.
 */
struct vl__direct {
    struct vl__slot *slots;
    uint32_t *free_top;   /* the free stack's next entry              */
    vl_completion *start; /* the caller's array at the run's start    */
    vl_completion *out;   /* its next entry                           */
    vl_completion *end;   /* the end of what the run may fill         */
    uint32_t cap;         /* slots                                    */
};                        /* start, out and end are NULL without room */

static inline void vl__direct_begin(vl_engine *e, struct vl__direct *r)
{
    uint32_t room = vl__engine_direct_room(e);
    r->slots = e->slots;
    r->free_top = e->free + e->nfree;
    r->start = room > 0 ? e->out + e->out_n : NULL;
    r->out = r->start;
    r->end = room > 0 ? r->start + room : NULL;
    r->cap = e->cap;
}

/* Every completion the run wrote was final and freed an INFLIGHT slot. */
static inline void vl__direct_end(vl_engine *e, const struct vl__direct *r)
{
    if (r->out == r->start)
        return;
    uint32_t done = (uint32_t)(r->out - r->start);
    e->out_n += done;
    e->nfree = (uint32_t)(r->free_top - e->free);
    e->alive -= done;
    e->in_driver -= done;
}

/* The slot of a live id whose op the driver holds (INFLIGHT), or NULL:
 * stale, internal and unknown ids (a generation that matches proves the id
 * well formed, since slot generations are always 1..VL__GEN_MAX). */
static inline struct vl__slot *vl__direct_slot(const struct vl__direct *r, uint64_t id,
                                               uint32_t *slot)
{
    uint32_t i = (uint32_t)id;
    if (i >= r->cap)
        return NULL;
    struct vl__slot *s = &r->slots[i];
    /* gen and state, compared as one word (any byte order) */
    const uint32_t live[2] = {(uint32_t)(id >> 32), VL__SLOT_INFLIGHT};
    uint64_t have, want;
    memcpy(&have, (const unsigned char *)s + offsetof(struct vl__slot, gen), sizeof(have));
    memcpy(&want, live, sizeof(want));
    if (have != want)
        return NULL;
    *slot = i;
    return s;
}

/* Room for one more completion in this run? */
static inline bool vl__direct_room(const struct vl__direct *r)
{
    return r->out != r->end;
}

/*
 * The final completion of the single-shot op in s (slot, id its current id,
 * INFLIGHT) straight into the caller's array, freeing the slot. Only when
 * vl__direct_room said so.
 */
static inline void vl__direct_final(struct vl__direct *r, struct vl__slot *s, uint32_t slot,
                                    uint64_t id, int64_t result)
{
    vl_completion *c = r->out++;
    c->id = id;
    c->result = result;
    c->flags = 0;
    c->user_data = s->user_data;
    s->state = VL__SLOT_FREE;
    *r->free_top++ = slot;
}

/* Whether a multishot op may queue one more VL_CQE_MORE completion now.
 * When not, the driver leaves the data where it is (the kernel's CQ, the
 * socket) and delivers it after the caller's next poll drained the queue. */
static inline bool vl__engine_cq_room(const vl_engine *e)
{
    return e->cq_tail - e->cq_head + e->cq_reserve < e->cq_mask + 1;
}

/* The engine's counters, for a driver to add to (see struct vl__stats). */
static inline struct vl__stats *vl__engine_stats(vl_engine *e)
{
    return &e->st;
}

/* Tell the core a vl_engine_wake arrived, so poll returns instead of waiting
 * on (drivers call it from wait, on the polling thread). */
static inline void vl__engine_note_wake(vl_engine *e)
{
    e->woken = true;
}

/* The drivers this build has (one file each in src/drivers). */
extern const struct vl_driver vl__driver_uring;
extern const struct vl_driver vl__driver_epoll;

#endif
