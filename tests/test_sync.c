/* sys.sync: futex mutex, condition variable, spinlock, futex wrappers. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "vl_test.h"
#ifdef __linux__
#include <vllsi/sys/linux.h>
#endif
#include <vllsi/sys/sync.h>

#define THREADS 6
#define ITERS   100000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void start_all(pthread_t *t, int n, void *(*fn)(void *), void *arg)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fn, arg), 0);
}

static void join_all(pthread_t *t, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
}

/* ---- mutex ------------------------------------------------------------------ */

struct counter {
    vl_mutex m;
    vl_spinlock s;
    long value; /* plain, non-atomic: only the lock makes it exact */
};

static void *mutex_hammer(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < ITERS; i++) {
        if (vl_mutex_lock(&c->m) != 0)
            abort();
        c->value++;
        if (vl_mutex_unlock(&c->m) != 0)
            abort();
    }
    return NULL;
}

static void mutex_counts_exactly(void **state)
{
    (void)state;
    struct counter c = {.m = VL_MUTEX_INIT, .value = 0};
    pthread_t t[THREADS];
    start_all(t, THREADS, mutex_hammer, &c);
    join_all(t, THREADS);
    assert_int_equal(c.value, (long)THREADS * ITERS);
    assert_int_equal(c.m.state, 0);
    assert_int_equal(vl_mutex_destroy(&c.m), 0);
}

static void mutex_trylock_and_misuse(void **state)
{
    (void)state;
    vl_mutex m;
    m.state = 77;
    assert_int_equal(vl_mutex_init(&m), 0);
    assert_int_equal(m.state, 0);
    assert_int_equal(vl_mutex_unlock(&m), -EPERM);
    assert_int_equal(m.state, 0);
    assert_int_equal(vl_mutex_trylock(&m), 0);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    assert_int_equal(vl_mutex_destroy(&m), -EBUSY);
    assert_int_equal(m.state, 1); /* destroy left it alone */
    assert_int_equal(vl_mutex_unlock(&m), 0);
    assert_int_equal(vl_mutex_unlock(&m), -EPERM);
    assert_int_equal(vl_mutex_lock(&m), 0);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    assert_int_equal(vl_mutex_unlock(&m), 0);
    assert_int_equal(vl_mutex_destroy(&m), 0);

    assert_int_equal(vl_mutex_init(NULL), -EINVAL);
    assert_int_equal(vl_mutex_lock(NULL), -EINVAL);
    assert_int_equal(vl_mutex_trylock(NULL), -EINVAL);
    assert_int_equal(vl_mutex_unlock(NULL), -EINVAL);
    assert_int_equal(vl_mutex_destroy(NULL), -EINVAL);
}

struct handoff {
    vl_mutex m;
    int step;
};

static void *handoff_locker(void *arg)
{
    struct handoff *h = arg;
    __atomic_store_n(&h->step, 1, __ATOMIC_RELEASE);
    vl_mutex_lock(&h->m); /* blocks: main holds it */
    __atomic_store_n(&h->step, 2, __ATOMIC_RELEASE);
    vl_mutex_unlock(&h->m);
    return NULL;
}

/* A thread that has to sleep on the futex is woken by unlock. */
static void mutex_blocked_locker_is_woken(void **state)
{
    (void)state;
    struct handoff h = {VL_MUTEX_INIT, 0};
    assert_int_equal(vl_mutex_lock(&h.m), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, handoff_locker, &h), 0);
    while (__atomic_load_n(&h.step, __ATOMIC_ACQUIRE) == 0)
        sched_yield();
    /* Wait until the locker has given up spinning and marked the word. */
    int64_t give_up = now_ns() + 2000000000;
    while (__atomic_load_n(&h.m.state, __ATOMIC_RELAXED) != 2 && now_ns() < give_up)
        usleep(100);
    assert_int_equal(h.m.state, 2);
    assert_int_equal(__atomic_load_n(&h.step, __ATOMIC_ACQUIRE), 1);
    assert_int_equal(vl_mutex_unlock(&h.m), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.step, 2);
    assert_int_equal(h.m.state, 0);
}

/* ---- spinlock --------------------------------------------------------------- */

