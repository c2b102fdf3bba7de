/*
 * udp_echo - a UDP echo server on the vllsi engine API (<vllsi/engine.h>):
 * one multishot RECVMSG per thread fills a buffer pool with datagrams and
 * their source addresses, and each is sent back with a SENDMSG straight
 * from its pool buffer (the payload and the address where the RECVMSG put
 * them: no copy), after which the buffer goes back to the pool.
 *
 *   udp_echo [--port P] [--bind ADDR] [--driver auto|uring|epoll|kqueue]
 *            [--threads N] [--buffers N] [--buffer-size S]
 *
 * --port 0 (the default) binds an ephemeral port, printed at start:
 * "udp_echo: listening on ADDR port P". With --threads N > 1 every thread
 * has its own socket on the same address and port (SO_REUSEPORT): Linux
 * spreads datagrams by their source address, so nothing is shared between
 * threads. macOS lets the sockets share the port but gives every unicast
 * datagram to one of them, so there one thread does all the work. A
 * datagram longer than a buffer's payload area is cut (its header says
 * VL_MSG_TRUNC) and the part that arrived is echoed; the count is printed
 * at exit. When every buffer is out the RECVMSG ends with -ENOBUFS and is
 * armed again as soon as a send gives one back (the datagrams wait in the
 * socket meanwhile). SIGINT or SIGTERM stops every thread; each prints
 * what it did.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/engine.h>

/* macOS has no SOCK_CLOEXEC; this program never execs, so nothing is lost. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

#define MAX_THREADS 64
#define CQ_BATCH    64
#define TAG_RECV    ((void *)1) /* user_data of the RECVMSG; a SENDMSG's is its send slot */

struct options {
    const char *bind;
    int port;
    vl_driver_kind driver;
    int threads;
    uint32_t buffers, buffer_size;
};

/* A SENDMSG in flight: its msghdr and iovec point into pool buffer bid. */
struct send_slot {
    struct msghdr m;
    struct iovec iov;
    uint32_t bid;
};

struct worker {
    const struct options *opt;
    int fd;
    vl_engine *e;
    _Atomic(vl_engine *) pub; /* e, published for the main thread's wake */
    vl_bufpool *pool;
    struct msghdr layout;    /* the RECVMSG's name area; no control area */
    struct send_slot *sends; /* one per pool buffer */
    bool armed, starved;
    uint64_t datagrams, bytes, truncated, send_errors, rearms;
    atomic_int error; /* set when the worker could not start */
    pthread_t thread;
};

static atomic_bool g_stop, g_failed; /* failed: a worker stopped on an error */

static int die_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--port P] [--bind ADDR] [--driver auto|uring|epoll|kqueue]\n"
            "          [--threads N] [--buffers N] [--buffer-size S]\n",
            prog);
    return 2;
}

static int parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){"127.0.0.1", 0, VL_DRIVER_AUTO, 1, 1024, 2048};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--port") == 0)
            o->port = atoi(v);
        else if (strcmp(a, "--bind") == 0)
            o->bind = v;
        else if (strcmp(a, "--threads") == 0)
            o->threads = atoi(v);
        else if (strcmp(a, "--buffers") == 0)
            o->buffers = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--buffer-size") == 0)
            o->buffer_size = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--driver") == 0)
            o->driver = strcmp(v, "uring") == 0    ? VL_DRIVER_URING
                        : strcmp(v, "epoll") == 0  ? VL_DRIVER_EPOLL
                        : strcmp(v, "kqueue") == 0 ? VL_DRIVER_KQUEUE
                        : strcmp(v, "auto") == 0   ? VL_DRIVER_AUTO
                                                   : (vl_driver_kind)-1;
        else
            return -1;
    }
    if ((int)o->driver < 0 || o->threads < 1 || o->threads > MAX_THREADS || o->port < 0 ||
        o->port > 65535 || o->buffers == 0 || (o->buffers & (o->buffers - 1)) != 0)
        return -1;
    return 0;
}

/* A UDP socket bound to the options' address and port (SO_REUSEPORT, so
 * that every thread's socket shares it); its address in *ss. -errno. */
