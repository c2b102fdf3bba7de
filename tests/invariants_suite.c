/*
 * tests/invariants_suite.c - random op mixes through one driver, every engine
 * call checked by tests/invariants.h; run once per driver (ctest
 * invariants.uring, invariants.epoll, invariants.sim).
 *
 * The mixes are programs for the fuzz target's interpreter
 * (tests/fuzz/engine_fuzz.c, linked in without libFuzzer): socket pairs and
 * a pipe, RECV/SEND/READ/WRITE with guarded buffers, TIMEOUTs, NOPs,
 * CANCELs of live and stale ids, CLOSE ops, direct peer writes, reads,
 * half-closes and closes, polls, and shutdown at a random point. A violation
 * aborts with its description. After all programs, the process's
 * descriptors, mappings and threads must be back at their baseline.
 *
 * The checker itself is tested too, so that a silent checker cannot pass
 * for a correct engine: each kind of violation is fed to it and must be
 * reported, and a sealed buffer must really fault.
 */
#define _GNU_SOURCE
#include "vl_test.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conformance_util.h"
#include "invariants.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vl_driver_kind g_kind;
static const char *g_drv;
static uint8_t g_drv_byte; /* the interpreter's driver selector */
static uint64_t g_seed;

/* Sanitizer allocators map memory lazily: /proc/self/maps then grows
 * without a leak, so the mapping count is only compared without them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static vl_engine *mk(void)
{
    vl_engine_config c = {.driver = g_kind, .max_inflight = 64};
    vl_engine *e = NULL;
    int rc = vl_engine_create(&c, &e);
    if (rc != 0 && g_kind == VL_DRIVER_URING) {
        print_message("io_uring unavailable here (%d): skipped\n", rc);
        skip();
    }
    assert_int_equal(rc, 0);
    return e;
}

static void run_programs(int count, size_t len, uint64_t seed)
{
    static uint8_t prog[4096];
    for (int k = 0; k < count; k++) {
        for (size_t i = 0; i < len; i++)
            prog[i] = (uint8_t)ct_rand(&seed);
        prog[0] = g_drv_byte;
        LLVMFuzzerTestOneInput(prog, len);
    }
}

static void random_mixes_keep_every_invariant(void **state)
{
    (void)state;
    vl_engine *probe = mk();
    vl_engine_destroy(probe);
    ct_watch("random_mixes_keep_every_invariant", 240);
    /* A warm-up program first: lazily made process state (the allocator's
     * arenas, io_uring's first worker) is not a leak. */
    run_programs(2, 600, g_seed ^ 0xabcdef);
    struct inv_baseline base;
    inv_baseline_take(&base);
    if (SANITIZED)
        base.maps = -1;
    int count = g_kind == VL_DRIVER_SIM ? 3000 : 1500;
    run_programs(count, 800, g_seed);
    char why[256];
    int rc = inv_baseline_check(&base, 2000, why, sizeof(why));
    if (rc != 0)
        fail_msg("%s", why);
}

/* ---- the checker can fail ------------------------------------------------------ */

