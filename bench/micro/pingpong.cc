/*
 * bench/micro/pingpong.cc - in-process ping-pong, libuv's
 * benchmark-ping-pongs shape: one thread, one loop, one connected pair of
 * sockets (a socketpair, or loopback TCP with TCP_NODELAY); the client end
 * sends a 64-byte ping, the server end reads it and writes it back, the
 * client reads the pong. One iteration = one round trip, driven by running
 * the loop once at a time until the pong is in.
 *
 * Each library does it its idiomatic way:
 *  - vllsi: the callback loop (<vllsi/loop.h>) with caller-owned op records,
 *    two ways: "vllsi" keeps a multishot RECV armed on each end (a buffer pool,
 *    the persistent read that libuv's uv_read_start and libev's ev_io are),
 *    the client sends each ping with a SEND; "vllsi_single" re-submits a
 *    single-shot RECV per message on each end (the server keeps one armed,
 *    the client submits its SEND and its RECV together);
 *  - libuv: uv_read_start on both ends, uv_try_write for the replies (what
 *    libuv's own benchmark does with uv_write; try_write skips a request);
 *  - libev: ev_io watchers on both ends, read/write system calls.
 * state.range(0): 0 = AF_UNIX socketpair, 1 = loopback TCP.
 */
#include <arpa/inet.h>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef VLLSI_BENCH_HAVE_LIBEV
#include <ev.h>
#endif
#ifdef VLLSI_BENCH_HAVE_LIBUV
#include <uv.h>
#endif

#include <vllsi/loop.h>

#include "micro.h"

