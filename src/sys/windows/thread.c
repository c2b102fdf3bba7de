/*
 * src/sys/windows/thread.c - threads on _beginthreadex.
 *
 * _beginthreadex rather than CreateThread: it is the C runtime's own thread
 * start, so code in the thread may use the C library freely (the contract in
 * <vllsi/sys/thread.h>), exactly as pthread_create gives on Linux.
 *
 * Control block lifetime: as on Linux, the block is freed exactly once, by
 * whoever comes last of "the thread has finished" and "the owner gave the
 * handle up" (join, or detach), decided by one atomic RMW each on `state`.
 * The thread HANDLE is closed by join (after the wait) or by detach.
 *
 * Stack and guard: stack_size is the thread's reserved stack
 * (STACK_SIZE_PARAM_IS_A_RESERVATION), committed on demand through Windows'
 * own guard page; running off the end raises EXCEPTION_STACK_OVERFLOW instead
 * of SIGSEGV. A thread that leaves through ExitThread/_endthreadex instead of
 * returning from entry skips the release of its control block; its context
 * log is still released, like any thread's, by the FLS callback below.
 */
#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>

#include <process.h>

#include "win.h"

struct vl_thread {
    HANDLE handle;      /* written before spawn returns; closed by join/detach */
    vl_thread_fn entry; /* immutable after spawn                               */
    void *arg;
    uint32_t state; /* ST_* bits, accessed atomically only              */
    bool foreign;   /* a vl_thread_self record for a non-spawned thread */
};

/* mingw-w64 implements __thread with emulated TLS (see docs/windows.md). */
#define VL__THREAD_TLS __thread
#include "thread_common.h"

/*
 * Every thread's context log is released when the thread ends, whoever made
 * it (_beginthreadex here, CreateThread or winpthreads elsewhere) and however
 * it ends (ExitThread included): tls.c arms a fiber-local-storage slot with
 * the log's address when it maps the log, and Windows calls fls_cleanup with
 * that value as the thread exits. The callback unmaps the log by that
 * address alone and does not touch the thread's __thread block: mingw-w64
 * emulates __thread with heap blocks that the C runtime may already have
 * freed by then (winpthreads runs its key destructors first). A log released
 * earlier (vl_cleanup_thread, the trampoline below) clears the slot, so the
 * callback only ever sees a live log. FlsFree (at unload) calls the callback
 * on the calling thread for every thread's value; those logs are left alone,
 * as the library is going away.
 */
static DWORD fls_index = FLS_OUT_OF_INDEXES;
static INIT_ONCE fls_once = INIT_ONCE_STATIC_INIT;
static bool fls_freeing; /* fls_delete is running (atomic) */

static void WINAPI fls_cleanup(void *log)
{
    if (log != NULL && !__atomic_load_n(&fls_freeing, __ATOMIC_ACQUIRE))
        vl__tls_log_unmap(log);
}

static BOOL CALLBACK fls_create(PINIT_ONCE once, void *param, void **ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    fls_index = FlsAlloc(fls_cleanup);
    return TRUE;
}

/* At unload (or exit), so no thread's exit calls into unmapped code. */
__attribute__((destructor)) static void fls_delete(void)
{
    __atomic_store_n(&fls_freeing, true, __ATOMIC_RELEASE);
    if (fls_index != FLS_OUT_OF_INDEXES)
        (void)FlsFree(fls_index);
}

int vl__thread_exit_arm(void *log)
{
    (void)InitOnceExecuteOnce(&fls_once, fls_create, NULL, NULL);
    if (fls_index == FLS_OUT_OF_INDEXES)
        return -EAGAIN; /* FlsAlloc: every index is taken */
    if (__atomic_load_n(&fls_freeing, __ATOMIC_ACQUIRE))
        return 0;
    return FlsSetValue(fls_index, log) ? 0 : vl__win_last_errno();
}

void vl__thread_exit_disarm(void)
{
    if (fls_index != FLS_OUT_OF_INDEXES && !__atomic_load_n(&fls_freeing, __ATOMIC_ACQUIRE))
        (void)FlsSetValue(fls_index, NULL);
}

/* The thread may not touch t after setting ST_EXITED unless it frees it. */
static unsigned __stdcall trampoline(void *p)
{
    vl_thread *t = p;
    t_self = t;
    t->entry(t->arg);
    vl__tls_thread_release();
    if (thread_finished(t))
        block_free(t);
    return 0;
}

/* _beginthreadex takes the size as an unsigned int. */
static int stack_fits_uint(size_t stack, size_t *out)
{
    *out = stack;
    return stack > 0xffffffffu ? -EINVAL : 0;
}

int vl_thread_spawn(vl_thread_fn entry, void *arg, size_t stack_size, vl_thread **out)
{
    size_t stack;
    int rc;
    vl_thread *t = thread_spawn_prepare(entry, arg, stack_size, out, stack_fits_uint, &stack, &rc);
    if (t == NULL)
        return rc;
    /* Created suspended so t->handle is stored before the thread can look. */
    uintptr_t h = _beginthreadex(NULL, (unsigned)stack, trampoline, t,
                                 CREATE_SUSPENDED | STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (h == 0) {
        /* _beginthreadex reports through errno (EAGAIN, EINVAL, ENOMEM). */
        rc = errno ? -errno : -EAGAIN;
        block_free(t);
        return rc;
    }
    t->handle = (HANDLE)h;
    (void)ResumeThread(t->handle);
    *out = t;
    return 0;
}

int vl_thread_join(vl_thread *t)
{
    int64_t old = thread_join_claim(t);
    if (old < 0)
        return (int)old;
    /* The handle is ours alone until closed, so the wait cannot fail. */
    if (WaitForSingleObject(t->handle, INFINITE) == WAIT_FAILED)
        return vl__win_last_errno();
    CloseHandle(t->handle);
    block_free(t);
    return 0;
}

int vl_thread_detach(vl_thread *t)
{
    HANDLE h = t != NULL ? t->handle : NULL;
    int64_t old = thread_detach_claim(t);
    if (old < 0)
        return (int)old;
    CloseHandle(h);
    if (old & ST_EXITED)
        block_free(t);
    return 0;
}

/* SwitchToThread's "nothing else was ready" answer is not a failure. */
int vl_thread_yield(void)
{
    (void)SwitchToThread();
    return 0;
}

int vl_thread_id(void)
{
    return (int)GetCurrentThreadId();
}

/* Every processor group counts, so machines with more than 64 logical CPUs
 * report them all. */
int vl_num_online_cpus(void)
{
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n < 1 ? 1 : (int)n;
}