static void checker_reports_each_violation(void **state)
{
    (void)state;
    vl_engine *e = mk();
    struct inv v;
    assert_int_equal(inv_init(&v, g_kind, 64), 0);
    vl_op nop = vl_op_nop();
    int64_t id = inv_submit(&v, e, &nop, (void *)1);
    assert_true(id > 0);
    vl_completion c[4];
    int n = 0;
    for (int k = 0; k < 100 && n == 0; k++)
        n = vl_engine_poll(e, CT_MS, c, 4); /* raw: the checker does not see it */
    assert_int_equal(n, 1);
    inv_harvest(&v, &c[0]);
    assert_true(inv_ok(&v));
    inv_harvest(&v, &c[0]); /* a second completion of the same id */
    assert_false(inv_ok(&v));
    assert_non_null(strstr(inv_why(&v), "not alive"));
    inv_fini(&v);

    /* Wrong user_data, an out-of-domain result, MORE on a single-shot op. */
    static const struct {
        int64_t result;
        uint32_t flags;
        void *ud;
        const char *what;
    } bad[] = {
        {0, 0, (void *)2, "user_data"},
        {5, 0, (void *)1, "result 5 > 0"},
        {-EINTR, 0, (void *)1, "outside the contract"},
        {-EFAULT, 0, (void *)1, "sealed"},
        {0, VL_CQE_MORE, (void *)1, "single-shot"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_int_equal(inv_init(&v, g_kind, 64), 0);
        id = inv_submit(&v, e, &nop, (void *)1);
        assert_true(id > 0);
        vl_completion fake = {(uint64_t)id, bad[k].result, bad[k].flags, bad[k].ud};
        inv_harvest(&v, &fake);
        assert_false(inv_ok(&v));
        assert_non_null(strstr(inv_why(&v), bad[k].what));
        inv_fini(&v);
        while (vl_engine_inflight(e) > 0)
            vl_engine_poll(e, CT_MS, c, 4);
    }
    /* An id never drained: inv_finish reports it. */
    assert_int_equal(inv_init(&v, g_kind, 64), 0);
    uint8_t *buf = inv_buf(&v, 16);
    assert_non_null(buf);
    vl_op rd = vl_op_read(-1, buf, 16, -1);
    assert_true(inv_submit(&v, e, &rd, NULL) > 0);
    assert_true(inv_finish(&v, e)); /* -EBADF, then drained: fine */
    vl_completion ghost = {12345, 0, 0, NULL};
    inv_harvest(&v, &ghost);
    assert_false(inv_ok(&v));
    inv_fini(&v);
    vl_engine_destroy(e);
}

/* The chain rules: a member completing before its predecessor, and a
 * member after a failed one with a result of its own, are reported. */
static void checker_reports_chain_violations(void **state)
{
    (void)state;
    vl_engine *e = mk();
    struct inv v;
    vl_completion c[4];
    for (int bad = 0; bad < 3; bad++) {
        assert_int_equal(inv_init(&v, g_kind, 64), 0);
        vl_op head = vl_op_nop();
        head.flags = VL_OP_F_LINK;
        vl_op tail = vl_op_nop();
        int64_t h = inv_submit(&v, e, &head, NULL);
        int64_t t = inv_submit(&v, e, &tail, NULL);
        assert_true(h > 0 && t > 0);
        vl_completion ch = {(uint64_t)h, bad > 0 ? -EBADF : 0, 0, NULL};
        vl_completion ct = {(uint64_t)t, 0, 0, NULL};
        if (bad == 0) { /* the member first */
            inv_harvest(&v, &ct);
            assert_false(inv_ok(&v));
            assert_non_null(strstr(inv_why(&v), "before its predecessor"));
        } else { /* the head failed: the member must be -ECANCELED */
            inv_harvest(&v, &ch);
            assert_true(inv_ok(&v));
            ct.result = bad == 1 ? 0 : -ECANCELED;
            inv_harvest(&v, &ct);
            assert_true(inv_ok(&v) == (bad == 2));
            if (bad == 1)
                assert_non_null(strstr(inv_why(&v), "not -ECANCELED"));
        }
        inv_fini(&v);
        while (vl_engine_inflight(e) > 0)
            vl_engine_poll(e, CT_MS, c, 4);
    }
    /* A real chain passes: the head fails, the member is cancelled. */
    assert_int_equal(inv_init(&v, g_kind, 64), 0);
    uint8_t *buf = inv_buf(&v, 16);
    assert_non_null(buf);
    vl_op rd = vl_op_read(-1, buf, 16, -1);
    rd.flags = VL_OP_F_LINK;
    vl_op nop = vl_op_nop();
    assert_true(inv_submit(&v, e, &rd, NULL) > 0);
    assert_true(inv_submit(&v, e, &nop, NULL) > 0);
    assert_int_equal(v.chain_members, 1);
    assert_true(inv_finish(&v, e));
    inv_fini(&v);
    vl_engine_destroy(e);
}

static void sync_errors_issue_no_id(void **state)
{
    (void)state;
    vl_engine *e = mk();
    struct inv v;
    assert_int_equal(inv_init(&v, g_kind, 64), 0);
    vl_op bad = vl_op_read(0, NULL, 10, -1);
    assert_int_equal(inv_submit(&v, e, &bad, NULL), -EFAULT);
    bad = vl_op_timeout(-1);
    assert_int_equal(inv_submit(&v, e, &bad, NULL), -EINVAL);
    bad = vl_op_nop();
    bad.kind = (vl_op_kind)999;
    assert_int_equal(inv_submit(&v, e, &bad, NULL), -EINVAL);
    assert_int_equal(v.sync_errors, 3);
    assert_int_equal(v.issued, 0);
    assert_true(inv_finish(&v, e));
    bad = vl_op_nop();
    assert_int_equal(inv_submit(&v, e, &bad, NULL), -ESHUTDOWN);
    assert_true(inv_ok(&v));
    inv_fini(&v);
    vl_engine_destroy(e);
}

static int write_sealed(void *arg)
{
    signal(SIGSEGV, SIG_DFL); /* cmocka's handler would turn the fault into abort */
    memset(arg, 1, 1);
    return 0; /* not reached: the store faults */
}

/* The ownership check is real: after its completion a buffer faults for a
 * user-space store, and the kernel refuses it (-EFAULT). */
static void sealed_buffer_really_faults(void **state)
{
    (void)state;
    /* The mechanism is the same for every driver; epoll runs everywhere. */
    vl_engine_config cfg = {.driver = VL_DRIVER_EPOLL};
    vl_engine *e = NULL;
    assert_int_equal(vl_engine_create(&cfg, &e), 0);
    struct inv v;
    assert_int_equal(inv_init(&v, VL_DRIVER_EPOLL, 64), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    uint8_t *buf = inv_buf(&v, 100);
    assert_non_null(buf);
    buf[99] = 7; /* the last byte is usable; the next page is the guard */
    vl_op rv = vl_op_recv(sv[0], buf, 100, 0);
    assert_true(inv_submit(&v, e, &rv, NULL) > 0);
    assert_int_equal(send(sv[1], "abc", 3, 0), 3);
    vl_completion c;
    int n = 0;
    for (int k = 0; k < 1000 && n == 0; k++)
        n = inv_poll(&v, e, CT_MS, &c, 1);
    assert_int_equal(n, 1);
    assert_int_equal(c.result, 3);
    assert_true(inv_ok(&v));
    assert_int_equal(send(sv[1], "late", 4, 0), 4);
    errno = 0;
    VL_TEST_BAD_POINTERS_BEGIN();
    ssize_t r = recv(sv[0], buf, 100, MSG_DONTWAIT);
    VL_TEST_BAD_POINTERS_END();
    assert_int_equal(r, -1);
    assert_int_equal(errno, EFAULT);
    vl_test_child ch;
    vl_test_in_child(write_sealed, buf, 5000, &ch);
    assert_int_equal(ch.signo, SIGSEGV);
    close(sv[0]);
    close(sv[1]);
    assert_true(inv_finish(&v, e));
    vl_engine_destroy(e);
    inv_fini(&v);
}

/*
 * Regression (found by the fuzzer): CONNECTs on blocking AF_UNIX sockets past
 * a full listen backlog, then shutdown. On io_uring with DEFER_TASKRUN
 * (Linux 6.18) an ASYNC_CANCEL issued before the kernel has punted the
 * connect to io-wq answers -ENOENT although the op is still pending, and a
 * shutdown that cancels only once waits forever. Run in a child with a
 * deadline, so a hang fails this test and not the whole suite.
 */
static int connect_past_backlog_child(void *arg)
{
    vl_engine_config cfg = {.driver = *(vl_driver_kind *)arg, .max_inflight = 64};
    vl_engine *e = NULL;
    if (vl_engine_create(&cfg, &e) != 0)
        return 77;
    struct inv v;
    CK_EQ(inv_init(&v, cfg.driver, 64), 0);
    struct sockaddr_un a;
    char name[32];
    snprintf(name, sizeof(name), "vllsi-inv-%d", (int)getpid());
    socklen_t len = ct_unix_addr(&a, name);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CK(l >= 0 && bind(l, (struct sockaddr *)&a, len) == 0 && listen(l, 1) == 0);
    int c[6];
    for (int k = 0; k < 6; k++) {
        c[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        vl_op op = vl_op_connect(c[k], (struct sockaddr *)&a, len);
        CK(inv_submit(&v, e, &op, NULL) > 0);
    }
    vl_completion out[8];
    CK(inv_poll(&v, e, 50 * CT_MS, out, 8) >= 0);
    if (!inv_finish(&v, e)) {
        fprintf(stderr, "%s\n", inv_why(&v));
        return 1;
    }
    vl_engine_destroy(e);
    inv_fini(&v);
    for (int k = 0; k < 6; k++)
        close(c[k]);
    close(l);
    ct_unix_release(&a);
    return 0;
}

static void connect_past_backlog_then_shutdown(void **state)
{
    (void)state;
    if (g_kind == VL_DRIVER_SIM)
        skip(); /* no kernel queue to race with; tests/sim.c covers the backlog */
    vl_test_child ch;
    vl_driver_kind kind = g_kind;
    vl_test_in_child(connect_past_backlog_child, &kind, 10000, &ch);
    if (ch.exited && ch.exit_code == 77)
        skip();
    if (ch.timed_out)
        fail_msg("shutdown hung with CONNECTs blocked on a full backlog");
    if (!ch.exited || ch.exit_code != 0)
        fail_msg("child failed: %s", ch.out);
}

/*
 * The same CONNECTs past a full backlog, cancelled by the caller this time:
 * every CANCEL must get an answer and every CONNECT must end (io_uring once
 * answered -ENOENT to a cancel of a CONNECT on its way to io-wq, leaving it
 * running; the driver now retries such a cancel).
 */
static int connect_cancel_child(void *arg)
{
    vl_engine_config cfg = {.driver = *(vl_driver_kind *)arg, .max_inflight = 64};
    vl_engine *e = NULL;
    if (vl_engine_create(&cfg, &e) != 0)
        return 77;
    struct sockaddr_un a;
    char name[32];
    snprintf(name, sizeof(name), "vllsi-cc-%d", (int)getpid());
    socklen_t len = ct_unix_addr(&a, name);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CK(l >= 0 && bind(l, (struct sockaddr *)&a, len) == 0 && listen(l, 1) == 0);
    enum { N = 6 };
    int c[N];
    int64_t cid[N];
    bool done[N] = {false};
    for (int k = 0; k < N; k++) {
        c[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        vl_op op = vl_op_connect(c[k], (struct sockaddr *)&a, len);
        cid[k] = vl_engine_submit(e, &op, (void *)(intptr_t)(k + 1));
        CK(cid[k] > 0);
    }
    vl_completion out[16];
    int ended = 0, cancels = 0, answered = 0;
    int got = vl_engine_poll(e, 50 * CT_MS, out, 16);
    for (int i = 0; i < got; i++) {
        done[(intptr_t)out[i].user_data - 1] = true;
        ended++;
    }
    for (int k = 0; k < N; k++) {
        if (done[k])
            continue;
        vl_op op = vl_op_cancel((uint64_t)cid[k]);
        CK(vl_engine_submit(e, &op, NULL) > 0);
        cancels++;
    }
    int64_t t0 = ct_now_ns();
    while ((ended < N || answered < cancels) && ct_now_ns() - t0 < 5000 * CT_MS) {
        got = vl_engine_poll(e, 100 * CT_MS, out, 16);
        for (int i = 0; i < got; i++) {
            if (out[i].user_data == NULL) {
                /* CANCEL: found (0), running and will end (-EALREADY), or
                 * its CONNECT had already ended (-ENOENT). */
                CK(out[i].result == 0 || out[i].result == -EALREADY || out[i].result == -ENOENT);
                answered++;
            } else {
                CK(out[i].result <= 0);
                ended++;
            }
        }
    }
    if (ended < N || answered < cancels) {
        fprintf(stderr, "%d of %d CONNECTs ended, %d of %d CANCELs answered\n", ended, N, answered,
                cancels);
        return 1;
    }
    vl_engine_destroy(e);
    for (int k = 0; k < N; k++)
        close(c[k]);
    close(l);
    ct_unix_release(&a);
    return 0;
}

static void connect_past_backlog_user_cancel(void **state)
{
    (void)state;
    if (g_kind == VL_DRIVER_SIM)
        skip(); /* no kernel queue to race with */
    vl_test_child ch;
    vl_driver_kind kind = g_kind;
    vl_test_in_child(connect_cancel_child, &kind, 15000, &ch);
    if (ch.exited && ch.exit_code == 77)
        skip();
    if (ch.timed_out)
        fail_msg("CONNECTs past a full backlog never ended after CANCEL");
    if (!ch.exited || ch.exit_code != 0)
        fail_msg("child failed: %s", ch.out);
}

static void baseline_sees_a_leak(void **state)
{
    (void)state;
    struct inv_baseline b;
    char why[256];
    inv_baseline_take(&b);
    assert_int_equal(inv_baseline_check(&b, 0, why, sizeof(why)), 0);
    int fd = dup(1);
    assert_true(fd >= 0);
    assert_int_equal(inv_baseline_check(&b, 20, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "fds"));
    close(fd);
    assert_int_equal(inv_baseline_check(&b, 0, why, sizeof(why)), 0);
}

static int setup(void **state)
{
    (void)state;
    ct_watch("(a checker test)", 60);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/*
 * glibc keeps the stacks of joined threads for reuse (its stack cache), so
 * after an engine whose worker pool ran has been destroyed, its workers'
 * stacks still show in /proc/self/maps although nothing leaked. The
 * mapping count is only meaningful with that cache off: the suite runs
 * itself again with the glibc tunable that sizes it set to 0.
 */
static void without_stack_cache(char **argv)
{
#ifdef __GLIBC__
    static const char tunable[] = "glibc.pthread.stack_cache_size=0";
    const char *cur = getenv("GLIBC_TUNABLES");
    if (cur != NULL && strstr(cur, tunable) != NULL)
        return;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s%s", cur ? cur : "", cur ? ":" : "", tunable);
    setenv("GLIBC_TUNABLES", buf, 1);
    execv("/proc/self/exe", argv);
    /* execv failed: go on with the cache (the maps check may then fail). */
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    without_stack_cache(argv);
    g_drv = argc > 1 ? argv[1] : "uring";
    if (strcmp(g_drv, "sim") == 0) {
        g_kind = VL_DRIVER_SIM;
        g_drv_byte = 0;
    } else if (strcmp(g_drv, "epoll") == 0) {
        g_kind = VL_DRIVER_EPOLL;
        g_drv_byte = 1;
    } else if (strcmp(g_drv, "uring") == 0) {
        g_kind = VL_DRIVER_URING;
        g_drv_byte = 2;
    } else if (strcmp(g_drv, "kqueue") == 0) {
        /* The interpreter's byte picks among sim, epoll and uring (fuzz
         * corpora keep their meaning); kqueue is pinned instead. */
        g_kind = VL_DRIVER_KQUEUE;
        g_drv_byte = 0;
        setenv("VLLSI_FUZZ_DRIVER", "kqueue", 1);
    } else {
        fprintf(stderr, "usage: %s uring|epoll|kqueue|sim\n", argv[0]);
        return 2;
    }
    const char *seed = getenv("VLLSI_TEST_SEED");
    g_seed = seed ? strtoull(seed, NULL, 0) : (uint64_t)ct_now_ns() ^ ((uint64_t)getpid() << 32);
    if (g_seed == 0)
        g_seed = 1;
    printf("invariants.%s: seed %llu (set VLLSI_TEST_SEED to repeat)\n", g_drv,
           (unsigned long long)g_seed);
    ct_watch_suite = "invariants";
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ct_on_watchdog;
    sigaction(SIGALRM, &sa, NULL);
    ct_watch("(setup)", 30);
    const struct CMUnitTest tests[] = {
        T(checker_reports_each_violation),
        T(checker_reports_chain_violations),
        T(sync_errors_issue_no_id),
        T(sealed_buffer_really_faults),
        T(baseline_sees_a_leak),
        T(connect_past_backlog_then_shutdown),
        T(connect_past_backlog_user_cancel),
        T(random_mixes_keep_every_invariant),
    };
    char group[64];
    snprintf(group, sizeof(group), "invariants.%s", g_drv);
#ifdef __linux__
    /* libkqueue runs a thread of its own from the first kqueue until after
     * the last one is freed, and it ends on its own schedule: with one
     * engine alive for the whole run the thread stays, so the task counts
     * the baselines compare are the engines' under test alone. */
    vl_engine *pin = NULL;
    vl_engine_config pin_cfg = {.driver = VL_DRIVER_KQUEUE};
    if (g_kind == VL_DRIVER_KQUEUE && vl_engine_create(&pin_cfg, &pin) != 0)
        pin = NULL; /* no kqueue in this build: the tests skip */
#endif
    int rc = cmocka_run_group_tests_name(group, tests, NULL, NULL);
#ifdef __linux__
    if (pin != NULL)
        vl_engine_destroy(pin);
#endif
    return rc;
}
