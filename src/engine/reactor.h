/*
 * src/engine/reactor.h - the readiness core shared by the readiness drivers
 * (epoll, kqueue): it turns "the fd is ready" into completions.
 *
 * The rule is TigerBeetle's: try the op at once without blocking; when the
 * kernel says EAGAIN, park the op on its fd's wait lists for the directions
 * it needs (its opdef row's park: read for READ, RECV, ACCEPT; write for
 * WRITE, SEND, a CONNECT in progress; both for an op that waits for either)
 * and have the backend watch the fd, edge-triggered; when an edge comes,
 * run the parked ops in order until one would block again.
 *
 * Where the core keeps an op it holds (struct vl__reactor_slot, in the
 * slot's driver area):
 *  - parked: on its fd's read list, its write list, or both at once. An op
 *    parked for both runs once per notification of either direction and
 *    leaves both lists when it completes or is cancelled; the backend
 *    watches the union of the directions the fd's lists wait for;
 *  - timing: in the timer heap (TIMEOUT), through the core's timer_pos and
 *    timer_seq slot fields, so a later per-op deadline can coexist with a
 *    place on the fd lists;
 *  - held: on the held list, an op that waits on no fd and that something
 *    outside the fd path completes (vl__reactor_hold_done), or a WAITPID
 *    whose child's exit the backend watches (watch_exit, vl__reactor_exited);
 *  - offloaded: with a struct vl__reactor_offload (a worker pool), which
 *    runs the blocking work of kinds whose row says blocking, and of ops
 *    whose fd cannot be polled (a regular file). Without one those run
 *    inline on the polling thread.
 *
 * The core owns, sized once at init from max_inflight: an open-addressing
 * hash table keyed by fd (capacity a power of two of at least
 * 2 * max_inflight, so the load stays at or below one half: an entry exists
 * only while an op is parked on its fd), each entry holding two intrusive
 * FIFO lists of slots and the interest mask the backend watches; the timer
 * heap; the held list's ends.
 *
 * It calls the OS only for the ops themselves (recv, send, accept4, connect,
 * pread, preadv2, close, ...): readiness goes through struct
 * vl__reactor_backend, which the driver implements (epoll_ctl, kevent).
 */
#ifndef VLLSI_ENGINE_REACTOR_H
#define VLLSI_ENGINE_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "sigpipe.h"
#include "timer_heap.h"

/* Directions, as a mask. */
#define VL__REACTOR_READ  0x1u
#define VL__REACTOR_WRITE 0x2u
/*
 * Only in what a backend reports to vl__reactor_ready: the peer will send
 * nothing more (epoll EPOLLRDHUP/EPOLLHUP, kqueue EV_EOF), so a read past
 * the queued data finds EOF. Edge-triggered, the FIN that queued the EOF
 * made its edge once: an op that reads a stream short (its data is gone)
 * may wait for the next edge only while this was never reported, or the
 * EOF behind the data would never be seen.
 */
#define VL__REACTOR_HUP   0x4u

struct vl__reactor_backend {
    /*
     * Make the backend watch fd for the directions in want (VL__REACTOR_*)
     * with an edge-triggered registration that stays until the file closes
     * or disarm: a notification does not disarm it, so an fd with a
     * long-lived op (a multishot RECV) is registered once. Tag the fd's events
     * with tag from now on, and look at the fd's state now, so that one
     * already ready reports at once (epoll: MOD, and ADD on ENOENT, whether
     * or not the fd was registered before). Returns 0; -EPERM when fd cannot
     * be polled at all (a regular file: "always ready", the reactor then
     * runs the op inline, or on the offload's workers); another negative
     * errno fails the ops.
     */
    int (*arm)(void *ctx, int fd, unsigned want, uint32_t tag);
    /* Stop watching fd (it is closing). */
    void (*disarm)(void *ctx, int fd);
    /*
     * Optional, for a backend with a process filter (kqueue's EVFILT_PROC,
     * NOTE_EXIT); NULL where there is none (epoll: WAITPID then parks a
     * pidfd). watch_exit registers, one shot and before it returns, a watch
     * of child pid's exit, to be reported with vl__reactor_exited(r, slot,
     * pid); one watch per pid: a second call for the same pid replaces the
     * slot the first named. Returns 0, -ESRCH for a pid that has exited
     * already (the reactor reaps it then), or another negative errno the op
     * completes with. unwatch_exit removes the watch of pid, if it is still
     * there, so no report for it follows.
     */
    int (*watch_exit)(void *ctx, int pid, uint32_t slot);
    void (*unwatch_exit)(void *ctx, int pid);
    /*
     * Arming is a system call of its own (epoll_ctl), so the core re-uses a
     * registration it left in place rather than arm again (struct
     * vl__reactor_hint: a number's last registration). A file closed with
     * close(2) and replaced on the same number is invisible to the engine,
     * so such a re-use is unproven until an arm confirms it: a driver that
     * sets this calls vl__reactor_prewait before each wait, and
     * vl__reactor_timeout then bounds the wait while unproven re-uses exist
     * (see there). false: every new fd entry arms (kqueue, whose arms go in
     * with the next wait at no cost of their own).
     */
    bool reuse;
};

