/* sys.time: vDSO clock resolution, clocks, sleeping, duration helpers. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#ifndef _WIN32
#include <sys/time.h>
#endif

#include "vl_test.h"
#ifdef __linux__
#include <vllsi/sys/linux.h>
#endif
#include <vllsi/sys/time.h>
#include "internal.h"

/* The C library's clock that vl_time_monotonic_ns must agree with. On macOS
 * CLOCK_MONOTONIC also counts the time the machine slept, so the match for
 * mach_absolute_time (and Linux's CLOCK_MONOTONIC) is CLOCK_UPTIME_RAW. */
#ifdef __APPLE__
#define MONO_CLOCK CLOCK_UPTIME_RAW
#else
#define MONO_CLOCK CLOCK_MONOTONIC
#endif

static int64_t libc_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef _WIN32
/* One clock source on Windows: QueryPerformanceCounter (src/sys/windows). */
static const char *expected_source(void)
{
    return "qpc";
}
#elif defined(__APPLE__)
/* One clock source on macOS: mach_absolute_time (src/sys/darwin). */
static const char *expected_source(void)
{
    return "mach_absolute_time";
}
#else
static const char *expected_source(void)
{
    /* Under valgrind or an exotic kernel there may be no vDSO at all. */
    return getauxval(AT_SYSINFO_EHDR) != 0 ? "vdso" : "syscall";
}
#endif

/* Our reading lies between two libc readings of the same clock. */
static void check_clocks_bracketed(void)
{
    for (int i = 0; i < 1000; i++) {
        int64_t a = libc_ns(MONO_CLOCK);
        int64_t m = vl_time_monotonic_ns();
        int64_t b = libc_ns(MONO_CLOCK);
        assert_true(a <= m && m <= b);
        a = libc_ns(CLOCK_REALTIME);
        int64_t r = vl_time_realtime_ns();
        b = libc_ns(CLOCK_REALTIME);
        /* The wall clock may be stepped between reads; allow a few ms. */
        assert_true(r >= a - 5000000 && r <= b + 5000000);
    }
    int64_t prev = vl_time_monotonic_ns();
    for (int i = 0; i < 200000; i++) {
        int64_t now = vl_time_monotonic_ns();
        assert_true(now >= prev);
        prev = now;
    }
    int64_t secs = vl_time_realtime_ns() / VL_NS_PER_SEC;
    time_t t = time(NULL);
    assert_true(secs >= (int64_t)t - 1 && secs <= (int64_t)t + 1);
}

