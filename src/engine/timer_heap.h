/*
 * src/engine/timer_heap.h - a binary min-heap of slot indices keyed by
 * slot->deadline_ns, for drivers that keep their own timers (the readiness
 * core for epoll and kqueue, IOCP).
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

#endif
