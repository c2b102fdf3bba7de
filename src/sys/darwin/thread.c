/*
 * src/sys/darwin/thread.c - threads on macOS.
 *
 * Spawn, join, detach and the exit hook for foreign threads are the
 * pthread ones of src/sys/thread_pthread.h, shared with Linux; what stays
 * here is macOS's own: the thread id, yield, and the count of CPUs.
 */
#include <sched.h>
#include <sys/sysctl.h>

#include "darwin/darwin.h"

/* Mach-O thread-local variables have a single access model (a TLV
 * descriptor call), so no tls_model is named. */
#define VL__THREAD_TLS __thread
#include "thread_pthread.h"

int vl_thread_yield(void)
{
    (void)sched_yield();
    return 0;
}

int vl_thread_id(void)
{
    return vl__darwin_thread_id();
}

/* hw.activecpu: the processors available to run threads now (fewer than
 * hw.ncpu when some are disabled). */
int vl_num_online_cpus(void)
{
    int n = 0;
    size_t len = sizeof(n);
    if (sysctlbyname("hw.activecpu", &n, &len, NULL, 0) != 0 || n < 1)
        return 1;
    return n;
}
