/*
 * src/sys/darwin/page.c - the page size on macOS (the macOS build's
 * src/sys/common.c; the arithmetic over it is src/sys/page.c).
 *
 * vm_page_size is the kernel's page size for this task, set by libSystem
 * before any user code runs: 4 KiB on Intel Macs, 16 KiB on Apple silicon
 * (an x86-64 program under Rosetta 2 sees 4 KiB). It is read once and
 * cached; a racing second read stores the same value.
 */
#include <mach/vm_page_size.h>

#include "darwin/darwin.h"

void vl__page_init(void)
{
    if (vl__page_known())
        return;
    size_t ps = (size_t)vm_page_size;
    if (ps < VL_PAGE_SIZE_MIN || (ps & (ps - 1)))
        ps = VL_PAGE_SIZE_MIN;
    vl__page_publish(ps);
}
