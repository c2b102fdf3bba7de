/* sys.tls: per-thread slots, frames, typed helpers, the thread pointer. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/mman.h>
#include <sys/resource.h>
#endif

#include "vl_test.h"
#include <vllsi/sys/ctx.h>
#include <vllsi/sys/init.h>
#include <vllsi/sys/thread.h>
#include <vllsi/sys/tls.h>
#include "internal.h"

static const int bad_slots[] = {-1, VL_MAX_CONTEXT_SLOTS, INT_MAX, INT_MIN, 1000};

/* Every test starts and ends with a clean thread state. */
static int reset(void **state)
{
    (void)state;
    vl__tls_thread_release();
    return 0;
}

static void slot_set_get_clear(void **state)
{
    (void)state;
    uintptr_t v = 0;
    for (int s = 0; s < VL_MAX_CONTEXT_SLOTS; s++) {
        assert_false(vl_tls_slot_has(s));
        assert_false(vl_tls_slot_get(s, &v));
    }
    assert_int_equal(vl_tls_slot_set(0, 11), 0);
    assert_int_equal(vl_tls_slot_set(31, UINTPTR_MAX), 0);
    assert_true(vl_tls_slot_has(0));
    assert_true(vl_tls_slot_has(31));
    assert_false(vl_tls_slot_has(1));
    assert_true(vl_tls_slot_get(0, &v));
    assert_int_equal(v, 11);
    assert_true(vl_tls_slot_get(31, &v));
    assert_true(v == UINTPTR_MAX);
    /* NULL out just tests presence. */
    assert_true(vl_tls_slot_get(0, NULL));
    assert_false(vl_tls_slot_get(5, NULL));
    /* Zero is a value, distinct from empty. */
    assert_int_equal(vl_tls_slot_set(5, 0), 0);
    assert_true(vl_tls_slot_get(5, &v));
    assert_int_equal(v, 0);
    /* Overwrite. */
    assert_int_equal(vl_tls_slot_set(0, 12), 0);
    assert_true(vl_tls_slot_get(0, &v));
    assert_int_equal(v, 12);
    assert_int_equal(vl_tls_slot_clear(0), 0);
    assert_false(vl_tls_slot_has(0));
    v = 77;
    assert_false(vl_tls_slot_get(0, &v));
    assert_int_equal(v, 77); /* untouched on a miss */
    assert_int_equal(vl_tls_slot_clear(0), -VL_ECTX_SLOT_EMPTY);
    assert_int_equal(vl_tls_slot_clear(7), -VL_ECTX_SLOT_EMPTY);
}

static void slot_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < VL__ARRAY_LEN(bad_slots); i++) {
        int s = bad_slots[i];
        uintptr_t v = 5;
        assert_int_equal(vl_tls_slot_set(s, 1), -VL_ECTX_INVALID_SLOT);
        assert_false(vl_tls_slot_get(s, &v));
        assert_int_equal(v, 5);
        assert_false(vl_tls_slot_get(s, NULL));
        assert_false(vl_tls_slot_has(s));
        assert_int_equal(vl_tls_slot_clear(s), -VL_ECTX_INVALID_SLOT);
        assert_null(vl_tls_read_ptr(s));
        assert_int_equal(vl_tls_read_i32(s), 0);
        assert_int_equal(vl_tls_read_usize(s), 0);
        assert_int_equal(vl_tls_write_ptr(s, &v), -VL_ECTX_INVALID_SLOT);
        assert_int_equal(vl_tls_write_i32(s, 1), -VL_ECTX_INVALID_SLOT);
        assert_int_equal(vl_tls_write_usize(s, 1), -VL_ECTX_INVALID_SLOT);
    }
    /* Nothing leaked into a valid slot. */
    for (int s = 0; s < VL_MAX_CONTEXT_SLOTS; s++)
        assert_false(vl_tls_slot_has(s));
}

