/*
 * The embedded stack allocator: a bump pointer over a caller's buffer.
 *
 * Invariant of an initialised arena: base != NULL, 0 < size, base + size does
 * not wrap, and top <= size. Every function keeps it, and alloc only moves top
 * after the whole request is known to fit, so a failed call changes nothing.
 */
#include <vllsi/sys/embedded.h>

#include "internal.h"

#define DEFAULT_ALIGN _Alignof(max_align_t)

int vl_stack_arena_init(vl_stack_arena *a, void *buf, size_t size)
{
    if (a == NULL || buf == NULL || size == 0)
        return -EINVAL;
    if ((uintptr_t)buf + size < (uintptr_t)buf)
        return -EINVAL;
    a->base = buf;
    a->size = size;
    a->top = 0;
    return 0;
}

static int arena_valid(const vl_stack_arena *a)
{
    return a != NULL && a->base != NULL && a->top <= a->size;
}

void *vl_stack_arena_alloc(vl_stack_arena *a, size_t size, size_t align)
{
    if (!arena_valid(a) || size == 0)
        return NULL;
    if (align == 0)
        align = DEFAULT_ALIGN;
    if ((align & (align - 1)) != 0)
        return NULL;
    /* The padding that brings the current address up to `align`, computed
     * modulo 2^N so no sum can overflow; then both checks subtract only. */
    uintptr_t cur = (uintptr_t)a->base + a->top;
    size_t pad = (size_t)(-cur & (uintptr_t)(align - 1));
    size_t room = a->size - a->top;
    if (pad > room || size > room - pad)
        return NULL;
    void *p = a->base + a->top + pad;
    a->top += pad + size;
    return p;
}

size_t vl_stack_arena_mark(const vl_stack_arena *a)
{
    return a != NULL ? a->top : 0;
}

int vl_stack_arena_reset(vl_stack_arena *a, size_t mark)
{
    if (a == NULL || mark > a->top)
        return -EINVAL;
    a->top = mark;
    return 0;
}

size_t vl_stack_arena_used(const vl_stack_arena *a)
{
    return a != NULL ? a->top : 0;
}

size_t vl_stack_arena_available(const vl_stack_arena *a)
{
    return arena_valid(a) ? a->size - a->top : 0;
}

/*
 * The global arena starts over the static buffer, so it works before (and
 * without) any initialisation call. No locking: see embedded.h.
 */
static _Alignas(64) unsigned char default_buf[VL_STACK_ARENA_DEFAULT_SIZE];
static vl_stack_arena global = {default_buf, sizeof(default_buf), 0};

void *vl_stack_alloc(size_t size, size_t align)
{
    return vl_stack_arena_alloc(&global, size, align);
}

size_t vl_stack_mark(void)
{
    return vl_stack_arena_mark(&global);
}

int vl_stack_reset(size_t mark)
{
    return vl_stack_arena_reset(&global, mark);
}

size_t vl_stack_used(void)
{
    return vl_stack_arena_used(&global);
}

size_t vl_stack_available(void)
{
    return vl_stack_arena_available(&global);
}

int vl_stack_set_arena(void *buf, size_t size)
{
    if (buf == NULL && size == 0)
        return vl_stack_arena_init(&global, default_buf, sizeof(default_buf));
    vl_stack_arena next;
    int rc = vl_stack_arena_init(&next, buf, size);
    if (rc == 0)
        global = next;
    return rc;
}
