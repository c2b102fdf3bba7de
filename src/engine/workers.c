/*
 * src/engine/workers.c - the readiness core's worker pool (see workers.h).
 *
 * A job is a slot. While the pool has it, the slot's struct vl__reactor_slot
 * job words are the pool's, read and written only under the pool's mutex:
 *
 *   job[3]          the job's state: QUEUED, RUNNING, DONE or CLOSING
 *   QUEUED          job[0] next, job[1] previous in the queue (a doubly
 *                   linked FIFO, so that a CANCEL unlinks in O(1)); job[2]
 *                   next in its fd's queued list
 *   RUNNING         a worker took it for vl__reactor_work; job[0] next,
 *                   job[1] previous in its fd's taken list; job[2] next
 *                   in the taken list of jobs with a second fd (taken2)
 *   DONE            job[0] next in the finished list, job[1..2] the result
 *                   (a CLOSE's close(2) is reap's, on the polling thread)
 *   CLOSING         a CLOSE waiting for its fd's taken jobs: job[0] next
 *                   in the closing list
 *
 * The fd lists: a job runs by fd number, so a CLOSE of the number must
 * find the number's jobs (workers_close). The pool keeps a table of fd
 * lists direct-mapped by number (fdq: numbers below its size, all of a
 * small process's, each have their own entry; higher ones share, and a
 * walk compares the op's fd). An entry counts the number's jobs the pool
 * has (held, which only the polling thread touches, so that the CLOSE of
 * an fd without jobs, a socket's, costs one load and no lock) and links
 * its queued jobs (oldest first: the queue's head is always the head of
 * its own fd list, so a worker takes it in O(1)) and its taken ones.
 *
 * A job may name a second fd whose number its call uses (vl__op_fd2:
 * RENAMEAT's newdirfd, SENDFILE's file, SPLICE's fd_out), which a CLOSE
 * must find as well. Such jobs are rare (a RENAMEAT; SENDFILE and SPLICE
 * reach the pool only when their fd cannot be polled), so the second fd
 * has no lists of its own: its entry's held counts the job too (the CLOSE
 * of a number without jobs still costs one load), a CLOSE walks the whole
 * queue while any such job is queued (queued2), and taken ones are on one
 * more list (taken2), as short as the number of workers. A negative fd
 * (VL_AT_FDCWD) is never tracked: no CLOSE can name it.
 *
 * The polling thread calls start, cancel, close, kick and reap; the
 * workers take queued jobs one at a time and push finished ones. A job leaves
 * the pool only through reap (DONE), or while queued through a cancel or
 * its fd's CLOSE, so every job the reactor hands in comes back exactly
 * once. A taken job cannot be stopped: its cancel answers -EALREADY and the
 * job comes back with its own result, which is how engine shutdown waits
 * for running jobs (their buffers stay the caller's until then).
 *
 * The workers block every signal: a process-directed signal then never
 * lands on one (which would defeat a loop's signalfd, and could interrupt
 * a file call for no one).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <vllsi/sys/sync.h>
#include <vllsi/sys/thread.h>

#include "engine_internal.h"
#include "fault.h"
#include "workers.h"

#define NONE UINT32_MAX

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_DONE, JOB_CLOSING };

/* The fd lists' table: at most this many entries (64 KiB), fewer for a
 * small engine (the reactor's fd table's size). */
#define FDQ_MAX 4096u

/* The jobs of the fd numbers that map to one entry of the fd table. */
struct fdq {
    uint32_t held;       /* polling thread: jobs in the pool (any state but CLOSING) */
    uint32_t head, tail; /* under mu: queued, oldest first, linked through job[2] */
    uint32_t taken;      /* under mu: taken by a worker, linked through job[0..1] */
};

/* A worker's stack: its frames are vl__reactor_work's (one system call
 * and its arguments), with room for a sanitizer's larger frames. */
#define WORKER_STACK ((size_t)256 << 10)

/* The queued jobs per awake worker up to which a new job wakes no sleeping
 * one (wake_now): the awake ones get to them soon. */
#define AWAKE_SHARE 8u

