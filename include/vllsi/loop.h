/*
 * <vllsi/loop.h> - the callback loop: ops with callbacks, timers, cross-thread
 * wake, signals and embedding, over one vl_engine.
 *
 * A vl_loop owns one engine (<vllsi/engine.h>) and turns its completions into
 * callbacks. Link vllsi::engine (`pkg-config vllsi`).
 *
 * Ownership. Every per-operation record is the caller's: vl_loop_op,
 * vl_timer, vl_async and vl_signal are plain structs the caller embeds where
 * it likes (in a connection object, on the heap, statically). The loop only
 * links them; it allocates nothing after vl_loop_init, whatever the number of
 * ops, asyncs or signals, and for timers only when more are live than ever
 * before (the timer heap's array doubles; see the timers section). A record
 * is "active" from the call that starts it until the loop is done with it
 * (described per type below); while active it must stay valid and must not
 * be moved, and its internal fields (those ending in `_`) belong to the
 * loop. Before first use a record must be zeroed (`vl_timer t = {0}`,
 * calloc, memset) or set up with its *_init helper; after that it may be
 * reused freely once inactive.
 *
 * Threading. A loop belongs to one thread: the one that created it (the
 * io_uring driver's default flags require the creating thread to poll; see
 * VL_ENGINE_NO_TASKRUN_FLAGS). Every function here must be called on that
 * thread, except vl_async_send, which any thread may call. Callbacks run on
 * the loop thread, inside vl_loop_run, one at a time.
 *
 * Errors. Functions return 0 (or a count where documented) on success and a
 * negative errno on failure, never touching errno: -EINVAL for NULL or
 * out-of-range arguments, -EBUSY for a record that is already active (ops) or
 * a re-entrant vl_loop_run, and whatever the engine or the kernel said
 * otherwise (-EBUSY when the engine's max_inflight ids are alive, -ENOMEM,
 * -EMFILE ...).
 *
 * Liveness. vl_loop_run(VL_RUN_DEFAULT) runs while the loop is "alive": some
 * op submitted through the loop has not had its callback yet (this includes
 * the reads of started signal watchers and internal cancel requests), some
 * timer is active, some async handle is open, or some idle hook is active.
 * vl_loop_alive() tells.
 *
 * Time. Timer deadlines are CLOCK_MONOTONIC nanoseconds
 * (vl_time_monotonic_ns, <vllsi/sys/time.h>). A timer's callback never runs
 * before its deadline; it may run later (scheduling, the kernel's timer
 * slack, other callbacks running first).
 */
#ifndef VLLSI_LOOP_H
#define VLLSI_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <vllsi/engine.h>
#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

typedef struct vl_loop vl_loop;
typedef struct vl_loop_op vl_loop_op;
typedef struct vl_timer vl_timer;
typedef struct vl_async vl_async;
typedef struct vl_signal vl_signal;
typedef struct vl_hook vl_hook;

/* ---- the loop ---------------------------------------------------------------- */

/*
 * vl_loop_init - create a loop and its engine (cfg is passed to
 * vl_engine_create; NULL means all defaults). On success stores the loop in
 * *out and returns 0. Errors: -EINVAL (NULL out), -ENOMEM, and whatever
 * vl_engine_create said. It allocates the loop and room for 64 timers (the timer heap grows only
 * when more are live).
 */
VL_API int vl_loop_init(vl_loop **out, const vl_engine_config *cfg);

/*
 * vl_loop_destroy - shut the engine down (cancelling every op in flight and
 * waiting until the kernel has let go of every buffer), stop every timer,
 * signal watcher, async handle and hook, restore the signal masks the watchers
 * changed, close the loop's descriptors and free it. No callback runs: the
 * records still active become inactive and may be reused or freed once this
 * returns. Must not be called from a callback (it is then ignored). NULL is
 * ignored.
 */
VL_API void vl_loop_destroy(vl_loop *loop);

/* The loop's engine, for what the loop does not wrap (driver name, inflight
 * counts). Submitting to it directly with a user_data the loop does not know
 * is not allowed: the loop treats every completion's user_data as its own
 * record. NULL for NULL. */
