/* sys.common: page size discovery, page arithmetic, error names. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <winternl.h>
#include <vllsi/sys/windows.h>
#elif defined(__APPLE__)
#include <mach/kern_return.h>
#include <unistd.h>
#include <vllsi/sys/darwin.h>
#else
#include <sys/auxv.h>
#include <unistd.h>
#endif

#include "vl_test.h"
#include <vllsi/sys/common.h>
#include "internal.h"

#ifdef _WIN32
static void page_size_matches_kernel(void **state)
{
    (void)state;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    size_t ps = vl_page_size();
    assert_int_equal(ps, (size_t)si.dwPageSize);
    assert_int_equal((size_t)1 << vl_page_shift(), ps);
}

static void auxv_lookup(void **state)
{
    (void)state;
    VL_TEST_SKIP_ON_WINDOWS("Windows has no auxiliary vector");
}

/* The Win32/NTSTATUS maps: known codes, success, and codes with no POSIX
 * counterpart (-EIO). */
static void windows_error_maps(void **state)
{
    (void)state;
    assert_int_equal(vl_win_error_to_errno(ERROR_SUCCESS), 0);
    assert_int_equal(vl_win_error_to_errno(ERROR_INVALID_HANDLE), -EBADF);
    assert_int_equal(vl_win_error_to_errno(ERROR_NOT_ENOUGH_MEMORY), -ENOMEM);
    assert_int_equal(vl_win_error_to_errno(ERROR_OPERATION_ABORTED), -ECANCELED);
    assert_int_equal(vl_win_error_to_errno(WSAECONNRESET), -ECONNRESET);
    assert_int_equal(vl_win_error_to_errno(WSAENOTSOCK), -ENOTSOCK);
    assert_int_equal(vl_win_error_to_errno(WSAESHUTDOWN), -EPIPE);
    assert_int_equal(vl_win_error_to_errno(ERROR_BROKEN_PIPE), -EPIPE);
    assert_int_equal(vl_win_error_to_errno(0xdeadbeefu), -EIO);
    assert_int_equal(vl_ntstatus_to_errno(0), 0);
    assert_int_equal(vl_ntstatus_to_errno(0x103 /* STATUS_PENDING */), 0);
    assert_int_equal(vl_ntstatus_to_errno((int32_t)0xC0000008 /* INVALID_HANDLE */), -EBADF);
    assert_int_equal(vl_ntstatus_to_errno((int32_t)0xC0000120 /* CANCELLED */), -ECANCELED);
    assert_int_equal(vl_ntstatus_to_errno((int32_t)0xC000020D /* CONNECTION_RESET */), -ECONNRESET);
    assert_int_equal(vl_ntstatus_to_errno((int32_t)0xC0FFFFFF), -EIO);
    /* The Linux names the C runtime lacks are distinct and all named. */
    assert_int_equal(ESHUTDOWN, 1108);
    assert_string_equal(vl_errname(-ESHUTDOWN), "ESHUTDOWN");
    assert_string_equal(vl_errname(-EHWPOISON), "EHWPOISON");
}
#elif defined(__APPLE__)
static void page_size_matches_kernel(void **state)
{
    (void)state;
    size_t ps = vl_page_size();
    assert_int_equal(ps, (size_t)sysconf(_SC_PAGESIZE));
    assert_true(ps == 4096 || ps == 16384);
    assert_int_equal((size_t)1 << vl_page_shift(), ps);
}

static void auxv_lookup(void **state)
{
    (void)state;
    VL_TEST_SKIP_ON_MACOS("macOS has no auxiliary vector");
}

/* The kern_return_t map: known codes, success, and codes with no POSIX
 * counterpart (-EIO). */
