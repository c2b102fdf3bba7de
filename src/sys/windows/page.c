/*
 * src/sys/windows/page.c - the page size and page arithmetic on Windows (the
 * Windows build's src/sys/common.c).
 *
 * Two sizes matter on Windows: the page size (4 KiB on x64), which
 * VirtualProtect and VirtualFree(MEM_DECOMMIT) work in, and the allocation
 * granularity (64 KiB), the alignment of every address VirtualAlloc
 * reserves. vl_page_size() is the former, as on Linux; mem.c uses the latter
 * where a reservation's base matters. Both are read once from
 * GetSystemInfo and cached; a racing second read stores the same values.
 */
#include "win.h"

static size_t page_size_cached;
static unsigned page_shift_cached;
static size_t granularity_cached;

void vl__page_init(void)
{
    if (__atomic_load_n(&page_size_cached, __ATOMIC_RELAXED))
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
    /* The shift is stored first so any reader that sees the size sees it. */
    __atomic_store_n(&page_shift_cached, (unsigned)__builtin_ctzll(ps), __ATOMIC_RELAXED);
    __atomic_store_n(&page_size_cached, ps, __ATOMIC_RELEASE);
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

size_t vl__win_alloc_granularity(void)
{
    vl_page_size();
    return __atomic_load_n(&granularity_cached, __ATOMIC_RELAXED);
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