VL_API vl_engine *vl_loop_engine(const vl_loop *loop);

typedef enum vl_run_mode {
    /* Run until vl_loop_stop is called or the loop is no longer alive. */
    VL_RUN_DEFAULT = 0,
    /* Wait until at least one callback has run (or the loop is not alive, or
     * it was stopped), run what is ready, return. */
    VL_RUN_ONCE,
    /* Run what is ready now without blocking (flushes queued ops to the
     * kernel): the call to make when the backend fd is readable. */
    VL_RUN_NOWAIT,
} vl_run_mode;

/*
 * vl_loop_run - wait for completions, due timers, async sends and signals,
 * and run their callbacks. Returns the number of callbacks it ran (saturating
 * at INT32_MAX; 0 is normal, e.g. for VL_RUN_NOWAIT with nothing ready or a
 * loop with nothing alive), or a negative errno: -EINVAL (NULL loop, unknown
 * mode), -EBUSY (called from one of this loop's callbacks), or an error of
 * vl_engine_poll. A pending vl_loop_stop makes run return before waiting;
 * run clears the stop request when it returns.
 */
VL_API int vl_loop_run(vl_loop *loop, vl_run_mode mode);

/*
 * vl_loop_stop - make vl_loop_run return after the callback that is running
 * (or, if called outside run, at once from the next run). Only on the loop
 * thread; from another thread send a vl_async whose callback calls this. Ops
 * and timers stay as they are. NULL is ignored.
 */
VL_API void vl_loop_stop(vl_loop *loop);

/* Whether vl_loop_run(VL_RUN_DEFAULT) would have something to wait for
 * (see "Liveness" above). false for NULL. */
VL_API bool vl_loop_alive(const vl_loop *loop);

/* The loop's time: vl_time_monotonic_ns() read after the latest poll (or at
 * init, or by the latest vl_loop_update_now or vl_timer_start outside
 * vl_loop_run). Cheap; for timestamps inside callbacks, and the base of
 * timers started and relative op deadlines submitted from them. 0 for NULL. */
VL_API int64_t vl_loop_now(const vl_loop *loop);

/* Read the clock into the loop's time now and return it: for a callback
 * that ran long (blocked, or worked for many milliseconds) before it starts
 * a timer or submits an op with a relative deadline that must count from
 * the real now. 0 for NULL (nothing else can fail). */
VL_API int64_t vl_loop_update_now(vl_loop *loop);

/* The largest max_want vl_loop_set_gather takes: the completions the loop
 * takes per poll. */
#define VL_LOOP_GATHER_MAX_WANT 64

/*
 * vl_loop_set_gather - let the loop's blocking wait gather completions under
 * load, to save system calls and wake-ups: the wait returns once `want`
 * completions are ready, or, after window_ns, as soon as one is (the wait
 * of vl_engine_poll_batch). The loop picks want itself after each wait,
 * between 1 and max_want: it doubles want after a wait that brought at
 * least twice want (and at least 4), halves it after one that brought
 * fewer than want.
 * At want 1 there is no added wait, so traffic that brings one completion
 * at a time (a single request-response connection, a timer tick) stays
 * where it is; bursts move want up.
 *
 * Latency: while want is above 1, a completion may be delivered up to
 * window_ns later than without gathering, and only in a wait that began with
 * nothing ready. That includes the completions behind vl_async_send and
 * vl_loop_post from another thread and signal watchers (each a completion
 * the wait counts like any other). Timers, op deadlines and TIMEOUT ops
 * are never delayed: a wait whose bound (the loop's next timer, or an op's
 * deadline) is no further away than window_ns does not gather, nor does the
 * wait for the cancel that ends an op at its deadline, and a TIMEOUT's
 * completion ends a gathering wait at once. vl_loop_stop from a
 * callback acts before the next wait, as always. A non-blocking run
 * (VL_RUN_NOWAIT, the embedded backend fd) never gathers.
 *
 * Who honours it: the io_uring driver on Linux 6.12+ (IORING_FEAT_MIN_TIMEOUT:
 * the kernel does not even wake the thread before want completions or the
 * window). Other drivers and older kernels accept it without effect: their
 * waits return at the first completion, which is within the bound above.
 *
 * max_want 0 or 1, or window_ns 0, turns it off (the default). May be
 * called at any time on the loop thread, also from a callback: it applies
 * from the next wait, and want keeps its value within the new max_want.
 * Allocates nothing. Returns 0, or -EINVAL for a NULL loop, window_ns < 0
 * or above one second (VL_NS_PER_SEC), or max_want above
 * VL_LOOP_GATHER_MAX_WANT; the setting is unchanged on error.
 */
