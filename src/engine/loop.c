/*
 * src/engine/loop.c - the callback loop over one engine (see <vllsi/loop.h>).
 *
 * One iteration: poll the engine with a timeout reaching the earliest timer
 * (0 when an async send is pending), dispatch the completions to their
 * records' callbacks, run the async handles that were sent, then the timers
 * that are due. The records are the caller's; the loop keeps only counters,
 * the timer heap's array (which grows only at a new high-water mark of live
 * timers) and two intrusive lists (async handles, signal watchers), so
 * nothing else is allocated after vl_loop_init.
 *
 * Invariants:
 *  - live counts the engine ids this loop submitted whose completion it has
 *    not dispatched yet (user ops, signal reads, internal cancel requests).
 *  - A vl_loop_op is active (id_ != 0) exactly while its id is alive; the id
 *    is cleared before the final callback, so the callback may resubmit.
 *  - Every active timer is in the heap; a timer's seq_ is unique and grows
 *    with every insertion, which orders equal deadlines and lets one firing
 *    pass skip timers (re)started during that pass.
 */
#define _GNU_SOURCE /* signalfd, timerfd, eventfd, epoll */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#else
#include <sys/event.h>
#endif

#include <vllsi/loop.h>
#include <vllsi/sys/time.h>

#include "engine_internal.h"

/*
 * The platform's side of the loop: signals and the embedding descriptor.
 * Linux: a signalfd per watcher; the backend fd is an epoll set holding a
 * timerfd, an eventfd, the signalfds and the engine's descriptor. macOS and
 * the BSDs (no signalfd, timerfd or eventfd): a self-pipe per watcher,
 * written by a sigaction handler; the backend fd is a kqueue holding an
 * EVFILT_TIMER, an EVFILT_USER event and the same descriptors for reading.
 * VLLSI_LOOP_SIGNAL_PIPE (a CMake option) builds the self-pipe signals on
 * Linux too, so that they run where CI runs (docs/macos.md). EVFILT_SIGNAL
 * is not used: it records deliveries beside the disposition (a handler is
 * still needed), a watcher is an engine READ that works over every driver,
 * and libkqueue's signalfd-based EVFILT_SIGNAL could not test the macOS
 * behaviour here (docs/macos.md).
 */
#if defined(__linux__) && !defined(VLLSI_LOOP_SIGNAL_PIPE)
#define LOOP_SIGNALFD 1
#else
#define LOOP_SIGNALFD 0
#endif
#ifdef __linux__
_Static_assert(sizeof(struct signalfd_siginfo) == sizeof(((vl_signal *)0)->info_),
               "vl_signal.info_ holds exactly one signalfd_siginfo");
#endif

#if UINTPTR_MAX == UINT64_MAX
/* Pinned on LP64: an op record is the 64-byte op and three words; a timer
 * stays small enough to embed by the hundred thousand. A change here is an
 * ABI change. */
_Static_assert(sizeof(vl_loop_op) == 88, "vl_loop_op is a vl_op and three words");
_Static_assert(sizeof(vl_timer) == 72, "vl_timer size");
_Static_assert(sizeof(vl_async) == 48, "vl_async size");
#endif

#define BATCH        64 /* completions taken per engine poll                   */
#define EXTRA_ROUNDS 16 /* extra non-blocking polls while batches come back full */

struct vl_loop {
    vl_engine *e;
    uint32_t live;    /* see the invariants above                         */
    uint32_t running; /* inside vl_loop_run                                */
    uint64_t ncb;     /* callbacks run by the current vl_loop_run          */
    int64_t now;      /* monotonic time read after the latest poll         */
    bool stop;
    bool dirty; /* ops submitted since the latest poll (not yet in the kernel) */
    /* Timers: entries point at the caller's vl_timer, which keeps its index. */
    struct theap_ent *theap; /* the timer heap: a 4-ary min-heap in an array */
    uint32_t tcount, tcap;
    uint64_t tseq;
    /* Async handles. async_pending is set by senders on any thread. */
    vl_async *asyncs;
    uint32_t nasync;
    uint32_t async_closes; /* bumped by every close, to restart a list walk */
    uint32_t async_pending;
    /* Messages posted by any thread: a LIFO stack swapped out whole. */
    vl_msg *inbox;
    /* Signal watchers, and the one whose callback is running (cleared when
     * that callback stops it, so the loop never touches it afterwards). */
    vl_signal *signals;
    vl_signal *sig_dispatching;
    /* Embedding: -1 until vl_loop_backend_fd. embed_efd is read by senders.
     * macOS: one kqueue is embed_epfd and embed_efd; embed_tfd stays -1. */
    int embed_epfd, embed_tfd, embed_efd;
    bool embed_signalled;
    /* The engine's event descriptor is in the set (vl__engine_event_fd); false:
     * its driver has none, and the backend fd ticks while ops are in flight. */
    bool embed_engine;
    int64_t embed_timer_at; /* what embed_tfd is armed to; INT64_MAX: nothing */
    /* Hooks, a list per vl_hook_kind, newest first, and the next one of the
     * pass that is running (vl_hook_stop moves it past a hook it stops). */
    vl_hook *hooks[3];
    vl_hook *hook_next;
    uint32_t nidle; /* active IDLE hooks */
    /* The user_data of internal cancel requests: its completions are dropped. */
    char cancel_tag;
    /* vl_loop_set_gather: the window (0: off), want's cap, and the want the
     * next blocking wait asks for (1: no gathering). */
    int64_t gather_ns;
    uint32_t gather_max;
    uint32_t gather_want;
};

static void embed_update(vl_loop *loop);
static int embed_add(int epfd, int fd);
static void embed_kick(int efd);
static int wake_loop(vl_loop *loop);

