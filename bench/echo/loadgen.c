/*
 * loadgen - the echo benchmark's load generator (bench/echo, scripts/bench-echo).
 *
 *   loadgen --port P [--host 127.0.0.1] [--conns N] [--size B] [--depth D]
 *           [--duration S] [--warmup S] [--threads T] [--cpu C[,C...]]
 *           [--server-pid PID] [--server-cpu C] [--label NAME] [--quiet]
 *   loadgen --probe --cpu C --server-cpu C2
 *
 * N TCP connections to an echo server, spread over T threads, each thread an
 * epoll loop (kqueue on macOS) over non-blocking sockets. Every connection keeps D messages of B
 * bytes in flight (D = 1 is ping-pong); each time the echo of a whole message
 * is back, the next one is sent. After the warm-up, counting runs for the
 * duration; then no new message is sent, every outstanding echo must come
 * back (else: loss), and the connections are closed.
 *
 * Every echoed byte is checked. Byte o of connection c's stream is
 * g_pat[(o + c * PAT_STRIDE) % PAT_LEN], a fixed pseudo-random table whose
 * length is prime, so a byte that is lost, duplicated, reordered or altered
 * shows up at once unless the damage is a whole number of periods (64 KiB) long;
 * those are caught by the byte count (the drain at the end).
 *
 * CPU accounting. With --server-cpu C the server core's busy time
 * (user+nice+system+irq+softirq of "cpuC" in /proc/stat) over the measurement
 * window is divided by the messages echoed in it: the server's CPU per
 * message, including the kernel work its system calls and softirqs do. With
 * --server-pid, the process's utime+stime (/proc/PID/stat) is reported too
 * (srv_proc_us_per_msg). It holds the softirq work that ran while the server
 * was the current task (the kernel counts that in the task's time as well as
 * in the core's softirq time), but not the softirq work the core did while
 * the server slept (e.g. freeing the server's sent skbs when the load
 * generator's core asks it to), so it is not the server's whole cost. Nor
 * is srv_proc plus the core's irq+softirq: that would count the in-task
 * softirq time twice (20-30 % too much, more for a server that sleeps
 * less). srv_core_us_per_msg is the figure to compare.
 * --server-cpu together with --server-pid also pins every thread of the
 * server to that core; --cpu pins this program's threads.
 *
 * Placement. On a VM the two cores can be two vCPUs that the host moves
 * between physical cores: sometimes they share a last-level cache, sometimes
 * not, and that changes what every byte crossing loopback costs (on the
 * machine of docs/benchmarks.md a cache line's round trip is about 55-85 ns
 * or about 310-350 ns, for seconds to minutes at a time). With --server-cpu and
 * --cpu, the round trip of one cache line between a thread on the server core
 * and one on the first --cpu core is measured (median of 9 x 1024 round trips)
 * right before the connections open and right after they drain; RESULT
 * reports both (xcpu_ns_before, xcpu_ns_after; -1 when not measured), so a
 * script can tell which placement each run had. --probe only measures it,
 * prints "RESULT xcpu_ns=N sys_ns=N" and exits.
 *
 * System calls. What one system call costs on this VM also moves (about
 * 165 ns at some times, 205-255 ns at others on the machine of
 * docs/benchmarks.md), and with it every server's CPU per message, the more
 * the more system calls a server makes per message. So with --server-cpu the
 * cost of a minimal system call (getppid; median of 9 x 4096) on the server
 * core is measured before and after the run too: RESULT's sys_ns_before and
 * sys_ns_after (-1 when not measured).
 *
 * Memory. The pattern and the receive buffers, the bytes every message
 * touches, live in one region on 2 MiB transparent huge pages where the
 * kernel gives them (MADV_HUGEPAGE; RESULT says lg_huge=1). On 4 KiB pages
 * their physical placement differs from run to run, and with it how they
 * share the cache sets: at 16 connections x 4 KiB x 16 on the machine of
 * docs/benchmarks.md the same server then ran at 210k..660k msgs/s, every
 * server alike, the load generator's core being the saturated one; on huge
 * pages at 470k..730k.
 *
 * macOS has no CPU affinity and no /proc: there --cpu, --server-cpu,
 * --server-pid and --probe are refused, and RESULT's figures that need them
 * are -1 (lg_huge is 0: no transparent huge pages).
 *
 * Output: a human-readable summary, then one line "RESULT key=value ..." for
 * scripts. Exit status: 0 ok, 1 corruption, loss or a socket error, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/syscall.h>
#else
#include <sys/event.h>
#endif

/* macOS has no SOCK_CLOEXEC; this program never execs, so nothing is lost. */
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif
#ifndef CPU_SETSIZE
#define CPU_SETSIZE 1024
#endif

