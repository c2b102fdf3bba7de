/* NOP throughput: the engine (epoll driver) vs plain epoll loops, and a 64 B
 * socketpair ping-pong. Figures in docs/engine.md. Build from the repo root:
 *   gcc -std=gnu17 -O2 -Iinclude docs/tools/engine_nop_vs_epoll.c build/libvllsi-engine.a \
 *       build/libvllsi-sys.a -luring -lpthread -o /tmp/nop_epoll && /tmp/nop_epoll
 */
#define _GNU_SOURCE
#include <vllsi/engine.h>
#include <vllsi/sys/time.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
static volatile uint64_t sink;

static double engine_nop(vl_driver_kind k, long n)
{
    vl_engine_config c = {k, 0, 256, 0, 0};
    vl_engine *e;
    assert(vl_engine_create(&c, &e) == 0);
    vl_op op = vl_op_nop();
    vl_completion out[BATCH];
    int64_t t0 = vl_time_monotonic_ns();
    for (long i = 0; i < n; i += BATCH) {
        for (int j = 0; j < BATCH; j++) {
            int64_t id = vl_engine_submit(e, &op, (void *)(intptr_t)j);
            assert(id > 0);
        }
        int got = 0;
        while (got < BATCH) {
            int m = vl_engine_poll(e, -1, out, BATCH);
            assert(m > 0);
            for (int j = 0; j < m; j++)
                sink += out[j].result + (uintptr_t)out[j].user_data;
            got += m;
        }
    }
    double ns = (double)(vl_time_monotonic_ns() - t0) / n;
    vl_engine_destroy(e);
    return ns;
}

/* Plain epoll loop: a batch of 32 NOP-like items is queued in an array, the
 * loop signals itself with one eventfd write, epoll_wait returns it, the
 * eventfd is read, and the 32 items are "completed" into an output array:
 * what a hand-written epoll loop needs to run deferred work through its
 * one kernel wait (3 syscalls per batch). */
struct item {
    uint64_t id;
    int64_t res;
    void *ud;
};
static double plain_epoll(long n)
{
    int ep = epoll_create1(0), ev = eventfd(0, EFD_NONBLOCK);
    struct epoll_event x = {.events = EPOLLIN, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &x);
    struct item q[BATCH], out[BATCH];
    struct epoll_event evs[64];
    int64_t t0 = vl_time_monotonic_ns();
    for (long i = 0; i < n; i += BATCH) {
        for (int j = 0; j < BATCH; j++)
            q[j] = (struct item){(uint64_t)(i + j), 0, (void *)(intptr_t)j};
        uint64_t one = 1;
        assert(write(ev, &one, 8) == 8);
        int m = epoll_wait(ep, evs, 64, -1);
        assert(m == 1);
        uint64_t v;
        assert(read(ev, &v, 8) == 8);
        for (int j = 0; j < BATCH; j++) {
            out[j] = q[j];
            sink += out[j].res + (uintptr_t)out[j].ud;
        }
    }
    double ns = (double)(vl_time_monotonic_ns() - t0) / n;
    close(ep);
    close(ev);
    return ns;
}

/* The same loop with only epoll_wait(timeout 0) per batch (1 syscall). */
static double plain_epoll_wait0(long n)
{
    int ep = epoll_create1(0);
    struct item q[BATCH], out[BATCH];
    struct epoll_event evs[64];
    int64_t t0 = vl_time_monotonic_ns();
    for (long i = 0; i < n; i += BATCH) {
        for (int j = 0; j < BATCH; j++)
            q[j] = (struct item){(uint64_t)(i + j), 0, (void *)(intptr_t)j};
        int m = epoll_wait(ep, evs, 64, 0);
        assert(m == 0);
        for (int j = 0; j < BATCH; j++) {
            out[j] = q[j];
            sink += out[j].res + (uintptr_t)out[j].ud;
        }
    }
    double ns = (double)(vl_time_monotonic_ns() - t0) / n;
    close(ep);
    return ns;
}