static void mach_error_map(void **state)
{
    (void)state;
    assert_int_equal(vl_mach_error_to_errno(KERN_SUCCESS), 0);
    assert_int_equal(vl_mach_error_to_errno(KERN_INVALID_ADDRESS), -ENOMEM);
    assert_int_equal(vl_mach_error_to_errno(KERN_PROTECTION_FAILURE), -EACCES);
    assert_int_equal(vl_mach_error_to_errno(KERN_INVALID_ARGUMENT), -EINVAL);
    assert_int_equal(vl_mach_error_to_errno(KERN_RESOURCE_SHORTAGE), -ENOMEM);
    assert_int_equal(vl_mach_error_to_errno(KERN_ABORTED), -EINTR);
    assert_int_equal(vl_mach_error_to_errno(KERN_OPERATION_TIMED_OUT), -ETIMEDOUT);
    assert_int_equal(vl_mach_error_to_errno(KERN_NOT_SUPPORTED), -EOPNOTSUPP);
    assert_int_equal(vl_mach_error_to_errno(KERN_FAILURE), -EIO);
    assert_int_equal(vl_mach_error_to_errno(0x7fff), -EIO);
    assert_int_equal(vl_mach_error_to_errno(-1), -EIO);
    /* The Linux names macOS lacks are distinct and all named; macOS's own
     * values are named too. */
    assert_int_equal(EBADFD, 1077);
    assert_string_equal(vl_errname(-EBADFD), "EBADFD");
    assert_string_equal(vl_errname(-EHWPOISON), "EHWPOISON");
    assert_string_equal(vl_errname(-ENOTSUP), "ENOTSUP");
    assert_string_equal(vl_errname(-EQFULL), "EQFULL");
}
#else
static void page_size_matches_kernel(void **state)
{
    (void)state;
    size_t ps = vl_page_size();
    assert_int_equal(ps, (size_t)sysconf(_SC_PAGESIZE));
    assert_int_equal(ps, getauxval(AT_PAGESZ));
    assert_true(ps == 4096 || ps == 16384 || ps == 65536);
    assert_int_equal((size_t)1 << vl_page_shift(), ps);
}

static void auxv_lookup(void **state)
{
    (void)state;
    unsigned long v = 0;
    assert_int_equal(vl__auxv_get(AT_PAGESZ, &v), 0);
    assert_int_equal(v, getauxval(AT_PAGESZ));
    /* A type the cache does not keep is reported as absent, not guessed. */
    assert_int_equal(vl__auxv_get(AT_EXECFN, &v), -ENOENT);
    assert_int_equal(vl__auxv_get(123456, &v), -ENOENT);
}
#endif

static void page_alignment(void **state)
{
    (void)state;
    size_t ps = vl_page_size();
    assert_int_equal(vl_page_align_up(0), 0);
    assert_int_equal(vl_page_align_up(1), ps);
    assert_int_equal(vl_page_align_up(ps), ps);
    assert_int_equal(vl_page_align_up(ps + 1), 2 * ps);
    assert_int_equal(vl_page_align_down(ps - 1), 0);
    assert_int_equal(vl_page_align_down(2 * ps + 7), 2 * ps);
    assert_true(vl_is_page_aligned(0));
    assert_true(vl_is_page_aligned(3 * ps));
    assert_false(vl_is_page_aligned(ps / 2));
    /* Overflow saturates to 0 instead of wrapping to a small size. */
    assert_int_equal(vl_page_align_up(SIZE_MAX), 0);
    assert_int_equal(vl_page_align_up(SIZE_MAX - ps + 2), 0);
    assert_int_equal(vl_page_align_up(SIZE_MAX - ps + 1), SIZE_MAX - ps + 1);
    assert_int_equal(vl_page_align_down(SIZE_MAX), SIZE_MAX - ps + 1);
}

