/*
 * vllsi/sys/time.h - clocks, sleeping and duration arithmetic.
 *
 * Durations and instants are int64_t nanoseconds (about +-292 years). On
 * Linux the clocks are read through the vDSO's clock_gettime (no kernel
 * entry), resolved once from the auxiliary vector; without a vDSO, or when
 * vl_init was told not to use it, the clock_gettime system call is used.
 */
#ifndef VLLSI_SYS_TIME_H
#define VLLSI_SYS_TIME_H

#include <stdint.h>

#include <vllsi/sys/common.h>
#if defined(__linux__)
#include <vllsi/sys/linux.h> /* vl_timespec */
#else
/* The same layout as the Linux definition in <vllsi/sys/linux.h>. */
typedef struct vl_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
} vl_timespec;
#endif

VL_EXTERN_C_BEGIN

#define VL_NS_PER_US  INT64_C(1000)
#define VL_NS_PER_MS  INT64_C(1000000)
#define VL_NS_PER_SEC INT64_C(1000000000)

/*
 * vl_time_monotonic_ns - CLOCK_MONOTONIC in nanoseconds: never goes
 * backwards, unaffected by changes to the wall clock, origin unspecified
 * (boot on Linux). Use it for timeouts and intervals.
 * vl_time_realtime_ns - CLOCK_REALTIME: nanoseconds since the Unix epoch;
 * can jump when the wall clock is set.
 * Neither can fail on Linux (both clocks always exist and the result buffer
 * is the library's own); should the kernel ever refuse, they return 0.
 */
VL_API int64_t vl_time_monotonic_ns(void);
VL_API int64_t vl_time_realtime_ns(void);

/*
 * vl_sleep_ns - block the calling thread for at least ns nanoseconds.
 * The wait is an absolute CLOCK_MONOTONIC deadline, so a signal handler that
 * interrupts it resumes the sleep for the remaining time only and the total
 * is never shorter than asked. Returns 0, -EINVAL for a negative ns (0
 * returns at once without entering the kernel), or another -errno the kernel
 * reported.
 */
VL_API int vl_sleep_ns(int64_t ns);

/*
 * vl_time_source - which path the clocks use: "vdso" or "syscall". Static
 * string; for diagnostics and tests. Resolves the vDSO if not yet done.
 */
VL_API const char *vl_time_source(void);

/* ---- duration arithmetic (saturating: overflow gives INT64_MAX/INT64_MIN) */

static inline int64_t vl__time_sat_mul(int64_t v, int64_t k)
{
    if (v > INT64_MAX / k)
        return INT64_MAX;
    if (v < INT64_MIN / k)
        return INT64_MIN;
    return v * k;
}

static inline int64_t vl__time_sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Microseconds, milliseconds, seconds -> nanoseconds (saturating). */
static inline int64_t vl_duration_from_us(int64_t us)
{
    return vl__time_sat_mul(us, VL_NS_PER_US);
}

static inline int64_t vl_duration_from_ms(int64_t ms)
{
    return vl__time_sat_mul(ms, VL_NS_PER_MS);
}

static inline int64_t vl_duration_from_s(int64_t s)
{
    return vl__time_sat_mul(s, VL_NS_PER_SEC);
}

/* A timespec -> nanoseconds (saturating; tv_nsec outside 0..999999999 is
 * added as is). */
static inline int64_t vl_timespec_to_ns(vl_timespec ts)
{
    int64_t sec = ts.tv_sec, nsec = ts.tv_nsec;
    /* Borrow a second for negative instants so that INT64_MIN, whose
     * normalised form has sec * 10^9 below INT64_MIN, converts exactly. */
    if (sec < 0 && nsec > 0) {
        sec += 1;
        nsec -= VL_NS_PER_SEC;
    }
    int64_t whole = vl__time_sat_mul(sec, VL_NS_PER_SEC);
    /* No multiple of 10^9 equals INT64_MAX or INT64_MIN: these mean saturated. */
    if (whole == INT64_MAX || whole == INT64_MIN)
        return whole;
    return vl__time_sat_add(whole, nsec);
}

/* Nanoseconds -> a normalised timespec: tv_nsec is always in 0..999999999,
 * so a negative ns gives a negative tv_sec (-1 ns is {-1, 999999999}). */
static inline vl_timespec vl_ns_to_timespec(int64_t ns)
{
    vl_timespec ts;
    ts.tv_sec = ns / VL_NS_PER_SEC;
    ts.tv_nsec = ns % VL_NS_PER_SEC;
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += VL_NS_PER_SEC;
        ts.tv_sec -= 1;
    }
    return ts;
}

VL_EXTERN_C_END

#endif /* VLLSI_SYS_TIME_H */
