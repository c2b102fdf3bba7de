/*
 * uv_udp_server - the UDP echo benchmark's libuv peer (bench/udp): one
 * thread, the default loop, one uv_udp_t opened with UV_UDP_RECVMMSG (libuv
 * reads batches with recvmmsg into the buffer the allocation callback gives,
 * cut in 64 KiB chunks, and calls back once per datagram). Each datagram is
 * sent back with uv_udp_try_send straight from its chunk; only when that
 * answers UV_EAGAIN (the socket's send buffer is full, or earlier sends are
 * still queued) is it copied into a uv_udp_send request, so nothing is
 * dropped on the server's side. This is libuv's fast path for an echo.
 *
 *   uv_udp_server [--port P] [--bind ADDR]
 *
 * SIGINT or SIGTERM closes the handles and the loop ends; the server prints
 * what it echoed and exits 0.
 */
#include "udp_common.h" /* first: it defines _GNU_SOURCE */

#include <stdint.h>
#include <uv.h>

/* libuv takes as many 64 KiB chunks as the buffer holds, up to its own
 * batch limit (20 in libuv 1.44); one more than that costs nothing. */
#define CHUNK  65536
#define CHUNKS 64

struct queued {
    uv_udp_send_t req;
    unsigned char data[];
};

static unsigned char g_buf[CHUNKS * CHUNK];
static uv_udp_t g_udp;
static uv_signal_t g_sigint, g_sigterm;
static unsigned long long g_datagrams, g_bytes, g_queued;
static int g_rc;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init((char *)g_buf, sizeof g_buf);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    if (status < 0) {
        fprintf(stderr, "uv_udp_server: uv_udp_send: %s\n", uv_strerror(status));
        g_rc = 1;
    }
    free(req);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    if (n < 0) {
        fprintf(stderr, "uv_udp_server: recv: %s\n", uv_strerror((int)n));
        g_rc = 1;
        return;
    }
    if (addr == NULL) /* the socket is empty, or UV_UDP_MMSG_FREE: the buffer is static */
        return;
    (void)flags;
    g_datagrams++;
    g_bytes += (size_t)n;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    int w = uv_udp_try_send(h, &b, 1, addr);
    if (w >= 0)
        return;
    if (w != UV_EAGAIN) {
        fprintf(stderr, "uv_udp_server: uv_udp_try_send: %s\n", uv_strerror(w));
        g_rc = 1;
        return;
    }
    struct queued *q = malloc(sizeof *q + (size_t)n);
    if (q == NULL) {
        fprintf(stderr, "uv_udp_server: out of memory\n");
        g_rc = 1;
        return;
    }
    memcpy(q->data, buf->base, (size_t)n);
    b = uv_buf_init((char *)q->data, (unsigned)n);
    g_queued++;
    int e = uv_udp_send(&q->req, h, &b, 1, addr, on_sent);
    if (e < 0) {
        fprintf(stderr, "uv_udp_server: uv_udp_send: %s\n", uv_strerror(e));
        g_rc = 1;
        free(q);
    }
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)s;
    (void)sig;
    uv_close((uv_handle_t *)&g_udp, NULL);
    uv_close((uv_handle_t *)&g_sigint, NULL);
    uv_close((uv_handle_t *)&g_sigterm, NULL);
}

int main(int argc, char **argv)
{
    struct udp_opts o;
    struct sockaddr_storage ss;
    if (udp_parse(argc, argv, false, &o) < 0)
        return 2;
    /* The address, parsed (and checked) as the other servers do it. */
    int probe = udp_bind(&(struct udp_opts){o.bind, 0, -1}, 0, &ss);
    if (probe < 0) {
        fprintf(stderr, "uv_udp_server: bind %s: %s\n", o.bind, strerror(-probe));
        return 1;
    }
    close(probe);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o.port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)o.port);

    uv_loop_t *loop = uv_default_loop();
    int e = uv_udp_init_ex(loop, &g_udp, (unsigned)ss.ss_family | UV_UDP_RECVMMSG);
    if (e == 0)
        e = uv_udp_bind(&g_udp, (const struct sockaddr *)&ss, 0);
    int len = sizeof ss;
    if (e == 0)
        e = uv_udp_getsockname(&g_udp, (struct sockaddr *)&ss, &len);
    if (e == 0)
        e = uv_udp_recv_start(&g_udp, on_alloc, on_recv);
    if (e == 0)
        e = uv_signal_init(loop, &g_sigint);
    if (e == 0)
        e = uv_signal_start(&g_sigint, on_signal, SIGINT);
    if (e == 0)
        e = uv_signal_init(loop, &g_sigterm);
    if (e == 0)
        e = uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    if (e < 0) {
        fprintf(stderr, "uv_udp_server: %s port %d: %s\n", o.bind, o.port, uv_strerror(e));
        return 1;
    }
    if (!uv_udp_using_recvmmsg(&g_udp)) {
        fprintf(stderr, "uv_udp_server: this libuv does not read with recvmmsg\n");
        return 1;
    }
    udp_announce("uv_udp_server", &o, &ss);
    uv_run(loop, UV_RUN_DEFAULT);
    printf("uv_udp_server: %llu datagrams, %llu bytes, %llu queued sends\n", g_datagrams, g_bytes,
           g_queued);
    uv_loop_close(loop);
    return g_rc;
}
