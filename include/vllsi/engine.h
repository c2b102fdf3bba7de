/*
 * <vllsi/engine.h> - the IOEngine: completion-based asynchronous I/O.
 *
 * Submit an op, get an id; poll, get completions. One engine per thread
 * (only vl_engine_wake may be called from another thread; by default the
 * creating thread is the one that must submit and poll, see
 * VL_ENGINE_NO_TASKRUN_FLAGS); scale across cores with one engine per thread.
 * Link vllsi::engine (`pkg-config vllsi`).
 *
 * Drivers: io_uring (liburing) and epoll on Linux; AUTO picks io_uring and
 * falls back to epoll when io_uring cannot be set up, recording why
 * (vl_engine_driver_reason). kqueue on macOS and the BSDs, where AUTO picks
 * it; on Linux a build configured with VLLSI_KQUEUE=ON also has kqueue
 * through libkqueue (never picked by AUTO there). The environment variable
 * VLLSI_DRIVER=uring|epoll|kqueue|sync overrides an AUTO choice; a driver
 * the build lacks fails vl_engine_create with -EOPNOTSUPP.
 *
 * Result contract (the same on every driver; the conformance suite checks it):
 *  - submit returns the id (> 0) or a negative errno, and then no id exists
 *    and no completion will ever come:
 *      -EINVAL    NULL engine/op, unknown kind, length above INT32_MAX,
 *                 negative timeout, a bad SHUTDOWN how, POLL events 0 or
 *                 with unknown bits, SOCKET flags with unknown bits, a BIND
 *                 address length of 0 or above sockaddr_storage, a
 *                 negative LISTEN backlog, a READ/WRITE/READV/WRITEV offset
 *                 below -1, READV/WRITEV iovcnt 0 or above VL_IOV_MAX,
 *                 FSYNC flags other than VL_FSYNC_DATASYNC, a
 *                 SENDMSG/RECVMSG msghdr NULL or with 0 or more than
 *                 VL_IOV_MAX entries (a multishot RECVMSG: with any),
 *                 reserved not 0, a
 *                 malformed option or a mode the kind does not take
 *                 (VL_OP_F_*, at vl_op; see each constructor), a
 *                 multishot op with VL_OP_F_LINK or as a chain's next op;
 *                 a path op's flags or mode it does not take, a negative
 *                 FTRUNCATE length, a WAITPID pid <= 0, an OPENAT
 *                 resolve bit outside VL_RESOLVE_ALL, a SENDFILE or SPLICE
 *                 offset below -1, count or len above INT32_MAX, SPLICE
 *                 flags outside VL_SPLICE_F_ALL
 *      -EBADF     a SENDFILE file_fd or SPLICE fd_out below 0
 *      -EOPNOTSUPP a deadline on the sync driver
 *      -EFAULT    NULL buffer with len > 0, NULL address where one is needed
 *                 (CONNECT, BIND), a NULL path or STATX buffer, a NULL
 *                 READV/WRITEV array, a msghdr's NULL name or control
 *                 with a size
 *      -EBUSY     max_inflight ids are alive (issued and their completion not
 *                 yet returned by poll); the cap is exact
 *      -ESHUTDOWN after vl_engine_shutdown
 *  - Every id completes exactly once; ids carry a generation and are never
 *    reused while alive.
 *  - completion.result: >= 0 bytes transferred (SENDMSG, RECVMSG: of the
 *    payload; a multishot RECVMSG: of its pool buffer) / new fd (ACCEPT,
 *    SOCKET, OPENAT; CLOEXEC) / 0 (NOP, CONNECT, TIMEOUT fired, CLOSE,
 *    SHUTDOWN, BIND, LISTEN, CANCEL found its target, STATX, FTRUNCATE,
 *    UNLINKAT, RENAMEAT, MKDIRAT, FSYNC) /
 *    the ready mask, VL_POLL_* bits (POLL) / the child's exit code, or
 *    VL_CHILD_SIGNALED | the signal that killed it (WAITPID);
 *    < 0 a negative errno in -4095..-1:
 *      -EBADF      bad or closed fd (found at execution; a number whose
 *                  CLOSE op was submitted first counts as closed, also
 *                  while that CLOSE waits for a running file op of it)
 *      -ENOTSOCK / -EINVAL   socket op on a non-socket / accept on a
 *                  non-listening socket
 *      -ENOTCONN   SHUTDOWN of a socket that is not connected (see
 *                  vl_op_shutdown)
 *      -EAFNOSUPPORT / -EPROTONOSUPPORT / -EINVAL   SOCKET of a domain,
 *                  protocol or type the system does not have;
 *      -EADDRINUSE / -EADDRNOTAVAIL / -EINVAL   BIND to an address taken
 *                  or not local, or of a socket already bound (see
 *                  vl_op_bind)
 *      -ENOENT / -ENAMETOOLONG / -ENOTDIR / -EISDIR / -EEXIST  what a path
 *                  op met (see "files and paths" below); -EOPNOTSUPP for
 *                  one a driver cannot carry (the simulator's, IOCP's with
 *                  a directory fd)
 *      -EINVAL     FSYNC of a pipe, FIFO or socket
 *      -ECHILD     WAITPID of a pid that is not an unreaped child (see
 *                  vl_op_waitpid)
 *      -ESPIPE     an offset other than -1 on a pipe, FIFO or socket (io_uring
 *                  itself would ignore the offset; its driver checks with one
 *                  fstat per op that names an offset)
 *      -ECONNRESET / -EPIPE  peer reset (recv / send); SIGPIPE never kills
 *                  the process: SEND adds MSG_NOSIGNAL and a WRITE to a pipe
 *                  or socket without a reader completes with -EPIPE
 *      -ECANCELED  the op was cancelled (CANCEL, CLOSE of its fd, shutdown),
 *                  or a chain member before it failed or was short or
 *                  cancelled (VL_OP_F_LINK)
 *      CANCEL's own result: 0 found and cancelled; -ENOENT unknown, stale or
 *                  already completed id; -EALREADY the target is already
 *                  running and will complete by itself, or another CANCEL
 *                  of the same op came first (that one reports the outcome)
 *  - Length 0 completes with 0, like the kernel (it looks like EOF); EOF is 0
 *    and repeatable. A datagram longer than a RECVMSG's buffers is cut and
 *    says so (VL_MSG_TRUNC in msg_flags or vl_recvmsg_out.flags), never
 *    silently.
 *  - TIMEOUT completes with 0 no earlier than its duration after submit.
 *  - Buffers belong to the caller from submit until poll returns the op's
 *    completion; the engine never touches them afterwards.
 *  - submit never blocks and makes no system call; poll hands queued ops to
 *    the kernel and waits, in one system call where the driver allows.
 *  - No allocation after vl_engine_create.
 */
#ifndef VLLSI_ENGINE_H
#define VLLSI_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#ifdef _WIN32
/*
 * Windows (the IOCP driver, docs/windows.md): the socket API is Winsock's,
 * and every `int fd` below carries a SOCKET or HANDLE truncated to 32 bits,
 * (int)(intptr_t)h. Windows keeps handle values below 2^32 so that 32- and
 * 64-bit processes can share them, and sign extension gives -1 back as
 * INVALID_HANDLE_VALUE, so the conversion loses nothing; convert back with
 * (SOCKET)(intptr_t)fd. Handles must be opened for overlapped I/O (sockets
 * are; files and pipes need FILE_FLAG_OVERLAPPED). ACCEPT's result is the new
 * SOCKET the same way. Error numbers are <errno.h>'s, plus the Linux names
 * from <vllsi/sys/windows.h> (ESHUTDOWN...).
 * Where the contract below differs on Windows: there is no SIGPIPE (nothing
 * to suppress); a stream socket learns of a closed peer only from the RST
 * its next send provokes, so the first SEND after the peer's close may
 * succeed and the next fails with -EPIPE or -ECONNRESET.
 */
#include <winsock2.h>
#include <ws2tcpip.h>

#include <vllsi/sys/windows.h>
#else
#include <sys/socket.h>
#endif

#include <vllsi/sys/common.h> /* vl_iovec */
#include <vllsi/op_kinds.h>
#include <vllsi/sys/export.h>

VL_EXTERN_C_BEGIN

typedef struct vl_engine vl_engine;

typedef enum vl_driver_kind {
    VL_DRIVER_AUTO = 0,
    VL_DRIVER_URING,
    VL_DRIVER_EPOLL,
    VL_DRIVER_KQUEUE,
    VL_DRIVER_IOCP,
    VL_DRIVER_SYNC,
    VL_DRIVER_SIM, /* simulation: virtual clock and descriptors, <vllsi/sim.h> */
} vl_driver_kind;

/* Defaults for the config's 0 values. */
#define VL_ENGINE_DEFAULT_ENTRIES      256u
#define VL_ENGINE_DEFAULT_MAX_INFLIGHT 4096u
/* The largest max_inflight accepted (ids keep the slot in 24 bits). */
#define VL_ENGINE_MAX_INFLIGHT         (1u << 24)
/*
 * vl_engine_config.workers: the readiness drivers (epoll, kqueue) run the
 * work no readiness mechanism reports (READ and WRITE on a regular file or
 * block device, FSYNC, the file ops) on a bounded pool of worker threads, so
 * that a slow disk never stalls the polling thread. On Linux the polling
 * thread first tries what the kernel answers from its caches without
 * waiting (RWF_NOWAIT reads and writes, RESOLVE_CACHED opens, STATX of an
 * fd on a block-device file system; not with VL_ENGINE_FILES_ON_POOL):
 * only what would block reaches the pool (an op at an offset that the
 * attempt does only in part goes there whole; at the file position, -1,
 * its part stands). The threads start
 * lazily: none until the first such op, then one more whenever an op finds
 * every started thread busy, up to workers; they stay until
 * vl_engine_destroy, which joins them. Their signals are blocked. Ops beyond
 * the busy threads wait in a FIFO (no allocation per op). io_uring, IOCP,
 * the simulator and the sync driver run these ops their own way and ignore
 * the field. 0: as many threads as CPUs are online, at most
 * VL_ENGINE_DEFAULT_WORKERS (more threads than CPUs only take turns on
 * cached files; docs/benchmarks.md, "Files"). Above VL_ENGINE_MAX_WORKERS:
 * -EINVAL at create.
 */
#define VL_ENGINE_DEFAULT_WORKERS      4u
#define VL_ENGINE_MAX_WORKERS          256u

/* vl_engine_config.flags (tuning; unknown bits give -EINVAL at create). */
/* io_uring: do not ask for SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN. By
 * default the thread that creates the engine is the only one that may submit
 * and poll it (the kernel enforces it for SINGLE_ISSUER rings). Set this flag
 * to create the engine on one thread and hand it to another; it costs
 * throughput (the kernel runs completion work at any syscall boundary). */
#define VL_ENGINE_NO_TASKRUN_FLAGS 0x1u
/* io_uring: ask for COOP_TASKRUN instead of DEFER_TASKRUN, for an engine
 * whose thread sleeps in another event loop (vl_loop_backend_fd). With
 * DEFER_TASKRUN a completion is task work that runs only inside our own
 * io_uring_enter, and the kernel tells a host that sleeps elsewhere late
 * (through a deferred eventfd signal: 12-35 ms on Linux 6.18, see loop.h);
 * with COOP_TASKRUN it runs when the thread next leaves the kernel, which
 * wakes the host at once (and costs the host's wait an EINTR first).
 * NO_TASKRUN_FLAGS, if also set, wins. */
