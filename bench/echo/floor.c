/*
 * floor - the kernel floor of the echo benchmark (bench/echo): the same TCP
 * exchange over loopback, done by one thread with no event loop at all.
 *
 *   floor [--conns N] [--size B] [--depth D] [--duration S] [--warmup S]
 *         [--cpu C] [--label NAME]
 *
 * N connected pairs of blocking sockets. One round, in lockstep: the client
 * side of every pair sends its messages (with one send, as the load
 * generator writes all it has queued at once); then, pair by pair, the server side
 * receives them and sends them back; then every client receives its echoes.
 * Loopback delivers inside send(), so nothing ever blocks or sleeps: the
 * thread's core does the whole exchange (both ends, their system calls and
 * softirqs) and nothing else.
 *
 * Per round each pair carries min(D, 64 KiB / B) messages (at least one),
 * so that a round never outgrows the socket buffers (a single thread that
 * blocked in send would deadlock).
 *
 * Reported: CPU time per message over the measurement window (the process's
 * own CPU time, CLOCK_PROCESS_CPUTIME_ID), for the whole exchange and for its
 * server part: what an echo server's core can at best spend per message.
 * The thread never sleeps, so the softirq work that runs on its core runs
 * while it is the current task, and the kernel counts that time in the
 * task's CPU time (as user+sys of a 2 s run = its wall time shows). Adding
 * the core's irq+softirq time (/proc/stat) on top would count the same time
 * twice (30-35 % too much); scripts/ci/bench.sh checks that the CPU time is
 * at most the wall time.
 * The server part is the exchange's busy time times the share of wall time
 * spent in the server phase (receive and send back). That share is read with
 * the vDSO clock around the phase, once per round: the thread never sleeps,
 * and on loopback the softirq work of a send (the receiving end's TCP
 * processing) runs inline in that send, so wall time in a phase is the CPU
 * time of that phase, softirqs included.
 * At depth 1 both ends make one send and one recv of the same bytes and the
 * server part comes out at about half; at depth D the client makes D sends
 * for the server's one recv, so it is less.
 *
 * Output: a summary and one "RESULT key=value ..." line. Exit 1 on a socket
 * error or an echo that differs from what was sent, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* macOS has no SOCK_CLOEXEC, accept4 or CPU affinity (--cpu is refused
 * there); this program never execs, so nothing is lost without the flag. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif
#ifndef CPU_SETSIZE
#define CPU_SETSIZE 1024
#endif

struct fopts {
    int conns, size, depth, cpu;
    double duration, warmup;
    const char *label;
};

static struct fopts g_o = {1, 64, 1, -1, 1, 0.3, "floor"};
static double g_srv_secs; /* wall time spent in the server phase */

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t s = send(fd, p, n, MSG_NOSIGNAL);
        if (s < 0 && errno == EINTR)
            continue;
        if (s <= 0)
            die("send");
        p += s;
        n -= (size_t)s;
    }
}

