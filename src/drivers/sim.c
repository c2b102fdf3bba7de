/*
 * src/drivers/sim.c - the simulation driver (VL_DRIVER_SIM): the engine over
 * a virtual clock and in-memory sockets, pipes and files (see <vllsi/sim.h>).
 *
 * The driver keeps every op the core hands it on one pending list (linked
 * through its slot state, struct sim_slot, which also holds the virtual
 * time the op may run from). A wait runs rounds: it collects the pending ops that
 * are due, shuffles them with the seeded generator and tries each once, in
 * that order; an op either finishes (reported exactly once), delivers one
 * multishot completion, or stays parked because it would block. Rounds repeat
 * until one finishes nothing, because one op's effect (a write) may unblock
 * another (a read). When nothing is due, the virtual clock jumps to the next
 * due time (a TIMEOUT, a delayed op) if the wait's timeout allows it.
 *
 * Nothing here reads the real clock, an address or any other input than the
 * seed and the calls the program makes, so a run is a pure function of them.
 * All memory is allocated at create, except file contents (vl_sim_file).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <vllsi/sim.h>
#include <vllsi/sys/mem.h>

#include "driver.h"
#include "fault.h"

#define NONE       UINT32_MAX
#define FIRST_FD   3u
/* Results of a step that are not a final result. */
#define PARK       INT64_MIN       /* would block: stays pending, nothing happened */
#define PROGRESS   (INT64_MIN + 1) /* delivered a VL_CQE_MORE completion          */
#define BUFS_BYTES ((size_t)VL_SIM_MAX_FDS * VL_SIM_BUF_SIZE)
/* struct sim_slot.flags */
#define P_PENDING  0x1u

/* The driver's state in a slot it holds (VL__SLOT_DRV). */
struct sim_slot {
    int64_t ready_at; /* the virtual time the op may run from */
    uint32_t next;    /* the pending list: NONE ends it       */
    uint32_t prev;
    uint32_t flags; /* P_*                                  */
    uint32_t seen;  /* multishot POLL: the mask last seen   */
};

static inline struct sim_slot *ss(struct vl__slot *s)
{
    return VL__SLOT_DRV(s, struct sim_slot);
}

enum obj_type {
    O_FREE = 0,
    O_EMBRYO, /* a connection in a listener's backlog: no descriptor yet */
    O_STREAM, /* a connected stream socket end                           */
    O_UNCONN, /* a stream socket not connected yet                       */
    O_LISTEN,
    O_PIPE_R,
    O_PIPE_W,
    O_FILE,
};

/* obj.flags */
#define OF_WR_SHUT 0x1u /* this end writes no more: its peer reads EOF after the data */
#define OF_RD_SHUT 0x2u /* reads here give EOF; what arrives is discarded              */
#define OF_RESET   0x4u /* a reset arrived: the next transfer fails with ECONNRESET    */

struct obj {
    uint8_t type;
    uint8_t flags;
    uint32_t peer; /* the other end (stream, pipe); NONE once it is gone */
    uint32_t head; /* inbound ring: first byte and byte count            */
    uint32_t used;
    uint32_t next; /* embryo: the next one in its listener's backlog     */
    /* listener */
    uint32_t bl_head, bl_tail, bl_count, bl_max;
    socklen_t addrlen;
    struct sockaddr_storage addr;
    /* file */
    uint8_t *data;
    size_t size, cap;
    size_t pos;
};

struct sim {
    struct vl__fault f;
    vl_sim_config cfg;
    int64_t now;
    uint64_t trace; /* FNV-1a over the completions reported */
    uint64_t ncomp;
    uint64_t stalls;
    uint32_t nopen; /* descriptors open (embryos do not count) */
    uint32_t pend_head, pend_tail;
    uint32_t *run; /* one round's due ops: capacity entries */
    atomic_bool wake;
    uint8_t *bufs; /* VL_SIM_MAX_FDS inbound rings of VL_SIM_BUF_SIZE */
    struct obj objs[VL_SIM_MAX_FDS];
};

extern const struct vl_driver vl__driver_sim;

static struct sim *sim_of(vl_engine *e)
{
    return *vl__engine_drv(e);
}