#define VL_ENGINE_EMBEDDED         0x2u
/* The readiness drivers may remember what they learned about a descriptor
 * number until the number gets a new file through this engine (an ACCEPT,
 * SOCKET or OPENAT result) or loses it through its CLOSE. Set it when the
 * program keeps three promises for every number the engine ran ops on: it
 * puts no new file on the number behind the engine's back (plain close(2),
 * then an accept4(2), open(2) or dup2(2) landing there, or another
 * engine's ACCEPT, SOCKET or OPENAT), it does not clear O_NONBLOCK on a
 * socket the engine has seen non-blocking, and it does not set O_DIRECT
 * (F_SETFL) on a file the engine has read or written. What is
 * remembered (docs/engine.md, "The epoll driver"):
 *  - epoll keeps an fd's registration between its ops, so a connection's
 *    RECV, SEND, RECV, ... cycle costs no epoll_ctl. A broken first promise
 *    loses nothing: the op on the new file sees readiness late, up to
 *    about 10 ms on an idle engine and 200 ms on a busy one, when the
 *    driver re-arms entries it could not confirm.
 *  - epoll and io_uring: a socket a SENDFILE found non-blocking is not
 *    asked again (one fcntl per SENDFILE saved). A broken second promise
 *    could block the polling thread in sendfile(2).
 *  - epoll and kqueue: how a READ, WRITE, READV or WRITEV reaches the
 *    number's file (fstat: a regular file, a socket, a pipe or other) and
 *    whether a regular file's status flags ask for synchronous I/O
 *    (F_GETFL: O_DIRECT, O_DSYNC, O_SYNC send its ops to the worker pool
 *    without the page-cache attempt), asked once per file instead of per
 *    op: a cached 4 KiB READ costs one preadv2 instead of three system
 *    calls. This needs the first promise, since no call cheaper than the
 *    fstat itself tells a number's new file from its old one: a pipe put
 *    on the number behind the engine's back would be taken for the old
 *    regular file, and read with a call that waits (on a worker no CANCEL
 *    can stop, or on the polling thread); a file taken for a pipe would be
 *    parked for a readiness its driver never reports. A broken third
 *    promise makes the polling thread wait for a direct read's device I/O.
 * Without the flag every op that waits arms with one epoll_ctl, every
 * SENDFILE asks the socket's flags (unless the engine made it with
 * VL_SOCK_NONBLOCK: a SOCKET's or ACCEPT's), and every READ/WRITE of a
 * file asks fstat and F_GETFL. kqueue's arms cost no system call of their
 * own; io_uring keeps nothing else per number, IOCP and the sync driver
 * nothing at all: they ignore it. */
#define VL_ENGINE_REMEMBER_FDS     0x4u
/* The readiness drivers send every file op to the worker pool at once
 * (vl_engine_config.workers): the polling thread makes none of its first
 * attempts from the kernel's caches (RWF_NOWAIT reads and writes,
 * RESOLVE_CACHED opens, STATX of an fd). Set it when the polling thread
 * must spend no time on file data, at the cost of a hand-off to a thread
 * per op: a cached READ of 1 MiB is otherwise a 1 MiB copy made between
 * two network events. The default (clear) suits most programs: a cached
 * 4 KiB READ costs less on the polling thread than its hand-off. The
 * attempts exist on Linux (epoll; kqueue through libkqueue): kqueue on
 * macOS and the BSDs already sends every file op to the pool, and
 * io_uring, IOCP, the simulator and the sync driver ignore the flag. */
#define VL_ENGINE_FILES_ON_POOL    0x8u
#define VL_ENGINE_FLAGS_ALL        0xfu

typedef struct vl_engine_config {
    vl_driver_kind driver; /* AUTO: io_uring, else the platform's fallback  */
    uint32_t entries;      /* kernel submission ring size; 0 = default (256) */
    uint32_t max_inflight; /* cap on live ids; 0 = default (4096)            */
    uint32_t flags;        /* VL_ENGINE_* tuning bits                         */
    uint32_t workers;      /* worker threads at most; 0 = CPUs, at most 4    */
} vl_engine_config;

/* The op kinds, from the list in <vllsi/op_kinds.h>: VL_OP_NOP (0),
 * VL_OP_READ, ..., then VL_OP_KIND_COUNT_, which is not an op but the
 * number of kinds. */
#define VL__OP_KIND_ENUM(NAME, name) VL_OP_##NAME,
typedef enum vl_op_kind { VL_OP_KINDS(VL__OP_KIND_ENUM) VL_OP_KIND_COUNT_ } vl_op_kind;
#undef VL__OP_KIND_ENUM

/*
 * A buffer pool: count buffers of size bytes each, owned by one engine, that
 * multishot RECVs (vl_op_recv_multi) fill. On io_uring it is a provided-buffer ring
 * (io_uring_register_buf_ring): the kernel picks a buffer only when data
 * arrives, so idle connections hold none. On epoll the driver picks one at
 * read time, the same way. See vl_bufpool_create.
 */
typedef struct vl_bufpool vl_bufpool;

/* STATX's result (below, with vl_op_statx). */
struct vl_statx;

/*
 * The message header SENDMSG and RECVMSG take: struct msghdr (sendmsg(2)),
 * or on Windows WSAMSG (WSASendMsg), whose fields carry the same things
 * under other names (name/namelen, lpBuffers/dwBufferCount, Control,
 * dwFlags).
 */
#ifdef _WIN32
typedef WSAMSG vl_msghdr;
#else
typedef struct msghdr vl_msghdr;
#endif

/*
 * An op: a common header (kind, flags, fd, the deadline) and a per-kind body.
 * Build it with the constructors below, which set every field the kind does
 * not use to 0 (fd to -1); the struct is copied by submit, so it may live on
 * the caller's stack. Buffers and addresses it points to must stay valid
 * until the op's completion is returned by poll.
 *
 * The layout is fixed at 64 bytes on every host (one cache line, pinned by
 * static assertions): a 24-byte header and a 40-byte body, enough for the
 * kinds ahead (sendto: buf, len, flags, addr, addrlen; splice: off_in,
 * fd_out, off_out, len, flags; openat: path, flags, mode; statx: path,
 * flags, mask, buf; readv/writev with an offset). New kinds add a body to
 * the union; new options take flag bits or the reserved word, so the
 * struct does not grow.
 */
typedef struct vl_op {
    vl_op_kind kind;
    uint32_t flags;      /* VL_OP_F_* options, below; 0 for none */
    int32_t fd;          /* the descriptor the op acts on; -1 for NOP, TIMEOUT, CANCEL */
    uint32_t reserved;   /* must be 0 */
    int64_t deadline_ns; /* with VL_OP_F_DEADLINE, see below; else ignored */
    union {
        struct {
            void *buf;
            size_t len;
            int64_t offset; /* -1: the fd's current position */
        } rw;               /* READ, WRITE (WRITE's buf is not written) */
        struct {
            struct sockaddr *addr; /* may be NULL (then addrlen is ignored) */
            socklen_t *addrlen;
            uint32_t flags; /* VL_SOCK_* bits for the new socket (vl_op_accept) */
        } accept;
        struct {
            const struct sockaddr *addr;
            socklen_t addrlen;
        } connect;
        struct {
            void *buf;
            size_t len;
            int flags;        /* MSG_* flags; SEND always adds MSG_NOSIGNAL */
            vl_bufpool *pool; /* multishot RECV's buffers (buf NULL, len 0); else NULL */
        } msg;                /* SEND, RECV */
        struct {
            int64_t duration_ns;
        } timeout;
        struct {
            uint64_t target_id;
        } cancel;
        struct {
            const vl_iovec *iov; /* the caller's array, read until completion */
            uint32_t iovcnt;     /* 1..VL_IOV_MAX */
            int flags;           /* MSG_* flags; SENDV always adds MSG_NOSIGNAL */
        } vec;                   /* SENDV */
        struct {
            int how; /* VL_SHUT_RD, VL_SHUT_WR or VL_SHUT_RDWR */
        } shutdown;  /* SHUTDOWN */
        struct {
            uint32_t events; /* VL_POLL_* bits, at least one */
        } poll;              /* POLL */
        struct {
            int domain, type, protocol; /* socket(2)'s; SOCK_CLOEXEC is always added */
            uint32_t flags;             /* VL_SOCK_* bits */
        } socket;                       /* SOCKET (no fd: the header's is -1) */
        struct {
            const struct sockaddr *addr; /* read until the completion */
            socklen_t addrlen;           /* 1..sizeof(struct sockaddr_storage) */
        } bind;                          /* BIND */
        struct {
            int backlog; /* >= 0 */
        } listen;        /* LISTEN */
        /* The path ops: fd is the directory a relative path starts from
         * (VL_AT_FDCWD: the working directory); paths are the caller's
         * NUL-terminated strings, read until the completion is returned. */
        struct {
            const char *path;
            int flags;        /* open(2)'s O_* flags (see vl_op_openat) */
            uint32_t mode;    /* permission bits of a file O_CREAT makes */
            uint64_t resolve; /* VL_RESOLVE_* bits (vl_op_openat2); 0: none */
        } openat;             /* OPENAT */
        struct {
            const char *path;
            int flags;            /* VL_AT_SYMLINK_NOFOLLOW, VL_AT_EMPTY_PATH */
            struct vl_statx *buf; /* the caller's, filled by the op */
        } statx;                  /* STATX */
        struct {
            int64_t length; /* >= 0 */
        } ftruncate;        /* FTRUNCATE (fd: the file) */
        struct {
            const char *path;
            int flags; /* 0 or VL_AT_REMOVEDIR */
        } unlinkat;    /* UNLINKAT */
        struct {
            const char *oldpath; /* relative to fd */
            const char *newpath; /* relative to newdirfd */
            int newdirfd;
        } renameat; /* RENAMEAT */
        struct {
            const char *path;
            uint32_t mode;
        } mkdirat; /* MKDIRAT */
        struct {
            const vl_iovec *iov; /* the caller's array, read until completion */
            uint32_t iovcnt;     /* 1..VL_IOV_MAX */
            uint32_t unused_;    /* 0 */
            int64_t offset;      /* -1: the fd's current position (where rw's is) */
        } rwv;                   /* READV, WRITEV */
        struct {
            uint32_t flags; /* 0 or VL_FSYNC_DATASYNC */
        } fsync;            /* FSYNC */
        struct {
            vl_msghdr *msg;   /* the caller's, read (RECVMSG: written) until completion */
            int flags;        /* MSG_* flags; SENDMSG always adds MSG_NOSIGNAL */
            vl_bufpool *pool; /* multishot RECVMSG's buffers; else NULL */
        } mh;                 /* SENDMSG, RECVMSG */
        struct {
            int32_t pid; /* > 0: a child of this process (fd is -1) */
        } waitpid;       /* WAITPID */
        struct {
            int32_t file_fd; /* the file read from (fd: the socket written to) */
            uint32_t unused_;
            int64_t offset; /* >= 0, or -1: the file's current position */
            size_t count;   /* 0..INT32_MAX bytes */
        } sendfile;         /* SENDFILE */
        struct {
            int64_t off_in; /* -1: fd's current position (a pipe's must be -1) */
            int32_t fd_out;
            uint32_t flags;  /* VL_SPLICE_F_* */
            int64_t off_out; /* -1: fd_out's current position (likewise) */
            size_t len;      /* 0..INT32_MAX bytes */
        } splice;            /* SPLICE (fd: fd_in) */
        uint64_t size_[5];   /* sizes the body: 40 bytes, whatever the kind */
    } u;
} vl_op;