/* The pattern: prime length, stored twice so that any run of up to PAT_LEN
 * bytes starting anywhere in the first copy is contiguous. */
#define PAT_LEN    65521u
#define PAT_STRIDE 7919u
#define RX_BUF     (256u * 1024u)
#define MAX_DEPTH  1024
#define DRAIN_SECS 5.0

/* Latency histogram: HDR-like, 64 linear sub-buckets per power of two of
 * nanoseconds (under 1.6 % error), up to 2^40 ns. */
#define HIST_SUB  64
#define HIST_EXP  40
#define HIST_SIZE (HIST_EXP * HIST_SUB)

static uint8_t *g_pat; /* 2 * PAT_LEN bytes, in the huge region */

struct opts {
    const char *host, *label;
    int port, conns, size, depth, threads;
    double duration, warmup;
    int cpus[64], ncpus;
    int server_pid, server_cpu;
    bool quiet, probe_only;
};

struct conn {
    int fd, index;
    uint64_t sent, queued; /* stream bytes written; bytes we mean to write */
    uint64_t recvd;        /* stream bytes received and checked */
    uint64_t *ts;          /* send time of each message in flight (ring of depth) */
    bool want_out;         /* writability is watched (EPOLLOUT, EVFILT_WRITE) */
};

enum phase { PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };

struct worker {
    pthread_t th;
    int id, epfd, cpu; /* epfd: the epoll or kqueue descriptor */
    struct conn *conns;
    int nconns;
    uint8_t *rx;
    uint64_t msgs, bytes; /* completed inside the measurement window */
    uint64_t hist[HIST_SIZE];
    const char *error; /* first failure, NULL if none */
    char errbuf[160];
};

static struct opts g_o;
static _Atomic int g_phase;
static atomic_int g_failed;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the hot memory: pattern and receive buffers ---------------------------------- */

#define HUGE_PAGE (2u << 20)

static void *g_map; /* the mapping, g_map_len bytes */
static size_t g_map_len;
static uint8_t *g_region;   /* 2 MiB-aligned inside it, asked for as huge pages */
static size_t g_region_len; /* bytes; g_region_at of them handed out */
static size_t g_region_at;
static bool g_region_huge; /* the kernel gave huge pages (smaps) */

/* Does this process have anonymous huge pages (/proc/self/smaps_rollup)? */
static bool have_huge_pages(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[128];
    unsigned long kb = 0;
    if (!f)
        return false;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb > 0;
}

/* Map the region for len bytes, 2 MiB-aligned, touched now. */
static void region_init(size_t len)
{
    g_region_len = (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    g_map_len = g_region_len + HUGE_PAGE;
    g_map = mmap(NULL, g_map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_map == MAP_FAILED) {
        fprintf(stderr, "loadgen: mmap of %zu bytes: %s\n", g_map_len, strerror(errno));
        exit(1);
    }
    g_region = (uint8_t *)(((uintptr_t)g_map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
#ifdef MADV_HUGEPAGE
    (void)madvise(g_region, g_region_len, MADV_HUGEPAGE); /* a hint: 4 KiB pages still work */
#endif
    memset(g_region, 0, g_region_len);
    g_region_huge = have_huge_pages();
}

static uint8_t *region_take(size_t len)
{
    uint8_t *p = g_region + g_region_at;
    g_region_at += (len + 63) & ~(size_t)63;
    if (g_region_at > g_region_len) {
        fprintf(stderr, "loadgen: region too small\n");
        exit(1);
    }
    return p;
}

/* ---- pattern and histogram --------------------------------------------------- */

static void pattern_init(void)
{
    g_pat = region_take(2 * PAT_LEN);
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (uint32_t i = 0; i < PAT_LEN; i++) {
        /* xorshift64*: any fixed pseudo-random sequence does. */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        g_pat[i] = (uint8_t)((x * 0x2545f4914f6cdd1du) >> 56);
    }
    memcpy(g_pat + PAT_LEN, g_pat, PAT_LEN);
}

static const uint8_t *pattern_at(const struct conn *c, uint64_t off)
{
    return g_pat + (off + (uint64_t)c->index * PAT_STRIDE) % PAT_LEN;
}

static void hist_add(uint64_t *h, uint64_t ns)
{
    if (ns < HIST_SUB) {
        h[ns]++;
        return;
    }
    int e = 63 - __builtin_clzll(ns); /* ns in [2^e, 2^(e+1)) */
    int sub = (int)((ns >> (e - 6)) & (HIST_SUB - 1));
    int b = (e - 5) * HIST_SUB + sub;
    h[b < HIST_SIZE ? b : HIST_SIZE - 1]++;
}

/* The lower edge of bucket b, in ns (inverse of hist_add). */
static double hist_value(int b)
{
    if (b < HIST_SUB)
        return b;
    int e = b / HIST_SUB + 5, sub = b % HIST_SUB;
    return ldexp(1.0 + sub / (double)HIST_SUB, e);
}

static double hist_quantile(const uint64_t *h, uint64_t total, double q)
{
    uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
    for (int b = 0; b < HIST_SIZE; b++) {
        seen += h[b];
        if (seen >= want && h[b])
            return hist_value(b);
    }
    return 0;
}

/* ---- connections --------------------------------------------------------------- */

static int fail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct worker *w, const char *fmt, ...)
{
    if (!w->error) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->errbuf, sizeof w->errbuf, fmt, ap);
        va_end(ap);
        w->error = w->errbuf;
    }
    atomic_store(&g_failed, 1);
    return -1;
}

