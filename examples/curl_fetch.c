/*
 * curl_fetch - libcurl's multi-socket API driven by the callback loop
 * (<vllsi/loop.h>): the worked example of docs/guide.md "Driving a foreign
 * library with POLL".
 *
 *   curl_fetch [--driver auto|uring|epoll|kqueue] URL...
 *
 * fetches every URL at once and prints, in the order given, one line per
 * URL: `<http status> <bytes> <sha256 of body> <url>` (status 0 when no
 * response came; the bytes and hash are of the body received). Exit status
 * 0 only if every transfer completed with a 2xx status, 1 otherwise (the
 * reason goes to stderr), 2 for a bad command line or setup failure.
 *
 * libcurl does its own I/O on sockets it owns and says, through
 * CURLMOPT_SOCKETFUNCTION, which socket it wants to be woken for and in
 * which direction, and through CURLMOPT_TIMERFUNCTION when it wants to be
 * called anyway. Here each socket gets a one-shot POLL (vl_op_poll) for what
 * libcurl asked, and the timer is a vl_timer. A one-shot POLL rather than a
 * multishot one because libcurl does not promise to read a socket until
 * EAGAIN after each wakeup, which multishot reports (edges) would need.
 *
 * The one rule the engine adds: a POLL must be gone before its fd number can
 * belong to another file. libcurl closes its sockets through
 * CURLOPT_CLOSESOCKETFUNCTION here, and a socket with a POLL in flight is
 * closed only once that POLL's completion (after a CANCEL) has come.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include <vllsi/loop.h>

/* One socket libcurl asked about. */
struct sock {
    int fd;
    uint32_t want;  /* VL_POLL_* bits libcurl wants now; 0: none */
    vl_loop_op op;  /* the one-shot POLL, when active */
    bool close_due; /* libcurl closed it: close fd when the POLL is done */
    bool in_cb;     /* its POLL callback is running (see on_poll) */
};

/* One URL. */
struct xfer {
    const char *url;
    CURL *easy;
    EVP_MD_CTX *sha;
    uint64_t bytes;
    long status;
    CURLcode result;
    bool done;
    unsigned char digest[32];
};

static vl_loop *loop;
static CURLM *multi;
static vl_timer curl_timer;
static struct xfer *xfers;
static int nxfers, ndone;
/* Sockets by fd number; libcurl's fds are small and at most one struct sock
 * holds each number, since a number is reused only after close(2). */
static struct sock **socks;
static int nsocks;

static struct sock *sock_get(int fd)
{
    return fd >= 0 && fd < nsocks ? socks[fd] : NULL;
}

static struct sock *sock_new(int fd)
{
    if (fd >= nsocks) {
        int n = nsocks ? nsocks : 64;
        while (n <= fd)
            n *= 2;
        struct sock **grown = realloc(socks, (size_t)n * sizeof *socks);
        if (grown == NULL)
            return NULL;
        memset(grown + nsocks, 0, (size_t)(n - nsocks) * sizeof *socks);
        socks = grown;
        nsocks = n;
    }
    struct sock *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->fd = fd;
    socks[fd] = s;
    return s;
}

/* Take s out of the table (its fd is closed or about to be): from here on
 * the number may name a new socket, with a struct sock of its own. */
static void sock_detach(struct sock *s)
{
    if (socks[s->fd] == s)
        socks[s->fd] = NULL;
}

/* Called from one of our callbacks, never from inside libcurl: a transfer
 * that finished has its result collected and its easy handle released. */
static void collect_done(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct xfer *x = (struct xfer *)priv;
        x->result = m->data.result;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(x->sha, x->digest, &len) != 1 || len != sizeof x->digest)
            x->result = CURLE_OUT_OF_MEMORY;
        curl_multi_remove_handle(multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        x->done = true;
        if (++ndone == nxfers)
            vl_loop_stop(loop);
    }
}

static void on_poll(vl_loop *lp, vl_loop_op *op, int64_t res, uint32_t flags);

/* Give s a POLL for what libcurl wants, unless one is in flight. */
static void sock_arm(struct sock *s)
{
    if (s->want == 0 || s->close_due || vl_loop_op_active(&s->op))
        return;
    vl_loop_op_init(&s->op, vl_op_poll(s->fd, s->want), on_poll, s);
    int rc = vl_loop_submit(loop, &s->op);
    if (rc < 0) { /* cannot wait for it: let libcurl see the socket fail */
        fprintf(stderr, "curl_fetch: POLL of fd %d: %s\n", s->fd, vl_strerror(rc));
        int running;
        curl_multi_socket_action(multi, s->fd, CURL_CSELECT_ERR, &running);
    }
}

