/*
 * faults.<driver>: what the engine does when the kernel interface misbehaves,
 * through the seeded injector of src/engine/fault.h (built only with
 * -DVLLSI_FAULT_INJECTION=ON; scripts/ci/faults.sh also runs the conformance,
 * bufpool and loop suites under injected EAGAIN/EINTR/EBUSY/SQ-full).
 *
 *  - ENOMEM at create is reported as -ENOMEM, for an explicit driver and for
 *    AUTO (a resource error is not "io_uring unavailable": no fallback).
 *  - ENOMEM at buffer-pool registration is reported; the engine goes on.
 *  - A worker thread that cannot start (epoll, kqueue): the file op that
 *    needed it completes with -EAGAIN; the next one starts a thread.
 *  - Short transfers: every byte still arrives once and in order.
 *  - EAGAIN/EINTR/EBUSY/SQ-full at high rates: results are unchanged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vl_test.h"
#include "conformance_util.h"
#include "fault.h"
#include <vllsi/engine.h>
#include <vllsi/sys/time.h>

static struct ct_suite S;
static struct vl__fault F;

#define WATCH(secs) ct_watch(__func__, secs)

static int setup(void **state)
{
    (void)state;
    vl__fault_init(&F, S.seed);
    assert_int_equal(vl__fault_install(&F), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vl__fault_install(NULL);
    alarm(0);
    return 0;
}

static vl_engine *engine_or_skip(void)
{
    vl_engine_config cfg = {S.kind, 0, 0, 0, 0};
    vl_engine *e = NULL;
    int rc = vl_engine_create(&cfg, &e);
    if (rc == -ENOSYS || rc == -EPERM || rc == -EOPNOTSUPP) {
        print_message("skipped: driver %s unavailable: %d\n", S.drv, rc);
        skip();
    }
    assert_int_equal(rc, 0);
    return e;
}

static void enomem_at_create_is_reported(void **state)
{
    (void)state;
    WATCH(10);
    F.ppm[VL__FAULT_ENOMEM] = VL__FAULT_PPM;
    vl_engine *e = NULL;
    vl_engine_config cfg = {S.kind, 0, 0, 0, 0};
    assert_int_equal(vl_engine_create(&cfg, &e), -ENOMEM);
    assert_null(e);
    cfg.driver = VL_DRIVER_AUTO;
    assert_int_equal(vl_engine_create(&cfg, &e), -ENOMEM);
    assert_null(e);
    assert_true(F.hits[VL__FAULT_ENOMEM] >= 2);
    /* With the fault gone, creation works again: nothing was left behind. */
    F.ppm[VL__FAULT_ENOMEM] = 0;
    e = engine_or_skip();
    vl_engine_destroy(e);
}

/* The readiness drivers' worker pool cannot start its first thread: the
 * file op that needed it completes with the error (-EAGAIN, what
 * pthread_create says at the thread limit), nothing hangs, and the next
 * op starts a thread and runs. */
static void worker_start_failure_fails_the_op(void **state)
{
    (void)state;
    WATCH(10);
    if (S.kind != VL_DRIVER_EPOLL && S.kind != VL_DRIVER_KQUEUE) {
        print_message("skipped: only the readiness drivers have a worker pool\n");
        skip();
    }
    vl_engine *e = engine_or_skip();
    char path[] = "/tmp/vllsi-faults-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(pwrite(fd, "abcd", 4, 0), 4);
    char buf[4];
    /* The file is cached: the polling thread's RWF_NOWAIT attempt would
     * read it. An injected EAGAIN there sends both reads to the pool. */
    F.ppm[VL__FAULT_EAGAIN] = VL__FAULT_PPM;
    F.ppm[VL__FAULT_ENOMEM] = VL__FAULT_PPM;
    vl_op rd = vl_op_read(fd, buf, 4, 0);
    int64_t id = vl_engine_submit(e, &rd, NULL);
    assert_true(id > 0);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, -EAGAIN);
    assert_true(F.hits[VL__FAULT_ENOMEM] >= 1);
    F.ppm[VL__FAULT_ENOMEM] = 0;
    id = vl_engine_submit(e, &rd, NULL);
    assert_true(id > 0);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, 4);
    assert_memory_equal(buf, "abcd", 4);
    F.ppm[VL__FAULT_EAGAIN] = 0;
    vl_engine_destroy(e);
    close(fd);
}

static void enomem_at_pool_registration(void **state)
{
    (void)state;
    WATCH(10);
    vl_engine *e = engine_or_skip();
    F.ppm[VL__FAULT_ENOMEM] = VL__FAULT_PPM;
    vl_bufpool *p = NULL;
    assert_int_equal(vl_bufpool_create(e, 16, 256, &p), -ENOMEM);
    assert_null(p);
    F.ppm[VL__FAULT_ENOMEM] = 0;
    /* The engine is intact: a pool and an op work. */
    assert_int_equal(vl_bufpool_create(e, 16, 256, &p), 0);
    vl_op nop = vl_op_nop();
    assert_true(vl_engine_submit(e, &nop, NULL) > 0);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.result, 0);
    vl_engine_destroy(e);
}

