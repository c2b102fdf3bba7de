/* sys.irq - signal-mask critical sections and exception frames. */
#define _GNU_SOURCE
#include "vl_test.h"

#include <errno.h>

#include <vllsi/sys/irq.h>

#ifdef _WIN32
/*
 * Windows has no signal mask (src/sys/windows/irq.c): the guard comes back
 * inactive and enabling answers -EOPNOTSUPP. Exception frames come from a
 * vectored exception handler's EXCEPTION_POINTERS.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <vllsi/sys/mem.h>

static void test_windows_no_mask(void **state)
{
    (void)state;
    vl_critical_section cs = vl_disable_interrupts();
    assert_int_equal(cs.active, 0);
    assert_int_equal(vl_critical_section_release(&cs), -EINVAL);
    assert_int_equal(vl_critical_section_release(NULL), -EINVAL);
    assert_int_equal(vl_enable_interrupts(), -EOPNOTSUPP);
    assert_true(vl_interrupts_enabled());
}

static void *fault_page;
static vl_exception_frame fault_frame;
static int fault_rc = -1;

/* Record the frame, make the page writable and retry the faulting store. */
static LONG CALLBACK on_fault(EXCEPTION_POINTERS *ep)
{
    if (ep->ExceptionRecord->ExceptionCode != EXCEPTION_ACCESS_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    fault_rc =
        vl_exception_frame_from(SIGSEGV, ep->ExceptionRecord, ep->ContextRecord, &fault_frame);
    DWORD old;
    VirtualProtect(fault_page, vl_page_size(), PAGE_READWRITE, &old);
    return EXCEPTION_CONTINUE_EXECUTION;
}

static void test_windows_exception_frame_fault(void **state)
{
    (void)state;
    fault_page = vl_os_alloc(vl_page_size(), NULL);
    assert_non_null(fault_page);
    assert_int_equal(vl_os_protect(fault_page, vl_page_size(), VL_PROT_NONE), 0);
    void *h = AddVectoredExceptionHandler(1, on_fault);
    assert_non_null(h);
    volatile char *target = (char *)fault_page + 24;
    *target = 5;
    RemoveVectoredExceptionHandler(h);
    assert_int_equal(*target, 5);
    assert_int_equal(fault_rc, 0);
    assert_int_equal(fault_frame.signo, SIGSEGV);
    assert_int_equal((DWORD)fault_frame.code, EXCEPTION_ACCESS_VIOLATION);
    assert_ptr_equal(fault_frame.fault_addr, (void *)target);
    assert_int_not_equal(fault_frame.pc, 0);
    /* The interrupted stack pointer lies in this thread's stack. */
    assert_true(fault_frame.sp <= (uintptr_t)&h + 65536 && fault_frame.sp > 0);
    assert_int_equal(vl_os_free(fault_page, vl_page_size()), 0);
}

static void test_windows_exception_frame_bad_inputs(void **state)
{
    (void)state;
    vl_exception_frame f = {99, 99, &f, 99, 99};
    assert_int_equal(vl_exception_frame_from(SIGSEGV, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(vl_exception_frame_from(0, NULL, NULL, &f), -EINVAL);
    assert_int_equal(vl_exception_frame_from(65, NULL, NULL, &f), -EINVAL);
#ifdef __APPLE__
    assert_int_equal(vl_exception_frame_from(NSIG, NULL, NULL, &f), -EINVAL); /* 1..31 only */
#endif
    assert_int_equal(f.signo, 99); /* untouched on failure */
    assert_int_equal(vl_exception_frame_from(SIGSEGV, NULL, NULL, &f), 0);
    assert_int_equal(f.signo, SIGSEGV);
    assert_int_equal(f.code, 0);
    assert_null(f.fault_addr);
    assert_int_equal(f.pc, 0);
    assert_int_equal(f.sp, 0);
    /* Only access violations carry an address. */
    EXCEPTION_RECORD er;
    memset(&er, 0, sizeof(er));
    er.ExceptionCode = EXCEPTION_INT_DIVIDE_BY_ZERO;
    er.NumberParameters = 2;
    er.ExceptionInformation[1] = 0x1234;
    assert_int_equal(vl_exception_frame_from(SIGFPE, &er, NULL, &f), 0);
    assert_int_equal((DWORD)f.code, EXCEPTION_INT_DIVIDE_BY_ZERO);
    assert_null(f.fault_addr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_no_mask),
        cmocka_unit_test(test_windows_exception_frame_fault),
        cmocka_unit_test(test_windows_exception_frame_bad_inputs),
    };
    return cmocka_run_group_tests_name("sys.irq", tests, NULL, NULL);
}

#else /* Linux and macOS: interrupts are POSIX signals */
#include <sys/mman.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <ucontext.h>
#else
#include <sys/ucontext.h> /* <ucontext.h> is the deprecated makecontext API */
#endif

#define BIT(n) (1ull << ((n)-1))

static volatile sig_atomic_t usr1_count;
static vl_exception_frame last_frame;
static int last_frame_rc = -1;
static uintptr_t last_glibc_pc, last_glibc_sp;
static uint64_t saved_test_mask;

#ifdef __APPLE__
/* This thread's mask as the 64-bit layout vllsi uses (bit n-1 = signal n),
 * read and set with pthread_sigmask, independent of the library. macOS has
 * signals 1..31. */
static uint64_t raw_mask(void)
{
    sigset_t s;
    if (pthread_sigmask(SIG_BLOCK, NULL, &s) != 0)
        fail_msg("pthread_sigmask query failed");
    uint64_t m = 0;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&s, sig) == 1)
            m |= BIT(sig);
    return m;
}

