/*
 * src/drivers/iocp.c - the Windows driver: overlapped I/O on one I/O
 * completion port per engine (AcceptEx, ConnectEx, WSARecv, WSASend,
 * ReadFile/WriteFile), TIMEOUT on the OS-neutral timer heap driving
 * GetQueuedCompletionStatusEx's timeout, CANCEL with CancelIoEx, wake with
 * PostQueuedCompletionStatus, WAITPID with a registered wait on the
 * process handle that posts to the port.
 *
 * Descriptors: vl_op's `int fd` carries a SOCKET or HANDLE truncated to 32
 * bits. Windows keeps handle values below 2^32 so that 32- and 64-bit
 * processes can share them ("only the lower 32 bits are significant"), and
 * sign extension turns -1 back into INVALID_HANDLE_VALUE. Handles must be
 * opened for overlapped I/O (sockets from socket() are; files and pipes need
 * FILE_FLAG_OVERLAPPED): a synchronous handle would block the engine thread.
 *
 * Every op owns one request (an OVERLAPPED plus what its completion needs),
 * preallocated per slot at init, so nothing is allocated on the hot path
 * (two exceptions: a SENDV, READV or WRITEV socket list of more buffers
 * than the request holds, see vec_fill; the bounce buffer of a file's or
 * pipe's READV or WRITEV, see start_rwv). A handle is associated with the
 * port by the first op that uses it; the association lasts until the handle
 * is closed, and a second one fails with ERROR_INVALID_PARAMETER, which is
 * taken to mean "already ours". A handle therefore serves one engine for
 * its life. Completions are always delivered through the port
 * (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is not used: it is unsafe on
 * sockets with a non-IFS layered provider and would split every op into two
 * completion paths), so each op reaches vl__engine_complete exactly once,
 * from one place.
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <winternl.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <vllsi/sys/mem.h>
#include <vllsi/sys/time.h>
#include <vllsi/sys/windows.h>

#include "driver.h"
#include "timer_heap.h"

#define KEY_IO      0u /* a completion of an op's overlapped request */
#define KEY_WAKE    1u /* vl_engine_wake                              */
#define KEY_CHILD   2u /* a WAITPID's process exited (child_exited)    */
#define MAX_ENTRIES 64
#define ADDR_ROOM   (sizeof(SOCKADDR_STORAGE) + 16) /* AcceptEx: per address */
#define NONE        UINT32_MAX

/* struct iocp_slot.held while the driver holds a slot. HELD_DEFER: a multishot
 * op waiting for room in the completion queue; HELD_ENDED: a multishot op
 * that ended inside submit (its final completion is made). */
enum { HELD_IO = 1, HELD_TIMER, HELD_CANCEL, HELD_DEFER, HELD_ENDED, HELD_CHILD };

/* The driver's state in a slot it holds (VL__SLOT_DRV). */
struct iocp_slot {
    uint32_t held; /* HELD_*, 0 when the driver has let it go */
    uint32_t next; /* the deferred list (HELD_DEFER): NONE ends it */
};

static inline struct iocp_slot *islot(struct vl__slot *s)
{
    return VL__SLOT_DRV(s, struct iocp_slot);
}

/* Multishot: at most this many completions per op per turn. */
#define MULTI_BURST 16

/* NTSTATUS values a completion can carry that need more than the map. */
#define ST_END_OF_FILE     ((int32_t)0xC0000011)
#define ST_PIPE_BROKEN     ((int32_t)0xC000014B)
/* A datagram cut to the receive buffers (WSAEMSGSIZE): a warning status. */
#define ST_BUFFER_OVERFLOW ((int32_t)0x80000005)

/* SENDV, and READV/WRITEV on a socket: list entries kept inside the
 * request, in the room ACCEPT's addresses use (an op is one kind at a
 * time); longer lists go to the heap. */
#define VEC_INLINE (2 * ADDR_ROOM / sizeof(WSABUF))

struct iocp_req {
    OVERLAPPED ov;        /* first: a completion names its request by it   */
    HANDLE h;             /* the handle the request was issued on          */
    SOCKET accept_sock;   /* ACCEPT: the socket AcceptEx connects          */
    uint32_t cancel_slot; /* a CANCEL waiting for this op's outcome        */
    bool advance;         /* file op at the current position: move it after */
    HANDLE file;          /* SENDFILE: the file TransmitFile reads (advance's) */
    bool stop;            /* multishot: cancelled, end at the next packet  */
    union {
        char addrs[2 * ADDR_ROOM]; /* ACCEPT: AcceptEx's two addresses        */
        WSABUF vec[VEC_INLINE];    /* SENDV, socket READV/WRITEV: the list    */
        struct {
            WSAMSG m;     /* multishot RECVMSG: the request's own header */
            WSABUF b;     /* its payload area in the pool buffer          */
            uint32_t bid; /* the pool buffer the request holds            */
        } mh;
        struct {
            HANDLE port;         /* where child_exited posts the packet          */
            HANDLE wait;         /* the registered wait; NULL once unregistered  */
            volatile LONG fired; /* child_exited ran: the packet is on the port */
        } child;                 /* WAITPID (h: the process)                     */
    };
    DWORD flags;      /* RECVMSG on a stream: WSARecv's flags           */
    bool stream;      /* RECVMSG: the socket is a stream (WSARecv, not WSARecvMsg) */
    WSABUF *vec_heap; /* vec's list when longer, NULL otherwise; freed
                       * once, when the op ends (vec_free) */
    char *bounce;     /* READV/WRITEV of a file or pipe: the one buffer of the
                       * list's bytes, NULL otherwise; freed once, when the op
                       * ends (bounce_done) */
};

struct iocp_drv {
    HANDLE port;
    struct iocp_req *reqs;
    size_t reqs_len;
    struct vl__timer_heap timers;
    LPFN_ACCEPTEX accept_ex;
    LPFN_CONNECTEX connect_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    LPFN_WSARECVMSG recv_msg;        /* NULL: no datagram provider (RECVMSG: -EOPNOTSUPP) */
    LPFN_TRANSMITFILE transmit_file; /* NULL: the provider has none (SENDFILE: -EOPNOTSUPP) */
    uint32_t defer_head, defer_tail; /* HELD_DEFER slots, linked by iocp_slot.next */
    bool wsa_started;
    OVERLAPPED_ENTRY entries[MAX_ENTRIES];
};

static struct iocp_drv *drv_of(vl_engine *e)
{
    return *vl__engine_drv(e);
}

static HANDLE handle_of(int fd)
{
    return (HANDLE)(intptr_t)fd;
}

static int wsa_errno(void)
{
    return vl_win_error_to_errno((unsigned long)WSAGetLastError());
}

/* ---- handles ---------------------------------------------------------------- */

/* -EBADF for a value that names no open handle (closed, never opened, -1):
 * GetFileType answers FILE_TYPE_UNKNOWN with ERROR_INVALID_HANDLE then. */
static int check_handle(HANDLE h, DWORD *type)
{
    if (h == INVALID_HANDLE_VALUE || h == NULL)
        return -EBADF;
    SetLastError(NO_ERROR);
    *type = GetFileType(h);
    if (*type == FILE_TYPE_UNKNOWN && GetLastError() != NO_ERROR)
        return -EBADF;
    return 0;
}

static bool is_socket(HANDLE h)
{
    int type = 0, len = sizeof(type);
    return getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0;
}

static int associate(struct iocp_drv *d, HANDLE h)
{
    if (CreateIoCompletionPort(h, d->port, KEY_IO, 0) != NULL)
        return 0;
    DWORD err = GetLastError();
    return err == ERROR_INVALID_PARAMETER ? 0 : vl_win_error_to_errno(err);
}

/* ---- requests -------------------------------------------------------------- */

static struct iocp_req *req_of(struct iocp_drv *d, uint32_t slot)
{
    return &d->reqs[slot];
}

static void req_reset(struct iocp_req *q, HANDLE h)
{
    memset(&q->ov, 0, sizeof(q->ov));
    q->h = h;
    q->accept_sock = INVALID_SOCKET;
    q->cancel_slot = NONE;
    q->advance = false;
    q->stop = false;
    q->file = h;
}

/*
 * An overlapped call returned. Success or ERROR_IO_PENDING: a packet will
 * reach the port (also for an immediate success), so the op is held until
 * then. Any other error: no packet will come, the op ends now.
 */
static int64_t issued(vl_engine *e, uint32_t slot, bool ok, int err)
{
    if (ok || err == -EINPROGRESS) {
        islot(vl__engine_slot(e, slot))->held = HELD_IO;
        return 0;
    }
    return err;
}

/* ---- starting each kind ------------------------------------------------------ */

/* Offsets: -1 on a disk file means its current position, which overlapped
 * I/O does not keep: read it now and move it when the op completes. Other
 * handles have no position (-ESPIPE for an explicit offset, as on Linux). */
static int set_offset(struct iocp_req *q, DWORD type, int64_t offset)
{
    if (type != FILE_TYPE_DISK)
        return offset == -1 ? 0 : -ESPIPE;
    if (offset == -1) {
        LARGE_INTEGER zero = {.QuadPart = 0}, pos;
        if (!SetFilePointerEx(q->h, zero, &pos, FILE_CURRENT))
            return vl_win_error_to_errno(GetLastError());
        offset = pos.QuadPart;
        q->advance = true;
    }
    q->ov.Offset = (DWORD)offset;
    q->ov.OffsetHigh = (DWORD)((uint64_t)offset >> 32);
    return 0;
}

static int64_t start_wsa(vl_engine *e, uint32_t slot, struct iocp_req *q, void *buf, size_t len,
                         int flags, bool send)
{
    WSABUF b = {(ULONG)len, buf};
    DWORD fl = (DWORD)flags;
    int r = send ? WSASend((SOCKET)q->h, &b, 1, NULL, fl, &q->ov, NULL)
                 : WSARecv((SOCKET)q->h, &b, 1, NULL, &fl, &q->ov, NULL);
    return issued(e, slot, r == 0, r == 0 ? 0 : wsa_errno());
}

/* ReadFile/WriteFile of one buffer on a file or pipe handle (READ, WRITE,
 * READV, WRITEV). A read at a file's end or of a pipe whose writer is gone
 * is EOF, 0, with no packet to come. */
static int64_t file_issue(vl_engine *e, uint32_t slot, struct iocp_req *q, void *buf, DWORD n,
                          bool write)
{
    BOOL ok = write ? WriteFile(q->h, buf, n, NULL, &q->ov) : ReadFile(q->h, buf, n, NULL, &q->ov);
    DWORD err = ok ? 0 : GetLastError();
    if (!write && (err == ERROR_HANDLE_EOF || err == ERROR_BROKEN_PIPE))
        return 0;
    return issued(e, slot, ok, ok ? 0 : vl_win_error_to_errno(err));
}

