/*
 * vllsi/sys/export.h - symbol visibility for the vllsi libraries.
 *
 * Every library is compiled with -fvisibility=hidden; only declarations marked
 * VL_API leave the shared object. Every exported name starts with vl_ (public)
 * or vl__ (internal helpers that inline fast paths in public headers call).
 */
#ifndef VLLSI_SYS_EXPORT_H
#define VLLSI_SYS_EXPORT_H

#if defined(_WIN32) && defined(VLLSI_SHARED)
#if defined(VLLSI_BUILDING)
#define VL_API __declspec(dllexport)
#else
#define VL_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define VL_API __attribute__((visibility("default")))
#else
#define VL_API
#endif

#if defined(__GNUC__)
#define VL_NORETURN     __attribute__((noreturn))
#define VL_LIKELY(x)    __builtin_expect(!!(x), 1)
#define VL_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define VL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VL_NORETURN
#define VL_LIKELY(x)   (x)
#define VL_UNLIKELY(x) (x)
#define VL_PRINTF(f, a)
#endif

#ifdef __cplusplus
#define VL_EXTERN_C_BEGIN extern "C" {
#define VL_EXTERN_C_END   }
#else
#define VL_EXTERN_C_BEGIN
#define VL_EXTERN_C_END
#endif

#endif /* VLLSI_SYS_EXPORT_H */
