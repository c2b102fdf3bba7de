/*
 * src/sys/darwin/ulock.c - the futex of macOS: __ulock_wait and __ulock_wake,
 * the system calls libc++'s std::atomic::wait and libdispatch sleep on.
 * libSystem exports them (since macOS 10.12) without declaring them in the
 * SDK, so they are declared here; os_sync_wait_on_address, their public
 * wrapper, needs macOS 14.4, above this build's 11.0 floor.
 *
 * UL_COMPARE_AND_WAIT sleeps only while the 32-bit word still holds the
 * expected value, as FUTEX_WAIT does; the _SHARED variant is not used since
 * every word is process-private. ULF_NO_ERRNO makes both return -errno
 * instead of setting errno.
 */
#include "darwin/darwin.h"

#define UL_COMPARE_AND_WAIT 1u
#define ULF_WAKE_ALL        0x00000100u
#define ULF_NO_ERRNO        0x01000000u

/* timeout in microseconds, 0 for none. */
extern int __ulock_wait(uint32_t operation, void *addr, uint64_t value, uint32_t timeout);
extern int __ulock_wake(uint32_t operation, void *addr, uint64_t wake_value);

int vl__darwin_wait(uint32_t *w, uint32_t val, uint64_t timeout_ns)
{
    uint32_t us = 0;
    if (timeout_ns != 0) {
        /* Rounded up (a wait is never shorter than asked) and capped: the
         * caller re-checks its deadline and waits again. */
        uint64_t u = (timeout_ns + 999) / 1000;
        us = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
    }
    int r = __ulock_wait(UL_COMPARE_AND_WAIT | ULF_NO_ERRNO, w, val, us);
    if (r >= 0)
        return 0; /* woken (r: waiters left), or the word differed */
    return r == -ETIMEDOUT || r == -EINTR || r == -EFAULT ? r : 0;
}

void vl__darwin_wake(uint32_t *w, bool all)
{
    uint32_t op = UL_COMPARE_AND_WAIT | ULF_NO_ERRNO | (all ? ULF_WAKE_ALL : 0);
    /* -ENOENT: nobody was waiting; -EINTR: retry, the wake was not done. */
    while (__ulock_wake(op, w, 0) == -EINTR)
        ;
}
