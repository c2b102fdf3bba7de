/*
 * src/sys/internal.h - what the sys layer's files share and nothing outside
 * the libraries sees. Internal names are vl__ and hidden by default.
 */
#ifndef VLLSI_SYS_INTERNAL_H
#define VLLSI_SYS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/auxvec.h>
#include <linux/errno.h>

#include <vllsi/sys/common.h>

#define VL__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VL__HIDDEN       __attribute__((visibility("hidden")))

/* Auxiliary vector lookup (AT_* types). Returns 0 and stores the value, or
 * -ENOENT when the vector has no such entry / could not be read. */
VL__HIDDEN int vl__auxv_get(unsigned long type, unsigned long *out);

/* Eager setup run by vl_init(): page size and vDSO resolution. */
VL__HIDDEN void vl__page_init(void);
/* src/sys/page.c: whether the page size is cached yet, and cache it (each
 * OS's vl__page_init finds it). */
VL__HIDDEN bool vl__page_known(void);
VL__HIDDEN void vl__page_publish(size_t ps);
VL__HIDDEN void vl__time_init(int no_vdso);

/* Called by vl_shutdown / thread exit to release a thread's context log. */
VL__HIDDEN void vl__tls_thread_release(void);

#endif