struct vl__workers {
    vl_engine *e;
    struct vl__reactor *r;
    vl_mutex mu;
    vl_condvar cv;         /* a job was queued, or quit */
    uint32_t qhead, qtail; /* queued jobs, oldest first */
    uint32_t queued;       /* how many */
    uint32_t queued2;      /* of them, jobs with a second fd (job_fd2) */
    uint32_t taken2;       /* taken jobs with a second fd, through job[2] */
    uint32_t dhead;        /* finished jobs, newest first (reap reverses) */
    uint32_t chead;        /* CLOSEs waiting for their fd's taken jobs */
    struct fdq *fdq;       /* fdmask + 1 entries, by fd number */
    uint32_t fdmask;
    uint32_t sleeping;  /* workers waiting for a job */
    uint32_t signalled; /* of them, woken by a signal they have not seen yet */
    uint32_t busy;      /* workers holding a job */
    bool deferred;      /* polling thread: a job woke no sleeper it might need */
    bool regrow;        /* polling thread: a thread start failed, jobs waited */
    uint32_t running;   /* jobs a worker has taken and not finished */
    bool quit;
    bool gate;          /* tests: hold taken jobs before they run */
    vl_condvar gate_cv; /* the gate opened, or quit */
    uint32_t started;   /* threads started: the polling thread writes it, under mu */
    uint32_t max;
    vl_thread *threads[]; /* max of them */
};

static uint32_t *job(const struct vl__workers *w, uint32_t slot)
{
    return VL__SLOT_DRV(vl__engine_slot(w->e, slot), struct vl__reactor_slot)->u.job;
}

/* The fd number slot's job runs on: every offloaded kind has one (its row's
 * has_fd), negative for none (VL_AT_FDCWD). The op stays as it is while
 * the pool has the job, so any thread may read it. */
static int job_fd(const struct vl__workers *w, uint32_t slot)
{
    return vl__engine_slot(w->e, slot)->op.fd;
}

/* The number of slot's second fd (vl__op_fd2), or -1: none, a negative
 * one (VL_AT_FDCWD), or the first fd again, which its lists cover. */
static int job_fd2(const struct vl__workers *w, uint32_t slot)
{
    const vl_op *op = &vl__engine_slot(w->e, slot)->op;
    int fd2 = vl__op_fd2(op);
    return fd2 >= 0 && fd2 != op->fd ? fd2 : -1;
}

/* The fd table's entry of fd, NULL for a negative one. */
static struct fdq *fdq_of(const struct vl__workers *w, int fd)
{
    return fd < 0 ? NULL : &w->fdq[(uint32_t)fd & w->fdmask];
}

/* The polling thread: slot's job comes into the pool (in) or leaves it,
 * and the entries of its fds count it (held). */
static void hold(struct vl__workers *w, uint32_t slot, bool in)
{
    int fds[2] = {job_fd(w, slot), job_fd2(w, slot)};
    for (int k = 0; k < 2; k++) {
        struct fdq *q = fdq_of(w, fds[k]);
        if (q != NULL)
            q->held = in ? q->held + 1 : q->held - 1;
    }
}

/* ---- the queue and the fd lists (under mu) ----------------------------------- */

static void queue_push(struct vl__workers *w, uint32_t slot, struct fdq *q)
{
    uint32_t *j = job(w, slot);
    j[0] = NONE;
    j[1] = w->qtail;
    j[2] = NONE;
    j[3] = JOB_QUEUED;
    if (w->qtail == NONE)
        w->qhead = slot;
    else
        job(w, w->qtail)[0] = slot;
    w->qtail = slot;
    w->queued++;
    if (job_fd2(w, slot) >= 0)
        w->queued2++;
    if (q == NULL)
        return;
    if (q->tail == NONE)
        q->head = slot;
    else
        job(w, q->tail)[2] = slot;
    q->tail = slot;
}

/* Unlink slot from the queue, and from q's queued list, where prev is
 * the job before it. */
static void queue_cut(struct vl__workers *w, uint32_t slot, struct fdq *q, uint32_t prev)
{
    uint32_t *j = job(w, slot);
    if (j[1] == NONE)
        w->qhead = j[0];
    else
        job(w, j[1])[0] = j[0];
    if (j[0] == NONE)
        w->qtail = j[1];
    else
        job(w, j[0])[1] = j[1];
    w->queued--;
    if (job_fd2(w, slot) >= 0)
        w->queued2--;
    if (q == NULL)
        return;
    if (prev == NONE)
        q->head = j[2];
    else
        job(w, prev)[2] = j[2];
    if (q->tail == slot)
        q->tail = prev;
}

