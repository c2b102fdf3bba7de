/*
 * udp_echo_check PORT [FAMILY] - the udp_echo example's client for its
 * smoke test (scripts/udp-echo-smoke.sh): from 8 sockets on the loopback
 * address of FAMILY (4, the default, or 6), send rounds of datagrams of
 * 0 to 1400 bytes, each with its own content, to PORT, and check that each
 * comes back to the socket that sent it with every byte as sent. A round
 * (32 datagrams) waits for its replies (up to 5 s) before the next goes,
 * so that the server's socket buffer never overflows: UDP drops what does
 * not fit, and a slow or loaded host must not fail the test. Exits 0 when every datagram came back,
 * 1 otherwise (saying which).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ct_platform.h" /* SOCK_CLOEXEC, SOCK_NONBLOCK on macOS */

#define SOCKS  8
#define PER    4 /* datagrams per socket per round */
#define ROUNDS 80
#define MAXLEN 1400

static size_t len_of(unsigned round, unsigned sock, unsigned k)
{
    return (round * 131u + sock * 37u + k * 97u) % (MAXLEN + 1);
}

/* The content of datagram (round, sock, k): its numbers first, then a
 * pattern, so that no two are alike. */
static void content(unsigned char *b, size_t len, unsigned round, unsigned sock, unsigned k)
{
    unsigned seed = round * 65536u + sock * 256u + k;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)((seed >> (8 * (i % 3))) + i * 7u);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int port = atoi(argv[1]), family = argc > 2 && strcmp(argv[2], "6") == 0 ? AF_INET6 : AF_INET;
    struct sockaddr_storage to;
    memset(&to, 0, sizeof(to));
    socklen_t tolen;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&to;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        tolen = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        tolen = sizeof(*a);
    }
    struct pollfd pfd[SOCKS];
    for (int s = 0; s < SOCKS; s++) {
        pfd[s].fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        pfd[s].events = POLLIN;
        if (pfd[s].fd < 0 || connect(pfd[s].fd, (struct sockaddr *)&to, tolen) != 0) {
            perror("udp_echo_check: socket");
            return 1;
        }
    }
    unsigned char out[MAXLEN], in[MAXLEN + 1];
    unsigned long long total = 0, bytes = 0;
    for (unsigned round = 0; round < ROUNDS; round++) {
        unsigned got[SOCKS] = {0};
        for (unsigned s = 0; s < SOCKS; s++)
            for (unsigned k = 0; k < PER; k++) {
                size_t len = len_of(round, s, k);
                content(out, len, round, s, k);
                if (send(pfd[s].fd, out, len, 0) != (ssize_t)len) {
                    perror("udp_echo_check: send");
                    return 1;
                }
            }
        unsigned done = 0;
        long long end = now_ms() + 5000;
        while (done < SOCKS * PER) {
            int left = (int)(end - now_ms());
            if (left <= 0 || poll(pfd, SOCKS, left) < 0)
                break;
            for (unsigned s = 0; s < SOCKS; s++) {
                ssize_t n;
                while ((n = recv(pfd[s].fd, in, sizeof(in), 0)) >= 0) {
                    /* Datagrams from one socket come back in order. */
                    unsigned k = got[s]++;
                    size_t len = len_of(round, s, k);
                    content(out, len, round, s, k);
                    if (k >= PER || (size_t)n != len || memcmp(in, out, len) != 0) {
                        fprintf(stderr,
                                "udp_echo_check: round %u socket %u datagram %u: %zd bytes back, "
                                "%zu sent, %s\n",
                                round, s, k, n, len, (size_t)n == len ? "content differs" : "");
                        return 1;
                    }
                    done++;
                    total++;
                    bytes += (unsigned long long)n;
                }
            }
        }
        if (done < SOCKS * PER) {
            fprintf(stderr, "udp_echo_check: round %u: %u of %u datagrams came back in 5 s\n",
                    round, done, SOCKS * PER);
            return 1;
        }
    }
    printf("udp_echo_check: %llu datagrams, %llu bytes, every one back whole\n", total, bytes);
    return 0;
}