/*
 * A worker pool for blocking work: the place where file ops (which no
 * readiness mechanism reports) run off the polling thread. The reactor
 * hands it an op when the op's kind is blocking (its opdef row) or when the
 * op's fd cannot be polled (the backend's arm said -EPERM, or READ/WRITE
 * found a regular file or block device); with no offload installed those
 * ops run inline on the polling thread.
 *
 * The contract, for every op handed to start that start accepted:
 *  - the worker runs vl__reactor_work(r, slot) for it, which performs the
 *    op's blocking system call and returns the result; it reads only the
 *    slot (the op and the reactor's state in it), never the reactor's
 *    tables, so any thread may call it;
 *  - the result comes back exactly once, on the polling thread, through
 *    vl__reactor_offload_done: the offload wakes the engine (the driver's
 *    wake, e.g. vl_engine_wake) when a job finished, and the driver's wait
 *    calls vl__reactor_woken, which calls reap, which hands back every
 *    finished job;
 *  - cancel of a job still queued drops it and returns 0 (the reactor then
 *    completes the op with -ECANCELED, and offload_done must not follow);
 *    cancel of a job a worker runs returns -EALREADY (the op completes with
 *    its result, through offload_done, and a CANCEL of it answers
 *    -EALREADY);
 *  - engine shutdown cancels every op and then waits (in the driver's
 *    wait) until the running jobs have come back, so a job's buffers stay
 *    the caller's until its completion, as with every other op.
 *  - CLOSE (close, when not NULL): a job runs later by fd number, so the
 *    CLOSE of its fd must not leave it to meet the next file to take the
 *    number. close(ctx, slot, fd) hands back every job of fd still queued
 *    through vl__reactor_offload_done with -ECANCELED, and returns 0 when
 *    no worker runs a job of fd, so the reactor's close(2) may follow at
 *    once; 1 when one does: the offload then holds the CLOSE (slot), makes
 *    its close(2) on the polling thread once the last such job's system
 *    call has returned (so no other thread ever uses the number near its
 *    close), and the CLOSE comes back with close's result through
 *    offload_done. A cancel of a CLOSE it holds answers -EALREADY (the
 *    close happens). While it holds one, closing(ctx, fd) says whether fd
 *    is the number of a held CLOSE: the reactor then fails a new op on
 *    the number with -EBADF, as if the close had been made.
 * While the offload holds an op, the job words of the slot's struct
 * vl__reactor_slot are the offload's (e.g. its queue link). start, cancel,
 * close and reap run on the polling thread. start returns 0, or a negative
 * errno the op then completes with.
 */
struct vl__reactor_offload {
    int (*start)(void *ctx, uint32_t slot);
    int (*cancel)(void *ctx, uint32_t slot);
    void (*reap)(void *ctx);
    int (*close)(void *ctx, uint32_t slot, int fd); /* NULL: jobs keep their fd number */
    bool (*closing)(void *ctx, int fd);             /* with close */
    /* NULL, or called on the polling thread before every wait of the
     * driver (vl__reactor_timeout): work start put off until then. */
    void (*kick)(void *ctx);
};

/*
 * The reactor's state in a slot it holds: VL__SLOT_DRV(s, struct
 * vl__reactor_slot). The core sets flags when it takes the slot; the rest
 * is valid only where flags say the slot is.
 */
struct vl__reactor_slot {
    union {
        /* Parked: the links of its fd's read ([0]) and write ([1]) lists,
         * UINT32_MAX ending a list; an op parked for both directions is on
         * both. Held: the held list's links are next[0] and prev[0]. */
        struct {
            uint32_t next[2];
            uint32_t prev[2];
        } link;
        /* Offloaded: the offload's own (struct vl__reactor_offload). */
        uint32_t job[4];
    } u;
    uint32_t flags; /* where it is, how it runs: the bits in reactor.c */
    /* POLL: the notification (struct vl__reactor's ready_seq) it last ran
     * for, so that one parked for both directions runs once per
     * notification. */
    uint32_t seq;
};

