/*
 * http_fixture - the local HTTP/1.1 server the curl_fetch test
 * (scripts/curl-fetch-smoke.sh) fetches from. Plain blocking sockets and a
 * thread per connection, independent of the engine under test.
 *
 *   http_fixture [--idle SECONDS]   serve on 127.0.0.1, port chosen by the
 *                                  kernel; prints "port P refused R" once
 *                                  listening (R: a loopback port bound but
 *                                  not listening, so a connect to it is
 *                                  refused for as long as the server runs);
 *                                  exits by itself after SECONDS (default 30)
 *                                  with no connection open and none arriving.
 *   http_fixture --body N           write the body of /bytes/N to stdout, so
 *                                  that a test can hash it with sha256sum.
 *
 * GET /bytes/N answers 200 with N deterministic pseudo-random bytes
 * (Content-Length, keep-alive); any other request 404 with a short body.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1ull << 30)
#define HEAD_MAX 8192

static atomic_int open_conns;

/* The body of /bytes/n: an xorshift32 stream seeded from n, so bodies of
 * different lengths differ from their first byte. */
struct body_gen {
    uint32_t x;
};

static void body_init(struct body_gen *g, uint64_t n)
{
    g->x = (uint32_t)(n * 2654435761u) ^ 0x9e3779b9u;
    if (g->x == 0)
        g->x = 1;
}

static void body_fill(struct body_gen *g, unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        g->x ^= g->x << 13;
        g->x ^= g->x >> 17;
        g->x ^= g->x << 5;
        buf[i] = (unsigned char)(g->x >> 24);
    }
}

/* All of p to fd: a socket (send, no SIGPIPE) or, for --body, a pipe or
 * file (write). */
static int send_all(int fd, bool sock, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = sock ? send(fd, c, len, MSG_NOSIGNAL) : write(fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_body(int fd, bool sock, uint64_t n)
{
    static _Thread_local unsigned char buf[65536];
    struct body_gen g;
    body_init(&g, n);
    while (n > 0) {
        size_t chunk = n < sizeof buf ? (size_t)n : sizeof buf;
        body_fill(&g, buf, chunk);
        if (send_all(fd, sock, buf, chunk) < 0)
            return -1;
        n -= chunk;
    }
    return 0;
}

/* The length N of "GET /bytes/N HTTP/1.x", or -1 for any other request. */
static int64_t parse_request(const char *head)
{
    const char *p = head;
    if (strncmp(p, "GET /bytes/", 11) != 0)
        return -1;
    p += 11;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t n = 0;
    while (*p >= '0' && *p <= '9') {
        n = n * 10 + (uint64_t)(*p++ - '0');
        if (n > MAX_BODY)
            return -1;
    }
    return strncmp(p, " HTTP/1.", 8) == 0 ? (int64_t)n : -1;
}

static int respond(int fd, const char *head)
{
    char hdr[256];
    int64_t n = parse_request(head);
    if (n < 0) {
        static const char msg[] = "not found\n";
        int len = snprintf(hdr, sizeof hdr,
                           "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                           "Content-Length: %zu\r\n\r\n%s",
                           sizeof msg - 1, msg);
        return send_all(fd, true, hdr, (size_t)len);
    }
    int len = snprintf(hdr, sizeof hdr,
                       "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: %llu\r\n\r\n",
                       (unsigned long long)n);
    if (send_all(fd, true, hdr, (size_t)len) < 0)
        return -1;
    return send_body(fd, true, (uint64_t)n);
}

/* One connection: requests one after the other (keep-alive) until EOF. */
static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[HEAD_MAX + 1];
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        buf[have] = '\0';
        while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
            if (have == HEAD_MAX)
                goto out; /* a head this long is not one of the test's */
            ssize_t n = recv(fd, buf + have, HEAD_MAX - have, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto out;
            have += (size_t)n;
            buf[have] = '\0';
        }
        end += 4;
        if (respond(fd, buf) < 0)
            break;
        size_t used = (size_t)(end - buf);
        memmove(buf, end, have - used);
        have -= used;
    }
out:
    close(fd);
    atomic_fetch_sub(&open_conns, 1);
    return NULL;
}

static int loopback_socket(struct sockaddr_in *a)
{
    socklen_t alen = sizeof *a;
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof *a) < 0 ||
        getsockname(fd, (struct sockaddr *)a, &alen) < 0) {
        perror("http_fixture: socket");
        exit(1);
    }
    return fd;
}

static void serve(int idle_s)
{
    struct sockaddr_in a, r;
    int lfd = loopback_socket(&a);
    int refused = loopback_socket(&r); /* bound, never listening */
    if (listen(lfd, 1024) < 0) {
        perror("http_fixture: listen");
        exit(1);
    }
    printf("port %u refused %u\n", ntohs(a.sin_port), ntohs(r.sin_port));
    fflush(stdout);
    time_t last = time(NULL);
    for (;;) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int n = poll(&p, 1, 1000);
        if (n < 0 && errno != EINTR) {
            perror("http_fixture: poll");
            exit(1);
        }
        if (atomic_load(&open_conns) > 0)
            last = time(NULL);
        if (n <= 0) {
            if (time(NULL) - last >= idle_s)
                break;
            continue;
        }
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* EMFILE, a connection reset before accept... */
        last = time(NULL);
        pthread_t t;
        atomic_fetch_add(&open_conns, 1);
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&open_conns, 1);
            continue;
        }
        pthread_detach(t);
    }
    close(refused);
    close(lfd);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--body") == 0) {
        char *end;
        unsigned long long n = strtoull(argv[2], &end, 10);
        if (*end != '\0' || n > MAX_BODY)
            return 2;
        return send_body(STDOUT_FILENO, false, n) < 0 ? 1 : 0;
    }
    int idle = 30;
    if (argc == 3 && strcmp(argv[1], "--idle") == 0)
        idle = atoi(argv[2]);
    else if (argc != 1)
        return 2;
    serve(idle > 0 ? idle : 30);
    return 0;
}
