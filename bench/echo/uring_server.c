/*
 * uring_server - the echo benchmark's hand-written liburing server
 * (bench/echo): what a careful io_uring echo server looks like today, the
 * practical limit the others are measured against.
 *
 *   uring_server [--port P] [--bufs N (1024)] [--no-defer]
 *                [--corrupt-after BYTES] [--stall-after BYTES]
 *
 *  - Ring: SINGLE_ISSUER | DEFER_TASKRUN (completions are processed only when
 *    this thread enters the kernel to wait: no task-work interrupts), a CQ
 *    eight times the SQ, SUBMIT_ALL, and a registered ring fd (no fdget per
 *    io_uring_enter). --no-defer drops DEFER_TASKRUN/SINGLE_ISSUER (for
 *    comparison).
 *  - One multishot ACCEPT; per connection one multishot RECV selecting from a
 *    provided buffer ring (N buffers of 64 KiB, registered with
 *    io_uring_register_buf_ring: liburing 2.3 has no io_uring_setup_buf_ring).
 *  - The received buffer itself is sent back (no copy). At most one SEND per
 *    connection is in flight (two would race on the byte order); buffers that
 *    arrive meanwhile queue up on the connection, and a short send resubmits
 *    the rest. A buffer goes back to the ring when its last byte is sent; the
 *    returns of one loop pass are published with one ring advance.
 *  - Sends are not issued one system call each: every SQE prepared while
 *    handling a batch of completions goes out with the next
 *    io_uring_submit_and_wait, one io_uring_enter per loop pass.
 *  - Backpressure: the ring's buffers bound what the server holds. A RECV
 *    that finds the ring empty ends with -ENOBUFS; the connection is re-armed
 *    once buffers have come back.
 *  - Closing: on EOF or an error the socket is shut down (which ends the
 *    multishot RECV); the fd is closed once no op on it is in flight, so no
 *    completion can ever name a reused descriptor.
 */
#define _GNU_SOURCE
#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "common.h"

#define SQ_ENTRIES 1024
#define BUF_SIZE   ECHO_READ_MAX
/* Buffers lie one cache line apart beyond BUF_SIZE: at a 64 KiB stride
 * every one starts at page offset 0 and on the same cache sets, and the
 * kernel's copies out of them run about three times slower (vllsi's pools
 * use the same stride: pool_alloc in src/engine/engine.c). */
#define BUF_STRIDE (BUF_SIZE + 64)
#define BGID       0
#define NO_BUF     UINT32_MAX

enum { T_ACCEPT, T_RECV, T_SEND };

struct conn {
    uint32_t head, tail; /* queue of received buffers to echo (g_next links) */
    uint32_t off;        /* bytes of the head buffer already sent */
    bool open, recv_armed, send_inflight, closing, starved;
};

static struct io_uring g_ring;
static struct io_uring_buf_ring *g_br;
static unsigned char *g_bufs;
static uint32_t g_nbufs, g_returned;
static uint32_t *g_len, *g_next; /* per buffer: bytes to echo, queue link */
static struct conn *g_conns;     /* indexed by fd */
static int *g_starved, g_nstarved, g_maxfd, g_lfd;
static struct echo_opts g_opts;
static unsigned long long g_echoed;
static volatile sig_atomic_t g_stop;

static uint64_t ud(int fd, int type)
{
    return (uint64_t)fd << 2 | (uint64_t)type;
}

static struct io_uring_sqe *sqe_get(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&g_ring);
    while (!sqe) {
        /* The SQ is full mid-batch: hand it to the kernel and go on. */
        io_uring_submit(&g_ring);
        sqe = io_uring_get_sqe(&g_ring);
    }
    return sqe;
}

static void buf_return(uint32_t bid)
{
    io_uring_buf_ring_add(g_br, g_bufs + (size_t)bid * BUF_STRIDE, BUF_SIZE, (unsigned short)bid,
                          io_uring_buf_ring_mask(g_nbufs), (int)g_returned++);
}

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_multishot_accept(sqe, g_lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud(g_lfd, T_ACCEPT));
}

static void arm_recv(int fd)
{
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, ud(fd, T_RECV));
    g_conns[fd].recv_armed = true;
}

static void send_head(int fd)
{
    struct conn *c = &g_conns[fd];
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_send(sqe, fd, g_bufs + (size_t)c->head * BUF_STRIDE + c->off,
                       g_len[c->head] - c->off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(fd, T_SEND));
    c->send_inflight = true;
}

/* Close once nothing is in flight; give the queued buffers back. */
static void conn_maybe_close(int fd)
{
    struct conn *c = &g_conns[fd];
    if (!c->closing || c->recv_armed || c->send_inflight)
        return;
    for (uint32_t b = c->head; b != NO_BUF; b = g_next[b])
        buf_return(b);
    close(fd);
    *c = (struct conn){.head = NO_BUF, .tail = NO_BUF};
}

static void conn_shutdown(int fd)
{
    struct conn *c = &g_conns[fd];
    if (!c->closing) {
        c->closing = true;
        shutdown(fd, SHUT_RDWR); /* ends the multishot RECV */
    }
    conn_maybe_close(fd);
}

static void on_accept(const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        arm_accept();
    int fd = cqe->res;
    if (fd < 0)
        return;
    if (fd >= g_maxfd) {
        close(fd);
        return;
    }
    g_conns[fd] = (struct conn){.head = NO_BUF, .tail = NO_BUF, .open = true};
    arm_recv(fd);
}