/* The loop this thread is running (inside vl_loop_run), for vl_loop_post. */
static __thread vl_loop *tl_running;
static void embed_signal(vl_loop *loop);

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* ---- the timer heap -------------------------------------------------------------
 *
 * A 4-ary min-heap in an array, as libev's: children of i are 4i+1..4i+4, so
 * the heap is half as deep as a binary one and the four children of a node
 * share a cache line or two. Each entry caches its timer's key (deadline,
 * start sequence), so sifting compares array entries without touching the
 * timers; the timer keeps its index, so stop and restart find it in O(1).
 * The array grows by doubling (and never shrinks), so an allocation happens
 * only when more timers are live than ever before on this loop.
 */

struct theap_ent {
    int64_t deadline;
    uint64_t seq;
    vl_timer *t;
};

#define THEAP_INITIAL 64u

/* The sifting helpers are forced inline: out of line, each call passes its
 * 24-byte entry through memory (the ABI passes structs over 16 bytes on
 * the stack), and start+stop took 19.6 ns instead of 9 (bench/micro
 * timer.start_stop, 1000 timers). */
#define TH_INLINE inline __attribute__((always_inline))

static TH_INLINE bool tent_less(const struct theap_ent *a, const struct theap_ent *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static TH_INLINE void th_place(vl_loop *loop, uint32_t i, struct theap_ent e)
{
    loop->theap[i] = e;
    e.t->index_ = i;
}

static TH_INLINE void th_up(vl_loop *loop, uint32_t i, struct theap_ent e)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 4;
        if (!tent_less(&e, &loop->theap[p]))
            break;
        th_place(loop, i, loop->theap[p]);
        i = p;
    }
    th_place(loop, i, e);
}

static TH_INLINE void th_down(vl_loop *loop, uint32_t i, struct theap_ent e)
{
    for (;;) {
        uint32_t c = 4 * i + 1;
        if (c >= loop->tcount)
            break;
        uint32_t end = loop->tcount - c < 4 ? loop->tcount : c + 4;
        uint32_t m = c;
        for (uint32_t k = c + 1; k < end; k++)
            if (tent_less(&loop->theap[k], &loop->theap[m]))
                m = k;
        if (!tent_less(&loop->theap[m], &e))
            break;
        th_place(loop, i, loop->theap[m]);
        i = m;
    }
    th_place(loop, i, e);
}

/* Put entry e at position i (vacated or re-keyed) where it belongs. */
static TH_INLINE void th_fix(vl_loop *loop, uint32_t i, struct theap_ent e)
{
    if (i > 0 && tent_less(&e, &loop->theap[(i - 1) / 4]))
        th_up(loop, i, e);
    else
        th_down(loop, i, e);
}

static TH_INLINE struct theap_ent th_key(vl_loop *loop, vl_timer *t)
{
    t->seq_ = loop->tseq++;
    return (struct theap_ent){t->deadline_, t->seq_, t};
}

/* 0, or -ENOMEM when the array had to grow and could not. */
static int theap_insert(vl_loop *loop, vl_timer *t)
{
    if (loop->tcount == loop->tcap) {
        uint32_t cap = loop->tcap ? 2 * loop->tcap : THEAP_INITIAL;
        struct theap_ent *a = cap > loop->tcap ? realloc(loop->theap, cap * sizeof(*a)) : NULL;
        if (a == NULL)
            return -ENOMEM;
        loop->theap = a;
        loop->tcap = cap;
    }
    loop->tcount++;
    th_up(loop, loop->tcount - 1, th_key(loop, t));
    return 0;
}

static void theap_remove(vl_loop *loop, vl_timer *t)
{
    uint32_t i = t->index_;
    struct theap_ent last = loop->theap[--loop->tcount];
    if (i != loop->tcount)
        th_fix(loop, i, last);
}

/* t is in the heap and its deadline changed: a new start sequence, re-sift. */
static void theap_rekey(vl_loop *loop, vl_timer *t)
{
    th_fix(loop, t->index_, th_key(loop, t));
}

static vl_timer *theap_min(const vl_loop *loop)
{
    return loop->tcount > 0 ? loop->theap[0].t : NULL;
}

/* ---- timers ---------------------------------------------------------------------- */

void vl_timer_init(vl_timer *t, vl_timer_cb cb, void *ctx)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
    t->ctx = ctx;
}

/* Start or restart t (restart: re-key it in place, which cannot fail). */
static int timer_arm(vl_loop *loop, vl_timer *t, int64_t base)
{
    t->deadline_ = sat_add(base, t->timeout_);
    if (t->active_) {
        theap_rekey(loop, t);
    } else {
        int rc = theap_insert(loop, t);
        if (rc < 0)
            return rc;
        t->active_ = 1;
    }
    /* A host watching the backend fd must learn about a new earliest timer. */
    if (loop->embed_epfd >= 0 && !loop->running && t->index_ == 0)
        embed_update(loop);
    return 0;
}

int vl_timer_start(vl_loop *loop, vl_timer *t, int64_t timeout_ns, int64_t repeat_ns)
{
    if (loop == NULL || t == NULL || t->cb == NULL || timeout_ns < 0 || repeat_ns < 0)
        return -EINVAL;
    if (t->active_ && t->loop_ != loop)
        return -EINVAL;
    t->loop_ = loop;
    t->timeout_ = timeout_ns;
    t->repeat_ = repeat_ns;
    t->started_ = 1;
    /* Inside vl_loop_run the loop's time (read after every poll) is the
     * base, as libev's ev_now and libuv's uv_now are: no clock read per
     * start. Outside it a long setup may have passed since, so read. */
    if (!loop->running)
        loop->now = vl_time_monotonic_ns();
    return timer_arm(loop, t, loop->now);
}

int vl_timer_stop(vl_timer *t)
{
    if (t == NULL)
        return -EINVAL;
    if (t->active_) {
        theap_remove(t->loop_, t);
        t->active_ = 0;
    }
    return 0;
}

int vl_timer_again(vl_timer *t)
{
    if (t == NULL || !t->started_ || t->cb == NULL)
        return -EINVAL;
    return vl_timer_start(t->loop_, t, t->timeout_, t->repeat_);
}

bool vl_timer_active(const vl_timer *t)
{
    return t != NULL && t->active_;
}

