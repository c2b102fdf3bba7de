/*
 * uv_server - the echo benchmark's libuv server (bench/echo): one thread, the
 * default loop, uv_tcp_t handles. libuv's fast path: uv_try_write first; only
 * what the socket does not take goes into a uv_write request (copied), and
 * reading stops until that write has completed.
 *
 *   uv_server [--port P] [--corrupt-after BYTES] [--stall-after BYTES]
 *
 * Reads use one shared 64 KiB buffer (the read callback consumes the bytes
 * before the next read). SIGINT/SIGTERM stop the loop.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <uv.h>

#include "common.h"

struct pending {
    uv_write_t req;
    unsigned char data[]; /* the unsent bytes */
};

static unsigned char g_buf[ECHO_READ_MAX];
static struct echo_opts g_opts;
static unsigned long long g_echoed;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init((char *)g_buf, sizeof g_buf);
}

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    uv_stream_t *s = req->handle;
    free(req);
    if (status < 0 || uv_read_start(s, on_alloc, on_read) < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_closed);
    }
}

/* Echo p[0..n): try_write, then a queued write of the rest with reading stopped. */
static int echo(uv_stream_t *s, const unsigned char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write(s, &b, 1);
    if (w < 0 && w != UV_EAGAIN)
        return w;
    size_t done = w > 0 ? (size_t)w : 0;
    if (done == n)
        return 0;
    struct pending *pd = malloc(sizeof *pd + (n - done));
    if (!pd)
        return UV_ENOMEM;
    memcpy(pd->data, p + done, n - done);
    b = uv_buf_init((char *)pd->data, (unsigned)(n - done));
    uv_read_stop(s);
    int rc = uv_write(&pd->req, s, &b, 1, on_written);
    if (rc < 0)
        free(pd);
    return rc;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n == 0)
        return; /* EAGAIN */
    size_t out = n > 0 ? echo_faults(&g_opts, &g_echoed, (unsigned char *)buf->base, (size_t)n) : 0;
    if (n < 0 || echo(s, (const unsigned char *)buf->base, out) < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_closed);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, c);
    if (uv_accept(server, (uv_stream_t *)c) < 0 || uv_tcp_nodelay(c, 1) < 0 ||
        uv_read_start((uv_stream_t *)c, on_alloc, on_read) < 0)
        uv_close((uv_handle_t *)c, on_closed);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

int main(int argc, char **argv)
{
    g_opts = echo_parse(argc, argv, "uv_server");
    echo_raise_nofile();
    uv_loop_t *loop = uv_default_loop();
    int lfd = echo_listen("uv_server", g_opts.port, 1);
    uv_tcp_t server;
    uv_signal_t sint, sterm;
    int rc = uv_tcp_init(loop, &server);
    if (rc == 0)
        rc = uv_tcp_open(&server, lfd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc < 0) {
        fprintf(stderr, "uv_server: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_signal_init(loop, &sint);
    uv_signal_init(loop, &sterm);
    uv_signal_start(&sint, on_signal, SIGINT);
    uv_signal_start(&sterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