#if defined(_WIN32) || defined(__APPLE__)
/* vl_sys_clock_gettime is <vllsi/sys/linux.h>, not built on Windows or macOS. */
static void check_clock_gettime_errors(void)
{
}
#else
static void check_clock_gettime_errors(void)
{
    vl_timespec ts = {-1, -1};
    assert_int_equal(vl_sys_clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    assert_true(ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
    /* Clocks the vDSO does not serve fall back to the kernel inside it. */
    assert_int_equal(vl_sys_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
    assert_int_equal(vl_sys_clock_gettime(CLOCK_BOOTTIME, &ts), 0);
    assert_int_equal(vl_sys_clock_gettime(CLOCK_MONOTONIC, NULL), -EFAULT);
    assert_int_equal(vl_sys_clock_gettime(-1, &ts), -EINVAL);
    assert_int_equal(vl_sys_clock_gettime(12345, &ts), -EINVAL);
}
#endif

static void source_matches_auxv(void **state)
{
    (void)state;
    assert_string_equal(vl_time_source(), expected_source());
}

static void clocks_match_libc(void **state)
{
    (void)state;
    check_clocks_bracketed();
    check_clock_gettime_errors();
}

static void syscall_path_matches_libc(void **state)
{
    (void)state;
#ifdef _WIN32
    /* No vDSO to avoid: VL_INIT_NO_VDSO leaves QPC as the clock. */
    vl__time_init(1);
    assert_string_equal(vl_time_source(), "qpc");
#elif defined(__APPLE__)
    /* Nor on macOS: the commpage stays the clock. */
    vl__time_init(1);
    assert_string_equal(vl_time_source(), "mach_absolute_time");
#else
    vl__time_init(1);
    assert_string_equal(vl_time_source(), "syscall");
#endif
    check_clocks_bracketed();
    check_clock_gettime_errors();
    vl__time_init(0);
    assert_string_equal(vl_time_source(), expected_source());
    check_clocks_bracketed();
}

static void sleep_lasts_at_least(void **state)
{
    (void)state;
    int64_t t0 = libc_ns(MONO_CLOCK);
    assert_int_equal(vl_sleep_ns(20 * VL_NS_PER_MS), 0);
    assert_true(libc_ns(MONO_CLOCK) - t0 >= 20 * VL_NS_PER_MS);
    t0 = libc_ns(MONO_CLOCK);
    assert_int_equal(vl_sleep_ns(1), 0);
    assert_true(libc_ns(MONO_CLOCK) - t0 >= 1);
    assert_int_equal(vl_sleep_ns(0), 0);
    assert_int_equal(vl_sleep_ns(-1), -EINVAL);
    assert_int_equal(vl_sleep_ns(INT64_MIN), -EINVAL);
}

#ifndef _WIN32
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}
#endif

static void sleep_survives_signals(void **state)
{
    (void)state;
#ifdef _WIN32
    VL_TEST_SKIP_ON_WINDOWS("no asynchronous signals (SIGALRM, setitimer) interrupt a sleep");
#else
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART: the kernel reports EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval it = {{0, 30000}, {0, 30000}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    int64_t t0 = libc_ns(MONO_CLOCK);
    int r = vl_sleep_ns(200 * VL_NS_PER_MS);
    int64_t el = libc_ns(MONO_CLOCK) - t0;
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(r, 0);
    assert_true(alarms >= 1); /* the sleep really was interrupted */
    assert_true(el >= 200 * VL_NS_PER_MS);
#endif
}

static void duration_helpers(void **state)
{
    (void)state;
    assert_int_equal(VL_NS_PER_US, 1000);
    assert_int_equal(VL_NS_PER_MS, 1000000);
    assert_int_equal(VL_NS_PER_SEC, 1000000000);
    assert_int_equal(vl_duration_from_us(3), 3000);
    assert_int_equal(vl_duration_from_ms(-3), -3000000);
    assert_int_equal(vl_duration_from_s(2), 2000000000);
    assert_int_equal(vl_duration_from_s(0), 0);
    /* Saturation instead of wrap-around. */
    assert_int_equal(vl_duration_from_s(INT64_MAX / 1000000000 + 1), INT64_MAX);
    assert_int_equal(vl_duration_from_s(INT64_MAX / 1000000000),
                     INT64_MAX / 1000000000 * 1000000000);
    assert_int_equal(vl_duration_from_ms(INT64_MAX), INT64_MAX);
    assert_int_equal(vl_duration_from_us(INT64_MIN), INT64_MIN);
    assert_int_equal(vl_duration_from_s(INT64_MIN / 1000000000 - 1), INT64_MIN);

    vl_timespec ts = {3, 5};
    assert_int_equal(vl_timespec_to_ns(ts), 3000000005);
    ts = (vl_timespec){INT64_MAX / 1000000000, 999999999};
    assert_int_equal(vl_timespec_to_ns(ts), INT64_MAX);
    ts = (vl_timespec){INT64_MAX, 0};
    assert_int_equal(vl_timespec_to_ns(ts), INT64_MAX);
    ts = (vl_timespec){INT64_MIN, 0};
    assert_int_equal(vl_timespec_to_ns(ts), INT64_MIN);
    ts = (vl_timespec){-1, 999999999};
    assert_int_equal(vl_timespec_to_ns(ts), -1);

    ts = vl_ns_to_timespec(3000000005);
    assert_int_equal(ts.tv_sec, 3);
    assert_int_equal(ts.tv_nsec, 5);
    ts = vl_ns_to_timespec(-1);
    assert_int_equal(ts.tv_sec, -1);
    assert_int_equal(ts.tv_nsec, 999999999);
    ts = vl_ns_to_timespec(-1000000000);
    assert_int_equal(ts.tv_sec, -1);
    assert_int_equal(ts.tv_nsec, 0);
    ts = vl_ns_to_timespec(INT64_MIN);
    assert_int_equal(vl_timespec_to_ns(ts), INT64_MIN);
    ts = vl_ns_to_timespec(INT64_MAX);
    assert_int_equal(vl_timespec_to_ns(ts), INT64_MAX);
    ts = vl_ns_to_timespec(0);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(source_matches_auxv),       cmocka_unit_test(clocks_match_libc),
        cmocka_unit_test(syscall_path_matches_libc), cmocka_unit_test(sleep_lasts_at_least),
        cmocka_unit_test(sleep_survives_signals),    cmocka_unit_test(duration_helpers),
    };
    return cmocka_run_group_tests_name("sys.time", tests, NULL, NULL);
}
