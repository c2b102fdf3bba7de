/* sys.thread: spawn/join/detach, self, ids, stacks and guard pages, CPUs. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/mman.h>
#endif
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "vl_test.h"

#include <vllsi/sys/common.h>
#include <vllsi/sys/thread.h>
#include <vllsi/sys/tls.h>

/* Control blocks alive (src/sys/linux/thread.c; hidden, reached through the
 * static library). Proves join/detach/exit free each block exactly once. */
int vl__thread_live_blocks(void);

/* Poll until cond() holds, at most 5 s; false on timeout. */
static bool wait_until(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 5000; i++) {
        if (cond(arg))
            return true;
        usleep(1000);
    }
    return cond(arg);
}

static bool live_is(void *arg)
{
    return vl__thread_live_blocks() == *(int *)arg;
}

/* ---- spawn / join ------------------------------------------------------------ */

struct slot {
    int index;
    int value;
    int tid;
    vl_thread *self;
};

static void fill_slot(void *arg)
{
    struct slot *s = arg;
    s->value = s->index * 7 + 1;
    s->tid = vl_thread_id();
    s->self = vl_thread_self();
}

static void test_spawn_join_many(void **state)
{
    (void)state;
    enum { N = 32 };
    struct slot slots[N];
    vl_thread *t[N];
    int base = vl__thread_live_blocks();
    for (int i = 0; i < N; i++) {
        slots[i] = (struct slot){i, 0, 0, NULL};
        assert_int_equal(vl_thread_spawn(fill_slot, &slots[i], 0, &t[i]), 0);
        assert_non_null(t[i]);
    }
    assert_int_equal(vl__thread_live_blocks(), base + N);
    for (int i = 0; i < N; i++) {
        vl_thread *h = t[i];
        assert_int_equal(vl_thread_join(h), 0);
        assert_int_equal(slots[i].value, i * 7 + 1);
        /* Inside the thread, self is the handle spawn returned. */
        assert_ptr_equal(slots[i].self, h);
    }
    assert_int_equal(vl__thread_live_blocks(), base);
    /* Every thread had its own OS id, none of them the main thread's. */
    for (int i = 0; i < N; i++) {
        assert_true(slots[i].tid > 0);
        assert_int_not_equal(slots[i].tid, vl_thread_id());
        for (int j = i + 1; j < N; j++)
            assert_int_not_equal(slots[i].tid, slots[j].tid);
    }
}

static void nothing(void *arg)
{
    (void)arg;
}

static void test_spawn_bad(void **state)
{
    (void)state;
    vl_thread *t = (vl_thread *)&t;
    int base = vl__thread_live_blocks();
    assert_int_equal(vl_thread_spawn(NULL, NULL, 0, &t), -EINVAL);
    assert_int_equal(vl_thread_spawn(nothing, NULL, 0, NULL), -EINVAL);
    assert_int_equal(vl_thread_spawn(nothing, NULL, 1, &t), -EINVAL);
    assert_int_equal(vl_thread_spawn(nothing, NULL, 4096, &t), -EINVAL);
    assert_int_equal(vl_thread_spawn(nothing, NULL, VL_THREAD_STACK_MIN - 4096 - 1, &t), -EINVAL);
    assert_int_equal(vl_thread_spawn(nothing, NULL, SIZE_MAX, &t), -EINVAL);
    /* Valid, but no address space holds a 1 PiB stack: pthread's error. */
    int rc = vl_thread_spawn(nothing, NULL, (size_t)1 << 50, &t);
    /* -EAGAIN or -ENOMEM natively; -EINVAL under valgrind's mmap. */
    assert_true(rc == -EAGAIN || rc == -ENOMEM || rc == -EINVAL);
    /* Failures leave *out alone and leak no control block. */
    assert_ptr_equal(t, (vl_thread *)&t);
    assert_int_equal(vl__thread_live_blocks(), base);
}

/* VL_THREAD_STACK_MIN bounds the size after rounding up to whole pages, as
 * thread.h says: a request one page short of it is refused where pages are
 * smaller than it, a request that rounds up to it is accepted. */
