/*
 * src/engine/driver.h - the driver interface: what a driver implements
 * (struct vl_driver) and what the engine core gives it (the vl__engine_*
 * and vl__batch_* functions below). One const struct vl_driver per file in
 * src/drivers/; everything else in a driver is static. The engine object
 * itself is the core's (engine_internal.h): a driver sees slots, its own
 * state pointer and the calls below, nothing else.
 *
 * The core owns the op table, the ids, the submission queue and the
 * completion queue. A driver only ever sees slot indices: the core hands it
 * ops in submission order (submit), asks it to cancel one (cancel), and lets
 * it block in the kernel (wait). The driver reports every finished op
 * exactly once, with vl__engine_complete (one op) or a vl__batch run (many
 * single-shot ops reaped together); multishot ops report several times with
 * VL_CQE_MORE (room permitting, vl__engine_cq_room), and only the last
 * report frees the slot. While it holds a slot the driver keeps its per-op
 * state in the slot's typed area (VL__SLOT_DRV).
 *
 * Required: init, fini, submit, cancel, wait, wake. The rest are optional
 * capabilities, NULL or false when a driver lacks them, and the core then
 * does without (each says what it costs or gives).
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
    /* The op kinds the kernel carries out as such on this driver:
     * vl_engine_stats counts them native, less what the driver reports
     * emulated through vl__engine_stats(e)->not_native. None: every op is
     * emulated. */
    struct vl__kindset native_kinds;

    /* ---- required ---- */

    /*
     * Set the driver up for e (store its state with vl__engine_drv). 0, or a
     * negative errno; on failure write a one-line reason into reason[len]
     * and leave nothing behind. cfg has been validated and its defaults
     * filled in.
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

    /* ---- optional capabilities ---- */

    /* Every op runs to completion inside submit (the sync driver): nothing
     * can end one early, so submit answers -EOPNOTSUPP for an op with a
     * deadline (VL_OP_F_DEADLINE). */
    bool runs_to_completion;
    /* The driver's clock for deadlines, in nanoseconds (the simulator's
     * virtual time). NULL: CLOCK_MONOTONIC (vl_time_monotonic_ns). */
    int64_t (*now)(vl_engine *e);

    /* Submissions are batched: submit only queues for the kernel (io_uring's
     * SQ), so poll must enter the kernel even when completions are already
     * waiting. false: submit acts at once (epoll, IOCP, sync), and that
     * extra wait would be a wasted system call. */
    bool buffers_submissions;
    /*
     * Taking an op at submit time, vl_engine_submit's last act (a tail call,
     * so the submit pays for no register saves) when nothing is queued
     * before the op. The core has already done what taking the op means:
     * slot is INFLIGHT and counted as held, and the next poll will enter
     * the kernel. Take slot now if that needs no system call and cannot
     * complete it (io_uring: write its SQE, which the next poll's
     * io_uring_enter submits with the rest) and return id, which
     * vl_engine_submit returns. Otherwise return vl__engine_requeue(e, slot,
     * id): the op waits in the core's queue for submit at the next poll. s
     * is vl__engine_slot(e, slot). NULL: every op waits for the next poll's
     * submit.
     */
    int64_t (*try_submit)(vl_engine *e, struct vl__slot *s, uint32_t slot, int64_t id);
    /*
     * The end of a run of submit calls (the core's flush of its queue, at
     * the start of a poll), before anything of the caller's runs again:
     * the driver gives back what it held for the whole run (the readiness
     * core: SIGPIPE, blocked from the run's first SENDFILE or SPLICE call,
     * struct vl__reactor's sigpipe). Every submit call is followed by one
     * such call. NULL: nothing to give back.
     */
    void (*submitted)(vl_engine *e);
    /*
     * Wake another engine of the same driver without a system call now:
     * make to's poll return through from (used on its own thread); io_uring
     * queues an IORING_OP_MSG_RING that from's next poll submits. 0, or a
     * negative errno. NULL (or an error): the core uses to's wake.
     */
    int (*wake_from)(vl_engine *from, vl_engine *to);
    /*
     * Kernel-managed buffer pools. pool_add: take p over natively (e.g.
     * register a provided-buffer ring) and set p->native; 0 also when the
     * driver declines (p->native stays false), a negative errno to fail the
     * create. pool_put: the caller released buffer bid of a native pool.
     * pool_remove: undo pool_add (no op uses p any more). NULL: the core's
     * user-space free list serves every pool, and the driver takes buffers
     * from it at read time (vl__pool_take).
     */
    int (*pool_add)(vl_engine *e, struct vl_bufpool *p);
    void (*pool_put)(vl_engine *e, struct vl_bufpool *p, uint32_t bid);
    void (*pool_remove)(vl_engine *e, struct vl_bufpool *p);
    /*
     * Embedding (vl_loop_backend_fd): a descriptor that polls readable
     * while a wait(e, 0) would find something the driver holds: a
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
    /*
     * Registered files (vl_engine_fd_register, vl_engine_fd_unregister):
     * add fd (add) or remove it; the core has checked e and fd >= 0.
     * 0 or a negative errno. NULL: the driver keeps no table, and both
     * calls answer 0.
     */
    int (*fd_table)(vl_engine *e, int fd, bool add);
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
    VL__SLOT_LINKED,   /* a chain member waiting for its predecessor (VL_OP_F_LINK) */
};