static void *spin_hammer(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < ITERS; i++) {
        if (vl_spin_lock(&c->s) != 0)
            abort();
        c->value++;
        if (vl_spin_unlock(&c->s) != 0)
            abort();
    }
    return NULL;
}

static void spin_counts_exactly(void **state)
{
    (void)state;
    struct counter c = {.s = VL_SPINLOCK_INIT, .value = 0};
    pthread_t t[4];
    start_all(t, 4, spin_hammer, &c);
    join_all(t, 4);
    assert_int_equal(c.value, 4L * ITERS);
    assert_int_equal(c.s.locked, 0);
}

static void spin_trylock_and_misuse(void **state)
{
    (void)state;
    vl_spinlock s;
    s.locked = 5;
    assert_int_equal(vl_spin_init(&s), 0);
    assert_int_equal(s.locked, 0);
    assert_int_equal(vl_spin_unlock(&s), -EPERM);
    assert_int_equal(vl_spin_trylock(&s), 0);
    assert_int_equal(vl_spin_trylock(&s), -EBUSY);
    assert_int_equal(vl_spin_unlock(&s), 0);
    assert_int_equal(vl_spin_lock(&s), 0);
    assert_int_equal(vl_spin_trylock(&s), -EBUSY);
    assert_int_equal(vl_spin_unlock(&s), 0);
    assert_int_equal(vl_spin_unlock(&s), -EPERM);

    assert_int_equal(vl_spin_init(NULL), -EINVAL);
    assert_int_equal(vl_spin_lock(NULL), -EINVAL);
    assert_int_equal(vl_spin_trylock(NULL), -EINVAL);
    assert_int_equal(vl_spin_unlock(NULL), -EINVAL);
}

/* ---- condition variable ------------------------------------------------------ */

#define QCAP      16
#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PROD  20000
#define STOP_ITEM (-1L)

struct queue {
    vl_mutex m;
    vl_condvar not_empty, not_full;
    long items[QCAP];
    unsigned head, count;
    /* Consumers' totals, under m. The sum is int64_t because long has 32
     * bits on Windows, too few for it. */
    int64_t sum;
    long received;
    int next_id; /* producer numbering, under m */
};

static void q_put(struct queue *q, long v)
{
    vl_mutex_lock(&q->m);
    while (q->count == QCAP)
        if (vl_condvar_wait(&q->not_full, &q->m) != 0)
            abort();
    q->items[(q->head + q->count++) % QCAP] = v;
    vl_condvar_signal(&q->not_empty);
    vl_mutex_unlock(&q->m);
}

static void *producer(void *arg)
{
    struct queue *q = arg;
    vl_mutex_lock(&q->m);
    long id = q->next_id++;
    vl_mutex_unlock(&q->m);
    for (long i = 1; i <= PER_PROD; i++)
        q_put(q, id * PER_PROD + i);
    return NULL;
}

static void *consumer(void *arg)
{
    struct queue *q = arg;
    vl_mutex_lock(&q->m);
    for (;;) {
        while (q->count == 0)
            if (vl_condvar_wait(&q->not_empty, &q->m) != 0)
                abort();
        long v = q->items[q->head];
        q->head = (q->head + 1) % QCAP;
        q->count--;
        vl_condvar_signal(&q->not_full);
        if (v == STOP_ITEM)
            break;
        q->sum += v;
        q->received++;
    }
    vl_mutex_unlock(&q->m);
    return NULL;
}

static void condvar_queue_loses_nothing(void **state)
{
    (void)state;
    static struct queue q; /* zero = VL_MUTEX_INIT / VL_CONDVAR_INIT */
    memset(&q, 0, sizeof(q));
    pthread_t p[PRODUCERS], c[CONSUMERS];
    start_all(c, CONSUMERS, consumer, &q);
    start_all(p, PRODUCERS, producer, &q);
    join_all(p, PRODUCERS);
    for (int i = 0; i < CONSUMERS; i++)
        q_put(&q, STOP_ITEM);
    join_all(c, CONSUMERS);
    long n = (long)PRODUCERS * PER_PROD;
    assert_int_equal(q.received, n);
    assert_int_equal(q.sum, (int64_t)n * (n + 1) / 2); /* every value 1..n exactly once */
    assert_int_equal(q.count, 0);
}

struct gate {
    vl_mutex m;
    vl_condvar cv;
    int open;
    int waiting; /* threads inside the wait loop */
    int passed;
};

