/*
 * soak_client - the client side of scripts/soak: many connections with
 * byte-checked echo traffic, hostile clients, and a latency probe, against
 * an echo server on loopback. Plain sockets and the system's poller (epoll
 * on Linux, kqueue on macOS and where SOAK_KQUEUE is defined, e.g. Linux
 * with libkqueue), no vllsi: it checks the server from the outside.
 *
 *   soak_client --port P [--host 127.0.0.1] --mode load|hold|probe|hostile
 *               [--conns N] [--duration S] [--size B] [--interval-ms MS]
 *               [--window B] [--drain-ms MS] [--kind reset|halfclose|slowread|noread]
 *               [--max-rtt-ms MS]
 *
 * load     N connections; each sends a --size message every --interval-ms
 *          (at most --window bytes unechoed) and checks every echoed byte
 *          against its own pattern. After --duration it stops sending and
 *          waits up to --drain-ms for every echo. Fails on a wrong byte, a
 *          lost byte, or a connection that failed or was closed early.
 * hold     N connections, no traffic, held for --duration (descriptor
 *          pressure on the server); reports how many were established.
 * probe    one well-behaved connection doing a 64-byte round trip every
 *          100 ms for --duration; fails when one takes over --max-rtt-ms or
 *          the connection fails. With --kind reconnect every round trip
 *          uses a new connection (checks that the server still accepts).
 * hostile  N connections of one --kind, over and over for --duration:
 *          reset (send half a message, then close with RST), halfclose
 *          (send a message, shut down writing, read the whole echo and EOF;
 *          checked), slowread (send 1 MiB, read one byte per 5 ms;
 *          checked), noread (send until the socket is full, never read).
 *
 * The last line printed is the summary ("soak_client: ok ..." or
 * "soak_client: FAIL ..."); the exit status is 0 or 1 (2: bad usage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && !defined(SOAK_KQUEUE)
#include <sys/epoll.h>
#else
#define SOAK_KQUEUE 1
#include <sys/event.h>
#endif

enum mode { M_LOAD, M_HOLD, M_PROBE, M_HOSTILE };
enum kind { K_RESET, K_HALFCLOSE, K_SLOWREAD, K_NOREAD, K_RECONNECT };
enum cstate { C_IDLE, C_CONNECTING, C_OPEN, C_DONE, C_FAILED };

struct opts {
    const char *host;
    int port;
    enum mode mode;
    enum kind kind;
    long conns, duration_s, size, interval_ms, window, drain_ms, max_rtt_ms;
};

struct conn {
    int fd;
    uint32_t id;
    enum cstate state;
    bool want_out;
    uint64_t sent, echoed;
    uint64_t msg_left; /* bytes of the current message still to write */
    int64_t next_ms;   /* when the next message is due                 */
    bool wr_shut;
};

static struct {
    uint64_t sent, echoed, mismatched, failed, closed_early, connected, cycles, connect_failed;
    int64_t max_rtt_ms;
} g_stat;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint8_t pattern(uint32_t id, uint64_t pos)
{
    return (uint8_t)(pos * 7 + id * 13 + (pos >> 8));
}

static void fill(uint8_t *buf, size_t n, uint32_t id, uint64_t pos)
{
    for (size_t k = 0; k < n; k++)
        buf[k] = pattern(id, pos + k);
}

/* Check n received bytes of conn c at stream offset c->echoed. */
static void check_echo(struct conn *c, const uint8_t *buf, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (buf[k] != pattern(c->id, c->echoed + k))
            g_stat.mismatched++;
    c->echoed += n;
    g_stat.echoed += n;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
#ifdef OPEN_MAX
            /* macOS refuses more than OPEN_MAX (its hard limit may read
             * "unlimited"). */
            rl.rlim_cur = OPEN_MAX;
            setrlimit(RLIMIT_NOFILE, &rl);
#endif
        }
    }
}

static int g_ep = -1; /* the epoll or kqueue descriptor */
static struct sockaddr_in g_addr;

/* What the poller reports for a connection: readable (data, EOF or an
 * error to read), writable, in error or hung up, and W_FAIL when it also
 * named the socket's error (kqueue's fflags): libkqueue takes SO_ERROR to
 * report it, so a failed connect must not be judged by SO_ERROR alone. */
enum { W_IN = 1, W_OUT = 2, W_ERR = 4, W_FAIL = 8 };

static int poller_create(void)
{
#ifdef SOAK_KQUEUE
    return kqueue();
#else
    return epoll_create1(EPOLL_CLOEXEC);
#endif
}