/*
 * One fd with parked ops. fd < 0 marks a free table entry.
 *
 * Edge-triggered, a notification means "something changed": the parked ops
 * run until one meets EAGAIN, and only then may they wait for the next edge
 * without help. An op that stops without having seen EAGAIN (a burst limit,
 * a full completion queue, a blocking fd that may be read once per
 * notification, an injected fault) leaves its direction in recheck, and the
 * next settle has the backend look at the level again.
 */
struct vl__reactor_fd {
    int32_t fd;
    uint32_t tag;     /* the tag of the latest arm: other events are stale  */
    uint8_t armed;    /* directions the registration watches (only grows)   */
    uint8_t recheck;  /* directions whose readiness is unknown: arm again   */
    uint8_t hup;      /* VL__REACTOR_HUP was reported: EOF follows the data */
    uint8_t unproven; /* 0, or the stamp of the re-use of a registration it
                       * started from without an arm (the backend's reuse) */
    uint32_t head[2]; /* [0] read list, [1] write list; UINT32_MAX: empty */
    uint32_t tail[2];
};

/*
 * What the reactor remembers of an fd number between ops (direct-mapped by
 * number, so another number may take the entry): whether it is a stream
 * socket (asked once), and whether its last single-shot RECV came back short,
 * i.e. took everything there was, with no read event for the number since.
 * A RECV submitted while that holds parks without trying a read that could
 * only say EAGAIN.
 *
 * With a backend whose arms cost a system call (its reuse), also the
 * registration the number's last fd entry left in place when its ops were
 * done: its tag and directions, and whether the peer was reported done. A
 * new entry for the number, made for an op that has just met EAGAIN (or
 * parks on the drained hint), starts from it without arming: the
 * edge-triggered registration reports every change from then on, with that
 * tag. Since a close(2) and a new file on the number go unseen, such an
 * entry is unproven, and an arm confirms it when it has waited a while
 * (vl__reactor_prewait); engine ops that make or close a number (ACCEPT,
 * SOCKET, CLOSE) forget what the number had.
 *
 * nonblock: the number's socket is known to be non-blocking, so SENDFILE
 * and SPLICE skip the fcntl(F_GETFL) that would tell them: the engine made
 * it so itself (a SOCKET with VL_SOCK_NONBLOCK), or, with reuse (the
 * caller's VL_ENGINE_REMEMBER_FDS promise, which covers this), a
 * SENDFILE's fcntl found it so. Without that promise a flag the reactor
 * merely saw could be cleared behind its back, and sendfile(2) on a
 * blocking socket would then block the polling thread.
 *
 * mode, sync_io, dev: how a READ/WRITE reaches the number's file (its
 * fstat: regular file, socket or other) and, for a regular file, its
 * device and whether its status flags ask for synchronous I/O (F_GETFL),
 * so that the number's next READ/WRITE makes neither call. Only with
 * remember (VL_ENGINE_REMEMBER_FDS): a file put on the number behind the
 * engine's back would otherwise keep the old file's answers, and a pipe
 * taken for a regular file would be read with a call that waits.
 */
struct vl__reactor_hint {
    int32_t fd;       /* -1: empty                                     */
    uint32_t tag;     /* the registration left in place (armed != 0)   */
    uint8_t stream;   /* SOCK_STREAM: a short read means drained; 2: not asked */
    uint8_t drained;  /* short RECV, no read event since                */
    uint8_t armed;    /* its directions; 0: none known                  */
    uint8_t hup;      /* the peer was reported done                     */
    uint8_t nonblock; /* known non-blocking (SOCKET, ACCEPT, or learned) */
    uint8_t mode;     /* READ/WRITE's MODE_* >> MODE_SHIFT; 0: not known  */
    uint8_t sync_io;  /* a file's O_DIRECT/O_DSYNC: SYNC_IO_* (reactor.c) */
    uint64_t dev;     /* a file's st_dev (mode MODE_FILE)               */
};