VL_API int vl_loop_set_gather(vl_loop *loop, uint32_t max_want, int64_t window_ns);

/* ---- ops with callbacks ----------------------------------------------------------- */

/*
 * Called once per completion of rec, on the loop thread. result is the
 * engine's (bytes, new fd, 0, or a negative errno such as -ECANCELED); flags
 * are VL_CQE_* bits. Unless VL_CQE_MORE is set, rec is inactive when the
 * callback runs: it may be resubmitted, reused or freed from inside it.
 */
typedef void (*vl_loop_op_cb)(vl_loop *loop, vl_loop_op *rec, int64_t result, uint32_t flags);

struct vl_loop_op {
    vl_op op;         /* what to submit (built with the vl_op_* constructors)  */
    vl_loop_op_cb cb; /* required                                                */
    void *ctx;        /* the caller's, untouched by the loop                     */
    /* Internal: the engine id while active, 0 when not. */
    uint64_t id_;
};

/* Fill rec (op, callback, context; inactive). No failure; rec must be non-NULL. */
static inline void vl_loop_op_init(vl_loop_op *rec, vl_op op, vl_loop_op_cb cb, void *ctx)
{
    rec->op = op;
    rec->cb = cb;
    rec->ctx = ctx;
    rec->id_ = 0;
}

/*
 * vl_loop_submit - submit rec->op with rec as its user_data; rec->cb runs
 * when it completes (exactly once for single-shot ops; after that rec is
 * inactive). rec (and the buffers its op points to) must stay valid while
 * active. Like vl_engine_submit it makes no system call: the op reaches the
 * kernel at the loop's next poll. A relative deadline (VL_OP_F_DEADLINE
 * without VL_OP_F_DEADLINE_ABS) counts as a timer's does (vl_timer_start):
 * from inside vl_loop_run, from the loop's time (vl_loop_now), not from a
 * clock read per op, so a callback that ran long before submitting calls
 * vl_loop_update_now first; outside it, from the submit. A TIMEOUT's
 * duration always counts from the submit. 0, or -EINVAL (NULL loop, rec or rec->cb),
 * -EBUSY (rec already active, or the engine's max_inflight ids are alive),
 * or what vl_engine_submit said about the op (-EINVAL, -EFAULT, -ESHUTDOWN);
 * on error no callback will come.
 */
VL_API int vl_loop_submit(vl_loop *loop, vl_loop_op *rec);

/*
 * vl_loop_cancel - ask for rec's op to be cancelled. rec's callback still
 * runs exactly once: with -ECANCELED, or with the op's real result if it
 * finished first. The cancel request itself uses one engine id until its
 * own (internal) completion. 0, -EINVAL (NULL), -ENOENT (rec is not active),
 * -EBUSY (no engine id free for the request).
 */
VL_API int vl_loop_cancel(vl_loop *loop, vl_loop_op *rec);

/* Whether rec is active (submitted, final callback not yet run). */
static inline bool vl_loop_op_active(const vl_loop_op *rec)
{
    return rec->id_ != 0;
}

/* ---- timers ----------------------------------------------------------------------- */

/*
 * Timers live in the loop, not in the engine: a 4-ary min-heap of (deadline,
 * start order, timer) entries in an array the loop owns, ordered by
 * deadline and, for equal deadlines, by start order; each vl_timer (the
 * caller's memory) keeps its index. start and stop cost O(log n) (a restart
 * re-sifts in place); the array starts with room for 64 timers and doubles
 * when more are live than ever before, so only a new high-water mark
 * allocates. The loop polls the engine with a timeout reaching the earliest
 * deadline, then runs the timers that are due: never before their deadline,
 * in deadline order.
 */
