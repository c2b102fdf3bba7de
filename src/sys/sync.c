/*
 * src/sys/sync.c - the <vllsi/sys/sync.h> mutex, condition variable and
 * spinlock, one algorithm for every OS over five primitives (os_* below):
 * sleep while a 32-bit word holds a value, wake one or all sleepers on it,
 * the same with a deadline, yield the CPU, and a pause for spinning. Linux
 * gives them through FUTEX_WAIT/FUTEX_WAKE (private), Windows through
 * WaitOnAddress/WakeByAddress* (its futex, Windows 8+), macOS through
 * __ulock_wait/__ulock_wake (src/sys/darwin/ulock.c). All sleep only while
 * the word still equals the expected value and may return spuriously, which
 * every caller here tolerates.
 *
 * The state word encodings are documented at the top of <vllsi/sys/sync.h>;
 * the mutex is Drepper's "Futexes Are Tricky" mutex #3 as musl's __lock uses
 * it: CAS fast path (inline in the header), a bounded spin, then the word is
 * set to 2 ("maybe sleepers") before every sleep so the unlocker knows to
 * wake.
 */
#include <vllsi/sys/sync.h>
#include <vllsi/sys/time.h>

#ifdef _WIN32
#include "windows/win.h"
#elif defined(__APPLE__)
#include <sched.h>

#include "darwin/darwin.h"
#else
#include "internal.h"
#include "linux/sys.h"
#endif

/* Spinlock backoff: pauses per round double up to this cap ... */
#define SPIN_BACKOFF_MAX 1024u
/* ... and after this many rounds every round also yields the CPU. */
#define SPIN_YIELD_AFTER 16u

#define CV_WAITERS 1u /* bit 0 of vl_condvar.seq */
#define CV_STEP    2u /* one sequence increment   */

/* ---- the OS primitives --------------------------------------------------------- */

#ifdef _WIN32

static inline void os_relax(void)
{
    __builtin_ia32_pause();
}

static inline void os_yield(void)
{
    (void)SwitchToThread();
}

static void os_wait(uint32_t *w, uint32_t val)
{
    (void)WaitOnAddress(w, &val, sizeof(val), INFINITE);
}

static void os_wake_one(uint32_t *w)
{
    WakeByAddressSingle(w);
}

static void os_wake_all(uint32_t *w)
{
    WakeByAddressAll(w);
}

/*
 * Sleep while *w == val until `deadline` (monotonic ns; INT64_MAX: none): 0
 * (woken, changed or spurious) or -ETIMEDOUT. WaitOnAddress takes a relative
 * timeout in whole milliseconds and can end a little early, so a timeout
 * counts only once the deadline has really passed; the remaining time is
 * recomputed, never restarted.
 */
static int os_wait_until(uint32_t *w, uint32_t val, int64_t deadline)
{
    for (;;) {
        DWORD ms = INFINITE;
        if (deadline != INT64_MAX) {
            int64_t left = deadline - vl_time_monotonic_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            int64_t r = (left + VL_NS_PER_MS - 1) / VL_NS_PER_MS;
            ms = r >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)r;
        }
        if (WaitOnAddress(w, &val, sizeof(val), ms) || GetLastError() != ERROR_TIMEOUT)
            return 0;
    }
}

#elif defined(__APPLE__)

static inline void os_relax(void)
{
#if defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __builtin_ia32_pause();
#endif
}

static inline void os_yield(void)
{
    (void)sched_yield();
}

static void os_wait(uint32_t *w, uint32_t val)
{
    (void)vl__darwin_wait(w, val, 0);
}

static void os_wake_one(uint32_t *w)
{
    vl__darwin_wake(w, false);
}

static void os_wake_all(uint32_t *w)
{
    vl__darwin_wake(w, true);
}

/* Sleep while *w == val until `deadline` (monotonic ns; INT64_MAX: none): 0
 * or -ETIMEDOUT. __ulock_wait takes a relative timeout in microseconds, so
 * the time left is recomputed from the deadline on every round. */
static int os_wait_until(uint32_t *w, uint32_t val, int64_t deadline)
{
    for (;;) {
        uint64_t left = 0;
        if (deadline != INT64_MAX) {
            int64_t l = deadline - vl_time_monotonic_ns();
            if (l <= 0)
                return -ETIMEDOUT;
            left = (uint64_t)l;
        }
        int r = vl__darwin_wait(w, val, left);
        if (r == -ETIMEDOUT)
            continue; /* the loop decides against the deadline */
        if (r == -EINTR && __atomic_load_n(w, __ATOMIC_RELAXED) == val)
            continue;
        return 0;
    }
}

