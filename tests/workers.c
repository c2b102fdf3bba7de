/*
 * tests/workers.c - the readiness drivers' worker pool (src/engine/workers.c)
 * through a real engine: `workers epoll`, `workers kqueue` (a build with
 * libkqueue). Regular-file READ, WRITE, READV and WRITEV and every FSYNC
 * are the ops that reach the pool.
 *
 * What it checks: threads start lazily and never beyond the configured
 * number (1, 4, the default for 0); many concurrent file ops each complete
 * once with the right bytes; a CANCEL of a queued job answers 0 and the job
 * -ECANCELED, of a running one -EALREADY and the job keeps its result; the
 * engine's destroy waits for running jobs and cancels queued ones (run under
 * ASan or valgrind, a write after the buffer was freed shows); a bad
 * `workers` value is refused at create; a CLOSE cancels its fd's queued
 * jobs and waits for its taken ones, and only its own fd's (not those of
 * another number on the same entry of the pool's fd table), also at
 * shutdown, and the CLOSE of a RENAMEAT's second fd (newdirfd) as that of
 * its first; a job queued behind one that blocks (a FIFO's open) runs on
 * another worker, and its CANCEL finds it queued. The pool's test gate
 * (vl__workers_gate) holds taken jobs as running, so the queued/running
 * split is set up exactly, never by timing. Only the readiness drivers
 * have the pool: io_uring, IOCP, sim and sync run file ops their own way.
 *
 * Those tests send every file op to the pool (make: an engine made with
 * VL_ENGINE_FILES_ON_POOL, test_files_on_pool_flag). The engine as the
 * driver makes it by default (make_nowait) first tries on the polling thread what the
 * kernel answers from its caches: the test_nowait_* cases check that a
 * cached READ, an OPENAT of a cached path and an fd's STATX complete with
 * the pool gated shut, and that O_CREAT/O_TRUNC, a path's STATX, a FIFO's
 * write end and an injected EAGAIN reach the pool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#endif

#include "vl_test.h"

#include <vllsi/engine.h>

#include "fault.h"
#include "reactor.h"
#include "workers.h"

static vl_driver_kind g_kind = VL_DRIVER_EPOLL;

/* An engine made with flags (vl_engine_config.flags). */
static vl_engine *make_flags(uint32_t workers, uint32_t max_inflight, uint32_t flags)
{
    vl_engine_config cfg = {g_kind, 0, max_inflight, flags, workers};
    vl_engine *e = NULL;
    int rc = vl_engine_create(&cfg, &e);
    if (rc == -EOPNOTSUPP || rc == -ENOSYS) {
        print_message("skipped: driver %d not in this build (%d)\n", (int)g_kind, rc);
        skip();
    }
    assert_int_equal(rc, 0);
    return e;
}

/* An engine as the driver makes it by default: file ops the page cache
 * answers run on the polling thread. */
static vl_engine *make_nowait(uint32_t workers, uint32_t max_inflight)
{
    return make_flags(workers, max_inflight, 0);
}

/* An engine whose file ops all go to the pool (VL_ENGINE_FILES_ON_POOL):
 * the tests of the pool itself read freshly written (cached) files, which
 * would otherwise never reach it. */
static vl_engine *make(uint32_t workers, uint32_t max_inflight)
{
    return make_flags(workers, max_inflight, VL_ENGINE_FILES_ON_POOL);
}

/* The pool the readiness driver installed: its state begins with the
 * reactor (both drivers assert that). */
static struct vl__workers *pool_of(vl_engine *e)
{
    struct vl__reactor *r = *vl__engine_drv(e);
    assert_non_null(r->pool);
    assert_ptr_equal(r->off, &vl__workers_offload);
    return r->pool;
}

/* A temporary regular file holding n bytes of pattern(i). */
static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 8));
}

static int tmp_file(size_t n)
{
    char path[] = "/tmp/vllsi-workers-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern(i);
    assert_int_equal(pwrite(fd, buf, n, 0), (ssize_t)n);
    free(buf);
    return fd;
}

/* Completions by id, as polled. */
#define MAXC 1024
static struct {
    uint64_t id;
    int64_t result;
} got[MAXC];
static int ngot;

static void pump(vl_engine *e, int64_t timeout_ns)
{
    vl_completion c[64];
    int n = vl_engine_poll(e, timeout_ns, c, 64);
    assert_true(n >= 0);
    for (int k = 0; k < n; k++) {
        assert_true(ngot < MAXC);
        for (int j = 0; j < ngot; j++)
            if (got[j].id == c[k].id)
                fail_msg("id %llu completed twice", (unsigned long long)c[k].id);
        got[ngot].id = c[k].id;
        got[ngot++].result = c[k].result;
    }
}

static int64_t result_of(vl_engine *e, int64_t id)
{
    for (;;) {
        for (int j = 0; j < ngot; j++)
            if (got[j].id == (uint64_t)id)
                return got[j].result;
        pump(e, -1);
    }
}

static int64_t submit(vl_engine *e, vl_op op)
{
    int64_t id = vl_engine_submit(e, &op, NULL);
    assert_true(id > 0);
    return id;
}

/* Wait (no timing asserted: the suite's alarm bounds it) until the pool's
 * workers hold n jobs. */
static void await_running(struct vl__workers *w, uint32_t n)
{
    while (vl__workers_running(w) != n)
        usleep(1000);
}

