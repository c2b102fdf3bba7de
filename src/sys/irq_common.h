/*
 * src/sys/irq_common.h - <vllsi/sys/irq.h> over a 64-bit signal mask (bit
 * n-1 = signal n, the layout of vl_critical_section.saved_mask), for every
 * OS with POSIX signals (src/sys/linux/irq.c, src/sys/darwin/irq.c): the
 * critical-section logic and the siginfo half of an exception frame are the
 * same everywhere; only the mask call, the set of blockable signals and the
 * register layout in a ucontext differ.
 *
 * The including file includes this last, after its OS's <signal.h>
 * counterpart (for siginfo_t and the SIG* numbers) and after defining
 *
 *     static int irq_sigmask(int how, const uint64_t *set, uint64_t *old);
 *         the calling thread's mask: `how` is IRQ_BLOCK or IRQ_SETMASK
 *         (Linux's SIG_BLOCK and SIG_SETMASK values), set or old may be
 *         NULL; 0 or -errno;
 *     static const uint64_t blockable;
 *         every signal vl_disable_interrupts blocks;
 *     IRQ_SIG_MAX   the highest signal number;
 *     static void irq_frame_regs(const void *ucontext, vl_exception_frame *f);
 *         pc and sp from a non-NULL ucontext.
 */
#ifndef VLLSI_SYS_IRQ_COMMON_H
#define VLLSI_SYS_IRQ_COMMON_H

#include <vllsi/sys/irq.h>

#define IRQ_BLOCK   0
#define IRQ_SETMASK 2

vl_critical_section vl_disable_interrupts(void)
{
    vl_critical_section cs = {0, 0};
    uint64_t old = 0;
    if (irq_sigmask(IRQ_BLOCK, &blockable, &old) == 0) {
        cs.saved_mask = old;
        cs.active = 1;
    }
    return cs;
}

int vl_critical_section_release(vl_critical_section *cs)
{
    if (cs == NULL || !cs->active)
        return -EINVAL;
    int rc = irq_sigmask(IRQ_SETMASK, &cs->saved_mask, NULL);
    if (rc == 0)
        cs->active = 0;
    return rc;
}

int vl_enable_interrupts(void)
{
    const uint64_t none = 0;
    return irq_sigmask(IRQ_SETMASK, &none, NULL);
}

bool vl_interrupts_enabled(void)
{
    uint64_t cur = 0;
    if (irq_sigmask(IRQ_BLOCK, NULL, &cur) != 0)
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
    if (out == NULL || signo < 1 || signo > IRQ_SIG_MAX)
        return -EINVAL;
    vl_exception_frame f = {signo, 0, NULL, 0, 0};
    if (siginfo != NULL) {
        const siginfo_t *si = siginfo;
        f.code = si->si_code;
        if (has_fault_addr(signo))
            f.fault_addr = si->si_addr;
    }
    if (ucontext != NULL)
        irq_frame_regs(ucontext, &f);
    *out = f;
    return 0;
}

#endif