/* Watch c's fd for reading, and for writing while it connects or has
 * bytes waiting; add: first call for this fd. */
static void ep_set(struct conn *c, bool add)
{
    bool out = c->want_out || c->state == C_CONNECTING;
#ifdef SOAK_KQUEUE
    struct kevent ch[2];
    int n = 0;
    if (add)
        EV_SET(&ch[n++], (uintptr_t)c->fd, EVFILT_READ, EV_ADD, 0, 0, c);
    EV_SET(&ch[n++], (uintptr_t)c->fd, EVFILT_WRITE, EV_ADD | (out ? EV_ENABLE : EV_DISABLE), 0, 0,
           c);
    kevent(g_ep, ch, n, NULL, 0, NULL);
#else
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (out)
        ev.events |= EPOLLOUT;
    epoll_ctl(g_ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev);
#endif
}

/* A non-blocking TCP socket that is not inherited across exec. */
static int tcp_socket(void)
{
#ifdef SOCK_NONBLOCK
    return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0)) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
#endif
}

static int conn_open(struct conn *c)
{
    c->fd = tcp_socket();
    if (c->fd < 0)
        return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->sent = c->echoed = c->msg_left = 0;
    c->want_out = false;
    c->wr_shut = false;
    int rc = connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr));
    if (rc < 0 && errno != EINPROGRESS) {
        int err = -errno;
        close(c->fd);
        c->fd = -1;
        return err;
    }
    c->state = rc == 0 ? C_OPEN : C_CONNECTING;
    if (rc == 0)
        g_stat.connected++;
    ep_set(c, true);
    return 0;
}

static void conn_close(struct conn *c, bool reset)
{
    if (c->fd < 0)
        return;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
#ifdef SOAK_KQUEUE
    /* Drop the filters first: libkqueue does not see a close, and would keep
     * them (no longer polled) for the next socket given this number. One
     * change per call: a failed one ends a call that has no event list. */
    struct kevent ch;
    EV_SET(&ch, (uintptr_t)c->fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    kevent(g_ep, &ch, 1, NULL, 0, NULL);
    EV_SET(&ch, (uintptr_t)c->fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    kevent(g_ep, &ch, 1, NULL, 0, NULL);
#endif
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
}

static void conn_fail(struct conn *c)
{
    if (c->state == C_CONNECTING)
        g_stat.connect_failed++;
    if (c->state != C_FAILED && c->state != C_DONE)
        g_stat.failed++;
    c->state = C_FAILED;
    conn_close(c, false);
}

/* Write what the current message still needs; watch for writing on a full socket. */
static void pump_out(struct conn *c)
{
    uint8_t buf[65536];
    while (c->msg_left > 0) {
        size_t n = c->msg_left < sizeof(buf) ? (size_t)c->msg_left : sizeof(buf);
        fill(buf, n, c->id, c->sent);
        ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) {
                if (!c->want_out) {
                    c->want_out = true;
                    ep_set(c, false);
                }
                return;
            }
            conn_fail(c);
            return;
        }
        c->sent += (uint64_t)w;
        g_stat.sent += (uint64_t)w;
        c->msg_left -= (uint64_t)w;
    }
    if (c->want_out) {
        c->want_out = false;
        ep_set(c, false);
    }
}

/* Read and check echoes; max caps one call (slowread reads one byte). */
static void pump_in(struct conn *c, size_t max)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t r = recv(c->fd, buf, max < sizeof(buf) ? max : sizeof(buf), 0);
        if (r > 0) {
            check_echo(c, buf, (size_t)r);
            if (max < sizeof(buf))
                return;
            continue;
        }
        if (r < 0 && errno == EAGAIN)
            return;
        /* EOF or an error: expected only after we shut our side down. */
        if (c->wr_shut && r == 0) {
            c->state = C_DONE;
            conn_close(c, false);
        } else {
            g_stat.closed_early++;
            conn_fail(c);
        }
        return;
    }
}

static void on_event(struct conn *c, uint32_t ev, size_t max_in)
{
    if (c->state == C_CONNECTING && (ev & (W_OUT | W_ERR))) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (ev & W_FAIL)) {
            conn_fail(c);
            return;
        }
        c->state = C_OPEN;
        g_stat.connected++;
        ep_set(c, false);
    }
    if (c->state != C_OPEN)
        return;
    if (ev & W_OUT)
        pump_out(c);
    if (c->state == C_OPEN && (ev & (W_IN | W_ERR)) && max_in > 0)
        pump_in(c, max_in);
}

/* Events of a closed connection that came in the same batch find it
 * C_FAILED or C_DONE, which on_event ignores. */