static int setup(void **state)
{
    (void)state;
    ngot = 0;
    alarm(60);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

/* ---- lazy start and the bound ---------------------------------------------------- */

static void test_lazy_start(void **state)
{
    (void)state;
    vl_engine *e = make(4, 64);
    struct vl__workers *w = pool_of(e);
    assert_int_equal(vl__workers_threads(w), 0);
    /* Socket ops never need a worker. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char b[4];
    int64_t s = submit(e, vl_op_send(sv[0], "ping", 4, 0));
    int64_t r = submit(e, vl_op_recv(sv[1], b, 4, 0));
    assert_int_equal(result_of(e, s), 4);
    assert_int_equal(result_of(e, r), 4);
    assert_int_equal(vl__workers_threads(w), 0);
    /* One file read starts one thread. */
    int fd = tmp_file(100);
    uint8_t buf[100];
    int64_t id = submit(e, vl_op_read(fd, buf, sizeof(buf), 0));
    assert_int_equal(result_of(e, id), 100);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(buf[i], pattern(i));
    assert_int_equal(vl__workers_threads(w), 1);
    vl_engine_destroy(e);
    close(fd);
    close(sv[0]);
    close(sv[1]);
}

/* workers jobs run at once and no more: the rest wait queued. */
static void check_bound(uint32_t workers, uint32_t expect)
{
    vl_engine *e = make(workers, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(4096);
    static uint8_t bufs[16][256];
    int64_t ids[16];
    vl__workers_gate(w, true);
    for (int k = 0; k < 16; k++)
        ids[k] = submit(e, vl_op_read(fd, bufs[k], 256, 256 * k));
    pump(e, 0); /* hands them to the reactor, which starts the jobs */
    await_running(w, expect);
    assert_int_equal(vl__workers_threads(w), expect);
    pump(e, 0);
    assert_int_equal(ngot, 0);
    vl__workers_gate(w, false);
    for (int k = 0; k < 16; k++) {
        assert_int_equal(result_of(e, ids[k]), 256);
        for (size_t i = 0; i < 256; i++)
            assert_int_equal(bufs[k][i], pattern(256 * (size_t)k + i));
    }
    assert_int_equal(vl__workers_threads(w), expect);
    assert_int_equal(vl__workers_running(w), 0);
    vl_engine_destroy(e);
    close(fd);
}

static void test_bound_one(void **state)
{
    (void)state;
    check_bound(1, 1);
}

static void test_bound_four(void **state)
{
    (void)state;
    check_bound(4, 4);
}

/* workers 0: as many threads as CPUs are online, 1 to 4. */
static void test_default_is_online_cpus(void **state)
{
    (void)state;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t expect = n < 1 ? 1 : n > 4 ? 4 : (uint32_t)n;
    assert_int_equal(VL_ENGINE_DEFAULT_WORKERS, 4);
    assert_int_equal(vl__workers_default(), expect);
    check_bound(0, expect);
}

/*
 * One job at a time (queue depth 1) never needs a second thread, whatever
 * the bound: each job arrives after its predecessor's completion, when that
 * job's worker is idle or on its way back to the queue, and either takes
 * it. Regression: a worker still waking the engine counted as busy, so a
 * job arriving then started another thread, and the jobs rotated among
 * `workers` cold threads (half the throughput at depth 1 on 2 CPUs).
 */
static void test_depth_one_keeps_one_thread(void **state)
{
    (void)state;
    vl_engine *e = make(4, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(4096);
    uint8_t b[64];
    for (int k = 0; k < 300; k++) {
        int64_t id = submit(e, vl_op_read(fd, b, sizeof(b), (k % 64) * 64));
        assert_int_equal(result_of(e, id), (int64_t)sizeof(b));
        assert_int_equal(b[0], pattern((size_t)(k % 64) * 64));
        ngot = 0;
    }
    assert_int_equal(vl__workers_threads(w), 1);
    vl_engine_destroy(e);
    close(fd);
}

/*
 * A multishot RECV of a regular file that could not run at once (the
 * completion queue was full) never goes to a worker: it ends with -ENOTSOCK
 * on the polling thread. Regression (found by the fuzzer): the epoll driver
 * handed it to a worker, which took and put back buffers of a pool the
 * polling thread was using for another socket's multishot RECV, and the
 * pool's free stack overflowed.
 */
static void test_multishot_never_on_a_worker(void **state)
{
    (void)state;
    vl_engine *e = make(2, 4); /* room for 4 completions */
    struct vl__workers *w = pool_of(e);
    vl_bufpool *p = NULL;
    assert_int_equal(vl_bufpool_create(e, 8, 16, &p), 0);
    int fd = tmp_file(4096);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static char data[200];
    assert_int_equal(write(sv[0], data, sizeof(data)), (ssize_t)sizeof(data));
    /* The socket's RECV fills the completion queue; the file's finds it full. */
    int64_t sock = submit(e, vl_op_recv_multi(sv[1], p, 0));
    int64_t file = submit(e, vl_op_recv_multi(fd, p, 0));
    int64_t file_res = 1, sock_res = 1;
    bool cancelled = false;
    for (int k = 0; k < 1000 && (file_res == 1 || sock_res == 1); k++) {
        vl_completion c[16];
        int n = vl_engine_poll(e, 10000000, c, 16);
        assert_true(n >= 0);
        for (int j = 0; j < n; j++) {
            if (c[j].flags & VL_CQE_BUFFER)
                assert_int_equal(vl_bufpool_release(p, vl_cqe_buffer(c[j].flags)), 0);
            if (c[j].id == (uint64_t)file)
                file_res = c[j].result;
            else if (c[j].id == (uint64_t)sock && !(c[j].flags & VL_CQE_MORE))
                sock_res = c[j].result;
        }
        if (file_res != 1 && !cancelled) {
            submit(e, vl_op_cancel((uint64_t)sock));
            cancelled = true;
        }
    }
    assert_int_equal(file_res, -ENOTSOCK);
    assert_int_equal(sock_res, -ECANCELED);
    assert_int_equal(vl__workers_threads(w), 0);
    assert_int_equal(vl_bufpool_available(p), 8);
    assert_int_equal(vl_bufpool_destroy(p), 0);
    vl_engine_destroy(e);
    close(fd);
    close(sv[0]);
    close(sv[1]);
}

static void test_bad_config(void **state)
{
    (void)state;
    vl_engine_config cfg = {g_kind, 0, 64, 0, VL_ENGINE_MAX_WORKERS + 1};
    vl_engine *e = NULL;
    assert_int_equal(vl_engine_create(&cfg, &e), -EINVAL);
    assert_null(e);
    cfg.workers = UINT32_MAX;
    assert_int_equal(vl_engine_create(&cfg, &e), -EINVAL);
    cfg.workers = VL_ENGINE_MAX_WORKERS; /* the largest accepted; starts none */
    int rc = vl_engine_create(&cfg, &e);
    if (rc == -EOPNOTSUPP || rc == -ENOSYS)
        skip();
    assert_int_equal(rc, 0);
    assert_int_equal(vl__workers_threads(pool_of(e)), 0);
    vl_engine_destroy(e);
}

/* ---- many concurrent file ops ------------------------------------------------------ */

/* 256 writes at distinct offsets, then 256 reads of them, all in flight at
 * once: each completes once, with its own bytes. */
static void check_many(uint32_t workers)
{
    enum { N = 256, LEN = 512 };
    vl_engine *e = make(workers, 2 * N);
    int fd = tmp_file(0);
    static uint8_t out[N][LEN], in[N][LEN];
    int64_t ids[N];
    for (int k = 0; k < N; k++) {
        memset(out[k], k, LEN);
        ids[k] = submit(e, vl_op_write(fd, out[k], LEN, (int64_t)k * LEN));
    }
    for (int k = 0; k < N; k++)
        assert_int_equal(result_of(e, ids[k]), LEN);
    memset(in, 0xff, sizeof(in));
    for (int k = 0; k < N; k++)
        ids[k] = submit(e, vl_op_read(fd, in[k], LEN, (int64_t)k * LEN));
    for (int k = 0; k < N; k++) {
        assert_int_equal(result_of(e, ids[k]), LEN);
        assert_memory_equal(in[k], out[k], LEN);
    }
    assert_int_equal(ngot, 2 * N);
    assert_true(vl__workers_threads(pool_of(e)) <= workers);
    assert_true(vl__workers_threads(pool_of(e)) >= 1);
    vl_engine_destroy(e);
    close(fd);
}

static void test_many_one(void **state)
{
    (void)state;
    check_many(1);
}

static void test_many_four(void **state)
{
    (void)state;
    check_many(4);
}

/* READV/WRITEV of a regular file and FSYNC (a blocking kind) run on the
 * pool too: with the gate closed they are held there, running. */
static void test_vectors_and_fsync_on_the_pool(void **state)
{
    (void)state;
    vl_engine *e = make(2, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    uint8_t a[10], b[20];
    vl_iovec in[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
    vl_iovec out[2] = {{"abc", 3}, {"defg", 4}};
    vl__workers_gate(w, true);
    int64_t r = submit(e, vl_op_readv(fd, in, 2, 4));
    int64_t f = submit(e, vl_op_fsync(fd, VL_FSYNC_DATASYNC));
    pump(e, 0);
    await_running(w, 2);
    int64_t wv = submit(e, vl_op_writev(fd, out, 2, 64)); /* queued behind them */
    pump(e, 0);
    assert_int_equal(ngot, 0);
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, r), 30);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(a[i], pattern(4 + i));
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(b[i], pattern(14 + i));
    assert_int_equal(result_of(e, f), 0);
    assert_int_equal(result_of(e, wv), 7);
    char back[7];
    assert_int_equal(pread(fd, back, 7, 64), 7);
    assert_memory_equal(back, "abcdefg", 7);
    assert_int_equal(vl__workers_threads(w), 2);
    vl_engine_destroy(e);
    close(fd);
}

/* ---- cancel ------------------------------------------------------------------------ */

static void test_cancel_queued_and_running(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    uint8_t a[64], b[64];
    memset(b, 0xee, sizeof(b));
    vl__workers_gate(w, true);
    int64_t ra = submit(e, vl_op_read(fd, a, 64, 0));
    int64_t rb = submit(e, vl_op_read(fd, b, 64, 0));
    pump(e, 0);
    await_running(w, 1); /* a runs (held at the gate), b waits queued */
    int64_t ca = submit(e, vl_op_cancel((uint64_t)ra));
    int64_t cb = submit(e, vl_op_cancel((uint64_t)rb));
    assert_int_equal(result_of(e, cb), 0);
    assert_int_equal(result_of(e, rb), -ECANCELED);
    assert_int_equal(result_of(e, ca), -EALREADY);
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, ra), 64);
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(a[i], pattern(i));
        assert_int_equal(b[i], 0xee); /* the cancelled job never ran */
    }
    /* Both ids are gone now: a CANCEL of either finds nothing. */
    int64_t again = submit(e, vl_op_cancel((uint64_t)ra));
    assert_int_equal(result_of(e, again), -ENOENT);
    vl_engine_destroy(e);
    close(fd);
}

/* ---- destroy with jobs in flight ------------------------------------------------------ */