/* Run the timers due at loop->now, earliest first, skipping those started in
 * this pass (a timer that restarts itself with timeout 0 cannot spin here). */
static void run_timers(vl_loop *loop)
{
    uint64_t pass = loop->tseq;
    int64_t now = loop->now;
    vl_timer *t;
    while ((t = theap_min(loop)) != NULL) {
        if (t->deadline_ > now || t->seq_ >= pass)
            break;
        if (t->repeat_ > 0) {
            t->deadline_ = sat_add(now, t->repeat_);
            theap_rekey(loop, t);
        } else {
            theap_remove(loop, t);
            t->active_ = 0;
        }
        loop->ncb++;
        t->cb(loop, t);
    }
}

/* Whether the poll must not wait: an async send or a message is waiting
 * or an IDLE hook is active. Otherwise it waits until the earliest timer
 * (the instant goes to the engine, whose poll reads the clock anyway), or
 * forever if there is none. */
static bool must_not_wait(vl_loop *loop)
{
    return loop->nidle > 0 || __atomic_load_n(&loop->async_pending, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&loop->inbox, __ATOMIC_ACQUIRE) != NULL;
}

/* The earliest timer's deadline, INT64_MAX without one. */
static int64_t next_deadline(const vl_loop *loop)
{
    return loop->tcount > 0 ? loop->theap[0].deadline : INT64_MAX;
}

/* ---- ops ------------------------------------------------------------------------- */

static void signal_read_cb(vl_loop *loop, vl_loop_op *rec, int64_t result, uint32_t flags);

int vl_loop_submit(vl_loop *loop, vl_loop_op *rec)
{
    if (loop == NULL || rec == NULL || rec->cb == NULL)
        return -EINVAL;
    if (rec->id_ != 0)
        return -EBUSY;
    /* Inside vl_loop_run a relative deadline counts from the loop's time,
     * as a timer started there does: no clock read per op. */
    int64_t id = loop->running ? vl__engine_submit_from(loop->e, &rec->op, rec, loop->now)
                               : vl_engine_submit(loop->e, &rec->op, rec);
    if (id < 0)
        return (int)id;
    rec->id_ = (uint64_t)id;
    loop->live++;
    loop->dirty = true;
    /* Outside run, a host watching the backend fd must come back to flush. */
    if (loop->embed_epfd >= 0 && !loop->running)
        embed_signal(loop);
    return 0;
}

int vl_loop_cancel(vl_loop *loop, vl_loop_op *rec)
{
    if (loop == NULL || rec == NULL)
        return -EINVAL;
    if (rec->id_ == 0)
        return -ENOENT;
    vl_op op = vl_op_cancel(rec->id_);
    int64_t id = vl_engine_submit(loop->e, &op, &loop->cancel_tag);
    if (id < 0)
        return (int)id;
    loop->live++;
    loop->dirty = true;
    if (loop->embed_epfd >= 0 && !loop->running)
        embed_signal(loop);
    return 0;
}

static void dispatch(vl_loop *loop, const vl_completion *c, int n)
{
    for (int i = 0; i < n; i++) {
        if (c[i].user_data == &loop->cancel_tag) {
            loop->live--;
            continue;
        }
        vl_loop_op *rec = c[i].user_data;
        if (!(c[i].flags & VL_CQE_MORE)) {
            rec->id_ = 0;
            loop->live--;
        }
        if (rec->cb != signal_read_cb)
            loop->ncb++;
        rec->cb(loop, rec, c[i].result, c[i].flags);
    }
}

/* ---- async handles ---------------------------------------------------------------- */

int vl_async_init(vl_loop *loop, vl_async *a, vl_async_cb cb)
{
    if (loop == NULL || a == NULL || cb == NULL)
        return -EINVAL;
    if (a->open_)
        return -EBUSY;
    a->cb = cb;
    a->loop_ = loop;
    __atomic_store_n(&a->pending_, 0, __ATOMIC_RELAXED);
    a->prev_ = NULL;
    a->next_ = loop->asyncs;
    if (loop->asyncs != NULL)
        loop->asyncs->prev_ = a;
    loop->asyncs = a;
    loop->nasync++;
    __atomic_store_n(&a->open_, 1, __ATOMIC_RELEASE);
    return 0;
}

/* The pending flag of a is the handoff: the sender's exchange (release) and
 * the loop's (acquire) order everything the sender wrote before the send
 * before the callback. The loop clears its own flag before scanning the
 * handles, so a send that lands after a handle was scanned sets the loop's
 * flag again and is seen by the next iteration: never lost. */
int vl_async_send(vl_async *a)
{
    if (a == NULL || !__atomic_load_n(&a->open_, __ATOMIC_ACQUIRE))
        return -EINVAL;
    if (__atomic_exchange_n(&a->pending_, 1, __ATOMIC_ACQ_REL) != 0)
        return 0; /* coalesced: the loop has not taken the previous send yet */
    vl_loop *loop = a->loop_;
    __atomic_store_n(&loop->async_pending, 1, __ATOMIC_RELEASE);
    return wake_loop(loop);
}

int vl_async_close(vl_async *a)
{
    if (a == NULL)
        return -EINVAL;
    if (!a->open_)
        return 0;
    vl_loop *loop = a->loop_;
    if (a->prev_ != NULL)
        a->prev_->next_ = a->next_;
    else
        loop->asyncs = a->next_;
    if (a->next_ != NULL)
        a->next_->prev_ = a->prev_;
    a->next_ = a->prev_ = NULL;
    __atomic_store_n(&a->open_, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&a->pending_, 0, __ATOMIC_RELAXED);
    loop->nasync--;
    loop->async_closes++;
    return 0;
}

/* A callback may close any handle, so after one that did the walk restarts
 * from the head (handles already taken have their flag cleared). */
/* ---- messages ----------------------------------------------------------------------- */

/* The wake that follows a message or an async send (any thread). From
 * inside another loop's run, the engine may wake through that loop's
 * engine (io_uring: MSG_RING, sent with the sender's next poll). */