/* Receive exactly n bytes; with echo_fd, send each chunk back as it comes. */
static void recv_all(int fd, unsigned char *buf, size_t n, int echo_fd)
{
    while (n) {
        ssize_t r = recv(fd, buf, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die(r == 0 ? "recv (peer closed)" : "recv");
        if (echo_fd >= 0)
            send_all(echo_fd, buf, (size_t)r);
        buf += r;
        n -= (size_t)r;
    }
}

/* The process's CPU time in seconds: all of its user and system time,
 * softirqs that ran while it was the current task included. */
static double cpu_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_pairs(int *cli, int *srv)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
        die("listen");
    int one = 1;
    for (int i = 0; i < g_o.conns; i++) {
        cli[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect");
#ifdef __linux__
        srv[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
#else
        srv[i] = accept(lfd, NULL, NULL);
#endif
        if (srv[i] < 0)
            die("accept");
        if (setsockopt(cli[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
            setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            die("TCP_NODELAY");
    }
    close(lfd);
}

/* One round over every pair; returns the messages echoed. */
static uint64_t round_trip(const int *cli, const int *srv, int per, const unsigned char *msg,
                           unsigned char *buf)
{
    size_t bytes = (size_t)per * (size_t)g_o.size;
    for (int i = 0; i < g_o.conns; i++)
        send_all(cli[i], msg, bytes);
    double t = now_s();
    for (int i = 0; i < g_o.conns; i++)
        recv_all(srv[i], buf, bytes, srv[i]);
    g_srv_secs += now_s() - t;
    for (int i = 0; i < g_o.conns; i++) {
        recv_all(cli[i], buf, bytes, -1);
        if (memcmp(buf, msg, bytes) != 0) {
            fprintf(stderr, "floor: echo differs from what was sent\n");
            exit(1);
        }
    }
    return (uint64_t)per * (uint64_t)g_o.conns;
}

static double arg_num(const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "floor: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--conns"))
            g_o.conns = (int)arg_num(v, 1, 100000);
        else if (!strcmp(a, "--size"))
            g_o.size = (int)arg_num(v, 1, 1 << 20);
        else if (!strcmp(a, "--depth"))
            g_o.depth = (int)arg_num(v, 1, 1024);
        else if (!strcmp(a, "--duration"))
            g_o.duration = arg_num(v, 0.01, 3600);
        else if (!strcmp(a, "--warmup"))
            g_o.warmup = arg_num(v, 0, 3600);
        else if (!strcmp(a, "--cpu"))
            g_o.cpu = (int)arg_num(v, 0, CPU_SETSIZE - 1);
        else if (!strcmp(a, "--label"))
            g_o.label = v;
        else
            goto usage;
    }
    return;
usage:
    fprintf(stderr, "usage: floor [--conns N] [--size B] [--depth D] [--duration S] "
                    "[--warmup S] [--cpu C] [--label NAME]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (g_o.cpu >= 0) {
#ifdef __linux__
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(g_o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            die("sched_setaffinity");
#else
        fprintf(stderr, "floor: --cpu: no CPU affinity on this system\n");
        return 2;
#endif
    }
    /* A bug that blocks (a round larger than the socket buffers) must not hang CI. */
    alarm((unsigned)(g_o.warmup + g_o.duration) + 60);
    int per = g_o.depth;
    if ((size_t)per * (size_t)g_o.size > 65536)
        per = g_o.size >= 65536 ? 1 : 65536 / g_o.size;
    int *cli = calloc((size_t)g_o.conns, sizeof *cli),
        *srv = calloc((size_t)g_o.conns, sizeof *srv);
    size_t bytes = (size_t)per * (size_t)g_o.size;
    unsigned char *msg = malloc(bytes), *buf = malloc(bytes);
    if (!cli || !srv || !msg || !buf)
        die("malloc");
    for (size_t i = 0; i < bytes; i++)
        msg[i] = (unsigned char)(i * 131 + 7);
    make_pairs(cli, srv);

    for (double end = now_s() + g_o.warmup; now_s() < end;)
        round_trip(cli, srv, per, msg, buf);
    uint64_t msgs = 0;
    g_srv_secs = 0;
    double b0 = cpu_secs(), t0 = now_s(), t1;
    do {
        msgs += round_trip(cli, srv, per, msg, buf);
    } while ((t1 = now_s()) < t0 + g_o.duration);
    double b1 = cpu_secs();
    double us = (b1 - b0) / (double)msgs * 1e6;
    double srv_us = us * g_srv_secs / (t1 - t0);
    printf("floor %s: %d conns x %d B, %d per round, %.2f s: %.0f msgs/s, %.2f us/msg for the "
           "exchange, %.2f us/msg server part\n",
           g_o.label, g_o.conns, g_o.size, per, t1 - t0, (double)msgs / (t1 - t0), us, srv_us);
    printf("RESULT label=%s conns=%d size=%d depth=%d per_round=%d secs=%.3f msgs=%" PRIu64
           " msgs_per_s=%.0f exchange_us_per_msg=%.3f srv_core_us_per_msg=%.3f errors=0\n",
           g_o.label, g_o.conns, g_o.size, g_o.depth, per, t1 - t0, msgs, (double)msgs / (t1 - t0),
           us, srv_us);
    for (int i = 0; i < g_o.conns; i++) {
        close(cli[i]);
        close(srv[i]);
    }
    free(cli);
    free(srv);
    free(msg);
    free(buf);
    return 0;
}