/* ---- the poller: epoll, or kqueue where there is none ------------------------------- */

#ifdef __linux__
typedef struct epoll_event poll_event;
#else
typedef struct kevent poll_event;
#endif

static int poller_create(void)
{
#ifdef __linux__
    return epoll_create1(EPOLL_CLOEXEC);
#else
    return kqueue();
#endif
}

/* Watch c for reading always, for writing when out; add: the first call. */
static int poller_watch(struct worker *w, struct conn *c, bool add, bool out)
{
#ifdef __linux__
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    return epoll_ctl(w->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev);
#else
    struct kevent ch[2];
    int n = 0;
    if (add)
        EV_SET(&ch[n++], (uintptr_t)c->fd, EVFILT_READ, EV_ADD, 0, 0, c);
    EV_SET(&ch[n++], (uintptr_t)c->fd, EVFILT_WRITE, EV_ADD | (out ? EV_ENABLE : EV_DISABLE), 0, 0,
           c);
    return kevent(w->epfd, ch, n, NULL, 0, NULL);
#endif
}

/* Wait up to ms for events: how many, or -1 with errno. */
static int poller_wait(struct worker *w, poll_event *evs, int nev, int ms)
{
#ifdef __linux__
    return epoll_wait(w->epfd, evs, nev, ms);
#else
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    return kevent(w->epfd, NULL, 0, evs, nev, &ts);
#endif
}

/* An event's connection, and whether it says readable (data, EOF or an
 * error: the read finds out which) or only writable. */
