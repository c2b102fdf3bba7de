/*
 * src/sys/windows/sync.c - the <vllsi/sys/sync.h> locks on WaitOnAddress /
 * WakeByAddress*, Windows' futex (Windows 8 and later; synchronization.lib).
 *
 * The state words and their encodings are exactly the ones documented in
 * <vllsi/sys/sync.h>, and the algorithms are the Linux ones (src/sys/linux/
 * sync.c): the inline fast paths in the header are shared, only the sleeping
 * and waking differ. WaitOnAddress(addr, &expected, 4, ms) sleeps only while
 * *addr still equals expected, which is FUTEX_WAIT's guarantee, and it may
 * return spuriously, which every caller here tolerates.
 */
#include <vllsi/sys/sync.h>
#include <vllsi/sys/time.h>

#include "win.h"

#define MUTEX_SPIN       100
#define SPIN_BACKOFF_MAX 1024u
#define SPIN_YIELD_AFTER 16u

#define CV_WAITERS 1u /* bit 0 of vl_condvar.seq */
#define CV_STEP    2u /* one sequence increment   */

static inline void cpu_relax(void)
{
    __builtin_ia32_pause();
}

static void wait_on(uint32_t *w, uint32_t val)
{
    (void)WaitOnAddress(w, &val, sizeof(val), INFINITE);
}

/* ---- mutex ---------------------------------------------------------------- */

int vl_mutex_init(vl_mutex *m)
{
    if (!m)
        return -EINVAL;
    __atomic_store_n(&m->state, 0, __ATOMIC_RELAXED);
    return 0;
}

int vl__mutex_lock_slow(vl_mutex *m)
{
    if (!m)
        return -EINVAL;
    uint32_t c;
    /* Spin briefly while the holder is running and nobody sleeps yet. */
    for (int i = 0; i < MUTEX_SPIN; i++) {
        c = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
        if (c == 0 &&
            __atomic_compare_exchange_n(&m->state, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return 0;
        if (c == 2)
            break;
        cpu_relax();
    }
    /* Swapping in 2 marks a possible sleeper before sleeping, so the unlock
     * that follows always wakes. */
    while (__atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE) != 0)
        wait_on(&m->state, 2);
    return 0;
}

int vl__mutex_unlock_slow(vl_mutex *m, uint32_t old)
{
    if (!m)
        return -EINVAL;
    if (old == 0)
        return -EPERM; /* The fast path stored 0 over 0: nothing changed. */
    WakeByAddressSingle(&m->state);
    return 0;
}

int vl_mutex_trylock(vl_mutex *m)
{
    if (!m)
        return -EINVAL;
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&m->state, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    return -EBUSY;
}

int vl_mutex_destroy(vl_mutex *m)
{
    if (!m)
        return -EINVAL;
    return __atomic_load_n(&m->state, __ATOMIC_RELAXED) != 0 ? -EBUSY : 0;
}

/* ---- condition variable --------------------------------------------------- */

int vl_condvar_init(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    __atomic_store_n(&c->seq, 0, __ATOMIC_RELAXED);
    return 0;
}

/*
 * Sleep while c->seq == seen, until `deadline` (monotonic ns; INT64_MAX:
 * none). WaitOnAddress takes a relative timeout in whole milliseconds and
 * can end a little early, so a timeout counts only once the deadline has
 * really passed; the remaining time is recomputed, never restarted.
 */
static int condvar_sleep(vl_condvar *c, uint32_t seen, int64_t deadline)
{
    for (;;) {
        DWORD ms = INFINITE;
        if (deadline != INT64_MAX) {
            int64_t left = deadline - vl__win_qpc_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            int64_t r = (left + VL_NS_PER_MS - 1) / VL_NS_PER_MS;
            ms = r >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)r;
        }
        if (WaitOnAddress(&c->seq, &seen, sizeof(seen), ms))
            return 0;
        if (GetLastError() != ERROR_TIMEOUT)
            return 0;
    }
}

static int condvar_wait_until(vl_condvar *c, vl_mutex *m, int64_t deadline)
{
    /* Read the word and announce a waiter while still holding m, so a
     * signal after the unlock changes the word and the sleep falls through. */
    uint32_t seen = __atomic_fetch_or(&c->seq, CV_WAITERS, __ATOMIC_ACQ_REL) | CV_WAITERS;
    int r = vl_mutex_unlock(m);
    if (r < 0)
        return r;
    r = condvar_sleep(c, seen, deadline);
    vl_mutex_lock(m);
    return r;
}

int vl_condvar_wait(vl_condvar *c, vl_mutex *m)
{
    if (!c || !m)
        return -EINVAL;
    return condvar_wait_until(c, m, INT64_MAX);
}

int vl_condvar_timed_wait(vl_condvar *c, vl_mutex *m, int64_t timeout_ns)
{
    if (!c || !m || timeout_ns < 0)
        return -EINVAL;
    int64_t now = vl__win_qpc_ns();
    int64_t end = now > INT64_MAX - 1 - timeout_ns ? INT64_MAX - 1 : now + timeout_ns;
    return condvar_wait_until(c, m, end);
}

int vl_condvar_signal(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    uint32_t old = __atomic_fetch_add(&c->seq, CV_STEP, __ATOMIC_RELEASE);
    if (old & CV_WAITERS)
        WakeByAddressSingle(&c->seq);
    return 0;
}

int vl_condvar_broadcast(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    uint32_t old = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
    uint32_t next;
    do {
        next = (old + CV_STEP) & ~CV_WAITERS;
    } while (
        !__atomic_compare_exchange_n(&c->seq, &old, next, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (old & CV_WAITERS)
        WakeByAddressAll(&c->seq);
    return 0;
}

/* ---- spinlock ------------------------------------------------------------- */

int vl_spin_init(vl_spinlock *s)
{
    if (!s)
        return -EINVAL;
    __atomic_store_n(&s->locked, 0, __ATOMIC_RELAXED);
    return 0;
}

int vl_spin_lock(vl_spinlock *s)
{
    if (!s)
        return -EINVAL;
    unsigned backoff = 1, rounds = 0;
    for (;;) {
        if (__atomic_load_n(&s->locked, __ATOMIC_RELAXED) == 0 &&
            __atomic_exchange_n(&s->locked, 1, __ATOMIC_ACQUIRE) == 0)
            return 0;
        for (unsigned i = 0; i < backoff; i++)
            cpu_relax();
        if (backoff < SPIN_BACKOFF_MAX)
            backoff <<= 1;
        /* A preempted holder needs the CPU to release the lock. */
        if (++rounds >= SPIN_YIELD_AFTER)
            (void)SwitchToThread();
    }
}

int vl_spin_trylock(vl_spinlock *s)
{
    if (!s)
        return -EINVAL;
    if (__atomic_load_n(&s->locked, __ATOMIC_RELAXED) == 0 &&
        __atomic_exchange_n(&s->locked, 1, __ATOMIC_ACQUIRE) == 0)
        return 0;
    return -EBUSY;
}

int vl_spin_unlock(vl_spinlock *s)
{
    if (!s)
        return -EINVAL;
    return __atomic_exchange_n(&s->locked, 0, __ATOMIC_RELEASE) == 0 ? -EPERM : 0;
}