static void test_stack_min_after_rounding(void **state)
{
    (void)state;
    size_t ps = vl_page_size();
    vl_thread *t = NULL;
    if (ps < VL_THREAD_STACK_MIN) {
        assert_int_equal(vl_thread_spawn(nothing, NULL, VL_THREAD_STACK_MIN - ps, &t), -EINVAL);
        assert_null(t);
    } else {
        /* 16 or 64 KiB pages: the smallest request already rounds to one page. */
        assert_int_equal(vl_thread_spawn(nothing, NULL, 1, &t), 0);
        assert_int_equal(vl_thread_join(t), 0);
    }
    const size_t ok[] = {VL_THREAD_STACK_MIN - ps + 1, VL_THREAD_STACK_MIN - 1,
                         VL_THREAD_STACK_MIN};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        t = NULL;
        assert_int_equal(vl_thread_spawn(nothing, NULL, ok[i], &t), 0);
        assert_int_equal(vl_thread_join(t), 0);
    }
}

/* ---- stacks -------------------------------------------------------------------- */

struct stack_probe {
    size_t want;
    size_t stacksize;
    size_t guardsize;
    int used_ok;
};

static void __attribute__((noinline)) use_stack(size_t n, int *ok)
{
    unsigned char buf[32 * 1024];
    volatile unsigned char *v = buf;
    for (size_t i = 0; i < n && i < sizeof(buf); i++)
        v[i] = (unsigned char)i;
    int good = 1;
    for (size_t i = 0; i < n && i < sizeof(buf); i++)
        good &= v[i] == (unsigned char)i;
    *ok = good;
}

#ifdef _WIN32
/* The reserved stack is what the thread got; Windows keeps its own guard
 * page below the committed part, which no API reports as a size. */
static void probe_stack(void *arg)
{
    struct stack_probe *p = arg;
    ULONG_PTR lo = 0, hi = 0;
    GetCurrentThreadStackLimits(&lo, &hi);
    p->stacksize = (size_t)(hi - lo);
    p->guardsize = vl_page_size();
    use_stack(p->want, &p->used_ok);
}
#elif defined(__APPLE__)
/* macOS reports the stack size of a running thread, not its guard size; the
 * guard is the one page vl_thread_spawn asks for. */
static void probe_stack(void *arg)
{
    struct stack_probe *p = arg;
    p->stacksize = pthread_get_stacksize_np(pthread_self());
    p->guardsize = vl_page_size();
    use_stack(p->want, &p->used_ok);
}
#else
static void probe_stack(void *arg)
{
    struct stack_probe *p = arg;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, &p->stacksize);
        pthread_attr_getguardsize(&a, &p->guardsize);
        pthread_attr_destroy(&a);
    }
    use_stack(p->want, &p->used_ok);
}
#endif

static void test_stack_sizes(void **state)
{
    (void)state;
    size_t page = vl_page_size();
#ifdef _WIN32
    size_t libc_min = 0; /* _beginthreadex takes any size; Windows rounds up */
#else
    size_t libc_min = (size_t)PTHREAD_STACK_MIN;
#endif
#define AT_LEAST_LIBC(x) ((x) > libc_min ? (x) : libc_min)
    struct {
        size_t req, expect, use;
    } cases[] = {
        {0, VL_THREAD_STACK_DEFAULT, 32 * 1024},
        {64 * 1024, AT_LEAST_LIBC(64 * 1024), 32 * 1024},
        {64 * 1024 + 1, AT_LEAST_LIBC(64 * 1024 + page), 32 * 1024},
        /* The portable minimum works everywhere, raised to libc's floor. */
        {VL_THREAD_STACK_MIN, AT_LEAST_LIBC(VL_THREAD_STACK_MIN), 1024},
        {1u << 20, 1u << 20, 32 * 1024},
    };
#undef AT_LEAST_LIBC
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stack_probe p = {cases[i].use, 0, 0, 0};
        vl_thread *t;
        assert_int_equal(vl_thread_spawn(probe_stack, &p, cases[i].req, &t), 0);
        assert_int_equal(vl_thread_join(t), 0);
        assert_int_equal(p.used_ok, 1);
        /* glibc reports what it was asked for (the guard is extra). */
        assert_true(p.stacksize >= cases[i].expect);
        assert_int_equal(p.guardsize, page);
    }
}

/* Each level takes about 1 KiB of stack; the depth bound only keeps the
 * compiler from calling the recursion infinite. */
static int __attribute__((noinline)) recurse(int depth)
{
    volatile char buf[1024];
    buf[0] = (char)depth;
    buf[sizeof(buf) - 1] = (char)depth;
    if (depth > 1000000)
        return buf[0];
    return recurse(depth + 1) + buf[sizeof(buf) - 1];
}

static volatile int recurse_result;

static void overflow(void *arg)
{
    (void)arg;
    recurse_result = recurse(0);
}

