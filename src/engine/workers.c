/*
 * src/engine/workers.c - the readiness core's worker pool (see workers.h).
 *
 * A job is a slot. While the pool has it, the slot's struct vl__reactor_slot
 * job words are the pool's, read and written only under the pool's mutex:
 *
 *   job[3]          the job's state: QUEUED, RUNNING or DONE
 *   QUEUED          job[0] next, job[1] previous in the queue (a doubly
 *                   linked FIFO, so that a CANCEL unlinks in O(1))
 *   RUNNING         a worker runs vl__reactor_work; no link
 *   DONE            job[0] next in the finished list, job[1..2] the result
 *
 * The polling thread calls start, cancel and reap; the workers take queued
 * jobs and push finished ones. A job leaves the pool only through reap
 * (DONE) or a cancel of a queued job, so every job the reactor hands in
 * comes back exactly once. A running job cannot be stopped: its cancel
 * answers -EALREADY and the job comes back with its own result, which is
 * how engine shutdown waits for running jobs (their buffers stay the
 * caller's until then).
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

enum { JOB_QUEUED = 1, JOB_RUNNING, JOB_DONE };

/* A worker's stack: its frames are vl__reactor_work's (one system call
 * and its arguments), with room for a sanitizer's larger frames. */
#define WORKER_STACK ((size_t)256 << 10)

struct vl__workers {
    vl_engine *e;
    struct vl__reactor *r;
    vl_mutex mu;
    vl_condvar cv;         /* a job was queued, or quit */
    uint32_t qhead, qtail; /* queued jobs, oldest first */
    uint32_t queued;       /* how many */
    uint32_t dhead;        /* finished jobs, newest first (reap reverses) */
    uint32_t idle;         /* workers waiting for a job */
    uint32_t running;      /* jobs a worker has taken and not finished */
    bool quit;
    bool gate;          /* tests: hold taken jobs before they run */
    vl_condvar gate_cv; /* the gate opened, or quit */
    uint32_t started;   /* threads started: only the polling thread writes it */
    uint32_t max;
    vl_thread *threads[]; /* max of them */
};

static uint32_t *job(const struct vl__workers *w, uint32_t slot)
{
    return VL__SLOT_DRV(vl__engine_slot(w->e, slot), struct vl__reactor_slot)->u.job;
}

/* ---- the queue (under mu) ---------------------------------------------------- */

static void queue_push(struct vl__workers *w, uint32_t slot)
{
    uint32_t *j = job(w, slot);
    j[0] = NONE;
    j[1] = w->qtail;
    j[3] = JOB_QUEUED;
    if (w->qtail == NONE)
        w->qhead = slot;
    else
        job(w, w->qtail)[0] = slot;
    w->qtail = slot;
    w->queued++;
}

static void queue_unlink(struct vl__workers *w, uint32_t slot)
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

static void worker_main(void *arg)
{
    struct vl__workers *w = arg;
    vl_mutex_lock(&w->mu);
    for (;;) {
        while (!w->quit && w->qhead == NONE) {
            w->idle++;
            vl_condvar_wait(&w->cv, &w->mu);
            w->idle--;
        }
        if (w->quit)
            break;
        uint32_t slot = w->qhead;
        queue_unlink(w, slot);
        job(w, slot)[3] = JOB_RUNNING;
        w->running++;
        while (w->gate && !w->quit)
            vl_condvar_wait(&w->gate_cv, &w->mu);
        vl_mutex_unlock(&w->mu);
        int64_t res = vl__reactor_work(w->r, slot);
        vl_mutex_lock(&w->mu);
        w->running--;
        if (finish(w, slot, res)) {
            /* Outside the lock: the polling thread may be reaping. The
             * engine outlives this call (vl__workers_destroy joins first).
             * A failed wake (the eventfd's counter is saturated) means one
             * is pending already. */
            vl_mutex_unlock(&w->mu);
            (void)vl_engine_wake(w->e);
            vl_mutex_lock(&w->mu);
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
    if (rc == 0)
        w->started++;
    return rc;
}

/* ---- the offload's entries (the polling thread) ----------------------------------- */

static int workers_start(void *ctx, uint32_t slot)
{
    struct vl__workers *w = ctx;
    vl_mutex_lock(&w->mu);
    queue_push(w, slot);
    /* More jobs wait than the workers not running one will take: start one
     * more thread. A worker that has finished its job but not yet gone
     * idle counts as free: it looks at the queue before it waits. Counting
     * it busy would start a thread per job at queue depth 1 (the job
     * arrives while its predecessor's worker is waking the engine), and
     * the jobs would then rotate among threads that are all cold. */
    bool grow = w->queued > w->started - w->running && w->started < w->max;
    if (w->idle > 0)
        vl_condvar_signal(&w->cv);
    vl_mutex_unlock(&w->mu);
    if (!grow)
        return 0;
    int rc = spawn(w);
    if (rc == 0 || w->started > 0)
        return 0; /* the threads there are take it */
    /* No thread at all: nobody would run the job, so it fails with why. */
    vl_mutex_lock(&w->mu);
    queue_unlink(w, slot);
    job(w, slot)[3] = 0;
    vl_mutex_unlock(&w->mu);
    return rc;
}

static int workers_cancel(void *ctx, uint32_t slot)
{
    struct vl__workers *w = ctx;
    int rc = -EALREADY; /* running, or finished and waiting for reap */
    vl_mutex_lock(&w->mu);
    if (job(w, slot)[3] == JOB_QUEUED) {
        queue_unlink(w, slot);
        job(w, slot)[3] = 0;
        rc = 0;
    }
    vl_mutex_unlock(&w->mu);
    return rc;
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
        vl__reactor_offload_done(w->r, order, res);
        order = next;
    }
}

const struct vl__reactor_offload vl__workers_offload = {
    .start = workers_start, .cancel = workers_cancel, .reap = workers_reap};

/* ---- setup ------------------------------------------------------------------- */

int vl__workers_create(vl_engine *e, struct vl__reactor *r, uint32_t nthreads,
                       struct vl__workers **out)
{
    struct vl__workers *w = calloc(1, sizeof(*w) + nthreads * sizeof(w->threads[0]));
    if (w == NULL)
        return -ENOMEM;
    w->e = e;
    w->r = r;
    w->qhead = w->qtail = w->dhead = NONE;
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