/*
 * Length 0 completes with 0 at once, as the Linux kernel answers it: on
 * Windows a zero-byte read of a pipe or socket is the readiness probe, which
 * waits until data arrives.
 */
static int64_t start_rw(vl_engine *e, uint32_t slot, const vl_op *op, bool write)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    DWORD type;
    req_reset(q, handle_of(op->fd));
    int rc = check_handle(q->h, &type);
    if (rc == 0 && type == FILE_TYPE_PIPE && is_socket(q->h)) {
        if (op->u.rw.offset != -1)
            return -ESPIPE;
        if (op->u.rw.len == 0)
            return 0;
        rc = associate(d, q->h);
        return rc < 0 ? rc : start_wsa(e, slot, q, op->u.rw.buf, op->u.rw.len, 0, write);
    }
    if (rc == 0)
        rc = set_offset(q, type, op->u.rw.offset);
    if (rc == 0 && op->u.rw.len == 0)
        return 0;
    if (rc == 0)
        rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    return file_issue(e, slot, q, op->u.rw.buf, (DWORD)op->u.rw.len, write);
}

static int64_t start_msg(vl_engine *e, uint32_t slot, const vl_op *op, bool send)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    DWORD type;
    req_reset(q, handle_of(op->fd));
    int rc = check_handle(q->h, &type);
    /* Asked first: Winsock's answer for a pipe or file varies (Wine says
     * WSAEOPNOTSUPP), recv(2)'s is ENOTSOCK. */
    if (rc == 0 && !is_socket(q->h))
        return -ENOTSOCK;
    if (rc == 0 && op->u.msg.len == 0)
        return 0; /* the zero-byte probe would wait for data (see start_rw) */
    if (rc == 0)
        rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    return start_wsa(e, slot, q, op->u.msg.buf, op->u.msg.len, op->u.msg.flags, send);
}

/*
 * SENDV's (and a socket READV's or WRITEV's) list as Winsock's WSABUF
 * {ULONG len; char *buf}, which is not vl_iovec's layout, so it is
 * converted. WSASend's documentation asks that the array stay valid for the
 * whole send, so it lives in the request (or on the heap for more than
 * VEC_INLINE entries) until the op's packet. Each length fits a ULONG:
 * submit refused totals above INT32_MAX. NULL: no memory for a long list.
 */
static WSABUF *vec_fill(struct iocp_req *q, const vl_iovec *iov, uint32_t n)
{
    WSABUF *w = q->vec;
    if (n > VEC_INLINE) {
        w = malloc(n * sizeof(*w));
        if (w == NULL)
            return NULL;
        q->vec_heap = w;
    }
    for (uint32_t k = 0; k < n; k++) {
        w[k].len = (ULONG)iov[k].len;
        w[k].buf = iov[k].base;
    }
    return w;
}

/* The end of a SENDV's request: its heap array, if any, goes. Every other
 * request has none, so this is a no-op for them. */
static void vec_free(struct iocp_req *q)
{
    free(q->vec_heap);
    q->vec_heap = NULL;
}

static size_t vec_total(const vl_iovec *iov, uint32_t n)
{
    size_t total = 0;
    for (uint32_t k = 0; k < n; k++)
        total += iov[k].len;
    return total;
}

/*
 * SENDV: one WSASend of the whole list, answered like SEND (-ENOTSOCK for a
 * pipe or file, a total of 0 completes with 0 at once). A start that fails
 * has no packet to come, so it frees the list here; otherwise io_done does.
 */
static int64_t start_sendv(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    uint32_t n = op->u.vec.iovcnt;
    DWORD type;
    req_reset(q, handle_of(op->fd));
    int rc = check_handle(q->h, &type);
    if (rc == 0 && !is_socket(q->h))
        return -ENOTSOCK;
    if (rc == 0 && vec_total(op->u.vec.iov, n) == 0)
        return 0;
    if (rc == 0)
        rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    WSABUF *w = vec_fill(q, op->u.vec.iov, n);
    if (w == NULL)
        return -ENOMEM;
    int r = WSASend((SOCKET)q->h, w, n, NULL, (DWORD)op->u.vec.flags, &q->ov, NULL);
    int64_t res = issued(e, slot, r == 0, r == 0 ? 0 : wsa_errno());
    if (res < 0)
        vec_free(q);
    return res;
}

/*
 * A receive that found a datagram longer than its buffers waiting answers
 * WSAEMSGSIZE at once, but its status is STATUS_BUFFER_OVERFLOW, a warning,
 * not an error: the request completed, with the datagram's first bytes,
 * and its packet reaches the port like any other (the I/O manager queues
 * one for every status but an error; Wine does the same). So it is held
 * until that packet, which reports the cut.
 */
static bool cut_now(int r)
{
    return r != 0 && WSAGetLastError() == WSAEMSGSIZE;
}

/* SENDMSG and RECVMSG: a socket, associated with the port; whether it is
 * a stream (q->stream). 0 or the op's error. */
static int msg_check(struct iocp_drv *d, struct iocp_req *q, int fd)
{
    DWORD type;
    req_reset(q, handle_of(fd));
    int rc = check_handle(q->h, &type);
    if (rc < 0)
        return rc;
    int st = 0, len = sizeof(st);
    if (getsockopt((SOCKET)q->h, SOL_SOCKET, SO_TYPE, (char *)&st, &len) != 0)
        return -ENOTSOCK;
    q->stream = st == SOCK_STREAM;
    return associate(d, q->h);
}

static uint64_t wsabuf_total(const WSABUF *b, ULONG n)
{
    uint64_t total = 0;
    for (ULONG k = 0; k < n; k++)
        total += b[k].len;
    return total;
}

/*
 * SENDMSG: WSASendMsg of the caller's WSAMSG (address, buffers, control
 * data). On a stream socket WSASend of its buffers: Winsock documents
 * WSASendMsg for datagram and raw sockets, and a stream has neither a
 * destination per send nor control data to pass.
 */
static int64_t start_sendmsg(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    int rc = msg_check(d, q, op->fd);
    if (rc < 0)
        return rc;
    WSAMSG *m = op->u.mh.msg;
    if (q->stream && wsabuf_total(m->lpBuffers, m->dwBufferCount) == 0)
        return 0;
    int r = q->stream ? WSASend((SOCKET)q->h, m->lpBuffers, m->dwBufferCount, NULL,
                                (DWORD)op->u.mh.flags, &q->ov, NULL)
                      : WSASendMsg((SOCKET)q->h, m, (DWORD)op->u.mh.flags, NULL, &q->ov, NULL);
    return issued(e, slot, r == 0, r == 0 ? 0 : wsa_errno());
}

static int64_t start_recvmsg_multi(vl_engine *e, uint32_t slot, const vl_op *op);

/*
 * RECVMSG: WSARecvMsg (the WSAID_WSARECVMSG extension) of the caller's
 * WSAMSG, which Winsock fills as recvmsg(2) does its msghdr: namelen,
 * Control.len, dwFlags (MSG_TRUNC, MSG_CTRUNC). The control messages are
 * Windows' (IP_PKTINFO, IPV6_PKTINFO, ...; WSA_CMSG_* walk them). On a
 * stream socket, WSARecv of the buffers (WSARecvMsg is for datagram and
 * raw sockets): no address, no control data, dwFlags 0.
 */
static int64_t start_recvmsg(vl_engine *e, uint32_t slot, const vl_op *op)
{
    if (vl__op_is_multishot(op))
        return start_recvmsg_multi(e, slot, op);
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    int rc = msg_check(d, q, op->fd);
    if (rc < 0)
        return rc;
    WSAMSG *m = op->u.mh.msg;
    if (q->stream) {
        m->namelen = 0;
        m->Control.len = 0;
        m->dwFlags = 0;
        if (wsabuf_total(m->lpBuffers, m->dwBufferCount) == 0)
            return 0; /* the zero-byte probe would wait for data (see start_rw) */
        q->flags = (DWORD)op->u.mh.flags;
        int r =
            WSARecv((SOCKET)q->h, m->lpBuffers, m->dwBufferCount, NULL, &q->flags, &q->ov, NULL);
        return issued(e, slot, r == 0, r == 0 ? 0 : wsa_errno());
    }
    if (d->recv_msg == NULL)
        return -EOPNOTSUPP;
    m->dwFlags = (DWORD)op->u.mh.flags;
    int r = d->recv_msg((SOCKET)q->h, m, NULL, &q->ov, NULL);
    return issued(e, slot, r == 0 || cut_now(r), r == 0 ? 0 : wsa_errno());
}

/* A listening socket, associated with the port: 0 or the ACCEPT's error. */
static int accept_check(struct iocp_drv *d, struct iocp_req *q, int fd)
{
    DWORD type;
    req_reset(q, handle_of(fd));
    int rc = check_handle(q->h, &type);
    if (rc < 0)
        return rc;
    /* Not listening: -EINVAL, as accept(2) says. Windows' AcceptEx would say
     * WSAEINVAL too, but Wine leaves such an AcceptEx pending forever. */
    BOOL listening = FALSE;
    int len = sizeof(listening);
    if (getsockopt((SOCKET)q->h, SOL_SOCKET, SO_ACCEPTCONN, (char *)&listening, &len) != 0)
        return wsa_errno();
    return listening ? associate(d, q->h) : -EINVAL;
}

/* AcceptEx needs the connection's socket made in advance, of the listener's
 * own family, type and protocol. */