static struct conn *poller_conn(const poll_event *ev, bool *readable)
{
#ifdef __linux__
    *readable = (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    return ev->data.ptr;
#else
    *readable = ev->filter == EVFILT_READ || (ev->flags & (EV_EOF | EV_ERROR)) != 0;
    return ev->udata;
#endif
}

static int set_out(struct worker *w, struct conn *c, bool on)
{
    if (c->want_out == on)
        return 0;
    if (poller_watch(w, c, false, on) < 0)
        return fail(w, "poller (write watch): %s", strerror(errno));
    c->want_out = on;
    return 0;
}

/* Write as much of the queued bytes as the socket takes; watch for writing for the rest. */
static int conn_flush(struct worker *w, struct conn *c)
{
    while (c->sent < c->queued) {
        uint64_t n = c->queued - c->sent;
        if (n > PAT_LEN)
            n = PAT_LEN;
        ssize_t r = send(c->fd, pattern_at(c, c->sent), n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return set_out(w, c, true);
            if (errno == EINTR)
                continue;
            return fail(w, "conn %d: send: %s", c->index, strerror(errno));
        }
        c->sent += (uint64_t)r;
    }
    return set_out(w, c, false);
}

static void conn_queue_msg(struct conn *c, uint64_t t)
{
    uint64_t msg = c->queued / (uint64_t)g_o.size;
    c->ts[msg % (uint64_t)g_o.depth] = t;
    c->queued += (uint64_t)g_o.size;
}

/* Account for every message whose echo is now complete and send its successor. */
static void conn_complete(struct worker *w, struct conn *c, uint64_t before, int phase)
{
    uint64_t size = (uint64_t)g_o.size;
    uint64_t first = before / size, last = c->recvd / size; /* messages [first, last) done */
    if (first == last)
        return;
    uint64_t t = now_ns();
    for (uint64_t m = first; m < last; m++) {
        if (phase == PH_MEASURE) {
            hist_add(w->hist, t - c->ts[m % (uint64_t)g_o.depth]);
            w->msgs++;
            w->bytes += size;
        }
        if (phase <= PH_MEASURE)
            conn_queue_msg(c, t);
    }
}

static int conn_read(struct worker *w, struct conn *c, int phase)
{
    for (;;) {
        ssize_t r = recv(c->fd, w->rx, RX_BUF, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            return fail(w, "conn %d: recv: %s", c->index, strerror(errno));
        }
        if (r == 0)
            return fail(w,
                        "conn %d: server closed the connection (%" PRIu64 " of %" PRIu64
                        " bytes echoed)",
                        c->index, c->recvd, c->sent);
        if (c->recvd + (uint64_t)r > c->sent)
            return fail(w, "conn %d: %zd bytes more echoed than sent", c->index,
                        (ssize_t)(c->recvd + (uint64_t)r - c->sent));
        for (size_t done = 0; done < (size_t)r;) {
            size_t n = (size_t)r - done < PAT_LEN ? (size_t)r - done : PAT_LEN;
            if (memcmp(w->rx + done, pattern_at(c, c->recvd + done), n) != 0) {
                size_t k = 0;
                while (w->rx[done + k] == pattern_at(c, c->recvd + done)[k])
                    k++;
                return fail(w,
                            "conn %d: corrupt echo at stream offset %" PRIu64
                            ": got 0x%02x, want 0x%02x",
                            c->index, c->recvd + done + k, w->rx[done + k],
                            pattern_at(c, c->recvd + done)[k]);
            }
            done += n;
        }
        uint64_t before = c->recvd;
        c->recvd += (uint64_t)r;
        conn_complete(w, c, before, phase);
        if ((size_t)r < RX_BUF)
            break;
    }
    return conn_flush(w, c);
}

static int connect_one(struct worker *w, struct conn *c, const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(w, "socket: %s", strerror(errno));
    c->fd = fd;
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return fail(w, "TCP_NODELAY: %s", strerror(errno));
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0)
        return fail(w, "connect to %s:%d: %s", g_o.host, g_o.port, strerror(errno));
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return fail(w, "O_NONBLOCK: %s", strerror(errno));
    if (poller_watch(w, c, true, false) < 0)
        return fail(w, "poller (add): %s", strerror(errno));
    c->ts = calloc((size_t)g_o.depth, sizeof *c->ts);
    return c->ts ? 0 : fail(w, "out of memory");
}

/* ---- the worker loop -------------------------------------------------------------- */

/* Every worker connected (or failed) and the main thread: then the load
 * starts. A count under a mutex (macOS has no pthread barriers). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned left;
} g_ready = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void ready_wait(void)
{
    pthread_mutex_lock(&g_ready.mu);
    if (--g_ready.left == 0)
        pthread_cond_broadcast(&g_ready.cv);
    while (g_ready.left > 0)
        pthread_cond_wait(&g_ready.cv, &g_ready.mu);
    pthread_mutex_unlock(&g_ready.mu);
}

static void pin_self(int cpu)
{
#ifdef __linux__
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)cpu; /* --cpu is refused where there is no affinity */
#endif
}

static bool all_drained(const struct worker *w)
{
    for (int i = 0; i < w->nconns; i++)
        if (w->conns[i].recvd != w->conns[i].queued)
            return false;
    return true;
}

static int worker_connect(struct worker *w)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_o.port)};
    if (inet_pton(AF_INET, g_o.host, &sa.sin_addr) != 1)
        return fail(w, "--host wants a numeric IPv4 address");
    w->epfd = poller_create();
    if (w->epfd < 0)
        return fail(w, "epoll_create1/kqueue: %s", strerror(errno));
    for (int i = 0; i < w->nconns; i++)
        if (connect_one(w, &w->conns[i], &sa) < 0)
            return -1;
    return 0;
}