/* queue_cut, finding prev: O(1) for the head of q's list, the job a worker
 * takes; else a walk of the jobs queued before it on the entry (a
 * CANCEL's, a failed start's). */
static void queue_unlink(struct vl__workers *w, uint32_t slot, struct fdq *q)
{
    uint32_t prev = NONE;
    if (q != NULL)
        for (uint32_t k = q->head; k != slot; k = job(w, k)[2])
            prev = k;
    queue_cut(w, slot, q, prev);
}

/* A worker took slot: it leaves the queue for q's taken list. */
static void take_job(struct vl__workers *w, uint32_t slot, struct fdq *q)
{
    queue_unlink(w, slot, q);
    uint32_t *j = job(w, slot);
    j[3] = JOB_RUNNING;
    w->running++;
    if (job_fd2(w, slot) >= 0) {
        j[2] = w->taken2;
        w->taken2 = slot;
    }
    if (q == NULL)
        return;
    j[0] = q->taken;
    j[1] = NONE;
    if (q->taken != NONE)
        job(w, q->taken)[1] = slot;
    q->taken = slot;
}

/* Its system call returned: slot leaves q's taken list. */
static void untake_job(struct vl__workers *w, uint32_t slot, struct fdq *q)
{
    w->running--;
    uint32_t *j = job(w, slot);
    if (job_fd2(w, slot) >= 0) {
        uint32_t *link = &w->taken2;
        while (*link != slot)
            link = &job(w, *link)[2];
        *link = j[2];
    }
    if (q == NULL)
        return;
    if (j[1] == NONE)
        q->taken = j[0];
    else
        job(w, j[1])[0] = j[0];
    if (j[0] != NONE)
        job(w, j[0])[1] = j[1];
}

/* Whether a worker has taken a job of fd (>= 0), by its first or its
 * second fd. */
static bool fd_taken(const struct vl__workers *w, int fd)
{
    for (uint32_t k = fdq_of(w, fd)->taken; k != NONE; k = job(w, k)[0])
        if (job_fd(w, k) == fd)
            return true;
    for (uint32_t k = w->taken2; k != NONE; k = job(w, k)[2])
        if (job_fd2(w, k) == fd)
            return true;
    return false;
}

/* ---- the workers --------------------------------------------------------------- */

/* Finish slot with res (under mu): true if the engine needs a wake, i.e.
 * the finished list was empty, so no wake for it is pending. */
static bool finish(struct vl__workers *w, uint32_t slot, int64_t res)
{
    uint32_t *j = job(w, slot);
    uint64_t u = (uint64_t)res;
    bool was_empty = w->dhead == NONE;
    j[0] = w->dhead;
    j[1] = (uint32_t)u;
    j[2] = (uint32_t)(u >> 32);
    j[3] = JOB_DONE;
    w->dhead = slot;
    return was_empty;
}

/* The CLOSEs of fd that no taken job holds back any more, off the closing
 * list, linked through job[0] in the order they came; NONE for a negative
 * fd, which no CLOSE waits for. */
static uint32_t closes_due(struct vl__workers *w, int fd)
{
    if (w->chead == NONE || fd < 0 || fd_taken(w, fd))
        return NONE;
    uint32_t due = NONE;
    for (uint32_t *link = &w->chead; *link != NONE;) {
        uint32_t c = *link;
        uint32_t *j = job(w, c);
        if (job_fd(w, c) == fd) {
            *link = j[0];
            j[0] = due;
            due = c;
        } else {
            link = &j[0];
        }
    }
    return due;
}

/* Finish each CLOSE on the list (under mu): its close(2) is reap's, on
 * the polling thread. Returns finish's "the engine needs a wake". */
static bool closes_finish(struct vl__workers *w, uint32_t due)
{
    bool wake = false;
    while (due != NONE) {
        uint32_t next = job(w, due)[0];
        wake |= finish(w, due, 0);
        due = next;
    }
    return wake;
}

/* Wait for a job (under mu). A signal wakes one sleeper, which then no
 * longer counts as one a new job may signal (workers_start). */
