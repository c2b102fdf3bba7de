/*
 * NOP submit+poll throughput at batch 32: the engine (io_uring driver, with and
 * without the task-run flags) against a plain liburing loop with the same ring
 * flags, alternated in one run. Figures in docs/engine.md. Build from the repo
 * root after scripts/test:
 *   gcc -std=gnu17 -O2 -Iinclude docs/tools/engine_nop_vs_liburing.c build/libvllsi-engine.a \
 *       build/libvllsi-sys.a -luring -lpthread -o /tmp/nop_uring && /tmp/nop_uring
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vllsi/engine.h>
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
#define BATCH 32
#define ITERS 20000
static double bench_engine(uint32_t flags)
{
    vl_engine_config c = {VL_DRIVER_URING, 256, 4096, flags, 0};
    vl_engine *e;
    if (vl_engine_create(&c, &e))
        abort();
    vl_completion out[BATCH];
    vl_op nop = vl_op_nop();
    double t0 = now();
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < BATCH; i++)
            if (vl_engine_submit(e, &nop, NULL) < 0)
                abort();
        int got = 0;
        while (got < BATCH) {
            int n = vl_engine_poll(e, -1, out, BATCH);
            if (n < 0)
                abort();
            got += n;
        }
    }
    double dt = now() - t0;
    vl_engine_destroy(e);
    return (double)ITERS * BATCH / dt;
}
static double bench_raw(unsigned flags)
{
    struct io_uring r;
    struct io_uring_params p = {0};
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = 8194;
    if (io_uring_queue_init_params(256, &r, &p))
        abort();
    if (flags & IORING_SETUP_SINGLE_ISSUER)
        io_uring_register_ring_fd(&r);
    double t0 = now();
    for (int it = 0; it < ITERS; it++) {
        for (int i = 0; i < BATCH; i++) {
            struct io_uring_sqe *s = io_uring_get_sqe(&r);
            io_uring_prep_nop(s);
            s->user_data = i;
        }
        io_uring_submit(&r);
        int got = 0;
        while (got < BATCH) {
            struct io_uring_cqe *cqe;
            unsigned head, n = 0;
            io_uring_for_each_cqe(&r, head, cqe) n++;
            io_uring_cq_advance(&r, n);
            got += n;
            if (got < BATCH)
                io_uring_wait_cqe(&r, &cqe);
        }
    }
    double dt = now() - t0;
    io_uring_queue_exit(&r);
    return (double)ITERS * BATCH / dt;
}
int main(void)
{
    unsigned fl = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                  IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CLAMP;
    for (int run = 0; run < 5; run++) {
        double a = bench_engine(0), b = bench_raw(fl);
        double c = bench_engine(VL_ENGINE_NO_TASKRUN_FLAGS),
               d = bench_raw(IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CLAMP);
        printf("run %d: DEFER: engine %.2f Mops/s raw %.2f Mops/s ratio %.3f | plain: engine %.2f "
               "raw %.2f ratio %.3f\n",
               run, a / 1e6, b / 1e6, a / b, c / 1e6, d / 1e6, c / d);
    }
}
