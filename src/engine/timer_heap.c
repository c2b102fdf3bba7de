/*
 * src/engine/timer_heap.c - the drivers' timer heap (see timer_heap.h).
 *
 * Invariant: for every position i > 0, key(idx[(i - 1) / 2]) <= key(idx[i]),
 * and vl__engine_slot(e, idx[i])->timer_pos == i. The key is the pair
 * (deadline_ns, insertion sequence), so no two keys are equal.
 */
#include <errno.h>
#include <stdlib.h>

#include "timer_heap.h"

int vl__timer_heap_init(struct vl__timer_heap *h, vl_engine *e, uint32_t cap)
{
    h->e = e;
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

static bool earlier(const struct vl__timer_heap *h, uint32_t a, uint32_t b)
{
    const struct vl__slot *sa = vl__engine_slot(h->e, a);
    const struct vl__slot *sb = vl__engine_slot(h->e, b);
    if (sa->deadline_ns != sb->deadline_ns)
        return sa->deadline_ns < sb->deadline_ns;
    return sa->timer_seq < sb->timer_seq;
}

static void place(struct vl__timer_heap *h, uint32_t pos, uint32_t slot)
{
    h->idx[pos] = slot;
    vl__engine_slot(h->e, slot)->timer_pos = pos;
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
    vl__engine_slot(h->e, slot)->timer_seq = h->seq++;
    sift_up(h, h->n++, slot);
}

void vl__timer_heap_remove(struct vl__timer_heap *h, uint32_t slot)
{
    uint32_t pos = vl__engine_slot(h->e, slot)->timer_pos;
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
