/*
 * src/sys/linux/nolibc/engine_libc.c - the few C library functions the
 * engine core, the epoll driver, the reactor and the callback loop call,
 * made here from raw system calls (vl_syscall_raw) and the sys layer, so that
 * an engine runs in a program linked without libc (VLLSI_NOLIBC: the
 * vllsi_engine_nolibc library, ctest nolibc.engine).
 *
 * The engine's sources are the hosted ones, unchanged: they include the C
 * library's headers for types and constants (struct stat, EPOLLIN,
 * sigset_t...), which are fine without the library itself, and call these
 * functions by their usual names. Each one keeps the libc contract the
 * engine relies on: -1 and errno on failure (errno is this file's
 * thread-local), pthread_sigmask returning the error number. Memory comes
 * from vl_os_alloc (the engine allocates only at create time).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vllsi/sys/common.h>
#include <vllsi/sys/linux.h>
#include <vllsi/sys/mem.h>

#include "linux/nolibc/nolibc.h"

/* The kernel's sigset: 64 bits on x86-64 and aarch64 (glibc's is 1024 bits,
 * of which the kernel reads the first 8 bytes). */
#define KSIGSET 8

static __thread int nl_errno;

int *__errno_location(void)
{
    return &nl_errno;
}

/* A raw result (negative errno on failure) the libc way. */
static long ret(long r)
{
    if (r < 0 && r > -4096) {
        nl_errno = (int)-r;
        return -1;
    }
    return r;
}

#define SC(nr, a, b, c, d, e, f) \
    ret(vl_syscall_raw((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f)))

/* ---- memory: a 16-byte header holds the mapping's length ---------------------- */

#define HDR 16u

void *malloc(size_t n)
{
    int err = 0;
    if (n > SIZE_MAX - HDR) {
        nl_errno = ENOMEM;
        return NULL;
    }
    unsigned char *p = vl_os_alloc(n + HDR, &err);
    if (p == NULL) {
        nl_errno = ENOMEM;
        return NULL;
    }
    *(size_t *)(void *)p = n + HDR;
    return p + HDR;
}

void *calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        nl_errno = ENOMEM;
        return NULL;
    }
    return malloc(n * size); /* fresh mappings are zero-filled */
}

void free(void *ptr)
{
    if (ptr == NULL)
        return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    vl_os_free(p, *(size_t *)(void *)p);
}

void *realloc(void *ptr, size_t n)
{
    if (ptr == NULL)
        return malloc(n);
    size_t old = *(size_t *)(void *)((unsigned char *)ptr - HDR) - HDR;
    void *q = malloc(n);
    if (q == NULL)
        return NULL;
    memcpy(q, ptr, old < n ? old : n);
    free(ptr);
    return q;
}

/* ---- strings and the environment ----------------------------------------------- */

int strcmp(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

char *strerror(int err)
{
    return (char *)(uintptr_t)vl_strerror(-err);
}

char *getenv(const char *name)
{
    return (char *)(uintptr_t)vl_nolibc_getenv(name);
}

/* snprintf for the engine's reason strings: %s, %d, %u, %ld, %lu, %zu, %%. */
static size_t put(char *buf, size_t cap, size_t at, char c)
{
    if (at + 1 < cap)
        buf[at] = c;
    return at + 1;
}

static size_t put_num(char *buf, size_t cap, size_t at, unsigned long long v, bool neg)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (neg)
        at = put(buf, cap, at, '-');
    while (n > 0)
        at = put(buf, cap, at, tmp[--n]);
    return at;
}

int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    size_t at = 0;
    for (const char *f = fmt; *f != '\0'; f++) {
        if (*f != '%') {
            at = put(buf, cap, at, *f);
            continue;
        }
        int longs = 0;
        bool size = false;
        for (f++; *f == 'l' || *f == 'z'; f++) {
            if (*f == 'l')
                longs++;
            else
                size = true;
        }
        if (*f == 's') {
            const char *s = va_arg(ap, const char *);
            for (s = s ? s : "(null)"; *s != '\0'; s++)
                at = put(buf, cap, at, *s);
        } else if (*f == 'd') {
            long long v = longs ? va_arg(ap, long) : va_arg(ap, int);
            at = put_num(buf, cap, at, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v,
                         v < 0);
        } else if (*f == 'u') {
            unsigned long long v = size    ? va_arg(ap, size_t)
                                   : longs ? va_arg(ap, unsigned long)
                                           : va_arg(ap, unsigned);
            at = put_num(buf, cap, at, v, false);
        } else if (*f == '%') {
            at = put(buf, cap, at, '%');
        } else {
            at = put(buf, cap, at, '?'); /* not a conversion the engine uses */
            if (*f == '\0')
                break;
        }
    }
    if (cap > 0)
        buf[at < cap ? at : cap - 1] = '\0';
    return (int)at;
}

int snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- system calls ----------------------------------------------------------------- */

long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    return ret(vl_syscall_raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}

ssize_t read(int fd, void *buf, size_t n)
{
    return SC(__NR_read, fd, buf, n, 0, 0, 0);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    return SC(__NR_write, fd, buf, n, 0, 0, 0);
}

int close(int fd)
{
    return (int)SC(__NR_close, fd, 0, 0, 0, 0, 0);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    return SC(__NR_pread64, fd, buf, n, off, 0, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return SC(__NR_pwrite64, fd, buf, n, off, 0, 0);
}

/* On 64-bit kernels the high half of the position is ignored: off -1 (the
 * file position) passes through as is. Where the kernel lacks the call
 * (before 4.6; qemu-user 7.2) this does what glibc does: flags cannot be
 * honoured (EOPNOTSUPP, which the reactor takes as "no RWF_NOWAIT here"),
 * and without flags readv/preadv do the same. */
static ssize_t rw2(long nr, long plain, long at, int fd, const struct iovec *iov, int cnt,
                   off_t off, int flags)
{
    long r = vl_syscall_raw(nr, fd, (long)iov, cnt, off, 0, flags);
    if (r == -ENOSYS)
        r = flags != 0 ? -EOPNOTSUPP
            : off < 0  ? vl_syscall_raw(plain, fd, (long)iov, cnt, 0, 0, 0)
                       : vl_syscall_raw(at, fd, (long)iov, cnt, off, 0, 0);
    return ret(r);
}

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return rw2(__NR_preadv2, __NR_readv, __NR_preadv, fd, iov, cnt, off, flags);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return rw2(__NR_pwritev2, __NR_writev, __NR_pwritev, fd, iov, cnt, off, flags);
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    return SC(__NR_readv, fd, iov, cnt, 0, 0, 0);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    return SC(__NR_writev, fd, iov, cnt, 0, 0, 0);
}

/* 64-bit kernels take the whole position in the low word (pos_l). */
ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return SC(__NR_preadv, fd, iov, cnt, off, 0, 0);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return SC(__NR_pwritev, fd, iov, cnt, off, 0, 0);
}

int fsync(int fd)
{
    return (int)SC(__NR_fsync, fd, 0, 0, 0, 0, 0);
}

int fdatasync(int fd)
{
    return (int)SC(__NR_fdatasync, fd, 0, 0, 0, 0, 0);
}

int fstat(int fd, struct stat *st)
{
    return (int)SC(__NR_fstat, fd, st, 0, 0, 0, 0);
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return (int)SC(__NR_fcntl, fd, cmd, arg, 0, 0, 0);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    return SC(__NR_recvfrom, fd, buf, n, flags, 0, 0);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    return SC(__NR_sendto, fd, buf, n, flags, 0, 0);
}

ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
    return SC(__NR_sendfile, out, in, off, count, 0, 0);
}

ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned int flags)
{
    return SC(__NR_splice, in, off_in, out, off_out, len, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return SC(__NR_sendmsg, fd, msg, flags, 0, 0, 0);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    return SC(__NR_recvmsg, fd, msg, flags, 0, 0, 0);
}

int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags, struct timespec *timeout)
{
    return (int)SC(__NR_recvmmsg, fd, msgs, n, flags, timeout, 0);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return (int)SC(__NR_accept4, fd, addr, len, flags, 0, 0);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return (int)SC(__NR_connect, fd, addr, len, 0, 0, 0);
}

int shutdown(int fd, int how)
{
    return (int)SC(__NR_shutdown, fd, how, 0, 0, 0, 0);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
    /* The kernel's waitid takes a fifth argument, the rusage, here none. */
    return (int)SC(__NR_waitid, type, id, info, options, 0, 0);
}

