/*
 * Interrupt control on Linux: signals blocked with raw rt_sigprocmask, and the
 * kernel's siginfo/ucontext decoded into a vl_exception_frame.
 *
 * The mask is the kernel's 64-bit sigset (bit n-1 = signal n), passed with a
 * sigsetsize of 8, which is what rt_sigprocmask requires on both x86-64 and
 * aarch64; glibc's 128-byte sigset_t is never involved.
 */
#include <asm/signal.h>
#include <asm/siginfo.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>

#include <vllsi/sys/irq.h>

#include "internal.h"
#include "linux/sys.h"

#define SIGBIT(n) (1ull << ((n)-1))

/*
 * Every signal vl_disable_interrupts blocks: all 64 except glibc's internal
 * SIGCANCEL (32) and SIGSETXID (33), which must stay deliverable, and SIGKILL
 * and SIGSTOP, which the kernel silently refuses to block (leaving them out
 * keeps vl_interrupts_enabled exact).
 */
static const uint64_t blockable = ~(SIGBIT(32) | SIGBIT(33) | SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));

vl_critical_section vl_disable_interrupts(void)
{
    vl_critical_section cs = {0, 0};
    uint64_t old = 0;
    if (vl__sys_rt_sigprocmask(SIG_BLOCK, &blockable, &old) == 0) {
        cs.saved_mask = old;
        cs.active = 1;
    }
    return cs;
}

int vl_critical_section_release(vl_critical_section *cs)
{
    if (cs == NULL || !cs->active)
        return -EINVAL;
    int rc = vl__sys_rt_sigprocmask(SIG_SETMASK, &cs->saved_mask, NULL);
    if (rc == 0)
        cs->active = 0;
    return rc;
}

int vl_enable_interrupts(void)
{
    const uint64_t none = 0;
    return vl__sys_rt_sigprocmask(SIG_SETMASK, &none, NULL);
}

bool vl_interrupts_enabled(void)
{
    uint64_t cur = 0;
    if (vl__sys_rt_sigprocmask(SIG_BLOCK, NULL, &cur) != 0)
        return false;
    return (cur & blockable) == 0;
}

/* The signals whose siginfo carries a meaningful si_addr (see sigaction(2)). */
static bool has_fault_addr(int signo)
{
    return signo == SIGSEGV || signo == SIGBUS || signo == SIGILL || signo == SIGFPE ||
           signo == SIGTRAP;
}

int vl_exception_frame_from(int signo, const void *siginfo, const void *ucontext,
                            vl_exception_frame *out)
{
    if (out == NULL || signo < 1 || signo > 64)
        return -EINVAL;
    vl_exception_frame f = {signo, 0, NULL, 0, 0};
    if (siginfo != NULL) {
        const siginfo_t *si = siginfo;
        f.code = si->si_code;
        if (has_fault_addr(signo))
            f.fault_addr = si->si_addr;
    }
    if (ucontext != NULL) {
        const struct ucontext *uc = ucontext;
#if defined(__x86_64__)
        f.pc = (uintptr_t)uc->uc_mcontext.rip;
        f.sp = (uintptr_t)uc->uc_mcontext.rsp;
#elif defined(__aarch64__)
        f.pc = (uintptr_t)uc->uc_mcontext.pc;
        f.sp = (uintptr_t)uc->uc_mcontext.sp;
#endif
    }
    *out = f;
    return 0;
}
