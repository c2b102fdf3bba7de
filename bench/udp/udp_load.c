/*
 * udp_load - the UDP echo benchmark's load generator (bench/udp): N flows,
 * each its own UDP socket connected to the server, each keeping a window of
 * datagrams in flight, for a fixed time; every byte of every reply is
 * checked.
 *
 *   udp_load --port P [--host ADDR] [--flows N] [--window W] [--size B]
 *            [--duration S] [--warmup S] [--drain S] [--loss-timeout MS]
 *            [--server-pid PID] [--server-cpu C] [--label L] [--quiet]
 *
 * A datagram is B bytes (16..65507): its flow (4 bytes), a constant (4) and
 * its sequence number in the flow (8), then a body copied from the flow's
 * own random pattern at an offset that the sequence number picks, so every
 * datagram of every flow differs and a reply is checked with one memcmp. A
 * reply must come back to the socket that sent it, whole, with those bytes;
 * anything else (a wrong length, flow, constant, a body that differs, a
 * sequence number never sent) is an error: udp_load stops after that
 * batch of replies and exits 1.
 *
 * UDP may drop: a datagram not back within the loss timeout (default
 * 200 ms) is given up and its place in the window goes to a new one, so
 * that a drop does not stall the flow; if it comes back after that it
 * counts as late (received, without a latency). After the measured window
 * the flows stop sending and wait (--drain, default 0.5 s) for what is
 * still in flight: lost = sent - received at the end.
 *
 * The measured window (after --warmup) counts the replies that arrived in
 * it (datagrams/s) and their round trips (p50, p99, from the send to the
 * reply, 100 ns resolution). With --server-pid, the server process's CPU
 * time (utime + stime of /proc/PID/stat, every thread, clock ticks) over the
 * window, per reply; with --server-cpu, that CPU's busy time (user, nice,
 * system, irq, softirq of /proc/stat) per reply: it holds the softirq work
 * of the loopback that runs on the server's core and is not charged to the
 * server process.
 *
 * macOS has no recvmmsg/sendmmsg, no epoll and no /proc: there each
 * datagram is its own recvmsg/sendmsg (the batches stay, the calls do not),
 * kqueue waits, and --server-pid and --server-cpu are refused.
 *
 * The last line is "RESULT key=value ...", for scripts/bench-udp. Exit: 0,
 * 1 (an error, or no reply at all in the window), 2 (usage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#else
#include <sys/event.h>
#endif

#define MAGIC       0x56554450u /* "VUDP" */
#define HDR         16
#define SIZE_MAX_   65507
#define BATCH       64
#define BUCKET_NS   100
#define BUCKETS     500000 /* 50 ms; slower round trips land in the last one */
#define PATTERN_OFF 256

struct slot {
    uint64_t seq, sent_ns;
    bool used;
};

struct flow {
    int fd;
    uint32_t id;
    uint64_t next_seq;
    uint32_t outstanding;
    struct slot *slots;     /* cap of them, seq % cap */
    unsigned char *pattern; /* PATTERN_OFF + size bytes */
};

struct opts {
    const char *host, *label;
    int port, flows, window, size, server_pid, server_cpu;
    double duration, warmup, drain, loss_timeout_ms;
    bool quiet;
};

static uint64_t g_cap;
static uint32_t g_hist[BUCKETS];
static uint64_t g_sent, g_received, g_late, g_gaveup, g_errors, g_window_replies;
static bool g_measuring;

#ifndef __linux__
/* Linux's batch calls, one system call per datagram: n sent or received
 * (up to the first that would block or fails), or -1 with errno when the
 * first one does. */
struct mmsghdr {
    struct msghdr msg_hdr;
    unsigned msg_len;
};

static int sendmmsg(int fd, struct mmsghdr *m, unsigned n, int flags)
{
    unsigned k = 0;
    for (; k < n; k++) {
        ssize_t r = sendmsg(fd, &m[k].msg_hdr, flags);
        if (r < 0)
            break;
        m[k].msg_len = (unsigned)r;
    }
    return k > 0 ? (int)k : -1;
}