static void typed_helpers(void **state)
{
    (void)state;
    int x = 0;
    /* Empty slots read as NULL / 0. */
    assert_null(vl_tls_read_ptr(3));
    assert_int_equal(vl_tls_read_i32(3), 0);
    assert_int_equal(vl_tls_read_usize(3), 0);
    assert_int_equal(vl_tls_write_ptr(3, &x), 0);
    assert_ptr_equal(vl_tls_read_ptr(3), &x);
    assert_int_equal(vl_tls_write_i32(4, -123456), 0);
    assert_int_equal(vl_tls_read_i32(4), -123456);
    assert_int_equal(vl_tls_write_i32(4, INT32_MIN), 0);
    assert_int_equal(vl_tls_read_i32(4), INT32_MIN);
    assert_int_equal(vl_tls_write_usize(5, SIZE_MAX), 0);
    assert_true(vl_tls_read_usize(5) == SIZE_MAX);
    /* The helpers share the slots with the raw calls. */
    uintptr_t v = 0;
    assert_true(vl_tls_slot_get(3, &v));
    assert_int_equal(v, (uintptr_t)&x);
}

static void frames_restore(void **state)
{
    (void)state;
    uintptr_t v = 0;
    assert_int_equal(vl_tls_frame_depth(), 0);
    assert_int_equal(vl_tls_slot_set(1, 100), 0);
    assert_int_equal(vl_tls_slot_set(2, 200), 0);
    assert_int_equal(vl_tls_frame_push(), 0);
    assert_int_equal(vl_tls_frame_depth(), 1);
    /* Values are visible through frames. */
    assert_true(vl_tls_slot_get(1, &v));
    assert_int_equal(v, 100);
    assert_int_equal(vl_tls_slot_set(1, 101), 0);
    assert_int_equal(vl_tls_slot_set(1, 102), 0); /* second write, same frame */
    assert_int_equal(vl_tls_slot_clear(2), 0);
    assert_int_equal(vl_tls_slot_set(3, 300), 0);
    assert_int_equal(vl_tls_frame_push(), 0);
    assert_int_equal(vl_tls_slot_set(1, 103), 0);
    assert_int_equal(vl_tls_slot_set(2, 203), 0);
    assert_int_equal(vl_tls_slot_clear(3), 0);
    assert_int_equal(vl_tls_frame_pop(), 0);
    assert_true(vl_tls_slot_get(1, &v));
    assert_int_equal(v, 102);
    assert_false(vl_tls_slot_has(2));
    assert_true(vl_tls_slot_get(3, &v));
    assert_int_equal(v, 300);
    assert_int_equal(vl_tls_frame_pop(), 0);
    assert_int_equal(vl_tls_frame_depth(), 0);
    assert_true(vl_tls_slot_get(1, &v));
    assert_int_equal(v, 100);
    assert_true(vl_tls_slot_get(2, &v));
    assert_int_equal(v, 200);
    assert_false(vl_tls_slot_has(3));
    /* Changes at depth 0 are permanent. */
    assert_int_equal(vl_tls_frame_pop(), -VL_ECTX_STACK_UNDERFLOW);
    assert_true(vl_tls_slot_get(1, &v));
    assert_int_equal(v, 100);
}

static void frames_limits(void **state)
{
    (void)state;
    assert_int_equal(vl_tls_frame_pop(), -VL_ECTX_STACK_UNDERFLOW);
    for (int i = 0; i < VL_CONTEXT_STACK_DEPTH; i++) {
        assert_int_equal(vl_tls_frame_push(), 0);
        /* Every frame writes every slot: the worst case for the log. */
        for (int s = 0; s < VL_MAX_CONTEXT_SLOTS; s++)
            assert_int_equal(vl_tls_slot_set(s, (uintptr_t)(i * 100 + s)), 0);
    }
    assert_int_equal(vl_tls_frame_depth(), VL_CONTEXT_STACK_DEPTH);
    assert_int_equal(vl_tls_frame_push(), -VL_ECTX_STACK_OVERFLOW);
    assert_int_equal(vl_tls_frame_depth(), VL_CONTEXT_STACK_DEPTH);
    for (int i = VL_CONTEXT_STACK_DEPTH - 1; i >= 0; i--) {
        uintptr_t v = 0;
        assert_true(vl_tls_slot_get(7, &v));
        assert_int_equal(v, (uintptr_t)(i * 100 + 7));
        assert_int_equal(vl_tls_frame_pop(), 0);
    }
    assert_int_equal(vl_tls_frame_pop(), -VL_ECTX_STACK_UNDERFLOW);
    for (int s = 0; s < VL_MAX_CONTEXT_SLOTS; s++)
        assert_false(vl_tls_slot_has(s));
}

