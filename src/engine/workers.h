/*
 * src/engine/workers.h - the readiness core's worker pool: a bounded set of
 * threads that runs the blocking work no readiness mechanism reports
 * (regular-file READ/WRITE, kinds whose opdef row says blocking) off the
 * polling thread. It is a struct vl__reactor_offload (reactor.h), which
 * vl__reactor_drv_init installs on every readiness driver (epoll, kqueue).
 *
 * Threads start lazily: an engine that never offloads a job starts none.
 * A job that finds more jobs queued than workers free to take them (idle,
 * or done with their job and about to look at the queue) starts one more
 * thread, up to the configured number (vl_engine_config.workers, default
 * vl__workers_default()); the threads then stay until the engine is
 * destroyed. So one engine per thread costs no threads until files are
 * touched, and a burst of file ops costs at most `workers` thread starts.
 *
 * No allocation per job: queued jobs are a FIFO linked through the job
 * words of the slots' struct vl__reactor_slot, and finished ones a second
 * list through the same words, so the pool's memory is its struct, its
 * thread handles and its table of fd lists, made at create.
 *
 * A job runs by fd number, so the CLOSE of its fd (the offload's close
 * entry) cancels the fd's queued jobs (-ECANCELED) and, while a worker has
 * taken one, holds the CLOSE and makes its close(2) once that job's system
 * call has returned, at the reap on the polling thread (meanwhile the
 * offload's closing entry tells the reactor to fail new ops on the
 * number): no job ever meets the next file to take the number, and no
 * thread uses the number while it closes.
 * A table of per-fd lists keeps that to the fd's own jobs, and a CLOSE of
 * an fd the pool has no job of (a socket's) costs one load.
 *
 * A worker holds only the job it runs, and finishes it and takes the next
 * queued one under one lock round: a job queued behind one that blocks for
 * long stays queued, for a free thread to take (or a CANCEL to find). A
 * new job wakes a sleeping thread only when the awake ones will not take
 * it soon (workers.c: wake_now); the offload's kick, before every wait of
 * the driver, wakes one for a job that still waits with no free thread
 * awake. Idle threads sleep.
 *
 * A finished job wakes the engine (only a push onto an empty finished list
 * wakes, so at most once per reap), and the driver's wait hands every
 * finished job back on the polling thread (reap), where its completion
 * takes the engine's normal path.
 */
#ifndef VLLSI_ENGINE_WORKERS_H
#define VLLSI_ENGINE_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "reactor.h"

struct vl__workers;

/*
 * The pool's size when vl_engine_config.workers is 0: the CPUs online, 1
 * to VL_ENGINE_DEFAULT_WORKERS. More threads than CPUs only take turns on
 * cached files (bench/files: 4 threads on 2 CPUs cost 1.7x the CPU per
 * 4 KiB read of 1), while threads that wait for the disk (fdatasync) gain
 * from a second one; up to 4, as libuv's threadpool, where there are CPUs.
 */
uint32_t vl__workers_default(void);

/* The pool's entries; their ctx is the struct vl__workers. */
extern const struct vl__reactor_offload vl__workers_offload;

/*
 * Make a pool of at most nthreads (>= 1) threads for the offloaded ops of
 * reactor r on engine e; no thread starts yet. 0 and *out, or -ENOMEM
 * (nothing left behind).
 */
int vl__workers_create(vl_engine *e, struct vl__reactor *r, uint32_t nthreads,
                       struct vl__workers **out);

/*
 * Stop and join the threads, then free the pool (NULL: nothing). Only when
 * the pool holds no job (the engine's shutdown waited for them all): a
 * thread may still be waking the engine for the last job, so the engine's
 * wake must work until this returns.
 */
void vl__workers_destroy(struct vl__workers *w);

/* For tests (tests/workers.c): how many threads the pool has started (the
 * lazy start, the bound), and how many jobs workers hold right now. */
uint32_t vl__workers_threads(const struct vl__workers *w);
uint32_t vl__workers_running(struct vl__workers *w);

/*
 * For tests: while the gate is closed, a worker holds the job it took,
 * RUNNING, before its system call, so that a test can see
 * jobs running and others queued (a CANCEL of each answers differently).
 * Open it before the engine's shutdown, which waits for running jobs.
 * Costs a job one test of a flag under the lock the worker holds anyway.
 */
void vl__workers_gate(struct vl__workers *w, bool closed);

#endif
