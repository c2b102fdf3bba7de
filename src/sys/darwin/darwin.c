/*
 * src/sys/darwin/darwin.c - the libSystem primitives the shared sys files
 * use through shim.h, and the map from Mach kern_return_t values to negative
 * errno values (the table is documented in docs/macos.md).
 */
#include <mach/kern_return.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "darwin/darwin.h"

void *vl__darwin_pthread_self(void)
{
    return (void *)pthread_self();
}

long vl__darwin_write(int fd, const void *buf, size_t n)
{
    ssize_t r = write(fd, buf, n);
    return r < 0 ? vl__darwin_errno() : (long)r;
}

/*
 * The kernel's thread id: 64 bits, system-wide, never reused while the
 * system runs. vllsi's thread ids are ints, so the low 32 bits are kept;
 * ids reach 2^31 only after billions of threads since boot.
 */
int vl__darwin_thread_id(void)
{
    uint64_t id = 0;
    (void)pthread_threadid_np(NULL, &id);
    return (int)(id & 0x7fffffff);
}

int vl__darwin_process_id(void)
{
    return (int)getpid();
}

/* Linux's 64-bit mask (bit n-1 = signal n) <-> sigset_t. macOS numbers its
 * signals 1..31 (NSIG 32), so the upper bits have no counterpart. */
static void mask_to_set(uint64_t m, sigset_t *s)
{
    sigemptyset(s);
    for (int sig = 1; sig < NSIG; sig++)
        if (m & (1ull << (sig - 1)))
            sigaddset(s, sig);
}

static uint64_t set_to_mask(const sigset_t *s)
{
    uint64_t m = 0;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(s, sig) == 1)
            m |= 1ull << (sig - 1);
    return m;
}

int vl__darwin_sigprocmask(int linux_how, const uint64_t *set, uint64_t *old)
{
    static const int how_map[] = {SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK};
    if (linux_how < 0 || linux_how > 2)
        return -EINVAL;
    sigset_t s, o;
    if (set != NULL)
        mask_to_set(*set, &s);
    int rc = pthread_sigmask(how_map[linux_how], set != NULL ? &s : NULL, &o);
    if (rc != 0)
        return -rc;
    if (old != NULL)
        *old = set_to_mask(&o);
    return 0;
}

int vl__darwin_raise_self(int sig)
{
    return -pthread_kill(pthread_self(), sig);
}

void vl__darwin_exit(int code)
{
    for (;;)
        _exit(code);
}

/* ---- error map ------------------------------------------------------------ */

struct err_pair {
    int kr;
    int err;
};

/*
 * kern_return_t -> errno. The virtual-memory codes follow what XNU's own BSD
 * layer answers for the same failure (mprotect and munmap on an unmapped
 * range: ENOMEM; a protection the region's maximum forbids: EACCES). The
 * table is only read on error paths, so a linear scan is plenty.
 */
static const struct err_pair mach_errors[] = {
    {KERN_INVALID_ADDRESS, ENOMEM},
    {KERN_PROTECTION_FAILURE, EACCES},
    {KERN_NO_SPACE, ENOMEM},
    {KERN_INVALID_ARGUMENT, EINVAL},
    {KERN_RESOURCE_SHORTAGE, ENOMEM},
    {KERN_NOT_RECEIVER, EPERM},
    {KERN_NO_ACCESS, EACCES},
    {KERN_MEMORY_FAILURE, EIO},
    {KERN_MEMORY_ERROR, EIO},
    {KERN_ALREADY_IN_SET, EEXIST},
    {KERN_NOT_IN_SET, ENOENT},
    {KERN_NAME_EXISTS, EEXIST},
    {KERN_ABORTED, EINTR},
    {KERN_INVALID_NAME, EBADF},
    {KERN_INVALID_TASK, ESRCH},
    {KERN_INVALID_RIGHT, EBADF},
    {KERN_INVALID_VALUE, EINVAL},
    {KERN_UREFS_OVERFLOW, EOVERFLOW},
    {KERN_INVALID_CAPABILITY, EINVAL},
    {KERN_RIGHT_EXISTS, EEXIST},
    {KERN_INVALID_HOST, EINVAL},
    {KERN_MEMORY_PRESENT, EEXIST},
    {KERN_TERMINATED, ESRCH},
    {KERN_LOCK_SET_DESTROYED, EINVAL},
    {KERN_LOCK_OWNED, EBUSY},
    {KERN_LOCK_OWNED_SELF, EDEADLK},
    {KERN_SEMAPHORE_DESTROYED, EINVAL},
    {KERN_RPC_SERVER_TERMINATED, EPIPE},
    {KERN_NOT_SUPPORTED, EOPNOTSUPP},
    {KERN_NODE_DOWN, EHOSTDOWN},
    {KERN_NOT_WAITING, ESRCH},
    {KERN_OPERATION_TIMED_OUT, ETIMEDOUT},
    {KERN_CODESIGN_ERROR, EPERM},
    {KERN_POLICY_LIMIT, EPERM},
    {KERN_INSUFFICIENT_BUFFER_SIZE, ENOBUFS},
    {KERN_DENIED, EPERM},
#ifdef KERN_NOT_FOUND /* macOS 12 SDK and later */
    {KERN_NOT_FOUND, ENOENT},
#endif
};

int vl_mach_error_to_errno(int kern_return)
{
    if (kern_return == KERN_SUCCESS)
        return 0;
    for (size_t i = 0; i < VL__ARRAY_LEN(mach_errors); i++)
        if (mach_errors[i].kr == kern_return)
            return -mach_errors[i].err;
    return -EIO;
}
