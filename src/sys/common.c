/*
 * src/sys/common.c - the page size on Linux (the arithmetic over it is
 * src/sys/page.c, shared with Windows).
 *
 * The page size is the kernel's (AT_PAGESZ): 4 KiB on x86-64, and 4, 16 or
 * 64 KiB on aarch64 depending on the kernel's configuration. It is read once
 * and cached (vl__page_publish); reading it twice in a race is harmless
 * because both readers compute the same value.
 */
#include <linux/mman.h>

#include "internal.h"
#include "linux/sys.h"

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
    if (vl__page_known())
        return;
    unsigned long ps = 0;
    if (vl__auxv_get(AT_PAGESZ, &ps) != 0 || ps < VL_PAGE_SIZE_MIN || (ps & (ps - 1)))
        ps = page_size_probe();
    vl__page_publish((size_t)ps);
}
