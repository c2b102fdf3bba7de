/*
 * src/sys/darwin/darwin.h - what the macOS files of the sys layer share.
 * Included only by the files in src/sys/darwin and by src/sys/sync.c.
 */
#ifndef VLLSI_DARWIN_DARWIN_H
#define VLLSI_DARWIN_DARWIN_H

#include <errno.h>

#include <vllsi/sys/darwin.h>

#include "internal.h"
#include "darwin/shim.h"

/* -errno for the calling thread's errno after a failed libSystem call. */
static inline int vl__darwin_errno(void)
{
    return errno > 0 ? -errno : -EIO;
}

/*
 * The futex of macOS (ulock.c): sleep while *w == val, for at most
 * `timeout_ns` (0: no limit); 0 (woken, the word differed, or spurious),
 * -ETIMEDOUT, -EINTR, -EFAULT. Wake one or every sleeper on w.
 */
VL__HIDDEN int vl__darwin_wait(uint32_t *w, uint32_t val, uint64_t timeout_ns);
VL__HIDDEN void vl__darwin_wake(uint32_t *w, bool all);

/* Monotonic clock in nanoseconds (mach_absolute_time); time.c. */
VL__HIDDEN int64_t vl__darwin_monotonic_ns(void);

#endif
