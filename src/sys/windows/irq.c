/*
 * src/sys/windows/irq.c - <vllsi/sys/irq.h> on Windows.
 *
 * Windows never interrupts a thread with an asynchronous handler the way a
 * POSIX signal does: Ctrl+C handlers run on a thread of their own, user APCs
 * only during the thread's own alertable waits, and the C runtime's signal()
 * handlers only for raise() and synchronous exceptions. There is no mask to
 * block, so a critical section cannot be "entered": vl_disable_interrupts
 * returns an inactive guard (the documented answer when the mask change was
 * refused), vl_enable_interrupts answers -EOPNOTSUPP, and
 * vl_interrupts_enabled is true (nothing is or can be blocked).
 *
 * Exception frames are meaningful: a vectored exception handler receives an
 * EXCEPTION_POINTERS, and vl_exception_frame_from reads its two halves
 * (siginfo = the EXCEPTION_RECORD, ucontext = the CONTEXT).
 */
#include <vllsi/sys/irq.h>

#include "win.h"

vl_critical_section vl_disable_interrupts(void)
{
    vl_critical_section cs = {0, 0};
    return cs;
}

int vl_critical_section_release(vl_critical_section *cs)
{
    if (cs == NULL || !cs->active)
        return -EINVAL;
    cs->active = 0;
    return 0;
}

int vl_enable_interrupts(void)
{
    return -EOPNOTSUPP;
}

bool vl_interrupts_enabled(void)
{
    return true;
}

int vl_exception_frame_from(int signo, const void *siginfo, const void *ucontext,
                            vl_exception_frame *out)
{
    if (out == NULL || signo < 1 || signo > 64)
        return -EINVAL;
    vl_exception_frame f = {signo, 0, NULL, 0, 0};
    const EXCEPTION_RECORD *er = siginfo;
    if (er != NULL) {
        f.code = (int)er->ExceptionCode;
        /* Access violations and in-page errors carry the faulting address in
         * their second parameter; other exceptions have none. */
        if ((er->ExceptionCode == EXCEPTION_ACCESS_VIOLATION ||
             er->ExceptionCode == EXCEPTION_IN_PAGE_ERROR) &&
            er->NumberParameters >= 2)
            f.fault_addr = (void *)er->ExceptionInformation[1];
    }
    const CONTEXT *ctx = ucontext;
    if (ctx != NULL) {
        f.pc = (uintptr_t)ctx->Rip;
        f.sp = (uintptr_t)ctx->Rsp;
    }
    *out = f;
    return 0;
}