/*
 * vl_op.flags: the op's options and modes. The options (a deadline, a link)
 * apply to any kind of op: CLOSE, and the kinds without an fd, take them as
 * well as the others. A mode changes how one op of a kind runs, with the
 * kind's own body, and only the kinds named with it take it. Any bit not
 * named here, a mode on a kind that does not take it, and reserved != 0
 * make submit return -EINVAL (no id, no completion).
 *
 * VL_OP_F_DEADLINE: the op ends with -ETIMEDOUT if it has not completed by
 *   its deadline: deadline_ns nanoseconds after submit (>= 0; a negative
 *   one is -EINVAL), or with VL_OP_F_DEADLINE_ABS too, the CLOCK_MONOTONIC
 *   instant deadline_ns (any value; one already past ends the op at the
 *   next poll). It completes exactly once: with -ETIMEDOUT, never before
 *   the deadline, or with its own result if that came first (an op the
 *   kernel finished while its cancellation was on the way keeps its
 *   result). A multishot op's final completion is the -ETIMEDOUT, after
 *   its VL_CQE_MORE ones. Any kind takes one (a TIMEOUT ends at the
 *   earlier of its duration, result 0, and its deadline). The engine
 *   watches deadlines in vl_engine_poll (a poll never sleeps past one) and
 *   ends an op the driver holds by cancelling it, so a deadline acts only
 *   while the caller polls. A CANCEL of an op whose deadline has fired
 *   answers -EALREADY (or -ENOENT once it completed); a CANCEL first wins
 *   (-ECANCELED); shutdown ends it with -ECANCELED. The sync driver, which
 *   runs every op to completion inside poll, answers -EOPNOTSUPP. The
 *   simulator keeps deadlines on its virtual clock (<vllsi/sim.h>).
 * VL_OP_F_DEADLINE_ABS: deadline_ns is absolute. Only with
 *   VL_OP_F_DEADLINE (alone it is -EINVAL).
 * VL_OP_F_LINK: this op and the next one submitted on the engine form a
 *   chain (e.g. RECV -> SEND -> CLOSE: an echo, then the close). A chain is
 *   a run of ops with the flag and the first op after them without it; a
 *   chain still open when the caller polls (vl_engine_poll or
 *   vl_engine_poll_batch) ends there, its last op submitted being its last
 *   member, so the next op submitted is on its own. Every member gets its
 *   own id and exactly one completion, and the completions come in chain
 *   order: a member never completes before the one before it.
 *   - A member starts only after the one before it succeeded: a result
 *     >= 0 and, for a READ, WRITE, READV, WRITEV, SEND, RECV, SENDV, SENDMSG or
 *     RECVMSG, every byte asked
 *     for. A failure or a short transfer (EOF included) ends every later
 *     member with -ECANCELED; they never run.
 *   - A CANCEL of any member ends it and every later member with
 *     -ECANCELED (the CANCEL answers 0); one that has not started yet
 *     completes after the members before it, which run as they would. A
 *     member the CANCEL did not reach in time keeps its result, and the
 *     rest still end with -ECANCELED.
 *   - Deadlines (VL_OP_F_DEADLINE) count from each member's submit: a
 *     member whose deadline passes while it waits for its turn ends with
 *     -ETIMEDOUT when its turn comes, and the rest with -ECANCELED. A
 *     TIMEOUT member's duration counts from its start, so it is a delay
 *     between two members.
 *   - Multishot ops cannot be linked: VL_OP_F_LINK on one, or one submitted
 *     while a chain is open, is -EINVAL (the chain stays open). Any
 *     synchronous error leaves the chain as it was; each member takes an
 *     id, so a chain longer than max_inflight meets -EBUSY.
 *   - vl_engine_shutdown ends the members not started with -ECANCELED, in
 *     order, after the op running; vl_engine_destroy with a chain pending
 *     runs none of its waiting members.
 *   Every driver runs chains the same way (the engine holds each member
 *   until the one before it has completed), io_uring included.
 * VL_OP_F_MULTISHOT (mode; RECV, ACCEPT, POLL and RECVMSG only): the op
 *   completes again and again with VL_CQE_MORE until a final completion;
 *   see "Multishot ops" below (vl_op_recv_multi, vl_op_accept_multi,
 *   vl_op_poll_multi and vl_op_recvmsg_multi build them). A RECV
 *   with it takes its buffers from u.msg.pool (buf NULL, len 0); a RECVMSG
 *   from u.mh.pool (its msghdr with no iovec); an ACCEPT
 *   with it reports no addresses (addr and addrlen NULL). Any other
 *   combination is -EINVAL. The sync driver completes such ops with
 *   -EOPNOTSUPP.
 * VL_OP_F_POLL_FIRST (hint; a one-shot RECV only): the caller expects no
 *   data yet (e.g. the next request on a keep-alive connection right after
 *   a response), so a driver may wait for readiness before it tries the
 *   recv instead of trying first. The result is the same either way: data
 *   already queued is still read at once. io_uring (5.19+; older kernels
 *   ignore the hint) sets IORING_RECVSEND_POLL_FIRST, which saves the
 *   failed attempt when the guess is right and costs one poll round when
 *   it is wrong, so set it only where the data is usually late. The
 *   other drivers accept and ignore it: epoll and kqueue already wait
 *   first when their own record says the last RECV drained the stream,
 *   and a wait on a guess would cost them a registration where they keep
 *   none. On a multishot RECV or any other kind it is -EINVAL.
 * A mode that keeps the kind's body is a flag; a different body or system
 * call is a kind of its own (SENDV: a gather list, sendmsg).
 */
#define VL_OP_F_DEADLINE     0x1u
#define VL_OP_F_DEADLINE_ABS 0x2u
#define VL_OP_F_LINK         0x4u
#define VL_OP_F_MULTISHOT    0x8u
#define VL_OP_F_POLL_FIRST   0x10u
#define VL_OP_F_ALL          0x1fu

/* Constructors: the portable way to build ops. */
VL_API vl_op vl_op_nop(void);
VL_API vl_op vl_op_read(int fd, void *buf, size_t len, int64_t offset);
VL_API vl_op vl_op_write(int fd, const void *buf, size_t len, int64_t offset);
VL_API vl_op vl_op_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
VL_API vl_op vl_op_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
VL_API vl_op vl_op_send(int fd, const void *buf, size_t len, int flags);
VL_API vl_op vl_op_recv(int fd, void *buf, size_t len, int flags);
VL_API vl_op vl_op_timeout(int64_t duration_ns);
VL_API vl_op vl_op_close(int fd);
VL_API vl_op vl_op_cancel(uint64_t target_id);

/*
 * ACCEPT (vl_op_accept, vl_op_accept_multi): each new connection is a new
 * descriptor that belongs to the caller, close-on-exec, and blocking unless
 * u.accept.flags has VL_SOCK_NONBLOCK (the constructors set 0; set the flag
 * on the op they return), whatever the listener's mode: the engine drives
 * blocking and non-blocking sockets alike, so the flag is for the caller's
 * own calls on the socket and for the readiness drivers, which then know
 * the socket is non-blocking without asking (a SENDFILE skips its
 * fcntl(F_GETFL)) as long as it stays so (see vl_op_sendfile). How each
 * driver makes it: io_uring passes SOCK_NONBLOCK to IORING_OP_ACCEPT, epoll
 * and the sync driver to accept4(2); kqueue on a system without accept4
 * (macOS) sets O_NONBLOCK with fcntl(2) right after accept(2); IOCP sets
 * FIONBIO on the AcceptEx socket once it is connected, which makes the
 * caller's own recv/send on it fail with WSAEWOULDBLOCK rather than wait,
 * and changes nothing for the engine's overlapped ops on it. The simulator
 * takes the flag and ignores it (its sockets never block anything). submit:
 * -EINVAL for flags with a bit outside VL_SOCK_ALL (no id, no completion).
 *
 * Multishot ops: RECV, ACCEPT and POLL with VL_OP_F_MULTISHOT (POLL: see
 * vl_op_poll_multi below, which also says how it ends). Armed once, they
 * complete again and again with VL_CQE_MORE set, and end with one final
 * completion (VL_CQE_MORE clear) on an error, on EOF (RECV: result 0), on
 * cancel (-ECANCELED) or on pool exhaustion (-ENOBUFS). They hold one id
 * the whole time. Until the final completion the id is alive and counts
 * against max_inflight.
 *
 * The op is a RECV (ACCEPT) in every count: vl_engine_stats counts it in
 * submitted[VL_OP_RECV] and, at its final completion, completed[VL_OP_RECV];
 * its VL_CQE_MORE completions are in completions.
 *
 * Which fields go with the flag, checked at submit (-EINVAL otherwise, no
 * id, no completion): a RECV names either a buffer (buf, len; pool NULL;
 * no VL_OP_F_MULTISHOT) or, with VL_OP_F_MULTISHOT, a pool (pool; buf NULL,
 * len 0). A multishot ACCEPT has addr and addrlen NULL. No other kind but
 * POLL takes VL_OP_F_MULTISHOT. The constructors below build the right shape.
 *
 * The final completion never carries data, a connection or a mask, on
 * every driver: only completions with VL_CQE_MORE do. Its result is 0 or a negative errno,
 * VL_CQE_BUFFER is clear, and everything before it was delivered.
 *
 * vl_op_recv_multi: a RECV of fd with VL_OP_F_MULTISHOT, its buffers from
 * pool, flags the MSG_* flags of each recv. Each completion with result > 0 carries VL_CQE_BUFFER
 * and a buffer id (vl_cqe_buffer(flags)) of pool; the first result bytes of
 * vl_bufpool_buf(pool, id) hold the data, and the buffer belongs to the
 * caller until vl_bufpool_release. When data or EOF is waiting and the pool
 * is empty, the op ends with -ENOBUFS and what waits stays in the socket:
 * release buffers and submit the op again, nothing is lost (the new op
 * reports the data, then the EOF as its final 0). submit errors: -EINVAL
 * (NULL pool, or a pool of another engine). Completions of one op arrive in
 * stream order. Final results: 0 (EOF: the peer shut its side and every
 * byte before it was delivered), -ENOBUFS, -ECANCELED, or the socket's
 * error (-ECONNRESET, -ENOTCONN, -EBADF, ...).
 *
 * vl_op_accept_multi: an ACCEPT of fd with VL_OP_F_MULTISHOT. Each completion with result >= 0 is a
 * new connection (CLOEXEC). A connection that died in the backlog (-ECONNABORTED) is skipped, never
 * reported. Any other accept error ends the op as its final result: -EMFILE / -ENFILE (out of
 * descriptors), -ENOBUFS / -ENOMEM (out of memory) are transient, so a server re-arms (after
 * freeing descriptors, or after a short timer, so as not to spin) and the connections waiting in
 * the backlog are accepted then; -EINVAL (not listening), -EBADF, -ENOTSOCK
 * are not. -ECANCELED after a cancel.
 *
 * Backpressure: a multishot RECV keeps reading as long as the pool has buffers.
 * To pause a connection, cancel its op (CANCEL, or vl_loop_cancel); data
 * that arrives meanwhile waits in the socket; submit a new one to
 * resume. Completions already delivered before the cancel took effect
 * still arrive (with VL_CQE_MORE), then the final -ECANCELED.
 */
VL_API vl_op vl_op_recv_multi(int fd, vl_bufpool *pool, int flags);
VL_API vl_op vl_op_accept_multi(int fd);

/* The most buffers one SENDV gathers (Linux's UIO_MAXIOV). */
#define VL_IOV_MAX 1024

/*
 * vl_op_sendv - one SEND of iovcnt buffers, in order, as sendmsg(2) with
 * msg_iov: a server that has several buffers queued for one connection
 * sends them with one op (one system call or SQE, and fewer, larger TCP
 * segments) instead of one SEND each. The result is the number of bytes
 * sent, which may stop short inside any buffer, as a SEND's may; the caller
 * sends the rest. Both the array iov and the buffers it points to belong to
 * the caller and must stay valid and unchanged until the completion is
 * returned. submit errors: -EINVAL (iovcnt 0 or above VL_IOV_MAX, or the
 * lengths add up to more than INT32_MAX), -EFAULT (iov NULL, or an entry
 * with a NULL base and a non-zero length). Like SEND it adds MSG_NOSIGNAL:
 * a peer that is gone gives -EPIPE, never SIGPIPE.
 */
VL_API vl_op vl_op_sendv(int fd, const vl_iovec *iov, uint32_t iovcnt, int flags);

/* SHUTDOWN's how: the values of SHUT_RD, SHUT_WR, SHUT_RDWR (and Winsock's
 * SD_RECEIVE, SD_SEND, SD_BOTH). */
#define VL_SHUT_RD   0
#define VL_SHUT_WR   1
#define VL_SHUT_RDWR 2

/*
 * vl_op_shutdown - shut down one or both directions of fd's connection, as
 * shutdown(2): VL_SHUT_WR sends no more (the peer reads what was sent, then
 * EOF: 0), VL_SHUT_RD receives no more (Linux: RECVs here read 0 once the
 * queued data is read), VL_SHUT_RDWR both. The socket stays open: CLOSE releases it. It never
 * waits for the peer, so every driver completes it at once. Results: 0;
 * -ENOTCONN (a TCP socket that is not connected; Linux answers 0 for an
 * AF_UNIX socket in any state and for a listening TCP socket, which
 * VL_SHUT_RD or VL_SHUT_RDWR make stop listening, where Windows and the
 * simulator say -ENOTCONN); -EBADF; -ENOTSOCK (a pipe or file); -ECANCELED
 * (cancelled before it ran). submit: -EINVAL for any other how (no id, no
 * completion).
 */
VL_API vl_op vl_op_shutdown(int fd, int how);

/* SOCKET's and ACCEPT's flags. */
#define VL_SOCK_NONBLOCK 0x1u /* the new socket is non-blocking (O_NONBLOCK, FIONBIO) */
#define VL_SOCK_ALL      VL_SOCK_NONBLOCK