/* No memory for the registered-file table at the first register: -ENOMEM
 * on io_uring (the other drivers keep no table and answer 0), nothing
 * half made, ops on the fd work, and the next register makes the table. */
static void enomem_at_fd_register(void **state)
{
    (void)state;
    WATCH(10);
    vl_engine *e = engine_or_skip();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    F.ppm[VL__FAULT_ENOMEM] = VL__FAULT_PPM;
    int rc = vl_engine_fd_register(e, sv[0]);
    F.ppm[VL__FAULT_ENOMEM] = 0;
    assert_int_equal(rc, S.kind == VL_DRIVER_URING ? -ENOMEM : 0);
    vl_op op = vl_op_send(sv[0], "x", 1, 0);
    assert_true(vl_engine_submit(e, &op, NULL) > 0);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.result, 1);
    char b;
    assert_int_equal(recv(sv[1], &b, 1, 0), 1);
    if (S.kind == VL_DRIVER_URING) {
        rc = vl_engine_fd_register(e, sv[0]);
        assert_true(rc == 0 || rc == -EOPNOTSUPP); /* before 5.19: no sparse table */
        assert_int_equal(vl_engine_fd_unregister(e, sv[0]), rc == 0 ? 0 : -ENOENT);
    }
    vl_engine_destroy(e);
    close(sv[0]);
    close(sv[1]);
}

/* Short transfers, EAGAIN and SQ-full together: a 256 KiB stream through
 * SEND/RECV arrives whole and in order, whatever the cuts. */
static void short_transfers_lose_nothing(void **state)
{
    (void)state;
    WATCH(60);
    vl_engine *e = engine_or_skip();
    F.ppm[VL__FAULT_SHORT] = 300000;
    F.ppm[VL__FAULT_EAGAIN] = 200000;
    F.ppm[VL__FAULT_SQ_FULL] = 100000;
    F.ppm[VL__FAULT_EINTR] = 50000;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    enum { TOTAL = 256 * 1024 };
    uint8_t *src = malloc(TOTAL), *dst = malloc(TOTAL);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < TOTAL; i++)
        src[i] = (uint8_t)(i * 131 + (i >> 9));
    size_t sent = 0, got = 0;
    int64_t sid = 0, rid = 0;
    int shorts = 0;
    while (got < TOTAL) {
        if (sid == 0 && sent < TOTAL) {
            size_t n = TOTAL - sent < 8192 ? TOTAL - sent : 8192;
            vl_op op = vl_op_send(sv[0], src + sent, n, 0);
            sid = vl_engine_submit(e, &op, (void *)1);
            assert_true(sid > 0);
        }
        if (rid == 0) {
            vl_op op = vl_op_recv(sv[1], dst + got, TOTAL - got < 8192 ? TOTAL - got : 8192, 0);
            rid = vl_engine_submit(e, &op, (void *)2);
            assert_true(rid > 0);
        }
        vl_completion c[4];
        int n = vl_engine_poll(e, 100 * VL_NS_PER_MS, c, 4);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            assert_true(c[i].result > 0);
            if (c[i].user_data == (void *)1) {
                shorts += c[i].result < 8192 && sent + 8192 <= TOTAL;
                sent += (size_t)c[i].result;
                sid = 0;
            } else {
                got += (size_t)c[i].result;
                rid = 0;
            }
        }
    }
    assert_int_equal(sent, TOTAL);
    assert_memory_equal(src, dst, TOTAL);
    print_message(
        "short sends %d; hits: short %llu eagain %llu sqfull %llu eintr %llu\n", shorts,
        (unsigned long long)F.hits[VL__FAULT_SHORT], (unsigned long long)F.hits[VL__FAULT_EAGAIN],
        (unsigned long long)F.hits[VL__FAULT_SQ_FULL], (unsigned long long)F.hits[VL__FAULT_EINTR]);
    assert_true(F.hits[VL__FAULT_SHORT] > 0);
    assert_true(shorts > 0);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
    close(sv[0]);
    close(sv[1]);
    free(src);
    free(dst);
}

int main(int argc, char **argv)
{
    if (ct_suite_init(&S, "faults", argc, argv) != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(enomem_at_create_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(enomem_at_pool_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(enomem_at_fd_register, setup, teardown),
        cmocka_unit_test_setup_teardown(worker_start_failure_fails_the_op, setup, teardown),
        cmocka_unit_test_setup_teardown(short_transfers_lose_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
