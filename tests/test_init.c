/* sys.init: vl_init / vl_shutdown, per-thread setup, and the panic path. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#define test_tid() ((int)GetCurrentThreadId())
#elif defined(__APPLE__)
#include <sys/mman.h>
/* vl_thread_id's value on macOS: the low 31 bits of the 64-bit thread id. */
static int test_tid(void)
{
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    return (int)(id & 0x7fffffff);
}
#else
#include <sys/mman.h>
#include <sys/syscall.h>
#define test_tid() ((int)syscall(SYS_gettid))
#endif

#include "vl_test.h"
#include <vllsi/sys/ctx.h>
#include <vllsi/sys/init.h>
#include "internal.h"

static int reset(void **state)
{
    (void)state;
    vl_shutdown();
    vl_set_panic_handler(NULL);
    return 0;
}

/* ---- init / shutdown -------------------------------------------------------- */

static void init_shutdown_cycles(void **state)
{
    (void)state;
    assert_false(vl_is_initialized());
    for (int i = 0; i < 3; i++) {
        assert_int_equal(vl_init(NULL), 0);
        assert_true(vl_is_initialized());
        assert_int_equal(vl_init(NULL), -VL_EINIT_ALREADY_INITIALIZED);
        assert_true(vl_is_initialized());
        vl_shutdown();
        assert_false(vl_is_initialized());
        vl_shutdown(); /* harmless when not initialized */
        assert_false(vl_is_initialized());
    }
    vl_init_config cfg = {VL_INIT_NO_VDSO, 0, NULL};
    assert_int_equal(vl_init(&cfg), 0);
    assert_true(vl_is_initialized());
    /* The sys layer keeps working after init with the syscall clock. */
    assert_true(vl_page_size() >= VL_PAGE_SIZE_MIN);
}

static void double_init_error_names(void **state)
{
    (void)state;
    assert_int_equal(vl_init(NULL), 0);
    int r = vl_init(NULL);
    assert_int_equal(r, -VL_EINIT_ALREADY_INITIALIZED);
    assert_string_equal(vl_errname(r), "VL_EINIT_ALREADY_INITIALIZED");
    assert_string_not_equal(vl_strerror(r), "Unknown error");
    vl_init_config bad = {0x80, 0, NULL};
    /* A bad config is reported as such even when already initialized. */
    r = vl_init(&bad);
    assert_int_equal(r, -VL_EINIT_INVALID_CONFIG);
    assert_string_equal(vl_errname(r), "VL_EINIT_INVALID_CONFIG");
}

static void invalid_config(void **state)
{
    (void)state;
    assert_int_equal(vl_init(NULL), 0);
    vl_shutdown();
    assert_string_equal(vl_init_error_detail(), "");
    vl_init_config cfg = {0x2, 0, NULL};
    assert_int_equal(vl_init(&cfg), -VL_EINIT_INVALID_CONFIG);
    assert_non_null(strstr(vl_init_error_detail(), "flags"));
    assert_false(vl_is_initialized());
    cfg.flags = 0x80000000u | VL_INIT_NO_VDSO;
    assert_int_equal(vl_init(&cfg), -VL_EINIT_INVALID_CONFIG);
    assert_non_null(strstr(vl_init_error_detail(), "flags"));
    cfg.flags = VL_INIT_NO_VDSO;
    cfg.reserved = 1;
    assert_int_equal(vl_init(&cfg), -VL_EINIT_INVALID_CONFIG);
    assert_non_null(strstr(vl_init_error_detail(), "reserved"));
    assert_null(strstr(vl_init_error_detail(), "flags"));
    assert_false(vl_is_initialized());
    /* Nothing was claimed: a valid config still succeeds. */
    cfg.reserved = 0;
    assert_int_equal(vl_init(&cfg), 0);
    /* The detail describes the latest call only. */
    assert_string_equal(vl_init_error_detail(), "");
}

static void dummy_handler(const vl_panic_info *info)
{
    (void)info;
    _exit(99);
}

static void init_installs_handler(void **state)
{
    (void)state;
    vl_init_config cfg = {0, 0, dummy_handler};
    assert_int_equal(vl_init(&cfg), 0);
    /* set returns the previous handler: the one vl_init installed. */
    assert_ptr_equal(vl_set_panic_handler(dummy_handler), dummy_handler);
    vl_shutdown();
    /* Shutdown restored the default (reported as NULL). */
    assert_null(vl_set_panic_handler(NULL));
}

/* ---- per-thread ------------------------------------------------------------ */

static void *init_thread_in_thread(void *arg)
{
    int *r = arg;
    r[0] = vl_init_thread();
    r[1] = vl_init_thread();
    vl_cleanup_thread();
    return NULL;
}

