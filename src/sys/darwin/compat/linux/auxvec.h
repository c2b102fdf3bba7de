/*
 * src/sys/darwin/compat/linux/auxvec.h - macOS has no auxiliary vector;
 * src/sys/internal.h includes this header only for AT_* names, which no file
 * of the macOS build uses (the page size comes from vm_page_size).
 */
#ifndef VLLSI_DARWIN_COMPAT_LINUX_AUXVEC_H
#define VLLSI_DARWIN_COMPAT_LINUX_AUXVEC_H
#endif