struct opener {
    struct vl__workers *w;
    vl_engine *e;
};

/* Opens the gate once the engine's shutdown has begun (it waits for the
 * running job, which needs the gate open). */
static void *open_gate_later(void *arg)
{
    struct opener *o = arg;
    usleep(20000);
    vl__workers_gate(o->w, false);
    return NULL;
}

static void check_destroy(uint32_t workers)
{
    enum { N = 64, LEN = 4096 };
    vl_engine *e = make(workers, 2 * N);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file((size_t)N * LEN);
    uint8_t *bufs = malloc((size_t)N * LEN);
    assert_non_null(bufs);
    memset(bufs, 0, (size_t)N * LEN);
    vl__workers_gate(w, true);
    for (int k = 0; k < N; k++)
        submit(e, vl_op_read(fd, bufs + (size_t)k * LEN, LEN, (int64_t)k * LEN));
    pump(e, 0);
    await_running(w, workers);
    pthread_t t;
    struct opener o = {w, e};
    assert_int_equal(pthread_create(&t, NULL, open_gate_later, &o), 0);
    /* Waits for the running jobs, cancels the queued ones. */
    vl_engine_destroy(e);
    pthread_join(t, NULL);
    /* The jobs that were running had finished their reads: their buffers
     * hold the file's bytes. Under ASan or valgrind, a job still writing
     * after destroy would hit the freed block. */
    int full = 0;
    for (int k = 0; k < N; k++)
        if (bufs[(size_t)k * LEN] == pattern((size_t)k * LEN) &&
            bufs[(size_t)k * LEN + LEN - 1] == pattern((size_t)k * LEN + LEN - 1))
            full++;
    assert_true(full >= (int)workers);
    free(bufs);
    close(fd);
}

static void test_destroy_in_flight_one(void **state)
{
    (void)state;
    check_destroy(1);
}

static void test_destroy_in_flight_four(void **state)
{
    (void)state;
    check_destroy(4);
}

/* Destroy right after the jobs started, the gate never closed: whatever
 * state each job is in, destroy leaves none behind. Many rounds. */
static void test_destroy_racing(void **state)
{
    (void)state;
    int fd = tmp_file(1 << 16);
    for (int round = 0; round < 50; round++) {
        vl_engine *e = make(1 + (uint32_t)round % 4, 64);
        uint8_t *buf = malloc(1 << 16);
        assert_non_null(buf);
        for (int k = 0; k < 16; k++)
            submit(e, vl_op_read(fd, buf + 4096 * k, 4096, 4096 * k));
        ngot = 0; /* ids are per engine */
        if (round % 2)
            pump(e, 0);
        vl_engine_destroy(e);
        free(buf);
    }
    close(fd);
}

/* ---- the polling thread first (vl__reactor_set_file_nowait) ----------------------- */

/*
 * What the kernel itself answers to the polling thread's non-blocking
 * attempts, asked here beside the engine, so that each test expects the
 * route the kernel's answer calls for: inline where it answers at once, the
 * pool where it refuses (a file system without RWF_NOWAIT, a kernel without
 * RESOLVE_CACHED, macOS, where the engine has neither).
 */
#if defined(__linux__) && defined(RWF_NOWAIT)
static bool kernel_reads_nowait(int fd, size_t n)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    struct iovec v = {b, n};
    ssize_t r = preadv2(fd, &v, 1, 0, RWF_NOWAIT);
    free(b);
    return r == (ssize_t)n;
}

static bool kernel_writes_nowait(void)
{
    int fd = tmp_file(64);
    struct iovec v = {"x", 1};
    ssize_t n = pwritev2(fd, &v, 1, 0, RWF_NOWAIT);
    close(fd);
    return n == 1;
}

static bool kernel_opens_cached(const char *path)
{
    struct {
        uint64_t flags, mode, resolve;
    } how = {O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0, 0x20 /* RESOLVE_CACHED */};
    long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    if (fd >= 0)
        close((int)fd);
    return fd >= 0;
}
#else
static bool kernel_reads_nowait(int fd, size_t n)
{
    (void)fd, (void)n;
    return false;
}

static bool kernel_writes_nowait(void)
{
    return false;
}

static bool kernel_opens_cached(const char *path)
{
    (void)path;
    return false;
}
#endif

static bool has_completed(int64_t id)
{
    for (int j = 0; j < ngot; j++)
        if (got[j].id == (uint64_t)id)
            return true;
    return false;
}

/* The gate is closed: an op the polling thread ran has completed after two
 * polls that wait for nothing; one it handed to the pool is held there,
 * running, and completes once the gate opens (closed again after). Either
 * way exactly once (pump): its result. */
static int64_t routed(vl_engine *e, struct vl__workers *w, int64_t id, bool inline_)
{
    pump(e, 0);
    pump(e, 0);
    if (inline_) {
        assert_true(has_completed(id));
        assert_int_equal(vl__workers_running(w), 0);
        return result_of(e, id);
    }
    assert_false(has_completed(id));
    await_running(w, 1);
    pump(e, 0);
    assert_false(has_completed(id));
    vl__workers_gate(w, false);
    int64_t res = result_of(e, id);
    vl__workers_gate(w, true);
    return res;
}

static void expect_route(vl_engine *e, struct vl__workers *w, int64_t id, bool inline_,
                         int64_t want)
{
    assert_int_equal(routed(e, w, id, inline_), want);
}

/*
 * A READ at an offset whose range the page cache holds only in part does
 * not come back short: the polling thread's attempt reads the cached part,
 * and the op goes to the pool whole (gated here: it must not complete
 * before the gate opens), which returns every byte. The second half's pages
 * are dropped after an fsync (POSIX_FADV_DONTNEED on clean pages); where
 * the kernel still answers the whole range from its cache, or refuses
 * RWF_NOWAIT reads (tmpfs), there is no part to test and the test skips.
 */
static void test_nowait_partly_cached_read_is_whole(void **state)
{
    (void)state;
#ifdef __linux__
    enum { N = 8 << 20 }; /* halves of whole large folios */
    int fd = tmp_file(N);
    assert_int_equal(fsync(fd), 0);
    /* No readahead: it would bring the dropped half back meanwhile. */
    assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM), 0);
    assert_int_equal(posix_fadvise(fd, N / 2, N / 2, POSIX_FADV_DONTNEED), 0);
    static uint8_t buf[N];
    /* Which pages the cache holds, asked without reading (a RWF_NOWAIT
     * read of a missing page starts its I/O). */
    void *map = mmap(NULL, N, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    static unsigned char in[N / 4096];
    assert_int_equal(mincore(map, N, in), 0);
    munmap(map, N);
    if (!(in[0] & 1) || (in[N / 4096 - 1] & 1) || !kernel_reads_nowait(fd, 4096)) {
        close(fd);
        skip();
    }
    vl_engine *e = make_nowait(1, 64);
    struct vl__workers *w = pool_of(e);
    vl__workers_gate(w, true);
    memset(buf, 0, N);
    expect_route(e, w, submit(e, vl_op_read(fd, buf, N, 0)), false, N);
    for (size_t i = 0; i < N; i++)
        if (buf[i] != pattern(i))
            fail_msg("byte %zu: %u, not %u", i, buf[i], pattern(i));
    vl__workers_gate(w, false);
    vl_engine_destroy(e);
    close(fd);
#else
    skip(); /* posix_fadvise, mincore and RWF_NOWAIT: Linux */
#endif
}

/*
 * A READ of a file the page cache holds completes on the polling thread
 * (the pool is gated shut and starts no thread); a WRITE where the file
 * system refuses RWF_NOWAIT for buffered writes (ext4, tmpfs) goes to the
 * pool; bad input answers as the plain call would (-EBADF), at the end of
 * the file 0.
 */