static void init_thread_rules(void **state)
{
    (void)state;
    assert_int_equal(vl_init_thread(), -EPERM);
    assert_int_equal(vl_init(NULL), 0);
    assert_int_equal(vl_init_thread(), 0);
    assert_int_equal(vl_init_thread(), -VL_EINIT_ALREADY_INITIALIZED);
    /* Each thread has its own flag. */
    int r[2] = {1, 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, init_thread_in_thread, r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], -VL_EINIT_ALREADY_INITIALIZED);
    /* cleanup_thread releases the context state and re-arms the flag. */
    assert_int_equal(vl_ctx_push_frame(), 0);
    assert_int_equal(vl_ctx_set(3, 3), 0);
    vl_cleanup_thread();
    assert_int_equal(vl_ctx_depth(), 0);
    assert_false(vl_ctx_has(3));
    assert_int_equal(vl_init_thread(), 0);
    /* Shutdown also clears the calling thread's flag. */
    vl_shutdown();
    assert_int_equal(vl_init_thread(), -EPERM);
    assert_int_equal(vl_init(NULL), 0);
    assert_int_equal(vl_init_thread(), 0);
    vl_cleanup_thread();
    vl_cleanup_thread();
}

#define RACERS 8
static pthread_barrier_t race_bar;

static void *race_init(void *arg)
{
    pthread_barrier_wait(&race_bar);
    *(int *)arg = vl_init(NULL);
    return NULL;
}

static void concurrent_init(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        int res[RACERS];
        pthread_t t[RACERS];
        pthread_barrier_init(&race_bar, NULL, RACERS);
        for (int i = 0; i < RACERS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, race_init, &res[i]), 0);
        for (int i = 0; i < RACERS; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
        pthread_barrier_destroy(&race_bar);
        int ok = 0;
        for (int i = 0; i < RACERS; i++) {
            if (res[i] == 0)
                ok++;
            else
                assert_int_equal(res[i], -VL_EINIT_ALREADY_INITIALIZED);
        }
        assert_int_equal(ok, 1);
        assert_true(vl_is_initialized());
        vl_shutdown();
    }
}

/* ---- panic ---------------------------------------------------------------- */

/* Shared with the forked child, which reports what it saw through it. */
struct shared {
    int tid;
    int calls;
    int line;
    char message[128];
    char file[256];
    char function[64];
    int thread_id;
};
static struct shared *sh;

#ifdef _WIN32
/* No forked children on Windows: the record only needs to outlive a call. */
static int setup_shared(void **state)
{
    static struct shared mem;
    (void)state;
    sh = &mem;
    return 0;
}

static int teardown_shared(void **state)
{
    (void)state;
    return 0;
}
#else
static int setup_shared(void **state)
{
    (void)state;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return sh == MAP_FAILED ? -1 : 0;
}

static int teardown_shared(void **state)
{
    (void)state;
    munmap(sh, sizeof(*sh));
    return 0;
}
#endif

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "<NULL>");
}

static void record(const vl_panic_info *info)
{
    sh->calls++;
    copy_str(sh->message, sizeof(sh->message), info->message);
    copy_str(sh->file, sizeof(sh->file), info->file);
    copy_str(sh->function, sizeof(sh->function), info->function);
    sh->line = info->line;
    sh->thread_id = info->thread_id;
}

/* The line of the VL_PANIC below: 3 lines after this enum. */
enum { PANIC_HERE_LINE = __LINE__ + 3 };
static void panic_here(const char *msg)
{
    VL_PANIC(msg);
}

static int child_default_panic(void *arg)
{
    sh->tid = test_tid();
#ifndef _WIN32
    /* A blocked SIGABRT must not keep the panic from killing the process. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    sigprocmask(SIG_BLOCK, &set, NULL);
#endif
    panic_here(arg);
    return 3; /* not reached */
}

static void expect_line(const vl_test_child *r, const char *msg, int tid)
{
    char want[512];
    snprintf(want, sizeof(want), "vllsi panic: %s at %s:%d (panic_here) [thread %d]\n", msg,
             __FILE__, PANIC_HERE_LINE, tid);
    assert_string_equal(r->out, want);
}

static void default_panic_aborts(void **state)
{
    (void)state;
    vl_test_child r;
    sh->tid = 0;
    vl_test_in_child(child_default_panic, "the message", 5000, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.signo, SIGABRT);
    assert_true(sh->tid > 0);
    /* Exactly one line: the expected text, one newline, at the end. */
    expect_line(&r, "the message", sh->tid);
    assert_ptr_equal(strchr(r.out, '\n'), r.out + strlen(r.out) - 1);
}

static void default_panic_null_message(void **state)
{
    (void)state;
    vl_test_child r;
    vl_test_in_child(child_default_panic, NULL, 5000, &r);
    assert_int_equal(r.signo, SIGABRT);
    expect_line(&r, "(null)", sh->tid);
}

