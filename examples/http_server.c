/*
 * http_server - an HTTP/1.1 server on the callback loop (<vllsi/loop.h>):
 * `/plaintext` in the TechEmpower shape and static files under a root
 * directory, with keep-alive, pipelining and the limits a server facing
 * the network needs (docs/http.md).
 *
 *   http_server [--port P] [--bind ADDR] [--root DIR] [--threads N]
 *               [--driver auto|uring|epoll|kqueue] [--cache-max BYTES]
 *               [--header-timeout SEC] [--idle-timeout SEC]
 *               [--recv multishot|oneshot] [--recv-buffers N] [--gather US]
 *               [--fixed-files on|off]
 *
 * Prints `listening on ADDR:PORT` once every thread is ready (port 0: the
 * kernel's choice). SIGINT/SIGTERM: stop accepting, finish the responses in
 * flight (at most SHUTDOWN_GRACE_NS), exit 0.
 *
 * Structure. One loop per thread, each with its own SO_REUSEPORT listener
 * and a multishot ACCEPT. A connection reads with one multishot RECV, armed
 * while it is open, into the thread's buffer pool, and runs one other op at
 * a time (SEND, or a step of a file); a close cancels both and frees the
 * connection at the last one's callback. Input is parsed in place in the
 * pool buffer when nothing is pending; what a request leaves (a partial
 * head, pipelined requests not answered yet, bytes that came while a
 * response was out) is copied to the connection's in[]. It answers every
 * complete request in order, appending the responses to one output buffer
 * that goes out in one SEND (pipelining); a file too large for the cache
 * ends the batch: its header joins the buffer, then the body follows from
 * the file. Idle and head deadlines are per-thread lists in expiry order,
 * swept by one periodic timer (docs/http.md, "Reading"). With --recv
 * oneshot (or on a driver without multishot RECV) a connection reads with
 * one RECV at a time instead, carrying its deadline.
 *
 * Files. The target is percent-decoded and checked before any system call
 * (no NUL, no `..` segment; leading slashes are dropped so the path is
 * relative), then opened relative to a descriptor of the root with
 * RESOLVE_BENEATH, so a symlink that leads out of the root is refused by
 * the kernel too. Files up to --cache-max bytes (default 16 KiB) are read
 * whole into a per-thread cache and served from memory for a second
 * before they are read again; larger ones are streamed.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strcasecmp */
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/loop.h>
#include <vllsi/sys/time.h>

#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

/* ---- limits ---------------------------------------------------------------- */

#define REQ_MAX           8192          /* request line plus headers: more is 414 / 431 */
#define IN_CAP            16384         /* room for one request at its limit plus what follows */
#define OUT_CAP           32768         /* one batch of responses (headers, cached bodies) */
#define RESP_HEAD_MAX     1024          /* a response header, or an error response whole */
#define CACHE_MAX_LIMIT   (OUT_CAP / 2) /* --cache-max's ceiling: one body fits out[] */
#define PATH_CAP          1024          /* a decoded path: longer is 414 */
#define BODY_MAX          (1 << 20)     /* a request body (discarded): more is 413 */
#define CHUNK             65536         /* a streamed file's read size */
#define SEND_DEADLINE_NS  (30 * VL_NS_PER_SEC) /* one SEND to a peer that does not read */
#define SHUTDOWN_GRACE_NS (5 * VL_NS_PER_SEC)
#define LINGER_NS         (2 * VL_NS_PER_SEC) /* reading after an error, before the close */
#define ACCEPT_RETRY_NS   (100 * VL_NS_PER_MS)
#define CACHE_BUCKETS     256
#define CACHE_ENTRIES     4096 /* per thread: at most 64 MiB of cached bodies */
#define CACHE_TTL_NS      VL_NS_PER_SEC
/* Multishot reads (docs/http.md, "Reading"): a pool of RX_BUFS buffers
 * (--recv-buffers) of RX_BUF bytes per thread, a request head's usual size; a connection keeps
 * at most RX_OVF_MAX bytes beyond what its in[] takes (what the RECV had
 * delivered before its pause took effect); deadlines are checked every
 * SWEEP_NS. */
#define RX_BUF            4096
#define RX_BUFS           2048
#define RX_OVF_MAX        (1024 * 1024)
#define SWEEP_NS          (250 * VL_NS_PER_MS)
/* --gather's default window (off: docs/http.md, "Gathering", says why) and the most
 * completions a gathering wait holds out for. */
#define GATHER_US_DEFAULT 0
#define GATHER_WANT       32

/*
 * Files through the engine: OPENAT with RESOLVE_BENEATH (vl_op_openat2) and
 * SENDFILE, on Linux, where the kernel's openat2 makes the check. Elsewhere
 * (macOS, where the engine's openat2 answers -EOPNOTSUPP) the open is a
 * plain call with O_NOFOLLOW_ANY and bodies go out by READ and SENDV.
 */
#ifdef __linux__
#define HTTP_ENGINE_FILES 1
#else
#define HTTP_ENGINE_FILES 0
#endif
#ifdef MSG_MORE
#define HTTP_MSG_MORE MSG_MORE
#else
#define HTTP_MSG_MORE 0
#endif
#define SENDFILE_MAX (1u << 20) /* one SENDFILE: its deadline (SEND_DEADLINE_NS) is per MiB */

/* ---- options and shared state ---------------------------------------------- */

static int root_fd = -1;
static size_t cache_max = 16384;
/* A request's head must be in within header_ns of its first byte (a body
 * being discarded: of the latest RECV), and a keep-alive connection with
 * nothing asked is closed after idle_ns: --header-timeout, --idle-timeout. */
static int64_t header_ns = 10 * VL_NS_PER_SEC;
static int64_t idle_ns = 15 * VL_NS_PER_SEC;
/* --recv: requests read by one multishot RECV per connection, or by a
 * one-shot RECV per read (the only way on a driver without multishot). */
static bool recv_multishot = true;
/* --recv-buffers: the multishot RECVs' pool, buffers per thread (a power of
 * two up to VL_BUFPOOL_MAX_COUNT). */
static uint32_t rx_bufs = RX_BUFS;
/* --fixed-files: register each connection with its engine
 * (vl_engine_fd_register), so that on io_uring its SENDs and RECVs skip the
 * kernel's per-op file lookup; conn_destroy unregisters before close(2).
 * A no-op on the other drivers. */
static bool fixed_files = true;
/* --gather: each loop's gathering window (vl_loop_set_gather; 0: off), and
 * the most completions a wait holds out for. Under load a wait then
 * returns with a batch instead of one or two completions, which saves
 * io_uring_enter calls; at one request at a time the loop's want stays 1
 * and nothing waits (docs/http.md, "Gathering"). */
static int64_t gather_ns = GATHER_US_DEFAULT * 1000;

/* ---- the file cache (per thread) ------------------------------------------- */

struct centry {
    struct centry *next;
    int64_t loaded_ns; /* loop time of the load: valid for CACHE_TTL_NS */
    size_t size;
    const char *ctype;
    char *data;
    char path[]; /* relative path, the key */
};

struct worker;

/* ---- connections ----------------------------------------------------------- */

enum conn_state {
    ST_RECV,     /* waiting for request bytes (no op in flight but the multishot RECV) */
    ST_SEND,     /* sending out[] */
    ST_OPEN,     /* OPENAT of a file */
    ST_STAT,     /* STATX of the opened file */
    ST_FILL,     /* READ of a small file into a new cache entry */
    ST_BODY_HDR, /* SENDFILE builds: SEND of out[] before a streamed body */
    ST_BODY_RD,  /* READ builds: READ of the next chunk of a streamed file */
    ST_BODY_TX,  /* SENDFILE, or SENDV of out[] and the chunk */
    ST_LINGER,   /* after an error: reading what the client still sends */
    ST_CLOSING,  /* op being cancelled; free at its callback */
};

/* A worker's list of connections waiting for a deadline, soonest first. */
struct tlist {
    struct conn *head, *tail;
};

struct conn {
    vl_loop_op op; /* the one op in flight, if any */
    vl_loop_op rx; /* the multishot RECV, while armed */
    struct worker *w;
    struct conn *prev, *next;
    /* Multishot reads: the deadline list the connection is on (tl, NULL for
     * none), its place and expiry; the link of the worker's starved list. */
    struct tlist *tl;
    struct conn *tprev, *tnext, *snext;
    int64_t texp;
    bool starved;   /* on the starved list: the RECV ended -ENOBUFS */
    bool rx_pause;  /* a cancel of rx is on its way */
    bool rx_eof;    /* rx ended with EOF or an error: nothing more comes */
    bool fixed;     /* fd is registered with the loop's engine (--fixed-files) */
    uint32_t ib_id; /* the pool buffer ib points into (ib != in) */
    char *ovf;      /* received, not yet in in[]: input paused */
    size_t ovf_off, ovf_len, ovf_cap;
    char *ib; /* the input being parsed: in[], or a pool buffer */
    int fd;
    enum conn_state st;
    bool close_after; /* the response being built is the last */
    bool head;        /* the current file request is HEAD */
    bool keep_alive_10;
    bool linger; /* close by conn_linger (after an error) */
    bool corked; /* TCP_CORK is on for the body being sent (body_cork) */
    int64_t linger_until;
    int open_tries;
    int64_t req_t0; /* loop time of a partial request's first byte; 0: none */
    size_t in_off, in_len, scan;
    uint64_t skip; /* body bytes still to discard */
    size_t out_len, out_sent;
    /* The file being served. */
    int file_fd;
    uint64_t file_size, file_off;
    size_t chunk_len, chunk_sent;
    char *chunk;         /* CHUNK bytes while streaming */
    vl_iovec iov[2];     /* body_send's SENDV: out[] and the chunk */
    struct centry *fill; /* the entry being filled */
    const char *ctype;
    struct vl_statx stx;
    char path[PATH_CAP];
    char in[IN_CAP];
    char out[OUT_CAP];
};