/* Echo ping-pong of 64 bytes over a socketpair: engine RECV/SEND vs a plain
 * non-blocking epoll loop (recv, EAGAIN -> epoll_wait, recv). One side is a
 * thread doing blocking recv/send. */
static int peer_fd;
static void *echo_peer(void *a)
{
    (void)a;
    char b[64];
    for (;;) {
        ssize_t r = recv(peer_fd, b, 64, MSG_WAITALL);
        if (r <= 0)
            return NULL;
        send(peer_fd, b, r, MSG_NOSIGNAL);
    }
}
#include <pthread.h>
static double engine_pingpong(vl_driver_kind k, long n)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    peer_fd = sv[1];
    pthread_t th;
    pthread_create(&th, NULL, echo_peer, NULL);
    vl_engine_config c = {k, 0, 256, 0, 0};
    vl_engine *e;
    assert(vl_engine_create(&c, &e) == 0);
    char b[64] = {0};
    vl_completion out[4];
    int64_t t0 = vl_time_monotonic_ns();
    for (long i = 0; i < n; i++) {
        vl_op s = vl_op_send(sv[0], b, 64, 0), r = vl_op_recv(sv[0], b, 64, MSG_WAITALL);
        vl_engine_submit(e, &s, NULL);
        vl_engine_submit(e, &r, NULL);
        int got = 0;
        while (got < 2) {
            int m = vl_engine_poll(e, -1, out, 4);
            assert(m >= 0);
            for (int j = 0; j < m; j++)
                assert(out[j].result == 64);
            got += m;
        }
    }
    double ns = (double)(vl_time_monotonic_ns() - t0) / n;
    vl_engine_destroy(e);
    shutdown(sv[0], SHUT_RDWR);
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
    return ns;
}
static double plain_pingpong(long n)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    peer_fd = sv[1];
    pthread_t th;
    pthread_create(&th, NULL, echo_peer, NULL);
    int ep = epoll_create1(0);
    struct epoll_event x = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 1};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &x);
    char b[64] = {0};
    struct epoll_event evs[4];
    int64_t t0 = vl_time_monotonic_ns();
    for (long i = 0; i < n; i++) {
        assert(send(sv[0], b, 64, MSG_DONTWAIT | MSG_NOSIGNAL) == 64);
        for (;;) {
            ssize_t r = recv(sv[0], b, 64, MSG_DONTWAIT | MSG_WAITALL);
            if (r == 64)
                break;
            assert(r < 0);
            epoll_ctl(ep, EPOLL_CTL_MOD, sv[0], &x);
            epoll_wait(ep, evs, 4, -1);
        }
    }
    double ns = (double)(vl_time_monotonic_ns() - t0) / n;
    close(ep);
    shutdown(sv[0], SHUT_RDWR);
    pthread_join(th, NULL);
    close(sv[0]);
    close(sv[1]);
    return ns;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 32000000;
    long pn = argc > 2 ? atol(argv[2]) : 200000;
    for (int rep = 0; rep < 3; rep++) {
        printf("NOP x%ld, batch %d: engine/epoll %.1f ns/op  engine/io_uring %.1f ns/op  plain "
               "eventfd+epoll_wait+read %.1f ns/op  plain epoll_wait(0) %.1f ns/op\n",
               n, BATCH, engine_nop(VL_DRIVER_EPOLL, n), engine_nop(VL_DRIVER_URING, n),
               plain_epoll(n), plain_epoll_wait0(n));
    }
    for (int rep = 0; rep < 2; rep++)
        printf("64B ping-pong x%ld: engine/epoll %.0f ns/rt  engine/io_uring %.0f ns/rt  plain "
               "epoll %.0f ns/rt\n",
               pn, engine_pingpong(VL_DRIVER_EPOLL, pn), engine_pingpong(VL_DRIVER_URING, pn),
               plain_pingpong(pn));
    return (int)(sink & 0);
}