/* The sim state of a public call's engine, or NULL for NULL / another driver. */
static struct sim *sim_get(const vl_engine *e)
{
    return e != NULL && vl__engine_driver(e) == &vl__driver_sim ? *vl__engine_drv((vl_engine *)e)
                                                                : NULL;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static int64_t *ready_at(vl_engine *e, uint32_t slot)
{
    return &ss(vl__engine_slot(e, slot))->ready_at;
}

/* ---- the trace and completions ------------------------------------------------ */

static void trace_mix(struct sim *s, uint64_t v)
{
    for (int k = 0; k < 8; k++) {
        s->trace ^= (v >> (8 * k)) & 0xff;
        s->trace *= 0x100000001b3ull;
    }
}

static void sim_complete(struct sim *s, vl_engine *e, uint32_t slot, int64_t res, uint32_t flags)
{
    trace_mix(s, (uint64_t)s->now);
    trace_mix(s, vl__engine_slot_id(e, slot));
    trace_mix(s, (uint64_t)res);
    trace_mix(s, flags);
    s->ncomp++;
    vl__engine_complete(e, slot, res, flags);
}

/* ---- the pending list ------------------------------------------------------------ */

static void pend_link(struct sim *s, vl_engine *e, uint32_t i)
{
    struct vl__slot *sl = vl__engine_slot(e, i);
    ss(sl)->next = NONE;
    ss(sl)->prev = s->pend_tail;
    ss(sl)->flags = P_PENDING;
    if (s->pend_tail == NONE)
        s->pend_head = i;
    else
        ss(vl__engine_slot(e, s->pend_tail))->next = i;
    s->pend_tail = i;
}

static void pend_unlink(struct sim *s, vl_engine *e, uint32_t i)
{
    struct vl__slot *sl = vl__engine_slot(e, i);
    if (ss(sl)->prev == NONE)
        s->pend_head = ss(sl)->next;
    else
        ss(vl__engine_slot(e, ss(sl)->prev))->next = ss(sl)->next;
    if (ss(sl)->next == NONE)
        s->pend_tail = ss(sl)->prev;
    else
        ss(vl__engine_slot(e, ss(sl)->next))->prev = ss(sl)->prev;
    ss(sl)->flags = 0;
}

/* Finish a pending op: off the list, reported once. */
static void finish(struct sim *s, vl_engine *e, uint32_t i, int64_t res)
{
    pend_unlink(s, e, i);
    sim_complete(s, e, i, res, 0);
}

/* ---- objects ------------------------------------------------------------------ */

static struct obj *lookup(struct sim *s, int fd)
{
    if (fd < (int)FIRST_FD || fd >= VL_SIM_MAX_FDS)
        return NULL;
    struct obj *o = &s->objs[fd];
    return o->type == O_FREE || o->type == O_EMBRYO ? NULL : o;
}

static uint32_t fd_limit(const struct sim *s)
{
    return s->cfg.fd_limit ? s->cfg.fd_limit : VL_SIM_MAX_FDS;
}

/* The lowest free entry (like the kernel's lowest free descriptor), or NONE. */
static uint32_t obj_alloc(struct sim *s, uint8_t type)
{
    for (uint32_t i = FIRST_FD; i < VL_SIM_MAX_FDS; i++) {
        struct obj *o = &s->objs[i];
        if (o->type == O_FREE) {
            memset(o, 0, sizeof(*o));
            o->type = type;
            o->peer = NONE;
            o->next = NONE;
            return i;
        }
    }
    return NONE;
}

/* Room for n more open descriptors and entries more table entries (an
 * embryo takes an entry but is no descriptor): 0, -EMFILE, -ENFILE,
 * -ESHUTDOWN. */
static int room_for(struct sim *s, vl_engine *e, uint32_t n, uint32_t entries)
{
    if (vl__engine_shutting(e))
        return -ESHUTDOWN;
    if (s->nopen + n > fd_limit(s))
        return -EMFILE;
    uint32_t free_entries = 0;
    for (uint32_t i = FIRST_FD; i < VL_SIM_MAX_FDS && free_entries < entries; i++)
        free_entries += s->objs[i].type == O_FREE;
    return free_entries < entries ? -ENFILE : 0;
}

static uint32_t open_obj(struct sim *s, uint8_t type)
{
    uint32_t i = obj_alloc(s, type);
    s->nopen++;
    return i;
}

static uint8_t *ring(struct sim *s, uint32_t i)
{
    return s->bufs + (size_t)i * VL_SIM_BUF_SIZE;
}

static void ring_put(struct sim *s, uint32_t i, const uint8_t *src, uint32_t n)
{
    struct obj *o = &s->objs[i];
    uint32_t tail = (o->head + o->used) % VL_SIM_BUF_SIZE;
    uint32_t first = n < VL_SIM_BUF_SIZE - tail ? n : VL_SIM_BUF_SIZE - tail;
    memcpy(ring(s, i) + tail, src, first);
    memcpy(ring(s, i), src + first, n - first);
    o->used += n;
}

static void ring_get(struct sim *s, uint32_t i, uint8_t *dst, uint32_t n, bool consume)
{
    struct obj *o = &s->objs[i];
    uint32_t first = n < VL_SIM_BUF_SIZE - o->head ? n : VL_SIM_BUF_SIZE - o->head;
    memcpy(dst, ring(s, i) + o->head, first);
    memcpy(dst + first, ring(s, i), n - first);
    if (consume) {
        o->head = (o->head + n) % VL_SIM_BUF_SIZE;
        o->used -= n;
    }
}

static uint32_t idx_of(struct sim *s, const struct obj *o)
{
    return (uint32_t)(o - s->objs);
}

/* Whether reading o has reached the end: the writer is gone or shut. */
static bool at_eof(struct sim *s, const struct obj *o)
{
    return o->peer == NONE || (s->objs[o->peer].flags & OF_WR_SHUT);
}

/* Reset o's connection: both ends lose their data and each other; the peer
 * learns it at its next transfer (OF_RESET). */
static void reset_conn(struct sim *s, struct obj *o)
{
    if (o->peer != NONE) {
        struct obj *p = &s->objs[o->peer];
        p->flags |= OF_RESET;
        p->used = 0;
        p->peer = NONE;
    }
    o->used = 0;
    o->peer = NONE;
}

static void free_backlog(struct sim *s, struct obj *l)
{
    for (uint32_t k = l->bl_head; k != NONE;) {
        struct obj *emb = &s->objs[k];
        uint32_t next = emb->next;
        /* A connection never accepted is refused: its client is reset. */
        if (emb->peer != NONE) {
            struct obj *c = &s->objs[emb->peer];
            c->flags |= OF_RESET;
            c->used = 0;
            c->peer = NONE;
        }
        emb->type = O_FREE;
        k = next;
    }
    l->bl_head = l->bl_tail = NONE;
    l->bl_count = 0;
}

static void obj_close(struct sim *s, struct obj *o)
{
    if (o->peer != NONE)
        s->objs[o->peer].peer = NONE;
    if (o->type == O_LISTEN)
        free_backlog(s, o);
    free(o->data);
    memset(o, 0, sizeof(*o));
    s->nopen--;
}

/* ---- transfers ------------------------------------------------------------------ */

/* An injected EAGAIN: the op goes back to wait for up to max_delay_ns. Only
 * engine ops (slot != NONE) meet faults; the vl_sim_* calls never do. */
static bool fault_again(struct sim *s, vl_engine *e, uint32_t slot)
{
    if (slot == NONE || !vl__fault_hit(&s->f, VL__FAULT_EAGAIN))
        return false;
    int64_t d = 1000 + (int64_t)vl__fault_below(&s->f, (uint64_t)s->cfg.max_delay_ns);
    *ready_at(e, slot) = sat_add(s->now, d);
    return true;
}

static bool fault_reset(struct sim *s, uint32_t slot, struct obj *o)
{
    if (slot == NONE || o->type != O_STREAM || !vl__fault_hit(&s->f, VL__FAULT_RESET))
        return false;
    reset_conn(s, o);
    return true;
}

static size_t shorten(struct sim *s, uint32_t slot, size_t n)
{
    return slot == NONE ? n : vl__fault_shorten(&s->f, n);
}

static int64_t stream_recv(struct sim *s, vl_engine *e, uint32_t slot, struct obj *o, void *buf,
                           size_t len, int flags)
{
    if (o->flags & OF_RESET) {
        o->flags &= ~OF_RESET;
        return -ECONNRESET;
    }
    if (len == 0 || (o->flags & OF_RD_SHUT))
        return 0;
    bool eof = at_eof(s, o);
    bool nowait = (flags & MSG_DONTWAIT) || slot == NONE;
    if (o->used == 0)
        return eof ? 0 : nowait ? -EAGAIN : PARK;
    /* MSG_WAITALL waits for len bytes unless the stream ends first. */
    if ((flags & MSG_WAITALL) && o->used < len && !eof && !nowait)
        return PARK;
    if (fault_again(s, e, slot))
        return PARK;
    if (fault_reset(s, slot, o))
        return -ECONNRESET;
    size_t n = len < o->used ? len : o->used;
    n = shorten(s, slot, n);
    ring_get(s, idx_of(s, o), buf, (uint32_t)n, !(flags & MSG_PEEK));
    return (int64_t)n;
}

static int64_t stream_send(struct sim *s, vl_engine *e, uint32_t slot, struct obj *o,
                           const void *buf, size_t len, int flags)
{
    if (o->flags & OF_RESET) {
        o->flags &= ~OF_RESET;
        return -ECONNRESET;
    }
    if ((o->flags & OF_WR_SHUT) || o->peer == NONE)
        return -EPIPE;
    if (len == 0)
        return 0;
    struct obj *p = &s->objs[o->peer];
    if (p->flags & OF_RD_SHUT)
        return (int64_t)len; /* the reader discards what arrives */
    uint32_t room = VL_SIM_BUF_SIZE - p->used;
    if (room == 0)
        return (flags & MSG_DONTWAIT) || slot == NONE ? -EAGAIN : PARK;
    if (fault_again(s, e, slot))
        return PARK;
    if (fault_reset(s, slot, o))
        return -ECONNRESET;
    size_t n = len < room ? len : room;
    n = shorten(s, slot, n);
    ring_put(s, o->peer, buf, (uint32_t)n);
    return (int64_t)n;
}

static int64_t file_read(struct sim *s, uint32_t slot, struct obj *o, void *buf, size_t len,
                         int64_t off)
{
    size_t pos = off < 0 ? o->pos : (size_t)off;
    if (len == 0 || pos >= o->size)
        return 0;
    size_t n = len < o->size - pos ? len : o->size - pos;
    n = shorten(s, slot, n);
    memcpy(buf, o->data + pos, n);
    if (off < 0)
        o->pos += n;
    return (int64_t)n;
}

static int64_t file_write(struct sim *s, uint32_t slot, struct obj *o, const void *buf, size_t len,
                          int64_t off)
{
    size_t pos = off < 0 ? o->pos : (size_t)off;
    if (len == 0)
        return 0;
    if (pos >= o->cap)
        return -ENOSPC;
    size_t n = len < o->cap - pos ? len : o->cap - pos;
    n = shorten(s, slot, n);
    memcpy(o->data + pos, buf, n);
    if (pos + n > o->size)
        o->size = pos + n;
    if (off < 0)
        o->pos += n;
    return (int64_t)n;
}

/* READ/RECV (sock: RECV's checks) on fd. */
static int64_t do_read(struct sim *s, vl_engine *e, uint32_t slot, int fd, void *buf, size_t len,
                       int64_t off, int flags, bool sock)
{
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    switch (o->type) {
    case O_FILE:
        return sock ? -ENOTSOCK : file_read(s, slot, o, buf, len, off);
    case O_PIPE_W:
        return sock ? -ENOTSOCK : -EBADF;
    case O_PIPE_R:
        if (sock)
            return -ENOTSOCK;
        /* fall through */
    case O_STREAM:
        return off != -1 ? -ESPIPE : stream_recv(s, e, slot, o, buf, len, flags);
    default:
        return off != -1 ? -ESPIPE : -ENOTCONN;
    }
}

static int64_t do_write(struct sim *s, vl_engine *e, uint32_t slot, int fd, const void *buf,
                        size_t len, int64_t off, int flags, bool sock)
{
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    switch (o->type) {
    case O_FILE:
        return sock ? -ENOTSOCK : file_write(s, slot, o, buf, len, off);
    case O_PIPE_R:
        return sock ? -ENOTSOCK : -EBADF;
    case O_PIPE_W:
        if (sock)
            return -ENOTSOCK;
        /* fall through */
    case O_STREAM:
        return off != -1 ? -ESPIPE : stream_send(s, e, slot, o, buf, len, flags);
    default:
        return off != -1 ? -ESPIPE : -ENOTCONN;
    }
}

/* ---- connections ------------------------------------------------------------------- */

static uint32_t find_listener(struct sim *s, const struct sockaddr *addr, socklen_t len)
{
    for (uint32_t i = FIRST_FD; i < VL_SIM_MAX_FDS; i++) {
        const struct obj *o = &s->objs[i];
        if (o->type == O_LISTEN && o->addrlen == len && memcmp(&o->addr, addr, len) == 0)
            return i;
    }
    return NONE;
}

/* Connect the unconnected socket c to the listener at addr: an embryo end
 * joins the backlog. 0, PARK (backlog full, engine op), or -errno. */
static int64_t connect_to(struct sim *s, vl_engine *e, uint32_t slot, struct obj *c,
                          const struct sockaddr *addr, socklen_t len)
{
    uint32_t li = find_listener(s, addr, len);
    if (li == NONE)
        return -ECONNREFUSED;
    struct obj *l = &s->objs[li];
    if (l->bl_count >= l->bl_max)
        return slot == NONE ? -EAGAIN : PARK;
    if (fault_again(s, e, slot))
        return PARK;
    uint32_t ei = obj_alloc(s, O_EMBRYO);
    if (ei == NONE)
        return -ENOBUFS;
    struct obj *emb = &s->objs[ei];
    c->type = O_STREAM;
    c->peer = ei;
    emb->peer = idx_of(s, c);
    if (l->bl_tail == NONE)
        l->bl_head = ei;
    else
        s->objs[l->bl_tail].next = ei;
    l->bl_tail = ei;
    l->bl_count++;
    return 0;
}

static int64_t step_connect(struct sim *s, vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct obj *o = lookup(s, op->fd);
    if (o == NULL)
        return -EBADF;
    switch (o->type) {
    case O_UNCONN:
        return connect_to(s, e, slot, o, op->u.connect.addr, op->u.connect.addrlen);
    case O_STREAM:
        return -EISCONN;
    case O_LISTEN:
        return -EINVAL;
    default:
        return -ENOTSOCK;
    }
}

static void fill_peer_addr(struct sockaddr *addr, socklen_t *addrlen)
{
    if (addr == NULL)
        return;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNSPEC;
    socklen_t full = (socklen_t)sizeof(sa_family_t);
    memcpy(addr, &ss, *addrlen < full ? *addrlen : full);
    *addrlen = full;
}

/* Take the first connection of listener l: its embryo becomes a descriptor. */
static int64_t accept_one(struct sim *s, struct obj *l, struct sockaddr *addr, socklen_t *alen)
{
    if (s->nopen >= fd_limit(s))
        return -EMFILE;
    uint32_t ei = l->bl_head;
    struct obj *emb = &s->objs[ei];
    l->bl_head = emb->next;
    if (l->bl_head == NONE)
        l->bl_tail = NONE;
    l->bl_count--;
    emb->next = NONE;
    emb->type = O_STREAM;
    s->nopen++;
    fill_peer_addr(addr, alen);
    return ei;
}

/* The listener an ACCEPT names, or a negative errno. */
static int64_t listener_of(struct sim *s, int fd, struct obj **out)
{
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    if (o->type == O_STREAM || o->type == O_UNCONN)
        return -EINVAL;
    if (o->type != O_LISTEN)
        return -ENOTSOCK;
    *out = o;
    return 0;
}

static int64_t step_accept_multi(struct sim *s, vl_engine *e, uint32_t slot, const vl_op *op);

static int64_t step_accept(struct sim *s, vl_engine *e, uint32_t slot, const vl_op *op)
{
    if (vl__op_is_multishot(op))
        return step_accept_multi(s, e, slot, op);
    struct obj *l;
    int64_t rc = listener_of(s, op->fd, &l);
    if (rc < 0)
        return rc;
    if (l->bl_count == 0 || fault_again(s, e, slot))
        return PARK;
    return accept_one(s, l, op->u.accept.addr, op->u.accept.addrlen);
}

/* ---- multishot ------------------------------------------------------------------------ */

static int64_t step_accept_multi(struct sim *s, vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct obj *l;
    int64_t rc = listener_of(s, op->fd, &l);
    if (rc < 0)
        return rc;
    if (l->bl_count == 0)
        return PARK;
    if (!vl__engine_cq_room(e)) {
        vl__engine_stats(e)->cq_deferred++; /* for vl_engine_stats */
        return PARK;
    }
    if (fault_again(s, e, slot))
        return PARK;
    rc = accept_one(s, l, NULL, NULL);
    if (rc < 0)
        return rc;
    sim_complete(s, e, slot, rc, VL_CQE_MORE);
    return PROGRESS;
}

/* One multishot RECV delivery (step_recv sends it here): data into a pool buffer, or the final
 * result. */
static int64_t step_recv_multi(struct sim *s, vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct obj *o = lookup(s, op->fd);
    if (o == NULL)
        return -EBADF;
    if (o->type != O_STREAM)
        return o->type == O_UNCONN || o->type == O_LISTEN ? -ENOTCONN : -ENOTSOCK;
    if (o->flags & OF_RESET) {
        o->flags &= ~OF_RESET;
        return -ECONNRESET;
    }
    if (o->flags & OF_RD_SHUT)
        return 0;
    struct vl_bufpool *p = op->u.msg.pool;
    /* EOF with the pool empty is -ENOBUFS, as data then is: the op
     * submitted again after a release reports it. */
    if (o->used == 0)
        return !at_eof(s, o) ? PARK : p->nfree > 0 ? 0 : -ENOBUFS;
    if (!vl__engine_cq_room(e)) {
        vl__engine_stats(e)->cq_deferred++;
        return PARK;
    }
    if (fault_again(s, e, slot))
        return PARK;
    if (fault_reset(s, slot, o))
        return -ECONNRESET;
    uint32_t bid;
    if (!vl__pool_take(p, &bid))
        return -ENOBUFS;
    size_t n = o->used < p->size ? o->used : p->size;
    n = shorten(s, slot, n);
    ring_get(s, idx_of(s, o), vl__pool_buf(p, bid), (uint32_t)n, true);
    vl__pool_mark_out(p, bid);
    sim_complete(s, e, slot, (int64_t)n, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    return PROGRESS;
}

/* ---- close and cancel ---------------------------------------------------------------- */

/* Close fd: every op pending on it (but CLOSEs, which then find it gone)
 * completes with -ECANCELED, once, before the number can be reused. */
static int close_fd(struct sim *s, vl_engine *e, int fd)
{
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    for (uint32_t i = s->pend_head; i != NONE;) {
        struct vl__slot *sl = vl__engine_slot(e, i);
        uint32_t next = ss(sl)->next;
        if (sl->op.kind != VL_OP_CLOSE && vl__op_fd(&sl->op) == fd)
            finish(s, e, i, -ECANCELED);
        i = next;
    }
    obj_close(s, o);
    return 0;
}

static int64_t step_cancel(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)i;
    uint32_t t;
    if (!vl__engine_id_slot(e, op->u.cancel.target_id, &t) ||
        !(ss(vl__engine_slot(e, t))->flags & P_PENDING))
        return -ENOENT;
    finish(s, e, t, -ECANCELED);
    return 0;
}

/* ---- the step: try one op once ---------------------------------------------------------- */

/*
 * SENDV: the buffers in order, as one send. Only the first non-empty one
 * may park the op (or meet a fault); the rest go without waiting, and the
 * op stops at the first buffer that did not go whole, as sendmsg does.
 */
static int64_t step_sendv(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    int64_t total = 0;
    for (uint32_t k = 0; k < op->u.vec.iovcnt; k++) {
        const vl_iovec *v = &op->u.vec.iov[k];
        if (v->len == 0)
            continue;
        int64_t r = do_write(s, e, total == 0 ? i : NONE, op->fd, v->base, v->len, -1,
                             op->u.vec.flags | (total > 0 ? MSG_DONTWAIT : 0), true);
        if (r < 0)
            return total > 0 ? total : r;
        total += r;
        if ((size_t)r < v->len)
            break;
    }
    return total;
}

/*
 * READV/WRITEV: the buffers in order, as one READ/WRITE. As SENDV, only the
 * first non-empty buffer may park the op (or meet a fault); the rest go
 * without waiting, each at the offset where the previous one ended (or at
 * the moving position for -1), and the op stops at the first buffer that
 * did not go whole, as readv/writev do. A list of empty buffers still meets
 * the fd's errors (-EBADF, -ESPIPE) through one transfer of 0 bytes.
 */
static int64_t step_rwv(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op, bool write)
{
    int64_t total = 0, off = op->u.rwv.offset;
    bool any = false;
    for (uint32_t k = 0; k < op->u.rwv.iovcnt; k++) {
        const vl_iovec *v = &op->u.rwv.iov[k];
        if (v->len == 0)
            continue;
        any = true;
        uint32_t slot = total == 0 ? i : NONE;
        int64_t at = off < 0 ? -1 : off + total;
        int64_t r = write ? do_write(s, e, slot, op->fd, v->base, v->len, at, 0, false)
                          : do_read(s, e, slot, op->fd, v->base, v->len, at, 0, false);
        if (r < 0) /* an error, or PARK (negative) for the first buffer */
            return total > 0 ? total : r;
        total += r;
        if ((size_t)r < v->len)
            break;
    }
    if (!any)
        return write ? do_write(s, e, i, op->fd, NULL, 0, off, 0, false)
                     : do_read(s, e, i, op->fd, NULL, 0, off, 0, false);
    return total;
}

static int64_t step_readv(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    return step_rwv(s, e, i, op, false);
}

static int64_t step_writev(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    return step_rwv(s, e, i, op, true);
}

/* FSYNC: the simulator's files live in memory, so there is nothing to
 * flush; a pipe or socket is -EINVAL, as Linux's fsync says. */
static int64_t step_fsync(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)e, (void)i;
    struct obj *o = lookup(s, op->fd);
    if (o == NULL)
        return -EBADF;
    return o->type == O_FILE ? 0 : -EINVAL;
}