struct worker {
    int index;
    int lfd;
    vl_driver_kind driver;
    vl_loop *loop;
    vl_loop_op acc;
    vl_timer acc_retry, date_timer, grace, sweep;
    vl_hook rearm;     /* PREPARE: re-arms starved RECVs once buffers are back */
    vl_bufpool *pool;  /* the multishot RECVs' buffers */
    bool mshot;        /* reading with multishot RECVs (pool made, driver has them) */
    struct tlist idle; /* nothing asked: expiry idle_ns after the last answer */
    struct tlist hdr;  /* a head partly in, or a body being discarded */
    struct conn *starved;
    vl_async stop_async;         /* the stop from worker 0 (worker 0's: from a worker that ended) */
    bool async_open;             /* stop_async may be sent (under ready_mu) */
    bool stop_sent;              /* (under ready_mu) */
    vl_signal sig_int, sig_term; /* worker 0 (the main thread): SIGINT, SIGTERM */
    struct conn *conns;
    unsigned nconns;
    struct conn *spare; /* freed connections kept for the next accepts (conn_put) */
    unsigned nspare;
    bool stopping, acc_done;
    char date[40];
    size_t date_len;
    /* A 200's head up to Content-Type's value, date included (put_head). */
    char head_ok[128];
    size_t head_ok_len;
    struct centry *cache[CACHE_BUCKETS];
    unsigned cache_n;
    pthread_t th;
    int rc;                  /* setup's or the loop's error (under ready_mu) */
    bool gone;               /* the loop is destroyed: no more sends (under ready_mu) */
    const char *driver_name; /* set before the worker reports ready */
    int open_flags;          /* a file's OPENAT flags (file_open) */
};

static void on_op(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags);
static void conn_process(struct conn *c);
static void conn_recv(struct conn *c, bool answered);
static void conn_linger(struct conn *c);
static void conn_close(struct conn *c);

static void maybe_finish(struct worker *w)
{
    if (w->loop && w->stopping && w->nconns == 0 && w->acc_done) {
        vl_timer_stop(&w->grace);
        vl_timer_stop(&w->sweep);
        vl_hook_stop(&w->rearm);
        vl_signal_stop(&w->sig_int);
        vl_signal_stop(&w->sig_term);
        vl_loop_stop(w->loop);
    }
}

/* ---- multishot reads: deadline lists, pool buffers ------------------------ */

static void tl_remove(struct conn *c)
{
    struct tlist *l = c->tl;
    if (l == NULL)
        return;
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tl = NULL;
    c->tprev = c->tnext = NULL;
}

/* Put c on l, expiring at exp, in expiry order. An idle connection's expiry
 * is the latest (the clock only grows) and a head's start only grows too,
 * so the walk from the tail stops at once but for a head that started
 * before a later one's. */
static void tl_insert(struct conn *c, struct tlist *l, int64_t exp)
{
    if (c->tl == l && c->texp == exp)
        return;
    tl_remove(c);
    struct conn *after = l->tail;
    while (after && after->texp > exp)
        after = after->tprev;
    c->tl = l;
    c->texp = exp;
    c->tprev = after;
    c->tnext = after ? after->tnext : l->head;
    if (c->tnext)
        c->tnext->tprev = c;
    else
        l->tail = c;
    if (after)
        after->tnext = c;
    else
        l->head = c;
    struct worker *w = c->w;
    if (!vl_timer_active(&w->sweep))
        vl_timer_start(w->loop, &w->sweep, SWEEP_NS, SWEEP_NS);
}

static void starved_remove(struct conn *c)
{
    if (!c->starved)
        return;
    struct conn **p = &c->w->starved;
    while (*p != c)
        p = &(*p)->snext;
    *p = c->snext;
    c->snext = NULL;
    c->starved = false;
}

/* Move what is left of a pool buffer being parsed to in[] and release the
 * buffer: a partial head, or pipelined requests not answered yet. */
static void in_own(struct conn *c)
{
    if (c->ib == c->in)
        return;
    size_t n = c->in_len - c->in_off;
    memcpy(c->in, c->ib + c->in_off, n);
    c->scan = c->scan > c->in_off ? c->scan - c->in_off : 0;
    c->in_len = n;
    c->in_off = 0;
    c->ib = c->in;
    vl_bufpool_release(c->w->pool, c->ib_id);
}

/* Move in[]'s unparsed bytes to its start. */
static void in_compact(struct conn *c)
{
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = c->scan = 0;
    } else if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->scan = c->scan > c->in_off ? c->scan - c->in_off : 0;
        c->in_off = 0;
    }
}

/* Stop reading c (backpressure, a linger, a close): the RECV's cancel. */
static void rx_stop(struct conn *c)
{
    if (vl_loop_op_active(&c->rx) && !c->rx_pause) {
        c->rx_pause = true;
        vl_loop_cancel(c->w->loop, &c->rx);
    }
}

static void ovf_free(struct conn *c)
{
    free(c->ovf);
    c->ovf = NULL;
    c->ovf_off = c->ovf_len = c->ovf_cap = 0;
}

/* Move what fits of the overflow into in[]: whether anything did. */
static bool ovf_drain(struct conn *c)
{
    in_compact(c);
    size_t n = c->ovf_len - c->ovf_off;
    if (n > IN_CAP - c->in_len)
        n = IN_CAP - c->in_len;
    memcpy(c->in + c->in_len, c->ovf + c->ovf_off, n);
    c->in_len += n;
    c->ovf_off += n;
    if (c->ovf_off == c->ovf_len)
        ovf_free(c);
    return n > 0;
}

/*
 * A struct conn (about 48 KiB: in[] and out[]) of a closed connection is
 * kept for the next accept, up to CONN_SPARE_MAX per worker, rather than
 * given back to malloc. Freed, a run of them at the top of the heap is
 * returned to the kernel (brk) and the next connections take the memory
 * back page by page (a fault each): measured over loopback with 256 new
 * connections to a server that had just closed 256, 340 brk calls and 590
 * page faults, at /1m 1.4 to 2.3 % of the server's CPU time in brk alone
 * over a 5 s run. CONN_SPARE_MAX bounds what an idle worker keeps after a
 * burst: 12 MiB.
 */
#define CONN_SPARE_MAX 256u
static struct conn *conn_get(struct worker *w)
{
    struct conn *c = w->spare;
    if (c == NULL)
        return malloc(sizeof *c);
    w->spare = c->next;
    w->nspare--;
    return c;
}

static void conn_put(struct worker *w, struct conn *c)
{
    if (w->nspare >= CONN_SPARE_MAX || w->stopping) {
        free(c);
        return;
    }
    c->next = w->spare;
    w->spare = c;
    w->nspare++;
}

/* Free c: its descriptors, memory, the pool buffers it holds. Only when no
 * op of its own is in flight. */
static void conn_destroy(struct conn *c)
{
    struct worker *w = c->w;
    tl_remove(c);
    starved_remove(c);
    if (w->loop) { /* else the pool went with the engine */
        if (c->ib != c->in)
            vl_bufpool_release(w->pool, c->ib_id);
    }
    ovf_free(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* A registered fd must leave the engine's table before close(2), or the
     * table would keep the socket open. Without the loop the engine, and
     * its table, are gone already. */
    if (c->fixed && w->loop)
        vl_engine_fd_unregister(vl_loop_engine(w->loop), c->fd);
    close(c->fd);
    if (c->file_fd >= 0)
        close(c->file_fd);
    free(c->chunk);
    if (c->fill) {
        free(c->fill->data);
        free(c->fill);
    }
    conn_put(w, c);
    w->nconns--;
    maybe_finish(w);
}

/* Close c: at once if no op is in flight, else cancel them (the one-shot op
 * and the multishot RECV) and free at the last one's callback (the ops own
 * c's buffers until then). */
static void conn_close(struct conn *c)
{
    bool op = vl_loop_op_active(&c->op), rx = vl_loop_op_active(&c->rx);
    if (!op && !rx) {
        conn_destroy(c);
        return;
    }
    tl_remove(c);
    starved_remove(c);
    c->st = ST_CLOSING;
    if (op)
        vl_loop_cancel(c->w->loop, &c->op);
    rx_stop(c);
}

/* Close c after its one-shot op ended: at once, unless its multishot RECV
 * is still armed (then at that one's final callback). */
static void conn_free(struct conn *c)
{
    if (c->w->loop && vl_loop_op_active(&c->rx))
        conn_close(c);
    else
        conn_destroy(c);
}

static void conn_submit(struct conn *c, vl_op op, enum conn_state st)
{
    tl_remove(c);
    c->st = st;
    vl_loop_op_init(&c->op, op, on_op, c);
    if (vl_loop_submit(c->w->loop, &c->op) < 0)
        conn_free(c);
}

/* ---- the Date header and content types ------------------------------------- */

/* The status put_head builds from the worker's prepared head_ok: callers
 * pass this array (its address is what put_head looks at). */
static const char status_ok[] = "200 OK";

/* Append n bytes at p to a header being built at *at (put_head). */
static char *put_bytes(char *at, const void *p, size_t n)
{
    memcpy(at, p, n);
    return at + n;
}

/* A response head from its status line up to Content-Type's value. */
static char *put_head_start(char *at, const char *status, size_t status_len, const char *date,
                            size_t date_len)
{
    static const char server_date[] = "\r\nServer: vllsi\r\nDate: ";
    at = put_bytes(at, "HTTP/1.1 ", 9);
    at = put_bytes(at, status, status_len);
    at = put_bytes(at, server_date, sizeof server_date - 1);
    at = put_bytes(at, date, date_len);
    return put_bytes(at, "\r\nContent-Type: ", 16);
}

static void date_update(struct worker *w)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    w->date_len = strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    /* 9 + 6 + 23 + 39 + 16 bytes at most: head_ok has room. */
    w->head_ok_len =
        (size_t)(put_head_start(w->head_ok, status_ok, sizeof status_ok - 1, w->date, w->date_len) -
                 w->head_ok);
}

static void on_date(vl_loop *loop, vl_timer *t)
{
    (void)loop;
    date_update(t->ctx);
}

