/* sys.syscall: the raw system call layer and the seed's sys.linux wrappers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vl_test.h"
#include <vllsi/sys/linux.h>

static void raw_matches_libc(void **state)
{
    (void)state;
    assert_int_equal(vl_syscall_raw(SYS_getpid, 0, 0, 0, 0, 0, 0), getpid());
    assert_int_equal(vl_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0), syscall(SYS_gettid));
    assert_int_equal(vl_sys_getpid(), getpid());
    assert_int_equal(vl_sys_gettid(), syscall(SYS_gettid));
    /* Unknown numbers come back as -ENOSYS, not a crash. */
    assert_int_equal(vl_syscall_raw(100000, 0, 0, 0, 0, 0, 0), -ENOSYS);
    assert_int_equal(vl_syscall6(-1, 0, 0, 0, 0, 0, 0), -ENOSYS);
}

/* Six arguments really reach the kernel: mmap uses all of them. */
static void six_arguments(void **state)
{
    (void)state;
    char path[] = "/tmp/vllsi-sc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    long ps = sysconf(_SC_PAGESIZE);
    char *page = calloc(1, (size_t)ps * 2);
    memset(page + ps, 'Z', (size_t)ps);
    assert_int_equal(write(fd, page, (size_t)ps * 2), ps * 2);
    long r = vl_syscall6(SYS_mmap, 0, ps, PROT_READ, MAP_PRIVATE, fd, ps);
    assert_false(vl_sys_is_error(r));
    assert_int_equal(((char *)r)[0], 'Z');
    assert_int_equal(vl_sys_munmap((void *)r, (size_t)ps), 0);
    free(page);
    close(fd);
}

static void read_write_close(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(vl_sys_write(p[1], "hello", 5), 5);
    char buf[8] = {0};
    assert_int_equal(vl_sys_read(p[0], buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(vl_sys_write(p[1], "", 0), 0);
    assert_int_equal(vl_sys_close(p[1]), 0);
    assert_int_equal(vl_sys_read(p[0], buf, sizeof(buf)), 0); /* EOF */
    assert_int_equal(vl_sys_close(p[0]), 0);
    /* Bad descriptors and bad buffers give -errno; errno is untouched. */
    errno = 0;
    assert_int_equal(vl_sys_read(p[0], buf, 1), -EBADF);
    assert_int_equal(vl_sys_write(-1, buf, 1), -EBADF);
    assert_int_equal(vl_sys_close(p[0]), -EBADF);
    assert_int_equal(vl_sys_close(-1), -EBADF);
    assert_int_equal(errno, 0);
    assert_int_equal(pipe(p), 0);
    VL_TEST_BAD_POINTERS_BEGIN();
    assert_int_equal(vl_sys_write(p[1], NULL, 4), -EFAULT);
    assert_int_equal(vl_sys_write(p[1], "x", 1), 1);
    assert_int_equal(vl_sys_read(p[0], (void *)16, 1), -EFAULT);
    VL_TEST_BAD_POINTERS_END();
    close(p[0]);
    close(p[1]);
}

static void write_to_closed_pipe_is_epipe(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    assert_int_equal(vl_sys_write(p[1], "x", 1), -EPIPE);
    sigaction(SIGPIPE, &old, NULL);
    close(p[1]);
}

static void mmap_family(void **state)
{
    (void)state;
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    intptr_t r =
        vl_sys_mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_false(vl_sys_is_error(r));
    char *p = (char *)r;
    p[0] = 1;
    p[2 * ps - 1] = 2;
    assert_int_equal(vl_sys_mprotect(p, ps, PROT_READ), 0);
    assert_int_equal(p[0], 1);
    assert_int_equal(vl_sys_madvise(p + ps, ps, MADV_DONTNEED), 0);
    assert_int_equal(p[2 * ps - 1], 0); /* DONTNEED on private anon memory zero-fills */
    assert_int_equal(vl_sys_munmap(p, 2 * ps), 0);
    /* Errors: */
    r = vl_sys_mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_int_equal(r, -EINVAL);
    r = vl_sys_mmap(NULL, ps, PROT_READ, MAP_PRIVATE, -1, 0);
    assert_int_equal(r, -EBADF);
    assert_true(vl_sys_is_error(-EBADF));
    assert_false(vl_sys_is_error(-4096));
    assert_false(vl_sys_is_error(0));
    assert_int_equal(vl_sys_munmap((void *)1, ps), -EINVAL);
    assert_int_equal(vl_sys_mprotect((void *)1, ps, PROT_READ), -EINVAL);
    assert_int_equal(vl_sys_madvise((void *)1, ps, MADV_NORMAL), -EINVAL);
    if (!vl_test_emulated()) /* qemu-user accepts any madvise */
        assert_int_equal(vl_sys_madvise(NULL, ps, 12345), -EINVAL);
}

static int exit_thread_only(void *arg)
{
    (void)arg;
    /* exit_group ends the process with the code, skipping atexit handlers. */
    vl_sys_exit_group(42);
}

static int exit_main_thread(void *arg)
{
    (void)arg;
    /* exit(2) from the only thread ends the process too, with that code. */
    vl_sys_exit(7);
}

static void exits(void **state)
{
    (void)state;
    vl_test_child c;
    vl_test_in_child(exit_thread_only, NULL, 5000, &c);
    assert_true(c.exited);
    assert_int_equal(c.exit_code, 42);
    vl_test_in_child(exit_main_thread, NULL, 5000, &c);
    assert_true(c.exited);
    assert_int_equal(c.exit_code, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(raw_matches_libc), cmocka_unit_test(six_arguments),
        cmocka_unit_test(read_write_close), cmocka_unit_test(write_to_closed_pipe_is_epipe),
        cmocka_unit_test(mmap_family),      cmocka_unit_test(exits),
    };
    return cmocka_run_group_tests_name("sys.syscall", tests, NULL, NULL);
}
