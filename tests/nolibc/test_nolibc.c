/*
 * tests/nolibc/test_nolibc.c - the sys layer with no libc at all: a static
 * program with the nolibc start code (src/sys/linux/nolibc/start.c) that
 * exercises memory, threads on raw clone, TLS blocks it laid out itself,
 * context frames, futex locks under contention, the vDSO clock and panic (in
 * a forked child), reporting through raw write. Exit code 0 only if every
 * check passed.
 */
#include <asm/unistd.h>
#include <linux/fcntl.h>

#include <vllsi/sys.h>

#include "linux/nolibc/nolibc.h"
#include "nl_test.h"

#define SIGCHLD_NUM 17
#define SIGABRT_NUM 6

/* An initialised (.tdata) and a zeroed (.tbss) variable of the program's own:
 * every new thread must see 0x5eed and 0 before it writes anything. */
static __thread int t_seeded = 0x5eed;
static __thread long t_zeroed;

/* ---- memory ------------------------------------------------------------------ */

static void test_memory(void)
{
    int err = 1;
    size_t page = vl_page_size();
    NL_CHECK(page >= 4096 && (page & (page - 1)) == 0);
    unsigned char *p = vl_os_alloc(3 * page + 1, &err);
    NL_CHECK(p != NULL);
    NL_CHECK_EQ(err, 0);
    if (p == NULL)
        return;
    int zero = 1;
    for (size_t i = 0; i < 4 * page; i++)
        zero &= p[i] == 0;
    NL_CHECK(zero);
    p[4 * page - 1] = 7;
    NL_CHECK_EQ(vl_os_protect(p, page, VL_PROT_READ), 0);
    NL_CHECK_EQ(vl_os_free(p, 3 * page + 1), 0);

    NL_CHECK(vl_os_alloc(0, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
    NL_CHECK_EQ(vl_os_free(NULL, page), -EINVAL);
    void *a = vl_os_alloc_aligned(page, 1u << 20, &err);
    NL_CHECK(a != NULL && ((uintptr_t)a & ((1u << 20) - 1)) == 0);
    if (a != NULL)
        NL_CHECK_EQ(vl_os_free(a, page), 0);
    NL_CHECK(vl_os_alloc_aligned(page, 3, &err) == NULL);
    NL_CHECK_EQ(err, -EINVAL);
}

/* ---- TLS and ctx ---------------------------------------------------------------- */

/* The thread's TLS block must hold the sys layer's variables where the
 * linker's fixed offsets point, with the program's initial values. */
static void check_tls_here(void)
{
    uintptr_t lo, hi;
    vl_nolibc_tls_range(&lo, &hi);
    uintptr_t blk = (uintptr_t)&vl__tls_block;
    NL_CHECK(blk >= lo && blk + sizeof(vl__tls_block) <= hi);
    NL_CHECK((uintptr_t)&t_seeded >= lo && (uintptr_t)&t_seeded < hi);
    NL_CHECK_EQ(t_seeded, 0x5eed);
    NL_CHECK_EQ(t_zeroed, 0);
    NL_CHECK(vl_tls_get_base() != NULL);
#if defined(__x86_64__)
    /* The stack-protector canary from AT_RANDOM, low byte 0, in every TCB. */
    uintptr_t canary;
    __asm__("mov %%fs:0x28, %0" : "=r"(canary));
    NL_CHECK(canary != 0 && (canary & 0xff) == 0);
#endif
}

/* One thread's context work: frames restore what they changed. */
static void check_ctx_here(uintptr_t tag)
{
    NL_CHECK_EQ(vl_ctx_depth(), 0);
    NL_CHECK(!vl_ctx_has(3));
    NL_CHECK_EQ(vl_ctx_provide(3, tag), 0);
    NL_CHECK_EQ(vl_ctx_provide(3, tag + 1), -VL_ECTX_SLOT_OCCUPIED);
    NL_CHECK_EQ(vl_ctx_push_frame(), 0);
    NL_CHECK_EQ(vl_ctx_provide(3, tag + 2), 0); /* shadows the root's value */
    uintptr_t *m = vl_ctx_get_mut(3);
    NL_CHECK(m != NULL);
    if (m != NULL)
        *m = tag + 3;
    uintptr_t v = 0;
    NL_CHECK_EQ(vl_ctx_require(3, &v), 0);
    NL_CHECK_EQ(v, tag + 3);
    NL_CHECK_EQ(vl_ctx_pop_frame(), 0);
    NL_CHECK_EQ(vl_ctx_require(3, &v), 0);
    NL_CHECK_EQ(v, tag);
    NL_CHECK_EQ(vl_ctx_pop_frame(), -VL_ECTX_STACK_UNDERFLOW);
    NL_CHECK_EQ(vl_ctx_set(VL_MAX_CONTEXT_SLOTS, 1), -VL_ECTX_INVALID_SLOT);
    NL_CHECK_EQ(vl_ctx_clear(3), 0);
}

static void test_tls_main(void)
{
    check_tls_here();
    t_seeded = 1;
    t_zeroed = 2;
    check_ctx_here(100);
}

/* ---- threads ------------------------------------------------------------------- */

struct worker {
    vl_mutex *m;
    vl_condvar *cv;
    long *counter;
    int *ready;
    int id;
    int rounds;
    int tid;
    vl_thread *self;
};

static void worker_main(void *p)
{
    struct worker *w = p;
    w->tid = vl_thread_id();
    w->self = vl_thread_self();
    check_tls_here();
    t_seeded = w->id; /* must not leak into other threads */
    check_ctx_here((uintptr_t)w->id * 1000);
    NL_CHECK_EQ(vl_thread_join(w->self), -EDEADLK);
    /* Wait for the start signal, so every worker contends at once. */
    NL_CHECK_EQ(vl_mutex_lock(w->m), 0);
    while (!*w->ready)
        NL_CHECK_EQ(vl_condvar_wait(w->cv, w->m), 0);
    NL_CHECK_EQ(vl_mutex_unlock(w->m), 0);
    for (int i = 0; i < w->rounds; i++) {
        NL_CHECK_EQ(vl_mutex_lock(w->m), 0);
        long c = *w->counter;
        if ((i & 255) == 0)
            (void)vl_thread_yield(); /* widen the window a lost update needs */
        *w->counter = c + 1;
        NL_CHECK_EQ(vl_mutex_unlock(w->m), 0);
    }
    NL_CHECK_EQ(t_seeded, w->id);
}

#define NWORKERS 6

static void test_threads_contention(void)
{
    vl_mutex m;
    vl_condvar cv;
    long counter = 0;
    int ready = 0;
    NL_CHECK_EQ(vl_mutex_init(&m), 0);
    NL_CHECK_EQ(vl_condvar_init(&cv), 0);
    struct worker w[NWORKERS];
    vl_thread *t[NWORKERS];
    int base = vl_nolibc_thread_mappings();
    for (int i = 0; i < NWORKERS; i++) {
        w[i] = (struct worker){&m, &cv, &counter, &ready, i + 1, 20000, 0, NULL};
        NL_CHECK_EQ(vl_thread_spawn(worker_main, &w[i], i == 0 ? 0 : 64 * 1024, &t[i]), 0);
    }
    NL_CHECK_EQ(vl_nolibc_thread_mappings(), base + NWORKERS);
    (void)vl_sleep_ns(vl_duration_from_ms(20));
    NL_CHECK_EQ(vl_mutex_lock(&m), 0);
    ready = 1;
    NL_CHECK_EQ(vl_condvar_broadcast(&cv), 0);
    NL_CHECK_EQ(vl_mutex_unlock(&m), 0);
    for (int i = 0; i < NWORKERS; i++)
        NL_CHECK_EQ(vl_thread_join(t[i]), 0);
    NL_CHECK_EQ(counter, (long)NWORKERS * 20000);
    NL_CHECK_EQ(vl_nolibc_thread_mappings(), base);
    for (int i = 0; i < NWORKERS; i++) {
        NL_CHECK(w[i].tid > 0 && w[i].tid != vl_thread_id());
        NL_CHECK(w[i].self == t[i]);
    }
    NL_CHECK_EQ(t_seeded, 1); /* the main thread's value, set in test_tls_main */
}

static void set_flag(void *p)
{
    __atomic_store_n((int *)p, 1, __ATOMIC_RELEASE);
}

/* Wait (bounded) until the live mapping count drops to `want`. */
static int mappings_settle(int want)
{
    for (int i = 0; i < 2000 && vl_nolibc_thread_mappings() != want; i++)
        (void)vl_sleep_ns(vl_duration_from_ms(1));
    return vl_nolibc_thread_mappings();
}

static void test_threads_detach(void)
{
    int base = vl_nolibc_thread_mappings();
    int flag = 0;
    vl_thread *t;
    /* Detached while running: the thread unmaps its own stack. */
    NL_CHECK_EQ(vl_thread_spawn(set_flag, &flag, 0, &t), 0);
    NL_CHECK_EQ(vl_thread_detach(t), 0);
    NL_CHECK_EQ(mappings_settle(base), base);
    NL_CHECK_EQ(__atomic_load_n(&flag, __ATOMIC_ACQUIRE), 1);
    /* Detached after it finished: detach reaps it. */
    flag = 0;
    NL_CHECK_EQ(vl_thread_spawn(set_flag, &flag, 0, &t), 0);
    while (!__atomic_load_n(&flag, __ATOMIC_ACQUIRE))
        (void)vl_thread_yield();
    (void)vl_sleep_ns(vl_duration_from_ms(5));
    NL_CHECK_EQ(vl_thread_detach(t), 0);
    /* Almost always the thread has exited by now and detach reaped it; on a
     * loaded machine it may still be before its EXITED mark, and then it
     * unmaps itself a moment later. Both are right. */
    NL_CHECK_EQ(mappings_settle(base), base);
}

static void test_threads_bad_input(void)
{
    vl_thread *t = NULL;
    int x = 0;
    NL_CHECK_EQ(vl_thread_spawn(NULL, NULL, 0, &t), -EINVAL);
    NL_CHECK_EQ(vl_thread_spawn(set_flag, &x, 0, NULL), -EINVAL);
    NL_CHECK_EQ(vl_thread_spawn(set_flag, &x, 1, &t), -EINVAL);
    NL_CHECK_EQ(vl_thread_join(NULL), -EINVAL);
    NL_CHECK_EQ(vl_thread_detach(NULL), -EINVAL);
    NL_CHECK_EQ(vl_thread_join(vl_thread_self()), -EINVAL); /* main: a foreign record */
    NL_CHECK(vl_thread_equal(vl_thread_self(), vl_thread_self()));
    NL_CHECK(vl_num_online_cpus() >= 1);
}

/* ---- clocks -------------------------------------------------------------------- */

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static void test_clocks(void)
{
    /* qemu-user gives aarch64 guests no vDSO; natively the kernel always does. */
    const char *emu = vl_nolibc_getenv("VLLSI_TEST_EMULATOR");
    if (emu == NULL)
        NL_CHECK(streq(vl_time_source(), "vdso"));
    int64_t a = vl_time_monotonic_ns();
    NL_CHECK_EQ(vl_sleep_ns(vl_duration_from_ms(10)), 0);
    int64_t b = vl_time_monotonic_ns();
    NL_CHECK(b - a >= vl_duration_from_ms(10));
    NL_CHECK(vl_time_realtime_ns() > vl_duration_from_s(1600000000)); /* after 2020 */
    NL_CHECK_EQ(vl_sleep_ns(-1), -EINVAL);
    vl_timespec ts;
    NL_CHECK_EQ(vl_sys_clock_gettime(1 /* CLOCK_MONOTONIC */, &ts), 0);
    NL_CHECK_EQ(vl_sys_clock_gettime(1, NULL), -EFAULT);
}

/* ---- init and panic -------------------------------------------------------------- */

static void test_init(void)
{
    NL_CHECK_EQ(vl_init(NULL), 0);
    NL_CHECK(vl_is_initialized());
    NL_CHECK_EQ(vl_init(NULL), -VL_EINIT_ALREADY_INITIALIZED);
    NL_CHECK_EQ(vl_init_thread(), 0);
}

static long sys_fork(void)
{
    /* clone(SIGCHLD) is fork on both architectures (aarch64 has no fork). */
    return vl_syscall_raw(__NR_clone, SIGCHLD_NUM, 0, 0, 0, 0, 0);
}

static void handler_exits_42(const vl_panic_info *info)
{
    vl_sys_exit_group(info != NULL && info->line > 0 ? 42 : 43);
}

/* Run a panic in a child with stderr on a pipe; its wait status and output. */
static int panic_child(int with_handler, char *out, size_t cap, size_t *got)
{
    int fds[2];
    *got = 0;
    if (vl_syscall_raw(__NR_pipe2, (long)fds, O_CLOEXEC, 0, 0, 0, 0) < 0)
        return -1;
    long pid = sys_fork();
    if (pid == 0) {
        (void)vl_syscall_raw(__NR_dup3, fds[1], 2, 0, 0, 0, 0);
        if (with_handler)
            (void)vl_set_panic_handler(handler_exits_42);
        VL_PANIC("nolibc test panic");
    }
    (void)vl_sys_close(fds[1]);
    long n;
    while (*got < cap && (n = vl_sys_read(fds[0], out + *got, cap - *got)) > 0)
        *got += (size_t)n;
    (void)vl_sys_close(fds[0]);
    int status = 0;
    if (pid < 0 || vl_syscall_raw(__NR_wait4, pid, (long)&status, 0, 0, 0, 0) != pid)
        return -1;
    return status;
}

static int contains(const char *hay, size_t n, const char *needle)
{
    size_t k = nl_strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && hay[i + j] == needle[j])
            j++;
        if (j == k)
            return 1;
    }
    return 0;
}