static void test_nowait_cached_read_inline(void **state)
{
    (void)state;
    vl_engine *e = make_nowait(2, 64);
    struct vl__workers *w = pool_of(e);
    enum { N = 8192 };
    int fd = tmp_file(N);
    bool rd = kernel_reads_nowait(fd, N);
    vl__workers_gate(w, true);
    static uint8_t buf[N];
    expect_route(e, w, submit(e, vl_op_read(fd, buf, N, 0)), rd, N);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(buf[i], pattern(i));
    uint8_t b[4][100];
    vl_iovec v[4] = {{b[0], 100}, {b[1], 100}, {b[2], 100}, {b[3], 100}};
    expect_route(e, w, submit(e, vl_op_readv(fd, v, 4, 1000)), rd, 400);
    for (size_t i = 0; i < 400; i++)
        assert_int_equal(b[i / 100][i % 100], pattern(1000 + i));
    expect_route(e, w, submit(e, vl_op_read(fd, buf, 10, N)), rd, 0); /* at the end */
    if (rd)
        assert_int_equal(vl__workers_threads(w), 0);

    int wr_ok = kernel_writes_nowait();
    expect_route(e, w, submit(e, vl_op_write(fd, "abc", 3, 10)), wr_ok, 3);
    char back[3];
    assert_int_equal(pread(fd, back, 3, 10), 3);
    assert_memory_equal(back, "abc", 3);

    /* A write-only fd: the read's -EBADF, from whichever thread ran it. */
    char path[] = "/tmp/vllsi-workers-wo-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    int wo = open(path, O_WRONLY | O_CLOEXEC);
    unlink(path);
    close(tmp);
    assert_true(wo >= 0);
    int64_t bad = submit(e, vl_op_read(wo, buf, 10, 0));
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, bad), -EBADF);
    close(wo);
    vl_engine_destroy(e);
    close(fd);
}

/*
 * A file opened O_DSYNC or O_DIRECT goes to the pool without an attempt,
 * even when cached: RWF_NOWAIT does not keep a synchronous call from
 * waiting for a direct read's device I/O or a synchronous write's flush.
 */
static void test_nowait_sync_and_direct_go_to_the_pool(void **state)
{
    (void)state;
    vl_engine *e = make_nowait(1, 64);
    struct vl__workers *w = pool_of(e);
    enum { N = 8192 };
    char path[] = "/tmp/vllsi-workers-sync-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    static uint8_t data[N];
    for (size_t i = 0; i < N; i++)
        data[i] = pattern(i);
    assert_int_equal(pwrite(tmp, data, N, 0), N);
    vl__workers_gate(w, true);
    int fd = open(path, O_RDWR | O_DSYNC | O_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t buf[64];
    expect_route(e, w, submit(e, vl_op_read(fd, buf, sizeof(buf), 100)), false, 64);
    assert_memory_equal(buf, data + 100, 64);
    expect_route(e, w, submit(e, vl_op_write(fd, "xy", 2, 0)), false, 2);
    close(fd);
#ifdef O_DIRECT
    fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd >= 0) { /* some file systems refuse O_DIRECT (-EINVAL) */
        uint8_t *al = aligned_alloc(4096, 4096);
        assert_non_null(al);
        expect_route(e, w, submit(e, vl_op_read(fd, al, 4096, 4096)), false, 4096);
        assert_memory_equal(al, data + 4096, 4096);
        free(al);
        close(fd);
    }
#endif
    vl__workers_gate(w, false);
    unlink(path);
    close(tmp);
    vl_engine_destroy(e);
}

/*
 * With VL_ENGINE_REMEMBER_FDS the readiness core classifies a number's file
 * once (fstat, F_GETFL) for all its READs: later ones still go where the
 * first went (inline from the page cache), a read that comes back short at
 * the end of the file stays inline (the size is asked then), and once the
 * engine's CLOSE has forgotten the number, an O_DSYNC file put on it sends
 * its READs to the pool again.
 */
static void test_nowait_remembered_file(void **state)
{
    (void)state;
    enum { N = 10000 };
    vl_engine_config cfg = {g_kind, 0, 64, VL_ENGINE_REMEMBER_FDS, 1};
    vl_engine *e = NULL;
    assert_int_equal(vl_engine_create(&cfg, &e), 0);
    struct vl__workers *w = pool_of(e);
    char path[] = "/tmp/vllsi-workers-rem-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static uint8_t data[N];
    for (size_t i = 0; i < N; i++)
        data[i] = pattern(i);
    assert_int_equal(pwrite(fd, data, N, 0), N);
    if (!kernel_reads_nowait(fd, 4096)) {
        unlink(path);
        close(fd);
        vl_engine_destroy(e);
        skip();
    }
    vl__workers_gate(w, true);
    static uint8_t buf[8192];
    for (int k = 0; k < 2; k++)
        expect_route(e, w, submit(e, vl_op_read(fd, buf, 4096, 0)), true, 4096);
    expect_route(e, w, submit(e, vl_op_read(fd, buf, 8192, 8192)), true, N - 8192);
    assert_memory_equal(buf, data + 8192, N - 8192);
    expect_route(e, w, submit(e, vl_op_close(fd)), true, 0);
    int sync = open(path, O_RDWR | O_DSYNC | O_CLOEXEC);
    assert_true(sync >= 0);
    if (sync != fd) {
        assert_int_equal(dup2(sync, fd), fd);
        close(sync);
    }
    expect_route(e, w, submit(e, vl_op_read(fd, buf, 64, 100)), false, 64);
    assert_memory_equal(buf, data + 100, 64);
    vl__workers_gate(w, false);
    unlink(path);
    close(fd);
    vl_engine_destroy(e);
}

/* A temporary directory with a regular file f, for the OPENAT tests. */
struct tdir {
    char dir[64], f[80], g[80], p[80];
};

