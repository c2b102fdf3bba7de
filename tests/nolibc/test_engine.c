/*
 * tests/nolibc/test_engine.c - the IOEngine in a program with no libc
 * (ctest nolibc.nl_engine): vllsi_engine_nolibc (the engine core, the
 * reactor, the epoll and sync drivers and the callback loop over raw system
 * calls) on the nolibc start code. AUTO must fall back to epoll and say why;
 * NOP, pipe READ/WRITE, socket SEND/RECV parked until data comes, TIMEOUT,
 * CANCEL, a buffer pool with multishot RECV, the sync driver, and a loop timer
 * must all behave as in the hosted build. Reports through raw write.
 */
#include <errno.h>
#include <stdint.h>

#include <vllsi/engine.h>
#include <vllsi/loop.h>
#include <vllsi/sys/linux.h>
#include <vllsi/sys/time.h>

#include "nl_test.h"

#define NL_AF_UNIX      1
#define NL_SOCK_STREAM  1
#define NL_SOCK_CLOEXEC 02000000
#define NL_O_CLOEXEC    02000000

static vl_engine *open_engine(vl_driver_kind kind)
{
    vl_engine_config cfg = {kind, 0, 64, 0, 0};
    vl_engine *e = NULL;
    NL_CHECK_EQ(vl_engine_create(&cfg, &e), 0);
    return e;
}

/* Submit op, poll until its completion comes (at most ~2 s), return its result. */
static int64_t run(vl_engine *e, vl_op op)
{
    int64_t id = vl_engine_submit(e, &op, NULL);
    NL_CHECK(id > 0);
    if (id <= 0)
        return id;
    vl_completion c;
    for (int i = 0; i < 200; i++) {
        int n = vl_engine_poll(e, 10 * VL_NS_PER_MS, &c, 1);
        if (n == 1) {
            NL_CHECK_EQ(c.id, id);
            return c.result;
        }
    }
    NL_CHECK(!"no completion within 2 s");
    return -1000;
}

static int contains(const char *s, const char *part)
{
    for (; *s != '\0'; s++) {
        const char *a = s, *b = part;
        while (*b != '\0' && *a == *b)
            a++, b++;
        if (*b == '\0')
            return 1;
    }
    return 0;
}

static void auto_falls_back_to_epoll(void)
{
    vl_engine *e = open_engine(VL_DRIVER_AUTO);
    if (e == NULL)
        return;
    NL_CHECK_EQ(vl_engine_driver_kind(e), VL_DRIVER_EPOLL);
    NL_CHECK(contains(vl_engine_driver_reason(e), "libc-free"));
    NL_CHECK_EQ(run(e, vl_op_nop()), 0);
    vl_engine_destroy(e);
    vl_engine_config cfg = {VL_DRIVER_URING, 0, 0, 0, 0};
    NL_CHECK_EQ(vl_engine_create(&cfg, &e), -ENOSYS);
}

static void pipe_and_socket_io(void)
{
    vl_engine *e = open_engine(VL_DRIVER_EPOLL);
    if (e == NULL)
        return;
    int p[2], sv[2];
    NL_CHECK_EQ(vl_syscall_raw(__NR_pipe2, (long)p, NL_O_CLOEXEC, 0, 0, 0, 0), 0);
    NL_CHECK_EQ(run(e, vl_op_write(p[1], "ping", 4, -1)), 4);
    char in[8] = {0};
    NL_CHECK_EQ(run(e, vl_op_read(p[0], in, sizeof(in), -1)), 4);
    NL_CHECK(in[0] == 'p' && in[3] == 'g');

    NL_CHECK_EQ(vl_syscall_raw(__NR_socketpair, NL_AF_UNIX, NL_SOCK_STREAM | NL_SOCK_CLOEXEC, 0,
                               (long)sv, 0, 0),
                0);
    /* A RECV with nothing to read parks; a SEND from the other end wakes it. */
    char buf[16] = {0};
    vl_op rv = vl_op_recv(sv[0], buf, sizeof(buf), 0);
    int64_t rid = vl_engine_submit(e, &rv, NULL);
    NL_CHECK(rid > 0);
    vl_completion c;
    NL_CHECK_EQ(vl_engine_poll(e, 20 * VL_NS_PER_MS, &c, 1), 0);
    NL_CHECK_EQ(run(e, vl_op_send(sv[1], "hello", 5, 0)), 5);
    int got = 0;
    for (int i = 0; i < 100 && !got; i++)
        got = vl_engine_poll(e, 10 * VL_NS_PER_MS, &c, 1);
    NL_CHECK_EQ(got, 1);
    NL_CHECK_EQ(c.id, rid);
    NL_CHECK_EQ(c.result, 5);
    NL_CHECK(buf[0] == 'h' && buf[4] == 'o');

    /* SENDV (sendmsg from raw system calls): two buffers, one send. */
    vl_iovec iov[2] = {{"wor", 3}, {"ld", 2}};
    NL_CHECK_EQ(run(e, vl_op_sendv(sv[1], iov, 2, 0)), 5);
    NL_CHECK_EQ(run(e, vl_op_recv(sv[0], buf, sizeof(buf), 0)), 5);
    NL_CHECK(buf[0] == 'w' && buf[2] == 'r' && buf[3] == 'l' && buf[4] == 'd');

    /* CANCEL of a parked RECV: the RECV ends with -ECANCELED, the CANCEL with 0. */
    rid = vl_engine_submit(e, &rv, NULL);
    vl_op cancel = vl_op_cancel((uint64_t)rid);
    int64_t cid = vl_engine_submit(e, &cancel, NULL);
    int seen = 0;
    for (int i = 0; i < 100 && seen < 2; i++) {
        if (vl_engine_poll(e, 10 * VL_NS_PER_MS, &c, 1) == 1) {
            seen++;
            NL_CHECK_EQ(c.result, c.id == (uint64_t)rid ? -ECANCELED : 0);
            NL_CHECK(c.id == (uint64_t)rid || c.id == (uint64_t)cid);
        }
    }
    NL_CHECK_EQ(seen, 2);
    NL_CHECK_EQ(vl_engine_inflight(e), 0);
    for (int i = 0; i < 2; i++) {
        vl_syscall_raw(__NR_close, p[i], 0, 0, 0, 0, 0);
        vl_syscall_raw(__NR_close, sv[i], 0, 0, 0, 0, 0);
    }
    vl_engine_destroy(e);
}

