/*
 * src/sys/windows/page.c - the page size on Windows (the Windows build's
 * src/sys/common.c; the arithmetic over it is src/sys/page.c).
 *
 * Two sizes matter on Windows: the page size (4 KiB on x64), which
 * VirtualProtect and VirtualFree(MEM_DECOMMIT) work in, and the allocation
 * granularity (64 KiB), the alignment of every address VirtualAlloc
 * reserves. vl_page_size() is the former, as on Linux; mem.c uses the latter
 * where a reservation's base matters. Both are read once from
 * GetSystemInfo and cached; a racing second read stores the same values.
 */
#include "win.h"

static size_t granularity_cached;

void vl__page_init(void)
{
    if (vl__page_known())
        return;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    size_t ps = si.dwPageSize;
    if (ps < VL_PAGE_SIZE_MIN || (ps & (ps - 1)))
        ps = VL_PAGE_SIZE_MIN;
    size_t gran = si.dwAllocationGranularity;
    if (gran < ps || (gran & (gran - 1)))
        gran = ps;
    __atomic_store_n(&granularity_cached, gran, __ATOMIC_RELAXED);
    vl__page_publish(ps); /* after the granularity: seeing the size means both */
}

size_t vl__win_alloc_granularity(void)
{
    vl_page_size();
    return __atomic_load_n(&granularity_cached, __ATOMIC_RELAXED);
}