/* WAITPID: the simulator has descriptors but no processes, so there is no
 * child to wait for. */
static int64_t step_waitpid(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)s, (void)e, (void)i, (void)op;
    return -EOPNOTSUPP;
}

/* SENDFILE and SPLICE: the simulator's descriptors have no page cache to
 * move bytes from without a copy, and no scheduling model for it: both
 * complete with -EOPNOTSUPP (<vllsi/engine.h> says so for each). */
static int64_t step_sendfile(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)s, (void)e, (void)i, (void)op;
    return -EOPNOTSUPP;
}

#define step_splice step_sendfile

static int64_t step_nop(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)s, (void)e, (void)i, (void)op;
    return 0;
}

/* Due: its deadline has passed (the round runs only due ops). */
#define step_timeout step_nop

static int64_t step_read(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    return do_read(s, e, i, op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.offset, 0, false);
}

static int64_t step_write(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    return do_write(s, e, i, op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.offset, 0, false);
}

static int64_t step_recv(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    if (vl__op_is_multishot(op))
        return step_recv_multi(s, e, i, op);
    return do_read(s, e, i, op->fd, op->u.msg.buf, op->u.msg.len, -1, op->u.msg.flags, true);
}

static int64_t step_send(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    return do_write(s, e, i, op->fd, op->u.msg.buf, op->u.msg.len, -1, op->u.msg.flags, true);
}

