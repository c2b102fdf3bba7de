/*
 * bench/micro/main.cc - registers every vllsi case right before its peer, with
 * the same shape, runs them with Google Benchmark, and ends with a table of
 * vllsi/peer ratios of the medians (of the repetitions when there are some).
 *
 * Ratio = vllsi time per op / peer time per op (real time; op = one NOP for
 * the engine cases, one loop iteration otherwise): below 1, vllsi is faster.
 */
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <vllsi/engine.h>
#include <vllsi/sys/time.h>

#include "micro.h"

namespace
{

using Fn = void (*)(benchmark::State &);
using Shape = std::function<void(benchmark::internal::Benchmark *)>;

struct Pair {
    std::string vl, peer; /* function names as registered */
};
std::vector<Pair> g_pairs;

/* Register group/vl_tag and group/peer_tag back to back with one shape. */
void pair(const std::string &group, const char *vl_tag, Fn vl, const char *peer_tag, Fn peer,
          Shape shape)
{
    std::string a = group + "/" + vl_tag, b = group + "/" + peer_tag;
    shape(benchmark::RegisterBenchmark(a.c_str(), vl));
    shape(benchmark::RegisterBenchmark(b.c_str(), peer));
    g_pairs.push_back(Pair{a, b});
}

/* The key of a run: its name without the function name and the aggregate. */
std::string key_of(const benchmark::BenchmarkName &n)
{
    std::string k = n.args;
    for (const std::string *s : {&n.time_type, &n.threads}) {
        if (s->empty())
            continue;
        if (!k.empty())
            k += "/";
        k += *s;
    }
    return k;
}

/* The console output, then the ratio table at the end. */
class RatioReporter : public benchmark::ConsoleReporter
{
  public:
    void ReportRuns(const std::vector<Run> &runs) override
    {
        ConsoleReporter::ReportRuns(runs);
        for (const Run &r : runs) {
            bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
            if (r.error_occurred || (r.run_type == Run::RT_Aggregate && !median))
                continue;
            std::pair<std::string, std::string> id{r.run_name.function_name, key_of(r.run_name)};
            Seen &s = seen_[id];
            if (s.median && !median)
                continue;
            double ns =
                r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit) * 1e9;
            auto batch = r.counters.find("batch");
            if (batch != r.counters.end() && batch->second.value > 0)
                ns /= batch->second.value;
            s = Seen{ns, median};
            if (std::find(order_.begin(), order_.end(), id) == order_.end())
                order_.push_back(id);
        }
    }

    void Finalize() override
    {
        ConsoleReporter::Finalize();
        std::FILE *out = stdout;
        std::fflush(out);
        std::fprintf(out, "\nvllsi vs peer: ns per op (median), ratio = vllsi / peer (< 1: vllsi "
                          "faster)\n");
        std::fprintf(out, "%-52s %12s %12s %8s\n", "case", "vllsi ns/op", "peer ns/op", "ratio");
        for (const auto &id : order_) {
            const Pair *p = find_pair(id.first);
            if (p == nullptr || p->vl != id.first)
                continue;
            auto vl = seen_.find(id), peer = seen_.find({p->peer, id.second});
            if (peer == seen_.end())
                continue;
            std::string name = id.first + (id.second.empty() ? "" : "/" + id.second) + " vs " +
                               p->peer.substr(p->peer.rfind('/') + 1);
            for (size_t at; (at = name.find("/real_time")) != std::string::npos;)
                name.erase(at, 10);
            std::fprintf(out, "%-52s %12.2f %12.2f %8.3f\n", name.c_str(), vl->second.ns,
                         peer->second.ns, vl->second.ns / peer->second.ns);
        }
        std::fflush(out);
    }

  private:
    struct Seen {
        double ns = 0;
        bool median = false;
    };
    std::map<std::pair<std::string, std::string>, Seen> seen_;
    std::vector<std::pair<std::string, std::string>> order_;

    static const Pair *find_pair(const std::string &fn)
    {
        for (const Pair &p : g_pairs)
            if (p.vl == fn || p.peer == fn)
                return &p;
        return nullptr;
    }
};