/* One pass: wait for events, handle them under the phase seen on return. */
static int worker_pass(struct worker *w, poll_event *evs, int nev)
{
    int n = poller_wait(w, evs, nev, 10);
    if (n < 0)
        return errno == EINTR ? 0 : fail(w, "poller wait: %s", strerror(errno));
    int phase = atomic_load(&g_phase);
    for (int i = 0; i < n; i++) {
        bool readable;
        struct conn *c = poller_conn(&evs[i], &readable);
        if (readable) {
            if (conn_read(w, c, phase) < 0)
                return -1;
        } else if (conn_flush(w, c) < 0) {
            return -1;
        }
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pin_self(w->cpu);
    int rc = worker_connect(w);
    ready_wait();
    if (rc < 0 || atomic_load(&g_failed))
        return NULL;
    uint64_t t = now_ns();
    for (int i = 0; i < w->nconns; i++) {
        for (int d = 0; d < g_o.depth; d++)
            conn_queue_msg(&w->conns[i], t);
        if (conn_flush(w, &w->conns[i]) < 0)
            return NULL;
    }
    poll_event evs[256];
    uint64_t drain_deadline = 0;
    while (!atomic_load(&g_failed)) {
        if (worker_pass(w, evs, 256) < 0)
            return NULL;
        if (atomic_load(&g_phase) < PH_DRAIN)
            continue;
        if (all_drained(w))
            break;
        if (drain_deadline == 0)
            drain_deadline = now_ns() + (uint64_t)(DRAIN_SECS * 1e9);
        else if (now_ns() > drain_deadline) {
            uint64_t lost = 0;
            for (int i = 0; i < w->nconns; i++)
                lost += w->conns[i].queued - w->conns[i].recvd;
            fail(w, "loss: %" PRIu64 " bytes not echoed %.0f s after the end", lost, DRAIN_SECS);
            return NULL;
        }
    }
    return NULL;
}

/* ---- placement: a cache line's round trip between two cores -------------------------- */

#ifdef __linux__
#define PROBE_TRIPS   1024
#define PROBE_BATCHES 9

struct probe {
    _Alignas(64) _Atomic uint64_t line; /* the line that travels */
    _Alignas(64) _Atomic int stop;
    int cpu;
};

/* The far end: answers every odd value with the next even one. */
static void *probe_peer(void *arg)
{
    struct probe *p = arg;
    pin_self(p->cpu);
    for (uint64_t v = 1; !atomic_load_explicit(&p->stop, memory_order_relaxed);) {
        if (atomic_load_explicit(&p->line, memory_order_acquire) == v) {
            atomic_store_explicit(&p->line, v + 1, memory_order_release);
            v += 2;
        }
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the PROBE_BATCHES figures of a probe (sorts them). */
static double probe_median(double *ns)
{
    qsort(ns, PROBE_BATCHES, sizeof ns[0], cmp_double);
    return ns[PROBE_BATCHES / 2];
}

/* Median ns per round trip of one cache line between a thread on cpu a (the
 * caller's, pinned for the duration) and one on cpu b; -1 if a batch does not
 * finish within 50 ms (the far core is busy with something else). */
static double probe_xcpu(int a, int b)
{
    static struct probe p;
    cpu_set_t old;
    pthread_t th;
    double ns[PROBE_BATCHES], res = -1;
    atomic_store(&p.line, 0);
    atomic_store(&p.stop, 0);
    p.cpu = b;
    if (pthread_getaffinity_np(pthread_self(), sizeof old, &old) != 0 ||
        pthread_create(&th, NULL, probe_peer, &p) != 0)
        return -1;
    pin_self(a);
    uint64_t v = 0;
    int i;
    for (i = 0; i < PROBE_BATCHES; i++) {
        uint64_t t0 = now_ns(), deadline = t0 + 50000000u;
        for (int k = 0; k < PROBE_TRIPS; k++, v += 2) {
            atomic_store_explicit(&p.line, v + 1, memory_order_release);
            for (unsigned spin = 1; atomic_load_explicit(&p.line, memory_order_acquire) != v + 2;
                 spin++)
                if (spin % 4096 == 0 && now_ns() > deadline)
                    goto out;
        }
        ns[i] = (double)(now_ns() - t0) / PROBE_TRIPS;
    }
    res = probe_median(ns);
out:
    atomic_store(&p.stop, 1);
    pthread_join(th, NULL);
    pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    return res;
}

/* Median ns of one getppid system call on cpu c, the caller pinned there for
 * the duration; -1 when the caller cannot be pinned there. */
static double probe_syscall(int c)
{
    enum { CALLS = 4096 };
    cpu_set_t old;
    double ns[PROBE_BATCHES];
    if (c < 0 || pthread_getaffinity_np(pthread_self(), sizeof old, &old) != 0)
        return -1;
    pin_self(c);
    if (sched_getcpu() != c) {
        pthread_setaffinity_np(pthread_self(), sizeof old, &old);
        return -1;
    }
    for (int i = 0; i < PROBE_BATCHES; i++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < CALLS; k++)
            syscall(SYS_getppid);
        ns[i] = (double)(now_ns() - t0) / CALLS;
    }
    pthread_setaffinity_np(pthread_self(), sizeof old, &old);
    return probe_median(ns);
}

#else
/* No CPU affinity: the probes are refused with their options (parse_args). */
static double probe_xcpu(int a, int b)
{
    (void)a;
    (void)b;
    return -1;
}

static double probe_syscall(int c)
{
    (void)c;
    return -1;
}
#endif

static bool probe_wanted(void)
{
    return g_o.server_cpu >= 0 && g_o.ncpus > 0 && g_o.cpus[0] != g_o.server_cpu;
}

/* ---- CPU accounting and pinning ----------------------------------------------------- */

struct cpu_sample {
    uint64_t core_busy, core_total, core_irq, proc; /* clock ticks */
};

/* Busy and total ticks of "cpuN" in /proc/stat; 0 when unavailable. */
static void read_core(int cpu, struct cpu_sample *s)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    char line[512], want[16];
    snprintf(want, sizeof want, "cpu%d ", cpu);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, want, strlen(want)) != 0)
            continue;
        unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
        if (sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) >= 7) {
            s->core_busy = v[0] + v[1] + v[2] + v[5] + v[6];
            s->core_irq = v[5] + v[6];
            s->core_total = s->core_busy + v[3] + v[4] + v[7];
        }
        break;
    }
    fclose(f);
}

