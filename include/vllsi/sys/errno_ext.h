/*
 * vllsi/sys/errno_ext.h - the Linux errno names a non-Linux C library lacks,
 * each defined as 1000 + its Linux value where the program's <errno.h> does
 * not define it already. No C library vllsi supports uses numbers at or
 * above 1000, so every code stays unique and below VL_MAX_ERRNO, and
 * vl_strerror() and vl_errname() name all of them.
 *
 * These are the names missing from both macOS and the Windows C runtime;
 * <vllsi/sys/windows.h> adds the ones only Windows lacks. It is included by
 * <vllsi/sys/darwin.h> and <vllsi/sys/windows.h>, after <errno.h>; on Linux
 * every name is the kernel's and nothing includes it.
 */
#ifndef VLLSI_SYS_ERRNO_EXT_H
#define VLLSI_SYS_ERRNO_EXT_H

#include <errno.h>

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

#endif /* VLLSI_SYS_ERRNO_EXT_H */
