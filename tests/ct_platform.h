/*
 * tests/ct_platform.h - what the per-driver suites need from the platform
 * beyond the engine. On Linux it is the POSIX headers and nothing else.
 *
 * On Windows (conformance.iocp under Wine) it maps the handful of POSIX calls
 * the suites make on their side of a descriptor onto Winsock and kernel32,
 * keeping the tests' code and expectations the same:
 *   - a descriptor is a SOCKET or HANDLE carried in an int, as the engine
 *     carries it (<vllsi/engine.h>);
 *   - pipe2() makes an overlapped named pipe (an anonymous pipe is
 *     synchronous and would block the engine), [0] reads, [1] writes;
 *   - socketpair() makes a connected loopback TCP pair (Windows has no
 *     AF_UNIX socketpair);
 *   - read/write/close/recv/send/shutdown/lseek/fstat/fcntl(F_GETFD)/poll
 *     (one fd, POLLIN) work on those, synchronously;
 *   - alarm() arms a watchdog thread, since there is no SIGALRM.
 * On macOS it supplies Linux's SOCK_CLOEXEC/SOCK_NONBLOCK, accept4, pipe2,
 * dup3 and sigtimedwait (see there).
 * Include it after every system header (its macros rename POSIX calls).
 */
#ifndef VLLSI_CT_PLATFORM_H
#define VLLSI_CT_PLATFORM_H

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#else
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vllsi/sys/windows.h>

#define SOCK_CLOEXEC 0x80000 /* Linux's value; sockets here never inherit */
#define MSG_DONTWAIT 0x40    /* Linux's value; emulated by ct_recv/ct_send */
#define SHUT_WR      SD_SEND
#define F_GETFD      1
#define F_SETFL      4
#define FD_CLOEXEC   1
#ifndef O_NONBLOCK
#define O_NONBLOCK 0x800
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0 /* handles made here are never inheritable */
#endif

static inline HANDLE ct_h(int fd)
{
    return (HANDLE)(intptr_t)fd;
}

static inline int ct_fd(HANDLE h)
{
    return (int)(intptr_t)h;
}

/* -1 with errno from a Win32 / Winsock error code. */
static inline int ct_fail(unsigned long win_error)
{
    errno = -vl_win_error_to_errno(win_error);
    return -1;
}