static int64_t accept_issue(vl_engine *e, uint32_t slot)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    WSAPROTOCOL_INFOW info;
    int len = sizeof(info);
    memset(&q->ov, 0, sizeof(q->ov));
    if (getsockopt((SOCKET)q->h, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
        return wsa_errno();
    q->accept_sock = WSASocketW(info.iAddressFamily, info.iSocketType, info.iProtocol, NULL, 0,
                                WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (q->accept_sock == INVALID_SOCKET)
        return wsa_errno();
    DWORD got = 0;
    int rc = 0;
    if (!d->accept_ex((SOCKET)q->h, q->accept_sock, q->addrs, 0, ADDR_ROOM, ADDR_ROOM, &got,
                      &q->ov))
        rc = wsa_errno();
    rc = (int)issued(e, slot, rc == 0, rc);
    if (rc < 0) {
        closesocket(q->accept_sock);
        q->accept_sock = INVALID_SOCKET;
    }
    return rc;
}

static int64_t start_accept_multi(vl_engine *e, uint32_t slot, const vl_op *op);

static int64_t start_accept(vl_engine *e, uint32_t slot, const vl_op *op)
{
    if (vl__op_is_multishot(op))
        return start_accept_multi(e, slot, op);
    int rc = accept_check(drv_of(e), req_of(drv_of(e), slot), op->fd);
    return rc < 0 ? rc : accept_issue(e, slot);
}

/* ConnectEx wants a bound socket: bind the wildcard address of the target's
 * family unless the caller bound it already (WSAEINVAL then). */
static int bind_any(SOCKET s, int family)
{
    SOCKADDR_STORAGE any;
    memset(&any, 0, sizeof(any));
    any.ss_family = (ADDRESS_FAMILY)family;
    int len =
        family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
    if (bind(s, (struct sockaddr *)&any, len) == 0 || WSAGetLastError() == WSAEINVAL)
        return 0;
    return wsa_errno();
}

static int64_t start_connect(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    DWORD type;
    req_reset(q, handle_of(op->fd));
    int rc = check_handle(q->h, &type);
    if (rc == 0 && !is_socket(q->h))
        return -ENOTSOCK; /* as for RECV/SEND: Wine's bind says WSAEOPNOTSUPP */
    if (rc == 0)
        rc = bind_any((SOCKET)q->h, op->u.connect.addr->sa_family);
    if (rc == 0)
        rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    BOOL ok = d->connect_ex((SOCKET)q->h, op->u.connect.addr, (int)op->u.connect.addrlen, NULL, 0,
                            NULL, &q->ov);
    return issued(e, slot, ok, ok ? 0 : wsa_errno());
}

/* Closing a handle ends the I/O pending on it; those ops still complete
 * through the port (cancelled), each once. CancelIoEx first makes that so
 * for files too, where CloseHandle alone may let pending I/O finish. */
static int64_t start_close(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e;
    (void)slot;
    HANDLE h = handle_of(op->fd);
    DWORD type;
    int rc = check_handle(h, &type);
    if (rc < 0)
        return rc;
    if (type == FILE_TYPE_PIPE && is_socket(h))
        return closesocket((SOCKET)h) == 0 ? 0 : wsa_errno();
    (void)CancelIoEx(h, NULL);
    return CloseHandle(h) ? 0 : vl_win_error_to_errno(GetLastError());
}

/* SHUTDOWN: Winsock's shutdown() (no overlapped form; it never blocks).
 * VL_SHUT_* are its SD_* values. */
static int64_t start_shutdown(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e;
    (void)slot;
    HANDLE h = handle_of(op->fd);
    DWORD type;
    int rc = check_handle(h, &type);
    if (rc < 0)
        return rc;
    if (!is_socket(h))
        return -ENOTSOCK;
    return shutdown((SOCKET)h, op->u.shutdown.how) == 0 ? 0 : wsa_errno();
}

/* SOCKET: WSASocketW, overlapped (every IOCP op needs it) and not
 * inheritable (the CLOEXEC of the contract). Its result, the SOCKET, is the
 * caller's fd, as ACCEPT's is. */
static int64_t start_socket(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e;
    (void)slot;
    SOCKET s = WSASocketW(op->u.socket.domain, op->u.socket.type, op->u.socket.protocol, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return wsa_errno();
    u_long on = 1;
    if ((op->u.socket.flags & VL_SOCK_NONBLOCK) && ioctlsocket(s, FIONBIO, &on) != 0) {
        int64_t err = wsa_errno();
        closesocket(s);
        return err;
    }
    return (int64_t)(intptr_t)s;
}

/* A socket handle for BIND and LISTEN: 0, -EBADF or -ENOTSOCK. */
static int socket_of(const vl_op *op, SOCKET *out)
{
    HANDLE h = handle_of(op->fd);
    DWORD type;
    int rc = check_handle(h, &type);
    if (rc < 0)
        return rc;
    if (!is_socket(h))
        return -ENOTSOCK;
    *out = (SOCKET)h;
    return 0;
}

/* BIND, LISTEN: Winsock's bind() and listen(), which never block. */
static int64_t start_bind(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e;
    (void)slot;
    SOCKET s;
    int rc = socket_of(op, &s);
    if (rc < 0)
        return rc;
    return bind(s, op->u.bind.addr, (int)op->u.bind.addrlen) == 0 ? 0 : wsa_errno();
}

static int64_t start_listen(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e;
    (void)slot;
    SOCKET s;
    int rc = socket_of(op, &s);
    if (rc < 0)
        return rc;
    return listen(s, op->u.listen.backlog) == 0 ? 0 : wsa_errno();
}

/* ---- files and paths ----------------------------------------------------------- */

/*
 * The file and path ops: Windows has no overlapped form of CreateFileW,
 * GetFileInformationByHandle(Ex), SetFileInformationByHandle, DeleteFileW,
 * RemoveDirectoryW, MoveFileExW or CreateDirectoryW, so each runs at once,
 * inside submit's hand-off to the driver (they may block the thread as
 * long as the file system takes), and completes like CLOSE. Paths are
 * UTF-8, converted to UTF-16 on the stack. The directory fd must be
 * VL_AT_FDCWD: Windows names no file relative to a handle short of
 * NtCreateFile's RootDirectory, which this driver does not use, so any
 * other fd is -EOPNOTSUPP. What Linux reports and Windows folds together
 * is told apart here: a path through a file (ERROR_PATH_NOT_FOUND) is
 * -ENOTDIR, a directory where a file is expected (ERROR_ACCESS_DENIED)
 * -EISDIR, a name over 255 bytes or a path over 4096 -ENAMETOOLONG.
 */
#define PATH_MAX_BYTES 4096
#define NAME_MAX_BYTES 255

/* path (UTF-8) into w; 0 or -errno. */
static int wide_path(const char *path, wchar_t w[PATH_MAX_BYTES + 1])
{
    size_t len = strlen(path), name = 0;
    if (len == 0)
        return -ENOENT;
    if (len > PATH_MAX_BYTES)
        return -ENAMETOOLONG;
    for (size_t k = 0; k < len; k++) {
        name = path[k] == '/' || path[k] == '\\' ? 0 : name + 1;
        if (name > NAME_MAX_BYTES)
            return -ENAMETOOLONG;
    }
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, (int)len + 1, w,
                                PATH_MAX_BYTES + 1);
    return n > 0 ? 0 : -EINVAL;
}

static DWORD attrs_of(const wchar_t *w)
{
    return GetFileAttributesW(w);
}

static bool is_dir(const wchar_t *w)
{
    DWORD a = attrs_of(w);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

/* ERROR_PATH_NOT_FOUND: -ENOTDIR if the longest prefix of w that exists is
 * not a directory (a path through a file), else -ENOENT. w is cut in place
 * and restored. */
static int path_not_found(wchar_t *w)
{
    int rc = -ENOENT;
    size_t len = wcslen(w);
    for (size_t k = len; k-- > 1;) {
        if (w[k] != L'/' && w[k] != L'\\')
            continue;
        wchar_t c = w[k];
        w[k] = 0;
        DWORD a = attrs_of(w);
        w[k] = c;
        if (a != INVALID_FILE_ATTRIBUTES) {
            rc = (a & FILE_ATTRIBUTE_DIRECTORY) ? -ENOENT : -ENOTDIR;
            break;
        }
    }
    return rc;
}

/* The errno of a failed call on w (GetLastError), with the cases above. */
static int path_error(wchar_t *w)
{
    DWORD err = GetLastError();
    if (err == ERROR_PATH_NOT_FOUND || err == ERROR_DIRECTORY)
        return path_not_found(w);
    return vl_win_error_to_errno(err);
}

static int check_dirfd(int dirfd)
{
    return dirfd == VL_AT_FDCWD ? 0 : -EOPNOTSUPP;
}

/* O_* to CreateFileW's access and disposition. O_APPEND: every write goes
 * to the end (a handle with FILE_APPEND_DATA and no FILE_WRITE_DATA). */
static void open_mode(int flags, DWORD *access, DWORD *disposition)
{
    DWORD write = (flags & O_APPEND) ? (FILE_GENERIC_WRITE & ~FILE_WRITE_DATA) : GENERIC_WRITE;
    int acc = flags & (O_RDONLY | O_WRONLY | O_RDWR);
    *access = acc == O_WRONLY ? write : acc == O_RDWR ? GENERIC_READ | write : GENERIC_READ;
    if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        *disposition = CREATE_NEW;
    else if ((flags & (O_CREAT | O_TRUNC)) == (O_CREAT | O_TRUNC))
        *disposition = CREATE_ALWAYS;
    else if (flags & O_CREAT)
        *disposition = OPEN_ALWAYS;
    else if (flags & O_TRUNC)
        *disposition = TRUNCATE_EXISTING;
    else
        *disposition = OPEN_EXISTING;
}

/* The handle (opened for overlapped I/O, so READ and WRITE on it go
 * through this driver; shared for reading, writing and deletion, as POSIX
 * files are), as an fd. Directories open for reading (backup semantics);
 * for writing they are -EISDIR. A file O_CREAT makes without 0200 in mode
 * is read-only. */
static int64_t start_openat(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    /* Resolve flags: CreateFileW has no such check, and an open without it
     * is what the caller asked not to happen. */
    if (op->u.openat.resolve != 0)
        return -EOPNOTSUPP;
    wchar_t w[PATH_MAX_BYTES + 1];
    int rc = check_dirfd(op->fd);
    if (rc == 0)
        rc = wide_path(op->u.openat.path, w);
    if (rc < 0)
        return rc;
    DWORD access, disposition;
    open_mode(op->u.openat.flags, &access, &disposition);
    DWORD attrs = (op->u.openat.flags & O_CREAT) && !(op->u.openat.mode & 0200)
                      ? FILE_ATTRIBUTE_READONLY
                      : FILE_ATTRIBUTE_NORMAL;
    HANDLE h =
        CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    disposition, attrs | FILE_FLAG_OVERLAPPED | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_ACCESS_DENIED && is_dir(w))
            return -EISDIR;
        SetLastError(err);
        return path_error(w);
    }
    if ((op->u.openat.flags & (O_WRONLY | O_RDWR)) != 0 && is_dir(w)) {
        CloseHandle(h);
        return -EISDIR;
    }
    return (int64_t)(intptr_t)h;
}

/* 100 ns units since 1601 to ns since 1970. */
static int64_t filetime_ns(LARGE_INTEGER t)
{
    return (t.QuadPart - 116444736000000000ll) * 100;
}

/* A vl_statx from h's information, as statx.h does from a struct stat:
 * no owner (mask without UID and GID), the permission bits from the
 * read-only attribute, a symlink where NOFOLLOW opened a reparse point. */
static int stat_handle(HANDLE h, struct vl_statx *st)
{
    BY_HANDLE_FILE_INFORMATION bh;
    FILE_BASIC_INFO basic;
    FILE_STANDARD_INFO std;
    if (!GetFileInformationByHandle(h, &bh) ||
        !GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof(basic)) ||
        !GetFileInformationByHandleEx(h, FileStandardInfo, &std, sizeof(std)))
        return vl_win_error_to_errno(GetLastError());
    memset(st, 0, sizeof(*st));
    st->mask = VL_STATX_TYPE | VL_STATX_MODE | VL_STATX_NLINK | VL_STATX_ATIME | VL_STATX_MTIME |
               VL_STATX_CTIME | VL_STATX_INO | VL_STATX_SIZE | VL_STATX_BLOCKS | VL_STATX_BTIME;
    DWORD a = bh.dwFileAttributes;
    uint32_t perm = (a & FILE_ATTRIBUTE_READONLY) ? 0444u : 0666u;
    if (a & FILE_ATTRIBUTE_REPARSE_POINT)
        st->mode = VL_S_IFLNK | 0777u;
    else if (a & FILE_ATTRIBUTE_DIRECTORY)
        st->mode = VL_S_IFDIR | perm | 0111u;
    else
        st->mode = VL_S_IFREG | perm;
    st->nlink = bh.nNumberOfLinks;
    st->blksize = 4096;
    st->ino = (uint64_t)bh.nFileIndexHigh << 32 | bh.nFileIndexLow;
    st->dev = bh.dwVolumeSerialNumber;
    st->size = (uint64_t)std.EndOfFile.QuadPart;
    st->blocks = (uint64_t)(std.AllocationSize.QuadPart + 511) / 512;
    st->atime_ns = filetime_ns(basic.LastAccessTime);
    st->btime_ns = filetime_ns(basic.CreationTime);
    st->ctime_ns = filetime_ns(basic.ChangeTime);
    st->mtime_ns = filetime_ns(basic.LastWriteTime);
    return 0;
}

