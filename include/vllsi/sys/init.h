/*
 * vllsi/sys/init.h - the seed's initialization and panic: vl_init (the
 * seed's verum_init), vl_shutdown, per-thread setup, and the panic path.
 *
 * vl_init is optional. Every part of the sys layer also works lazily without
 * it: the page size, the vDSO clock and a thread's context log are set up on
 * first use. vl_init only does that work eagerly, once, at a moment the
 * program chooses (before starting threads, say), applies the configuration
 * (VL_INIT_NO_VDSO) and installs a panic handler. Likewise vl_init_thread is
 * a marker, not a requirement. What a thread allocated (its context log) is
 * released when the thread ends, however it was created; vl_cleanup_thread
 * releases it earlier, for a thread that lives on but is done with frames.
 *
 * Errors: -VL_EINIT_ALREADY_INITIALIZED, -VL_EINIT_INVALID_CONFIG (with
 * vl_init_error_detail() naming the field), -EPERM from vl_init_thread before
 * vl_init, or the negative errno of a platform failure.
 */
#ifndef VLLSI_SYS_INIT_H
#define VLLSI_SYS_INIT_H

#include <stdbool.h>
#include <stdint.h>

#include <vllsi/sys/common.h>

VL_EXTERN_C_BEGIN

/* ---- panic ---------------------------------------------------------------- */

/* What a panic reports. Strings are the caller's (static in VL_PANIC). */
typedef struct vl_panic_info {
    const char *message;  /* may be NULL: printed as "(null)"            */
    const char *file;     /* __FILE__ of the panic site                  */
    int line;             /* __LINE__                                    */
    const char *function; /* __func__                                    */
    int thread_id;        /* the kernel thread id (gettid) that panicked */
} vl_panic_info;

/*
 * A panic handler. It must not return: it ends the process, or leaves with
 * longjmp/_exit. If it returns anyway, vl_panic_impl falls back to the default
 * abort. A handler that leaves with longjmp must call vl_panic_recovered()
 * afterwards (see there).
 */
typedef void (*vl_panic_handler)(const vl_panic_info *info);

/*
 * vl_panic_impl - report a panic and never return. Calls the installed
 * handler (the default one when none is set). The default writes exactly one
 * line to fd 2 with a raw write:
 *     vllsi panic: <message> at <file>:<line> (<function>) [thread <tid>]
 * then unblocks SIGABRT and raises it on the calling thread (tgkill), so the
 * process dies by SIGABRT (a core dump where enabled); if a SIGABRT handler
 * returns, the process exits with status 134. NULL strings print as "(null)";
 * info == NULL is reported as a panic with no details.
 *
 * Recursion: a panic raised while the same thread is inside the handler goes
 * straight to the default abort instead of calling the handler again.
 */
VL_API VL_NORETURN void vl_panic_impl(const vl_panic_info *info);

/*
 * vl_set_panic_handler - install h for every thread and return the previous
 * handler (NULL when the default was installed). h == NULL restores the
 * default. Safe to call from any thread (an atomic exchange).
 */
VL_API vl_panic_handler vl_set_panic_handler(vl_panic_handler h);

/*
 * vl_panic_recovered - re-arm the handler for the calling thread after a
 * handler left a panic with longjmp. Until it is called, a further panic on
 * that thread counts as a panic inside the handler and aborts directly.
 */
VL_API void vl_panic_recovered(void);

/* vl_panic_thread_id - the calling thread's kernel id (what VL_PANIC records). */
VL_API int vl_panic_thread_id(void);

/* VL_PANIC(msg) - panic here: message, __FILE__, __LINE__, __func__, thread id. */
#define VL_PANIC(msg)                                                               \
    do {                                                                            \
        const vl_panic_info vl__panic_info_ = {(msg), __FILE__, __LINE__, __func__, \
                                               vl_panic_thread_id()};               \
        vl_panic_impl(&vl__panic_info_);                                            \
    } while (0)

/* ---- init ----------------------------------------------------------------- */

/* Use the clock_gettime system call even where the vDSO offers the clock. */
#define VL_INIT_NO_VDSO     0x1u
/* Every flag bit vl_init understands; any other bit is an invalid config. */
#define VL_INIT_KNOWN_FLAGS VL_INIT_NO_VDSO

typedef struct vl_init_config {
    uint32_t flags;                 /* VL_INIT_* bits                          */
    uint32_t reserved;              /* must be 0                               */
    vl_panic_handler panic_handler; /* NULL: keep the installed handler        */
} vl_init_config;

/*
 * vl_init - initialize the library once per process. cfg == NULL means the
 * defaults (all zero). Eagerly resolves the page size and the clock (the vDSO
 * unless VL_INIT_NO_VDSO), then installs cfg->panic_handler when it is not
 * NULL. Returns 0;
 *   -VL_EINIT_INVALID_CONFIG  an unknown flag bit or reserved != 0 (nothing
 *                             changes; vl_init_error_detail() says which);
 *   -VL_EINIT_ALREADY_INITIALIZED  vl_init already succeeded (or is running
 *                             in another thread) and no vl_shutdown followed.
 * Thread-safe: of concurrent calls exactly one returns 0. The eager steps
 * cannot fail today (each has a fallback); a platform failure would come back
 * as its negative errno with the library left uninitialized.
 */
VL_API int vl_init(const vl_init_config *cfg);

/*
 * vl_init_error_detail - when the calling thread's most recent vl_init call
 * returned -VL_EINIT_INVALID_CONFIG, a static text naming the rejected field
 * ("flags: ..." or "reserved: ..."); "" after any other outcome or before any
 * call. Never NULL; the caller must not free it.
 */
VL_API const char *vl_init_error_detail(void);

/*
 * vl_shutdown - undo vl_init: release the calling thread's context state
 * (vl_cleanup_thread), restore the default panic handler and mark the library
 * uninitialized, so vl_init may run again. Safe when not initialized (then it
 * only cleans up the calling thread). Must not race with vl_init. Other
 * threads' context logs stay theirs until they call vl_cleanup_thread or
 * end.
 */
VL_API void vl_shutdown(void);

/* vl_is_initialized - true between a successful vl_init and vl_shutdown. */
VL_API bool vl_is_initialized(void);

/*
 * vl_init_thread - mark the calling thread as set up. Returns 0;
 * -VL_EINIT_ALREADY_INITIALIZED when this thread already called it (and not
 * vl_cleanup_thread since); -EPERM when vl_init has not succeeded: the
 * per-thread step comes after the process-wide one.
 */
VL_API int vl_init_thread(void);

/*
 * vl_cleanup_thread - release the calling thread's state: its context slots
 * are emptied, its frames dropped and its undo log unmapped; the thread may
 * call vl_init_thread again. Safe to call at any time, any number of times,
 * and before the thread ends (the end then finds nothing left to release).
 * Not required before a thread ends: the log is released then anyway (see
 * <vllsi/sys/tls.h>).
 */
VL_API void vl_cleanup_thread(void);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_INIT_H */
