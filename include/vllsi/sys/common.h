/*
 * vllsi/sys/common.h - common types, constants and error reporting.
 *
 * Error convention (the whole library, like liburing and the kernel): a call
 * that can fail returns 0, a count or an id on success and a NEGATIVE errno on
 * failure (-EINVAL, -ENOMEM, ...). Pointer-returning calls return NULL and
 * store the negative errno in an optional `int *err`. errno is never used.
 *
 * The seed's enum-valued errors (ContextError, InitError) are the VL_E* codes
 * below, returned negated like errno values. They start at 5000, outside the
 * kernel's errno range (1..4095), so one `int` carries either kind and
 * vl_strerror()/vl_errname() name both.
 */
#ifndef VLLSI_SYS_COMMON_H
#define VLLSI_SYS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

/* ---- error codes beyond errno (returned negated) ---------------------- */
enum vl_context_error {
    VL_ECTX_STACK_OVERFLOW = 5001,  /* push beyond VL_CONTEXT_STACK_DEPTH frames */
    VL_ECTX_STACK_UNDERFLOW = 5002, /* pop with no frame pushed                  */
    VL_ECTX_SLOT_OCCUPIED = 5003,   /* provide twice in one frame                */
    VL_ECTX_SLOT_EMPTY = 5004,      /* read/clear of a slot holding no value     */
    VL_ECTX_INVALID_SLOT = 5005,    /* slot outside 0..VL_MAX_CONTEXT_SLOTS-1    */
};
typedef enum vl_context_error vl_context_error;

enum vl_init_error {
    VL_EINIT_ALREADY_INITIALIZED = 5101, /* vl_init twice / vl_init_thread twice */
    VL_EINIT_INVALID_CONFIG = 5102,      /* see vl_init_error_detail()          */
    /* PlatformError(OSError) is the plain negative errno the OS reported.     */
};
typedef enum vl_init_error vl_init_error;

/* The largest errno the kernel can return; results in -4095..-1 are errors. */
#define VL_MAX_ERRNO 4095

/*
 * vl_strerror - a human-readable message for a negative (or positive) error
 * code: errno values and the VL_E* codes above; 0 (success) gives "Success".
 * Never NULL; unknown codes give "Unknown error". The string is static; the
 * caller must not free it.
 */
VL_API const char *vl_strerror(int err);

/*
 * vl_errname - the symbolic name ("EINVAL", "VL_ECTX_STACK_OVERFLOW") for a
 * negative or positive code; "OK" for 0 (success, which has no errno name);
 * "UNKNOWN" when the code has no name. Never NULL; static string.
 */
VL_API const char *vl_errname(int err);

/* The seed's OSError: a code (negative errno) and its static message. */
typedef struct vl_os_error {
    int code;
    const char *message;
} vl_os_error;

/* vl_os_error_from - wrap a negative errno (a positive one is negated). */
VL_API vl_os_error vl_os_error_from(int err);

/* ---- common types ----------------------------------------------------- */

/* A file descriptor. Distinct struct so it cannot be mixed up with a count. */
typedef struct vl_fd {
    int fd;
} vl_fd;
#define VL_FD_INVALID ((vl_fd){-1})
static inline vl_fd vl_fd_make(int fd)
{
    vl_fd f = {fd};
    return f;
}
static inline bool vl_fd_valid(vl_fd f)
{
    return f.fd >= 0;
}

/* Layout-compatible with struct iovec on Linux (base, len). */
typedef struct vl_iovec {
    void *base;
    size_t len;
} vl_iovec;

/* Memory protection bits (the seed's MemProt; the same values as PROT_*). */
typedef enum vl_mem_prot {
    VL_PROT_NONE = 0x0,
    VL_PROT_READ = 0x1,
    VL_PROT_WRITE = 0x2,
    VL_PROT_EXEC = 0x4,
} vl_mem_prot;
#define VL_PROT_ALL (VL_PROT_READ | VL_PROT_WRITE | VL_PROT_EXEC)

/* Mapping flags (the seed's MapFlags; the Linux MAP_* values). */
typedef enum vl_map_flags {
    VL_MAP_SHARED = 0x01,
    VL_MAP_PRIVATE = 0x02,
    VL_MAP_FIXED = 0x10,
    VL_MAP_ANON = 0x20,
    VL_MAP_STACK = 0x20000,
    VL_MAP_HUGETLB = 0x40000,
} vl_map_flags;

/* madvise advice (the seed's MemAdvice). Values are vllsi's own, mapped. */
typedef enum vl_mem_advice {
    VL_ADV_NORMAL = 0,
    VL_ADV_RANDOM,
    VL_ADV_SEQUENTIAL,
    VL_ADV_WILLNEED,
    VL_ADV_DONTNEED,
    VL_ADV_FREE,
    VL_ADV_REMOVE,
    VL_ADV_DONTFORK,
    VL_ADV_HUGEPAGE,
    VL_ADV_NOHUGEPAGE,
    VL_ADV_COUNT_ /* not an advice: the number of values */
} vl_mem_advice;

/* Memory ordering (the seed's MemoryOrdering). */
typedef enum vl_memory_order {
    VL_ORDER_RELAXED = 0,
    VL_ORDER_ACQUIRE,
    VL_ORDER_RELEASE,
    VL_ORDER_ACQ_REL,
    VL_ORDER_SEQ_CST,
} vl_memory_order;

/* ---- constants ---------------------------------------------------------- */
#define VL_MAX_CONTEXT_SLOTS   32
#define VL_CONTEXT_STACK_DEPTH 256
/* The smallest page size any supported kernel uses; the real one is runtime. */
#define VL_PAGE_SIZE_MIN       4096u

/*
 * vl_page_size / vl_page_shift - the kernel's page size (4 KiB, 16 KiB or
 * 64 KiB), read from the auxiliary vector (AT_PAGESZ) the first time it is
 * needed (or at vl_init) and cached. Never fails: when the auxiliary vector is
 * unreadable the size is probed with mprotect.
 */
VL_API size_t vl_page_size(void);
VL_API unsigned vl_page_shift(void);

/* Round x up / down to the page size. vl_page_align_up saturates: an x within
 * one page of SIZE_MAX returns 0 (callers treat 0 as "does not fit"). */
VL_API size_t vl_page_align_up(size_t x);
VL_API size_t vl_page_align_down(size_t x);
VL_API bool vl_is_page_aligned(size_t x);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_COMMON_H */
