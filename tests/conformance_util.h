/*
 * tests/conformance_util.h - small helpers the per-driver suites share (the
 * engine conformance suite and the loop suite): clocks, descriptor counting,
 * a seeded PRNG, checks for code that runs in a forked child, the allocation
 * counter of tests/alloc_count.c, and the suite start-up (driver from argv,
 * seed, valgrind slow-down, watchdog). Include it after vl_test.h.
 */
#ifndef VLLSI_CONFORMANCE_UTIL_H
#define VLLSI_CONFORMANCE_UTIL_H

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/engine.h>

#include "ct_platform.h"

/*
 * tests/alloc_count.c: while a window is open, count calls to malloc,
 * calloc, realloc and the aligned allocators (calls) and blocks allocated
 * minus blocks freed (net). Unavailable (0) under sanitizers, which own the
 * allocator.
 */
int vl_test_alloc_available(void);
void vl_test_alloc_begin(void);
void vl_test_alloc_end(long *calls, long *net);

#define CT_MS ((int64_t)1000000)

static inline int64_t ct_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void ct_sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Open descriptors of this process, not counting the one used to count.
 * Windows: the process's handle count (every kind of handle). */
static inline int ct_count_fds(void)
{
#ifdef _WIN32
    DWORD n = 0;
    return GetProcessHandleCount(GetCurrentProcess(), &n) ? (int)n : -1;
#else
    DIR *d = opendir(CT_FD_DIR);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
#endif
}

/* xorshift64*: a reproducible stream from the printed seed. */
static inline uint64_t ct_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static inline uint32_t ct_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(ct_rand(s) % n);
}

/*
 * Checks for code running in a forked child (vl_test_in_child): cmocka's
 * asserts would longjmp into the parent's copy of the runner, so a child
 * reports on stderr (captured by the parent) and returns a non-zero code.
 */
#define CK(cond)                                                                     \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                \
        }                                                                            \
    } while (0)

#define CK_EQ(a, b)                                                                             \
    do {                                                                                        \
        long long ck_a_ = (long long)(a), ck_b_ = (long long)(b);                               \
        if (ck_a_ != ck_b_) {                                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    ck_a_, #b, ck_b_);                                                          \
            return 1;                                                                           \
        }                                                                                       \
    } while (0)

/* What a per-driver suite takes from its command line and environment. */
struct ct_suite {
    vl_driver_kind kind;
    uint32_t flags;  /* vl_engine_config.flags for the suite's engines */
    const char *drv; /* "uring" or "epoll", as on the command line     */
    int slow;        /* watchdog multiplier: 6 under valgrind, else 1 */
    uint64_t seed;   /* VLLSI_TEST_SEED, else the time and the pid     */
};

/* The watchdog: every test arms it (CT_WATCH), so no test can hang a suite. */
static const char *volatile ct_watch_test = "(setup)";
static const char *ct_watch_suite = "suite";
static int ct_watch_slow = 1;

static void ct_on_watchdog(int sig)
{
    static const char pre[] = ": watchdog: test ";
    static const char post[] = " hung; ending the suite\n";
    const char *name = ct_watch_test;
    (void)sig;
#ifdef _WIN32
    /* The watchdog thread of tests/ct_platform.h, not a signal handler. */
    fprintf(stderr, "\n%s%s%s%s", ct_watch_suite, pre, name, post);
    fflush(stderr);
    ExitProcess(1);
#else
    (void)!write(2, "\n", 1);
    (void)!write(2, ct_watch_suite, strlen(ct_watch_suite));
    (void)!write(2, pre, sizeof(pre) - 1);
    (void)!write(2, name, strlen(name));
    (void)!write(2, post, sizeof(post) - 1);
    _exit(1);
#endif
}

/* Name the running test and give it secs (times the valgrind slow-down). */
static inline void ct_watch(const char *test, unsigned secs)
{
    ct_watch_test = test;
    alarm(secs * (unsigned)ct_watch_slow);
}

/*
 * Start a per-driver suite: the driver from argv[1] ("uring" | "epoll" | "kqueue",
 * default "uring"; "uring-notaskrun" is io_uring with
 * VL_ENGINE_NO_TASKRUN_FLAGS, the ring without DEFER_TASKRUN and
 * SINGLE_ISSUER; "uring-embedded" with VL_ENGINE_EMBEDDED, COOP_TASKRUN
 * instead of DEFER_TASKRUN; "epoll-remember" and "kqueue-remember" are
 * those drivers with VL_ENGINE_REMEMBER_FDS), the seed (printed, so a failure can be repeated), the
 * valgrind slow-down, and the SIGALRM watchdog. 0, or 2 after printing the
 * usage.
 */
static inline int ct_suite_init(struct ct_suite *s, const char *suite, int argc, char **argv)
{
    s->drv = argc > 1 ? argv[1] : "uring";
    s->flags = 0;
    if (strcmp(s->drv, "uring") == 0) {
        s->kind = VL_DRIVER_URING;
    } else if (strcmp(s->drv, "uring-notaskrun") == 0) {
        s->kind = VL_DRIVER_URING;
        s->flags = VL_ENGINE_NO_TASKRUN_FLAGS;
    } else if (strcmp(s->drv, "uring-embedded") == 0) {
        s->kind = VL_DRIVER_URING;
        s->flags = VL_ENGINE_EMBEDDED;
    } else if (strcmp(s->drv, "epoll") == 0) {
        s->kind = VL_DRIVER_EPOLL;
    } else if (strcmp(s->drv, "epoll-remember") == 0) {
        s->kind = VL_DRIVER_EPOLL;
        s->flags = VL_ENGINE_REMEMBER_FDS;
    } else if (strcmp(s->drv, "kqueue") == 0) {
        s->kind = VL_DRIVER_KQUEUE;
    } else if (strcmp(s->drv, "kqueue-remember") == 0) {
        s->kind = VL_DRIVER_KQUEUE;
        s->flags = VL_ENGINE_REMEMBER_FDS;
    } else if (strcmp(s->drv, "sync") == 0) {
        s->kind = VL_DRIVER_SYNC;
    } else if (strcmp(s->drv, "auto") == 0) {
        s->kind = VL_DRIVER_AUTO; /* engines made with AUTO; the suite learns which */
    } else if (strcmp(s->drv, "iocp") == 0) {
        s->kind = VL_DRIVER_IOCP;
    } else {
        fprintf(stderr,
                "usage: %s uring|uring-notaskrun|uring-embedded|epoll|epoll-remember|kqueue|"
                "kqueue-remember|sync|auto|iocp\n",
                argv[0]);
        return 2;
    }
    s->slow = 1;
#ifdef VL_TEST_HAVE_VALGRIND
    if (RUNNING_ON_VALGRIND)
        s->slow = 6;
#endif
    const char *seed = getenv("VLLSI_TEST_SEED");
    s->seed = seed ? strtoull(seed, NULL, 0) : (uint64_t)ct_now_ns() ^ ((uint64_t)getpid() << 32);
    if (s->seed == 0)
        s->seed = 1;
    printf("%s.%s: seed %llu (set VLLSI_TEST_SEED to repeat)\n", suite, s->drv,
           (unsigned long long)s->seed);
    ct_watch_suite = suite;
    ct_watch_slow = s->slow;
    ct_platform_init();
#ifndef _WIN32 /* Windows: the watchdog is ct_alarm's thread */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ct_on_watchdog;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
#endif
    return 0;
}

#endif
