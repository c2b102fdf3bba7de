/*
 * bench/micro/micro.h - the micro-benchmark cases. Each vllsi case has a peer
 * with the same shape (same loop, same work per iteration); main.cc registers
 * them side by side and prints the vllsi/peer ratio of the medians.
 */
#ifndef VLLSI_BENCH_MICRO_H
#define VLLSI_BENCH_MICRO_H

#include <benchmark/benchmark.h>

namespace vb
{

/* engine_nop.cc: one iteration = submit state.range(0) NOPs, reap them all. */
void nop_uring_vllsi(benchmark::State &state);
void nop_uring_liburing(benchmark::State &state);
void nop_epoll_vllsi(benchmark::State &state);
void nop_epoll_raw(benchmark::State &state);

/* sys.cc */
void ctx_get_vllsi(benchmark::State &state);
void tls_slot_get_vllsi(benchmark::State &state);
void getspecific_pthread(benchmark::State &state);
void ctx_scope_vllsi(benchmark::State &state);
void scope_pthread(benchmark::State &state);
void mutex_vllsi(benchmark::State &state);
void mutex_pthread(benchmark::State &state);
void spin_vllsi(benchmark::State &state);
void spin_pthread(benchmark::State &state);
void clock_vllsi(benchmark::State &state);
void clock_libc(benchmark::State &state);
void mem_vllsi(benchmark::State &state);
void mem_mmap(benchmark::State &state);

/* timers.cc: state.range(0) live timers; one iteration = start + stop of one
 * more timer, or the restart of a live one. */
void timer_start_stop_vllsi(benchmark::State &state);
void timer_start_stop_libev(benchmark::State &state);
void timer_restart_vllsi(benchmark::State &state);
void timer_restart_libev(benchmark::State &state);

/* pingpong.cc: state.range(0) 0 = socketpair, 1 = loopback TCP; one
 * iteration = one 64-byte round trip inside one thread's loop. */
void pingpong_vllsi_multi_auto(benchmark::State &state); /* multishot RECV on both ends */
void pingpong_vllsi_multi_epoll(benchmark::State &state);
void pingpong_vllsi_auto(benchmark::State &state); /* a single-shot RECV per message */
void pingpong_vllsi_epoll(benchmark::State &state);
void pingpong_libuv(benchmark::State &state);
void pingpong_libev(benchmark::State &state);

} // namespace vb

#endif /* VLLSI_BENCH_MICRO_H */
