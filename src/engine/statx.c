/*
 * src/engine/statx.c - STATX of an open fd answered on the polling thread
 * (vl__statx_cached, statx.h), for the drivers that would otherwise hand
 * it to a thread: the readiness core's offload and io_uring's io-wq.
 */
#ifdef __linux__
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fault.h"
#include "statx.h"

/*
 * Only the fd form (VL_AT_EMPTY_PATH with ""): a path's lookup may read
 * directories from the disk, and statx has no cached-only lookup. Of an
 * open fd the inode is in memory, and a file system on a block device
 * (ext4, xfs) answers from it; one without (stx_dev_major 0: NFS, FUSE,
 * CIFS, but also tmpfs, btrfs, overlayfs) may ask a server, which
 * AT_STATX_DONT_SYNC forbids: the attempt carries it, and its answer
 * stands only where the file system is on a block device, which ignores
 * the flag; the rest, and a caller's AT_STATX_FORCE_SYNC, are the
 * caller's to run as it would without this (VL__STATX_NOT_CACHED), with
 * the caller's flags. Test builds may refuse the attempt (an injected
 * EAGAIN), so both ways are exercised.
 */
int vl__statx_cached(int fd, const char *path, int flags, struct vl_statx *out)
{
    if (!(flags & AT_EMPTY_PATH) || path[0] != '\0' || (flags & AT_STATX_FORCE_SYNC) ||
        VL__FAULT(VL__FAULT_EAGAIN))
        return VL__STATX_NOT_CACHED;
    struct statx k;
    if (statx(fd, "", flags | AT_STATX_DONT_SYNC, VL__STATX_WANT, &k) != 0)
        return -errno;
    if (k.stx_dev_major == 0)
        return VL__STATX_NOT_CACHED;
    vl__statx_from_linux(out, &k);
    return 0;
}
#endif