/* ---- the thread pointer and per-thread isolation -------------------------- */

struct base_probe {
    void *base1, *base2;
    uintptr_t seen;
    int had_main_value;
};

static void *base_thread(void *arg)
{
    struct base_probe *p = arg;
    p->base1 = vl_tls_get_base();
    p->had_main_value = vl_tls_slot_has(9);
    vl_tls_slot_set(9, 0xbeef);
    vl_tls_frame_push();
    vl_tls_slot_set(9, 0xcafe);
    p->base2 = vl_tls_get_base();
    vl_tls_slot_get(9, &p->seen);
    vl__tls_thread_release();
    return NULL;
}

static void thread_pointer(void **state)
{
    (void)state;
    void *b = vl_tls_get_base();
    assert_non_null(b);
    assert_ptr_equal(vl_tls_get_base(), b);
#if defined(__x86_64__) && defined(__GLIBC__)
    /* glibc's pthread_t is the TCB address, which %fs:0 points to. */
    assert_ptr_equal(b, (void *)pthread_self());
#endif
#ifdef _WIN32
    /* On Windows the base is the thread's TEB, whose first block (NT_TIB)
     * holds its own address in Self. */
    const NT_TIB *tib = b;
    assert_ptr_equal(tib->Self, b);
    /* ... and describes this thread's stack, where `b` lives. */
    assert_true((char *)tib->StackLimit <= (char *)&b && (char *)&b < (char *)tib->StackBase);
#endif
    assert_int_equal(vl_tls_slot_set(9, 0x1234), 0);
    struct base_probe p[2];
    memset(p, 0, sizeof(p));
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, base_thread, &p[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_non_null(p[i].base1);
        assert_ptr_equal(p[i].base1, p[i].base2);
        assert_ptr_not_equal(p[i].base1, b);
        assert_false(p[i].had_main_value);
        assert_int_equal(p[i].seen, 0xcafe);
    }
    /* The two threads were alive at once only if joined later; their bases
     * may be reused after exit, so distinctness is checked against main. */
    uintptr_t v = 0;
    assert_true(vl_tls_slot_get(9, &v));
    assert_int_equal(v, 0x1234);
    assert_int_equal(vl_tls_frame_depth(), 0);
}

/* ---- the log: released, and -ENOMEM leaves everything unchanged ---------- */

#ifdef _WIN32
static int mapped(const void *p)
{
    MEMORY_BASIC_INFORMATION mi;
    return VirtualQuery(p, &mi, sizeof(mi)) != 0 && mi.State == MEM_COMMIT;
}
#else
static int mapped(const void *p)
{
    vl_test_mincore_vec vec;
    long ps = sysconf(_SC_PAGESIZE);
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(ps - 1));
    return mincore(page, (size_t)ps, &vec) == 0;
}
#endif

static void log_released(void **state)
{
    (void)state;
    assert_null(vl__tls_block.log); /* lazily mapped: not before a push */
    assert_int_equal(vl_tls_frame_push(), 0);
    void *log = vl__tls_block.log;
    assert_non_null(log);
    assert_true(mapped(log));
    vl__tls_thread_release();
    assert_null(vl__tls_block.log);
    assert_false(mapped(log));
    assert_int_equal(vl_tls_frame_depth(), 0);
    /* Release is idempotent and the thread can start again. */
    vl__tls_thread_release();
    assert_int_equal(vl_tls_frame_push(), 0);
    assert_int_equal(vl_tls_frame_pop(), 0);
}

/* ---- slot reservation ------------------------------------------------------ */

