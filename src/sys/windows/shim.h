/*
 * src/sys/windows/shim.h - force-included (gcc -include) into the shared sys
 * files that are OS-neutral except for a handful of primitives they take from
 * src/sys/linux/sys.h: tls.c (the thread pointer) and init.c (the panic
 * path's write, thread id and abort).
 *
 * It marks src/sys/linux/sys.h as already included, so none of its raw Linux
 * system calls is compiled into the Windows build, and supplies the same
 * names implemented on kernel32 (src/sys/windows/win.c). Keeping windows.h out
 * of this header keeps its macros (min, max, IN, OUT, ...) out of the shared
 * files.
 */
#ifndef VLLSI_WINDOWS_SHIM_H
#define VLLSI_WINDOWS_SHIM_H

#define VLLSI_LINUX_SYS_H 1

#include <stddef.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

/* Implemented in src/sys/windows/win.c (hidden: no export on PE anyway). */
void *vl__win_teb(void);
long vl__win_write_fd(int fd, const void *buf, size_t n);
int vl__win_thread_id(void);
int vl__win_process_id(void);
VL_NORETURN void vl__win_abort(int code);

/* The TEB (gs:[0x30] on x64) is the thread control block the Linux thread
 * pointer corresponds to: unique per live thread, constant for its life. */
static inline void *vl__thread_pointer(void)
{
    return vl__win_teb();
}

/* fd 1 and 2 are the process's standard output/error handles. */
static inline long vl__sys_write(int fd, const void *buf, size_t n)
{
    return vl__win_write_fd(fd, buf, n);
}

static inline int vl__sys_gettid(void)
{
    return vl__win_thread_id();
}

static inline int vl__sys_getpid(void)
{
    return vl__win_process_id();
}

/* Windows has no signal mask: SIGABRT cannot be blocked, so the unblock step
 * of the panic path has nothing to do. */
static inline int vl__sys_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
    (void)how;
    (void)set;
    (void)old;
    return 0;
}

/* The panic path's "raise SIGABRT, then exit_group(134)": raise() runs a
 * SIGABRT handler the program installed with signal() and otherwise ends the
 * process, and vl__win_abort ends it for good if a handler returns. */
static inline int vl__sys_tgkill(int pid, int tid, int sig)
{
    (void)pid;
    (void)tid;
    (void)sig;
    return 0;
}

static inline VL_NORETURN void vl__sys_exit_group(int code)
{
    vl__win_abort(code);
}

#endif
