/*
 * embed_idle - what an embedded vl_loop costs its host while it waits
 * (docs/guide.md, "Inside another event loop"; docs/benchmarks.md).
 *
 *   embed_idle [--driver uring|epoll|kqueue|auto] [--ops N] [--seconds S]
 *              [--pings K] [--flags default|embedded|notaskrun]
 *
 * A plain epoll host (poll on macOS) holds the loop's backend fd
 * (vl_loop_backend_fd) and calls vl_loop_run(VL_RUN_NOWAIT) whenever its
 * wait returns. N RECVs wait
 * on N idle socketpairs (default 1), nothing else happens for S seconds
 * (default 1): the program counts the host's wake-ups and the process's CPU
 * time (user + system, getrusage) over that window. Then K times (default
 * 20) a helper thread writes one byte to one of the pairs while the host
 * sleeps, and the time from the write to the RECV's callback is measured
 * (median and maximum).
 *
 * --flags picks the engine flags: VL_ENGINE_EMBEDDED (io_uring with
 * COOP_TASKRUN rather than DEFER_TASKRUN, what an embedded loop should ask
 * for; see loop.h, vl_loop_backend_fd) or VL_ENGINE_NO_TASKRUN_FLAGS.
 *
 * One line of output: driver, ops, seconds, wake-ups, wake-ups/s, cpu_ms,
 * ping median/max in microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#else
#include <poll.h>
#endif

#include <vllsi/loop.h>
#include <vllsi/sys/time.h>

struct pair {
    vl_loop_op rd;
    int fd[2];
    char buf[16];
};

static struct pair *pairs;
static int64_t g_wrote_ns; /* when the helper wrote (atomic)    */
static int64_t g_done_ns;  /* when the RECV's callback ran      */

static void on_recv(vl_loop *loop, vl_loop_op *rec, int64_t res, uint32_t flags)
{
    (void)flags;
    g_done_ns = vl_time_monotonic_ns();
    if (res <= 0) {
        fprintf(stderr, "embed_idle: recv: %lld\n", (long long)res);
        exit(1);
    }
    if (vl_loop_submit(loop, rec) < 0)
        exit(1);
}

static void *writer(void *arg)
{
    struct pair *p = arg;
    usleep(20000); /* let the host fall asleep first */
    __atomic_store_n(&g_wrote_ns, vl_time_monotonic_ns(), __ATOMIC_RELEASE);
    if (write(p->fd[1], "x", 1) != 1)
        exit(1);
    return NULL;
}

static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* macOS has no SOCK_CLOEXEC; this program never execs, so nothing is lost. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

/* One host iteration: sleep in epoll_wait (ep: the host's epoll fd) or, on
 * macOS, poll (ep: the loop's backend fd), run the loop when woken. */
static int host_wait(vl_loop *loop, int ep, int ms)
{
#ifdef __linux__
    struct epoll_event ev;
    int n = epoll_wait(ep, &ev, 1, ms);
#else
    struct pollfd ev = {.fd = ep, .events = POLLIN};
    int n = poll(&ev, 1, ms);
#endif
    if (n < 0 && errno != EINTR)
        return -1;
    if (n > 0 && vl_loop_run(loop, VL_RUN_NOWAIT) < 0)
        return -1;
    return n != 0; /* a wake-up (a signal's EINTR counts too) */
}