/* An unproven re-use (struct vl__reactor_hint), waiting for its proof. */
struct vl__reactor_unproven {
    int32_t fd;
    uint32_t tag;
    uint32_t wait; /* the reactor's wait count when it was made (its stamp) */
    uint32_t unused_;
    int64_t at; /* when it was made (the reactor's now) */
};

struct vl__reactor {
    vl_engine *e;
    const struct vl__reactor_backend *be;
    void *ctx; /* the backend's first argument */
    struct vl__reactor_fd *tab;
    struct vl__reactor_hint *hints; /* mask + 1 entries, by fd number */
    uint32_t mask;                  /* table capacity - 1 */
    uint32_t displaced;             /* entries away from their home slot */
    struct vl__timer_heap timers;
    uint32_t next_tag;  /* tags registrations, so stale events are told apart */
    uint32_t ready_seq; /* counts vl__reactor_ready calls that ran ops (POLL's seq) */
    bool inline_run;    /* running an op on an fd epoll refuses (no faults there) */
    /* Per op kind, what submit does beyond running the op: the directions
     * its row parks for, and whether it goes to the offload (a blocking
     * kind while one is installed), and while the offload holds a CLOSE,
     * that the kind's fd must be checked. One load on the submit path. */
    uint8_t route[VL_OP_KIND_COUNT_];
    uint32_t held_head, held_tail;         /* the held list; UINT32_MAX: empty */
    const struct vl__reactor_offload *off; /* NULL: blocking work runs inline */
    void *off_ctx;
    /* CLOSEs the offload holds (its close said 1): while there are any,
     * a new op on one's number fails -EBADF (reactor.c: held_close_fails). */
    uint32_t closes_held;
    /* The worker pool vl__reactor_drv_init made and installed (workers.h);
     * NULL for a reactor set up by vl__reactor_init alone. */
    struct vl__workers *pool;
    /* With an offload installed, the polling thread first tries the file
     * ops that the page cache and dentry cache can answer without waiting
     * (vl__reactor_set_file_nowait), and offloads only what the kernel says
     * would block. open_cached: whether openat2 knows RESOLVE_CACHED (Linux
     * 5.12+): no, not asked yet, yes (CACHED_* in reactor.c). nowait_refused:
     * per direction (0 read, 1 write), 1 + the st_dev whose file system
     * last refused RWF_NOWAIT (-EOPNOTSUPP), so its ops skip the attempt;
     * 0 for none. */
    bool file_nowait;
    uint8_t open_cached;
    uint64_t nowait_refused[2];
    /* Unproven re-uses, oldest first: a ring of uv_mask + 1 records (none
     * for a backend without reuse). waits counts vl__reactor_prewait calls;
     * now is CLOCK_MONOTONIC after the latest wait, idle: that wait found
     * nothing (vl__reactor_count_wait; only with reuse). */
    struct vl__reactor_unproven *uv;
    /* The backend's reuse is in use: be->reuse, and for a driver's reactor
     * the engine's VL_ENGINE_REMEMBER_FDS (vl__reactor_drv_init). */
    bool reuse;
    /* The engine's VL_ENGINE_REMEMBER_FDS, whatever the backend: READ/WRITE
     * keep what they learn of a number's file in its hint (mode, sync_io,
     * dev). */
    bool remember;
    uint32_t uv_mask, uv_head, uv_len;
    uint32_t waits;
    bool idle;
    int64_t now;
    /* SIGPIPE held for the SENDFILE and SPLICE calls that one wait's events
     * run on the polling thread (vl__reactor_ready), from the first call
     * until vl__reactor_expire ends the wait's dispatch, and for those that
     * one run of submits makes (vl__reactor_drv_submit), until the run's
     * end (vl__reactor_drv_submitted): two sigprocmask calls per wait or
     * run rather than per call. in_wait: between the first
     * vl__reactor_ready of a wait and that vl__reactor_expire; in_submit:
     * between a vl__reactor_drv_submit and the run's end. */
    struct vl__sigpipe_batch sigpipe;
    bool in_wait, in_submit;
};

/* Allocate for max_inflight slots. 0 or -ENOMEM (nothing left behind). */
int vl__reactor_init(struct vl__reactor *r, vl_engine *e, uint32_t max_inflight,
                     const struct vl__reactor_backend *be, void *ctx);
void vl__reactor_fini(struct vl__reactor *r);

/* Take an op from the core: finish it now, park it, start its timer, or
 * hand it to the offload. */
void vl__reactor_submit(struct vl__reactor *r, uint32_t slot);