static int child_overflow(void *arg)
{
    (void)arg;
    /* The default action: die by SIGSEGV (no sanitizer report). */
    signal(SIGSEGV, SIG_DFL);
    vl_thread *t;
    if (vl_thread_spawn(overflow, NULL, 64 * 1024, &t) != 0)
        return 2;
    vl_thread_join(t);
    return 0; /* the recursion ran to its bound: no guard page stopped it */
}

static void test_guard_page_faults(void **state)
{
    (void)state;
    vl_test_child r;
    vl_test_in_child(child_overflow, NULL, 10000, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.signo, SIGSEGV);
}

/* ---- detach ---------------------------------------------------------------------- */

struct gate {
    int go;      /* main -> thread: may finish */
    int started; /* thread -> main */
    int tid;
    int rc;
};

static void wait_for_go(void *arg)
{
    struct gate *g = arg;
    __atomic_store_n(&g->tid, vl_thread_id(), __ATOMIC_RELEASE);
    __atomic_store_n(&g->started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g->go, __ATOMIC_ACQUIRE))
        vl_thread_yield();
}

#ifdef _WIN32
/* A thread id stops naming a thread object once the thread has ended and
 * its last handle is closed; until then the object is signalled. */
static bool task_gone(void *arg)
{
    HANDLE h = OpenThread(SYNCHRONIZE, FALSE, (DWORD) * (int *)arg);
    if (h == NULL)
        return true;
    bool ended = WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
    CloseHandle(h);
    return ended;
}
#elif defined(__APPLE__)
/* libproc's proc_pidinfo, declared here as <libproc.h> is not among the SDK
 * headers zig bundles: PROC_PIDTHREADID64INFO answers 0 (ESRCH) once no
 * thread of the process has that id. The buffer is struct proc_threadinfo. */
int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize);
#define VL_PROC_PIDTHREADID64INFO 15
static bool task_gone(void *arg)
{
    unsigned char info[112];
    uint64_t tid = (uint64_t)(unsigned)*(int *)arg;
    return proc_pidinfo(getpid(), VL_PROC_PIDTHREADID64INFO, tid, info, (int)sizeof(info)) <= 0;
}
#else
static bool task_gone(void *arg)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/self/task/%d", *(int *)arg);
    return stat(path, &st) != 0 && errno == ENOENT;
}
#endif

static bool started(void *arg)
{
    return __atomic_load_n(&((struct gate *)arg)->started, __ATOMIC_ACQUIRE) != 0;
}

static void test_detach_running(void **state)
{
    (void)state;
    int base = vl__thread_live_blocks();
    /* Static, not on the stack: a detached thread's last read of the gate
     * is ordered before nothing, so the stack must not be reused under it. */
    static struct gate g = {0, 0, 0, 0};
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(wait_for_go, &g, 0, &t), 0);
    assert_true(wait_until(started, &g));
    assert_int_equal(vl_thread_detach(t), 0);
    /* While it still runs the handle is valid and refuses a second owner. */
    assert_int_equal(vl_thread_join(t), -EINVAL);
    assert_int_equal(vl_thread_detach(t), -EINVAL);
    assert_int_equal(vl__thread_live_blocks(), base + 1);
    __atomic_store_n(&g.go, 1, __ATOMIC_RELEASE);
    /* The thread frees its own block when it ends. */
    assert_true(wait_until(live_is, &base));
    int tid = __atomic_load_n(&g.tid, __ATOMIC_ACQUIRE);
    assert_true(wait_until(task_gone, &tid));
}

static void test_detach_after_exit(void **state)
{
    (void)state;
    int base = vl__thread_live_blocks();
    static struct gate g = {1, 0, 0, 0};
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(wait_for_go, &g, 0, &t), 0);
    assert_true(wait_until(started, &g));
    int tid = __atomic_load_n(&g.tid, __ATOMIC_ACQUIRE);
    /* The kernel task is gone, so the thread has finished for sure. */
    assert_true(wait_until(task_gone, &tid));
    assert_int_equal(vl__thread_live_blocks(), base + 1);
    assert_int_equal(vl_thread_detach(t), 0);
    /* Nobody else is left to free it: detach did. */
    assert_int_equal(vl__thread_live_blocks(), base);
}

static void test_detach_race(void **state)
{
    (void)state;
    /* Detach racing with the thread's own end: the block is freed once. */
    int base = vl__thread_live_blocks();
    for (int i = 0; i < 200; i++) {
        vl_thread *t;
        assert_int_equal(vl_thread_spawn(nothing, NULL, 0, &t), 0);
        if (i & 1)
            vl_thread_yield();
        assert_int_equal(vl_thread_detach(t), 0);
    }
    assert_true(wait_until(live_is, &base));
}

