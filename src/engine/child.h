/*
 * src/engine/child.h - WAITPID's work shared by the POSIX drivers that wait
 * without blocking (io_uring, the readiness core): how a waitid(2) siginfo
 * becomes the encoding <vllsi/engine.h> documents (vl_op_waitpid), the
 * non-blocking reap, and on Linux the pidfd_open(2) call they wait on. The
 * sync driver, which makes raw system calls only, has its own blocking
 * waitid.
 */
#ifndef VLLSI_ENGINE_CHILD_H
#define VLLSI_ENGINE_CHILD_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <vllsi/engine.h>

/* vl__child_reap's answer while the child runs: above every result. */
#define VL__CHILD_RUNNING INT64_MAX

/* A reaped child's siginfo (si_code CLD_EXITED, CLD_KILLED or CLD_DUMPED):
 * the exit code, or VL_CHILD_SIGNALED | the signal. */
static inline int64_t vl__child_result(const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED)
        return si->si_status & 0xff;
    return VL_CHILD_SIGNALED | (si->si_status & 0xff);
}

/* Reap pid if it has exited, without blocking: waitid(P_PID, pid, WEXITED |
 * WNOHANG). The result; -ECHILD for a pid that is no unreaped child;
 * VL__CHILD_RUNNING while it runs (si_pid stays 0: POSIX leaves the
 * siginfo unspecified then, so it is zeroed first). */
static inline int64_t vl__child_reap(int pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int rc;
    do {
        rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0)
        return -errno;
    return si.si_pid == 0 ? VL__CHILD_RUNNING : vl__child_result(&si);
}

#ifdef __linux__
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

/* The child's pidfd (close-on-exec, as pidfd_open always makes it), which
 * becomes readable when the child exits; or -EOPNOTSUPP before Linux 5.3,
 * -ECHILD for a pid gone already, another negative errno. */
static inline int vl__pidfd_open(int pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        return fd;
    return errno == ENOSYS ? -EOPNOTSUPP : errno == ESRCH ? -ECHILD : -errno;
}
#endif

#endif
