/*
 * src/sys/page.c - page arithmetic, on every OS, over the page size that
 * the OS's vl__page_init finds (src/sys/common.c on Linux: the auxiliary
 * vector; src/sys/windows/page.c: GetSystemInfo). It is found once and
 * cached; every later call is one load. Two threads finding it at once
 * store the same values.
 */
#include "internal.h"

static size_t page_size_cached;
static unsigned page_shift_cached;

bool vl__page_known(void)
{
    return __atomic_load_n(&page_size_cached, __ATOMIC_RELAXED) != 0;
}

void vl__page_publish(size_t ps)
{
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
