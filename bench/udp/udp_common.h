/*
 * udp_common.h - what the UDP echo benchmark's servers share (bench/udp):
 * their command line, the same as examples/udp_echo's where it applies
 * (--port P, --bind ADDR; mmsg_server also takes --corrupt-after N, a
 * fault for the load generator's self-test), the socket they echo on, the line that tells
 * scripts/bench-udp their port, and SIGINT/SIGTERM ending the loop.
 */
#ifndef VLLSI_BENCH_UDP_COMMON_H
#define VLLSI_BENCH_UDP_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct udp_opts {
    const char *bind;
    int port;
    long long corrupt_after; /* flip a byte of the datagram after N echoed; -1: never */
};

/* --port P (default 0: ephemeral), --bind ADDR (default 127.0.0.1, an
 * IPv4 or IPv6 literal) and, when faults is true, --corrupt-after N. 0, or
 * -1 after printing the usage. */
static inline int udp_parse(int argc, char **argv, bool faults, struct udp_opts *o)
{
    *o = (struct udp_opts){"127.0.0.1", 0, -1};
    for (int i = 1; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (v != NULL && strcmp(argv[i], "--port") == 0) {
            long p = strtol(v, &end, 10);
            if (*end != '\0' || p < 0 || p > 65535)
                v = NULL;
            else
                o->port = (int)p;
        } else if (v != NULL && faults && strcmp(argv[i], "--corrupt-after") == 0) {
            o->corrupt_after = strtoll(v, &end, 10);
            if (*end != '\0' || o->corrupt_after < 0)
                v = NULL;
        } else if (v != NULL && strcmp(argv[i], "--bind") == 0) {
            o->bind = v;
        } else {
            v = NULL;
        }
        if (v == NULL) {
            fprintf(stderr, "usage: %s [--port P] [--bind ADDR]%s\n", argv[0],
                    faults ? " [--corrupt-after N]" : "");
            return -1;
        }
    }
    return 0;
}

/* A UDP socket bound to o's address and port, its address in *ss (the
 * port the kernel chose under --port 0). The fd, or -errno. */
static inline int udp_bind(const struct udp_opts *o, int type_flags, struct sockaddr_storage *ss)
{
    socklen_t len;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, o->bind, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)o->port);
        len = sizeof *s4;
    } else if (inet_pton(AF_INET6, o->bind, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)o->port);
        len = sizeof *s6;
    } else {
        return -EINVAL;
    }
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | type_flags, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)ss, len) < 0 ||
        getsockname(fd, (struct sockaddr *)ss, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static inline int udp_port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                          : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* The line scripts/bench-udp waits for, flushed. */
static inline void udp_announce(const char *prog, const struct udp_opts *o,
                                const struct sockaddr_storage *ss)
{
    printf("%s: listening on %s port %d\n", prog, o->bind, udp_port_of(ss));
    fflush(stdout);
}

#endif
