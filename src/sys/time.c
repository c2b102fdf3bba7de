/*
 * Clocks and sleeping on top of vl_sys_clock_gettime (the vDSO clock, see
 * src/sys/linux/vdso.c) and clock_nanosleep. Linux only for now.
 */
#include <linux/time.h>

#include "internal.h"
#include "linux/sys.h"
#include <vllsi/sys/time.h>

static int64_t clock_ns(int clk)
{
    vl_timespec ts;
    /* CLOCK_MONOTONIC and CLOCK_REALTIME always exist and ts is ours, so the
     * only conceivable failure is a seccomp filter on the fallback system
     * call; 0 is the documented answer then. */
    if (vl_sys_clock_gettime(clk, &ts) < 0)
        return 0;
    return vl_timespec_to_ns(ts);
}

int64_t vl_time_monotonic_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t vl_time_realtime_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int vl_sleep_ns(int64_t ns)
{
    if (ns < 0)
        return -EINVAL;
    if (ns == 0)
        return 0;
    vl_timespec now;
    int r = vl_sys_clock_gettime(CLOCK_MONOTONIC, &now);
    if (r < 0)
        return r;
    /* An absolute deadline: after EINTR the same request sleeps only what is
     * left, where a relative one would need the remainder recomputed and
     * would drift by the time spent in the handler. */
    vl_timespec deadline = vl_ns_to_timespec(vl__time_sat_add(vl_timespec_to_ns(now), ns));
    do {
        r = vl__sys_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    } while (r == -EINTR);
    return r;
}
