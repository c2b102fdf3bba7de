/*
 * The engine core: the op table, ids, the submission and completion queues,
 * driver choice and shutdown. Drivers plug in through src/engine/driver.h.
 *
 * Ids: (generation << 32) | slot. The generation starts at 1 and grows every
 * time a slot is reused, wrapping below 2^31, so an id is never 0, never has
 * bit 63 set (drivers use that bit for internal requests), and a stale id
 * (its slot since reused) never matches: cancelling it answers -ENOENT and
 * touches nothing else (rule 2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vllsi/sys/common.h>
#include <vllsi/sys/mem.h>
#include <vllsi/sys/time.h>

#include "engine_internal.h"
#include "fault.h"

/* No clock read yet (vl_engine.poll_clock, poll's steps). */
#define NO_TIME INT64_MIN

#ifdef VLLSI_FAULT_INJECTION
#include <pthread.h>

/* Test builds: the injector named by VLLSI_FAULT (src/engine/fault.h) is
 * installed once, before the first engine exists. */
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static void fault_from_env(void)
{
    if (vl__fault_install_env() < 0)
        fprintf(stderr, "vllsi: VLLSI_FAULT: bad spec, no faults injected\n");
}
#endif

/* ---- create / destroy ------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static int engine_alloc(vl_engine *e, uint32_t cap)
{
    uint32_t ring = pow2_at_least(cap);
    e->io.cap = cap;
    e->io.slots = calloc(cap, sizeof(*e->io.slots));
    e->io.free = calloc(cap, sizeof(*e->io.free));
    e->sq = calloc(ring, sizeof(*e->sq));
    e->io.cq = calloc(2 * (size_t)ring, sizeof(*e->io.cq));
    if (!e->io.slots || !e->io.free || !e->sq || !e->io.cq)
        return -ENOMEM;
    e->sq_mask = ring - 1;
    e->io.cq_mask = 2 * ring - 1;
    e->io.cq_reserve = ring;
    /* Hand out low slots first: the table's hot end stays in cache. */
    for (uint32_t i = 0; i < cap; i++)
        e->io.free[i] = cap - 1 - i;
    e->io.nfree = cap;
    e->chain_tail = VL__NO_SLOT;
    return vl__deadline_set_init(&e->deadlines, e, cap);
}

static void pool_free(vl_engine *e, struct vl_bufpool *p);

static void engine_free(vl_engine *e)
{
    for (uint32_t g = 0; g < VL__MAX_POOLS; g++)
        if (e->pools[g] != NULL)
            pool_free(e, e->pools[g]);
    free(e->io.slots);
    free(e->io.free);
    free(e->sq);
    free(e->io.cq);
    vl__deadline_set_fini(&e->deadlines);
    free(e);
}

static int check_config(const vl_engine_config *in, vl_engine_config *cfg)
{
    vl_engine_config def = {VL_DRIVER_AUTO, 0, 0, 0, 0};
    *cfg = in ? *in : def;
    if ((unsigned)cfg->driver > VL_DRIVER_SIM || (cfg->flags & ~VL_ENGINE_FLAGS_ALL))
        return -EINVAL;
    if (cfg->max_inflight > VL_ENGINE_MAX_INFLIGHT || cfg->entries > 32768 ||
        cfg->workers > VL_ENGINE_MAX_WORKERS)
        return -EINVAL;
    if (cfg->entries == 0)
        cfg->entries = VL_ENGINE_DEFAULT_ENTRIES;
    if (cfg->max_inflight == 0)
        cfg->max_inflight = VL_ENGINE_DEFAULT_MAX_INFLIGHT;
    return 0;
}

extern const struct vl_driver vl__driver_sim; /* src/drivers/sim.c */

/* src/drivers/sync.c: every op runs to completion inside submit. */
extern const struct vl_driver vl__driver_sync;

/* src/drivers/kqueue.c: the kernel's kqueue on macOS and the BSDs, where
 * AUTO picks it; on Linux libkqueue's, when the build has it (VLLSI_KQUEUE). */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
#define VL__KQUEUE_NATIVE
#endif
#if defined(VL__KQUEUE_NATIVE) || defined(VLLSI_HAVE_KQUEUE)
#define VL__HAVE_KQUEUE
extern const struct vl_driver vl__driver_kqueue;
#endif

#ifdef _WIN32
/* Windows has one driver: the I/O completion port (src/drivers/iocp.c). */
extern const struct vl_driver vl__driver_iocp;

static const struct vl_driver *driver_for(vl_driver_kind kind)
{
    return kind == VL_DRIVER_IOCP ? &vl__driver_iocp : NULL;
}
#else
static const struct vl_driver *driver_for(vl_driver_kind kind)
{
    switch (kind) {
#ifndef VL__KQUEUE_NATIVE
    case VL_DRIVER_SYNC: /* Linux system calls */
        return &vl__driver_sync;
    case VL_DRIVER_URING:
        return &vl__driver_uring;
    case VL_DRIVER_EPOLL:
        return &vl__driver_epoll;
#endif
#ifdef VL__HAVE_KQUEUE
    case VL_DRIVER_KQUEUE:
        return &vl__driver_kqueue;
#endif
    case VL_DRIVER_SIM:
        return &vl__driver_sim;
    default:
        return NULL;
    }
}
#endif

#if !defined(_WIN32) && !defined(VL__KQUEUE_NATIVE)
/* io_uring errors that mean "not here" (fall back) rather than "out of
 * resources" (report): missing syscall, forbidden by seccomp or sysctl,
 * a kernel without the ops or flags we need. */
static bool means_unavailable(int err)
{
    return err == -ENOSYS || err == -EPERM || err == -EACCES || err == -EOPNOTSUPP ||
           err == -EINVAL;
}
#endif

