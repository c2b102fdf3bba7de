/*
 * bench/micro/engine_nop.cc - NOP submit+poll through vl_engine against the
 * raw loop its driver stands on. One iteration is one batch: queue
 * state.range(0) NOPs, then reap all of their completions; items/s counts
 * NOPs. Every loop adds each completion's result to a sum, so all of them
 * touch every completion once.
 */
#include <cstdint>
#include <cstring>
#include <string>

#include <liburing.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vllsi/engine.h>

#include "micro.h"

namespace
{

constexpr int kMaxBatch = 256;

void finish(benchmark::State &state, int batch, uint64_t sum)
{
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * batch);
    state.counters["batch"] = batch; /* main.cc divides by it: ns per NOP */
}

void engine_nop(benchmark::State &state, vl_driver_kind kind)
{
    const int batch = static_cast<int>(state.range(0));
    /* The defaults: 256 SQ entries, 4096 ids (a CQ of 8194 on io_uring). */
    vl_engine_config cfg = {kind, 0, 0, 0, 0};
    vl_engine *e = nullptr;
    int rc = vl_engine_create(&cfg, &e);
    if (rc != 0) {
        state.SkipWithError(("vl_engine_create: " + std::to_string(rc)).c_str());
        return;
    }
    const vl_op nop = vl_op_nop();
    vl_completion out[kMaxBatch];
    uint64_t sum = 0;
    for (auto _ : state) {
        for (int i = 0; i < batch; i++) {
            if (vl_engine_submit(e, &nop, nullptr) < 0) {
                state.SkipWithError("vl_engine_submit failed");
                break;
            }
        }
        int got = 0;
        while (got < batch) {
            int n = vl_engine_poll(e, -1, out, kMaxBatch);
            if (n < 0) {
                state.SkipWithError("vl_engine_poll failed");
                break;
            }
            for (int j = 0; j < n; j++)
                sum += static_cast<uint64_t>(out[j].result);
            got += n;
        }
        if (state.error_occurred())
            break;
    }
    vl_engine_destroy(e);
    finish(state, batch, sum);
}

} // namespace

namespace vb
{

void nop_uring_vllsi(benchmark::State &state)
{
    engine_nop(state, VL_DRIVER_URING);
}

void nop_epoll_vllsi(benchmark::State &state)
{
    engine_nop(state, VL_DRIVER_EPOLL);
}

/*
 * The raw liburing peer: the ring the io_uring driver asks for (256 SQ
 * entries, CQ of 2 * 4096 + 2, SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG |
 * SUBMIT_ALL, CQSIZE | CLAMP, registered ring fd). Per batch: get_sqe +
 * prep_nop per NOP, one io_uring_submit_and_wait(batch) (one io_uring_enter,
 * as the engine's poll makes one), then reap with for_each_cqe + cq_advance.
 */
void nop_uring_liburing(benchmark::State &state)
{
    const int batch = static_cast<int>(state.range(0));
    struct io_uring ring;
    struct io_uring_params p;
    std::memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
              IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = 2 * VL_ENGINE_DEFAULT_MAX_INFLIGHT + 2;
    int rc = io_uring_queue_init_params(VL_ENGINE_DEFAULT_ENTRIES, &ring, &p);
    if (rc < 0) {
        state.SkipWithError(("io_uring_queue_init_params: " + std::to_string(rc)).c_str());
        return;
    }
    io_uring_register_ring_fd(&ring);
    uint64_t sum = 0;
    for (auto _ : state) {
        for (int i = 0; i < batch; i++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(i));
        }
        if (io_uring_submit_and_wait(&ring, static_cast<unsigned>(batch)) < 0) {
            state.SkipWithError("io_uring_submit_and_wait failed");
            break;
        }
        int got = 0;
        while (got < batch) {
            struct io_uring_cqe *cqe;
            unsigned head, n = 0;
            io_uring_for_each_cqe(&ring, head, cqe)
            {
                sum += static_cast<uint64_t>(cqe->res);
                n++;
            }
            io_uring_cq_advance(&ring, n);
            got += static_cast<int>(n);
            if (got < batch && io_uring_wait_cqe(&ring, &cqe) < 0) {
                state.SkipWithError("io_uring_wait_cqe failed");
                break;
            }
        }
        if (state.error_occurred())
            break;
    }
    io_uring_queue_exit(&ring);
    finish(state, batch, sum);
}

/*
 * The raw epoll peer. A readiness loop has no NOP, so the fair equivalent of
 * "submit NOPs, poll their completions" chosen here is: queue the items in a
 * user-space array (the submit), then run one loop iteration - one
 * epoll_wait(timeout 0) on an epoll set that holds one idle eventfd (as the
 * driver's set holds its wake eventfd) - and complete the queued items into
 * the output array (the poll). One system call per batch, whatever the batch.
 *
 * Note: the engine's epoll driver finishes NOPs in flush and, with
 * completions already queued, returns them without entering the kernel, so
 * this peer pays one epoll_wait per batch that the engine does not make.
 */
void nop_epoll_raw(benchmark::State &state)
{
    struct item {
        uint64_t id;
        int64_t result;
        void *user_data;
    };
    const int batch = static_cast<int>(state.range(0));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev;
    std::memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    if (ep < 0 || efd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0) {
        state.SkipWithError("epoll/eventfd setup failed");
        if (ep >= 0)
            close(ep);
        if (efd >= 0)
            close(efd);
        return;
    }
    item queue[kMaxBatch], out[kMaxBatch];
    struct epoll_event events[64];
    uint64_t next_id = 1, sum = 0;
    for (auto _ : state) {
        for (int i = 0; i < batch; i++)
            queue[i] = item{next_id++, 0, nullptr};
        if (epoll_wait(ep, events, 64, 0) < 0) {
            state.SkipWithError("epoll_wait failed");
            break;
        }
        for (int j = 0; j < batch; j++) {
            out[j] = queue[j];
            sum += static_cast<uint64_t>(out[j].result);
        }
        benchmark::DoNotOptimize(out);
    }
    close(efd);
    close(ep);
    finish(state, batch, sum);
}

} // namespace vb