/* VL_AT_EMPTY_PATH with "": the fd itself (the working directory for
 * VL_AT_FDCWD); else the path, opened for its attributes only. */
static int64_t start_statx(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    const char *path = op->u.statx.path;
    int flags = op->u.statx.flags;
    if ((flags & VL_AT_EMPTY_PATH) && path[0] == '\0') {
        if (op->fd != VL_AT_FDCWD) {
            DWORD type;
            int rc = check_handle(handle_of(op->fd), &type);
            return rc < 0 ? rc : stat_handle(handle_of(op->fd), op->u.statx.buf);
        }
        path = ".";
    }
    wchar_t w[PATH_MAX_BYTES + 1];
    int rc = check_dirfd(op->fd);
    if (rc == 0)
        rc = wide_path(path, w);
    if (rc < 0)
        return rc;
    DWORD how = FILE_FLAG_BACKUP_SEMANTICS;
    if (flags & VL_AT_SYMLINK_NOFOLLOW)
        how |= FILE_FLAG_OPEN_REPARSE_POINT;
    HANDLE h =
        CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, how, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return path_error(w);
    rc = stat_handle(h, op->u.statx.buf);
    CloseHandle(h);
    return rc;
}

/* The end of the file moves (the bytes a larger size adds read as zeros).
 * Not a disk file, or a handle without write access: -EINVAL, as Linux
 * says of a pipe or a read-only fd. */
static int64_t start_ftruncate(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    HANDLE h = handle_of(op->fd);
    DWORD type;
    int rc = check_handle(h, &type);
    if (rc < 0)
        return rc;
    if (type != FILE_TYPE_DISK)
        return -EINVAL;
    FILE_END_OF_FILE_INFO eof = {.EndOfFile.QuadPart = op->u.ftruncate.length};
    if (SetFileInformationByHandle(h, FileEndOfFileInfo, &eof, sizeof(eof)))
        return 0;
    DWORD err = GetLastError();
    return err == ERROR_ACCESS_DENIED ? -EINVAL : vl_win_error_to_errno(err);
}

static int64_t start_unlinkat(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    wchar_t w[PATH_MAX_BYTES + 1];
    int rc = check_dirfd(op->fd);
    if (rc == 0)
        rc = wide_path(op->u.unlinkat.path, w);
    if (rc < 0)
        return rc;
    if (op->u.unlinkat.flags & VL_AT_REMOVEDIR) {
        if (RemoveDirectoryW(w))
            return 0;
        DWORD err = GetLastError();
        DWORD a = attrs_of(w);
        if (a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY))
            return -ENOTDIR;
        SetLastError(err);
        return path_error(w);
    }
    if (DeleteFileW(w))
        return 0;
    DWORD err = GetLastError();
    if (is_dir(w))
        return -EISDIR;
    SetLastError(err);
    return path_error(w);
}

/* MoveFileExW replaces an existing file, never a directory: a file onto a
 * directory is -EISDIR and a directory onto a file -ENOTDIR, as on Linux;
 * a directory onto an empty one, which Linux replaces, fails here. */
static int64_t start_renameat(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    wchar_t from[PATH_MAX_BYTES + 1], to[PATH_MAX_BYTES + 1];
    int rc = check_dirfd(op->fd);
    if (rc == 0)
        rc = check_dirfd(op->u.renameat.newdirfd);
    if (rc == 0)
        rc = wide_path(op->u.renameat.oldpath, from);
    if (rc == 0)
        rc = wide_path(op->u.renameat.newpath, to);
    if (rc < 0)
        return rc;
    if (MoveFileExW(from, to, MOVEFILE_REPLACE_EXISTING))
        return 0;
    DWORD err = GetLastError();
    DWORD fa = attrs_of(from), ta = attrs_of(to);
    if (fa == INVALID_FILE_ATTRIBUTES) {
        SetLastError(err == ERROR_ACCESS_DENIED ? ERROR_FILE_NOT_FOUND : err);
        return path_error(from);
    }
    if (ta != INVALID_FILE_ATTRIBUTES && ((fa ^ ta) & FILE_ATTRIBUTE_DIRECTORY) != 0)
        return (ta & FILE_ATTRIBUTE_DIRECTORY) ? -EISDIR : -ENOTDIR;
    SetLastError(err);
    return path_error(to);
}

/* Windows has no permission bits to give: mode is checked at submit and
 * otherwise unused. */
static int64_t start_mkdirat(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    wchar_t w[PATH_MAX_BYTES + 1];
    int rc = check_dirfd(op->fd);
    if (rc == 0)
        rc = wide_path(op->u.mkdirat.path, w);
    if (rc < 0)
        return rc;
    return CreateDirectoryW(w, NULL) ? 0 : path_error(w);
}

/*
 * READV, WRITEV. On a socket: one WSARecv / WSASend of the list as WSABUF
 * entries (vec_fill, as SENDV), which Winsock fills and drains in order;
 * a receive completes with what arrived, short as readv(2) on a socket is.
 * On a file or pipe, ReadFile and WriteFile take one buffer, and Windows'
 * scatter/gather calls (ReadFileScatter/WriteFileGather) only whole,
 * page-aligned pages of a file opened without buffering. So the list goes
 * through one buffer: its only non-empty entry when it has one (no copy),
 * else a bounce buffer of the list's total length, allocated here (the
 * core capped the total at INT32_MAX; -ENOMEM if it cannot be had), filled
 * from the list for a WRITEV, scattered into it at completion for a READV
 * (bounce_done). The op is then one ReadFile or WriteFile, so a short
 * transfer, EOF, a cancel and the position at offset -1 are a READ's or a
 * WRITE's, exactly as readv(2) and writev(2) report them.
 */
static bool rwv_single(const vl_iovec *iov, uint32_t n, void **buf)
{
    *buf = NULL;
    for (uint32_t k = 0; k < n; k++) {
        if (iov[k].len == 0)
            continue;
        if (*buf != NULL)
            return false;
        *buf = iov[k].base;
    }
    return true;
}

/* A READV's bytes from its bounce buffer into the list, in order; then the
 * buffer goes. r: the op's result (nothing is copied for an error). */
static void bounce_done(struct iocp_req *q, const vl_op *op, int64_t r)
{
    if (op->kind == VL_OP_READV && r > 0) {
        size_t left = (size_t)r, at = 0;
        for (uint32_t k = 0; k < op->u.rwv.iovcnt && left > 0; k++) {
            size_t n = op->u.rwv.iov[k].len < left ? op->u.rwv.iov[k].len : left;
            if (n == 0)
                continue;
            memcpy(op->u.rwv.iov[k].base, q->bounce + at, n);
            at += n;
            left -= n;
        }
    }
    free(q->bounce);
    q->bounce = NULL;
}

static int64_t start_rwv_socket(vl_engine *e, uint32_t slot, struct iocp_req *q, const vl_op *op,
                                size_t total, bool write)
{
    uint32_t n = op->u.rwv.iovcnt;
    if (op->u.rwv.offset != -1)
        return -ESPIPE;
    if (total == 0)
        return 0; /* the zero-byte receive would wait for data (see start_rw) */
    int rc = associate(drv_of(e), q->h);
    if (rc < 0)
        return rc;
    WSABUF *w = vec_fill(q, op->u.rwv.iov, n);
    if (w == NULL)
        return -ENOMEM;
    DWORD fl = 0;
    int r = write ? WSASend((SOCKET)q->h, w, n, NULL, 0, &q->ov, NULL)
                  : WSARecv((SOCKET)q->h, w, n, NULL, &fl, &q->ov, NULL);
    int64_t res = issued(e, slot, r == 0, r == 0 ? 0 : wsa_errno());
    if (res < 0)
        vec_free(q);
    return res;
}

static int64_t start_rwv(vl_engine *e, uint32_t slot, const vl_op *op, bool write)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    const vl_iovec *iov = op->u.rwv.iov;
    uint32_t n = op->u.rwv.iovcnt;
    DWORD type;
    req_reset(q, handle_of(op->fd));
    int rc = check_handle(q->h, &type);
    if (rc < 0)
        return rc;
    size_t total = vec_total(iov, n);
    if (type == FILE_TYPE_PIPE && is_socket(q->h))
        return start_rwv_socket(e, slot, q, op, total, write);
    rc = set_offset(q, type, op->u.rwv.offset);
    if (rc == 0 && total == 0)
        return 0;
    if (rc == 0)
        rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    void *buf;
    if (!rwv_single(iov, n, &buf)) {
        vl__engine_stats(e)->not_native++; /* a READ or WRITE of a copy */
        q->bounce = malloc(total);
        if (q->bounce == NULL)
            return -ENOMEM;
        if (write) {
            size_t at = 0;
            for (uint32_t k = 0; k < n; k++) {
                if (iov[k].len > 0)
                    memcpy(q->bounce + at, iov[k].base, iov[k].len);
                at += iov[k].len;
            }
        }
        buf = q->bounce;
    }
    int64_t res = file_issue(e, slot, q, buf, (DWORD)total, write);
    if (islot(vl__engine_slot(e, slot))->held == 0 && q->bounce != NULL)
        bounce_done(q, op, res); /* no packet will come: ended here */
    return res;
}

