/*
 * vllsi/sys/sync.h - futex-based mutex, condition variable and spinlock.
 *
 * All three are one 32-bit word, need no destruction to free resources, can be
 * initialised statically (VL_*_INIT) and are process-private: they must not be
 * placed in memory shared between processes. None records its owner, so none
 * is recursive and none can tell which thread holds it; unlocking from a
 * thread that does not hold the lock is undefined (only unlocking a lock that
 * is not held at all is detected, -EPERM).
 *
 * State word encodings (the invariants the implementation keeps):
 *
 *   vl_mutex.state     0  unlocked
 *                      1  locked, nobody sleeping on the word
 *                      2  locked, a thread may be sleeping in FUTEX_WAIT
 *                      A thread that blocks first swaps in 2, so the unlocker
 *                      sees 2 and issues one FUTEX_WAKE. 2 can be a false
 *                      positive (one extra wake), never a false negative.
 *
 *   vl_condvar.seq     bit 0      a waiter may be sleeping on the word
 *                      bits 1-31  sequence number, +1 (i.e. +2 to the word)
 *                                 on every signal and broadcast
 *                      A waiter sets bit 0 and reads the word while holding
 *                      the mutex, then sleeps only while the word is
 *                      unchanged, so a signal that lands between its unlock
 *                      and its sleep makes FUTEX_WAIT fail with EAGAIN instead
 *                      of being lost. Signal skips the system call while
 *                      bit 0 is clear; broadcast clears it.
 *
 *   vl_spinlock.locked 0  unlocked
 *                      1  locked
 *
 * Every function returns 0 on success or a negative errno; a NULL object is
 * -EINVAL everywhere. Acquiring a lock is an acquire operation and releasing
 * it a release operation, so writes made under the lock are visible to the
 * next holder.
 */
#ifndef VLLSI_SYS_SYNC_H
#define VLLSI_SYS_SYNC_H

#include <stdint.h>

#include <vllsi/sys/common.h>

VL_EXTERN_C_BEGIN

/* ---- mutex ---------------------------------------------------------------- */

typedef struct vl_mutex {
    uint32_t state;
} vl_mutex;
#define VL_MUTEX_INIT \
    {                 \
        0             \
    }

/* vl_mutex_init - set *m to unlocked (same as VL_MUTEX_INIT). 0 or -EINVAL. */
VL_API int vl_mutex_init(vl_mutex *m);

/*
 * vl_mutex_lock - acquire m, sleeping in the kernel when it is held: a caller
 * that finds it held sleeps on a futex at once, without spinning first (as
 * glibc's default mutex: under contention a spinner keeps the lock's cache
 * line bouncing between cores, while a sleeper lets the holder run on with
 * it; docs/benchmarks.md has the measurement).
 * Returns 0, or -EINVAL for NULL. Locking a mutex the caller already holds
 * deadlocks (the mutex is not recursive).
 */
static inline int vl_mutex_lock(vl_mutex *m);

/* vl_mutex_trylock - acquire m if it is free: 0, -EBUSY when held, -EINVAL. */
VL_API int vl_mutex_trylock(vl_mutex *m);

/*
 * vl_mutex_unlock - release m and wake one sleeper if any. Returns 0, -EINVAL
 * for NULL, or -EPERM when m was not locked (the state is left unlocked).
 */
static inline int vl_mutex_unlock(vl_mutex *m);

/*
 * vl_mutex_destroy - check that m may be discarded: 0 when unlocked, -EBUSY
 * when locked (m is left unchanged), -EINVAL for NULL. A mutex owns no
 * resources, so this is a misuse check only.
 */
VL_API int vl_mutex_destroy(vl_mutex *m);

/* The out-of-line halves of the inline fast paths below; not for direct use.
 * vl__mutex_unlock_slow receives the state the fast path swapped out. */
VL_API int vl__mutex_lock_slow(vl_mutex *m);
VL_API int vl__mutex_unlock_slow(vl_mutex *m, uint32_t old);

