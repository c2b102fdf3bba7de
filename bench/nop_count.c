/*
 * bench/nop_count.c - the NOP loop of bench/micro/engine_nop.cc in plain C,
 * for counting instructions with callgrind, which, unlike a timer, gives
 * the same figure on a busy machine: queue `batch` NOPs, reap all of their
 * completions, `rounds` times. scripts/nop-instructions.sh builds it against
 * a build directory and reports the user-space instructions per NOP.
 *
 *   nop_count [uring|epoll] [batch (1..256, default 32)] [rounds (default 1000)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vllsi/engine.h>

int main(int argc, char **argv)
{
    vl_driver_kind kind = VL_DRIVER_URING;
    if (argc > 1 && strcmp(argv[1], "epoll") == 0)
        kind = VL_DRIVER_EPOLL;
    int batch = argc > 2 ? atoi(argv[2]) : 32;
    long rounds = argc > 3 ? atol(argv[3]) : 1000;
    if (batch < 1 || batch > 256 || rounds < 0) {
        fprintf(stderr, "usage: nop_count [uring|epoll] [batch 1..256] [rounds]\n");
        return 2;
    }
    vl_engine_config cfg = {kind, 0, 0, 0, 0};
    vl_engine *e = NULL;
    int rc = vl_engine_create(&cfg, &e);
    if (rc != 0) {
        fprintf(stderr, "nop_count: vl_engine_create: %s\n", vl_strerror(rc));
        return 1;
    }
    const vl_op nop = vl_op_nop();
    vl_completion out[256];
    unsigned long sum = 0;
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < batch; i++)
            if (vl_engine_submit(e, &nop, NULL) < 0)
                return 1;
        for (int got = 0; got < batch;) {
            int n = vl_engine_poll(e, -1, out, 256);
            if (n < 0)
                return 1;
            for (int j = 0; j < n; j++)
                sum += (unsigned long)out[j].result;
            got += n;
        }
    }
    vl_engine_destroy(e);
    return sum != 0; /* every NOP completes with 0 */
}