static void tdir_make(struct tdir *t)
{
    strcpy(t->dir, "/tmp/vllsi-workers-d-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->f, sizeof(t->f), "%s/f", t->dir);
    snprintf(t->g, sizeof(t->g), "%s/g", t->dir);
    snprintf(t->p, sizeof(t->p), "%s/p", t->dir);
    int fd = open(t->f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789", 10), 10);
    close(fd);
}

static void tdir_remove(const struct tdir *t)
{
    unlink(t->f);
    unlink(t->g);
    unlink(t->p);
    assert_int_equal(rmdir(t->dir), 0);
}

/* Expect OPENAT's result to be an fd whose status flags hold exactly the
 * O_NONBLOCK and O_APPEND the caller asked for; close it. */
static void expect_fd_flags(int64_t fd, int asked)
{
    assert_true(fd >= 0);
    int fl = fcntl((int)fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fl & O_NONBLOCK, asked & O_NONBLOCK);
    assert_int_equal(fl & O_APPEND, asked & O_APPEND);
    assert_int_equal(fcntl((int)fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close((int)fd);
}

/*
 * OPENAT of a path the dentry cache holds completes on the polling thread,
 * the fd with the caller's status flags (the attempt's O_NONBLOCK gone);
 * O_CREAT and O_TRUNC, which may write, go to the pool without an attempt
 * (the file does not exist until the gate opens); errors are the open's.
 */
static void test_nowait_open(void **state)
{
    (void)state;
    vl_engine *e = make_nowait(1, 64);
    struct vl__workers *w = pool_of(e);
    struct tdir t;
    tdir_make(&t);
    bool cached = kernel_opens_cached(t.f);
    vl__workers_gate(w, true);
    int modes[] = {O_RDONLY, O_RDONLY | O_NONBLOCK, O_WRONLY | O_APPEND,
                   O_RDWR | O_APPEND | O_NONBLOCK};
    for (size_t k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
        int64_t id = submit(e, vl_op_openat(VL_AT_FDCWD, t.f, modes[k], 0));
        expect_fd_flags(routed(e, w, id, cached), modes[k]);
    }
    /* O_DIRECTORY: the directory, or -ENOTDIR for anything else, a FIFO
     * with no writer too (it is never opened, so never waited for). */
    assert_int_equal(mkfifo(t.p, 0600), 0);
    int dmodes[] = {O_RDONLY | O_DIRECTORY, O_RDONLY | O_DIRECTORY | O_NONBLOCK};
    for (size_t k = 0; k < sizeof(dmodes) / sizeof(dmodes[0]); k++) {
        int64_t id = submit(e, vl_op_openat(VL_AT_FDCWD, t.dir, dmodes[k], 0));
        int64_t dfd = routed(e, w, id, cached);
        struct stat st;
        assert_int_equal(fstat((int)dfd, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        expect_fd_flags(dfd, dmodes[k]);
    }
    const char *notdirs[] = {t.f, t.p};
    for (size_t k = 0; k < 2; k++) {
        int64_t id = submit(e, vl_op_openat(VL_AT_FDCWD, notdirs[k], O_RDONLY | O_DIRECTORY, 0));
        assert_int_equal(routed(e, w, id, cached), -ENOTDIR);
    }
    assert_int_equal(unlink(t.p), 0);
    if (cached)
        assert_int_equal(vl__workers_threads(w), 0);

    /* O_CREAT goes to the pool: held there, the file is not made yet. */
    int64_t id = submit(e, vl_op_openat(VL_AT_FDCWD, t.g, O_CREAT | O_RDWR, 0600));
    pump(e, 0);
    await_running(w, 1);
    assert_int_equal(access(t.g, F_OK), -1);
    vl__workers_gate(w, false);
    expect_fd_flags(result_of(e, id), 0);
    assert_int_equal(access(t.g, F_OK), 0);
    /* O_TRUNC too: the file keeps its bytes until the pool runs it. */
    vl__workers_gate(w, true);
    id = submit(e, vl_op_openat(VL_AT_FDCWD, t.f, O_WRONLY | O_TRUNC, 0));
    pump(e, 0);
    await_running(w, 1);
    struct stat st;
    assert_int_equal(stat(t.f, &st), 0);
    assert_int_equal(st.st_size, 10);
    vl__workers_gate(w, false);
    expect_fd_flags(result_of(e, id), 0);
    assert_int_equal(stat(t.f, &st), 0);
    assert_int_equal(st.st_size, 0);

    /* Errors: a missing name, and a resolve flag's refusal of "..". */
    char missing[96];
    snprintf(missing, sizeof(missing), "%s/none", t.dir);
    assert_int_equal(result_of(e, submit(e, vl_op_openat(VL_AT_FDCWD, missing, O_RDONLY, 0))),
                     -ENOENT);
    int dfd = open(t.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    int64_t esc = submit(e, vl_op_openat2(dfd, "../", O_RDONLY, 0, VL_RESOLVE_BENEATH));
    int64_t rc = result_of(e, esc);
    assert_true(rc == -EXDEV || rc == -EOPNOTSUPP); /* -EOPNOTSUPP: no openat2 */
    close(dfd);
    vl_engine_destroy(e);
    tdir_remove(&t);
}

/*
 * A FIFO: the attempt's O_NONBLOCK opens the read end without waiting for a
 * writer, as io_uring's inline attempt does, and the fd is blocking after;
 * the write end, which would say -ENXIO with no reader, goes to the pool,
 * where the open waits for one, as the caller's blocking open does.
 */
static void test_nowait_open_fifo(void **state)
{
    (void)state;
    vl_engine *e = make_nowait(1, 64);
    struct vl__workers *w = pool_of(e);
    struct tdir t;
    tdir_make(&t);
    assert_int_equal(mkfifo(t.p, 0600), 0);
    bool cached = kernel_opens_cached(t.f);
    vl__workers_gate(w, true);
    int64_t wr = submit(e, vl_op_openat(VL_AT_FDCWD, t.p, O_WRONLY, 0));
    pump(e, 0);
    await_running(w, 1);
    if (cached) {
        /* The read end completes while the write end is held. */
        int64_t rd = submit(e, vl_op_openat(VL_AT_FDCWD, t.p, O_RDONLY, 0));
        int64_t rfd = result_of(e, rd);
        assert_true(rfd >= 0);
        assert_int_equal(fcntl((int)rfd, F_GETFL) & O_NONBLOCK, 0);
        vl__workers_gate(w, false);
        int64_t wfd = result_of(e, wr);
        assert_true(wfd >= 0);
        assert_int_equal(write((int)wfd, "x", 1), 1);
        char c;
        assert_int_equal(read((int)rfd, &c, 1), 1);
        close((int)wfd);
        close((int)rfd);
    } else {
        int rfd = open(t.p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        assert_true(rfd >= 0);
        vl__workers_gate(w, false);
        int64_t wfd = result_of(e, wr);
        assert_true(wfd >= 0);
        close((int)wfd);
        close(rfd);
    }
    vl_engine_destroy(e);
    tdir_remove(&t);
}

/*
 * STATX of an fd on a file system on a block device completes on the
 * polling thread; of a path, it goes to the pool (a lookup may read the
 * disk); a bad fd answers -EBADF.
 */
static void test_nowait_statx(void **state)
{
    (void)state;
    vl_engine *e = make_nowait(1, 64);
    struct vl__workers *w = pool_of(e);
    struct tdir t;
    tdir_make(&t);
    int fd = open(t.f, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
#ifdef __linux__
    bool fd_inline = major(st.st_dev) != 0;
#else
    bool fd_inline = false;
#endif
    vl__workers_gate(w, true);
    struct vl_statx sx;
    memset(&sx, 0, sizeof(sx));
    expect_route(e, w, submit(e, vl_op_statx(fd, "", VL_AT_EMPTY_PATH, &sx)), fd_inline, 0);
    assert_int_equal(sx.size, 10);
    assert_int_equal(sx.mode & VL_S_IFMT, VL_S_IFREG);
    assert_int_equal(sx.ino, (uint64_t)st.st_ino);
    memset(&sx, 0, sizeof(sx));
    expect_route(e, w, submit(e, vl_op_statx(VL_AT_FDCWD, t.f, 0, &sx)), false, 0);
    assert_int_equal(sx.size, 10);
    int64_t bad = submit(e, vl_op_statx(1 << 20, "", VL_AT_EMPTY_PATH, &sx));
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, bad), -EBADF);
    close(fd);
    vl_engine_destroy(e);
    tdir_remove(&t);
}

/*
 * Fault injection (builds with VLLSI_FAULT_INJECTION): an attempt the
 * "kernel" answers EAGAIN sends the op to the pool, which completes it
 * once, with the plain call's result. Other builds skip.
 */
static void test_nowait_eagain_goes_to_the_pool(void **state)
{
    (void)state;
    static struct vl__fault f;
    assert_int_equal(vl__fault_parse(&f, "seed=1,eagain=1000000"), 0);
    int rc = vl__fault_install(&f);
    if (rc == -EOPNOTSUPP) {
        print_message("skipped: a build without VLLSI_FAULT_INJECTION\n");
        skip();
    }
    assert_int_equal(rc, 0);
    vl_engine *e = make_nowait(1, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(512);
    vl__workers_gate(w, true);
    uint8_t buf[512];
    expect_route(e, w, submit(e, vl_op_read(fd, buf, sizeof(buf), 0)), false, 512);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], pattern(i));
    struct vl_statx sx;
    expect_route(e, w, submit(e, vl_op_statx(fd, "", VL_AT_EMPTY_PATH, &sx)), false, 0);
    assert_int_equal(sx.size, 512);
    vl__workers_gate(w, false);
    vl__fault_install(NULL);
    vl_engine_destroy(e);
    close(fd);
}

/*
 * VL_ENGINE_FILES_ON_POOL: what the default engine answers on the polling
 * thread (a cached READ and WRITE, an OPENAT of a cached path, an fd's
 * STATX) goes to the pool (gated: it completes only once the gate opens),
 * with the same results. The flag is the engine's own: another engine in
 * the process still reads the cached file inline (where the kernel
 * answers RWF_NOWAIT reads: not tmpfs, not macOS).
 */
static void test_files_on_pool_flag(void **state)
{
    (void)state;
    char path[] = "/tmp/vllsi-workers-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t data[512], buf[512];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = pattern(i);
    assert_int_equal(pwrite(fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    vl_engine *e = make_flags(1, 64, VL_ENGINE_FILES_ON_POOL);
    struct vl__workers *w = pool_of(e);
    if (kernel_reads_nowait(fd, sizeof(data))) { /* an engine without it reads inline */
        vl_engine *dflt = make_nowait(1, 64);
        struct vl__workers *wd = pool_of(dflt);
        vl__workers_gate(wd, true);
        expect_route(dflt, wd, submit(dflt, vl_op_read(fd, buf, sizeof(buf), 0)), true, 512);
        assert_memory_equal(buf, data, sizeof(data));
        vl__workers_gate(wd, false);
        vl_engine_destroy(dflt);
        ngot = 0; /* the next engine's ids start over */
    }
    vl__workers_gate(w, true);
    memset(buf, 0, sizeof(buf));
    expect_route(e, w, submit(e, vl_op_read(fd, buf, sizeof(buf), 0)), false, 512);
    assert_memory_equal(buf, data, sizeof(data));
    expect_route(e, w, submit(e, vl_op_write(fd, "w", 1, 0)), false, 1);
    int64_t o = routed(e, w, submit(e, vl_op_openat(VL_AT_FDCWD, path, O_RDONLY, 0)), false);
    assert_true(o >= 0);
    struct vl_statx sx;
    expect_route(e, w, submit(e, vl_op_statx((int)o, "", VL_AT_EMPTY_PATH, &sx)), false, 0);
    assert_int_equal(sx.size, 512);
    vl__workers_gate(w, false);
    close((int)o);
    unlink(path);
    vl_engine_destroy(e);
    close(fd);
}

/* ---- CLOSE of an fd with jobs ------------------------------------------------------ */

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* Poll for a while (no timing asserted: nothing should arrive). */
static void pump_idle(vl_engine *e)
{
    for (int k = 0; k < 5; k++)
        pump(e, 2 * 1000000);
}

/*
 * A job a worker has taken keeps its file: the CLOSE of its fd waits (the
 * close(2) follows the job's system call), while the fd's queued job comes
 * back -ECANCELED at once. A CANCEL of the waiting CLOSE answers -EALREADY:
 * the close happens.
 */
static void test_close_waits_for_taken_job(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    uint8_t a[64], b[64];
    memset(b, 0xee, sizeof(b));
    vl__workers_gate(w, true);
    int64_t ra = submit(e, vl_op_read(fd, a, 64, 0));
    int64_t rb = submit(e, vl_op_read(fd, b, 64, 0));
    pump(e, 0);
    await_running(w, 1); /* a is taken (held at the gate), b queued */
    int64_t cl = submit(e, vl_op_close(fd));
    assert_int_equal(result_of(e, rb), -ECANCELED);
    int64_t cc = submit(e, vl_op_cancel((uint64_t)cl));
    assert_int_equal(result_of(e, cc), -EALREADY);
    pump_idle(e);
    for (int j = 0; j < ngot; j++)
        assert_true(got[j].id != (uint64_t)cl && got[j].id != (uint64_t)ra);
    assert_true(fd_open(fd)); /* the number is still the file's */
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, ra), 64);
    assert_int_equal(result_of(e, cl), 0);
    assert_false(fd_open(fd));
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(a[i], pattern(i));
        assert_int_equal(b[i], 0xee);
    }
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/*
 * While the pool holds the CLOSE of a file's number (a worker runs a job
 * of it), the number is closed for the caller: a new op on it fails -EBADF
 * at once, with no system call on the old file (which still has the
 * number), as on io_uring, whose CLOSE frees the number at once. Each op
 * completes once; a second fd (SENDFILE's file) counts; a second CLOSE
 * fails the same way. Ops on other numbers go on, and once the CLOSE has
 * completed, a new file that takes the number is used as usual.
 */
static void test_ops_on_held_close_fail(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    uint8_t a[64], b[64], c[64];
    memset(b, 0xee, sizeof(b));
    vl__workers_gate(w, true);
    int64_t ra = submit(e, vl_op_read(fd, a, 64, 0));
    pump(e, 0);
    await_running(w, 1); /* a is taken, held at the gate */
    int64_t cl = submit(e, vl_op_close(fd));
    int64_t ops[] = {
        submit(e, vl_op_read(fd, b, 64, 0)), submit(e, vl_op_poll(fd, VL_POLL_IN)),
        submit(e, vl_op_fsync(fd, 0)),       submit(e, vl_op_sendfile(sv[0], fd, 0, 64)),
        submit(e, vl_op_close(fd)),
    };
    int64_t other = submit(e, vl_op_send(sv[0], "x", 1, 0));
    pump_idle(e);
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        assert_true(has_completed(ops[k]));
        assert_int_equal(result_of(e, ops[k]), -EBADF);
    }
    assert_int_equal(result_of(e, other), 1);
    assert_false(has_completed(cl));
    assert_false(has_completed(ra));
    assert_true(fd_open(fd)); /* the number is still the old file's */
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, ra), 64);
    assert_int_equal(result_of(e, cl), 0);
    assert_false(fd_open(fd));
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(a[i], pattern(i));
        assert_int_equal(b[i], 0xee);
    }
    int again = tmp_file(64); /* may take the number: it is an ordinary file */
    assert_int_equal(result_of(e, submit(e, vl_op_read(again, c, 64, 0))), 64);
    assert_int_equal(c[63], pattern(63));
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
    close(again);
    close(sv[0]);
    close(sv[1]);
}

/*
 * The same for a socket's number (a worker runs an FSYNC of it): a RECV
 * and a POLL of it fail -EBADF rather than park on the old socket, whose
 * close would then leave them waiting for ever; a RECV with data there
 * reads none of it.
 */
static void test_socket_ops_on_held_close_fail(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    char buf[8];
    vl__workers_gate(w, true);
    int64_t fs = submit(e, vl_op_fsync(sv[0], 0));
    pump(e, 0);
    await_running(w, 1);
    int64_t cl = submit(e, vl_op_close(sv[0]));
    int64_t recv_empty = submit(e, vl_op_recv(sv[0], buf, sizeof(buf), 0));
    int64_t poll = submit(e, vl_op_poll(sv[0], VL_POLL_IN));
    assert_int_equal(send(sv[1], "y", 1, 0), 1);
    int64_t recv_data = submit(e, vl_op_recv(sv[0], buf, sizeof(buf), 0));
    pump_idle(e);
    assert_true(has_completed(recv_empty));
    assert_true(has_completed(poll));
    assert_true(has_completed(recv_data));
    assert_int_equal(result_of(e, recv_empty), -EBADF);
    assert_int_equal(result_of(e, poll), -EBADF);
    assert_int_equal(result_of(e, recv_data), -EBADF);
    assert_false(has_completed(cl));
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, fs), -EINVAL); /* fsync(2) of a socket */
    assert_int_equal(result_of(e, cl), 0);
    assert_false(fd_open(sv[0]));
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
    close(sv[1]);
}

