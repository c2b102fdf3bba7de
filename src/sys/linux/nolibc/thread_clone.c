/*
 * src/sys/linux/nolibc/thread_clone.c - vl_thread_spawn/join/detach on raw
 * clone(2), for the libc-free build (VLLSI_NOLIBC). The contract is the one
 * in <vllsi/sys/thread.h>; src/sys/linux/thread.c keeps yield, id and the CPU
 * count for both builds.
 *
 * One mapping per thread holds everything the thread needs, so one munmap
 * frees it (low addresses first):
 *
 *   [guard page, PROT_NONE][stack ... grows down][TLS block + TCB][vl_thread]
 *
 * The thread is started with CLONE_SETTLS (its thread pointer is its own TLS
 * block), CLONE_PARENT_SETTID (the kernel stores its tid in t->tid before
 * clone returns) and CLONE_CHILD_CLEARTID (when it has exited, and so is off
 * its stack for good, the kernel zeroes t->tid and futex-wakes it). That
 * wake is a shared (not FUTEX_PRIVATE) one, so waiters use plain FUTEX_WAIT:
 * a private waiter would hash to a different key and never wake.
 *
 * Mapping lifetime: freed exactly once, by whoever comes last of "the thread
 * has finished" and "the owner gave the handle up", as in the pthread build:
 *   - join claims the handle (JOINING), waits for tid == 0, then unmaps;
 *   - detach sets DETACHED; if EXITED was already set, it waits for tid == 0
 *     (the thread is at most a few instructions from exit) and unmaps;
 *   - the finishing thread sets EXITED; if DETACHED was already set, nobody
 *     else will ever look at the mapping, so the thread unmaps its own stack
 *     and exits in a few instructions of assembly that touch no memory.
 * Both sides use one atomic read-modify-write on `state` (acq_rel), so
 * exactly one of them sees the other's bit.
 */
#include <vllsi/sys/mem.h>
#include <vllsi/sys/thread.h>

#include <linux/mman.h>
#include <linux/sched.h>

#include "internal.h"
#include "linux/nolibc/nolibc.h"
#include "linux/sys.h"

#define SIG_BLOCK_HOW   0
#define SIG_SETMASK_HOW 2

struct vl_thread {
    int tid;        /* set by CLONE_PARENT_SETTID, zeroed at exit        */
    uint32_t state; /* ST_* bits, accessed atomically only                */
    vl_thread_fn entry;
    void *arg;
    void *map; /* the whole mapping: guard, stack, TLS, this block    */
    size_t map_len;
    uint64_t sigmask; /* the spawner's mask, restored by the new thread */
    bool foreign;     /* a vl_thread_self record for a non-spawned thread */
};

#define VL__THREAD_TLS __thread __attribute__((tls_model("initial-exec")))
#define VL__THREAD_OWN_BLOCKS
#include "thread_common.h"

static int live_maps;

/* Every thread of a libc-free program is either the initial one (whose end
 * is the process's) or one of vl_thread_spawn's, whose thread_exit releases
 * the context log: there are no foreign threads to clean up after. */
int vl__thread_exit_arm(void *log)
{
    (void)log;
    return 0;
}

void vl__thread_exit_disarm(void)
{
}

int vl_nolibc_thread_mappings(void)
{
    return __atomic_load_n(&live_maps, __ATOMIC_RELAXED);
}

/* clone, with the child starting in fn(arg) on stack_top; the parent gets the
 * child's tid or -errno. Per-architecture assembly because the child wakes
 * up on a stack no C frame knows about. */
long vl__clone_raw(unsigned long flags, void *stack_top, int *ptid, int *ctid, void *tls,
                   void (*fn)(void *), void *arg);
/* munmap(base, len), then exit(0), using no stack after the unmap. */
__attribute__((noreturn)) void vl__unmap_and_exit(void *base, size_t len);

#if defined(__x86_64__)
_Static_assert(__NR_clone == 56 && __NR_munmap == 11 && __NR_exit == 60, "x86-64 numbers");
/* Kernel order: flags, stack, parent_tid, child_tid (r10), tls (r8). fn and
 * arg ride on the child's stack, which the parent writes before the call. */
__asm__(".text\n"
        ".global vl__clone_raw\n"
        ".hidden vl__clone_raw\n"
        ".type vl__clone_raw, @function\n"
        "vl__clone_raw:\n"
        "    mov 8(%rsp), %rax\n"
        "    and $-16, %rsi\n"
        "    sub $16, %rsi\n"
        "    mov %r9, (%rsi)\n"
        "    mov %rax, 8(%rsi)\n"
        "    mov %rcx, %r10\n"
        "    mov $56, %eax\n"
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 1f\n"
        "    xor %ebp, %ebp\n"
        "    pop %rax\n"
        "    pop %rdi\n"
        "    call *%rax\n"
        "    hlt\n"
        "1:  ret\n"
        ".size vl__clone_raw, . - vl__clone_raw\n"
        ".global vl__unmap_and_exit\n"
        ".hidden vl__unmap_and_exit\n"
        ".type vl__unmap_and_exit, @function\n"
        "vl__unmap_and_exit:\n"
        "    mov $11, %eax\n"
        "    syscall\n"
        "    xor %edi, %edi\n"
        "    mov $60, %eax\n"
        "    syscall\n"
        "    hlt\n"
        ".size vl__unmap_and_exit, . - vl__unmap_and_exit\n");
