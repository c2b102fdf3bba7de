/*
 * src/sys/darwin/thread.c - threads on pthread_create.
 *
 * As on Linux, threads come from the C library's own pthread_create so code
 * in them may use libc freely (the contract in <vllsi/sys/thread.h>), and
 * the control block's lifetime is src/sys/thread_common.h's state machine:
 * freed exactly once, by whoever comes last of "the thread has finished"
 * and "the owner gave the handle up" (join, or detach).
 *
 * Stack: macOS wants a stack size that is a multiple of the page size (16
 * KiB on Apple silicon), which thread_stack_size's page rounding gives, and
 * at least PTHREAD_STACK_MIN; the guard page comes on top.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sys/sysctl.h>

#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>

#include "darwin/darwin.h"

struct vl_thread {
    pthread_t pt;       /* written by pthread_create before spawn returns */
    vl_thread_fn entry; /* immutable after spawn                          */
    void *arg;
    uint32_t state; /* ST_* bits, accessed atomically only              */
    bool foreign;   /* a vl_thread_self record for a non-spawned thread */
};

/* Mach-O thread-local variables have a single access model (a TLV
 * descriptor call), so no tls_model is named. */
#define VL__THREAD_TLS __thread
#include "thread_common.h"

/* Runs when entry returns, and also when the thread leaves through
 * pthread_exit (a cleanup handler), so the block is never leaked. */
static void thread_finish(void *p)
{
    vl_thread *t = p;
    vl__tls_thread_release();
    if (thread_finished(t))
        block_free(t);
}

static void *trampoline(void *p)
{
    vl_thread *t = p;
    t_self = t;
    pthread_cleanup_push(thread_finish, t);
    t->entry(t->arg);
    pthread_cleanup_pop(1);
    return NULL;
}

static int stack_size_for(size_t requested, size_t *out)
{
    int rc = thread_stack_size(requested, out);
    if (rc == 0 && *out < (size_t)PTHREAD_STACK_MIN)
        *out = vl_page_align_up((size_t)PTHREAD_STACK_MIN);
    return rc;
}

/*
 * Foreign threads release their context log through a pthread key
 * destructor, exactly as on Linux (src/sys/linux/thread.c explains the
 * scheme): the key is made on the first arm and deleted at unload or exit.
 */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_err;   /* pthread_key_create's answer, set once */
static bool exit_key_made; /* the key exists (atomic)               */
static bool exit_key_gone; /* exit_key_delete ran (atomic)          */

static void exit_key_destructor(void *log)
{
    (void)log;
    vl__tls_thread_release();
}

static void exit_key_create(void)
{
    exit_key_err = pthread_key_create(&exit_key, exit_key_destructor);
    if (exit_key_err == 0)
        __atomic_store_n(&exit_key_made, true, __ATOMIC_RELEASE);
}

__attribute__((destructor)) static void exit_key_delete(void)
{
    __atomic_store_n(&exit_key_gone, true, __ATOMIC_RELEASE);
    if (__atomic_load_n(&exit_key_made, __ATOMIC_ACQUIRE))
        (void)pthread_key_delete(exit_key);
}

int vl__thread_exit_arm(void *log)
{
    (void)pthread_once(&exit_once, exit_key_create);
    if (exit_key_err != 0)
        return -exit_key_err;
    if (__atomic_load_n(&exit_key_gone, __ATOMIC_ACQUIRE))
        return 0;
    int rc = pthread_setspecific(exit_key, log);
    if (rc != 0 && __atomic_load_n(&exit_key_gone, __ATOMIC_ACQUIRE))
        return 0;
    return -rc;
}

void vl__thread_exit_disarm(void)
{
    if (__atomic_load_n(&exit_key_made, __ATOMIC_ACQUIRE) &&
        !__atomic_load_n(&exit_key_gone, __ATOMIC_ACQUIRE))
        (void)pthread_setspecific(exit_key, NULL);
}

static int start_thread(vl_thread *t, size_t stack)
{
    pthread_attr_t a;
    int rc = pthread_attr_init(&a);
    if (rc != 0)
        return -rc;
    rc = pthread_attr_setstacksize(&a, stack);
    if (rc == 0)
        rc = pthread_attr_setguardsize(&a, vl_page_size());
    if (rc == 0)
        rc = pthread_create(&t->pt, &a, trampoline, t);
    (void)pthread_attr_destroy(&a);
    return -rc;
}

int vl_thread_spawn(vl_thread_fn entry, void *arg, size_t stack_size, vl_thread **out)
{
    size_t stack;
    if (entry == NULL || out == NULL)
        return -EINVAL;
    int rc = stack_size_for(stack_size, &stack);
    if (rc < 0)
        return rc;
    vl_thread *t = block_alloc(&rc);
    if (t == NULL)
        return rc;
    t->entry = entry;
    t->arg = arg;
    t->state = 0;
    t->foreign = false;
    rc = start_thread(t, stack);
    if (rc < 0) {
        block_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int vl_thread_join(vl_thread *t)
{
    int64_t old = thread_join_claim(t);
    if (old < 0)
        return (int)old;
    int rc = pthread_join(t->pt, NULL);
    if (rc != 0)
        return -rc;
    block_free(t);
    return 0;
}

int vl_thread_detach(vl_thread *t)
{
    pthread_t pt = t != NULL ? t->pt : NULL;
    int64_t old = thread_detach_claim(t);
    if (old < 0)
        return (int)old;
    (void)pthread_detach(pt);
    if (old & ST_EXITED)
        block_free(t);
    return 0;
}

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
