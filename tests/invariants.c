/*
 * tests/invariants.c - the invariant checks of tests/invariants.h.
 */
#define _GNU_SOURCE
#include "invariants.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_BUFS    65536u
#define MAX_BUF_LEN (1u << 20)
/* Sealed buffers kept mapped at once; older ones are unmapped, which keeps
 * the mapping count far below vm.max_map_count in long runs. */
#define QUARANTINE  2048u

enum { B_FRESH = 0, B_CLAIMED, B_SEALED, B_UNMAPPED };

struct inv_buf {
    uint8_t *map;
    size_t maplen;
    uint8_t *p;
    size_t len;
    int state;
};

struct inv_rec {
    uint64_t id; /* 0: empty */
    void *ud;
    vl_op op;
    int64_t deadline; /* TIMEOUT: real monotonic ns it may fire from */
    int32_t buf;      /* index in v->bufs, -1 none */
    /* Chains: the member before and after this one (0: none), and whether
     * a member before it failed, so that it must end with -ECANCELED. */
    uint64_t prev, next;
    bool must_cancel;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void inv_fail(struct inv *v, const char *fmt, ...)
{
    if (v->violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->why, sizeof(v->why), fmt, ap);
        va_end(ap);
    }
}

int inv_init(struct inv *v, vl_driver_kind kind, uint32_t max_live)
{
    memset(v, 0, sizeof(*v));
    uint32_t cap = 16;
    while (cap < 2 * (max_live ? max_live : VL_ENGINE_DEFAULT_MAX_INFLIGHT))
        cap <<= 1;
    v->recs = calloc(cap, sizeof(*v->recs));
    if (v->recs == NULL)
        return -ENOMEM;
    v->rec_mask = cap - 1;
    v->real_fds = kind != VL_DRIVER_SIM;
    v->check_time = kind != VL_DRIVER_SIM;
    return 0;
}

static void buf_unmap(struct inv_buf *b)
{
    if (b->state != B_UNMAPPED && b->map != NULL)
        munmap(b->map, b->maplen);
    b->state = B_UNMAPPED;
}

void inv_fini(struct inv *v)
{
    for (uint32_t i = 0; i < v->nbufs; i++)
        buf_unmap(&v->bufs[i]);
    free(v->bufs);
    free(v->recs);
    v->bufs = NULL;
    v->recs = NULL;
}

/* ---- guarded buffers ----------------------------------------------------------- */

