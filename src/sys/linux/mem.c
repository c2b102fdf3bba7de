/*
 * src/sys/linux/mem.c - OS memory straight from mmap(2): plain, aligned and
 * huge-page allocations, protection and advice. No libc: every call is a raw
 * system call through linux/sys.h.
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

static inline void *set_err(int *err, int e)
{
    if (err)
        *err = e;
    return NULL;
}

static inline bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* Map len bytes (a page multiple) with prot; the address or -errno. */
static intptr_t map_anon(size_t len, int prot, int extra_flags)
{
    intptr_t r = vl__sys_mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
    if (!vl_sys_is_error(r))
        TSAN_ACQUIRE();
    return r;
}

static int unmap(void *addr, size_t len)
{
    TSAN_RELEASE();
    return vl__sys_munmap(addr, len);
}

void *vl_os_alloc(size_t size, int *err)
{
    if (size == 0)
        return set_err(err, -EINVAL);
    size_t len = vl_page_align_up(size);
    if (len == 0)
        return set_err(err, -ENOMEM);
    intptr_t r = map_anon(len, PROT_READ | PROT_WRITE, 0);
    if (vl_sys_is_error(r))
        return set_err(err, (int)r);
    set_err(err, 0);
    return (void *)r;
}

int vl_os_free(void *addr, size_t size)
{
    if (addr == NULL || !vl_is_page_aligned((uintptr_t)addr) || size == 0)
        return -EINVAL;
    size_t len = vl_page_align_up(size);
    if (len == 0)
        return -EINVAL;
    return unmap(addr, len);
}

/*
 * Alignment above the page size: reserve len + align - page bytes with
 * PROT_NONE (mmap results are page-aligned, so an aligned start lies within
 * the first align - page bytes), cut off both ends, then open up the kept
 * part. A PROT_NONE private reservation is not charged to the commit limit
 * (mprotect charges the kept part, as mmap would have), so even a 1 GiB
 * alignment costs only address space, and only for an instant.
 */
static void *alloc_overaligned(size_t len, size_t align, int *err)
{
    size_t page = vl_page_size();
    size_t slack = align - page;
    if (len > SIZE_MAX - slack)
        return set_err(err, -ENOMEM);
    size_t total = len + slack;
    intptr_t r = map_anon(total, PROT_NONE, 0);
    if (vl_sys_is_error(r))
        return set_err(err, (int)r);
    uintptr_t base = (uintptr_t)r;
    uintptr_t start = (base + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - base;
    size_t tail = total - head - len;
    if (head)
        (void)unmap((void *)base, head);
    if (tail)
        (void)unmap((void *)(start + len), tail);
    int rc = vl__sys_mprotect((void *)start, len, PROT_READ | PROT_WRITE);
    if (rc < 0) {
        (void)unmap((void *)start, len);
        return set_err(err, rc);
    }
    set_err(err, 0);
    return (void *)start;
}

void *vl_os_alloc_aligned(size_t size, size_t align, int *err)
{
    if (size == 0 || !is_pow2(align))
        return set_err(err, -EINVAL);
    if (align <= vl_page_size())
        return vl_os_alloc(size, err);
    size_t len = vl_page_align_up(size);
    if (len == 0)
        return set_err(err, -ENOMEM);
    return alloc_overaligned(len, align, err);
}

/*
 * The PMD size: one page-table page holds page_size / 8 entries, each mapping
 * one page, so a huge page at that level spans page_size * page_size / 8.
 */
static size_t default_huge_size(void)
{
    size_t page = vl_page_size();
    return page * (page / 8);
}

void *vl_os_alloc_huge(size_t size, size_t huge_page_size, vl_huge_info *info, int *err)
{
    size_t hps = huge_page_size ? huge_page_size : default_huge_size();
    if (info == NULL || size == 0 || !is_pow2(hps) || hps < vl_page_size())
        return set_err(err, -EINVAL);
    if (size > SIZE_MAX - (hps - 1))
        return set_err(err, -ENOMEM);
    size_t len = (size + hps - 1) & ~(hps - 1);

    /* MAP_HUGE_SHIFT carries log2 of the size; 0 would mean "the default". */
    int enc = (int)((unsigned)__builtin_ctzl(hps) << MAP_HUGE_SHIFT);
    intptr_t r = map_anon(len, PROT_READ | PROT_WRITE, MAP_HUGETLB | enc);
    if (!vl_sys_is_error(r)) {
        info->size = len;
        info->kind = VL_HUGE_HUGETLB;
        set_err(err, 0);
        return (void *)r;
    }

    /* -ENOMEM (nothing reserved) or -EINVAL (size unsupported): go THP. */
    void *p = vl_os_alloc_aligned(len, hps, err);
    if (p == NULL)
        return NULL;
    int rc = vl__sys_madvise(p, len, MADV_HUGEPAGE);
    info->size = len;
    info->kind = rc == 0 ? VL_HUGE_THP : VL_HUGE_NONE;
    return p;
}

/* The checks vl_os_protect and vl_os_advise share: 0 and *len, or -EINVAL. */
static int range_check(void *addr, size_t size, size_t *len)
{
    if (addr == NULL || !vl_is_page_aligned((uintptr_t)addr) || size == 0)
        return -EINVAL;
    *len = vl_page_align_up(size);
    return *len ? 0 : -EINVAL;
}

int vl_os_protect(void *addr, size_t size, vl_mem_prot prot)
{
    size_t len;
    if ((unsigned)prot & ~(unsigned)VL_PROT_ALL)
        return -EINVAL;
    int rc = range_check(addr, size, &len);
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
    int rc = range_check(addr, size, &len);
    if (rc < 0)
        return rc;
    return vl__sys_madvise(addr, len, advice_map[advice]);
}
