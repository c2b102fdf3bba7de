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
