/*
 * src/sys/thread_pthread.h - threads on the C library's pthread_create, for
 * every OS that has one (src/sys/linux/thread.c outside the libc-free build,
 * src/sys/darwin/thread.c). Threads come from the C library's own
 * pthread_create so code in them may use libc freely (the contract in
 * <vllsi/sys/thread.h>): only libc's thread creation sets up its TLS, stdio
 * locks and malloc arenas.
 *
 * The including file defines VL__THREAD_TLS (see thread_common.h) first and
 * keeps what differs per OS: vl_thread_yield, vl_thread_id and
 * vl_num_online_cpus.
 *
 * Control block lifetime (the state machine is src/sys/thread_common.h's):
 *   - join claims the handle (JOINING), waits in pthread_join, then frees;
 *   - detach sets DETACHED; if EXITED was already set, detach frees;
 *   - the finishing thread sets EXITED; if DETACHED was already set, the
 *     thread frees its own block.
 */
#ifndef VLLSI_SYS_THREAD_PTHREAD_H
#define VLLSI_SYS_THREAD_PTHREAD_H

#include <limits.h>
#include <pthread.h>

#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>

#include "internal.h"

struct vl_thread {
    pthread_t pt;       /* written by pthread_create before spawn returns */
    vl_thread_fn entry; /* immutable after spawn                          */
    void *arg;
    uint32_t state; /* ST_* bits, accessed atomically only              */
    bool foreign;   /* a vl_thread_self record for a non-spawned thread */
};

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

/* The C library's own floor differs per OS and architecture (glibc: 16 KiB
 * on x86-64, 128 KiB on aarch64); a portable request is raised to it, not
 * refused. macOS also wants a multiple of its page size (16 KiB on Apple
 * silicon), which thread_stack_size's rounding already gave. */
static int pthread_stack_floor(size_t stack, size_t *out)
{
    *out = stack < (size_t)PTHREAD_STACK_MIN ? vl_page_align_up((size_t)PTHREAD_STACK_MIN) : stack;
    return 0;
}

/*
 * Foreign threads (made with pthread_create, or by another library) have no
 * trampoline to release their context log when they end. A pthread key
 * destructor does it instead: tls.c arms the key with the log's address when
 * it maps a thread's log, and the C library runs the destructor as the
 * thread exits. A thread that released its log before (a spawned thread's
 * trampoline, vl_cleanup_thread) cleared the key, so the destructor does
 * not run; it would find nothing to free anyway, as release is idempotent.
 * Code in a later key destructor that pushes a frame again re-arms the key,
 * and the C library then runs this destructor once more (up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds).
 *
 * The key is created on the first arm, so a program that never pushes a
 * frame uses none. It is deleted when the library is unloaded (or at exit),
 * so no thread can call into unmapped code; after that, arming does nothing.
 */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_err;   /* pthread_key_create's answer, set once     */
static bool exit_key_made; /* the key exists (atomic)                   */
static bool exit_key_gone; /* exit_key_delete ran (atomic)              */

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
    /* Once the key is deleted (unload or exit) the thread keeps its log
     * until vl_cleanup_thread or the process ends; a set racing with the
     * deletion fails with EINVAL, which is not the caller's fault either. */
    if (__atomic_load_n(&exit_key_gone, __ATOMIC_ACQUIRE))
        return 0;
    int rc = pthread_setspecific(exit_key, log);
    if (rc != 0 && __atomic_load_n(&exit_key_gone, __ATOMIC_ACQUIRE))
        return 0;
    return -rc;
}

/* The log was released before the end: the destructor need not run. Only
 * a thread that armed the key gets here (it has or had a log). */
void vl__thread_exit_disarm(void)
{
    if (__atomic_load_n(&exit_key_made, __ATOMIC_ACQUIRE) &&
        !__atomic_load_n(&exit_key_gone, __ATOMIC_ACQUIRE))
        (void)pthread_setspecific(exit_key, NULL);
}

/* The guard comes on top of the stack size (glibc since 2.27, bug 22637;
 * macOS likewise). */
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
    int rc;
    vl_thread *t =
        thread_spawn_prepare(entry, arg, stack_size, out, pthread_stack_floor, &stack, &rc);
    if (t == NULL)
        return rc;
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
    /* pthread_join cannot fail for a joinable thread that is not us. */
    int rc = pthread_join(t->pt, NULL);
    if (rc != 0)
        return -rc;
    block_free(t);
    return 0;
}

int vl_thread_detach(vl_thread *t)
{
    pthread_t pt = t != NULL ? t->pt : (pthread_t)0;
    int64_t old = thread_detach_claim(t);
    if (old < 0)
        return (int)old;
    (void)pthread_detach(pt);
    if (old & ST_EXITED)
        block_free(t);
    return 0;
}

#endif