void *inv_buf(struct inv *v, size_t len)
{
    if (len == 0 || len > MAX_BUF_LEN || v->nbufs >= MAX_BUFS)
        return NULL;
    if (v->nbufs == v->buf_cap) {
        uint32_t cap = v->buf_cap ? 2 * v->buf_cap : 64;
        struct inv_buf *nb = realloc(v->bufs, cap * sizeof(*nb));
        if (nb == NULL)
            return NULL;
        v->bufs = nb;
        v->buf_cap = cap;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (len + page - 1) / page * page;
    uint8_t *map =
        mmap(NULL, body + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (mprotect(map + body, page, PROT_NONE) != 0) {
        munmap(map, body + page);
        return NULL;
    }
    struct inv_buf *b = &v->bufs[v->nbufs++];
    b->map = map;
    b->maplen = body + page;
    b->len = len;
    b->p = map + body - len; /* ends at the guard page */
    b->state = B_FRESH;
    return b->p;
}

/* The fresh buffer p points into (searching back from the newest: a test
 * takes a buffer right before it submits the op using it), or -1. */
static int32_t buf_claim(struct inv *v, const void *p, size_t len)
{
    if (p == NULL)
        return -1;
    for (uint32_t k = v->nbufs; k-- > 0 && v->nbufs - k <= 4096;) {
        struct inv_buf *b = &v->bufs[k];
        if (b->state == B_FRESH && (const uint8_t *)p >= b->p &&
            (const uint8_t *)p + len <= b->p + b->len) {
            b->state = B_CLAIMED;
            return (int32_t)k;
        }
    }
    return -1;
}

static void buf_seal(struct inv *v, int32_t k)
{
    struct inv_buf *b = &v->bufs[k];
    if (mprotect(b->map, b->maplen, PROT_NONE) != 0)
        inv_fail(v, "mprotect(PROT_NONE) failed: %s", strerror(errno));
    b->state = B_SEALED;
    v->sealed++;
    /* Keep the newest QUARANTINE sealed buffers mapped. */
    if (v->sealed > QUARANTINE) {
        for (uint32_t i = 0; i < v->nbufs; i++) {
            if (v->bufs[i].state == B_SEALED) {
                buf_unmap(&v->bufs[i]);
                v->sealed--;
                break;
            }
        }
    }
}

/* ---- the live-id table (linear probing, backward-shift deletion) ------------------ */

static uint32_t rec_hash(const struct inv *v, uint64_t id)
{
    return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & v->rec_mask;
}

static struct inv_rec *rec_find(struct inv *v, uint64_t id)
{
    for (uint32_t i = rec_hash(v, id);; i = (i + 1) & v->rec_mask) {
        if (v->recs[i].id == id)
            return &v->recs[i];
        if (v->recs[i].id == 0)
            return NULL;
    }
}

static struct inv_rec *rec_add(struct inv *v, uint64_t id)
{
    if (v->live >= (v->rec_mask + 1) / 2)
        return NULL;
    uint32_t i = rec_hash(v, id);
    while (v->recs[i].id != 0)
        i = (i + 1) & v->rec_mask;
    v->recs[i].id = id;
    v->live++;
    return &v->recs[i];
}

static void rec_del(struct inv *v, struct inv_rec *r)
{
    uint32_t i = (uint32_t)(r - v->recs);
    v->recs[i].id = 0;
    v->live--;
    /* Shift later members of the run back so lookups never stop early. */
    for (uint32_t j = (i + 1) & v->rec_mask; v->recs[j].id != 0; j = (j + 1) & v->rec_mask) {
        uint32_t h = rec_hash(v, v->recs[j].id);
        bool between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!between) {
            v->recs[i] = v->recs[j];
            v->recs[j].id = 0;
            i = j;
        }
    }
}

/* ---- submit -------------------------------------------------------------------------- */

static void op_buffer(const vl_op *op, const void **p, size_t *len)
{
    *p = NULL;
    *len = 0;
    if (op->kind == VL_OP_READ || op->kind == VL_OP_WRITE) {
        *p = op->u.rw.buf;
        *len = op->u.rw.len;
    } else if (op->kind == VL_OP_SEND || op->kind == VL_OP_RECV) {
        *p = op->u.msg.buf;
        *len = op->u.msg.len;
    } else if (op->kind == VL_OP_SENDV) {
        /* The array; a caller that wants the data sealed too puts it in
         * the same inv_buf, before the array (tests/fuzz does). */
        *p = op->u.vec.iov;
        *len = (size_t)op->u.vec.iovcnt * sizeof(vl_iovec);
    } else if (op->kind == VL_OP_READV || op->kind == VL_OP_WRITEV) {
        /* The array, as SENDV's. */
        *p = op->u.rwv.iov;
        *len = (size_t)op->u.rwv.iovcnt * sizeof(vl_iovec);
    }
}

static bool is_multishot(const vl_op *op);

/* The op r (id) was submitted: a member of the open chain if there is one
 * (and its predecessor still alive: a completion means a poll ended the
 * chain); it opens or extends a chain with VL_OP_F_LINK. */
static void chain_join(struct inv *v, struct inv_rec *r, uint64_t id)
{
    struct inv_rec *prev = v->chain_tail != 0 ? rec_find(v, v->chain_tail) : NULL;
    r->prev = prev != NULL ? v->chain_tail : 0;
    r->next = 0;
    r->must_cancel = false;
    if (prev != NULL) {
        prev->next = id;
        v->chain_members++;
        if (is_multishot(&r->op))
            inv_fail(v, "multishot op %llx (kind %d) accepted into a chain", (unsigned long long)id,
                     r->op.kind);
    }
    if ((r->op.flags & VL_OP_F_LINK) && is_multishot(&r->op))
        inv_fail(v, "multishot op %llx accepted with VL_OP_F_LINK", (unsigned long long)id);
    v->chain_tail = (r->op.flags & VL_OP_F_LINK) ? id : 0;
}

int64_t inv_submit(struct inv *v, vl_engine *e, const vl_op *op, void *ud)
{
    uint32_t before = vl_engine_inflight(e);
    /* Read the clock before submit does: the engine's deadline is then at
     * or after ours. Read after, a preemption between the two reads would
     * make a punctual TIMEOUT look early (the fuzzer found exactly that). */
    int64_t t0 = op != NULL && op->kind == VL_OP_TIMEOUT ? mono_ns() : 0;
    int64_t id = vl_engine_submit(e, op, ud);
    uint32_t after = vl_engine_inflight(e);
    if (id <= 0) {
        v->sync_errors++;
        if (id == 0 || id < -4095)
            inv_fail(v, "submit returned %lld: neither an id nor an errno", (long long)id);
        if (after != before)
            inv_fail(v, "submit failed (%lld) but the live count went %u -> %u", (long long)id,
                     before, after);
        return id;
    }
    if (after != before + 1)
        inv_fail(v, "submit issued id %llx but the live count went %u -> %u",
                 (unsigned long long)id, before, after);
    if (rec_find(v, (uint64_t)id) != NULL) {
        inv_fail(v, "submit issued id %llx, which is still alive", (unsigned long long)id);
        return id;
    }
    struct inv_rec *r = rec_add(v, (uint64_t)id);
    if (r == NULL) {
        inv_fail(v, "more live ids than max_live");
        return id;
    }
    v->issued++;
    r->ud = ud;
    r->op = *op;
    chain_join(v, r, (uint64_t)id);
    r->deadline = op->kind == VL_OP_TIMEOUT ? t0 + op->u.timeout.duration_ns : 0;
    const void *p;
    size_t len;
    op_buffer(op, &p, &len);
    r->buf = buf_claim(v, p, len);
    return id;
}

/* ---- completions ----------------------------------------------------------------------- */

/* Whether a chain goes on after op completed with r: r >= 0 and, for a
 * transfer, every byte asked for. */
static bool chain_goes_on(const vl_op *op, int64_t r)
{
    if (r < 0)
        return false;
    if (op->kind == VL_OP_READ || op->kind == VL_OP_WRITE)
        return r >= (int64_t)op->u.rw.len;
    if (op->kind == VL_OP_SEND || op->kind == VL_OP_RECV)
        return r >= (int64_t)op->u.msg.len;
    if (op->kind == VL_OP_SENDV) {
        uint64_t total = 0;
        for (uint32_t k = 0; k < op->u.vec.iovcnt; k++)
            total += op->u.vec.iov[k].len;
        return r >= (int64_t)total;
    }
    if (op->kind == VL_OP_READV || op->kind == VL_OP_WRITEV) {
        uint64_t total = 0;
        for (uint32_t k = 0; k < op->u.rwv.iovcnt; k++)
            total += op->u.rwv.iov[k].len;
        return r >= (int64_t)total;
    }
    if (op->kind == VL_OP_SENDMSG || op->kind == VL_OP_RECVMSG) {
        uint64_t total = 0;
        for (size_t k = 0; k < (size_t)op->u.mh.msg->msg_iovlen; k++)
            total += op->u.mh.msg->msg_iov[k].iov_len;
        return r >= (int64_t)total;
    }
    return true;
}

/* The chain rules at rec's final completion c (see invariants.h). */
static void check_chain(struct inv *v, const struct inv_rec *rec, const vl_completion *c)
{
    unsigned long long id = (unsigned long long)c->id;
    if (rec->prev != 0 && rec_find(v, rec->prev) != NULL)
        inv_fail(v, "chain member %llx completed before its predecessor %llx", id,
                 (unsigned long long)rec->prev);
    bool timed_out = (rec->op.flags & VL_OP_F_DEADLINE) && c->result == -ETIMEDOUT;
    if (rec->must_cancel && c->result != -ECANCELED && !timed_out)
        inv_fail(v, "chain member %llx after a failed member completed with %lld, not -ECANCELED",
                 id, (long long)c->result);
    if (rec->next != 0 && (rec->must_cancel || !chain_goes_on(&rec->op, c->result))) {
        struct inv_rec *next = rec_find(v, rec->next);
        if (next != NULL)
            next->must_cancel = true;
    }
}

/* Whether op completes more than once: the multishot mode, a flag of the op
 * (<vllsi/engine.h>, VL_OP_F_MULTISHOT), whatever its kind. */
static bool is_multishot(const vl_op *op)
{
    return (op->flags & VL_OP_F_MULTISHOT) != 0;
}

static void check_accepted_fd(struct inv *v, int64_t r)
{
    if (!v->real_fds || r < 0)
        return;
    int fl = fcntl((int)r, F_GETFD);
    if (fl < 0)
        inv_fail(v, "accepted fd %lld is not open (%s)", (long long)r, strerror(errno));
    else if (!(fl & FD_CLOEXEC))
        inv_fail(v, "accepted fd %lld is not CLOEXEC", (long long)r);
}

/* The result domain of one completion of rec (see invariants.h). */
static void check_domain(struct inv *v, const struct inv_rec *rec, const vl_completion *c)
{
    int64_t r = c->result;
    const vl_op *op = &rec->op;
    unsigned long long id = (unsigned long long)c->id;
    if (r < -4095 || r == -EINTR)
        inv_fail(v, "id %llx: result %lld outside the contract", id, (long long)r);
    if (r == -EFAULT)
        inv_fail(v, "id %llx (kind %d): -EFAULT: a kernel access to a sealed or foreign buffer", id,
                 op->kind);
    /* No default: -Wswitch names a kind of <vllsi/op_kinds.h> left out. */
    switch (op->kind) {
    case VL_OP_READ:
    case VL_OP_WRITE:
        if (r > (int64_t)op->u.rw.len)
            inv_fail(v, "id %llx: %lld bytes for a length of %zu", id, (long long)r, op->u.rw.len);
        break;
    case VL_OP_RECV:
        /* Multishot: data comes in a pool buffer with MORE; the end is EOF
         * or an error. */
        if (is_multishot(op)) {
            if ((c->flags & VL_CQE_MORE) ? (r <= 0 || !(c->flags & VL_CQE_BUFFER)) : r > 0)
                inv_fail(v, "id %llx: multishot RECV completion %lld with flags %x", id,
                         (long long)r, c->flags);
            break;
        }
        /* fall through */
    case VL_OP_SEND:
        if (r > (int64_t)op->u.msg.len)
            inv_fail(v, "id %llx: %lld bytes for a length of %zu", id, (long long)r, op->u.msg.len);
        break;
    case VL_OP_SENDV: {
        /* Read before the seal: the checker runs ahead of it. */
        uint64_t total = 0;
        for (uint32_t k = 0; k < op->u.vec.iovcnt; k++)
            total += op->u.vec.iov[k].len;
        if (r > (int64_t)total)
            inv_fail(v, "id %llx: SENDV of %llu bytes reported %lld", id, (unsigned long long)total,
                     (long long)r);
        break;
    }
    case VL_OP_OPENAT:
        break; /* the new fd, or an error */
    case VL_OP_SENDFILE:
        if (r > (int64_t)op->u.sendfile.count)
            inv_fail(v, "id %llx: SENDFILE of %llu bytes reported %lld", id,
                     (unsigned long long)op->u.sendfile.count, (long long)r);
        break;
    case VL_OP_SPLICE:
        if (r > (int64_t)op->u.splice.len)
            inv_fail(v, "id %llx: SPLICE of %llu bytes reported %lld", id,
                     (unsigned long long)op->u.splice.len, (long long)r);
        break;
    case VL_OP_READV:
    case VL_OP_WRITEV: {
        uint64_t total = 0;
        for (uint32_t k = 0; k < op->u.rwv.iovcnt; k++)
            total += op->u.rwv.iov[k].len;
        if (r > (int64_t)total)
            inv_fail(v, "id %llx (kind %d): %lld bytes for a list of %llu", id, op->kind,
                     (long long)r, (unsigned long long)total);
        break;
    }

    case VL_OP_SENDMSG:
    case VL_OP_RECVMSG: {
        /* Multishot RECVMSG: a pool buffer with MORE (the header counts, so
         * never 0 bytes); the end is 0 or an error. */
        if (is_multishot(op)) {
            if ((c->flags & VL_CQE_MORE)
                    ? (r < (int64_t)sizeof(vl_recvmsg_out) || !(c->flags & VL_CQE_BUFFER))
                    : r > 0)
                inv_fail(v, "id %llx: multishot RECVMSG completion %lld with flags %x", id,
                         (long long)r, c->flags);
            break;
        }
        uint64_t total = 0;
        for (size_t k = 0; k < (size_t)op->u.mh.msg->msg_iovlen; k++)
            total += op->u.mh.msg->msg_iov[k].iov_len;
        if (r > (int64_t)total && !(op->kind == VL_OP_RECVMSG && (op->u.mh.flags & MSG_TRUNC)))
            inv_fail(v, "id %llx: %s of %llu bytes reported %lld", id,
                     op->kind == VL_OP_SENDMSG ? "SENDMSG" : "RECVMSG", (unsigned long long)total,
                     (long long)r);
        break;
    }
    case VL_OP_NOP:
    case VL_OP_CONNECT:
    case VL_OP_CLOSE:
    case VL_OP_SHUTDOWN:
    case VL_OP_BIND:
    case VL_OP_LISTEN:
    case VL_OP_STATX:
    case VL_OP_FTRUNCATE:
    case VL_OP_UNLINKAT:
    case VL_OP_RENAMEAT:
    case VL_OP_MKDIRAT:
    case VL_OP_FSYNC:
        if (r > 0)
            inv_fail(v, "id %llx (kind %d): result %lld > 0", id, op->kind, (long long)r);
        break;
    case VL_OP_WAITPID:
        if (r > (VL_CHILD_SIGNALED | 0xff))
            inv_fail(v, "id %llx: WAITPID completed with %lld, no exit status", id, (long long)r);
        break;
    case VL_OP_SOCKET:
        if (r > INT32_MAX)
            inv_fail(v, "id %llx: SOCKET completed with %lld, no fd", id, (long long)r);
        break;
    case VL_OP_TIMEOUT:
        if (r != 0 && r != -ECANCELED)
            inv_fail(v, "id %llx: TIMEOUT completed with %lld", id, (long long)r);
        if (r == 0 && v->check_time && mono_ns() < rec->deadline)
            inv_fail(v, "id %llx: TIMEOUT fired %lld ns early", id,
                     (long long)(rec->deadline - mono_ns()));
        break;
    case VL_OP_CANCEL:
        /* A CANCEL is an op too: shutdown may cancel it before it ran. */
        if (r != 0 && r != -ENOENT && r != -EALREADY && r != -ECANCELED)
            inv_fail(v, "id %llx: CANCEL completed with %lld", id, (long long)r);
        break;
    case VL_OP_ACCEPT:
        if (is_multishot(op) && ((c->flags & VL_CQE_MORE) ? r < 0 : r >= 0))
            inv_fail(v, "id %llx: multishot ACCEPT completion %lld with flags %x", id, (long long)r,
                     c->flags);
        check_accepted_fd(v, r);
        break;
    case VL_OP_POLL: {
        /* A mask of the asked bits, ERR and HUP, never 0; a multishot POLL
         * reports masks with MORE only and ends with an error. */
        uint32_t allowed = op->u.poll.events | VL_POLL_ERR | VL_POLL_HUP;
        if (r == 0 || (r > 0 && (r & ~(int64_t)allowed) != 0))
            inv_fail(v, "id %llx: POLL mask %#llx for events %#x", id, (long long)r,
                     op->u.poll.events);
        if (is_multishot(op) && ((c->flags & VL_CQE_MORE) ? r <= 0 : r >= 0))
            inv_fail(v, "id %llx: multishot POLL completion %lld with flags %x", id, (long long)r,
                     c->flags);
        break;
    }
    case VL_OP_KIND_COUNT_:
        inv_fail(v, "id %llx: a completion for an op of unknown kind %d", id, op->kind);
        break;
    }
}

void inv_harvest(struct inv *v, const vl_completion *c)
{
    struct inv_rec *rec = rec_find(v, c->id);
    if (rec == NULL) {
        inv_fail(v,
                 "completion for id %llx (result %lld), which is not alive: never issued "
                 "or completed already",
                 (unsigned long long)c->id, (long long)c->result);
        return;
    }
    if (rec->ud != c->user_data)
        inv_fail(v, "id %llx: user_data %p, submitted with %p", (unsigned long long)c->id,
                 c->user_data, rec->ud);
    check_domain(v, rec, c);
    if (v->on_completion != NULL)
        v->on_completion(v->on_completion_ctx, &rec->op, c);
    if (c->flags & VL_CQE_MORE) {
        if (!is_multishot(&rec->op))
            inv_fail(v, "id %llx: VL_CQE_MORE on a single-shot op (kind %d)",
                     (unsigned long long)c->id, rec->op.kind);
        v->mores++;
        return;
    }
    /* The final completion: from now on the op's buffer is the caller's
     * alone, so any access by the engine or the kernel must fault. */
    check_chain(v, rec, c); /* it may read a SENDV's array: before the seal */
    if (rec->buf >= 0)
        buf_seal(v, rec->buf);
    v->finals++;
    rec_del(v, rec);
}

int inv_poll(struct inv *v, vl_engine *e, int64_t timeout_ns, vl_completion *out, int cap)
{
    v->chain_tail = 0; /* the poll ends an open chain */
    int n = vl_engine_poll(e, timeout_ns, out, cap);
    if (n < 0) {
        if (out != NULL && cap > 0)
            inv_fail(v, "poll failed with %d on valid arguments", n);
        return n;
    }
    if (n > cap)
        inv_fail(v, "poll returned %d completions for room for %d", n, cap);
    for (int k = 0; k < n && k < cap; k++)
        inv_harvest(v, &out[k]);
    return n;
}

bool inv_finish(struct inv *v, vl_engine *e)
{
    vl_completion c[64];
    vl_engine_shutdown(e);
    int n, rounds = 0;
    int64_t t0 = mono_ns();
    while ((n = inv_poll(v, e, -1, c, 64)) > 0)
        rounds++;
    if (mono_ns() - t0 > 5000000000ll)
        inv_fail(v, "polls after shutdown took %lld ms: one blocked",
                 (long long)((mono_ns() - t0) / 1000000));
    if (v->live != 0)
        inv_fail(v, "%u ids never had their final completion (%llu issued, %llu final)", v->live,
                 (unsigned long long)v->issued, (unsigned long long)v->finals);
    if (vl_engine_inflight(e) != 0)
        inv_fail(v, "the engine still counts %u live ids after shutdown and drain",
                 vl_engine_inflight(e));
    (void)rounds;
    return inv_ok(v);
}

/* ---- process resources ------------------------------------------------------------------- */

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (f == NULL)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* macOS: devfs lists every descriptor under /dev/fd; it has no /proc, so
 * the maps and thread counts read -1 there, and only descriptors are
 * compared. */
#ifdef __linux__
#define FD_DIR "/proc/self/fd"
#else
#define FD_DIR "/dev/fd"
#endif

int inv_count_fds(void)
{
    return count_dir(FD_DIR);
}

void inv_baseline_take(struct inv_baseline *b)
{
    /* The directory stream's own descriptor is counted in every reading. */
    b->fds = count_dir(FD_DIR);
    b->maps = count_lines("/proc/self/maps");
    b->tasks = count_dir("/proc/self/task");
}

int inv_baseline_check(const struct inv_baseline *b, int wait_ms, char *why, size_t len)
{
    struct inv_baseline now;
    for (int waited = 0;; waited += 10) {
        inv_baseline_take(&now);
        /* Fewer tasks than at the baseline is no leak: an io_uring io-wq
         * worker idle at the baseline (they belong to the process, not to
         * a ring) exits when its idle timeout ends. */
        if (now.fds == b->fds && (b->maps < 0 || now.maps == b->maps) && now.tasks <= b->tasks)
            return 0;
        if (waited >= wait_ms)
            break;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    snprintf(why, len, "after destroy: fds %d (baseline %d), maps %d (%d), tasks %d (%d)", now.fds,
             b->fds, now.maps, b->maps, now.tasks, b->tasks);
    return -1;
}