static int wake_loop(vl_loop *loop)
{
    int efd = __atomic_load_n(&loop->embed_efd, __ATOMIC_ACQUIRE);
    if (efd >= 0)
        embed_kick(efd);
    vl_loop *from = tl_running;
    if (from != NULL && from != loop)
        return vl__engine_wake_from(from->e, loop->e);
    return vl_engine_wake(loop->e);
}

/*
 * A Treiber push. Only the poster that finds the inbox empty wakes the loop:
 * a non-empty inbox means an earlier poster's wake is still ahead of the
 * loop's next swap (the loop swaps the inbox out whole, so the next post
 * after the swap finds it empty again). The release CAS orders everything
 * the poster wrote before the post before the callback (the loop's swap is
 * an acquire).
 */
int vl_loop_post(vl_loop *loop, vl_msg *m)
{
    if (loop == NULL || m == NULL || m->cb == NULL)
        return -EINVAL;
    vl_msg *old = __atomic_load_n(&loop->inbox, __ATOMIC_RELAXED);
    do
        m->next_ = old;
    while (!__atomic_compare_exchange_n(&loop->inbox, &old, m, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    return old == NULL ? wake_loop(loop) : 0;
}

/* Take the whole inbox, put it back in posting order, run the callbacks. */
static void run_msgs(vl_loop *loop)
{
    vl_msg *stack = __atomic_exchange_n(&loop->inbox, NULL, __ATOMIC_ACQUIRE);
    vl_msg *fifo = NULL;
    while (stack != NULL) {
        vl_msg *next = stack->next_;
        stack->next_ = fifo;
        fifo = stack;
        stack = next;
    }
    while (fifo != NULL) {
        vl_msg *m = fifo;
        fifo = m->next_; /* the callback may free or repost m */
        m->next_ = NULL;
        loop->ncb++;
        m->cb(loop, m);
    }
}

static void run_asyncs(vl_loop *loop)
{
    if (!__atomic_exchange_n(&loop->async_pending, 0, __ATOMIC_ACQ_REL))
        return;
    uint32_t closes = loop->async_closes;
    for (vl_async *a = loop->asyncs; a != NULL;) {
        vl_async *next = a->next_;
        if (__atomic_exchange_n(&a->pending_, 0, __ATOMIC_ACQ_REL)) {
            loop->ncb++;
            a->cb(loop, a);
            if (loop->async_closes != closes) {
                closes = loop->async_closes;
                next = loop->asyncs;
            }
        }
        a = next;
    }
}

/* ---- signals ---------------------------------------------------------------------- */

static void signal_unlink(vl_loop *loop, vl_signal *s)
{
    if (s->prev_ != NULL)
        s->prev_->next_ = s->next_;
    else
        loop->signals = s->next_;
    if (s->next_ != NULL)
        s->next_->prev_ = s->prev_;
    s->next_ = s->prev_ = NULL;
}

#if LOOP_SIGNALFD
static void signal_restore_mask(vl_signal *s);

/* Block signum in this thread and open s's signalfd for it: 0 or -errno,
 * with the mask as it was on failure. */
static int signal_open(vl_signal *s, int signum)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, signum);
    int rc = pthread_sigmask(SIG_BLOCK, &set, &old);
    if (rc != 0)
        return -rc;
    s->signum_ = signum;
    s->was_blocked_ = sigismember(&old, signum) == 1;
    s->fd_ = signalfd(-1, &set, SFD_CLOEXEC);
    if (s->fd_ < 0) {
        rc = -errno;
        signal_restore_mask(s);
        return rc;
    }
    return 0;
}

/* Take any instance of s's signal still pending (so unblocking it cannot
 * deliver it to the old disposition), then restore the blocked state. */
static void signal_restore_mask(vl_signal *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, s->signum_);
    if (s->was_blocked_)
        return;
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) == s->signum_)
        ;
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* The signal number a completed read of s carries, 0 if none. */
static int signal_received(const vl_signal *s, int64_t result)
{
    if (result != (int64_t)sizeof(struct signalfd_siginfo))
        return 0;
    const struct signalfd_siginfo *si = (const void *)s->info_;
    return (int)si->ssi_signo;
}
#else
/*
 * No signalfd: a self-pipe per watched signal. The handler writes one byte
 * per arrival to the pipe's write end, non-blocking (a full pipe drops the
 * byte; a read is pending anyway), and the watcher's READ takes every byte
 * there is: arrivals before the read coalesce into one callback, as with a
 * signalfd. The handler runs in whichever thread the signal is delivered
 * to, so process-directed signals reach the loop from any thread; the
 * signal is unblocked in the calling thread for thread-directed ones.
 *
 * sig_wfd holds each signal's write end plus one (0: none). A handler
 * counts itself in sig_inflight before it loads the fd and out after its
 * write, so the stop that cleared the slot waits for handlers already past
 * the load before it closes the fd, which could otherwise be reused.
 */
static int sig_wfd[NSIG];
static struct sigaction sig_old[NSIG];
static int sig_inflight;