/*
 * fd numbers that share an entry of the pool's fd table (it has as many
 * entries as the reactor's fd table, up to 4096): the CLOSE of one cancels
 * and waits for its own jobs only. With two workers held at the gate by
 * jobs of hi (the other number of the entry) and of a third file, the
 * CLOSE of lo completes at once, cancels lo's queued job, and leaves hi's
 * queued one to run.
 */
static void test_close_spares_other_numbers(void **state)
{
    (void)state;
    vl_engine *e = make(2, 64);
    struct vl__workers *w = pool_of(e);
    struct vl__reactor *r = *vl__engine_drv(e);
    uint32_t entries = r->mask + 1 < 4096 ? r->mask + 1 : 4096;
    int lo = tmp_file(64), other = tmp_file(64);
    int hi = lo + (int)entries;
    assert_int_equal(dup2(lo, hi), hi);
    uint8_t b[4][64];
    memset(b, 0xee, sizeof(b));
    vl__workers_gate(w, true);
    int64_t run_hi = submit(e, vl_op_read(hi, b[0], 64, 0));
    pump(e, 0);
    await_running(w, 1);
    int64_t run_other = submit(e, vl_op_read(other, b[1], 64, 0));
    pump(e, 0);
    await_running(w, 2);
    int64_t q_lo = submit(e, vl_op_read(lo, b[2], 64, 0));
    int64_t q_hi = submit(e, vl_op_read(hi, b[3], 64, 0));
    int64_t cl = submit(e, vl_op_close(lo));
    assert_int_equal(result_of(e, cl), 0);
    assert_int_equal(result_of(e, q_lo), -ECANCELED);
    assert_false(fd_open(lo));
    assert_true(fd_open(hi));
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, run_hi), 64);
    assert_int_equal(result_of(e, run_other), 64);
    assert_int_equal(result_of(e, q_hi), 64);
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(b[0][i], pattern(i));
        assert_int_equal(b[1][i], pattern(i));
        assert_int_equal(b[2][i], 0xee);
        assert_int_equal(b[3][i], pattern(i));
    }
    vl_engine_destroy(e);
    close(hi);
    close(other);
}

/* ---- a job's second fd: RENAMEAT's newdirfd ------------------------------------------ */

/* Two temporary directories, open, and a file "a" in the first. */
struct dirs {
    char path[2][32];
    int fd[2];
};

