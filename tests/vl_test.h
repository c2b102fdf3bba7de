/*
 * tests/vl_test.h - helpers shared by the CMocka suites.
 *
 * vl_test_in_child() runs a function in a forked child with a watchdog, for
 * death tests (a guard page that must fault, a panic that must abort) and for
 * anything that changes process-wide state. The child is killed if it runs
 * past the timeout, so no test can hang the suite.
 */
#ifndef VLLSI_TEST_H
#define VLLSI_TEST_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/wait.h>
#endif

#include <cmocka.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define VL_TEST_HAVE_VALGRIND 1
#endif
#endif

/*
 * Under qemu-user (the aarch64 CI leg, where ctest sets VLLSI_TEST_EMULATOR)
 * the "kernel" is qemu's syscall emulation, which accepts every madvise as a
 * no-op, keeps some real-time signals for itself, reserves its own address
 * space (so RLIMIT_AS tests cannot work) and prints its own line when a guest
 * dies by a signal. Tests of those kernel behaviours skip there, naming why;
 * everything the architecture code does (syscall stubs, thread pointer,
 * barriers, clocks, futexes, threads) still runs.
 */
static inline int vl_test_emulated(void)
{
    return getenv("VLLSI_TEST_EMULATOR") != NULL;
}

#define VL_TEST_SKIP_IF_EMULATED(why)                            \
    do {                                                         \
        if (vl_test_emulated()) {                                \
            print_message("skipped under qemu-user: %s\n", why); \
            skip();                                              \
        }                                                        \
    } while (0)

/* A test of Linux-only behaviour skips on Windows, naming why. */
#ifdef _WIN32
#define VL_TEST_SKIP_ON_WINDOWS(why)                    \
    do {                                                \
        print_message("skipped on Windows: %s\n", why); \
        skip();                                         \
    } while (0)
#else
#define VL_TEST_SKIP_ON_WINDOWS(why) ((void)0)
#endif

/* A test of Linux-only behaviour skips on macOS, naming why. */
#ifdef __APPLE__
#define VL_TEST_SKIP_ON_MACOS(why)                    \
    do {                                              \
        print_message("skipped on macOS: %s\n", why); \
        skip();                                       \
    } while (0)
#else
#define VL_TEST_SKIP_ON_MACOS(why) ((void)0)
#endif

/* mincore(2)'s result vector: macOS declares it as char *, Linux as
 * unsigned char *. */
#ifdef __APPLE__
typedef char vl_test_mincore_vec;
#else
typedef unsigned char vl_test_mincore_vec;
#endif

#ifdef __APPLE__
#include <mach/mach_init.h>
#include <mach/vm_region.h>
#include <pthread.h>

/* macOS has no /proc/self/maps: the tests walk the address space with
 * mach_vm_region (declared here as <mach/mach_vm.h> is not among the SDK
 * headers zig bundles). */
extern kern_return_t mach_vm_region(mach_port_t target_task, mach_vm_address_t *address,
                                    mach_vm_size_t *size, vm_region_flavor_t flavor,
                                    vm_region_info_t info, mach_msg_type_number_t *info_count,
                                    mach_port_t *object_name);

/* The region at or above *addr: true and its bounds, or false past the end. */
static inline bool vl_test_region(uintptr_t *addr, uintptr_t *end, int *prot)
{
    mach_vm_address_t a = *addr;
    mach_vm_size_t sz = 0;
    vm_region_basic_info_data_64_t info;
    mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
    mach_port_t obj = MACH_PORT_NULL;
    if (mach_vm_region(mach_task_self(), &a, &sz, VM_REGION_BASIC_INFO_64, (vm_region_info_t)&info,
                       &count, &obj) != KERN_SUCCESS)
        return false;
    *addr = (uintptr_t)a;
    *end = (uintptr_t)(a + sz);
    if (prot != NULL)
        *prot = info.protection;
    return true;
}

/* The number of VM regions: what /proc/self/maps' line count is on Linux. */
static inline int vl_test_count_regions(void)
{
    int n = 0;
    uintptr_t a = 0, end = 0;
    while (vl_test_region(&a, &end, NULL)) {
        n++;
        a = end;
    }
    return n;
}

/* Is p inside a VM region? */
static inline bool vl_test_region_mapped(const void *p)
{
    uintptr_t a = (uintptr_t)p, end = 0;
    return vl_test_region(&a, &end, NULL) && a <= (uintptr_t)p;
}

/* macOS has no POSIX barriers; the suites that use them get this one,
 * unless the SDK ever brings its own. */