/* vl__slot.core_flags */
#define VL__SLOT_CANCEL_REQUESTED 0x1u /* a CANCEL for this slot went to the driver */
#define VL__SLOT_IN_DEADLINES     0x2u /* in the core's deadline set                */
#define VL__SLOT_TIMED_OUT        0x4u /* its deadline fired: -ECANCELED reads -ETIMEDOUT */
#define VL__SLOT_CHAIN_CUT        0x8u /* a CANCEL asked for it: its chain ends after it */

/* Bytes of typed driver state per slot (see VL__SLOT_DRV). */
#define VL__SLOT_DRV_SIZE 32u

struct vl__slot {
    vl_op op;
    void *user_data;
    uint64_t deadline_ns; /* TIMEOUT: the monotonic time it may fire      */
    uint32_t gen;         /* generation: the id's upper half               */
    uint32_t state;       /* enum vl__slot_state                            */
    uint32_t target;      /* CANCEL: the target slot, or UINT32_MAX if none */
    uint32_t core_flags;  /* VL__SLOT_* bits the core keeps                  */
    /* The core's timer heap (timer_heap.h): the slot's position in it and
     * its insertion number, which orders equal deadlines. */
    uint32_t timer_pos;
    /* The same for the core's deadline set (an op with VL_OP_F_DEADLINE,
     * whose absolute deadline the core keeps in op.deadline_ns): a heap
     * position or a list (timer_heap.h). */
    uint32_t deadline_pos;
    uint64_t timer_seq;
    uint64_t deadline_seq;
    /* The driver's typed state while it holds the slot: a driver defines
     * its own struct and reaches it through VL__SLOT_DRV (below), which
     * checks at compile time that the struct fits. */
    union {
        uint64_t align_;
        unsigned char bytes[VL__SLOT_DRV_SIZE];
    } drv;
    /* A chain (VL_OP_F_LINK): the slot of the member after this one, which
     * the core holds (LINKED) until this one's final completion, or
     * VL__NO_SLOT. Set only on an op with VL_OP_F_LINK. */
    uint32_t chain_next;
    /* The neighbours in the deadline set's list that holds the slot, or
     * VL__NO_SLOT (timer_heap.h). */
    uint32_t deadline_next, deadline_prev;
    /* Pads the slot to 192 bytes, three cache lines (64-bit hosts), a
     * multiple of 64 that keeps every slot's op on a line of its own. */
    uint32_t pad_[7];
};
#define VL__NO_SLOT UINT32_MAX
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(offsetof(struct vl__slot, drv) == 120 &&
                   offsetof(struct vl__slot, chain_next) == 152 &&
                   offsetof(struct vl__slot, pad_) == 164,
               "a slot uses 164 bytes on 64-bit hosts: the op, 56 of the core's, 32 of the "
               "driver's, 4 of a chain's, 8 of the deadline lists'");
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

/* vl__batch_slot reads gen and state as one 64-bit word. */
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
 * The part of the engine the driver interface below works on: the op table
 * and the completion side. It is the first member of struct vl_engine,
 * whose other fields (the submission queue, the driver choice, pools,
 * shutdown bookkeeping) are the core's alone (engine_internal.h). It is
 * defined here only so that the functions below inline to a load or two
 * on the hot path (a call across files per op cost ~10% of NOP
 * throughput); drivers never name its fields.
 */
