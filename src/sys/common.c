/*
 * Page size discovery and page arithmetic.
 *
 * The page size is the kernel's (AT_PAGESZ): 4 KiB on x86-64, and 4, 16 or
 * 64 KiB on aarch64 depending on the kernel's configuration. It is read once
 * and cached; every later call is a relaxed load. Reading it twice in a race
 * is harmless because both readers compute the same value.
 */
#include <linux/mman.h>

#include "internal.h"
#include "linux/sys.h"

static size_t page_size_cached;
static unsigned page_shift_cached;

/*
 * Without /proc (some sandboxes), find the page size from the kernel's own
 * checks: mprotect() demands a page-aligned address, so in a region mapped at
 * a 64 KiB-aligned address, the smallest candidate s for which
 * mprotect(base + s, s) succeeds is the page size.
 */
static size_t page_size_probe(void)
{
    const size_t max = 65536;
    intptr_t r = vl__sys_mmap(NULL, 2 * max, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vl_sys_is_error(r))
        return VL_PAGE_SIZE_MIN;
    uintptr_t base = ((uintptr_t)r + max - 1) & ~(uintptr_t)(max - 1);
    size_t found = max;
    for (size_t s = VL_PAGE_SIZE_MIN; s < max; s <<= 1) {
        if (vl__sys_mprotect((void *)(base + s), s, PROT_NONE) == 0) {
            found = s;
            break;
        }
    }
    vl__sys_munmap((void *)r, 2 * max);
    return found;
}

void vl__page_init(void)
{
    if (__atomic_load_n(&page_size_cached, __ATOMIC_RELAXED))
        return;
    unsigned long ps = 0;
    if (vl__auxv_get(AT_PAGESZ, &ps) != 0 || ps < VL_PAGE_SIZE_MIN || (ps & (ps - 1)))
        ps = page_size_probe();
    unsigned shift = (unsigned)__builtin_ctzl(ps);
    /* The shift is stored first so any reader that sees the size sees it. */
    __atomic_store_n(&page_shift_cached, shift, __ATOMIC_RELAXED);
    __atomic_store_n(&page_size_cached, (size_t)ps, __ATOMIC_RELEASE);
}

size_t vl_page_size(void)
{
    size_t ps = __atomic_load_n(&page_size_cached, __ATOMIC_ACQUIRE);
    if (VL_LIKELY(ps))
        return ps;
    vl__page_init();
    return __atomic_load_n(&page_size_cached, __ATOMIC_ACQUIRE);
}

unsigned vl_page_shift(void)
{
    vl_page_size();
    return __atomic_load_n(&page_shift_cached, __ATOMIC_RELAXED);
}

size_t vl_page_align_up(size_t x)
{
    size_t mask = vl_page_size() - 1;
    if (x > SIZE_MAX - mask)
        return 0;
    return (x + mask) & ~mask;
}

size_t vl_page_align_down(size_t x)
{
    return x & ~(vl_page_size() - 1);
}

bool vl_is_page_aligned(size_t x)
{
    return (x & (vl_page_size() - 1)) == 0;
}

vl_os_error vl_os_error_from(int err)
{
    vl_os_error e;
    e.code = err > 0 ? -err : err;
    e.message = vl_strerror(e.code);
    return e;
}
