/*
 * vllsi/sys/tls.h - the seed's TLS module: per-thread context slots and
 * frames, and the thread pointer.
 *
 * Every thread owns VL_MAX_CONTEXT_SLOTS (32) slots. A slot holds one
 * uintptr_t and a "has value" bit; a fresh thread starts with every slot empty.
 * Slots are strictly per thread: no call here ever touches another thread's
 * slots, so none of them needs a lock or an atomic.
 *
 * Frames scope changes. vl_tls_frame_push() opens a frame; every set or clear
 * made after it is undone by the matching vl_tls_frame_pop(), which brings
 * back each slot's previous value or emptiness. Frames nest up to
 * VL_CONTEXT_STACK_DEPTH (256) deep. Push, pop, get and set are O(1): the
 * current values stay in the slot array and a frame records, on its first
 * write to a slot, what that slot held before (at most 32 records a frame).
 *
 * Memory: the slots themselves live in a static thread-local block (about
 * 300 bytes; glibc's static TLS in a hosted build, which is intended). The
 * undo log (about 66 KiB of address space, touched a page at a time) is
 * mapped on a thread's first push with a raw anonymous mmap and unmapped
 * when the thread ends, whoever created it (vl_thread_spawn, pthread_create,
 * CreateThread) and however it ends (returning, pthread_exit, ExitThread):
 * the first push registers a thread-exit cleanup (a pthread key destructor;
 * on Windows a fiber-local-storage callback). vl_cleanup_thread() and
 * vl_shutdown() (see <vllsi/sys/init.h>) release it earlier; the exit
 * cleanup then finds nothing left to free. A thread that never pushes a
 * frame never maps it. The libc-free build (docs/nolibc.md) has no foreign
 * threads: its threads are vl_thread_spawn's, which release the log as they
 * end. Nothing here needs vl_init().
 *
 * Slot numbers are process-wide names: slot 5 means the same thing in every
 * thread, so two libraries in one process that both pick 5 collide. Reserve
 * slots instead of picking them: vl_tls_slot_alloc() hands out a free one,
 * vl_tls_slot_reserve() claims a given number (and reports a collision),
 * vl_tls_slot_free() gives it back. The reservation map is shared with
 * <vllsi/sys/ctx.h> (the same slots). vllsi itself uses no slot: all 32
 * belong to the application and the libraries it links. Reservation is
 * advisory, as with any allocator: the slot functions below accept any valid
 * number, reserved or not.
 *
 * Errors are the negated vl_context_error codes of <vllsi/sys/common.h>:
 * -VL_ECTX_INVALID_SLOT for a slot outside 0..31, -VL_ECTX_SLOT_EMPTY,
 * -VL_ECTX_STACK_OVERFLOW / -VL_ECTX_STACK_UNDERFLOW, and -ENOMEM when the
 * undo log cannot be mapped (or another negative errno when its thread-exit
 * cleanup cannot be registered: -EAGAIN when the C library has no key left).
 * The reservation calls use plain errno values: -ENOSPC, -EBUSY, -EINVAL.
 */
#ifndef VLLSI_SYS_TLS_H
#define VLLSI_SYS_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <vllsi/sys/common.h>

VL_EXTERN_C_BEGIN

/*
 * vl_tls_get_base - the calling thread's thread pointer (the TCB base the C
 * library's TLS hangs off: %fs base on x86-64, TPIDR_EL0 on aarch64). Distinct
 * for every live thread and stable for a thread's lifetime. Never NULL in a
 * thread set up by the C library or vl_thread_spawn().
 */
VL_API void *vl_tls_get_base(void);

/*
 * vl_tls_slot_alloc - reserve a free slot for the caller, process-wide, and
 * return its number (0..VL_MAX_CONTEXT_SLOTS-1); -ENOSPC when all 32 are
 * reserved. Slots are handed out from the highest number down, so code that
 * still uses small fixed numbers without reserving them meets an allocated
 * slot as late as possible. Thread-safe (one atomic compare-and-swap loop):
 * concurrent callers never get the same slot. The slot is empty in every
 * thread that never set it; see vl_tls_slot_free for the others.
 */
VL_API int vl_tls_slot_alloc(void);

/*
 * vl_tls_slot_reserve - reserve the given slot, for code whose slot number is
 * fixed. Returns 0; -EBUSY when it is already reserved (by alloc or reserve:
 * the collision two libraries would otherwise meet silently); -EINVAL for a
 * slot outside 0..VL_MAX_CONTEXT_SLOTS-1. Thread-safe.
 */
VL_API int vl_tls_slot_reserve(int slot);