static int recvmmsg(int fd, struct mmsghdr *m, unsigned n, int flags, struct timespec *timeout)
{
    (void)timeout; /* always NULL here */
    unsigned k = 0;
    for (; k < n; k++) {
        ssize_t r = recvmsg(fd, &m[k].msg_hdr, flags);
        if (r < 0)
            break;
        m[k].msg_len = (unsigned)r;
    }
    return k > 0 ? (int)k : -1;
}
#endif

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
    fprintf(stderr, "usage: udp_load --port P [--host ADDR] [--flows N] [--window W] [--size B]\n"
                    "                [--duration S] [--warmup S] [--drain S] [--loss-timeout MS]\n"
                    "                [--server-pid PID] [--server-cpu C] [--label L] [--quiet]\n");
    return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){"127.0.0.1", "udp", 0, 8, 8, 64, 0, -1, 2.0, 0.3, 0.5, 200.0, false};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            o->port = atoi(v);
        else if (strcmp(a, "--host") == 0)
            o->host = v;
        else if (strcmp(a, "--label") == 0)
            o->label = v;
        else if (strcmp(a, "--flows") == 0)
            o->flows = atoi(v);
        else if (strcmp(a, "--window") == 0)
            o->window = atoi(v);
        else if (strcmp(a, "--size") == 0)
            o->size = atoi(v);
        else if (strcmp(a, "--server-pid") == 0)
            o->server_pid = atoi(v);
        else if (strcmp(a, "--server-cpu") == 0)
            o->server_cpu = atoi(v);
        else if (strcmp(a, "--duration") == 0)
            o->duration = atof(v);
        else if (strcmp(a, "--warmup") == 0)
            o->warmup = atof(v);
        else if (strcmp(a, "--drain") == 0)
            o->drain = atof(v);
        else if (strcmp(a, "--loss-timeout") == 0)
            o->loss_timeout_ms = atof(v);
        else
            return -1;
    }
#ifndef __linux__
    if (o->server_pid > 0 || o->server_cpu >= 0) {
        fprintf(stderr, "udp_load: --server-pid and --server-cpu read /proc (Linux)\n");
        return -1;
    }
#endif
    if (o->port <= 0 || o->port > 65535 || o->flows < 1 || o->flows > 4096 || o->window < 1 ||
        o->window > 4096 || o->size < HDR || o->size > SIZE_MAX_ || o->duration <= 0 ||
        o->warmup < 0 || o->drain < 0 || o->loss_timeout_ms <= 0)
        return -1;
    return 0;
}

/* utime + stime of every thread of pid, in clock ticks; -1 if unreadable. */
static long long proc_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    unsigned long long ut, st;
    /* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime. */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* user + nice + system + irq + softirq of CPU cpu (/proc/stat), clock ticks; -1 if unreadable. */
static long long core_ticks(int cpu)
{
    char line[512], name[16];
    snprintf(name, sizeof name, "cpu%d ", cpu);
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    long long r = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, strlen(name)) != 0)
            continue;
        unsigned long long us, ni, sy, id, io, irq, sirq;
        if (sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu", &us, &ni, &sy, &id,
                   &io, &irq, &sirq) == 7)
            r = (long long)(us + ni + sy + irq + sirq);
        break;
    }
    fclose(f);
    return r;
}

static int open_flow(const struct opts *o, struct flow *fl, uint32_t id)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, o->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)o->port);
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, o->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)o->port);
        len = sizeof *s6;
    } else {
        fprintf(stderr, "udp_load: --host %s: not an IPv4 or IPv6 address\n", o->host);
        return -1;
    }
#ifdef SOCK_NONBLOCK
    fl->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    fl->fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fl->fd >= 0 && fcntl(fl->fd, F_SETFL, O_NONBLOCK) < 0) {
        close(fl->fd);
        fl->fd = -1;
    }