static const struct {
    const char *ext, *type;
} ctypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"wasm", "application/wasm"},
    {"ico", "image/x-icon"},
    {"pdf", "application/pdf"},
};

static const char *content_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof ctypes / sizeof ctypes[0]; i++)
            if (strcasecmp(dot + 1, ctypes[i].ext) == 0)
                return ctypes[i].type;
    return "application/octet-stream";
}

/* ---- responses ------------------------------------------------------------- */

static size_t out_room(const struct conn *c)
{
    return OUT_CAP - c->out_len;
}

/* v in decimal. */
static char *put_u64(char *at, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return put_bytes(at, digits + sizeof digits - n, n);
}

/* Append a status line and headers to out (the caller made sure of the
 * room: a header is under 512 bytes). Built piece by piece rather than by
 * snprintf, whose format parsing costs every response more than the rest of
 * the header together; a 200 (status_ok) starts from the worker's head_ok,
 * which date_update keeps. */
static void put_head(struct conn *c, const char *status, const char *ctype, uint64_t len,
                     const char *extra)
{
    static const char close_hdr[] = "Connection: close\r\n";
    static const char keep_hdr[] = "Connection: keep-alive\r\n";
    struct worker *w = c->w;
    const char *conn_hdr = c->close_after ? close_hdr : keep_hdr;
    size_t conn_len = c->close_after     ? sizeof close_hdr - 1
                      : c->keep_alive_10 ? sizeof keep_hdr - 1
                                         : 0;
    size_t status_len = strlen(status), ctype_len = strlen(ctype);
    extra = extra ? extra : "";
    size_t extra_len = strlen(extra);
    size_t need = status_len + w->date_len + ctype_len + conn_len + extra_len + 20 + 96;
    if (need >= out_room(c))
        return;
    char *at = c->out + c->out_len;
    if (status == status_ok)
        at = put_bytes(at, w->head_ok, w->head_ok_len);
    else
        at = put_head_start(at, status, status_len, w->date, w->date_len);
    at = put_bytes(at, ctype, ctype_len);
    at = put_bytes(at, "\r\nContent-Length: ", 18);
    at = put_u64(at, len);
    at = put_bytes(at, "\r\n", 2);
    at = put_bytes(at, conn_hdr, conn_len);
    at = put_bytes(at, extra, extra_len);
    at = put_bytes(at, "\r\n", 2);
    c->out_len = (size_t)(at - c->out);
}

static void put_body(struct conn *c, const void *p, size_t n)
{
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* An error response with a one-line text body. */
static void put_error(struct conn *c, int code, bool head)
{
    static const struct {
        int code;
        const char *status;
    } st[] = {
        {400, "400 Bad Request"},
        {403, "403 Forbidden"},
        {404, "404 Not Found"},
        {405, "405 Method Not Allowed"},
        {413, "413 Content Too Large"},
        {414, "414 URI Too Long"},
        {431, "431 Request Header Fields Too Large"},
        {500, "500 Internal Server Error"},
        {501, "501 Not Implemented"},
        {505, "505 HTTP Version Not Supported"},
    };
    const char *status = "500 Internal Server Error";
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (st[i].code == code)
            status = st[i].status;
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", status);
    put_head(c, status, "text/plain; charset=utf-8", (uint64_t)n,
             code == 405 ? "Allow: GET, HEAD\r\n" : NULL);
    if (!head)
        put_body(c, body, (size_t)n);
}

/* Start sending out[] (all of it, with as many SENDs as it takes). */
static void out_flush(struct conn *c)
{
    vl_op op = vl_op_send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, 0);
    op.flags |= VL_OP_F_DEADLINE;
    op.deadline_ns = SEND_DEADLINE_NS;
    conn_submit(c, op, ST_SEND);
}

/* ---- parsing --------------------------------------------------------------- */

struct request {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor; /* HTTP/1.minor */
    bool has_host, conn_close, conn_keep_alive, chunked;
    int64_t content_length; /* -1: none */
};

/* RFC 9110's tchar (ALPHA, DIGIT and "!#$%&'*+-.^_`|~") as a bitmap of the
 * 256 byte values: bit (ch & 63) of word ch >> 6. */
static const uint64_t tchar_map[4] = {0x03ff6cfa00000000u, 0x57ffffffc7fffffeu, 0, 0};

static bool is_tchar(int ch)
{
    return (tchar_map[ch >> 6] >> (ch & 63)) & 1;
}

/* Word-at-a-time tests of eight bytes (any alignment, any byte order). */
#define BYTES_01 0x0101010101010101u
#define BYTES_80 0x8080808080808080u

static uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* Whether a byte of w is below n (1 <= n <= 0x80): exact as a yes or no,
 * though which bits are set may not say which byte. */
static bool any_below(uint64_t w, unsigned n)
{
    return ((w - BYTES_01 * n) & ~w & BYTES_80) != 0;
}

/* Whether [p, e) holds a control byte other than HTAB (a field value's
 * rule): eight bytes at a time, then byte by byte from the first word that
 * may (a tab passes the word test only byte by byte). */
static bool has_ctl(const char *p, const char *e)
{
    while (e - p >= 8 && !any_below(load8(p), 0x20))
        p += 8;
    for (; p < e; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return true;
    return false;
}

/* Whether [p, e) holds a byte a request target may not: a control byte,
 * space, DEL or a byte above ASCII. */
static bool has_non_vchar(const char *p, const char *e)
{
    for (; e - p >= 8; p += 8) {
        uint64_t w = load8(p);
        if (any_below(w, 0x21) || (w & BYTES_80) || any_below(w ^ (BYTES_01 * 0x7f), 1))
            break;
    }
    for (; p < e; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return true;
    return false;
}

/* Whether the header name [p, p + n) is lower-case lit (n bytes). Names are
 * tchars, checked before: among them, setting 0x20 folds exactly the
 * upper-case letters (and maps no other tchar onto a letter or '-'). */
static bool name_is(const char *p, size_t n, const char *lit)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] | 0x20) != (unsigned char)lit[i])
            return false;
    return true;
}

/* Whether the comma-separated list v (length n) holds token tok. */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* The line ends head_end found, for parse_head: at[k] is the offset from
 * the head's start of its k-th '\n' (k < n). Complete (all) only when
 * head_end looked at the whole head in one call (it arrived at once, the
 * common case); otherwise, and past the first HEAD_EOLS lines, parse_head
 * looks for them itself. */
#define HEAD_EOLS 16
struct head_eols {
    bool all;
    uint32_t n;
    uint16_t at[HEAD_EOLS]; /* in[] is IN_CAP (16 KiB) bytes */
};

/* The end of line k, starting at p (before end): the '\n', or NULL. */
static const char *line_end(const char *head, const struct head_eols *l, uint32_t k, const char *p,
                            const char *end)
{
    if (l->all && k < l->n)
        return head + l->at[k];
    return memchr(p, '\n', (size_t)(end - p));
}

/* One header line [p, e) (no line ending) into r: 0, or an HTTP status. */
static int parse_header(struct request *r, const char *p, const char *e)
{
    const char *colon = memchr(p, ':', (size_t)(e - p));
    if (colon == NULL || colon == p)
        return 400;
    for (const char *q = p; q < colon; q++)
        if (!is_tchar((unsigned char)*q))
            return 400; /* includes whitespace before the colon and obs-fold */
    const char *v = colon + 1;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = e;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if (has_ctl(v, ve))
        return 400;
    size_t nl = (size_t)(colon - p), vl = (size_t)(ve - v);
    if (nl == 4 && name_is(p, 4, "host")) {
        if (r->has_host)
            return 400;
        r->has_host = true;
    } else if (nl == 10 && name_is(p, 10, "connection")) {
        r->conn_close |= has_token(v, vl, "close");
        r->conn_keep_alive |= has_token(v, vl, "keep-alive");
    } else if (nl == 14 && name_is(p, 14, "content-length")) {
        if (vl == 0 || vl > 18)
            return vl > 18 ? 413 : 400;
        int64_t n = 0;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 400;
            n = n * 10 + (v[i] - '0');
        }
        if (r->content_length >= 0 && r->content_length != n)
            return 400;
        r->content_length = n;
    } else if (nl == 17 && name_is(p, 17, "transfer-encoding")) {
        r->chunked = true;
    }
    return 0;
}

/* The request line [p, e) into r: 0 or an HTTP status. */
static int parse_request_line(struct request *r, const char *p, const char *e)
{
    const char *sp1 = memchr(p, ' ', (size_t)(e - p));
    if (sp1 == NULL || sp1 == p || sp1 - p > 16)
        return 400;
    for (const char *q = p; q < sp1; q++)
        if (!is_tchar((unsigned char)*q))
            return 400;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(e - t));
    if (sp2 == NULL || sp2 == t)
        return 400;
    if (has_non_vchar(t, sp2))
        return 400;
    const char *v = sp2 + 1;
    if (e - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]))
        return 400;
    if (v[5] != '1')
        return 505;
    r->method = p;
    r->method_len = (size_t)(sp1 - p);
    r->target = t;
    r->target_len = (size_t)(sp2 - t);
    r->minor = v[7] - '0';
    return 0;
}

/* Parse the head [p, end) (ending with the empty line) into r: 0 or an HTTP
 * status. Lines end with CRLF or a bare LF. A CR or NUL inside a line is a
 * 400: every byte of a line is checked by parse_request_line (method
 * tchars, target vchars, the exact version) or parse_header (name tchars,
 * then blanks, value bytes no control byte but HTAB, blanks), so neither
 * needs a search of its own. */
static int parse_head(struct request *r, const char *p, const char *end, const struct head_eols *l)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    const char *head = p;
    for (uint32_t k = 0; p < end; k++) {
        const char *nl = line_end(head, l, k, p, end);
        if (nl == NULL)
            return 400;
        const char *e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (e == p && k > 0)
            return 0; /* the empty line */
        int rc = k == 0 ? parse_request_line(r, p, e) : parse_header(r, p, e);
        if (rc)
            return rc;
        p = nl + 1;
    }
    return 400;
}

