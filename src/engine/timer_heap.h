/*
 * src/engine/timer_heap.h - a binary min-heap of slot indices keyed by
 * slot->deadline_ns, for drivers that keep their own timers (the readiness
 * core for epoll and kqueue, IOCP), and the core's deadline set (below),
 * which keeps most per-op deadlines in FIFO lists and the rest in a heap.
 *
 * The heap is intrusive and uses only the slot fields the core reserves for
 * it, never the driver's area: a slot's position in the array lives in its
 * timer_pos, so removing an arbitrary timer (CANCEL, shutdown) is O(log n)
 * without a search, and a slot can be in the heap while its driver keeps it
 * elsewhere too (an op with a deadline parked on an fd). Slots with equal
 * deadlines leave in the order they were inserted: timer_seq holds an
 * insertion sequence number that breaks ties. The array is allocated once,
 * at init, with room for every slot.
 */
#ifndef VLLSI_ENGINE_TIMER_HEAP_H
#define VLLSI_ENGINE_TIMER_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "driver.h"

/* What a heap orders: TIMEOUT ops by slot->deadline_ns (through timer_pos
 * and timer_seq), or ops with a deadline by op.deadline_ns (the core's
 * deadline heap, through deadline_pos and deadline_seq). A slot can be in
 * one heap of each at once. */
enum vl__timer_key { VL__TIMER_TIMEOUT = 0, VL__TIMER_DEADLINE };

struct vl__timer_heap {
    vl_engine *e;
    enum vl__timer_key key;
    uint32_t *idx; /* slot indices; idx[0] has the earliest deadline */
    uint32_t n;
    uint32_t cap;
    uint64_t seq; /* next insertion number, for FIFO order among equal deadlines */
};

/* Room for cap slots (the engine's max_inflight), ordered by TIMEOUT
 * deadlines (vl__timer_heap_init) or by key. 0 or -ENOMEM. */
int vl__timer_heap_init(struct vl__timer_heap *h, vl_engine *e, uint32_t cap);
int vl__timer_heap_init_key(struct vl__timer_heap *h, vl_engine *e, uint32_t cap,
                            enum vl__timer_key key);

/* The instant slot is ordered by in h. */
int64_t vl__timer_heap_at(const struct vl__timer_heap *h, uint32_t slot);
void vl__timer_heap_fini(struct vl__timer_heap *h);

/* Add slot (its deadline_ns set). Never fails: the heap has room for every slot. */
void vl__timer_heap_insert(struct vl__timer_heap *h, uint32_t slot);

/* Take slot out of the heap; it must be in it. */
void vl__timer_heap_remove(struct vl__timer_heap *h, uint32_t slot);

/* The earliest slot without removing it; false when the heap is empty. */
bool vl__timer_heap_peek(const struct vl__timer_heap *h, uint32_t *slot);

/*
 * The core's deadline set: ops with a deadline (VL_OP_F_DEADLINE), ordered
 * by op.deadline_ns, then by insertion (deadline_seq).
 *
 * Most deadlines in a server are "now + the same constant" (an idle
 * timeout on every RECV, a send timeout on every SEND), and the engine's
 * clock never goes back, so the ops that share a relative deadline arrive
 * in deadline order. Each such relative value gets a FIFO list (intrusive,
 * through deadline_next and deadline_prev): adding appends, removing
 * unlinks, both O(1), and a list's head is its earliest. The set's
 * earliest is the least of the list heads and of a heap, which takes what
 * the lists cannot: absolute deadlines, a relative value when every list
 * is held by another, and an op whose deadline would come before its
 * list's tail (a clock that went back). deadline_pos says where a slot is:
 * its heap position, or VL__DEADLINE_IN_LIST plus its list's index. One
 * insertion counter (the heap's seq) numbers every member, so equal
 * deadlines leave in insertion order whichever structure holds them.
 */
#define VL__DEADLINE_LISTS   8u
#define VL__DEADLINE_IN_LIST 0x80000000u /* above any heap position (max_inflight <= 2^24) */

struct vl__deadline_list {
    int64_t rel;         /* the relative deadline its members were given */
    uint32_t head, tail; /* slots, VL__NO_SLOT when empty */
};

