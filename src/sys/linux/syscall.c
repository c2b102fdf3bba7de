/*
 * The public face of the raw system call layer: vl_syscall_raw/vl_syscall6
 * and the seed's sys.linux wrappers. Each is one call into the inline stubs
 * of src/sys/linux/sys.h, so the library's own code (which calls those
 * directly) pays no extra call.
 */
#include "internal.h"
#include "linux/sys.h"

long vl_syscall_raw(long num, long a0, long a1, long a2, long a3, long a4, long a5)
{
    return vl__syscall6(num, a0, a1, a2, a3, a4, a5);
}

long vl_syscall6(long num, long a0, long a1, long a2, long a3, long a4, long a5)
{
    return vl__syscall6(num, a0, a1, a2, a3, a4, a5);
}

long vl_sys_read(int fd, void *buf, size_t count)
{
    return vl__sys_read(fd, buf, count);
}

long vl_sys_write(int fd, const void *buf, size_t count)
{
    return vl__sys_write(fd, buf, count);
}

int vl_sys_close(int fd)
{
    return vl__sys_close(fd);
}

intptr_t vl_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t offset)
{
    return vl__sys_mmap(addr, len, prot, flags, fd, offset);
}

int vl_sys_munmap(void *addr, size_t len)
{
    return vl__sys_munmap(addr, len);
}

int vl_sys_mprotect(void *addr, size_t len, int prot)
{
    return vl__sys_mprotect(addr, len, prot);
}

int vl_sys_madvise(void *addr, size_t len, int advice)
{
    return vl__sys_madvise(addr, len, advice);
}

int vl_sys_getpid(void)
{
    return vl__sys_getpid();
}

int vl_sys_gettid(void)
{
    return vl__sys_gettid();
}

void vl_sys_exit(int code)
{
    for (;;)
        vl__syscall1(__NR_exit, code);
}

void vl_sys_exit_group(int code)
{
    for (;;)
        vl__syscall1(__NR_exit_group, code);
}
