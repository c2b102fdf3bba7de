/*
 * reactor_core: the readiness core (src/engine/reactor.c) on its own, for
 * what no public op exercises yet, plus its offload through a readiness
 * driver: `reactor_core [epoll|kqueue]` (epoll by default on Linux, kqueue
 * on macOS and in a Linux build with libkqueue).
 *
 * The first group drives the core through a fake engine (the struct
 * vl__engine_io that driver.h's calls work on, with slots and a completion
 * queue, nothing else: the core reaches the engine only through those) and a fake backend that
 * records every arm and disarm and can be told to refuse. It checks an op
 * parked for both directions (on both fd lists, the union armed, run once
 * by either direction, gone from both lists when it finishes, is cancelled
 * or its fd is closed), held ops (no fd: completed from outside, cancelled,
 * released by the shutdown's cancels), WAITPID through a backend's process
 * filter (watch_exit, as kqueue's EVFILT_PROC on macOS and the BSDs, which
 * no suite here can run: real children, reported exits, one watch per pid
 * shared by two waiters, cancels that leave the child unreaped, refused
 * watches) and the offload's cancel contract.
 *
 * The second group runs a real engine of the driver named on the command
 * line with a test offload, one worker thread with a FIFO of jobs linked
 * through the slots' job words: READ and WRITE on a regular file and a READ
 * of a file the backend cannot poll go to it, CANCEL of a queued job answers
 * 0 (-ECANCELED for the job), of a running one -EALREADY, and engine
 * shutdown waits for a running job. Only epoll and kqueue: the offload
 * belongs to the readiness core, which only readiness drivers have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vl_test.h"

#include <vllsi/engine.h>

#include "reactor.h"

#define NONE UINT32_MAX

/* ---- the fake engine and backend --------------------------------------------- */

#define CAP 8

static struct vl__engine_io fe;
/* driver.h reaches the engine through its first member, which this is. */
#define FE ((vl_engine *)(void *)&fe)
static struct vl__slot fslots[CAP];
static struct vl__cqe fcq[2 * CAP];

struct arm_call {
    int fd;
    unsigned want;
    uint32_t tag;
};

static struct {
    struct arm_call arms[64];
    int narms;
    int disarms[16];
    int ndisarms;
    int refuse; /* what arm answers (0: accept) */
} fb;

static int fake_arm(void *ctx, int fd, unsigned want, uint32_t tag)
{
    (void)ctx;
    if (fb.refuse != 0)
        return fb.refuse;
    assert_true(fb.narms < 64);
    fb.arms[fb.narms++] = (struct arm_call){fd, want, tag};
    return 0;
}

static void fake_disarm(void *ctx, int fd)
{
    (void)ctx;
    assert_true(fb.ndisarms < 16);
    fb.disarms[fb.ndisarms++] = fd;
}

static const struct vl__reactor_backend fake_backend = {.arm = fake_arm, .disarm = fake_disarm};

static struct vl__reactor R;

static int fake_setup(void **state)
{
    (void)state;
    memset(&fe, 0, sizeof(fe));
    memset(fslots, 0, sizeof(fslots));
    memset(&fb, 0, sizeof(fb));
    fe.slots = fslots;
    fe.cap = CAP;
    fe.cq = fcq;
    fe.cq_mask = 2 * CAP - 1;
    fe.cq_reserve = CAP;
    alarm(10);
    return vl__reactor_init(&R, FE, CAP, &fake_backend, NULL);
}

static int fake_teardown(void **state)
{
    (void)state;
    vl__reactor_fini(&R);
    alarm(0);
    return 0;
}

/* Give slot i to the reactor as the engine would: INFLIGHT, op set. */
static struct vl__slot *take_slot(uint32_t i, vl_op op)
{
    struct vl__slot *s = &fslots[i];
    s->op = op;
    s->state = VL__SLOT_INFLIGHT;
    s->target = UINT32_MAX;
    fe.in_driver++;
    return s;
}

/* A NOP naming fd: whenever it runs it completes with 0, as a readiness
 * poll completes with what it saw. */
static vl_op nop_on(int fd)
{
    vl_op op = vl_op_nop();
    op.fd = fd;
    return op;
}

static uint32_t completions(void)
{
    return fe.cq_tail - fe.cq_head;
}

/* The next completion must be slot's, with result. */
static void expect_completion(uint32_t slot, int64_t result)
{
    assert_true(completions() > 0);
    const struct vl__cqe *c = &fe.cq[fe.cq_head++ & fe.cq_mask];
    assert_int_equal(c->slot, slot);
    assert_int_equal(c->result, result);
    assert_int_equal(c->flags, 0);
    assert_int_equal(fslots[slot].state, VL__SLOT_DONE);
}

static const struct vl__reactor_fd *entry(int fd)
{
    for (uint32_t k = 0; k <= R.mask; k++)
        if (R.tab[k].fd == fd)
            return &R.tab[k];
    return NULL;
}

/* Whether slot is on fd's list for dir (0 read, 1 write), walking it. */
static bool on_list(int fd, int dir, uint32_t slot)
{
    const struct vl__reactor_fd *f = entry(fd);
    if (f == NULL)
        return false;
    for (uint32_t i = f->head[dir]; i != NONE;
         i = VL__SLOT_DRV(&fslots[i], struct vl__reactor_slot)->u.link.next[dir])
        if (i == slot)
            return true;
    return false;
}

#define BOTH (VL__REACTOR_READ | VL__REACTOR_WRITE)

static void test_both_arms_union_and_lists(void **state)
{
    (void)state;
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, BOTH);
    assert_int_equal(fb.narms, 1);
    assert_int_equal(fb.arms[0].fd, 100);
    assert_int_equal(fb.arms[0].want, BOTH);
    assert_true(on_list(100, 0, 0));
    assert_true(on_list(100, 1, 0));
    assert_int_equal(completions(), 0);

    /* A read-only op behind it: the registration watches both already. */
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, VL__REACTOR_READ);
    assert_int_equal(fb.narms, 1);
    assert_true(on_list(100, 0, 1));
    assert_false(on_list(100, 1, 1));

    /* A read-only op on another fd arms that fd for reading alone. */
    take_slot(2, nop_on(101));
    vl__reactor_park(&R, 2, VL__REACTOR_READ);
    assert_int_equal(fb.narms, 2);
    assert_int_equal(fb.arms[1].want, VL__REACTOR_READ);
}

/* Writability alone runs the op parked for both once; it leaves both lists
 * and the read-only op stays. */