typedef void (*vl_timer_cb)(vl_loop *loop, vl_timer *t);

struct vl_timer {
    vl_timer_cb cb; /* required at start */
    void *ctx;      /* the caller's      */
    /* Internal. */
    uint32_t index_; /* its position in the loop's heap while active */
    vl_loop *loop_;
    int64_t deadline_;
    int64_t timeout_;
    int64_t repeat_;
    uint64_t seq_;
    uint32_t active_;
    uint32_t started_;
};

/* Zero t and set its callback and context. No failure; t must be non-NULL. */
VL_API void vl_timer_init(vl_timer *t, vl_timer_cb cb, void *ctx);

/*
 * vl_timer_start - run t->cb once timeout_ns has passed, then, if repeat_ns > 0,
 * every repeat_ns after that: a repeating timer is re-armed before its
 * callback runs, to the time the loop fired it plus repeat_ns (so a late
 * firing delays the next one instead of bunching them up). Starting a timer
 * that is already active restarts it with the new values (it is not an
 * error). A timer started or re-armed from inside a timer callback does not
 * fire in the same pass, even with timeout 0.
 *
 * The deadline is the loop's time + timeout_ns (saturating). Called from a
 * callback (inside vl_loop_run), the loop's time is vl_loop_now(loop), read
 * once per iteration after the poll, not a fresh clock read: starting a
 * timer costs no clock read, as in libev and libuv, and a callback that ran
 * long before starting one calls vl_loop_update_now first, or its timer
 * counts from when the iteration began. Called outside vl_loop_run, the
 * clock is read (and becomes the loop's time). 0, or -EINVAL (NULL loop, t or
 * t->cb; negative timeout or repeat; t active on another loop), -ENOMEM
 * (more timers live than ever before on this loop and the heap could not
 * grow; t is left as it was).
 */
VL_API int vl_timer_start(vl_loop *loop, vl_timer *t, int64_t timeout_ns, int64_t repeat_ns);

/*
 * vl_timer_stop - make t inactive; its callback will not run (even if it was
 * due in the current pass). Stopping an inactive timer is a no-op. t may be
 * freed afterwards. 0, or -EINVAL (NULL).
 */
VL_API int vl_timer_stop(vl_timer *t);

/*
 * vl_timer_again - restart t with the timeout and repeat of its latest
 * vl_timer_start, counting from the loop's time as vl_timer_start does
 * (active or not): the idle-timeout pattern. 0, or -EINVAL (NULL, or t was never started).
 */
VL_API int vl_timer_again(vl_timer *t);

/* Whether t is waiting to fire. false for NULL. */
VL_API bool vl_timer_active(const vl_timer *t);

/* ---- cross-thread wake ------------------------------------------------------------ */

/*
 * An async handle: any thread calls vl_async_send; the loop thread runs the
 * callback. Sends coalesce: many sends before the loop gets to the handle
 * give one callback, but a send is never lost (every send is followed by at
 * least one callback that starts after it). An open handle keeps the loop
 * alive (VL_RUN_DEFAULT does not return) until vl_async_close.
 */
typedef void (*vl_async_cb)(vl_loop *loop, vl_async *a);

struct vl_async {
    vl_async_cb cb; /* set by vl_async_init */
    void *ctx;      /* the caller's         */
    /* Internal. */
    vl_loop *loop_;
    vl_async *next_, *prev_;
    uint32_t pending_; /* atomic: a send not yet seen by the loop */
    uint32_t open_;
};

/*
 * vl_async_init - open a on loop (loop thread only). a->ctx is left as the
 * caller set it. 0, or -EINVAL (NULL loop, a or cb), -EBUSY (a already open).
 */
VL_API int vl_async_init(vl_loop *loop, vl_async *a, vl_async_cb cb);

/*
 * vl_async_send - wake the loop and have a's callback run on its thread. Safe
 * from any thread: an atomic exchange plus, for the first send of a batch,
 * the engine's wake (an eventfd write) and, once vl_loop_backend_fd was
 * called, one more eventfd write. It allocates and locks nothing, so a signal
 * handler may call it too if it saves and restores errno around the call.
 * 0, or -EINVAL (NULL, or a not open), or what vl_engine_wake said. The
 * caller must not send after (or while) closing a.
 */
