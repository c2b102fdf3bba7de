/*
 * bench/micro/timers.cc - timer start/stop and restart with many live timers:
 * vllsi's loop timers (<vllsi/loop.h>: a 4-ary min-heap in an array, each
 * timer keeping its index) against libev's ev_timer (a 4-ary heap in an
 * array, libev's default). state.range(0) timers are live on the loop, none ever fires (the
 * loop is not run), and each iteration is:
 *
 *  - timer.start_stop: start one more timer and stop it again: one insert
 *    and one removal of a timer that lands at a random place in the heap;
 *  - timer.restart: restart one of the live timers (the idle-timeout
 *    pattern: vl_timer_again / ev_timer_again), cycling through them in a
 *    shuffled order, so its deadline moves from inside the heap to the end.
 *
 * Both sides draw the same timeouts, uniform in [1000 s, 2000 s) (far
 * enough that none falls due while the vllsi loop runs), from the same
 * fixed sequence. Both take "now" from the loop time cached at the last
 * poll where a server's callbacks would: libev always (ev_now), vllsi inside
 * vl_loop_run (vl_loop_now; outside it vl_timer_start reads the clock, vDSO
 * ~23 ns here). So start_stop runs vllsi's side inside a timer callback,
 * where server code starts timers, and libev's anywhere (the same for it).
 * For restart both refresh the clock first (ev_now_update; vllsi runs
 * outside the loop, so vl_timer_again reads it), since with a frozen clock
 * a restart would re-insert every timer at its old deadline and measure
 * nothing; a real loop's clock moves on at every poll.
 */
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#ifdef VLLSI_BENCH_HAVE_LIBEV
#include <ev.h>
#endif

#include <vllsi/loop.h>

#include "micro.h"

namespace
{

constexpr int64_t kSecond = 1000000000;

/* A fixed pseudo-random sequence (splitmix64), the same for both sides. */
struct Rng {
    uint64_t s;
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        return z ^ (z >> 31);
    }
    /* A timeout in [1000 s, 2000 s), in ns. */
    int64_t timeout_ns()
    {
        return 1000 * kSecond +
               static_cast<int64_t>(next() % static_cast<uint64_t>(1000 * kSecond));
    }
};

/* The timeouts of the live timers, the probe timeouts (a power of two, used
 * cyclically) and a shuffled order of the live timers for the restart case. */
struct Plan {
    std::vector<int64_t> live, probe;
    std::vector<uint32_t> order;
    explicit Plan(size_t n)
    {
        Rng r{42};
        live.resize(n);
        for (auto &t : live)
            t = r.timeout_ns();
        probe.resize(4096);
        for (auto &t : probe)
            t = r.timeout_ns();
        order.resize(n);
        for (size_t i = 0; i < n; i++)
            order[i] = static_cast<uint32_t>(i);
        for (size_t i = n; i > 1; i--)
            std::swap(order[i - 1], order[r.next() % i]);
    }
};

void vl_nop_cb(vl_loop *, vl_timer *)
{
}

#ifdef VLLSI_BENCH_HAVE_LIBEV
void ev_nop_cb(struct ev_loop *, ev_timer *, int)
{
}
#endif

double to_s(int64_t ns)
{
    return static_cast<double>(ns) / 1e9;
}

/*
 * The live timers are set up once per count and kept for every run that
 * wants that count (Google Benchmark calls a case several times while it
 * sizes the iterations, and with repetitions; building 10^6 timers each time
 * would dominate the whole bench target). They are replaced when another
 * count is asked for. start_stop leaves the heap as it found it; restart
 * moves deadlines later, which keeps the heap a valid heap of spread-out
 * deadlines.
 */
struct VlSet {
    vl_loop *loop = nullptr;
    std::unique_ptr<Plan> plan;
    std::vector<vl_timer> timers;
    ~VlSet()
    {
        vl_loop_destroy(loop);
    }
};

/* The vllsi loop with n live timers; nullptr (and the state skipped) on failure. */
VlSet *vl_setup(benchmark::State &state, size_t n)
{
    static std::unique_ptr<VlSet> cached;
    if (cached && cached->timers.size() == n)
        return cached.get();
    cached.reset();
    auto set = std::make_unique<VlSet>();
    int rc = vl_loop_init(&set->loop, nullptr);
    if (rc != 0) {
        state.SkipWithError(("vl_loop_init: " + std::to_string(rc)).c_str());
        return nullptr;
    }
    set->plan = std::make_unique<Plan>(n);
    set->timers.resize(n);
    for (size_t i = 0; i < n; i++) {
        vl_timer_init(&set->timers[i], vl_nop_cb, nullptr);
        if (vl_timer_start(set->loop, &set->timers[i], set->plan->live[i], 0) != 0) {
            state.SkipWithError("vl_timer_start failed");
            return nullptr;
        }
    }
    cached = std::move(set);
    return cached.get();
}