static void test_both_runs_once_on_write(void **state)
{
    (void)state;
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, BOTH);
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, VL__REACTOR_READ);
    vl__reactor_ready(&R, 100, fb.arms[0].tag, VL__REACTOR_WRITE);
    expect_completion(0, 0);
    assert_int_equal(completions(), 0);
    assert_false(on_list(100, 0, 0));
    assert_false(on_list(100, 1, 0));
    assert_true(on_list(100, 0, 1));
    assert_int_equal(entry(100)->head[1], NONE);
    /* Another write edge finds nothing to run. */
    vl__reactor_ready(&R, 100, entry(100)->tag, VL__REACTOR_WRITE);
    assert_int_equal(completions(), 0);
    assert_int_equal(vl__reactor_cancel(&R, 0), -ENOENT);
}

/* Readability runs it just as well; a notification of both runs it once. */
static void test_both_runs_once_on_read_and_both(void **state)
{
    (void)state;
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, BOTH);
    vl__reactor_ready(&R, 100, fb.arms[0].tag, VL__REACTOR_READ);
    expect_completion(0, 0);
    assert_null(entry(100)); /* nothing parked: the entry went */

    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, BOTH);
    take_slot(2, nop_on(100));
    vl__reactor_park(&R, 2, VL__REACTOR_WRITE);
    vl__reactor_ready(&R, 100, entry(100)->tag, BOTH);
    expect_completion(1, 0);
    expect_completion(2, 0);
    assert_int_equal(completions(), 0);
    assert_null(entry(100));
}

/*
 * An op that meets EAGAIN stays on both lists: a RECV parked for both on a
 * socket with nothing to read runs on writability, says EAGAIN and stays;
 * a notification of both runs it once (the read run) and leaves the write
 * direction to be looked at again (one more arm); data then finishes it.
 */
static void test_both_parked_op_that_would_block(void **state)
{
    (void)state;
    int sv[2];
    char buf[8];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    take_slot(0, vl_op_recv(sv[0], buf, sizeof(buf), 0));
    vl__reactor_park(&R, 0, BOTH);
    assert_int_equal(fb.narms, 1);
    vl__reactor_ready(&R, sv[0], fb.arms[0].tag, VL__REACTOR_WRITE);
    assert_int_equal(completions(), 0);
    assert_true(on_list(sv[0], 0, 0));
    assert_true(on_list(sv[0], 1, 0));
    assert_int_equal(fb.narms, 1); /* it met EAGAIN: the edge needs no recheck */

    vl__reactor_ready(&R, sv[0], fb.arms[0].tag, BOTH);
    assert_int_equal(completions(), 0);
    assert_int_equal(fb.narms, 2); /* the write run stopped at it: recheck */
    assert_int_equal(fb.arms[1].want, BOTH);

    assert_int_equal(write(sv[1], "hi", 2), 2);
    vl__reactor_ready(&R, sv[0], fb.arms[1].tag, VL__REACTOR_READ);
    expect_completion(0, 2);
    assert_memory_equal(buf, "hi", 2);
    assert_null(entry(sv[0]));
    close(sv[0]);
    close(sv[1]);
}

static void test_both_cancel_leaves_both_lists(void **state)
{
    (void)state;
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, BOTH);
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, VL__REACTOR_WRITE);
    assert_int_equal(vl__reactor_cancel(&R, 0), 0);
    expect_completion(0, -ECANCELED);
    assert_false(on_list(100, 0, 0));
    assert_false(on_list(100, 1, 0));
    assert_true(on_list(100, 1, 1));
    assert_int_equal(entry(100)->head[0], NONE);
    assert_int_equal(vl__reactor_cancel(&R, 0), -ENOENT);
    assert_int_equal(completions(), 0);
    /* A read edge has nobody to run now. */
    vl__reactor_ready(&R, 100, entry(100)->tag, VL__REACTOR_READ);
    assert_int_equal(completions(), 0);
    assert_int_equal(vl__reactor_cancel(&R, 1), 0);
    expect_completion(1, -ECANCELED);
    assert_null(entry(100));
}

/* CLOSE cancels an op parked for both once, and disarms the fd. */
static void test_both_close_cancels_once(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    take_slot(0, nop_on(sv[0]));
    vl__reactor_park(&R, 0, BOTH);
    take_slot(1, vl_op_close(sv[0]));
    vl__reactor_submit(&R, 1);
    expect_completion(0, -ECANCELED);
    expect_completion(1, 0);
    assert_int_equal(completions(), 0);
    assert_int_equal(fb.ndisarms, 1);
    assert_int_equal(fb.disarms[0], sv[0]);
    assert_null(entry(sv[0]));
    close(sv[1]);
}

/* An arm the backend fails completes the op with its error, off both lists;
 * parking for no direction is refused. */
static void test_both_arm_failure(void **state)
{
    (void)state;
    fb.refuse = -ENOMEM;
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, BOTH);
    expect_completion(0, -ENOMEM);
    assert_null(entry(100));
    fb.refuse = 0;
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, 0);
    expect_completion(1, -EINVAL);
    assert_null(entry(100));
}

/* ---- held ops -------------------------------------------------------------------- */

static void test_held_done_and_cancel(void **state)
{
    (void)state;
    take_slot(0, vl_op_nop());
    take_slot(1, vl_op_nop());
    take_slot(2, vl_op_nop());
    vl__reactor_hold(&R, 0);
    vl__reactor_hold(&R, 1);
    vl__reactor_hold(&R, 2);
    assert_int_equal(completions(), 0);
    assert_int_equal(fb.narms, 0); /* no fd: nothing to watch */

    assert_int_equal(vl__reactor_hold_done(&R, 1, 42), 0);
    expect_completion(1, 42);
    assert_int_equal(vl__reactor_hold_done(&R, 1, 43), -ENOENT);
    assert_int_equal(completions(), 0);

    assert_int_equal(vl__reactor_cancel(&R, 0), 0);
    expect_completion(0, -ECANCELED);
    assert_int_equal(vl__reactor_hold_done(&R, 0, 1), -ENOENT);
    assert_int_equal(vl__reactor_cancel(&R, 0), -ENOENT);

    assert_int_equal(R.held_head, 2);
    assert_int_equal(R.held_tail, 2);
    assert_int_equal(vl__reactor_hold_done(&R, 2, -EIO), 0);
    expect_completion(2, -EIO);
    assert_int_equal(R.held_head, NONE);
    assert_int_equal(completions(), 0);
}