namespace
{

constexpr size_t kMsg = 64;
/* Every end reads into a 4 KiB buffer (the multishot RECV pool's size), as a
 * server reads into a buffer larger than one message; libuv's own ping-pong
 * benchmark reads into 64 KiB. A read then comes back short, which tells a
 * stream's reader (libuv, the engine's epoll driver) that it took everything,
 * with no read that says EAGAIN. */
constexpr size_t kBuf = 4096;

/* A connected non-blocking pair: [0] client, [1] server. */
bool make_pair(bool tcp, int fds[2])
{
    if (!tcp) {
        return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0;
    }
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (l < 0 || bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 || listen(l, 1) != 0 ||
        getsockname(l, reinterpret_cast<sockaddr *>(&a), &len) != 0)
        return false;
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fds[0], reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0)
        return false;
    fds[1] = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    close(l);
    int one = 1;
    for (int i = 0; i < 2; i++) {
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return fds[1] >= 0;
}

/* ---- vllsi ------------------------------------------------------------------------ */

struct VlPingPong {
    vl_loop *loop = nullptr;
    int fds[2] = {-1, -1};
    char ping[kMsg], cbuf[kBuf], sbuf[kBuf];
    vl_loop_op c_send, c_recv, s_recv, s_send;
    size_t c_got = 0;
    bool done = false;
    bool failed = false;
};

void vl_c_recv_cb(vl_loop *loop, vl_loop_op *rec, int64_t res, uint32_t)
{
    auto *p = static_cast<VlPingPong *>(rec->ctx);
    if (res <= 0) {
        p->failed = true;
        return;
    }
    p->c_got += static_cast<size_t>(res);
    if (p->c_got < kMsg) { /* a short read: the rest of the pong */
        rec->op = vl_op_recv(p->fds[0], p->cbuf + p->c_got, kBuf - p->c_got, 0);
        vl_loop_submit(loop, rec);
        return;
    }
    p->done = true;
}

void vl_c_send_cb(vl_loop *, vl_loop_op *rec, int64_t res, uint32_t)
{
    if (res != static_cast<int64_t>(kMsg))
        static_cast<VlPingPong *>(rec->ctx)->failed = true;
}

void vl_s_send_cb(vl_loop *, vl_loop_op *rec, int64_t res, uint32_t)
{
    if (res <= 0)
        static_cast<VlPingPong *>(rec->ctx)->failed = true;
}

void vl_s_recv_cb(vl_loop *loop, vl_loop_op *rec, int64_t res, uint32_t)
{
    auto *p = static_cast<VlPingPong *>(rec->ctx);
    if (res <= 0) {
        p->failed = true;
        return;
    }
    /* Echo what came; one SEND at a time is enough for one ping in flight. */
    vl_loop_op_init(&p->s_send, vl_op_send(p->fds[1], p->sbuf, static_cast<size_t>(res), 0),
                    vl_s_send_cb, p);
    vl_loop_submit(loop, &p->s_send);
    vl_loop_submit(loop, rec); /* and read the next ping */
}

void pingpong_vllsi(benchmark::State &state, vl_driver_kind driver)
{
    VlPingPong p;
    vl_engine_config cfg = {driver, 0, 0, 0, 0};
    if (vl_loop_init(&p.loop, &cfg) != 0 || !make_pair(state.range(0) != 0, p.fds)) {
        state.SkipWithError("setup failed");
        return;
    }
    memset(p.ping, 'p', sizeof(p.ping));
    vl_loop_op_init(&p.s_recv, vl_op_recv(p.fds[1], p.sbuf, kBuf, 0), vl_s_recv_cb, &p);
    vl_loop_submit(p.loop, &p.s_recv);
    for (auto _ : state) {
        p.done = false;
        p.c_got = 0;
        vl_loop_op_init(&p.c_send, vl_op_send(p.fds[0], p.ping, kMsg, 0), vl_c_send_cb, &p);
        vl_loop_op_init(&p.c_recv, vl_op_recv(p.fds[0], p.cbuf, kBuf, 0), vl_c_recv_cb, &p);
        vl_loop_submit(p.loop, &p.c_send);
        vl_loop_submit(p.loop, &p.c_recv);
        while (!p.done && !p.failed)
            vl_loop_run(p.loop, VL_RUN_ONCE);
        if (p.failed) {
            state.SkipWithError("ping-pong failed");
            break;
        }
    }
    vl_loop_destroy(p.loop); /* cancels the armed server RECV */
    close(p.fds[0]);
    close(p.fds[1]);
}

/* The multishot way: a multishot RECV on each end for the whole run. */
struct VlMulti {
    vl_loop *loop = nullptr;
    vl_bufpool *pool = nullptr;
    int fds[2] = {-1, -1};
    char ping[kMsg], sbuf[kBuf];
    vl_loop_op c_send, c_recv, s_recv, s_send;
    size_t c_got = 0;
    bool done = false, failed = false;
};

/* A multishot RECV completion: the bytes, with the buffer released; -1 when the
 * op ended (an error, EOF or a drained pool: the run fails). */
int64_t vl_multi_take(VlMulti *p, int64_t res, uint32_t flags, char *copy_to)
{
    if (res <= 0 || !(flags & VL_CQE_MORE) || !(flags & VL_CQE_BUFFER)) {
        p->failed = true;
        return -1;
    }
    uint32_t bid = vl_cqe_buffer(flags);
    if (copy_to != nullptr)
        memcpy(copy_to, vl_bufpool_buf(p->pool, bid), static_cast<size_t>(res));
    vl_bufpool_release(p->pool, bid);
    return res;
}

void vl_m_c_recv_cb(vl_loop *, vl_loop_op *rec, int64_t res, uint32_t flags)
{
    auto *p = static_cast<VlMulti *>(rec->ctx);
    if (vl_multi_take(p, res, flags, nullptr) < 0)
        return;
    p->c_got += static_cast<size_t>(res);
    p->done = p->c_got >= kMsg;
}

void vl_m_send_cb(vl_loop *, vl_loop_op *rec, int64_t res, uint32_t)
{
    if (res <= 0)
        static_cast<VlMulti *>(rec->ctx)->failed = true;
}

void vl_m_s_recv_cb(vl_loop *loop, vl_loop_op *rec, int64_t res, uint32_t flags)
{
    auto *p = static_cast<VlMulti *>(rec->ctx);
    if (vl_multi_take(p, res, flags, p->sbuf) < 0)
        return;
    /* One ping is in flight, so one SEND at a time suffices. */
    vl_loop_op_init(&p->s_send, vl_op_send(p->fds[1], p->sbuf, static_cast<size_t>(res), 0),
                    vl_m_send_cb, p);
    vl_loop_submit(loop, &p->s_send);
}

void pingpong_vllsi_multi(benchmark::State &state, vl_driver_kind driver)
{
    VlMulti p;
    vl_engine_config cfg = {driver, 0, 0, 0, 0};
    if (vl_loop_init(&p.loop, &cfg) != 0 || !make_pair(state.range(0) != 0, p.fds) ||
        vl_bufpool_create(vl_loop_engine(p.loop), 16, 4096, &p.pool) != 0) {
        state.SkipWithError("setup failed");
        return;
    }
    memset(p.ping, 'p', sizeof(p.ping));
    vl_loop_op_init(&p.s_recv, vl_op_recv_multi(p.fds[1], p.pool, 0), vl_m_s_recv_cb, &p);
    vl_loop_op_init(&p.c_recv, vl_op_recv_multi(p.fds[0], p.pool, 0), vl_m_c_recv_cb, &p);
    vl_loop_submit(p.loop, &p.s_recv);
    vl_loop_submit(p.loop, &p.c_recv);
    for (auto _ : state) {
        p.done = false;
        p.c_got = 0;
        vl_loop_op_init(&p.c_send, vl_op_send(p.fds[0], p.ping, kMsg, 0), vl_m_send_cb, &p);
        vl_loop_submit(p.loop, &p.c_send);
        while (!p.done && !p.failed)
            vl_loop_run(p.loop, VL_RUN_ONCE);
        if (p.failed) {
            state.SkipWithError("ping-pong failed");
            break;
        }
    }
    vl_loop_destroy(p.loop); /* cancels both multishot RECVs, then frees the pool */
    close(p.fds[0]);
    close(p.fds[1]);
}

} // namespace