int main(int argc, char **argv)
{
    vl_engine_config cfg = {VL_DRIVER_AUTO, 0, 0, 0, 0};
    int nops = 1, pings = 20;
    double seconds = 1.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--driver") == 0)
            cfg.driver = strcmp(argv[i + 1], "uring") == 0    ? VL_DRIVER_URING
                         : strcmp(argv[i + 1], "epoll") == 0  ? VL_DRIVER_EPOLL
                         : strcmp(argv[i + 1], "kqueue") == 0 ? VL_DRIVER_KQUEUE
                                                              : VL_DRIVER_AUTO;
        else if (strcmp(argv[i], "--ops") == 0)
            nops = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--pings") == 0)
            pings = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--flags") == 0)
            cfg.flags = strcmp(argv[i + 1], "embedded") == 0    ? VL_ENGINE_EMBEDDED
                        : strcmp(argv[i + 1], "notaskrun") == 0 ? VL_ENGINE_NO_TASKRUN_FLAGS
                                                                : 0;
    }
    if (nops < 1 || pings < 1 || seconds <= 0) {
        fprintf(stderr, "usage: embed_idle [--driver uring|epoll|kqueue|auto] [--ops N] "
                        "[--seconds S] [--pings K] [--flags default|embedded|notaskrun]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    cfg.max_inflight = (uint32_t)nops + 64;
    vl_loop *loop;
    int rc = vl_loop_init(&loop, &cfg);
    if (rc < 0) {
        fprintf(stderr, "embed_idle: vl_loop_init: %s\n", strerror(-rc));
        return 1;
    }
    pairs = calloc((size_t)nops, sizeof(*pairs));
    for (int i = 0; pairs != NULL && i < nops; i++) {
        struct pair *p = &pairs[i];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd) < 0) {
            perror("embed_idle: socketpair");
            return 1;
        }
        vl_loop_op_init(&p->rd, vl_op_recv(p->fd[0], p->buf, sizeof(p->buf), 0), on_recv, p);
        if (vl_loop_submit(loop, &p->rd) < 0)
            return 1;
    }
    int fd = vl_loop_backend_fd(loop);
#ifdef __linux__
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (pairs == NULL || fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
#else
    int ep = fd;
    if (pairs == NULL || fd < 0) {
#endif
        fprintf(stderr, "embed_idle: host setup failed\n");
        return 1;
    }
    /* Hand the RECVs to the kernel and let the first wake-ups settle. */
    for (int i = 0; i < 10 && host_wait(loop, ep, 10) > 0; i++)
        ;

    int64_t span = (int64_t)(seconds * 1e9);
    int64_t t0 = vl_time_monotonic_ns(), c0 = cpu_ns(), end = t0 + span;
    long wakes = 0;
    for (int64_t now = t0; now < end; now = vl_time_monotonic_ns()) {
        int w = host_wait(loop, ep, (int)((end - now + 999999) / 1000000));
        if (w < 0)
            return 1;
        wakes += w;
    }
    double cpu_ms = (double)(cpu_ns() - c0) / 1e6;
    double elapsed = (double)(vl_time_monotonic_ns() - t0) / 1e9;

    int64_t *lat = calloc((size_t)pings, sizeof(*lat));
    for (int k = 0; lat != NULL && k < pings; k++) {
        pthread_t th;
        g_done_ns = 0;
        __atomic_store_n(&g_wrote_ns, 0, __ATOMIC_RELAXED);
        pthread_create(&th, NULL, writer, &pairs[k % nops]);
        while (g_done_ns == 0)
            if (host_wait(loop, ep, 5000) < 0)
                return 1;
        pthread_join(th, NULL);
        lat[k] = g_done_ns - __atomic_load_n(&g_wrote_ns, __ATOMIC_ACQUIRE);
    }
    if (lat == NULL)
        return 1;
    qsort(lat, (size_t)pings, sizeof(*lat), cmp64);
    printf("driver %s%s ops %d seconds %.2f wakeups %ld wakeups_per_s %.1f cpu_ms %.2f "
           "ping_us_median %.1f ping_us_max %.1f\n",
           vl_engine_driver_name(vl_loop_engine(loop)),
           (cfg.flags & VL_ENGINE_NO_TASKRUN_FLAGS) ? "-notaskrun"
           : (cfg.flags & VL_ENGINE_EMBEDDED)       ? "-embedded"
                                                    : "",
           nops, elapsed, wakes, (double)wakes / elapsed, cpu_ms, (double)lat[pings / 2] / 1e3,
           (double)lat[pings - 1] / 1e3);
    vl_loop_destroy(loop);
    for (int i = 0; i < nops; i++) {
        close(pairs[i].fd[0]);
        close(pairs[i].fd[1]);
    }
    free(pairs);
    free(lat);
#ifdef __linux__
    close(ep);
#endif
    return 0;
}