VL_API int vl_async_send(vl_async *a);

/*
 * vl_async_close - close a (loop thread only): no callback will run after
 * this, even for a send that is pending. a may be freed afterwards. 0 or
 * -EINVAL (NULL); closing a closed handle is a no-op.
 */
VL_API int vl_async_close(vl_async *a);

/* ---- messages between loops ---------------------------------------------------------- */

/*
 * A message: a caller-owned record that any thread hands to a loop, whose
 * thread then runs m->cb(loop, m). The way to pass work between loops on
 * different threads (an acceptor handing connections to workers, a worker
 * returning results): no lock, no allocation, FIFO per sending thread, and
 * every message is delivered exactly once (none coalesce, unlike async
 * sends). The message (and what its ctx points to) belongs to the loop from
 * vl_loop_post until its callback runs; the callback may free or post it
 * again.
 */
typedef struct vl_msg vl_msg;
typedef void (*vl_msg_cb)(vl_loop *loop, vl_msg *m);

struct vl_msg {
    vl_msg_cb cb; /* required */
    void *ctx;    /* the caller's */
    /* Internal. */
    vl_msg *next_;
};

/*
 * vl_loop_post - hand m to loop; m->cb runs on loop's thread in a following
 * iteration, after the completions of that iteration's poll. Safe from any
 * thread, including loop's own: one compare-and-swap on the loop's inbox
 * plus, when the inbox was empty, the engine's wake (an eventfd write) and,
 * once vl_loop_backend_fd was called, the embedding eventfd. Messages do not
 * keep a loop alive: keep the receiving loop running (an armed op, a timer
 * or an open vl_async) for as long as others may post to it. Messages still
 * queued when the loop is destroyed are dropped without their callback.
 * 0, or -EINVAL (NULL loop, m or m->cb), or what vl_engine_wake said (the
 * message is queued even then).
 */
VL_API int vl_loop_post(vl_loop *loop, vl_msg *m);

/* ---- signals ---------------------------------------------------------------------- */

/*
 * A signal watcher delivers a signal as a callback on the loop thread. On
 * Linux: the signal is blocked in the calling thread (pthread_sigmask) and
 * read from a signalfd through an engine READ op that the loop re-arms after
 * every delivery. Several arrivals of the same standard signal before the
 * read coalesce into one callback (the kernel keeps one pending instance).
 *
 * Process-directed signals (kill, the terminal's ^C) go to any thread that
 * does not block them: start watchers before creating other threads (they
 * inherit the mask), or block the signal there too, or such a signal may hit
 * its old disposition in another thread. One watcher per signal number per
 * process: two signalfds for one signal would race for it.
 *
 * macOS (no signalfd): the watcher installs a sigaction handler that writes
 * a byte per arrival to a pipe, read the same way (arrivals before the read
 * coalesce too). The signal is unblocked in the calling thread and handled
 * in whichever thread it reaches, so other threads need not block it; stop
 * puts the old disposition and blocked state back. A second watcher for
 * the same number is refused (-EBUSY), and so are numbers above 31
 * (-EINVAL).
 */
typedef void (*vl_signal_cb)(vl_loop *loop, vl_signal *s, int signum);

struct vl_signal {
    vl_signal_cb cb; /* set by vl_signal_start */
    void *ctx;       /* the caller's           */
    /* Internal. */
    vl_loop_op read_;
    vl_loop *loop_;
    vl_signal *next_, *prev_;
    int fd_;
    int signum_;
    uint32_t state_; /* 0 idle, 1 watching, 2 stopping (read being cancelled) */
    uint32_t was_blocked_;
    uint64_t info_[16]; /* one struct signalfd_siginfo (128 bytes); macOS: the pipe's bytes */
};