#endif
    if (fl->fd < 0 || connect(fl->fd, (struct sockaddr *)&ss, len) < 0) {
        perror("udp_load: socket/connect");
        return -1;
    }
    fl->id = id;
    fl->next_seq = 1;
    fl->outstanding = 0;
    fl->slots = calloc(g_cap, sizeof *fl->slots);
    fl->pattern = malloc(PATTERN_OFF + (size_t)o->size);
    if (fl->slots == NULL || fl->pattern == NULL) {
        fprintf(stderr, "udp_load: out of memory\n");
        return -1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull * (id + 1);
    for (size_t i = 0; i < PATTERN_OFF + (size_t)o->size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        fl->pattern[i] = (unsigned char)(x >> 24);
    }
    return 0;
}

/* Datagram seq of flow fl into p (size bytes). */
static void fill(const struct flow *fl, uint64_t seq, unsigned char *p, int size)
{
    uint32_t magic = MAGIC;
    memcpy(p, &fl->id, 4);
    memcpy(p + 4, &magic, 4);
    memcpy(p + 8, &seq, 8);
    memcpy(p + HDR, fl->pattern + (seq % PATTERN_OFF), (size_t)size - HDR);
}

/* Fill fl's window; false on a send error. */
static bool refill(const struct opts *o, struct flow *fl, unsigned char (*buf)[SIZE_MAX_ + 1],
                   struct mmsghdr *msgs, struct iovec *iov)
{
    while (fl->outstanding < (uint32_t)o->window) {
        unsigned n = 0;
        uint64_t seq = fl->next_seq;
        while (n < BATCH && fl->outstanding + n < (uint32_t)o->window &&
               !fl->slots[(seq + n) % g_cap].used) {
            fill(fl, seq + n, buf[n], o->size);
            iov[n] = (struct iovec){buf[n], (size_t)o->size};
            msgs[n].msg_hdr = (struct msghdr){.msg_iov = &iov[n], .msg_iovlen = 1};
            n++;
        }
        if (n == 0)
            return true; /* an older datagram still holds the next slot */
        int k = sendmmsg(fl->fd, msgs, n, 0);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)
                return true;
            if (errno == ECONNREFUSED) /* an ICMP error from a send before: the server is gone */
                fprintf(stderr, "udp_load: flow %u: the server refused (is it running?)\n", fl->id);
            else
                perror("udp_load: sendmmsg");
            return false;
        }
        uint64_t t = now_ns();
        for (int i = 0; i < k; i++) {
            struct slot *s = &fl->slots[(seq + (uint64_t)i) % g_cap];
            *s = (struct slot){seq + (uint64_t)i, t, true};
        }
        fl->next_seq += (uint64_t)k;
        fl->outstanding += (uint32_t)k;
        g_sent += (uint64_t)k;
        if ((unsigned)k < n)
            return true;
    }
    return true;
}

