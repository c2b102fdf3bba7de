/*
 * src/sys/linux/nolibc/mem_none.c - the sys layer's memory API for
 * VLLSI_RUNTIME=no_runtime (bootloaders, firmware, anything without a
 * kernel to ask): every heap operation fails with -ENOSYS after the same
 * argument checks as the hosted build, and page arithmetic uses a page size
 * fixed at build time, because there is nobody to read AT_PAGESZ from.
 *
 * This replaces src/sys/linux/mem.c and src/sys/common.c in that runtime
 * (common.c discovers the page size through the auxiliary vector and mmap,
 * which would make system calls reachable). Nothing here makes a system call;
 * the nolibc.noruntime_syscalls test checks that over the whole link map.
 */
#include <vllsi/sys/mem.h>

#include "internal.h"

#ifndef VLLSI_NO_RUNTIME_PAGE_SIZE
#define VLLSI_NO_RUNTIME_PAGE_SIZE VL_PAGE_SIZE_MIN
#endif
_Static_assert((VLLSI_NO_RUNTIME_PAGE_SIZE & (VLLSI_NO_RUNTIME_PAGE_SIZE - 1)) == 0,
               "the page size must be a power of two");

size_t vl_page_size(void)
{
    return VLLSI_NO_RUNTIME_PAGE_SIZE;
}

unsigned vl_page_shift(void)
{
    return (unsigned)__builtin_ctzl(VLLSI_NO_RUNTIME_PAGE_SIZE);
}

size_t vl_page_align_up(size_t x)
{
    size_t mask = VLLSI_NO_RUNTIME_PAGE_SIZE - 1;
    if (x > SIZE_MAX - mask)
        return 0;
    return (x + mask) & ~mask;
}

size_t vl_page_align_down(size_t x)
{
    return x & ~(size_t)(VLLSI_NO_RUNTIME_PAGE_SIZE - 1);
}

bool vl_is_page_aligned(size_t x)
{
    return (x & (VLLSI_NO_RUNTIME_PAGE_SIZE - 1)) == 0;
}

static void *fail(int *err, int e)
{
    if (err)
        *err = e;
    return NULL;
}

void *vl_os_alloc(size_t size, int *err)
{
    return fail(err, size == 0 ? -EINVAL : -ENOSYS);
}

void *vl_os_alloc_aligned(size_t size, size_t align, int *err)
{
    bool bad = size == 0 || align == 0 || (align & (align - 1)) != 0;
    return fail(err, bad ? -EINVAL : -ENOSYS);
}

void *vl_os_alloc_huge(size_t size, size_t huge_page_size, vl_huge_info *info, int *err)
{
    bool bad = info == NULL || size == 0 || (huge_page_size & (huge_page_size - 1)) != 0;
    return fail(err, bad ? -EINVAL : -ENOSYS);
}

/* The hosted range checks; past them, nothing can have been allocated, so
 * no range is ours to free, protect or advise. */
static int range_only(const void *addr, size_t size)
{
    return addr == NULL || size == 0 || !vl_is_page_aligned((uintptr_t)addr) ? -EINVAL : -ENOSYS;
}

int vl_os_free(void *addr, size_t size)
{
    return range_only(addr, size);
}

int vl_os_protect(void *addr, size_t size, vl_mem_prot prot)
{
    if ((unsigned)prot & ~(unsigned)VL_PROT_ALL)
        return -EINVAL;
    return range_only(addr, size);
}

int vl_os_advise(void *addr, size_t size, vl_mem_advice advice)
{
    if ((unsigned)advice >= (unsigned)VL_ADV_COUNT_)
        return -EINVAL;
    return range_only(addr, size);
}

/* No heap means no context log (the first frame push fails with -ENOSYS)
 * and no thread module: there is never a log to release at a thread's end. */
int vl__thread_exit_arm(void *log)
{
    (void)log;
    return 0;
}

void vl__thread_exit_disarm(void)
{
}