static int udp_socket(const struct options *o, int port, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, o->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, o->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
    } else {
        return -EINVAL;
    }
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A larger receive buffer rides out bursts (UDP drops what does not
     * fit); the kernel caps it at net.core.rmem_max. */
    int one = 1, rcvbuf = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)ss, *len) != 0 ||
        getsockname(fd, (struct sockaddr *)ss, len) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static int port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                          : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void arm(struct worker *w)
{
    vl_op op = vl_op_recvmsg_multi(w->fd, &w->layout, w->pool, 0);
    int64_t id = vl_engine_submit(w->e, &op, TAG_RECV);
    if (id < 0) {
        fprintf(stderr, "udp_echo: RECVMSG submit: %s\n", strerror((int)-id));
        atomic_store(&g_failed, true);
        atomic_store(&g_stop, true);
        return;
    }
    w->armed = true;
    w->starved = false;
}

/* A datagram in pool buffer bid: send it back, from the buffer, to the
 * address the RECVMSG stored in it. */
static void echo(struct worker *w, const vl_completion *c)
{
    uint32_t bid = vl_cqe_buffer(c->flags);
    vl_recvmsg_out *o = vl_recvmsg_validate(vl_bufpool_buf(w->pool, bid), c->result, &w->layout);
    if (o == NULL || o->namelen > w->layout.msg_namelen) {
        vl_bufpool_release(w->pool, bid); /* never from this engine; nothing to echo */
        return;
    }
    w->datagrams++;
    w->truncated += (o->flags & VL_MSG_TRUNC) != 0;
    struct send_slot *s = &w->sends[bid];
    s->bid = bid;
    s->iov.iov_base = vl_recvmsg_payload(o, &w->layout);
    s->iov.iov_len = vl_recvmsg_payload_length(o, c->result, &w->layout);
    s->m = (struct msghdr){.msg_name = vl_recvmsg_name(o),
                           .msg_namelen = o->namelen,
                           .msg_iov = &s->iov,
                           .msg_iovlen = 1};
    w->bytes += s->iov.iov_len;
    vl_op op = vl_op_sendmsg(w->fd, &s->m, 0);
    if (vl_engine_submit(w->e, &op, s) < 0) {
        w->send_errors++;
        vl_bufpool_release(w->pool, bid);
    }
}

static void on_completion(struct worker *w, const vl_completion *c)
{
    if (c->user_data != TAG_RECV) {
        struct send_slot *s = c->user_data;
        if (c->result < 0)
            w->send_errors++;
        vl_bufpool_release(w->pool, s->bid);
        if (w->starved && !atomic_load(&g_stop)) {
            w->rearms++;
            arm(w);
        }
        return;
    }
    if (c->flags & VL_CQE_MORE) {
        if (atomic_load(&g_stop))
            vl_bufpool_release(w->pool, vl_cqe_buffer(c->flags)); /* stopping: no reply */
        else
            echo(w, c);
        return;
    }
    /* The RECVMSG ended. -ENOBUFS: every buffer is out, in sends; the next
     * send that completes arms it again. */
    w->armed = false;
    if (c->result == -ENOBUFS && !atomic_load(&g_stop)) {
        w->starved = true;
    } else if (c->result != -ECANCELED && !atomic_load(&g_stop)) {
        fprintf(stderr, "udp_echo: RECVMSG ended: %s\n", strerror((int)-c->result));
        atomic_store(&g_failed, true);
        atomic_store(&g_stop, true);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct options *o = w->opt;
    vl_engine_config cfg = {.driver = o->driver};
    vl_engine *e = NULL;
    int rc = vl_engine_create(&cfg, &e);
    if (rc == 0)
        rc = vl_bufpool_create(e, o->buffers, o->buffer_size, &w->pool);
    /* Each buffer holds the header and the name area before the payload. */
    if (rc == 0 && o->buffer_size <= sizeof(vl_recvmsg_out) + sizeof(struct sockaddr_storage))
        rc = -EINVAL;
    w->sends = rc == 0 ? calloc(o->buffers, sizeof(*w->sends)) : NULL;
    if (rc == 0 && w->sends == NULL)
        rc = -ENOMEM;
    if (rc != 0) {
        vl_engine_destroy(e);
        atomic_store(&w->error, rc);
        return NULL;
    }
    w->layout = (struct msghdr){.msg_namelen = sizeof(struct sockaddr_storage)};
    w->e = e;
    atomic_store(&w->pub, e);
    arm(w);
    vl_completion cq[CQ_BATCH];
    while (!atomic_load(&g_stop)) {
        int n = vl_engine_poll(e, -1, cq, CQ_BATCH);
        for (int i = 0; i < n; i++)
            on_completion(w, &cq[i]);
    }
    /* Stop: shutdown cancels the RECVMSG and the sends in flight; take
     * their completions (the buffers go back). */
    vl_engine_shutdown(e);
    int n;
    while ((n = vl_engine_poll(e, 0, cq, CQ_BATCH)) > 0)
        for (int i = 0; i < n; i++)
            on_completion(w, &cq[i]);
    return NULL;
}

/* One of sigs (blocked in every thread), waiting up to 100 ms; 0 if none
 * came. macOS has no sigtimedwait: there sleep, then take one pending. */
static int next_signal(const sigset_t *sigs)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
#ifdef __linux__
    int sig = sigtimedwait(sigs, NULL, &tick);
    return sig > 0 ? sig : 0;
#else
    nanosleep(&tick, NULL);
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return 0;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(sigs, sig) == 1 && sigismember(&pending, sig) == 1) {
            sigset_t one;
            int got;
            sigemptyset(&one);
            sigaddset(&one, sig);
            return sigwait(&one, &got) == 0 ? got : 0;
        }
    }
    return 0;