static int try_driver(vl_engine *e, const struct vl_driver *d, const vl_engine_config *cfg)
{
    char why[sizeof(e->reason)] = "";
    if (d == NULL)
        return -EOPNOTSUPP; /* a driver this platform does not have */
    int rc = d->init(e, cfg, why, sizeof(why));
    if (rc == 0) {
        e->drv = d;
        e->try_submit = d->try_submit;
        e->kind = d->kind;
        return 0;
    }
    if (why[0] == '\0')
        snprintf(why, sizeof(why), "%s setup: %s (%s)", d->name, vl_strerror(rc), vl_errname(rc));
    memcpy(e->reason, why, sizeof(why));
    return rc;
}

/* VLLSI_DRIVER in the environment overrides AUTO; an unknown value is an error. */
static int env_choice(vl_driver_kind *kind)
{
    const char *v = getenv("VLLSI_DRIVER");
    if (v == NULL || v[0] == '\0')
        return 0;
    if (strcmp(v, "uring") == 0 || strcmp(v, "io_uring") == 0)
        *kind = VL_DRIVER_URING;
    else if (strcmp(v, "epoll") == 0)
        *kind = VL_DRIVER_EPOLL;
    else if (strcmp(v, "kqueue") == 0)
        *kind = VL_DRIVER_KQUEUE;
#ifndef _WIN32
    else if (strcmp(v, "sync") == 0)
        *kind = VL_DRIVER_SYNC;
#endif
#ifdef _WIN32
    else if (strcmp(v, "iocp") == 0)
        *kind = VL_DRIVER_IOCP;
#endif
    else
        return -EINVAL;
    return 1;
}

static int choose_driver(vl_engine *e, const vl_engine_config *cfg)
{
    vl_driver_kind kind = cfg->driver;
    if (kind == VL_DRIVER_AUTO) {
        int env = env_choice(&kind);
        if (env < 0)
            return env;
        if (env > 0) {
            int rc = try_driver(e, driver_for(kind), cfg);
            if (rc == 0)
                snprintf(e->reason, sizeof(e->reason), "VLLSI_DRIVER=%s", getenv("VLLSI_DRIVER"));
            return rc;
        }
#if defined(_WIN32) || defined(VL__KQUEUE_NATIVE)
#ifdef _WIN32
        int rc = try_driver(e, &vl__driver_iocp, cfg);
#else
        int rc = try_driver(e, &vl__driver_kqueue, cfg);
#endif
        if (rc == 0)
            snprintf(e->reason, sizeof(e->reason), "preferred");
        return rc;
#else
        int rc = try_driver(e, &vl__driver_uring, cfg);
        if (rc == 0) {
            snprintf(e->reason, sizeof(e->reason), "preferred");
            return 0;
        }
        if (!means_unavailable(rc))
            return rc;
        /* e->reason keeps what io_uring said; the fallback adds nothing. */
        return try_driver(e, &vl__driver_epoll, cfg);
#endif
    }
    const struct vl_driver *d = driver_for(kind);
    if (d == NULL)
        return -EOPNOTSUPP;
    int rc = try_driver(e, d, cfg);
    if (rc == 0)
        snprintf(e->reason, sizeof(e->reason), "requested");
    return rc;
}

