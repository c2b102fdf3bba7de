/*
 * bench/micro/sys.cc - sys layer primitives against their libc/pthread peers.
 * Each pair runs the same loop body with the other primitive.
 */
#include <cstdint>
#include <ctime>

#include <pthread.h>
#include <sys/mman.h>

#include <vllsi/sys.h>

#include "micro.h"

namespace
{

constexpr int kSlot = 3;

pthread_key_t g_key;
pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

void make_key()
{
    pthread_key_create(&g_key, nullptr);
}

/* Shared by the threads of a ->Threads(2) run; the counter is the work done
 * under the lock (one increment), the same for every lock. */
vl_mutex g_vl_mutex = VL_MUTEX_INIT;
pthread_mutex_t g_pt_mutex = PTHREAD_MUTEX_INITIALIZER;
vl_spinlock g_vl_spin = VL_SPINLOCK_INIT;
pthread_spinlock_t g_pt_spin;
pthread_once_t g_spin_once = PTHREAD_ONCE_INIT;
uint64_t g_counter;

void make_spin()
{
    pthread_spin_init(&g_pt_spin, PTHREAD_PROCESS_PRIVATE);
}

} // namespace

namespace vb
{

/* ---- ctx: read a per-thread value ----------------------------------------- */

void ctx_get_vllsi(benchmark::State &state)
{
    vl_ctx_set(kSlot, 42);
    uintptr_t v = 0;
    for (auto _ : state) {
        bool ok = vl_ctx_get(kSlot, &v);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(v);
    }
    vl_ctx_clear(kSlot);
}

void tls_slot_get_vllsi(benchmark::State &state)
{
    vl_tls_slot_set(kSlot, 42);
    uintptr_t v = 0;
    for (auto _ : state) {
        bool ok = vl_tls_slot_get(kSlot, &v);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(v);
    }
    vl_tls_slot_clear(kSlot);
}

void getspecific_pthread(benchmark::State &state)
{
    pthread_once(&g_key_once, make_key);
    pthread_setspecific(g_key, reinterpret_cast<void *>(uintptr_t{42}));
    for (auto _ : state) {
        void *p = pthread_getspecific(g_key);
        bool ok = p != nullptr;
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(p);
    }
    pthread_setspecific(g_key, nullptr);
}

/* ---- ctx: a scope that provides a value ------------------------------------ */

/* One scope: open a frame, provide a value in a slot that the enclosing
 * scope also holds (shadowing it), read it, close the frame (which brings the
 * enclosing value back). */
void ctx_scope_vllsi(benchmark::State &state)
{
    vl_ctx_set(kSlot, 42);
    uintptr_t v = 0, i = 0;
    for (auto _ : state) {
        if (vl_ctx_push_frame() != 0 || vl_ctx_provide(kSlot, ++i) != 0) {
            state.SkipWithError("vl_ctx_push_frame / vl_ctx_provide failed");
            break;
        }
        bool ok = vl_ctx_get(kSlot, &v);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(v);
        if (vl_ctx_pop_frame() != 0) {
            state.SkipWithError("vl_ctx_pop_frame failed");
            break;
        }
    }
    if (!vl_ctx_get(kSlot, &v) || v != 42)
        state.SkipWithError("the enclosing value did not come back");
    vl_ctx_clear(kSlot);
}

/* The same with a pthread key: save the enclosing value, set ours, read it,
 * put the saved one back. */
void scope_pthread(benchmark::State &state)
{
    pthread_once(&g_key_once, make_key);
    pthread_setspecific(g_key, reinterpret_cast<void *>(uintptr_t{42}));
    uintptr_t i = 0;
    for (auto _ : state) {
        void *saved = pthread_getspecific(g_key);
        pthread_setspecific(g_key, reinterpret_cast<void *>(++i));
        void *p = pthread_getspecific(g_key);
        benchmark::DoNotOptimize(p);
        pthread_setspecific(g_key, saved);
    }
    if (pthread_getspecific(g_key) != reinterpret_cast<void *>(uintptr_t{42}))
        state.SkipWithError("the enclosing value did not come back");
    pthread_setspecific(g_key, nullptr);
}

/* ---- locks: lock, one increment, unlock ----------------------------------- */

void mutex_vllsi(benchmark::State &state)
{
    for (auto _ : state) {
        vl_mutex_lock(&g_vl_mutex);
        g_counter++;
        vl_mutex_unlock(&g_vl_mutex);
    }
}

void mutex_pthread(benchmark::State &state)
{
    for (auto _ : state) {
        pthread_mutex_lock(&g_pt_mutex);
        g_counter++;
        pthread_mutex_unlock(&g_pt_mutex);
    }
}

void spin_vllsi(benchmark::State &state)
{
    for (auto _ : state) {
        vl_spin_lock(&g_vl_spin);
        g_counter++;
        vl_spin_unlock(&g_vl_spin);
    }
}

void spin_pthread(benchmark::State &state)
{
    pthread_once(&g_spin_once, make_spin);
    for (auto _ : state) {
        pthread_spin_lock(&g_pt_spin);
        g_counter++;
        pthread_spin_unlock(&g_pt_spin);
    }
}

/* ---- clock ---------------------------------------------------------------- */

void clock_vllsi(benchmark::State &state)
{
    for (auto _ : state)
        benchmark::DoNotOptimize(vl_time_monotonic_ns());
}

void clock_libc(benchmark::State &state)
{
    for (auto _ : state) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        benchmark::DoNotOptimize(int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec);
    }
}

/* ---- memory: map state.range(0) bytes and unmap them (pages not touched) -- */

void mem_vllsi(benchmark::State &state)
{
    const size_t size = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
        int err;
        void *p = vl_os_alloc(size, &err);
        if (p == nullptr) {
            state.SkipWithError("vl_os_alloc failed");
            break;
        }
        benchmark::DoNotOptimize(p);
        vl_os_free(p, size);
    }
}

void mem_mmap(benchmark::State &state)
{
    const size_t size = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
        void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            state.SkipWithError("mmap failed");
            break;
        }
        benchmark::DoNotOptimize(p);
        munmap(p, size);
    }
}

} // namespace vb
