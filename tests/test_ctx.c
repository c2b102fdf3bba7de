/* sys.ctx: the context system (provide/using storage) over the TLS slots. */
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
#endif

#include "vl_test.h"
#include <vllsi/sys/ctx.h>
#include <vllsi/sys/tls.h>
#include "internal.h"

static int reset(void **state)
{
    (void)state;
    vl__tls_thread_release();
    return 0;
}

static void get_set_has_clear(void **state)
{
    (void)state;
    uintptr_t v = 0;
    assert_false(vl_ctx_has(4));
    assert_false(vl_ctx_get(4, &v));
    assert_int_equal(vl_ctx_set(4, 44), 0);
    assert_true(vl_ctx_has(4));
    assert_true(vl_ctx_get(4, &v));
    assert_int_equal(v, 44);
    assert_true(vl_ctx_get(4, NULL));
    /* Same storage as the TLS slots. */
    assert_true(vl_tls_slot_get(4, &v));
    assert_int_equal(v, 44);
    assert_int_equal(vl_tls_slot_set(5, 55), 0);
    assert_true(vl_ctx_get(5, &v));
    assert_int_equal(v, 55);
    assert_int_equal(vl_ctx_set(4, 45), 0); /* set overwrites */
    assert_int_equal(vl_ctx_require(4, &v), 0);
    assert_int_equal(v, 45);
    assert_int_equal(vl_ctx_require(4, NULL), 0);
    assert_int_equal(vl_ctx_clear(4), 0);
    assert_false(vl_ctx_has(4));
    v = 9;
    assert_int_equal(vl_ctx_require(4, &v), -VL_ECTX_SLOT_EMPTY);
    assert_int_equal(v, 9);
    assert_int_equal(vl_ctx_clear(4), -VL_ECTX_SLOT_EMPTY);
    assert_null(vl_ctx_get_mut(4));
}

static void invalid_slots(void **state)
{
    (void)state;
    const int bad[] = {-1, VL_MAX_CONTEXT_SLOTS, INT_MAX, INT_MIN};
    for (size_t i = 0; i < VL__ARRAY_LEN(bad); i++) {
        int s = bad[i];
        uintptr_t v = 3;
        assert_false(vl_ctx_get(s, &v));
        assert_false(vl_ctx_has(s));
        assert_null(vl_ctx_get_mut(s));
        assert_int_equal(vl_ctx_set(s, 1), -VL_ECTX_INVALID_SLOT);
        assert_int_equal(vl_ctx_provide(s, 1), -VL_ECTX_INVALID_SLOT);
        assert_int_equal(vl_ctx_clear(s), -VL_ECTX_INVALID_SLOT);
        assert_int_equal(vl_ctx_require(s, &v), -VL_ECTX_INVALID_SLOT);
        assert_int_equal(v, 3);
    }
    assert_int_equal(vl__tls_block.present, 0);
}