static void set_raw_mask(uint64_t m)
{
    sigset_t s;
    sigemptyset(&s);
    for (int sig = 1; sig < NSIG; sig++)
        if (m & BIT(sig))
            sigaddset(&s, sig);
    if (pthread_sigmask(SIG_SETMASK, &s, NULL) != 0)
        fail_msg("pthread_sigmask set failed");
}

static void send_self(int sig)
{
    /* Thread-directed, so no other thread can take the signal instead. */
    pthread_kill(pthread_self(), sig);
}

/* The SDK's own view of the ucontext (arm64: its accessors). */
static void glibc_pc_sp(const void *ucontext, uintptr_t *pc, uintptr_t *sp)
{
    const ucontext_t *uc = ucontext;
#if defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext->__ss.__rip;
    *sp = (uintptr_t)uc->uc_mcontext->__ss.__rsp;
#else
    *pc = (uintptr_t)__darwin_arm_thread_state64_get_pc(uc->uc_mcontext->__ss);
    *sp = (uintptr_t)__darwin_arm_thread_state64_get_sp(uc->uc_mcontext->__ss);
#endif
}
#else
/* The kernel's 64-bit view of this thread's mask, independent of the library. */
static uint64_t raw_mask(void)
{
    uint64_t m = 0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, 8) != 0)
        fail_msg("rt_sigprocmask query failed");
    return m;
}

static void set_raw_mask(uint64_t m)
{
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, 8) != 0)
        fail_msg("rt_sigprocmask set failed");
}

static void send_self(int sig)
{
    /* Thread-directed, so no other thread can take the signal instead. */
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

static void glibc_pc_sp(const void *ucontext, uintptr_t *pc, uintptr_t *sp)
{
    const ucontext_t *uc = ucontext;
#if defined(__x86_64__)
    *pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    *pc = (uintptr_t)uc->uc_mcontext.pc;
    *sp = (uintptr_t)uc->uc_mcontext.sp;
#else
    *pc = *sp = 0;
#endif
}
#endif /* __APPLE__ */

static void on_usr1(int signo, siginfo_t *info, void *uc)
{
    usr1_count++;
    last_frame_rc = vl_exception_frame_from(signo, info, uc, &last_frame);
    glibc_pc_sp(uc, &last_glibc_pc, &last_glibc_sp);
}

static int setup(void **state)
{
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return -1;
    /* Each test starts with nothing blocked, whatever the runner inherited. */
    saved_test_mask = raw_mask();
    set_raw_mask(0);
    usr1_count = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    set_raw_mask(saved_test_mask);
    signal(SIGUSR1, SIG_DFL);
    return 0;
}

/*
 * ThreadSanitizer's own handler queues an asynchronous signal and runs the
 * program's handler at the next libc call it intercepts, so under TSan one
 * such call is needed after the mask is lifted. Elsewhere the kernel delivers
 * before rt_sigprocmask returns and this does nothing.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VL_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define VL_TEST_TSAN 1
#endif
static void let_tsan_deliver(void)
{
#ifdef VL_TEST_TSAN
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
#endif
}

static bool usr1_pending(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIGUSR1) == 1;
}

static void test_signal_deferred_until_release(void **state)
{
    (void)state;
    assert_true(vl_interrupts_enabled());
    vl_critical_section cs = vl_disable_interrupts();
    assert_int_equal(cs.active, 1);
    assert_false(vl_interrupts_enabled());
    send_self(SIGUSR1);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 0);
    assert_true(usr1_pending());
    assert_int_equal(vl_critical_section_release(&cs), 0);
    /* A pending unblocked signal is delivered before the syscall returns. */
    let_tsan_deliver();
    assert_int_equal(usr1_count, 1);
    assert_false(usr1_pending());
    assert_int_equal(cs.active, 0);
    assert_true(vl_interrupts_enabled());
}