/*
 * vl_tls_slot_free - give back a slot from vl_tls_slot_alloc or
 * vl_tls_slot_reserve, so a later alloc may hand it out again. Returns 0, or
 * -EINVAL for a slot outside the range or one that is not reserved (a double
 * free). Thread-safe. Freeing touches no thread's value: a value left in the
 * slot by any thread stays there and is what the slot's next owner would
 * read in that thread, so clear it (vl_tls_slot_clear) in every thread that
 * set it before freeing.
 */
VL_API int vl_tls_slot_free(int slot);

/*
 * vl_tls_slot_set - store v in `slot` (which then has a value). Returns 0, or
 * -VL_ECTX_INVALID_SLOT. Inside a frame the previous content is recorded so
 * the frame's pop restores it.
 */
VL_API int vl_tls_slot_set(int slot, uintptr_t v);

/*
 * vl_tls_slot_get - true and *out = the value when `slot` has one; false when
 * it is empty or invalid (*out is then untouched). out may be NULL to test
 * only.
 */
VL_API bool vl_tls_slot_get(int slot, uintptr_t *out);

/* vl_tls_slot_clear - empty `slot`. Returns 0, -VL_ECTX_SLOT_EMPTY when it had
 * no value, or -VL_ECTX_INVALID_SLOT. */
VL_API int vl_tls_slot_clear(int slot);

/* vl_tls_slot_has - true when `slot` is valid and has a value. */
VL_API bool vl_tls_slot_has(int slot);

/*
 * vl_tls_frame_push - open a frame. Returns 0; -VL_ECTX_STACK_OVERFLOW when
 * VL_CONTEXT_STACK_DEPTH frames are already open (the 257th push); -ENOMEM
 * when the thread's undo log could not be mapped, or -EAGAIN / -ENOMEM when
 * its thread-exit cleanup could not be registered (first push of a thread
 * only). On failure nothing changes.
 */
VL_API int vl_tls_frame_push(void);

/*
 * vl_tls_frame_pop - close the innermost frame, restoring every slot it
 * changed. Returns 0, or -VL_ECTX_STACK_UNDERFLOW when no frame is open.
 */
VL_API int vl_tls_frame_pop(void);

/* vl_tls_frame_depth - the number of open frames (0..256). */
VL_API int vl_tls_frame_depth(void);

/*
 * Typed helpers over the slots. A read of an empty or invalid slot returns
 * 0 / NULL, so a stored 0 and "empty" look alike: use vl_tls_slot_has() when
 * the difference matters. Writes return what vl_tls_slot_set() returns.
 * i32 values are stored sign-extended and read back truncated.
 */
static inline void *vl_tls_read_ptr(int slot)
{
    uintptr_t v = 0;
    (void)vl_tls_slot_get(slot, &v);
    return (void *)v;
}

static inline int vl_tls_write_ptr(int slot, const void *p)
{
    return vl_tls_slot_set(slot, (uintptr_t)p);
}

static inline int32_t vl_tls_read_i32(int slot)
{
    uintptr_t v = 0;
    (void)vl_tls_slot_get(slot, &v);
    return (int32_t)(intptr_t)v;
}

static inline int vl_tls_write_i32(int slot, int32_t v)
{
    return vl_tls_slot_set(slot, (uintptr_t)(intptr_t)v);
}

static inline size_t vl_tls_read_usize(int slot)
{
    uintptr_t v = 0;
    (void)vl_tls_slot_get(slot, &v);
    return (size_t)v;
}

static inline int vl_tls_write_usize(int slot, size_t v)
{
    return vl_tls_slot_set(slot, (uintptr_t)v);
}

/* ---- implementation detail, not API ------------------------------------ */

/*
 * The per-thread block behind the slots, exported only so the read fast
 * paths (vl_ctx_get, vl_ctx_has in <vllsi/sys/ctx.h>) inline to a few
 * thread-pointer-relative loads. Never write it directly.
 *
 * Invariants: values[s] == 0 whenever bit s of `present` is clear; `depth`
 * frames are open; `written`/`had` describe the innermost open frame (bit s of
 * `written`: the frame has recorded slot s; bit s of `had`: slot s had a value
 * before that first write), the outer frames' masks are spilled into `log`;
 * `log` is non-NULL whenever depth > 0.
 */
struct vl__tls_log;
struct vl__tls_block {
    uintptr_t values[VL_MAX_CONTEXT_SLOTS];
    uint32_t present;
    uint32_t depth;
    uint32_t written;
    uint32_t had;
    struct vl__tls_log *log;
};

/* initial-exec: one %fs/TPIDR_EL0-relative access, no __tls_get_addr call. */
VL_API extern __thread struct vl__tls_block vl__tls_block
    __attribute__((tls_model("initial-exec")));

VL_EXTERN_C_END

#endif /* VLLSI_SYS_TLS_H */