/*
 * vl_signal_start - watch signum (1..64, on macOS 1..31; not SIGKILL or
 * SIGSTOP) on loop, calling cb(loop, s, signum) for each delivery. s must be
 * zero-filled before its first start (e.g. `vl_signal s = {0};`); a stopped
 * watcher may be started again. Should reading the signalfd (macOS: the
 * pipe) fail (not expected), the watcher stops itself, restores the mask
 * and calls cb once with the negative errno as signum. The watcher is an op in
 * flight, so it keeps the loop alive. 0, or -EINVAL (NULL loop, s or cb; bad
 * signum), -EBUSY (s is active or still stopping; macOS: or another watcher
 * has signum), -ENOMEM/-EMFILE (signalfd; macOS: the pipe), or what
 * vl_loop_submit said.
 */
VL_API int vl_signal_start(vl_loop *loop, vl_signal *s, int signum, vl_signal_cb cb);

/*
 * vl_signal_stop - stop delivering: no callback runs after this. The
 * signal's blocked state in the calling thread is restored to what it was
 * before vl_signal_start (an instance already pending in the signalfd is
 * consumed first, so it does not hit the old disposition). The watcher's read
 * op is cancelled; s stays in use by the loop until that completes, at the
 * loop's next poll: s may be reused or freed once vl_signal_active(s) is
 * false (or after vl_loop_destroy). 0, or -EINVAL (NULL); stopping an
 * inactive watcher is a no-op.
 */
VL_API int vl_signal_stop(vl_signal *s);

/* Whether the loop still uses s (watching or stopping). false for NULL. */
VL_API bool vl_signal_active(const vl_signal *s);

/* ---- hooks: prepare, check, idle ----------------------------------------------------- */

/*
 * Callbacks run at fixed points of every loop iteration, as libuv's
 * uv_prepare / uv_check / uv_idle and libev's ev_prepare / ev_check /
 * ev_idle. An iteration of vl_loop_run is:
 *
 *   1. IDLE hooks, if any is active;
 *   2. PREPARE hooks: the last code before the loop waits. Ops submitted and
 *      timers started here are part of this wait (a server re-arms the
 *      multishot RECVs that ended -ENOBUFS once buffers came back; a foreign
 *      library registers what it wants to wait for);
 *   3. the wait (no wait at all while an IDLE hook is active), then the
 *      callbacks of completions, async sends, messages and due timers;
 *   4. CHECK hooks: the first code after them (a foreign library looks at
 *      what became ready; a server flushes what the callbacks queued).
 *
 * Hooks of one kind run in the reverse order of their start. A hook started
 * from a callback first runs at its point of the next iteration; a hook
 * stopped from a callback (any hook, including itself and ones later in the
 * same pass) does not run again. Hook callbacks count as callbacks in
 * vl_loop_run's result and for VL_RUN_ONCE.
 *
 * Liveness: an active IDLE hook keeps the loop alive and keeps it from
 * blocking (so it spins: stop it when there is nothing to do; an embedded
 * loop's backend fd stays readable meanwhile). PREPARE and
 * CHECK hooks do not keep a loop alive: they observe iterations that
 * something else causes, and a loop with only them would wait for ever.
 *
 * A vl_hook is the caller's record (see "Ownership" above): zero it or
 * vl_hook_init it before first use; while active it must stay valid.
 */
typedef enum vl_hook_kind {
    VL_HOOK_PREPARE = 0,
    VL_HOOK_CHECK,
    VL_HOOK_IDLE,
} vl_hook_kind;

typedef void (*vl_hook_cb)(vl_loop *loop, vl_hook *h);

struct vl_hook {
    vl_hook_cb cb;     /* required at start */
    void *ctx;         /* the caller's      */
    vl_hook_kind kind; /* when it runs      */
    /* Internal. */
    uint32_t active_;
    vl_loop *loop_;
    vl_hook *next_, *prev_;
};

/* Zero h and set its kind, callback and context. No failure; h must be
 * non-NULL. */
VL_API void vl_hook_init(vl_hook *h, vl_hook_kind kind, vl_hook_cb cb, void *ctx);

/*
 * vl_hook_start - run h->cb at h->kind's point of every iteration of loop
 * from the next one on, until vl_hook_stop. Starting an active hook again is
 * a no-op (it keeps its place). Allocates nothing. 0, or -EINVAL (NULL loop
 * or h, NULL h->cb, a kind that is none of VL_HOOK_*, h active on another
 * loop).
 */
