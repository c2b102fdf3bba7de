/*
 * src/sys/linux/thread.c - threads on Linux.
 *
 * Spawn, join, detach and the exit hook for foreign threads are the
 * pthread ones of src/sys/thread_pthread.h, which this file and
 * src/sys/darwin/thread.c share; a libc-free build starts threads with raw
 * clone() instead (src/sys/linux/nolibc/thread_clone.c), under the same
 * contract in <vllsi/sys/thread.h>. What stays here is Linux's own: the
 * thread id, yield, and the count of online CPUs, all on raw system calls.
 */
#include <vllsi/sys/thread.h>
#include <vllsi/sys/mem.h>

#include <linux/fcntl.h>

#include "internal.h"
#include "linux/sys.h"

/* The libc-free build (VLLSI_NOLIBC) spawns, joins and detaches with raw
 * clone() in src/sys/linux/nolibc/thread_clone.c; the rest is shared. */
#if !VLLSI_NOLIBC
#define VL__THREAD_TLS __thread __attribute__((tls_model("initial-exec")))
#include "thread_pthread.h"
#endif /* !VLLSI_NOLIBC */

int vl_thread_yield(void)
{
    return vl__sys_sched_yield();
}

int vl_thread_id(void)
{
    return vl__sys_gettid();
}

/* Parse a decimal at s[*i]; false when there is none or it is absurd. */
static bool parse_uint(const char *s, size_t n, size_t *i, unsigned *out)
{
    unsigned v = 0;
    size_t start = *i;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (unsigned)(s[*i] - '0');
        if (v > (1u << 24))
            return false;
        (*i)++;
    }
    *out = v;
    return *i > start;
}

/* Count the CPUs in a kernel cpu list ("0-1,4,6-7\n"); -1 when malformed. */
static int count_cpu_list(const char *s, size_t n)
{
    size_t i = 0;
    int count = 0;
    for (;;) {
        unsigned lo, hi;
        if (!parse_uint(s, n, &i, &lo))
            return -1;
        hi = lo;
        if (i < n && s[i] == '-') {
            i++;
            if (!parse_uint(s, n, &i, &hi) || hi < lo)
                return -1;
        }
        count += (int)(hi - lo + 1);
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        return (i == n || s[i] == '\n') ? count : -1;
    }
}

static int cpus_from_sysfs(void)
{
    char buf[4096];
    size_t used = 0;
    int fd = vl__sys_openat(-100 /* AT_FDCWD */, "/sys/devices/system/cpu/online",
                            O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    for (;;) {
        long r = vl__sys_read(fd, buf + used, sizeof(buf) - used);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
        if (used == sizeof(buf))
            break;
    }
    (void)vl__sys_close(fd);
    /* A full buffer may be a truncated list: better to ask the affinity. */
    if (used == 0 || used == sizeof(buf))
        return -1;
    return count_cpu_list(buf, used);
}

static int cpus_from_affinity(void)
{
    uint64_t mask[128]; /* 8192 CPUs; a bigger kernel mask gives -EINVAL */
    int r = vl__sys_sched_getaffinity(0, sizeof(mask), mask);
    if (r <= 0)
        return -1;
    int count = 0;
    for (size_t w = 0; w < (size_t)r / sizeof(mask[0]); w++)
        count += __builtin_popcountll(mask[w]);
    return count;
}

int vl_num_online_cpus(void)
{
    int n = cpus_from_sysfs();
    if (n < 1)
        n = cpus_from_affinity();
    return n < 1 ? 1 : n;
}