static int64_t start_readv(vl_engine *e, uint32_t slot, const vl_op *op)
{
    return start_rwv(e, slot, op, false);
}

static int64_t start_writev(vl_engine *e, uint32_t slot, const vl_op *op)
{
    return start_rwv(e, slot, op, true);
}

/*
 * WAITPID. A Windows process is a kernel object; its id (what CreateProcess
 * returns in dwProcessId) names it while any handle to it is open, and may
 * be reused once the last one closes. So the driver opens the process at
 * submit (OpenProcess with SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION),
 * which pins the id from then on, and checks that it is a child of this
 * process: its parent id is ours and it was created after us (a process
 * whose parent had our id before us is not ours). Anything else is -ECHILD,
 * as waitpid(2) answers: no such process, this process itself, another
 * process's child, one this process may not open.
 *
 * The wait: RegisterWaitForSingleObject (WT_EXECUTEONLYONCE, run in the
 * wait thread: the callback only posts) on the process handle, whose
 * callback posts the request's OVERLAPPED to the port under KEY_CHILD;
 * that packet completes the op with GetExitCodeProcess's code (encoded as
 * <vllsi/engine.h> says, child_result). A process that exited already
 * completes at submit. Windows has no reaping: the driver closes its handle
 * when the op ends, and the process object goes when its last handle does.
 *
 * CANCEL, a deadline and shutdown unregister the wait with UnregisterWaitEx
 * (INVALID_HANDLE_VALUE: it returns only once a callback that started has
 * returned). Then child.fired tells which way it went: the callback had
 * posted (the op completes with the exit code at its packet, the CANCEL
 * answers -EALREADY), or it never will (-ECANCELED now). No callback is
 * left to post to a port that fini closes: shutdown completes every op
 * first, and each one's wait is unregistered by then.
 */
static VOID CALLBACK child_exited(PVOID ctx, BOOLEAN timed_out)
{
    struct iocp_req *q = ctx;
    (void)timed_out; /* registered with INFINITE: never */
    InterlockedExchange(&q->child.fired, 1);
    /* The op's one completion: a post fails only without memory for the
     * packet, so it is tried again until it goes. */
    while (!PostQueuedCompletionStatus(q->child.port, 0, KEY_CHILD, &q->ov))
        Sleep(1);
}

/* The signal number a Windows exception status stands for: the C
 * runtime's own mapping (signal(3) on Windows raises these for them); 0
 * when none does. */
static int child_signal(DWORD code)
{
    switch (code) {
    case 0xC0000005u: /* STATUS_ACCESS_VIOLATION      */
    case 0xC0000006u: /* STATUS_IN_PAGE_ERROR         */
    case 0xC00000FDu: /* STATUS_STACK_OVERFLOW        */
    case 0x80000002u: /* STATUS_DATATYPE_MISALIGNMENT */
        return SIGSEGV;
    case 0xC000001Du: /* STATUS_ILLEGAL_INSTRUCTION   */
    case 0xC0000096u: /* STATUS_PRIVILEGED_INSTRUCTION */
        return SIGILL;
    case 0xC000008Du: /* STATUS_FLOAT_DENORMAL_OPERAND .. */
    case 0xC000008Eu:
    case 0xC000008Fu:
    case 0xC0000090u:
    case 0xC0000091u:
    case 0xC0000092u:
    case 0xC0000093u: /* .. STATUS_FLOAT_UNDERFLOW     */
    case 0xC0000094u: /* STATUS_INTEGER_DIVIDE_BY_ZERO */
    case 0xC0000095u: /* STATUS_INTEGER_OVERFLOW      */
        return SIGFPE;
    case 0xC000013Au: /* STATUS_CONTROL_C_EXIT        */
        return SIGINT;
    case 0xC0000409u: /* STATUS_STACK_BUFFER_OVERRUN: __fastfail, abort() */
        return SIGABRT;
    default:
        return 0;
    }
}

/* The exit code as WAITPID's result (<vllsi/engine.h>, vl_op_waitpid). */
static int64_t child_result(DWORD code)
{
    if (code <= 0xff)
        return code;
    int64_t full = (int64_t)code << 16;
    /* A system NTSTATUS of warning or error severity (customer bit clear):
     * an exception or a fatal error ended the process. */
    if ((code & 0xB0000000u) == 0x80000000u)
        return full | VL_CHILD_SIGNALED | child_signal(code);
    return full | (code & 0xff);
}

/* The process pid, opened, if it is a child of this process: 0 and *out,
 * or -ECHILD (or what the system said). */
