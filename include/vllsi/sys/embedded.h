/*
 * vllsi/sys/embedded.h - the seed's embedded runtime allocator: a stack (bump)
 * allocator over a fixed arena, with marks to free back to. It makes no
 * system call and never allocates, so it works where there is no heap.
 *
 * Allocation moves `top` up; vl_stack_arena_reset(mark) moves it back down,
 * freeing everything allocated since vl_stack_arena_mark() returned `mark`
 * at once. Individual blocks are never freed.
 */
#ifndef VLLSI_SYS_EMBEDDED_H
#define VLLSI_SYS_EMBEDDED_H

#include <stddef.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

/*
 * An arena: `size` bytes at `base` with `top` bytes in use. The arena does not
 * own the buffer: the caller provides it and keeps it alive (and frees it, if
 * it came from a heap) for as long as the arena or any block from it is used.
 * One arena is not thread-safe; give each thread its own.
 */
typedef struct vl_stack_arena {
    unsigned char *base;
    size_t size;
    size_t top;
} vl_stack_arena;

/*
 * vl_stack_arena_init - make `a` an empty arena over `buf` (size bytes).
 * Returns 0, or -EINVAL for a NULL arena or buffer, a size of 0, or a buffer
 * that would wrap around the end of the address space.
 */
VL_API int vl_stack_arena_init(vl_stack_arena *a, void *buf, size_t size);

/*
 * vl_stack_arena_alloc - `size` bytes aligned to `align` (a power of two; 0
 * means _Alignof(max_align_t)). The alignment is of the absolute address, so
 * it holds whatever the buffer's own alignment. Returns the block, or NULL -
 * with the arena unchanged - when `a` is NULL or uninitialised, `size` is 0,
 * `align` is not a power of two, or the block (with its alignment padding)
 * does not fit; every size computation is overflow-checked, so SIZE_MAX simply
 * does not fit. The memory is not cleared.
 */
VL_API void *vl_stack_arena_alloc(vl_stack_arena *a, size_t size, size_t align);

/* vl_stack_arena_mark - the current top, to pass to vl_stack_arena_reset
 * later; 0 for a NULL arena. */
VL_API size_t vl_stack_arena_mark(const vl_stack_arena *a);

/*
 * vl_stack_arena_reset - free every block allocated after `mark` was taken by
 * moving the top back to it (0 frees everything). Returns 0, or -EINVAL for a
 * NULL arena or a mark above the current top (a mark from the future, or one
 * already freed by an earlier reset to a lower mark).
 */
VL_API int vl_stack_arena_reset(vl_stack_arena *a, size_t mark);

/* Bytes in use (including alignment padding) / still free; 0 for NULL. */
VL_API size_t vl_stack_arena_used(const vl_stack_arena *a);
VL_API size_t vl_stack_arena_available(const vl_stack_arena *a);

/* ---- the seed's global form ---------------------------------------------- */

/* The size of the built-in static arena the global form starts with. */
#define VL_STACK_ARENA_DEFAULT_SIZE (64u * 1024u)

/*
 * vl_stack_alloc / vl_stack_mark / vl_stack_reset - the seed's stack_alloc and
 * stack_reset, the functions above applied to one process-wide arena: a static
 * VL_STACK_ARENA_DEFAULT_SIZE buffer, or the buffer vl_stack_set_arena
 * installed. Same results and errors as the vl_stack_arena_* functions.
 *
 * The global arena is NOT thread-safe: embedded targets run one thread, and
 * hosted programs with threads should give each thread its own vl_stack_arena.
 */
VL_API void *vl_stack_alloc(size_t size, size_t align);
VL_API size_t vl_stack_mark(void);
VL_API int vl_stack_reset(size_t mark);
VL_API size_t vl_stack_used(void);
VL_API size_t vl_stack_available(void);

/*
 * vl_stack_set_arena - make `buf` (size bytes, caller-owned, alive while in
 * use) the global arena, empty. vl_stack_set_arena(NULL, 0) goes back to the
 * built-in static buffer, also empty. Every block from the previous arena
 * stays where it is but is no longer tracked. Returns 0, or -EINVAL as
 * vl_stack_arena_init does (the current arena is then kept).
 */
VL_API int vl_stack_set_arena(void *buf, size_t size);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_EMBEDDED_H */