static void await_job(struct vl__workers *w)
{
    while (!w->quit && w->qhead == NONE) {
        w->sleeping++;
        vl_condvar_wait(&w->cv, &w->mu);
        w->sleeping--;
        if (w->signalled > 0)
            w->signalled--;
    }
}

/*
 * A worker: one job at a time, the oldest queued, and one lock round per
 * job: the round that finishes a job takes the next one. A worker holds
 * only the job it runs, so a job queued behind one that blocks for long
 * (a FIFO's open, a read of a slow network file) stays queued, where a
 * free worker takes it and a CANCEL still finds it. Holding the lock once
 * per job rather than twice matters more than the hold's length: with
 * more threads than CPUs, a thread that sleeps on the lock and the futex
 * wake that ends its sleep cost far more than the few cache misses of a
 * hold (perf: at read depth 64, 4 threads on 2 CPUs spent most of their
 * time waking each other).
 *
 * The engine's wake for a finished job (when its push found the finished
 * list empty) is made outside the lock: after the next job's take, or
 * before the thread sleeps.
 */
static void worker_main(void *arg)
{
    struct vl__workers *w = arg;
    bool wake = false;
    vl__fault_mute_thread(); /* the injector is the polling thread's */
    vl_mutex_lock(&w->mu);
    for (;;) {
        if (w->qhead == NONE || w->quit) {
            if (wake) {
                /* The polling thread may be reaping. The engine outlives
                 * this call (vl__workers_destroy joins first). A failed
                 * wake (the eventfd's counter is saturated) means one is
                 * pending already. */
                vl_mutex_unlock(&w->mu);
                (void)vl_engine_wake(w->e);
                vl_mutex_lock(&w->mu);
                wake = false;
                continue; /* a job may have come meanwhile */
            }
            await_job(w);
            if (w->quit)
                break;
        }
        uint32_t slot = w->qhead;
        int fd = job_fd(w, slot);
        struct fdq *q = fdq_of(w, fd);
        take_job(w, slot, q);
        w->busy++;
        if (w->gate && !w->quit) {
            if (wake) { /* the finished job's completion comes meanwhile */
                vl_mutex_unlock(&w->mu);
                (void)vl_engine_wake(w->e);
                vl_mutex_lock(&w->mu);
                wake = false;
            }
            while (w->gate && !w->quit)
                vl_condvar_wait(&w->gate_cv, &w->mu);
        }
        vl_mutex_unlock(&w->mu);
        if (wake)
            (void)vl_engine_wake(w->e);
        int64_t res = vl__reactor_work(w->r, slot);
        vl_mutex_lock(&w->mu);
        w->busy--;
        untake_job(w, slot, q);
        wake = finish(w, slot, res);
        if (w->chead != NONE) {
            wake |= closes_finish(w, closes_due(w, fd));
            wake |= closes_finish(w, closes_due(w, job_fd2(w, slot)));
        }
    }
    vl_mutex_unlock(&w->mu);
}

/* Start one more worker with every signal blocked (it inherits the mask).
 * Test builds may make the start fail as a process at its thread limit
 * would (-EAGAIN; fault.h's ENOMEM: the thread's stack is an allocation). */
static int spawn(struct vl__workers *w)
{
    if (VL__FAULT(VL__FAULT_ENOMEM))
        return -EAGAIN;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = vl_thread_spawn(worker_main, w, WORKER_STACK, &w->threads[w->started]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        vl_mutex_lock(&w->mu);
        w->started++;
        vl_mutex_unlock(&w->mu);
    }
    return rc;
}

/* ---- the offload's entries (the polling thread) ----------------------------------- */

/* The threads awake (busy, between jobs, or signalled) when unsignalled
 * sleep (under mu). A thread just spawned may sleep before the polling
 * thread counts it started: it then counts as asleep, never below 0. */
static uint32_t awake_threads(const struct vl__workers *w, uint32_t unsignalled)
{
    return w->started > unsignalled ? w->started - unsignalled : 0;
}