static inline bool ct_is_socket(int fd)
{
    int type = 0, len = sizeof(type);
    return fd >= 0 && getsockopt((SOCKET)ct_h(fd), SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0;
}

static inline bool ct_handle_valid(int fd)
{
    DWORD flags;
    return fd >= 0 && GetHandleInformation(ct_h(fd), &flags);
}

static inline int ct_close(int fd)
{
    if (ct_is_socket(fd))
        return closesocket((SOCKET)ct_h(fd)) == 0 ? 0 : ct_fail((unsigned long)WSAGetLastError());
    if (!ct_handle_valid(fd))
        return ct_fail(ERROR_INVALID_HANDLE);
    return CloseHandle(ct_h(fd)) ? 0 : ct_fail(GetLastError());
}

/* Pipes set O_NONBLOCK by fcntl: a read with nothing queued is EAGAIN. */
static int ct_nonblock[16];
static int ct_nnonblock;

static inline bool ct_is_nonblock(int fd)
{
    for (int i = 0; i < ct_nnonblock; i++)
        if (ct_nonblock[i] == fd)
            return true;
    return false;
}

/* Synchronous I/O on an overlapped handle: issue, then wait for the result. */
static inline ssize_t ct_file_io(int fd, void *buf, size_t n, bool write_op)
{
    DWORD queued = 0;
    if (!write_op && ct_is_nonblock(fd) && PeekNamedPipe(ct_h(fd), NULL, 0, NULL, &queued, NULL) &&
        queued == 0) {
        errno = EAGAIN;
        return -1;
    }
    OVERLAPPED ov;
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = CreateEventA(NULL, TRUE, FALSE, NULL);
    /* The low bit on hEvent keeps this completion off any completion port
     * the handle is associated with (the engine's). */
    ov.hEvent = (HANDLE)((uintptr_t)ov.hEvent | 1);
    LARGE_INTEGER zero = {.QuadPart = 0}, pos = {.QuadPart = 0};
    bool disk = GetFileType(ct_h(fd)) == FILE_TYPE_DISK;
    if (disk && SetFilePointerEx(ct_h(fd), zero, &pos, FILE_CURRENT)) {
        ov.Offset = (DWORD)pos.QuadPart;
        ov.OffsetHigh = (DWORD)(pos.QuadPart >> 32);
    }
    DWORD done = 0;
    BOOL ok = write_op ? WriteFile(ct_h(fd), buf, (DWORD)n, NULL, &ov)
                       : ReadFile(ct_h(fd), buf, (DWORD)n, NULL, &ov);
    DWORD err = ok ? 0 : GetLastError();
    if (ok || err == ERROR_IO_PENDING) {
        ok = GetOverlappedResult(ct_h(fd), &ov, &done, TRUE);
        err = ok ? 0 : GetLastError();
    }
    CloseHandle((HANDLE)((uintptr_t)ov.hEvent & ~(uintptr_t)1));
    if (!ok && !write_op && (err == ERROR_BROKEN_PIPE || err == ERROR_HANDLE_EOF))
        return 0;
    if (!ok)
        return ct_fail(err);
    if (disk) {
        LARGE_INTEGER by = {.QuadPart = done};
        SetFilePointerEx(ct_h(fd), by, NULL, FILE_CURRENT);
    }
    return (ssize_t)done;
}

/* recv/send with MSG_DONTWAIT: only what is there now, else EAGAIN. */
static inline ssize_t ct_recv(int fd, void *buf, size_t n, int flags)
{
    if (!ct_is_socket(fd))
        return ct_handle_valid(fd) ? ct_fail(WSAENOTSOCK) : ct_fail(ERROR_INVALID_HANDLE);
    SOCKET s = (SOCKET)ct_h(fd);
    u_long on = (flags & MSG_DONTWAIT) != 0, off = 0;
    if (on)
        ioctlsocket(s, FIONBIO, &on);
    int r = recv(s, buf, (int)n, flags & ~MSG_DONTWAIT);
    int err = r < 0 ? WSAGetLastError() : 0;
    if (on)
        ioctlsocket(s, FIONBIO, &off);
    return r >= 0 ? r : ct_fail((unsigned long)err);
}

static inline ssize_t ct_send(int fd, const void *buf, size_t n, int flags)
{
    if (!ct_is_socket(fd))
        return ct_fail(WSAENOTSOCK);
    SOCKET s = (SOCKET)ct_h(fd);
    u_long on = (flags & MSG_DONTWAIT) != 0, off = 0;
    if (on)
        ioctlsocket(s, FIONBIO, &on);
    int r = send(s, buf, (int)n, flags & ~MSG_DONTWAIT);
    int err = r < 0 ? WSAGetLastError() : 0;
    if (on)
        ioctlsocket(s, FIONBIO, &off);
    return r >= 0 ? r : ct_fail((unsigned long)err);
}

static inline ssize_t ct_read(int fd, void *buf, size_t n)
{
    return ct_is_socket(fd) ? ct_recv(fd, buf, n, 0) : ct_file_io(fd, buf, n, false);
}

static inline ssize_t ct_write(int fd, const void *buf, size_t n)
{
    return ct_is_socket(fd) ? ct_send(fd, buf, n, 0) : ct_file_io(fd, (void *)buf, n, true);
}

/* An overlapped, non-inheritable socket (socket() would also work, but
 * WSASocket says what the engine relies on). */
static inline int ct_socket(int family, int type, int proto)
{
    SOCKET s = WSASocketW(family, type & ~SOCK_CLOEXEC, proto, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    return s == INVALID_SOCKET ? ct_fail((unsigned long)WSAGetLastError()) : ct_fd((HANDLE)s);
}

/* A connected loopback TCP pair: sv[0] accepted, sv[1] connected. */
static inline int ct_socketpair(int domain, int type, int proto, int sv[2])
{
    (void)domain;
    (void)type;
    (void)proto;
    struct sockaddr_in a;
    int len = sizeof(a);
    int l = ct_socket(AF_INET, SOCK_STREAM, 0), c = ct_socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || c < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SOCKET ls = (SOCKET)ct_h(l);
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &len) != 0 ||
        connect((SOCKET)ct_h(c), (struct sockaddr *)&a, sizeof(a)) != 0)
        return ct_fail((unsigned long)WSAGetLastError());
    SOCKET s = accept(ls, NULL, NULL);
    closesocket(ls);
    if (s == INVALID_SOCKET)
        return ct_fail((unsigned long)WSAGetLastError());
    sv[0] = ct_fd((HANDLE)s);
    sv[1] = c;
    return 0;
}