static void poll_once(int timeout_ms, size_t max_in)
{
#ifdef SOAK_KQUEUE
    struct kevent evs[256];
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    int n = kevent(g_ep, NULL, 0, evs, 256, &ts);
    for (int k = 0; k < n; k++) {
        if (evs[k].flags & EV_ERROR)
            continue; /* a change that failed: the fd was closed meanwhile */
        uint32_t ev = evs[k].filter == EVFILT_WRITE ? W_OUT : W_IN;
        if ((evs[k].flags & EV_EOF) && evs[k].fflags != 0)
            ev |= W_ERR | W_FAIL; /* fflags: the socket's error */
        else if ((evs[k].flags & EV_EOF) && evs[k].filter == EVFILT_WRITE)
            ev |= W_ERR; /* EOF for writing: hung up */
        on_event(evs[k].udata, ev, max_in);
    }
#else
    struct epoll_event evs[256];
    int n = epoll_wait(g_ep, evs, 256, timeout_ms);
    for (int k = 0; k < n; k++) {
        uint32_t e = evs[k].events, ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
            ev |= W_IN;
        if (e & EPOLLOUT)
            ev |= W_OUT;
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= W_ERR;
        on_event(evs[k].data.ptr, ev, max_in);
    }
#endif
}

/* Open all connections, at most 256 handshakes at once (the listen backlog). */
static void open_all(struct conn *cs, long n)
{
    int64_t deadline = now_ms() + 30000;
    long next = 0;
    while (now_ms() < deadline) {
        long pending = 0, done = 0;
        for (long k = 0; k < next; k++) {
            pending += cs[k].state == C_CONNECTING;
            done += cs[k].state != C_CONNECTING;
        }
        if (next == n && pending == 0)
            return;
        while (next < n && pending < 256) {
            cs[next].id = (uint32_t)next;
            if (conn_open(&cs[next]) < 0) {
                cs[next].state = C_FAILED;
                g_stat.failed++;
            }
            pending += cs[next].state == C_CONNECTING;
            next++;
        }
        poll_once(10, 0);
        (void)done;
    }
    for (long k = 0; k < n; k++)
        if (cs[k].state == C_CONNECTING)
            conn_fail(&cs[k]);
}

/* ---- modes ----------------------------------------------------------------- */

static int run_load(const struct opts *o, struct conn *cs)
{
    open_all(cs, o->conns);
    int64_t start = now_ms(), end = start + o->duration_s * 1000;
    for (long k = 0; k < o->conns; k++)
        cs[k].next_ms = start + (o->interval_ms ? k % o->interval_ms : 0);
    while (now_ms() < end) {
        int64_t t = now_ms();
        for (long k = 0; k < o->conns; k++) {
            struct conn *c = &cs[k];
            if (c->state != C_OPEN || c->msg_left > 0 || t < c->next_ms ||
                c->sent - c->echoed + (uint64_t)o->size > (uint64_t)o->window)
                continue;
            c->msg_left = (uint64_t)o->size;
            c->next_ms = t + o->interval_ms;
            pump_out(c);
        }
        poll_once(o->interval_ms < 20 ? 1 : 10, SIZE_MAX);
    }
    /* Drain: finish the messages under way and wait for every echo. */
    int64_t drain_end = now_ms() + o->drain_ms;
    for (;;) {
        uint64_t missing = 0;
        for (long k = 0; k < o->conns; k++)
            if (cs[k].state == C_OPEN)
                missing += cs[k].sent - cs[k].echoed + cs[k].msg_left;
        if (missing == 0 || now_ms() >= drain_end)
            break;
        poll_once(10, SIZE_MAX);
    }
    uint64_t lost = 0;
    for (long k = 0; k < o->conns; k++)
        lost += cs[k].sent - cs[k].echoed;
    printf("soak_client: load conns=%ld established=%llu sent=%llu echoed=%llu lost=%llu "
           "mismatched=%llu failed=%llu closed_early=%llu\n",
           o->conns, (unsigned long long)g_stat.connected, (unsigned long long)g_stat.sent,
           (unsigned long long)g_stat.echoed, (unsigned long long)lost,
           (unsigned long long)g_stat.mismatched, (unsigned long long)g_stat.failed,
           (unsigned long long)g_stat.closed_early);
    return lost || g_stat.mismatched || g_stat.failed || g_stat.connected != (uint64_t)o->conns;
}