static void dirs_make(struct dirs *d)
{
    for (int k = 0; k < 2; k++) {
        snprintf(d->path[k], sizeof(d->path[k]), "/tmp/vllsi-workers-XXXXXX");
        assert_non_null(mkdtemp(d->path[k]));
        d->fd[k] = open(d->path[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(d->fd[k] >= 0);
    }
    int f = openat(d->fd[0], "a", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(f >= 0);
    close(f);
}

/* Whether dir k of d holds name. */
static bool dirs_has(const struct dirs *d, int k, const char *name)
{
    char path[96];
    snprintf(path, sizeof(path), "%s/%s", d->path[k], name);
    struct stat st;
    return stat(path, &st) == 0;
}

static void dirs_remove(const struct dirs *d)
{
    const char *names[] = {"a", "b", "c"};
    char path[96];
    for (int k = 0; k < 2; k++) {
        for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
            snprintf(path, sizeof(path), "%s/%s", d->path[k], names[n]);
            unlink(path);
        }
        rmdir(d->path[k]);
    }
}

/*
 * A RENAMEAT uses two directory fds by number, and a CLOSE of the second
 * (newdirfd) finds it as a CLOSE of the first does: queued, it comes back
 * -ECANCELED at the CLOSE, which completes at once (no taken job holds
 * the number) and never renames. A RENAMEAT whose two fds are one number
 * comes back once at that number's CLOSE.
 */
static void test_close_newdirfd_cancels_queued_renameat(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    struct dirs d;
    dirs_make(&d);
    int fd = tmp_file(64);
    uint8_t a[64];
    vl__workers_gate(w, true);
    int64_t ra = submit(e, vl_op_read(fd, a, 64, 0));
    pump(e, 0);
    await_running(w, 1); /* the one worker holds the READ: the rest queue */
    int64_t ren = submit(e, vl_op_renameat(d.fd[0], "a", d.fd[1], "b"));
    int64_t same = submit(e, vl_op_renameat(d.fd[0], "a", d.fd[0], "c"));
    int64_t cl1 = submit(e, vl_op_close(d.fd[1]));
    assert_int_equal(result_of(e, cl1), 0);
    assert_false(fd_open(d.fd[1]));
    assert_true(has_completed(ren));
    assert_int_equal(result_of(e, ren), -ECANCELED);
    int64_t cl0 = submit(e, vl_op_close(d.fd[0]));
    assert_int_equal(result_of(e, cl0), 0);
    assert_true(has_completed(same)); /* pump fails an id that completes twice */
    assert_int_equal(result_of(e, same), -ECANCELED);
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, ra), 64);
    pump_idle(e);
    assert_true(dirs_has(&d, 0, "a"));
    assert_false(dirs_has(&d, 1, "b"));
    assert_false(dirs_has(&d, 0, "c"));
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
    dirs_remove(&d);
    close(fd);
}

/*
 * A RENAMEAT a worker has taken holds the CLOSE of its newdirfd as it
 * holds that of its first fd: the close(2) follows the rename, which
 * lands in the directory the number had, and meanwhile new ops naming the
 * number fail -EBADF, as its first fd (MKDIRAT) or as a RENAMEAT's second.
 * The taken one's first fd is VL_AT_FDCWD, which the pool never tracks:
 * the CLOSE of another number completes at once.
 */
static void test_close_newdirfd_waits_for_taken_renameat(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    struct dirs d;
    dirs_make(&d);
    char from[64];
    snprintf(from, sizeof(from), "%s/a", d.path[0]);
    vl__workers_gate(w, true);
    int64_t ren = submit(e, vl_op_renameat(VL_AT_FDCWD, from, d.fd[1], "b"));
    pump(e, 0);
    await_running(w, 1);
    int64_t cl1 = submit(e, vl_op_close(d.fd[1]));
    int64_t mk = submit(e, vl_op_mkdirat(d.fd[1], "c", 0700));
    int64_t ren2 = submit(e, vl_op_renameat(d.fd[0], "c", d.fd[1], "c"));
    int other = tmp_file(8);
    assert_int_equal(result_of(e, submit(e, vl_op_close(other))), 0);
    pump_idle(e);
    assert_true(has_completed(mk));
    assert_int_equal(result_of(e, mk), -EBADF);
    assert_true(has_completed(ren2));
    assert_int_equal(result_of(e, ren2), -EBADF);
    assert_false(has_completed(cl1));
    assert_false(has_completed(ren));
    assert_true(fd_open(d.fd[1])); /* the number is still the directory's */
    vl__workers_gate(w, false);
    assert_int_equal(result_of(e, ren), 0);
    assert_int_equal(result_of(e, cl1), 0);
    assert_false(fd_open(d.fd[1]));
    assert_false(dirs_has(&d, 0, "a"));
    assert_true(dirs_has(&d, 1, "b"));
    assert_false(dirs_has(&d, 1, "c"));
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
    close(d.fd[0]);
    dirs_remove(&d);
}

/* The engine's shutdown waits for a CLOSE held back by a taken job like
 * for the job itself, and the close(2) happens. */
static void test_destroy_with_waiting_close(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    static uint8_t a[64];
    vl__workers_gate(w, true);
    submit(e, vl_op_read(fd, a, 64, 0));
    pump(e, 0);
    await_running(w, 1);
    submit(e, vl_op_close(fd));
    pump(e, 0);
    assert_true(fd_open(fd));
    pthread_t t;
    struct opener o = {w, e};
    assert_int_equal(pthread_create(&t, NULL, open_gate_later, &o), 0);
    vl_engine_destroy(e);
    pthread_join(t, NULL);
    assert_false(fd_open(fd));
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(a[i], pattern(i));
}

/* ---- a worker stuck in a long call ---------------------------------------------------- */

/*
 * A worker blocked in a call that does not return soon (an OPENAT of a
 * FIFO no one writes) must not hold up a job another worker, asleep, could
 * run: the job that found the only awake worker busy and woke nobody at
 * submit is started at the polling thread's next wait at the latest.
 */