struct vl__engine_io {
    struct vl__slot *slots;
    uint32_t cap;       /* max_inflight: number of slots                   */
    uint32_t in_driver; /* slots the driver holds (INFLIGHT)                */
    uint32_t *free;     /* stack of free slot indices; cap - nfree ids live */
    uint32_t nfree;
    /* Completion queue, twice the slot ring: single-shot ops queue one entry
     * per slot, so half of it always holds every final completion; multishot
     * ops queue VL_CQE_MORE entries only while vl__engine_cq_room says so. */
    uint32_t cq_mask, cq_head, cq_tail;
    uint32_t cq_reserve; /* entries kept for final completions (the slot ring) */
    struct vl__cqe *cq;
    /* The caller's completion array while vl_engine_poll waits in the driver
     * (out_cap 0 otherwise): vl__engine_complete writes into it directly
     * while the core's CQ is empty, which saves a copy through the CQ. */
    vl_completion *out;
    uint32_t out_n, out_cap;
    /* vl_engine_poll_batch's request while it runs (want 0 otherwise):
     * vl__engine_gather. */
    uint32_t gather_want;
    int64_t gather_ns;
    void *drv_state;     /* the driver's, see vl__engine_drv */
    bool shut;           /* vl_engine_shutdown has begun     */
    bool woken;          /* a wake arrived during this poll   */
    struct vl__stats st; /* last: only submitted[] is touched per op */
};

static inline struct vl__engine_io *vl__io(vl_engine *e)
{
    return (struct vl__engine_io *)(void *)e; /* its first member */
}

static inline const struct vl__engine_io *vl__io_const(const vl_engine *e)
{
    return (const struct vl__engine_io *)(const void *)e;
}

/* Generations wrap below 2^31, so ids never have bit 63 set. */
#define VL__GEN_MAX 0x7fffffffu

/* ---- what a driver may ask of the engine ---------------------------------------- */

static inline struct vl__slot *vl__engine_slot(vl_engine *e, uint32_t slot)
{
    return &vl__io(e)->slots[slot];
}

/* The driver's state pointer (init stores it, fini frees what it points to). */
static inline void **vl__engine_drv(vl_engine *e)
{
    return &vl__io(e)->drv_state;
}

static inline uint32_t vl__engine_capacity(const vl_engine *e)
{
    return vl__io_const(e)->cap;
}

/* vl_engine_shutdown has begun: every op the driver holds is being
 * cancelled, and no new op arrives. */
static inline bool vl__engine_shutting(const vl_engine *e)
{
    return vl__io_const(e)->shut;
}

/* The id of slot (for io_uring user_data): (generation << 32) | slot. */
static inline uint64_t vl__engine_slot_id(vl_engine *e, uint32_t slot)
{
    return ((uint64_t)vl__io(e)->slots[slot].gen << 32) | slot;
}

/* id -> slot for a live id; false for stale, internal or unknown ids. */
static inline bool vl__engine_id_slot(vl_engine *e, uint64_t id, uint32_t *slot)
{
    struct vl__engine_io *io = vl__io(e);
    uint32_t i = (uint32_t)id;
    uint64_t gen = id >> 32;
    if (gen == 0 || gen > VL__GEN_MAX || i >= io->cap)
        return false;
    if (io->slots[i].gen != gen || io->slots[i].state == VL__SLOT_FREE)
        return false;
    *slot = i;
    return true;
}

/* The engine's counters, for a driver to add to (see struct vl__stats). */
static inline struct vl__stats *vl__engine_stats(vl_engine *e)
{
    return &vl__io(e)->st;
}

/* Tell the core a vl_engine_wake arrived, so poll returns instead of waiting
 * on (drivers call it from wait, on the polling thread). */
static inline void vl__engine_note_wake(vl_engine *e)
{
    vl__io(e)->woken = true;
}

/* Whether a multishot op may queue one more VL_CQE_MORE completion now.
 * When not, the driver leaves the data where it is (the kernel's CQ, the
 * socket) and delivers it after the caller's next poll drained the queue. */
static inline bool vl__engine_cq_room(const vl_engine *e)
{
    const struct vl__engine_io *io = vl__io_const(e);
    return io->cq_tail - io->cq_head + io->cq_reserve < io->cq_mask + 1;
}

/* How many VL_CQE_MORE completions the completion queue takes now (0 when
 * vl__engine_cq_room is false): for a driver that reads a batch at once. */
