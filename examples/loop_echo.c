/*
 * loop_echo - the smallest complete server on the callback loop
 * (<vllsi/loop.h>), the one docs/guide.md walks through: a multishot ACCEPT,
 * per connection a RECV into its own buffer and a SEND of what came (the
 * next RECV waits for the SEND, so a peer that does not read is not read
 * either), SIGINT/SIGTERM stop it. `loop_echo [PORT] [--embed]` (port 0:
 * any, printed). --embed runs the same loop inside a plain epoll host loop
 * (the guide's "Inside another event loop"): the host sleeps in its own
 * epoll_wait (poll where there is no epoll) on vl_loop_backend_fd and calls
 * vl_loop_run(VL_RUN_NOWAIT) when it turns readable. The driver is AUTO's
 * choice, or VLLSI_DRIVER's (uring, epoll, kqueue).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#else
#include <poll.h>
#endif

#include <vllsi/loop.h>
#include <vllsi/sys/time.h>

/* macOS has no SOCK_CLOEXEC; this program never execs, so nothing is lost. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

struct conn {
    vl_loop_op op; /* one op at a time: RECV, then SEND, then RECV... */
    int fd;
    size_t len, sent;
    struct conn *prev, *next; /* every open connection, for the exit */
    char buf[4096];
};

static struct conn *conns;
static bool stopping; /* for the embedding host: the loop asked to stop */

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    free(c);
}

static void on_io(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags);

static void conn_recv(vl_loop *loop, struct conn *c)
{
    vl_loop_op_init(&c->op, vl_op_recv(c->fd, c->buf, sizeof c->buf, 0), on_io, c);
    if (vl_loop_submit(loop, &c->op) < 0)
        conn_free(c);
}

static void on_io(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags)
{
    struct conn *c = op->ctx;
    (void)flags;
    if (res <= 0) { /* EOF or reset */
        conn_free(c);
        return;
    }
    if (op->op.kind == VL_OP_RECV) {
        c->len = (size_t)res;
        c->sent = 0;
    } else {
        c->sent += (size_t)res;
    }
    if (c->sent == c->len) {
        conn_recv(loop, c);
        return;
    }
    vl_loop_op_init(&c->op, vl_op_send(c->fd, c->buf + c->sent, c->len - c->sent, 0), on_io, c);
    if (vl_loop_submit(loop, &c->op) < 0)
        conn_free(c);
}

/* The multishot accept ends on errors that pass (out of descriptors or
 * memory): the server keeps its connections and arms it again after a
 * pause, rather than at once (the error would come straight back) or never
 * (one EMFILE would stop the server). */
#define ACCEPT_RETRY_NS (100 * VL_NS_PER_MS)

static vl_loop_op acc;
static vl_timer acc_retry;

static void on_accept_retry(vl_loop *loop, vl_timer *t)
{
    (void)t;
    if (vl_loop_submit(loop, &acc) < 0)
        vl_loop_stop(loop);
}

static void on_accept(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags)
{
    (void)op;
    if (!(flags & VL_CQE_MORE)) { /* the final completion: never a connection */
        if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
            fprintf(stderr, "loop_echo: accept: %s, again in 100 ms\n", vl_errname((int)res));
            if (vl_timer_start(loop, &acc_retry, ACCEPT_RETRY_NS, 0) == 0)
                return;
        }
        fprintf(stderr, "loop_echo: accept ended: %s\n", vl_errname((int)res));
        stopping = true;
        vl_loop_stop(loop);
        return;
    }
    struct conn *c = malloc(sizeof *c);
    if (c == NULL) {
        close((int)res);
        return;
    }
    c->fd = (int)res;
    c->prev = NULL;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    conn_recv(loop, c);
}

static void on_signal(vl_loop *loop, vl_signal *s, int signum)
{
    (void)s;
    printf("loop_echo: signal %d, stopping\n", signum);
    stopping = true;
    vl_loop_stop(loop);
}

/* A host loop of its own (GLib, Qt, libev... would do the same): the loop
 * is one descriptor among the host's, run without blocking when it is
 * readable. It is not readable while the loop has nothing to do, however
 * many ops are in flight. */
#ifdef __linux__
static int host_run(vl_loop *loop)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fd = vl_loop_backend_fd(loop);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        fprintf(stderr, "loop_echo: host setup: %s\n", strerror(fd < 0 ? -fd : errno));
        return -1;
    }
    int rc = 0;
    while (!stopping && rc >= 0) {
        struct epoll_event out[16];
        int n = epoll_wait(ep, out, 16, -1);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++)
            if (out[i].data.fd == fd)
                rc = vl_loop_run(loop, VL_RUN_NOWAIT);
    }
    close(ep);
    return rc;
}
#else
static int host_run(vl_loop *loop)
{
    int fd = vl_loop_backend_fd(loop);
    if (fd < 0) {
        fprintf(stderr, "loop_echo: host setup: %s\n", strerror(-fd));
        return -1;
    }
    int rc = 0;
    while (!stopping && rc >= 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, -1);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            rc = vl_loop_run(loop, VL_RUN_NOWAIT);
    }
    return rc;
}
#endif
int main(int argc, char **argv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int port = 7777;
    bool embed = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--embed") == 0)
            embed = true;
        else
            port = atoi(argv[i]);
    }
    a.sin_port = htons((uint16_t)port);
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
        perror("loop_echo: listen");
        return 1;
    }
    vl_loop *loop;
    vl_signal sigint = {0}, sigterm = {0}; /* zero-filled before the first start */
    vl_timer_init(&acc_retry, on_accept_retry, NULL);
    /* A loop a host embeds asks for the kernel flags that wake the host at
     * once (io_uring: COOP_TASKRUN rather than DEFER_TASKRUN; loop.h). */
    vl_engine_config cfg = {VL_DRIVER_AUTO, 0, 0, embed ? VL_ENGINE_EMBEDDED : 0, 0};
    if (vl_loop_init(&loop, &cfg) < 0)
        return 1;
    vl_signal_start(loop, &sigint, SIGINT, on_signal);
    vl_signal_start(loop, &sigterm, SIGTERM, on_signal);
    vl_loop_op_init(&acc, vl_op_accept_multi(lfd), on_accept, NULL);
    vl_loop_submit(loop, &acc);
    if (embed)
#ifdef __linux__
        printf("loop_echo: embedded in a plain epoll host loop\n");
#else
        printf("loop_echo: embedded in a plain poll host loop\n");
#endif
    printf("loop_echo: listening on 127.0.0.1 port %u (driver %s)\n", ntohs(a.sin_port),
           vl_engine_driver_name(vl_loop_engine(loop)));
    fflush(stdout);
    int rc = embed ? host_run(loop) : vl_loop_run(loop, VL_RUN_DEFAULT);
    vl_loop_destroy(loop); /* cancels what is left, without callbacks */
    while (conns)
        conn_free(conns);
    close(lfd);
    return rc < 0 ? 1 : 0;
}