static void signal_handler(int signum)
{
    int saved = errno;
    __atomic_add_fetch(&sig_inflight, 1, __ATOMIC_SEQ_CST);
    int w = __atomic_load_n(&sig_wfd[signum], __ATOMIC_SEQ_CST) - 1;
    if (w >= 0) {
        unsigned char b = (unsigned char)signum;
        (void)!write(w, &b, 1);
    }
    __atomic_sub_fetch(&sig_inflight, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

static int set_fd_flags(int fd, bool nonblock)
{
    int fl = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fl < 0 ||
        (nonblock && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
        return -errno;
    return 0;
}

/* Open s's pipe, install the handler and unblock signum in this thread: 0
 * or -errno (-EINVAL: a number this platform has no signal for; -EBUSY:
 * another watcher has signum), with nothing changed on failure. */
static int signal_open(vl_signal *s, int signum)
{
    if (signum >= NSIG)
        return -EINVAL;
    int p[2];
    if (pipe(p) < 0)
        return -errno;
    int rc = set_fd_flags(p[0], false);
    if (rc == 0)
        rc = set_fd_flags(p[1], true);
    /* The slot is taken before the handler goes in: a second watcher of
     * signum, even on another thread at the same time, finds it taken. */
    int none = 0;
    if (rc == 0 && !__atomic_compare_exchange_n(&sig_wfd[signum], &none, p[1] + 1, false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        rc = -EBUSY;
    sigset_t set, old;
    sigemptyset(&set);
    sigemptyset(&old);
    sigaddset(&set, signum);
    if (rc == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = signal_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signum, &sa, &sig_old[signum]) < 0) {
            rc = -errno;
            __atomic_store_n(&sig_wfd[signum], 0, __ATOMIC_SEQ_CST);
        }
    }
    if (rc == 0) {
        rc = -pthread_sigmask(SIG_UNBLOCK, &set, &old);
        if (rc != 0) {
            sigaction(signum, &sig_old[signum], NULL);
            __atomic_store_n(&sig_wfd[signum], 0, __ATOMIC_SEQ_CST);
        }
    }
    if (rc != 0) {
        while (__atomic_load_n(&sig_inflight, __ATOMIC_SEQ_CST) != 0)
            sched_yield(); /* a handler that ran meanwhile may still write to p[1] */
        close(p[0]);
        close(p[1]);
        return rc;
    }
    s->signum_ = signum;
    s->was_blocked_ = sigismember(&old, signum) == 1;
    s->fd_ = p[0];
    return 0;
}

/* Put the old disposition and the blocked state back, then close the write
 * end once no handler can still be writing to it. Bytes left in the pipe
 * are dropped with it (signal_finish closes the read end). */
static void signal_restore_mask(vl_signal *s)
{
    int signum = s->signum_;
    sigaction(signum, &sig_old[signum], NULL);
    int w = __atomic_exchange_n(&sig_wfd[signum], 0, __ATOMIC_SEQ_CST) - 1;
    while (__atomic_load_n(&sig_inflight, __ATOMIC_SEQ_CST) != 0)
        sched_yield();
    if (w >= 0)
        close(w);
    if (s->was_blocked_) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, signum);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
}

/* Each byte read is one arrival of s's own signal. */
static int signal_received(const vl_signal *s, int64_t result)
{
    return result > 0 ? s->signum_ : 0;
}
#endif

/* The read op is over: release the fd and the record. */
static void signal_finish(vl_loop *loop, vl_signal *s)
{
    close(s->fd_);
    s->fd_ = -1;
    signal_unlink(loop, s);
    s->state_ = 0;
}

static void signal_read_cb(vl_loop *loop, vl_loop_op *rec, int64_t result, uint32_t flags)
{
    vl_signal *s = rec->ctx;
    (void)flags;
    int signo = s->state_ == 1 ? signal_received(s, result) : 0;
    if (signo > 0) {
        loop->sig_dispatching = s;
        loop->ncb++;
        s->cb(loop, s, signo);
        if (loop->sig_dispatching != s)
            return; /* stopped (and perhaps freed) inside its callback */
        loop->sig_dispatching = NULL;
    }
    if (s->state_ == 1) {
        int rc = result < 0 && result != -EAGAIN && result != -EINTR ? (int)result : 0;
        if (rc == 0)
            rc = vl_loop_submit(loop, &s->read_);
        if (rc == 0)
            return;
        /* The watcher cannot go on: stop it and say why. */
        signal_restore_mask(s);
        signal_finish(loop, s);
        loop->ncb++;
        s->cb(loop, s, rc);
        return;
    }
    if (s->state_ == 2)
        signal_finish(loop, s);
}

int vl_signal_start(vl_loop *loop, vl_signal *s, int signum, vl_signal_cb cb)
{
    if (loop == NULL || s == NULL || cb == NULL || signum < 1 || signum > 64 || signum == SIGKILL ||
        signum == SIGSTOP)
        return -EINVAL;
    if (s->state_ != 0)
        return -EBUSY;
    int rc = signal_open(s, signum);
    if (rc != 0)
        return rc;
    s->cb = cb;
    s->loop_ = loop;
    vl_loop_op_init(&s->read_, vl_op_read(s->fd_, s->info_, sizeof(s->info_), -1), signal_read_cb,
                    s);
    rc = vl_loop_submit(loop, &s->read_);
    if (rc != 0) {
        signal_restore_mask(s);
        close(s->fd_);
        s->fd_ = -1;
        return rc;
    }
    s->state_ = 1;
    s->prev_ = NULL;
    s->next_ = loop->signals;
    if (loop->signals != NULL)
        loop->signals->prev_ = s;
    loop->signals = s;
    if (loop->embed_epfd >= 0)
        (void)embed_add(loop->embed_epfd, s->fd_);
    return 0;
}

int vl_signal_stop(vl_signal *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->state_ != 1)
        return 0;
    vl_loop *loop = s->loop_;
    if (loop->sig_dispatching == s)
        loop->sig_dispatching = NULL;
    signal_restore_mask(s);
    if (vl_loop_op_active(&s->read_) && vl_loop_cancel(loop, &s->read_) == 0) {
        s->state_ = 2; /* signal_read_cb finishes when the read completes */
        return 0;
    }
    if (vl_loop_op_active(&s->read_)) {
        /* No engine id for the cancel: the read completes at destroy at the
         * latest; until then the record stays in use. */
        s->state_ = 2;
        return 0;
    }
    signal_finish(loop, s);
    return 0;
}

bool vl_signal_active(const vl_signal *s)
{
    return s != NULL && s->state_ != 0;
}

/* ---- embedding -------------------------------------------------------------------- */

/*
 * The backend fd's parts, per platform: embed_open makes them in fds (the
 * set, the timer, the kick; -1 where not made, for embed_close), embed_add
 * puts a descriptor in the set for reading, embed_kick makes the set
 * readable (any thread), embed_take consumes the kick and says whether the
 * timer fired, embed_arm arms the timer to a monotonic deadline (INT64_MAX:
 * disarmed), 0 or -1.
 */
#ifdef __linux__
static int embed_open(int fds[3])
{
    fds[0] = epoll_create1(EPOLL_CLOEXEC);
    fds[1] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    fds[2] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = fds[0] < 0 || fds[1] < 0 || fds[2] < 0 ? -errno : 0;
    if (rc == 0)
        rc = embed_add(fds[0], fds[1]);
    if (rc == 0)
        rc = embed_add(fds[0], fds[2]);
    return rc;
}

static int embed_add(int epfd, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static void embed_kick(int efd)
{
    uint64_t one = 1;
    (void)!write(efd, &one, sizeof(one));
}

static bool embed_take(vl_loop *loop)
{
    uint64_t v;
    bool fired = read(loop->embed_tfd, &v, sizeof(v)) == (ssize_t)sizeof(v);
    (void)!read(loop->embed_efd, &v, sizeof(v));
    return fired;
}

static int embed_arm(vl_loop *loop, int64_t deadline)
{
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (deadline != INT64_MAX) {
        int64_t d = deadline > 0 ? deadline : 1; /* 0 would disarm it */
        its.it_value.tv_sec = (time_t)(d / VL_NS_PER_SEC);
        its.it_value.tv_nsec = (long)(d % VL_NS_PER_SEC);
    }
    return timerfd_settime(loop->embed_tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0 ? 0 : -1;
}
#else
/* One kqueue is the set, the timer (EVFILT_TIMER, one-shot, relative
 * nanoseconds on the clock of vl_time_monotonic_ns) and the kick
 * (EVFILT_USER, EV_CLEAR: taking it resets it). */
#define EMBED_IDENT 1

static int embed_open(int fds[3])
{
    fds[1] = -1;
    fds[0] = fds[2] = kqueue();
    if (fds[0] < 0)
        return -errno;
    struct kevent ev;
    EV_SET(&ev, EMBED_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 || kevent(fds[0], &ev, 1, NULL, 0, NULL) < 0)
        return -errno;
    return 0;
}

static int embed_add(int kq, int fd)
{
    struct kevent ev;
    EV_SET(&ev, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    return kevent(kq, &ev, 1, NULL, 0, NULL) == 0 ? 0 : -errno;
}

static void embed_kick(int kq)
{
    struct kevent ev;
    EV_SET(&ev, EMBED_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    (void)kevent(kq, &ev, 1, NULL, 0, NULL);
}

/* One call takes every event there is: the set holds the kick, the timer,
 * the engine's descriptor and at most one pipe per signal number. The
 * descriptors' events are level-triggered and come back while readable. */
static bool embed_take(vl_loop *loop)
{
    struct kevent ev[NSIG + 3];
    struct timespec zero = {0, 0};
    int n = kevent(loop->embed_epfd, NULL, 0, ev, NSIG + 3, &zero);
    bool fired = false;
    for (int i = 0; i < n; i++)
        if (ev[i].filter == EVFILT_TIMER)
            fired = true;
    return fired;
}

static int embed_arm(vl_loop *loop, int64_t deadline)
{
    struct kevent ev;
    if (deadline == INT64_MAX) {
        /* ENOENT: the one-shot timer fired and is gone already. */
        EV_SET(&ev, EMBED_IDENT, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
        return kevent(loop->embed_epfd, &ev, 1, NULL, 0, NULL) == 0 || errno == ENOENT ? 0 : -1;
    }
    int64_t d = deadline - vl_time_monotonic_ns();
    EV_SET(&ev, EMBED_IDENT, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS, d > 0 ? d : 1, NULL);
    return kevent(loop->embed_epfd, &ev, 1, NULL, 0, NULL) == 0 ? 0 : -1;
}
#endif

/* Close the parts embed_open made (the kqueue is all three on macOS). */
static void embed_close(const int fds[3])
{
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0 && (i == 0 || fds[i] != fds[0]))
            close(fds[i]);
}

static void embed_signal(vl_loop *loop)
{
    if (loop->embed_signalled)
        return;
    embed_kick(loop->embed_efd);
    loop->embed_signalled = true;
}

/* Consume what made the backend fd readable; run re-arms it when it ends
 * (the engine's descriptor included: vl__engine_event_fd resets it). */
static void embed_drain(vl_loop *loop)
{
    if (embed_take(loop))
        loop->embed_timer_at = INT64_MAX; /* a one-shot timer is disarmed once it fired */
    loop->embed_signalled = false;
}

/*
 * Without the engine's event descriptor (a driver without one): the ops
 * whose completion only a poll can reveal, for which the backend fd ticks.
 * Every live id the driver may still hold, except the reads of watching
 * signal watchers, whose signalfd is in the set itself. That exception holds
 * only where ops complete inside poll: where they may complete at any system
 * call the host makes (io_uring without DEFER_TASKRUN), the read may take
 * the signal and leave the signalfd empty, so there the reads count too.
 */
static uint32_t embed_blind_ops(const vl_loop *loop)
{
    uint32_t n = loop->live;
    if (!vl__engine_driver_holds_ops(loop->e))
        return 0; /* every completion is in the core already (the sync driver) */
    if (vl__engine_completes_outside_poll(loop->e))
        return n;
    for (const vl_signal *s = loop->signals; s != NULL; s = s->next_)
        if (s->state_ == 1 && vl_loop_op_active(&s->read_))
            n--;
    return n;
}

/*
 * Arm the backend fd for what the loop will need next (see loop.h): the
 * engine's descriptor brought up to date (or, without one, the tick), the
 * timerfd to the earliest timer, and the eventfd written when the next run
 * has work at once.
 */
static void embed_update(vl_loop *loop)
{
    bool ready = loop->dirty || loop->nidle > 0 ||
                 __atomic_load_n(&loop->async_pending, __ATOMIC_ACQUIRE) ||
                 __atomic_load_n(&loop->inbox, __ATOMIC_ACQUIRE) != NULL;
    int64_t deadline = loop->tcount > 0 ? loop->theap[0].deadline : INT64_MAX;
    if (loop->embed_engine) {
        bool engine_ready;
        /* An error (a timerfd the kernel would not arm) must not leave a
         * completion unseen: the host comes back and the next run polls. */
        if (vl__engine_event_fd(loop->e, &engine_ready) < 0 || engine_ready)
            ready = true;
    } else if (embed_blind_ops(loop) > 0) {
        int64_t tick = sat_add(vl_time_monotonic_ns(), VL_LOOP_EMBED_TICK_NS);
        deadline = tick < deadline ? tick : deadline;
    }
    if (ready)
        embed_signal(loop);
    if (deadline == loop->embed_timer_at)
        return;
    if (embed_arm(loop, deadline) == 0)
        loop->embed_timer_at = deadline;
    else
        embed_signal(loop); /* not armed: the host comes back to look again */
}

int vl_loop_backend_fd(vl_loop *loop)
{
    if (loop == NULL)
        return -EINVAL;
    if (loop->embed_epfd >= 0)
        return loop->embed_epfd;
    int fds[3];
    int rc = embed_open(fds);
    int epfd = fds[0];
    for (vl_signal *s = loop->signals; rc == 0 && s != NULL; s = s->next_)
        if (s->state_ == 1)
            rc = embed_add(epfd, s->fd_);
    /* The engine's own descriptor (the driver's, which keeps it). A driver
     * without one leaves the loop to tick. */
    bool ready;
    int engine_fd = rc == 0 ? vl__engine_event_fd(loop->e, &ready) : -EOPNOTSUPP;
    if (engine_fd >= 0)
        rc = embed_add(epfd, engine_fd);
    else if (engine_fd != -EOPNOTSUPP)
        rc = engine_fd;
    if (rc != 0) {
        embed_close(fds);
        return rc;
    }
    loop->embed_epfd = epfd;
    loop->embed_tfd = fds[1];
    loop->embed_engine = engine_fd >= 0;
    loop->embed_timer_at = INT64_MAX;
    __atomic_store_n(&loop->embed_efd, fds[2], __ATOMIC_RELEASE);
    embed_update(loop);
    return epfd;
}

/* ---- the loop --------------------------------------------------------------------- */

int vl_loop_init(vl_loop **out, const vl_engine_config *cfg)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    vl_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return -ENOMEM;
    loop->theap = malloc(THEAP_INITIAL * sizeof(*loop->theap));
    loop->tcap = THEAP_INITIAL;
    int rc = loop->theap == NULL ? -ENOMEM : vl_engine_create(cfg, &loop->e);
    if (rc != 0) {
        free(loop->theap);
        free(loop);
        return rc;
    }
    loop->embed_epfd = loop->embed_tfd = loop->embed_efd = -1;
    loop->now = vl_time_monotonic_ns();
    *out = loop;
    return 0;
}

/* Take every completion still owed after shutdown (poll no longer blocks):
 * records become inactive, no callback runs. */
static void drain_after_shutdown(vl_loop *loop)
{
    vl_completion c[BATCH];
    int n;
    while ((n = vl_engine_poll(loop->e, 0, c, BATCH)) > 0)
        for (int i = 0; i < n; i++)
            if (c[i].user_data != &loop->cancel_tag && !(c[i].flags & VL_CQE_MORE))
                ((vl_loop_op *)c[i].user_data)->id_ = 0;
}

void vl_loop_destroy(vl_loop *loop)
{
    if (loop == NULL || loop->running)
        return;
    for (vl_signal *s = loop->signals; s != NULL; s = s->next_)
        if (s->state_ == 1)
            signal_restore_mask(s);
    vl_engine_shutdown(loop->e);
    drain_after_shutdown(loop);
    while (loop->signals != NULL)
        signal_finish(loop, loop->signals);
    for (uint32_t i = 0; i < loop->tcount; i++)
        loop->theap[i].t->active_ = 0;
    loop->tcount = 0;
    free(loop->theap);
    while (loop->asyncs != NULL)
        vl_async_close(loop->asyncs);
    for (int k = 0; k < 3; k++)
        while (loop->hooks[k] != NULL)
            vl_hook_stop(loop->hooks[k]);
    int fds[3] = {loop->embed_epfd, loop->embed_tfd, loop->embed_efd};
    embed_close(fds);
    vl_engine_destroy(loop->e);
    free(loop);
}

vl_engine *vl_loop_engine(const vl_loop *loop)
{
    return loop != NULL ? loop->e : NULL;
}

int vl_loop_set_gather(vl_loop *loop, uint32_t max_want, int64_t window_ns)
{
    if (loop == NULL || window_ns < 0 || window_ns > VL_NS_PER_SEC ||
        max_want > VL_LOOP_GATHER_MAX_WANT)
        return -EINVAL;
    bool on = max_want > 1 && window_ns > 0;
    loop->gather_ns = on ? window_ns : 0;
    loop->gather_max = on ? max_want : 1;
    /* A running loop keeps the want it reached, within the new cap. */
    loop->gather_want = loop->gather_want < loop->gather_max ? loop->gather_want : loop->gather_max;
    if (loop->gather_want < 1)
        loop->gather_want = 1;
    return 0;
}

void vl_loop_stop(vl_loop *loop)
{
    if (loop != NULL)
        loop->stop = true;
}

bool vl_loop_alive(const vl_loop *loop)
{
    return loop != NULL &&
           (loop->live > 0 || loop->tcount > 0 || loop->nasync > 0 || loop->nidle > 0);
}

int64_t vl_loop_now(const vl_loop *loop)
{
    return loop != NULL ? loop->now : 0;
}

int64_t vl_loop_update_now(vl_loop *loop)
{
    if (loop == NULL)
        return 0;
    loop->now = vl_time_monotonic_ns();
    return loop->now;
}

/* ---- hooks ---------------------------------------------------------------------- */

void vl_hook_init(vl_hook *h, vl_hook_kind kind, vl_hook_cb cb, void *ctx)
{
    *h = (vl_hook){.cb = cb, .ctx = ctx, .kind = kind};
}

int vl_hook_start(vl_loop *loop, vl_hook *h)
{
    if (loop == NULL || h == NULL || h->cb == NULL || (unsigned)h->kind > VL_HOOK_IDLE)
        return -EINVAL;
    if (h->active_)
        return h->loop_ == loop ? 0 : -EINVAL;
    h->loop_ = loop;
    h->prev_ = NULL;
    h->next_ = loop->hooks[h->kind];
    if (h->next_ != NULL)
        h->next_->prev_ = h;
    loop->hooks[h->kind] = h;
    h->active_ = 1;
    if (h->kind == VL_HOOK_IDLE) {
        loop->nidle++;
        if (loop->embed_epfd >= 0 && !loop->running)
            embed_signal(loop); /* the host must run the loop again */
    }
    return 0;
}

int vl_hook_stop(vl_hook *h)
{
    if (h == NULL)
        return -EINVAL;
    if (!h->active_)
        return 0;
    vl_loop *loop = h->loop_;
    if (loop->hook_next == h)
        loop->hook_next = h->next_;
    if (h->prev_ != NULL)
        h->prev_->next_ = h->next_;
    else
        loop->hooks[h->kind] = h->next_;
    if (h->next_ != NULL)
        h->next_->prev_ = h->prev_;
    h->next_ = h->prev_ = NULL;
    h->active_ = 0;
    if (h->kind == VL_HOOK_IDLE)
        loop->nidle--;
    return 0;
}

bool vl_hook_active(const vl_hook *h)
{
    return h != NULL && h->active_;
}

/* Run the hooks of one kind. New hooks go in at the head, so one started
 * now waits for the next pass; hook_next survives any stop. A stop request
 * ends the pass (as it ends a batch of completions). Passes do not nest:
 * run never re-enters. */
static void run_hooks(vl_loop *loop, vl_hook_kind kind)
{
    loop->hook_next = loop->hooks[kind];
    while (loop->hook_next != NULL && !loop->stop) {
        vl_hook *h = loop->hook_next;
        loop->hook_next = h->next_;
        loop->ncb++;
        h->cb(loop, h);
    }
    loop->hook_next = NULL;
}

/* One iteration: poll (flushing queued ops; waiting at most timeout_ns, <0
 * forever, and not past the earliest timer), dispatch, asyncs, timers. */
static int iterate(vl_loop *loop, int64_t timeout_ns)
{
    vl_completion c[BATCH];
    int64_t until = timeout_ns != 0 ? next_deadline(loop) : INT64_MAX;
    /* vl_loop_set_gather: a blocking wait asks for want completions (the
     * driver gathers only when the wait's bound lies beyond the window). */
    uint32_t want = timeout_ns != 0 ? loop->gather_want : 0;
    if (VL_UNLIKELY(want > 1))
        vl__engine_set_gather(loop->e, want, loop->gather_ns);
    int n = vl__engine_poll_until(loop->e, timeout_ns, until, c, BATCH);
    if (VL_UNLIKELY(want > 1))
        vl__engine_set_gather(loop->e, 0, 0);
    if (n < 0)
        return n;
    if (VL_UNLIKELY(loop->gather_ns > 0) && want > 0) {
        /* Double want after a wait that brought twice it (and at least 4:
         * a send completing in the same wait as its request's receive is
         * not a burst), halve it after one that brought fewer. */
        uint32_t got = (uint32_t)n;
        if (got >= 2 * want && got >= 4)
            want = 2 * want < loop->gather_max ? 2 * want : loop->gather_max;
        else if (got < want)
            want /= 2;
        loop->gather_want = want > 1 ? want : 1;
    }
    loop->dirty = false;
    /* The clock as the poll left it: its own read after its wait, else a
     * fresh one. */
    loop->now = vl__engine_poll_clock(loop->e);
    dispatch(loop, c, n);
    /* A full batch may mean more are ready: take them now, boundedly. */
    for (int round = 0; n == BATCH && round < EXTRA_ROUNDS; round++) {
        n = vl_engine_poll(loop->e, 0, c, BATCH);
        if (n < 0)
            return n;
        dispatch(loop, c, n);
    }
    run_asyncs(loop);
    run_msgs(loop);
    loop->now = vl_time_monotonic_ns();
    run_timers(loop);
    return 0;
}

int vl_loop_run(vl_loop *loop, vl_run_mode mode)
{
    if (loop == NULL || (unsigned)mode > VL_RUN_NOWAIT)
        return -EINVAL;
    if (loop->running)
        return -EBUSY;
    loop->running = 1;
    loop->ncb = 0;
    vl_loop *outer = tl_running;
    tl_running = loop;
    if (loop->embed_epfd >= 0)
        embed_drain(loop);
    int rc = 0;
    while (!loop->stop) {
        if (mode != VL_RUN_NOWAIT && !vl_loop_alive(loop))
            break;
        if (loop->nidle > 0)
            run_hooks(loop, VL_HOOK_IDLE);
        if (loop->hooks[VL_HOOK_PREPARE] != NULL)
            run_hooks(loop, VL_HOOK_PREPARE);
        if (loop->stop)
            break;
        /* The hooks may have ended the last reason to wait. */
        int64_t timeout = 0;
        if (mode != VL_RUN_NOWAIT && vl_loop_alive(loop) && !must_not_wait(loop))
            timeout = -1;
        rc = iterate(loop, timeout);
        if (rc == 0 && loop->hooks[VL_HOOK_CHECK] != NULL)
            run_hooks(loop, VL_HOOK_CHECK);
        if (rc < 0 || mode == VL_RUN_NOWAIT || (mode == VL_RUN_ONCE && loop->ncb > 0))
            break;
    }
    tl_running = outer;
    vl__engine_push(loop->e); /* wakes this run queued for other loops */
    loop->stop = false;
    loop->running = 0;
    if (loop->embed_epfd >= 0)
        embed_update(loop);
    if (rc < 0)
        return rc;
    return loop->ncb > INT32_MAX ? INT32_MAX : (int)loop->ncb;
}
