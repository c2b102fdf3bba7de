/*
 * x86-64 Linux system call stubs.
 *
 * Register ABI: the number goes in rax, arguments in rdi, rsi, rdx, r10, r8,
 * r9 (r10, not rcx: the syscall instruction overwrites rcx with the return
 * address and r11 with rflags, so both are clobbered). The result comes back
 * in rax: values in -4095..-1 are -errno, anything else is success.
 * "memory" is clobbered because the kernel may read or write user memory.
 */
#ifndef VLLSI_ARCH_X86_64_SYSCALL_H
#define VLLSI_ARCH_X86_64_SYSCALL_H

static inline long vl__syscall0(long n)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n) : "rcx", "r11", "memory");
    return ret;
}

static inline long vl__syscall1(long n, long a1)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1) : "rcx", "r11", "memory");
    return ret;
}

static inline long vl__syscall2(long n, long a1, long a2)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1), "S"(a2) : "rcx", "r11", "memory");
    return ret;
}

static inline long vl__syscall3(long n, long a1, long a2, long a3)
{
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3)
                     : "rcx", "r11", "memory");
    return ret;
}

static inline long vl__syscall4(long n, long a1, long a2, long a3, long a4)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static inline long vl__syscall5(long n, long a1, long a2, long a3, long a4, long a5)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}

static inline long vl__syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The thread pointer: %fs:0 holds the TCB's self pointer on x86-64 Linux. */
static inline void *vl__thread_pointer(void)
{
    void *tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}

/* Spin-wait hint. */
static inline void vl__cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

#endif
