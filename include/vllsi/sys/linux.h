/*
 * vllsi/sys/linux.h - the seed's sys.linux module: raw system calls and the
 * typed wrappers built on them. Linux only (x86-64 and aarch64).
 *
 * Every function here enters the kernel directly with the architecture's
 * system call instruction (`syscall` on x86-64, `svc #0` on aarch64); none
 * goes through libc and none touches errno. Failures come back as -errno,
 * exactly as the kernel reported them (results in -4095..-1 are errors).
 */
#ifndef VLLSI_SYS_LINUX_H
#define VLLSI_SYS_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include <vllsi/sys/common.h>

VL_EXTERN_C_BEGIN

/* The kernel's struct timespec on 64-bit Linux. */
typedef struct vl_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
} vl_timespec;

/*
 * vl_syscall_raw / vl_syscall6 - issue system call `num` with six arguments
 * (unused ones are ignored by the kernel) and return the kernel's raw result:
 * >= 0 on success, -errno on failure. The two are the same operation under
 * the seed's two names; vl_syscall6 exists so code written against the seed's
 * six-argument form reads as such. Unknown numbers give -ENOSYS.
 */
VL_API long vl_syscall_raw(long num, long a0, long a1, long a2, long a3, long a4, long a5);
VL_API long vl_syscall6(long num, long a0, long a1, long a2, long a3, long a4, long a5);

/* read(2)/write(2): byte count or -errno (-EBADF, -EFAULT, -EAGAIN, -EPIPE...). */
VL_API long vl_sys_read(int fd, void *buf, size_t count);
VL_API long vl_sys_write(int fd, const void *buf, size_t count);
/* close(2): 0 or -errno. -EINTR still means the descriptor is gone (Linux). */
VL_API int vl_sys_close(int fd);

/*
 * mmap(2): the mapping's address, or -errno in -4095..-1 (test with
 * vl_sys_is_error). The result is an integer so an error can never be
 * mistaken for a pointer.
 */
VL_API intptr_t vl_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t offset);
VL_API int vl_sys_munmap(void *addr, size_t len);
VL_API int vl_sys_mprotect(void *addr, size_t len, int prot);
/* madvise(2) with the kernel's MADV_* value (vl_os_advise maps vl_mem_advice). */
VL_API int vl_sys_madvise(void *addr, size_t len, int advice);

/* True when a raw result is an -errno value (-4095..-1). */
static inline int vl_sys_is_error(long r)
{
    return r < 0 && r >= -VL_MAX_ERRNO;
}

VL_API int vl_sys_getpid(void);
VL_API int vl_sys_gettid(void);
/* exit(2) ends the calling thread only; exit_group(2) ends the process.
 * Neither runs atexit handlers nor flushes stdio. */
VL_API VL_NORETURN void vl_sys_exit(int code);
VL_API VL_NORETURN void vl_sys_exit_group(int code);

/*
 * futex_wait: sleep while *uaddr == expected (process-private futex).
 * `timeout` is relative (NULL: forever). Returns 0 when woken, -EAGAIN when
 * *uaddr != expected on entry, -ETIMEDOUT, -EINTR (a signal), -EFAULT, -EINVAL.
 * futex_wake: wake up to n waiters; returns how many were woken, or -errno.
 */
VL_API int vl_sys_futex_wait(uint32_t *uaddr, uint32_t expected, const vl_timespec *timeout);
VL_API int vl_sys_futex_wake(uint32_t *uaddr, int n);

/*
 * clock_gettime: through the vDSO when the kernel provides one (no kernel
 * entry), else the raw system call. 0 or -errno (-EINVAL for an unknown
 * clock, -EFAULT for a NULL `ts`).
 */
VL_API int vl_sys_clock_gettime(int clk_id, vl_timespec *ts);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_LINUX_H */