static void test_nesting(void **state)
{
    (void)state;
    vl_critical_section a = vl_disable_interrupts();
    vl_critical_section b = vl_disable_interrupts();
    vl_critical_section c = vl_disable_interrupts();
    send_self(SIGUSR1);
    assert_int_equal(vl_critical_section_release(&c), 0);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 0);
    assert_false(vl_interrupts_enabled());
    assert_int_equal(vl_critical_section_release(&b), 0);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 0);
    assert_true(usr1_pending());
    assert_int_equal(vl_critical_section_release(&a), 0);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 1);

    /* Two levels, with a second signal raised after the inner release. */
    a = vl_disable_interrupts();
    b = vl_disable_interrupts();
    assert_int_equal(vl_critical_section_release(&b), 0);
    send_self(SIGUSR1);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 1);
    assert_int_equal(vl_critical_section_release(&a), 0);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 2);
}

static void test_bad_release(void **state)
{
    (void)state;
    assert_int_equal(vl_critical_section_release(NULL), -EINVAL);
    vl_critical_section cs = vl_disable_interrupts();
    assert_int_equal(vl_critical_section_release(&cs), 0);
    uint64_t after = raw_mask();
    assert_int_equal(vl_critical_section_release(&cs), -EINVAL);
    assert_int_equal(raw_mask(), after);
    /* A guard that was never activated is refused too. */
    vl_critical_section zero = {UINT64_MAX, 0};
    assert_int_equal(vl_critical_section_release(&zero), -EINVAL);
    assert_int_equal(raw_mask(), after);
}

static void test_mask_restored_exactly(void **state)
{
    (void)state;
    /* Start from a mask with a few signals the program blocks on purpose. */
#ifdef __APPLE__
    uint64_t m0 = BIT(SIGUSR2) | BIT(SIGCHLD) | BIT(SIGWINCH);
#else
    uint64_t m0 = BIT(SIGUSR2) | BIT(SIGCHLD) | BIT(SIGRTMIN + 3);
#endif
    set_raw_mask(m0);
    assert_false(vl_interrupts_enabled());
    vl_critical_section cs = vl_disable_interrupts();
    assert_int_equal(cs.saved_mask, m0);
    uint64_t inside = raw_mask();
    /* Everything blockable is blocked... */
    assert_true(inside & BIT(SIGUSR1));
    assert_true(inside & BIT(SIGTERM));
    assert_true(inside & BIT(SIGINT));
#ifdef __APPLE__
    /* ...which on macOS is every signal but SIGKILL and SIGSTOP. */
    assert_int_equal(inside, (BIT(31) | (BIT(31) - 1)) & ~(BIT(SIGKILL) | BIT(SIGSTOP)));
#else
    if (!vl_test_emulated()) /* qemu-user keeps signal 64 for itself */
        assert_true(inside & BIT(64));
    /* ...except glibc's internal signals, which must stay deliverable. */
    assert_false(inside & BIT(32));
    assert_false(inside & BIT(33));
#endif
    assert_int_equal(vl_critical_section_release(&cs), 0);
    assert_int_equal(raw_mask(), m0);
    set_raw_mask(0);
    assert_true(vl_interrupts_enabled());
    /* One blocked signal is enough for "disabled". */
    set_raw_mask(BIT(SIGUSR2));
    assert_false(vl_interrupts_enabled());
    set_raw_mask(0);
}

