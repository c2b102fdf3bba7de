/*
 * <vllsi/sim.h> - the simulation driver (VL_DRIVER_SIM): the IOEngine over a
 * virtual clock and in-memory sockets, pipes and files.
 *
 * Create an engine with cfg.driver = VL_DRIVER_SIM and use it through the
 * ordinary engine API (vl_engine_submit / vl_engine_poll / ...). The
 * descriptors its ops name are virtual: they exist only inside that engine,
 * are made by the functions below, and are small integers (3 and up, lowest
 * free first, like the kernel's) so code that indexes tables by fd works
 * unchanged. Never pass them to a real system call.
 *
 * Everything that a kernel would decide is decided by a seeded generator:
 * which ready op completes first, how much a transfer moves (short reads and
 * writes), ops that meet EAGAIN inside the "kernel" and are retried later,
 * connection resets, and per-op delays. The same seed, the same ops and the
 * same calls give the same completions in the same order with the same
 * results at the same virtual times, on any machine: a failing run can be
 * replayed exactly from its seed (vl_sim_describe prints it; set
 * VLLSI_SIM_SEED to replay, see vl_sim_env_seed).
 *
 * Time: the virtual clock (vl_sim_now) starts at 0 and moves only when a
 * poll waits or on vl_sim_advance. A vl_engine_poll(T) with nothing to do
 * advances it by T (less the few real microseconds the core spends before
 * it asks the driver to wait) and returns 0 at once, in no real time; a
 * TIMEOUT of d fires when the virtual clock reaches submit time + d. A
 * poll(-1) that could only wait forever (nothing can ever complete: the
 * program is deadlocked or waits for its own next step) returns 0 at once
 * and counts a stall (vl_sim_stalls).
 *
 * The model: a stream socket end has an inbound buffer of VL_SIM_BUF_SIZE
 * bytes; a write copies into the peer's buffer as far as it has room (a
 * full buffer blocks writers), a read takes from its own. A pipe is the same
 * in one direction. Closing one end: the other reads what is buffered, then
 * EOF (0); writes to a closed peer fail with -EPIPE. A reset (injected, or
 * vl_sim_reset) discards buffered data; the other end's next read or write
 * fails with -ECONNRESET, later reads give EOF and writes -EPIPE. A
 * listening socket has a backlog; CONNECT (or vl_sim_connect) to its
 * address queues a connection that ACCEPT takes; no listener at the
 * address: -ECONNREFUSED. A file has a fixed capacity and a position.
 * Results follow the engine contract of <vllsi/engine.h> (-EBADF, -ENOTSOCK,
 * -ESPIPE, -ECANCELED, ...). ACCEPT's peer address is an AF_UNSPEC address
 * of length sizeof(sa_family_t).
 *
 * Thread safety: like every engine, one thread; vl_engine_wake from any.
 * All functions below take the engine; on an engine of another driver (or
 * NULL) they fail with -EINVAL (or return 0 where they return a value).
 */
#ifndef VLLSI_SIM_H
#define VLLSI_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <vllsi/engine.h>

VL_EXTERN_C_BEGIN

/* Virtual descriptors per engine (0..2 are never handed out). */
#define VL_SIM_MAX_FDS  1024
/* Bytes a socket end or pipe buffers before writers block. */
#define VL_SIM_BUF_SIZE 16384
/* Fault rates are in parts per million of the chances to hit them. */
#define VL_SIM_PPM      1000000u

