/*
 * src/sys/windows/mem.c - the <vllsi/sys/mem.h> contract on VirtualAlloc,
 * VirtualFree and VirtualProtect.
 *
 * Windows separates reserving address space from committing memory to it,
 * and releases a reservation only whole (VirtualFree(base, 0, MEM_RELEASE)).
 * munmap's rule that any page-aligned sub-range may be freed is kept this
 * way: freeing decommits the pages (their memory is returned at once and any
 * access faults), and when no page of a reservation is committed any more
 * the reservation itself is released. So freeing a mapping in pieces, in any
 * order, ends with nothing left, as on Linux.
 */
#include <vllsi/sys/mem.h>

#include "mem_common.h"
#include "win.h"

/* The arguments this file passes VirtualAlloc are valid by construction but
 * for the size, so ERROR_INVALID_PARAMETER means "larger than the address
 * space": mmap's -ENOMEM. */
static int alloc_errno(void)
{
    DWORD e = GetLastError();
    return e == ERROR_INVALID_PARAMETER ? -ENOMEM : vl_win_error_to_errno(e);
}

static void *commit_new(void *at, size_t len, DWORD extra, int *err)
{
    void *p = VirtualAlloc(at, len, MEM_RESERVE | MEM_COMMIT | extra, PAGE_READWRITE);
    if (p == NULL)
        return set_err(err, alloc_errno());
    if (err)
        *err = 0;
    return p;
}

void *vl_os_alloc(size_t size, int *err)
{
    size_t len;
    int rc = mem_alloc_len(size, &len);
    if (rc < 0)
        return set_err(err, rc);
    return commit_new(NULL, len, 0, err);
}

/* Release `base`'s reservation when none of its pages is committed. */
static void release_if_empty(void *base)
{
    char *q = base;
    MEMORY_BASIC_INFORMATION mi;
    while (VirtualQuery(q, &mi, sizeof(mi)) != 0 && mi.AllocationBase == base) {
        if (mi.State == MEM_COMMIT)
            return;
        q = (char *)mi.BaseAddress + mi.RegionSize;
    }
    (void)VirtualFree(base, 0, MEM_RELEASE);
}

int vl_os_free(void *addr, size_t size)
{
    size_t len;
    int rc = mem_span_check(addr, size, &len);
    if (rc < 0)
        return rc;
    char *p = addr, *end = p + len;
    /* One region (a run of pages in the same state) at a time: VirtualFree
     * refuses a range that crosses two reservations. */
    while (p < end) {
        MEMORY_BASIC_INFORMATION mi;
        if (VirtualQuery(p, &mi, sizeof(mi)) == 0)
            return vl__win_last_errno();
        char *rend = (char *)mi.BaseAddress + mi.RegionSize;
        if (rend > end)
            rend = end;
        if (mi.State == MEM_COMMIT && !VirtualFree(p, (size_t)(rend - p), MEM_DECOMMIT))
            return vl__win_last_errno();
        if (mi.State != MEM_FREE)
            release_if_empty(mi.AllocationBase);
        p = rend;
    }
    return 0;
}

/*
 * Alignment above the allocation granularity: reserve size + align, note the
 * aligned address inside, release the reservation and claim exactly the
 * aligned part. Another thread can take the range in between (Windows has no
 * "trim a reservation"), so the claim is retried a few times before
 * -ENOMEM.
 */