static void *gate_waiter(void *arg)
{
    struct gate *g = arg;
    vl_mutex_lock(&g->m);
    g->waiting++;
    while (!g->open)
        vl_condvar_wait(&g->cv, &g->m);
    g->passed++;
    vl_mutex_unlock(&g->m);
    return NULL;
}

static void condvar_broadcast_wakes_all(void **state)
{
    (void)state;
    struct gate g = {VL_MUTEX_INIT, VL_CONDVAR_INIT, 0, 0, 0};
    pthread_t t[5];
    start_all(t, 5, gate_waiter, &g);
    /* Let every waiter reach the wait (they hold m until they sleep). */
    for (;;) {
        vl_mutex_lock(&g.m);
        int w = g.waiting;
        vl_mutex_unlock(&g.m);
        if (w == 5)
            break;
        usleep(1000);
    }
    usleep(20000);
    vl_mutex_lock(&g.m);
    g.open = 1;
    assert_int_equal(vl_condvar_broadcast(&g.cv), 0);
    vl_mutex_unlock(&g.m);
    join_all(t, 5);
    assert_int_equal(g.passed, 5);
    /* Broadcast cleared the waiter bit: the next signal needs no syscall. */
    assert_int_equal(g.cv.seq & 1u, 0);
}

static void condvar_timed_wait_times_out(void **state)
{
    (void)state;
    vl_mutex m = VL_MUTEX_INIT;
    vl_condvar cv = VL_CONDVAR_INIT;
    assert_int_equal(vl_mutex_lock(&m), 0);
    int64_t t0 = now_ns();
    assert_int_equal(vl_condvar_timed_wait(&cv, &m, 50 * 1000000), -ETIMEDOUT);
    int64_t el = now_ns() - t0;
    assert_true(el >= 50 * 1000000);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY); /* re-acquired */
    /* Zero polls. */
    assert_int_equal(vl_condvar_timed_wait(&cv, &m, 0), -ETIMEDOUT);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    /* -EINVAL does nothing: the mutex the caller holds stays held. */
    uint32_t seq0 = cv.seq;
    assert_int_equal(vl_condvar_timed_wait(&cv, &m, -1), -EINVAL);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    assert_int_equal(vl_condvar_timed_wait(&cv, &m, INT64_MIN), -EINVAL);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    assert_int_equal(vl_condvar_timed_wait(NULL, &m, 1000000), -EINVAL);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    assert_int_equal(vl_condvar_wait(NULL, &m), -EINVAL);
    assert_int_equal(vl_mutex_trylock(&m), -EBUSY);
    assert_int_equal(cv.seq, seq0); /* and the condvar was not touched */
    assert_int_equal(vl_mutex_unlock(&m), 0);
    /* Waiting without holding the mutex is refused and waits for nothing. */
    assert_int_equal(vl_condvar_timed_wait(&cv, &m, 1000000000), -EPERM);
    assert_int_equal(vl_condvar_wait(&cv, &m), -EPERM);
    assert_int_equal(m.state, 0);
}

static void *late_signaller(void *arg)
{
    struct gate *g = arg;
    usleep(30000);
    vl_mutex_lock(&g->m);
    g->open = 1;
    vl_condvar_signal(&g->cv);
    vl_mutex_unlock(&g->m);
    return NULL;
}