/* Find the end of the head in in[in_off, in_len): the offset after its
 * empty line, or 0 if it is not there yet. c->scan keeps where the search
 * stopped, so bytes trickling in are looked at once. The line ends it
 * passes go to l, for parse_head. */
static size_t head_end(struct conn *c, struct head_eols *l)
{
    const char *in = c->ib;
    size_t i = c->scan > c->in_off ? c->scan : c->in_off;
    const char *nl;
    l->all = i == c->in_off;
    l->n = 0;
    while (i < c->in_len && (nl = memchr(in + i, '\n', c->in_len - i)) != NULL) {
        i = (size_t)(nl - in);
        if (l->n < HEAD_EOLS)
            l->at[l->n++] = (uint16_t)(i - c->in_off);
        /* A line ends here; the head ends if the previous line was empty. */
        if (i > c->in_off &&
            (in[i - 1] == '\n' || (in[i - 1] == '\r' && i - 1 > c->in_off && in[i - 2] == '\n')))
            return i + 1;
        i++;
    }
    c->scan = c->in_len;
    return 0;
}

/* ---- paths ----------------------------------------------------------------- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/*
 * The target's path, percent-decoded, as a path relative to the root in
 * out (PATH_CAP bytes): 0, or an HTTP status. Refused before any system
 * call: a decoded NUL, a `..` segment (404, as if it did not exist: the
 * root has no parent to show), a target longer than PATH_CAP (414), a bad
 * %XX (400). Empty segments and `.` segments are dropped, so `//etc/passwd`
 * is `etc/passwd` under the root. A path ending in '/' (or the root itself)
 * names the directory's index.html.
 *
 * A target without '%' is its own decoding (parse_request_line let no
 * control byte, so no NUL, through), so only one with '%' is copied.
 */
static int target_path(const char *t, size_t n, char *out)
{
    const char *q = memchr(t, '?', n);
    if (q)
        n = (size_t)(q - t);
    if (n == 0 || t[0] != '/')
        return 400;
    char buf[PATH_CAP];
    const char *dec = t;
    size_t dl = n;
    if (memchr(t, '%', n) != NULL) {
        dl = 0;
        dec = buf;
    } else if (n >= sizeof buf) { /* as the copy below would: 1,023 bytes fit */
        return 414;
    }
    for (size_t i = 0; dec == buf && i < n; i++) {
        int ch = (unsigned char)t[i];
        if (ch == '%') {
            int hi = i + 2 < n ? hexval(t[i + 1]) : -1, lo = i + 2 < n ? hexval(t[i + 2]) : -1;
            if (i + 2 >= n || hi < 0 || lo < 0)
                return 400;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0)
            return 404;
        if (dl + 1 >= sizeof buf)
            return 414;
        buf[dl++] = (char)ch;
    }
    size_t ol = 0;
    bool dir = dec[dl - 1] == '/';
    for (const char *s = dec, *end = dec + dl; s < end;) {
        const char *e = memchr(s, '/', (size_t)(end - s));
        size_t sl = e ? (size_t)(e - s) : (size_t)(end - s);
        if (sl == 2 && s[0] == '.' && s[1] == '.')
            return 404;
        if (sl && !(sl == 1 && s[0] == '.')) {
            if (ol + sl + 2 >= PATH_CAP)
                return 414;
            if (ol)
                out[ol++] = '/';
            memcpy(out + ol, s, sl);
            ol += sl;
        } else if (sl == 1 && e == NULL) {
            dir = true; /* a trailing "/." */
        }
        s += sl + (e != NULL);
    }
    if (dir || ol == 0) {
        static const char idx[] = "/index.html";
        size_t il = sizeof idx - 1 - (ol == 0); /* no '/' before the root's */
        if (ol + il + 1 > PATH_CAP)
            return 414;
        memcpy(out + ol, idx + (ol == 0), il);
        ol += il;
    }
    out[ol] = 0;
    return 0;
}

/* ---- the cache ------------------------------------------------------------- */

