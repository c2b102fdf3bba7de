/*
 * bench/nop_count.c - the NOP loop of bench/micro/engine_nop.cc in plain C,
 * for counting instructions with callgrind, which, unlike a timer, gives
 * the same figure on a busy machine: queue `batch` NOPs, reap all of their
 * completions, `rounds` times. scripts/nop-instructions.sh builds it against
 * a build directory and reports the user-space instructions per NOP.
 *
 * With `idle` (1..4096), ops with deadlines among many others: every NOP
 * carries a 10 s deadline (VL_OP_F_DEADLINE), as a server's RECVs and
 * SENDs carry theirs, while `idle` RECVs with a 15 s one wait on a socket
 * pair that never gets data, like a server's idle connections; the figure
 * then includes adding and removing each NOP's deadline among theirs. A
 * NOP's deadline comes before every idle one's, so a binary heap would
 * move each to the top and take it from there (2 log n steps; a server's
 * RECV, which replaces the oldest deadline, costs one log n), while the
 * core's per-value lists cost the same whatever the order.
 *
 *   nop_count [uring|epoll] [batch (1..256, default 32)] [rounds (default 1000)] [idle]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vllsi/engine.h>
#include <vllsi/sys/time.h>

int main(int argc, char **argv)
{
    vl_driver_kind kind = VL_DRIVER_URING;
    if (argc > 1 && strcmp(argv[1], "epoll") == 0)
        kind = VL_DRIVER_EPOLL;
    int batch = argc > 2 ? atoi(argv[2]) : 32;
    long rounds = argc > 3 ? atol(argv[3]) : 1000;
    int idle = argc > 4 ? atoi(argv[4]) : 0;
    if (batch < 1 || batch > 256 || rounds < 0 || idle < 0 || idle > 4096) {
        fprintf(stderr, "usage: nop_count [uring|epoll] [batch 1..256] [rounds] [idle 0..4096]\n");
        return 2;
    }
    vl_engine_config cfg = {kind, 0, idle > 0 ? (uint32_t)idle + 256 : 0, 0, 0};
    vl_engine *e = NULL;
    int rc = vl_engine_create(&cfg, &e);
    if (rc != 0) {
        fprintf(stderr, "nop_count: vl_engine_create: %s\n", vl_strerror(rc));
        return 1;
    }
    vl_op nop = vl_op_nop();
    int sv[2] = {-1, -1};
    static char idle_buf[1];
    if (idle > 0) {
        nop.flags |= VL_OP_F_DEADLINE;
        nop.deadline_ns = 10 * VL_NS_PER_SEC;
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            perror("nop_count: socketpair");
            return 1;
        }
        vl_op recv = vl_op_recv(sv[0], idle_buf, sizeof idle_buf, 0);
        recv.flags |= VL_OP_F_DEADLINE;
        recv.deadline_ns = 15 * VL_NS_PER_SEC;
        for (int i = 0; i < idle; i++)
            if (vl_engine_submit(e, &recv, NULL) < 0)
                return 1;
    }
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
    vl_engine_destroy(e); /* cancels the idle RECVs */
    if (sv[0] >= 0) {
        close(sv[0]);
        close(sv[1]);
    }
    return sum != 0; /* every NOP completes with 0 */
}