struct vl__deadline_set {
    struct vl__timer_heap heap; /* VL__TIMER_DEADLINE-keyed; its seq numbers every member */
    uint32_t n;                 /* members, in the lists and the heap */
    uint32_t used;              /* bit k: lists[k] holds members */
    struct vl__deadline_list lists[VL__DEADLINE_LISTS];
};

/* Room for cap slots. 0 or -ENOMEM. */
int vl__deadline_set_init(struct vl__deadline_set *d, vl_engine *e, uint32_t cap);
void vl__deadline_set_fini(struct vl__deadline_set *d);

/* The list that takes a deadline of now + rel (at, absolute): the
 * one holding rel, else a free one; VL__DEADLINE_LISTS if none can (every
 * list held, or at would come before the tail's). */
static inline uint32_t vl__deadline_list_for(struct vl__deadline_set *d, int64_t rel, int64_t at)
{
    for (uint32_t used = d->used; used != 0; used &= used - 1) {
        uint32_t k = (uint32_t)__builtin_ctz(used);
        if (d->lists[k].rel != rel)
            continue;
        const struct vl__slot *t = vl__engine_slot(d->heap.e, d->lists[k].tail);
        return at >= t->op.deadline_ns ? k : VL__DEADLINE_LISTS;
    }
    uint32_t idle = ~d->used & ((1u << VL__DEADLINE_LISTS) - 1);
    if (idle == 0)
        return VL__DEADLINE_LISTS;
    uint32_t k = (uint32_t)__builtin_ctz(idle);
    d->lists[k].rel = rel;
    return k;
}

/* Add slot, whose op.deadline_ns is set: rel >= 0 is the relative deadline
 * it was computed from (now + rel, in the engine's clock), rel < 0 says it
 * was given absolute. Never fails. Inline, as is remove: they run for every
 * op with a deadline, and the list steps are a few instructions. */
static inline void vl__deadline_set_add(struct vl__deadline_set *d, uint32_t slot, int64_t rel)
{
    struct vl__slot *s = vl__engine_slot(d->heap.e, slot);
    d->n++;
    uint32_t k = rel >= 0 ? vl__deadline_list_for(d, rel, s->op.deadline_ns) : VL__DEADLINE_LISTS;
    if (k == VL__DEADLINE_LISTS) {
        vl__timer_heap_insert(&d->heap, slot);
        return;
    }
    struct vl__deadline_list *l = &d->lists[k];
    s->deadline_seq = d->heap.seq++;
    s->deadline_pos = VL__DEADLINE_IN_LIST | k;
    s->deadline_next = VL__NO_SLOT;
    s->deadline_prev = l->tail;
    if (l->tail == VL__NO_SLOT)
        l->head = slot;
    else
        vl__engine_slot(d->heap.e, l->tail)->deadline_next = slot;
    l->tail = slot;
    d->used |= 1u << k;
}

/* Take slot out of the set; it must be in it. */
static inline void vl__deadline_set_remove(struct vl__deadline_set *d, uint32_t slot)
{
    struct vl__slot *s = vl__engine_slot(d->heap.e, slot);
    d->n--;
    if (!(s->deadline_pos & VL__DEADLINE_IN_LIST)) {
        vl__timer_heap_remove(&d->heap, slot);
        return;
    }
    uint32_t k = s->deadline_pos & ~VL__DEADLINE_IN_LIST;
    struct vl__deadline_list *l = &d->lists[k];
    if (s->deadline_prev == VL__NO_SLOT)
        l->head = s->deadline_next;
    else
        vl__engine_slot(d->heap.e, s->deadline_prev)->deadline_next = s->deadline_next;
    if (s->deadline_next == VL__NO_SLOT)
        l->tail = s->deadline_prev;
    else
        vl__engine_slot(d->heap.e, s->deadline_next)->deadline_prev = s->deadline_prev;
    if (l->head == VL__NO_SLOT)
        d->used &= ~(1u << k);
}

/* The member with the earliest deadline (ties: the first added); false when
 * the set is empty. */
bool vl__deadline_set_peek(const struct vl__deadline_set *d, uint32_t *slot);

#endif