static int shut(struct sim *s, int fd, int how);

/* SOCKET, BIND and LISTEN: not on the simulator. Its sockets are made
 * connected or listening at once (vl_sim_socket, vl_sim_socketpair,
 * vl_sim_listen), with no unbound or bound-but-idle state for BIND and
 * LISTEN to act on, and a SOCKET of the host's kind would be no
 * descriptor of its world. */
static int64_t step_socket(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)s, (void)e, (void)i, (void)op;
    return -EOPNOTSUPP;
}

#define step_bind   step_socket
#define step_listen step_socket

static int64_t step_shutdown(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)e, (void)i;
    return shut(s, op->fd, op->u.shutdown.how);
}

/* ---- files and paths --------------------------------------------------------- */

/*
 * The simulator has no file system (its files are vl_sim_file's, made by
 * the test, with no name), so the path ops, which name files by path,
 * complete with -EOPNOTSUPP. FTRUNCATE acts on its files: the capacity it
 * was made with is the largest size (-EFBIG beyond, as a file system's
 * limit), a size that grows reads zeros, and any other descriptor is
 * -EINVAL, as ftruncate(2) says of a socket or pipe.
 */
static int64_t step_path(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)s, (void)e, (void)i, (void)op;
    return -EOPNOTSUPP;
}

