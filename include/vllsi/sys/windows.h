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
 * EBADFD, EHOSTDOWN, ...) are defined here as 1000 + their Linux value, which
 * no runtime uses, so every code stays unique and below VL_MAX_ERRNO.
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

/* Linux errno names missing from the Windows C runtime: 1000 + Linux value. */
#ifndef ENOTBLK
#define ENOTBLK 1015
#endif
#ifndef ECHRNG
#define ECHRNG 1044
#endif
#ifndef EL2NSYNC
#define EL2NSYNC 1045
#endif
#ifndef EL3HLT
#define EL3HLT 1046
#endif
#ifndef EL3RST
#define EL3RST 1047
#endif
#ifndef ELNRNG
#define ELNRNG 1048
#endif
#ifndef EUNATCH
#define EUNATCH 1049
#endif
#ifndef ENOCSI
#define ENOCSI 1050
#endif
#ifndef EL2HLT
#define EL2HLT 1051
#endif
#ifndef EBADE
#define EBADE 1052
#endif
#ifndef EBADR
#define EBADR 1053
#endif
#ifndef EXFULL
#define EXFULL 1054
#endif
#ifndef ENOANO
#define ENOANO 1055
#endif
#ifndef EBADRQC
#define EBADRQC 1056
#endif
#ifndef EBADSLT
#define EBADSLT 1057
#endif
#ifndef EBFONT
#define EBFONT 1059
#endif
#ifndef ENONET
#define ENONET 1064
#endif
#ifndef ENOPKG
#define ENOPKG 1065
#endif
#ifndef EREMOTE
#define EREMOTE 1066
#endif
#ifndef EADV
#define EADV 1068
#endif
#ifndef ESRMNT
#define ESRMNT 1069
#endif
#ifndef ECOMM
#define ECOMM 1070
#endif
#ifndef EMULTIHOP
#define EMULTIHOP 1072
#endif
#ifndef EDOTDOT
#define EDOTDOT 1073
#endif
#ifndef ENOTUNIQ
#define ENOTUNIQ 1076
#endif
#ifndef EBADFD
#define EBADFD 1077
#endif
#ifndef EREMCHG
#define EREMCHG 1078
#endif
#ifndef ELIBACC
#define ELIBACC 1079
#endif
#ifndef ELIBBAD
#define ELIBBAD 1080
#endif
#ifndef ELIBSCN
#define ELIBSCN 1081
#endif
#ifndef ELIBMAX
#define ELIBMAX 1082
#endif
#ifndef ELIBEXEC
#define ELIBEXEC 1083
#endif
#ifndef ERESTART
#define ERESTART 1085
#endif
#ifndef ESTRPIPE
#define ESTRPIPE 1086
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
#ifndef EUCLEAN
#define EUCLEAN 1117
#endif
#ifndef ENOTNAM
#define ENOTNAM 1118
#endif
#ifndef ENAVAIL
#define ENAVAIL 1119
#endif
#ifndef EISNAM
#define EISNAM 1120
#endif
#ifndef EREMOTEIO
#define EREMOTEIO 1121
#endif
#ifndef EDQUOT
#define EDQUOT 1122
#endif
#ifndef ENOMEDIUM
#define ENOMEDIUM 1123
#endif
#ifndef EMEDIUMTYPE
#define EMEDIUMTYPE 1124
#endif
#ifndef ENOKEY
#define ENOKEY 1126
#endif
#ifndef EKEYEXPIRED
#define EKEYEXPIRED 1127
#endif
#ifndef EKEYREVOKED
#define EKEYREVOKED 1128
#endif
#ifndef EKEYREJECTED
#define EKEYREJECTED 1129
#endif
#ifndef ERFKILL
#define ERFKILL 1132
#endif
#ifndef EHWPOISON
#define EHWPOISON 1133
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