#endif
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) != 0)
        return die_usage(argv[0]);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* the threads inherit it */
    static struct worker w[MAX_THREADS];
    struct sockaddr_storage ss;
    socklen_t len;
    int port = o.port;
    for (int t = 0; t < o.threads; t++) {
        w[t].opt = &o;
        w[t].fd = udp_socket(&o, port, &ss, &len);
        if (w[t].fd < 0) {
            fprintf(stderr, "udp_echo: bind %s port %d: %s\n", o.bind, port, strerror(-w[t].fd));
            return 1;
        }
        port = port_of(&ss);
    }
    for (int t = 0; t < o.threads; t++)
        pthread_create(&w[t].thread, NULL, worker_main, &w[t]);
    /* Wait until every engine exists (or failed), then say where we are. */
    for (int t = 0; t < o.threads; t++)
        while (atomic_load(&w[t].pub) == NULL && atomic_load(&w[t].error) == 0)
            usleep(1000);
    for (int t = 0; t < o.threads; t++)
        if (atomic_load(&w[t].error) != 0) {
            fprintf(stderr, "udp_echo: thread %d: vl_engine_create / pool: %s\n", t,
                    strerror(-atomic_load(&w[t].error)));
            atomic_store(&g_stop, true);
        }
    if (!atomic_load(&g_stop))
        printf("udp_echo: listening on %s port %d (%d threads, driver %s)\n", o.bind, port,
               o.threads, vl_engine_driver_name(atomic_load(&w[0].pub)));
    fflush(stdout);
    while (!atomic_load(&g_stop))
        if (next_signal(&sigs) > 0)
            atomic_store(&g_stop, true);
    for (int t = 0; t < o.threads; t++)
        if (atomic_load(&w[t].pub) != NULL)
            vl_engine_wake(atomic_load(&w[t].pub));
    int status = 0;
    for (int t = 0; t < o.threads; t++) {
        pthread_join(w[t].thread, NULL);
        if (atomic_load(&w[t].error) != 0) {
            status = 1;
            close(w[t].fd);
            continue;
        }
        printf("udp_echo: thread %d: %" PRIu64 " datagrams, %" PRIu64 " bytes, %" PRIu64
               " truncated, %" PRIu64 " send errors, %" PRIu64 " re-arms after -ENOBUFS\n",
               t, w[t].datagrams, w[t].bytes, w[t].truncated, w[t].send_errors, w[t].rearms);
        vl_engine_destroy(w[t].e);
        free(w[t].sends);
        close(w[t].fd);
    }
    return status != 0 || atomic_load(&g_failed) ? 1 : 0;
}