#define step_openat   step_path
#define step_statx    step_path
#define step_unlinkat step_path
#define step_renameat step_path
#define step_mkdirat  step_path

static int64_t step_ftruncate(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)e, (void)i;
    struct obj *o = lookup(s, op->fd);
    if (o == NULL)
        return -EBADF;
    if (o->type != O_FILE)
        return -EINVAL;
    size_t len = (size_t)op->u.ftruncate.length; /* >= 0: checked at submit */
    if ((uint64_t)op->u.ftruncate.length > o->cap)
        return -EFBIG;
    if (len > o->size)
        memset(o->data + o->size, 0, len - o->size);
    o->size = len;
    return 0;
}

/*
 * SENDMSG and RECVMSG: -EOPNOTSUPP. The simulator's descriptors are stream
 * sockets, listeners, pipes and files: none has addresses, datagrams or
 * control data, which are what these kinds are for (a stream's gather send
 * is SENDV). A descriptor that is not open is -EBADF, a pipe or file -ENOTSOCK.
 */
static int64_t step_sendmsg(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)e, (void)i;
    const struct obj *o = lookup(s, op->fd);
    if (o == NULL)
        return -EBADF;
    return o->type == O_STREAM || o->type == O_UNCONN || o->type == O_LISTEN ? -EOPNOTSUPP
                                                                             : -ENOTSOCK;
}

#define step_recvmsg step_sendmsg

/*
 * What poll(2) would report for o, as Linux does for the like kind of file:
 * a stream end is readable with data, EOF or a reset waiting, writable
 * while its peer's ring has room (or a write would fail at once), RDHUP once
 * the peer shut its side, HUP once both directions are done, ERR after a
 * reset; a socket never connected reports OUT and HUP, as TCP does; a
 * listener IN with a connection waiting; a pipe's read end IN with data and
 * HUP without a writer, its write end OUT with room and ERR without a
 * reader; a file is always ready.
 */