/* Shutdown cancels every INFLIGHT op (vl_engine_shutdown's loop): held,
 * parked for both and timing ones each complete once, and the reactor
 * holds nothing after. */
static void test_shutdown_releases_everything(void **state)
{
    (void)state;
    take_slot(0, vl_op_nop());
    vl__reactor_hold(&R, 0);
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, BOTH);
    take_slot(2, vl_op_nop());
    vl__reactor_hold(&R, 2);
    struct vl__slot *t = take_slot(3, vl_op_timeout(1000000000));
    t->deadline_ns = UINT64_MAX / 2;
    vl__reactor_submit(&R, 3);
    assert_int_equal(completions(), 0);
    for (uint32_t i = 0; i < CAP; i++)
        if (fslots[i].state == VL__SLOT_INFLIGHT)
            assert_int_equal(vl__reactor_cancel(&R, i), 0);
    for (uint32_t i = 0; i < 4; i++)
        expect_completion(i, -ECANCELED);
    assert_int_equal(completions(), 0);
    assert_int_equal(fe.in_driver, 0);
    assert_int_equal(R.held_head, NONE);
    assert_null(entry(100));
    uint32_t top;
    assert_false(vl__timer_heap_peek(&R.timers, &top));
}

/* ---- WAITPID through a backend's process filter ------------------------------------ */

/* A backend with watch_exit / unwatch_exit, as kqueue's EVFILT_PROC: each
 * call recorded; watch answers proc_rc. */
struct watch_call {
    int pid;
    uint32_t slot; /* UINT32_MAX: an unwatch */
};

static struct {
    struct watch_call calls[16];
    int ncalls;
    int proc_rc;
} fp;

static int fake_watch_exit(void *ctx, int pid, uint32_t slot)
{
    (void)ctx;
    assert_true(fp.ncalls < 16);
    fp.calls[fp.ncalls++] = (struct watch_call){pid, slot};
    return fp.proc_rc;
}

static void fake_unwatch_exit(void *ctx, int pid)
{
    (void)ctx;
    assert_true(fp.ncalls < 16);
    fp.calls[fp.ncalls++] = (struct watch_call){pid, UINT32_MAX};
}

static const struct vl__reactor_backend fake_proc_backend = {.arm = fake_arm,
                                                             .disarm = fake_disarm,
                                                             .watch_exit = fake_watch_exit,
                                                             .unwatch_exit = fake_unwatch_exit};

static int proc_setup(void **state)
{
    (void)state;
    memset(&fp, 0, sizeof(fp));
    int rc = fake_setup(state);
    if (rc == 0) {
        vl__reactor_fini(&R);
        rc = vl__reactor_init(&R, FE, CAP, &fake_proc_backend, NULL);
    }
    return rc;
}

static void expect_call(int k, int pid, uint32_t slot)
{
    assert_true(k < fp.ncalls);
    assert_int_equal(fp.calls[k].pid, pid);
    assert_int_equal(fp.calls[k].slot, slot);
}

