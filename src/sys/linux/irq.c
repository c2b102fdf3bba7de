/*
 * src/sys/linux/irq.c - <vllsi/sys/irq.h> on Linux: signals blocked with raw
 * rt_sigprocmask, and the kernel's ucontext decoded into a
 * vl_exception_frame. The logic is src/sys/irq_common.h's, shared with macOS.
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
#define IRQ_SIG_MAX 64
static const uint64_t blockable = ~(SIGBIT(32) | SIGBIT(33) | SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));

static int irq_sigmask(int how, const uint64_t *set, uint64_t *old)
{
    return vl__sys_rt_sigprocmask(how, set, old);
}

static void irq_frame_regs(const void *ucontext, vl_exception_frame *f)
{
    const struct ucontext *uc = ucontext;
#if defined(__x86_64__)
    f->pc = (uintptr_t)uc->uc_mcontext.rip;
    f->sp = (uintptr_t)uc->uc_mcontext.rsp;
#elif defined(__aarch64__)
    f->pc = (uintptr_t)uc->uc_mcontext.pc;
    f->sp = (uintptr_t)uc->uc_mcontext.sp;
#endif
}

#include "irq_common.h"
_Static_assert(SIG_BLOCK == IRQ_BLOCK && SIG_SETMASK == IRQ_SETMASK,
               "irq_common.h's how values are the kernel's");