/* utime + stime of the whole process (all threads). */
static void read_proc(int pid, struct cpu_sample *s)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
        s->proc = ut + st;
}

static void sample(struct cpu_sample *s)
{
    memset(s, 0, sizeof *s);
    if (g_o.server_cpu >= 0)
        read_core(g_o.server_cpu, s);
    if (g_o.server_pid > 0)
        read_proc(g_o.server_pid, s);
}

/* Pin every thread of the server process to one core. */
static int pin_server(int pid, int cpu)
{
#ifndef __linux__
    (void)pid;
    (void)cpu;
    return -ENOTSUP; /* refused with its options (parse_args) */
#else
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = 0, pinned = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (sched_setaffinity(atoi(e->d_name), sizeof set, &set) < 0)
            rc = -errno;
        else
            pinned++;
    }
    closedir(d);
    return pinned ? 0 : rc ? rc : -ESRCH;
#endif
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P [--host 127.0.0.1] [--conns N (1)] [--size B (64)]\n"
            "               [--depth D (1: ping-pong)] [--duration S (1)] [--warmup S (0.5)]\n"
            "               [--threads T (1)] [--cpu C[,C...]] [--server-pid PID]\n"
            "               [--server-cpu C] [--label NAME] [--quiet]\n"
            "       loadgen --probe --cpu C --server-cpu C2\n");
    exit(2);
}

static double parse_num(const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "loadgen: bad number '%s' (%g..%g)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

static void parse_cpus(const char *s)
{
    for (char *end; *s && g_o.ncpus < 64; s = *end ? end + 1 : end) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= CPU_SETSIZE || (*end && *end != ','))
            usage();
        g_o.cpus[g_o.ncpus++] = (int)v;
    }
}

