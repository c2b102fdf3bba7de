/*
 * vllsi/sys/ctx.h - the seed's context system: the storage that the
 * language's `provide` / `using` stand on.
 *
 * A thin semantic layer over the same per-thread slots and frames as
 * <vllsi/sys/tls.h> (one storage, two vocabularies): a scope pushes a frame,
 * provides the contexts it offers into slots, code below reads them with
 * vl_ctx_get / vl_ctx_require, and the scope's pop brings back whatever the
 * enclosing scopes had provided. Everything is per thread; nothing locks.
 *
 * The "root" scope is the thread itself: with no frame open, changes are
 * permanent until cleared (or until vl_cleanup_thread()).
 *
 * Slot numbers are shared by the whole process: reserve them (below) rather
 * than picking them, so two libraries never provide into the same slot.
 *
 * Errors are the negated vl_context_error codes: -VL_ECTX_INVALID_SLOT (slot
 * outside 0..VL_MAX_CONTEXT_SLOTS-1), -VL_ECTX_SLOT_EMPTY,
 * -VL_ECTX_SLOT_OCCUPIED, -VL_ECTX_STACK_OVERFLOW, -VL_ECTX_STACK_UNDERFLOW,
 * plus -ENOMEM (or -EAGAIN) from a thread's first push when its undo log
 * cannot be set up (see vl_tls_frame_push). The slot reservation calls
 * return plain errno values (-ENOSPC, -EBUSY, -EINVAL).
 */
#ifndef VLLSI_SYS_CTX_H
#define VLLSI_SYS_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include <vllsi/sys/common.h>
#include <vllsi/sys/tls.h>

VL_EXTERN_C_BEGIN

/*
 * vl_ctx_slot_alloc / vl_ctx_slot_reserve / vl_ctx_slot_free - reserve a
 * slot for a context (a free one, or a given number) and give it back: the
 * same calls, and the same process-wide reservation map, as
 * vl_tls_slot_alloc / vl_tls_slot_reserve / vl_tls_slot_free in
 * <vllsi/sys/tls.h> (a context slot is a TLS slot). alloc returns the slot
 * or -ENOSPC; reserve returns 0, -EBUSY when taken or -EINVAL out of range;
 * free returns 0 or -EINVAL (out of range, or not reserved). vllsi itself
 * reserves no slot.
 */
VL_API int vl_ctx_slot_alloc(void);
VL_API int vl_ctx_slot_reserve(int slot);
VL_API int vl_ctx_slot_free(int slot);

/*
 * vl_ctx_get - true and *out = the slot's value when it has one; false when
 * it is empty or the slot is invalid (*out untouched). out may be NULL.
 * Inline: a bounds check and two thread-pointer-relative loads.
 */
static inline bool vl_ctx_get(int slot, uintptr_t *out)
{
    if ((unsigned)slot >= VL_MAX_CONTEXT_SLOTS)
        return false;
    if (!(vl__tls_block.present & (1u << slot)))
        return false;
    if (out)
        *out = vl__tls_block.values[slot];
    return true;
}

/* vl_ctx_has - true when the slot is valid and has a value. Inline. */
static inline bool vl_ctx_has(int slot)
{
    return (unsigned)slot < VL_MAX_CONTEXT_SLOTS && (vl__tls_block.present & (1u << slot));
}

/*
 * vl_ctx_get_mut - a pointer to the calling thread's value in `slot`, for
 * in-place update; NULL when the slot is empty or invalid. Taking the pointer
 * counts as a write to the innermost frame, so that frame's pop restores the
 * value the slot had before, whatever was stored through the pointer. The
 * pointer belongs to the calling thread and stays valid until the slot is
 * set or cleared, the current frame is popped, or the thread is cleaned up.
 */
VL_API uintptr_t *vl_ctx_get_mut(int slot);

/* vl_ctx_set - store v, overwriting any value (undone by the frame's pop).
 * Returns 0 or -VL_ECTX_INVALID_SLOT. */
VL_API int vl_ctx_set(int slot, uintptr_t v);

/*
 * vl_ctx_provide - like vl_ctx_set, but a scope provides a context once:
 * -VL_ECTX_SLOT_OCCUPIED when the slot has a value that the innermost frame
 * itself stored (with no frame open: any value). A value provided by an
 * enclosing frame is shadowed, which is the point of nesting. After a clear in
 * the same frame the slot may be provided again.
 */
VL_API int vl_ctx_provide(int slot, uintptr_t v);

/* vl_ctx_clear - empty the slot (undone by the frame's pop). Returns 0,
 * -VL_ECTX_SLOT_EMPTY or -VL_ECTX_INVALID_SLOT. */
VL_API int vl_ctx_clear(int slot);

/*
 * vl_ctx_require - the `using` that fails loudly: 0 and *out = the value, or
 * -VL_ECTX_SLOT_EMPTY / -VL_ECTX_INVALID_SLOT (*out untouched). out may be
 * NULL to check presence with an error code.
 */
VL_API int vl_ctx_require(int slot, uintptr_t *out);

/* vl_ctx_push_frame / vl_ctx_pop_frame - open / close a scope; the same as
 * vl_tls_frame_push / vl_tls_frame_pop (0, -VL_ECTX_STACK_OVERFLOW at the
 * 257th push, -ENOMEM or -EAGAIN, -VL_ECTX_STACK_UNDERFLOW). */
VL_API int vl_ctx_push_frame(void);
VL_API int vl_ctx_pop_frame(void);

/* vl_ctx_depth - the number of open frames (0..VL_CONTEXT_STACK_DEPTH). */
VL_API int vl_ctx_depth(void);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_CTX_H */