/*
 * A POLL completed. Its mask becomes libcurl's CURL_CSELECT_* bits: an
 * error or a hangup also makes the socket readable (as libcurl's own
 * poll(2) code reads revents) and an error writable, so that libcurl's recv
 * or send meets the real error or the EOF. CURL_CSELECT_ERR on its own
 * would make libcurl fail the transfer ("select/poll returned error") even
 * for a hangup that came after the last byte of a response.
 */
static void on_poll(vl_loop *lp, vl_loop_op *op, int64_t res, uint32_t flags)
{
    struct sock *s = op->ctx;
    (void)lp;
    (void)flags;
    if (s->close_due) { /* libcurl is done with it: the number may go now */
        close(s->fd);
        free(s);
        return;
    }
    if (multi == NULL) /* after curl_multi_cleanup (drain) */
        return;
    if (res == -ECANCELED) { /* libcurl changed its interest */
        sock_arm(s);
        return;
    }
    int ev = 0;
    if (res < 0) {
        ev = CURL_CSELECT_ERR;
    } else {
        uint32_t m = (uint32_t)res;
        if (m & (VL_POLL_IN | VL_POLL_HUP | VL_POLL_ERR))
            ev |= CURL_CSELECT_IN;
        if (m & (VL_POLL_OUT | VL_POLL_ERR))
            ev |= CURL_CSELECT_OUT;
        if (m & VL_POLL_ERR)
            ev |= CURL_CSELECT_ERR;
    }
    /* libcurl may close this socket inside the call (closesock then finds
     * no POLL in flight and closes at once): in_cb keeps s allocated until
     * the call returns, so that this function does not touch freed memory
     * or a struct sock a reused number now names. */
    int fd = s->fd, running;
    s->in_cb = true;
    curl_multi_socket_action(multi, fd, ev, &running);
    s->in_cb = false;
    if (s->close_due)
        free(s); /* closed and detached by on_curl_close */
    else
        sock_arm(s);
    collect_done();
}

static int want_of(int what)
{
    switch (what) {
    case CURL_POLL_IN:
        return VL_POLL_IN;
    case CURL_POLL_OUT:
        return VL_POLL_OUT;
    case CURL_POLL_INOUT:
        return VL_POLL_IN | VL_POLL_OUT;
    default:
        return 0;
    }
}

/* CURLMOPT_SOCKETFUNCTION: libcurl wants fd watched for what (or no more). */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)userp;
    (void)socketp;
    struct sock *s = sock_get(fd);
    uint32_t want = (uint32_t)want_of(what);
    if (s == NULL) {
        if (want == 0)
            return 0;
        s = sock_new(fd);
        if (s == NULL)
            return -1; /* libcurl fails the transfer */
    }
    if (want == s->want)
        return 0;
    s->want = want;
    if (vl_loop_op_active(&s->op)) /* its callback re-arms with the new want */
        vl_loop_cancel(loop, &s->op);
    else if (!s->in_cb) /* on_poll arms after libcurl returns */
        sock_arm(s);
    return 0;
}

/* CURLOPT_CLOSESOCKETFUNCTION: libcurl is done with fd. Close it now if no
 * POLL watches it, else when the cancelled POLL's completion comes. */
static int on_curl_close(void *clientp, curl_socket_t fd)
{
    (void)clientp;
    struct sock *s = sock_get(fd);
    if (s == NULL)
        return close(fd);
    s->want = 0;
    sock_detach(s);
    if (vl_loop_op_active(&s->op)) { /* on_poll closes fd and frees s */
        s->close_due = true;
        vl_loop_cancel(loop, &s->op);
        return 0;
    }
    int rc = close(fd);
    if (s->in_cb)
        s->close_due = true; /* on_poll frees it */
    else
        free(s);
    return rc;
}

static void on_timer(vl_loop *lp, vl_timer *t)
{
    (void)lp;
    (void)t;
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done();
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back after timeout_ms (-1: never). */
static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    (void)userp;
    if (timeout_ms < 0)
        return vl_timer_stop(&curl_timer) < 0 ? -1 : 0;
    return vl_timer_start(loop, &curl_timer, (int64_t)timeout_ms * 1000000, 0) < 0 ? -1 : 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n; /* size is always 1 */
    if (EVP_DigestUpdate(x->sha, data, len) != 1)
        return CURL_WRITEFUNC_ERROR; /* fails the transfer */
    x->bytes += len;
    return len;
}