static int child_null_info(void *arg)
{
    (void)arg;
    vl_panic_impl(NULL);
}

static void panic_null_info(void **state)
{
    (void)state;
    vl_test_child r;
    vl_test_in_child(child_null_info, NULL, 5000, &r);
    assert_int_equal(r.signo, SIGABRT);
    assert_non_null(strstr(r.out, "vllsi panic: "));
    assert_non_null(strstr(r.out, "(null)"));
}

static void returning_sigabrt_handler(int sig)
{
    (void)sig;
}

static int child_sigabrt_returns(void *arg)
{
    (void)arg;
    signal(SIGABRT, returning_sigabrt_handler);
    panic_here("caught abort");
    return 3;
}

static void panic_exit_134_when_abort_handled(void **state)
{
    (void)state;
    vl_test_child r;
    vl_test_in_child(child_sigabrt_returns, NULL, 5000, &r);
    assert_int_equal(r.exited, 1);
    assert_int_equal(r.exit_code, 134);
    assert_non_null(strstr(r.out, "caught abort"));
}

static void exiting_handler(const vl_panic_info *info)
{
    record(info);
    _exit(42);
}

static int child_custom_handler(void *arg)
{
    (void)arg;
    sh->tid = test_tid();
    vl_set_panic_handler(exiting_handler);
    panic_here("custom");
    return 3;
}

static void custom_handler_gets_info(void **state)
{
    (void)state;
    vl_test_child r;
    memset(sh, 0, sizeof(*sh));
    vl_test_in_child(child_custom_handler, NULL, 5000, &r);
    assert_int_equal(r.exited, 1);
    assert_int_equal(r.exit_code, 42);
    assert_int_equal(sh->calls, 1);
    assert_string_equal(sh->message, "custom");
    assert_string_equal(sh->file, __FILE__);
    assert_int_equal(sh->line, PANIC_HERE_LINE);
    assert_string_equal(sh->function, "panic_here");
    assert_int_equal(sh->thread_id, sh->tid);
    assert_string_equal(r.out, ""); /* the default handler never ran */
}

static void returning_handler(const vl_panic_info *info)
{
    record(info);
}

static int child_handler_returns(void *arg)
{
    (void)arg;
    sh->tid = test_tid();
    vl_set_panic_handler(returning_handler);
    panic_here("handler returned");
    return 3;
}

static void returning_handler_falls_back(void **state)
{
    (void)state;
    vl_test_child r;
    memset(sh, 0, sizeof(*sh));
    vl_test_in_child(child_handler_returns, NULL, 5000, &r);
    assert_int_equal(r.signo, SIGABRT);
    assert_int_equal(sh->calls, 1);
    expect_line(&r, "handler returned", sh->tid);
}

static void recursive_handler(const vl_panic_info *info)
{
    record(info);
    panic_here("inner");
}

static int child_recursive(void *arg)
{
    (void)arg;
    sh->tid = test_tid();
    vl_set_panic_handler(recursive_handler);
    panic_here("outer");
    return 3;
}

static void recursive_panic_aborts(void **state)
{
    (void)state;
    vl_test_child r;
    memset(sh, 0, sizeof(*sh));
    vl_test_in_child(child_recursive, NULL, 5000, &r);
    assert_int_equal(r.signo, SIGABRT);
    /* The handler ran once (for "outer"); "inner" went straight to abort. */
    assert_int_equal(sh->calls, 1);
    assert_string_equal(sh->message, "outer");
    expect_line(&r, "inner", sh->tid);
}

static jmp_buf jb;

static void jumping_handler(const vl_panic_info *info)
{
    record(info);
    longjmp(jb, 1);
}

static int child_longjmp(void *arg)
{
    int rearm = *(int *)arg;
    sh->tid = test_tid();
    vl_set_panic_handler(jumping_handler);
    if (setjmp(jb) == 0)
        panic_here("first");
    if (sh->calls != 1 || strcmp(sh->message, "first") != 0)
        return 4;
    if (rearm)
        vl_panic_recovered();
    if (setjmp(jb) == 0)
        panic_here("second");
    return sh->calls == 2 && strcmp(sh->message, "second") == 0 ? 0 : 5;
}

static void longjmp_handler_and_recovered(void **state)
{
    (void)state;
    vl_test_child r;
    int rearm = 1;
    memset(sh, 0, sizeof(*sh));
    vl_test_in_child(child_longjmp, &rearm, 5000, &r);
    assert_int_equal(r.exited, 1);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.out, "");
    /* Without vl_panic_recovered the guard stays armed: straight to abort. */
    rearm = 0;
    memset(sh, 0, sizeof(*sh));
    vl_test_in_child(child_longjmp, &rearm, 5000, &r);
    assert_int_equal(r.signo, SIGABRT);
    assert_int_equal(sh->calls, 1);
    expect_line(&r, "second", sh->tid);
}

