/*
 * src/engine/statx.h - STATX's portable result (struct vl_statx) from what
 * a POSIX system reports: Linux's struct statx (io_uring, the readiness
 * core and the sync driver on Linux), or struct stat (the readiness core
 * elsewhere). Every driver fills the result through these, so it is the
 * same whichever runs the op. Windows fills it from its own file
 * information (src/drivers/iocp.c).
 *
 * On Linux it needs only <linux/stat.h> (the kernel's struct statx, which
 * glibc's <sys/stat.h> also takes), so the sync driver, which uses no C
 * library headers, includes it too.
 */
#ifndef VLLSI_ENGINE_STATX_H
#define VLLSI_ENGINE_STATX_H

#include <stdint.h>
#ifdef __linux__
#include <linux/stat.h>
#else
#include <sys/stat.h>
#endif

#include <vllsi/engine.h>

/* What every driver asks the kernel for. */
#define VL__STATX_WANT (VL_STATX_BASIC_STATS | VL_STATX_BTIME)

static inline int64_t vl__statx_ns(int64_t sec, uint32_t nsec)
{
    return sec * 1000000000 + (int64_t)nsec;
}

#ifdef __linux__
/* glibc's makedev(3), the encoding of st_dev. */
static inline uint64_t vl__statx_makedev(uint32_t major, uint32_t minor)
{
    return ((uint64_t)(major & 0xfffff000u) << 32) | ((uint64_t)(major & 0xfffu) << 8) |
           ((uint64_t)(minor & 0xffffff00u) << 12) | (minor & 0xffu);
}

/*
 * out from in, which may be the same memory (the io_uring driver has the
 * kernel write its struct statx into the caller's vl_statx and converts it
 * in place): in is copied first.
 */
static inline void vl__statx_from_linux(struct vl_statx *out, const void *in)
{
    struct statx k;
    __builtin_memcpy(&k, in, sizeof(k));
    __builtin_memset(out, 0, sizeof(*out));
    out->mask = k.stx_mask & VL__STATX_WANT;
    out->mode = k.stx_mode;
    out->nlink = k.stx_nlink;
    out->uid = k.stx_uid;
    out->gid = k.stx_gid;
    out->blksize = k.stx_blksize;
    out->ino = k.stx_ino;
    out->dev = vl__statx_makedev(k.stx_dev_major, k.stx_dev_minor);
    out->size = k.stx_size;
    out->blocks = k.stx_blocks;
    out->atime_ns = vl__statx_ns(k.stx_atime.tv_sec, k.stx_atime.tv_nsec);
    out->btime_ns =
        out->mask & VL_STATX_BTIME ? vl__statx_ns(k.stx_btime.tv_sec, k.stx_btime.tv_nsec) : 0;
    out->ctime_ns = vl__statx_ns(k.stx_ctime.tv_sec, k.stx_ctime.tv_nsec);
    out->mtime_ns = vl__statx_ns(k.stx_mtime.tv_sec, k.stx_mtime.tv_nsec);
}

/*
 * STATX of an open fd (VL_AT_EMPTY_PATH with "") answered on the calling
 * thread when the kernel has it in memory and cannot wait for anything:
 * on a file system on a block device (statx.c says why only there).
 * Returns 0 (out filled), a negative errno from statx(2), or
 * VL__STATX_NOT_CACHED: not that form, or not known to be cached; the
 * caller then runs the op as it otherwise would (a thread, io-wq).
 */
#define VL__STATX_NOT_CACHED 1
int vl__statx_cached(int fd, const char *path, int flags, struct vl_statx *out);
#else
/* out from a struct stat: every basic field; the birth time where the
 * system keeps one (macOS and the BSDs: st_birthtimespec). */
static inline void vl__statx_from_stat(struct vl_statx *out, const struct stat *st)
{
    __builtin_memset(out, 0, sizeof(*out));
    out->mask = VL_STATX_BASIC_STATS;
    out->mode = (uint32_t)st->st_mode;
    out->nlink = (uint32_t)st->st_nlink;
    out->uid = (uint32_t)st->st_uid;
    out->gid = (uint32_t)st->st_gid;
    out->blksize = (uint32_t)st->st_blksize;
    out->ino = (uint64_t)st->st_ino;
    out->dev = (uint64_t)st->st_dev;
    out->size = (uint64_t)st->st_size;
    out->blocks = (uint64_t)st->st_blocks;
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__)
    out->atime_ns = vl__statx_ns(st->st_atimespec.tv_sec, (uint32_t)st->st_atimespec.tv_nsec);
    out->ctime_ns = vl__statx_ns(st->st_ctimespec.tv_sec, (uint32_t)st->st_ctimespec.tv_nsec);
    out->mtime_ns = vl__statx_ns(st->st_mtimespec.tv_sec, (uint32_t)st->st_mtimespec.tv_nsec);
    out->btime_ns =
        vl__statx_ns(st->st_birthtimespec.tv_sec, (uint32_t)st->st_birthtimespec.tv_nsec);
    out->mask |= VL_STATX_BTIME;
#else
    out->atime_ns = vl__statx_ns(st->st_atim.tv_sec, (uint32_t)st->st_atim.tv_nsec);
    out->ctime_ns = vl__statx_ns(st->st_ctim.tv_sec, (uint32_t)st->st_ctim.tv_nsec);
    out->mtime_ns = vl__statx_ns(st->st_mtim.tv_sec, (uint32_t)st->st_mtim.tv_nsec);
#endif
}
#endif

#endif
