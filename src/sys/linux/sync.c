/*
 * Futex-based mutex, condition variable and spinlock (Linux), plus the public
 * vl_sys_futex_wait / vl_sys_futex_wake wrappers.
 *
 * The state word encodings are documented at the top of <vllsi/sys/sync.h>;
 * the mutex is Drepper's "Futexes Are Tricky" mutex #3 as musl's __lock uses
 * it: CAS fast path (inline in the header), a bounded spin, then the word is
 * set to 2 ("maybe sleepers") before every FUTEX_WAIT so the unlocker knows to
 * issue a FUTEX_WAKE. Every futex call is FUTEX_PRIVATE_FLAG: the objects are
 * process-private, which lets the kernel skip the mm/inode lookup.
 */
#include "internal.h"
#include "linux/sys.h"
#include <vllsi/sys/sync.h>
#include <vllsi/sys/time.h>

/* About 100 pause instructions: long enough to ride out a short critical
 * section on another core, short next to a futex round trip (~1-2 us). */
#define MUTEX_SPIN       100
/* Spinlock backoff: pauses per round double up to this cap ... */
#define SPIN_BACKOFF_MAX 1024u
/* ... and after this many rounds every round also yields the CPU. */
#define SPIN_YIELD_AFTER 16u

#define CV_WAITERS 1u /* bit 0 of vl_condvar.seq */
#define CV_STEP    2u /* one sequence increment   */

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

static void futex_wait_private(uint32_t *w, uint32_t val)
{
    /* Every outcome (woken, -EAGAIN: the word changed, -EINTR) sends the
     * caller back to re-read the word, so the result carries no information. */
    (void)vl__sys_futex(w, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, val, NULL);
}

static void futex_wake_private(uint32_t *w, int n)
{
    (void)vl__sys_futex(w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, (uint32_t)n, NULL);
}

/* ---- mutex ------------------------------------------------------------------ */

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
    /* Spin only while the holder has no sleepers queued behind it: once the
     * word is 2, others already sleep and spinning would only jump the queue
     * for a lock that is plainly held for longer than a spin. */
    for (int i = 0; i < MUTEX_SPIN; i++) {
        c = __atomic_load_n(&m->state, __ATOMIC_RELAXED);
        if (c == 0) {
            if (__atomic_compare_exchange_n(&m->state, &c, 1, 0, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED))
                return 0;
        }
        if (c == 2)
            break;
        vl__cpu_relax();
    }
    /* Taking the lock through this exchange leaves the word at 2 even when
     * nobody else waits; that costs at most one spurious FUTEX_WAKE and keeps
     * the invariant that a sleeper is never missed. */
    while ((c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE)) != 0)
        futex_wait_private(&m->state, 2);
    return 0;
}

int vl__mutex_unlock_slow(vl_mutex *m, uint32_t old)
{
    if (!m)
        return -EINVAL;
    if (old == 0)
        return -EPERM; /* The fast path stored 0 over 0: nothing changed. */
    futex_wake_private(&m->state, 1);
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

/* ---- condition variable ------------------------------------------------------ */

int vl_condvar_init(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    __atomic_store_n(&c->seq, 0, __ATOMIC_RELAXED);
    return 0;
}

/* Sleep on c while its word still equals `seen`, until the absolute monotonic
 * deadline (NULL: none). Returns 0 or -ETIMEDOUT; -EINTR is retried against
 * the same deadline so a signal handler cannot stretch or shorten the wait. */
static int condvar_sleep(vl_condvar *c, uint32_t seen, const vl_timespec *deadline)
{
    for (;;) {
        int r = vl__sys_futex_wait_abs(&c->seq, seen, deadline);
        if (r == -EINTR) {
            if (__atomic_load_n(&c->seq, __ATOMIC_RELAXED) != seen)
                return 0;
            continue;
        }
        return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
    }
}

static int condvar_wait_until(vl_condvar *c, vl_mutex *m, const vl_timespec *deadline)
{
    /* Announce ourselves and sample the sequence while m is held: a signaller
     * that changes the predicate must take m first, so its increment comes
     * after this sample and either finds us asleep or makes FUTEX_WAIT fail
     * with EAGAIN. Acq_rel orders the sample against the unlock below. */
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
    return condvar_wait_until(c, m, NULL);
}

int vl_condvar_timed_wait(vl_condvar *c, vl_mutex *m, int64_t timeout_ns)
{
    if (!c || !m || timeout_ns < 0)
        return -EINVAL;
    int64_t now = vl_time_monotonic_ns();
    int64_t end = now > INT64_MAX - timeout_ns ? INT64_MAX : now + timeout_ns;
    vl_timespec deadline = vl_ns_to_timespec(end);
    return condvar_wait_until(c, m, &deadline);
}

int vl_condvar_signal(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    /* Release: a waiter that wakes because the word changed sees whatever
     * the signaller wrote before (normally also published through the mutex). */
    uint32_t old = __atomic_fetch_add(&c->seq, CV_STEP, __ATOMIC_RELEASE);
    if (old & CV_WAITERS)
        futex_wake_private(&c->seq, 1);
    return 0;
}

int vl_condvar_broadcast(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    /* Bump the sequence and clear the waiter bit in one step: everyone asleep
     * now is woken below, and anyone who sets the bit afterwards sampled the
     * new sequence, so the next signal will see the bit again. */
    uint32_t old = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
    uint32_t next;
    do {
        next = (old + CV_STEP) & ~CV_WAITERS;
    } while (
        !__atomic_compare_exchange_n(&c->seq, &old, next, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (old & CV_WAITERS)
        futex_wake_private(&c->seq, INT32_MAX);
    return 0;
}

/* ---- spinlock ---------------------------------------------------------------- */

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
        /* Test before test-and-set: waiters spin on a shared cache line
         * and only the exchange pulls it exclusive. */
        if (__atomic_load_n(&s->locked, __ATOMIC_RELAXED) == 0 &&
            __atomic_exchange_n(&s->locked, 1, __ATOMIC_ACQUIRE) == 0)
            return 0;
        for (unsigned i = 0; i < backoff; i++)
            vl__cpu_relax();
        if (backoff < SPIN_BACKOFF_MAX)
            backoff <<= 1;
        /* A holder that was preempted cannot release the lock until it runs
         * again; on an oversubscribed machine, give it the CPU. */
        if (++rounds >= SPIN_YIELD_AFTER)
            (void)vl__sys_sched_yield();
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