namespace vb
{

void pingpong_vllsi_multi_auto(benchmark::State &state)
{
    pingpong_vllsi_multi(state, VL_DRIVER_AUTO);
}

void pingpong_vllsi_multi_epoll(benchmark::State &state)
{
    pingpong_vllsi_multi(state, VL_DRIVER_EPOLL);
}

void pingpong_vllsi_auto(benchmark::State &state)
{
    pingpong_vllsi(state, VL_DRIVER_AUTO);
}

void pingpong_vllsi_epoll(benchmark::State &state)
{
    pingpong_vllsi(state, VL_DRIVER_EPOLL);
}

} // namespace vb

/* ---- libuv ------------------------------------------------------------------------ */

#ifdef VLLSI_BENCH_HAVE_LIBUV
namespace
{

struct UvPingPong {
    uv_loop_t loop;
    uv_tcp_t tcp[2];
    uv_pipe_t pipe[2];
    uv_stream_t *s[2];
    char ping[kMsg], cbuf[kBuf], sbuf[kBuf];
    size_t c_got = 0;
    bool done = false, failed = false;
};

void uv_alloc_c(uv_handle_t *h, size_t, uv_buf_t *buf)
{
    /* A whole buffer every time: libuv reads until EAGAIN, and a zero-length
     * buffer would make it report UV_ENOBUFS. One ping is in flight, so the
     * bytes only need counting. */
    auto *p = static_cast<UvPingPong *>(h->data);
    *buf = uv_buf_init(p->cbuf, kBuf);
}

void uv_alloc_s(uv_handle_t *h, size_t, uv_buf_t *buf)
{
    auto *p = static_cast<UvPingPong *>(h->data);
    *buf = uv_buf_init(p->sbuf, kBuf);
}

void uv_read_c(uv_stream_t *s, ssize_t n, const uv_buf_t *)
{
    auto *p = static_cast<UvPingPong *>(s->data);
    if (n < 0) {
        p->failed = true;
        return;
    }
    p->c_got += static_cast<size_t>(n);
    if (p->c_got == kMsg)
        p->done = true;
}

void uv_read_s(uv_stream_t *s, ssize_t n, const uv_buf_t *)
{
    auto *p = static_cast<UvPingPong *>(s->data);
    if (n < 0) {
        p->failed = true;
        return;
    }
    uv_buf_t b = uv_buf_init(p->sbuf, static_cast<unsigned>(n));
    if (uv_try_write(s, &b, 1) != n)
        p->failed = true;
}

} // namespace

