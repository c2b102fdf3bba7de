/*
 * src/sys/linux/sys.h - the middle level of the three: typed, inline
 * vl__sys_* wrappers over the per-architecture stubs. Each returns what the
 * kernel returned (-errno on failure). Public vl_sys_* functions and the rest
 * of the sys layer call these, so the hot paths inline to one instruction.
 */
#ifndef VLLSI_LINUX_SYS_H
#define VLLSI_LINUX_SYS_H

#include <asm/unistd.h>
#include <linux/errno.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#include "arch/x86_64/syscall.h"
#elif defined(__aarch64__)
#include "arch/aarch64/syscall.h"
#else
#error "vllsi: unsupported Linux architecture (x86-64 and aarch64 only)"
#endif

#include <vllsi/sys/linux.h>

static inline long vl__sys_read(int fd, void *buf, size_t n)
{
    return vl__syscall3(__NR_read, fd, (long)buf, (long)n);
}

static inline long vl__sys_write(int fd, const void *buf, size_t n)
{
    return vl__syscall3(__NR_write, fd, (long)buf, (long)n);
}

static inline int vl__sys_close(int fd)
{
    return (int)vl__syscall1(__NR_close, fd);
}

static inline int vl__sys_openat(int dirfd, const char *path, int flags, int mode)
{
    return (int)vl__syscall4(__NR_openat, dirfd, (long)path, flags, mode);
}

static inline intptr_t vl__sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
                                    int64_t off)
{
    return vl__syscall6(__NR_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
}

static inline int vl__sys_munmap(void *addr, size_t len)
{
    return (int)vl__syscall2(__NR_munmap, (long)addr, (long)len);
}

static inline int vl__sys_mprotect(void *addr, size_t len, int prot)
{
    return (int)vl__syscall3(__NR_mprotect, (long)addr, (long)len, prot);
}

static inline int vl__sys_madvise(void *addr, size_t len, int advice)
{
    return (int)vl__syscall3(__NR_madvise, (long)addr, (long)len, advice);
}

static inline int vl__sys_getpid(void)
{
    return (int)vl__syscall0(__NR_getpid);
}

static inline int vl__sys_gettid(void)
{
    return (int)vl__syscall0(__NR_gettid);
}

static inline int vl__sys_sched_yield(void)
{
    return (int)vl__syscall0(__NR_sched_yield);
}

static inline int vl__sys_futex(uint32_t *uaddr, int op, uint32_t val, const vl_timespec *ts)
{
    return (int)vl__syscall6(__NR_futex, (long)uaddr, op, (long)val, (long)ts, 0, 0);
}

static inline int vl__sys_clock_gettime(int clk, vl_timespec *ts)
{
    return (int)vl__syscall2(__NR_clock_gettime, clk, (long)ts);
}

static inline int vl__sys_clock_nanosleep(int clk, int flags, const vl_timespec *req,
                                          vl_timespec *rem)
{
    return (int)vl__syscall4(__NR_clock_nanosleep, clk, flags, (long)req, (long)rem);
}

static inline int vl__sys_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
    return (int)vl__syscall4(__NR_rt_sigprocmask, how, (long)set, (long)old, 8);
}

static inline int vl__sys_tgkill(int tgid, int tid, int sig)
{
    return (int)vl__syscall3(__NR_tgkill, tgid, tid, sig);
}

static inline int vl__sys_sched_getaffinity(int pid, size_t len, void *mask)
{
    return (int)vl__syscall3(__NR_sched_getaffinity, pid, (long)len, (long)mask);
}

/* exit_group(2): ends every thread of the process; never returns. */
static inline void vl__sys_exit_group(int code)
{
    for (;;)
        (void)vl__syscall1(__NR_exit_group, code);
}

/*
 * FUTEX_WAIT_BITSET with an ABSOLUTE CLOCK_MONOTONIC deadline (NULL: forever),
 * process-private, matching any waker. Unlike FUTEX_WAIT's relative timeout,
 * an absolute deadline lets the caller retry after -EINTR without recomputing.
 */
static inline int vl__sys_futex_wait_abs(uint32_t *uaddr, uint32_t val, const vl_timespec *abs)
{
    return (int)vl__syscall6(__NR_futex, (long)uaddr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                             (long)val, (long)abs, 0, (long)FUTEX_BITSET_MATCH_ANY);
}

#endif
