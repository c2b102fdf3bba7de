/*
 * src/sys/darwin/compat/linux/errno.h - the macOS build's stand-in for the
 * kernel header the shared sys files include (errors.c, tls.c, init.c via
 * internal.h). It gives every Linux errno name a value: macOS's own where it
 * has one, 1000 + Linux's otherwise (see <vllsi/sys/darwin.h>), so the same
 * source names the same errors on both systems.
 */
#ifndef VLLSI_DARWIN_COMPAT_LINUX_ERRNO_H
#define VLLSI_DARWIN_COMPAT_LINUX_ERRNO_H

#include <errno.h>

#include <vllsi/sys/darwin.h>

#endif