static uint32_t sim_poll_mask(struct sim *s, const struct obj *o)
{
    uint32_t m = 0;
    switch ((enum obj_type)o->type) {
    case O_STREAM: {
        bool eof = at_eof(s, o) || (o->flags & OF_RD_SHUT);
        bool wr_done = o->peer == NONE || (o->flags & OF_WR_SHUT);
        if (o->used > 0 || eof || (o->flags & OF_RESET))
            m |= VL_POLL_IN;
        if (wr_done || (s->objs[o->peer].flags & OF_RD_SHUT) ||
            s->objs[o->peer].used < VL_SIM_BUF_SIZE)
            m |= VL_POLL_OUT;
        if (eof)
            m |= VL_POLL_RDHUP;
        if (eof && wr_done)
            m |= VL_POLL_HUP;
        if (o->flags & OF_RESET)
            m |= VL_POLL_ERR | VL_POLL_HUP | VL_POLL_RDHUP;
        break;
    }
    case O_UNCONN:
        m = VL_POLL_OUT | VL_POLL_HUP;
        break;
    case O_LISTEN:
        m = o->bl_count > 0 ? VL_POLL_IN : 0;
        break;
    case O_PIPE_R:
        m = (o->used > 0 ? VL_POLL_IN : 0) | (o->peer == NONE ? VL_POLL_HUP : 0);
        break;
    case O_PIPE_W:
        if (o->peer == NONE)
            m = VL_POLL_ERR;
        else if (s->objs[o->peer].used < VL_SIM_BUF_SIZE)
            m = VL_POLL_OUT;
        break;
    case O_FILE:
        m = VL_POLL_IN | VL_POLL_OUT;
        break;
    case O_FREE:
    case O_EMBRYO:
        break;
    }
    return m;
}

/*
 * POLL on the simulator's descriptors. A one-shot POLL completes with the
 * mask once it is not 0. A multishot one reports each change of the mask
 * to one that is not 0 (its slot state remembers the last mask seen): the
 * simulator's edge, one report per readiness event and none for a level that
 * persists. A file cannot be waited on: a multishot POLL of one ends with
 * -EPERM, as on the epoll driver.
 */
static int64_t step_poll(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    struct obj *o = lookup(s, op->fd);
    if (o == NULL)
        return -EBADF;
    bool multi = vl__op_is_multishot(op);
    if (multi && o->type == O_FILE)
        return -EPERM;
    uint32_t m = sim_poll_mask(s, o) & (op->u.poll.events | VL_POLL_ERR | VL_POLL_HUP);
    if (!multi)
        return m != 0 ? (int64_t)m : PARK;
    struct sim_slot *st = ss(vl__engine_slot(e, i));
    if (m == st->seen)
        return PARK;
    if (m != 0 && !vl__engine_cq_room(e)) {
        vl__engine_stats(e)->cq_deferred++;
        return PARK;
    }
    st->seen = m;
    if (m == 0)
        return PARK;
    sim_complete(s, e, i, m, VL_CQE_MORE);
    return PROGRESS;
}

static int64_t step_close(struct sim *s, vl_engine *e, uint32_t i, const vl_op *op)
{
    (void)i;
    return close_fd(s, e, op->fd);
}

/* Try op i once: step_<name> for each X(NAME, name) of the list in
 * <vllsi/op_kinds.h> (a kind without one does not compile). */
static int64_t step(struct sim *s, vl_engine *e, uint32_t i)
{
    const vl_op *op = &vl__engine_slot(e, i)->op;
    switch (op->kind) {
#define STEP_CASE(NAME, name) \
    case VL_OP_##NAME:        \
        return step_##name(s, e, i, op);
        VL_OP_KINDS(STEP_CASE)
#undef STEP_CASE
    case VL_OP_KIND_COUNT_:
        break;
    }
    return -EINVAL; /* never: the core validated the kind */
}

/* ---- rounds and the wait ------------------------------------------------------------- */

/* One round: the due ops in a seeded random order, each tried once.
 * Returns how many completions it reported. */
static uint32_t run_round(struct sim *s, vl_engine *e)
{
    uint32_t n = 0, done = 0;
    for (uint32_t i = s->pend_head; i != NONE; i = ss(vl__engine_slot(e, i))->next)
        if (*ready_at(e, i) <= s->now)
            s->run[n++] = i;
    for (uint32_t k = n; k > 1; k--) {
        uint32_t j = (uint32_t)vl__fault_below(&s->f, k);
        uint32_t t = s->run[k - 1];
        s->run[k - 1] = s->run[j];
        s->run[j] = t;
    }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = s->run[k];
        /* An op finished earlier in this round (CLOSE, CANCEL) is skipped. */
        if (!(ss(vl__engine_slot(e, i))->flags & P_PENDING) || *ready_at(e, i) > s->now)
            continue;
        int64_t r = step(s, e, i);
        if (r == PARK)
            continue;
        done++;
        if (r != PROGRESS)
            finish(s, e, i, r);
    }
    return done;
}

static uint32_t run_until_quiet(struct sim *s, vl_engine *e)
{
    uint32_t total = 0, done;
    while ((done = run_round(s, e)) > 0)
        total += done;
    return total;
}

/* The earliest time a pending op becomes due, INT64_MAX if none waits for time. */
static int64_t next_due(struct sim *s, vl_engine *e)
{
    int64_t next = INT64_MAX;
    for (uint32_t i = s->pend_head; i != NONE; i = ss(vl__engine_slot(e, i))->next) {
        int64_t t = *ready_at(e, i);
        if (t > s->now && t < next)
            next = t;
    }
    return next;
}

/*
 * Returns 0 when it reported completions (or a wake came, or timeout_ns is
 * 0). When nothing can complete within the timeout it moves the clock to
 * the end of it and returns -EAGAIN, which tells the core to stop waiting
 * (unlike -ETIME, which would make it wait again for the real-time rest of
 * the poll's timeout): in the simulation that time has passed already.
 */
static int sim_wait(vl_engine *e, int64_t timeout_ns)
{
    struct sim *s = sim_of(e);
    int64_t limit = timeout_ns < 0 ? INT64_MAX : sat_add(s->now, timeout_ns);
    for (;;) {
        bool woke = atomic_exchange(&s->wake, false);
        if (woke)
            vl__engine_note_wake(e);
        if (run_until_quiet(s, e) > 0 || woke || timeout_ns == 0)
            return 0;
        int64_t next = next_due(s, e);
        if (next == INT64_MAX && timeout_ns < 0) {
            s->stalls++;
            return -EAGAIN;
        }
        if (next > limit) {
            s->now = limit;
            return -EAGAIN;
        }
        s->now = next;
    }
}