/*
 * vl_op_socket - create a socket, as socket(2); the completion's result is
 * the new descriptor (>= 0), which belongs to the caller from then on (CLOSE
 * it, through the engine or not). It is always close-on-exec (SOCK_CLOEXEC
 * is added to type; on Windows the handle is not inheritable), and blocking
 * unless flags has VL_SOCK_NONBLOCK: the engine drives blocking and
 * non-blocking sockets alike. On Linux type may also carry SOCK_NONBLOCK.
 * The op names no fd (its header's fd is -1).
 *
 * Results: the fd; -EAFNOSUPPORT (unknown domain), -EINVAL (unknown type),
 * -EPROTONOSUPPORT (a protocol the domain and type do not have), -EMFILE /
 * -ENFILE (out of descriptors), -ECANCELED (cancelled before it ran: then
 * no socket was made). submit: -EINVAL for flags with a bit outside
 * VL_SOCK_ALL (no id, no completion).
 *
 * io_uring runs it as IORING_OP_SOCKET where the kernel has it (5.19+),
 * else the driver makes the call itself when the op's turn comes (counted
 * emulated in vl_engine_stats). The readiness drivers and the sync driver
 * make the call at once (it never waits); IOCP with WSASocketW (an
 * overlapped socket, as every IOCP op needs), its result the SOCKET as an
 * fd (docs/windows.md). The simulator answers -EOPNOTSUPP: its sockets come
 * from vl_sim_socket and vl_sim_listen (<vllsi/sim.h>).
 */
VL_API vl_op vl_op_socket(int domain, int type, int protocol, uint32_t flags);

/*
 * vl_op_bind - give socket fd its local address, as bind(2). addr (addrlen
 * bytes, at most sizeof(struct sockaddr_storage)) belongs to the caller and
 * must stay valid until the completion is returned. Results: 0;
 * -EADDRINUSE (taken); -EADDRNOTAVAIL (not an address of this host);
 * -EINVAL (fd already bound, or an addrlen too short for its family);
 * -EAFNOSUPPORT (a family the socket is not of); -EACCES (a privileged
 * port); -EBADF; -ENOTSOCK; -ECANCELED. submit: -EFAULT for a NULL addr,
 * -EINVAL for addrlen 0 or above sizeof(struct sockaddr_storage) (no id,
 * no completion). It never waits: every driver makes the call when the
 * op's turn comes (io_uring: IORING_OP_BIND is newer than the liburing the
 * driver builds with, so the driver calls bind(2) itself, counted
 * emulated). The simulator answers -EOPNOTSUPP (vl_sim_listen binds).
 */
VL_API vl_op vl_op_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);

/*
 * vl_op_listen - make socket fd accept connections, as listen(2), with
 * room for backlog connections waiting to be accepted (the system caps it,
 * Linux at net.core.somaxconn). Results:
 * 0; -EOPNOTSUPP (a socket type that does not listen: UDP); -EINVAL (on
 * Windows: not bound; Linux binds an unbound socket to a free port);
 * -EBADF; -ENOTSOCK; -ECANCELED. submit: -EINVAL for a negative backlog
 * (no id, no completion). Made at once on every driver, as BIND (io_uring:
 * emulated, like BIND); the simulator answers -EOPNOTSUPP.
 */
VL_API vl_op vl_op_listen(int fd, int backlog);

/*
 * vl_op_readv - one READ into iovcnt buffers, in order, as preadv(2): the
 * bytes fill iov[0], then iov[1], ...; the result is the number read, which
 * may stop short anywhere (0 at EOF), as a READ's may. offset -1 reads at
 * the fd's current position and moves it (readv(2)): the only offset a pipe,
 * FIFO or socket takes (another gives -ESPIPE); an offset >= 0 reads there
 * and leaves the position alone. Both the array iov and the buffers belong
 * to the caller until the completion is returned. submit errors: -EINVAL
 * (iovcnt 0 or above VL_IOV_MAX, the lengths adding up to more than
 * INT32_MAX, an offset below -1), -EFAULT (iov NULL, or an entry with a
 * NULL base and a non-zero length). Results: bytes; -EBADF; -ESPIPE;
 * -EISDIR; -ECANCELED; -ENOMEM (IOCP, below). On epoll and kqueue a
 * regular file's READV runs on the worker pool (vl_engine_config.workers).
 * IOCP: on a socket one WSARecv of the list; on a file or pipe one
 * ReadFile into the list's only non-empty buffer, or, when there are
 * several, into a bounce buffer of the list's total length that the driver
 * allocates at submit (-ENOMEM if it cannot) and scatters into the list at
 * completion (docs/windows.md).
 */
VL_API vl_op vl_op_readv(int fd, const vl_iovec *iov, uint32_t iovcnt, int64_t offset);

/*
 * vl_op_writev - one WRITE of iovcnt buffers, in order, as pwritev(2): the
 * result is the number of bytes written, which may stop short (the caller
 * writes the rest). Offsets, ownership and submit errors as vl_op_readv.
 * Like WRITE, a write to a pipe or socket without a reader completes with
 * -EPIPE and never raises SIGPIPE. IOCP: as READV, the list gathered into
 * the bounce buffer at submit when it has several non-empty buffers.
 */
VL_API vl_op vl_op_writev(int fd, const vl_iovec *iov, uint32_t iovcnt, int64_t offset);

/* FSYNC's flags: flush the data and only the metadata needed to read it
 * back (fdatasync(2); IORING_FSYNC_DATASYNC), not e.g. the times. */
#define VL_FSYNC_DATASYNC 0x1u

/*
 * vl_op_fsync - flush fd's written data (and metadata) to its storage, as
 * fsync(2), or as fdatasync(2) with VL_FSYNC_DATASYNC. Results: 0; -EBADF;
 * -EINVAL for a file that cannot be synced (a pipe, FIFO or socket, as
 * Linux says); -EIO, -ENOSPC, -EDQUOT from the storage; -ECANCELED.
 * submit: -EINVAL for a flag other than VL_FSYNC_DATASYNC. On epoll and
 * kqueue it runs on the worker pool; on IOCP it is FlushFileBuffers, run
 * inline in poll (a disk file only; DATASYNC flushes the same).
 */
VL_API vl_op vl_op_fsync(int fd, uint32_t flags);

/*
 * Child processes. The engine never starts one: spawn it yourself, with
 * posix_spawn(3) (or fork and exec; CreateProcess on Windows), and hand
 * its pid to WAITPID:
 *
 *     pid_t pid;
 *     char *argv[] = {"sh", "-c", "exit 7", NULL};
 *     if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0) {
 *         vl_op op = vl_op_waitpid(pid);
 *         int64_t id = vl_engine_submit(e, &op, user_data);
 *     }
 *
 * WAITPID's result: the exit code, 0..255, for a child that exited
 * (exit(3) or a return from main); VL_CHILD_SIGNALED | the signal's number
 * for one a signal killed (SIGKILL: 0x109). The macros below take a result
 * >= 0 apart.
 *
 * Windows (IOCP) reports the process's exit code (GetExitCodeProcess), a
 * 32-bit value, without loss: 0..255 exactly as above; a larger code c as
 * (c << 16) | low, where low is
 *   - VL_CHILD_SIGNALED | s when c is a system NTSTATUS of warning or error
 *     severity (top bit set, customer bit clear: 0x8xxxxxxx, 0xCxxxxxxx),
 *     the status of an exception or fatal error that ended the process: s
 *     is the C runtime's signal for it (STATUS_ACCESS_VIOLATION,
 *     STATUS_STACK_OVERFLOW, STATUS_IN_PAGE_ERROR: SIGSEGV; illegal and
 *     privileged instructions: SIGILL; the float and integer arithmetic
 *     exceptions: SIGFPE; STATUS_CONTROL_C_EXIT: SIGINT;
 *     STATUS_STACK_BUFFER_OVERRUN, the fail-fast abort: SIGABRT, 22 there),
 *     0 for every other status (VL_CHILD_KILLED, with no signal);
 *   - c & 0xff otherwise, an exit (VL_CHILD_EXITED, VL_CHILD_EXIT_CODE is
 *     the low byte as POSIX would keep it: exit(-1), code 0xFFFFFFFF, is 255).
 * VL_CHILD_WIN_CODE gives c back from any such result. On POSIX results
 * stay below 0x200.
 */
#define VL_CHILD_SIGNALED     0x100
#define VL_CHILD_EXITED(r)    ((r) >= 0 && ((r)&VL_CHILD_SIGNALED) == 0)
#define VL_CHILD_EXIT_CODE(r) ((int)((r)&0xff))
#define VL_CHILD_KILLED(r)    (((r)&VL_CHILD_SIGNALED) != 0)
#define VL_CHILD_TERMSIG(r)   ((int)((r)&0xff))
/* Windows: the process's whole exit code (GetExitCodeProcess). */
#define VL_CHILD_WIN_CODE(r)  ((uint32_t)((r) >= 0x10000 ? (r) >> 16 : (r)))

/*
 * vl_op_waitpid - wait until the child pid exits, and reap it: the op
 * consumes its exit status, as waitpid(2) does (a later wait for it finds
 * no such child). By pid, not by pidfd, because a pid is what every system
 * has; the drivers make the pidfd (Linux) or open the process (Windows)
 * themselves.
 *
 * One waiter per child: with two WAITPIDs for the same pid, or a WAITPID and
 * the caller's own waitpid(2), whichever reaps first gets the status and the
 * other completes with -ECHILD (a WAITPID parked on a pidfd learns of it
 * when the child exits). A handler of SIGCHLD that reaps, or SIGCHLD set to
 * SIG_IGN (the kernel then reaps by itself), takes the status the same way.
 *
 * Windows (IOCP): pid is the process id (PROCESS_INFORMATION.dwProcessId).
 * The driver opens the process at submit, which pins the id from then on;
 * until then only the caller's own handle (hProcess) does, so keep it open
 * at least until the WAITPID is submitted: an id whose last handle closed
 * may name another process. Windows has no reaping: every WAITPID of a
 * child gets its exit code for as long as some handle keeps the process
 * (two WAITPIDs both get it); once the last handle closes (the driver
 * closes its own when the op ends) the id is -ECHILD. A child is a process
 * this one created (its parent id is ours and it is younger than us);
 * another process, this one itself, or one it may not open: -ECHILD.
 *
 * Results: the status (above); -ECHILD for a pid that is not a child of
 * this process, or was reaped by someone else; -ECANCELED (CANCEL,
 * shutdown): the child is not reaped, and a later WAITPID or waitpid(2)
 * still gets its status; -EOPNOTSUPP where the driver cannot wait for a
 * process: the simulator (no processes), and a Linux kernel before 5.3 (no
 * pidfd_open) on the epoll, io_uring and kqueue (libkqueue) drivers.
 * submit: -EINVAL for pid <= 0 (process groups are not waited for).
 *
 * How each driver waits (docs/engine.md): io_uring, epoll and kqueue on
 * Linux (libkqueue) open a pidfd (pidfd_open(2)) and wait for it to become
 * readable, which it does when the child exits; kqueue on macOS and the
 * BSDs registers EVFILT_PROC with NOTE_EXIT on the pid; then each reaps
 * with waitid(WNOHANG), so the polling thread never blocks. sync blocks in
 * waitid(2). IOCP registers a wait on the process handle
 * (RegisterWaitForSingleObject) whose callback posts to the completion
 * port.
 */
VL_API vl_op vl_op_waitpid(int pid);

/*
 * vl_op_sendfile - send up to count bytes of the file file_fd, from offset
 * (>= 0; the file's position is then left as it is) or from the file's
 * current position (offset -1; the position then moves past what was
 * sent), to the socket sock_fd (the op's fd), without copying them through
 * user space. The result is the bytes sent, which may be fewer than count,
 * as a SEND's may (a chain, VL_OP_F_LINK, reads that as a short transfer),
 * and 0 at the file's end (or for count 0). The socket may be blocking or
 * not: the op never blocks the polling thread on it, provided a socket
 * that a SOCKET or ACCEPT op made non-blocking (VL_SOCK_NONBLOCK) stays so (epoll,
 * kqueue and io_uring then skip asking its flags, until the engine's CLOSE
 * of the number; see also VL_ENGINE_REMEMBER_FDS). A peer that is gone is -EPIPE (or
 * -ECONNRESET), never SIGPIPE.
 *
 * submit: -EBADF for file_fd < 0; -EINVAL for offset below -1 or count
 * above INT32_MAX (as a SEND's length). Results found at execution:
 * -EBADF (either fd), -EINVAL or -ENOTSOCK for an out fd the platform's
 * call does not send to (Linux's sendfile writes to any fd; the other
 * systems' only to a socket), -EINVAL for a file_fd that cannot be mapped
 * (a socket, a pipe on the systems whose sendfile reads only files),
 * -EPIPE / -ECONNRESET, -ECANCELED.
 *
 * How each driver sends (docs/engine.md): io_uring, below 256 KiB, polls
 * the socket for writability (IORING_OP_POLL_ADD) and makes the
 * sendfile(2) call on its completion, polling again after EAGAIN (from
 * 256 KiB as well when the page cache holds the whole range, which
 * cachestat(2) tells on Linux 6.5+), and from 256 KiB otherwise has the
 * kernel move the bytes through a pipe of the engine's (two
 * IORING_OP_SPLICEs; a CANCEL may then answer -EALREADY and interrupt
 * it); epoll and kqueue call sendfile (Linux's, or the BSDs' and
 * macOS's own) when the socket is writable; IOCP calls TransmitFile (a
 * count above 2^31 - 2 is sent short); sync calls sendfile until count
 * bytes or the end of the file; the simulator answers -EOPNOTSUPP. The
 * file is read as the page cache has it: a file not in memory makes a
 * sendfile(2) call in user space wait for the disk on the polling thread.
 */
