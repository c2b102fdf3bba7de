/*
 * src/sys/tls.c - per-thread context slots, frames and their undo log.
 *
 * Layout of the undo log: one record per (frame, slot), indexed directly
 * rather than appended, so a record needs no slot number and a frame's
 * records are found through its `written` mask. Frame k (1-based depth) uses
 * old[k-1][*]; its masks live in the block while it is the innermost frame
 * and in written[k-1]/had[k-1] while an inner frame is open. Because a frame
 * records each slot at most once (on its first write), pop restores at most
 * 32 slots: O(1) in the number of operations made inside the frame.
 */
#include <vllsi/sys/mem.h>
#include <vllsi/sys/tls.h>

#include <linux/errno.h>

#include "internal.h"
#include "linux/sys.h"

struct vl__tls_log {
    uint32_t written[VL_CONTEXT_STACK_DEPTH];
    uint32_t had[VL_CONTEXT_STACK_DEPTH];
    uintptr_t old[VL_CONTEXT_STACK_DEPTH][VL_MAX_CONTEXT_SLOTS];
};

__thread struct vl__tls_block vl__tls_block __attribute__((tls_model("initial-exec")));

_Static_assert(VL_MAX_CONTEXT_SLOTS == 32, "slot masks are uint32_t");

static inline bool slot_valid(int slot)
{
    return (unsigned)slot < VL_MAX_CONTEXT_SLOTS;
}

/* Record slot's current content in the innermost frame, once per frame. */
static inline void record(struct vl__tls_block *b, int slot, uint32_t bit)
{
    if (b->depth == 0 || (b->written & bit))
        return;
    b->log->old[b->depth - 1][slot] = b->values[slot];
    b->written |= bit;
    b->had |= b->present & bit;
}

/* ---- reservation -------------------------------------------------------- */

/* Bit s set: slot s is reserved. Every change is one CAS (acq_rel), so two
 * reservations of one slot cannot both succeed. */
static uint32_t reserved;