/*
 * What the seeded generator may do. Every rate is the chance, out of
 * VL_SIM_PPM, that it happens at each point where it can:
 *  short_ppm   a READ/WRITE/SEND/RECV transfers fewer bytes than it could
 *              (at least 1): what an interrupted (EINTR) transfer returns.
 *  eagain_ppm  an op meets EAGAIN inside the simulated kernel and is retried
 *              later (after up to max_delay_ns, at least 1 us): never seen
 *              as a result, only as a change of order and time. Below
 *              VL_SIM_PPM, so every op eventually runs.
 *  reset_ppm   a socket transfer resets its connection: that op fails with
 *              -ECONNRESET, and so does the peer's next transfer.
 *  delay_ppm   an op is held back by up to max_delay_ns of virtual time.
 * fd_limit: open virtual descriptors allowed (the simulated RLIMIT_NOFILE):
 * beyond it ACCEPT completes with -EMFILE and the vl_sim_* makers return
 * -EMFILE. 0 means VL_SIM_MAX_FDS.
 */
typedef struct vl_sim_config {
    uint64_t seed; /* 0: keep the current seed (and the generator's position) */
    uint32_t short_ppm;
    uint32_t eagain_ppm;
    uint32_t reset_ppm;
    uint32_t delay_ppm;
    int64_t max_delay_ns; /* 0 with delay_ppm or eagain_ppm set: 1 ms */
    uint32_t fd_limit;
} vl_sim_config;

/*
 * vl_sim_configure - set the seed (unless cfg->seed is 0) and the fault
 * rates. A new seed restarts the generator, so the runs that follow are
 * reproducible from it. A new engine starts with seed 1 (or VLLSI_SIM_SEED)
 * and no faults. 0, or -EINVAL (NULL or non-sim e, NULL cfg, a rate above
 * VL_SIM_PPM, eagain_ppm == VL_SIM_PPM, negative max_delay_ns, fd_limit
 * above VL_SIM_MAX_FDS).
 */
VL_API int vl_sim_configure(vl_engine *e, const vl_sim_config *cfg);

/* The current configuration (with the seed in use) into *out. 0 or -EINVAL. */
VL_API int vl_sim_get_config(const vl_engine *e, vl_sim_config *out);

/*
 * vl_sim_env_seed - the seed named by the environment variable
 * VLLSI_SIM_SEED (decimal or 0x hex), or fallback when it is unset, empty,
 * zero or not a number. Tests pick their seed with it so that a printed seed
 * replays the run: VLLSI_SIM_SEED=0x... ./test.
 */
VL_API uint64_t vl_sim_env_seed(uint64_t fallback);

/*
 * vl_sim_describe - write a one-line description of the run into buf
 * (always NUL-terminated when len > 0): "VLLSI_SIM_SEED=0x... short_ppm=...
 * ... now_ns=... trace=0x...". Print it when a test fails. Returns the
 * length it needed (like snprintf), or -EINVAL (non-sim e, NULL buf with
 * len > 0).
 */
VL_API int vl_sim_describe(const vl_engine *e, char *buf, size_t len);

/* The virtual clock in nanoseconds (0 at create); 0 for a non-sim engine. */
VL_API int64_t vl_sim_now(const vl_engine *e);

/*
 * vl_sim_advance - move the virtual clock forward by ns. TIMEOUTs and
 * delayed ops that come due are run at the next poll, which returns their
 * completions without waiting. 0, or -EINVAL (non-sim e, ns < 0).
 */
VL_API int vl_sim_advance(vl_engine *e, int64_t ns);

/*
 * A running hash of every completion the driver reported: (virtual time, id,
 * result, flags) in order. Two runs with the same seed and the same program
 * give the same hash; 0 for a non-sim engine.
 */
VL_API uint64_t vl_sim_trace_hash(const vl_engine *e);

/* How many completions the driver reported, and how many polls found
 * nothing could ever complete (see above). 0 for a non-sim engine. */
VL_API uint64_t vl_sim_completions(const vl_engine *e);
VL_API uint64_t vl_sim_stalls(const vl_engine *e);

/* ---- virtual descriptors ---------------------------------------------------
 * The makers return a new descriptor (>= 3) or a negative errno: -EINVAL
 * (non-sim engine, bad argument), -EMFILE (fd_limit reached), -ENFILE (the
 * table of VL_SIM_MAX_FDS is full), -ENOMEM (file contents), -ESHUTDOWN
 * (after vl_engine_shutdown). The engine owns them: vl_engine_destroy
 * frees whatever is left, a CLOSE op or vl_sim_close frees one early.
 */