static void parse_args(int argc, char **argv)
{
    g_o = (struct opts){.host = "127.0.0.1",
                        .label = "-",
                        .conns = 1,
                        .size = 64,
                        .depth = 1,
                        .threads = 1,
                        .duration = 1,
                        .warmup = 0.5,
                        .server_cpu = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quiet")) {
            g_o.quiet = true;
            continue;
        }
        if (!strcmp(a, "--probe")) {
            g_o.probe_only = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--port"))
            g_o.port = (int)parse_num(v, 1, 65535);
        else if (!strcmp(a, "--host"))
            g_o.host = v;
        else if (!strcmp(a, "--conns"))
            g_o.conns = (int)parse_num(v, 1, 100000);
        else if (!strcmp(a, "--size"))
            g_o.size = (int)parse_num(v, 1, 16 << 20);
        else if (!strcmp(a, "--depth"))
            g_o.depth = (int)parse_num(v, 1, MAX_DEPTH);
        else if (!strcmp(a, "--duration"))
            g_o.duration = parse_num(v, 0.01, 3600);
        else if (!strcmp(a, "--warmup"))
            g_o.warmup = parse_num(v, 0, 3600);
        else if (!strcmp(a, "--threads"))
            g_o.threads = (int)parse_num(v, 1, 256);
        else if (!strcmp(a, "--cpu"))
            parse_cpus(v);
        else if (!strcmp(a, "--server-pid"))
            g_o.server_pid = (int)parse_num(v, 1, 1 << 30);
        else if (!strcmp(a, "--server-cpu"))
            g_o.server_cpu = (int)parse_num(v, 0, CPU_SETSIZE - 1);
        else if (!strcmp(a, "--label"))
            g_o.label = v;
        else
            usage();
    }
#ifndef __linux__
    if (g_o.ncpus > 0 || g_o.server_cpu >= 0 || g_o.server_pid > 0 || g_o.probe_only) {
        fprintf(stderr, "loadgen: --cpu, --server-cpu, --server-pid and --probe need CPU "
                        "affinity and /proc (Linux)\n");
        exit(2);
    }
#endif
    if (g_o.probe_only ? !probe_wanted() : g_o.port == 0)
        usage();
    if (g_o.threads > g_o.conns)
        g_o.threads = g_o.conns;
}