static inline int vl_mutex_lock(vl_mutex *m)
{
    uint32_t expected = 0;
    /* Uncontended: one CAS 0 -> 1. Anything else (NULL, held) goes out of line. */
    if (VL_LIKELY(m != NULL) &&
        __atomic_compare_exchange_n(&m->state, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    return vl__mutex_lock_slow(m);
}

static inline int vl_mutex_unlock(vl_mutex *m)
{
    /* One exchange to 0. Old state 1 means nobody sleeps: done. 2 needs a
     * wake and 0 was a misuse; both (and NULL) are handled out of line. */
    if (VL_LIKELY(m != NULL)) {
        uint32_t old = __atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE);
        if (VL_LIKELY(old == 1))
            return 0;
        return vl__mutex_unlock_slow(m, old);
    }
    return vl__mutex_unlock_slow(NULL, 0);
}

/* ---- condition variable --------------------------------------------------- */

typedef struct vl_condvar {
    uint32_t seq;
} vl_condvar;
#define VL_CONDVAR_INIT \
    {                   \
        0               \
    }

/* vl_condvar_init - set *c to its initial state. 0 or -EINVAL. */
VL_API int vl_condvar_init(vl_condvar *c);

/*
 * vl_condvar_wait - atomically release m (which the caller must hold) and
 * sleep until c is signalled, then re-acquire m before returning.
 * Wakeups can be spurious (a signal meant for another waiter, a signal that
 * raced with the sleep, an interrupted wait): always wait in a loop that
 * re-checks the predicate under m.
 * Returns 0 (with m held), -EINVAL for a NULL argument (nothing is done: m
 * is left as the caller had it, so still held), or -EPERM when m was not
 * locked (nothing waited; m stays unlocked).
 */
VL_API int vl_condvar_wait(vl_condvar *c, vl_mutex *m);

/*
 * vl_condvar_timed_wait - vl_condvar_wait bounded by a relative timeout in
 * nanoseconds, measured on CLOCK_MONOTONIC from the call. A signal handler
 * running in between does not extend or restart the deadline.
 * Returns 0 when woken (possibly spuriously), -ETIMEDOUT when the deadline
 * passed, -EINVAL for a NULL argument or a negative timeout, -EPERM when m was
 * not locked. On return m is held in the 0 and -ETIMEDOUT cases (it was
 * released and re-acquired) and in the -EINVAL case (the arguments are
 * checked before anything is done, so m is left as the caller had it, held);
 * after -EPERM it is unlocked, as it was.
 * A timeout of 0 polls: it returns -ETIMEDOUT at once unless a signal arrived.
 */
VL_API int vl_condvar_timed_wait(vl_condvar *c, vl_mutex *m, int64_t timeout_ns);

/*
 * vl_condvar_signal - wake at least one waiter if any (usually one).
 * vl_condvar_broadcast - wake every current waiter.
 * Both may be called with or without the mutex held and are harmless when
 * nobody waits (no system call then). 0 or -EINVAL for NULL.
 *
 * Broadcast wakes all sleepers rather than requeueing them onto the mutex
 * word: the one-word condvar does not know its mutex, and the woken threads
 * that lose the race for the mutex simply sleep again on the mutex futex.
 */
VL_API int vl_condvar_signal(vl_condvar *c);
VL_API int vl_condvar_broadcast(vl_condvar *c);

/* ---- spinlock ------------------------------------------------------------- */

typedef struct vl_spinlock {
    uint32_t locked;
} vl_spinlock;
#define VL_SPINLOCK_INIT \
    {                    \
        0                \
    }

/* vl_spin_init - set *s to unlocked. 0 or -EINVAL. */
VL_API int vl_spin_init(vl_spinlock *s);

/*
 * vl_spin_lock - acquire s by busy-waiting: test-and-test-and-set with
 * exponential backoff of pause instructions (capped), yielding the CPU with
 * sched_yield once the wait grows long, so a preempted holder can run.
 * Hold spinlocks for a few instructions only; use vl_mutex otherwise.
 * 0 or -EINVAL.
 */
VL_API int vl_spin_lock(vl_spinlock *s);

/* vl_spin_trylock - acquire s if free: 0, -EBUSY when held, -EINVAL. */
VL_API int vl_spin_trylock(vl_spinlock *s);

/* vl_spin_unlock - release s: 0, -EPERM when it was not locked, -EINVAL. */
VL_API int vl_spin_unlock(vl_spinlock *s);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_SYNC_H */