#ifdef VLLSI_BENCH_HAVE_LIBEV
struct EvSet {
    struct ev_loop *loop = nullptr;
    std::unique_ptr<Plan> plan;
    std::vector<ev_timer> timers;
    ~EvSet()
    {
        if (loop == nullptr)
            return;
        for (auto &t : timers)
            ev_timer_stop(loop, &t);
        ev_loop_destroy(loop);
    }
};

EvSet *ev_setup(benchmark::State &state, size_t n)
{
    static std::unique_ptr<EvSet> cached;
    if (cached && cached->timers.size() == n)
        return cached.get();
    cached.reset();
    auto set = std::make_unique<EvSet>();
    set->loop = ev_loop_new(EVBACKEND_EPOLL);
    if (set->loop == nullptr) {
        state.SkipWithError("ev_loop_new failed");
        return nullptr;
    }
    set->plan = std::make_unique<Plan>(n);
    set->timers.resize(n);
    for (size_t i = 0; i < n; i++) {
        /* repeat = timeout: what ev_timer_again restarts with. */
        double t = to_s(set->plan->live[i]);
        ev_timer_init(&set->timers[i], ev_nop_cb, t, t);
        ev_timer_start(set->loop, &set->timers[i]);
    }
    cached = std::move(set);
    return cached.get();
}
#endif

} // namespace

namespace vb
{

struct StartStop {
    benchmark::State *state;
    VlSet *set;
};

/* The measured loop, run from a timer callback inside vl_loop_run. */
void start_stop_cb(vl_loop *loop, vl_timer *kick)
{
    auto *run = static_cast<StartStop *>(kick->ctx);
    const std::vector<int64_t> &probe_ns = run->set->plan->probe;
    vl_timer probe;
    vl_timer_init(&probe, vl_nop_cb, nullptr);
    size_t k = 0;
    for (auto _ : *run->state) {
        int a = vl_timer_start(loop, &probe, probe_ns[k++ & 4095], 0);
        int b = vl_timer_stop(&probe);
        benchmark::DoNotOptimize(a + b);
    }
}

void timer_start_stop_vllsi(benchmark::State &state)
{
    VlSet *set = vl_setup(state, static_cast<size_t>(state.range(0)));
    if (set == nullptr)
        return;
    StartStop run{&state, set};
    vl_timer kick;
    vl_timer_init(&kick, start_stop_cb, &run);
    if (vl_timer_start(set->loop, &kick, 0, 0) != 0 || vl_loop_run(set->loop, VL_RUN_ONCE) != 1)
        state.SkipWithError("the kick timer did not run once");
}

#ifdef VLLSI_BENCH_HAVE_LIBEV
void timer_start_stop_libev(benchmark::State &state)
{
    EvSet *set = ev_setup(state, static_cast<size_t>(state.range(0)));
    if (set == nullptr)
        return;
    const std::vector<int64_t> &probe_ns = set->plan->probe;
    ev_timer probe;
    ev_timer_init(&probe, ev_nop_cb, 1.0, 0.0);
    size_t k = 0;
    for (auto _ : state) {
        ev_timer_set(&probe, to_s(probe_ns[k++ & 4095]), 0.0);
        ev_timer_start(set->loop, &probe);
        ev_timer_stop(set->loop, &probe);
        benchmark::DoNotOptimize(probe.active);
    }
}
#else
void timer_start_stop_libev(benchmark::State &state)
{
    state.SkipWithError("built without libev (apt-get install libev-dev)");
}
#endif

void timer_restart_vllsi(benchmark::State &state)
{
    VlSet *set = vl_setup(state, static_cast<size_t>(state.range(0)));
    if (set == nullptr)
        return;
    const std::vector<uint32_t> &order = set->plan->order;
    size_t k = 0, n = order.size();
    for (auto _ : state) {
        int rc = vl_timer_again(&set->timers[order[k]]);
        benchmark::DoNotOptimize(rc);
        if (++k == n)
            k = 0;
    }
}

#ifdef VLLSI_BENCH_HAVE_LIBEV
void timer_restart_libev(benchmark::State &state)
{
    EvSet *set = ev_setup(state, static_cast<size_t>(state.range(0)));
    if (set == nullptr)
        return;
    const std::vector<uint32_t> &order = set->plan->order;
    size_t k = 0, n = order.size();
    for (auto _ : state) {
        ev_now_update(set->loop);
        ev_timer *t = &set->timers[order[k]];
        ev_timer_again(set->loop, t);
        benchmark::DoNotOptimize(t->active);
        if (++k == n)
            k = 0;
    }
}
#else
void timer_restart_libev(benchmark::State &state)
{
    state.SkipWithError("built without libev (apt-get install libev-dev)");
}
#endif

} // namespace vb