static void slot_reservation(void **state)
{
    (void)state;
    int got[VL_MAX_CONTEXT_SLOTS];
    /* Highest first, every slot once, then none left. */
    for (int i = 0; i < VL_MAX_CONTEXT_SLOTS; i++) {
        got[i] = vl_tls_slot_alloc();
        assert_int_equal(got[i], VL_MAX_CONTEXT_SLOTS - 1 - i);
    }
    assert_int_equal(vl_tls_slot_alloc(), -ENOSPC);
    assert_int_equal(vl_ctx_slot_alloc(), -ENOSPC);
    assert_int_equal(vl_tls_slot_reserve(0), -EBUSY);
    for (int i = 0; i < VL_MAX_CONTEXT_SLOTS; i++)
        assert_int_equal(vl_tls_slot_free(got[i]), 0);
    /* A double free, and a free of a slot never reserved. */
    assert_int_equal(vl_tls_slot_free(got[0]), -EINVAL);
    assert_int_equal(vl_ctx_slot_free(4), -EINVAL);
    for (size_t i = 0; i < sizeof(bad_slots) / sizeof(bad_slots[0]); i++) {
        assert_int_equal(vl_tls_slot_reserve(bad_slots[i]), -EINVAL);
        assert_int_equal(vl_tls_slot_free(bad_slots[i]), -EINVAL);
        assert_int_equal(vl_ctx_slot_reserve(bad_slots[i]), -EINVAL);
        assert_int_equal(vl_ctx_slot_free(bad_slots[i]), -EINVAL);
    }
    /* A fixed number: reserved once, a second claim reports the collision,
     * through either vocabulary (one map), and alloc steps around it. */
    assert_int_equal(vl_ctx_slot_reserve(31), 0);
    assert_int_equal(vl_tls_slot_reserve(31), -EBUSY);
    assert_int_equal(vl_ctx_slot_reserve(31), -EBUSY);
    int s = vl_ctx_slot_alloc();
    assert_int_equal(s, 30);
    /* Reservation is advisory and touches no value. */
    assert_int_equal(vl_tls_slot_set(s, 77), 0);
    assert_int_equal(vl_tls_slot_free(s), 0);
    uintptr_t v = 0;
    assert_true(vl_tls_slot_get(s, &v));
    assert_int_equal(v, 77);
    assert_int_equal(vl_tls_slot_set(0, 1), 0); /* never reserved: still usable */
    assert_int_equal(vl_tls_slot_free(31), 0);
    /* Everything given back: the whole range is free again. */
    assert_int_equal(vl_tls_slot_alloc(), 31);
    assert_int_equal(vl_tls_slot_free(31), 0);
}

#define RESERVE_THREADS 8
#define RESERVE_EACH    (VL_MAX_CONTEXT_SLOTS / RESERVE_THREADS)
#define RESERVE_ROUNDS  2000

/* Bit s set while some thread holds slot s: a second holder is a failure. */
static uint32_t held_by_someone;
static int reserve_failures;