static void timeout_never_early(void)
{
    vl_engine *e = open_engine(VL_DRIVER_EPOLL);
    if (e == NULL)
        return;
    int64_t t0 = vl_time_monotonic_ns();
    NL_CHECK_EQ(run(e, vl_op_timeout(5 * VL_NS_PER_MS)), 0);
    NL_CHECK(vl_time_monotonic_ns() - t0 >= 5 * VL_NS_PER_MS);
    vl_engine_destroy(e);
}

static void pool_and_recv_multi(void)
{
    vl_engine *e = open_engine(VL_DRIVER_EPOLL);
    if (e == NULL)
        return;
    vl_bufpool *pool = NULL;
    NL_CHECK_EQ(vl_bufpool_create(e, 4, 8, &pool), 0);
    int sv[2];
    NL_CHECK_EQ(vl_syscall_raw(__NR_socketpair, NL_AF_UNIX, NL_SOCK_STREAM | NL_SOCK_CLOEXEC, 0,
                               (long)sv, 0, 0),
                0);
    vl_op op = vl_op_recv_multi(sv[0], pool, 0);
    int64_t id = vl_engine_submit(e, &op, NULL);
    NL_CHECK(id > 0);
    NL_CHECK_EQ(vl_syscall_raw(__NR_write, sv[1], (long)"0123456789ab", 12, 0, 0, 0), 12);
    int64_t total = 0;
    vl_completion c;
    for (int i = 0; i < 100 && total < 12; i++) {
        if (vl_engine_poll(e, 10 * VL_NS_PER_MS, &c, 1) != 1)
            continue;
        NL_CHECK(c.flags & VL_CQE_MORE);
        NL_CHECK(c.flags & VL_CQE_BUFFER);
        const char *b = vl_bufpool_buf(pool, vl_cqe_buffer(c.flags));
        NL_CHECK(b != NULL && b[0] == "0123456789ab"[total]);
        total += c.result;
        NL_CHECK_EQ(vl_bufpool_release(pool, vl_cqe_buffer(c.flags)), 0);
    }
    NL_CHECK_EQ(total, 12);
    vl_syscall_raw(__NR_close, sv[1], 0, 0, 0, 0, 0); /* EOF ends the op */
    int final = 0;
    for (int i = 0; i < 100 && !final; i++)
        if (vl_engine_poll(e, 10 * VL_NS_PER_MS, &c, 1) == 1)
            final = !(c.flags & VL_CQE_MORE);
    NL_CHECK(final);
    NL_CHECK_EQ(c.result, 0);
    NL_CHECK_EQ(vl_bufpool_available(pool), 4);
    vl_syscall_raw(__NR_close, sv[0], 0, 0, 0, 0, 0);
    vl_engine_destroy(e);
}

static void sync_driver(void)
{
    vl_engine *e = open_engine(VL_DRIVER_SYNC);
    if (e == NULL)
        return;
    NL_CHECK_EQ(run(e, vl_op_nop()), 0);
    int p[2];
    NL_CHECK_EQ(vl_syscall_raw(__NR_pipe2, (long)p, NL_O_CLOEXEC, 0, 0, 0, 0), 0);
    NL_CHECK_EQ(run(e, vl_op_write(p[1], "sync", 4, -1)), 4);
    char in[4];
    NL_CHECK_EQ(run(e, vl_op_read(p[0], in, sizeof(in), -1)), 4);
    vl_syscall_raw(__NR_close, p[0], 0, 0, 0, 0, 0);
    vl_syscall_raw(__NR_close, p[1], 0, 0, 0, 0, 0);
    vl_engine_destroy(e);
}

static int g_fired;

static void on_timer(vl_loop *loop, vl_timer *t)
{
    (void)t;
    g_fired++;
    vl_loop_stop(loop);
}

static void loop_timer(void)
{
    vl_loop *loop = NULL;
    vl_engine_config cfg = {VL_DRIVER_EPOLL, 0, 0, 0, 0};
    NL_CHECK_EQ(vl_loop_init(&loop, &cfg), 0);
    if (loop == NULL)
        return;
    vl_timer t;
    vl_timer_init(&t, on_timer, NULL);
    int64_t t0 = vl_time_monotonic_ns();
    NL_CHECK_EQ(vl_timer_start(loop, &t, 3 * VL_NS_PER_MS, 0), 0);
    NL_CHECK(vl_loop_run(loop, VL_RUN_DEFAULT) >= 1);
    NL_CHECK_EQ(g_fired, 1);
    NL_CHECK(vl_time_monotonic_ns() - t0 >= 3 * VL_NS_PER_MS);
    vl_loop_destroy(loop);
}

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    NL_RUN(auto_falls_back_to_epoll);
    NL_RUN(pipe_and_socket_io);
    NL_RUN(timeout_never_early);
    NL_RUN(pool_and_recv_multi);
    NL_RUN(sync_driver);
    NL_RUN(loop_timer);
    return nl_finish("engine");
}