/* A connected pair of stream sockets into fds[0], fds[1]. 0 or -errno. */
VL_API int vl_sim_socketpair(vl_engine *e, int fds[2]);

/* A pipe: fds[0] the read end, fds[1] the write end. 0 or -errno. */
VL_API int vl_sim_pipe(vl_engine *e, int fds[2]);

/* An unconnected stream socket, for a CONNECT op. */
VL_API int vl_sim_socket(vl_engine *e);

/*
 * A listening socket at addr (any family; matched byte for byte, addrlen
 * 1..sizeof(struct sockaddr_storage)) with room for backlog (1..4096)
 * pending connections. -EADDRINUSE if a listener has that address.
 */
VL_API int vl_sim_listen(vl_engine *e, const struct sockaddr *addr, socklen_t addrlen, int backlog);

/*
 * A client end connected at once to the listener at addr: the connection
 * waits in its backlog for ACCEPT. -ECONNREFUSED (no listener there),
 * -EAGAIN (its backlog is full), or a maker's error.
 */
VL_API int vl_sim_connect(vl_engine *e, const struct sockaddr *addr, socklen_t addrlen);

/*
 * A regular file holding a copy of data[0..len) (data may be NULL when len
 * is 0), position 0, room for capacity bytes (capacity >= len; writes past
 * it fail with -ENOSPC). READ/WRITE with offset -1 use and move the
 * position; other offsets do not.
 */
VL_API int vl_sim_file(vl_engine *e, const void *data, size_t len, size_t capacity);

/*
 * Act as the program at the other end, outside the engine, at once and
 * without faults: vl_sim_write copies up to len bytes into what fd's peer
 * will read (a file: at its position), vl_sim_read takes up to len bytes of
 * what fd has received (a file: from its position). They return the count
 * (0 < count <= len; read: 0 at EOF and for len 0), or -EAGAIN (nothing
 * to read / no room yet), -EPIPE (the reader is gone), -ECONNRESET (the
 * connection was reset; reported once), -EBADF (not open, or the wrong end
 * of a pipe), -ENOTCONN (unconnected socket), -EINVAL (a listener, NULL buf
 * with len > 0, non-sim engine).
 */
VL_API ssize_t vl_sim_write(vl_engine *e, int fd, const void *buf, size_t len);
VL_API ssize_t vl_sim_read(vl_engine *e, int fd, void *buf, size_t len);

/* Bytes fd could read now (its inbound buffer; a file: from its position to
 * its end), or -EBADF / -EINVAL. */
VL_API ssize_t vl_sim_readable(const vl_engine *e, int fd);

/*
 * vl_sim_shutdown - like shutdown(2) on a socket: SHUT_WR (the peer reads
 * EOF after the buffered data; writing here fails with -EPIPE), SHUT_RD
 * (reads here give EOF; what arrives is discarded), SHUT_RDWR. 0, -EBADF,
 * -ENOTSOCK (pipe, file), -ENOTCONN (not connected), -EINVAL (bad how).
 */
VL_API int vl_sim_shutdown(vl_engine *e, int fd, int how);

/* vl_sim_reset - close fd abortively (SO_LINGER 0): its peer's next transfer
 * fails with -ECONNRESET. Ops pending on fd complete with -ECANCELED.
 * 0, -EBADF, -ENOTSOCK. */
VL_API int vl_sim_reset(vl_engine *e, int fd);

/* vl_sim_close - close fd like close(2), from outside the engine. Ops pending
 * on fd complete with -ECANCELED (at the next poll). 0, -EBADF. */
VL_API int vl_sim_close(vl_engine *e, int fd);

VL_EXTERN_C_END

#endif /* VLLSI_SIM_H */
