/*
 * src/sys/darwin/time.c - clocks and sleeping on macOS.
 *
 * Monotonic: mach_absolute_time, scaled by mach_timebase_info read once
 * (1/1 on Intel Macs, 125/3 on Apple silicon's 24 MHz counter). Like Linux's
 * CLOCK_MONOTONIC it does not advance while the machine sleeps. Wall clock:
 * clock_gettime(CLOCK_REALTIME). Both read the commpage, the shared user page
 * that plays the vDSO's part, without entering the kernel.
 */
#include <mach/mach_time.h>
#include <time.h>

#include <vllsi/sys/time.h>

#include "darwin/darwin.h"

static uint32_t tb_numer, tb_denom; /* denom written last; 0: not read yet */

void vl__time_init(int no_vdso)
{
    /* There is no vDSO to skip: the commpage is the one clock source. */
    (void)no_vdso;
    if (__atomic_load_n(&tb_denom, __ATOMIC_ACQUIRE) != 0)
        return;
    mach_timebase_info_data_t tb = {0, 0};
    /* Documented never to fail; 1/1 (nanosecond ticks) if it ever did. */
    if (mach_timebase_info(&tb) != KERN_SUCCESS || tb.numer == 0 || tb.denom == 0)
        tb.numer = tb.denom = 1;
    __atomic_store_n(&tb_numer, tb.numer, __ATOMIC_RELAXED);
    __atomic_store_n(&tb_denom, tb.denom, __ATOMIC_RELEASE);
}

int64_t vl__darwin_monotonic_ns(void)
{
    uint32_t d = __atomic_load_n(&tb_denom, __ATOMIC_ACQUIRE);
    if (VL_UNLIKELY(d == 0)) {
        vl__time_init(0);
        d = __atomic_load_n(&tb_denom, __ATOMIC_ACQUIRE);
    }
    uint64_t n = __atomic_load_n(&tb_numer, __ATOMIC_RELAXED);
    uint64_t t = mach_absolute_time();
    /* Split so ticks * numer cannot overflow for any realistic uptime. */
    uint64_t whole = t / d, frac = t % d;
    return (int64_t)(whole * n + frac * n / d);
}

int64_t vl_time_monotonic_ns(void)
{
    return vl__darwin_monotonic_ns();
}

int64_t vl_time_realtime_ns(void)
{
    struct timespec ts;
    /* CLOCK_REALTIME always exists and ts is ours; 0 is the documented
     * answer for the failure that cannot happen. */
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    vl_timespec v = {ts.tv_sec, ts.tv_nsec};
    return vl_timespec_to_ns(v);
}

/*
 * nanosleep takes a relative time and returns early on a signal; sleeping
 * the remainder against a monotonic deadline makes the total never shorter
 * than asked, and a handler cannot stretch it either.
 */
int vl_sleep_ns(int64_t ns)
{
    if (ns < 0)
        return -EINVAL;
    if (ns == 0)
        return 0;
    int64_t deadline = vl__time_sat_add(vl__darwin_monotonic_ns(), ns);
    for (;;) {
        int64_t left = deadline - vl__darwin_monotonic_ns();
        if (left <= 0)
            return 0;
        vl_timespec v = vl_ns_to_timespec(left);
        struct timespec req = {(time_t)v.tv_sec, (long)v.tv_nsec};
        if (nanosleep(&req, NULL) != 0 && errno != EINTR)
            return vl__darwin_errno();
    }
}

const char *vl_time_source(void)
{
    return "mach_absolute_time";
}