/*
 * Whether a new job wakes a sleeping worker (under mu; the caller signals
 * after the unlock, so the woken thread finds mu free, and the condvar's
 * sequence, sampled under mu, still catches a worker about to sleep).
 *
 * Waking costs more than a cached file op (a futex wake, then the
 * sleeper's return and its next sleep): at read depth 64, 4 threads on 2
 * CPUs that woke a sleeper for every job no awake thread was free for made
 * two futex calls per op and cost 1.8x the CPU per op of 1 thread. So a
 * job wakes one only when no thread is awake, or when more than
 * AWAKE_SHARE jobs per awake thread wait; else the awake threads, which
 * look at the queue after each job, take it. Only a thread stuck in a long
 * call would then hold it up while another sleeps: such a skipped wake is
 * remembered (deferred), and the polling thread's next wait of the driver
 * (workers_kick, every loop turn) wakes a sleeper for any job still
 * waiting with no free thread awake.
 */
static bool wake_now(struct vl__workers *w)
{
    uint32_t unsignalled = w->sleeping - w->signalled;
    if (unsignalled == 0)
        return false;
    uint32_t awake = awake_threads(w, unsignalled);
    if (awake == 0 || w->queued > awake * AWAKE_SHARE) {
        w->signalled++;
        return true;
    }
    if (w->queued > (awake > w->busy ? awake - w->busy : 0))
        w->deferred = true;
    return false;
}

/* More jobs wait than the workers not holding a job will take, and the
 * pool may start another thread (under mu). A worker that has finished its
 * job but not yet gone to sleep counts as free: it looks at the queue
 * before it waits. Counting it busy would start a thread per job at queue
 * depth 1 (the job arrives while its predecessor's worker is waking the
 * engine), and the jobs would then rotate among threads that are all
 * cold. */
static bool needs_thread(const struct vl__workers *w)
{
    uint32_t unbusy = w->started > w->busy ? w->started - w->busy : 0;
    return w->queued > unbusy && w->started < w->max;
}

static int workers_start(void *ctx, uint32_t slot)
{
    struct vl__workers *w = ctx;
    struct fdq *q = fdq_of(w, job_fd(w, slot));
    hold(w, slot, true);
    vl_mutex_lock(&w->mu);
    queue_push(w, slot, q);
    bool grow = needs_thread(w);
    bool signal = wake_now(w);
    vl_mutex_unlock(&w->mu);
    if (signal)
        vl_condvar_signal(&w->cv);
    if (!grow)
        return 0;
    int rc = spawn(w);
    if (rc == 0)
        return 0;
    if (w->started > 0) {
        /* The threads there are take it, once one is free; workers_kick
         * tries the start again meanwhile (they may all be stuck). */
        w->regrow = true;
        return 0;
    }
    /* No thread at all: nobody would run the job, so it fails with why. */
    vl_mutex_lock(&w->mu);
    queue_unlink(w, slot, q);
    job(w, slot)[3] = 0;
    vl_mutex_unlock(&w->mu);
    hold(w, slot, false);
    return rc;
}

static int workers_cancel(void *ctx, uint32_t slot)
{
    struct vl__workers *w = ctx;
    /* Running, finished and waiting for reap, or a CLOSE waiting for its
     * fd's jobs (its close(2) happens: the fd is the engine's now). */
    int rc = -EALREADY;
    struct fdq *q = fdq_of(w, job_fd(w, slot));
    vl_mutex_lock(&w->mu);
    if (job(w, slot)[3] == JOB_QUEUED) {
        queue_unlink(w, slot, q);
        job(w, slot)[3] = 0;
        rc = 0;
    }
    vl_mutex_unlock(&w->mu);
    if (rc == 0)
        hold(w, slot, false);
    return rc;
}

/* Take queued job k off the queue (its fd list's: q, where prev is the job
 * before it) for a CLOSE, onto the end of the list *gone..*tail, linked
 * through job[0]. */
static void cancel_queued(struct vl__workers *w, uint32_t k, struct fdq *q, uint32_t prev,
                          uint32_t *gone, uint32_t *tail)
{
    queue_cut(w, k, q, prev);
    uint32_t *j = job(w, k);
    j[3] = 0;
    j[0] = NONE;
    if (*tail == NONE)
        *gone = k;
    else
        job(w, *tail)[0] = k;
    *tail = k;
}

