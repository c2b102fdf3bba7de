/*
 * src/sys/ctx.c - the context system's vocabulary over the TLS slots.
 *
 * No storage of its own: the values, the frames and the undo log are the
 * ones in tls.c, so a context provided here is the same slot vl_tls_slot_get
 * reads. Only provide and get_mut need more than a forward; they read the
 * block's `written` mask (the innermost frame's recorded slots).
 */
#include <vllsi/sys/ctx.h>

#include "internal.h"

int vl_ctx_slot_alloc(void)
{
    return vl_tls_slot_alloc();
}

int vl_ctx_slot_reserve(int slot)
{
    return vl_tls_slot_reserve(slot);
}

int vl_ctx_slot_free(int slot)
{
    return vl_tls_slot_free(slot);
}

uintptr_t *vl_ctx_get_mut(int slot)
{
    struct vl__tls_block *b = &vl__tls_block;
    if (!vl_ctx_has(slot))
        return NULL;
    /* Re-storing the current value records the slot in the innermost frame,
     * so writes through the returned pointer are undone by that frame's pop. */
    (void)vl_tls_slot_set(slot, b->values[slot]);
    return &b->values[slot];
}

int vl_ctx_set(int slot, uintptr_t v)
{
    return vl_tls_slot_set(slot, v);
}

int vl_ctx_provide(int slot, uintptr_t v)
{
    const struct vl__tls_block *b = &vl__tls_block;
    if ((unsigned)slot >= VL_MAX_CONTEXT_SLOTS)
        return -VL_ECTX_INVALID_SLOT;
    uint32_t bit = 1u << slot;
    /* With no frame open every present value belongs to the root scope; in a
     * frame, only a value this frame wrote (its `written` bit) is its own. */
    bool own = b->depth == 0 || (b->written & bit);
    if ((b->present & bit) && own)
        return -VL_ECTX_SLOT_OCCUPIED;
    return vl_tls_slot_set(slot, v);
}

int vl_ctx_clear(int slot)
{
    return vl_tls_slot_clear(slot);
}

int vl_ctx_require(int slot, uintptr_t *out)
{
    if ((unsigned)slot >= VL_MAX_CONTEXT_SLOTS)
        return -VL_ECTX_INVALID_SLOT;
    if (!vl_ctx_get(slot, out))
        return -VL_ECTX_SLOT_EMPTY;
    return 0;
}

int vl_ctx_push_frame(void)
{
    return vl_tls_frame_push();
}

int vl_ctx_pop_frame(void)
{
    return vl_tls_frame_pop();
}

int vl_ctx_depth(void)
{
    return vl_tls_frame_depth();
}