/* A child that waits to be killed. */
static pid_t child_sleeper(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

/* Kill the child and wait until it is a zombie, without reaping it. */
static void child_kill_unreaped(pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
}

/* Whether the child is gone (reaped), looking without reaping it. */
static bool child_reaped(pid_t pid)
{
    siginfo_t si;
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

static void submit_waitpid(uint32_t slot, pid_t pid)
{
    take_slot(slot, vl_op_waitpid(pid));
    vl__reactor_submit(&R, slot);
}

/* A running child: the op is held and its pid watched, with no fd armed;
 * the watch's report reaps the child and completes the op with its status.
 * A report for it after that (an event taken before it was cancelled) is
 * ignored. A child that exited before the submit is reaped at once. */
static void test_exit_watch_reaps(void **state)
{
    (void)state;
    pid_t pid = child_sleeper();
    submit_waitpid(0, pid);
    assert_int_equal(completions(), 0);
    assert_int_equal(fp.ncalls, 1);
    expect_call(0, pid, 0);
    assert_int_equal(fb.narms, 0);
    assert_int_equal(R.held_head, 0);

    /* A report while the child still runs: watched again, still held. */
    vl__reactor_exited(&R, 0, pid);
    assert_int_equal(completions(), 0);
    assert_int_equal(fp.ncalls, 2);
    expect_call(1, pid, 0);

    child_kill_unreaped(pid);
    vl__reactor_exited(&R, 0, pid);
    expect_completion(0, VL_CHILD_SIGNALED | SIGKILL);
    assert_true(child_reaped(pid));
    assert_int_equal(R.held_head, NONE);
    vl__reactor_exited(&R, 0, pid);
    assert_int_equal(completions(), 0);
    assert_int_equal(fp.ncalls, 2);

    pid = child_sleeper();
    child_kill_unreaped(pid);
    submit_waitpid(1, pid);
    expect_completion(1, VL_CHILD_SIGNALED | SIGKILL);
    assert_int_equal(fp.ncalls, 2); /* no watch */
    submit_waitpid(2, pid);
    expect_completion(2, -ECHILD);
}

/* CANCEL leaves the child unreaped. With two waiters for one child the
 * backend's single watch moves to the one left, and goes with the last. */
static void test_exit_watch_cancel_leaves_the_child(void **state)
{
    (void)state;
    pid_t pid = child_sleeper();
    submit_waitpid(0, pid);
    submit_waitpid(1, pid);
    assert_int_equal(fp.ncalls, 2);
    expect_call(1, pid, 1);

    assert_int_equal(vl__reactor_cancel(&R, 1), 0);
    expect_completion(1, -ECANCELED);
    assert_int_equal(fp.ncalls, 3);
    expect_call(2, pid, 0); /* moved to the other waiter */
    vl__reactor_exited(&R, 1, pid);
    assert_int_equal(completions(), 0); /* stale: ignored */

    assert_int_equal(vl__reactor_cancel(&R, 0), 0);
    expect_completion(0, -ECANCELED);
    assert_int_equal(fp.ncalls, 4);
    expect_call(3, pid, UINT32_MAX); /* removed */
    assert_int_equal(vl__reactor_cancel(&R, 0), -ENOENT);
    assert_int_equal(R.held_head, NONE);

    child_kill_unreaped(pid);
    vl__reactor_exited(&R, 0, pid);
    assert_int_equal(completions(), 0);
    assert_false(child_reaped(pid));
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* Two waiters: the one the report names gets the status, the other
 * -ECHILD, and no watch is left. */
static void test_exit_watch_second_waiter(void **state)
{
    (void)state;
    pid_t pid = child_sleeper();
    submit_waitpid(0, pid);
    submit_waitpid(1, pid);
    child_kill_unreaped(pid);
    vl__reactor_exited(&R, 1, pid);
    expect_completion(1, VL_CHILD_SIGNALED | SIGKILL);
    expect_completion(0, -ECHILD);
    assert_int_equal(completions(), 0);
    assert_int_equal(R.held_head, NONE);
    assert_true(child_reaped(pid));
    assert_int_equal(fp.ncalls, 2);
}

/* The watch refused: the op completes with the error and the child is
 * left; -ESRCH for a child that still runs stays -ESRCH. A refusal of the watch moved to the
 * other waiter completes that one with it. */
static void test_exit_watch_refused(void **state)
{
    (void)state;
    pid_t pid = child_sleeper();
    fp.proc_rc = -ENOMEM;
    submit_waitpid(0, pid);
    expect_completion(0, -ENOMEM);
    fp.proc_rc = -ESRCH;
    submit_waitpid(1, pid);
    expect_completion(1, -ESRCH);
    assert_int_equal(R.held_head, NONE);
    assert_false(child_reaped(pid));

    fp.proc_rc = 0;
    submit_waitpid(2, pid);
    submit_waitpid(3, pid);
    fp.proc_rc = -EBADF;
    assert_int_equal(vl__reactor_cancel(&R, 3), 0);
    expect_completion(2, -EBADF); /* in the cancel's take, before it */
    expect_completion(3, -ECANCELED);
    assert_int_equal(R.held_head, NONE);

    /* A zombie at submit is reaped at once: no watch asked. */
    child_kill_unreaped(pid);
    int calls = fp.ncalls;
    submit_waitpid(4, pid);
    expect_completion(4, VL_CHILD_SIGNALED | SIGKILL);
    assert_int_equal(fp.ncalls, calls);
    assert_true(child_reaped(pid));
}

/* Shutdown (every INFLIGHT op cancelled) removes the watches and reaps
 * nothing. */
static void test_exit_watch_shutdown(void **state)
{
    (void)state;
    pid_t a = child_sleeper(), b = child_sleeper();
    submit_waitpid(0, a);
    submit_waitpid(1, b);
    for (uint32_t i = 0; i < CAP; i++)
        if (fslots[i].state == VL__SLOT_INFLIGHT)
            assert_int_equal(vl__reactor_cancel(&R, i), 0);
    expect_completion(0, -ECANCELED);
    expect_completion(1, -ECANCELED);
    assert_int_equal(fp.ncalls, 4);
    expect_call(2, a, UINT32_MAX);
    expect_call(3, b, UINT32_MAX);
    assert_int_equal(fe.in_driver, 0);
    assert_int_equal(R.held_head, NONE);
    child_kill_unreaped(a);
    child_kill_unreaped(b);
    assert_int_equal(waitpid(a, NULL, 0), a);
    assert_int_equal(waitpid(b, NULL, 0), b);
}

/* ---- the offload's contract, on the fake engine ------------------------------------ */

static struct {
    uint32_t started[CAP];
    int nstarted;
    int start_rc;
    int cancel_rc;
    int cancels;
    int reaps;
} fo;

static int fo_start(void *ctx, uint32_t slot)
{
    (void)ctx;
    if (fo.start_rc == 0)
        fo.started[fo.nstarted++] = slot;
    return fo.start_rc;
}

static int fo_cancel(void *ctx, uint32_t slot)
{
    (void)ctx;
    (void)slot;
    fo.cancels++;
    return fo.cancel_rc;
}

static void fo_reap(void *ctx)
{
    (void)ctx;
    fo.reaps++;
}

static const struct vl__reactor_offload fake_offload = {
    .start = fo_start, .cancel = fo_cancel, .reap = fo_reap};

/* ---- a backend with reuse: the registration a number kept ------------------- */

static const struct vl__reactor_backend fake_reuse_backend = {
    .arm = fake_arm, .disarm = fake_disarm, .reuse = true};

static int reuse_setup(void **state)
{
    int rc = fake_setup(state);
    if (rc == 0) {
        vl__reactor_fini(&R);
        rc = vl__reactor_init(&R, FE, CAP, &fake_reuse_backend, NULL);
    }
    return rc;
}

static char rbuf[64];

/* A RECV of rbuf on fd in slot i, submitted. */
static void recv_in(uint32_t i, int fd)
{
    take_slot(i, vl_op_recv(fd, rbuf, sizeof(rbuf), 0));
    vl__reactor_submit(&R, i);
}

/*
 * A connection's RECV, RECV, ... cycle: the first parks and arms; once it
 * completes (short: the stream is drained) the next parks on the
 * registration left in place, with no arm, and the events of that
 * registration (its tag) run it: data, then an EOF behind data. The re-use
 * is unproven: a prewait before it is due arms nothing, one with all arms
 * it (a new tag, whose events run it from then on, while the old tag's are
 * stale). A send parking on the same number wants a direction the
 * registration lacks, so it arms.
 */
static void test_reuse_kept_registration(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int fd = sv[0];

    recv_in(0, fd);
    assert_int_equal(completions(), 0);
    assert_int_equal(fb.narms, 1);
    assert_int_equal(fb.arms[0].want, VL__REACTOR_READ);
    uint32_t t1 = fb.arms[0].tag;
    assert_int_equal(send(sv[1], "abc", 3, 0), 3);
    vl__reactor_ready(&R, fd, t1, VL__REACTOR_READ);
    expect_completion(0, 3);
    assert_null(entry(fd));

    /* Drained: parks at once, on the kept registration. */
    recv_in(1, fd);
    assert_int_equal(completions(), 0);
    assert_int_equal(fb.narms, 1);
    assert_non_null(entry(fd));
    assert_int_equal(entry(fd)->tag, t1);
    assert_int_not_equal(entry(fd)->unproven, 0);
    /* Data that came before the RECV parked: its edge carries t1. */
    assert_int_equal(send(sv[1], "defg", 4, 0), 4);
    vl__reactor_ready(&R, fd, t1, VL__REACTOR_READ);
    expect_completion(1, 4);
    assert_memory_equal(rbuf, "defg", 4);

    /* Not due yet: nothing arms. With all: it arms. */
    recv_in(2, fd);
    assert_int_equal(fb.narms, 1);
    vl__reactor_prewait(&R, false);
    assert_int_equal(fb.narms, 1);
    vl__reactor_prewait(&R, true);
    assert_int_equal(fb.narms, 2);
    assert_int_equal(fb.arms[1].want, VL__REACTOR_READ);
    uint32_t t2 = fb.arms[1].tag;
    assert_int_not_equal(t2, t1);
    assert_int_equal(entry(fd)->unproven, 0);
    vl__reactor_ready(&R, fd, t1, VL__REACTOR_READ); /* stale now */
    assert_int_equal(completions(), 0);
    assert_int_equal(send(sv[1], "h", 1, 0), 1);
    vl__reactor_ready(&R, fd, t2, VL__REACTOR_READ);
    expect_completion(2, 1);
    vl__reactor_prewait(&R, true); /* nothing unproven left */
    assert_int_equal(fb.narms, 2);

    /* EOF behind data, reported on the kept registration. */
    recv_in(3, fd);
    assert_int_equal(fb.narms, 2);
    assert_int_equal(entry(fd)->tag, t2);
    assert_int_equal(send(sv[1], "ij", 2, 0), 2);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    vl__reactor_ready(&R, fd, t2, VL__REACTOR_READ | VL__REACTOR_HUP);
    expect_completion(3, 2);
    recv_in(4, fd); /* the peer is done: it reads, and finds EOF at once */
    expect_completion(4, 0);
    assert_int_equal(fb.narms, 2);

    /* A direction the registration lacks: a SEND that parks arms both. */
    char junk[4096];
    memset(junk, 0, sizeof(junk));
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    while (send(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
    take_slot(5, vl_op_send(fd, "x", 1, 0));
    vl__reactor_submit(&R, 5);
    assert_int_equal(completions(), 0);
    assert_int_equal(fb.narms, 3);
    assert_int_equal(fb.arms[2].want, BOTH);
    assert_int_equal(vl__reactor_cancel(&R, 5), 0);
    expect_completion(5, -ECANCELED);
    close(sv[0]);
    close(sv[1]);
}

/*
 * The fd table under collisions: numbers with one home slot (the table
 * has 2 * CAP entries) and their neighbours, parked and then dropped in an
 * order that makes the backward shift move entries; every parked fd stays
 * findable, and the count of entries away from home goes back to 0.
 */
static void test_table_collisions(void **state)
{
    (void)state;
    uint32_t cap = R.mask + 1;
    int fds[CAP] = {3, (int)(3 + cap), (int)(3 + 2 * cap), 4, (int)(4 + cap), 2, (int)(2 + cap), 5};
    for (uint32_t i = 0; i < CAP; i++)
        vl__reactor_park(&R, (take_slot(i, nop_on(fds[i])), i), VL__REACTOR_READ);
    assert_true(R.displaced > 0);
    static const uint32_t order[CAP] = {0, 3, 5, 1, 7, 2, 6, 4};
    for (uint32_t k = 0; k < CAP; k++) {
        for (uint32_t m = k; m < CAP; m++)
            assert_true(on_list(fds[order[m]], 0, order[m]));
        assert_int_equal(vl__reactor_cancel(&R, order[k]), 0);
        expect_completion(order[k], -ECANCELED);
        assert_null(entry(fds[order[k]]));
    }
    assert_int_equal(R.displaced, 0);
}

/* A re-use whose op ends without an event of the registration (a cancel,
 * as a deadline does) proved nothing: the next op arms. */
static void test_reuse_forgotten_unproven(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    recv_in(0, sv[0]);
    assert_int_equal(send(sv[1], "abc", 3, 0), 3);
    vl__reactor_ready(&R, sv[0], fb.arms[0].tag, VL__REACTOR_READ);
    expect_completion(0, 3);
    recv_in(1, sv[0]); /* on the kept registration */
    assert_int_equal(fb.narms, 1);
    assert_int_equal(vl__reactor_cancel(&R, 1), 0);
    expect_completion(1, -ECANCELED);
    recv_in(2, sv[0]);
    assert_int_equal(fb.narms, 2);
    assert_int_equal(entry(sv[0])->unproven, 0);
    assert_int_equal(send(sv[1], "d", 1, 0), 1);
    vl__reactor_ready(&R, sv[0], fb.arms[1].tag, VL__REACTOR_READ);
    expect_completion(2, 1);
    close(sv[0]);
    close(sv[1]);
}

/* Without reuse the backend arms for every parking op, as kqueue's free
 * arms want. */
static void test_no_reuse_arms_each_time(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    recv_in(0, sv[0]);
    assert_int_equal(send(sv[1], "abc", 3, 0), 3);
    vl__reactor_ready(&R, sv[0], fb.arms[0].tag, VL__REACTOR_READ);
    expect_completion(0, 3);
    recv_in(1, sv[0]);
    assert_int_equal(fb.narms, 2);
    assert_int_equal(entry(sv[0])->unproven, 0);
    assert_int_equal(vl__reactor_cancel(&R, 1), 0);
    expect_completion(1, -ECANCELED);
    close(sv[0]);
    close(sv[1]);
}

/* An fd the backend cannot poll (-EPERM) goes to the offload when there is
 * one, and runs inline when there is none. */
static void test_offload_unpollable(void **state)
{
    (void)state;
    memset(&fo, 0, sizeof(fo));
    fb.refuse = -EPERM;
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, VL__REACTOR_READ);
    expect_completion(0, 0); /* inline */
    assert_int_equal(fo.nstarted, 0);

    vl__reactor_set_offload(&R, &fake_offload, NULL);
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, BOTH);
    assert_int_equal(completions(), 0);
    assert_int_equal(fo.nstarted, 1);
    assert_int_equal(fo.started[0], 1);
    assert_null(entry(100));
    /* The worker's part, then the hand-back on the polling thread. */
    assert_int_equal(vl__reactor_work(&R, 1), 0);
    vl__reactor_woken(&R);
    assert_int_equal(fo.reaps, 1);
    vl__reactor_offload_done(&R, 1, 0);
    expect_completion(1, 0);
    assert_int_equal(vl__reactor_cancel(&R, 1), -ENOENT);
    assert_int_equal(fo.cancels, 0);

    /* start may refuse: the op completes with its error. */
    fo.start_rc = -EAGAIN;
    take_slot(2, nop_on(100));
    vl__reactor_park(&R, 2, VL__REACTOR_WRITE);
    expect_completion(2, -EAGAIN);
    assert_int_equal(vl__reactor_cancel(&R, 2), -ENOENT);
    vl__reactor_set_offload(&R, NULL, NULL);
}

/* Cancel of a queued job: 0 and -ECANCELED; of a running one: -EALREADY,
 * and the job's own result later. */
static void test_offload_cancel(void **state)
{
    (void)state;
    memset(&fo, 0, sizeof(fo));
    fb.refuse = -EPERM;
    vl__reactor_set_offload(&R, &fake_offload, NULL);
    take_slot(0, nop_on(100));
    vl__reactor_park(&R, 0, VL__REACTOR_READ);
    take_slot(1, nop_on(100));
    vl__reactor_park(&R, 1, VL__REACTOR_READ);
    assert_int_equal(fo.nstarted, 2);

    fo.cancel_rc = 0;
    assert_int_equal(vl__reactor_cancel(&R, 0), 0);
    expect_completion(0, -ECANCELED);
    assert_int_equal(vl__reactor_cancel(&R, 0), -ENOENT);
    assert_int_equal(fo.cancels, 1);

    fo.cancel_rc = -EALREADY;
    assert_int_equal(vl__reactor_cancel(&R, 1), -EALREADY);
    assert_int_equal(completions(), 0);
    vl__reactor_offload_done(&R, 1, 7);
    expect_completion(1, 7);
    assert_int_equal(fo.cancels, 2);

    /* A CANCEL op reports what the offload said. */
    take_slot(2, nop_on(100));
    vl__reactor_park(&R, 2, VL__REACTOR_READ);
    struct vl__slot *c = take_slot(3, vl_op_cancel(0));
    c->target = 2;
    vl__reactor_submit(&R, 3);
    expect_completion(3, -EALREADY);
    vl__reactor_offload_done(&R, 2, 0);
    expect_completion(2, 0);
    fo.cancel_rc = 0;
    take_slot(4, nop_on(100));
    vl__reactor_park(&R, 4, VL__REACTOR_READ);
    c = take_slot(5, vl_op_cancel(0));
    c->target = 4;
    vl__reactor_submit(&R, 5);
    expect_completion(4, -ECANCELED);
    expect_completion(5, 0);
    vl__reactor_set_offload(&R, NULL, NULL);
}

/* ---- a test offload on a real readiness engine ---------------------------------------- */

/*
 * One worker thread and a FIFO of jobs linked through job[0] of the slots'
 * struct vl__reactor_slot; finished jobs wait in a second FIFO (job[1])
 * until reap. gate, while closed, holds the worker after it took a job, so
 * tests can see a job running and others queued.
 */
struct pool {
    vl_engine *e;
    struct vl__reactor *r;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t qhead, qtail; /* queued jobs */
    uint32_t dhead, dtail; /* finished jobs, results in job[2..3] */
    uint32_t running;      /* the job the worker runs, or NONE */
    bool gate_closed, quit;
    int started, finished, reaped;
};

static struct vl__reactor_slot *job(struct pool *p, uint32_t slot)
{
    return VL__SLOT_DRV(vl__engine_slot(p->e, slot), struct vl__reactor_slot);
}

static void fifo_push(struct pool *p, uint32_t *head, uint32_t *tail, int k, uint32_t slot)
{
    job(p, slot)->u.job[k] = NONE;
    if (*tail == NONE)
        *head = slot;
    else
        job(p, *tail)->u.job[k] = slot;
    *tail = slot;
}

static uint32_t fifo_pop(struct pool *p, uint32_t *head, uint32_t *tail, int k)
{
    uint32_t slot = *head;
    if (slot != NONE) {
        *head = job(p, slot)->u.job[k];
        if (*head == NONE)
            *tail = NONE;
    }
    return slot;
}

static void *pool_worker(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->qhead == NONE)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit)
            break;
        uint32_t slot = fifo_pop(p, &p->qhead, &p->qtail, 0);
        p->running = slot;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        int64_t res = vl__reactor_work(p->r, slot);
        pthread_mutex_lock(&p->mu);
        /* A closed gate holds the job as running until it opens. */
        while (p->gate_closed && !p->quit)
            pthread_cond_wait(&p->cv, &p->mu);
        uint64_t u = (uint64_t)res;
        job(p, slot)->u.job[2] = (uint32_t)u;
        job(p, slot)->u.job[3] = (uint32_t)(u >> 32);
        fifo_push(p, &p->dhead, &p->dtail, 1, slot);
        p->running = NONE;
        p->finished++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (vl_engine_wake(p->e) != 0)
            abort(); /* no cmocka assertions off the test's thread */
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int pool_start(void *ctx, uint32_t slot)
{
    struct pool *p = ctx;
    pthread_mutex_lock(&p->mu);
    fifo_push(p, &p->qhead, &p->qtail, 0, slot);
    p->started++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int pool_cancel(void *ctx, uint32_t slot)
{
    struct pool *p = ctx;
    int rc = -EALREADY; /* running, or finished and waiting for reap */
    pthread_mutex_lock(&p->mu);
    for (uint32_t *at = &p->qhead, prev = NONE; *at != NONE;) {
        uint32_t i = *at;
        if (i == slot) {
            *at = job(p, i)->u.job[0];
            if (p->qtail == i)
                p->qtail = prev;
            rc = 0;
            break;
        }
        prev = i;
        at = &job(p, i)->u.job[0];
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void pool_reap(void *ctx)
{
    struct pool *p = ctx;
    pthread_mutex_lock(&p->mu);
    uint32_t slot;
    while ((slot = fifo_pop(p, &p->dhead, &p->dtail, 1)) != NONE) {
        uint64_t u = job(p, slot)->u.job[2] | (uint64_t)job(p, slot)->u.job[3] << 32;
        p->reaped++;
        pthread_mutex_unlock(&p->mu);
        vl__reactor_offload_done(p->r, slot, (int64_t)u);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

static const struct vl__reactor_offload pool_offload = {
    .start = pool_start, .cancel = pool_cancel, .reap = pool_reap};

static struct pool P;
static vl_engine *E;
#ifdef __linux__
static vl_driver_kind g_kind = VL_DRIVER_EPOLL;
#else
static vl_driver_kind g_kind = VL_DRIVER_KQUEUE;
#endif

/* Completions polled but not yet asked for. */
static struct {
    uint64_t id;
    int64_t result;
} seen[32];
static int nseen;

/* One poll (timeout_ns < 0: until something completes); keeps what came. */
static void pump(int64_t timeout_ns)
{
    vl_completion c[8];
    int n = vl_engine_poll(E, timeout_ns, c, 8);
    assert_true(n >= 0);
    for (int k = 0; k < n; k++) {
        assert_int_equal(c[k].flags, 0);
        assert_true(nseen < 32);
        seen[nseen].id = c[k].id;
        seen[nseen++].result = c[k].result;
    }
}

/* Poll until id's completion arrives; returns its result. */
static int64_t await(int64_t id)
{
    for (;;) {
        for (int k = 0; k < nseen; k++) {
            if (seen[k].id == (uint64_t)id) {
                int64_t res = seen[k].result;
                seen[k] = seen[--nseen];
                return res;
            }
        }
        pump(-1);
    }
}

static int engine_setup(void **state)
{
    (void)state;
    alarm(30);
    vl_engine_config cfg = {g_kind, 0, 64, 0, 0};
    assert_int_equal(vl_engine_create(&cfg, &E), 0);
    memset(&P, 0, sizeof(P));
    nseen = 0;
    P.e = E;
    /* Both readiness drivers' state begins with their reactor. */
    P.r = *vl__engine_drv(E);
    P.qhead = P.qtail = P.dhead = P.dtail = P.running = NONE;
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    assert_int_equal(pthread_create(&P.thread, NULL, pool_worker, &P), 0);
    vl__reactor_set_offload(P.r, &pool_offload, &P);
    return 0;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&P.mu);
    P.quit = true;
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    pthread_join(P.thread, NULL);
    pthread_mutex_destroy(&P.mu);
    pthread_cond_destroy(&P.cv);
}

static int engine_teardown(void **state)
{
    (void)state;
    vl_engine_destroy(E); /* waits for the pool's running jobs */
    E = NULL;
    pool_stop();
    alarm(0);
    return 0;
}

static void gate(bool closed)
{
    pthread_mutex_lock(&P.mu);
    P.gate_closed = closed;
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
}

/* Wait until the worker runs a job. */
static uint32_t wait_running(void)
{
    pthread_mutex_lock(&P.mu);
    while (P.running == NONE)
        pthread_cond_wait(&P.cv, &P.mu);
    uint32_t slot = P.running;
    pthread_mutex_unlock(&P.mu);
    return slot;
}

static int temp_file(void)
{
    char path[] = "/tmp/vllsi-reactor-core-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static int64_t submit(vl_op op)
{
    int64_t id = vl_engine_submit(E, &op, NULL);
    assert_true(id > 0);
    return id;
}

/* READ and WRITE on a regular file run on the worker. */
static void test_pool_file_rw(void **state)
{
    (void)state;
    int fd = temp_file();
    static const char text[] = "offloaded bytes";
    int64_t w = submit(vl_op_write(fd, text, sizeof(text), 0));
    assert_int_equal(await(w), (int64_t)sizeof(text));
    char buf[64] = {0};
    int64_t r = submit(vl_op_read(fd, buf, sizeof(buf), 0));
    assert_int_equal(await(r), (int64_t)sizeof(text));
    assert_string_equal(buf, text);
    pthread_mutex_lock(&P.mu);
    assert_int_equal(P.started, 2);
    assert_int_equal(P.reaped, 2);
    pthread_mutex_unlock(&P.mu);
    /* Bad input still reports as such from the worker: a read-only fd. */
    char path[] = "/tmp/vllsi-reactor-core-ro-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path);
    close(tmp);
    assert_true(ro >= 0);
    int64_t bad = submit(vl_op_write(ro, text, sizeof(text), 0));
    assert_int_equal(await(bad), -EBADF);
    close(ro);

    /* Without the offload the same ops run inline. */
    vl__reactor_set_offload(P.r, NULL, NULL);
    r = submit(vl_op_read(fd, buf, sizeof(buf), 0));
    assert_int_equal(await(r), (int64_t)sizeof(text));
    pthread_mutex_lock(&P.mu);
    assert_int_equal(P.started, 3);
    pthread_mutex_unlock(&P.mu);
    vl__reactor_set_offload(P.r, &pool_offload, &P);
    close(fd);
}

/*
 * The blocking kinds (their opdef row says .blocking: the file and path
 * ops) go to the offload whatever their fd, every one of them, and run
 * inline without one; a queued one is cancelled like any job (0, and the
 * op -ECANCELED having done nothing).
 */
static void test_pool_blocking_kinds(void **state)
{
    (void)state;
    char dir[] = "/tmp/vllsi-reactor-core-XXXXXX", f[64], g[64], d[64];
    assert_non_null(mkdtemp(dir));
    snprintf(f, sizeof(f), "%s/f", dir);
    snprintf(g, sizeof(g), "%s/g", dir);
    snprintf(d, sizeof(d), "%s/d", dir);
    int64_t fd = await(submit(vl_op_openat(VL_AT_FDCWD, f, O_CREAT | O_RDWR, 0600)));
    assert_true(fd >= 0);
    assert_int_equal(await(submit(vl_op_ftruncate((int)fd, 1000))), 0);
    struct vl_statx st;
    assert_int_equal(await(submit(vl_op_statx(VL_AT_FDCWD, f, 0, &st))), 0);
    assert_int_equal(st.size, 1000);
    assert_int_equal(st.mode & VL_S_IFMT, VL_S_IFREG);
    assert_int_equal(await(submit(vl_op_renameat(VL_AT_FDCWD, f, VL_AT_FDCWD, g))), 0);
    assert_int_equal(await(submit(vl_op_mkdirat(VL_AT_FDCWD, d, 0700))), 0);
    assert_int_equal(await(submit(vl_op_unlinkat(VL_AT_FDCWD, d, VL_AT_REMOVEDIR))), 0);
    assert_int_equal(await(submit(vl_op_unlinkat(VL_AT_FDCWD, f, 0))), -ENOENT);
    pthread_mutex_lock(&P.mu);
    assert_int_equal(P.started, 7);
    assert_int_equal(P.reaped, 7);
    pthread_mutex_unlock(&P.mu);

    /* Queued behind a held job, an OPENAT is cancelled before it runs. */
    gate(true);
    int64_t first = submit(vl_op_statx((int)fd, "", VL_AT_EMPTY_PATH, &st));
    pump(0);
    (void)wait_running();
    int64_t second = submit(vl_op_openat(VL_AT_FDCWD, f, O_CREAT | O_RDWR, 0600));
    int64_t c = submit(vl_op_cancel((uint64_t)second));
    assert_int_equal(await(c), 0);
    assert_int_equal(await(second), -ECANCELED);
    gate(false);
    assert_int_equal(await(first), 0);
    assert_int_equal(st.size, 1000);
    assert_int_equal(access(f, F_OK), -1); /* never made */

    /* Without the offload the same kinds run inline. */
    vl__reactor_set_offload(P.r, NULL, NULL);
    assert_int_equal(await(submit(vl_op_ftruncate((int)fd, 10))), 0);
    assert_int_equal(await(submit(vl_op_statx(VL_AT_FDCWD, g, 0, &st))), 0);
    assert_int_equal(st.size, 10);
    assert_int_equal(await(submit(vl_op_unlinkat(VL_AT_FDCWD, g, 0))), 0);
    pthread_mutex_lock(&P.mu);
    assert_int_equal(P.started, 9);
    pthread_mutex_unlock(&P.mu);
    vl__reactor_set_offload(P.r, &pool_offload, &P);
    close((int)fd);
    assert_int_equal(rmdir(dir), 0);
}

/* A special file epoll cannot poll and that has no RWF_NOWAIT (/dev/full;
 * libkqueue polls it through epoll): the backend's -EPERM sends READ and
 * WRITE to the worker. macOS has no /dev/full: skipped there. */
static void test_pool_unpollable(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        print_message("skipped: no /dev/full: %s\n", strerror(errno));
        skip();
    }
    char buf[64];
    memset(buf, 'x', sizeof(buf));
    int64_t r = submit(vl_op_read(fd, buf, sizeof(buf), -1));
    assert_int_equal(await(r), (int64_t)sizeof(buf));
    for (size_t k = 0; k < sizeof(buf); k++)
        assert_int_equal(buf[k], 0);
    int64_t w = submit(vl_op_write(fd, buf, sizeof(buf), -1));
    assert_int_equal(await(w), -ENOSPC);
    pthread_mutex_lock(&P.mu);
    assert_int_equal(P.started, 2);
    pthread_mutex_unlock(&P.mu);
    close(fd);
}

/* CANCEL of a queued job: 0, the job -ECANCELED; of the running one:
 * -EALREADY, the job its own result. */
static void test_pool_cancel(void **state)
{
    (void)state;
    int fd = temp_file();
    char a[16], b[16];
    assert_int_equal(pwrite(fd, "0123456789", 10, 0), 10);
    gate(true);
    int64_t first = submit(vl_op_read(fd, a, sizeof(a), 0));
    pump(0); /* hands it to the driver */
    (void)wait_running();
    int64_t second = submit(vl_op_read(fd, b, sizeof(b), 0));
    int64_t c1 = submit(vl_op_cancel((uint64_t)second));
    int64_t c2 = submit(vl_op_cancel((uint64_t)first));
    assert_int_equal(await(c1), 0);
    assert_int_equal(await(second), -ECANCELED);
    assert_int_equal(await(c2), -EALREADY);
    gate(false);
    assert_int_equal(await(first), 10);
    assert_memory_equal(a, "0123456789", 10);
    /* A cancel of the finished job finds nothing. */
    int64_t c3 = submit(vl_op_cancel((uint64_t)first));
    assert_int_equal(await(c3), -ENOENT);
    close(fd);
}

struct opener {
    pthread_t t;
    int ms;
    bool opened;
};

static void *open_gate_later(void *arg)
{
    struct opener *o = arg;
    usleep((useconds_t)o->ms * 1000);
    pthread_mutex_lock(&P.mu);
    o->opened = true;
    pthread_mutex_unlock(&P.mu);
    gate(false);
    return NULL;
}

/* Shutdown cancels the queued job and waits for the running one: its buffer
 * is the caller's again only when destroy returns. */
static void test_pool_shutdown_waits(void **state)
{
    (void)state;
    int fd = temp_file();
    char a[16], b[16];
    assert_int_equal(pwrite(fd, "abc", 3, 0), 3);
    gate(true);
    submit(vl_op_read(fd, a, sizeof(a), 0));
    pump(0);
    (void)wait_running();
    submit(vl_op_read(fd, b, sizeof(b), 0));
    pump(0);
    pthread_mutex_lock(&P.mu);
    assert_int_equal(P.started, 2);
    assert_true(P.qhead != NONE); /* the second job waits behind the running one */
    pthread_mutex_unlock(&P.mu);
    struct opener o = {.ms = 50};
    assert_int_equal(pthread_create(&o.t, NULL, open_gate_later, &o), 0);
    vl_engine_destroy(E);
    E = NULL;
    pthread_mutex_lock(&P.mu);
    assert_true(o.opened);
    assert_int_equal(P.finished, 1); /* the queued job never ran */
    assert_int_equal(P.reaped, 1);
    assert_int_equal(P.qhead, NONE);
    pthread_mutex_unlock(&P.mu);
    pthread_join(o.t, NULL);
    assert_memory_equal(a, "abc", 3);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "kqueue") == 0) {
        g_kind = VL_DRIVER_KQUEUE;
    } else if (argc > 1 && strcmp(argv[1], "epoll") == 0) {
        g_kind = VL_DRIVER_EPOLL;
    } else if (argc > 1) {
        fprintf(stderr, "usage: %s [epoll|kqueue]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_both_arms_union_and_lists, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_both_runs_once_on_write, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_both_runs_once_on_read_and_both, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_both_parked_op_that_would_block, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_both_cancel_leaves_both_lists, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_both_close_cancels_once, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_both_arm_failure, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_held_done_and_cancel, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_releases_everything, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_exit_watch_reaps, proc_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_exit_watch_cancel_leaves_the_child, proc_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_exit_watch_second_waiter, proc_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_exit_watch_refused, proc_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_exit_watch_shutdown, proc_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_reuse_kept_registration, reuse_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_reuse_forgotten_unproven, reuse_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_no_reuse_arms_each_time, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_table_collisions, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_offload_unpollable, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_offload_cancel, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_pool_file_rw, engine_setup, engine_teardown),
        cmocka_unit_test_setup_teardown(test_pool_blocking_kinds, engine_setup, engine_teardown),
        cmocka_unit_test_setup_teardown(test_pool_unpollable, engine_setup, engine_teardown),
        cmocka_unit_test_setup_teardown(test_pool_cancel, engine_setup, engine_teardown),
        cmocka_unit_test_setup_teardown(test_pool_shutdown_waits, engine_setup, engine_teardown),
    };
    return cmocka_run_group_tests_name(
        g_kind == VL_DRIVER_KQUEUE ? "reactor_core.kqueue" : "reactor_core", tests, NULL, NULL);
}
