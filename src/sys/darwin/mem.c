/*
 * src/sys/darwin/mem.c - the <vllsi/sys/mem.h> contract on mmap, munmap,
 * mprotect, madvise and minherit, with Mach's mach_vm_region where a range's
 * state must be read.
 *
 * macOS's mmap gives munmap's rule that any page-aligned sub-range may be
 * freed, so plain and aligned allocations are the Linux ones, from
 * src/sys/mem_common.h. Two advice
 * values need more: macOS's MADV_DONTNEED is only a paging hint (the pages
 * keep their contents), so VL_ADV_DONTNEED's "reads back as zero" is done by
 * mapping fresh anonymous pages over the range; and VL_ADV_DONTFORK is
 * minherit(VM_INHERIT_NONE), macOS's own "not in the child".
 */
#include <mach/mach_init.h>
#include <mach/vm_inherit.h>
#include <mach/vm_prot.h>
#include <mach/vm_region.h>
#include <sys/mman.h>

#include <vllsi/sys/mem.h>

#include "darwin/darwin.h"

/*
 * Declared here rather than through <mach/mach_vm.h>, which the SDK headers
 * bundled with zig leave out; the signature is the MIG routine's, exported
 * by libSystem since macOS 10.5 (vm_map_read_t is a mach_port_t).
 */
extern kern_return_t mach_vm_region(mach_port_t target_task, mach_vm_address_t *address,
                                    mach_vm_size_t *size, vm_region_flavor_t flavor,
                                    vm_region_info_t info, mach_msg_type_number_t *info_count,
                                    mach_port_t *object_name);

/* <mach/vm_statistics.h>'s value (SUPERPAGE_SIZE_2MB << VM_FLAGS_SUPERPAGE_SHIFT),
 * likewise missing from zig's SDK headers. */
#ifndef VM_FLAGS_SUPERPAGE_SIZE_2MB
#define VM_FLAGS_SUPERPAGE_SIZE_2MB (2 << 16)
#endif

/* Map len bytes (a page multiple) of private anonymous memory. `tag` is
 * mmap's fd argument, which for MAP_ANON carries VM flags (superpages). */
static void *map_anon(size_t len, int prot, int tag, int *err)
{
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANON, tag, 0);
    int e = p == MAP_FAILED ? vl__darwin_errno() : 0;
    if (err)
        *err = e;
    return e ? NULL : p;
}

/* mem_common.h's hooks (see there). */
static void *mem_map(size_t len, bool reserve, int *err)
{
    return map_anon(len, reserve ? PROT_NONE : PROT_READ | PROT_WRITE, -1, err);
}

static int mem_unmap(void *addr, size_t len)
{
    return munmap(addr, len) == 0 ? 0 : vl__darwin_errno();
}

static int mem_open(void *addr, size_t len)
{
    return mprotect(addr, len, PROT_READ | PROT_WRITE) == 0 ? 0 : vl__darwin_errno();
}

/*
 * macOS has superpages only on x86-64, only of 2 MiB, asked for through
 * mmap's fd argument (VM_FLAGS_SUPERPAGE_SIZE_2MB); they are wired, and the
 * call fails when none are free. That is kind VL_HUGE_HUGETLB. Otherwise
 * (arm64, another size, none free) the memory is an allocation aligned to
 * the huge page size, VL_HUGE_NONE: macOS has no transparent huge pages to
 * ask for.
 */
static void *mem_map_huge(size_t len, size_t hps)
{
#if defined(__x86_64__)
    if (hps == ((size_t)2 << 20))
        return map_anon(len, PROT_READ | PROT_WRITE, VM_FLAGS_SUPERPAGE_SIZE_2MB, NULL);
#endif
    (void)len;
    (void)hps;
    return NULL;
}

static bool mem_advise_huge(void *addr, size_t len)
{
    (void)addr;
    (void)len;
    return false;
}

#define VL__MEM_MMAP 1
#include "mem_common.h"

int vl_os_protect(void *addr, size_t size, vl_mem_prot prot)
{
    size_t len;
    if ((unsigned)prot & ~(unsigned)VL_PROT_ALL)
        return -EINVAL;
    int rc = mem_span_check(addr, size, &len);
    if (rc < 0)
        return rc;
    /* vl_mem_prot uses the PROT_* values, which macOS shares. */
    return mprotect(addr, len, (int)prot) == 0 ? 0 : vl__darwin_errno();
}