#ifdef _WIN32
/*
 * The default panic on Windows, as a death test without fork(): the suite
 * runs itself again with VLLSI_TEST_PANIC_CHILD set (see main), stderr on a
 * pipe. The child must print exactly the one line and end the way abort()
 * ends a Windows process: exit code 3.
 */
static void windows_default_panic_in_child_process(void **state)
{
    (void)state;
    char exe[MAX_PATH];
    assert_true(GetModuleFileNameA(NULL, exe, sizeof(exe)) > 0);
    SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
    HANDLE rd, wr;
    assert_true(CreatePipe(&rd, &wr, &sa, 0));
    assert_true(SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0));
    STARTUPINFOA si;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = wr;
    si.hStdError = wr;
    PROCESS_INFORMATION pi;
    assert_true(SetEnvironmentVariableA("VLLSI_TEST_PANIC_CHILD", "1"));
    BOOL ok = CreateProcessA(exe, NULL, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
    SetEnvironmentVariableA("VLLSI_TEST_PANIC_CHILD", NULL);
    CloseHandle(wr);
    assert_true(ok);
    vl_test_child r;
    memset(&r, 0, sizeof(r));
    DWORD used = 0, n;
    while (used < sizeof(r.out) - 1 &&
           ReadFile(rd, r.out + used, (DWORD)(sizeof(r.out) - 1 - used), &n, NULL) && n > 0)
        used += n;
    r.out[used] = '\0';
    CloseHandle(rd);
    assert_int_equal(WaitForSingleObject(pi.hProcess, 10000), WAIT_OBJECT_0);
    DWORD code = 0;
    assert_true(GetExitCodeProcess(pi.hProcess, &code));
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    assert_int_equal(code, 3);
    int tid = 0;
    const char *t = strstr(r.out, "[thread ");
    assert_non_null(t);
    assert_int_equal(sscanf(t, "[thread %d]", &tid), 1);
    assert_true(tid > 0);
    expect_line(&r, "the message", tid);
}

/* A handler that leaves with longjmp needs no child process. */
static void windows_longjmp_handler_in_process(void **state)
{
    (void)state;
    int rearm = 1;
    memset(sh, 0, sizeof(*sh));
    assert_int_equal(child_longjmp(&rearm), 0);
    assert_int_equal(sh->calls, 2);
    assert_int_equal(sh->thread_id, test_tid());
    vl_panic_recovered();
}
#endif

static void set_handler_returns_previous(void **state)
{
    (void)state;
    assert_null(vl_set_panic_handler(exiting_handler));
    assert_ptr_equal(vl_set_panic_handler(returning_handler), exiting_handler);
    assert_ptr_equal(vl_set_panic_handler(NULL), returning_handler);
    assert_null(vl_set_panic_handler(NULL));
    assert_true(vl_panic_thread_id() == test_tid());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(init_shutdown_cycles, reset, reset),
        cmocka_unit_test_setup_teardown(double_init_error_names, reset, reset),
        cmocka_unit_test_setup_teardown(invalid_config, reset, reset),
        cmocka_unit_test_setup_teardown(init_installs_handler, reset, reset),
        cmocka_unit_test_setup_teardown(init_thread_rules, reset, reset),
        cmocka_unit_test_setup_teardown(concurrent_init, reset, reset),
        cmocka_unit_test_setup_teardown(default_panic_aborts, reset, reset),
        cmocka_unit_test_setup_teardown(default_panic_null_message, reset, reset),
        cmocka_unit_test_setup_teardown(panic_null_info, reset, reset),
        cmocka_unit_test_setup_teardown(panic_exit_134_when_abort_handled, reset, reset),
        cmocka_unit_test_setup_teardown(custom_handler_gets_info, reset, reset),
        cmocka_unit_test_setup_teardown(returning_handler_falls_back, reset, reset),
        cmocka_unit_test_setup_teardown(recursive_panic_aborts, reset, reset),
        cmocka_unit_test_setup_teardown(longjmp_handler_and_recovered, reset, reset),
        cmocka_unit_test_setup_teardown(set_handler_returns_previous, reset, reset),
#ifdef _WIN32
        cmocka_unit_test_setup_teardown(windows_default_panic_in_child_process, reset, reset),
        cmocka_unit_test_setup_teardown(windows_longjmp_handler_in_process, reset, reset),
#endif
    };
#ifdef _WIN32
    if (getenv("VLLSI_TEST_PANIC_CHILD") != NULL && setup_shared(NULL) == 0)
        (void)child_default_panic("the message");
#endif
    return cmocka_run_group_tests_name("sys.init", tests, setup_shared, teardown_shared);
}
