/*
 * src/sys/windows/compat/linux/errno.h - the Windows build's stand-in for the
 * kernel header the shared sys files include (errors.c, tls.c, init.c via
 * internal.h). It gives every Linux errno name a value: the C runtime's own
 * where it has one, 1000 + Linux's otherwise (see <vllsi/sys/windows.h>), so
 * the same source names the same errors on both systems.
 */
#ifndef VLLSI_WIN_COMPAT_LINUX_ERRNO_H
#define VLLSI_WIN_COMPAT_LINUX_ERRNO_H

#include <errno.h>

#include <vllsi/sys/windows.h>

#endif
