/*
 * src/sys/windows/compat/linux/auxvec.h - Windows has no auxiliary vector;
 * src/sys/internal.h includes this header only for AT_* names, which no file
 * of the Windows build uses (the page size comes from GetSystemInfo).
 */
#ifndef VLLSI_WIN_COMPAT_LINUX_AUXVEC_H
#define VLLSI_WIN_COMPAT_LINUX_AUXVEC_H
#endif