#else

static inline void os_relax(void)
{
    vl__cpu_relax();
}

static inline void os_yield(void)
{
    (void)vl__sys_sched_yield();
}

static void os_wait(uint32_t *w, uint32_t val)
{
    /* Every outcome (woken, -EAGAIN: the word changed, -EINTR) sends the
     * caller back to re-read the word, so the result carries no information. */
    (void)vl__sys_futex(w, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, val, NULL);
}

static void os_wake_one(uint32_t *w)
{
    (void)vl__sys_futex(w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL);
}

static void os_wake_all(uint32_t *w)
{
    (void)vl__sys_futex(w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT32_MAX, NULL);
}

/* Sleep while *w == val until the absolute monotonic `deadline` (INT64_MAX:
 * none): 0 or -ETIMEDOUT. -EINTR is retried against the same deadline so a
 * signal handler cannot stretch or shorten the wait. */
static int os_wait_until(uint32_t *w, uint32_t val, int64_t deadline)
{
    vl_timespec ts = vl_ns_to_timespec(deadline);
    for (;;) {
        int r = vl__sys_futex_wait_abs(w, val, deadline == INT64_MAX ? NULL : &ts);
        if (r == -EINTR) {
            if (__atomic_load_n(w, __ATOMIC_RELAXED) != val)
                return 0;
            continue;
        }
        return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
    }
}

#endif

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
    /* No spin before sleeping (glibc's default mutex does not spin either).
     * Under contention a spinner keeps the lock's cache line moving between
     * the cores on every acquisition, while a sleeper leaves the holder to
     * run on with the line in its cache: with 100 pause instructions of
     * spin, 2 threads on one mutex took 1.14-1.16x pthread_mutex's time per
     * lock+unlock; without, 0.82-0.85x (bench/micro mutex/threads:2,
     * docs/benchmarks.md). With work between the locks the two were alike.
     * Taking the lock through this exchange leaves the word at 2 even when
     * nobody else waits; that costs at most one spurious FUTEX_WAKE and keeps
     * the invariant that a sleeper is never missed. */
    while ((c = __atomic_exchange_n(&m->state, 2, __ATOMIC_ACQUIRE)) != 0)
        os_wait(&m->state, 2);
    return 0;
}

int vl__mutex_unlock_slow(vl_mutex *m, uint32_t old)
{
    if (!m)
        return -EINVAL;
    if (old == 0)
        return -EPERM; /* The fast path stored 0 over 0: nothing changed. */
    os_wake_one(&m->state);
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

static int condvar_wait_until(vl_condvar *c, vl_mutex *m, int64_t deadline)
{
    /* Announce ourselves and sample the sequence while m is held: a signaller
     * that changes the predicate must take m first, so its increment comes
     * after this sample and either finds us asleep or makes FUTEX_WAIT fail
     * (the word differs). Acq_rel orders the sample against the unlock below. */
    uint32_t seen = __atomic_fetch_or(&c->seq, CV_WAITERS, __ATOMIC_ACQ_REL) | CV_WAITERS;
    int r = vl_mutex_unlock(m);
    if (r < 0)
        return r;
    r = os_wait_until(&c->seq, seen, deadline);
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
    /* INT64_MAX means "no deadline": a finite one stops just below it. */
    int64_t now = vl_time_monotonic_ns();
    int64_t end = now > INT64_MAX - 1 - timeout_ns ? INT64_MAX - 1 : now + timeout_ns;
    return condvar_wait_until(c, m, end);
}

int vl_condvar_signal(vl_condvar *c)
{
    if (!c)
        return -EINVAL;
    /* Release: a waiter that wakes because the word changed sees whatever
     * the signaller wrote before (normally also published through the mutex). */
    uint32_t old = __atomic_fetch_add(&c->seq, CV_STEP, __ATOMIC_RELEASE);
    if (old & CV_WAITERS)
        os_wake_one(&c->seq);
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
        os_wake_all(&c->seq);
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
            os_relax();
        if (backoff < SPIN_BACKOFF_MAX)
            backoff <<= 1;
        /* A holder that was preempted cannot release the lock until it runs
         * again; on an oversubscribed machine, give it the CPU. */
        if (++rounds >= SPIN_YIELD_AFTER)
            os_yield();
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
