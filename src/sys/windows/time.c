/*
 * src/sys/windows/time.c - clocks and sleeping on Windows.
 *
 * Monotonic: QueryPerformanceCounter, scaled by the frequency read once
 * (fixed at boot; 10 MHz on current Windows). Wall clock:
 * GetSystemTimePreciseAsFileTime (100 ns units since 1601), shifted to the
 * Unix epoch. Neither enters the kernel on current Windows: both read the
 * shared user page, as the vDSO does on Linux.
 */
#include <vllsi/sys/time.h>

#include "win.h"

/* 100 ns intervals between 1601-01-01 and 1970-01-01. */
#define FILETIME_UNIX_EPOCH INT64_C(116444736000000000)

static int64_t qpc_freq;

void vl__time_init(int no_vdso)
{
    /* There is no vDSO to skip: QPC is the one clock source. */
    (void)no_vdso;
    if (__atomic_load_n(&qpc_freq, __ATOMIC_RELAXED) != 0)
        return;
    LARGE_INTEGER f;
    /* Documented never to fail on Windows XP and later. */
    if (!QueryPerformanceFrequency(&f) || f.QuadPart <= 0)
        f.QuadPart = 10000000;
    __atomic_store_n(&qpc_freq, f.QuadPart, __ATOMIC_RELAXED);
}

int64_t vl__win_qpc_ns(void)
{
    int64_t f = __atomic_load_n(&qpc_freq, __ATOMIC_RELAXED);
    if (VL_UNLIKELY(f == 0)) {
        vl__time_init(0);
        f = __atomic_load_n(&qpc_freq, __ATOMIC_RELAXED);
    }
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    /* Split so counter * 10^9 cannot overflow for any realistic uptime. */
    int64_t whole = c.QuadPart / f, frac = c.QuadPart % f;
    return whole * VL_NS_PER_SEC + frac * VL_NS_PER_SEC / f;
}

int64_t vl_time_monotonic_ns(void)
{
    return vl__win_qpc_ns();
}

int64_t vl_time_realtime_ns(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
    return vl__time_sat_mul(t - FILETIME_UNIX_EPOCH, 100);
}

/*
 * Sleep() takes whole milliseconds and may wake up to one timer tick
 * (15.6 ms by default) late, never early by more than a tick's rounding; so
 * sleep the remaining time rounded up and re-check the monotonic deadline,
 * which makes the total never shorter than asked.
 */
int vl_sleep_ns(int64_t ns)
{
    if (ns < 0)
        return -EINVAL;
    if (ns == 0)
        return 0;
    int64_t deadline = vl__time_sat_add(vl__win_qpc_ns(), ns);
    for (;;) {
        int64_t left = deadline - vl__win_qpc_ns();
        if (left <= 0)
            return 0;
        int64_t ms = (left + VL_NS_PER_MS - 1) / VL_NS_PER_MS;
        Sleep(ms >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)ms);
    }
}

const char *vl_time_source(void)
{
    return "qpc";
}
