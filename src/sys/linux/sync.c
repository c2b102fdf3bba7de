/*
 * The public vl_sys_futex_wait / vl_sys_futex_wake wrappers (Linux). The
 * locks built on the futex are in src/sys/sync.c, shared with Windows. Every
 * futex call is FUTEX_PRIVATE_FLAG: the objects are process-private, which
 * lets the kernel skip the mm/inode lookup.
 */
#include "internal.h"
#include "linux/sys.h"
#include <vllsi/sys/sync.h>
#include <vllsi/sys/time.h>

/* ---- public futex wrappers ---------------------------------------------- */

int vl_sys_futex_wait(uint32_t *uaddr, uint32_t expected, const vl_timespec *timeout)
{
    return vl__sys_futex(uaddr, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, expected, timeout);
}

int vl_sys_futex_wake(uint32_t *uaddr, int n)
{
    /* The kernel wakes one waiter for nr_wake <= 0 (it checks the count only
     * after the first wake), which would contradict "up to n". */
    if (n < 0)
        return -EINVAL;
    if (n == 0)
        return 0;
    return vl__sys_futex(uaddr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, (uint32_t)n, NULL);
}
