/*
 * vllsi/sys/irq.h - the seed's interrupt control for a hosted process, where
 * the "interrupts" are POSIX signals and "disabling" them means blocking them
 * in the calling thread's signal mask (other threads are not affected).
 *
 * A blocked signal is not lost: it stays pending and is delivered as soon as
 * the mask that blocked it is lifted, which is what a critical section needs.
 * Synchronous faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) caused by the
 * critical section itself cannot be deferred: the kernel kills the process
 * when it must deliver one that is blocked.
 */
#ifndef VLLSI_SYS_IRQ_H
#define VLLSI_SYS_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

/*
 * The seed's CriticalSection, a guard returned by vl_disable_interrupts():
 * `saved_mask` is the thread's kernel signal mask (bit n-1 = signal n) from
 * before the call, `active` is 1 until the guard is released. The caller owns
 * it (usually on its stack); it holds no other resource.
 */
typedef struct vl_critical_section {
    uint64_t saved_mask;
    uint32_t active;
} vl_critical_section;

/*
 * vl_disable_interrupts - block every signal that can be blocked in the
 * calling thread, except signals 32 and 33, which glibc uses internally
 * (SIGCANCEL for thread cancellation, SIGSETXID to run setuid() & co on every
 * thread); blocking those would deadlock the next setxid call or
 * pthread_cancel aimed at this thread. SIGKILL and SIGSTOP cannot be blocked.
 *
 * Returns a guard holding the previous mask. Guards nest: an inner guard saves
 * the already-blocked mask, so releasing it keeps signals blocked and only the
 * outermost release lets pending signals in. Release guards in LIFO order;
 * releasing an outer guard first unblocks everything while inner guards are
 * still "active". If the kernel refused the mask change (it never does for a
 * valid set), the guard comes back with active = 0.
 */
VL_API vl_critical_section vl_disable_interrupts(void);

/*
 * vl_critical_section_release - restore the mask saved in `cs` exactly (the
 * whole mask, so a signal the caller blocked or unblocked inside the section
 * by other means returns to its state at vl_disable_interrupts time) and mark
 * the guard inactive. Signals that arrived meanwhile are delivered before this
 * returns. Returns 0, or -EINVAL for a NULL guard or one already released (or
 * never activated); nothing changes then.
 */
VL_API int vl_critical_section_release(vl_critical_section *cs);

/*
 * vl_enable_interrupts - the seed's enable_interrupts(): unblock every signal
 * in the calling thread. It ignores nesting - outstanding guards stay active
 * and their later release re-installs the mask they saved - so prefer
 * vl_critical_section_release. Returns 0 or the kernel's -errno.
 */
VL_API int vl_enable_interrupts(void);

/*
 * vl_interrupts_enabled - true when the calling thread blocks none of the
 * signals vl_disable_interrupts blocks (so any single blocked signal, e.g. a
 * SIGCHLD the program blocks on purpose, makes this false).
 */
VL_API bool vl_interrupts_enabled(void);

/*
 * The seed's ExceptionFrame: the CPU context at the signal, taken from what
 * the kernel passes an SA_SIGINFO handler.
 *   signo       the signal number;
 *   code        siginfo's si_code (SEGV_MAPERR, SI_USER, SI_TKILL, ...);
 *   fault_addr  the faulting address for SIGSEGV, SIGBUS, SIGILL, SIGFPE and
 *               SIGTRAP; NULL for every other signal;
 *   pc, sp      the interrupted program counter and stack pointer (0 when no
 *               ucontext was given).
 */
typedef struct vl_exception_frame {
    int signo;
    int code;
    void *fault_addr;
    uintptr_t pc;
    uintptr_t sp;
} vl_exception_frame;

/*
 * vl_exception_frame_from - fill `out` from a handler's arguments: call it
 * from a handler installed with SA_SIGINFO as
 *     vl_exception_frame_from(signo, info, ucontext, &frame);
 * Understands the x86-64 and aarch64 kernel ucontext layouts. `siginfo` and
 * `ucontext` may be NULL (the fields they provide are then 0/NULL). It only
 * reads memory, so it is async-signal-safe. Returns 0, or -EINVAL when `out`
 * is NULL or `signo` is not 1..64 (`out` is then untouched).
 */
VL_API int vl_exception_frame_from(int signo, const void *siginfo, const void *ucontext,
                                   vl_exception_frame *out);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_IRQ_H */
