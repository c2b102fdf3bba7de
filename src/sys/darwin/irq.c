/*
 * src/sys/darwin/irq.c - <vllsi/sys/irq.h> on macOS: signals blocked with
 * pthread_sigmask, and the kernel's ucontext decoded into a
 * vl_exception_frame. The logic is src/sys/irq_common.h's, shared with
 * Linux.
 *
 * macOS numbers its signals 1..31 (NSIG 32); vl_critical_section.saved_mask
 * keeps the same layout as on Linux (bit n-1 = signal n), so the upper 32
 * bits are always 0 here. The translation is darwin.c's.
 */
#include <signal.h>
#include <sys/ucontext.h>

#include <vllsi/sys/irq.h>

#include "darwin/darwin.h"

#define SIGBIT(n)   (1ull << ((n)-1))
#define IRQ_SIG_MAX (NSIG - 1)

/* Every signal except SIGKILL and SIGSTOP, which cannot be blocked (leaving
 * them out keeps vl_interrupts_enabled exact). */
static const uint64_t blockable =
    (SIGBIT(NSIG - 1) | (SIGBIT(NSIG - 1) - 1)) & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
_Static_assert(NSIG == 32, "macOS signals are 1..31");

/* darwin.c translates the Linux `how` values and the 64-bit mask. */
static int irq_sigmask(int how, const uint64_t *set, uint64_t *old)
{
    return vl__darwin_sigprocmask(how, set, old);
}

static void irq_frame_regs(const void *ucontext, vl_exception_frame *f)
{
    const ucontext_t *uc = ucontext;
    if (uc->uc_mcontext == NULL)
        return;
#if defined(__x86_64__)
    f->pc = (uintptr_t)uc->uc_mcontext->__ss.__rip;
    f->sp = (uintptr_t)uc->uc_mcontext->__ss.__rsp;
#elif defined(__aarch64__)
    /* The accessors strip arm64e pointer authentication where it applies. */
    f->pc = (uintptr_t)__darwin_arm_thread_state64_get_pc(uc->uc_mcontext->__ss);
    f->sp = (uintptr_t)__darwin_arm_thread_state64_get_sp(uc->uc_mcontext->__ss);
#endif
}

#include "irq_common.h"