int socket(int domain, int type, int protocol)
{
    return (int)SC(__NR_socket, domain, type, protocol, 0, 0, 0);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    return (int)SC(__NR_bind, fd, addr, len, 0, 0, 0);
}

int listen(int fd, int backlog)
{
    return (int)SC(__NR_listen, fd, backlog, 0, 0, 0, 0);
}

/* The file and path ops (the readiness core's run_openat ... run_mkdirat). */
int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return (int)SC(__NR_openat, dirfd, path, flags, mode, 0, 0);
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf)
{
    return (int)SC(__NR_statx, dirfd, path, flags, mask, buf, 0);
}

int ftruncate(int fd, off_t length)
{
    return (int)SC(__NR_ftruncate, fd, length, 0, 0, 0, 0);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    return (int)SC(__NR_unlinkat, dirfd, path, flags, 0, 0, 0);
}

/* renameat through renameat2, which every architecture has (aarch64 has
 * no renameat). */
int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    return (int)SC(__NR_renameat2, olddirfd, oldpath, newdirfd, newpath, 0, 0);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    return (int)SC(__NR_mkdirat, dirfd, path, mode, 0, 0, 0);
}

/* poll(2) through ppoll, which every architecture has (aarch64 has no
 * poll): a negative timeout waits for ever. */
int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    return (int)SC(__NR_ppoll, fds, n, timeout_ms < 0 ? NULL : &ts, NULL, 0, 0);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    return (int)SC(__NR_getsockopt, fd, level, name, val, len, 0);
}

int epoll_create1(int flags)
{
    return (int)SC(__NR_epoll_create1, flags, 0, 0, 0, 0, 0);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    return (int)SC(__NR_epoll_ctl, epfd, op, fd, ev, 0, 0);
}

/* aarch64 has no epoll_wait: epoll_pwait with no mask is the same call. */
int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms)
{
    return (int)SC(__NR_epoll_pwait, epfd, ev, max, timeout_ms, 0, KSIGSET);
}

int eventfd(unsigned int init, int flags)
{
    return (int)SC(__NR_eventfd2, init, flags, 0, 0, 0, 0);
}

int signalfd(int fd, const sigset_t *mask, int flags)
{
    return (int)SC(__NR_signalfd4, fd, mask, KSIGSET, flags, 0, 0);
}

int timerfd_create(int clock, int flags)
{
    return (int)SC(__NR_timerfd_create, clock, flags, 0, 0, 0, 0);
}

int timerfd_settime(int fd, int flags, const struct itimerspec *nv, struct itimerspec *old)
{
    return (int)SC(__NR_timerfd_settime, fd, flags, nv, old, 0, 0);
}

/* ---- signal masks ------------------------------------------------------------------ */

static uint64_t *ksig(sigset_t *set)
{
    return (uint64_t *)(void *)set;
}

int sigemptyset(sigset_t *set)
{
    memset(set, 0, sizeof(*set));
    return 0;
}

/* Every signal the kernel's 64-bit mask has (the worker pool blocks them
 * all; the kernel ignores SIGKILL and SIGSTOP in a mask). */
int sigfillset(sigset_t *set)
{
    sigemptyset(set);
    *ksig(set) = ~0ull;
    return 0;
}

int sigaddset(sigset_t *set, int sig)
{
    if (sig < 1 || sig > 64) {
        nl_errno = EINVAL;
        return -1;
    }
    *ksig(set) |= 1ull << (sig - 1);
    return 0;
}

int sigismember(const sigset_t *set, int sig)
{
    if (sig < 1 || sig > 64) {
        nl_errno = EINVAL;
        return -1;
    }
    return (int)((*(const uint64_t *)(const void *)set >> (sig - 1)) & 1u);
}

int sigpending(sigset_t *set)
{
    sigemptyset(set);
    return (int)SC(__NR_rt_sigpending, set, KSIGSET, 0, 0, 0, 0);
}

/* Returns the error number itself, as pthread functions do. */
int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    if (old != NULL)
        sigemptyset(old);
    long r = vl_syscall_raw(__NR_rt_sigprocmask, how, (long)set, (long)old, KSIGSET, 0, 0);
    return r < 0 ? (int)-r : 0;
}

int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
    return (int)SC(__NR_rt_sigtimedwait, set, info, timeout, KSIGSET, 0, 0);
}