static uint32_t path_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct centry **cache_slot(struct worker *w, const char *path)
{
    struct centry **pp = &w->cache[path_hash(path) % CACHE_BUCKETS];
    while (*pp && strcmp((*pp)->path, path) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* A fresh entry for path, or NULL (an expired one is dropped). */
static struct centry *cache_get(struct worker *w, const char *path)
{
    struct centry **pp = cache_slot(w, path);
    struct centry *e = *pp;
    if (e == NULL)
        return NULL;
    if (vl_loop_now(w->loop) - e->loaded_ns < CACHE_TTL_NS)
        return e;
    *pp = e->next;
    free(e->data);
    free(e);
    w->cache_n--;
    return NULL;
}

/* Keep e in the cache (true), or not, when CACHE_ENTRIES entries are there
 * already (false: the caller frees it once used). */
static bool cache_put(struct worker *w, struct centry *e)
{
    struct centry **pp = cache_slot(w, e->path);
    if (*pp) { /* another connection loaded it meanwhile: keep the newer */
        struct centry *old = *pp;
        *pp = old->next;
        free(old->data);
        free(old);
        w->cache_n--;
    }
    if (w->cache_n >= CACHE_ENTRIES)
        return false;
    uint32_t b = path_hash(e->path) % CACHE_BUCKETS;
    e->next = w->cache[b];
    w->cache[b] = e;
    w->cache_n++;
    return true;
}

static void cache_free(struct worker *w)
{
    for (int i = 0; i < CACHE_BUCKETS; i++)
        while (w->cache[i]) {
            struct centry *e = w->cache[i];
            w->cache[i] = e->next;
            free(e->data);
            free(e);
        }
}

/* ---- files ----------------------------------------------------------------- */

/* The answer to a failed open: 404 for what a client may name and the
 * root refuses or lacks (EXDEV: out of the root; EOPNOTSUPP, ENOSYS: no
 * openat2 to check with), 500 for the rest (EMFILE, EIO ...). */
static int open_status(int err)
{
    switch (-err) {
    case ENOENT:
    case ENOTDIR:
    case EXDEV:
    case ELOOP:
    case EACCES:
    case EISDIR:
    case ENAMETOOLONG:
    case EOPNOTSUPP:
    case ENOSYS:
        return 404;
    default:
        return 500;
    }
}

#if HTTP_ENGINE_FILES
/*
 * OPENAT of c->path relative to the root with RESOLVE_BENEATH (no `..`
 * above the root, no absolute path, no symlink leading out: -EXDEV) and
 * RESOLVE_NO_MAGICLINKS. The check is the kernel's (openat2); where it is
 * missing the op fails (-EOPNOTSUPP) and the file is refused.
 *
 * On the readiness drivers the file is opened O_NONBLOCK, as nginx opens
 * its files: their OPENAT opens with O_NONBLOCK on the loop thread anyway
 * and, when the caller did not ask for it, takes it off again with an
 * fcntl(2), one system call per request more; a regular file's reads and
 * sendfile(2) ignore the flag. Not on io_uring, which drops the flag inside
 * the open at no cost, and where a READ of an O_NONBLOCK file on a file
 * system without non-blocking reads would fail with -EAGAIN instead of
 * going to io-wq.
 */
static void file_open(struct conn *c)
{
    conn_submit(c,
                vl_op_openat2(root_fd, c->path, c->w->open_flags, 0,
                              VL_RESOLVE_BENEATH | VL_RESOLVE_NO_MAGICLINKS),
                ST_OPEN);
}

static void on_open(struct conn *c, int64_t res)
{
    /* EAGAIN: a rename raced the lookup; the kernel asks for another try. */
    if (res == -EAGAIN && ++c->open_tries < 3) {
        file_open(c);
        return;
    }
    if (res < 0) {
        put_error(c, open_status((int)res), c->head);
        conn_process(c);
        return;
    }
    c->file_fd = (int)res;
    conn_submit(c, vl_op_statx(c->file_fd, "", VL_AT_EMPTY_PATH, &c->stx), ST_STAT);
}
#else
/*
 * Open c->path beneath the root where there is no openat2 (macOS): openat
 * with O_NOFOLLOW_ANY (no symlink anywhere in the path), the `..` segments
 * being refused already; a system without O_NOFOLLOW_ANY refuses every
 * file. A plain call on the loop thread: the engine's OPENAT does not take
 * that flag. Returns the fd or a negative errno.
 */
static int open_beneath(const char *path)
{
#if defined(O_NOFOLLOW_ANY)
    int fd = openat(root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW_ANY);
    return fd < 0 ? -errno : fd;
#else
    (void)path;
    return -ENOSYS;
#endif
}
#endif

/* The file request in c->path: from the cache, or start opening it. */
static bool file_start(struct conn *c)
{
    struct centry *e = cache_max ? cache_get(c->w, c->path) : NULL;
    if (e) {
        put_head(c, status_ok, e->ctype, e->size, NULL);
        if (!c->head)
            put_body(c, e->data, e->size);
        return false;
    }
    c->ctype = content_type(c->path);
#if HTTP_ENGINE_FILES
    c->open_tries = 0;
    file_open(c);
#else
    int fd = open_beneath(c->path);
    if (fd < 0) {
        put_error(c, open_status(fd), c->head);
        return false;
    }
    c->file_fd = fd;
    conn_submit(c, vl_op_statx(fd, "", VL_AT_EMPTY_PATH, &c->stx), ST_STAT);
#endif
    return true;
}

static void file_close(struct conn *c)
{
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    free(c->chunk);
    c->chunk = NULL;
}

#if HTTP_ENGINE_FILES
/*
 * A body larger than CORK_MIN goes out corked (TCP_CORK, nginx's
 * tcp_nopush): the kernel then sends only full segments until the body's
 * end uncorks the socket. With TCP_NODELAY alone, a push while the body is
 * still being queued (the peer's ACKs processed between two pieces of a
 * sendfile) sends the partly filled segment at the queue's tail. Measured
 * on a 1 MiB body over loopback: the segments sent from the server's own
 * context averaged 34 KB uncorked and 47 KB corked (nginx: 47 to 52 KB),
 * about half as many per response, each with its per-packet cost. A body
 * that one sendfile(2) moves in one piece (64 KiB) gains nothing from it
 * and would pay the two setsockopt calls.
 */
#define CORK_MIN (64u << 10)
static void body_cork(struct conn *c, bool on)
{
    int v = on;
    if (c->corked != on && setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0)
        c->corked = on;
}

/*
 * A streamed file: out[] (the responses before it and its header) by SEND
 * with MSG_MORE, so the kernel holds the header back to go out with the
 * body, then the body by SENDFILE from the page cache, never through user
 * memory; corked from the header on when the body is large (body_cork).
 */
static void body_head_send(struct conn *c)
{
    if (c->file_size > CORK_MIN)
        body_cork(c, true);
    vl_op op = vl_op_send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, HTTP_MSG_MORE);
    op.flags |= VL_OP_F_DEADLINE;
    op.deadline_ns = SEND_DEADLINE_NS;
    conn_submit(c, op, ST_BODY_HDR);
}

static void body_next(struct conn *c)
{
    uint64_t left = c->file_size - c->file_off;
    if (left == 0) {
        body_cork(c, false); /* the tail segment goes now */
        file_close(c);
        conn_process(c);
        return;
    }
    size_t n = left < SENDFILE_MAX ? (size_t)left : SENDFILE_MAX;
    vl_op op = vl_op_sendfile(c->fd, c->file_fd, (int64_t)c->file_off, n);
    op.flags |= VL_OP_F_DEADLINE;
    op.deadline_ns = SEND_DEADLINE_NS;
    conn_submit(c, op, ST_BODY_TX);
}
#else
/* The next chunk of a streamed body: READ into c->chunk (SEND follows). */
static void body_next(struct conn *c)
{
    uint64_t left = c->file_size - c->file_off;
    if (left == 0) {
        file_close(c);
        conn_process(c);
        return;
    }
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    conn_submit(c, vl_op_read(c->file_fd, c->chunk, n, (int64_t)c->file_off), ST_BODY_RD);
}

/*
 * Send what is pending of a streamed file: the rest of out[] (the responses
 * before it and its header) and the rest of the chunk read, in one SENDV,
 * so that the header never goes out as a small segment of its own.
 */
static void body_send(struct conn *c)
{
    uint32_t n = 0;
    if (c->out_sent < c->out_len)
        c->iov[n++] = (vl_iovec){c->out + c->out_sent, c->out_len - c->out_sent};
    if (c->chunk_sent < c->chunk_len)
        c->iov[n++] = (vl_iovec){c->chunk + c->chunk_sent, c->chunk_len - c->chunk_sent};
    if (n == 0) {
        c->out_len = c->out_sent = 0;
        body_next(c);
        return;
    }
    vl_op op = vl_op_sendv(c->fd, c->iov, n, 0);
    op.flags |= VL_OP_F_DEADLINE;
    op.deadline_ns = SEND_DEADLINE_NS;
    conn_submit(c, op, ST_BODY_TX);
}

/* Account n bytes a SENDV of body_send took: out[] first, then the chunk. */
static void body_sent(struct conn *c, size_t n)
{
    size_t o = c->out_len - c->out_sent;
    if (o > n)
        o = n;
    c->out_sent += o;
    c->chunk_sent += n - o;
}
#endif

static void on_stat(struct conn *c, int64_t res)
{
    if (res < 0 || (c->stx.mode & VL_S_IFMT) != VL_S_IFREG) {
        file_close(c);
        put_error(c, res < 0 ? 500 : 404, c->head);
        conn_process(c);
        return;
    }
    c->file_size = c->stx.size;
    c->file_off = 0;
    if (c->file_size <= cache_max && !c->head) {
        size_t plen = strlen(c->path) + 1;
        struct centry *e = malloc(sizeof *e + plen);
        char *data = malloc(c->file_size ? c->file_size : 1);
        if (e == NULL || data == NULL) {
            free(e);
            free(data);
            file_close(c);
            put_error(c, 500, false);
            conn_process(c);
            return;
        }
        memcpy(e->path, c->path, plen);
        e->data = data;
        e->size = 0;
        e->ctype = c->ctype;
        c->fill = e;
        if (c->file_size == 0) {
            file_close(c);
            c->fill = NULL;
            e->loaded_ns = vl_loop_now(c->w->loop);
            put_head(c, status_ok, e->ctype, 0, NULL);
            if (!cache_put(c->w, e)) {
                free(e->data);
                free(e);
            }
            conn_process(c);
            return;
        }
        conn_submit(c, vl_op_read(c->file_fd, data, c->file_size, 0), ST_FILL);
        return;
    }
    put_head(c, status_ok, c->ctype, c->file_size, NULL);
    if (c->head) {
        file_close(c);
        conn_process(c);
        return;
    }
#if HTTP_ENGINE_FILES
    body_head_send(c);
#else
    c->chunk = malloc(CHUNK);
    if (c->chunk == NULL) {
        conn_close(c); /* its header is in out[]: nothing else may follow it */
        return;
    }
    body_next(c);
#endif
}

static void on_fill(struct conn *c, int64_t res)
{
    struct centry *e = c->fill;
    if (res < 0) {
        c->fill = NULL;
        free(e->data);
        free(e);
        file_close(c);
        put_error(c, 500, false);
        conn_process(c);
        return;
    }
    if (res == 0) { /* the file shrank under us: serve what was read */
        c->file_size = e->size;
    }
    e->size += (size_t)res;
    if (e->size < c->file_size) {
        conn_submit(
            c, vl_op_read(c->file_fd, e->data + e->size, c->file_size - e->size, (int64_t)e->size),
            ST_FILL);
        return;
    }
    c->fill = NULL;
    file_close(c);
    e->loaded_ns = vl_loop_now(c->w->loop);
    /* conn_process made sure of the room before it parsed the request. */
    put_head(c, status_ok, e->ctype, e->size, NULL);
    put_body(c, e->data, e->size);
    if (!cache_put(c->w, e)) {
        free(e->data);
        free(e);
    }
    conn_process(c);
}

/* ---- requests
 * ------------------------------------------------------------------------------------ */

/* Answer one parsed request: false when the answer is in out, true when a
 * file op was started (conn_process resumes when it is done). */
static bool answer(struct conn *c, const struct request *r)
{
    bool get = r->method_len == 3 && memcmp(r->method, "GET", 3) == 0;
    bool head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    if (!get && !head) {
        put_error(c, 405, false);
        return false;
    }
    /* The absolute form (what a client talking to a proxy sends) names the
     * same path after its authority. */
    const char *t = r->target;
    size_t tn = r->target_len;
    if (tn > 7 && t[0] != '/' && strncasecmp(t, "http://", 7) == 0) {
        const char *slash = memchr(t + 7, '/', tn - 7);
        tn = slash ? tn - (size_t)(slash - t) : 1;
        t = slash ? slash : "/";
    }
    int rc = target_path(t, tn, c->path);
    if (rc) {
        if (rc == 400 || rc == 414)
            c->linger = c->close_after = true;
        put_error(c, rc, head);
        return false;
    }
    if (strcmp(c->path, "plaintext") == 0) {
        put_head(c, status_ok, "text/plain", 13, NULL);
        if (!head)
            put_body(c, "Hello, World!", 13);
        return false;
    }
    c->head = head;
    in_own(c); /* the request is done with (its path is in c->path) */
    return file_start(c);
}

/* Parse and answer the next request in in[]: 1 answered (in out), 2 a
 * file op started, 0 more bytes needed (or the connection is closing). */
static int next_request(struct conn *c)
{
    if (c->skip) { /* the previous request's body, discarded */
        size_t have = c->in_len - c->in_off;
        size_t n = c->skip < have ? (size_t)c->skip : have;
        c->in_off += n;
        c->skip -= n;
        if (c->skip)
            return 0;
    }
    if (c->in_off == c->in_len)
        return 0;
    struct head_eols eols;
    size_t end = head_end(c, &eols);
    if (end == 0) {
        if (c->in_len - c->in_off <= REQ_MAX)
            return 0;
        const char *nl = memchr(c->ib + c->in_off, '\n', c->in_len - c->in_off);
        c->linger = c->close_after = true;
        put_error(c, nl ? 431 : 414, false);
        return 1;
    }
    if (end - c->in_off > REQ_MAX) {
        c->linger = c->close_after = true;
        put_error(c, 431, false);
        return 1;
    }
    struct request r;
    int rc = parse_head(&r, c->ib + c->in_off, c->ib + end, &eols);
    c->in_off = end;
    c->scan = end;
    c->req_t0 = 0;
    if (rc == 0 && r.minor >= 1 && !r.has_host)
        rc = 400;
    if (rc == 0 && r.chunked)
        rc = 501; /* no chunked bodies: the framing of what follows is unknown */
    if (rc == 0 && r.content_length > BODY_MAX)
        rc = 413;
    if (rc) {
        c->linger = c->close_after = true;
        put_error(c, rc, false);
        return 1;
    }
    c->skip = r.content_length > 0 ? (uint64_t)r.content_length : 0;
    c->keep_alive_10 = r.minor == 0 && r.conn_keep_alive && !r.conn_close;
    if (r.conn_close || (r.minor == 0 && !r.conn_keep_alive) || c->w->stopping)
        c->close_after = true;
    return answer(c, &r) ? 2 : 1;
}

/*
 * Answer what in[] holds, then send the batch (its SEND's completion comes
 * back here for the rest), or read more. A request is parsed only while
 * out[] has room for the largest response that goes there whole: the
 * header plus a cached body.
 */
static void conn_process(struct conn *c)
{
    while (!c->close_after && out_room(c) >= cache_max + RESP_HEAD_MAX) {
        int r = next_request(c);
        if (r == 2)
            return;
        if (r == 0)
            break;
    }
    in_own(c);
    if (c->out_len > c->out_sent) {
        out_flush(c);
        return;
    }
    c->out_len = c->out_sent = 0;
    if (c->linger && !c->w->stopping) {
        conn_linger(c);
        return;
    }
    if (c->close_after || c->w->stopping) {
        conn_close(c);
        return;
    }
    conn_recv(c, true);
}

/*
 * Close after an error response without losing it: the client may still be
 * sending what the server will not read (the rest of an oversized header),
 * and a close with unread data makes the kernel send a reset, which can
 * destroy the response before the client reads it. So: shut the sending
 * side (the client sees the end of the response), then read and drop what
 * comes for at most LINGER_NS, until the client closes.
 */
static void conn_linger(struct conn *c)
{
    if (c->st != ST_LINGER) {
        shutdown(c->fd, SHUT_WR);
        c->linger_until = vl_loop_now(c->w->loop) + LINGER_NS;
        tl_remove(c);
        starved_remove(c);
        ovf_free(c);
    }
    if (vl_loop_op_active(&c->rx)) { /* its final callback comes back here */
        c->st = ST_LINGER;
        rx_stop(c);
        return;
    }
    vl_op op = vl_op_recv(c->fd, c->in, IN_CAP, 0);
    op.flags |= VL_OP_F_DEADLINE | VL_OP_F_DEADLINE_ABS;
    op.deadline_ns = c->linger_until;
    conn_submit(c, op, ST_LINGER);
}

/* RECV more request bytes, with the idle deadline when nothing is pending
 * and the header deadline (from the request's first byte) when a request
 * is partly in. answered: every request read so far has its response sent;
 * then, with nothing pending, the client's next request has rarely come
 * yet (it waits for the response), so the RECV says so (VL_OP_F_POLL_FIRST,
 * which spares io_uring a recv attempt that would find nothing). The first
 * RECV of a connection has no such hint: a client sends its first request
 * as soon as it connects, often before the accept. */
static void on_rx(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags);

/* Arm c's multishot RECV (false: it could not be, and c is closed). */
static bool rx_arm(struct conn *c)
{
    vl_loop_op_init(&c->rx, vl_op_recv_multi(c->fd, c->w->pool, 0), on_rx, c);
    c->rx_pause = false;
    if (vl_loop_submit(c->w->loop, &c->rx) < 0) {
        conn_close(c);
        return false;
    }
    return true;
}

/*
 * With a multishot RECV: c waits for request bytes. Input held while a
 * response was going out is taken first; then c goes on the idle list
 * (nothing pending) or the header list (a head partly in, from its first
 * byte; a body being discarded, from the latest bytes), and its RECV is
 * armed unless it is (or waits for buffers). EOF with nothing left to
 * answer closes it.
 */
static void conn_wait(struct conn *c)
{
    struct worker *w = c->w;
    if (c->ovf && ovf_drain(c)) {
        conn_process(c); /* comes back here */
        return;
    }
    in_compact(c);
    if (c->rx_eof) {
        conn_close(c);
        return;
    }
    c->st = ST_RECV;
    int64_t now = vl_loop_now(w->loop);
    if (c->in_len || c->skip) {
        if (c->req_t0 == 0)
            c->req_t0 = now;
        tl_insert(c, &w->hdr, c->skip ? now + header_ns : c->req_t0 + header_ns);
    } else {
        tl_insert(c, &w->idle, now + idle_ns);
    }
    if (!vl_loop_op_active(&c->rx) && !c->starved)
        rx_arm(c);
}

/*
 * A pool buffer of c's RECV that c cannot parse in place: into in[], or,
 * while in[] has no room, into the overflow (input paused). in[] keeps at
 * least a pool buffer of room for a connection waiting for bytes (a head is
 * at most REQ_MAX of IN_CAP), so only one with a response in flight
 * overflows: by what the RECV delivered before its pause took effect (the
 * kernel hands over what the socket holds in one go). One whose overflow
 * would pass RX_OVF_MAX is closed (false). The buffer goes back at once.
 */
static bool rx_take(struct conn *c, uint32_t id, size_t n)
{
    const char *data = vl_bufpool_buf(c->w->pool, id);
    in_compact(c);
    if (c->ovf == NULL && IN_CAP - c->in_len >= n) {
        memcpy(c->in + c->in_len, data, n);
        c->in_len += n;
    } else {
        if (c->ovf_off > 0) { /* what was drained already */
            memmove(c->ovf, c->ovf + c->ovf_off, c->ovf_len - c->ovf_off);
            c->ovf_len -= c->ovf_off;
            c->ovf_off = 0;
        }
        if (c->ovf_len + n > c->ovf_cap) {
            size_t cap = c->ovf_cap ? c->ovf_cap * 2 : 4 * RX_BUF;
            while (cap < c->ovf_len + n)
                cap *= 2;
            char *p = cap <= RX_OVF_MAX ? realloc(c->ovf, cap) : NULL;
            if (p == NULL) {
                vl_bufpool_release(c->w->pool, id);
                conn_close(c);
                return false;
            }
            c->ovf = p;
            c->ovf_cap = cap;
        }
        memcpy(c->ovf + c->ovf_len, data, n);
        c->ovf_len += n;
    }
    vl_bufpool_release(c->w->pool, id);
    if (c->st != ST_RECV && (c->ovf || IN_CAP - c->in_len < RX_BUF))
        rx_stop(c); /* full while answering: the rest waits in the socket */
    return true;
}

static void on_rx(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags)
{
    struct conn *c = op->ctx;
    struct worker *w = c->w;
    if (flags & VL_CQE_MORE) {
        uint32_t id = vl_cqe_buffer(flags);
        if (!(flags & VL_CQE_BUFFER) || res <= 0)
            return;
        if (c->st == ST_CLOSING || c->st == ST_LINGER) {
            vl_bufpool_release(w->pool, id);
            return;
        }
        if (c->st == ST_RECV && c->in_off == c->in_len && c->skip == 0 && c->ovf == NULL) {
            /* The usual case: parse the buffer in place (in_own keeps what
             * is left of it once the requests in it are answered). */
            c->ib = vl_bufpool_buf(w->pool, id);
            c->ib_id = id;
            c->in_off = c->in_len = c->scan = 0;
            c->in_len = (size_t)res;
            conn_process(c);
            return;
        }
        if (rx_take(c, id, (size_t)res) && c->st == ST_RECV)
            conn_process(c);
        return;
    }
    bool paused = c->rx_pause;
    c->rx_pause = false;
    switch (c->st) {
    case ST_CLOSING:
        if (!vl_loop_op_active(&c->op))
            conn_destroy(c);
        return;
    case ST_LINGER: /* the RECV is stopped: the linger reads by itself */
        if (res == 0)
            conn_free(c);
        else if (!vl_loop_op_active(&c->op))
            conn_linger(c);
        return;
    default:
        break;
    }
    if (res == -ENOBUFS) { /* re-armed by on_rearm once buffers are back */
        c->starved = true;
        c->snext = w->starved;
        w->starved = c;
        vl_hook_start(loop, &w->rearm);
        return;
    }
    if (res == -ECANCELED && paused) {
        if (c->st == ST_RECV)
            conn_wait(c);
        return;
    }
    if (res == -EOPNOTSUPP) { /* no multishot on this driver: one-shot RECVs */
        w->mshot = false;
        if (c->st == ST_RECV) {
            tl_remove(c);
            conn_recv(c, false);
        }
        return;
    }
    if (res < 0) { /* a reset, an error: nothing more to answer */
        conn_close(c);
        return;
    }
    c->rx_eof = true; /* EOF: what came before it is answered first */
    if (c->st == ST_RECV)
        conn_wait(c);
}

/* The PREPARE hook: RECVs that ended -ENOBUFS armed again, one per buffer
 * back in the pool (what waited stays in their sockets meanwhile). */
static void on_rearm(vl_loop *loop, vl_hook *h)
{
    struct worker *w = h->ctx;
    uint32_t n = vl_bufpool_available(w->pool);
    while (w->starved && n > 0) {
        struct conn *c = w->starved;
        w->starved = c->snext;
        c->snext = NULL;
        c->starved = false;
        n--;
        rx_arm(c);
    }
    if (w->starved == NULL)
        vl_hook_stop(h);
    (void)loop;
}

/* The periodic sweep: connections whose idle or head deadline has passed
 * are closed (as a one-shot RECV's deadline would). */
static void on_sweep(vl_loop *loop, vl_timer *t)
{
    struct worker *w = t->ctx;
    int64_t now = vl_loop_now(loop);
    while (w->hdr.head && w->hdr.head->texp <= now)
        conn_close(w->hdr.head);
    while (w->idle.head && w->idle.head->texp <= now)
        conn_close(w->idle.head);
    if (w->hdr.head == NULL && w->idle.head == NULL)
        vl_timer_stop(t);
}

static void conn_recv(struct conn *c, bool answered)
{
    if (c->w->mshot) {
        conn_wait(c);
        return;
    }
    in_compact(c);
    vl_op op = vl_op_recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
    op.flags |= VL_OP_F_DEADLINE;
    if (c->in_len == 0 && c->skip == 0) {
        op.deadline_ns = idle_ns;
        if (answered)
            op.flags |= VL_OP_F_POLL_FIRST;
    } else {
        if (c->req_t0 == 0)
            c->req_t0 = vl_loop_now(c->w->loop);
        op.flags |= VL_OP_F_DEADLINE_ABS;
        op.deadline_ns = c->skip ? vl_loop_now(c->w->loop) + header_ns : c->req_t0 + header_ns;
    }
    conn_submit(c, op, ST_RECV);
}

#if HTTP_ENGINE_FILES
/* A step of a streamed body: out[] by SEND (MSG_MORE), then SENDFILEs. */
static void on_body(struct conn *c, int64_t res)
{
    /* 0 from SENDFILE: the file shrank below the length promised; the peer
     * cannot be answered right, so the connection closes (as on errors). */
    if (res <= 0 || c->st == ST_BODY_RD) {
        conn_free(c);
        return;
    }
    if (c->st == ST_BODY_HDR) {
        c->out_sent += (size_t)res;
        if (c->out_sent < c->out_len) {
            body_head_send(c);
            return;
        }
        c->out_len = c->out_sent = 0;
    } else {
        c->file_off += (uint64_t)res;
    }
    body_next(c);
}
#else
/* A step of a streamed body: a READ of the next chunk, or the SENDV of
 * out[] and the chunk. */
static void on_body(struct conn *c, int64_t res)
{
    /* READ 0: the file shrank below the length promised; as on errors, the
     * peer cannot be answered right, so the connection closes. */
    if (res <= 0 || c->st == ST_BODY_HDR) {
        conn_free(c);
        return;
    }
    if (c->st == ST_BODY_RD) {
        c->chunk_len = (size_t)res;
        c->chunk_sent = 0;
        c->file_off += (uint64_t)res;
    } else {
        body_sent(c, (size_t)res);
    }
    body_send(c);
}
#endif

/* ---- the op callback ------------------------------------------------------- */

static void on_op(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags)
{
    struct conn *c = op->ctx;
    (void)loop;
    (void)flags;
    switch (c->st) {
    case ST_CLOSING:
        conn_free(c);
        return;
    case ST_LINGER:
        if (res > 0)
            conn_linger(c);
        else
            conn_free(c);
        return;
    case ST_RECV:
        if (res <= 0) { /* EOF, reset, a deadline (-ETIMEDOUT), shutdown (-ECANCELED) */
            conn_free(c);
            return;
        }
        c->in_len += (size_t)res;
        conn_process(c);
        return;
    case ST_SEND:
        if (res <= 0) { /* the peer is gone or stopped reading: close quietly */
            conn_free(c);
            return;
        }
        c->out_sent += (size_t)res;
        if (c->out_sent < c->out_len) {
            out_flush(c);
            return;
        }
        c->out_len = c->out_sent = 0;
        conn_process(c);
        return;
    case ST_OPEN:
#if HTTP_ENGINE_FILES
        on_open(c, res);
        return;
#endif
    case ST_STAT:
        on_stat(c, res);
        return;
    case ST_FILL:
        on_fill(c, res);
        return;
    case ST_BODY_HDR:
    case ST_BODY_RD:
    case ST_BODY_TX:
        on_body(c, res);
        return;
    }
}

/* ---- accepting ------------------------------------------------------------- */

static void on_accept_retry(vl_loop *loop, vl_timer *t)
{
    struct worker *w = t->ctx;
    if (vl_loop_submit(loop, &w->acc) < 0) {
        w->acc_done = true;
        maybe_finish(w);
    }
}

static void on_accept(vl_loop *loop, vl_loop_op *op, int64_t res, uint32_t flags)
{
    struct worker *w = op->ctx;
    if (!(flags & VL_CQE_MORE)) {
        if (!w->stopping &&
            (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM)) {
            if (vl_timer_start(loop, &w->acc_retry, ACCEPT_RETRY_NS, 0) == 0)
                return;
        }
        if (!w->stopping)
            fprintf(stderr, "http_server: thread %d: accept ended: %s\n", w->index,
                    vl_errname((int)res));
        w->acc_done = true;
        close(w->lfd);
        w->lfd = -1;
        maybe_finish(w);
        return;
    }
    int fd = (int)res;
    if (w->stopping) {
        close(fd);
        return;
    }
    struct conn *c = conn_get(w);
    if (c == NULL) {
        close(fd);
        return;
    }
    memset(c, 0, offsetof(struct conn, path));
    c->ib = c->in;
    c->w = w;
    c->fd = fd;
    c->file_fd = -1;
    /* Responses leave in whole batches; the last segment of one must not
     * wait for the ACK of the previous (Nagle plus delayed ACKs: 40 ms). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Failure (a full table, an old kernel) only means the plain fd. */
    c->fixed = fixed_files && vl_engine_fd_register(vl_loop_engine(loop), fd) == 0;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    conn_recv(c, false);
}

/* ---- stopping -------------------------------------------------------------- */

static void on_grace(vl_loop *loop, vl_timer *t)
{
    (void)t;
    vl_loop_stop(loop);
}

/* The workers (workers[0] runs on the main thread) and the lock under
 * which they report setup and exit and send each other stops. */
static struct worker *workers;
static long nworkers;
static pthread_mutex_t ready_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static int ready_count;

/* Send w its stop, once, unless its handle is closed (its loop stopping or
 * gone, or never set up). Under ready_mu. */
static void send_stop_locked(struct worker *w)
{
    if (w->async_open && !w->stop_sent) {
        w->stop_sent = true;
        vl_async_send(&w->stop_async);
    }
}

static void close_stop_async(struct worker *w)
{
    pthread_mutex_lock(&ready_mu);
    w->async_open = false;
    vl_async_close(&w->stop_async);
    pthread_mutex_unlock(&ready_mu);
}

/* Stop w: stop accepting, close idle connections, let the ones answering
 * finish (at most SHUTDOWN_GRACE_NS). Worker 0 passes the stop on to the
 * others first. */
static void worker_stop(struct worker *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    if (w->index == 0) {
        vl_signal_stop(&w->sig_int);
        vl_signal_stop(&w->sig_term);
        pthread_mutex_lock(&ready_mu);
        for (long t = 1; t < nworkers; t++)
            send_stop_locked(&workers[t]);
        pthread_mutex_unlock(&ready_mu);
    }
    close_stop_async(w);
    vl_loop *loop = w->loop;
    vl_timer_stop(&w->date_timer);
    vl_timer_stop(&w->acc_retry);
    vl_timer_start(loop, &w->grace, SHUTDOWN_GRACE_NS, 0);
    if (vl_loop_op_active(&w->acc)) {
        vl_loop_cancel(loop, &w->acc);
    } else if (!w->acc_done) {
        w->acc_done = true;
        close(w->lfd);
        w->lfd = -1;
    }
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (c->st == ST_RECV || c->st == ST_LINGER)
            conn_close(c); /* idle, or a request not complete: nothing in flight to finish */
        else
            c->close_after = true;
    }
    maybe_finish(w);
}