static void condvar_timed_wait_is_woken(void **state)
{
    (void)state;
    struct gate g = {VL_MUTEX_INIT, VL_CONDVAR_INIT, 0, 0, 0};
    pthread_t t;
    vl_mutex_lock(&g.m);
    assert_int_equal(pthread_create(&t, NULL, late_signaller, &g), 0);
    int r = 0;
    while (!g.open && r == 0)
        r = vl_condvar_timed_wait(&g.cv, &g.m, INT64_MAX); /* deadline saturates */
    assert_int_equal(r, 0);
    assert_true(g.open);
    vl_mutex_unlock(&g.m);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void condvar_signal_without_waiters(void **state)
{
    (void)state;
    vl_condvar cv;
    cv.seq = 0xdead;
    assert_int_equal(vl_condvar_init(&cv), 0);
    assert_int_equal(cv.seq, 0);
    assert_int_equal(vl_condvar_signal(&cv), 0);
    assert_int_equal(vl_condvar_broadcast(&cv), 0);
    assert_int_equal(vl_condvar_signal(&cv), 0);
    assert_int_equal(cv.seq, 6); /* three increments, no waiter bit */

    vl_mutex m = VL_MUTEX_INIT;
    assert_int_equal(vl_condvar_init(NULL), -EINVAL);
    assert_int_equal(vl_condvar_signal(NULL), -EINVAL);
    assert_int_equal(vl_condvar_broadcast(NULL), -EINVAL);
    assert_int_equal(vl_condvar_wait(NULL, &m), -EINVAL);
    assert_int_equal(vl_condvar_wait(&cv, NULL), -EINVAL);
    assert_int_equal(vl_condvar_timed_wait(NULL, &m, 1), -EINVAL);
    assert_int_equal(vl_condvar_timed_wait(&cv, NULL, 1), -EINVAL);
    assert_int_equal(m.state, 0);
}

/* ---- raw futex wrappers ------------------------------------------------------ */
/* vl_sys_futex_* are <vllsi/sys/linux.h> (raw Linux system calls): not built
 * on Windows or macOS, where the locks sleep on WaitOnAddress or __ulock_wait
 * instead. */
#ifdef __linux__

static void futex_wrappers(void **state)
{
    (void)state;
    uint32_t w = 7;
    vl_timespec ts = {0, 1000000};
    assert_int_equal(vl_sys_futex_wait(&w, 8, NULL), -EAGAIN);
    int64_t t0 = now_ns();
    assert_int_equal(vl_sys_futex_wait(&w, 7, &ts), -ETIMEDOUT);
    assert_true(now_ns() - t0 >= 1000000);
    assert_int_equal(vl_sys_futex_wake(&w, 1), 0);
    assert_int_equal(vl_sys_futex_wake(&w, 0), 0);
    assert_int_equal(vl_sys_futex_wake(&w, -1), -EINVAL);
    vl_timespec bad = {0, 1000000000};
    assert_int_equal(vl_sys_futex_wait(&w, 7, &bad), -EINVAL);
    /* A misaligned word is refused before the kernel reads it. (NULL would
     * give -EFAULT, but valgrind reports the bad pointer as an error.) */
    uint32_t pair[2] = {0, 0};
    assert_int_equal(vl_sys_futex_wait((uint32_t *)((char *)pair + 1), 0, &ts), -EINVAL);
}

struct futex_pair {
    uint32_t word;
    int last; /* the sleeper's last vl_sys_futex_wait result */
};

static void *futex_sleeper(void *arg)
{
    struct futex_pair *p = arg;
    vl_timespec five = {5, 0};
    while (__atomic_load_n(&p->word, __ATOMIC_ACQUIRE) == 0)
        p->last = vl_sys_futex_wait(&p->word, 0, &five);
    return NULL;
}

static void futex_wake_wakes_sleeper(void **state)
{
    (void)state;
    struct futex_pair p = {0, 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, futex_sleeper, &p), 0);
    usleep(50000); /* normally the sleeper is queued by now; EAGAIN covers the rest */
    __atomic_store_n(&p.word, 1, __ATOMIC_RELEASE);
    int n = vl_sys_futex_wake(&p.word, 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* Either we woke it from its sleep, or it never slept on the old value. */
    assert_true((n == 1 && p.last == 0) || (n == 0 && (p.last == -EAGAIN || p.last == 1)));
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutex_counts_exactly),
        cmocka_unit_test(mutex_trylock_and_misuse),
        cmocka_unit_test(mutex_blocked_locker_is_woken),
        cmocka_unit_test(spin_counts_exactly),
        cmocka_unit_test(spin_trylock_and_misuse),
        cmocka_unit_test(condvar_queue_loses_nothing),
        cmocka_unit_test(condvar_broadcast_wakes_all),
        cmocka_unit_test(condvar_timed_wait_times_out),
        cmocka_unit_test(condvar_timed_wait_is_woken),
        cmocka_unit_test(condvar_signal_without_waiters),
#ifdef __linux__
        cmocka_unit_test(futex_wrappers),
        cmocka_unit_test(futex_wake_wakes_sleeper),
#endif
    };
    return cmocka_run_group_tests_name("sys.sync", tests, NULL, NULL);
}