static int run_hold(const struct opts *o, struct conn *cs)
{
    open_all(cs, o->conns);
    printf("soak_client: hold established=%llu of %ld\n", (unsigned long long)g_stat.connected,
           o->conns);
    fflush(stdout);
    int64_t end = now_ms() + o->duration_s * 1000;
    while (now_ms() < end)
        poll_once(100, 0);
    return 0;
}

/* One 64-byte round trip on c within max_ms; its time, or -1. */
static int64_t round_trip(struct conn *c, long max_ms)
{
    int64_t t0 = now_ms();
    uint64_t want = c->sent + 64;
    c->msg_left = 64;
    pump_out(c);
    while (c->state == C_OPEN && c->echoed < want && now_ms() - t0 <= max_ms)
        poll_once(5, SIZE_MAX);
    return c->state == C_OPEN && c->echoed == want ? now_ms() - t0 : -1;
}

static int run_probe(const struct opts *o, struct conn *c)
{
    int64_t end = now_ms() + o->duration_s * 1000;
    long trips = 0, bad = 0, slow = 0, dropped = 0;
    bool fresh = o->kind == K_RECONNECT;
    while (now_ms() < end) {
        if (c->state != C_OPEN || fresh) {
            conn_close(c, false);
            c->state = C_IDLE;
            open_all(c, 1);
        }
        int64_t rtt = c->state == C_OPEN ? round_trip(c, o->max_rtt_ms) : -1;
        trips++;
        if (rtt < 0) {
            bad++;
            /* Tell a slow answer from a connection that failed or never came. */
            if (c->state == C_OPEN)
                slow++;
            else
                dropped++;
        } else if (rtt > g_stat.max_rtt_ms)
            g_stat.max_rtt_ms = rtt;
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    printf("soak_client: probe trips=%ld failed=%ld (slow %ld, connection lost %ld) "
           "max_rtt_ms=%lld mismatched=%llu\n",
           trips, bad, slow, dropped, (long long)g_stat.max_rtt_ms,
           (unsigned long long)g_stat.mismatched);
    return bad > 0 || g_stat.mismatched > 0;
}

/* One hostile cycle on c: start it (connect and misbehave). */
static void hostile_start(const struct opts *o, struct conn *c)
{
    if (conn_open(c) < 0) {
        c->state = C_FAILED;
        return;
    }
    /* Let the handshake finish first: blocking briefly is fine here. */
    for (int k = 0; k < 100 && c->state == C_CONNECTING; k++)
        poll_once(10, 0);
    if (c->state != C_OPEN)
        return;
    switch (o->kind) {
    case K_RESET:
        c->msg_left = (uint64_t)o->size / 2;
        pump_out(c);
        conn_close(c, true);
        c->state = C_DONE;
        break;
    case K_HALFCLOSE:
        c->msg_left = (uint64_t)o->size;
        while (c->msg_left > 0 && c->state == C_OPEN)
            pump_out(c), poll_once(1, SIZE_MAX);
        shutdown(c->fd, SHUT_WR);
        c->wr_shut = true;
        break;
    case K_SLOWREAD:
    case K_NOREAD:
        c->msg_left = 1u << 20;
        pump_out(c);
        break;
    default:
        break;
    }
    g_stat.cycles++;
}

static void slow_read_all(struct conn *cs, long n)
{
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
    for (long k = 0; k < n; k++) {
        uint8_t b;
        if (cs[k].state != C_OPEN)
            continue;
        ssize_t r = recv(cs[k].fd, &b, 1, MSG_DONTWAIT);
        if (r == 1)
            check_echo(&cs[k], &b, 1);
        else if (r == 0 || (r < 0 && errno != EAGAIN)) {
            g_stat.closed_early++;
            conn_fail(&cs[k]);
        }
    }
}

static int run_hostile(const struct opts *o, struct conn *cs)
{
    int64_t end = now_ms() + o->duration_s * 1000;
    while (now_ms() < end) {
        for (long k = 0; k < o->conns; k++) {
            struct conn *c = &cs[k];
            c->id = (uint32_t)k;
            bool again = o->kind == K_RESET || o->kind == K_HALFCLOSE;
            if (c->state == C_IDLE || (again && c->state == C_DONE)) {
                if (c->state == C_DONE && o->kind == K_HALFCLOSE && c->echoed != c->sent)
                    g_stat.mismatched++; /* EOF before the whole echo came back */
                c->state = C_IDLE;
                hostile_start(o, c);
            }
        }
        /* slowread takes one byte per connection every 5 ms, below. */
        bool reads = o->kind == K_RESET || o->kind == K_HALFCLOSE;
        poll_once(5, reads ? SIZE_MAX : 0);
        if (o->kind == K_SLOWREAD)
            slow_read_all(cs, o->conns);
        if (o->kind == K_SLOWREAD || o->kind == K_NOREAD)
            for (long k = 0; k < o->conns; k++)
                if (cs[k].state == C_OPEN && cs[k].msg_left > 0 && !cs[k].want_out)
                    pump_out(&cs[k]);
    }
    /* A server closing a hostile connection is its right (e.g. a reset one),
     * but a halfclose or slowread one must have been served correctly. */
    printf("soak_client: hostile kind=%d conns=%ld cycles=%llu sent=%llu echoed=%llu "
           "mismatched=%llu failed=%llu (connect failed %llu, closed early %llu)\n",
           (int)o->kind, o->conns, (unsigned long long)g_stat.cycles,
           (unsigned long long)g_stat.sent, (unsigned long long)g_stat.echoed,
           (unsigned long long)g_stat.mismatched, (unsigned long long)g_stat.failed,
           (unsigned long long)g_stat.connect_failed, (unsigned long long)g_stat.closed_early);
    bool checked = o->kind == K_HALFCLOSE || o->kind == K_SLOWREAD;
    return checked && (g_stat.mismatched > 0 || g_stat.failed > 0 || g_stat.echoed == 0);
}

/* ---- options --------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: soak_client --port P [--host A] --mode load|hold|probe|hostile\n"
                    "       [--conns N] [--duration S] [--size B] [--interval-ms MS]\n"
                    "       [--window B] [--drain-ms MS] [--max-rtt-ms MS]\n"
                    "       [--kind reset|halfclose|slowread|noread|reconnect]\n");
    return 2;
}

static int parse_kind(const char *v, enum kind *k)
{
    static const char *const names[] = {"reset", "halfclose", "slowread", "noread", "reconnect"};
    for (int i = 0; i < 5; i++)
        if (strcmp(v, names[i]) == 0) {
            *k = (enum kind)i;
            return 0;
        }
    return -1;
}

static int parse_mode(const char *v, enum mode *m)
{
    static const char *const names[] = {"load", "hold", "probe", "hostile"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0) {
            *m = (enum mode)i;
            return 0;
        }
    return -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){"127.0.0.1", 0, M_LOAD, K_RESET, 100, 10, 64, 1000, 4096, 5000, 1000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--conns")         ? &o->conns
                    : !strcmp(a, "--duration")    ? &o->duration_s
                    : !strcmp(a, "--size")        ? &o->size
                    : !strcmp(a, "--interval-ms") ? &o->interval_ms
                    : !strcmp(a, "--window")      ? &o->window
                    : !strcmp(a, "--drain-ms")    ? &o->drain_ms
                    : !strcmp(a, "--max-rtt-ms")  ? &o->max_rtt_ms
                                                  : NULL;
        if (v == NULL)
            return -1;
        i++;
        if (num != NULL) {
            char *end;
            *num = strtol(v, &end, 10);
            if (*end != '\0' || *num < 0)
                return -1;
        } else if (!strcmp(a, "--port")) {
            o->port = atoi(v);
        } else if (!strcmp(a, "--host")) {
            o->host = v;
        } else if (!strcmp(a, "--mode")) {
            if (parse_mode(v, &o->mode) < 0)
                return -1;
        } else if (!strcmp(a, "--kind")) {
            if (parse_kind(v, &o->kind) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    if (o->port <= 0 || o->port > 65535 || o->conns < 1 || o->size < 1 ||
        (o->mode == M_LOAD && o->window < o->size))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    memset(&g_addr, 0, sizeof(g_addr));
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &g_addr.sin_addr) != 1)
        return usage();
    g_ep = poller_create();
    long n = o.mode == M_PROBE ? 1 : o.conns;
    struct conn *cs = calloc((size_t)n, sizeof(*cs));
    if (g_ep < 0 || cs == NULL) {
        perror("soak_client: setup");
        return 1;
    }
    for (long k = 0; k < n; k++)
        cs[k].fd = -1;
    int bad;
    switch (o.mode) {
    case M_LOAD:
        bad = run_load(&o, cs);
        break;
    case M_HOLD:
        bad = run_hold(&o, cs);
        break;
    case M_PROBE:
        bad = run_probe(&o, cs);
        break;
    default:
        bad = run_hostile(&o, cs);
        break;
    }
    for (long k = 0; k < n; k++)
        conn_close(&cs[k], false);
    free(cs);
    close(g_ep);
    printf("soak_client: %s\n", bad ? "FAIL" : "ok");
    return bad ? 1 : 0;
}