int vl_tls_slot_alloc(void)
{
    uint32_t old = __atomic_load_n(&reserved, __ATOMIC_RELAXED);
    int s;
    do {
        uint32_t avail = ~old;
        if (avail == 0)
            return -ENOSPC;
        s = 31 - __builtin_clz(avail); /* the highest free slot */
    } while (!__atomic_compare_exchange_n(&reserved, &old, old | (1u << s), true, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    return s;
}

int vl_tls_slot_reserve(int slot)
{
    if (!slot_valid(slot))
        return -EINVAL;
    uint32_t bit = 1u << slot;
    return (__atomic_fetch_or(&reserved, bit, __ATOMIC_ACQ_REL) & bit) ? -EBUSY : 0;
}

int vl_tls_slot_free(int slot)
{
    if (!slot_valid(slot))
        return -EINVAL;
    uint32_t bit = 1u << slot;
    return (__atomic_fetch_and(&reserved, ~bit, __ATOMIC_ACQ_REL) & bit) ? 0 : -EINVAL;
}

/* ---- slots ---------------------------------------------------------------- */

void *vl_tls_get_base(void)
{
    return vl__thread_pointer();
}

int vl_tls_slot_set(int slot, uintptr_t v)
{
    struct vl__tls_block *b = &vl__tls_block;
    if (!slot_valid(slot))
        return -VL_ECTX_INVALID_SLOT;
    uint32_t bit = 1u << slot;
    record(b, slot, bit);
    b->values[slot] = v;
    b->present |= bit;
    return 0;
}

bool vl_tls_slot_get(int slot, uintptr_t *out)
{
    const struct vl__tls_block *b = &vl__tls_block;
    if (!slot_valid(slot) || !(b->present & (1u << slot)))
        return false;
    if (out)
        *out = b->values[slot];
    return true;
}

int vl_tls_slot_clear(int slot)
{
    struct vl__tls_block *b = &vl__tls_block;
    if (!slot_valid(slot))
        return -VL_ECTX_INVALID_SLOT;
    uint32_t bit = 1u << slot;
    if (!(b->present & bit))
        return -VL_ECTX_SLOT_EMPTY;
    record(b, slot, bit);
    b->values[slot] = 0;
    b->present &= ~bit;
    return 0;
}

bool vl_tls_slot_has(int slot)
{
    return slot_valid(slot) && (vl__tls_block.present & (1u << slot));
}

/*
 * Logs mapped right now, over every thread. Only the test suites read it
 * (through the static library), to prove that a thread's log is unmapped
 * exactly once however the thread ends; one relaxed RMW per map and unmap.
 */
static int live_logs;
VL__HIDDEN int vl__tls_live_logs(void);
int vl__tls_live_logs(void)
{
    return __atomic_load_n(&live_logs, __ATOMIC_RELAXED);
}

void vl__tls_log_unmap(void *log)
{
    (void)vl_os_free(log, sizeof(struct vl__tls_log));
    __atomic_fetch_sub(&live_logs, 1, __ATOMIC_RELAXED);
}

static void log_unmap(struct vl__tls_block *b)
{
    vl__thread_exit_disarm();
    vl__tls_log_unmap(b->log);
    b->log = NULL;
}

/* Map the log straight from the kernel (vl_os_alloc: no malloc, so the sys
 * layer stays libc-free). Pages are demand-zero, so only the frames a thread
 * actually reaches cost memory. Then have the thread's end release it, so a
 * thread that never calls vl_cleanup_thread() (one made with pthread_create,
 * say) does not leak it. */
static int log_map(struct vl__tls_block *b)
{
    int err = 0;
    void *p = vl_os_alloc(sizeof(struct vl__tls_log), &err);
    if (p == NULL)
        return err;
    b->log = p;
    __atomic_fetch_add(&live_logs, 1, __ATOMIC_RELAXED);
    err = vl__thread_exit_arm(p);
    if (err < 0)
        log_unmap(b);
    return err;
}

int vl_tls_frame_push(void)
{
    struct vl__tls_block *b = &vl__tls_block;
    if (b->depth >= VL_CONTEXT_STACK_DEPTH)
        return -VL_ECTX_STACK_OVERFLOW;
    if (VL_UNLIKELY(b->log == NULL)) {
        int r = log_map(b);
        if (r < 0)
            return r;
    }
    if (b->depth > 0) {
        b->log->written[b->depth - 1] = b->written;
        b->log->had[b->depth - 1] = b->had;
    }
    b->depth++;
    b->written = 0;
    b->had = 0;
    return 0;
}

int vl_tls_frame_pop(void)
{
    struct vl__tls_block *b = &vl__tls_block;
    if (b->depth == 0)
        return -VL_ECTX_STACK_UNDERFLOW;
    const uintptr_t *old = b->log->old[b->depth - 1];
    for (uint32_t m = b->written; m != 0; m &= m - 1) {
        int s = __builtin_ctz(m);
        b->values[s] = old[s];
    }
    b->present = (b->present & ~b->written) | (b->had & b->written);
    b->depth--;
    if (b->depth > 0) {
        b->written = b->log->written[b->depth - 1];
        b->had = b->log->had[b->depth - 1];
    } else {
        b->written = 0;
        b->had = 0;
    }
    return 0;
}

int vl_tls_frame_depth(void)
{
    return (int)vl__tls_block.depth;
}

void vl__tls_thread_release(void)
{
    struct vl__tls_block *b = &vl__tls_block;
    if (b->log != NULL)
        log_unmap(b);
    for (int s = 0; s < VL_MAX_CONTEXT_SLOTS; s++)
        b->values[s] = 0;
    b->present = 0;
    b->depth = 0;
    b->written = 0;
    b->had = 0;
    b->log = NULL;
}