static void test_panic(void)
{
    char out[512];
    size_t got;
    int st = panic_child(0, out, sizeof(out), &got);
    NL_CHECK(st >= 0);
    NL_CHECK_EQ(st & 0x7f, SIGABRT_NUM); /* killed by SIGABRT */
    NL_CHECK(contains(out, got, "vllsi panic: nolibc test panic at "));
    NL_CHECK(contains(out, got, "test_nolibc.c"));
    st = panic_child(1, out, sizeof(out), &got);
    NL_CHECK_EQ(st & 0x7f, 0);
    NL_CHECK_EQ((st >> 8) & 0xff, 42);
}

/* ---- support functions the compiler may call ------------------------------------ */

struct big {
    long v[40];
};

static __attribute__((noinline)) struct big make_big(long seed)
{
    struct big b = {{0}};
    for (int i = 0; i < 40; i++)
        b.v[i] = seed + i;
    return b;
}

static void test_support(void)
{
    struct big a = make_big(5), b;
    b = a; /* a struct copy gcc lowers to memcpy */
    NL_CHECK_EQ(b.v[39], 44);
    char buf[37];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)i;
    void *memmove(void *, const void *, size_t);
    int memcmp(const void *, const void *, size_t);
    memmove(buf + 3, buf, 30); /* overlapping, backwards */
    NL_CHECK_EQ(buf[3], 0);
    NL_CHECK_EQ(buf[32], 29);
    NL_CHECK(memcmp(buf, buf, sizeof(buf)) == 0);
    NL_CHECK(memcmp("ab", "ac", 2) < 0);
}

int main(int argc, char **argv, char **envp)
{
    NL_CHECK(argc >= 1 && argv[0] != NULL && envp != NULL);
    NL_RUN(test_init);
    NL_RUN(test_memory);
    NL_RUN(test_support);
    NL_RUN(test_tls_main);
    NL_RUN(test_threads_contention);
    NL_RUN(test_threads_detach);
    NL_RUN(test_threads_bad_input);
    NL_RUN(test_clocks);
    NL_RUN(test_panic);
    return nl_finish("nolibc");
}