#elif defined(__aarch64__)
_Static_assert(__NR_clone == 220 && __NR_munmap == 215 && __NR_exit == 93, "aarch64 numbers");
/* Kernel order on arm64: flags, stack, parent_tid, tls, child_tid. */
__asm__(".text\n"
        ".global vl__clone_raw\n"
        ".hidden vl__clone_raw\n"
        ".type vl__clone_raw, %function\n"
        "vl__clone_raw:\n"
        "    and x1, x1, #-16\n"
        "    stp x5, x6, [x1, #-16]!\n"
        "    mov x9, x3\n"
        "    mov x3, x4\n"
        "    mov x4, x9\n"
        "    mov x8, #220\n"
        "    svc #0\n"
        "    cbz x0, 1f\n"
        "    ret\n"
        "1:  ldp x1, x0, [sp], #16\n"
        "    mov x29, #0\n"
        "    mov x30, #0\n"
        "    blr x1\n"
        "    brk #0\n"
        ".size vl__clone_raw, . - vl__clone_raw\n"
        ".global vl__unmap_and_exit\n"
        ".hidden vl__unmap_and_exit\n"
        ".type vl__unmap_and_exit, %function\n"
        "vl__unmap_and_exit:\n"
        "    mov x8, #215\n"
        "    svc #0\n"
        "    mov x0, #0\n"
        "    mov x8, #93\n"
        "    svc #0\n"
        "    brk #0\n"
        ".size vl__unmap_and_exit, . - vl__unmap_and_exit\n");
#endif

static VL_NORETURN void thread_exit(vl_thread *t)
{
    void *map = t->map;
    size_t len = t->map_len;
    vl__tls_thread_release();
    if (thread_finished(t)) {
        /* From here on the stack may vanish: no signal handler may run on
         * it, and the kernel must not write t->tid into memory that another
         * thread's mmap may already own. */
        uint64_t all = ~0ull;
        (void)vl__sys_rt_sigprocmask(SIG_BLOCK_HOW, &all, NULL);
        (void)vl__syscall1(__NR_set_tid_address, 0);
        __atomic_fetch_sub(&live_maps, 1, __ATOMIC_RELAXED);
        vl__unmap_and_exit(map, len);
    }
    for (;;)
        (void)vl__syscall1(__NR_exit, 0);
}

static void thread_main(void *p)
{
    vl_thread *t = p;
    t_self = t;
    (void)vl__sys_rt_sigprocmask(SIG_SETMASK_HOW, &t->sigmask, NULL);
    t->entry(t->arg);
    thread_exit(t);
}

/* Map guard + stack + TLS + control block; the block, or NULL and *err. */
static vl_thread *map_thread(size_t stack, int *err)
{
    size_t page = vl_page_size();
    size_t top = vl__nolibc_tls_area_size() + sizeof(vl_thread) + 64;
    size_t len = page + stack + vl_page_align_up(top);
    if (len < stack) {
        *err = -ENOMEM;
        return NULL;
    }
    intptr_t m = vl__sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (vl_sys_is_error(m)) {
        *err = (int)m;
        return NULL;
    }
    int rc = vl__sys_mprotect((void *)m, page, PROT_NONE);
    if (rc < 0) {
        (void)vl__sys_munmap((void *)m, len);
        *err = rc;
        return NULL;
    }
    uintptr_t block = ((uintptr_t)m + len - sizeof(vl_thread)) & ~(uintptr_t)63;
    vl_thread *t = (vl_thread *)block;
    t->map = (void *)m;
    t->map_len = len;
    return t;
}

int vl_thread_spawn(vl_thread_fn entry, void *arg, size_t stack_size, vl_thread **out)
{
    size_t stack;
    if (entry == NULL || out == NULL)
        return -EINVAL;
    int rc = thread_stack_size(stack_size, &stack); /* no C library floor here */
    if (rc < 0)
        return rc;
    vl_thread *t = map_thread(stack, &rc);
    if (t == NULL)
        return rc;
    uintptr_t stack_top = (uintptr_t)t->map + vl_page_size() + stack;
    void *tp = vl__nolibc_tls_install((void *)stack_top);
    t->entry = entry;
    t->arg = arg;
    t->state = 0;
    t->tid = 0;
    t->foreign = false;
    /* The child starts with every signal blocked until it is set up, then
     * takes the spawner's mask, as pthread_create does. */
    uint64_t all = ~0ull;
    (void)vl__sys_rt_sigprocmask(SIG_BLOCK_HOW, &all, &t->sigmask);
    __atomic_fetch_add(&live_maps, 1, __ATOMIC_RELAXED);
    const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                                CLONE_CHILD_CLEARTID;
    long r = vl__clone_raw(flags, (void *)stack_top, &t->tid, &t->tid, tp, thread_main, t);
    (void)vl__sys_rt_sigprocmask(SIG_SETMASK_HOW, &t->sigmask, NULL);
    if (r < 0) {
        __atomic_fetch_sub(&live_maps, 1, __ATOMIC_RELAXED);
        (void)vl__sys_munmap(t->map, t->map_len);
        return (int)r;
    }
    *out = t;
    return 0;
}

/* Wait until the kernel has zeroed t->tid (the thread is gone), then free
 * the mapping. */
static void reap(vl_thread *t)
{
    int tid;
    while ((tid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE)) != 0)
        (void)vl__sys_futex((uint32_t *)&t->tid, FUTEX_WAIT, (uint32_t)tid, NULL);
    (void)vl__sys_munmap(t->map, t->map_len);
    __atomic_fetch_sub(&live_maps, 1, __ATOMIC_RELAXED);
}

int vl_thread_join(vl_thread *t)
{
    int64_t old = thread_join_claim(t);
    if (old < 0)
        return (int)old;
    reap(t);
    return 0;
}

int vl_thread_detach(vl_thread *t)
{
    int64_t old = thread_detach_claim(t);
    if (old < 0)
        return (int)old;
    if (old & ST_EXITED)
        reap(t);
    return 0;
}
