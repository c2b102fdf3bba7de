/*
 * ev_server - the echo benchmark's libev server (bench/echo): one thread, the
 * default loop on epoll, one ev_io read watcher and one write watcher per
 * connection, as libev's documentation recommends.
 *
 *   ev_server [--port P] [--corrupt-after BYTES] [--stall-after BYTES] [--drain 0|1]
 *
 * Readable: one recv of up to 64 KiB into a shared buffer, one send of what
 * came. What the socket does not take is copied to the connection's backlog;
 * the read watcher stops and the write watcher starts until the backlog is
 * sent. SIGINT/SIGTERM end the loop. --drain 1 reads the connection again
 * after each echo until EAGAIN (an experiment, see common.h).
 */
#define _GNU_SOURCE
#include <ev.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct conn {
    ev_io rd, wr;
    unsigned char *pend; /* unsent bytes: pend[0..plen) */
    size_t plen, pcap;
};

static unsigned char g_buf[ECHO_READ_MAX];
static struct echo_opts g_opts;
static unsigned long long g_echoed;

static void conn_close(struct ev_loop *loop, struct conn *c)
{
    ev_io_stop(loop, &c->rd);
    ev_io_stop(loop, &c->wr);
    close(c->rd.fd);
    free(c->pend);
    free(c);
}

/* Send p[0..n) now; keep the rest and switch to waiting for writability. */
static int conn_send(struct ev_loop *loop, struct conn *c, const unsigned char *p, size_t n)
{
    ssize_t s = send(c->rd.fd, p, n, MSG_NOSIGNAL);
    if (s < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    size_t done = s > 0 ? (size_t)s : 0;
    if (done == n)
        return 0;
    if (c->pcap < n - done) {
        unsigned char *q = realloc(c->pend, n - done);
        if (!q)
            return -1;
        c->pend = q;
        c->pcap = n - done;
    }
    memmove(c->pend, p + done, n - done);
    c->plen = n - done;
    ev_io_stop(loop, &c->rd);
    ev_io_start(loop, &c->wr);
    return 0;
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct conn *c = (struct conn *)w;
    for (;;) {
        ssize_t n = recv(w->fd, g_buf, sizeof g_buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        size_t out = n > 0 ? echo_faults(&g_opts, &g_echoed, g_buf, (size_t)n) : 0;
        if (n <= 0 || conn_send(loop, c, g_buf, out) < 0) {
            conn_close(loop, c);
            return;
        }
        /* --drain: again until EAGAIN, unless the send left a backlog. */
        if (!g_opts.drain || c->plen > 0)
            return;
    }
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, wr));
    ssize_t s = send(w->fd, c->pend, c->plen, MSG_NOSIGNAL);
    if (s < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (s < 0) {
        conn_close(loop, c);
        return;
    }
    c->plen -= (size_t)s;
    memmove(c->pend, c->pend + s, c->plen);
    if (c->plen == 0) {
        ev_io_stop(loop, &c->wr);
        ev_io_start(loop, &c->rd);
    }
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: the watcher fires again */
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        ev_io_init(&c->rd, on_read, fd, EV_READ);
        ev_io_init(&c->wr, on_write, fd, EV_WRITE);
        ev_io_start(loop, &c->rd);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    g_opts = echo_parse(argc, argv, "ev_server");
    echo_raise_nofile();
    /* epoll explicitly: libev's own choice, and the backend every Linux
     * deployment of it uses (its io_uring backend is experimental). */
    struct ev_loop *loop = ev_default_loop(EVBACKEND_EPOLL);
    if (!loop) {
        fprintf(stderr, "ev_server: ev_default_loop failed\n");
        return 1;
    }
    int lfd = echo_listen("ev_server", g_opts.port, 1);
    ev_io acc;
    ev_signal sint, sterm;
    ev_io_init(&acc, on_accept, lfd, EV_READ);
    ev_io_start(loop, &acc);
    ev_signal_init(&sint, on_signal, SIGINT);
    ev_signal_init(&sterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sint);
    ev_signal_start(loop, &sterm);
    ev_run(loop, 0);
    close(lfd);
    return 0;
}