/* Worker 0's stop from a worker that ended, or another's from worker 0. */
static void on_stop(vl_loop *loop, vl_async *a)
{
    (void)loop;
    worker_stop(a->ctx);
}

/* SIGINT/SIGTERM, watched by worker 0's loop: every worker stops. A
 * negative signum: the watcher failed (and stopped); the server stops
 * too, exiting 1. */
static void on_signal(vl_loop *loop, vl_signal *s, int signum)
{
    struct worker *w = s->ctx;
    (void)loop;
    if (signum < 0) {
        fprintf(stderr, "http_server: signal watcher: %s\n", vl_strerror(-signum));
        pthread_mutex_lock(&ready_mu);
        w->rc = signum;
        pthread_mutex_unlock(&ready_mu);
    }
    worker_stop(w);
}

/* ---- threads --------------------------------------------------------------- */

static void report_ready(struct worker *w, int rc)
{
    pthread_mutex_lock(&ready_mu);
    w->rc = rc;
    ready_count++;
    pthread_cond_signal(&ready_cv);
    pthread_mutex_unlock(&ready_mu);
}

static int worker_setup(struct worker *w)
{
    /* Connections come from the loop's ACCEPT and files from its OPENAT, so
     * no number is reused behind the engine's back, and nothing clears a
     * connection's O_NONBLOCK: epoll may keep each connection's
     * registration between requests. */
    vl_engine_config cfg = {
        .driver = w->driver, .max_inflight = 65536, .flags = VL_ENGINE_REMEMBER_FDS};
    int rc = vl_loop_init(&w->loop, &cfg);
    if (rc < 0)
        return rc;
    w->driver_name = vl_engine_driver_name(vl_loop_engine(w->loop));
    w->open_flags = O_RDONLY;
#if HTTP_ENGINE_FILES
    if (vl_engine_driver_kind(vl_loop_engine(w->loop)) != VL_DRIVER_URING)
        w->open_flags |= O_NONBLOCK; /* file_open says why */
#endif
    if (gather_ns > 0 && (rc = vl_loop_set_gather(w->loop, GATHER_WANT, gather_ns)) < 0)
        return rc;
    w->stop_async.ctx = w;
    if ((rc = vl_async_init(w->loop, &w->stop_async, on_stop)) < 0)
        return rc;
    w->async_open = true;
    if (w->index == 0) { /* the main thread: SIGINT/SIGTERM are blocked already */
        w->sig_int.ctx = w->sig_term.ctx = w;
        if ((rc = vl_signal_start(w->loop, &w->sig_int, SIGINT, on_signal)) < 0 ||
            (rc = vl_signal_start(w->loop, &w->sig_term, SIGTERM, on_signal)) < 0)
            return rc;
    }
    date_update(w);
    vl_timer_init(&w->date_timer, on_date, w);
    vl_timer_init(&w->acc_retry, on_accept_retry, w);
    vl_timer_init(&w->grace, on_grace, w);
    vl_timer_init(&w->sweep, on_sweep, w);
    vl_hook_init(&w->rearm, VL_HOOK_PREPARE, on_rearm, w);
    /* A pool for multishot RECVs; without one (or on a driver that answers
     * -EOPNOTSUPP to the first RECV), one-shot RECVs. */
    if (recv_multishot &&
        vl_bufpool_create(vl_loop_engine(w->loop), rx_bufs, RX_BUF, &w->pool) == 0)
        w->mshot = true;
    if ((rc = vl_timer_start(w->loop, &w->date_timer, VL_NS_PER_SEC, VL_NS_PER_SEC)) < 0)
        return rc;
    vl_op acc = vl_op_accept_multi(w->lfd);
#if HTTP_ENGINE_FILES
    /* Connections non-blocking from the start, which the engine's ops do
     * not need but SENDFILE's sendfile(2) call does: on a blocking socket
     * the engine makes it non-blocking around every call and restores it
     * (two fcntl calls per SENDFILE). Made so by the ACCEPT, the readiness
     * drivers know it without asking, and no fcntl per connection. */
    acc.u.accept.flags = VL_SOCK_NONBLOCK;
#endif
    vl_loop_op_init(&w->acc, acc, on_accept, w);
    return vl_loop_submit(w->loop, &w->acc);
}