static void detach_self(void *arg)
{
    struct gate *g = arg;
    g->rc = vl_thread_detach(vl_thread_self());
    __atomic_store_n(&g->started, 1, __ATOMIC_RELEASE);
}

static void test_detach_self(void **state)
{
    (void)state;
    int base = vl__thread_live_blocks();
    static struct gate g = {0, 0, 0, 1};
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(detach_self, &g, 0, &t), 0);
    assert_true(wait_until(started, &g));
    assert_int_equal(g.rc, 0);
    assert_true(wait_until(live_is, &base));
}

static void exit_early(void *arg)
{
    *(int *)arg = 1;
    pthread_exit(NULL);
}

static void test_pthread_exit_releases(void **state)
{
    (void)state;
    int base = vl__thread_live_blocks();
    int ran = 0;
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(exit_early, &ran, 0, &t), 0);
    assert_int_equal(vl_thread_join(t), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(vl__thread_live_blocks(), base);
}

/* ---- self, equal, join errors --------------------------------------------------- */

static void join_self(void *arg)
{
    struct gate *g = arg;
    g->rc = vl_thread_join(vl_thread_self());
}

static void *foreign_thread(void *arg)
{
    vl_thread **out = arg;
    out[0] = vl_thread_self();
    out[1] = vl_thread_self();
    out[2] = (vl_thread *)(intptr_t)vl_thread_join(out[0]);
    out[3] = (vl_thread *)(intptr_t)vl_thread_detach(out[0]);
    return NULL;
}

static void test_self_equal(void **state)
{
    (void)state;
    vl_thread *me = vl_thread_self();
    assert_non_null(me);
    assert_ptr_equal(vl_thread_self(), me);
    assert_true(vl_thread_equal(me, vl_thread_self()));
    assert_true(vl_thread_equal(NULL, NULL));
    assert_false(vl_thread_equal(me, NULL));

    /* The main thread is foreign: its handle cannot be joined or detached. */
    assert_int_equal(vl_thread_join(me), -EINVAL);
    assert_int_equal(vl_thread_detach(me), -EINVAL);

    /* A pthread_create thread gets its own foreign record. */
    vl_thread *seen[4] = {NULL, NULL, NULL, NULL};
    pthread_t pt;
    assert_int_equal(pthread_create(&pt, NULL, foreign_thread, seen), 0);
    assert_int_equal(pthread_join(pt, NULL), 0);
    assert_non_null(seen[0]);
    assert_ptr_equal(seen[0], seen[1]);
    assert_false(vl_thread_equal(seen[0], me));
    assert_int_equal((int)(intptr_t)seen[2], -EINVAL);
    assert_int_equal((int)(intptr_t)seen[3], -EINVAL);

    /* A spawned thread's self differs from main's and from another's. */
    struct slot a = {1, 0, 0, NULL}, b = {2, 0, 0, NULL};
    vl_thread *ta, *tb;
    assert_int_equal(vl_thread_spawn(fill_slot, &a, 0, &ta), 0);
    assert_int_equal(vl_thread_spawn(fill_slot, &b, 0, &tb), 0);
    assert_false(vl_thread_equal(ta, tb));
    assert_int_equal(vl_thread_join(ta), 0);
    assert_int_equal(vl_thread_join(tb), 0);
    assert_false(vl_thread_equal(a.self, b.self));
    assert_false(vl_thread_equal(a.self, me));
}

static void test_join_errors(void **state)
{
    (void)state;
    assert_int_equal(vl_thread_join(NULL), -EINVAL);
    assert_int_equal(vl_thread_detach(NULL), -EINVAL);

    struct gate g = {0, 0, 0, 0};
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(join_self, &g, 0, &t), 0);
    assert_int_equal(vl_thread_join(t), 0);
    assert_int_equal(g.rc, -EDEADLK);
}

/* ---- per-thread context storage ----------------------------------------------- */

static void use_tls_frames(void *arg)
{
    void **log = arg;
    if (vl_tls_frame_push() != 0 || vl_tls_slot_set(3, 33) != 0)
        return;
    /* The undo log is mapped now; the thread ends with the frame open. */
    *log = vl__tls_block.log;
}

static void test_tls_released_at_exit(void **state)
{
    (void)state;
    void *log = NULL;
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(use_tls_frames, &log, 0, &t), 0);
    assert_int_equal(vl_thread_join(t), 0);
    assert_non_null(log);
