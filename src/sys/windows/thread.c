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
 * returning from entry skips the release of its block and context log.
 */
#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>

#include <process.h>

#include "win.h"

enum {
    ST_EXITED = 1u,
    ST_DETACHED = 2u,
    ST_JOINING = 4u,
};

struct vl_thread {
    HANDLE handle;      /* written before spawn returns; closed by join/detach */
    vl_thread_fn entry; /* immutable after spawn                               */
    void *arg;
    uint32_t state; /* ST_* bits, accessed atomically only              */
    bool foreign;   /* a vl_thread_self record for a non-spawned thread */
};

/* Control blocks alive right now, for the test suite (as on Linux). */
static int live_blocks;
int vl__thread_live_blocks(void);
int vl__thread_live_blocks(void)
{
    return __atomic_load_n(&live_blocks, __ATOMIC_RELAXED);
}

static vl_thread *block_alloc(int *err)
{
    vl_thread *t = vl_os_alloc(sizeof(*t), err);
    if (t != NULL)
        __atomic_fetch_add(&live_blocks, 1, __ATOMIC_RELAXED);
    return t;
}

static void block_free(vl_thread *t)
{
    (void)vl_os_free(t, sizeof(*t));
    __atomic_fetch_sub(&live_blocks, 1, __ATOMIC_RELAXED);
}

/* mingw-w64 implements __thread with emulated TLS (see docs/windows.md). */
static __thread vl_thread *t_self;
static __thread vl_thread t_foreign;

/* The thread may not touch t after setting ST_EXITED unless it frees it. */
static unsigned __stdcall trampoline(void *p)
{
    vl_thread *t = p;
    t_self = t;
    t->entry(t->arg);
    vl__tls_thread_release();
    t_self = NULL;
    uint32_t old = __atomic_fetch_or(&t->state, ST_EXITED, __ATOMIC_ACQ_REL);
    if (old & ST_DETACHED)
        block_free(t);
    return 0;
}

static int stack_size_for(size_t requested, size_t *out)
{
    if (requested == 0) {
        *out = VL_THREAD_STACK_DEFAULT;
        return 0;
    }
    size_t s = vl_page_align_up(requested);
    if (s == 0 || s < VL_THREAD_STACK_MIN || s > 0xffffffffu)
        return -EINVAL;
    *out = s;
    return 0;
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

static int64_t claim(vl_thread *t, uint32_t bit)
{
    uint32_t old = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    do {
        if (old & (ST_DETACHED | ST_JOINING))
            return -EINVAL;
    } while (!__atomic_compare_exchange_n(&t->state, &old, old | bit, true, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return old;
}

int vl_thread_join(vl_thread *t)
{
    if (t == NULL || t->foreign)
        return -EINVAL;
    if (t == t_self)
        return -EDEADLK;
    int64_t old = claim(t, ST_JOINING);
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
    if (t == NULL || t->foreign)
        return -EINVAL;
    /* Once DETACHED is set the thread may free t at any moment. */
    HANDLE h = t->handle;
    int64_t old = claim(t, ST_DETACHED);
    if (old < 0)
        return (int)old;
    CloseHandle(h);
    if (old & ST_EXITED)
        block_free(t);
    return 0;
}

vl_thread *vl_thread_self(void)
{
    vl_thread *t = t_self;
    if (VL_LIKELY(t != NULL))
        return t;
    t_foreign.foreign = true;
    t_self = &t_foreign;
    return &t_foreign;
}

bool vl_thread_equal(const vl_thread *a, const vl_thread *b)
{
    return a == b;
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