#ifndef PTHREAD_BARRIER_SERIAL_THREAD
typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    unsigned count, waiting, round;
} pthread_barrier_t;
#define PTHREAD_BARRIER_SERIAL_THREAD (-1)

static inline int pthread_barrier_init(pthread_barrier_t *b, const void *attr, unsigned count)
{
    (void)attr;
    if (count == 0)
        return EINVAL;
    b->count = count;
    b->waiting = 0;
    b->round = 0;
    pthread_mutex_init(&b->m, NULL);
    pthread_cond_init(&b->c, NULL);
    return 0;
}

static inline int pthread_barrier_wait(pthread_barrier_t *b)
{
    pthread_mutex_lock(&b->m);
    unsigned round = b->round;
    if (++b->waiting == b->count) {
        b->waiting = 0;
        b->round++;
        pthread_cond_broadcast(&b->c);
        pthread_mutex_unlock(&b->m);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    while (round == b->round)
        pthread_cond_wait(&b->c, &b->m);
    pthread_mutex_unlock(&b->m);
    return 0;
}

static inline int pthread_barrier_destroy(pthread_barrier_t *b)
{
    pthread_cond_destroy(&b->c);
    pthread_mutex_destroy(&b->m);
    return 0;
}
#endif /* PTHREAD_BARRIER_SERIAL_THREAD */
#endif /* __APPLE__ */

/* Drop the lines qemu-user itself adds to a dying child's stderr. */
static inline void vl_test_strip_emulator_lines(char *out)
{
    char *src = out, *dst = out;
    while (*src) {
        char *nl = strchr(src, '\n');
        size_t len = nl ? (size_t)(nl - src) + 1 : strlen(src);
        if (strncmp(src, "qemu: ", 6) != 0) {
            memmove(dst, src, len);
            dst += len;
        }
        src += len;
    }
    *dst = '\0';
}

/*
 * Bracket calls that hand the kernel a bad pointer on purpose (the -EFAULT
 * tests): memcheck checks syscall arguments itself and would count them.
 */
#ifdef VL_TEST_HAVE_VALGRIND
#define VL_TEST_BAD_POINTERS_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define VL_TEST_BAD_POINTERS_END()   VALGRIND_ENABLE_ERROR_REPORTING
#else
#define VL_TEST_BAD_POINTERS_BEGIN() ((void)0)
#define VL_TEST_BAD_POINTERS_END()   ((void)0)
#endif

typedef struct vl_test_child {
    int exited;     /* 1: exited normally, exit_code is valid          */
    int exit_code;  /* when exited                                     */
    int signo;      /* when killed by a signal (0 otherwise)           */
    int timed_out;  /* the watchdog had to kill it                     */
    char out[4096]; /* what the child wrote to stderr (truncated)      */
} vl_test_child;

#ifdef _WIN32
/*
 * Windows has no fork(): a child that continues from the test's own state
 * cannot be made, so the death tests (and the tests of process-wide state)
 * that need one skip on Windows, saying so.
 */
static inline void vl_test_in_child(int (*fn)(void *), void *arg, int timeout_ms, vl_test_child *r)
{
    (void)fn;
    (void)arg;
    (void)timeout_ms;
    memset(r, 0, sizeof(*r));
    print_message("skipped on Windows: needs fork() for a child process\n");
    skip();
}
#else
/*
 * Fork, run fn(arg) in the child (its return value is the exit code), and
 * wait at most timeout_ms. The child's stderr is captured into r->out.
 */
static inline void vl_test_in_child(int (*fn)(void *), void *arg, int timeout_ms, vl_test_child *r)
{
    int p[2];
    memset(r, 0, sizeof(*r));
    if (pipe(p) != 0)
        fail_msg("pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork failed");
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        close(p[1]);
        signal(SIGALRM, SIG_DFL);
#ifdef VL_TEST_HAVE_VALGRIND
        /* A death test faults on purpose; under valgrind that intended
         * invalid access must not count as an error of the suite. */
        VALGRIND_DISABLE_ERROR_REPORTING;
#endif
        _exit(fn(arg));
    }
    close(p[1]);
    size_t used = 0;
    int status = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            r->timed_out = 1;
            break;
        }
        usleep(1000);
    }
    for (;;) {
        if (used >= sizeof(r->out) - 1)
            break;
        ssize_t n = read(p[0], r->out + used, sizeof(r->out) - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    r->out[used] = '\0';
    close(p[0]);
    if (vl_test_emulated())
        vl_test_strip_emulator_lines(r->out);
    if (WIFEXITED(status)) {
        r->exited = 1;
        r->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        r->signo = WTERMSIG(status);
    }
}
#endif /* _WIN32 */

#endif