VL_API vl_op vl_op_sendfile(int sock_fd, int file_fd, int64_t offset, size_t count);

/*
 * SPLICE's flags: the values of Linux's SPLICE_F_* (checked at build time
 * there). The drivers add SPLICE_F_NONBLOCK themselves where they need it.
 */
#define VL_SPLICE_F_MOVE 0x1 /* move pages rather than copy (a hint) */
#define VL_SPLICE_F_MORE 0x4 /* more data follows (a socket's MSG_MORE) */
#define VL_SPLICE_F_ALL  0x5

/*
 * vl_op_splice - move up to len bytes from fd_in to fd_out, one of which
 * must be a pipe, without copying them through user space, as splice(2)
 * does. off_in and off_out: the offset in a file (>= 0, its position left
 * as it is) or -1 (the fd's current position; a pipe's must be -1). The
 * result is the bytes moved, possibly fewer than len (a chain reads that
 * as short), 0 when fd_in is at its end (a pipe with no writer left).
 *
 * Linux only: io_uring sends IORING_OP_SPLICE; epoll and kqueue (through
 * libkqueue) call splice(2) with SPLICE_F_NONBLOCK and, on EAGAIN, wait
 * for the pipe side (readable when fd_in is the pipe, else writable);
 * sync calls splice(2). io_uring adds SPLICE_F_NONBLOCK too and polls the
 * side that answered EAGAIN, so no splice waits in the kernel holding the
 * pipe's lock (which would make a close(2) of that pipe sleep) - except
 * one reading a blocking TCP socket, which Linux lets wait for data: give
 * io_uring non-blocking TCP sockets. macOS, the BSDs, Windows and the
 * simulator have no splice: -EOPNOTSUPP.
 * submit: -EBADF for fd_out < 0; -EINVAL for an offset below -1, len
 * above INT32_MAX or flags outside VL_SPLICE_F_ALL. Results: the bytes;
 * -EINVAL (neither fd a pipe, an offset on a pipe, a file opened with
 * O_APPEND as fd_out), -ESPIPE (an offset other than -1 on a pipe),
 * -EBADF, -EPIPE (a pipe with no reader; never SIGPIPE), -ECANCELED.
 */
VL_API vl_op vl_op_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out, size_t len,
                          unsigned flags);

/*
 * POLL's events and its result's bits: the values of poll(2)'s POLLIN,
 * POLLPRI, POLLOUT, POLLERR, POLLHUP and POLLRDHUP on Linux (checked at
 * build time there), the same numbers on every platform.
 */
#define VL_POLL_IN    0x0001u /* readable (data, a connection, EOF)              */
#define VL_POLL_PRI   0x0002u /* exceptional condition (TCP urgent data)         */
#define VL_POLL_OUT   0x0004u /* writable                                        */
#define VL_POLL_ERR   0x0008u /* an error is pending; always reported            */
#define VL_POLL_HUP   0x0010u /* hung up (both directions done); always reported */
#define VL_POLL_RDHUP 0x2000u /* the peer shut its writing side (stream sockets) */
#define VL_POLL_ALL \
    (VL_POLL_IN | VL_POLL_PRI | VL_POLL_OUT | VL_POLL_ERR | VL_POLL_HUP | VL_POLL_RDHUP)

/*
 * vl_op_poll - wait until fd is ready for any of events (VL_POLL_* bits), as
 * poll(2) does for one fd, without reading or writing it: the way to drive a
 * library that does its own I/O on descriptors it owns (libcurl, c-ares,
 * libpq) from the engine. The result is the ready mask (> 0): the bits of
 * events that hold, plus VL_POLL_ERR and VL_POLL_HUP whenever they hold,
 * asked or not, as poll(2) reports them. An fd already ready completes at
 * once. A descriptor that cannot be waited on (a regular file) is always
 * ready: VL_POLL_IN | VL_POLL_OUT at once; a POLL of one for neither (only
 * VL_POLL_PRI, VL_POLL_RDHUP) could never complete, and ends with -EINVAL.
 * The caller keeps owning fd; the engine never reads, writes or closes it.
 *
 * Results: the mask; -EBADF (a bad or closed fd, as a completion like every
 * other op's); -EINVAL (see above); -ECANCELED (CANCEL, CLOSE of fd through the engine,
 * shutdown); -EOPNOTSUPP on IOCP, which has no readiness for arbitrary
 * handles (docs/engine.md). submit: -EINVAL (no id, no completion) for
 * events 0 or with a bit outside VL_POLL_ALL.
 *
 * On the epoll driver the mask comes from a poll(2) of the fd when its
 * registration reports it, so every bit is exact (PRI, RDHUP, ERR, HUP
 * apart). VL_POLL_RDHUP waits work on every Linux driver. VL_POLL_PRI is
 * reported when it holds as the POLL starts and with any later report, but
 * urgent data arriving alone wakes no waiting POLL on the epoll driver,
 * whose registrations watch EPOLLIN and EPOLLOUT only (io_uring on 6.18
 * was seen not to either): to wait for urgent data, ask for VL_POLL_IN too.
 */
VL_API vl_op vl_op_poll(int fd, uint32_t events);

/*
 * vl_op_poll_multi - a POLL with VL_OP_F_MULTISHOT: it reports the ready
 * mask with VL_CQE_MORE every time the fd becomes ready, and keeps doing so
 * until it is cancelled (CANCEL: a final -ECANCELED) or fails (a final
 * negative errno). It never ends by itself with a mask.
 *
 * The reports follow readiness events, not the level: one when the op is
 * armed if the fd is ready then, then one per event the kernel signals for
 * the fd (data arriving, room to write opening up, a hangup), even if an
 * earlier report's condition still holds. Data left unread is not reported
 * again until more arrives: drain the fd after a report (until EAGAIN), as
 * with an edge-triggered epoll, or use one-shot POLLs. Reports may be
 * coalesced (several arrivals, one report) and an event may be reported when
 * the condition has gone again by the time it is looked at (never with a
 * mask of 0). A report holds the bits of the event that caused it; the
 * epoll driver and the simulator add every other asked bit that holds then
 * (a poll(2) of the fd), io_uring reports the wakeup's bits only (a peer's
 * data: VL_POLL_IN, even on a socket that is writable too). Per driver:
 * io_uring reports each wakeup of the file (IORING_POLL_ADD_MULTI); epoll
 * each edge of its edge-triggered registration; the simulator each change
 * of the mask.
 *
 * A descriptor that cannot be waited on (a regular file) ends the op with
 * -EPERM. The sync driver completes it with -EOPNOTSUPP (it could never
 * return from a blocking submit), as IOCP does every POLL.
 */
VL_API vl_op vl_op_poll_multi(int fd, uint32_t events);

/* ---- files and paths --------------------------------------------------------- */

/*
 * The path ops (OPENAT, STATX, UNLINKAT, RENAMEAT, MKDIRAT) name a file by a
 * directory fd and a path, as openat(2) and its family do: an absolute path
 * ignores the directory, a relative one starts from it, or from the working
 * directory with VL_AT_FDCWD. The path is the caller's NUL-terminated string
 * (UTF-8 on Windows), read by the driver until the op's completion is
 * returned. The VL_AT_* values are Linux's AT_* (checked at build time
 * there); other platforms translate them.
 *
 * submit errors, for each of them (no id, no completion): -EFAULT for a
 * NULL path (NULL is a missing pointer, as a NULL buffer or address is;
 * the kernel answers the same for one), -EINVAL for flags or a mode the
 * kind does not take. Results found at execution, on every driver: -ENOENT
 * (no such file, or an empty path without VL_AT_EMPTY_PATH), -ENAMETOOLONG
 * (a path or a component too long: Linux's PATH_MAX is 4096 bytes, NAME_MAX
 * 255), -ENOTDIR (a component that is not a directory, or a directory fd
 * that is not one), -EISDIR / -ENOTDIR where a file or a directory was
 * expected (below), -EEXIST, -EACCES, -EBADF (a bad directory fd, for a
 * relative path), -ECANCELED (cancelled before it ran).
 *
 * How they run: io_uring has the kernel do each as its own opcode
 * (IORING_OP_OPENAT, STATX, UNLINKAT, RENAMEAT, MKDIRAT; the kernel runs
 * most of them on its io-wq threads, every STATX among them, so a STATX
 * of an fd on a file system on a block device is answered at submit with
 * statx(2) instead, its completion delivered by the next poll; kernels
 * before 5.11 and 5.15 lack
 * UNLINKAT and RENAMEAT, and MKDIRAT, which the driver then makes as plain
 * calls in vl_engine_poll). The epoll
 * and kqueue drivers, for which no readiness exists for a file system
 * call, run them on the engine's worker pool when it has one, else inline
 * in vl_engine_poll (they may then block the thread as long as the disk
 * takes). The sync driver makes the call. IOCP makes the Win32 calls at
 * once (Windows has no asynchronous form of them) and accepts only
 * VL_AT_FDCWD as the directory: any other fd is -EOPNOTSUPP there. The
 * simulator has no file system: every path op completes with -EOPNOTSUPP.
 * A CANCEL of a path op that has started answers -EALREADY (the call runs
 * to its end); of one still queued, 0 (it ends -ECANCELED, having done
 * nothing); of one that completed, -ENOENT. FTRUNCATE runs the same ways
 * on every driver but io_uring (see vl_op_ftruncate).
 */
#define VL_AT_FDCWD            (-100) /* the working directory      */
#define VL_AT_SYMLINK_NOFOLLOW 0x100  /* STATX: a symlink itself    */
#define VL_AT_REMOVEDIR        0x200  /* UNLINKAT: rmdir(2)         */
#define VL_AT_EMPTY_PATH       0x1000 /* STATX of the fd itself ("") */

/*
 * vl_op_openat - open path (relative to dirfd) as openat(2) does, with
 * flags the platform's O_* flags (<fcntl.h>) and mode the permission bits
 * of a file O_CREAT or O_TMPFILE makes (0..07777, masked by the umask).
 * O_CLOEXEC is always added: the engine never leaks a descriptor into a
 * child. The result is the new fd (>= 0), the caller's to close (CLOSE or
 * close(2)). Flags taken: one access mode (O_RDONLY, O_WRONLY, O_RDWR) and
 * O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK, O_NOCTTY, O_DSYNC,
 * O_SYNC, O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC, on Linux also O_DIRECT,
 * O_NOATIME, O_PATH and O_TMPFILE; on Windows only the access mode,
 * O_CREAT, O_EXCL, O_TRUNC and O_APPEND, and the handle is opened for
 * overlapped I/O (FILE_FLAG_OVERLAPPED), so READ and WRITE on it go
 * through the engine. submit: -EINVAL for another bit, the access mode 3
 * or a mode above 07777; -EFAULT for a NULL path. Results: the fd;
 * -ENOENT, -EEXIST (O_CREAT | O_EXCL), -EISDIR (a directory opened for
 * writing), -ENOTDIR (O_DIRECTORY on a file), -ELOOP (O_NOFOLLOW on a
 * symlink), -ENAMETOOLONG, -EACCES, -EMFILE, -EBADF (dirfd).
 */
VL_API vl_op vl_op_openat(int dirfd, const char *path, int flags, uint32_t mode);

/*
 * RESOLVE flags for vl_op_openat2: how the path may be resolved. The
 * values are Linux's RESOLVE_* (<linux/openat2.h>; checked at build time
 * there).
 */