/* An overlapped byte pipe: a named pipe server (read end) and a client. */
static inline int ct_pipe2(int p[2], int flags)
{
    static volatile LONG serial;
    char name[96];
    (void)flags;
    snprintf(name, sizeof(name), "\\\\.\\pipe\\vllsi-ct-%lu-%ld", GetCurrentProcessId(),
             InterlockedIncrement(&serial));
    HANDLE r = CreateNamedPipeA(
        name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 65536, 65536, 0, NULL);
    if (r == INVALID_HANDLE_VALUE)
        return ct_fail(GetLastError());
    HANDLE w = CreateFileA(name, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
    if (w == INVALID_HANDLE_VALUE) {
        CloseHandle(r);
        return ct_fail(GetLastError());
    }
    p[0] = ct_fd(r);
    p[1] = ct_fd(w);
    return 0;
}

/* A temporary overlapped file that is deleted when closed. */
static inline int ct_mkstemp(char *path)
{
    char dir[MAX_PATH];
    if (GetTempPathA(sizeof(dir), dir) == 0 || GetTempFileNameA(dir, "vct", 0, path) == 0)
        return ct_fail(GetLastError());
    HANDLE h = CreateFileA(
        path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
        FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OVERLAPPED, NULL);
    return h == INVALID_HANDLE_VALUE ? ct_fail(GetLastError()) : ct_fd(h);
}

/* The file goes away with its last handle (FILE_FLAG_DELETE_ON_CLOSE). */
static inline int ct_unlink(const char *path)
{
    (void)path;
    return 0;
}

/* open() of /dev/null: the NUL device (the tests only need a real handle). */
static inline int ct_open(const char *path, int flags)
{
    (void)flags;
    const char *p = strcmp(path, "/dev/null") == 0 ? "NUL" : path;
    HANDLE h = CreateFileA(p, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                           FILE_FLAG_OVERLAPPED, NULL);
    return h == INVALID_HANDLE_VALUE ? ct_fail(GetLastError()) : ct_fd(h);
}

static inline int64_t ct_lseek(int fd, int64_t off, int whence)
{
    LARGE_INTEGER by = {.QuadPart = off}, pos;
    DWORD how = whence == SEEK_SET ? FILE_BEGIN : whence == SEEK_END ? FILE_END : FILE_CURRENT;
    if (!SetFilePointerEx(ct_h(fd), by, &pos, how))
        return ct_fail(GetLastError());
    return pos.QuadPart;
}

static inline int ct_fstat(int fd, struct stat *st)
{
    LARGE_INTEGER size;
    if (!GetFileSizeEx(ct_h(fd), &size))
        return ct_fail(GetLastError());
    memset(st, 0, sizeof(*st));
    st->st_size = (off_t)size.QuadPart;
    return 0;
}

/* F_GETFD: FD_CLOEXEC when the handle is not inheritable; F_SETFL
 * O_NONBLOCK: sockets only (ct_recv's MSG_DONTWAIT covers the rest). */
static inline int ct_fcntl(int fd, int cmd, ...)
{
    DWORD flags;
    if (!ct_handle_valid(fd) && !ct_is_socket(fd))
        return ct_fail(ERROR_INVALID_HANDLE);
    if (cmd == F_GETFD) {
        if (!GetHandleInformation(ct_h(fd), &flags))
            return ct_fail(GetLastError());
        return (flags & HANDLE_FLAG_INHERIT) ? 0 : FD_CLOEXEC;
    }
    if (cmd == F_SETFL && !ct_is_socket(fd)) {
        if (ct_nnonblock < 16 && !ct_is_nonblock(fd))
            ct_nonblock[ct_nnonblock++] = fd;
        return 0;
    }
    if (cmd == F_SETFL) {
        va_list ap;
        va_start(ap, cmd);
        u_long on = (va_arg(ap, int) & O_NONBLOCK) != 0;
        va_end(ap);
        return ioctlsocket((SOCKET)ct_h(fd), FIONBIO, &on) == 0 ? 0 : -1;
    }
    return 0;
}

/* poll() for one descriptor and POLLIN, without waiting: data queued now. */
static inline int ct_poll(struct pollfd *p, unsigned n, int timeout_ms)
{
    (void)timeout_ms;
    if (n != 1 || !(p->events & POLLIN))
        return ct_fail(ERROR_NOT_SUPPORTED);
    DWORD avail = 0;
    u_long savail = 0;
    if (ct_is_socket((int)p->fd))
        ioctlsocket(p->fd, FIONREAD, &savail);
    else
        PeekNamedPipe(ct_h((int)p->fd), NULL, 0, NULL, &avail, NULL);
    p->revents = (savail > 0 || avail > 0) ? POLLIN : 0;
    return p->revents ? 1 : 0;
}

/* Winsock reports through WSAGetLastError; POSIX callers read errno. */
static inline int ct_bind(int fd, const struct sockaddr *a, socklen_t len)
{
    return bind((SOCKET)ct_h(fd), a, len) == 0 ? 0 : ct_fail((unsigned long)WSAGetLastError());
}

static inline int ct_listen(int fd, int backlog)
{
    return listen((SOCKET)ct_h(fd), backlog) == 0 ? 0 : ct_fail((unsigned long)WSAGetLastError());
}

static inline int ct_getsockname(int fd, struct sockaddr *a, socklen_t *len)
{
    return getsockname((SOCKET)ct_h(fd), a, len) == 0 ? 0
                                                      : ct_fail((unsigned long)WSAGetLastError());
}

static inline int ct_setenv(const char *name, const char *value, int overwrite)
{
    (void)overwrite;
    return _putenv_s(name, value) == 0 ? 0 : -1;
}

static inline int ct_unsetenv(const char *name)
{
    return _putenv_s(name, "") == 0 ? 0 : -1;
}

static inline int ct_shutdown(int fd, int how)
{
    return shutdown((SOCKET)ct_h(fd), how) == 0 ? 0 : ct_fail((unsigned long)WSAGetLastError());
}

/* The watchdog: alarm(secs) arms it, alarm(0) disarms; a thread checks the
 * deadline ten times a second and ends the process, naming the test. */
static volatile LONG64 ct_alarm_deadline_ms;
static void ct_on_watchdog(int sig);

static DWORD WINAPI ct_watchdog_thread(void *arg)
{
    (void)arg;
    for (;;) {
        Sleep(100);
        LONG64 d = ct_alarm_deadline_ms;
        if (d != 0 && (LONG64)GetTickCount64() > d)
            ct_on_watchdog(0);
    }
    return 0;
}

static inline unsigned ct_alarm(unsigned secs)
{
    static volatile LONG started;
    if (InterlockedExchange(&started, 1) == 0) {
        HANDLE t = CreateThread(NULL, 0, ct_watchdog_thread, NULL, 0, NULL);
        if (t != NULL)
            CloseHandle(t);
    }
    ct_alarm_deadline_ms = secs ? (LONG64)GetTickCount64() + (LONG64)secs * 1000 : 0;
    return 0;
}

/* Winsock's setsockopt takes a const char *; POSIX code passes an int *. */
static inline int ct_setsockopt(int fd, int level, int name, const void *v, int len)
{
    if (setsockopt((SOCKET)ct_h(fd), level, name, (const char *)v, len) != 0)
        return ct_fail((unsigned long)WSAGetLastError());
    return 0;
}

#define close(fd)               ct_close(fd)
#define read(fd, b, n)          ct_read(fd, b, n)
#define write(fd, b, n)         ct_write(fd, b, n)
#define recv(fd, b, n, f)       ct_recv(fd, b, n, f)
#define send(fd, b, n, f)       ct_send(fd, b, n, f)
#define socket(d, t, p)         ct_socket(d, t, p)
#define socketpair(d, t, p, sv) ct_socketpair(d, t, p, sv)
#define pipe2(p, f)             ct_pipe2(p, f)
#define pipe(p)                 ct_pipe2(p, 0)
#define mkstemp(path)           ct_mkstemp(path)
#define unlink(path)            ct_unlink(path)
#define open(path, f)           ct_open(path, f)
#define lseek(fd, o, w)         ct_lseek(fd, o, w)
#define fstat(fd, st)           ct_fstat(fd, st)
#define fcntl                   ct_fcntl
#define poll(p, n, t)           ct_poll(p, n, t)
#define shutdown(fd, how)       ct_shutdown(fd, how)
#define setsockopt              ct_setsockopt
#define alarm(secs)             ct_alarm(secs)
#define bind(fd, a, l)          ct_bind(fd, a, l)
#define listen(fd, b)           ct_listen(fd, b)
#define getsockname(fd, a, l)   ct_getsockname(fd, a, l)
#define setenv(n, v, o)         ct_setenv(n, v, o)
#define unsetenv(n)             ct_unsetenv(n)

/* Wine's ntdll exports wine_get_version; Windows' does not. Used only where
 * Wine is known to differ from Windows, and the test says so. */
static inline bool ct_under_wine(void)
{
    HMODULE nt = GetModuleHandleA("ntdll.dll");
    return nt != NULL && GetProcAddress(nt, "wine_get_version") != NULL;
}

/* Winsock needs starting once per process. */
static inline void ct_platform_init(void)
{
    WSADATA w;
    (void)WSAStartup(MAKEWORD(2, 2), &w);
}
#endif /* _WIN32 */

#ifdef __APPLE__
/*
 * macOS has no SOCK_CLOEXEC/SOCK_NONBLOCK type flags, accept4, pipe2, dup3
 * or sigtimedwait. The suites keep Linux's spelling: the flags take Linux's
 * values and the ct_ calls below apply them with fcntl right after the call
 * (the suites fork only from their main thread, never while another thread
 * makes descriptors, so the gap inherits nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define SOCK_CLOEXEC  0x80000
#define SOCK_NONBLOCK 0x800

/* fd gets close-on-exec and/or O_NONBLOCK; closed on failure: fd or -1. */
static inline int ct_fd_set(int fd, bool cloexec, bool nonblock)
{
    if (fd < 0)
        return fd;
    int fl = fcntl(fd, F_GETFL);
    if ((cloexec && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) || fl < 0 ||
        (nonblock && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static inline int ct_socket(int domain, int type, int proto)
{
    int fd = socket(domain, type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK), proto);
    return ct_fd_set(fd, type & SOCK_CLOEXEC, type & SOCK_NONBLOCK);
}

static inline int ct_socketpair(int domain, int type, int proto, int sv[2])
{
    if (socketpair(domain, type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK), proto, sv) < 0)
        return -1;
    if (ct_fd_set(sv[0], type & SOCK_CLOEXEC, type & SOCK_NONBLOCK) < 0) {
        close(sv[1]);
        return -1;
    }
    if (ct_fd_set(sv[1], type & SOCK_CLOEXEC, type & SOCK_NONBLOCK) < 0) {
        close(sv[0]);
        return -1;
    }
    return 0;
}

/* The BSDs give an accepted socket the listener's O_NONBLOCK; accept4
 * gives it only what flags ask for. */
static inline int ct_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int nfd = accept(fd, addr, len);
    if (nfd < 0)
        return -1;
    int fl = fcntl(nfd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK) && !(flags & SOCK_NONBLOCK))
        (void)fcntl(nfd, F_SETFL, fl & ~O_NONBLOCK);
    return ct_fd_set(nfd, flags & SOCK_CLOEXEC, flags & SOCK_NONBLOCK);
}

