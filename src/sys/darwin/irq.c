/*
 * src/sys/darwin/irq.c - <vllsi/sys/irq.h> on macOS: signals blocked with
 * pthread_sigmask, and the kernel's siginfo/ucontext decoded into a
 * vl_exception_frame.
 *
 * macOS numbers its signals 1..31 (NSIG 32); vl_critical_section.saved_mask
 * keeps the same layout as on Linux (bit n-1 = signal n), so the upper 32
 * bits are always 0 here. The translation is darwin.c's.
 */
#include <signal.h>
#include <sys/ucontext.h>

#include <vllsi/sys/irq.h>

#include "darwin/darwin.h"

#define SIGBIT(n)  (1ull << ((n)-1))
#define LX_BLOCK   0 /* the Linux `how` values darwin.c translates */
#define LX_SETMASK 2

/* Every signal except SIGKILL and SIGSTOP, which cannot be blocked (leaving
 * them out keeps vl_interrupts_enabled exact). */
static const uint64_t blockable =
    (SIGBIT(NSIG - 1) | (SIGBIT(NSIG - 1) - 1)) & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
_Static_assert(NSIG == 32, "macOS signals are 1..31");

vl_critical_section vl_disable_interrupts(void)
{
    vl_critical_section cs = {0, 0};
    uint64_t old = 0;
    if (vl__darwin_sigprocmask(LX_BLOCK, &blockable, &old) == 0) {
        cs.saved_mask = old;
        cs.active = 1;
    }
    return cs;
}

int vl_critical_section_release(vl_critical_section *cs)
{
    if (cs == NULL || !cs->active)
        return -EINVAL;
    int rc = vl__darwin_sigprocmask(LX_SETMASK, &cs->saved_mask, NULL);
    if (rc == 0)
        cs->active = 0;
    return rc;
}

int vl_enable_interrupts(void)
{
    const uint64_t none = 0;
    return vl__darwin_sigprocmask(LX_SETMASK, &none, NULL);
}

bool vl_interrupts_enabled(void)
{
    uint64_t cur = 0;
    if (vl__darwin_sigprocmask(LX_BLOCK, NULL, &cur) != 0)
        return false;
    return (cur & blockable) == 0;
}

/* The signals whose siginfo carries a meaningful si_addr. */
static bool has_fault_addr(int signo)
{
    return signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
           signo == SIGTRAP;
}

int vl_exception_frame_from(int signo, const void *siginfo, const void *ucontext,
                            vl_exception_frame *out)
{
    if (out == NULL || signo < 1 || signo >= NSIG)
        return -EINVAL;
    vl_exception_frame f = {signo, 0, NULL, 0, 0};
    if (siginfo != NULL) {
        const siginfo_t *si = siginfo;
        f.code = si->si_code;
        if (has_fault_addr(signo))
            f.fault_addr = si->si_addr;
    }
    const ucontext_t *uc = ucontext;
    if (uc != NULL && uc->uc_mcontext != NULL) {
#if defined(__x86_64__)
        f.pc = (uintptr_t)uc->uc_mcontext->__ss.__rip;
        f.sp = (uintptr_t)uc->uc_mcontext->__ss.__rsp;
#elif defined(__aarch64__)
        /* The accessors strip arm64e pointer authentication where it applies. */
        f.pc = (uintptr_t)__darwin_arm_thread_state64_get_pc(uc->uc_mcontext->__ss);
        f.sp = (uintptr_t)__darwin_arm_thread_state64_get_sp(uc->uc_mcontext->__ss);
#endif
    }
    *out = f;
    return 0;
}