#ifdef _WIN32
    /* The trampoline released the thread's log: no longer committed. */
    MEMORY_BASIC_INFORMATION mi;
    assert_true(VirtualQuery(log, &mi, sizeof(mi)) == 0 || mi.State != MEM_COMMIT);
#else
    /* The trampoline released the thread's log (mincore: -ENOMEM when the
     * address is no longer mapped). */
    vl_test_mincore_vec vec[1];
    assert_int_equal(mincore(log, 1, vec), -1);
    assert_int_equal(errno, ENOMEM);
#endif
}

/* ---- ids, yield, CPUs ------------------------------------------------------------- */

static void record_ids(void *arg)
{
    int *ids = arg;
    ids[0] = vl_thread_id();
#ifdef _WIN32
    ids[1] = (int)GetCurrentThreadId();
#elif defined(__APPLE__)
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    ids[1] = (int)(id & 0x7fffffff);
#else
    ids[1] = (int)syscall(SYS_gettid);
#endif
}

static void test_thread_id(void **state)
{
    (void)state;
#ifdef _WIN32
    /* Windows thread ids are not process ids, even in the main thread. */
    assert_int_equal(vl_thread_id(), (int)GetCurrentThreadId());
#elif defined(__APPLE__)
    /* macOS thread ids are system-wide 64-bit values, not process ids. */
    uint64_t id = 0;
    assert_int_equal(pthread_threadid_np(NULL, &id), 0);
    assert_int_equal(vl_thread_id(), (int)(id & 0x7fffffff));
#else
    assert_int_equal(vl_thread_id(), (int)syscall(SYS_gettid));
    /* In the main thread the TID is the PID. */
    assert_int_equal(vl_thread_id(), getpid());
#endif
    int ids[2] = {0, 0};
    vl_thread *t;
    assert_int_equal(vl_thread_spawn(record_ids, ids, 0, &t), 0);
    assert_int_equal(vl_thread_join(t), 0);
    assert_int_equal(ids[0], ids[1]);
    assert_int_not_equal(ids[0], vl_thread_id());
}

static void test_yield(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(vl_thread_yield(), 0);
}

static void test_num_online_cpus(void **state)
{
    (void)state;
    int n = vl_num_online_cpus();
    assert_true(n >= 1);
#ifdef _WIN32
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    assert_int_equal(n, (int)si.dwNumberOfProcessors);
#else
    assert_int_equal(n, (int)sysconf(_SC_NPROCESSORS_ONLN));
#endif
}

/* ---- libc inside spawned threads -------------------------------------------------- */

struct libc_work {
    int n;
    char text[64];
    int ok;
};

static void use_libc(void *arg)
{
    struct libc_work *w = arg;
    char *heap = malloc(4096);
    if (!heap)
        return;
    snprintf(heap, 4096, "thread %d says %s", w->n, "hello");
    size_t len = strlen(heap);
    memcpy(w->text, heap, len + 1 < sizeof(w->text) ? len + 1 : sizeof(w->text));
    free(heap);
    /* errno is per thread in libc's TLS. */
    errno = 1000 + w->n;
    w->ok = errno == 1000 + w->n;
}

static void test_libc_in_thread(void **state)
{
    (void)state;
    enum { N = 8 };
    struct libc_work w[N];
    vl_thread *t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct libc_work){i, "", 0};
        assert_int_equal(vl_thread_spawn(use_libc, &w[i], 64 * 1024, &t[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        char want[64];
        assert_int_equal(vl_thread_join(t[i]), 0);
        snprintf(want, sizeof(want), "thread %d says hello", i);
        assert_string_equal(w[i].text, want);
        assert_int_equal(w[i].ok, 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_join_many),
        cmocka_unit_test(test_spawn_bad),
        cmocka_unit_test(test_stack_sizes),
        cmocka_unit_test(test_stack_min_after_rounding),
        cmocka_unit_test(test_guard_page_faults),
        cmocka_unit_test(test_detach_running),
        cmocka_unit_test(test_detach_after_exit),
        cmocka_unit_test(test_detach_race),
        cmocka_unit_test(test_detach_self),
        cmocka_unit_test(test_pthread_exit_releases),
        cmocka_unit_test(test_self_equal),
        cmocka_unit_test(test_join_errors),
        cmocka_unit_test(test_tls_released_at_exit),
        cmocka_unit_test(test_thread_id),
        cmocka_unit_test(test_yield),
        cmocka_unit_test(test_num_online_cpus),
        cmocka_unit_test(test_libc_in_thread),
    };
    return cmocka_run_group_tests_name("sys.thread", tests, NULL, NULL);
}