static int child_open(int pid, HANDLE *out)
{
    if ((DWORD)pid == GetCurrentProcessId())
        return -ECHILD;
    HANDLE p = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
    if (p == NULL) {
        DWORD err = GetLastError();
        /* No such process (ERROR_INVALID_PARAMETER), or one this process
         * may not open, which it did not create. */
        if (err == ERROR_INVALID_PARAMETER || err == ERROR_ACCESS_DENIED)
            return -ECHILD;
        return vl_win_error_to_errno(err);
    }
    PROCESS_BASIC_INFORMATION pbi;
    FILETIME born, ours, x, k, u;
    NTSTATUS st = NtQueryInformationProcess(p, ProcessBasicInformation, &pbi, sizeof(pbi), NULL);
    int rc = 0;
    if (st < 0)
        rc = vl_ntstatus_to_errno(st);
    else if (!GetProcessTimes(p, &born, &x, &k, &u) ||
             !GetProcessTimes(GetCurrentProcess(), &ours, &x, &k, &u))
        rc = vl_win_error_to_errno(GetLastError());
    else if (pbi.InheritedFromUniqueProcessId != GetCurrentProcessId() ||
             CompareFileTime(&born, &ours) < 0)
        rc = -ECHILD;
    if (rc < 0) {
        CloseHandle(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The exited process's result; its handle is closed. */
static int64_t child_reap(HANDLE p)
{
    DWORD code = 0;
    int64_t r =
        GetExitCodeProcess(p, &code) ? child_result(code) : vl_win_error_to_errno(GetLastError());
    CloseHandle(p);
    return r;
}

static int64_t start_waitpid(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    HANDLE p = NULL;
    int rc = child_open(op->u.waitpid.pid, &p);
    if (rc < 0)
        return rc;
    if (WaitForSingleObject(p, 0) == WAIT_OBJECT_0)
        return child_reap(p); /* exited already */
    req_reset(q, p);
    q->child.port = d->port;
    q->child.wait = NULL;
    q->child.fired = 0;
    if (!RegisterWaitForSingleObject(&q->child.wait, p, child_exited, q, INFINITE,
                                     WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
        rc = vl_win_error_to_errno(GetLastError());
        CloseHandle(p);
        return rc;
    }
    islot(vl__engine_slot(e, slot))->held = HELD_CHILD;
    return 0;
}

/* Unregister slot's wait (once): whether its callback had posted. */
static bool child_unwait(struct iocp_req *q)
{
    if (q->child.wait != NULL) {
        /* Fails only for a handle that is not a wait: never here. */
        (void)UnregisterWaitEx(q->child.wait, INVALID_HANDLE_VALUE);
        q->child.wait = NULL;
    }
    return q->child.fired != 0;
}

/* CANCEL, a deadline or shutdown of a WAITPID the driver holds: 0 and
 * -ECANCELED now, or -EALREADY when the process's exit is on the port
 * already (the op then completes with the exit code). */
static int child_cancel(vl_engine *e, uint32_t slot)
{
    struct iocp_req *q = req_of(drv_of(e), slot);
    if (child_unwait(q))
        return -EALREADY;
    CloseHandle(q->h);
    q->h = NULL;
    vl__engine_complete(e, slot, -ECANCELED, 0);
    return 0;
}

/* A WAITPID's packet: the process exited. */
static void child_done(vl_engine *e, OVERLAPPED *ov)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = CONTAINING_RECORD(ov, struct iocp_req, ov);
    (void)child_unwait(q);
    HANDLE p = q->h;
    q->h = NULL;
    vl__engine_complete(e, (uint32_t)(q - d->reqs), child_reap(p), 0);
}

/*
 * FSYNC: FlushFileBuffers, inline (it blocks until the disk has the data;
 * Windows has no overlapped flush). A disk file only: a pipe's flush waits
 * for the reader to drain it, so a pipe, a socket or a console answers
 * -EINVAL, as fsync(2) does on Linux for what it cannot sync. DATASYNC
 * flushes the same (the metadata goes along).
 */
static int64_t start_fsync(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot;
    HANDLE h = handle_of(op->fd);
    DWORD type;
    int rc = check_handle(h, &type);
    if (rc < 0)
        return rc;
    if (type != FILE_TYPE_DISK)
        return -EINVAL;
    return FlushFileBuffers(h) ? 0 : vl_win_error_to_errno(GetLastError());
}

/*
 * POLL: not on IOCP. Windows reports readiness of sockets only through the
 * AFD driver's IOCTL_AFD_POLL (what wepoll and mio build on), an
 * undocumented interface this driver does not use, and of no other handle
 * at all; so every POLL, one-shot or multishot, completes with -EOPNOTSUPP
 * (docs/engine.md, docs/windows.md).
 */
static int64_t start_poll(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot, (void)op;
    return -EOPNOTSUPP;
}

static int64_t start_timeout(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)op;
    vl__timer_heap_insert(&drv_of(e)->timers, slot);
    islot(vl__engine_slot(e, slot))->held = HELD_TIMER;
    return 0;
}

static int64_t start_nop(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e;
    (void)slot;
    (void)op;
    return 0;
}

/* ---- cancel ------------------------------------------------------------------ */

static void undefer(vl_engine *e, uint32_t slot);
static void multi_end(vl_engine *e, uint32_t slot, int64_t r);

/*
 * CANCEL of an op with I/O in the kernel answers only once the target has
 * completed: 0 when the target ended cancelled, -EALREADY when it finished
 * with its own result first (CancelIoEx can succeed while the I/O is
 * completing). So CANCEL's result is always exact.
 */
static int64_t start_cancel(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)op;
    struct iocp_drv *d = drv_of(e);
    uint32_t t = vl__engine_slot(e, slot)->target;
    struct vl__slot *ts = vl__engine_slot(e, t);
    if (islot(ts)->held == HELD_TIMER) {
        vl__timer_heap_remove(&d->timers, t);
        vl__engine_complete(e, t, -ECANCELED, 0);
        return 0;
    }
    if (islot(ts)->held == HELD_DEFER) {
        undefer(e, t);
        multi_end(e, t, -ECANCELED);
        return 0;
    }
    if (islot(ts)->held == HELD_CHILD)
        return child_cancel(e, t);
    if (islot(ts)->held != HELD_IO)
        return -EALREADY; /* a CANCEL itself: it ends with its own target */
    struct iocp_req *q = req_of(d, t);
    bool multi = vl__op_is_multishot(&ts->op);
    /* A multishot op whose request already completed still ends at its
     * packet (multi_done sees cancel_slot), so the CANCEL waits for it. */
    if (!CancelIoEx(q->h, &q->ov) && !multi)
        return GetLastError() == ERROR_NOT_FOUND ? -EALREADY
                                                 : vl_win_error_to_errno(GetLastError());
    q->cancel_slot = slot;
    islot(vl__engine_slot(e, slot))->held = HELD_CANCEL;
    return 0;
}

static int iocp_cancel(vl_engine *e, uint32_t slot)
{
    struct iocp_drv *d = drv_of(e);
    struct vl__slot *s = vl__engine_slot(e, slot);
    if (islot(s)->held == HELD_TIMER) {
        vl__timer_heap_remove(&d->timers, slot);
        vl__engine_complete(e, slot, -ECANCELED, 0);
    } else if (islot(s)->held == HELD_DEFER) {
        undefer(e, slot);
        multi_end(e, slot, -ECANCELED);
    } else if (islot(s)->held == HELD_CHILD) {
        (void)child_cancel(e, slot); /* -EALREADY: it completes at its packet */
    } else if (islot(s)->held == HELD_IO) {
        struct iocp_req *q = req_of(d, slot);
        q->stop = true; /* a multishot op must not re-arm after this */
        /* ERROR_NOT_FOUND: the I/O finished and its packet is queued. */
        (void)CancelIoEx(q->h, &q->ov);
    }
    return 0;
}

/* ---- submit ------------------------------------------------------------------ */

typedef int64_t (*start_fn)(vl_engine *e, uint32_t slot, const vl_op *op);

static int64_t start_read(vl_engine *e, uint32_t slot, const vl_op *op)
{
    return start_rw(e, slot, op, false);
}

static int64_t start_write(vl_engine *e, uint32_t slot, const vl_op *op)
{
    return start_rw(e, slot, op, true);
}

static int64_t start_send(vl_engine *e, uint32_t slot, const vl_op *op)
{
    return start_msg(e, slot, op, true);
}

static int64_t start_recv_multi(vl_engine *e, uint32_t slot, const vl_op *op);

static int64_t start_recv(vl_engine *e, uint32_t slot, const vl_op *op)
{
    if (vl__op_is_multishot(op))
        return start_recv_multi(e, slot, op);
    return start_msg(e, slot, op, false);
}

/* The most TransmitFile sends in one call: 2^31 - 2 (its
 * nNumberOfBytesToWrite is a DWORD, but 2^31 - 1 and above are refused). */
#define TRANSMIT_MAX 0x7ffffffeu

/*
 * SENDFILE: TransmitFile (the WSAID_TRANSMITFILE extension) of the file's
 * bytes from the offset in the OVERLAPPED; -1 reads the file's position
 * now and moves it by what was sent when the packet comes (advance, with
 * the file in q->file), as READ at -1 does. count 0 and an offset at or
 * past the end are 0 at once (TransmitFile would send the whole file for
 * 0); a count past the end is cut to it, and one above TRANSMIT_MAX to
 * that, a short transfer. The out fd must be a socket (-ENOTSOCK) and the
 * file a disk file (-EINVAL), as the BSDs' sendfile asks.
 */
static int64_t start_sendfile(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    DWORD type, ftype;
    req_reset(q, handle_of(op->fd));
    HANDLE file = handle_of(op->u.sendfile.file_fd);
    int rc = check_handle(q->h, &type);
    if (rc == 0)
        rc = check_handle(file, &ftype);
    if (rc < 0)
        return rc;
    if (!is_socket(q->h))
        return -ENOTSOCK;
    if (ftype != FILE_TYPE_DISK)
        return -EINVAL;
    if (d->transmit_file == NULL)
        return -EOPNOTSUPP;
    int64_t off = op->u.sendfile.offset;
    LARGE_INTEGER size, zero = {.QuadPart = 0}, pos;
    if (off == -1) {
        if (!SetFilePointerEx(file, zero, &pos, FILE_CURRENT))
            return vl_win_error_to_errno(GetLastError());
        off = pos.QuadPart;
        q->advance = true;
        q->file = file;
    }
    if (!GetFileSizeEx(file, &size))
        return vl_win_error_to_errno(GetLastError());
    if (op->u.sendfile.count == 0 || off >= size.QuadPart)
        return 0;
    uint64_t n = op->u.sendfile.count;
    if (n > (uint64_t)(size.QuadPart - off))
        n = (uint64_t)(size.QuadPart - off);
    if (n > TRANSMIT_MAX)
        n = TRANSMIT_MAX;
    q->ov.Offset = (DWORD)off;
    q->ov.OffsetHigh = (DWORD)((uint64_t)off >> 32);
    rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    BOOL ok = d->transmit_file((SOCKET)q->h, file, (DWORD)n, 0, &q->ov, NULL, 0);
    return issued(e, slot, ok, ok ? 0 : wsa_errno());
}

/* SPLICE: Windows has no pipe-to-fd move without a copy. */
static int64_t start_splice(vl_engine *e, uint32_t slot, const vl_op *op)
{
    (void)e, (void)slot, (void)op;
    return -EOPNOTSUPP;
}

/* How to start each kind: start_<name> for each X(NAME, name) of the list
 * in <vllsi/op_kinds.h> (a kind without one does not compile). */
#define START_ROW(NAME, name) [VL_OP_##NAME] = start_##name,
static const start_fn op_table[] = {VL_OP_KINDS(START_ROW)};
#undef START_ROW
_Static_assert(sizeof(op_table) / sizeof(op_table[0]) == VL_OP_KIND_COUNT_,
               "iocp op_table has a function for every op kind");

static int iocp_submit(vl_engine *e, uint32_t slot)
{
    struct vl__slot *s = vl__engine_slot(e, slot);
    islot(s)->held = 0;
    int64_t r = op_table[s->op.kind](e, slot, &s->op); /* the core validated the kind */
    if (islot(s)->held == 0)
        vl__engine_complete(e, slot, r, 0);
    else if (islot(s)->held == HELD_ENDED)
        islot(s)->held = 0;
    return 0;
}

/* ---- completions ------------------------------------------------------------- */

/*
 * AcceptEx connected q's socket: give it the listener's context, and with
 * VL_SOCK_NONBLOCK FIONBIO. That mode is Winsock's non-blocking socket
 * mode: the caller's own recv/send/connect on it answer WSAEWOULDBLOCK
 * rather than wait; the engine's overlapped requests on it are not
 * affected. Only after SO_UPDATE_ACCEPT_CONTEXT, which makes it a socket
 * of its own like accept's.
 */
static int64_t accept_done(struct iocp_drv *d, struct iocp_req *q, const vl_op *op,
                           struct sockaddr *addr, socklen_t *addrlen)
{
    SOCKET s = q->accept_sock;
    SOCKET listener = (SOCKET)q->h;
    q->accept_sock = INVALID_SOCKET;
    u_long on = 1;
    if (setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (char *)&listener, sizeof(listener)) !=
            0 ||
        ((op->u.accept.flags & VL_SOCK_NONBLOCK) && ioctlsocket(s, FIONBIO, &on) != 0)) {
        int err = wsa_errno();
        closesocket(s);
        return err;
    }
    if (addr != NULL) {
        struct sockaddr *local, *remote;
        int llen = 0, rlen = 0;
        d->accept_addrs(q->addrs, 0, ADDR_ROOM, ADDR_ROOM, &local, &llen, &remote, &rlen);
        socklen_t n = *addrlen < rlen ? *addrlen : rlen;
        memcpy(addr, remote, (size_t)n);
        *addrlen = rlen;
    }
    return (int64_t)(intptr_t)s;
}

/* The op's result from its request's final status and byte count. */
/* A RECVMSG's packet: the caller's WSAMSG says what arrived. Winsock
 * writes its namelen, Control.len and dwFlags at completion; a cut
 * datagram's MSG_TRUNC is set here too, from the packet's status, so that
 * it never depends on the provider. */
static void recvmsg_done(struct iocp_req *q, WSAMSG *m, bool cut)
{
    if (q->stream) {
        m->dwFlags = 0;
        return;
    }
    if (cut)
        m->dwFlags |= VL_MSG_TRUNC;
}