namespace vb
{

void pingpong_libuv(benchmark::State &state)
{
    UvPingPong p;
    int fds[2];
    bool tcp = state.range(0) != 0;
    if (uv_loop_init(&p.loop) != 0 || !make_pair(tcp, fds)) {
        state.SkipWithError("setup failed");
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (tcp) {
            uv_tcp_init(&p.loop, &p.tcp[i]);
            uv_tcp_open(&p.tcp[i], fds[i]);
            p.s[i] = reinterpret_cast<uv_stream_t *>(&p.tcp[i]);
        } else {
            uv_pipe_init(&p.loop, &p.pipe[i], 0);
            uv_pipe_open(&p.pipe[i], fds[i]);
            p.s[i] = reinterpret_cast<uv_stream_t *>(&p.pipe[i]);
        }
        p.s[i]->data = &p;
    }
    memset(p.ping, 'p', sizeof(p.ping));
    uv_read_start(p.s[0], uv_alloc_c, uv_read_c);
    uv_read_start(p.s[1], uv_alloc_s, uv_read_s);
    for (auto _ : state) {
        p.done = false;
        p.c_got = 0;
        uv_buf_t b = uv_buf_init(p.ping, kMsg);
        if (uv_try_write(p.s[0], &b, 1) != static_cast<int>(kMsg))
            p.failed = true;
        while (!p.done && !p.failed)
            uv_run(&p.loop, UV_RUN_ONCE);
        if (p.failed) {
            state.SkipWithError("ping-pong failed");
            break;
        }
    }
    for (int i = 0; i < 2; i++)
        uv_close(reinterpret_cast<uv_handle_t *>(p.s[i]), nullptr);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
}

} // namespace vb
#endif

/* ---- libev ------------------------------------------------------------------------ */

#ifdef VLLSI_BENCH_HAVE_LIBEV
namespace
{

struct EvPingPong {
    struct ev_loop *loop;
    ev_io c_io, s_io;
    int fds[2];
    char ping[kMsg], cbuf[kBuf], sbuf[kBuf];
    size_t c_got = 0;
    bool done = false, failed = false;
};

void ev_c_cb(struct ev_loop *, ev_io *w, int)
{
    auto *p = static_cast<EvPingPong *>(w->data);
    ssize_t n = read(p->fds[0], p->cbuf + p->c_got, kBuf - p->c_got);
    if (n <= 0) {
        p->failed = n == 0;
        return; /* EAGAIN: a spurious wakeup */
    }
    p->c_got += static_cast<size_t>(n);
    if (p->c_got == kMsg)
        p->done = true;
}

void ev_s_cb(struct ev_loop *, ev_io *w, int)
{
    auto *p = static_cast<EvPingPong *>(w->data);
    ssize_t n = read(p->fds[1], p->sbuf, kBuf);
    if (n <= 0) {
        p->failed = n == 0;
        return;
    }
    if (write(p->fds[1], p->sbuf, static_cast<size_t>(n)) != n)
        p->failed = true;
}

} // namespace

namespace vb
{

void pingpong_libev(benchmark::State &state)
{
    EvPingPong p;
    p.loop = ev_loop_new(EVFLAG_AUTO);
    if (p.loop == nullptr || !make_pair(state.range(0) != 0, p.fds)) {
        state.SkipWithError("setup failed");
        return;
    }
    memset(p.ping, 'p', sizeof(p.ping));
    ev_io_init(&p.c_io, ev_c_cb, p.fds[0], EV_READ);
    ev_io_init(&p.s_io, ev_s_cb, p.fds[1], EV_READ);
    p.c_io.data = p.s_io.data = &p;
    ev_io_start(p.loop, &p.c_io);
    ev_io_start(p.loop, &p.s_io);
    for (auto _ : state) {
        p.done = false;
        p.c_got = 0;
        if (write(p.fds[0], p.ping, kMsg) != static_cast<ssize_t>(kMsg))
            p.failed = true;
        while (!p.done && !p.failed)
            ev_run(p.loop, EVRUN_ONCE);
        if (p.failed) {
            state.SkipWithError("ping-pong failed");
            break;
        }
    }
    ev_io_stop(p.loop, &p.c_io);
    ev_io_stop(p.loop, &p.s_io);
    ev_loop_destroy(p.loop);
    close(p.fds[0]);
    close(p.fds[1]);
}

} // namespace vb
#endif