static void on_recv(int fd, const struct io_uring_cqe *cqe)
{
    struct conn *c = &g_conns[fd];
    if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        g_len[bid] = (uint32_t)echo_faults(&g_opts, &g_echoed, g_bufs + (size_t)bid * BUF_STRIDE,
                                           (size_t)cqe->res);
        if (c->closing || g_len[bid] == 0) {
            buf_return(bid);
        } else {
            g_next[bid] = NO_BUF;
            if (c->tail == NO_BUF)
                c->head = bid;
            else
                g_next[c->tail] = bid;
            c->tail = bid;
            if (!c->send_inflight)
                send_head(fd);
        }
    }
    if (cqe->flags & IORING_CQE_F_MORE)
        return;
    c->recv_armed = false;
    if (cqe->res == -ENOBUFS && !c->closing) {
        c->starved = true;
        g_starved[g_nstarved++] = fd;
    } else if (cqe->res <= 0 || c->closing) {
        conn_shutdown(fd);
    } else {
        arm_recv(fd); /* the kernel ended the multishot for its own reasons */
    }
}

static void on_send(int fd, const struct io_uring_cqe *cqe)
{
    struct conn *c = &g_conns[fd];
    c->send_inflight = false;
    if (cqe->res < 0) {
        conn_shutdown(fd);
        return;
    }
    c->off += (uint32_t)cqe->res;
    if (c->off == g_len[c->head]) {
        uint32_t bid = c->head;
        c->head = g_next[bid];
        if (c->head == NO_BUF)
            c->tail = NO_BUF;
        c->off = 0;
        buf_return(bid);
    }
    if (c->closing)
        conn_maybe_close(fd);
    else if (c->head != NO_BUF)
        send_head(fd);
}

static void dispatch(const struct io_uring_cqe *cqe)
{
    int fd = (int)(cqe->user_data >> 2);
    switch (cqe->user_data & 3) {
    case T_ACCEPT:
        on_accept(cqe);
        break;
    case T_RECV:
        on_recv(fd, cqe);
        break;
    default:
        on_send(fd, cqe);
        break;
    }
}

/* Publish the buffers returned in this pass, then re-arm the starved RECVs. */
static void after_pass(void)
{
    if (!g_returned)
        return;
    io_uring_buf_ring_advance(g_br, (int)g_returned);
    g_returned = 0;
    for (int i = 0; i < g_nstarved; i++) {
        int fd = g_starved[i];
        g_conns[fd].starved = false;
        if (g_conns[fd].open && !g_conns[fd].closing)
            arm_recv(fd);
    }
    g_nstarved = 0;
}

static int setup_ring(bool defer)
{
    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    if (defer)
        p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = SQ_ENTRIES * 8;
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &g_ring, &p);
    if (rc < 0)
        return rc;
    rc = io_uring_register_ring_fd(&g_ring);
    if (rc < 0)
        return rc;
    size_t ring_bytes = (size_t)g_nbufs * sizeof(struct io_uring_buf);
    g_br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_bufs = mmap(NULL, (size_t)g_nbufs * BUF_STRIDE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_br == MAP_FAILED || g_bufs == MAP_FAILED)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)g_br, .ring_entries = g_nbufs, .bgid = BGID};
    rc = io_uring_register_buf_ring(&g_ring, &reg, 0);
    if (rc < 0)
        return rc;
    io_uring_buf_ring_init(g_br);
    for (uint32_t b = 0; b < g_nbufs; b++)
        buf_return(b);
    io_uring_buf_ring_advance(g_br, (int)g_returned);
    g_returned = 0;
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Our own flags first (--bufs, --no-defer), the common ones after. */
static bool parse(int argc, char **argv)
{
    bool defer = true;
    g_nbufs = 1024;
    char *rest[64];
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc && nrest < 63; i++) {
        if (!strcmp(argv[i], "--no-defer"))
            defer = false;
        else if (!strcmp(argv[i], "--bufs") && i + 1 < argc)
            g_nbufs = (uint32_t)echo_num("uring_server", argv[++i]);
        else
            rest[nrest++] = argv[i];
    }
    if (g_nbufs == 0 || g_nbufs > 32768 || (g_nbufs & (g_nbufs - 1))) {
        fprintf(stderr, "uring_server: --bufs wants a power of two up to 32768\n");
        exit(2);
    }
    g_opts = echo_parse(nrest, rest, "uring_server");
    return defer;
}

int main(int argc, char **argv)
{
    bool defer = parse(argc, argv);
    echo_raise_nofile();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    g_maxfd = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
    g_conns = calloc((size_t)g_maxfd, sizeof *g_conns);
    g_starved = calloc((size_t)g_maxfd, sizeof *g_starved);
    g_len = calloc(g_nbufs, sizeof *g_len);
    g_next = calloc(g_nbufs, sizeof *g_next);
    if (!g_conns || !g_starved || !g_len || !g_next)
        return 1;
    int rc = setup_ring(defer);
    if (rc < 0) {
        fprintf(stderr, "uring_server: io_uring setup: %s\n", strerror(-rc));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: enter returns -EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_lfd = echo_listen("uring_server", g_opts.port, 0);
    arm_accept();
    while (!g_stop) {
        rc = io_uring_submit_and_wait(&g_ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            fprintf(stderr, "uring_server: io_uring_submit_and_wait: %s\n", strerror(-rc));
            return 1;
        }
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&g_ring, head, cqe)
        {
            dispatch(cqe);
            n++;
        }
        io_uring_cq_advance(&g_ring, n);
        after_pass();
    }
    io_uring_queue_exit(&g_ring);
    close(g_lfd);
    return 0;
}