static int64_t io_result(struct iocp_drv *d, struct iocp_req *q, const vl_op *op)
{
    int32_t status = (int32_t)q->ov.Internal;
    int64_t bytes = (int64_t)q->ov.InternalHigh;
    bool reading = op->kind == VL_OP_READ || op->kind == VL_OP_RECV || op->kind == VL_OP_READV;
    /* A datagram longer than the buffers: its first bytes, and MSG_TRUNC. */
    bool cut = op->kind == VL_OP_RECVMSG && status == ST_BUFFER_OVERFLOW;
    if (cut)
        status = 0;
    if (status < 0) {
        if (q->accept_sock != INVALID_SOCKET) {
            closesocket(q->accept_sock);
            q->accept_sock = INVALID_SOCKET;
        }
        /* A pipe whose writer is gone, or a file's end: EOF is 0. */
        if (reading && (status == ST_END_OF_FILE || status == ST_PIPE_BROKEN))
            return 0;
        return vl_ntstatus_to_errno(status);
    }
    if (op->kind == VL_OP_ACCEPT)
        return accept_done(d, q, op, op->u.accept.addr, op->u.accept.addrlen);
    if (op->kind == VL_OP_RECVMSG)
        recvmsg_done(q, op->u.mh.msg, cut);
    if (op->kind == VL_OP_CONNECT) {
        setsockopt((SOCKET)q->h, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
        return 0;
    }
    if (q->advance) {
        LARGE_INTEGER by = {.QuadPart = bytes};
        (void)SetFilePointerEx(q->file, by, NULL, FILE_CURRENT);
    }
    return bytes;
}

/* The op's final completion, and the answer of a CANCEL waiting for it. */
static void finish(vl_engine *e, uint32_t slot, int64_t r)
{
    struct iocp_req *q = req_of(drv_of(e), slot);
    vl__engine_complete(e, slot, r, 0);
    if (q->cancel_slot != NONE) {
        vl__engine_complete(e, q->cancel_slot, r == -ECANCELED ? 0 : -EALREADY, 0);
        q->cancel_slot = NONE;
    }
}

/* ---- multishot ------------------------------------------------------------------
 *
 * A multishot RECV arms a zero-byte WSARecv: it completes when data, EOF or an
 * error arrives, without holding a pool buffer, so idle connections hold
 * none (io_uring's provided buffers behave the same). Then what the socket
 * holds (FIONREAD) is read into pool buffers, one VL_CQE_MORE completion
 * each, and the probe is armed again. EOF (the probe fires with nothing to
 * read), an error, or data or EOF with the pool empty (-ENOBUFS; they stay
 * in the socket) end the op. A multishot ACCEPT chains AcceptEx calls; a connection
 * that died in the backlog is skipped, any other error ends the op. When
 * the completion queue is full an op waits on the deferred list (HELD_DEFER)
 * until the caller's next poll has drained it.
 */

static void defer(vl_engine *e, uint32_t slot)
{
    struct iocp_drv *d = drv_of(e);
    struct vl__slot *s = vl__engine_slot(e, slot);
    vl__engine_stats(e)->cq_deferred++; /* for vl_engine_stats */
    islot(s)->held = HELD_DEFER;
    islot(s)->next = NONE;
    if (d->defer_tail == NONE)
        d->defer_head = slot;
    else
        islot(vl__engine_slot(e, d->defer_tail))->next = slot;
    d->defer_tail = slot;
}

/* Take slot off the deferred list (cancel); the list is short. */
static void undefer(vl_engine *e, uint32_t slot)
{
    struct iocp_drv *d = drv_of(e);
    uint32_t prev = NONE;
    for (uint32_t i = d->defer_head; i != NONE; prev = i, i = islot(vl__engine_slot(e, i))->next) {
        if (i != slot)
            continue;
        uint32_t next = islot(vl__engine_slot(e, i))->next;
        if (prev == NONE)
            d->defer_head = next;
        else
            islot(vl__engine_slot(e, prev))->next = next;
        if (d->defer_tail == slot)
            d->defer_tail = prev;
        return;
    }
}

static void multi_end(vl_engine *e, uint32_t slot, int64_t r)
{
    islot(vl__engine_slot(e, slot))->held = HELD_ENDED;
    finish(e, slot, r);
}

static int64_t recv_probe(vl_engine *e, uint32_t slot)
{
    struct iocp_req *q = req_of(drv_of(e), slot);
    WSABUF b = {0, NULL};
    DWORD fl = 0;
    memset(&q->ov, 0, sizeof(q->ov));
    int r = WSARecv((SOCKET)q->h, &b, 1, NULL, &fl, &q->ov, NULL);
    return issued(e, slot, r == 0, r == 0 ? 0 : wsa_errno());
}

/* Read what the socket holds into pool buffers, then probe again. After a
 * probe fired (probed), nothing to read means EOF. */
static void recv_multi_run(vl_engine *e, uint32_t slot, bool probed)
{
    struct vl__slot *s = vl__engine_slot(e, slot);
    struct vl_bufpool *p = s->op.u.msg.pool;
    SOCKET sock = (SOCKET)req_of(drv_of(e), slot)->h;
    for (int k = 0; k < MULTI_BURST; k++) {
        u_long avail = 0;
        if (!vl__engine_cq_room(e))
            return defer(e, slot);
        if (ioctlsocket(sock, FIONREAD, &avail) != 0)
            return multi_end(e, slot, wsa_errno());
        if (avail == 0 && probed && k == 0) /* EOF; with the pool empty as data is */
            return multi_end(e, slot, p->nfree > 0 ? 0 : -ENOBUFS);
        if (avail == 0)
            break;
        uint32_t bid;
        if (!vl__pool_take(p, &bid))
            return multi_end(e, slot, -ENOBUFS);
        int want = (int)(avail < p->size ? avail : p->size);
        int n = recv(sock, (char *)vl__pool_buf(p, bid), want, s->op.u.msg.flags);
        if (n <= 0) {
            vl__pool_untake(p, bid);
            return multi_end(e, slot, n == 0 ? 0 : wsa_errno());
        }
        vl__pool_mark_out(p, bid);
        vl__engine_complete(e, slot, n, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    }
    int64_t r = recv_probe(e, slot);
    if (r < 0)
        multi_end(e, slot, r);
}

/* A multishot RECV (start_recv sends it here): emulated, although RECV is
 * a native kind here, so vl_engine_stats is told. */
static int64_t start_recv_multi(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    vl__engine_stats(e)->not_native++;
    struct iocp_req *q = req_of(d, slot);
    DWORD type;
    req_reset(q, handle_of(op->fd));
    int rc = check_handle(q->h, &type);
    if (rc == 0 && !is_socket(q->h))
        return -ENOTSOCK;
    if (rc == 0)
        rc = associate(d, q->h);
    if (rc < 0)
        return rc;
    recv_multi_run(e, slot, false);
    return 0;
}

/* Chain the next AcceptEx, or wait for room in the completion queue. */
static void accept_multi_next(vl_engine *e, uint32_t slot)
{
    if (!vl__engine_cq_room(e))
        return defer(e, slot);
    int64_t r = accept_issue(e, slot);
    if (r < 0)
        multi_end(e, slot, r);
}

/* A multishot ACCEPT (start_accept sends it here). */
static int64_t start_accept_multi(vl_engine *e, uint32_t slot, const vl_op *op)
{
    int rc = accept_check(drv_of(e), req_of(drv_of(e), slot), op->fd);
    if (rc < 0)
        return rc;
    accept_multi_next(e, slot);
    return 0;
}

/*
 * A multishot RECVMSG: each request is one WSARecvMsg (on a stream,
 * WSARecv) into a pool buffer laid out as vl_recvmsg_out: its name and
 * control areas and the payload area after them, described by the
 * request's own WSAMSG. Unlike a multishot RECV it holds its buffer while
 * it waits: Winsock has no readiness probe for a datagram socket (a
 * zero-byte receive takes the datagram, cut). So an empty pool at the next
 * arm ends the op with -ENOBUFS whether a message waits or not; nothing is
 * lost, what waits stays in the socket.
 */
static int64_t recvmsg_multi_issue(vl_engine *e, uint32_t slot)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = req_of(d, slot);
    const vl_op *op = &vl__engine_slot(e, slot)->op;
    struct vl_bufpool *p = op->u.mh.pool;
    uint32_t nl = (uint32_t)op->u.mh.msg->namelen, cl = (uint32_t)op->u.mh.msg->Control.len;
    size_t head = sizeof(vl_recvmsg_out) + nl + cl;
    uint32_t bid;
    if (!vl__pool_take(p, &bid))
        return -ENOBUFS;
    char *buf = (char *)vl__pool_buf(p, bid);
    memset(&q->ov, 0, sizeof(q->ov));
    q->mh.bid = bid;
    q->mh.b.len = (ULONG)(p->size - head);
    q->mh.b.buf = buf + head;
    memset(&q->mh.m, 0, sizeof(q->mh.m));
    q->mh.m.name = nl ? (struct sockaddr *)(void *)(buf + sizeof(vl_recvmsg_out)) : NULL;
    q->mh.m.namelen = (INT)nl;
    q->mh.m.lpBuffers = &q->mh.b;
    q->mh.m.dwBufferCount = 1;
    q->mh.m.Control.len = cl;
    q->mh.m.Control.buf = cl ? buf + sizeof(vl_recvmsg_out) + nl : NULL;
    q->mh.m.dwFlags = (DWORD)op->u.mh.flags;
    q->flags = (DWORD)op->u.mh.flags;
    int r = q->stream ? WSARecv((SOCKET)q->h, &q->mh.b, 1, NULL, &q->flags, &q->ov, NULL)
                      : d->recv_msg((SOCKET)q->h, &q->mh.m, NULL, &q->ov, NULL);
    int64_t res = issued(e, slot, r == 0 || cut_now(r), r == 0 ? 0 : wsa_errno());
    if (res < 0)
        vl__pool_untake(p, bid);
    return res;
}

/* Arm the next request, or wait for room in the completion queue. */
static void recvmsg_multi_next(vl_engine *e, uint32_t slot)
{
    if (!vl__engine_cq_room(e))
        return defer(e, slot);
    int64_t r = recvmsg_multi_issue(e, slot);
    if (r < 0)
        multi_end(e, slot, r);
}

/* A multishot RECVMSG (start_recvmsg sends it here): emulated from the
 * pool, one overlapped receive per message. */
static int64_t start_recvmsg_multi(vl_engine *e, uint32_t slot, const vl_op *op)
{
    struct iocp_drv *d = drv_of(e);
    vl__engine_stats(e)->not_native++;
    int rc = msg_check(d, req_of(d, slot), op->fd);
    if (rc < 0)
        return rc;
    if (!req_of(d, slot)->stream && d->recv_msg == NULL)
        return -EOPNOTSUPP;
    recvmsg_multi_next(e, slot);
    return 0;
}

/* A multishot RECVMSG's request completed: a message (a cut datagram's
 * status is a warning, and its header says VL_MSG_TRUNC) is a VL_CQE_MORE
 * completion, delivered even when a cancel came meanwhile, which then ends
 * the op; a stream's 0 bytes are EOF; an error ends it. */
static void recvmsg_multi_done(vl_engine *e, uint32_t slot, struct iocp_req *q, int32_t status)
{
    struct vl_bufpool *p = vl__engine_slot(e, slot)->op.u.mh.pool;
    uint32_t bid = q->mh.bid;
    bool trunc = status == ST_BUFFER_OVERFLOW, stop = q->stop || q->cancel_slot != NONE;
    int64_t bytes = (int64_t)q->ov.InternalHigh;
    if ((status < 0 && !trunc) || (q->stream && bytes == 0)) {
        vl__pool_untake(p, bid);
        return multi_end(e, slot,
                         stop         ? -ECANCELED
                         : status < 0 ? vl_ntstatus_to_errno(status)
                                      : 0);
    }
    uint8_t *buf = vl__pool_buf(p, bid);
    vl_recvmsg_out out = {
        .namelen = q->stream ? 0 : (uint32_t)q->mh.m.namelen,
        .controllen = q->stream ? 0 : (uint32_t)q->mh.m.Control.len,
        .payloadlen = (uint32_t)bytes,
        .flags = (q->stream ? 0 : (uint32_t)q->mh.m.dwFlags) | (trunc ? VL_MSG_TRUNC : 0),
    };
    memcpy(buf, &out, sizeof(out));
    vl__pool_mark_out(p, bid);
    int64_t used = (int64_t)(q->mh.b.buf - (char *)buf) + bytes;
    vl__engine_complete(e, slot, used, VL_CQE_MORE | VL_CQE_BUFFER | (bid << 16));
    if (stop)
        return multi_end(e, slot, -ECANCELED);
    recvmsg_multi_next(e, slot);
}

/* A multishot op's request completed. */
static void multi_done(vl_engine *e, uint32_t slot, struct iocp_req *q)
{
    struct iocp_drv *d = drv_of(e);
    int32_t status = (int32_t)q->ov.Internal;
    if (vl__engine_slot(e, slot)->op.kind == VL_OP_RECVMSG)
        return recvmsg_multi_done(e, slot, q, status);
    bool accepting = vl__engine_slot(e, slot)->op.kind == VL_OP_ACCEPT;
    if (status < 0 || q->stop || q->cancel_slot != NONE) {
        if (q->accept_sock != INVALID_SOCKET) {
            closesocket(q->accept_sock);
            q->accept_sock = INVALID_SOCKET;
        }
        int64_t err = status < 0 ? vl_ntstatus_to_errno(status) : -ECANCELED;
        /* A CANCEL that found the op between two requests still ends it. */
        if (q->stop || q->cancel_slot != NONE)
            err = -ECANCELED;
        if (accepting && (err == -ECONNRESET || err == -ECONNABORTED))
            return accept_multi_next(e, slot);
        return multi_end(e, slot, err);
    }
    if (!accepting)
        return recv_multi_run(e, slot, true);
    int64_t fd = accept_done(d, q, &vl__engine_slot(e, slot)->op, NULL, NULL);
    if (fd >= 0)
        vl__engine_complete(e, slot, fd, VL_CQE_MORE);
    accept_multi_next(e, slot);
}

/* The deferred ops go on once the caller's poll made room. Whether any
 * did (and may have completed something). */
static bool resume_deferred(vl_engine *e)
{
    struct iocp_drv *d = drv_of(e);
    bool any = false;
    while (d->defer_head != NONE && vl__engine_cq_room(e)) {
        uint32_t slot = d->defer_head;
        d->defer_head = islot(vl__engine_slot(e, slot))->next;
        if (d->defer_head == NONE)
            d->defer_tail = NONE;
        if (vl__engine_slot(e, slot)->op.kind == VL_OP_RECV)
            recv_multi_run(e, slot, false);
        else if (vl__engine_slot(e, slot)->op.kind == VL_OP_RECVMSG)
            recvmsg_multi_next(e, slot);
        else
            accept_multi_next(e, slot);
        any = true;
    }
    return any;
}

static void io_done(vl_engine *e, OVERLAPPED *ov)
{
    struct iocp_drv *d = drv_of(e);
    struct iocp_req *q = CONTAINING_RECORD(ov, struct iocp_req, ov);
    uint32_t slot = (uint32_t)(q - d->reqs);
    if (vl__op_is_multishot(&vl__engine_slot(e, slot)->op))
        return multi_done(e, slot, q);
    /* The one packet of a single-shot op, also a cancelled or closed one:
     * the one place a pending SENDV's list is freed. */
    if (q->vec_heap != NULL)
        vec_free(q);
    const vl_op *op = &vl__engine_slot(e, slot)->op;
    int64_t r = io_result(d, q, op);
    if (q->bounce != NULL)
        bounce_done(q, op, r); /* READV, WRITEV of a file or pipe */
    finish(e, slot, r);
}

static void expire(vl_engine *e)
{
    struct iocp_drv *d = drv_of(e);
    uint32_t i;
    int64_t now = vl_time_monotonic_ns();
    while (vl__timer_heap_peek(&d->timers, &i) &&
           (int64_t)vl__engine_slot(e, i)->deadline_ns <= now) {
        vl__timer_heap_remove(&d->timers, i);
        vl__engine_complete(e, i, 0, 0);
    }
}

/* The wait in whole milliseconds, rounded up so it never ends early, and
 * cut to the earliest TIMEOUT's deadline. */
static DWORD wait_ms(vl_engine *e, int64_t timeout_ns)
{
    uint32_t i;
    if (vl__timer_heap_peek(&drv_of(e)->timers, &i)) {
        int64_t left = (int64_t)vl__engine_slot(e, i)->deadline_ns - vl_time_monotonic_ns();
        left = left < 0 ? 0 : left;
        if (timeout_ns < 0 || left < timeout_ns)
            timeout_ns = left;
    }
    if (timeout_ns < 0)
        return INFINITE;
    int64_t ms = (timeout_ns + VL_NS_PER_MS - 1) / VL_NS_PER_MS;
    return ms >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)ms;
}