/*
 * What a readiness driver adds to the core, for its setup and teardown.
 * Its state (size bytes) begins with its struct vl__reactor, and is the
 * backend's ctx.
 */
struct vl__reactor_driver {
    const char *name; /* for the setup failure's reason */
    size_t size;
    const struct vl__reactor_backend *be;
    /* Make the driver's descriptors in the zeroed state: 0 or -errno. */
    int (*open)(void *state);
    /* Release what open made, also when it failed half-way. */
    void (*close)(void *state);
};

/*
 * A readiness driver's init and fini (struct vl_driver) around rd: the
 * state (zeroed, with ENOMEM injectable), the reactor in it, then rd->open,
 * then the worker pool (src/engine/workers.h, cfg->workers threads at most)
 * installed as the reactor's offload; on failure "<name> setup: <error>" in
 * reason and nothing left behind. vl__engine_drv(e) holds the state. fini
 * joins the pool's threads before rd->close, since a worker may still be
 * waking the engine through the driver's descriptors.
 */
int vl__reactor_drv_init(vl_engine *e, const vl_engine_config *cfg,
                         const struct vl__reactor_driver *rd, char *reason, size_t len);
void vl__reactor_drv_fini(vl_engine *e, const struct vl__reactor_driver *rd);

/*
 * A readiness driver's submit, submitted and cancel (struct vl_driver), for
 * a driver whose state, what vl__engine_drv(e) holds, begins with its
 * struct vl__reactor (the driver checks that with a _Static_assert). The
 * submits of one run share one SIGPIPE hold (struct vl__reactor's
 * sigpipe), which submitted ends: a driver that installs submit installs
 * submitted too.
 */
int vl__reactor_drv_submit(vl_engine *e, uint32_t slot);
void vl__reactor_drv_submitted(vl_engine *e);
int vl__reactor_drv_cancel(vl_engine *e, uint32_t slot);

/*
 * Complete slot (parked, timing, held, or queued in the offload) with
 * -ECANCELED and return 0. -EALREADY: a worker runs it (it completes with
 * its result later); -ENOENT: the reactor does not hold it.
 */
int vl__reactor_cancel(struct vl__reactor *r, uint32_t slot);

/*
 * Park slot, whose op has an fd, for the directions in dirs (VL__REACTOR_READ,
 * VL__REACTOR_WRITE or both) without trying it first, as if it had met
 * EAGAIN: its kind runs at the first notification of any of them (arming
 * looks at the fd's state, so an fd already ready reports at once). How an
 * op that waits for readiness alone (a poll of in, out or both) parks; the
 * core's unit test (tests/reactor_core.c) parks through it.
 */
void vl__reactor_park(struct vl__reactor *r, uint32_t slot, unsigned dirs);

/*
 * Hold slot, whose op waits on no fd, until vl__reactor_hold_done: for ops
 * something outside the fd path completes (a worker, a child's exit). A
 * held op is cancelled and released at shutdown like a parked one.
 */
void vl__reactor_hold(struct vl__reactor *r, uint32_t slot);

/* Complete held slot with result: 0, or -ENOENT if it is not held (it was
 * cancelled: its completion went out already). */
int vl__reactor_hold_done(struct vl__reactor *r, uint32_t slot, int64_t result);

/*
 * The backend's exit watch of pid, registered for slot (watch_exit), fired.
 * The reactor reaps the child with waitid(WNOHANG) and completes slot with
 * its status, and every other WAITPID it holds for pid with -ECHILD (the
 * child is gone, as a second waiter on the pidfd route finds); a child
 * that still runs is watched again. A report whose slot is no longer
 * waiting for pid (cancelled since the event was taken) is ignored.
 */
void vl__reactor_exited(struct vl__reactor *r, uint32_t slot, int pid);

/* Install off (NULL: none) with its first argument ctx. Only while the
 * reactor holds no offloaded op. Every regular-file READ/WRITE and every
 * blocking kind then goes to off whole, until vl__reactor_set_file_nowait. */
void vl__reactor_set_offload(struct vl__reactor *r, const struct vl__reactor_offload *off,
                             void *ctx);

/*
 * on: with an offload installed, the polling thread tries first what the
 * kernel answers from its caches without waiting, and hands off only what
 * it says would block: regular-file READ/WRITE (preadv2/pwritev2 with
 * RWF_NOWAIT), OPENAT (openat2 with RESOLVE_CACHED), STATX of an fd. off:
 * those go to the offload whole, as without this call (tests drive the
 * pool with it). vl__reactor_drv_init turns it on; only where the
 * platform has the flags (Linux) does it change anything.
 */