int vl_engine_create(const vl_engine_config *in, vl_engine **out)
{
    vl_engine_config cfg;
    if (out == NULL)
        return -EINVAL;
    int rc = check_config(in, &cfg);
    if (rc < 0)
        return rc;
#ifdef VLLSI_FAULT_INJECTION
    pthread_once(&fault_once, fault_from_env);
#endif
    vl_engine *e = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : calloc(1, sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    e->poll_clock = NO_TIME;
    rc = engine_alloc(e, cfg.max_inflight);
    if (rc == 0)
        rc = choose_driver(e, &cfg);
    if (rc < 0) {
        engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void vl_engine_destroy(vl_engine *e)
{
    if (e == NULL)
        return;
    vl_engine_shutdown(e);
    /* Pools first: a native pool is unregistered from a ring still alive. */
    for (uint32_t g = 0; g < VL__MAX_POOLS; g++)
        if (e->pools[g] != NULL)
            pool_free(e, e->pools[g]);
    e->drv->fini(e);
    engine_free(e);
}

/* ---- submit ----------------------------------------------------------------- */

/*
 * Take a free slot for a validated op and hand it on: to the driver's
 * try_submit as a tail call when nothing is queued before it, else to the
 * core's queue; a chain member (member: a chain is open) the core holds
 * (LINKED) until its predecessor's completion. No calls before that one, so
 * the common submit keeps every value in scratch registers (callgrind: the
 * register saves were a tenth of a NOP's submit); there member is a
 * constant false.
 */
static inline int64_t submit_slot(vl_engine *e, const vl_op *op, void *user_data,
                                  uint64_t deadline_ns, bool member)
{
    if (VL_UNLIKELY(e->io.nfree == 0)) {
        e->io.st.busy_refusals++;
        return -EBUSY;
    }
    if (VL_UNLIKELY(vl__op_has_pool(op))) {
        struct vl_bufpool *p = vl__op_pool_of(op);
        if (p->e != e)
            return -EINVAL;
        /* A multishot RECVMSG's buffers hold its header and areas first
         * and must leave room for a payload. */
        if (op->kind == VL_OP_RECVMSG && p->size <= sizeof(vl_recvmsg_out) +
                                                        VL__MH_NAMELEN(op->u.mh.msg) +
                                                        VL__MH_CONTROLLEN(op->u.mh.msg))
            return -EINVAL;
        p->users++;
    }
    uint32_t i = e->io.free[--e->io.nfree];
    struct vl__slot *s = &e->io.slots[i];
    e->io.st.submitted[op->kind]++; /* the one counter submit pays for */
    uint32_t gen = s->gen >= VL__GEN_MAX ? 1 : s->gen + 1;
    int64_t id = (int64_t)(((uint64_t)gen << 32) | i);
    s->gen = gen;
    s->op = *op;
    s->user_data = user_data;
    s->target = UINT32_MAX;
    s->core_flags = 0;
    s->deadline_ns = deadline_ns;
    if (member) {
        s->state = VL__SLOT_LINKED;
        return id;
    }
    /* With nothing queued before it, the driver may take the op at once
     * (order is kept: anything queued goes through flush first). */
    if (e->try_submit != NULL && e->sq_head == e->sq_tail && op->kind != VL_OP_CANCEL) {
        s->state = VL__SLOT_INFLIGHT;
        e->io.in_driver++;
        e->kick = true; /* the kernel has not seen it yet */
        return e->try_submit(e, s, i, id);
    }
    s->state = VL__SLOT_QUEUED;
    e->sq[e->sq_tail++ & e->sq_mask] = i;
    return id;
}

/* When a TIMEOUT starting now fires: from a fresh clock read (the vDSO, no
 * system call), so it never fires before its duration. */
static uint64_t timeout_at(const vl_op *op)
{
    int64_t now = vl_time_monotonic_ns();
    int64_t d = op->u.timeout.duration_ns;
    return (uint64_t)(d > INT64_MAX - now ? INT64_MAX : now + d);
}

/* A TIMEOUT's deadline is fixed at submit (a chain member's again when it
 * starts). Out of line: the clock call would cost every other submit its
 * register saves. */
static VL__NOINLINE int64_t submit_timeout(vl_engine *e, const vl_op *op, void *user_data,
                                           bool member)
{
    return submit_slot(e, op, user_data, timeout_at(op), member);
}

/* The clock deadlines are kept in: the driver's (the simulator's virtual
 * time) or CLOCK_MONOTONIC. */
static int64_t engine_now(const vl_engine *e)
{
    return e->drv->now != NULL ? e->drv->now((vl_engine *)e) : vl_time_monotonic_ns();
}

/* The op in slot i was submitted: it joins the open chain (member), and
 * opens or extends one (VL_OP_F_LINK) or closes it (no flag). */
static void chain_add(vl_engine *e, uint32_t i, bool member)
{
    struct vl__slot *s = &e->io.slots[i];
    if (member)
        e->io.slots[e->chain_tail].chain_next = i;
    if (s->op.flags & VL_OP_F_LINK) {
        s->chain_next = VL__NO_SLOT;
        e->chain_tail = i;
        e->gate |= VL__GATE_CHAIN;
    } else if (member) {
        e->chain_tail = VL__NO_SLOT;
        e->gate &= (uint8_t)~VL__GATE_CHAIN;
    }
}

/* Poll ends a chain left open: its last op submitted is its last member. */
static void chain_seal(vl_engine *e)
{
    e->chain_tail = VL__NO_SLOT;
    e->gate &= (uint8_t)~VL__GATE_CHAIN;
}

/*
 * An op with options (VL_OP_F_*) or a reserved word, or any op while a
 * chain is open: validated in full here, out of the common path. A
 * relative deadline is made absolute from base (the loop's time, see
 * vl__engine_submit_from) or, with base NO_TIME or on a driver with its
 * own clock, from a clock read now, in the engine's clock, and kept in the
 * slot's copy of the op (whose flags then say DEADLINE_ABS); the slot joins
 * the deadline set, which poll watches (a relative deadline goes to its
 * value's FIFO list there). A chain member (the open chain's
 * next op) runs once: a multishot one is -EINVAL. A submit that fails
 * leaves the chain as it was.
 */
static VL__NOINLINE int64_t submit_options(vl_engine *e, const vl_op *op, void *user_data,
                                           int64_t base)
{
    int rc = vl__op_validate(op);
    if (rc < 0)
        return rc;
    bool member = e->chain_tail != VL__NO_SLOT;
    if (member && vl__op_is_multishot(op))
        return -EINVAL;
    vl_op copy = *op;
    int64_t rel = -1; /* the deadline set's list key: the relative deadline */
    if (op->flags & VL_OP_F_DEADLINE) {
        if (e->drv->runs_to_completion)
            return -EOPNOTSUPP;
        if (!(op->flags & VL_OP_F_DEADLINE_ABS)) {
            int64_t now = base != NO_TIME && e->drv->now == NULL ? base : engine_now(e);
            copy.deadline_ns =
                op->deadline_ns > INT64_MAX - now ? INT64_MAX : now + op->deadline_ns;
            copy.flags |= VL_OP_F_DEADLINE_ABS;
            rel = op->deadline_ns;
        }
    }
    int64_t id = op->kind == VL_OP_TIMEOUT ? submit_timeout(e, &copy, user_data, member)
                                           : submit_slot(e, &copy, user_data, 0, member);
    if (id < 0)
        return id;
    uint32_t i = (uint32_t)id;
    if (op->flags & VL_OP_F_DEADLINE) {
        vl__deadline_set_add(&e->deadlines, i, rel);
        e->io.slots[i].core_flags |= VL__SLOT_IN_DEADLINES;
    }
    if (member || (op->flags & VL_OP_F_LINK))
        chain_add(e, i, member);
    return id;
}

/* vl_engine_submit, a relative deadline counting from base (NO_TIME: from
 * a clock read at submit). */
static inline int64_t submit(vl_engine *e, const vl_op *op, void *user_data, int64_t base)
{
    if (VL_UNLIKELY(e == NULL || op == NULL))
        return -EINVAL;
    /* One test for shutdown and an open chain (vl_engine.gate). */
    if (VL_UNLIKELY(e->gate != 0))
        return e->io.shut ? -ESHUTDOWN : submit_options(e, op, user_data, base);
    if (VL_UNLIKELY((op->flags | op->reserved) != 0))
        return submit_options(e, op, user_data, base);
    int rc = vl__op_validate(op);
    if (VL_UNLIKELY(rc < 0))
        return rc;
    if (VL_UNLIKELY(op->kind == VL_OP_TIMEOUT))
        return submit_timeout(e, op, user_data, false);
    return submit_slot(e, op, user_data, 0, false);
}

int64_t vl_engine_submit(vl_engine *e, const vl_op *op, void *user_data)
{
    return submit(e, op, user_data, NO_TIME);
}

int64_t vl__engine_submit_from(vl_engine *e, const vl_op *op, void *user_data, int64_t base)
{
    return submit(e, op, user_data, base);
}

int64_t vl__engine_requeue(vl_engine *e, uint32_t slot, int64_t id)
{
    e->io.slots[slot].state = VL__SLOT_QUEUED;
    e->io.in_driver--;
    e->sq[e->sq_tail++ & e->sq_mask] = slot;
    return id;
}

/* ---- poll --------------------------------------------------------------------- */

/* Complete a queued op in the core, without the driver (it never got it):
 * emulated, whatever its kind. */
static void complete_queued(vl_engine *e, uint32_t i, int64_t result)
{
    if (e->drv->native_kinds.has[e->io.slots[i].op.kind])
        e->io.st.not_native++;
    e->io.slots[i].state = VL__SLOT_INFLIGHT;
    e->io.in_driver++;
    vl__engine_complete(e, i, result, 0);
}

static void sq_remove(vl_engine *e, uint32_t i);

/*
 * Resolve a CANCEL's target. A target that has completed (unknown, stale,
 * or its completion waiting for poll) answers -ENOENT at once. A second
 * CANCEL of the same op answers -EALREADY: the first one owns the outcome,
 * and io_uring would otherwise report both as found. The target's chain
 * ends after it, even if it finishes first (VL__SLOT_CHAIN_CUT). A chain
 * member the driver has not been given is the core's to end: one waiting
 * for its predecessor (LINKED) ends with -ECANCELED when its turn comes,
 * never before its predecessor's completion; one queued ends now. The
 * CANCEL then answers 0 at once. Returns true when the driver must act.
 * Out of line: inlined, its calls cost flush's loop register saves for
 * every op (callgrind: 4 instructions per NOP on epoll).
 */
static VL__NOINLINE bool resolve_cancel(vl_engine *e, uint32_t i)
{
    struct vl__slot *s = &e->io.slots[i];
    uint32_t t;
    if (!vl__engine_id_slot(e, s->op.u.cancel.target_id, &t) ||
        e->io.slots[t].state == VL__SLOT_DONE) {
        complete_queued(e, i, -ENOENT);
        return false;
    }
    struct vl__slot *ts = &e->io.slots[t];
    if (ts->core_flags & VL__SLOT_CANCEL_REQUESTED) {
        complete_queued(e, i, -EALREADY);
        return false;
    }
    ts->core_flags |= VL__SLOT_CANCEL_REQUESTED | VL__SLOT_CHAIN_CUT;
    if (ts->state == VL__SLOT_QUEUED) {
        /* Queued behind this CANCEL: flush has not reached it. */
        sq_remove(e, t);
        complete_queued(e, t, -ECANCELED);
    }
    if (ts->state != VL__SLOT_INFLIGHT) {
        complete_queued(e, i, 0);
        return false;
    }
    s->target = t;
    return true;
}

/* Hand queued ops to the driver, in order, then tell it the run is over
 * (its submitted). Stops early if the driver is full (-EBUSY); the rest
 * stay queued for the next poll. Returns how many went. */
static uint32_t flush(vl_engine *e)
{
    uint32_t n = 0;
    while (e->sq_head != e->sq_tail) {
        uint32_t i = e->sq[e->sq_head & e->sq_mask];
        struct vl__slot *s = &e->io.slots[i];
        if (s->op.kind == VL_OP_CANCEL && !resolve_cancel(e, i)) {
            e->sq_head++;
            continue;
        }
        s->state = VL__SLOT_INFLIGHT;
        e->io.in_driver++;
        if (e->drv->submit(e, i) == -EBUSY) {
            e->io.st.driver_busy++;
            if (s->state == VL__SLOT_INFLIGHT) {
                s->state = VL__SLOT_QUEUED;
                e->io.in_driver--;
                /* The CANCEL is resolved again when it is retried: until then
                 * its target is not being cancelled (a second CANCEL queued
                 * behind it must not answer -EALREADY for it). */
                if (s->op.kind == VL_OP_CANCEL && s->target != UINT32_MAX) {
                    e->io.slots[s->target].core_flags &=
                        ~(VL__SLOT_CANCEL_REQUESTED | VL__SLOT_CHAIN_CUT);
                    s->target = UINT32_MAX;
                }
            }
            break;
        }
        e->sq_head++;
        n++;
    }
    if (e->drv->submitted != NULL)
        e->drv->submitted(e);
    return n;
}

/* Move completions to the caller; a final completion frees its slot.
 * drain_from(e, out, n, cap): the same from out[n] on, for every op. */
static VL__NOINLINE int drain_from(vl_engine *e, vl_completion *out, int n, int cap)
{
    while (n < cap && e->io.cq_head != e->io.cq_tail) {
        struct vl__cqe *c = &e->io.cq[e->io.cq_head++ & e->io.cq_mask];
        struct vl__slot *s = &e->io.slots[c->slot];
        out[n].id = ((uint64_t)s->gen << 32) | c->slot;
        out[n].result = c->result;
        out[n].flags = c->flags;
        out[n].user_data = s->user_data;
        if (!(c->flags & VL_CQE_MORE))
            out[n].result = vl__engine_release(e, c->slot, c->result);
        n++;
    }
    return n;
}

/* drain's common case, ops without options or modes, whose release is a
 * push on the free stack: no call, so no register saves per poll. The
 * first other op hands the rest to drain_from (a tail call). */
static int drain(vl_engine *e, vl_completion *out, int cap)
{
    int n = 0;
    while (n < cap && e->io.cq_head != e->io.cq_tail) {
        struct vl__cqe *c = &e->io.cq[e->io.cq_head & e->io.cq_mask];
        struct vl__slot *s = &e->io.slots[c->slot];
        if (VL_UNLIKELY((s->op.flags & VL__OP_F_RELEASE) != 0))
            return drain_from(e, out, n, cap);
        e->io.cq_head++;
        out[n].id = ((uint64_t)s->gen << 32) | c->slot;
        out[n].result = c->result;
        out[n].flags = c->flags;
        out[n].user_data = s->user_data;
        s->state = VL__SLOT_FREE;
        e->io.free[e->io.nfree++] = c->slot;
        n++;
    }
    return n;
}

/* Take queued slot i out of the submission queue (a deadline fired before
 * the driver took it: rare, so a scan). */
static void sq_remove(vl_engine *e, uint32_t i)
{
    for (uint32_t k = e->sq_head; k != e->sq_tail; k++) {
        if (e->sq[k & e->sq_mask] != i)
            continue;
        for (; k + 1 != e->sq_tail; k++)
            e->sq[k & e->sq_mask] = e->sq[(k + 1) & e->sq_mask];
        e->sq_tail--;
        return;
    }
}

/*
 * Act on every deadline that has passed: a queued op completes with
 * -ETIMEDOUT at once; an op the driver holds is cancelled, and its
 * -ECANCELED reads -ETIMEDOUT (vl__engine_release_options), unless it
 * finished first, whose own result stands (never both, never neither). An
 * op a CANCEL is already cancelling keeps that outcome; a completed op
 * waiting in the queue is left as it is. A driver too busy to cancel now
 * (-EBUSY) is asked again a millisecond later.
 */
static VL__NOINLINE bool expire_deadlines(vl_engine *e, int64_t now)
{
    bool cancelled = false;
    uint32_t i;
    while (vl__deadline_set_peek(&e->deadlines, &i) && e->io.slots[i].op.deadline_ns <= now) {
        struct vl__slot *s = &e->io.slots[i];
        vl__deadline_set_remove(&e->deadlines, i);
        s->core_flags &= ~VL__SLOT_IN_DEADLINES;
        if (s->state == VL__SLOT_QUEUED) {
            sq_remove(e, i);
            complete_queued(e, i, -ETIMEDOUT);
        } else if (s->state == VL__SLOT_LINKED) {
            /* A chain member not started: it ends with -ETIMEDOUT when its
             * turn comes (chain_step), after its predecessor. */
            s->core_flags |= VL__SLOT_TIMED_OUT | VL__SLOT_CANCEL_REQUESTED;
        } else if (s->state == VL__SLOT_INFLIGHT && s->op.kind != VL_OP_CANCEL &&
                   !(s->core_flags & VL__SLOT_CANCEL_REQUESTED)) {
            s->core_flags |= VL__SLOT_TIMED_OUT | VL__SLOT_CANCEL_REQUESTED;
            cancelled = true;
            if (e->drv->cancel(e, i) == -EBUSY && s->state == VL__SLOT_INFLIGHT) {
                s->core_flags &= ~(VL__SLOT_TIMED_OUT | VL__SLOT_CANCEL_REQUESTED);
                s->op.deadline_ns = now + VL_NS_PER_MS;
                vl__deadline_set_add(&e->deadlines, i, -1);
                s->core_flags |= VL__SLOT_IN_DEADLINES;
            }
        }
    }
    return cancelled;
}

/* A wait of timeout_ns (< 0: forever) cut to the earliest deadline, now
 * being the engine's clock. */
static int64_t deadline_bound(const vl_engine *e, int64_t timeout_ns, int64_t now)
{
    uint32_t i;
    if (!vl__deadline_set_peek(&e->deadlines, &i))
        return timeout_ns;
    int64_t left = e->io.slots[i].op.deadline_ns - now;
    left = left > 0 ? left : 0;
    return timeout_ns < 0 || left < timeout_ns ? left : timeout_ns;
}

/* ---- chains (VL_OP_F_LINK) --------------------------------------------------------

 * The core runs chains on every driver: a member after the first waits in
 * its slot (LINKED, never given to the driver) until its predecessor's
 * final completion is released, and then is queued like a new op, or ends
 * with -ECANCELED. Releases happen only inside poll, after it sealed any
 * open chain, so a member never sees its predecessor already gone. */

/* Whether the op in s, finished with result, lets its chain go on: a
 * result >= 0 and, for a transfer, every byte asked for (a short one ends
 * the chain); and no CANCEL asked for it (which ends the rest even when the
 * op finished first). */
static bool chain_goes_on(const struct vl__slot *s, int64_t result)
{
    if (result < 0 || (s->core_flags & VL__SLOT_CHAIN_CUT))
        return false;
    int64_t full = vl__op_full_len(&s->op);
    return full < 0 || result >= full;
}

/* End the members from slot i to the chain's end with -ECANCELED (one its
 * deadline passed reads -ETIMEDOUT), in chain order. Each one's link is cut
 * before it completes, so that its release does not walk the rest again. */
static void chain_cancel_from(vl_engine *e, uint32_t i)
{
    while (i != VL__NO_SLOT) {
        struct vl__slot *m = &e->io.slots[i];
        uint32_t next = (m->op.flags & VL_OP_F_LINK) ? m->chain_next : VL__NO_SLOT;
        m->chain_next = VL__NO_SLOT;
        complete_queued(e, i, -ECANCELED);
        i = next;
    }
}

/* The final completion of s (with VL_OP_F_LINK) is being released with
 * result: start the next member (a TIMEOUT's duration counts from now), or
 * end it and the rest. */
static void chain_step(vl_engine *e, struct vl__slot *s, int64_t result)
{
    uint32_t n = s->chain_next;
    s->chain_next = VL__NO_SLOT;
    if (n == VL__NO_SLOT)
        return;
    struct vl__slot *m = &e->io.slots[n];
    if (!chain_goes_on(s, result) || e->io.shut || (m->core_flags & VL__SLOT_CANCEL_REQUESTED)) {
        chain_cancel_from(e, n);
        return;
    }
    if (m->op.kind == VL_OP_TIMEOUT)
        m->deadline_ns = timeout_at(&m->op);
    m->state = VL__SLOT_QUEUED;
    e->sq[e->sq_tail++ & e->sq_mask] = n;
}

int64_t vl__engine_release_options(vl_engine *e, uint32_t slot, int64_t result)
{
    struct vl__slot *s = &e->io.slots[slot];
    if (vl__op_has_pool(&s->op)) {
        vl__op_pool_of(&s->op)->users--;
        e->io.st.pool_starved += result == -ENOBUFS; /* every driver's starvation, counted once */
    }
    if (s->op.flags & VL_OP_F_DEADLINE) {
        if (s->core_flags & VL__SLOT_IN_DEADLINES)
            vl__deadline_set_remove(&e->deadlines, slot);
        if ((s->core_flags & VL__SLOT_TIMED_OUT) && result == -ECANCELED)
            result = -ETIMEDOUT;
        s->core_flags &= ~(VL__SLOT_IN_DEADLINES | VL__SLOT_TIMED_OUT);
    }
    if (s->op.flags & VL_OP_F_LINK)
        chain_step(e, s, result);
    return result;
}

/*
 * poll reads the clock at most once per step, where a step is its entry or
 * a return from the driver's wait: every use in the step (the deadlines
 * that passed, the wait's bound, what is left of the caller's timeout)
 * shares the read. A read only ends ops or bounds a wait, so one a few
 * instructions old makes them late by as much, never early.
 */
static int64_t mono_now(int64_t *t)
{
    if (*t == NO_TIME)
        *t = vl_time_monotonic_ns();
    return *t;
}

/* engine_now from the step's read, unless the driver keeps its own clock. */
static int64_t step_now(const vl_engine *e, int64_t *t)
{
    return e->drv->now != NULL ? e->drv->now((vl_engine *)e) : mono_now(t);
}

static int64_t remaining(int64_t deadline, int64_t now)
{
    int64_t left = deadline - now;
    return left > 0 ? left : 0;
}

/* vl_engine_poll with until (see vl__engine_poll_until); the step's last
 * clock read goes to e->poll_clock. */
static int poll_until(vl_engine *e, int64_t timeout_ns, int64_t until, vl_completion *out, int cap)
{
    int64_t t = NO_TIME;
    e->poll_clock = NO_TIME;
    if (VL_UNLIKELY(e->chain_tail != VL__NO_SLOT))
        chain_seal(e);
    if (e->io.shut)
        return drain(e, out, cap);
    if (VL_UNLIKELY(e->deadlines.n > 0))
        expire_deadlines(e, step_now(e, &t));
    uint32_t sent = e->sq_head != e->sq_tail ? flush(e) : 0;
    if (e->io.cq_head != e->io.cq_tail) {
        /* Completions are ready: reap without waiting, but push what was
         * just queued and is still held by the driver to the kernel now. */
        if ((sent && e->io.in_driver > 0 && e->drv->buffers_submissions) || e->kick) {
            e->kick = false;
            e->drv->wait(e, 0);
        }
        e->poll_clock = t;
        return drain(e, out, cap);
    }
    e->kick = false; /* the wait below enters the kernel anyway */
    /* The instant the wait ends at the latest (INT64_MAX: none). */
    int64_t deadline = INT64_MAX;
    if (timeout_ns != 0 && until != INT64_MAX)
        deadline = until;
    if (timeout_ns > 0 && timeout_ns < INT64_MAX - mono_now(&t) && t + timeout_ns < deadline)
        deadline = t + timeout_ns;
    e->io.woken = false;
    /* The core's CQ is empty: lend the driver the caller's array for the
     * wait (vl__engine_complete), taken back before anything else runs. */
    e->io.out = out;
    e->io.out_n = 0;
    e->io.out_cap = (uint32_t)cap;
    for (;;) {
        int64_t left = timeout_ns == 0         ? 0
                       : deadline == INT64_MAX ? -1
                                               : remaining(deadline, mono_now(&t));
        /* Ops the driver had no room for must reach it before we block:
         * nothing the kernel holds may ever complete to wake us. */
        bool held_back = e->sq_head != e->sq_tail;
        int64_t wait_ns = held_back ? 0 : left;
        bool deadlines = e->deadlines.n > 0;
        if (VL_UNLIKELY(deadlines))
            wait_ns = deadline_bound(e, wait_ns, step_now(e, &t));
        int rc = e->drv->wait(e, wait_ns);
        t = NO_TIME; /* the wait took time: a new step */
        if (held_back)
            flush(e);
        /* A cancelled op's completion must not wait out a gathering
         * window: the rest of this poll waits plainly. */
        if (VL_UNLIKELY(deadlines) && expire_deadlines(e, step_now(e, &t)))
            e->io.gather_want = 0;
        /* A signal (-EINTR) or a wake ends the wait with what we have. */
        if (e->io.out_n > 0 || e->io.cq_head != e->io.cq_tail || e->io.woken || rc == -EINTR ||
            left == 0)
            break;
        if (rc < 0 && rc != -ETIME && rc != -ETIMEDOUT)
            break;
        if (deadline != INT64_MAX && remaining(deadline, mono_now(&t)) == 0)
            break;
    }
    e->poll_clock = t;
    /* What went straight to the caller came before anything the CQ holds. */
    int n = (int)e->io.out_n;
    e->io.out = NULL;
    e->io.out_n = e->io.out_cap = 0;
    return e->io.cq_head != e->io.cq_tail ? n + drain(e, out + n, cap - n) : n;
}

int vl_engine_poll(vl_engine *e, int64_t timeout_ns, vl_completion *out, int cap)
{
    if (VL_UNLIKELY(e == NULL || out == NULL || cap <= 0))
        return -EINVAL;
    return poll_until(e, timeout_ns, INT64_MAX, out, cap);
}

int vl__engine_poll_until(vl_engine *e, int64_t timeout_ns, int64_t until, vl_completion *out,
                          int cap)
{
    if (VL_UNLIKELY(e == NULL || out == NULL || cap <= 0))
        return -EINVAL;
    return poll_until(e, timeout_ns, until, out, cap);
}

int64_t vl__engine_poll_clock(const vl_engine *e)
{
    return e->poll_clock != NO_TIME ? e->poll_clock : vl_time_monotonic_ns();
}

void vl__engine_set_gather(vl_engine *e, uint32_t want, int64_t ns)
{
    e->io.gather_want = want;
    e->io.gather_ns = ns;
}

int vl_engine_poll_batch(vl_engine *e, int64_t timeout_ns, int want, int64_t gather_ns,
                         vl_completion *out, int cap)
{
    if (VL_UNLIKELY(e == NULL || out == NULL || cap <= 0 || want < 1 || want > cap ||
                    gather_ns < 0))
        return -EINVAL;
    e->io.gather_want = (uint32_t)want;
    e->io.gather_ns = gather_ns;
    int n = vl_engine_poll(e, timeout_ns, out, cap);
    e->io.gather_want = 0;
    e->io.gather_ns = 0;
    return n;
}

/* ---- shutdown, wake, names ------------------------------------------------------ */

void vl_engine_shutdown(vl_engine *e)
{
    if (e == NULL || e->io.shut)
        return;
    vl__engine_push(e); /* wakes queued for other engines go out first */
    e->io.shut = true;
    e->gate |= VL__GATE_SHUT;
    chain_seal(e); /* chain members still waiting end at the next poll */
    /* Queued ops never reached the kernel: they are cancelled here. */
    while (e->sq_head != e->sq_tail)
        complete_queued(e, e->sq[e->sq_head++ & e->sq_mask], -ECANCELED);
    for (uint32_t i = 0; i < e->io.cap; i++)
        if (e->io.slots[i].state == VL__SLOT_INFLIGHT)
            e->drv->cancel(e, i);
    /* Rule 3: return only when no kernel operation can still write into user
     * memory, i.e. when the driver has reported every op it held. A cancel
     * can miss: io_uring (6.18, DEFER_TASKRUN) answers -ENOENT for a
     * blocking CONNECT still on its way to an io-wq worker. So after every
     * wait that brought nothing, the ops still held are cancelled again. */
    while (e->io.in_driver > 0) {
        uint32_t before = e->io.in_driver;
        e->drv->wait(e, 100 * VL_NS_PER_MS);
        if (e->io.in_driver == before)
            for (uint32_t i = 0; i < e->io.cap; i++)
                if (e->io.slots[i].state == VL__SLOT_INFLIGHT)
                    e->drv->cancel(e, i);
    }
}

void vl__engine_push(vl_engine *e)
{
    if (e != NULL && e->kick) {
        e->kick = false;
        e->drv->wait(e, 0); /* submits; what it reaps waits in the core's queue */
    }
}

int vl__engine_event_fd(vl_engine *e, bool *ready)
{
    *ready = false;
    if (e->drv->event_fd == NULL)
        return -EOPNOTSUPP;
    int fd = e->drv->event_fd(e, ready);
    if (e->io.cq_head != e->io.cq_tail || e->sq_head != e->sq_tail || e->kick)
        *ready = true;
    return fd;
}

int vl__engine_wake_from(vl_engine *from, vl_engine *to)
{
    if (to == NULL)
        return -EINVAL;
    if (from != NULL && from != to && from->drv == to->drv && from->drv->wake_from != NULL &&
        !from->io.shut && from->drv->wake_from(from, to) == 0) {
        from->kick = true;
        return 0;
    }
    return vl_engine_wake(to);
}

int vl_engine_wake(vl_engine *e)
{
    if (e == NULL)
        return -EINVAL;
    return e->drv->wake(e);
}

void vl__engine_set_completes_outside_poll(vl_engine *e, bool yes)
{
    e->completes_outside_poll = yes;
}

const struct vl_driver *vl__engine_driver(const vl_engine *e)
{
    return e->drv;
}

int vl_engine_fd_register(vl_engine *e, int fd)
{
    if (e == NULL || fd < 0)
        return -EINVAL;
    return e->drv->fd_table != NULL ? e->drv->fd_table(e, fd, true) : 0;
}

int vl_engine_fd_unregister(vl_engine *e, int fd)
{
    if (e == NULL || fd < 0)
        return -EINVAL;
    return e->drv->fd_table != NULL ? e->drv->fd_table(e, fd, false) : 0;
}

const char *vl_engine_driver_name(const vl_engine *e)
{
    return e ? e->drv->name : "";
}

vl_driver_kind vl_engine_driver_kind(const vl_engine *e)
{
    return e ? e->kind : VL_DRIVER_AUTO;
}

const char *vl_engine_driver_reason(const vl_engine *e)
{
    return e ? e->reason : "";
}

uint32_t vl_engine_inflight(const vl_engine *e)
{
    return e ? vl__engine_alive(e) : 0;
}

/* ---- statistics ----------------------------------------------------------------- */

_Static_assert(VL_OP_KIND_COUNT_ <= VL_STATS_KINDS, "vl_engine_stats has room for every kind");
_Static_assert(sizeof(vl_engine_statistics) == VL_ENGINE_STATS_SIZE_V1,
               "the version-1 layout is fixed: append fields, bump the version");
_Static_assert(offsetof(vl_engine_statistics, submitted) == 192 &&
                   offsetof(vl_engine_statistics, completions) == 704 &&
                   offsetof(vl_engine_statistics, pool_rearmed) == 800,
               "the version-1 layout is fixed");

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* submitted[] less the ids still alive, kind by kind: what poll has
 * returned the final completion of (a scan of the op table, so that the
 * hot path counts no completion per op); with the VL_CQE_MORE ones made
 * less those still in the core's queue, every completion returned. Native
 * and emulated likewise from submitted[]. */
static void stats_ops(const vl_engine *e, vl_engine_statistics *s)
{
    uint64_t total = 0, native = 0, done = 0, more = e->io.st.more;
    for (uint32_t k = 0; k < VL_OP_KIND_COUNT_; k++) {
        s->submitted[k] = s->completed[k] = e->io.st.submitted[k];
        total += e->io.st.submitted[k];
        if (e->drv->native_kinds.has[k])
            native += e->io.st.submitted[k];
    }
    for (uint32_t i = 0; i < e->io.cap; i++)
        if (e->io.slots[i].state != VL__SLOT_FREE)
            s->completed[e->io.slots[i].op.kind]--;
    for (uint32_t k = 0; k < VL_OP_KIND_COUNT_; k++)
        done += s->completed[k];
    for (uint32_t c = e->io.cq_head; c != e->io.cq_tail; c++)
        more -= (e->io.cq[c & e->io.cq_mask].flags & VL_CQE_MORE) != 0;
    s->completions = done + more;
    native = e->io.st.not_native < native ? native - e->io.st.not_native : 0;
    s->native = native;
    s->emulated = total - native;
}

int vl_engine_stats(const vl_engine *e, vl_engine_statistics *out)
{
    if (e == NULL || out == NULL || out->size < VL_ENGINE_STATS_SIZE_V1)
        return -EINVAL;
    vl_engine_statistics s;
    memset(&s, 0, sizeof(s));
    s.version = VL_ENGINE_STATS_VERSION;
    s.driver = (uint32_t)e->kind;
    s.inflight = vl__engine_alive(e);
    copy_str(s.driver_name, sizeof(s.driver_name), e->drv->name);
    copy_str(s.driver_reason, sizeof(s.driver_reason), e->reason);
    stats_ops(e, &s);
    s.kernel_enters = e->io.st.kernel_waits + e->io.st.kernel_nowait;
    s.kernel_waits = e->io.st.kernel_waits;
    s.kernel_completions = e->io.st.kernel_completions;
    s.busy_refusals = e->io.st.busy_refusals;
    s.driver_busy = e->io.st.driver_busy;
    s.cq_overflow = e->io.st.cq_overflow;
    s.cq_dropped =
        e->io.st.kernel_dropped ? __atomic_load_n(e->io.st.kernel_dropped, __ATOMIC_RELAXED) : 0;
    s.cq_deferred = e->io.st.cq_deferred;
    s.pool_starved = e->io.st.pool_starved;
    s.pool_rearmed = e->io.st.pool_rearmed;
    size_t n = out->size < sizeof(s) ? out->size : sizeof(s);
    s.size = (uint32_t)n;
    memcpy(out, &s, n);
    return 0;
}

/* ---- buffer pools ------------------------------------------------------------- */

static void pool_free(vl_engine *e, struct vl_bufpool *p)
{
    if (p->native && e->drv != NULL && e->drv->pool_remove != NULL)
        e->drv->pool_remove(e, p);
    e->pools[p->group] = NULL;
    if (p->mem != NULL)
        vl_os_free(p->mem, p->map_len);
    free(p->free);
    free(p->out);
    free(p);
}

static int pool_alloc(struct vl_bufpool *p, uint32_t count, uint32_t size)
{
    int err = 0;
    p->count = count;
    p->size = size;
    /*
     * Buffers lie one cache line apart beyond their rounded size when that
     * size is a whole number of pages: at a page-multiple stride every
     * buffer starts at page offset 0 and on the same cache sets, and the
     * kernel's copies out of them (send) run three times slower. perf on
     * echo_server, 16 connections x 4 KiB x depth 16, 64 KiB buffers:
     * _copy_from_iter is 42 % of the server core at a 64 KiB stride, 8-15 %
     * with the extra line (libev, one static buffer: 14 %).
     */
    uint64_t rounded = ((uint64_t)size + 63) & ~(uint64_t)63;
    p->stride = (uint32_t)(rounded % 4096 == 0 ? rounded + 64 : rounded);
    p->map_len = (size_t)count * p->stride;
    p->mem = VL__FAULT(VL__FAULT_ENOMEM) ? NULL : vl_os_alloc(p->map_len, &err);
    p->free = malloc((size_t)count * sizeof(*p->free));
    p->out = calloc((count + 63) / 64, sizeof(*p->out));
    if (p->mem == NULL || p->free == NULL || p->out == NULL)
        return err < 0 ? err : -ENOMEM;
    /* Low ids on top of the stack: they are handed out first. */
    for (uint32_t i = 0; i < count; i++)
        p->free[i] = count - 1 - i;
    p->nfree = count;
    p->avail = count;
    return 0;
}

int vl_bufpool_create(vl_engine *e, uint32_t count, uint32_t size, vl_bufpool **out)
{
    if (e == NULL || out == NULL || count == 0 || count > VL_BUFPOOL_MAX_COUNT ||
        (count & (count - 1)) != 0 || size == 0 || size > INT32_MAX)
        return -EINVAL;
    if ((uint64_t)count * (((uint64_t)size + 63) & ~(uint64_t)63) > SIZE_MAX / 2)
        return -ENOMEM;
    if (e->io.shut)
        return -ESHUTDOWN;
    uint32_t g = 0;
    while (g < VL__MAX_POOLS && e->pools[g] != NULL)
        g++;
    if (g == VL__MAX_POOLS)
        return -ENOSPC;
    struct vl_bufpool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->e = e;
    p->group = (uint16_t)g;
    e->pools[g] = p;
    int rc = pool_alloc(p, count, size);
    if (rc == 0 && e->drv->pool_add != NULL)
        rc = e->drv->pool_add(e, p);
    if (rc < 0) {
        p->native = false;
        pool_free(e, p);
        return rc;
    }
    *out = p;
    return 0;
}

int vl_bufpool_destroy(vl_bufpool *p)
{
    if (p == NULL)
        return -EINVAL;
    if (p->users > 0)
        return -EBUSY;
    pool_free(p->e, p);
    return 0;
}

void *vl_bufpool_buf(const vl_bufpool *p, uint32_t id)
{
    if (p == NULL || id >= p->count)
        return NULL;
    return vl__pool_buf(p, id);
}

int vl_bufpool_release(vl_bufpool *p, uint32_t id)
{
    if (VL_UNLIKELY(p == NULL || id >= p->count))
        return -EINVAL;
    uint64_t bit = 1ull << (id & 63);
    if (VL_UNLIKELY(!(p->out[id >> 6] & bit)))
        return -EALREADY;
    p->out[id >> 6] &= ~bit;
    p->avail++;
    if (p->native)
        p->e->drv->pool_put(p->e, p, id);
    else
        vl__pool_untake(p, id);
    return 0;
}

uint32_t vl_bufpool_available(const vl_bufpool *p)
{
    return p ? p->avail : 0;
}

uint32_t vl_bufpool_count(const vl_bufpool *p)
{
    return p ? p->count : 0;
}

uint32_t vl_bufpool_size(const vl_bufpool *p)
{
    return p ? p->size : 0;
}
