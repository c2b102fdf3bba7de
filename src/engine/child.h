/*
 * src/engine/child.h - WAITPID's result, shared by the POSIX drivers: how a
 * waitid(2) siginfo becomes the encoding <vllsi/engine.h> documents
 * (vl_op_waitpid), and the pidfd_open(2) call the Linux drivers wait on.
 */
#ifndef VLLSI_ENGINE_CHILD_H
#define VLLSI_ENGINE_CHILD_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include <vllsi/engine.h>

/* A reaped child's siginfo (si_code CLD_EXITED, CLD_KILLED or CLD_DUMPED):
 * the exit code, or VL_CHILD_SIGNALED | the signal. */
static inline int64_t vl__child_result(const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED)
        return si->si_status & 0xff;
    return VL_CHILD_SIGNALED | (si->si_status & 0xff);
}

/* waitid(P_PID, pid, WEXITED | WNOHANG)'s outcome, si filled by the call
 * (ret its return, -errno on failure): the result, or VL__CHILD_RUNNING when
 * the child runs still (si_pid stays 0: the caller zeroes si before the call, as POSIX asks).
 * WNOWAIT in the call leaves the status for a later wait. */
#define VL__CHILD_RUNNING INT64_MAX /* above every result */

static inline int64_t vl__child_waited(int64_t ret, const siginfo_t *si)
{
    if (ret < 0)
        return ret;
    return si->si_pid == 0 ? VL__CHILD_RUNNING : vl__child_result(si);
}

#endif
