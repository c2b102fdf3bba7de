/*
 * The out-of-line part of vllsi/sys/bits.h: bounds-checked memory-region
 * accessors and the run-time-ordered barrier. Everything else is inline in the
 * header.
 */
#include <vllsi/sys/bits.h>

#include "internal.h"

/*
 * The check shared by every region accessor. The range test is written as
 * "offset > length - width" after establishing width <= length, so no sum can
 * wrap: an offset of SIZE_MAX is reported as out of range, never aliased to a
 * small one.
 */
static int region_check(const vl_memory_region *r, size_t offset, size_t width)
{
    if (r == NULL || r->base == NULL)
        return -EINVAL;
    if (r->length < width || offset > r->length - width)
        return -ERANGE;
    if ((((uintptr_t)r->base + offset) & (width - 1)) != 0)
        return -EINVAL;
    return 0;
}

/*
 * Device (non-cacheable) memory is accessed like VL_ACCESS_SYNC: the fences
 * keep the device access from being reordered with the normal memory accesses
 * around it (the data a doorbell write announces, the buffer a status read
 * guards). Cacheable memory only needs the volatile access itself.
 */
#define REGION_ACCESSORS(W)                                                             \
    int vl_region_read##W(const vl_memory_region *r, size_t offset, uint##W##_t *out)   \
    {                                                                                   \
        int rc = region_check(r, offset, sizeof(uint##W##_t));                          \
        if (rc != 0)                                                                    \
            return rc;                                                                  \
        if (out == NULL)                                                                \
            return -EINVAL;                                                             \
        const volatile void *p = (const unsigned char *)r->base + offset;               \
        if (r->cacheable) {                                                             \
            *out = vl_volatile_load##W(p);                                              \
        } else {                                                                        \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                    \
            *out = vl_volatile_load##W(p);                                              \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                    \
        }                                                                               \
        return 0;                                                                       \
    }                                                                                   \
    int vl_region_write##W(const vl_memory_region *r, size_t offset, uint##W##_t value) \
    {                                                                                   \
        int rc = region_check(r, offset, sizeof(uint##W##_t));                          \
        if (rc != 0)                                                                    \
            return rc;                                                                  \
        volatile void *p = (unsigned char *)r->base + offset;                           \
        if (r->cacheable) {                                                             \
            vl_volatile_store##W(p, value);                                             \
        } else {                                                                        \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                    \
            vl_volatile_store##W(p, value);                                             \
            __atomic_thread_fence(__ATOMIC_SEQ_CST);                                    \
        }                                                                               \
        return 0;                                                                       \
    }

REGION_ACCESSORS(32)
REGION_ACCESSORS(64)

/*
 * __atomic_thread_fence needs a constant order to emit the right fence (a
 * variable one is silently treated as SEQ_CST), hence one case per order.
 */
int vl_barrier(vl_memory_order order)
{
    switch (order) {
    case VL_ORDER_RELAXED:
        __atomic_thread_fence(__ATOMIC_RELAXED);
        return 0;
    case VL_ORDER_ACQUIRE:
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        return 0;
    case VL_ORDER_RELEASE:
        __atomic_thread_fence(__ATOMIC_RELEASE);
        return 0;
    case VL_ORDER_ACQ_REL:
        __atomic_thread_fence(__ATOMIC_ACQ_REL);
        return 0;
    case VL_ORDER_SEQ_CST:
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return -EINVAL;
}
