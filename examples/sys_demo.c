/*
 * sys_demo - a short tour of the vllsi sys layer: what the kernel told us,
 * OS memory, threads contending on a futex mutex, the context system, clocks
 * and errors. Run by `scripts/demo` (the quick start's main job until the
 * echo server lands). Exits non-zero if anything it checks is wrong.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <vllsi/sys.h>

/* The process id: the raw system call on Linux (<vllsi/sys/linux.h>), the C
 * library's getpid elsewhere. */
#ifdef __linux__
#define demo_getpid() vl_sys_getpid()
#else
#include <unistd.h>
#define demo_getpid() ((int)getpid())
#endif

#define THREADS 4
#define ITERS   200000

static vl_mutex counter_lock = VL_MUTEX_INIT;
static uint64_t counter;

static void worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        vl_mutex_lock(&counter_lock);
        counter++;
        vl_mutex_unlock(&counter_lock);
    }
}

static int check(int ok, const char *what)
{
    printf("  %-44s %s\n", what, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

int main(void)
{
    int bad = 0;
    int rc = vl_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "vl_init: %s\n", vl_strerror(rc));
        return 1;
    }
    printf("vllsi sys demo\n");
    printf("  page size %zu (shift %u), %d online CPUs, clock via %s, pid %d tid %d\n",
           vl_page_size(), vl_page_shift(), vl_num_online_cpus(), vl_time_source(), demo_getpid(),
           vl_thread_id());

    /* OS memory: 1 MiB aligned to 1 MiB, straight from mmap. */
    int err = 0;
    size_t len = 1u << 20;
    unsigned char *p = vl_os_alloc_aligned(len, len, &err);
    bad |= check(p && ((uintptr_t)p & (len - 1)) == 0, "vl_os_alloc_aligned(1 MiB, 1 MiB)");
    if (p) {
        memset(p, 0xab, len);
        bad |= check(vl_os_advise(p, len, VL_ADV_DONTNEED) == 0 && p[len - 1] == 0,
                     "vl_os_advise(DONTNEED) gives zero pages back");
        bad |= check(vl_os_free(p, len) == 0, "vl_os_free");
    }

    /* Threads hammering one futex mutex. */
    int64_t t0 = vl_time_monotonic_ns();
    vl_thread *th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        rc = vl_thread_spawn(worker, NULL, 64 * 1024, &th[i]);
        if (rc < 0) {
            fprintf(stderr, "vl_thread_spawn: %s\n", vl_strerror(rc));
            return 1;
        }
    }
    for (int i = 0; i < THREADS; i++)
        vl_thread_join(th[i]);
    int64_t dt = vl_time_monotonic_ns() - t0;
    bad |= check(counter == (uint64_t)THREADS * ITERS, "4 threads x 200k locked increments");
    printf("  %-44s %.1f ms\n", "  (wall time)", (double)dt / 1e6);

    /* The context system: reserve a slot (never a hard-coded number: other
     * libraries in the process use slots too), provide in a frame, see it,
     * pop it away. */
    int slot = vl_ctx_slot_alloc();
    bad |= check(slot >= 0, "ctx slot reserved");
    vl_ctx_push_frame();
    vl_ctx_provide(slot, 42);
    uintptr_t v = 0;
    bad |= check(vl_ctx_get(slot, &v) && v == 42, "ctx provide/get in a frame");
    rc = vl_ctx_provide(slot, 43);
    printf("  %-44s %s\n", "  (provide twice in one frame)", vl_errname(rc));
    vl_ctx_pop_frame();
    bad |= check(!vl_ctx_has(slot), "ctx slot gone after the frame pops");
    rc = vl_ctx_pop_frame();
    bad |= check(rc == -VL_ECTX_STACK_UNDERFLOW, "pop with no frame: VL_ECTX_STACK_UNDERFLOW");
    bad |= check(vl_ctx_slot_free(slot) == 0, "ctx slot given back");

    /* Clocks and sleep. */
    t0 = vl_time_monotonic_ns();
    vl_sleep_ns(5 * VL_NS_PER_MS);
    dt = vl_time_monotonic_ns() - t0;
    bad |= check(dt >= 5 * VL_NS_PER_MS, "vl_sleep_ns(5 ms) sleeps at least 5 ms");

    /* Errors are negative errno values with names. */
    p = vl_os_alloc_aligned(4096, 3, &err);
    printf("  %-44s %s (%s)\n", "  vl_os_alloc_aligned(align=3)", vl_errname(err),
           vl_strerror(err));
    bad |= check(p == NULL && err == -EINVAL, "bad alignment is -EINVAL");

    vl_shutdown();
    printf(bad ? "demo: FAILED\n" : "demo: all checks passed\n");
    return bad;
}