/*
 * The CLOSE slot of fd: its queued jobs (by their first or second fd) come
 * back -ECANCELED, in the order they came; 1 and the pool holds the CLOSE
 * while a worker has taken a job of fd (closes_due finishes it when the
 * last one is done, and reap makes its close(2)), else 0 and the reactor
 * closes. The walk covers the jobs queued on fd's entry only, unless a job
 * with a second fd is queued (then the whole queue), and an fd without
 * jobs (held 0: most CLOSEs, of sockets) costs no lock.
 */
static int workers_close(void *ctx, uint32_t slot, int fd)
{
    struct vl__workers *w = ctx;
    struct fdq *q = fdq_of(w, fd);
    if (q == NULL || q->held == 0)
        return 0;
    uint32_t gone = NONE, tail = NONE;
    vl_mutex_lock(&w->mu);
    if (w->queued2 == 0) {
        for (uint32_t k = q->head, prev = NONE; k != NONE;) {
            uint32_t next = job(w, k)[2];
            if (job_fd(w, k) != fd)
                prev = k;
            else
                cancel_queued(w, k, q, prev, &gone, &tail);
            k = next;
        }
    } else {
        for (uint32_t k = w->qhead; k != NONE;) {
            uint32_t next = job(w, k)[0];
            if (job_fd(w, k) == fd || job_fd2(w, k) == fd) {
                struct fdq *kq = fdq_of(w, job_fd(w, k));
                uint32_t prev = NONE;
                if (kq != NULL)
                    for (uint32_t p = kq->head; p != k; p = job(w, p)[2])
                        prev = p;
                cancel_queued(w, k, kq, prev, &gone, &tail);
            }
            k = next;
        }
    }
    bool wait = fd_taken(w, fd);
    if (wait) {
        uint32_t *j = job(w, slot);
        j[0] = w->chead;
        j[3] = JOB_CLOSING;
        w->chead = slot;
    }
    vl_mutex_unlock(&w->mu);
    /* The list is the polling thread's now; a completion may reuse a slot,
     * so read its link first. */
    while (gone != NONE) {
        uint32_t next = job(w, gone)[0];
        hold(w, gone, false);
        vl__reactor_offload_done(w->r, gone, -ECANCELED);
        gone = next;
    }
    return wait ? 1 : 0;
}

/* Whether the pool holds a CLOSE of fd: one on the closing list, or one
 * finished and not reaped yet (its close(2) is reap's). Only while the
 * reactor knows of a held CLOSE (its count), so the lock costs nothing
 * else. */
static bool workers_closing(void *ctx, int fd)
{
    struct vl__workers *w = ctx;
    bool found = false;
    vl_mutex_lock(&w->mu);
    for (uint32_t c = w->chead; c != NONE && !found; c = job(w, c)[0])
        found = job_fd(w, c) == fd;
    for (uint32_t c = w->dhead; c != NONE && !found; c = job(w, c)[0])
        found = vl__engine_slot(w->e, c)->op.kind == VL_OP_CLOSE && job_fd(w, c) == fd;
    vl_mutex_unlock(&w->mu);
    return found;
}

static void workers_reap(void *ctx)
{
    struct vl__workers *w = ctx;
    vl_mutex_lock(&w->mu);
    uint32_t list = w->dhead;
    w->dhead = NONE;
    /* Reverse into finishing order, and read the results, under the lock:
     * the workers wrote them under it. */
    uint32_t order = NONE;
    while (list != NONE) {
        uint32_t *j = job(w, list);
        uint32_t next = j[0];
        j[0] = order;
        j[3] = 0;
        order = list;
        list = next;
    }
    vl_mutex_unlock(&w->mu);
    /* The list is the polling thread's now; the completion may free and
     * reuse a slot, so read its link first. */
    while (order != NONE) {
        uint32_t *j = job(w, order);
        uint32_t next = j[0];
        int64_t res = (int64_t)((uint64_t)j[1] | (uint64_t)j[2] << 32);
        const vl_op *op = &vl__engine_slot(w->e, order)->op;
        if (op->kind == VL_OP_CLOSE) /* held until now: no job of fd runs */
            res = close(op->fd) == 0 ? 0 : -errno;
        else
            hold(w, order, false);
        vl__reactor_offload_done(w->r, order, res);
        order = next;
    }
}

