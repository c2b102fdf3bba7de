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

/*
 * Arrange for the calling thread's context log to be released when the
 * thread ends, whoever created it: tls.c calls this right after mapping a
 * thread's log (`log`, non-NULL), so a thread made with pthread_create that
 * never calls vl_cleanup_thread() does not leak it, and calls
 * vl__thread_exit_disarm() when it releases the log itself. arm returns 0,
 * or a negative errno (the log is then unmapped again and the push fails).
 * Each thread implementation defines both: a pthread key destructor
 * (src/sys/thread_pthread.h), a fiber-local-storage callback
 * (src/sys/windows/thread.c), nothing where every thread is the library's
 * own (src/sys/linux/nolibc/thread_clone.c) or no log can be mapped
 * (src/sys/linux/nolibc/mem_none.c).
 */
VL__HIDDEN int vl__thread_exit_arm(void *log);
VL__HIDDEN void vl__thread_exit_disarm(void);

/* Unmap a context log by its address alone, for an exit hook that cannot
 * reach the thread's TLS block any more (Windows: see thread.c). */
VL__HIDDEN void vl__tls_log_unmap(void *log);

#endif