/* ---- the driver interface ---------------------------------------------------------------- */

static int sim_submit(vl_engine *e, uint32_t slot)
{
    struct sim *s = sim_of(e);
    const vl_op *op = &vl__engine_slot(e, slot)->op;
    int64_t due = s->now;
    if (op->kind == VL_OP_TIMEOUT)
        due = sat_add(s->now, op->u.timeout.duration_ns);
    else if (vl__fault_hit(&s->f, VL__FAULT_DELAY))
        due = sat_add(s->now, 1 + (int64_t)vl__fault_below(&s->f, (uint64_t)s->cfg.max_delay_ns));
    *ready_at(e, slot) = due;
    ss(vl__engine_slot(e, slot))->seen = 0;
    pend_link(s, e, slot);
    return 0;
}

static int sim_cancel(vl_engine *e, uint32_t slot)
{
    struct sim *s = sim_of(e);
    if (!(ss(vl__engine_slot(e, slot))->flags & P_PENDING))
        return -ENOENT;
    finish(s, e, slot, -ECANCELED);
    return 0;
}

static int sim_wake(vl_engine *e)
{
    atomic_store(&sim_of(e)->wake, true);
    return 0;
}

static void sim_free(struct sim *s)
{
    for (uint32_t i = 0; i < VL_SIM_MAX_FDS; i++)
        free(s->objs[i].data);
    if (s->bufs != NULL)
        vl_os_free(s->bufs, BUFS_BYTES);
    free(s->run);
    free(s);
}

static int sim_init(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    struct sim *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        /* Fresh zero pages straight from the kernel: only the rings that
         * carry data are ever touched, and create costs no 16 MiB memset. */
        int err = 0;
        s->bufs = vl_os_alloc(BUFS_BYTES, &err);
        s->run = calloc(cfg->max_inflight, sizeof(*s->run));
    }
    if (s == NULL || s->bufs == NULL || s->run == NULL) {
        if (s != NULL)
            sim_free(s);
        snprintf(reason, len, "sim setup: out of memory");
        return -ENOMEM;
    }
    vl__fault_init(&s->f, vl_sim_env_seed(1));
    s->cfg.seed = s->f.seed;
    s->cfg.max_delay_ns = 1000000;
    s->pend_head = s->pend_tail = NONE;
    atomic_init(&s->wake, false);
    *vl__engine_drv(e) = s;
    return 0;
}

static void sim_fini(vl_engine *e)
{
    sim_free(sim_of(e));
    *vl__engine_drv(e) = NULL;
}

/* Deadlines run on the virtual clock. */
static int64_t sim_now(vl_engine *e)
{
    return sim_of(e)->now;
}

const struct vl_driver vl__driver_sim = {
    .name = "sim",
    .kind = VL_DRIVER_SIM,
    .now = sim_now,
    .init = sim_init,
    .fini = sim_fini,
    .submit = sim_submit,
    .cancel = sim_cancel,
    .wait = sim_wait,
    .wake = sim_wake,
};

/* ---- the public API: configuration and time ---------------------------------------------- */

uint64_t vl_sim_env_seed(uint64_t fallback)
{
    const char *v = getenv("VLLSI_SIM_SEED");
    if (v == NULL || v[0] == '\0')
        return fallback;
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(v, &end, 0);
    if (errno != 0 || *end != '\0' || seed == 0)
        return fallback;
    return seed;
}

int vl_sim_configure(vl_engine *e, const vl_sim_config *cfg)
{
    struct sim *s = sim_get(e);
    if (s == NULL || cfg == NULL)
        return -EINVAL;
    if (cfg->short_ppm > VL_SIM_PPM || cfg->eagain_ppm >= VL_SIM_PPM ||
        cfg->reset_ppm > VL_SIM_PPM || cfg->delay_ppm > VL_SIM_PPM || cfg->max_delay_ns < 0 ||
        cfg->fd_limit > VL_SIM_MAX_FDS)
        return -EINVAL;
    uint64_t seed = cfg->seed ? cfg->seed : s->cfg.seed;
    s->cfg = *cfg;
    s->cfg.seed = seed;
    if (s->cfg.max_delay_ns == 0)
        s->cfg.max_delay_ns = 1000000;
    s->f.ppm[VL__FAULT_SHORT] = cfg->short_ppm;
    s->f.ppm[VL__FAULT_EAGAIN] = cfg->eagain_ppm;
    s->f.ppm[VL__FAULT_RESET] = cfg->reset_ppm;
    s->f.ppm[VL__FAULT_DELAY] = cfg->delay_ppm;
    if (cfg->seed != 0)
        vl__fault_reseed(&s->f, cfg->seed);
    return 0;
}

int vl_sim_get_config(const vl_engine *e, vl_sim_config *out)
{
    struct sim *s = sim_get(e);
    if (s == NULL || out == NULL)
        return -EINVAL;
    *out = s->cfg;
    return 0;
}

