/*
 * src/sys/windows/win.c - the kernel32 primitives the shared sys files use
 * through shim.h, and the maps from Win32 errors and NTSTATUS values to
 * negative errno values (the table is documented in docs/windows.md).
 */
#include <signal.h>

#include "win.h"

#include <winternl.h>

/* NtCurrentTeb() is this same load (the TEB's self pointer at gs:0x30), but
 * its mingw-w64 inline trips gcc 12's -Warray-bounds. */
void *vl__win_teb(void)
{
    void *teb;
    __asm__("movq %%gs:0x30, %0" : "=r"(teb));
    return teb;
}

int vl__win_thread_id(void)
{
    return (int)GetCurrentThreadId();
}

int vl__win_process_id(void)
{
    return (int)GetCurrentProcessId();
}

long vl__win_write_fd(int fd, const void *buf, size_t n)
{
    DWORD which = fd == 1 ? STD_OUTPUT_HANDLE : fd == 2 ? STD_ERROR_HANDLE : 0;
    if (which == 0)
        return -EBADF;
    HANDLE h = GetStdHandle(which);
    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return -EBADF;
    DWORD done = 0;
    DWORD chunk = n > 0x7fffffffu ? 0x7fffffffu : (DWORD)n;
    if (!WriteFile(h, buf, chunk, &done, NULL))
        return vl__win_last_errno();
    return (long)done;
}

/* raise() runs a SIGABRT handler installed with signal() and otherwise ends
 * the process the way abort() does (exit code 3); if a handler returns, the
 * process ends here with `code`, like exit_group(134) on Linux. */
void vl__win_abort(int code)
{
    (void)raise(SIGABRT);
    TerminateProcess(GetCurrentProcess(), (UINT)code);
    for (;;)
        ExitProcess((UINT)code);
}

/* ---- error maps --------------------------------------------------------- */

struct err_pair {
    uint32_t win;
    int err;
};

/* Win32 error -> errno. Winsock's WSAE* are Win32 codes in 10004..11004. The
 * table is only read on error paths, so a linear scan is plenty. */
