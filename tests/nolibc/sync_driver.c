/*
 * tests/nolibc/sync_driver.c - what the sync driver (src/drivers/sync.c)
 * does that the shared conformance suite cannot show, because those tests
 * keep an op waiting for the test thread's own later action: here the peer
 * is another thread, so a blocking op has someone to unblock it.
 *
 * Covered: blocking ops finish with the kernel's result once a peer acts
 * (pipe READ, non-blocking fds through EAGAIN, TCP CONNECT in progress and
 * ACCEPT); TIMEOUT never early; CANCEL answers (-ENOENT for what already
 * ran); multishot ops refused; idle poll timeouts, wakes from other threads
 * and signals during an idle poll; shutdown.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vllsi/engine.h>

#define MS 1000000ll

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static vl_engine *open_sync(void)
{
    vl_engine_config cfg = {VL_DRIVER_SYNC, 0, 16, 0, 0};
    vl_engine *e = NULL;
    assert_int_equal(vl_engine_create(&cfg, &e), 0);
    return e;
}

/* Submit op and poll until its completion comes back; its result. */
static int64_t run_op(vl_engine *e, vl_op op)
{
    int64_t id = vl_engine_submit(e, &op, (void *)0x5a);
    assert_true(id > 0);
    vl_completion c;
    int n;
    while ((n = vl_engine_poll(e, -1, &c, 1)) == 0)
        ;
    assert_int_equal(n, 1);
    assert_int_equal(c.id, (uint64_t)id);
    assert_ptr_equal(c.user_data, (void *)0x5a);
    return c.result;
}

/* A peer thread: after delay_ns, write len bytes of buf to fd. */
struct peer {
    int fd;
    const char *buf;
    size_t len;
    int64_t delay_ns;
};

static void *peer_main(void *p)
{
    struct peer *w = p;
    struct timespec ts = {0, (long)w->delay_ns};
    nanosleep(&ts, NULL);
    assert_int_equal(write(w->fd, w->buf, w->len), (ssize_t)w->len);
    return NULL;
}

static void driver_is_sync(void **state)
{
    (void)state;
    vl_engine *e = open_sync();
    assert_string_equal(vl_engine_driver_name(e), "sync");
    assert_int_equal(vl_engine_driver_kind(e), VL_DRIVER_SYNC);
    assert_int_equal(run_op(e, vl_op_nop()), 0);
    vl_engine_destroy(e);
}

/* Both a blocking and a non-blocking pipe: the READ blocks (in ppoll for
 * the non-blocking one) until the peer writes, then reports its bytes. */
static void read_blocks_until_peer_writes(void **state)
{
    (void)state;
    for (int nonblock = 0; nonblock < 2; nonblock++) {
        int p[2];
        char in[16] = {0};
        assert_int_equal(pipe2(p, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)), 0);
        vl_engine *e = open_sync();
        struct peer w = {p[1], "hello", 5, 30 * MS};
        pthread_t t;
        int64_t t0 = now_ns();
        assert_int_equal(pthread_create(&t, NULL, peer_main, &w), 0);
        assert_int_equal(run_op(e, vl_op_read(p[0], in, sizeof(in), -1)), 5);
        assert_true(now_ns() - t0 >= 30 * MS);
        assert_memory_equal(in, "hello", 5);
        assert_int_equal(pthread_join(t, NULL), 0);
        close(p[1]);
        assert_int_equal(run_op(e, vl_op_read(p[0], in, sizeof(in), -1)), 0); /* EOF */
        assert_int_equal(run_op(e, vl_op_read(p[0], in, sizeof(in), 0)), -ESPIPE);
        assert_int_equal(run_op(e, vl_op_close(p[0])), 0);
        assert_int_equal(run_op(e, vl_op_close(p[0])), -EBADF);
        vl_engine_destroy(e);
    }
}

static int tcp_listener(struct sockaddr_in *addr)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(*addr);
    assert_int_equal(bind(l, (struct sockaddr *)addr, len), 0);
    assert_int_equal(listen(l, 8), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)addr, &len), 0);
    return l;
}

/* A non-blocking CONNECT (EINPROGRESS, then SO_ERROR), an ACCEPT, a
 * SEND/RECV round trip, and a refused CONNECT. */
static void tcp_connect_accept_send_recv(void **state)
{
    (void)state;
    struct sockaddr_in addr, peer;
    socklen_t plen = sizeof(peer);
    int l = tcp_listener(&addr);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    vl_engine *e = open_sync();
    assert_int_equal(run_op(e, vl_op_connect(c, (struct sockaddr *)&addr, sizeof(addr))), 0);
    int64_t s = run_op(e, vl_op_accept(l, (struct sockaddr *)&peer, &plen));
    assert_true(s >= 0);
    assert_int_equal(plen, sizeof(peer));
    char buf[8];
    assert_int_equal(run_op(e, vl_op_send(c, "ping", 4, 0)), 4);
    assert_int_equal(run_op(e, vl_op_recv((int)s, buf, sizeof(buf), 0)), 4);
    assert_memory_equal(buf, "ping", 4);
    /* The peer goes away: RECV sees EOF, SEND -EPIPE without SIGPIPE. */
    assert_int_equal(run_op(e, vl_op_close((int)s)), 0);
    assert_int_equal(run_op(e, vl_op_recv(c, buf, sizeof(buf), 0)), 0);
    int64_t r = run_op(e, vl_op_send(c, "x", 1, 0));
    if (r == 1) /* the first send after the FIN may still be accepted */
        r = run_op(e, vl_op_send(c, "x", 1, 0));
    assert_true(r == -EPIPE || r == -ECONNRESET);
    close(c);
    close(l);
    /* Nobody listens on that port any more. */
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(run_op(e, vl_op_connect(c, (struct sockaddr *)&addr, sizeof(addr))),
                     -ECONNREFUSED);
    close(c);
    vl_engine_destroy(e);
}

