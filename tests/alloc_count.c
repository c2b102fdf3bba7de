/*
 * tests/alloc_count.c - count heap allocations made while a window is open.
 *
 * Rule 5 says submit and poll never allocate. The only way to see that from
 * outside the engine is to be the allocator: this file defines malloc and its
 * relatives in the test executable, which the dynamic linker resolves before
 * libc's (for the static engine we link and for any shared library), and
 * forwards every call to glibc's own __libc_* entry points. Counting is off
 * unless a window is open, so cmocka and the rest of the suite are unaffected.
 *
 * Sanitizers (ASan, TSan, MSan) bring their own allocator and must stay the
 * one in charge, so under them this file defines no allocator at all and
 * vl_test_alloc_available() says 0: the hot-path test skips, naming why.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "conformance_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer) || __has_feature(hwaddress_sanitizer)
#define VL__SANITIZED_ALLOC 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_HWADDRESS__)
#define VL__SANITIZED_ALLOC 1
#endif

#if defined(VL__SANITIZED_ALLOC) || !defined(__GLIBC__)

int vl_test_alloc_available(void)
{
    return 0;
}

void vl_test_alloc_begin(void)
{
}

void vl_test_alloc_end(long *calls, long *net)
{
    *calls = 0;
    *net = 0;
}

#else

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

/* Atomics, not locks: the engine's wake test runs a second thread, and a
 * lock inside malloc is exactly what this file must not add. */
static int counting;
static long calls;  /* allocating calls made while counting            */
static long allocs; /* blocks handed out while counting                  */
static long frees;  /* blocks given back while counting                  */

static void note_alloc(void *p)
{
    if (!__atomic_load_n(&counting, __ATOMIC_RELAXED))
        return;
    __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
    if (p != NULL)
        __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    note_alloc(p);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    note_alloc(p);
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED)) {
        /* A realloc is an allocation even when it grows in place; for the
         * live-block balance only realloc(NULL) and realloc(p, 0) count. */
        __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
        if (old == NULL && p != NULL)
            __atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
        else if (old != NULL && n == 0 && p == NULL)
            __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    }
    return p;
}

void free(void *p)
{
    if (p != NULL && __atomic_load_n(&counting, __ATOMIC_RELAXED))
        __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    note_alloc(p);
    return p;
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    void *p = memalign(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

int vl_test_alloc_available(void)
{
    return 1;
}

void vl_test_alloc_begin(void)
{
    __atomic_store_n(&calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&allocs, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&frees, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&counting, 1, __ATOMIC_SEQ_CST);
}

void vl_test_alloc_end(long *ncalls, long *net)
{
    __atomic_store_n(&counting, 0, __ATOMIC_SEQ_CST);
    *ncalls = __atomic_load_n(&calls, __ATOMIC_RELAXED);
    *net = __atomic_load_n(&allocs, __ATOMIC_RELAXED) - __atomic_load_n(&frees, __ATOMIC_RELAXED);
}

#endif