#define VL_RESOLVE_NO_XDEV       0x01 /* no crossing of a mount point          */
#define VL_RESOLVE_NO_MAGICLINKS 0x02 /* no /proc/<pid>/fd/<n> style links     */
#define VL_RESOLVE_NO_SYMLINKS   0x04 /* no symlink at all, anywhere in path   */
#define VL_RESOLVE_BENEATH                    \
    0x08 /* never leave dirfd: "..", "/" or a \
          * symlink out of it is -EXDEV          */
#define VL_RESOLVE_IN_ROOT                       \
    0x10 /* dirfd is "/": "..", "/" and symlinks \
          * stay inside it (chroot-like)          */
#define VL_RESOLVE_ALL 0x1f

/*
 * vl_op_openat2 - vl_op_openat with resolve, a set of VL_RESOLVE_* bits
 * that restrict how path is resolved, as openat2(2) does: the way a server
 * opens a file named by a client under a root directory it must never
 * escape (VL_RESOLVE_BENEATH or VL_RESOLVE_IN_ROOT, with dirfd the root).
 * resolve 0 is vl_op_openat. flags and mode as vl_op_openat's.
 *
 * The check is the kernel's, never an emulation: io_uring sends
 * IORING_OP_OPENAT2, epoll and kqueue (on Linux) call openat2(2) where
 * OPENAT's call would run (the worker pool, else inline), sync calls
 * openat2(2). Where the kernel has no openat2 (Linux before 5.6: ENOSYS)
 * and on every other system (macOS, the BSDs, Windows) and the simulator,
 * an op with resolve != 0 completes with -EOPNOTSUPP: it is refused,
 * never opened without the check.
 * submit: -EINVAL for a bit outside VL_RESOLVE_ALL, plus vl_op_openat's.
 * Results: vl_op_openat's, and -EXDEV for a path that would leave the
 * root (VL_RESOLVE_BENEATH: "../x", "/etc/passwd", a symlink pointing out;
 * VL_RESOLVE_NO_XDEV: a mount point crossed), -ELOOP for a symlink under
 * VL_RESOLVE_NO_SYMLINKS, -EAGAIN when the kernel saw a rename race during
 * a VL_RESOLVE_BENEATH or VL_RESOLVE_IN_ROOT lookup (submit it again).
 */
VL_API vl_op vl_op_openat2(int dirfd, const char *path, int flags, uint32_t mode, uint64_t resolve);

/*
 * STATX's result, the same on every platform, whatever the platform's own
 * stat looks like. mask says which fields hold a value (VL_STATX_* bits;
 * dev and blksize always do). Times are nanoseconds since 1970-01-01 UTC.
 * 256 bytes, room for fields to come: the io_uring driver also has the
 * kernel write its own struct statx here and converts it in place when the
 * op completes, so the buffer holds nothing meaningful until then.
 */
struct vl_statx {
    uint32_t mask;    /* VL_STATX_* bits: the fields below that are valid    */
    uint32_t mode;    /* the type (VL_S_IF*) and the permission bits        */
    uint32_t nlink;   /* hard links                                         */
    uint32_t uid;     /* owner (0 on Windows, where mask lacks VL_STATX_UID) */
    uint32_t gid;     /* group (likewise)                                   */
    uint32_t blksize; /* the preferred I/O size                             */
    uint64_t ino;     /* the file's number on its device (Windows: file id) */
    uint64_t dev;     /* the device (Linux: makedev(major, minor); Windows:
                       * the volume's serial number)                       */
    uint64_t size;    /* bytes                                              */
    uint64_t blocks;  /* 512-byte blocks allocated                          */
    int64_t atime_ns; /* last access                                        */
    int64_t btime_ns; /* creation (birth), where the file system keeps it   */
    int64_t ctime_ns; /* last status change                                 */
    int64_t mtime_ns; /* last modification                                  */
    uint64_t reserved_[21];
};

/* vl_statx.mask bits: the values of Linux's STATX_* (checked there). */
#define VL_STATX_TYPE        0x001u
#define VL_STATX_MODE        0x002u
#define VL_STATX_NLINK       0x004u
#define VL_STATX_UID         0x008u
#define VL_STATX_GID         0x010u
#define VL_STATX_ATIME       0x020u
#define VL_STATX_MTIME       0x040u
#define VL_STATX_CTIME       0x080u
#define VL_STATX_INO         0x100u
#define VL_STATX_SIZE        0x200u
#define VL_STATX_BLOCKS      0x400u
#define VL_STATX_BASIC_STATS 0x7ffu
#define VL_STATX_BTIME       0x800u

/* vl_statx.mode's type bits: the values POSIX systems use for S_IF*
 * (checked on Linux), the same on Windows. */
#define VL_S_IFMT   0170000u
#define VL_S_IFSOCK 0140000u
#define VL_S_IFLNK  0120000u
#define VL_S_IFREG  0100000u
#define VL_S_IFBLK  0060000u
#define VL_S_IFDIR  0040000u
#define VL_S_IFCHR  0020000u
#define VL_S_IFIFO  0010000u

/*
 * vl_op_statx - the status of path (relative to dirfd) into *buf, which
 * belongs to the caller and is written until the completion is returned.
 * flags: VL_AT_SYMLINK_NOFOLLOW (a symlink's own status), VL_AT_EMPTY_PATH
 * (with path "", the status of dirfd itself, an open file of any kind).
 * Every driver asks for VL_STATX_BASIC_STATS | VL_STATX_BTIME and reports
 * in buf->mask what the file system gave. submit: -EFAULT for a NULL path
 * or buf, -EINVAL for other flags. Results: 0; -ENOENT, -ENOTDIR,
 * -ENAMETOOLONG, -EACCES, -EBADF, -ELOOP.
 */
VL_API vl_op vl_op_statx(int dirfd, const char *path, int flags, struct vl_statx *buf);

/*
 * vl_op_ftruncate - make the file fd length bytes long, as ftruncate(2):
 * cut, or extended with zeros. fd must be open for writing. submit:
 * -EINVAL for a negative length. Results: 0; -EBADF; -EINVAL (fd not open
 * for writing, or not a regular file); -EFBIG (beyond the file system's
 * limit). io_uring: a plain ftruncate(2) in vl_engine_poll (see
 * docs/engine.md): the kernel's IORING_OP_FTRUNCATE (6.9) is not in the
 * liburing this library builds against, and runs on io-wq, which costs
 * more than the call.
 */
VL_API vl_op vl_op_ftruncate(int fd, int64_t length);

/*
 * vl_op_unlinkat - remove path (relative to dirfd): a file, as unlink(2),
 * or with flags VL_AT_REMOVEDIR an empty directory, as rmdir(2). submit:
 * -EFAULT for a NULL path; -EINVAL for other flags. Results: 0; -ENOENT;
 * -EISDIR (a directory without VL_AT_REMOVEDIR); -ENOTDIR (a file with it);
 * -ENOTEMPTY; -EACCES; -EBADF; -ENAMETOOLONG.
 */
VL_API vl_op vl_op_unlinkat(int dirfd, const char *path, int flags);

/*
 * vl_op_renameat - rename oldpath (relative to olddirfd) to newpath
 * (relative to newdirfd), as renameat(2): an existing newpath is replaced
 * (a file by a file, a directory by a directory if empty). submit: -EFAULT
 * for a NULL path. Results: 0; -ENOENT; -EISDIR (a file onto a directory);
 * -ENOTDIR (a directory onto a file); -ENOTEMPTY; -EXDEV (another file
 * system); -EINVAL (a directory into itself); -EACCES; -EBADF.
 */
VL_API vl_op vl_op_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/*
 * vl_op_mkdirat - make the directory path (relative to dirfd) with the
 * permission bits mode (0..07777, masked by the umask), as mkdirat(2).
 * submit: -EFAULT for a NULL path; -EINVAL for a mode above 07777.
 * Results: 0; -EEXIST; -ENOENT (a missing parent); -ENOTDIR; -EACCES;
 * -EBADF; -ENAMETOOLONG.
 */
VL_API vl_op vl_op_mkdirat(int dirfd, const char *path, uint32_t mode);

/* ---- messages: SENDMSG, RECVMSG ----------------------------------------------- */

/*
 * vl_op_sendmsg - sendmsg(2) as an op: the data of msg's iovec (msg_iov,
 * msg_iovlen; on Windows lpBuffers, dwBufferCount), to msg's address if it
 * names one (msg_name, msg_namelen: a UDP socket's destination; NULL on a
 * connected socket), with msg's control data (msg_control, msg_controllen:
 * IP_PKTINFO's source address, UDP_SEGMENT for UDP GSO, ...), flags the
 * MSG_* flags of the call. The result is the number of bytes sent. Like SEND
 * it adds MSG_NOSIGNAL: a stream whose peer is gone gives -EPIPE, never
 * SIGPIPE.
 *
 * The caller owns msg and everything it points to (iovec array, buffers,
 * address, control) and keeps them valid and unchanged until the completion
 * is returned; the engine copies nothing at submit. submit errors (no id,
 * no completion): -EINVAL (msg NULL, msg_iovlen 0 or above VL_IOV_MAX,
 * lengths adding up to more than INT32_MAX, a msg_namelen above
 * sizeof(struct sockaddr_storage)), -EFAULT (an iovec entry with a NULL
 * base and a non-zero length, a NULL msg_iov, a NULL msg_name with a
 * non-zero msg_namelen or a NULL msg_control with a non-zero
 * msg_controllen). Completion errors are sendmsg(2)'s (-EMSGSIZE for a
 * datagram larger than the protocol takes, -EDESTADDRREQ, -ENOTSOCK,
 * -EBADF, ...).
 */
VL_API vl_op vl_op_sendmsg(int fd, const vl_msghdr *msg, int flags);

/*
 * vl_op_recvmsg - recvmsg(2) as an op: one message into msg's iovec, its
 * source address into msg_name (room: msg_namelen; may be NULL) and its
 * control data into msg_control (room: msg_controllen; may be NULL). The
 * result is the number of payload bytes stored (0: a stream's EOF, or an
 * empty datagram). When the completion is returned, msg holds what
 * recvmsg(2) leaves there: msg_namelen the source address's length,
 * msg_controllen the control bytes stored, msg_flags VL_MSG_TRUNC if the
 * datagram was longer than the iovec (the rest is lost, as with recvmsg;
 * with MSG_TRUNC in flags Linux returns the datagram's full length) and
 * VL_MSG_CTRUNC if control data did not fit. A truncated datagram is never
 * reported as a whole one.
 *
 * Control data arrives as the socket's options ask: IP_PKTINFO /
 * IPV6_RECVPKTINFO (the destination address of each datagram),
 * SO_TIMESTAMPNS (its arrival time), UDP_GRO (the segment size of a
 * coalesced datagram), ...; the engine passes it through as the kernel
 * wrote it. Ownership and submit errors as vl_op_sendmsg (msg_iovlen 1..
 * VL_IOV_MAX; a NULL msg_name or msg_control with room > 0 is -EFAULT).
 */
VL_API vl_op vl_op_recvmsg(int fd, vl_msghdr *msg, int flags);

/* The flags a RECVMSG reports in msg_flags (WSAMSG: dwFlags) and a
 * multishot one in vl_recvmsg_out.flags when a datagram (VL_MSG_TRUNC) or
 * its control data (VL_MSG_CTRUNC) did not fit: the platform's MSG_TRUNC
 * and MSG_CTRUNC (Windows declares them in <mswsock.h>). */
#ifdef _WIN32
#define VL_MSG_TRUNC  0x0100
#define VL_MSG_CTRUNC 0x0200
#else
#define VL_MSG_TRUNC  MSG_TRUNC
#define VL_MSG_CTRUNC MSG_CTRUNC
#endif

/*
 * A message header and its one iovec entry, the caller's memory for
 * vl_op_sendto and vl_op_recvfrom: a SENDMSG or RECVMSG reads (and writes)
 * its msghdr until completion, which an op body of 40 bytes cannot hold.
 * On Windows the entry is a WSABUF.
 */
typedef struct vl_msgio {
    vl_msghdr hdr;
#ifdef _WIN32
    WSABUF iov;
#else
    struct iovec iov;
#endif
} vl_msgio;