static void *reserve_thread(void *arg)
{
    (void)arg;
    for (int r = 0; r < RESERVE_ROUNDS; r++) {
        int mine[RESERVE_EACH];
        for (int i = 0; i < RESERVE_EACH; i++) {
            /* The threads never hold more than 32 between them: no -ENOSPC. */
            mine[i] = (r & 1) ? vl_ctx_slot_alloc() : vl_tls_slot_alloc();
            if (mine[i] < 0 || mine[i] >= VL_MAX_CONTEXT_SLOTS) {
                __atomic_fetch_add(&reserve_failures, 1, __ATOMIC_RELAXED);
                return NULL;
            }
            uint32_t bit = 1u << mine[i];
            if (__atomic_fetch_or(&held_by_someone, bit, __ATOMIC_RELAXED) & bit)
                __atomic_fetch_add(&reserve_failures, 1, __ATOMIC_RELAXED);
        }
        for (int i = 0; i < RESERVE_EACH; i++) {
            __atomic_fetch_and(&held_by_someone, ~(1u << mine[i]), __ATOMIC_RELAXED);
            if (vl_tls_slot_free(mine[i]) != 0)
                __atomic_fetch_add(&reserve_failures, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

/* Concurrent alloc and free never hand one slot to two holders (and run
 * under TSan with the rest of the threads label). */
static void slot_reservation_threads(void **state)
{
    (void)state;
    pthread_t t[RESERVE_THREADS];
    for (int i = 0; i < RESERVE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reserve_thread, NULL), 0);
    for (int i = 0; i < RESERVE_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(reserve_failures, 0);
    assert_int_equal(held_by_someone, 0);
    for (int i = 0; i < VL_MAX_CONTEXT_SLOTS; i++)
        assert_int_equal(vl_tls_slot_reserve(i), 0);
    for (int i = 0; i < VL_MAX_CONTEXT_SLOTS; i++)
        assert_int_equal(vl_tls_slot_free(i), 0);
}

/* ---- foreign threads: the log goes when the thread ends --------------------- */

int vl__tls_live_logs(void);

#define FOREIGN_THREADS 100

struct foreign_run {
    pthread_barrier_t all_pushed; /* every log is mapped before any goes */
    void *log[FOREIGN_THREADS];
    int how;  /* 0: return, 1: pthread_exit, 2: vl_cleanup_thread then return */
    int push; /* 0: a warm-up round that maps nothing */
};

struct foreign_arg {
    struct foreign_run *run;
    int i;
};

static void *foreign_thread(void *p)
{
    struct foreign_arg *a = p;
    struct foreign_run *run = a->run;
    if (run->push) {
        if (vl_tls_frame_push() != 0 || vl_tls_slot_set(3, (uintptr_t)a->i) != 0)
            return NULL;
        run->log[a->i] = vl__tls_block.log;
    }
    (void)pthread_barrier_wait(&run->all_pushed);
    if (run->how == 2)
        vl_cleanup_thread();
    if (run->how == 1)
        pthread_exit(NULL);
    return NULL;
}

/* Small stacks so glibc's stack cache keeps all of them between rounds and
 * the second round maps no new stack. */
static void foreign_round(struct foreign_run *run)
{
    pthread_t t[FOREIGN_THREADS];
    struct foreign_arg arg[FOREIGN_THREADS];
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 256 << 10), 0);
    assert_int_equal(pthread_barrier_init(&run->all_pushed, NULL, FOREIGN_THREADS), 0);
    for (int i = 0; i < FOREIGN_THREADS; i++) {
        arg[i].run = run;
        arg[i].i = i;
        run->log[i] = NULL;
        assert_int_equal(pthread_create(&t[i], &attr, foreign_thread, &arg[i]), 0);
    }
    for (int i = 0; i < FOREIGN_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(pthread_barrier_destroy(&run->all_pushed), 0);
    assert_int_equal(pthread_attr_destroy(&attr), 0);
}

#if defined(__linux__)
/* The number of mappings the process has (lines of /proc/self/maps). */
static int map_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Sanitizers and valgrind map shadow and bookkeeping memory of their own as
 * threads come and go, so only a plain build can compare mapping counts. */
static int maps_comparable(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return 0;
#endif
#endif
#ifdef VL_TEST_HAVE_VALGRIND
    if (RUNNING_ON_VALGRIND)
        return 0;
#endif
    return !vl_test_emulated();
}
#endif

static void spawned_pusher(void *arg)
{
    (void)arg;
    if (vl_tls_frame_push() == 0)
        (void)vl_tls_frame_push();
}

/* A thread made with pthread_create that pushes a frame and ends without
 * vl_cleanup_thread (by returning, or through pthread_exit) unmaps its log;
 * one that calls vl_cleanup_thread first releases it once, not twice. */
static void foreign_threads_release_log(void **state)
{
    (void)state;
    static struct foreign_run run;
    int base_logs = vl__tls_live_logs();
    /* Warm-up: the same threads without a push fill the C library's stack
     * cache, and pthread_exit loads the unwinder (libgcc_s, with a malloc
     * arena), so what the rounds below leave behind is theirs alone. */
    run.push = 0;
    for (run.how = 0; run.how < 3; run.how++)
        foreign_round(&run);
#if defined(__linux__)
    int base_maps = map_count();
#endif
    run.push = 1;
    for (run.how = 0; run.how < 3; run.how++) {
        foreign_round(&run);
        for (int i = 0; i < FOREIGN_THREADS; i++) {
            assert_non_null(run.log[i]);
            assert_false(mapped(run.log[i]));
        }
        assert_int_equal(vl__tls_live_logs(), base_logs);
#if defined(__linux__)
        if (maps_comparable())
            assert_int_equal(map_count(), base_maps);
#endif
    }
    /* vl_thread_spawn's threads release their log themselves and disarm
     * the exit hook: once, joined or detached. */
    vl_thread *vt[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(vl_thread_spawn(spawned_pusher, NULL, 0, &vt[i]), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(vl_thread_join(vt[i]), 0);
    assert_int_equal(vl__tls_live_logs(), base_logs);
    /* The calling thread's own slots were never touched. */
    assert_false(vl_tls_slot_has(3));
    assert_int_equal(vl_tls_frame_depth(), 0);
}

#if !defined(_WIN32) && !defined(__APPLE__)
static int enomem_child(void *arg)
{
    (void)arg;
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_AS, &old) != 0)
        return 10;
    /* A limit at the current size: any new mapping fails with ENOMEM. */
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f == NULL || fscanf(f, "%lu", &pages) != 1)
        return 11;
    fclose(f);
    lim.rlim_cur = pages * (unsigned long)sysconf(_SC_PAGESIZE);
    lim.rlim_max = old.rlim_max;
    if (vl_tls_slot_set(2, 22) != 0)
        return 12;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 13;
    int r = vl_tls_frame_push();
    if (setrlimit(RLIMIT_AS, &old) != 0)
        return 14;
    if (r != -ENOMEM)
        return 15;
    if (vl_tls_frame_depth() != 0 || vl__tls_block.log != NULL)
        return 16;
    uintptr_t v = 0;
    if (!vl_tls_slot_get(2, &v) || v != 22)
        return 17;
    if (vl_tls_frame_push() != 0 || vl_tls_frame_depth() != 1)
        return 18;
    return 0;
}
#endif

static void push_enomem(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* the sanitizers map shadow memory on demand under RLIMIT_AS */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    skip();
#endif
#endif
    VL_TEST_SKIP_IF_EMULATED("qemu-user reserves its own address space under RLIMIT_AS");
#ifdef _WIN32
    VL_TEST_SKIP_ON_WINDOWS("no RLIMIT_AS (and no fork) to make the log's mapping fail");
#elif defined(__APPLE__)
    VL_TEST_SKIP_ON_MACOS(
        "macOS does not enforce RLIMIT_AS, so the log's mapping cannot be made to fail");
#else
    vl_test_child r;
    vl_test_in_child(enomem_child, NULL, 5000, &r);
    assert_int_equal(r.exited, 1);
    assert_int_equal(r.exit_code, 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(slot_set_get_clear, reset, reset),
        cmocka_unit_test_setup_teardown(slot_invalid, reset, reset),
        cmocka_unit_test_setup_teardown(typed_helpers, reset, reset),
        cmocka_unit_test_setup_teardown(frames_restore, reset, reset),
        cmocka_unit_test_setup_teardown(frames_limits, reset, reset),
        cmocka_unit_test_setup_teardown(thread_pointer, reset, reset),
        cmocka_unit_test_setup_teardown(log_released, reset, reset),
        cmocka_unit_test_setup_teardown(push_enomem, reset, reset),
        cmocka_unit_test_setup_teardown(foreign_threads_release_log, reset, reset),
        cmocka_unit_test_setup_teardown(slot_reservation, reset, reset),
        cmocka_unit_test_setup_teardown(slot_reservation_threads, reset, reset),
    };
    return cmocka_run_group_tests_name("sys.tls", tests, NULL, NULL);
}
