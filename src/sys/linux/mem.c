/*
 * src/sys/linux/mem.c - OS memory straight from mmap(2): plain, aligned and
 * huge-page allocations, protection and advice. No libc: every call is a raw
 * system call through linux/sys.h. The argument checks, the aligned
 * allocation scheme and the huge-page fallback are src/sys/mem_common.h's,
 * shared with macOS.
 */
#include <vllsi/sys/mem.h>

#include <linux/errno.h>
#include <linux/mman.h>

#include "internal.h"
#include "linux/sys.h"

/*
 * ThreadSanitizer cannot see raw mmap/munmap, so when the kernel hands one
 * thread an address another thread just unmapped, it reports the two
 * threads' plain accesses as a race. Under TSan only, a release before munmap
 * and an acquire after mmap on one sync object state what the kernel
 * guarantees: the old mapping is gone before the new one exists.
 */
#if defined(__SANITIZE_THREAD__)
#define VL__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VL__TSAN 1
#endif
#endif
#ifdef VL__TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char tsan_mem_sync;
#define TSAN_ACQUIRE() __tsan_acquire(&tsan_mem_sync)
#define TSAN_RELEASE() __tsan_release(&tsan_mem_sync)
#else
#define TSAN_ACQUIRE() ((void)0)
#define TSAN_RELEASE() ((void)0)
#endif

/* The kernel's MADV_* for each vl_mem_advice, indexed by the enum value. */
static const int advice_map[] = {
    [VL_ADV_NORMAL] = MADV_NORMAL,         [VL_ADV_RANDOM] = MADV_RANDOM,
    [VL_ADV_SEQUENTIAL] = MADV_SEQUENTIAL, [VL_ADV_WILLNEED] = MADV_WILLNEED,
    [VL_ADV_DONTNEED] = MADV_DONTNEED,     [VL_ADV_FREE] = MADV_FREE,
    [VL_ADV_REMOVE] = MADV_REMOVE,         [VL_ADV_DONTFORK] = MADV_DONTFORK,
    [VL_ADV_HUGEPAGE] = MADV_HUGEPAGE,     [VL_ADV_NOHUGEPAGE] = MADV_NOHUGEPAGE,
};
_Static_assert(VL__ARRAY_LEN(advice_map) == VL_ADV_COUNT_,
               "advice_map needs one entry per vl_mem_advice value");

/* Map len bytes (a page multiple) with prot: the address, or NULL and
 * *err = -errno (err may be NULL; 0 is stored on success). */
static void *map_anon(size_t len, int prot, int extra_flags, int *err)
{
    intptr_t r = vl__sys_mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
    if (vl_sys_is_error(r)) {
        if (err)
            *err = (int)r;
        return NULL;
    }
    TSAN_ACQUIRE();
    if (err)
        *err = 0;
    return (void *)r;
}

static int mem_unmap(void *addr, size_t len)
{
    TSAN_RELEASE();
    return vl__sys_munmap(addr, len);
}

/* mem_common.h's hooks (see there) on raw system calls. */
static void *mem_map(size_t len, bool reserve, int *err)
{
    return map_anon(len, reserve ? PROT_NONE : PROT_READ | PROT_WRITE, 0, err);
}

static int mem_open(void *addr, size_t len)
{
    return vl__sys_mprotect(addr, len, PROT_READ | PROT_WRITE);
}

/* MAP_HUGETLB of the given size: MAP_HUGE_SHIFT carries log2 of it (0 would
 * mean the kernel's default). NULL when no huge pages are reserved (-ENOMEM)
 * or the machine has no huge pages of that size (-EINVAL). */
static void *mem_map_huge(size_t len, size_t hps)
{
    int enc = (int)((unsigned)__builtin_ctzl(hps) << MAP_HUGE_SHIFT);
    return map_anon(len, PROT_READ | PROT_WRITE, MAP_HUGETLB | enc, NULL);
}

/* madvise says -EINVAL on a kernel built without THP. */
static bool mem_advise_huge(void *addr, size_t len)
{
    return vl__sys_madvise(addr, len, MADV_HUGEPAGE) == 0;
}

#define VL__MEM_MMAP 1
#include "mem_common.h"

int vl_os_protect(void *addr, size_t size, vl_mem_prot prot)
{
    size_t len;
    if ((unsigned)prot & ~(unsigned)VL_PROT_ALL)
        return -EINVAL;
    int rc = mem_range_check(addr, size, &len);
    if (rc < 0)
        return rc;
    /* vl_mem_prot uses the PROT_* values, so no translation is needed. */
    return vl__sys_mprotect(addr, len, (int)prot);
}

int vl_os_advise(void *addr, size_t size, vl_mem_advice advice)
{
    size_t len;
    if ((unsigned)advice >= (unsigned)VL_ADV_COUNT_)
        return -EINVAL;
    int rc = mem_range_check(addr, size, &len);
    if (rc < 0)
        return rc;
    return vl__sys_madvise(addr, len, advice_map[advice]);
}