static void timeout_never_early_and_cancel_finds_nothing(void **state)
{
    (void)state;
    vl_engine *e = open_sync();
    const int64_t ds[] = {0, 1 * MS, 15 * MS};
    for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
        int64_t t0 = now_ns();
        assert_int_equal(run_op(e, vl_op_timeout(ds[i])), 0);
        assert_true(now_ns() - t0 >= ds[i]);
    }
    /* Every op has run to completion by the time a CANCEL is looked at. */
    vl_op nop = vl_op_nop();
    int64_t id = vl_engine_submit(e, &nop, NULL);
    vl_op cancel = vl_op_cancel((uint64_t)id);
    int64_t cid = vl_engine_submit(e, &cancel, NULL);
    vl_completion c[2];
    assert_int_equal(vl_engine_poll(e, -1, c, 2), 2);
    assert_int_equal(c[0].id, (uint64_t)id);
    assert_int_equal(c[0].result, 0);
    assert_int_equal(c[1].id, (uint64_t)cid);
    assert_int_equal(c[1].result, -ENOENT);
    assert_int_equal(run_op(e, vl_op_cancel((uint64_t)id)), -ENOENT); /* stale id */
    assert_int_equal(run_op(e, vl_op_cancel(12345)), -ENOENT);
    vl_engine_destroy(e);
}

static void multishot_is_refused(void **state)
{
    (void)state;
    struct sockaddr_in addr;
    int l = tcp_listener(&addr);
    vl_engine *e = open_sync();
    assert_int_equal(run_op(e, vl_op_accept_multi(l)), -EOPNOTSUPP);
    close(l);
    vl_engine_destroy(e);
}

static void idle_poll_honours_its_timeout(void **state)
{
    (void)state;
    vl_engine *e = open_sync();
    vl_completion c;
    const int64_t ts[] = {0, 1 * MS, 20 * MS};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        int64_t t0 = now_ns();
        assert_int_equal(vl_engine_poll(e, ts[i], &c, 1), 0);
        assert_true(now_ns() - t0 >= ts[i]);
    }
    assert_int_equal(vl_engine_poll(e, 0, NULL, 1), -EINVAL);
    assert_int_equal(vl_engine_poll(e, 0, &c, 0), -EINVAL);
    vl_engine_destroy(e);
}

struct waker {
    vl_engine *e;
    int64_t delay_ns;
    int rc;
};

static void *waker_main(void *p)
{
    struct waker *w = p;
    struct timespec ts = {0, (long)w->delay_ns};
    nanosleep(&ts, NULL);
    w->rc = vl_engine_wake(w->e);
    return NULL;
}

static void wake_ends_an_idle_poll(void **state)
{
    (void)state;
    vl_engine *e = open_sync();
    vl_completion c;
    for (int round = 0; round < 5; round++) {
        struct waker w = {e, round * 5 * MS, -1};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, waker_main, &w), 0);
        int64_t t0 = now_ns();
        assert_int_equal(vl_engine_poll(e, -1, &c, 1), 0);
        assert_true(now_ns() - t0 < 2000 * MS);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(w.rc, 0);
    }
    /* A wake before the poll makes that poll return at once. */
    assert_int_equal(vl_engine_wake(e), 0);
    int64_t t0 = now_ns();
    assert_int_equal(vl_engine_poll(e, 5000 * MS, &c, 1), 0);
    assert_true(now_ns() - t0 < 1000 * MS);
    assert_int_equal(vl_engine_wake(NULL), -EINVAL);
    vl_engine_destroy(e);
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* A signal cuts the idle wait short: a count >= 0, never -EINTR. */
static void signal_during_idle_poll(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    vl_engine *e = open_sync();
    vl_completion c;
    timer_t tm;
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &tm), 0);
    struct itimerspec its = {{0, 0}, {0, 20 * MS}};
    assert_int_equal(timer_settime(tm, 0, &its, NULL), 0);
    int64_t t0 = now_ns();
    assert_true(vl_engine_poll(e, 300 * MS, &c, 1) >= 0);
    assert_true(now_ns() - t0 < 2000 * MS);
    timer_delete(tm);
    vl_engine_destroy(e);
    sigaction(SIGALRM, &old, NULL);
}

static void shutdown_refuses_new_work(void **state)
{
    (void)state;
    vl_engine *e = open_sync();
    vl_op nop = vl_op_nop();
    int64_t id = vl_engine_submit(e, &nop, NULL);
    assert_true(id > 0);
    vl_engine_shutdown(e);
    assert_int_equal(vl_engine_submit(e, &nop, NULL), -ESHUTDOWN);
    vl_completion c;
    /* The queued NOP never reached the driver: cancelled. */
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.result, -ECANCELED);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 0);
    vl_engine_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(driver_is_sync),
        cmocka_unit_test(read_blocks_until_peer_writes),
        cmocka_unit_test(tcp_connect_accept_send_recv),
        cmocka_unit_test(timeout_never_early_and_cancel_finds_nothing),
        cmocka_unit_test(multishot_is_refused),
        cmocka_unit_test(idle_poll_honours_its_timeout),
        cmocka_unit_test(wake_ends_an_idle_poll),
        cmocka_unit_test(signal_during_idle_poll),
        cmocka_unit_test(shutdown_refuses_new_work),
    };
    return cmocka_run_group_tests_name("engine.sync", tests, NULL, NULL);
}