/* A thread start failed (a process at its thread limit) while jobs waited
 * for a free worker, and every worker there is may be stuck in a long call
 * (a FIFO's open): start one now if jobs still wait for one, so that none
 * waits for the next job's start to try again. Until a start succeeds or
 * no job needs one, each wait of the driver tries once. */
static void regrow(struct vl__workers *w)
{
    vl_mutex_lock(&w->mu);
    bool grow = needs_thread(w);
    vl_mutex_unlock(&w->mu);
    w->regrow = grow && spawn(w) != 0;
}

/* The polling thread is about to wait (vl__reactor_timeout): a failed
 * thread start is tried again (regrow), and a job that found no free
 * worker awake and woke none (wake_now) wakes a sleeper now, if it still
 * waits with no free worker awake. Two loads when there is neither. */
static void workers_kick(void *ctx)
{
    struct vl__workers *w = ctx;
    if (w->regrow) /* only the polling thread touches it and deferred */
        regrow(w);
    if (!w->deferred)
        return;
    vl_mutex_lock(&w->mu);
    w->deferred = false;
    uint32_t unsignalled = w->sleeping - w->signalled;
    uint32_t awake = awake_threads(w, unsignalled);
    uint32_t free_awake = awake > w->busy ? awake - w->busy : 0;
    bool signal = unsignalled > 0 && w->queued > free_awake;
    if (signal)
        w->signalled++;
    vl_mutex_unlock(&w->mu);
    if (signal)
        vl_condvar_signal(&w->cv);
}

const struct vl__reactor_offload vl__workers_offload = {.start = workers_start,
                                                        .cancel = workers_cancel,
                                                        .reap = workers_reap,
                                                        .close = workers_close,
                                                        .closing = workers_closing,
                                                        .kick = workers_kick};

/* ---- setup ------------------------------------------------------------------- */

int vl__workers_create(vl_engine *e, struct vl__reactor *r, uint32_t nthreads,
                       struct vl__workers **out)
{
    struct vl__workers *w = calloc(1, sizeof(*w) + nthreads * sizeof(w->threads[0]));
    if (w == NULL)
        return -ENOMEM;
    uint32_t nfdq = r->mask + 1 < FDQ_MAX ? r->mask + 1 : FDQ_MAX; /* powers of two */
    w->fdq = malloc(nfdq * sizeof(w->fdq[0]));
    if (w->fdq == NULL) {
        free(w);
        return -ENOMEM;
    }
    for (uint32_t k = 0; k < nfdq; k++)
        w->fdq[k] = (struct fdq){0, NONE, NONE, NONE};
    w->fdmask = nfdq - 1;
    w->e = e;
    w->r = r;
    w->qhead = w->qtail = w->dhead = w->chead = w->taken2 = NONE;
    w->max = nthreads;
    vl_mutex_init(&w->mu);
    vl_condvar_init(&w->cv);
    vl_condvar_init(&w->gate_cv);
    *out = w;
    return 0;
}

void vl__workers_destroy(struct vl__workers *w)
{
    if (w == NULL)
        return;
    vl_mutex_lock(&w->mu);
    w->quit = true;
    vl_condvar_broadcast(&w->cv);
    vl_condvar_broadcast(&w->gate_cv);
    vl_mutex_unlock(&w->mu);
    for (uint32_t k = 0; k < w->started; k++)
        vl_thread_join(w->threads[k]);
    free(w->fdq);
    free(w);
}

uint32_t vl__workers_default(void)
{
    int n = vl_num_online_cpus(); /* never below 1 */
    return n < (int)VL_ENGINE_DEFAULT_WORKERS ? (uint32_t)n : VL_ENGINE_DEFAULT_WORKERS;
}

uint32_t vl__workers_threads(const struct vl__workers *w)
{
    return w->started;
}

uint32_t vl__workers_running(struct vl__workers *w)
{
    vl_mutex_lock(&w->mu);
    uint32_t n = w->running;
    vl_mutex_unlock(&w->mu);
    return n;
}

void vl__workers_gate(struct vl__workers *w, bool closed)
{
    vl_mutex_lock(&w->mu);
    w->gate = closed;
    if (!closed)
        vl_condvar_broadcast(&w->gate_cv);
    vl_mutex_unlock(&w->mu);
}
