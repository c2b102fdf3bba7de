/*
 * src/engine/timer_heap.c - the drivers' timer heap (see timer_heap.h).
 *
 * Invariant: for every position i > 0, key(idx[(i - 1) / 2]) <= key(idx[i]),
 * and the slot's position field (timer_pos, or deadline_pos for the
 * deadline heap) of idx[i] is i. The key is the pair (the instant,
 * insertion sequence), so no two keys are equal.
 */
#include <errno.h>
#include <stdlib.h>

#include "timer_heap.h"

int vl__timer_heap_init(struct vl__timer_heap *h, vl_engine *e, uint32_t cap)
{
    return vl__timer_heap_init_key(h, e, cap, VL__TIMER_TIMEOUT);
}

int vl__timer_heap_init_key(struct vl__timer_heap *h, vl_engine *e, uint32_t cap,
                            enum vl__timer_key key)
{
    h->e = e;
    h->key = key;
    h->n = 0;
    h->cap = cap;
    h->seq = 0;
    h->idx = calloc(cap ? cap : 1, sizeof(*h->idx));
    return h->idx ? 0 : -ENOMEM;
}

void vl__timer_heap_fini(struct vl__timer_heap *h)
{
    free(h->idx);
    h->idx = NULL;
    h->n = 0;
}

int64_t vl__timer_heap_at(const struct vl__timer_heap *h, uint32_t slot)
{
    const struct vl__slot *s = vl__engine_slot(h->e, slot);
    return h->key == VL__TIMER_TIMEOUT ? (int64_t)s->deadline_ns : s->op.deadline_ns;
}

static uint64_t seq_of(const struct vl__timer_heap *h, const struct vl__slot *s)
{
    return h->key == VL__TIMER_TIMEOUT ? s->timer_seq : s->deadline_seq;
}

static bool earlier(const struct vl__timer_heap *h, uint32_t a, uint32_t b)
{
    int64_t ta = vl__timer_heap_at(h, a), tb = vl__timer_heap_at(h, b);
    if (ta != tb)
        return ta < tb;
    return seq_of(h, vl__engine_slot(h->e, a)) < seq_of(h, vl__engine_slot(h->e, b));
}

static void place(struct vl__timer_heap *h, uint32_t pos, uint32_t slot)
{
    h->idx[pos] = slot;
    struct vl__slot *s = vl__engine_slot(h->e, slot);
    if (h->key == VL__TIMER_TIMEOUT)
        s->timer_pos = pos;
    else
        s->deadline_pos = pos;
}

/* Move slot up from pos until its parent is earlier; returns where it stopped. */
static uint32_t sift_up(struct vl__timer_heap *h, uint32_t pos, uint32_t slot)
{
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!earlier(h, slot, h->idx[parent]))
            break;
        place(h, pos, h->idx[parent]);
        pos = parent;
    }
    place(h, pos, slot);
    return pos;
}

static void sift_down(struct vl__timer_heap *h, uint32_t pos, uint32_t slot)
{
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && earlier(h, h->idx[child + 1], h->idx[child]))
            child++;
        if (!earlier(h, h->idx[child], slot))
            break;
        place(h, pos, h->idx[child]);
        pos = child;
    }
    place(h, pos, slot);
}

void vl__timer_heap_insert(struct vl__timer_heap *h, uint32_t slot)
{
    struct vl__slot *s = vl__engine_slot(h->e, slot);
    if (h->key == VL__TIMER_TIMEOUT)
        s->timer_seq = h->seq++;
    else
        s->deadline_seq = h->seq++;
    sift_up(h, h->n++, slot);
}

void vl__timer_heap_remove(struct vl__timer_heap *h, uint32_t slot)
{
    const struct vl__slot *s = vl__engine_slot(h->e, slot);
    uint32_t pos = h->key == VL__TIMER_TIMEOUT ? s->timer_pos : s->deadline_pos;
    uint32_t last = h->idx[--h->n];
    if (pos == h->n)
        return;
    /* The last element fills the hole; it may belong above or below it. */
    if (sift_up(h, pos, last) == pos)
        sift_down(h, pos, last);
}

bool vl__timer_heap_peek(const struct vl__timer_heap *h, uint32_t *slot)
{
    if (h->n == 0)
        return false;
    *slot = h->idx[0];
    return true;
}

/* ---- the deadline set (timer_heap.h) ---------------------------------------
 *
 * Invariants: a list k with its bit in used is non-empty, and along it
 * from head to tail op.deadline_ns never decreases and deadline_seq
 * increases; an empty list's bit is clear and its rel means nothing. A
 * member's deadline_pos is VL__DEADLINE_IN_LIST | k for list k, else its
 * heap position. n counts the members of the lists and of the heap. */

int vl__deadline_set_init(struct vl__deadline_set *d, vl_engine *e, uint32_t cap)
{
    d->n = 0;
    d->used = 0;
    for (uint32_t k = 0; k < VL__DEADLINE_LISTS; k++)
        d->lists[k] = (struct vl__deadline_list){0, VL__NO_SLOT, VL__NO_SLOT};
    return vl__timer_heap_init_key(&d->heap, e, cap, VL__TIMER_DEADLINE);
}

void vl__deadline_set_fini(struct vl__deadline_set *d)
{
    vl__timer_heap_fini(&d->heap);
    d->n = 0;
    d->used = 0;
}

/* Whether slot a leaves before slot b (by deadline, then insertion). */
static bool deadline_before(const struct vl__deadline_set *d, uint32_t a, uint32_t b)
{
    const struct vl__slot *sa = vl__engine_slot(d->heap.e, a);
    const struct vl__slot *sb = vl__engine_slot(d->heap.e, b);
    if (sa->op.deadline_ns != sb->op.deadline_ns)
        return sa->op.deadline_ns < sb->op.deadline_ns;
    return sa->deadline_seq < sb->deadline_seq;
}

bool vl__deadline_set_peek(const struct vl__deadline_set *d, uint32_t *slot)
{
    uint32_t best = VL__NO_SLOT;
    if (d->heap.n > 0)
        best = d->heap.idx[0];
    for (uint32_t used = d->used; used != 0; used &= used - 1) {
        uint32_t h = d->lists[__builtin_ctz(used)].head;
        if (best == VL__NO_SLOT || deadline_before(d, h, best))
            best = h;
    }
    *slot = best;
    return best != VL__NO_SLOT;
}
