/*
 * vllsi/sys/darwin.h - what only the macOS build has: the Linux errno names
 * macOS's <errno.h> lacks, and the map from Mach kern_return_t values to
 * negative errno values.
 *
 * Error numbering on macOS follows the rule of <vllsi/sys/windows.h>: vllsi
 * returns the same SYMBOLIC errors on every platform, with the numbers the
 * program's own <errno.h> gives those names, so `r == -EAGAIN` holds on
 * macOS (where EAGAIN is 35) exactly as on Linux (11). The 44 Linux names
 * macOS lacks (EBADFD, ENOKEY, EUCLEAN, ...) are defined here as 1000 +
 * their Linux value, which macOS never uses (its errno values end at 106),
 * so every code stays unique and below VL_MAX_ERRNO. vl_strerror() and
 * vl_errname() name all of them.
 *
 * This header is included by <vllsi/sys.h> on macOS; it is empty elsewhere.
 */
#ifndef VLLSI_SYS_DARWIN_H
#define VLLSI_SYS_DARWIN_H

#if defined(__APPLE__)
#include <errno.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

/* Linux errno names missing from macOS's <errno.h>: 1000 + Linux value. */
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
#ifndef EADV
#define EADV 1068
#endif
#ifndef ESRMNT
#define ESRMNT 1069
#endif
#ifndef ECOMM
#define ECOMM 1070
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
 * vl_mach_error_to_errno - the negative errno for a Mach kern_return_t (what
 * mach_vm_allocate, mach_vm_protect, semaphore_wait, ... return).
 * KERN_SUCCESS (0) maps to 0; a code with no POSIX counterpart maps to -EIO.
 * The table is in docs/macos.md.
 */
VL_API int vl_mach_error_to_errno(int kern_return);

VL_EXTERN_C_END

#endif /* __APPLE__ */

#endif /* VLLSI_SYS_DARWIN_H */