/* Run w's loop until it stops (worker_free then frees what it holds). A
 * worker other than 0 that ends (its stop, or an error) has worker 0 stop
 * the server. */
static void worker_run(struct worker *w)
{
    int rc = vl_loop_run(w->loop, VL_RUN_DEFAULT);
    if (rc > 0)
        rc = 0;
    close_stop_async(w);
    pthread_mutex_lock(&ready_mu);
    if (rc < 0 && w->rc == 0)
        w->rc = rc;
    if (w->index > 0)
        send_stop_locked(&workers[0]);
    pthread_mutex_unlock(&ready_mu);
}

static void worker_free(struct worker *w)
{
    if (w->loop)
        vl_loop_destroy(w->loop); /* cancels what is left, without callbacks */
    w->loop = NULL;
    while (w->conns)
        conn_free(w->conns);
    while (w->spare) {
        struct conn *c = w->spare;
        w->spare = c->next;
        free(c);
    }
    w->nspare = 0;
    if (w->lfd >= 0)
        close(w->lfd);
    cache_free(w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int rc = worker_setup(w);
    report_ready(w, rc);
    if (rc == 0)
        worker_run(w);
    else
        close_stop_async(w);
    worker_free(w);
    if (rc < 0) {
        pthread_mutex_lock(&ready_mu);
        send_stop_locked(&workers[0]);
        pthread_mutex_unlock(&ready_mu);
    }
    return NULL;
}

/* ---- main ------------------------------------------------------------------ */

static int make_listener(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 4096) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: http_server [--port P] [--bind ADDR] [--root DIR] [--threads N]\n"
            "                   [--driver auto|uring|epoll|kqueue] [--cache-max BYTES]\n"
            "                   [--header-timeout SEC] [--idle-timeout SEC]\n"
            "                   [--recv multishot|oneshot] [--recv-buffers N] [--gather US]\n"
            "                   [--fixed-files on|off]\n"
            "  --recv-buffers N: the multishot RECV buffers per thread (4 KiB each),\n"
            "                    a power of two in 1..32768 (default 2048)\n"
            "  --gather US: under load, let a wait gather completions for up to US\n"
            "               microseconds (io_uring, Linux 6.12+); 0: off (default %d)\n",
            GATHER_US_DEFAULT);
    exit(2);
}