/*
 * Walk [p, end) region by region: each region's current protection goes to
 * `fn`, or the walk fails with -ENOMEM at the first unmapped page (madvise's
 * answer). fn NULL only checks that the range is mapped.
 */
static int walk_regions(char *p, char *end, int (*fn)(char *, size_t, vm_prot_t))
{
    while (p < end) {
        mach_vm_address_t a = (mach_vm_address_t)(uintptr_t)p;
        mach_vm_size_t sz = 0;
        vm_region_basic_info_data_64_t info;
        mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
        mach_port_t obj = MACH_PORT_NULL;
        kern_return_t kr = mach_vm_region(mach_task_self(), &a, &sz, VM_REGION_BASIC_INFO_64,
                                          (vm_region_info_t)&info, &count, &obj);
        if (kr == KERN_INVALID_ADDRESS || (kr == KERN_SUCCESS && a > (uintptr_t)p))
            return -ENOMEM; /* no region at or after p, or a hole at p */
        if (kr != KERN_SUCCESS)
            return vl_mach_error_to_errno(kr);
        char *rend = (char *)(uintptr_t)(a + sz);
        if (rend > end)
            rend = end;
        if (fn != NULL) {
            int rc = fn(p, (size_t)(rend - p), info.protection);
            if (rc < 0)
                return rc;
        }
        p = rend;
    }
    return 0;
}

/* Fresh zero-filled pages over the range, with the protection it had. */
static int zero_region(char *p, size_t n, vm_prot_t prot)
{
    int mprot = (prot & VM_PROT_READ ? PROT_READ : 0) | (prot & VM_PROT_WRITE ? PROT_WRITE : 0) |
                (prot & VM_PROT_EXECUTE ? PROT_EXEC : 0);
    void *q = mmap(p, n, mprot, MAP_PRIVATE | MAP_ANON | MAP_FIXED, -1, 0);
    return q == MAP_FAILED ? vl__darwin_errno() : 0;
}

/*
 * macOS counterparts of the advice values. NORMAL, RANDOM, SEQUENTIAL,
 * WILLNEED and FREE are madvise's own. DONTNEED: fresh zero pages (see the
 * top of the file). DONTFORK: minherit(VM_INHERIT_NONE). REMOVE: shared
 * memory only, so -EINVAL on these private pages, Linux's answer.
 * HUGEPAGE/NOHUGEPAGE: no transparent huge pages: -EINVAL, Linux's answer on
 * a kernel without THP.
 */
int vl_os_advise(void *addr, size_t size, vl_mem_advice advice)
{
    size_t len;
    if ((unsigned)advice >= (unsigned)VL_ADV_COUNT_)
        return -EINVAL;
    int rc = mem_span_check(addr, size, &len);
    if (rc < 0)
        return rc;
    /* madvise(2) on macOS does not promise -ENOMEM for a hole in the range,
     * so the range is checked whole first, before anything is changed. */
    char *p = addr, *end = p + len;
    rc = walk_regions(p, end, NULL);
    if (rc < 0)
        return rc;
    int adv;
    switch (advice) {
    case VL_ADV_NORMAL:
        adv = MADV_NORMAL;
        break;
    case VL_ADV_RANDOM:
        adv = MADV_RANDOM;
        break;
    case VL_ADV_SEQUENTIAL:
        adv = MADV_SEQUENTIAL;
        break;
    case VL_ADV_WILLNEED:
        adv = MADV_WILLNEED;
        break;
    case VL_ADV_FREE:
        adv = MADV_FREE;
        break;
    case VL_ADV_DONTNEED:
        return walk_regions(p, end, zero_region);
    case VL_ADV_DONTFORK:
        return minherit(addr, len, VM_INHERIT_NONE) == 0 ? 0 : vl__darwin_errno();
    default: /* REMOVE, HUGEPAGE, NOHUGEPAGE */
        return -EINVAL;
    }
    return madvise(addr, len, adv) == 0 ? 0 : vl__darwin_errno();
}