static const struct err_pair win32_errors[] = {
    {ERROR_INVALID_FUNCTION, EINVAL},
    {ERROR_FILE_NOT_FOUND, ENOENT},
    {ERROR_PATH_NOT_FOUND, ENOENT},
    {ERROR_TOO_MANY_OPEN_FILES, EMFILE},
    {ERROR_ACCESS_DENIED, EACCES},
    {ERROR_INVALID_HANDLE, EBADF},
    {ERROR_NOT_ENOUGH_MEMORY, ENOMEM},
    {ERROR_INVALID_DATA, EINVAL},
    {ERROR_OUTOFMEMORY, ENOMEM},
    {ERROR_INVALID_DRIVE, ENODEV},
    {ERROR_NOT_SAME_DEVICE, EXDEV},
    {ERROR_WRITE_PROTECT, EROFS},
    {ERROR_NOT_READY, EAGAIN},
    {ERROR_GEN_FAILURE, EIO},
    {ERROR_SHARING_VIOLATION, EBUSY},
    {ERROR_LOCK_VIOLATION, EBUSY},
    {ERROR_HANDLE_DISK_FULL, ENOSPC},
    {ERROR_NOT_SUPPORTED, EOPNOTSUPP},
    {ERROR_NETNAME_DELETED, ECONNRESET},
    {ERROR_NETWORK_ACCESS_DENIED, EACCES},
    {ERROR_FILE_EXISTS, EEXIST},
    {ERROR_INVALID_PARAMETER, EINVAL},
    {ERROR_BROKEN_PIPE, EPIPE},
    {ERROR_DISK_FULL, ENOSPC},
    {ERROR_CALL_NOT_IMPLEMENTED, ENOSYS},
    {ERROR_SEM_TIMEOUT, ETIMEDOUT},
    {ERROR_INSUFFICIENT_BUFFER, ENOBUFS},
    {ERROR_INVALID_NAME, ENOENT},
    {ERROR_NEGATIVE_SEEK, EINVAL},
    {ERROR_SEEK_ON_DEVICE, ESPIPE},
    {ERROR_DIR_NOT_EMPTY, ENOTEMPTY},
    {ERROR_BAD_ARGUMENTS, EINVAL},
    {ERROR_MAX_THRDS_REACHED, EAGAIN},
    {ERROR_BUSY, EBUSY},
    {ERROR_ALREADY_EXISTS, EEXIST},
    {ERROR_FILENAME_EXCED_RANGE, ENAMETOOLONG},
    {ERROR_DIRECTORY, ENOTDIR},
    {ERROR_BAD_PIPE, EPIPE},
    {ERROR_PIPE_BUSY, EBUSY},
    {ERROR_NO_DATA, EPIPE},
    {ERROR_PIPE_NOT_CONNECTED, EPIPE},
    {ERROR_MORE_DATA, EMSGSIZE},
    {WAIT_TIMEOUT, ETIMEDOUT},
    {ERROR_NOT_OWNER, EPERM},
    {ERROR_INVALID_ADDRESS, ENOMEM},
    {ERROR_OPERATION_ABORTED, ECANCELED},
    {ERROR_IO_INCOMPLETE, EAGAIN},
    {ERROR_IO_PENDING, EINPROGRESS},
    {ERROR_NOACCESS, EFAULT},
    {ERROR_INVALID_FLAGS, EINVAL},
    {ERROR_POSSIBLE_DEADLOCK, EDEADLK},
    {ERROR_NOT_FOUND, ENOENT},
    {ERROR_CONNECTION_REFUSED, ECONNREFUSED},
    {ERROR_ADDRESS_ALREADY_ASSOCIATED, EADDRINUSE},
    {ERROR_NETWORK_UNREACHABLE, ENETUNREACH},
    {ERROR_HOST_UNREACHABLE, EHOSTUNREACH},
    {ERROR_PORT_UNREACHABLE, ECONNREFUSED},
    {ERROR_CONNECTION_ABORTED, ECONNABORTED},
    {ERROR_PRIVILEGE_NOT_HELD, EPERM},
    {ERROR_NO_SYSTEM_RESOURCES, ENOMEM},
    {ERROR_COMMITMENT_LIMIT, ENOMEM},
    {ERROR_TIMEOUT, ETIMEDOUT},
    {ERROR_INVALID_USER_BUFFER, EFAULT},
    {ERROR_CANT_RESOLVE_FILENAME, ELOOP},
    {WSAEINTR, EINTR},
    {WSAEBADF, EBADF},
    {WSAEACCES, EACCES},
    {WSAEFAULT, EFAULT},
    {WSAEINVAL, EINVAL},
    {WSAEMFILE, EMFILE},
    {WSAEWOULDBLOCK, EAGAIN},
    {WSAEINPROGRESS, EINPROGRESS},
    {WSAEALREADY, EALREADY},
    {WSAENOTSOCK, ENOTSOCK},
    {WSAEDESTADDRREQ, EDESTADDRREQ},
    {WSAEMSGSIZE, EMSGSIZE},
    {WSAEPROTOTYPE, EPROTOTYPE},
    {WSAENOPROTOOPT, ENOPROTOOPT},
    {WSAEPROTONOSUPPORT, EPROTONOSUPPORT},
    {WSAESOCKTNOSUPPORT, ESOCKTNOSUPPORT},
    {WSAEOPNOTSUPP, EOPNOTSUPP},
    {WSAEPFNOSUPPORT, EPFNOSUPPORT},
    {WSAEAFNOSUPPORT, EAFNOSUPPORT},
    {WSAEADDRINUSE, EADDRINUSE},
    {WSAEADDRNOTAVAIL, EADDRNOTAVAIL},
    {WSAENETDOWN, ENETDOWN},
    {WSAENETUNREACH, ENETUNREACH},
    {WSAENETRESET, ENETRESET},
    {WSAECONNABORTED, ECONNABORTED},
    {WSAECONNRESET, ECONNRESET},
    {WSAENOBUFS, ENOBUFS},
    {WSAEISCONN, EISCONN},
    {WSAENOTCONN, ENOTCONN},
    {WSAESHUTDOWN, EPIPE},
    {WSAETOOMANYREFS, ETOOMANYREFS},
    {WSAETIMEDOUT, ETIMEDOUT},
    {WSAECONNREFUSED, ECONNREFUSED},
    {WSAELOOP, ELOOP},
    {WSAENAMETOOLONG, ENAMETOOLONG},
    {WSAEHOSTDOWN, EHOSTDOWN},
    {WSAEHOSTUNREACH, EHOSTUNREACH},
    {WSAENOTEMPTY, ENOTEMPTY},
    {WSAEPROCLIM, EAGAIN},
    {WSAEUSERS, EUSERS},
    {WSAEDQUOT, EDQUOT},
    {WSAESTALE, ESTALE},
    {WSAEREMOTE, EREMOTE},
    {WSANOTINITIALISED, EINVAL},
    {WSAEDISCON, EPIPE},
    {WSAECANCELLED, ECANCELED},
};

int vl_win_error_to_errno(unsigned long win32_error)
{
    if (win32_error == ERROR_SUCCESS)
        return 0;
    for (size_t i = 0; i < VL__ARRAY_LEN(win32_errors); i++)
        if (win32_errors[i].win == win32_error)
            return -win32_errors[i].err;
    return -EIO;
}

int vl_ntstatus_to_errno(int32_t status)
{
    if (status >= 0)
        return 0;
    /* ntdll's own NTSTATUS -> Win32 translation, the one kernel32 applies to
     * every failing call, so this map and the Win32 one never disagree. */
    return vl_win_error_to_errno(RtlNtStatusToDosError(status));
}
