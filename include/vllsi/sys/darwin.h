/*
 * vllsi/sys/darwin.h - what only the macOS build has: the Linux errno names
 * macOS's <errno.h> lacks, and the map from Mach kern_return_t values to
 * negative errno values.
 *
 * Error numbering on macOS follows the rule of <vllsi/sys/windows.h>: vllsi
 * returns the same SYMBOLIC errors on every platform, with the numbers the
 * program's own <errno.h> gives those names, so `r == -EAGAIN` holds on
 * macOS (where EAGAIN is 35) exactly as on Linux (11). The 44 Linux names
 * macOS lacks (EBADFD, ENOKEY, EUCLEAN, ...) are defined by
 * <vllsi/sys/errno_ext.h> as 1000 + their Linux value, which macOS never
 * uses (its errno values end at 106), so every code stays unique and below
 * VL_MAX_ERRNO. vl_strerror() and vl_errname() name all of them.
 *
 * This header is included by <vllsi/sys.h> on macOS; it is empty elsewhere.
 */
#ifndef VLLSI_SYS_DARWIN_H
#define VLLSI_SYS_DARWIN_H

#if defined(__APPLE__)
#include <errno.h>
#include <stdint.h>

/* The Linux errno names missing from macOS's <errno.h>: 1000 + Linux value. */
#include <vllsi/sys/errno_ext.h>
#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

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
