/*
 * tests/conformance_util.h - small helpers of the engine conformance suite
 * that need no engine: clocks, descriptor counting, a seeded PRNG, checks
 * for code that runs in a forked child, and the allocation counter of
 * tests/alloc_count.c.
 */
#ifndef VLLSI_CONFORMANCE_UTIL_H
#define VLLSI_CONFORMANCE_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

/* Open descriptors of this process, not counting the one used to count. */
static inline int ct_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
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

#endif