static void test_stuck_worker_holds_up_nothing(void **state)
{
    (void)state;
    vl_engine *e = make(2, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(8 * 4096);
    static uint8_t buf[8][4096];
    /* Bursts of reads until both threads are started. */
    while (vl__workers_threads(w) < 2) {
        int64_t ids[8];
        for (int k = 0; k < 8; k++)
            ids[k] = submit(e, vl_op_read(fd, buf[k], 4096, 4096 * k));
        for (int k = 0; k < 8; k++)
            assert_int_equal(result_of(e, ids[k]), 4096);
    }
    usleep(20000); /* both asleep (no timing asserted: either way it must pass) */
    char dir[] = "/tmp/vllsi-workers-XXXXXX", fifo[64];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int64_t opener = submit(e, vl_op_openat(VL_AT_FDCWD, fifo, O_RDONLY, 0));
    pump(e, 0);
    await_running(w, 1); /* one worker in open(2) */
    uint8_t one[64];
    int64_t rd = submit(e, vl_op_read(fd, one, 64, 0));
    assert_int_equal(result_of(e, rd), 64);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(one[i], pattern(i));
    for (int j = 0; j < ngot; j++)
        assert_true(got[j].id != (uint64_t)opener);
    int wfd;
    while ((wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
        usleep(1000);
    int64_t rfd = result_of(e, opener);
    assert_true(rfd >= 0);
    close((int)rfd);
    close(wfd);
    unlink(fifo);
    rmdir(dir);
    vl_engine_destroy(e);
    close(fd);
}

/* ---- jobs queued behind a blocked one ---------------------------------------------- */

/* The write end of the FIFO at path, once a reader waits in its open(2)
 * (before that the open fails with ENXIO; the suite's alarm bounds it). */
static int fifo_writer(const char *path)
{
    int wfd;
    while ((wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        assert_int_equal(errno, ENXIO);
        usleep(1000);
    }
    return wfd;
}

struct fifos {
    char dir[32];
    char path[3][64];
};

static void fifos_make(struct fifos *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/vllsi-workers-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    for (int k = 0; k < 3; k++) {
        snprintf(f->path[k], sizeof(f->path[k]), "%s/fifo%d", f->dir, k);
        assert_int_equal(mkfifo(f->path[k], 0600), 0);
    }
}

static void fifos_remove(const struct fifos *f)
{
    for (int k = 0; k < 3; k++)
        unlink(f->path[k]);
    rmdir(f->dir);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * A job queued behind one that blocks (an OPENAT of a FIFO no one writes)
 * runs on the other worker, free: no worker holds jobs it has not started.
 * Both workers wait in the opens of FIFOs 0 and 1 while a third FIFO's
 * open and seven reads queue up; FIFO 0 then gets a writer, so its worker
 * looks at the queue with all eight waiting and takes the third open, which
 * blocks; FIFO 1's worker, once free, must run all seven reads. The reads'
 * completions are awaited for up to 20 s (no timing asserted: they come at
 * once, or never); FIFO 2's open is let go either way.
 */
static void test_blocked_job_strands_none(void **state)
{
    (void)state;
    vl_engine *e = make(2, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(7 * 4096);
    static uint8_t buf[7][4096];
    struct fifos f;
    fifos_make(&f);
    int64_t open0 = submit(e, vl_op_openat(VL_AT_FDCWD, f.path[0], O_RDONLY, 0));
    int64_t open1 = submit(e, vl_op_openat(VL_AT_FDCWD, f.path[1], O_RDONLY, 0));
    pump(e, 0);
    await_running(w, 2); /* both threads started, each in a FIFO's open(2) */
    int64_t open2 = submit(e, vl_op_openat(VL_AT_FDCWD, f.path[2], O_RDONLY, 0));
    int64_t rd[7];
    for (int k = 0; k < 7; k++)
        rd[k] = submit(e, vl_op_read(fd, buf[k], 4096, 4096 * (uint64_t)k));
    pump(e, 0);
    int wfd[3];
    wfd[0] = fifo_writer(f.path[0]);
    int64_t r0 = result_of(e, open0);
    assert_true(r0 >= 0);
    wfd[1] = fifo_writer(f.path[1]);
    int64_t r1 = result_of(e, open1);
    assert_true(r1 >= 0);
    int done = 0;
    for (int64_t end = now_ns() + 20000000000; done < 7 && now_ns() < end;) {
        pump(e, 100000000);
        done = 0;
        for (int k = 0; k < 7; k++)
            for (int j = 0; j < ngot; j++)
                done += got[j].id == (uint64_t)rd[k];
    }
    wfd[2] = fifo_writer(f.path[2]);
    int64_t r2 = result_of(e, open2);
    assert_true(r2 >= 0);
    assert_int_equal(done, 7); /* else reads waited behind FIFO 2's open */
    for (int k = 0; k < 7; k++) {
        assert_int_equal(result_of(e, rd[k]), 4096);
        for (size_t i = 0; i < 4096; i++)
            assert_int_equal(buf[k][i], pattern(4096 * (size_t)k + i));
    }
    for (int k = 0; k < 3; k++)
        close(wfd[k]);
    close((int)r0);
    close((int)r1);
    close((int)r2);
    fifos_remove(&f);
    vl_engine_destroy(e);
    close(fd);
}

/*
 * A job that waits behind a blocked one has not run, so its CANCEL finds
 * it queued: 0, and the job -ECANCELED without touching its buffer. The
 * pool's one worker finishes FIFO 0's open with FIFO 1's open and a read
 * queued, and takes the open, which blocks; the read is then cancelled.
 */
static void test_cancel_behind_blocked_job(void **state)
{
    (void)state;
    vl_engine *e = make(1, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    uint8_t b[64];
    memset(b, 0xee, sizeof(b));
    struct fifos f;
    fifos_make(&f);
    int64_t open0 = submit(e, vl_op_openat(VL_AT_FDCWD, f.path[0], O_RDONLY, 0));
    pump(e, 0);
    await_running(w, 1);
    int64_t open1 = submit(e, vl_op_openat(VL_AT_FDCWD, f.path[1], O_RDONLY, 0));
    int64_t rd = submit(e, vl_op_read(fd, b, 64, 0));
    pump(e, 0);
    int wfd0 = fifo_writer(f.path[0]);
    int64_t r0 = result_of(e, open0);
    assert_true(r0 >= 0);
    /* The worker looked at the queue again and took FIFO 1's open. */
    while (vl__workers_running(w) == 0)
        usleep(1000);
    int64_t c = submit(e, vl_op_cancel((uint64_t)rd));
    int64_t cres = result_of(e, c);
    int wfd1 = fifo_writer(f.path[1]);
    int64_t r1 = result_of(e, open1);
    assert_true(r1 >= 0);
    assert_int_equal(cres, 0);
    assert_int_equal(result_of(e, rd), -ECANCELED);
    for (size_t i = 0; i < sizeof(b); i++)
        assert_int_equal(b[i], 0xee); /* it never ran */
    close(wfd0);
    close(wfd1);
    close((int)r0);
    close((int)r1);
    fifos_remove(&f);
    vl_engine_destroy(e);
    close(fd);
}

/*
 * Fault injection (builds with VLLSI_FAULT_INJECTION): a thread start that
 * fails (enomem makes it answer -EAGAIN, as at a process's thread limit)
 * while the only worker is stuck in a long call (an OPENAT of a FIFO no
 * one writes) leaves the new job queued, not failed; the polling thread
 * tries the start again before its waits, and once one succeeds the job
 * runs on the new thread while the FIFO's open still blocks. Its
 * completion is awaited for up to 10 s (no timing asserted: it comes at
 * once, or only after the FIFO's writer). Other builds skip.
 */
static void test_failed_thread_start_is_retried(void **state)
{
    (void)state;
    if (vl__fault_install(NULL) == -EOPNOTSUPP) {
        print_message("skipped: a build without VLLSI_FAULT_INJECTION\n");
        skip();
    }
    static struct vl__fault f;
    assert_int_equal(vl__fault_parse(&f, "seed=1,enomem=1000000"), 0);
    vl_engine *e = make(2, 64);
    struct vl__workers *w = pool_of(e);
    int fd = tmp_file(64);
    struct fifos ff;
    fifos_make(&ff);
    int64_t opener = submit(e, vl_op_openat(VL_AT_FDCWD, ff.path[0], O_RDONLY, 0));
    pump(e, 0);
    await_running(w, 1); /* the one thread started is in open(2) */
    assert_int_equal(vl__fault_install(&f), 0);
    uint8_t b[64];
    memset(b, 0xee, sizeof(b));
    int64_t rd = submit(e, vl_op_read(fd, b, 64, 0)); /* its thread start fails */
    pump(e, 0);                                       /* and again before this wait */
    assert_false(has_completed(rd));
    assert_int_equal(vl__workers_threads(w), 1);
    vl__fault_install(NULL);
    for (int64_t end = now_ns() + 10000000000; !has_completed(rd) && now_ns() < end;)
        pump(e, 100000000);
    assert_true(has_completed(rd)); /* else it waited behind the FIFO's open */
    assert_int_equal(result_of(e, rd), 64);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(b[i], pattern(i));
    assert_int_equal(vl__workers_threads(w), 2);
    int wfd = fifo_writer(ff.path[0]);
    int64_t r0 = result_of(e, opener);
    assert_true(r0 >= 0);
    close((int)r0);
    close(wfd);
    fifos_remove(&ff);
    vl_engine_destroy(e);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "kqueue") == 0)
        g_kind = VL_DRIVER_KQUEUE;
    else if (argc > 1 && strcmp(argv[1], "epoll") != 0) {
        fprintf(stderr, "usage: %s [epoll|kqueue]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lazy_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound_four, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_is_online_cpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_one_keeps_one_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multishot_never_on_a_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_four, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vectors_and_fsync_on_the_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued_and_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_flight_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_in_flight_four, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_racing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_cached_read_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_partly_cached_read_is_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_sync_and_direct_go_to_the_pool, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nowait_remembered_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_open_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_statx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nowait_eagain_goes_to_the_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_on_pool_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_waits_for_taken_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_spares_other_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_on_held_close_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_ops_on_held_close_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_newdirfd_cancels_queued_renameat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_newdirfd_waits_for_taken_renameat, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_waiting_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_worker_holds_up_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocked_job_strands_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_behind_blocked_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_thread_start_is_retried, setup, teardown),
    };
    return cmocka_run_group_tests_name(
        g_kind == VL_DRIVER_KQUEUE ? "workers.kqueue" : "workers.epoll", tests, NULL, NULL);
}
