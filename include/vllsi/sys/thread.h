/*
 * vllsi/sys/thread.h - the seed's threads: spawn, join, detach, self, yield,
 * the OS thread id and the number of online CPUs.
 *
 * In this hosted build threads are created by the C library (pthread_create),
 * so code running in them may use libc freely (malloc, stdio, its TLS). A
 * thread started here runs `entry(arg)`; when entry returns (or the thread
 * leaves through pthread_exit), the thread's context-slot storage
 * (<vllsi/sys/tls.h>) is released before it ends.
 *
 * Ownership: vl_thread_spawn() returns a handle owning a small control block
 * (one page from vl_os_alloc, not malloc). Exactly one of these releases it:
 *   - vl_thread_join(), once the thread has ended;
 *   - vl_thread_detach(), which hands it to the thread, which frees it when
 *     it ends (or frees it at once if the thread has already ended).
 * After a successful join or detach the handle is dangling: do not pass it
 * to any function again. Any thread may join or detach a handle; a detach
 * racing with the thread's own end is safe (an atomic state word decides who
 * frees), but two callers must not join/detach the same handle concurrently
 * unless both are sure the thread is still running (then one gets -EINVAL).
 */
#ifndef VLLSI_SYS_THREAD_H
#define VLLSI_SYS_THREAD_H

#include <stdbool.h>
#include <stddef.h>

#include <vllsi/sys/common.h>

VL_EXTERN_C_BEGIN

/* An opaque thread handle. */
typedef struct vl_thread vl_thread;

/* A thread's entry point; `arg` is what vl_thread_spawn was given. */
typedef void (*vl_thread_fn)(void *arg);

/* The stack a thread gets when vl_thread_spawn is passed stack_size 0. */
#define VL_THREAD_STACK_DEFAULT ((size_t)2 << 20)
/*
 * The smallest stack a request may come to. vl_thread_spawn first rounds a
 * nonzero stack_size up to whole pages and refuses (-EINVAL) only a result
 * below this: with 4 KiB pages, requests of 1 to 12 KiB are refused and
 * anything from 12 KiB + 1 byte up is accepted (it rounds up to 16 KiB);
 * with 16 or 64 KiB pages every nonzero request passes.
 */
#define VL_THREAD_STACK_MIN     ((size_t)16 << 10)

/*
 * vl_thread_spawn - start a thread running entry(arg) and store its handle
 * in *out (only on success). stack_size 0 means VL_THREAD_STACK_DEFAULT
 * (2 MiB); any other size is rounded up to the page size, and the rounded
 * size must be at least VL_THREAD_STACK_MIN (16 KiB). Where the C library
 * needs more
 * (PTHREAD_STACK_MIN: 16 KiB on x86-64, 128 KiB on aarch64), the stack is
 * raised to that, so one stack_size works on every architecture.
 * Below the stack sits one guard page, so running off the end faults
 * (SIGSEGV) instead of corrupting memory. Nearly all of stack_size is usable;
 * the C library keeps its thread descriptor and static TLS (a few KiB) at the
 * top of the same mapping.
 *
 * Returns 0; -EINVAL for a NULL entry or out, or a stack_size that rounds
 * to less than the minimum or is too large to round; -ENOMEM when the control block cannot be
 * mapped; otherwise pthread_create's error negated (-EAGAIN at the thread
 * limit or out of memory for the stack, -EPERM...).
 */
VL_API int vl_thread_spawn(vl_thread_fn entry, void *arg, size_t stack_size, vl_thread **out);

/*
 * vl_thread_join - wait until t's entry function has returned, then release
 * t. Returns 0; -EINVAL for NULL, for the handle of a thread not started by
 * vl_thread_spawn (what vl_thread_self returns in main or in a foreign
 * thread), for a detached thread that is still running, or when another
 * thread is already joining t; -EDEADLK when t is the calling thread.
 * A handle that was joined or detached (and whose thread has ended) has been
 * freed: using it again is undefined, not an error this call can report.
 */
VL_API int vl_thread_join(vl_thread *t);

/*
 * vl_thread_detach - let t run on without a joiner: its control block is
 * freed when it ends (at once if it already has). Returns 0, or -EINVAL under
 * the same rules as vl_thread_join (NULL, foreign, already detached, being
 * joined). Unlike join, a thread may detach itself (t == vl_thread_self()):
 * nothing waits, so nothing can deadlock. After success t must not be used
 * again by anyone but the thread itself, which may keep using
 * vl_thread_self() until it ends.
 */
VL_API int vl_thread_detach(vl_thread *t);

/*
 * vl_thread_self - the calling thread's handle; never NULL. For a thread
 * started by vl_thread_spawn it is the handle spawn returned. For any other
 * thread (main, or one made by pthread_create directly) it is a per-thread
 * record marked foreign, stable for that thread's lifetime, which join and
 * detach refuse (-EINVAL). It is owned by the library: never free it.
 */
VL_API vl_thread *vl_thread_self(void);

/* vl_thread_equal - true when a and b are the same thread's handle. */
VL_API bool vl_thread_equal(const vl_thread *a, const vl_thread *b);

/* vl_thread_yield - sched_yield(2): offer the CPU to another runnable thread.
 * Returns 0 (the kernel's answer; Linux never fails it). */
VL_API int vl_thread_yield(void);

/* vl_thread_id - the calling thread's OS thread id (gettid(2)): positive,
 * unique among live threads, and the process id in the main thread. */
VL_API int vl_thread_id(void);

/*
 * vl_num_online_cpus - the number of CPUs online now, read from
 * /sys/devices/system/cpu/online (ranges such as "0-1,4,6-7"); when that file
 * cannot be read, the number of CPUs in this thread's affinity mask. Never
 * less than 1. Not cached: CPUs can go on- and offline.
 */
VL_API int vl_num_online_cpus(void);

VL_EXTERN_C_END

#endif /* VLLSI_SYS_THREAD_H */