/*
 * vl_op_sendto - sendto(2) as a SENDMSG: fills m (the caller's, valid until
 * the completion is returned) with one entry (buf, len) and the destination
 * addr, addrlen (addr NULL, addrlen 0: the connected peer), and builds the
 * SENDMSG over it. Results and errors as vl_op_sendmsg, and submit says
 * -EINVAL for m NULL; len 0 sends an empty datagram.
 */
VL_API vl_op vl_op_sendto(int fd, vl_msgio *m, const void *buf, size_t len, int flags,
                          const struct sockaddr *addr, socklen_t addrlen);

/*
 * vl_op_recvfrom - recvfrom(2) as a RECVMSG: fills m with one entry (buf,
 * len) and the address room (addr, addrlen: the room, e.g.
 * sizeof(struct sockaddr_storage); addr NULL and addrlen 0 when the sender
 * does not matter), and builds the RECVMSG over it. Once the completion is
 * returned, m->hdr.msg_namelen (Windows: namelen) is the sender's address
 * length and m->hdr.msg_flags (dwFlags) has VL_MSG_TRUNC if the datagram was
 * cut to len. Results and errors as vl_op_recvmsg, and submit says
 * -EINVAL for m NULL.
 */
VL_API vl_op vl_op_recvfrom(int fd, vl_msgio *m, void *buf, size_t len, int flags,
                            struct sockaddr *addr, socklen_t addrlen);

/*
 * vl_op_recvmsg_multi - a RECVMSG with VL_OP_F_MULTISHOT: every message that
 * arrives on fd (a UDP socket's datagrams, with their source addresses and
 * control data) is a VL_CQE_MORE completion with VL_CQE_BUFFER naming a
 * buffer of pool, laid out the same way on every driver:
 *
 *     struct vl_recvmsg_out | name (msg_namelen bytes) | control
 *     (msg_controllen bytes) | payload (the rest of what result counts)
 *
 * msg gives the sizes of the name and control areas (msg_namelen,
 * msg_controllen; its msg_name and msg_control are not used) and has no
 * iovec (msg_iovlen 0); the caller keeps it valid until the final
 * completion. Pool buffers are 64-byte aligned and the header is 16 bytes,
 * so a msg_namelen that is a multiple of 8 (sizeof(struct
 * sockaddr_storage) is) keeps the control area aligned for the CMSG_*
 * macros. The payload gets what is left of the buffer: size -
 * sizeof(vl_recvmsg_out) - msg_namelen - msg_controllen bytes, which must
 * be at least 1 (a pool too small for that is -EINVAL at submit). The
 * completion's result is the number of buffer bytes used (header, both
 * areas and the payload stored); read the parts with the vl_recvmsg_*
 * functions below, never with offsets of your own. A datagram longer than
 * the payload area is cut, and its header says so: flags has VL_MSG_TRUNC
 * (payloadlen is the bytes stored, or with MSG_TRUNC in the op's flags the
 * datagram's full length).
 *
 * It ends like a multishot RECV (see "Multishot ops"): -ENOBUFS when a
 * message waits and the pool is empty (the message stays in the socket for
 * the op submitted again), -ECANCELED, the socket's error; on a stream
 * socket 0 at EOF. An empty datagram is a completion like any other
 * (payload length 0). The buffer belongs to the caller until
 * vl_bufpool_release. submit errors: -EINVAL (msg NULL, msg_iovlen not 0,
 * pool NULL or of another engine or without room for a payload). On io_uring this is
 * IORING_OP_RECVMSG with IORING_RECV_MULTISHOT (6.0+), whose layout this
 * is; elsewhere the engine does the same with recvmsg(2) / recvmmsg(2)
 * calls, on IOCP with one WSARecvMsg per message, which holds a buffer
 * while it waits (so there an empty pool ends the op with -ENOBUFS even
 * with nothing waiting). -EOPNOTSUPP as the op's final result: the sync
 * driver (as for every multishot op), the simulator (no datagrams), and
 * io_uring on 5.19 with a registered pool (no multishot recv; its free
 * buffers are in the kernel's ring). docs/engine.md has the details.
 */
VL_API vl_op vl_op_recvmsg_multi(int fd, const vl_msghdr *msg, vl_bufpool *pool, int flags);

/*
 * The header at the start of each multishot RECVMSG buffer (the layout of
 * io_uring's struct io_uring_recvmsg_out).
 */
typedef struct vl_recvmsg_out {
    uint32_t namelen;    /* the source address's length; when above the op's
                          * msg_namelen the name area holds its first part
                          * (Linux; BSD systems may report what was stored) */
    uint32_t controllen; /* control bytes stored in the control area */
    uint32_t payloadlen; /* recvmsg's result: the payload bytes stored (with
                          * MSG_TRUNC in the op's flags: the full length) */
    uint32_t flags;      /* recvmsg's msg_flags: VL_MSG_TRUNC (payload cut),
                          * VL_MSG_CTRUNC (control cut), ... */
} vl_recvmsg_out;

#ifdef _WIN32
#define VL__MSG_NAMELEN(m)    ((uint32_t)(m)->namelen)
#define VL__MSG_CONTROLLEN(m) ((uint32_t)(m)->Control.len)
#else
#define VL__MSG_NAMELEN(m)    ((uint32_t)(m)->msg_namelen)
#define VL__MSG_CONTROLLEN(m) ((uint32_t)(m)->msg_controllen)
#endif

/*
 * vl_recvmsg_validate - the header of a multishot RECVMSG completion's
 * buffer: buf is vl_bufpool_buf(pool, vl_cqe_buffer(flags)), result the
 * completion's result, msg the op's msghdr. NULL if result is too small to
 * hold the header and both areas (never for a completion the engine gave).
 */
static inline vl_recvmsg_out *vl_recvmsg_validate(void *buf, int64_t result, const vl_msghdr *msg)
{
    uint64_t need =
        sizeof(vl_recvmsg_out) + (uint64_t)VL__MSG_NAMELEN(msg) + VL__MSG_CONTROLLEN(msg);
    return buf != NULL && result >= 0 && (uint64_t)result >= need ? (vl_recvmsg_out *)buf : NULL;
}

/* The source address (out->namelen bytes of it, at most msg_namelen). */
static inline struct sockaddr *vl_recvmsg_name(vl_recvmsg_out *out)
{
    return (struct sockaddr *)(void *)(out + 1);
}

/* The control area (out->controllen bytes); see vl_recvmsg_cmsg_view. */
static inline void *vl_recvmsg_control(vl_recvmsg_out *out, const vl_msghdr *msg)
{
    return (unsigned char *)(out + 1) + VL__MSG_NAMELEN(msg);
}

/* The payload. */
static inline void *vl_recvmsg_payload(vl_recvmsg_out *out, const vl_msghdr *msg)
{
    return (unsigned char *)(out + 1) + VL__MSG_NAMELEN(msg) + VL__MSG_CONTROLLEN(msg);
}

/* The payload bytes stored: what result counts after the header and both
 * areas (out from vl_recvmsg_validate of the same result). */
static inline uint32_t vl_recvmsg_payload_length(const vl_recvmsg_out *out, int64_t result,
                                                 const vl_msghdr *msg)
{
    (void)out;
    return (uint32_t)((uint64_t)result - sizeof(vl_recvmsg_out) - VL__MSG_NAMELEN(msg) -
                      VL__MSG_CONTROLLEN(msg));
}

#ifndef _WIN32
/*
 * vl_recvmsg_cmsg_view - point view's control fields at out's control data,
 * so that CMSG_FIRSTHDR(view) and CMSG_NXTHDR(view, c) walk it; view's
 * other fields are set to NULL and 0. Returns view.
 */
static inline struct msghdr *vl_recvmsg_cmsg_view(vl_recvmsg_out *out, const vl_msghdr *msg,
                                                  struct msghdr *view)
{
    view->msg_name = NULL;
    view->msg_namelen = 0;
    view->msg_iov = NULL;
    view->msg_iovlen = 0;
    view->msg_control = out->controllen > 0 ? vl_recvmsg_control(out, msg) : NULL;
    view->msg_controllen = out->controllen;
    view->msg_flags = 0;
    return view;
}
#endif

/* vl_completion.flags */
#define VL_CQE_MORE   0x1u /* more completions follow for this id (multishot) */
#define VL_CQE_BUFFER 0x2u /* the completion names a pool buffer: vl_cqe_buffer() */

/* The buffer id of a completion with VL_CQE_BUFFER (bits 16..31 of flags). */
static inline uint32_t vl_cqe_buffer(uint32_t flags)
{
    return flags >> 16;
}

typedef struct vl_completion {
    uint64_t id;     /* the id submit returned                          */
    int64_t result;  /* >= 0: bytes / new fd / 0; < 0: -errno            */
    uint32_t flags;  /* VL_CQE_*                                         */
    void *user_data; /* what the caller passed to submit                 */
} vl_completion;

/*
 * vl_engine_create - make an engine. cfg may be NULL (all defaults). On
 * success stores the engine in *out and returns 0. Errors: -EINVAL (NULL out,
 * unknown driver or flags, max_inflight above VL_ENGINE_MAX_INFLIGHT, workers above
 * VL_ENGINE_MAX_WORKERS),
 * -ENOMEM, -EMFILE; for an explicitly chosen driver, what its setup said
 * (-ENOSYS / -EPERM when io_uring is unavailable or forbidden, -EOPNOTSUPP
 * for a driver this platform does not have). AUTO falls back instead.
 * The engine owns every resource it creates; vl_engine_destroy frees them.
 */
VL_API int vl_engine_create(const vl_engine_config *cfg, vl_engine **out);

/*
 * vl_engine_submit - queue op (copied) and return its id (> 0), or a negative
 * errno (see the contract above). Never blocks, makes no system call and
 * allocates nothing: ops reach the kernel at the next vl_engine_poll.
 */
VL_API int64_t vl_engine_submit(vl_engine *e, const vl_op *op, void *user_data);

/*
 * vl_engine_poll - hand queued ops to the kernel, then wait up to timeout_ns
 * (< 0: forever; 0: do not wait) for completions, and store up to cap of them
 * in out. Returns how many (0 on timeout, on a wake, or when a signal
 * interrupted the wait), or -EINVAL for a NULL engine or out or cap <= 0
 * (nothing is consumed). After vl_engine_shutdown it never blocks.
 */
VL_API int vl_engine_poll(vl_engine *e, int64_t timeout_ns, vl_completion *out, int cap);

/*
 * vl_engine_poll_batch - vl_engine_poll that lets completions gather before
 * it returns, to save wake-ups under load: it waits up to gather_ns for
 * `want` completions; once gather_ns has passed it returns as soon as at
 * least one is ready (waiting on for the first up to timeout_ns, as
 * vl_engine_poll does). Completions that are ready when it is called come
 * back at once, as from vl_engine_poll. So a caller that asks for half its
 * last batch pays at most gather_ns of latency under load and none when one
 * completion at a time arrives.
 *
 * The io_uring driver has the kernel do it (IORING_FEAT_MIN_TIMEOUT, Linux
 * 6.12+): the task is not even woken before `want` completions are there
 * or gather_ns has passed. Elsewhere (other drivers, older kernels) it is
 * vl_engine_poll: it returns at the first completion, which the contract
 * above allows. A timeout_ns no longer than gather_ns makes it a plain
 * vl_engine_poll, so the timeout is never overrun (nor a deadline of an op
 * in flight). Returns what vl_engine_poll returns; -EINVAL as
 * vl_engine_poll, or for want < 1, want > cap or gather_ns < 0 (nothing is
 * consumed).
 */
VL_API int vl_engine_poll_batch(vl_engine *e, int64_t timeout_ns, int want, int64_t gather_ns,
                                vl_completion *out, int cap);

/*
 * vl_engine_shutdown - refuse new work (-ESHUTDOWN), cancel everything in
 * flight and wait until the kernel has let go of every buffer. The -ECANCELED
 * (or final) completions wait for vl_engine_poll, which no longer blocks.
 * Idempotent; NULL is ignored.
 */
VL_API void vl_engine_shutdown(vl_engine *e);

/* vl_engine_destroy - shutdown if needed, then free everything. NULL is ignored. */
VL_API void vl_engine_destroy(vl_engine *e);

/*
 * vl_engine_wake - make a blocked (or the next) vl_engine_poll return. Safe
 * from any thread. 0, or -EINVAL for NULL.
 */
VL_API int vl_engine_wake(vl_engine *e);

