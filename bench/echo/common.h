/*
 * bench/echo/common.h - what the benchmark's echo servers share: argument
 * parsing, the listening socket and the start-up line scripts read the port
 * from. The servers differ only in their event loop; their behaviour is the
 * same: read whatever arrives (up to ECHO_READ_MAX bytes at a time), write it
 * all back, keep the bytes the socket did not take and read nothing more from
 * that connection until they are sent.
 */
#ifndef VLLSI_BENCH_ECHO_COMMON_H
#define VLLSI_BENCH_ECHO_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* One read takes at most this much, the same in every server. */
#define ECHO_READ_MAX (64 * 1024)

struct echo_opts {
    int port;
    /* Fault injection for the load generator's own test (scripts/ci/bench.sh):
     * flip one byte of the echo once this many bytes were echoed, or stop
     * echoing altogether after this many. 0: off. */
    unsigned long long corrupt_after, stall_after;
    /* ev_server only (--drain 1): after echoing a read, read the same
     * connection again until EAGAIN instead of going back to the loop: the
     * read pattern of a multishot RECV and of libuv. An experiment
     * (docs/benchmarks.md), not what the benchmark's libev server does. */
    int drain;
};

static inline void echo_usage(const char *name)
{
    fprintf(stderr,
            "usage: %s [--port P (0: any)] [--corrupt-after BYTES] [--stall-after BYTES]"
            " [--drain 0|1 (ev_server)]\n",
            name);
    exit(2);
}

static inline unsigned long long echo_num(const char *name, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        echo_usage(name);
    return v;
}

static inline struct echo_opts echo_parse(int argc, char **argv, const char *name)
{
    struct echo_opts o = {0};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            echo_usage(name);
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--port") && echo_num(name, v) <= 65535)
            o.port = (int)echo_num(name, v);
        else if (!strcmp(a, "--corrupt-after"))
            o.corrupt_after = echo_num(name, v);
        else if (!strcmp(a, "--stall-after"))
            o.stall_after = echo_num(name, v);
        else if (!strcmp(a, "--drain") && echo_num(name, v) <= 1)
            o.drain = (int)echo_num(name, v);
        else
            echo_usage(name);
    }
    return o;
}

/* Connections up to the hard limit: the benchmark opens 1000 and more. */
static inline void echo_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A listening socket on 127.0.0.1:port (non-blocking if asked); prints
 * "NAME: listening on 127.0.0.1 port N" (the line scripts/bench-echo reads,
 * the same shape as examples/echo_server). Exits on failure. TCP_NODELAY is
 * set on the listener, which accepted sockets inherit on Linux. */
static inline int echo_listen(const char *name, int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    socklen_t len = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        fprintf(stderr, "%s: listen on 127.0.0.1 port %d: %s\n", name, port, strerror(errno));
        exit(1);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("%s: listening on 127.0.0.1 port %u (pid %d)\n", name, ntohs(sa.sin_port),
           (int)getpid());
    return fd;
}

/* Fault injection, shared by the servers that support it: called with the
 * bytes about to be echoed; returns how many may go out (all, or fewer once
 * the stall point is reached) and may flip one byte. */
static inline size_t echo_faults(const struct echo_opts *o, unsigned long long *echoed,
                                 unsigned char *p, size_t n)
{
    if (o->stall_after && *echoed + n > o->stall_after)
        n = *echoed < o->stall_after ? (size_t)(o->stall_after - *echoed) : 0;
    if (o->corrupt_after && *echoed <= o->corrupt_after && o->corrupt_after < *echoed + n)
        p[o->corrupt_after - *echoed] ^= 0x5a;
    *echoed += n;
    return n;
}

#endif /* VLLSI_BENCH_ECHO_COMMON_H */