/* Take and check what arrived on fl; false on a receive error or a bad reply. */
static bool drain_flow(const struct opts *o, struct flow *fl, unsigned char (*buf)[SIZE_MAX_ + 1],
                       struct mmsghdr *msgs, struct iovec *iov, unsigned char *expect)
{
    for (;;) {
        for (unsigned i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){buf[i], SIZE_MAX_ + 1};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int k = recvmmsg(fl->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return true;
            if (errno == ECONNREFUSED) {
                fprintf(stderr, "udp_load: flow %u: the server refused (is it running?)\n", fl->id);
                return false;
            }
            perror("udp_load: recvmmsg");
            return false;
        }
        uint64_t t = now_ns();
        for (int i = 0; i < k; i++) {
            const unsigned char *p = buf[i];
            uint32_t id, magic;
            uint64_t seq;
            memcpy(&id, p, 4);
            memcpy(&magic, p + 4, 4);
            memcpy(&seq, p + 8, 8);
            const char *why = NULL;
            if (msgs[i].msg_len != (unsigned)o->size || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
                why = "wrong length";
            else if (id != fl->id || magic != MAGIC)
                why = "wrong flow or header";
            else if (seq == 0 || seq >= fl->next_seq)
                why = "a sequence number never sent";
            else {
                fill(fl, seq, expect, o->size);
                if (memcmp(expect, p, (size_t)o->size) != 0)
                    why = "corrupt payload";
            }
            if (why != NULL) {
                if (g_errors++ < 5)
                    fprintf(stderr,
                            "udp_load: FAIL flow %u: %s (%u bytes, expected %d; seq %" PRIu64 ")\n",
                            fl->id, why, msgs[i].msg_len, o->size, seq);
                continue;
            }
            g_received++;
            struct slot *s = &fl->slots[seq % g_cap];
            if (!s->used || s->seq != seq) {
                g_late++; /* given up on before; it came after all */
                continue;
            }
            s->used = false;
            fl->outstanding--;
            if (g_measuring) {
                g_window_replies++;
                uint64_t b = (t - s->sent_ns) / BUCKET_NS;
                g_hist[b < BUCKETS ? b : BUCKETS - 1]++;
            }
        }
        if (g_errors > 0)
            return false; /* the run is void: stop at the first bad batch */
        if (k < BATCH)
            return true;
    }
}

/* Give up on the datagrams of fl older than the loss timeout. */
static void expire(struct flow *fl, uint64_t now, uint64_t timeout_ns)
{
    for (uint64_t i = 0; i < g_cap && fl->outstanding > 0; i++) {
        struct slot *s = &fl->slots[i];
        if (s->used && now - s->sent_ns > timeout_ns) {
            s->used = false;
            fl->outstanding--;
            g_gaveup++;
        }
    }
}

static double percentile(uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)((double)total * q), seen = 0;
    if (want >= total)
        want = total - 1;
    for (uint32_t b = 0; b < BUCKETS; b++) {
        seen += g_hist[b];
        if (seen > want)
            return (double)(b + 1) * BUCKET_NS / 1000.0;
    }
    return (double)BUCKETS * BUCKET_NS / 1000.0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0)
        return usage();
    g_cap = 1;
    while (g_cap < 4 * (uint64_t)o.window)
        g_cap <<= 1;
    struct flow *flows = calloc((size_t)o.flows, sizeof *flows);
    static unsigned char buf[BATCH][SIZE_MAX_ + 1];
    static unsigned char expect[SIZE_MAX_ + 1];
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
#ifdef __linux__
    int ep = epoll_create1(EPOLL_CLOEXEC);
#else
    int ep = kqueue();
#endif
    if (flows == NULL || ep < 0) {
        perror("udp_load: setup");
        return 1;
    }
    for (int i = 0; i < o.flows; i++) {
        if (open_flow(&o, &flows[i], (uint32_t)i) < 0)
            return 1;
#ifdef __linux__
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &flows[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, flows[i].fd, &ev) < 0) {
#else
        struct kevent ev;
        EV_SET(&ev, (uintptr_t)flows[i].fd, EVFILT_READ, EV_ADD, 0, 0, &flows[i]);
        if (kevent(ep, &ev, 1, NULL, 0, NULL) < 0) {
#endif
            perror("udp_load: epoll_ctl/kevent");
            return 1;
        }
    }
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t timeout_ns = (uint64_t)(o.loss_timeout_ms * 1e6);
    uint64_t t0 = now_ns();
    uint64_t t_start = t0 + (uint64_t)(o.warmup * 1e9);
    uint64_t t_end = t_start + (uint64_t)(o.duration * 1e9);
    uint64_t t_drain = t_end + (uint64_t)(o.drain * 1e9);
    uint64_t next_expire = t0 + timeout_ns / 4, m_start = 0, m_end = 0;
    long long p0 = -1, p1 = -1, c0 = -1, c1 = -1;
    enum { WARMUP, MEASURE, DRAIN } phase = WARMUP;
    bool ok = true;
#ifdef __linux__
    struct epoll_event evs[64];
#else
    struct kevent evs[64];
    const struct timespec tick = {0, 5000000};