VL_API int vl_hook_start(vl_loop *loop, vl_hook *h);

/* vl_hook_stop - make h inactive; its callback does not run again, even
 * later in the pass that is running. Stopping an inactive hook is a no-op.
 * h may be freed afterwards. 0, or -EINVAL (NULL). */
VL_API int vl_hook_stop(vl_hook *h);

/* Whether h is active. false for NULL. */
VL_API bool vl_hook_active(const vl_hook *h);

/* ---- embedding -------------------------------------------------------------------- */

/* How often the backend fd turns readable while ops are in flight, on a
 * driver that has no event descriptor of its own (see vl_loop_backend_fd):
 * the simulation driver, and the kqueue driver through libkqueue on Linux. */
#define VL_LOOP_EMBED_TICK_NS INT64_C(1000000)

/*
 * vl_loop_backend_fd - a descriptor the host's own loop (GLib, Qt, epoll...)
 * watches for readability; when it is readable, call
 * vl_loop_run(loop, VL_RUN_NOWAIT) on the loop thread. The loop owns it
 * (closed by vl_loop_destroy); the host must not read it. Made at the first
 * call (an epoll fd watching a timerfd, an eventfd, the signal watchers'
 * signalfds and the engine's own event descriptor; on macOS a kqueue with
 * an EVFILT_TIMER, an EVFILT_USER event, the watchers' pipes and the
 * engine's descriptor); later calls return the same fd. Returns the fd, or
 * -EINVAL (NULL), -EMFILE, -ENOMEM, or what the kernel said when the
 * engine's descriptor could not be made.
 *
 * It becomes readable when: a completion is ready (the engine's descriptor,
 * below); a timer is due (the timerfd is armed to the earliest deadline); an
 * async send or a message arrives; a watched signal is pending; ops were
 * submitted that the next run must hand to the kernel. Otherwise it stays
 * quiet, however many ops are in flight: an idle loop costs its host no
 * wake-up (docs/guide.md has the measurement).
 *
 * The engine's descriptor, per driver:
 *  - epoll: the driver's epoll fd, with a timerfd in its set armed to the
 *    earliest TIMEOUT op.
 *  - io_uring: an eventfd registered with IORING_REGISTER_EVENTFD when this
 *    is first called (from then on the kernel signals it at every batch of
 *    completions; before, nothing is paid for it). Create a loop meant to
 *    be embedded with VL_ENGINE_EMBEDDED in its config's flags
 *    (<vllsi/engine.h>): the ring then runs completion work when the thread
 *    leaves the kernel (COOP_TASKRUN), so a completion wakes the host within
 *    a fraction of a millisecond; the host's wait may first return EINTR
 *    (epoll_wait and poll do not restart), then the descriptor is
 *    readable. With the default flags (DEFER_TASKRUN) a completion is task
 *    work that only the loop's next run executes; the kernel still signals
 *    the eventfd when it queues it, but through a deferred path: on Linux
 *    6.18, 12-35 ms after a socket turned readable (a TIMEOUT op, at once).
 *    Nothing is lost either way.
 *  - kqueue (macOS): the driver's kqueue fd, with an EVFILT_TIMER in it
 *    armed to the earliest TIMEOUT op. Through libkqueue on Linux: none
 *    (its kqueue fd never polls readable); the backend fd ticks as under sim.
 *  - sync: none needed: every op completes inside submit, so nothing is
 *    ever held where the loop cannot see it.
 *  - sim: none (its ops move only inside a wait, on a virtual clock): while
 *    the driver holds ops the backend fd turns readable every
 *    VL_LOOP_EMBED_TICK_NS.
 * (Windows has no vl_loop: a Windows host runs vl_engine_poll with a zero
 * timeout from its own loop, or the engine on a thread of its own; see
 * docs/windows.md.)
 */
VL_API int vl_loop_backend_fd(vl_loop *loop);

VL_EXTERN_C_END

#endif /* VLLSI_LOOP_H */
