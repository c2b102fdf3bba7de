/*
 * src/sys/darwin/shim.h - force-included (-include) into the shared sys
 * files that are OS-neutral except for a handful of primitives they take from
 * src/sys/linux/sys.h: tls.c (the thread pointer) and init.c (the panic
 * path's write, thread id, signal mask, signal and exit).
 *
 * It marks src/sys/linux/sys.h as already included, so none of its raw Linux
 * system calls is compiled into the macOS build, and supplies the same names
 * implemented on libSystem (src/sys/darwin/darwin.c). The libSystem headers
 * stay out of the shared files.
 */
#ifndef VLLSI_DARWIN_SHIM_H
#define VLLSI_DARWIN_SHIM_H

#define VLLSI_LINUX_SYS_H 1

#include <stddef.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

/* Implemented in src/sys/darwin/darwin.c; hidden. */
__attribute__((visibility("hidden"))) void *vl__darwin_pthread_self(void);
__attribute__((visibility("hidden"))) long vl__darwin_write(int fd, const void *buf, size_t n);
__attribute__((visibility("hidden"))) int vl__darwin_thread_id(void);
__attribute__((visibility("hidden"))) int vl__darwin_process_id(void);
__attribute__((visibility("hidden"))) int vl__darwin_sigprocmask(int linux_how, const uint64_t *set,
                                                                 uint64_t *old);
__attribute__((visibility("hidden"))) int vl__darwin_raise_self(int sig);
__attribute__((visibility("hidden"))) VL_NORETURN void vl__darwin_exit(int code);

/* pthread_self() is the thread's control block (what the TSD base register
 * points at): unique per live thread and constant for its life, which is
 * what the Linux thread pointer gives. */
static inline void *vl__thread_pointer(void)
{
    return vl__darwin_pthread_self();
}

static inline long vl__sys_write(int fd, const void *buf, size_t n)
{
    return vl__darwin_write(fd, buf, n);
}

static inline int vl__sys_gettid(void)
{
    return vl__darwin_thread_id();
}

static inline int vl__sys_getpid(void)
{
    return vl__darwin_process_id();
}

/* `how` is Linux's (0 block, 1 unblock, 2 set) and the masks are the kernel's
 * 64-bit layout (bit n-1 = signal n); darwin.c translates both. */
static inline int vl__sys_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
    return vl__darwin_sigprocmask(how, set, old);
}

/* The panic path signals the calling thread only (its own pid and tid). */
static inline int vl__sys_tgkill(int pid, int tid, int sig)
{
    (void)pid;
    (void)tid;
    return vl__darwin_raise_self(sig);
}

/* _exit(2): ends every thread of the process, no atexit handlers. */
static inline VL_NORETURN void vl__sys_exit_group(int code)
{
    vl__darwin_exit(code);
}

#endif