int vl_sim_describe(const vl_engine *e, char *buf, size_t len)
{
    struct sim *s = sim_get(e);
    if (s == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    const vl_sim_config *c = &s->cfg;
    return snprintf(buf, len,
                    "VLLSI_SIM_SEED=0x%llx short_ppm=%u eagain_ppm=%u reset_ppm=%u "
                    "delay_ppm=%u max_delay_ns=%lld fd_limit=%u now_ns=%lld completions=%llu "
                    "trace=0x%016llx",
                    (unsigned long long)c->seed, c->short_ppm, c->eagain_ppm, c->reset_ppm,
                    c->delay_ppm, (long long)c->max_delay_ns, fd_limit(s), (long long)s->now,
                    (unsigned long long)s->ncomp, (unsigned long long)s->trace);
}

int64_t vl_sim_now(const vl_engine *e)
{
    struct sim *s = sim_get(e);
    return s ? s->now : 0;
}

int vl_sim_advance(vl_engine *e, int64_t ns)
{
    struct sim *s = sim_get(e);
    if (s == NULL || ns < 0)
        return -EINVAL;
    s->now = sat_add(s->now, ns);
    return 0;
}

uint64_t vl_sim_trace_hash(const vl_engine *e)
{
    struct sim *s = sim_get(e);
    return s ? s->trace : 0;
}

uint64_t vl_sim_completions(const vl_engine *e)
{
    struct sim *s = sim_get(e);
    return s ? s->ncomp : 0;
}

uint64_t vl_sim_stalls(const vl_engine *e)
{
    struct sim *s = sim_get(e);
    return s ? s->stalls : 0;
}

/* ---- the public API: descriptors ---------------------------------------------------------- */

/* Two connected ends of type ta / tb into fds. */
static int make_pair(vl_engine *e, int fds[2], uint8_t ta, uint8_t tb)
{
    struct sim *s = sim_get(e);
    if (s == NULL || fds == NULL)
        return -EINVAL;
    int rc = room_for(s, e, 2, 2);
    if (rc < 0)
        return rc;
    uint32_t a = open_obj(s, ta);
    uint32_t b = open_obj(s, tb);
    s->objs[a].peer = b;
    s->objs[b].peer = a;
    fds[0] = (int)a;
    fds[1] = (int)b;
    return 0;
}

int vl_sim_socketpair(vl_engine *e, int fds[2])
{
    return make_pair(e, fds, O_STREAM, O_STREAM);
}

int vl_sim_pipe(vl_engine *e, int fds[2])
{
    return make_pair(e, fds, O_PIPE_R, O_PIPE_W);
}

int vl_sim_socket(vl_engine *e)
{
    struct sim *s = sim_get(e);
    if (s == NULL)
        return -EINVAL;
    int rc = room_for(s, e, 1, 1);
    return rc < 0 ? rc : (int)open_obj(s, O_UNCONN);
}

int vl_sim_listen(vl_engine *e, const struct sockaddr *addr, socklen_t addrlen, int backlog)
{
    struct sim *s = sim_get(e);
    if (s == NULL || addr == NULL || addrlen == 0 || addrlen > sizeof(struct sockaddr_storage) ||
        backlog < 1 || backlog > 4096)
        return -EINVAL;
    if (find_listener(s, addr, addrlen) != NONE)
        return -EADDRINUSE;
    int rc = room_for(s, e, 1, 1);
    if (rc < 0)
        return rc;
    uint32_t i = open_obj(s, O_LISTEN);
    struct obj *l = &s->objs[i];
    memcpy(&l->addr, addr, addrlen);
    l->addrlen = addrlen;
    l->bl_head = l->bl_tail = NONE;
    l->bl_max = (uint32_t)backlog;
    return (int)i;
}

int vl_sim_connect(vl_engine *e, const struct sockaddr *addr, socklen_t addrlen)
{
    struct sim *s = sim_get(e);
    if (s == NULL || addr == NULL || addrlen == 0 || addrlen > sizeof(struct sockaddr_storage))
        return -EINVAL;
    int rc = room_for(s, e, 1, 2);
    if (rc < 0)
        return rc;
    uint32_t c = open_obj(s, O_UNCONN);
    int64_t r = connect_to(s, e, NONE, &s->objs[c], addr, addrlen);
    if (r < 0) {
        obj_close(s, &s->objs[c]);
        return (int)r;
    }
    return (int)c;
}

int vl_sim_file(vl_engine *e, const void *data, size_t len, size_t capacity)
{
    struct sim *s = sim_get(e);
    if (s == NULL || (data == NULL && len > 0) || capacity < len || capacity > INT32_MAX)
        return -EINVAL;
    int rc = room_for(s, e, 1, 1);
    if (rc < 0)
        return rc;
    uint8_t *mem = calloc(capacity ? capacity : 1, 1);
    if (mem == NULL)
        return -ENOMEM;
    if (len > 0)
        memcpy(mem, data, len);
    uint32_t i = open_obj(s, O_FILE);
    s->objs[i].data = mem;
    s->objs[i].size = len;
    s->objs[i].cap = capacity;
    return (int)i;
}

ssize_t vl_sim_write(vl_engine *e, int fd, const void *buf, size_t len)
{
    struct sim *s = sim_get(e);
    if (s == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    struct obj *o = lookup(s, fd);
    if (o != NULL && o->type == O_LISTEN)
        return -EINVAL;
    return (ssize_t)do_write(s, e, NONE, fd, buf, len, -1, 0, false);
}

ssize_t vl_sim_read(vl_engine *e, int fd, void *buf, size_t len)
{
    struct sim *s = sim_get(e);
    if (s == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    struct obj *o = lookup(s, fd);
    if (o != NULL && o->type == O_LISTEN)
        return -EINVAL;
    return (ssize_t)do_read(s, e, NONE, fd, buf, len, -1, 0, false);
}

ssize_t vl_sim_readable(const vl_engine *e, int fd)
{
    struct sim *s = sim_get(e);
    if (s == NULL)
        return -EINVAL;
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    if (o->type == O_FILE)
        return o->pos < o->size ? (ssize_t)(o->size - o->pos) : 0;
    return o->type == O_STREAM || o->type == O_PIPE_R ? (ssize_t)o->used : 0;
}

int vl_sim_shutdown(vl_engine *e, int fd, int how)
{
    struct sim *s = sim_get(e);
    if (s == NULL || (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR))
        return -EINVAL;
    return shut(s, fd, how);
}

/* shutdown(2) on a sim socket (vl_sim_shutdown, SHUTDOWN): how is valid.
 * A peer's parked RECV sees the EOF in the next round. */
static int shut(struct sim *s, int fd, int how)
{
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    if (o->type == O_UNCONN || o->type == O_LISTEN)
        return -ENOTCONN;
    if (o->type != O_STREAM)
        return -ENOTSOCK;
    if (how != SHUT_RD)
        o->flags |= OF_WR_SHUT;
    if (how != SHUT_WR) {
        o->flags |= OF_RD_SHUT;
        o->used = 0;
    }
    return 0;
}

int vl_sim_reset(vl_engine *e, int fd)
{
    struct sim *s = sim_get(e);
    if (s == NULL)
        return -EINVAL;
    struct obj *o = lookup(s, fd);
    if (o == NULL)
        return -EBADF;
    if (o->type != O_STREAM && o->type != O_UNCONN && o->type != O_LISTEN)
        return -ENOTSOCK;
    if (o->type == O_STREAM)
        reset_conn(s, o);
    return close_fd(s, e, fd);
}

int vl_sim_close(vl_engine *e, int fd)
{
    struct sim *s = sim_get(e);
    if (s == NULL)
        return -EINVAL;
    return close_fd(s, e, fd);
}