static long num_arg(const char *v, long lo, long hi)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == 0 || *end != 0 || n < lo || n > hi)
        usage();
    return n;
}

/* Start a thread per worker but worker 0 (set up already, on the main
 * thread) and wait until each has its loop running (or failed: said on
 * stderr). Returns how many threads were started; *ok says whether all
 * were and all run. */
static long start_workers(struct worker *ws, long threads, bool *ok)
{
    long started = 1;
    for (; started < threads; started++)
        if (pthread_create(&ws[started].th, NULL, worker_main, &ws[started]) != 0)
            break;
    *ok = started == threads;
    if (!*ok)
        fprintf(stderr, "http_server: could not start thread %ld\n", started);
    /* rc is the worker's, written under ready_mu (at setup and at exit). */
    pthread_mutex_lock(&ready_mu);
    while (ready_count < started - 1)
        pthread_cond_wait(&ready_cv, &ready_mu);
    for (long t = 1; t < started; t++)
        if (ws[t].rc < 0) {
            fprintf(stderr, "http_server: thread %ld: %s\n", t, vl_strerror(-ws[t].rc));
            *ok = false;
        }
    pthread_mutex_unlock(&ready_mu);
    return started;
}

/* Stop (those still running) and join the started workers but worker 0.
 * 0, or -1 if any worker failed. */
static int stop_workers(struct worker *ws, long started)
{
    pthread_mutex_lock(&ready_mu);
    for (long t = 1; t < started; t++)
        send_stop_locked(&ws[t]);
    pthread_mutex_unlock(&ready_mu);
    int rc = ws[0].rc < 0 ? -1 : 0;
    for (long t = 1; t < started; t++) {
        pthread_join(ws[t].th, NULL); /* after the join, rc is ours to read */
        if (ws[t].rc < 0)
            rc = -1;
    }
    return rc;
}

struct options {
    long port, threads;
    const char *bind_addr, *root;
    vl_driver_kind driver;
};

/* The command line into o and the globals it sets (cache_max, header_ns,
 * idle_ns); usage() on anything it does not know. */
static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){8080, 1, "127.0.0.1", ".", VL_DRIVER_AUTO};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        i++;
        if (!strcmp(a, "--port"))
            o->port = num_arg(v, 0, 65535);
        else if (!strcmp(a, "--threads"))
            o->threads = num_arg(v, 1, 256);
        else if (!strcmp(a, "--cache-max"))
            cache_max = (size_t)num_arg(v, 0, CACHE_MAX_LIMIT);
        else if (!strcmp(a, "--header-timeout"))
            header_ns = num_arg(v, 1, 3600) * VL_NS_PER_SEC;
        else if (!strcmp(a, "--idle-timeout"))
            idle_ns = num_arg(v, 1, 3600) * VL_NS_PER_SEC;
        else if (!strcmp(a, "--bind"))
            o->bind_addr = v;
        else if (!strcmp(a, "--root"))
            o->root = v;
        else if (!strcmp(a, "--driver") && !strcmp(v, "auto"))
            o->driver = VL_DRIVER_AUTO;
        else if (!strcmp(a, "--driver") && !strcmp(v, "uring"))
            o->driver = VL_DRIVER_URING;
        else if (!strcmp(a, "--driver") && !strcmp(v, "epoll"))
            o->driver = VL_DRIVER_EPOLL;
        else if (!strcmp(a, "--driver") && !strcmp(v, "kqueue"))
            o->driver = VL_DRIVER_KQUEUE;
        else if (!strcmp(a, "--recv") && !strcmp(v, "multishot"))
            recv_multishot = true;
        else if (!strcmp(a, "--recv") && !strcmp(v, "oneshot"))
            recv_multishot = false;
        else if (!strcmp(a, "--fixed-files") && !strcmp(v, "on"))
            fixed_files = true;
        else if (!strcmp(a, "--fixed-files") && !strcmp(v, "off"))
            fixed_files = false;
        else if (!strcmp(a, "--gather"))
            gather_ns = num_arg(v, 0, 1000000) * 1000;
        else if (!strcmp(a, "--recv-buffers")) {
            rx_bufs = (uint32_t)num_arg(v, 1, VL_BUFPOOL_MAX_COUNT);
            if (rx_bufs & (rx_bufs - 1))
                usage();
        } else
            usage();
    }
}

/* The numeric address o->bind_addr and o->port into *ss and *len: 0, or -1
 * (said on stderr). */
static int bind_address(const struct options *o, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, o->bind_addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)o->port);
        *len = sizeof *sin;
        return 0;
    }
    if (inet_pton(AF_INET6, o->bind_addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)o->port);
        *len = sizeof *sin6;
        return 0;
    }
    fprintf(stderr, "http_server: --bind wants a numeric IPv4 or IPv6 address\n");
    return -1;
}

int main(int argc, char **argv)
{
    struct options o;
    parse_args(argc, argv, &o);
    long port = o.port, threads = o.threads;
    const char *bind_addr = o.bind_addr;
    struct sockaddr_storage ss;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    socklen_t sslen;
    if (bind_address(&o, &ss, &sslen) < 0)
        return 2;
    root_fd = open(o.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        fprintf(stderr, "http_server: --root %s: %s\n", o.root, strerror(errno));
        return 1;
    }

    /* SIGINT/SIGTERM go to worker 0's signal watchers, on the main thread:
     * blocked before any thread starts (threads inherit the mask), as the
     * signalfd behind a watcher needs. SIGPIPE cannot come from the
     * engine's SENDs, but ignore it for the plain close() calls too. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    if (ws == NULL)
        return 1;
    workers = ws;
    nworkers = threads;
    /* Listeners first: with --port 0 the first bind picks the port and the
     * others join it through SO_REUSEPORT. */
    for (long t = 0; t < threads; t++) {
        int fd = make_listener(&ss, sslen);
        if (fd < 0) {
            fprintf(stderr, "http_server: listen on %s port %ld: %s\n", bind_addr, port,
                    strerror(-fd));
            return 1;
        }
        if (t == 0) {
            socklen_t l = sslen;
            getsockname(fd, (struct sockaddr *)&ss, &l);
        }
        ws[t].index = (int)t;
        ws[t].lfd = fd;
        ws[t].driver = o.driver;
    }
    /* Worker 0 runs on the main thread: with --threads 1 the process has
     * one thread, so a descriptor call takes no reference on its file (the
     * atomic pair of fdget/fput, which a shared descriptor table needs). */
    bool ok = false;
    long started = 0;
    int rc0 = worker_setup(&ws[0]);
    if (rc0 < 0) {
        fprintf(stderr, "http_server: thread 0: %s\n", vl_strerror(-rc0));
        ws[0].rc = rc0;
    } else {
        started = start_workers(ws, threads, &ok);
    }
    if (ok) {
        char host[64];
        inet_ntop(ss.ss_family,
                  ss.ss_family == AF_INET ? (void *)&sin->sin_addr : (void *)&sin6->sin6_addr, host,
                  sizeof host);
        printf("listening on %s:%u (driver %s, %ld thread%s)\n", host,
               ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port), ws[0].driver_name,
               threads, threads > 1 ? "s" : "");
        fflush(stdout);
        worker_run(&ws[0]);
    } else {
        close_stop_async(&ws[0]);
    }
    int rc = stop_workers(ws, started) < 0 || !ok ? 1 : 0;
    worker_free(&ws[0]);
    free(ws);
    close(root_fd);
    return rc;
}
