/*
 * vllsi/sys/windows.h - what only the Windows build has: the Linux errno
 * names the Windows C runtime lacks, and the maps from Win32 error codes and
 * NTSTATUS values to negative errno values.
 *
 * Error numbering on Windows. vllsi returns the same SYMBOLIC errors on
 * every platform: a bad argument is -EINVAL, a reset connection
 * -ECONNRESET, an engine after shutdown -ESHUTDOWN. The numbers are the ones
 * the program's own <errno.h> gives those names, so `r == -ECONNRESET`
 * compiles and holds on Windows exactly as on Linux. The C runtime
 * (mingw-w64's and Microsoft's UCRT) defines the POSIX set, including the
 * network errors at 100..140; the 55 Linux names it lacks (ESHUTDOWN,
 * EBADFD, EHOSTDOWN, ...) are defined here as 1000 + their Linux value,
 * which no runtime uses, so every code stays unique and below VL_MAX_ERRNO
 * (the 44 that macOS lacks too come from <vllsi/sys/errno_ext.h>).
 * vl_strerror() and vl_errname() name all of them.
 *
 * This header is included by <vllsi/sys.h> and <vllsi/engine.h> on Windows;
 * it is empty elsewhere.
 */
#ifndef VLLSI_SYS_WINDOWS_H
#define VLLSI_SYS_WINDOWS_H

#if defined(_WIN32)
#include <errno.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

/* Linux errno names missing from the Windows C runtime: 1000 + Linux value,
 * those macOS lacks too from <vllsi/sys/errno_ext.h>, the rest here. */
#include <vllsi/sys/errno_ext.h>
#ifndef ENOTBLK
#define ENOTBLK 1015
#endif
#ifndef EREMOTE
#define EREMOTE 1066
#endif
#ifndef EMULTIHOP
#define EMULTIHOP 1072
#endif
#ifndef EUSERS
#define EUSERS 1087
#endif
#ifndef ESOCKTNOSUPPORT
#define ESOCKTNOSUPPORT 1094
#endif
#ifndef EPFNOSUPPORT
#define EPFNOSUPPORT 1096
#endif
#ifndef ESHUTDOWN
#define ESHUTDOWN 1108
#endif
#ifndef ETOOMANYREFS
#define ETOOMANYREFS 1109
#endif
#ifndef EHOSTDOWN
#define EHOSTDOWN 1112
#endif
#ifndef ESTALE
#define ESTALE 1116
#endif
#ifndef EDQUOT
#define EDQUOT 1122
#endif

/*
 * vl_win_error_to_errno - the negative errno for a Win32 error code (what
 * GetLastError() and WSAGetLastError() return; Winsock's WSAE* codes are
 * Win32 codes too). 0 maps to 0; a code with no POSIX counterpart maps to
 * -EIO. The table is in docs/windows.md.
 */
VL_API int vl_win_error_to_errno(unsigned long win32_error);

/*
 * vl_ntstatus_to_errno - the negative errno for an NTSTATUS (what the
 * Internal field of a completed OVERLAPPED holds, and what ntdll returns).
 * Success and informational values (NT_SUCCESS) map to 0; an error status
 * with no POSIX counterpart maps to -EIO.
 */
VL_API int vl_ntstatus_to_errno(int32_t status);

VL_EXTERN_C_END

#endif /* _WIN32 */
#endif /* VLLSI_SYS_WINDOWS_H */