void vl__reactor_set_file_nowait(struct vl__reactor *r, bool on);

/* The blocking work of offloaded slot, on any thread: its result (a
 * negative errno or >= 0), for vl__reactor_offload_done. */
int64_t vl__reactor_work(struct vl__reactor *r, uint32_t slot);

/* On the polling thread: the offload finished slot with result. */
void vl__reactor_offload_done(struct vl__reactor *r, uint32_t slot, int64_t result);

/* The driver's wake fired (its wait, on the polling thread): the offload,
 * if any, hands back the jobs that finished. */
void vl__reactor_woken(struct vl__reactor *r);

/*
 * The backend saw fd ready for the directions in ready (errors and hangups
 * count as both: the ops then report them; VL__REACTOR_HUP besides when the
 * peer will send no more), on the registration armed with tag. Runs the parked ops. An event whose
 * tag is not the fd's latest is ignored: it comes from a registration the reactor has moved on from
 * (one left on a file that a dup kept open after its number was closed and reused), and the state
 * it reports is not this fd's. The backend ends the wait whose events it
 * hands here with vl__reactor_expire, before returning to the caller.
 */
void vl__reactor_ready(struct vl__reactor *r, int fd, uint32_t tag, unsigned ready);

/* How long a wait may block: timeout_ns (< 0 forever) cut to the earliest
 * timer, and to VL__REACTOR_PROVE_IDLE_NS while unproven re-uses wait
 * (vl__reactor_prewait). The driver calls it before every wait, so it also
 * kicks the offload. */
int64_t vl__reactor_timeout(const struct vl__reactor *r, int64_t timeout_ns);

/*
 * Before each wait of a backend with reuse, on the polling thread: arm the
 * fd entries that started from a re-used registration and still wait
 * unproven, all of them when all is true, else those made
 * VL__REACTOR_PROVE_IDLE_NS ago when the last wait found nothing for that
 * long (while there are any, a wait is bounded to that), and those made
 * VL__REACTOR_PROVE_BUSY_NS ago when it found something. An entry whose
 * number got a file the registration is not of then reports at once if it
 * is ready, like any arm: an op on such a number waits that long at most
 * for readiness it had already. The two ages: an idle reactor loses nothing
 * by arming, while a busy one has many connections whose clients are just
 * slower than that, and whose re-uses their next message proves. all: for
 * a host that sleeps on the driver's descriptor, where no bounded wait of
 * the reactor's own follows.
 */
void vl__reactor_prewait(struct vl__reactor *r, bool all);
#define VL__REACTOR_PROVE_IDLE_NS 5000000   /* 5 ms */
#define VL__REACTOR_PROVE_BUSY_NS 200000000 /* 200 ms */

/*
 * The backend learned of an error on fd's registration tagged tag that the
 * ops cannot meet themselves: a registration arm queued (it returned 0; the
 * backend applies it later, kqueue's changelist going in with the wait)
 * failed, or the backend consumed a socket's pending error (libkqueue). err
 * is a negative errno: the fd's parked ops complete with it, or run as
 * always ready for -EPERM, as if arm had said so. Stale tags are ignored.
 */
void vl__reactor_fd_failed(struct vl__reactor *r, int fd, uint32_t tag, int err);

/* The earliest TIMEOUT deadline (CLOCK_MONOTONIC ns), INT64_MAX if none:
 * what a host's timer is armed to (a driver's event_fd). */
int64_t vl__reactor_next_deadline(const struct vl__reactor *r);

/* Count one kernel wait of timeout_ns that returned n (events, or a
 * negative errno) in the engine's stats: per system call, never per op. */
void vl__reactor_count_wait(struct vl__reactor *r, int64_t timeout_ns, int n);

/* Complete (with 0) every TIMEOUT whose deadline has passed. The last call
 * of a backend's wait, after its events went to vl__reactor_ready: it also
 * ends that dispatch (SIGPIPE as it was before the wait's SENDFILE and
 * SPLICE calls, struct vl__reactor's sigpipe), before anything of the
 * caller's runs. */
void vl__reactor_expire(struct vl__reactor *r);

/* Internal, for tests: the reactor of an engine running the epoll driver
 * (src/drivers/epoll.c). */
struct vl__reactor *vl__epoll_reactor(vl_engine *e);

#endif
