/*
 * src/sys/windows/win.h - what the Windows files of the sys layer share.
 * Included only by the files in src/sys/windows, so <windows.h>'s macros stay here.
 */
#ifndef VLLSI_WINDOWS_WIN_H
#define VLLSI_WINDOWS_WIN_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <vllsi/sys/windows.h>

#include "internal.h"
#include "shim.h"

/* -errno for the calling thread's GetLastError(). */
static inline int vl__win_last_errno(void)
{
    return vl_win_error_to_errno(GetLastError());
}

/* Monotonic clock in nanoseconds (QueryPerformanceCounter); time.c. */
int64_t vl__win_qpc_ns(void);

/* VirtualAlloc's reservation granularity (64 KiB on x64); page.c. */
size_t vl__win_alloc_granularity(void);

#endif