static int iocp_wait(vl_engine *e, int64_t timeout_ns)
{
    struct iocp_drv *d = drv_of(e);
    ULONG n = 0;
    if (resume_deferred(e))
        timeout_ns = 0; /* the deferred ops went on: do not sleep */
    DWORD ms = wait_ms(e, timeout_ns);
    struct vl__stats *st = vl__engine_stats(e);
    /* per system call, for vl_engine_stats */
    if (ms != 0)
        st->kernel_waits++;
    else
        st->kernel_nowait++;
    if (!GetQueuedCompletionStatusEx(d->port, d->entries, MAX_ENTRIES, &n, ms, FALSE)) {
        DWORD err = GetLastError();
        if (err != WAIT_TIMEOUT)
            return vl_win_error_to_errno(err);
        n = 0;
    }
    st->kernel_completions += n;
    for (ULONG k = 0; k < n; k++) {
        if (d->entries[k].lpCompletionKey == KEY_WAKE)
            vl__engine_note_wake(e);
        else if (d->entries[k].lpCompletionKey == KEY_CHILD)
            child_done(e, d->entries[k].lpOverlapped);
        else
            io_done(e, d->entries[k].lpOverlapped);
    }
    expire(e);
    return 0;
}

static int iocp_wake(vl_engine *e)
{
    if (!PostQueuedCompletionStatus(drv_of(e)->port, 0, KEY_WAKE, NULL))
        return vl_win_error_to_errno(GetLastError());
    return 0;
}

/* ---- init / fini --------------------------------------------------------------- */

static int load_fn(SOCKET s, GUID guid, void *fn, size_t size)
{
    DWORD got = 0;
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof(guid), fn, (DWORD)size, &got,
                 NULL, NULL) != 0)
        return wsa_errno();
    return 0;
}

/* AcceptEx, ConnectEx and GetAcceptExSockaddrs are Winsock extensions,
 * reached through a pointer asked of a socket of the provider. */
static int load_extensions(struct iocp_drv *d)
{
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET)
        return wsa_errno();
    GUID acc = WSAID_ACCEPTEX, con = WSAID_CONNECTEX, addrs = WSAID_GETACCEPTEXSOCKADDRS;
    int rc = load_fn(s, acc, &d->accept_ex, sizeof(d->accept_ex));
    if (rc == 0)
        rc = load_fn(s, con, &d->connect_ex, sizeof(d->connect_ex));
    if (rc == 0)
        rc = load_fn(s, addrs, &d->accept_addrs, sizeof(d->accept_addrs));
    closesocket(s);
    /* WSARecvMsg, from a datagram socket (the provider that runs it); a
     * host without one leaves it NULL and RECVMSG answers -EOPNOTSUPP. */
    GUID rmsg = WSAID_WSARECVMSG;
    s = WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (rc == 0 && s != INVALID_SOCKET && load_fn(s, rmsg, &d->recv_msg, sizeof(d->recv_msg)) != 0)
        d->recv_msg = NULL;
    if (s != INVALID_SOCKET)
        closesocket(s);
    /* TransmitFile, from a stream socket; a provider without it leaves it
     * NULL and SENDFILE answers -EOPNOTSUPP. */
    GUID tf = WSAID_TRANSMITFILE;
    s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (rc == 0 && s != INVALID_SOCKET &&
        load_fn(s, tf, &d->transmit_file, sizeof(d->transmit_file)) != 0)
        d->transmit_file = NULL;
    if (s != INVALID_SOCKET)
        closesocket(s);
    return rc;
}

static void drv_free(struct iocp_drv *d)
{
    if (d->port != NULL)
        CloseHandle(d->port);
    if (d->reqs != NULL)
        (void)vl_os_free(d->reqs, d->reqs_len);
    vl__timer_heap_fini(&d->timers);
    if (d->wsa_started)
        WSACleanup();
    free(d);
}

static int drv_open(struct iocp_drv *d, vl_engine *e, uint32_t cap)
{
    WSADATA w;
    int rc = WSAStartup(MAKEWORD(2, 2), &w);
    if (rc != 0)
        return vl_win_error_to_errno((unsigned long)rc);
    d->wsa_started = true;
    d->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (d->port == NULL)
        return vl_win_error_to_errno(GetLastError());
    /* Demand-zero pages: only the requests of slots in use cost memory. */
    d->reqs_len = (size_t)cap * sizeof(*d->reqs);
    d->reqs = vl_os_alloc(d->reqs_len, &rc);
    if (d->reqs == NULL)
        return rc;
    rc = vl__timer_heap_init(&d->timers, e, cap);
    return rc < 0 ? rc : load_extensions(d);
}

static int iocp_init(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    struct iocp_drv *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    d->defer_head = d->defer_tail = NONE;
    int rc = drv_open(d, e, cfg->max_inflight);
    if (rc < 0) {
        snprintf(reason, len, "iocp setup: %s (%s)", vl_strerror(rc), vl_errname(rc));
        drv_free(d);
        return rc;
    }
    *vl__engine_drv(e) = d;
    return 0;
}

static void iocp_fini(vl_engine *e)
{
    drv_free(drv_of(e));
    *vl__engine_drv(e) = NULL;
}

const struct vl_driver vl__driver_iocp = {
    .name = "iocp",
    .kind = VL_DRIVER_IOCP,
    /* Overlapped requests; a multishot RECV reads in user space after a
     * zero-byte WSARecv, and NOP, TIMEOUT, CLOSE, CANCEL, SOCKET, BIND,
     * LISTEN and the file and path ops run here. */
    .native_kinds = {{[VL_OP_READ] = true,
                      [VL_OP_WRITE] = true,
                      [VL_OP_READV] = true,
                      [VL_OP_WRITEV] = true,
                      [VL_OP_ACCEPT] = true,
                      [VL_OP_CONNECT] = true,
                      [VL_OP_SEND] = true,
                      [VL_OP_RECV] = true,
                      [VL_OP_SENDV] = true,
                      [VL_OP_SENDMSG] = true,
                      [VL_OP_RECVMSG] = true}},
    .init = iocp_init,
    .fini = iocp_fini,
    .submit = iocp_submit,
    .cancel = iocp_cancel,
    .wait = iocp_wait,
    .wake = iocp_wake,
};