/*
 * Registered files: vl_engine_fd_register lets the driver name fd's open file
 * by a slot of its own instead of looking fd up on every op. On io_uring the
 * engine keeps a sparse registered-file table (IORING_REGISTER_FILES2), made
 * at the first register call, whose slot N holds the file of fd N; SEND,
 * SENDV, SENDMSG, RECV (multishot too), RECVMSG, READ, WRITE, READV and
 * WRITEV on a registered fd then go with IOSQE_FIXED_FILE and skip the
 * kernel's per-op file lookup and reference count (fget/fput). The fd stays
 * an ordinary descriptor: setsockopt(2), sendfile(2), SENDFILE, SPLICE,
 * ACCEPT, POLL and SHUTDOWN use it as before. Every other driver keeps no
 * table: both calls check their arguments and return 0, so portable code
 * calls them unconditionally.
 *
 * THE TABLE HOLDS ITS OWN REFERENCE TO THE FILE. Closing a registered fd
 * with close(2) frees the number but NOT the socket: it stays open (the peer
 * sees no EOF, no FIN is sent) until the slot is cleared or the engine is
 * destroyed, and ops that still name the number may reach the old socket.
 * So close a registered fd either
 *   - through the engine (vl_op_close): its CLOSE clears the slot first, in
 *     order with the ops submitted before it; always right; or
 *   - with close(2) AFTER vl_engine_fd_unregister.
 * Do not register an fd whose CLOSE is still in flight.
 *
 * vl_engine_fd_register - register fd (an open descriptor) with e. On the
 * engine's polling thread. 0, or a negative errno; on any error nothing
 * changes and ops on fd work as they would unregistered:
 *   -EINVAL      e is NULL or fd < 0;
 *   -EOPNOTSUPP  the kernel has no sparse file tables (before 5.19);
 *   -ENOSPC      fd is beyond the table, which has one slot per possible
 *                descriptor up to RLIMIT_NOFILE's soft limit at the first
 *                call, at most 65536;
 *   -EEXIST      fd is registered already (the slot is left as it is:
 *                unregister first; a number whose file was closed with
 *                close(2) while registered answers this too);
 *   -EBADF       fd is not open; -ENOMEM, or what io_uring_register said.
 */
VL_API int vl_engine_fd_register(vl_engine *e, int fd);

/*
 * vl_engine_fd_unregister - clear fd's slot, so that close(2) on fd then
 * closes the file. Ops already given to the kernel keep the file until they
 * complete, exactly as they would unregistered. On the polling thread.
 * 0, or -EINVAL (e NULL, fd < 0), -ENOENT (fd is not registered; io_uring
 * only), or what io_uring_register said (the slot then stays registered).
 */
VL_API int vl_engine_fd_unregister(vl_engine *e, int fd);

/* The driver in use: its name ("io_uring", "epoll"; "" for NULL) and kind
 * (VL_DRIVER_URING, VL_DRIVER_EPOLL; VL_DRIVER_AUTO for NULL). */
VL_API const char *vl_engine_driver_name(const vl_engine *e);
VL_API vl_driver_kind vl_engine_driver_kind(const vl_engine *e);

/*
 * Why this driver: for AUTO after a fallback, what the preferred driver's
 * setup said (e.g. "io_uring_setup: Operation not permitted (EPERM)"), else
 * "requested" / "preferred" / "VLLSI_DRIVER=epoll". Static per engine; "" for NULL.
 */
VL_API const char *vl_engine_driver_reason(const vl_engine *e);

/* How many ids are alive (issued, completion not yet returned by poll); 0 for NULL. */
VL_API uint32_t vl_engine_inflight(const vl_engine *e);

/* ---- statistics ------------------------------------------------------------------ */

/* The layout vl_engine_stats fills in this library (see vl_engine_stats). */
#define VL_ENGINE_STATS_VERSION 1u
/* Entries of the per-kind arrays, indexed by vl_op_kind: room for op kinds
 * yet to come, so adding one does not move the fields after them. */
#define VL_STATS_KINDS          32u

/*
 * What an engine has done since vl_engine_create: a versioned struct whose
 * fields are only ever appended, so a program built against an older or a
 * newer <vllsi/engine.h> can ask any library (see vl_engine_stats). Counters
 * never go back; every count is of this engine alone.
 *
 * Native and emulated: an op is native when the kernel carried it out
 * asynchronously as that op (an io_uring SQE of the op's own opcode,
 * multishot included; a Windows overlapped request: READ, WRITE, READV and
 * WRITEV on a socket or of one non-empty buffer, SEND, SENDV, SENDMSG,
 * RECV, RECVMSG, ACCEPT, CONNECT, a multishot ACCEPT's AcceptEx). Every other
 * submitted op is emulated: the engine carried it out itself (the readiness
 * core behind epoll tries the op and parks it until the fd is ready; the
 * sync driver blocks in it; the simulator; io_uring's SHUTDOWN, BIND,
 * LISTEN, SOCKET before 5.19, re-armed
 * single shots and user-space buffer pools on kernels without multishot or
 * buffer rings, and a multishot POLL refused there, FTRUNCATE and the
 * path ops a kernel lacks, a multishot RECVMSG without a registered pool;
 * IOCP's NOP, TIMEOUT, CLOSE, CANCEL, SHUTDOWN, POLL (refused), SOCKET,
 * BIND, LISTEN, the file and path ops, READV and WRITEV through a bounce
 * buffer, FSYNC, WAITPID, multishot RECV and RECVMSG; the readiness
 * drivers' worker pool), or
 * answered it without the kernel (a
 * CANCEL the core resolved itself: its target unknown, completed or being cancelled already; an op
 * still queued at shutdown). native + emulated is the sum of submitted[].
 */
typedef struct vl_engine_statistics {
    /* In: sizeof(vl_engine_statistics) as the caller was compiled. Out: the bytes
     * the library filled, min(that, its own sizeof). */
    uint32_t size;
    uint32_t version;        /* out: VL_ENGINE_STATS_VERSION of the library        */
    uint32_t driver;         /* the vl_driver_kind in use                          */
    uint32_t inflight;       /* ids alive now, as vl_engine_inflight               */
    char driver_name[16];    /* vl_engine_driver_name, NUL-terminated        */
    char driver_reason[160]; /* vl_engine_driver_reason (why this driver:
                              * "preferred", "requested", or what the
                              * preferred driver's setup said), NUL-terminated */
    /* Per op kind (index vl_op_kind): ids submit issued, and ids whose final
     * completion poll has returned (a multishot op counts once, at its end,
     * under its kind: a multishot RECV is a RECV). Ops refused
     * synchronously (submit < 0) are in neither. */
    uint64_t submitted[VL_STATS_KINDS];
    uint64_t completed[VL_STATS_KINDS];
    uint64_t completions; /* completions poll has returned, VL_CQE_MORE ones too */
    uint64_t native;      /* submitted ops the kernel ran as such (above)       */
    uint64_t emulated;    /* submitted ops the engine carried out (above)       */
    /*
     * System calls the driver made to hand ops to the kernel or to collect
     * completions: io_uring_enter, epoll_pwait2 / epoll_wait,
     * GetQueuedCompletionStatusEx, the sync driver's futex wait. Not the
     * system calls that are ops themselves (the readiness core's recv and
     * send, the sync driver's blocking calls). The simulator makes none.
     */
    uint64_t kernel_enters;
    uint64_t kernel_waits;       /* those that could block (a timeout other than 0) */
    uint64_t kernel_completions; /* what they collected: io_uring CQEs, epoll events,
                                  * IOCP packets (wakes included), so
                                  * kernel_completions / kernel_enters is the
                                  * completions per system call */
    uint64_t busy_refusals;      /* submit returned -EBUSY (max_inflight ids alive) */
    uint64_t driver_busy;        /* the driver refused a queued op for now (io_uring:
                                  * its SQ full and the kernel not taking more); the
                                  * op stayed queued for the next poll */
    uint64_t cq_overflow;        /* io_uring: times the kernel held CQEs back because
                                  * its CQ ring was full (IORING_SQ_CQ_OVERFLOW),
                                  * and the driver had them flushed; nothing is
                                  * lost. 0 elsewhere */
    uint64_t cq_dropped;         /* io_uring: CQEs the kernel dropped (the ring's
                                  * overflow counter: it could not even keep them
                                  * aside). Never expected. 0 elsewhere */
    uint64_t cq_deferred;        /* times a multishot op's completions waited in
                                  * the kernel or the socket because the engine's
                                  * completion queue was full (delivered after
                                  * the next poll) */
    uint64_t pool_starved;       /* multishot RECVs that ended with -ENOBUFS: the
                                  * pool was empty with data waiting */
    uint64_t pool_rearmed;       /* io_uring: multishot RECVs the kernel ended with
                                  * -ENOBUFS while the pool had buffers outside its
                                  * provided-buffer ring, armed again by the driver
                                  * without a word to the caller. 0 elsewhere */
} vl_engine_statistics;

/* The size of the version-1 struct, the smallest vl_engine_stats accepts. */
#define VL_ENGINE_STATS_SIZE_V1 808u

/*
 * vl_engine_stats - fill *out with e's statistics. Set out->size to
 * sizeof(*out) first: the library fills min(out->size, its own size) bytes,
 * sets out->size to that and out->version to its VL_ENGINE_STATS_VERSION;
 * bytes beyond what it filled are not touched. A caller built against a
 * newer header reads only the fields of out->version; one built against an
 * older header gets its own layout, filled. Returns 0, or -EINVAL for a NULL
 * e or out, or out->size below VL_ENGINE_STATS_SIZE_V1 (nothing written).
 * Call it from the thread that polls e (any time, also after
 * vl_engine_shutdown). Cold: completed[] is derived by a scan of the op
 * table (max_inflight entries), so that counting costs submit one
 * increment and poll a counter or two per system call, nothing per op.
 */
VL_API int vl_engine_stats(const vl_engine *e, vl_engine_statistics *out);

/* ---- buffer pools ------------------------------------------------------------- */

/* The largest count a pool may have (io_uring's buffer ids are 16 bits and
 * its rings hold at most 2^15 entries). */
#define VL_BUFPOOL_MAX_COUNT 32768u

/*
 * vl_bufpool_create - make a pool of count buffers of size bytes for e and
 * store it in *out. count is a power of two in 1..VL_BUFPOOL_MAX_COUNT; size
 * in 1..INT32_MAX (count * size bytes are mapped at once; buffers are
 * size-aligned to 64 bytes at least). All buffers start in the pool. The
 * engine owns the pool (vl_engine_destroy frees what is left).
 * Errors: -EINVAL (NULL e or out, count not a power of two or too large,
 * size 0 or too large), -ENOMEM, -ESHUTDOWN (after vl_engine_shutdown),
 * -ENOSPC (the engine already has 64 pools); on io_uring what the kernel said
 * when registering the ring, if it was not "unsupported" (then the pool
 * works in user space and multishot is emulated, see docs/engine.md).
 *
 * Sizing: one buffer per recv completion; with C connections receiving at
 * once, count below C gives -ENOBUFS floods. On io_uring the kernel's ring
 * holds about 1 MiB worth of the free buffers, the last released first, and
 * grows when connections outrun it, so a large pool costs memory, not
 * cache (docs/engine.md). docs/guide.md has the measured choice.
 */
VL_API int vl_bufpool_create(vl_engine *e, uint32_t count, uint32_t size, vl_bufpool **out);

/*
 * vl_bufpool_destroy - free p and its memory. -EINVAL for NULL, -EBUSY while
 * an op using p is alive (cancel it and poll its final completion first).
 * Buffers the caller still held are gone with it.
 */
VL_API int vl_bufpool_destroy(vl_bufpool *p);

/* The address of buffer id of p, or NULL (NULL p, id out of range). */
VL_API void *vl_bufpool_buf(const vl_bufpool *p, uint32_t id);

/*
 * vl_bufpool_release - give buffer id back to p after a multishot RECV
 * completion handed it to the caller. 0; -EINVAL (NULL p, id out of range);
 * -EALREADY (the buffer is in the pool: released twice, or never handed out).
 */
VL_API int vl_bufpool_release(vl_bufpool *p, uint32_t id);

/* Buffers in p now (not held by the caller); count and size as created. 0 for NULL. */
VL_API uint32_t vl_bufpool_available(const vl_bufpool *p);
VL_API uint32_t vl_bufpool_count(const vl_bufpool *p);
VL_API uint32_t vl_bufpool_size(const vl_bufpool *p);

VL_EXTERN_C_END

#endif /* VLLSI_ENGINE_H */