static void test_enable_interrupts(void **state)
{
    (void)state;
    set_raw_mask(BIT(SIGUSR2));
    vl_critical_section cs = vl_disable_interrupts();
    send_self(SIGUSR1);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 0);
    assert_int_equal(vl_enable_interrupts(), 0);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 1);
    assert_int_equal(raw_mask(), 0);
    assert_true(vl_interrupts_enabled());
    /* The guard is still active and re-installs what it saved. */
    assert_int_equal(vl_critical_section_release(&cs), 0);
    assert_int_equal(raw_mask(), BIT(SIGUSR2));
    set_raw_mask(0);
}

static void test_exception_frame_from_handler(void **state)
{
    (void)state;
    last_frame_rc = -1;
    memset(&last_frame, 0, sizeof(last_frame));
    send_self(SIGUSR1);
    let_tsan_deliver();
    assert_int_equal(usr1_count, 1);
    assert_int_equal(last_frame_rc, 0);
    assert_int_equal(last_frame.signo, SIGUSR1);
#ifndef __APPLE__
    /* Linux marks a thread-directed signal; macOS's pthread_kill code is
     * not documented, so only the other fields are checked there. */
    assert_int_equal(last_frame.code, SI_TKILL);
#endif
    assert_null(last_frame.fault_addr);
    /* The layout decoding agrees with glibc's own view of the ucontext. */
    assert_true(last_frame.pc != 0);
    assert_int_equal(last_frame.pc, last_glibc_pc);
    assert_int_equal(last_frame.sp, last_glibc_sp);
}

static void *segv_page;

static void on_segv(int signo, siginfo_t *info, void *uc)
{
    vl_exception_frame f;
    uintptr_t pc, sp;
    if (vl_exception_frame_from(signo, info, uc, &f) != 0)
        _exit(10);
    glibc_pc_sp(uc, &pc, &sp);
#ifdef __APPLE__
    /* macOS reports a protection fault as SIGBUS (or SIGSEGV/SEGV_ACCERR). */
    if (f.signo != SIGBUS && !(f.signo == SIGSEGV && f.code == SEGV_ACCERR))
        _exit(11);
#else
    if (f.signo != SIGSEGV)
        _exit(11);
    if (f.code != SEGV_ACCERR)
        _exit(13);
#endif
    if (f.fault_addr != (char *)segv_page + 8)
        _exit(12);
    if (f.pc == 0 || f.pc != pc || f.sp != sp)
        _exit(14);
    _exit(0);
}

static int child_segv(void *arg)
{
    (void)arg;
    segv_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (segv_page == MAP_FAILED)
        return 20;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    *(volatile int *)((char *)segv_page + 8) = 1;
    return 21; /* the store above must fault */
}

static void test_exception_frame_segv(void **state)
{
    (void)state;
    vl_test_child r;
    vl_test_in_child(child_segv, NULL, 5000, &r);
    assert_false(r.timed_out);
    assert_int_equal(r.exited, 1);
    assert_int_equal(r.exit_code, 0);
}

static void test_exception_frame_bad_inputs(void **state)
{
    (void)state;
    vl_exception_frame f = {99, 99, &f, 99, 99};
    assert_int_equal(vl_exception_frame_from(SIGUSR1, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(vl_exception_frame_from(0, NULL, NULL, &f), -EINVAL);
    assert_int_equal(vl_exception_frame_from(65, NULL, NULL, &f), -EINVAL);
    assert_int_equal(vl_exception_frame_from(-1, NULL, NULL, &f), -EINVAL);
    assert_int_equal(f.signo, 99); /* untouched on failure */
    /* No siginfo and no ucontext: only the signal number is known. */
    assert_int_equal(vl_exception_frame_from(SIGSEGV, NULL, NULL, &f), 0);
    assert_int_equal(f.signo, SIGSEGV);
    assert_int_equal(f.code, 0);
    assert_null(f.fault_addr);
    assert_int_equal(f.pc, 0);
    assert_int_equal(f.sp, 0);
    /* A non-fault signal never reports an address, whatever si_addr holds. */
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    si.si_signo = SIGUSR2;
    si.si_code = SI_USER;
    assert_int_equal(vl_exception_frame_from(SIGUSR2, &si, NULL, &f), 0);
    assert_int_equal(f.code, SI_USER);
    assert_null(f.fault_addr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signal_deferred_until_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mask_restored_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exception_frame_from_handler, setup, teardown),
        cmocka_unit_test(test_exception_frame_segv),
        cmocka_unit_test(test_exception_frame_bad_inputs),
    };
    return cmocka_run_group_tests_name("sys.irq", tests, NULL, NULL);
}
#endif /* _WIN32 */
