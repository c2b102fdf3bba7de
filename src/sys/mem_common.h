/*
 * src/sys/mem_common.h - the argument checks and size arithmetic every
 * implementation of <vllsi/sys/mem.h> shares (src/sys/linux/mem.c,
 * src/sys/darwin/mem.c, src/sys/windows/mem.c, the nolibc arena), so that
 * each answers the same bad input with the same error, and the allocation
 * scheme the two mmap-based ones share.
 *
 * An OS whose anonymous mappings can be freed in any page-aligned piece
 * (munmap's rule: Linux, macOS) defines VL__MEM_MMAP and, before including
 * this file, five functions over its own system calls:
 *
 *     static void *mem_map(size_t len, bool reserve, int *err);
 *         fresh private anonymous pages, read-write, or PROT_NONE when
 *         `reserve`; the address, or NULL and *err = -errno (err may be
 *         NULL; 0 is stored on success);
 *     static int mem_unmap(void *addr, size_t len);       0 or -errno
 *     static int mem_open(void *addr, size_t len);        mprotect to
 *         read-write; 0 or -errno
 *     static void *mem_map_huge(size_t len, size_t hps);
 *         len bytes of explicit huge pages of hps bytes (VL_HUGE_HUGETLB),
 *         read-write, or NULL when the OS has none of that size to give;
 *     static bool mem_advise_huge(void *addr, size_t len);
 *         ask for transparent huge pages behind an aligned allocation:
 *         true when the OS took the advice (VL_HUGE_THP),
 *
 * and gets vl_os_alloc, vl_os_free, vl_os_alloc_aligned and
 * vl_os_alloc_huge from here.
 */
#ifndef VLLSI_SYS_MEM_COMMON_H
#define VLLSI_SYS_MEM_COMMON_H

#include <vllsi/sys/mem.h>

#include "internal.h"

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

/* An allocation's size in whole pages: 0 and *len, -EINVAL for size 0, or
 * -ENOMEM when the rounding overflows. */
static inline int mem_alloc_len(size_t size, size_t *len)
{
    if (size == 0)
        return -EINVAL;
    *len = vl_page_align_up(size);
    return *len ? 0 : -ENOMEM;
}

/* The checks vl_os_free, vl_os_protect and vl_os_advise share: 0 and *len
 * (size in whole pages), or -EINVAL for a NULL or unaligned addr, size 0, or
 * a size that cannot be rounded up. */
static inline int mem_range_check(void *addr, size_t size, size_t *len)
{
    if (addr == NULL || !vl_is_page_aligned((uintptr_t)addr) || size == 0)
        return -EINVAL;
    *len = vl_page_align_up(size);
    return *len ? 0 : -EINVAL;
}

/* mem_range_check, and -EINVAL also for a range that wraps around the
 * address space, for OSes whose calls would not report that themselves
 * (Mach's, Win32's). */
static inline int mem_span_check(void *addr, size_t size, size_t *len)
{
    int rc = mem_range_check(addr, size, len);
    if (rc == 0 && (uintptr_t)addr > UINTPTR_MAX - *len)
        return -EINVAL;
    return rc;
}

/* The size one last-level page-table entry maps: a table page holds
 * page_size / 8 entries, each mapping one page (2 MiB with 4 KiB pages,
 * 32 MiB with 16 KiB ones). */
static inline size_t mem_default_huge_size(void)
{
    size_t page = vl_page_size();
    return page * (page / 8);
}

/* vl_os_alloc_huge's checks: 0 and *len (size in whole huge pages of hps
 * bytes), -EINVAL for a NULL info, size 0 or an hps that is not a power of
 * two of at least a page, or -ENOMEM when the rounding overflows. */
static inline int mem_huge_len(size_t size, size_t hps, const vl_huge_info *info, size_t *len)
{
    if (info == NULL || size == 0 || !is_pow2(hps) || hps < vl_page_size())
        return -EINVAL;
    if (size > SIZE_MAX - (hps - 1))
        return -ENOMEM;
    *len = (size + hps - 1) & ~(hps - 1);
    return 0;
}

/* A huge allocation that succeeded: fill in info, clear *err, return p. */
static inline void *mem_huge_done(void *p, size_t len, vl_huge_kind kind, vl_huge_info *info,
                                  int *err)
{
    info->size = len;
    info->kind = kind;
    set_err(err, 0);
    return p;
}

#ifdef VL__MEM_MMAP
void *vl_os_alloc(size_t size, int *err)
{
    size_t len;
    int rc = mem_alloc_len(size, &len);
    if (rc < 0)
        return set_err(err, rc);
    return mem_map(len, false, err);
}

int vl_os_free(void *addr, size_t size)
{
    size_t len;
    int rc = mem_range_check(addr, size, &len);
    return rc < 0 ? rc : mem_unmap(addr, len);
}

/*
 * Alignment above the page size: reserve len + align - page bytes with
 * PROT_NONE (mmap results are page-aligned, so an aligned start lies within
 * the first align - page bytes), cut off both ends, then open up the kept
 * part. On Linux a PROT_NONE private reservation is not charged to the
 * commit limit (mprotect charges the kept part, as mmap would have), so even
 * a 1 GiB alignment costs only address space, and only for an instant.
 */
static void *alloc_overaligned(size_t len, size_t align, int *err)
{
    size_t slack = align - vl_page_size();
    if (len > SIZE_MAX - slack)
        return set_err(err, -ENOMEM);
    size_t total = len + slack;
    void *r = mem_map(total, true, err);
    if (r == NULL)
        return NULL;
    uintptr_t base = (uintptr_t)r;
    uintptr_t start = (base + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - base;
    size_t tail = total - head - len;
    if (head)
        (void)mem_unmap((void *)base, head);
    if (tail)
        (void)mem_unmap((void *)(start + len), tail);
    int rc = mem_open((void *)start, len);
    if (rc < 0) {
        (void)mem_unmap((void *)start, len);
        return set_err(err, rc);
    }
    set_err(err, 0);
    return (void *)start;
}

void *vl_os_alloc_aligned(size_t size, size_t align, int *err)
{
    size_t len;
    if (size == 0 || !is_pow2(align))
        return set_err(err, -EINVAL);
    if (align <= vl_page_size())
        return vl_os_alloc(size, err);
    int rc = mem_alloc_len(size, &len);
    if (rc < 0)
        return set_err(err, rc);
    return alloc_overaligned(len, align, err);
}

/* Explicit huge pages when the OS has them; otherwise ordinary pages aligned
 * to the huge page size, which the OS may back with huge pages by itself
 * (transparent huge pages) when asked. */
void *vl_os_alloc_huge(size_t size, size_t huge_page_size, vl_huge_info *info, int *err)
{
    size_t hps = huge_page_size ? huge_page_size : mem_default_huge_size();
    size_t len;
    int rc = mem_huge_len(size, hps, info, &len);
    if (rc < 0)
        return set_err(err, rc);
    void *p = mem_map_huge(len, hps);
    if (p != NULL)
        return mem_huge_done(p, len, VL_HUGE_HUGETLB, info, err);
    p = vl_os_alloc_aligned(len, hps, err);
    if (p == NULL)
        return NULL;
    vl_huge_kind kind = mem_advise_huge(p, len) ? VL_HUGE_THP : VL_HUGE_NONE;
    return mem_huge_done(p, len, kind, info, err);
}
#endif /* VL__MEM_MMAP */

#endif