static inline uint32_t vl__engine_cq_room_count(const vl_engine *e)
{
    const struct vl__engine_io *io = vl__io_const(e);
    uint32_t used = io->cq_tail - io->cq_head + io->cq_reserve;
    return used < io->cq_mask + 1 ? io->cq_mask + 1 - used : 0;
}

/* vl_engine_poll_batch's request while it runs (want 0 otherwise): a
 * driver that can may wait in the kernel for want completions up to ns. */
static inline void vl__engine_gather(const vl_engine *e, uint32_t *want, int64_t *ns)
{
    *want = vl__io_const(e)->gather_want;
    *ns = vl__io_const(e)->gather_ns;
}

/*
 * The driver's side of capabilities the core asks for (the driver's part
 * of each is in struct vl_driver):
 *  - vl__engine_requeue: try_submit declined slot: the op waits in the
 *    core's queue for submit at the next poll. Returns id, for the tail call.
 *  - vl__engine_set_completes_outside_poll: completions may land while no
 *    poll runs (io_uring without DEFER_TASKRUN runs task work at any system
 *    call's return), so a host loop must not take a readable event fd as
 *    proof that the next poll finds them (loop.c's embedding).
 */
int64_t vl__engine_requeue(vl_engine *e, uint32_t slot, int64_t id);
void vl__engine_set_completes_outside_poll(vl_engine *e, bool yes);
/* The driver e runs on (sim.c: is this engine simulated). */
const struct vl_driver *vl__engine_driver(const vl_engine *e);

/* ---- completions -------------------------------------------------------------- */

/* The VL_OP_F_* bits whose ops need more than a push on the free stack
 * when their final completion is released: one mask test on the hot path. */
#define VL__OP_F_RELEASE (VL_OP_F_MULTISHOT | VL_OP_F_DEADLINE | VL_OP_F_LINK)

/* The part of a release that only ops with options or modes need
 * (engine.c): the pool's count, the deadline set, -ETIMEDOUT for an op
 * its deadline cancelled, and the next step of a chain (the next member
 * starts, or the rest ends with -ECANCELED). Returns the result the caller
 * sees. */
int64_t vl__engine_release_options(vl_engine *e, uint32_t slot, int64_t result);

/*
 * The slot's final completion (result) is reaching the caller: free the
 * slot (its id goes stale) and put it back on the free stack, hot end
 * first. Returns the result the caller sees (an op its deadline cancelled
 * reads -ETIMEDOUT). The core's; drivers report through
 * vl__engine_complete.
 */
static inline int64_t vl__engine_release(vl_engine *e, uint32_t slot, int64_t result)
{
    struct vl__engine_io *io = vl__io(e);
    struct vl__slot *s = &io->slots[slot];
    if (VL_UNLIKELY((s->op.flags & VL__OP_F_RELEASE) != 0))
        result = vl__engine_release_options(e, slot, result);
    s->state = VL__SLOT_FREE;
    io->free[io->nfree++] = slot;
    return result;
}

/* How many completions can go straight into the caller's array now: none
 * unless poll lent one and the core's CQ is empty (anything queued there
 * came first and must reach the caller first). */
static inline uint32_t vl__engine_direct_room(const vl_engine *e)
{
    const struct vl__engine_io *io = vl__io_const(e);
    return io->cq_head == io->cq_tail ? io->out_cap - io->out_n : 0;
}

/*
 * Report the op in slot finished with result (a negative errno or >= 0):
 * the one completion call. Exactly once per op for its final completion;
 * VL_CQE_MORE (plus a buffer id in bits 16..31 with VL_CQE_BUFFER) marks a
 * multishot op's non-final ones, which only vl__engine_cq_room allows.
 * Inside the driver's wait, while vl_engine_poll lent the caller's array
 * and the core's CQ is empty, the completion is written straight into that
 * array and a final one frees its slot at once (its id goes stale: the
 * driver must not use the slot after a final completion); otherwise it
 * waits in the core's CQ for the next poll.
 */