void register_all()
{
    /* NOP submit+poll: one iteration is one batch; every batch size runs the
     * vllsi case and then its peer. */
    for (int batch : {1, 8, 32, 256}) {
        Shape shape = [batch](benchmark::internal::Benchmark *b) { b->Arg(batch)->UseRealTime(); };
        pair("nop.uring", "vllsi", vb::nop_uring_vllsi, "liburing", vb::nop_uring_liburing, shape);
        pair("nop.epoll", "vllsi", vb::nop_epoll_vllsi, "epoll", vb::nop_epoll_raw, shape);
    }

    Shape plain = [](benchmark::internal::Benchmark *b) { b->UseRealTime(); };
    pair("ctx.get", "vllsi", vb::ctx_get_vllsi, "pthread_getspecific", vb::getspecific_pthread,
         plain);
    pair("tls.slot_get", "vllsi", vb::tls_slot_get_vllsi, "pthread_getspecific",
         vb::getspecific_pthread, plain);
    pair("ctx.scope", "vllsi", vb::ctx_scope_vllsi, "pthread_specific", vb::scope_pthread, plain);

    /* Locks: uncontended (1 thread), then 2 threads on the same lock. With
     * threads the time is wall time per lock+unlock across both threads. */
    for (int threads : {1, 2}) {
        Shape shape = [threads](benchmark::internal::Benchmark *b) {
            b->Threads(threads)->UseRealTime();
        };
        pair("mutex", "vllsi", vb::mutex_vllsi, "pthread", vb::mutex_pthread, shape);
        pair("spin", "vllsi", vb::spin_vllsi, "pthread", vb::spin_pthread, shape);
    }

    pair("clock.monotonic", "vllsi", vb::clock_vllsi, "clock_gettime", vb::clock_libc, plain);

    for (int size : {4 << 10, 64 << 10, 2 << 20}) {
        Shape shape = [size](benchmark::internal::Benchmark *b) { b->Arg(size)->UseRealTime(); };
        pair("mem.alloc_free", "vllsi", vb::mem_vllsi, "mmap", vb::mem_mmap, shape);
    }

    /* Timers: 10^3..10^6 live timers on the loop, against libev's ev_timer. */
    for (int live : {1000, 10000, 100000, 1000000}) {
        Shape shape = [live](benchmark::internal::Benchmark *b) { b->Arg(live)->UseRealTime(); };
        pair("timer.start_stop", "vllsi", vb::timer_start_stop_vllsi, "libev",
             vb::timer_start_stop_libev, shape);
        pair("timer.restart", "vllsi", vb::timer_restart_vllsi, "libev", vb::timer_restart_libev,
             shape);
    }

    /* In-process ping-pong, one thread (libuv's benchmark-ping-pongs shape):
     * arg 0 = AF_UNIX socketpair, 1 = loopback TCP; one op = a round trip. */
    for (int tcp : {0, 1}) {
        Shape shape = [tcp](benchmark::internal::Benchmark *b) { b->Arg(tcp)->UseRealTime(); };
#ifdef VLLSI_BENCH_HAVE_LIBUV
        pair("pingpong.vs_libuv", "vllsi", vb::pingpong_vllsi_multi_auto, "libuv",
             vb::pingpong_libuv, shape);
#endif
#ifdef VLLSI_BENCH_HAVE_LIBEV
        pair("pingpong.vs_libev", "vllsi", vb::pingpong_vllsi_multi_auto, "libev",
             vb::pingpong_libev, shape);
        pair("pingpong.epoll_vs_libev", "vllsi_epoll", vb::pingpong_vllsi_multi_epoll, "libev",
             vb::pingpong_libev, shape);
        /* The same with a single-shot RECV re-submitted per message. */
        pair("pingpong.single_vs_libev", "vllsi_single", vb::pingpong_vllsi_auto, "libev",
             vb::pingpong_libev, shape);
        pair("pingpong.single_epoll_vs_libev", "vllsi_single_epoll", vb::pingpong_vllsi_epoll,
             "libev", vb::pingpong_libev, shape);
#endif
    }
}

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;

    vl_engine *e = nullptr;
    if (vl_engine_create(nullptr, &e) == 0) {
        benchmark::AddCustomContext("vllsi.default_driver", vl_engine_driver_name(e));
        benchmark::AddCustomContext("vllsi.driver_reason", vl_engine_driver_reason(e));
        vl_engine_destroy(e);
    }
    benchmark::AddCustomContext("vllsi.time_source", vl_time_source());

    register_all();
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    return 0;
}
