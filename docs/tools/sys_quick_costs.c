/*
 * A quick, single-run cost comparison of sys-layer primitives against their
 * libc/pthread peers (figures quoted in docs/sys.md). Not a benchmark harness:
 * bench/ (Google Benchmark) replaces it. Build from the repo root after
 * scripts/test:
 *   gcc -O2 -std=gnu17 -Iinclude docs/tools/sys_quick_costs.c build/libvllsi-sys.a \
 *       -lpthread -o /tmp/sys_quick_costs && /tmp/sys_quick_costs
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <vllsi/sys.h>
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}
#define N 20000000L
static vl_mutex vm = VL_MUTEX_INIT;
static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static int use_vl;
static long per = 2000000;
static void pin(int c)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(c, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}
static void *work(void *a)
{
    pin((int)(long)a);
    for (long i = 0; i < per; i++) {
        if (use_vl) {
            vl_mutex_lock(&vm);
            counter++;
            vl_mutex_unlock(&vm);
        } else {
            pthread_mutex_lock(&pm);
            counter++;
            pthread_mutex_unlock(&pm);
        }
    }
    return 0;
}
static double contended(int v)
{
    use_vl = v;
    counter = 0;
    pthread_t a, b;
    double t0 = now();
    pthread_create(&a, 0, work, (void *)0);
    pthread_create(&b, 0, work, (void *)1);
    pthread_join(a, 0);
    pthread_join(b, 0);
    return (now() - t0) / (2.0 * per);
}
int main(void)
{
    volatile uintptr_t sink;
    pthread_key_t k;
    pthread_key_create(&k, 0);
    pthread_setspecific(k, (void *)1);
    vl_ctx_set(1, 1);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (long i = 0; i < N; i++) {
            vl_mutex_lock(&vm);
            vl_mutex_unlock(&vm);
        }
        double a = (now() - t0) / N;
        t0 = now();
        for (long i = 0; i < N; i++) {
            pthread_mutex_lock(&pm);
            pthread_mutex_unlock(&pm);
        }
        double b = (now() - t0) / N;
        t0 = now();
        for (long i = 0; i < N; i++) {
            uintptr_t v;
            vl_ctx_get(1, &v);
            sink = v;
            __asm__ volatile("" ::: "memory");
        }
        double c = (now() - t0) / N;
        t0 = now();
        for (long i = 0; i < N; i++) {
            sink = (uintptr_t)pthread_getspecific(k);
            __asm__ volatile("" ::: "memory");
        }
        double d = (now() - t0) / N;
        t0 = now();
        for (long i = 0; i < N / 4; i++) {
            sink = (uintptr_t)vl_time_monotonic_ns();
        }
        double e = (now() - t0) / (N / 4);
        t0 = now();
        for (long i = 0; i < N / 4; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            sink = ts.tv_nsec;
        }
        double f = (now() - t0) / (N / 4);
        double g = contended(1), h = contended(0);
        printf("run %d: mutex lock+unlock vl %.2f ns pthread %.2f ns (x%.2f) | ctx_get %.2f ns "
               "getspecific %.2f ns (x%.2f) | monotonic vl %.1f ns libc %.1f ns (x%.2f) | "
               "contended 2 threads vl %.1f ns/op pthread %.1f ns/op (x%.2f)\n",
               rep, a, b, a / b, c, d, c / d, e, f, e / f, g, h, g / h);
    }
    return 0;
}