static inline void vl__engine_complete(vl_engine *e, uint32_t slot, int64_t result, uint32_t flags)
{
    struct vl__engine_io *io = vl__io(e);
    struct vl__slot *s = &io->slots[slot];
    if (!(flags & VL_CQE_MORE) && s->state == VL__SLOT_INFLIGHT)
        io->in_driver--;
    if (vl__engine_direct_room(e) == 0) {
        struct vl__cqe *c = &io->cq[io->cq_tail++ & io->cq_mask];
        c->slot = slot;
        c->flags = flags;
        c->result = result;
        if (flags & VL_CQE_MORE)
            io->st.more++;
        else
            s->state = VL__SLOT_DONE;
        return;
    }
    vl_completion *c = &io->out[io->out_n++];
    c->id = ((uint64_t)s->gen << 32) | slot;
    c->flags = flags;
    c->user_data = s->user_data;
    if (flags & VL_CQE_MORE) {
        c->result = result;
        io->st.more++;
    } else {
        c->result = vl__engine_release(e, slot, result);
    }
}

/*
 * The batched completion call: a run of final completions of single-shot
 * ops, for a reaper that hands many over in a row (io_uring's CQ after a
 * batch). The run keeps the free stack's top and the caller's array
 * position in locals, so between vl__batch_begin and vl__batch_end nothing
 * else may touch the engine: end the run first. Each completion in it is
 * exactly what vl__engine_complete(e, slot, result, 0) would do when it
 * writes to the caller's array.
 */
struct vl__batch {
    vl_engine *e;
    struct vl__slot *slots;
    uint32_t *free_top;   /* the free stack's next entry              */
    vl_completion *start; /* the caller's array at the run's start    */
    vl_completion *out;   /* its next entry                           */
    vl_completion *end;   /* the end of what the run may fill         */
    uint32_t cap;         /* slots                                    */
};                        /* start, out and end are NULL without room */

static inline void vl__batch_begin(vl_engine *e, struct vl__batch *r)
{
    struct vl__engine_io *io = vl__io(e);
    uint32_t room = vl__engine_direct_room(e);
    r->e = e;
    r->slots = io->slots;
    r->free_top = io->free + io->nfree;
    r->start = room > 0 ? io->out + io->out_n : NULL;
    r->out = r->start;
    r->end = room > 0 ? r->start + room : NULL;
    r->cap = io->cap;
}

/* Every completion the run wrote was final and freed an INFLIGHT slot. */
static inline void vl__batch_end(vl_engine *e, const struct vl__batch *r)
{
    if (r->out == r->start)
        return;
    struct vl__engine_io *io = vl__io(e);
    uint32_t done = (uint32_t)(r->out - r->start);
    io->out_n += done;
    io->nfree = (uint32_t)(r->free_top - io->free);
    io->in_driver -= done;
}

/* The slot of a live id whose op the driver holds (INFLIGHT), or NULL:
 * stale, internal and unknown ids (a generation that matches proves the id
 * well formed, since slot generations are always 1..VL__GEN_MAX). */
static inline struct vl__slot *vl__batch_slot(const struct vl__batch *r, uint64_t id,
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

/* Whether the op in s may complete through a run as it is: a single-shot
 * op without a deadline or a link. */
static inline bool vl__batch_takes(const struct vl__slot *s)
{
    return (s->op.flags & VL__OP_F_RELEASE) == 0;
}

/* Whether an op vl__batch_takes refused may complete through a run after
 * vl__batch_release: a single-shot op with a deadline and no link (whose
 * release would move its chain on: vl__engine_complete does that). */
static inline bool vl__batch_takes_released(const struct vl__slot *s)
{
    return (s->op.flags & (VL_OP_F_MULTISHOT | VL_OP_F_LINK)) == 0;
}

/* The release such an op needs before vl__batch_final: out of the deadline
 * set, -ECANCELED read as -ETIMEDOUT if its deadline cancelled it. It
 * touches only the deadline set and the slot's flags, nothing the run
 * keeps in locals. Returns the result the caller sees. */
static inline int64_t vl__batch_release(const struct vl__batch *r, uint32_t slot, int64_t result)
{
    return vl__engine_release_options(r->e, slot, result);
}

/* Room for one more completion in this run? */
static inline bool vl__batch_room(const struct vl__batch *r)
{
    return r->out != r->end;
}

/*
 * The final completion of the op in s (slot, id its current id, INFLIGHT,
 * vl__batch_takes, or vl__batch_takes_released and released) straight into the caller's array,
 * freeing the slot. Only when vl__batch_room said so.
 */
static inline void vl__batch_final(struct vl__batch *r, struct vl__slot *s, uint32_t slot,
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

/* The drivers this build has (one file each in src/drivers). */
extern const struct vl_driver vl__driver_uring;
extern const struct vl_driver vl__driver_epoll;

#endif