#endif
    for (int i = 0; i < o.flows && ok; i++)
        ok = refill(&o, &flows[i], buf, msgs, iov);
    while (ok) {
        uint64_t now = now_ns();
        if (phase == WARMUP && now >= t_start) {
            phase = MEASURE;
            g_measuring = true;
            if (o.server_pid > 0)
                p0 = proc_ticks(o.server_pid);
            if (o.server_cpu >= 0)
                c0 = core_ticks(o.server_cpu);
            m_start = now_ns();
        } else if (phase == MEASURE && now >= t_end) {
            m_end = now_ns();
            if (o.server_pid > 0)
                p1 = proc_ticks(o.server_pid);
            if (o.server_cpu >= 0)
                c1 = core_ticks(o.server_cpu);
            phase = DRAIN;
            g_measuring = false;
        }
        if (phase == DRAIN) {
            uint64_t out = 0;
            for (int i = 0; i < o.flows; i++)
                out += flows[i].outstanding;
            if (out == 0 || now >= t_drain)
                break;
        }
        if (now >= next_expire) {
            for (int i = 0; i < o.flows; i++)
                expire(&flows[i], now, timeout_ns);
            next_expire = now + timeout_ns / 4;
        }
#ifdef __linux__
        int n = epoll_wait(ep, evs, 64, 5);
#else
        int n = kevent(ep, NULL, 0, evs, 64, &tick);
#endif
        if (n < 0 && errno != EINTR) {
            perror("udp_load: epoll_wait/kevent");
            ok = false;
            break;
        }
        for (int i = 0; i < n && ok; i++) {
#ifdef __linux__
            struct flow *fl = evs[i].data.ptr;
#else
            struct flow *fl = evs[i].udata;
#endif
            ok = drain_flow(&o, fl, buf, msgs, iov, expect);
            if (ok && phase != DRAIN)
                ok = refill(&o, fl, buf, msgs, iov);
        }
        if (ok && phase != DRAIN) /* windows that lost datagrams to the expiry */
            for (int i = 0; i < o.flows && ok; i++)
                if (flows[i].outstanding < (uint32_t)o.window / 2 + 1)
                    ok = refill(&o, &flows[i], buf, msgs, iov);
    }
    if (m_end == 0) { /* stopped early on an error */
        m_end = now_ns();
        if (m_start == 0)
            m_start = m_end;
    }
    double secs = (double)(m_end - m_start) / 1e9;
    double rate = secs > 0 ? (double)g_window_replies / secs : 0;
    double per = g_window_replies > 0 ? 1e9 / (double)hz / (double)g_window_replies : 0;
    double srv_ns = p0 >= 0 && p1 >= 0 ? (double)(p1 - p0) * per : -1;
    double core_ns = c0 >= 0 && c1 >= 0 ? (double)(c1 - c0) * per : -1;
    uint64_t lost = g_sent > g_received ? g_sent - g_received : 0;
    if (g_received > g_sent)
        g_errors++; /* more replies than datagrams: duplicates */
    if (!o.quiet)
        fprintf(stderr,
                "udp_load %s: %d flows x window %d x %d B: %.0f datagrams/s, p50 %.1f us, p99 "
                "%.1f us, lost %" PRIu64 " of %" PRIu64 "\n",
                o.label, o.flows, o.window, o.size, rate, percentile(g_window_replies, 0.5),
                percentile(g_window_replies, 0.99), lost, g_sent);
    printf("RESULT label=%s size=%d flows=%d window=%d seconds=%.3f dgrams=%" PRIu64
           " dgrams_per_s=%.0f sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64 " late=%" PRIu64
           " gaveup=%" PRIu64 " errors=%" PRIu64
           " p50_us=%.1f p99_us=%.1f srv_ns_per_dgram=%.1f core_ns_per_dgram=%.1f\n",
           o.label, o.size, o.flows, o.window, secs, g_window_replies, rate, g_sent, g_received,
           lost, g_late, g_gaveup, g_errors, percentile(g_window_replies, 0.5),
           percentile(g_window_replies, 0.99), srv_ns, core_ns);
    return ok && g_errors == 0 && g_window_replies > 0 ? 0 : 1;
}