static void provide_rules(void **state)
{
    (void)state;
    uintptr_t v = 0;
    /* Root scope: provide once, then occupied. */
    assert_int_equal(vl_ctx_provide(1, 10), 0);
    assert_int_equal(vl_ctx_provide(1, 11), -VL_ECTX_SLOT_OCCUPIED);
    assert_true(vl_ctx_get(1, &v));
    assert_int_equal(v, 10);
    assert_int_equal(vl_ctx_push_frame(), 0);
    /* An inner scope may shadow what an outer one provided, once. */
    assert_int_equal(vl_ctx_provide(1, 20), 0);
    assert_int_equal(vl_ctx_provide(1, 21), -VL_ECTX_SLOT_OCCUPIED);
    assert_int_equal(vl_ctx_set(2, 30), 0);
    assert_int_equal(vl_ctx_provide(2, 31), -VL_ECTX_SLOT_OCCUPIED);
    /* After a clear in the same frame the slot may be provided again. */
    assert_int_equal(vl_ctx_clear(2), 0);
    assert_int_equal(vl_ctx_provide(2, 32), 0);
    assert_int_equal(vl_ctx_require(1, &v), 0);
    assert_int_equal(v, 20);
    assert_int_equal(vl_ctx_push_frame(), 0);
    assert_int_equal(vl_ctx_depth(), 2);
    assert_int_equal(vl_ctx_provide(2, 40), 0);
    assert_int_equal(vl_ctx_pop_frame(), 0);
    assert_int_equal(vl_ctx_require(2, &v), 0);
    assert_int_equal(v, 32);
    assert_int_equal(vl_ctx_pop_frame(), 0);
    assert_int_equal(vl_ctx_depth(), 0);
    assert_int_equal(vl_ctx_require(1, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(vl_ctx_require(2, &v), -VL_ECTX_SLOT_EMPTY);
    assert_int_equal(vl_ctx_pop_frame(), -VL_ECTX_STACK_UNDERFLOW);
}

static void get_mut_is_undone(void **state)
{
    (void)state;
    uintptr_t v = 0;
    assert_int_equal(vl_ctx_set(6, 600), 0);
    uintptr_t *p = vl_ctx_get_mut(6);
    assert_non_null(p);
    *p += 1;
    assert_true(vl_ctx_get(6, &v));
    assert_int_equal(v, 601);
    assert_int_equal(vl_ctx_push_frame(), 0);
    p = vl_ctx_get_mut(6);
    assert_non_null(p);
    *p = 999;
    assert_true(vl_ctx_get(6, &v));
    assert_int_equal(v, 999);
    assert_int_equal(vl_ctx_pop_frame(), 0);
    /* The write through the pointer belonged to the popped frame. */
    assert_true(vl_ctx_get(6, &v));
    assert_int_equal(v, 601);
}

static void depth_limits(void **state)
{
    (void)state;
    assert_int_equal(vl_ctx_pop_frame(), -VL_ECTX_STACK_UNDERFLOW);
    for (int i = 0; i < VL_CONTEXT_STACK_DEPTH; i++)
        assert_int_equal(vl_ctx_push_frame(), 0);
    assert_int_equal(vl_ctx_depth(), VL_CONTEXT_STACK_DEPTH);
    assert_int_equal(vl_ctx_push_frame(), -VL_ECTX_STACK_OVERFLOW);
    assert_int_equal(vl_ctx_push_frame(), -VL_ECTX_STACK_OVERFLOW);
    assert_int_equal(vl_ctx_depth(), VL_CONTEXT_STACK_DEPTH);
    assert_int_equal(vl_ctx_pop_frame(), 0);
    assert_int_equal(vl_ctx_push_frame(), 0);
    for (int i = 0; i < VL_CONTEXT_STACK_DEPTH; i++)
        assert_int_equal(vl_ctx_pop_frame(), 0);
    assert_int_equal(vl_ctx_pop_frame(), -VL_ECTX_STACK_UNDERFLOW);
    assert_int_equal(vl_ctx_depth(), 0);
}

/* ---- randomized model test ------------------------------------------------ */

/* The reference: a full copy of the slots per frame, plus per-frame "this
 * frame wrote slot s" flags for provide. Slow and obviously right. */
struct model {
    uintptr_t val[VL_CONTEXT_STACK_DEPTH + 1][VL_MAX_CONTEXT_SLOTS];
    bool has[VL_CONTEXT_STACK_DEPTH + 1][VL_MAX_CONTEXT_SLOTS];
    bool wrote[VL_CONTEXT_STACK_DEPTH + 1][VL_MAX_CONTEXT_SLOTS];
    int depth;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static int model_write(struct model *m, int s, bool has, uintptr_t v)
{
    if (s < 0 || s >= VL_MAX_CONTEXT_SLOTS)
        return -VL_ECTX_INVALID_SLOT;
    m->val[m->depth][s] = has ? v : 0;
    m->has[m->depth][s] = has;
    m->wrote[m->depth][s] = true;
    return 0;
}

static int model_step(struct model *m, int op, int s, uintptr_t v)
{
    bool valid = s >= 0 && s < VL_MAX_CONTEXT_SLOTS;
    switch (op) {
    case 0: /* set */
        return model_write(m, s, true, v);
    case 1: /* provide */
        if (!valid)
            return -VL_ECTX_INVALID_SLOT;
        if (m->has[m->depth][s] && (m->depth == 0 || m->wrote[m->depth][s]))
            return -VL_ECTX_SLOT_OCCUPIED;
        return model_write(m, s, true, v);
    case 2: /* clear */
        if (!valid)
            return -VL_ECTX_INVALID_SLOT;
        if (!m->has[m->depth][s])
            return -VL_ECTX_SLOT_EMPTY;
        return model_write(m, s, false, 0);
    case 3: /* push */
        if (m->depth == VL_CONTEXT_STACK_DEPTH)
            return -VL_ECTX_STACK_OVERFLOW;
        memcpy(m->val[m->depth + 1], m->val[m->depth], sizeof(m->val[0]));
        memcpy(m->has[m->depth + 1], m->has[m->depth], sizeof(m->has[0]));
        memset(m->wrote[m->depth + 1], 0, sizeof(m->wrote[0]));
        m->depth++;
        return 0;
    case 4: /* pop */
        if (m->depth == 0)
            return -VL_ECTX_STACK_UNDERFLOW;
        m->depth--;
        return 0;
    default: /* get_mut and store v through it */
        if (!valid || !m->has[m->depth][s])
            return -1;
        return model_write(m, s, true, v);
    }
}

static int real_step(int op, int s, uintptr_t v)
{
    switch (op) {
    case 0:
        return vl_ctx_set(s, v);
    case 1:
        return vl_ctx_provide(s, v);
    case 2:
        return vl_ctx_clear(s);
    case 3:
        return vl_ctx_push_frame();
    case 4:
        return vl_ctx_pop_frame();
    default: {
        uintptr_t *p = vl_ctx_get_mut(s);
        if (p == NULL)
            return -1;
        *p = v;
        return 0;
    }
    }
}

static void check_same(const struct model *m)
{
    assert_int_equal(vl_ctx_depth(), m->depth);
    for (int s = 0; s < VL_MAX_CONTEXT_SLOTS; s++) {
        uintptr_t v = 0xdead;
        bool has = vl_ctx_get(s, &v);
        assert_int_equal(has, m->has[m->depth][s]);
        if (has)
            assert_int_equal(v, m->val[m->depth][s]);
        int r = vl_ctx_require(s, &v);
        assert_int_equal(r, has ? 0 : -VL_ECTX_SLOT_EMPTY);
    }
}

static void model_test(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof(m));
    int max_depth = 0, overflows = 0, underflows = 0, occupied = 0;
    /* Few slots so ops collide; push/pop weights drift so depth sweeps 0..256. */
    for (int round = 0; round < 40000; round++) {
        int phase = (round / 2000) % 3; /* 0: grow, 1: shrink, 2: balanced */
        uint32_t r = rnd(100);
        int op;
        if (r < 25)
            op = 0;
        else if (r < 45)
            op = 1;
        else if (r < 60)
            op = 2;
        else if (r < 70)
            op = 5;
        else if (r < 85)
            op = phase == 1 ? 4 : 3;
        else
            op = phase == 0 ? 3 : 4;
        int s = (int)rnd(8);
        if (rnd(50) == 0)
            s = (int)rnd(2) ? -1 : VL_MAX_CONTEXT_SLOTS;
        uintptr_t v = ((uintptr_t)rnd(1u << 30) << 2) | (uintptr_t)round;
        int want = model_step(&m, op, s, v);
        int got = real_step(op, s, v);
        if (got != want)
            fail_msg("round %d op %d slot %d: got %d want %d", round, op, s, got, want);
        check_same(&m);
        max_depth = m.depth > max_depth ? m.depth : max_depth;
        overflows += got == -VL_ECTX_STACK_OVERFLOW;
        underflows += got == -VL_ECTX_STACK_UNDERFLOW;
        occupied += got == -VL_ECTX_SLOT_OCCUPIED;
    }
    /* The run covered both ends of the stack and the provide conflict. */
    assert_int_equal(max_depth, VL_CONTEXT_STACK_DEPTH);
    assert_true(overflows > 0 && underflows > 0 && occupied > 0);
    while (m.depth > 0) {
        assert_int_equal(vl_ctx_pop_frame(), 0);
        m.depth--;
        check_same(&m);
    }
}

/* ---- threads: isolation and release --------------------------------------- */

struct iso {
    pthread_barrier_t *bar;
    uintptr_t base;
    int ok;
};

static void *iso_thread(void *arg)
{
    struct iso *t = arg;
    int ok = !vl_ctx_has(0) && vl_ctx_depth() == 0;
    ok &= vl_ctx_provide(0, t->base) == 0;
    ok &= vl_ctx_push_frame() == 0;
    ok &= vl_ctx_provide(1, t->base + 1) == 0;
    /* Both threads have written before either reads. */
    pthread_barrier_wait(t->bar);
    for (int i = 0; i < 10000; i++) {
        uintptr_t v = 0;
        ok &= vl_ctx_get(0, &v) && v == t->base;
        ok &= vl_ctx_get(1, &v) && v == t->base + 1;
        ok &= vl_ctx_set(2, t->base + (uintptr_t)i) == 0;
        ok &= vl_ctx_get(2, &v) && v == t->base + (uintptr_t)i;
    }
    pthread_barrier_wait(t->bar);
    ok &= vl_ctx_pop_frame() == 0 && !vl_ctx_has(1) && !vl_ctx_has(2);
    vl__tls_thread_release();
    t->ok = ok;
    return NULL;
}

static void per_thread_isolation(void **state)
{
    (void)state;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct iso t[2] = {{&bar, 1000, 0}, {&bar, 2000, 0}};
    pthread_t th[2];
    assert_int_equal(vl_ctx_set(0, 7), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, iso_thread, &t[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&bar);
    assert_true(t[0].ok);
    assert_true(t[1].ok);
    uintptr_t v = 0;
    assert_true(vl_ctx_get(0, &v));
    assert_int_equal(v, 7);
    assert_false(vl_ctx_has(1));
}

#ifdef _WIN32
/* No /proc/self/maps on Windows: count reservations, and ask whether a
 * page is committed, with VirtualQuery. */
static int count_maps(void)
{
    MEMORY_BASIC_INFORMATION mi;
    int n = 0;
    for (char *q = NULL; VirtualQuery(q, &mi, sizeof(mi)) != 0;
         q = (char *)mi.BaseAddress + mi.RegionSize)
        n += mi.State != MEM_FREE && mi.BaseAddress == mi.AllocationBase;
    return n;
}

static bool in_maps(const void *p)
{
    MEMORY_BASIC_INFORMATION mi;
    return VirtualQuery(p, &mi, sizeof(mi)) != 0 && mi.State == MEM_COMMIT;
}
#elif defined(__APPLE__)
/* No /proc/self/maps on macOS: the VM regions, from mach_vm_region. */
static int count_maps(void)
{
    return vl_test_count_regions();
}

static bool in_maps(const void *p)
{
    return vl_test_region_mapped(p);
}
#else
static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Is p inside any mapping of /proc/self/maps? */
static bool in_maps(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi)
            found = true;
    }
    fclose(f);
    return found;
}
#endif

struct rel {
    void *log;
    int mapped_before, mapped_after;
};

static void *release_thread(void *arg)
{
    struct rel *r = arg;
    vl_ctx_push_frame();
    vl_ctx_set(3, 33);
    r->log = vl__tls_block.log;
    r->mapped_before = in_maps(r->log);
    vl__tls_thread_release();
    r->mapped_after = in_maps(r->log);
    return NULL;
}

static void log_released(void **state)
{
    (void)state;
    /* One warm-up cycle first, so mappings that stdio or a sanitizer runtime
     * create lazily on first use exist before the baseline is taken. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < VL_CONTEXT_STACK_DEPTH; i++) {
            assert_int_equal(vl_ctx_push_frame(), 0);
            assert_int_equal(vl_ctx_set(i % VL_MAX_CONTEXT_SLOTS, 1), 0);
        }
        (void)count_maps();
        (void)in_maps(vl__tls_block.log);
        vl__tls_thread_release();
    }
    int base = count_maps();
    assert_int_equal(vl_ctx_push_frame(), 0);
    void *log = vl__tls_block.log;
    assert_non_null(log);
    assert_true(in_maps(log));
    for (int i = 1; i < VL_CONTEXT_STACK_DEPTH; i++) {
        assert_int_equal(vl_ctx_push_frame(), 0);
        assert_int_equal(vl_ctx_set(i % VL_MAX_CONTEXT_SLOTS, 1), 0);
    }
    vl__tls_thread_release();
    assert_false(in_maps(log));
    assert_int_equal(count_maps(), base);
    assert_int_equal(vl_ctx_depth(), 0);
    assert_false(vl_ctx_has(31));

    /* Another thread's log: released by that thread. */
    struct rel r = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, release_thread, &r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(r.log);
    assert_true(r.mapped_before);
    assert_false(r.mapped_after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_set_has_clear, reset, reset),
        cmocka_unit_test_setup_teardown(invalid_slots, reset, reset),
        cmocka_unit_test_setup_teardown(provide_rules, reset, reset),
        cmocka_unit_test_setup_teardown(get_mut_is_undone, reset, reset),
        cmocka_unit_test_setup_teardown(depth_limits, reset, reset),
        cmocka_unit_test_setup_teardown(model_test, reset, reset),
        cmocka_unit_test_setup_teardown(per_thread_isolation, reset, reset),
        cmocka_unit_test_setup_teardown(log_released, reset, reset),
    };
    return cmocka_run_group_tests_name("sys.ctx", tests, NULL, NULL);
}