/* Room for every connection plus stdio, epoll and /proc reads. */
static void raise_nofile(void)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)g_o.conns + (rlim_t)g_o.threads + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct worker *make_workers(void)
{
    struct worker *ws = calloc((size_t)g_o.threads, sizeof *ws);
    struct conn *cs = calloc((size_t)g_o.conns, sizeof *cs);
    if (!ws || !cs) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < g_o.conns; i++) {
        cs[i].index = i;
        cs[i].fd = -1;
    }
    for (int t = 0, at = 0; t < g_o.threads; t++) {
        struct worker *w = &ws[t];
        int n = g_o.conns / g_o.threads + (t < g_o.conns % g_o.threads);
        w->id = t;
        w->epfd = -1;
        w->conns = cs + at;
        w->nconns = n;
        w->cpu = g_o.ncpus ? g_o.cpus[t % g_o.ncpus] : -1;
        w->rx = region_take(RX_BUF);
        at += n;
    }
    return ws;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void report(struct worker *ws, uint64_t t0, uint64_t t1, const struct cpu_sample *a,
                   const struct cpu_sample *b, double xcpu_before, double xcpu_after,
                   double sys_before, double sys_after)
{
    static uint64_t hist[HIST_SIZE];
    uint64_t msgs = 0, bytes = 0;
    for (int t = 0; t < g_o.threads; t++) {
        msgs += ws[t].msgs;
        bytes += ws[t].bytes;
        for (int i = 0; i < HIST_SIZE; i++)
            hist[i] += ws[t].hist[i];
    }
    double secs = (double)(t1 - t0) / 1e9, hz = (double)sysconf(_SC_CLK_TCK);
    double rate = (double)msgs / secs, mbps = (double)bytes * 2 / secs / 1e6;
    double p50 = hist_quantile(hist, msgs, 0.5) / 1e3, p99 = hist_quantile(hist, msgs, 0.99) / 1e3,
           p999 = hist_quantile(hist, msgs, 0.999) / 1e3;
    /* Server CPU per message in µs: ticks / hz / msgs * 1e6; -1 when not measured. */
    double core_us = -1, proc_us = -1, busy = -1, irq_us = -1;
    if (g_o.server_cpu >= 0 && msgs && b->core_total > a->core_total) {
        core_us = (double)(b->core_busy - a->core_busy) / hz / (double)msgs * 1e6;
        irq_us = (double)(b->core_irq - a->core_irq) / hz / (double)msgs * 1e6;
        busy = (double)(b->core_busy - a->core_busy) / (double)(b->core_total - a->core_total);
    }
    if (g_o.server_pid > 0 && msgs)
        proc_us = (double)(b->proc - a->proc) / hz / (double)msgs * 1e6;
    if (!g_o.quiet) {
        printf("loadgen %s: %d conns x %d B, depth %d, %.2f s: %" PRIu64 " msgs\n", g_o.label,
               g_o.conns, g_o.size, g_o.depth, secs, msgs);
        printf("  %.0f msgs/s, %.1f MB/s (sent+echoed), RTT p50 %.1f us p99 %.1f us p999 %.1f us\n",
               rate, mbps, p50, p99, p999);
        if (core_us >= 0)
            printf("  server core %d: %.1f%% busy, %.2f us/msg (irq+softirq %.2f); process %.2f "
                   "us/msg\n",
                   g_o.server_cpu, busy * 100, core_us, irq_us, proc_us);
    }
    printf("RESULT label=%s conns=%d size=%d depth=%d secs=%.3f msgs=%" PRIu64
           " msgs_per_s=%.0f mb_per_s=%.2f p50_us=%.1f p99_us=%.1f p999_us=%.1f"
           " srv_core_us_per_msg=%.3f srv_irq_us_per_msg=%.3f srv_proc_us_per_msg=%.3f"
           " srv_core_busy=%.3f xcpu_ns_before=%.0f xcpu_ns_after=%.0f"
           " sys_ns_before=%.0f sys_ns_after=%.0f lg_huge=%d errors=0\n",
           g_o.label, g_o.conns, g_o.size, g_o.depth, secs, msgs, rate, mbps, p50, p99, p999,
           core_us, irq_us, proc_us, busy, xcpu_before, xcpu_after, sys_before, sys_after,
           g_region_huge);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    raise_nofile();
    if (g_o.probe_only) {
        double ns = probe_xcpu(g_o.cpus[0], g_o.server_cpu);
        printf("RESULT xcpu_ns=%.0f sys_ns=%.0f\n", ns, probe_syscall(g_o.server_cpu));
        return ns < 0;
    }
    region_init(2 * PAT_LEN + (size_t)g_o.threads * RX_BUF + 64 * (size_t)(g_o.threads + 1));
    pattern_init();
    if (g_o.server_pid > 0 && g_o.server_cpu >= 0) {
        int rc = pin_server(g_o.server_pid, g_o.server_cpu);
        if (rc < 0) {
            fprintf(stderr, "loadgen: pinning pid %d to cpu %d: %s\n", g_o.server_pid,
                    g_o.server_cpu, strerror(-rc));
            return 1;
        }
    }
    double xcpu_before = probe_wanted() ? probe_xcpu(g_o.cpus[0], g_o.server_cpu) : -1;
    double sys_before = probe_syscall(g_o.server_cpu);
    struct worker *ws = make_workers();
    g_ready.left = (unsigned)g_o.threads + 1;
    for (int t = 0; t < g_o.threads; t++)
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            return 1;
        }
    ready_wait();

    struct cpu_sample a, b;
    uint64_t t0 = 0, t1 = 0;
    if (!atomic_load(&g_failed)) {
        sleep_s(g_o.warmup);
        sample(&a);
        t0 = now_ns();
        atomic_store(&g_phase, PH_MEASURE);
        sleep_s(g_o.duration);
        atomic_store(&g_phase, PH_DRAIN);
        t1 = now_ns();
        sample(&b);
    }
    atomic_store(&g_phase, PH_DRAIN);
    int code = 0;
    for (int t = 0; t < g_o.threads; t++) {
        pthread_join(ws[t].th, NULL);
        if (ws[t].error) {
            fprintf(stderr, "loadgen %s: FAIL: %s\n", g_o.label, ws[t].error);
            code = 1;
        }
    }
    if (code == 0)
        report(ws, t0, t1, &a, &b, xcpu_before,
               probe_wanted() ? probe_xcpu(g_o.cpus[0], g_o.server_cpu) : -1, sys_before,
               probe_syscall(g_o.server_cpu));
    for (int i = 0; i < g_o.conns; i++) {
        if (ws[0].conns[i].fd >= 0)
            close(ws[0].conns[i].fd);
        free(ws[0].conns[i].ts);
    }
    for (int t = 0; t < g_o.threads; t++) {
        if (ws[t].epfd >= 0)
            close(ws[t].epfd);
    }
    free(ws[0].conns);
    free(ws);
    munmap(g_map, g_map_len);
    return code;
}