static inline int ct_pipe2(int p[2], int flags)
{
    if (pipe(p) < 0)
        return -1;
    if (ct_fd_set(p[0], flags & O_CLOEXEC, flags & O_NONBLOCK) < 0) {
        close(p[1]);
        return -1;
    }
    if (ct_fd_set(p[1], flags & O_CLOEXEC, flags & O_NONBLOCK) < 0) {
        close(p[0]);
        return -1;
    }
    return 0;
}

/* dup2, then the flag (new is closed first, as dup3 closes it). */
static inline int ct_dup3(int old, int new_fd, int flags)
{
    if (old == new_fd) {
        errno = EINVAL;
        return -1;
    }
    if (dup2(old, new_fd) < 0)
        return -1;
    return ct_fd_set(new_fd, flags & O_CLOEXEC, false);
}

/* Take a pending signal of set, waiting up to timeout (polled every
 * millisecond: the suites only take signals they know are pending). */
static inline int ct_sigtimedwait(const sigset_t *set, void *info, const struct timespec *timeout)
{
    (void)info;
    int64_t left =
        timeout == NULL ? INT64_MAX : (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec;
    for (;;) {
        sigset_t pending;
        int sig;
        if (sigpending(&pending) < 0)
            return -1;
        for (sig = 1; sig < NSIG; sig++)
            if (sigismember(set, sig) == 1 && sigismember(&pending, sig) == 1)
                break;
        if (sig < NSIG) {
            sigset_t one;
            sigemptyset(&one);
            sigaddset(&one, sig);
            return sigwait(&one, &sig) == 0 ? sig : -1;
        }
        if (left <= 0) {
            errno = EAGAIN;
            return -1;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        left -= 1000000;
    }
}

#define socket(d, t, p)        ct_socket(d, t, p)
#define socketpair(d, t, p, s) ct_socketpair(d, t, p, s)
#define accept4                ct_accept4
#define pipe2                  ct_pipe2
#define dup3                   ct_dup3
#define sigtimedwait           ct_sigtimedwait
#endif /* __APPLE__ */

#ifndef _WIN32
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>

/* A directory with an entry per open descriptor of this process (macOS's
 * devfs lists every descriptor under /dev/fd). */
#ifdef __linux__
#define CT_FD_DIR "/proc/self/fd"
#else
#define CT_FD_DIR "/dev/fd"
#endif

/* An AF_UNIX address named name, which no other process uses: Linux's
 * abstract namespace; elsewhere a path in /tmp, removed first and again by
 * ct_unix_release once the socket bound to it is closed. Its length. */
static inline socklen_t ct_unix_addr(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
#ifdef __linux__
    int n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "%s", name);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
#else
    int n = snprintf(a->sun_path, sizeof(a->sun_path), "/tmp/%s", name);
    unlink(a->sun_path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
#endif
}

static inline void ct_unix_release(const struct sockaddr_un *a)
{
    if (a->sun_path[0] != '\0')
        unlink(a->sun_path);
}

/* macOS starts a process with 256 descriptors; the suites hold up to a
 * thousand at once, as Linux's default limit (1024) allows. */
static inline void ct_platform_init(void)
{
#ifdef __APPLE__
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
#endif
}
#endif

#endif