static int xfer_start(struct xfer *x)
{
    x->sha = EVP_MD_CTX_new();
    x->easy = curl_easy_init();
    if (x->sha == NULL || x->easy == NULL || EVP_DigestInit_ex(x->sha, EVP_sha256(), NULL) != 1)
        return -1;
    CURL *e = x->easy;
    if (curl_easy_setopt(e, CURLOPT_URL, x->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_curl_close) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_multi_add_handle(multi, e) != CURLM_OK)
        return -1;
    return 0;
}

static int parse_driver(const char *s, vl_driver_kind *out)
{
    static const struct {
        const char *name;
        vl_driver_kind kind;
    } names[] = {{"auto", VL_DRIVER_AUTO},
                 {"uring", VL_DRIVER_URING},
                 {"epoll", VL_DRIVER_EPOLL},
                 {"kqueue", VL_DRIVER_KQUEUE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].kind;
            return 0;
        }
    }
    return -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: curl_fetch [--driver auto|uring|epoll|kqueue] URL...\n");
    return 2;
}

/* Every line, in argument order; 0 if every transfer succeeded. */
static int report(void)
{
    int failed = 0;
    for (int i = 0; i < nxfers; i++) {
        struct xfer *x = &xfers[i];
        char hex[65];
        for (int j = 0; j < 32; j++)
            snprintf(hex + 2 * j, 3, "%02x", x->digest[j]);
        printf("%ld %llu %s %s\n", x->status, (unsigned long long)x->bytes, hex, x->url);
        if (x->result != CURLE_OK) {
            fprintf(stderr, "curl_fetch: %s: %s\n", x->url, curl_easy_strerror(x->result));
            failed = 1;
        } else if (x->status < 200 || x->status > 299) {
            fprintf(stderr, "curl_fetch: %s: HTTP status %ld\n", x->url, x->status);
            failed = 1;
        }
    }
    return failed;
}

/* After curl_multi_cleanup: the cancelled POLLs of the sockets libcurl
 * closed last are still in flight; run the loop until their completions
 * have closed the fds. A socket libcurl left open (none should be) has its
 * POLL cancelled first. */
static void drain(void)
{
    vl_timer_stop(&curl_timer);
    for (int i = 0; i < nsocks; i++)
        if (socks[i] && vl_loop_op_active(&socks[i]->op))
            vl_loop_cancel(loop, &socks[i]->op);
    while (vl_loop_alive(loop))
        if (vl_loop_run(loop, VL_RUN_DEFAULT) < 0)
            break;
}

int main(int argc, char **argv)
{
    vl_engine_config cfg = {0};
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--driver") == 0) {
        if (parse_driver(argv[2], &cfg.driver) < 0)
            return usage();
        first = 3;
    }
    if (first >= argc || argv[first][0] == '-')
        return usage();
    nxfers = argc - first;
    xfers = calloc((size_t)nxfers, sizeof *xfers);
    if (xfers == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    int rc = vl_loop_init(&loop, &cfg);
    if (rc < 0) {
        fprintf(stderr, "curl_fetch: loop: %s\n", vl_strerror(rc));
        return 2;
    }
    fprintf(stderr, "curl_fetch: driver %s\n", vl_engine_driver_name(vl_loop_engine(loop)));
    vl_timer_init(&curl_timer, on_timer, NULL);
    multi = curl_multi_init();
    if (multi == NULL || curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) ||
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_curl_timer))
        return 2;
    int status = 0;
    for (int i = 0; i < nxfers; i++) {
        xfers[i].url = argv[first + i];
        if (xfer_start(&xfers[i]) < 0) {
            fprintf(stderr, "curl_fetch: %s: cannot start the transfer\n", xfers[i].url);
            status = 2;
            break;
        }
    }
    if (status == 0) {
        rc = vl_loop_run(loop, VL_RUN_DEFAULT);
        if (rc < 0 || ndone < nxfers) {
            fprintf(stderr, "curl_fetch: loop ended with %d of %d done: %s\n", ndone, nxfers,
                    rc < 0 ? vl_strerror(rc) : "nothing left to wait for");
            status = 2;
        } else {
            status = report();
        }
    }
    for (int i = 0; i < nxfers; i++) {
        if (xfers[i].easy) {
            curl_multi_remove_handle(multi, xfers[i].easy);
            curl_easy_cleanup(xfers[i].easy);
        }
        EVP_MD_CTX_free(xfers[i].sha);
    }
    curl_multi_cleanup(multi);
    multi = NULL;
    drain();
    vl_loop_destroy(loop);
    curl_global_cleanup();
    for (int i = 0; i < nsocks; i++) /* sockets libcurl closed itself */
        free(socks[i]);
    free(socks);
    free(xfers);
    return status;
}
