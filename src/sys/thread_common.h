/*
 * src/sys/thread_common.h - what the three thread implementations share
 * (src/sys/thread_pthread.h on pthread, for Linux and macOS;
 * src/sys/linux/nolibc/thread_clone.c on raw clone; src/sys/windows/thread.c
 * on _beginthreadex): the handle's state
 * machine, the checks of join and detach, the calling thread's handle, and
 * the stack size rule. Exactly one of them is built, and it includes this
 * after defining its struct vl_thread, which must have the fields
 *
 *     uint32_t state;   ST_* bits, accessed atomically only
 *     bool foreign;     a vl_thread_self record for a thread not spawned here
 *     vl_thread_fn entry; void *arg;   what the thread runs
 *
 * and after defining VL__THREAD_TLS, the storage class of the two
 * thread-local pointers below (with a TLS model where the platform has one),
 * and VL__THREAD_OWN_BLOCKS if it does not allocate its control blocks with
 * block_alloc/block_free.
 *
 * Handle lifetime: the control block is freed exactly once, by whoever comes
 * last of "the thread has finished" (thread_finished) and "the owner gave the
 * handle up" (join, or detach). Both sides make one atomic read-modify-write
 * on `state` (acq_rel), so exactly one of them sees the other's bit, and
 * every earlier access to the block is ordered before the free.
 */
#ifndef VLLSI_SYS_THREAD_COMMON_H
#define VLLSI_SYS_THREAD_COMMON_H

#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>

/* State word bits; they only ever get set, never cleared. */
enum {
    ST_EXITED = 1u,   /* the entry function returned (or the thread exited) */
    ST_DETACHED = 2u, /* vl_thread_detach succeeded: no joiner will come    */
    ST_JOINING = 4u,  /* vl_thread_join claimed the handle                  */
};

/* The calling thread's handle: its control block, or t_foreign. */
static VL__THREAD_TLS vl_thread *t_self;
static VL__THREAD_TLS vl_thread t_foreign;

#ifndef VL__THREAD_OWN_BLOCKS /* nolibc: the block lives in the thread's mapping */
/*
 * Control blocks alive right now. Only the test suite reads it (through the
 * static library), to prove that join, detach and a detached thread's exit
 * each free the block exactly once; one relaxed RMW per spawn and per free.
 */
static int live_blocks;
VL__HIDDEN int vl__thread_live_blocks(void);
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
#endif

/* Set `bit` unless the handle was already detached or claimed by a joiner.
 * Returns the previous state, or -EINVAL. */
static inline int64_t thread_claim(vl_thread *t, uint32_t bit)
{
    uint32_t old = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    do {
        if (old & (ST_DETACHED | ST_JOINING))
            return -EINVAL;
    } while (!__atomic_compare_exchange_n(&t->state, &old, old | bit, true, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return old;
}

/* vl_thread_join's checks and claim: the previous state, or -EINVAL (NULL, a
 * foreign handle, already detached or joined) or -EDEADLK (the caller). */
static inline int64_t thread_join_claim(vl_thread *t)
{
    if (t == NULL || t->foreign)
        return -EINVAL;
    if (t == t_self)
        return -EDEADLK;
    return thread_claim(t, ST_JOINING);
}

/* vl_thread_detach's: the previous state (ST_EXITED set: the caller frees
 * the block), or -EINVAL. Once DETACHED is set the thread may free t at any
 * moment, so read what the OS side needs from t before calling this. */
static inline int64_t thread_detach_claim(vl_thread *t)
{
    if (t == NULL || t->foreign)
        return -EINVAL;
    return thread_claim(t, ST_DETACHED);
}

/* The finishing thread: after this it may not touch t unless the result is
 * true (the handle was detached), and then it must free the block. */
static inline bool thread_finished(vl_thread *t)
{
    t_self = NULL;
    return __atomic_fetch_or(&t->state, ST_EXITED, __ATOMIC_ACQ_REL) & ST_DETACHED;
}

/* The stack a spawn asks for: the default for 0, otherwise the request in
 * whole pages, at least VL_THREAD_STACK_MIN (else -EINVAL). Each OS then
 * applies its own limits. */
static inline int thread_stack_size(size_t requested, size_t *out)
{
    if (requested == 0) {
        *out = VL_THREAD_STACK_DEFAULT;
        return 0;
    }
    size_t s = vl_page_align_up(requested);
    if (s == 0 || s < VL_THREAD_STACK_MIN)
        return -EINVAL;
    *out = s;
    return 0;
}

#ifndef VL__THREAD_OWN_BLOCKS
/*
 * vl_thread_spawn's first half on every OS: the argument checks, the stack
 * size (thread_stack_size, then the OS's own limits in `os_stack`) and a
 * fresh control block holding entry and arg. The block, or NULL and *err =
 * -EINVAL (NULL entry or out, a bad stack size) or what block_alloc
 * reported. The caller starts the thread, and block_free's the block if it
 * cannot.
 */
static inline vl_thread *thread_spawn_prepare(vl_thread_fn entry, void *arg, size_t stack_size,
                                              vl_thread **out, int (*os_stack)(size_t, size_t *),
                                              size_t *stack, int *err)
{
    if (entry == NULL || out == NULL) {
        *err = -EINVAL;
        return NULL;
    }
    int rc = thread_stack_size(stack_size, stack);
    if (rc == 0)
        rc = os_stack(*stack, stack);
    if (rc < 0) {
        *err = rc;
        return NULL;
    }
    vl_thread *t = block_alloc(err);
    if (t == NULL)
        return NULL;
    t->entry = entry;
    t->arg = arg;
    t->state = 0;
    t->foreign = false;
    return t;
}
#endif

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

#endif