static void error_names(void **state)
{
    (void)state;
    assert_string_equal(vl_errname(-EINVAL), "EINVAL");
    assert_string_equal(vl_errname(EINVAL), "EINVAL");
    assert_string_equal(vl_errname(-EAGAIN), "EAGAIN");
    assert_string_equal(vl_errname(-ECANCELED), "ECANCELED");
    assert_string_equal(vl_errname(0), "OK");
    assert_string_equal(vl_strerror(0), "Success");
#if defined(_WIN32) || defined(__APPLE__)
    /* The Windows C runtime's and macOS's messages differ from Linux's
     * wording, so only the names are compared: every Linux errno name is
     * known. */
    const int linux_names[] = {EPERM,    EDEADLK,  ENOSYS,      ETIMEDOUT, ECONNRESET, EOPNOTSUPP,
                               ENOTSOCK, EALREADY, EINPROGRESS, EBADFD,    ESHUTDOWN};
    for (size_t i = 0; i < sizeof(linux_names) / sizeof(linux_names[0]); i++)
        assert_string_not_equal(vl_errname(-linux_names[i]), "UNKNOWN");
    assert_string_equal(vl_strerror(-ECONNRESET), "Connection reset by peer");
#else
    /* Every errno the C library knows has the same message here. */
    for (int e = 1; e < 134; e++) {
        const char *libc = strerror(e);
        if (strncmp(libc, "Unknown error", 13) == 0) {
            assert_string_equal(vl_errname(-e), "UNKNOWN");
            continue;
        }
        assert_string_equal(vl_strerror(-e), libc);
        assert_string_not_equal(vl_errname(-e), "UNKNOWN");
    }
#endif
    assert_string_equal(vl_errname(-VL_ECTX_STACK_OVERFLOW), "VL_ECTX_STACK_OVERFLOW");
    assert_string_equal(vl_errname(-VL_ECTX_INVALID_SLOT), "VL_ECTX_INVALID_SLOT");
    assert_string_equal(vl_errname(-VL_EINIT_ALREADY_INITIALIZED), "VL_EINIT_ALREADY_INITIALIZED");
    assert_string_equal(vl_errname(-VL_EINIT_INVALID_CONFIG), "VL_EINIT_INVALID_CONFIG");
    assert_string_equal(vl_strerror(-VL_ECTX_SLOT_EMPTY), "Context slot holds no value");
}

static void error_bad_codes(void **state)
{
    (void)state;
    const int bad[] = {-4095, 4000, -5000, -5006, 5099, -5100, -5103, -99999, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_string_equal(vl_errname(bad[i]), "UNKNOWN");
        assert_string_equal(vl_strerror(bad[i]), "Unknown error");
    }
}

static void os_error_wraps(void **state)
{
    (void)state;
    vl_os_error e = vl_os_error_from(-ENOMEM);
    assert_int_equal(e.code, -ENOMEM);
#if defined(_WIN32) || defined(__APPLE__)
    /* The C runtime words its messages differently; vllsi keeps Linux's. */
    assert_string_equal(e.message, "Cannot allocate memory");
#else
    assert_string_equal(e.message, strerror(ENOMEM));
#endif
    e = vl_os_error_from(EBADF);
    assert_int_equal(e.code, -EBADF);
    e = vl_os_error_from(0);
    assert_int_equal(e.code, 0);
    assert_string_equal(e.message, "Success");
}

static void fd_and_iovec_types(void **state)
{
    (void)state;
    vl_fd f = vl_fd_make(3);
    assert_true(vl_fd_valid(f));
    assert_false(vl_fd_valid(VL_FD_INVALID));
    /* vl_iovec must stay layout-compatible with struct iovec. */
    assert_int_equal(sizeof(vl_iovec), 2 * sizeof(void *));
    assert_int_equal(offsetof(vl_iovec, len), sizeof(void *));
    assert_int_equal(VL_PROT_READ | VL_PROT_WRITE, 3);
    assert_int_equal(VL_MAP_ANON, 0x20);
    assert_int_equal(VL_MAP_HUGETLB, 0x40000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_size_matches_kernel), cmocka_unit_test(auxv_lookup),
        cmocka_unit_test(page_alignment),           cmocka_unit_test(error_names),
        cmocka_unit_test(error_bad_codes),          cmocka_unit_test(os_error_wraps),
        cmocka_unit_test(fd_and_iovec_types),
#ifdef _WIN32
        cmocka_unit_test(windows_error_maps),
#endif
#ifdef __APPLE__
        cmocka_unit_test(mach_error_map),
#endif
    };
    return cmocka_run_group_tests_name("sys.common", tests, NULL, NULL);
}