static void *alloc_over_aligned(size_t len, size_t align, DWORD extra, int *err)
{
    if (len > SIZE_MAX - align)
        return set_err(err, -ENOMEM);
    for (int attempt = 0; attempt < 16; attempt++) {
        void *r = VirtualAlloc(NULL, len + align, MEM_RESERVE, PAGE_NOACCESS);
        if (r == NULL)
            return set_err(err, alloc_errno());
        uintptr_t at = ((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1);
        (void)VirtualFree(r, 0, MEM_RELEASE);
        void *p = VirtualAlloc((void *)at, len, MEM_RESERVE | MEM_COMMIT | extra, PAGE_READWRITE);
        if (p != NULL) {
            if (err)
                *err = 0;
            return p;
        }
        if (GetLastError() != ERROR_INVALID_ADDRESS)
            return set_err(err, alloc_errno());
    }
    return set_err(err, -ENOMEM);
}

void *vl_os_alloc_aligned(size_t size, size_t align, int *err)
{
    size_t len;
    if (size == 0 || !is_pow2(align))
        return set_err(err, -EINVAL);
    int rc = mem_alloc_len(size, &len);
    if (rc < 0)
        return set_err(err, rc);
    /* Every reservation starts on the granularity (64 KiB) already. */
    if (align <= vl__win_alloc_granularity())
        return commit_new(NULL, len, 0, err);
    return alloc_over_aligned(len, align, 0, err);
}

/* The default huge page: the processor's large page (2 MiB on x64), or
 * 2 MiB when large pages are unsupported. */
static size_t default_huge(void)
{
    size_t lp = GetLargePageMinimum();
    return is_pow2(lp) ? lp : (size_t)2 << 20;
}

/*
 * MEM_LARGE_PAGES needs the SeLockMemoryPrivilege, which accounts do not hold
 * by default (the call then fails with ERROR_PRIVILEGE_NOT_HELD), and only
 * works in multiples of GetLargePageMinimum(). Windows has no transparent
 * huge pages, so the fallback is an aligned allocation of ordinary pages,
 * reported as VL_HUGE_NONE.
 */
void *vl_os_alloc_huge(size_t size, size_t huge_page_size, vl_huge_info *info, int *err)
{
    size_t hps = huge_page_size ? huge_page_size : default_huge();
    size_t len;
    int rc = mem_huge_len(size, hps, info, &len);
    if (rc < 0)
        return set_err(err, rc);
    size_t lp = GetLargePageMinimum();
    void *p = NULL;
    if (lp != 0 && hps % lp == 0)
        p = VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
    vl_huge_kind kind = VL_HUGE_HUGETLB;
    if (p == NULL) {
        kind = VL_HUGE_NONE;
        p = vl_os_alloc_aligned(len, hps, err);
        if (p == NULL)
            return NULL;
    }
    return mem_huge_done(p, len, kind, info, err);
}

/* Windows has no write-only or execute-only-writable pages: W implies R, as
 * it does for mprotect on x86-64. */
static DWORD page_protection(vl_mem_prot prot)
{
    static const DWORD map[8] = {
        [VL_PROT_NONE] = PAGE_NOACCESS,
        [VL_PROT_READ] = PAGE_READONLY,
        [VL_PROT_WRITE] = PAGE_READWRITE,
        [VL_PROT_READ | VL_PROT_WRITE] = PAGE_READWRITE,
        [VL_PROT_EXEC] = PAGE_EXECUTE,
        [VL_PROT_READ | VL_PROT_EXEC] = PAGE_EXECUTE_READ,
        [VL_PROT_WRITE | VL_PROT_EXEC] = PAGE_EXECUTE_READWRITE,
        [VL_PROT_ALL] = PAGE_EXECUTE_READWRITE,
    };
    return map[prot & VL_PROT_ALL];
}

/* Like mprotect, a range with an unmapped (or merely reserved) page fails
 * with -ENOMEM; VirtualProtect works per reservation, hence the loop. */
int vl_os_protect(void *addr, size_t size, vl_mem_prot prot)
{
    size_t len;
    int rc = mem_span_check(addr, size, &len);
    if (rc < 0)
        return rc;
    if ((unsigned)prot & ~(unsigned)VL_PROT_ALL)
        return -EINVAL;
    char *p = addr, *end = p + len;
    while (p < end) {
        MEMORY_BASIC_INFORMATION mi;
        if (VirtualQuery(p, &mi, sizeof(mi)) == 0 || mi.State != MEM_COMMIT)
            return -ENOMEM;
        char *rend = (char *)mi.BaseAddress + mi.RegionSize;
        if (rend > end)
            rend = end;
        DWORD old;
        if (!VirtualProtect(p, (size_t)(rend - p), page_protection(prot), &old))
            return vl__win_last_errno();
        p = rend;
    }
    return 0;
}

/* MADV_DONTNEED's promise for private memory, zero on the next read: each
 * committed region is decommitted and committed again with its protection. */
static int advise_dontneed(char *p, char *end)
{
    while (p < end) {
        MEMORY_BASIC_INFORMATION mi;
        if (VirtualQuery(p, &mi, sizeof(mi)) == 0 || mi.State != MEM_COMMIT)
            return -ENOMEM;
        char *rend = (char *)mi.BaseAddress + mi.RegionSize;
        if (rend > end)
            rend = end;
        size_t n = (size_t)(rend - p);
        if (!VirtualFree(p, n, MEM_DECOMMIT) || VirtualAlloc(p, n, MEM_COMMIT, mi.Protect) == NULL)
            return vl__win_last_errno();
        p = rend;
    }
    return 0;
}

/* MEM_RESET: the contents may be discarded instead of paged out, which is
 * MADV_FREE's meaning; the pages stay committed and accessible. */
static int advise_free(void *p, size_t n)
{
    if (VirtualAlloc(p, n, MEM_RESET, PAGE_NOACCESS) == NULL)
        return vl__win_last_errno();
    return 0;
}

static int advise_willneed(void *p, size_t n)
{
    WIN32_MEMORY_RANGE_ENTRY r = {p, n};
    if (!PrefetchVirtualMemory(GetCurrentProcess(), 1, &r, 0))
        return vl__win_last_errno();
    return 0;
}

/*
 * Windows counterparts of the advice values: NORMAL, RANDOM and SEQUENTIAL
 * are access-pattern hints Windows takes no hint for on private memory (as
 * Linux ignores them on anonymous mappings): accepted, 0. DONTFORK: Windows
 * has no fork, nothing is ever inherited: 0. REMOVE: shared memory only, so
 * -EINVAL on these private pages, Linux's answer. HUGEPAGE/NOHUGEPAGE:
 * Windows has no transparent huge pages: -EINVAL, Linux's answer on a kernel
 * without THP.
 */
/* madvise's -ENOMEM: some page of [p, end) is not mapped (committed). */
static int check_committed(char *p, char *end)
{
    while (p < end) {
        MEMORY_BASIC_INFORMATION mi;
        if (VirtualQuery(p, &mi, sizeof(mi)) == 0 || mi.State != MEM_COMMIT)
            return -ENOMEM;
        p = (char *)mi.BaseAddress + mi.RegionSize;
    }
    return 0;
}

int vl_os_advise(void *addr, size_t size, vl_mem_advice advice)
{
    size_t len;
    int rc = mem_span_check(addr, size, &len);
    if (rc < 0)
        return rc;
    if ((unsigned)advice >= VL_ADV_COUNT_)
        return -EINVAL;
    int r = check_committed(addr, (char *)addr + len);
    if (r < 0)
        return r;
    switch (advice) {
    case VL_ADV_WILLNEED:
        return advise_willneed(addr, (size_t)len);
    case VL_ADV_DONTNEED:
        return advise_dontneed(addr, (char *)addr + len);
    case VL_ADV_FREE:
        return advise_free(addr, (size_t)len);
    case VL_ADV_REMOVE:
    case VL_ADV_HUGEPAGE:
    case VL_ADV_NOHUGEPAGE:
        return -EINVAL;
    default:
        return 0;
    }
}
