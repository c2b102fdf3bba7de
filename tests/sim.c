/*
 * tests/sim.c - the simulation driver (VL_DRIVER_SIM, <vllsi/sim.h>) and the
 * seeded fault injector under it (src/engine/fault.h).
 *
 * Every op kind on every kind of virtual descriptor, the virtual clock, the
 * public API's bad inputs, and the properties the driver exists for: the same
 * seed gives the same completion trace, another seed another one; faults
 * (short transfers, internal EAGAIN, delays) never lose or duplicate a byte
 * end to end, and resets only ever cut a stream short; a printed seed
 * replays a run exactly. The suite prints its seed (VLLSI_SIM_SEED repeats
 * it).
 */
#include "vl_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <vllsi/sim.h>

#include "conformance_util.h"
#include "fault.h"

static uint64_t g_seed;

static vl_engine *mk(void)
{
    vl_engine_config c = {.driver = VL_DRIVER_SIM};
    vl_engine *e = NULL;
    assert_int_equal(vl_engine_create(&c, &e), 0);
    return e;
}

static int64_t sub(vl_engine *e, vl_op op, void *ud)
{
    int64_t id = vl_engine_submit(e, &op, ud);
    assert_true(id > 0);
    return id;
}

/* Submit op and poll (without waiting) until its completion; its result. */
static int64_t run_op(vl_engine *e, vl_op op)
{
    int64_t id = sub(e, op, NULL);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.flags, 0);
    return c.result;
}

/* Nothing completes now. */
static void assert_idle(vl_engine *e)
{
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 0);
}

static struct sockaddr_in addr_v4(uint16_t port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(0x0a000001);
    return a;
}

/* ---- create, names, bad inputs ------------------------------------------------ */

static void create_names_sim(void **state)
{
    (void)state;
    vl_engine *e = mk();
    assert_string_equal(vl_engine_driver_name(e), "sim");
    assert_int_equal(vl_engine_driver_kind(e), VL_DRIVER_SIM);
    assert_string_equal(vl_engine_driver_reason(e), "requested");
    assert_int_equal(vl_sim_now(e), 0);
    vl_engine_destroy(e);
}

static void api_rejects_other_engines_and_bad_args(void **state)
{
    (void)state;
    vl_engine_config ec = {.driver = VL_DRIVER_EPOLL};
    vl_engine *ep = NULL;
    assert_int_equal(vl_engine_create(&ec, &ep), 0);
    int fds[2];
    char b[4];
    vl_sim_config cfg = {0};
    vl_engine *none[2] = {NULL, ep};
    for (int k = 0; k < 2; k++) {
        vl_engine *x = none[k];
        assert_int_equal(vl_sim_configure(x, &cfg), -EINVAL);
        assert_int_equal(vl_sim_get_config(x, &cfg), -EINVAL);
        assert_int_equal(vl_sim_describe(x, b, sizeof(b)), -EINVAL);
        assert_int_equal(vl_sim_now(x), 0);
        assert_int_equal(vl_sim_advance(x, 1), -EINVAL);
        assert_int_equal(vl_sim_trace_hash(x), 0);
        assert_int_equal(vl_sim_completions(x), 0);
        assert_int_equal(vl_sim_stalls(x), 0);
        assert_int_equal(vl_sim_socketpair(x, fds), -EINVAL);
        assert_int_equal(vl_sim_pipe(x, fds), -EINVAL);
        assert_int_equal(vl_sim_socket(x), -EINVAL);
        assert_int_equal(vl_sim_file(x, NULL, 0, 0), -EINVAL);
        assert_int_equal(vl_sim_write(x, 3, b, 1), -EINVAL);
        assert_int_equal(vl_sim_read(x, 3, b, 1), -EINVAL);
        assert_int_equal(vl_sim_readable(x, 3), -EINVAL);
        assert_int_equal(vl_sim_shutdown(x, 3, SHUT_WR), -EINVAL);
        assert_int_equal(vl_sim_reset(x, 3), -EINVAL);
        assert_int_equal(vl_sim_close(x, 3), -EINVAL);
    }
    vl_engine_destroy(ep);

    vl_engine *e = mk();
    struct sockaddr_in a = addr_v4(80);
    assert_int_equal(vl_sim_configure(e, NULL), -EINVAL);
    assert_int_equal(vl_sim_get_config(e, NULL), -EINVAL);
    vl_sim_config bad = {.short_ppm = VL_SIM_PPM + 1};
    assert_int_equal(vl_sim_configure(e, &bad), -EINVAL);
    bad = (vl_sim_config){.eagain_ppm = VL_SIM_PPM};
    assert_int_equal(vl_sim_configure(e, &bad), -EINVAL);
    bad = (vl_sim_config){.max_delay_ns = -1};
    assert_int_equal(vl_sim_configure(e, &bad), -EINVAL);
    bad = (vl_sim_config){.fd_limit = VL_SIM_MAX_FDS + 1};
    assert_int_equal(vl_sim_configure(e, &bad), -EINVAL);
    assert_int_equal(vl_sim_describe(e, NULL, 5), -EINVAL);
    assert_true(vl_sim_describe(e, NULL, 0) > 0);
    assert_int_equal(vl_sim_advance(e, -1), -EINVAL);
    assert_int_equal(vl_sim_socketpair(e, NULL), -EINVAL);
    assert_int_equal(vl_sim_pipe(e, NULL), -EINVAL);
    assert_int_equal(vl_sim_listen(e, NULL, sizeof(a), 1), -EINVAL);
    assert_int_equal(vl_sim_listen(e, (struct sockaddr *)&a, 0, 1), -EINVAL);
    assert_int_equal(vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 0), -EINVAL);
    assert_int_equal(vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 5000), -EINVAL);
    assert_int_equal(vl_sim_connect(e, NULL, sizeof(a)), -EINVAL);
    assert_int_equal(vl_sim_file(e, NULL, 3, 3), -EINVAL);
    assert_int_equal(vl_sim_file(e, "abc", 3, 2), -EINVAL);
    assert_int_equal(vl_sim_write(e, 3, NULL, 1), -EINVAL);
    assert_int_equal(vl_sim_read(e, 3, NULL, 1), -EINVAL);
    assert_int_equal(vl_sim_write(e, 3, b, 1), -EBADF);
    assert_int_equal(vl_sim_read(e, -1, b, 1), -EBADF);
    assert_int_equal(vl_sim_readable(e, 1), -EBADF);
    assert_int_equal(vl_sim_close(e, 3), -EBADF);
    assert_int_equal(vl_sim_reset(e, 99), -EBADF);
    assert_int_equal(vl_sim_shutdown(e, 3, SHUT_WR), -EBADF);
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    assert_int_equal(vl_sim_shutdown(e, fds[0], 42), -EINVAL);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/* ---- streams, pipes, files --------------------------------------------------------- */

static void socketpair_every_transfer(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char buf[16];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    assert_int_equal(fds[0], 3);
    assert_int_equal(fds[1], 4);
    assert_int_equal(run_op(e, vl_op_send(fds[0], "hello", 5, 0)), 5);
    assert_int_equal(vl_sim_readable(e, fds[1]), 5);
    assert_int_equal(run_op(e, vl_op_recv(fds[1], buf, 2, MSG_PEEK)), 2);
    assert_int_equal(run_op(e, vl_op_read(fds[1], buf, sizeof(buf), -1)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(run_op(e, vl_op_write(fds[1], "back", 4, -1)), 4);
    assert_int_equal(vl_sim_read(e, fds[0], buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "back", 4);
    /* Length 0 completes with 0; an offset on a socket is -ESPIPE. */
    assert_int_equal(run_op(e, vl_op_recv(fds[0], NULL, 0, 0)), 0);
    assert_int_equal(run_op(e, vl_op_read(fds[0], buf, 1, 0)), -ESPIPE);
    /* A pending recv completes when the peer (the test) writes. */
    int64_t id = sub(e, vl_op_recv(fds[0], buf, sizeof(buf), 0), NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_write(e, fds[1], "xy", 2), 2);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, 2);
    /* MSG_DONTWAIT on an empty socket, MSG_WAITALL waits for the whole. */
    assert_int_equal(run_op(e, vl_op_recv(fds[0], buf, 4, MSG_DONTWAIT)), -EAGAIN);
    id = sub(e, vl_op_recv(fds[0], buf, 4, MSG_WAITALL), NULL);
    assert_int_equal(vl_sim_write(e, fds[1], "ab", 2), 2);
    assert_idle(e);
    assert_int_equal(vl_sim_write(e, fds[1], "cd", 2), 2);
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_int_equal(c.result, 4);
    assert_memory_equal(buf, "abcd", 4);
    /* Half-close: EOF after the data, repeatable; writing there is -EPIPE. */
    assert_int_equal(vl_sim_write(e, fds[1], "z", 1), 1);
    assert_int_equal(vl_sim_shutdown(e, fds[1], SHUT_WR), 0);
    assert_int_equal(vl_sim_write(e, fds[1], "z", 1), -EPIPE);
    assert_int_equal(run_op(e, vl_op_recv(fds[0], buf, 8, 0)), 1);
    assert_int_equal(run_op(e, vl_op_recv(fds[0], buf, 8, 0)), 0);
    assert_int_equal(run_op(e, vl_op_recv(fds[0], buf, 8, 0)), 0);
    /* The other direction still works after the half-close. */
    assert_int_equal(run_op(e, vl_op_send(fds[0], "ok", 2, 0)), 2);
    assert_int_equal(vl_sim_read(e, fds[1], buf, 8), 2);
    /* Peer closed: EOF; sending is -EPIPE. */
    assert_int_equal(run_op(e, vl_op_close(fds[1])), 0);
    assert_int_equal(run_op(e, vl_op_send(fds[0], "x", 1, 0)), -EPIPE);
    assert_int_equal(run_op(e, vl_op_close(fds[1])), -EBADF);
    vl_engine_destroy(e);
}

static void stream_full_buffer_blocks_writer(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    static char big[VL_SIM_BUF_SIZE + 100];
    static char sink[VL_SIM_BUF_SIZE + 100];
    memset(big, 'q', sizeof(big));
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    /* One write moves what fits: a short write, as the kernel does. */
    assert_int_equal(run_op(e, vl_op_send(fds[0], big, sizeof(big), 0)), VL_SIM_BUF_SIZE);
    assert_int_equal(vl_sim_write(e, fds[0], "x", 1), -EAGAIN);
    assert_int_equal(run_op(e, vl_op_send(fds[0], big, 1, MSG_DONTWAIT)), -EAGAIN);
    int64_t id = sub(e, vl_op_send(fds[0], big, 100, 0), NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_read(e, fds[1], sink, 50), 50);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, 50);
    vl_engine_destroy(e);
}

static void pipe_ends_and_errors(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int p[2];
    char buf[8];
    assert_int_equal(vl_sim_pipe(e, p), 0);
    assert_int_equal(run_op(e, vl_op_write(p[1], "pipe", 4, -1)), 4);
    assert_int_equal(run_op(e, vl_op_read(p[1], buf, 4, -1)), -EBADF);
    assert_int_equal(run_op(e, vl_op_write(p[0], "x", 1, -1)), -EBADF);
    assert_int_equal(run_op(e, vl_op_recv(p[0], buf, 4, 0)), -ENOTSOCK);
    assert_int_equal(run_op(e, vl_op_send(p[1], buf, 4, 0)), -ENOTSOCK);
    assert_int_equal(run_op(e, vl_op_read(p[0], buf, 4, 3)), -ESPIPE);
    assert_int_equal(run_op(e, vl_op_read(p[0], buf, sizeof(buf), -1)), 4);
    assert_memory_equal(buf, "pipe", 4);
    assert_int_equal(vl_sim_shutdown(e, p[0], SHUT_WR), -ENOTSOCK);
    assert_int_equal(vl_sim_reset(e, p[0]), -ENOTSOCK);
    /* A pending read sees EOF when the writer closes. */
    int64_t id = sub(e, vl_op_read(p[0], buf, sizeof(buf), -1), NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_close(e, p[1]), 0);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, 0);
    /* No reader: -EPIPE. */
    assert_int_equal(vl_sim_pipe(e, p), 0);
    assert_int_equal(vl_sim_close(e, p[0]), 0);
    assert_int_equal(run_op(e, vl_op_write(p[1], "x", 1, -1)), -EPIPE);
    vl_engine_destroy(e);
}

static void file_offsets_position_capacity(void **state)
{
    (void)state;
    vl_engine *e = mk();
    char buf[16] = {0};
    int f = vl_sim_file(e, "0123456789", 10, 12);
    assert_true(f >= 3);
    assert_int_equal(vl_sim_readable(e, f), 10);
    assert_int_equal(run_op(e, vl_op_read(f, buf, 4, -1)), 4);
    assert_memory_equal(buf, "0123", 4);
    assert_int_equal(run_op(e, vl_op_read(f, buf, 3, 7)), 3);
    assert_memory_equal(buf, "789", 3);
    assert_int_equal(run_op(e, vl_op_read(f, buf, 2, -1)), 2); /* position kept */
    assert_memory_equal(buf, "45", 2);
    assert_int_equal(run_op(e, vl_op_read(f, buf, 4, 20)), 0);    /* past the end */
    assert_int_equal(run_op(e, vl_op_write(f, "abcd", 4, 9)), 3); /* capacity 12 */
    assert_int_equal(run_op(e, vl_op_write(f, "z", 1, 12)), -ENOSPC);
    assert_int_equal(run_op(e, vl_op_read(f, buf, 16, 0)), 12);
    assert_memory_equal(buf, "012345678abc", 12);
    assert_int_equal(run_op(e, vl_op_recv(f, buf, 1, 0)), -ENOTSOCK);
    assert_int_equal(run_op(e, vl_op_accept(f, NULL, NULL)), -ENOTSOCK);
    assert_int_equal(vl_sim_shutdown(e, f, SHUT_WR), -ENOTSOCK);
    int empty = vl_sim_file(e, NULL, 0, 0);
    assert_true(empty > f);
    assert_int_equal(run_op(e, vl_op_write(empty, "x", 1, -1)), -ENOSPC);
    vl_engine_destroy(e);
}

/* WAITPID: the simulator has no processes, so any pid completes with
 * -EOPNOTSUPP (this process's own children too); pid <= 0 is -EINVAL at
 * submit, as on every driver. */
static void waitpid_has_no_processes(void **state)
{
    (void)state;
    vl_engine *e = mk();
    assert_int_equal(run_op(e, vl_op_waitpid(1)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_waitpid((int)getpid())), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_waitpid(INT32_MAX)), -EOPNOTSUPP);
    vl_op bad = vl_op_waitpid(0);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    bad = vl_op_waitpid(-5);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    assert_idle(e);
    vl_engine_destroy(e);
}

/* SENDFILE and SPLICE: -EOPNOTSUPP on the simulator's descriptors (a file
 * to a socket, a pipe to a socket); OPENAT with resolve flags, like every
 * path op there, -EOPNOTSUPP. What submit refuses is refused as on every
 * driver. */
static void sendfile_and_splice_unsupported(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int f = vl_sim_file(e, "0123456789", 10, 12);
    int sv[2], p[2];
    assert_int_equal(vl_sim_socketpair(e, sv), 0);
    assert_int_equal(vl_sim_pipe(e, p), 0);
    assert_int_equal(run_op(e, vl_op_sendfile(sv[0], f, 0, 5)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_splice(p[0], -1, sv[0], -1, 5, 0)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_openat2(VL_AT_FDCWD, "a", 0, 0, VL_RESOLVE_BENEATH)),
                     -EOPNOTSUPP);
    vl_op bad = vl_op_sendfile(sv[0], -1, 0, 5);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EBADF);
    bad = vl_op_sendfile(sv[0], f, -2, 5);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    bad = vl_op_splice(p[0], -1, sv[0], -1, 5, 0x80);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    bad = vl_op_openat2(VL_AT_FDCWD, "a", 0, 0, 1u << 20);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    assert_idle(e);
    vl_engine_destroy(e);
}

/* READV/WRITEV on the simulator's files, pipes and sockets; FSYNC on each. */
static void rwv_and_fsync_on_every_descriptor(void **state)
{
    (void)state;
    vl_engine *e = mk();
    char a[3], b[4], c[8];
    vl_iovec in[3] = {{a, 3}, {b, 4}, {c, 8}};
    /* A file: offsets, the moving position, the end, capacity. */
    int f = vl_sim_file(e, "0123456789", 10, 12);
    assert_true(f >= 3);
    assert_int_equal(run_op(e, vl_op_readv(f, in, 3, 1)), 9); /* short: the file ends */
    assert_memory_equal(a, "123", 3);
    assert_memory_equal(b, "4567", 4);
    assert_memory_equal(c, "89", 2);
    assert_int_equal(run_op(e, vl_op_readv(f, in, 2, -1)), 7);
    assert_memory_equal(a, "012", 3);
    assert_memory_equal(b, "3456", 4);
    assert_int_equal(run_op(e, vl_op_readv(f, in, 1, -1)), 3); /* the position moved */
    assert_memory_equal(a, "789", 3);
    assert_int_equal(run_op(e, vl_op_readv(f, in, 3, -1)), 0); /* EOF */
    assert_int_equal(run_op(e, vl_op_readv(f, in, 3, 50)), 0);
    vl_iovec out[3] = {{"ab", 2}, {NULL, 0}, {"cdef", 4}};
    assert_int_equal(run_op(e, vl_op_writev(f, out, 3, 8)), 4); /* capacity 12 */
    assert_int_equal(run_op(e, vl_op_readv(f, in, 3, 6)), 6);
    assert_memory_equal(a, "67a", 3);
    assert_memory_equal(b, "bcd", 3);
    vl_iovec none[1] = {{NULL, 0}};
    assert_int_equal(run_op(e, vl_op_readv(f, none, 1, 0)), 0);
    assert_int_equal(run_op(e, vl_op_fsync(f, 0)), 0);
    assert_int_equal(run_op(e, vl_op_fsync(f, VL_FSYNC_DATASYNC)), 0);
    /* A pipe: the list in order, -1 only, a parked READV. */
    int p[2];
    assert_int_equal(vl_sim_pipe(e, p), 0);
    assert_int_equal(run_op(e, vl_op_writev(p[1], out, 3, -1)), 6);
    assert_int_equal(run_op(e, vl_op_readv(p[0], in, 2, -1)), 6);
    assert_memory_equal(a, "abc", 3);
    assert_memory_equal(b, "def", 3);
    assert_int_equal(run_op(e, vl_op_readv(p[0], in, 2, 0)), -ESPIPE);
    assert_int_equal(run_op(e, vl_op_readv(p[1], in, 2, -1)), -EBADF);   /* the write end */
    assert_int_equal(run_op(e, vl_op_readv(p[0], none, 1, 0)), -ESPIPE); /* even empty */
    int64_t r = sub(e, vl_op_readv(p[0], in, 2, -1), NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_write(e, p[1], "xyzw", 4), 4);
    vl_completion cq;
    assert_int_equal(vl_engine_poll(e, 0, &cq, 1), 1);
    assert_int_equal(cq.id, r);
    assert_int_equal(cq.result, 4);
    assert_int_equal(run_op(e, vl_op_fsync(p[0], 0)), -EINVAL);
    /* A socket: WRITEV to the peer, READV of it. */
    int sv[2];
    assert_int_equal(vl_sim_socketpair(e, sv), 0);
    assert_int_equal(run_op(e, vl_op_writev(sv[0], out, 3, -1)), 6);
    assert_int_equal(run_op(e, vl_op_readv(sv[1], in, 3, -1)), 6);
    assert_int_equal(run_op(e, vl_op_writev(sv[0], out, 3, 4)), -ESPIPE);
    assert_int_equal(run_op(e, vl_op_fsync(sv[0], 0)), -EINVAL);
    /* Bad fds. */
    assert_int_equal(run_op(e, vl_op_readv(99, in, 1, -1)), -EBADF);
    assert_int_equal(run_op(e, vl_op_writev(-1, out, 1, 0)), -EBADF);
    assert_int_equal(run_op(e, vl_op_fsync(99, 0)), -EBADF);
    /* A READV parked on an empty socket is cancelled. */
    r = sub(e, vl_op_readv(sv[1], in, 1, -1), NULL);
    assert_idle(e);
    int64_t k = sub(e, vl_op_cancel((uint64_t)r), NULL);
    vl_completion two[2];
    assert_int_equal(vl_engine_poll(e, 0, two, 2), 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(two[i].result, two[i].id == (uint64_t)k ? 0 : -ECANCELED);
    vl_engine_destroy(e);
}

/* ---- listen, connect, accept ------------------------------------------------------- */

static void listen_connect_accept(void **state)
{
    (void)state;
    vl_engine *e = mk();
    struct sockaddr_in a = addr_v4(8080), other = addr_v4(9);
    int l = vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 2);
    assert_true(l >= 3);
    assert_int_equal(vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 2), -EADDRINUSE);
    assert_int_equal(vl_sim_connect(e, (struct sockaddr *)&other, sizeof(other)), -ECONNREFUSED);
    /* An ACCEPT waits for a connection; a CONNECT op makes one. */
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    int64_t acc = sub(e, vl_op_accept(l, (struct sockaddr *)&peer, &plen), NULL);
    assert_idle(e);
    int s = vl_sim_socket(e);
    assert_true(s > l);
    assert_int_equal(run_op(e, vl_op_recv(s, &peer, 1, 0)), -ENOTCONN);
    int64_t con = sub(e, vl_op_connect(s, (struct sockaddr *)&a, sizeof(a)), NULL);
    vl_completion c[2];
    int n = 0;
    while (n < 2)
        n += vl_engine_poll(e, 0, c + n, 2 - n);
    int64_t srv = -1;
    for (int k = 0; k < 2; k++) {
        if ((int64_t)c[k].id == acc)
            srv = c[k].result;
        else
            assert_int_equal(c[k].id, con);
    }
    assert_true(srv >= 3);
    assert_int_equal(plen, sizeof(sa_family_t));
    assert_int_equal(peer.ss_family, AF_UNSPEC);
    assert_int_equal(run_op(e, vl_op_connect(s, (struct sockaddr *)&a, sizeof(a))), -EISCONN);
    assert_int_equal(run_op(e, vl_op_connect(l, (struct sockaddr *)&a, sizeof(a))), -EINVAL);
    assert_int_equal(run_op(e, vl_op_accept(s, NULL, NULL)), -EINVAL);
    char buf[4];
    assert_int_equal(run_op(e, vl_op_send(s, "hi", 2, 0)), 2);
    assert_int_equal(run_op(e, vl_op_recv((int)srv, buf, 4, 0)), 2);
    /* The backlog holds 2: the third synchronous connect is -EAGAIN, a
     * CONNECT op waits until an accept makes room. */
    int c1 = vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a));
    int c2 = vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a));
    assert_true(c1 >= 3 && c2 >= 3);
    assert_int_equal(vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a)), -EAGAIN);
    int s3 = vl_sim_socket(e);
    int64_t con3 = sub(e, vl_op_connect(s3, (struct sockaddr *)&a, sizeof(a)), NULL);
    assert_idle(e);
    assert_true(run_op(e, vl_op_accept(l, NULL, NULL)) >= 3);
    assert_int_equal(vl_engine_poll(e, 0, c, 1), 1);
    assert_int_equal(c[0].id, con3);
    assert_int_equal(c[0].result, 0);
    /* Closing the listener resets the connections never accepted. */
    assert_int_equal(vl_sim_close(e, l), 0);
    assert_int_equal(vl_sim_read(e, c2, buf, 4), -ECONNRESET);
    assert_int_equal(vl_sim_read(e, c2, buf, 4), 0);
    assert_int_equal(run_op(e, vl_op_connect(vl_sim_socket(e), (struct sockaddr *)&a, sizeof(a))),
                     -ECONNREFUSED);
    vl_engine_destroy(e);
}

static void fd_limit_gives_emfile_and_recovers(void **state)
{
    (void)state;
    vl_engine *e = mk();
    vl_sim_config cfg = {.fd_limit = 3};
    assert_int_equal(vl_sim_configure(e, &cfg), 0);
    struct sockaddr_in a = addr_v4(1);
    int l = vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 8);
    int c1 = vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a));
    int c2 = vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a));
    assert_true(l >= 3 && c1 >= 3 && c2 >= 3);
    assert_int_equal(vl_sim_socket(e), -EMFILE);
    int fds[2];
    assert_int_equal(vl_sim_socketpair(e, fds), -EMFILE);
    /* Both connections wait in the backlog; accepting one needs a descriptor. */
    assert_int_equal(run_op(e, vl_op_accept(l, NULL, NULL)), -EMFILE);
    assert_int_equal(vl_sim_close(e, c1), 0);
    int64_t s = run_op(e, vl_op_accept(l, NULL, NULL));
    assert_true(s >= 3);
    char b;
    /* The first connection's client is gone: its server end reads EOF. */
    assert_int_equal(vl_sim_read(e, (int)s, &b, 1), 0);
    vl_engine_destroy(e);
}

/* ---- time --------------------------------------------------------------------------- */

static void virtual_clock_and_timeouts(void **state)
{
    (void)state;
    vl_engine *e = mk();
    vl_completion c[2];
    int64_t t0 = ct_now_ns();
    /* An idle poll(T) moves the clock by exactly T, in no real time. */
    assert_int_equal(vl_engine_poll(e, 3600 * 1000 * CT_MS, c, 2), 0);
    assert_in_range(vl_sim_now(e), 3599 * 1000 * CT_MS, 3600 * 1000 * CT_MS);
    int64_t base = vl_sim_now(e);
    int64_t late = sub(e, vl_op_timeout(5000 * CT_MS), NULL);
    int64_t early = sub(e, vl_op_timeout(2000 * CT_MS), NULL);
    assert_int_equal(vl_engine_poll(e, 1000 * CT_MS, c, 2), 0);
    /* The core hands the driver what is left of the timeout after its own
     * (real) bookkeeping, a few microseconds less than T. */
    assert_in_range(vl_sim_now(e), base + 990 * CT_MS, base + 1000 * CT_MS);
    /* poll(-1) jumps to the earliest deadline and no further. */
    assert_int_equal(vl_engine_poll(e, -1, c, 2), 1);
    assert_int_equal(c[0].id, early);
    assert_int_equal(c[0].result, 0);
    assert_int_equal(vl_sim_now(e), base + 2000 * CT_MS);
    assert_int_equal(vl_sim_advance(e, 2999 * CT_MS), 0);
    assert_idle(e);
    assert_int_equal(vl_sim_advance(e, CT_MS), 0);
    assert_int_equal(vl_engine_poll(e, 0, c, 2), 1);
    assert_int_equal(c[0].id, late);
    assert_int_equal(vl_sim_now(e), base + 5000 * CT_MS);
    assert_true(ct_now_ns() - t0 < 2000 * CT_MS);
    /* TIMEOUT 0 fires at the next poll. */
    assert_int_equal(run_op(e, vl_op_timeout(0)), 0);
    vl_engine_destroy(e);
}

/* Deadlines (VL_OP_F_DEADLINE) run on the virtual clock: a RECV that gets
 * nothing ends with -ETIMEDOUT exactly at its deadline, in no real time;
 * one that gets data first keeps it. */
static void deadlines_on_the_virtual_clock(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char buf[8];
    vl_completion c;
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t t0 = ct_now_ns();
    int64_t base = vl_sim_now(e);
    vl_op op = vl_op_recv(fds[0], buf, sizeof(buf), 0);
    op.flags = VL_OP_F_DEADLINE;
    op.deadline_ns = 3000 * CT_MS;
    int64_t id = sub(e, op, NULL);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, -ETIMEDOUT);
    assert_int_equal(vl_sim_now(e), base + 3000 * CT_MS);
    assert_true(ct_now_ns() - t0 < 2000 * CT_MS);
    /* Absolute, and the data comes first. */
    op.flags = VL_OP_F_DEADLINE | VL_OP_F_DEADLINE_ABS;
    op.deadline_ns = vl_sim_now(e) + 1000 * CT_MS;
    id = sub(e, op, NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_write(e, fds[1], "ab", 2), 2);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.id, id);
    assert_int_equal(c.result, 2);
    assert_int_equal(vl_engine_poll(e, 2000 * CT_MS, &c, 1), 0);
    vl_engine_destroy(e);
}

/* Submit a RECV on fd with a deadline: rel (relative) or, when abs_at >= 0,
 * absolute at abs_at. Records its id and its deadline at index *n. */
static void sub_deadline(vl_engine *e, int fd, int64_t rel, int64_t abs_at, int64_t *ids,
                         int64_t *at, int *n)
{
    static char buf[8];
    vl_op op = vl_op_recv(fd, buf, sizeof(buf), 0);
    op.flags = VL_OP_F_DEADLINE | (abs_at >= 0 ? VL_OP_F_DEADLINE_ABS : 0);
    op.deadline_ns = abs_at >= 0 ? abs_at : rel;
    ids[*n] = sub(e, op, NULL);
    at[*n] = abs_at >= 0 ? abs_at : vl_sim_now(e) + rel;
    (*n)++;
}

/*
 * The core keeps ops that share a relative deadline in FIFO lists (a few
 * of them) and the rest in a heap. With more distinct relative deadlines
 * than lists, absolute ones, equal deadlines that lists and the heap hold
 * together, and cancels from the middle of a list, every RECV still ends
 * with -ETIMEDOUT exactly at its deadline, and equal deadlines end in
 * submission order.
 */
static void deadline_lists_and_heap_keep_order(void **state)
{
    (void)state;
    enum { VALUES = 12, ROUNDS = 3, N = ROUNDS * (VALUES + 2) };
    vl_engine *e = mk();
    int fds[2];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t ids[N], at[N];
    int n = 0;
    int64_t base = vl_sim_now(e);
    for (int r = 0; r < ROUNDS; r++) {
        /* Round r runs at base + r ms. */
        for (int k = 0; k < VALUES; k++)
            sub_deadline(e, fds[0], (k + 1) * 10 * CT_MS, -1, ids, at, &n);
        /* base + 30 ms again: from the 30 ms list, then from the heap
         * (every list is held by then), and absolute. */
        sub_deadline(e, fds[0], (30 - r) * CT_MS, -1, ids, at, &n);
        sub_deadline(e, fds[0], 0, base + 30 * CT_MS, ids, at, &n);
        assert_int_equal(vl_sim_advance(e, CT_MS), 0);
    }
    assert_int_equal(n, N);
    /* Cancel the middle round's first and last relative ops: one from the
     * middle of a list, one from the heap. */
    int gone[2] = {VALUES + 2, VALUES + 2 + VALUES - 1};
    vl_completion c[N + 2];
    for (int g = 0; g < 2; g++)
        sub(e, vl_op_cancel((uint64_t)ids[gone[g]]), NULL);
    int got = 0;
    while (got < 4) {
        int k = vl_engine_poll(e, 0, c + got, N + 2 - got);
        assert_true(k > 0);
        got += k;
    }
    int cancelled = 0;
    for (int i = 0; i < got; i++)
        cancelled += c[i].result == -ECANCELED &&
                     (c[i].id == (uint64_t)ids[gone[0]] || c[i].id == (uint64_t)ids[gone[1]]);
    assert_int_equal(cancelled, 2);
    ids[gone[0]] = ids[gone[1]] = 0;
    /* The order they must end in: by deadline, then submission. */
    int order[N], m = 0;
    for (int i = 0; i < N; i++) {
        if (ids[i] == 0)
            continue;
        int j = m++;
        for (; j > 0 && at[order[j - 1]] > at[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    int done = 0;
    while (done < m) {
        int k = vl_engine_poll(e, -1, c, N);
        assert_true(k > 0);
        for (int i = 0; i < k; i++, done++) {
            assert_int_equal(c[i].id, ids[order[done]]);
            assert_int_equal(c[i].result, -ETIMEDOUT);
            assert_int_equal(vl_sim_now(e), at[order[done]]);
        }
    }
    /* The lists emptied are free again for a new relative deadline. */
    int64_t now = vl_sim_now(e);
    n = 0;
    sub_deadline(e, fds[0], 5 * CT_MS, -1, ids, at, &n);
    assert_int_equal(vl_engine_poll(e, -1, c, N), 1);
    assert_int_equal(c[0].id, ids[0]);
    assert_int_equal(c[0].result, -ETIMEDOUT);
    assert_int_equal(vl_sim_now(e), now + 5 * CT_MS);
    vl_engine_destroy(e);
}

static vl_op link_op(vl_op op)
{
    op.flags |= VL_OP_F_LINK;
    return op;
}

/* Chains (VL_OP_F_LINK) on the virtual clock: RECV -> TIMEOUT -> SEND runs
 * the TIMEOUT from the RECV's completion, exactly; a deadline that passes
 * while a member waits ends it with -ETIMEDOUT when its turn comes, after
 * its predecessor; a deadline on the head ends the chain at the deadline. */
static void chains_on_the_virtual_clock(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char buf[2], back[4];
    vl_completion c[4];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t recv_id = sub(e, link_op(vl_op_recv(fds[0], buf, sizeof(buf), 0)), NULL);
    int64_t wait_id = sub(e, link_op(vl_op_timeout(2000 * CT_MS)), NULL);
    int64_t send_id = sub(e, vl_op_send(fds[0], buf, sizeof(buf), 0), NULL);
    assert_int_equal(vl_sim_advance(e, 5000 * CT_MS), 0);
    assert_idle(e); /* the TIMEOUT has not started: it waits for the RECV */
    assert_int_equal(vl_sim_write(e, fds[1], "hi", 2), 2);
    assert_int_equal(vl_engine_poll(e, 0, c, 4), 1);
    assert_int_equal(c[0].id, recv_id);
    assert_int_equal(c[0].result, 2);
    int64_t at = vl_sim_now(e);
    assert_int_equal(vl_engine_poll(e, -1, c, 4), 1);
    assert_int_equal(c[0].id, wait_id);
    assert_int_equal(c[0].result, 0);
    assert_int_equal(vl_sim_now(e), at + 2000 * CT_MS);
    assert_int_equal(vl_engine_poll(e, -1, c, 4), 1);
    assert_int_equal(c[0].id, send_id);
    assert_int_equal(c[0].result, 2);
    assert_int_equal(vl_sim_read(e, fds[1], back, sizeof(back)), 2);
    assert_memory_equal(back, "hi", 2);

    /* A member's deadline passes while the head waits. */
    vl_op late = vl_op_nop();
    late.flags = VL_OP_F_DEADLINE | VL_OP_F_LINK;
    late.deadline_ns = 500 * CT_MS;
    recv_id = sub(e, link_op(vl_op_recv(fds[0], buf, 1, 0)), NULL);
    int64_t late_id = sub(e, late, NULL);
    int64_t last_id = sub(e, vl_op_nop(), NULL);
    assert_int_equal(vl_engine_poll(e, 1000 * CT_MS, c, 4), 0);
    assert_int_equal(vl_sim_write(e, fds[1], "x", 1), 1);
    assert_int_equal(vl_engine_poll(e, -1, c, 4), 3);
    assert_int_equal(c[0].id, recv_id);
    assert_int_equal(c[0].result, 1);
    assert_int_equal(c[1].id, late_id);
    assert_int_equal(c[1].result, -ETIMEDOUT);
    assert_int_equal(c[2].id, last_id);
    assert_int_equal(c[2].result, -ECANCELED);

    /* The head's deadline: the chain ends exactly then. */
    vl_op head = vl_op_recv(fds[0], buf, 1, 0);
    head.flags = VL_OP_F_DEADLINE | VL_OP_F_LINK;
    head.deadline_ns = 3000 * CT_MS;
    int64_t base = vl_sim_now(e);
    recv_id = sub(e, head, NULL);
    send_id = sub(e, vl_op_send(fds[0], buf, 1, 0), NULL);
    assert_int_equal(vl_engine_poll(e, -1, c, 4), 2);
    assert_int_equal(c[0].id, recv_id);
    assert_int_equal(c[0].result, -ETIMEDOUT);
    assert_int_equal(c[1].id, send_id);
    assert_int_equal(c[1].result, -ECANCELED);
    assert_int_equal(vl_sim_now(e), base + 3000 * CT_MS);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/* Under the fault injector's short transfers, a chain RECV -> SEND goes on
 * exactly when the RECV took every byte, and a SEND that ran sent them
 * all or was short itself; nothing is lost: the bytes the RECVs did not
 * take stay readable. Same seed, same outcome. */
static int chains_under_short_transfers(uint64_t seed, uint64_t *trace)
{
    vl_engine *e = mk();
    vl_sim_config cfg = {.seed = seed, .short_ppm = VL_SIM_PPM / 2};
    assert_int_equal(vl_sim_configure(e, &cfg), 0);
    int fds[2];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int went_on = 0;
    *trace = 0;
    for (int k = 0; k < 64; k++) {
        char buf[8], sink[64];
        assert_int_equal(vl_sim_write(e, fds[1], "abcdefgh", 8), 8);
        int64_t r = sub(e, link_op(vl_op_recv(fds[0], buf, sizeof(buf), 0)), NULL);
        int64_t s = sub(e, vl_op_send(fds[0], buf, sizeof(buf), 0), NULL);
        int64_t res[2] = {1, 1};
        int got = 0;
        for (int round = 0; round < 100 && got < 2; round++) {
            vl_completion c[2];
            int n = vl_engine_poll(e, -1, c, 2);
            for (int j = 0; j < n; j++, got++) {
                assert_int_equal(c[j].id, got == 0 ? r : s); /* in chain order */
                res[got] = c[j].result;
            }
        }
        assert_int_equal(got, 2);
        assert_in_range(res[0], 1, 8);
        if (res[0] == 8) {
            went_on++;
            assert_in_range(res[1], 1, 8);
        } else {
            assert_int_equal(res[1], -ECANCELED);
        }
        *trace = *trace * 31 + (uint64_t)res[0] * 17 + (uint64_t)(res[1] + 200);
        /* What the RECV left, and what the SEND sent, drained by hand. */
        ssize_t left = vl_sim_read(e, fds[0], sink, sizeof(sink));
        assert_int_equal(left < 0 ? 0 : left, 8 - res[0]);
        ssize_t echoed = vl_sim_read(e, fds[1], sink, sizeof(sink));
        assert_int_equal(echoed < 0 ? 0 : echoed, res[1] > 0 ? res[1] : 0);
    }
    vl_engine_destroy(e);
    return went_on;
}

static void chains_short_transfers_end_them(void **state)
{
    (void)state;
    uint64_t t1, t2;
    int on = chains_under_short_transfers(g_seed, &t1);
    assert_in_range(on, 1, 63); /* both ways happen at a 50 % rate */
    assert_int_equal(chains_under_short_transfers(g_seed, &t2), on);
    assert_int_equal(t1, t2);
}

static void stall_is_counted_not_hung(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char b;
    vl_completion c;
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t id = sub(e, vl_op_recv(fds[0], &b, 1, 0), NULL);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 0);
    assert_int_equal(vl_sim_stalls(e), 1);
    /* A wake makes the next poll return too. */
    assert_int_equal(vl_engine_wake(e), 0);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 0);
    assert_int_equal(vl_sim_stalls(e), 1);
    assert_int_equal(vl_sim_write(e, fds[1], "!", 1), 1);
    assert_int_equal(vl_engine_poll(e, -1, &c, 1), 1);
    assert_int_equal(c.id, id);
    vl_engine_destroy(e);
}

/* ---- cancel, close, reset, shutdown ---------------------------------------------------- */

static void cancel_and_close_pending(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char b[4];
    vl_completion c[4];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t r = sub(e, vl_op_recv(fds[0], b, 4, 0), NULL);
    assert_idle(e);
    int64_t k = sub(e, vl_op_cancel((uint64_t)r), NULL);
    int n = vl_engine_poll(e, 0, c, 4);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++)
        assert_int_equal(c[i].result, (int64_t)c[i].id == r ? -ECANCELED : 0);
    (void)k;
    assert_int_equal(run_op(e, vl_op_cancel((uint64_t)r)), -ENOENT); /* stale */
    assert_int_equal(run_op(e, vl_op_cancel(12345)), -ENOENT);
    /* CLOSE with two ops pending on the fd: each completes once, cancelled. */
    int64_t r1 = sub(e, vl_op_recv(fds[0], b, 4, 0), NULL);
    int64_t r2 = sub(e, vl_op_read(fds[0], b, 4, -1), NULL);
    assert_idle(e);
    int64_t cl = sub(e, vl_op_close(fds[0]), NULL);
    n = 0;
    while (n < 3)
        n += vl_engine_poll(e, 0, c + n, 4 - n);
    for (int i = 0; i < 3; i++) {
        if ((int64_t)c[i].id == cl)
            assert_int_equal(c[i].result, 0);
        else
            assert_true(((int64_t)c[i].id == r1 || (int64_t)c[i].id == r2) &&
                        c[i].result == -ECANCELED);
    }
    assert_idle(e);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

static void reset_reports_econnreset_once(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char b[4];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    assert_int_equal(vl_sim_write(e, fds[0], "lost", 4), 4);
    int64_t id = sub(e, vl_op_send(fds[1], "x", 1, 0), NULL);
    (void)id;
    assert_int_equal(vl_engine_poll(e, 0, &(vl_completion){0}, 1), 1);
    assert_int_equal(vl_sim_reset(e, fds[0]), 0);
    assert_int_equal(run_op(e, vl_op_recv(fds[1], b, 4, 0)), -ECONNRESET);
    assert_int_equal(run_op(e, vl_op_recv(fds[1], b, 4, 0)), 0);
    assert_int_equal(run_op(e, vl_op_send(fds[1], b, 4, 0)), -EPIPE);
    /* A reset while a send is pending: the send fails, once. */
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    assert_int_equal(vl_sim_reset(e, fds[1]), 0);
    assert_int_equal(run_op(e, vl_op_send(fds[0], "x", 1, 0)), -ECONNRESET);
    assert_int_equal(run_op(e, vl_op_send(fds[0], "x", 1, 0)), -EPIPE);
    vl_engine_destroy(e);
}

/* SHUTDOWN on sim descriptors: SHUT_WR lets the peer read the queued data,
 * then EOF, and wakes a RECV parked on it; SHUT_RD makes reads here EOF;
 * the errors of the conformance suite. */
static void shutdown_op_half_closes(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2], p[2];
    char b[8];
    vl_completion c[2];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    assert_int_equal(vl_sim_write(e, fds[0], "abc", 3), 3);
    assert_int_equal(run_op(e, vl_op_shutdown(fds[0], VL_SHUT_WR)), 0);
    assert_int_equal(run_op(e, vl_op_recv(fds[1], b, sizeof(b), 0)), 3);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(run_op(e, vl_op_recv(fds[1], b, sizeof(b), 0)), 0);
    assert_int_equal(run_op(e, vl_op_recv(fds[1], b, sizeof(b), 0)), 0);
    assert_int_equal(run_op(e, vl_op_send(fds[0], "x", 1, 0)), -EPIPE);
    assert_int_equal(run_op(e, vl_op_send(fds[1], "back", 4, 0)), 4); /* the other way */
    assert_int_equal(vl_sim_read(e, fds[0], b, sizeof(b)), 4);
    /* A RECV parked on the peer ends with EOF once the SHUTDOWN runs. */
    int sv[2];
    assert_int_equal(vl_sim_socketpair(e, sv), 0);
    int64_t r = sub(e, vl_op_recv(sv[1], b, sizeof(b), 0), NULL);
    assert_idle(e);
    int64_t s = sub(e, vl_op_shutdown(sv[0], VL_SHUT_RDWR), NULL);
    int n = 0;
    while (n < 2)
        n += vl_engine_poll(e, 0, c + n, 2 - n);
    for (int i = 0; i < 2; i++)
        assert_true(((int64_t)c[i].id == r || (int64_t)c[i].id == s) && c[i].result == 0);
    /* SHUT_RD: reads here give EOF at once, even with data queued. */
    assert_int_equal(vl_sim_write(e, sv[1], "zz", 2), 2);
    assert_int_equal(run_op(e, vl_op_recv(sv[0], b, sizeof(b), 0)), 0);
    /* Errors: not connected, a listener, a pipe, a file, a closed fd. */
    struct sockaddr_in a = addr_v4(9);
    int l = vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 4);
    int u = vl_sim_socket(e);
    assert_true(l >= 3 && u >= 3);
    assert_int_equal(run_op(e, vl_op_shutdown(u, VL_SHUT_WR)), -ENOTCONN);
    assert_int_equal(run_op(e, vl_op_shutdown(l, VL_SHUT_RDWR)), -ENOTCONN);
    assert_int_equal(vl_sim_pipe(e, p), 0);
    int f = vl_sim_file(e, "data", 4, 16);
    assert_true(f >= 3);
    assert_int_equal(run_op(e, vl_op_shutdown(p[0], VL_SHUT_RD)), -ENOTSOCK);
    assert_int_equal(run_op(e, vl_op_shutdown(f, VL_SHUT_RD)), -ENOTSOCK);
    assert_int_equal(vl_sim_close(e, u), 0);
    assert_int_equal(run_op(e, vl_op_shutdown(u, VL_SHUT_WR)), -EBADF);
    vl_op bad = vl_op_shutdown(fds[1], 3);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    assert_idle(e);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/* SOCKET, BIND and LISTEN are not on the simulator (its sockets come
 * from vl_sim_socket, vl_sim_socketpair and vl_sim_listen): each completes
 * with -EOPNOTSUPP, a well-formed op or not the same errors at submit as
 * on every driver, and the sim socket a BIND or LISTEN named is untouched. */
static void socket_ops_are_not_on_sim(void **state)
{
    (void)state;
    vl_engine *e = mk();
    struct sockaddr_in a = addr_v4(80);
    int u = vl_sim_socket(e);
    assert_true(u >= 3);
    assert_int_equal(run_op(e, vl_op_socket(AF_INET, SOCK_STREAM, 0, 0)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_socket(AF_INET, SOCK_DGRAM, 0, VL_SOCK_NONBLOCK)),
                     -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_bind(u, (struct sockaddr *)&a, sizeof(a))), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_listen(u, 4)), -EOPNOTSUPP);
    vl_op bad = vl_op_socket(AF_INET, SOCK_STREAM, 0, 0x2);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    bad = vl_op_bind(u, NULL, sizeof(a));
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EFAULT);
    bad = vl_op_listen(u, -1);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    assert_idle(e);
    assert_int_equal(vl_engine_inflight(e), 0);
    /* Still an unconnected sim socket. */
    assert_int_equal(run_op(e, vl_op_shutdown(u, VL_SHUT_WR)), -ENOTCONN);
    vl_engine_destroy(e);
}

/* The path ops: the simulator has no file system, so each completes with
 * -EOPNOTSUPP (after the same submit checks as everywhere). FTRUNCATE acts
 * on its files: cut, grown with zeros, -EFBIG beyond the capacity, -EINVAL
 * for a pipe or socket, -EBADF for a closed fd. */
static void path_ops_and_ftruncate(void **state)
{
    (void)state;
    vl_engine *e = mk();
    struct vl_statx st;
    assert_int_equal(run_op(e, vl_op_openat(VL_AT_FDCWD, "f", O_RDONLY, 0)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_statx(VL_AT_FDCWD, "f", 0, &st)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_unlinkat(VL_AT_FDCWD, "f", 0)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_renameat(VL_AT_FDCWD, "f", VL_AT_FDCWD, "g")), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_mkdirat(VL_AT_FDCWD, "d", 0700)), -EOPNOTSUPP);
    vl_op bad = vl_op_openat(VL_AT_FDCWD, NULL, O_RDONLY, 0);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EFAULT);
    bad = vl_op_ftruncate(3, -1);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    int f = vl_sim_file(e, "abcdef", 6, 16);
    assert_true(f >= 3);
    char b[32];
    assert_int_equal(run_op(e, vl_op_ftruncate(f, 2)), 0);
    assert_int_equal(run_op(e, vl_op_read(f, b, sizeof(b), 0)), 2);
    assert_int_equal(run_op(e, vl_op_ftruncate(f, 5)), 0);
    assert_int_equal(run_op(e, vl_op_read(f, b, sizeof(b), 0)), 5);
    assert_memory_equal(b, "ab\0\0\0", 5);
    assert_int_equal(run_op(e, vl_op_ftruncate(f, 16)), 0);
    assert_int_equal(run_op(e, vl_op_ftruncate(f, 17)), -EFBIG);
    int p[2], sv[2];
    assert_int_equal(vl_sim_pipe(e, p), 0);
    assert_int_equal(vl_sim_socketpair(e, sv), 0);
    assert_int_equal(run_op(e, vl_op_ftruncate(p[1], 0)), -EINVAL);
    assert_int_equal(run_op(e, vl_op_ftruncate(sv[0], 0)), -EINVAL);
    assert_int_equal(vl_sim_close(e, f), 0);
    assert_int_equal(run_op(e, vl_op_ftruncate(f, 0)), -EBADF);
    assert_idle(e);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/* SENDMSG and RECVMSG: the simulator has no datagrams, addresses or
 * control data, so its sockets answer -EOPNOTSUPP (single or multishot,
 * and no pool buffer is taken), a pipe or file -ENOTSOCK, a closed fd
 * -EBADF; malformed shapes are refused at submit as on every driver. */
static void msg_ops_are_refused(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2], p[2];
    char b[8] = "abc";
    vl_msgio m;
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    assert_int_equal(run_op(e, vl_op_sendto(fds[0], &m, b, 3, 0, NULL, 0)), -EOPNOTSUPP);
    assert_int_equal(run_op(e, vl_op_recvfrom(fds[1], &m, b, sizeof(b), 0, NULL, 0)), -EOPNOTSUPP);
    vl_bufpool *pool;
    assert_int_equal(vl_bufpool_create(e, 2, 64, &pool), 0);
    struct msghdr mh = {0};
    assert_int_equal(run_op(e, vl_op_recvmsg_multi(fds[1], &mh, pool, 0)), -EOPNOTSUPP);
    assert_int_equal(vl_bufpool_available(pool), 2);
    int u = vl_sim_socket(e);
    assert_true(u >= 3);
    assert_int_equal(run_op(e, vl_op_sendto(u, &m, b, 3, 0, NULL, 0)), -EOPNOTSUPP);
    assert_int_equal(vl_sim_pipe(e, p), 0);
    int f = vl_sim_file(e, "data", 4, 16);
    assert_true(f >= 3);
    assert_int_equal(run_op(e, vl_op_sendto(p[1], &m, b, 3, 0, NULL, 0)), -ENOTSOCK);
    assert_int_equal(run_op(e, vl_op_recvfrom(f, &m, b, 3, 0, NULL, 0)), -ENOTSOCK);
    assert_int_equal(vl_sim_close(e, u), 0);
    assert_int_equal(run_op(e, vl_op_recvfrom(u, &m, b, 3, 0, NULL, 0)), -EBADF);
    /* The data was not touched: the pair still carries a SEND. */
    assert_int_equal(run_op(e, vl_op_send(fds[0], "xy", 2, 0)), 2);
    assert_int_equal(vl_sim_read(e, fds[1], b, sizeof(b)), 2);
    vl_op bad = vl_op_sendmsg(fds[0], NULL, 0);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    bad = vl_op_recvmsg_multi(fds[0], &mh, NULL, 0);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    assert_idle(e);
    assert_int_equal(vl_engine_inflight(e), 0);
    assert_int_equal(vl_bufpool_destroy(pool), 0);
    vl_engine_destroy(e);
}

static void shutdown_cancels_and_refuses(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int fds[2];
    char b[4];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t r = sub(e, vl_op_recv(fds[0], b, 4, 0), NULL);
    int64_t t = sub(e, vl_op_timeout(1000 * CT_MS), NULL);
    assert_idle(e);
    int64_t q = sub(e, vl_op_nop(), NULL); /* queued, never reached the driver */
    vl_engine_shutdown(e);
    vl_completion c[4];
    assert_int_equal(vl_engine_poll(e, -1, c, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].result, -ECANCELED);
        assert_true((int64_t)c[i].id == r || (int64_t)c[i].id == t || (int64_t)c[i].id == q);
    }
    assert_int_equal(vl_engine_poll(e, -1, c, 4), 0);
    vl_op nop = vl_op_nop();
    assert_int_equal(vl_engine_submit(e, &nop, NULL), -ESHUTDOWN);
    assert_int_equal(vl_sim_socketpair(e, fds), -ESHUTDOWN);
    assert_int_equal(vl_sim_socket(e), -ESHUTDOWN);
    vl_engine_destroy(e);
}

static void multishot_recv_and_accept(void **state)
{
    (void)state;
    vl_engine *e = mk();
    vl_bufpool *p = NULL;
    assert_int_equal(vl_bufpool_create(e, 4, 8, &p), 0);
    int fds[2];
    assert_int_equal(vl_sim_socketpair(e, fds), 0);
    int64_t id = sub(e, vl_op_recv_multi(fds[0], p, 0), NULL);
    assert_int_equal(vl_sim_write(e, fds[1], "0123456789abc", 13), 13);
    vl_completion c[8];
    int n = vl_engine_poll(e, 0, c, 8);
    assert_int_equal(n, 2); /* 8 + 5 bytes: one buffer each */
    char got[16];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(c[i].id, id);
        assert_true(c[i].flags & VL_CQE_MORE);
        assert_true(c[i].flags & VL_CQE_BUFFER);
        uint32_t bid = vl_cqe_buffer(c[i].flags);
        memcpy(got + off, vl_bufpool_buf(p, bid), (size_t)c[i].result);
        off += (size_t)c[i].result;
        assert_int_equal(vl_bufpool_release(p, bid), 0);
    }
    assert_int_equal(off, 13);
    assert_memory_equal(got, "0123456789abc", 13);
    assert_int_equal(vl_sim_close(e, fds[1]), 0);
    assert_int_equal(vl_engine_poll(e, 0, c, 8), 1);
    assert_int_equal(c[0].flags & VL_CQE_MORE, 0);
    assert_int_equal(c[0].result, 0);

    struct sockaddr_in a = addr_v4(7);
    int l = vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 8);
    int64_t acc = sub(e, vl_op_accept_multi(l), NULL);
    assert_true(vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a)) >= 3);
    assert_true(vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a)) >= 3);
    assert_int_equal(vl_engine_poll(e, 0, c, 8), 2);
    assert_true((c[0].flags & VL_CQE_MORE) && c[0].result >= 3 && c[1].result >= 3);
    int64_t k = sub(e, vl_op_cancel((uint64_t)acc), NULL);
    assert_int_equal(vl_engine_poll(e, 0, c, 8), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c[i].flags, 0);
        assert_true(((int64_t)c[i].id == acc && c[i].result == -ECANCELED) ||
                    ((int64_t)c[i].id == k && c[i].result == 0));
    }
    /* vl_engine_stats on the simulator: it emulates every op and makes no
     * system call. */
    vl_engine_statistics st;
    st.size = sizeof(st);
    assert_int_equal(vl_engine_stats(e, &st), 0);
    assert_string_equal(st.driver_name, "sim");
    /* A multishot op counts under its kind. */
    assert_int_equal(st.submitted[VL_OP_RECV], 1);
    assert_int_equal(st.submitted[VL_OP_ACCEPT], 1);
    assert_int_equal(st.submitted[VL_OP_CANCEL], 1);
    assert_int_equal(st.completed[VL_OP_RECV], 1);
    assert_int_equal(st.completed[VL_OP_ACCEPT], 1);
    assert_int_equal(st.completed[VL_OP_CANCEL], 1);
    assert_int_equal(st.completions, 7); /* 2 + EOF, 2 + -ECANCELED, the CANCEL */
    assert_true(st.native == 0 && st.emulated == 3);
    assert_true(st.kernel_enters == 0 && st.kernel_completions == 0);
    assert_true(st.cq_deferred == 0 && st.pool_starved == 0 && st.busy_refusals == 0);
    vl_engine_destroy(e);
}

/* ---- POLL ------------------------------------------------------------------------------ */

/* One-shot POLL on each kind of simulated descriptor: the mask poll(2)
 * would give on Linux for the like file. */
static void poll_masks_per_descriptor(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int sv[2], p[2];
    char b[8];
    assert_int_equal(vl_sim_socketpair(e, sv), 0);
    assert_int_equal(run_op(e, vl_op_poll(sv[0], VL_POLL_OUT)), VL_POLL_OUT);
    int64_t id = sub(e, vl_op_poll(sv[0], VL_POLL_IN), NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_write(e, sv[1], "ab", 2), 2);
    vl_completion c;
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_true(c.id == (uint64_t)id && c.result == VL_POLL_IN && c.flags == 0);
    assert_int_equal(run_op(e, vl_op_poll(sv[0], VL_POLL_IN | VL_POLL_OUT)),
                     VL_POLL_IN | VL_POLL_OUT);
    /* A full ring: not writable until the reader takes something. */
    static char big[VL_SIM_BUF_SIZE];
    ssize_t put = vl_sim_write(e, sv[0], big, sizeof(big));
    assert_true(put > 0);
    id = sub(e, vl_op_poll(sv[0], VL_POLL_OUT), NULL);
    assert_idle(e);
    assert_int_equal(vl_sim_read(e, sv[1], b, sizeof(b)), (ssize_t)sizeof(b));
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_true(c.id == (uint64_t)id && c.result == VL_POLL_OUT);
    /* The peer shuts its side: RDHUP; closes: HUP too. */
    assert_int_equal(vl_sim_shutdown(e, sv[1], SHUT_WR), 0);
    assert_int_equal(run_op(e, vl_op_poll(sv[0], VL_POLL_RDHUP)), VL_POLL_RDHUP);
    assert_int_equal(vl_sim_close(e, sv[1]), 0);
    assert_int_equal(run_op(e, vl_op_poll(sv[0], VL_POLL_IN)), VL_POLL_IN | VL_POLL_HUP);
    /* A reset: ERR and HUP, whatever was asked. */
    int r[2];
    assert_int_equal(vl_sim_socketpair(e, r), 0);
    assert_int_equal(vl_sim_reset(e, r[1]), 0);
    assert_int_equal(run_op(e, vl_op_poll(r[0], VL_POLL_OUT)),
                     VL_POLL_OUT | VL_POLL_ERR | VL_POLL_HUP);
    /* Never connected: OUT and HUP, as TCP. A listener: IN with a
     * connection waiting. */
    int u = vl_sim_socket(e);
    assert_true(u >= 3);
    assert_int_equal(run_op(e, vl_op_poll(u, VL_POLL_IN | VL_POLL_OUT)), VL_POLL_OUT | VL_POLL_HUP);
    struct sockaddr_in a = addr_v4(11);
    int l = vl_sim_listen(e, (struct sockaddr *)&a, sizeof(a), 4);
    assert_true(l >= 3);
    id = sub(e, vl_op_poll(l, VL_POLL_IN), NULL);
    assert_idle(e);
    assert_true(vl_sim_connect(e, (struct sockaddr *)&a, sizeof(a)) >= 3);
    assert_int_equal(vl_engine_poll(e, 0, &c, 1), 1);
    assert_true(c.id == (uint64_t)id && c.result == VL_POLL_IN);
    /* Pipes: the read end IN with data, HUP without a writer; the write end
     * OUT, ERR without a reader. A file: always ready. */
    assert_int_equal(vl_sim_pipe(e, p), 0);
    assert_int_equal(run_op(e, vl_op_poll(p[1], VL_POLL_OUT)), VL_POLL_OUT);
    assert_int_equal(vl_sim_write(e, p[1], "z", 1), 1);
    assert_int_equal(run_op(e, vl_op_poll(p[0], VL_POLL_IN)), VL_POLL_IN);
    assert_int_equal(vl_sim_close(e, p[1]), 0);
    assert_int_equal(run_op(e, vl_op_poll(p[0], VL_POLL_IN)), VL_POLL_IN | VL_POLL_HUP);
    int q[2];
    assert_int_equal(vl_sim_pipe(e, q), 0);
    assert_int_equal(vl_sim_close(e, q[0]), 0);
    assert_int_equal(run_op(e, vl_op_poll(q[1], VL_POLL_OUT)), VL_POLL_ERR);
    int f = vl_sim_file(e, "data", 4, 16);
    assert_true(f >= 3);
    assert_int_equal(run_op(e, vl_op_poll(f, VL_POLL_IN | VL_POLL_OUT)), VL_POLL_IN | VL_POLL_OUT);
    /* Errors: a closed fd; bad masks at submit. */
    assert_int_equal(vl_sim_close(e, u), 0);
    assert_int_equal(run_op(e, vl_op_poll(u, VL_POLL_IN)), -EBADF);
    vl_op bad = vl_op_poll(f, 0);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    bad = vl_op_poll_multi(f, 0x40);
    assert_int_equal(vl_engine_submit(e, &bad, NULL), -EINVAL);
    assert_idle(e);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/* A multishot POLL reports each change of the mask, none while it holds,
 * goes on after a hangup, and ends only by CANCEL (-ECANCELED); on a file
 * it ends with -EPERM. */
static void poll_multishot_reports_changes(void **state)
{
    (void)state;
    vl_engine *e = mk();
    int sv[2];
    char b[8];
    vl_completion c[2];
    assert_int_equal(vl_sim_socketpair(e, sv), 0);
    int64_t id = sub(e, vl_op_poll_multi(sv[0], VL_POLL_IN), NULL);
    assert_idle(e);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(vl_sim_write(e, sv[1], "ab", 2), 2);
        assert_int_equal(vl_engine_poll(e, 0, c, 2), 1);
        assert_true(c[0].id == (uint64_t)id && c[0].result == VL_POLL_IN &&
                    c[0].flags == VL_CQE_MORE);
        assert_idle(e); /* the data stays: no new report */
        assert_int_equal(vl_sim_read(e, sv[0], b, sizeof(b)), 2);
        assert_idle(e);
    }
    assert_int_equal(vl_sim_close(e, sv[1]), 0);
    assert_int_equal(vl_engine_poll(e, 0, c, 2), 1);
    assert_true(c[0].result == (VL_POLL_IN | VL_POLL_HUP) && c[0].flags == VL_CQE_MORE);
    int64_t k = sub(e, vl_op_cancel((uint64_t)id), NULL);
    assert_int_equal(vl_engine_poll(e, 0, c, 2), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c[i].flags, 0);
        assert_true(((int64_t)c[i].id == id && c[i].result == -ECANCELED) ||
                    ((int64_t)c[i].id == k && c[i].result == 0));
    }
    int f = vl_sim_file(e, "data", 4, 16);
    assert_true(f >= 3);
    id = sub(e, vl_op_poll_multi(f, VL_POLL_IN), NULL);
    assert_int_equal(vl_engine_poll(e, 0, c, 2), 1);
    assert_true(c[0].id == (uint64_t)id && c[0].result == -EPERM && c[0].flags == 0);
    assert_int_equal(vl_engine_inflight(e), 0);
    vl_engine_destroy(e);
}

/* ---- the workload: determinism, no loss, replay ---------------------------------------- */

#define FLOWS      6
#define FLOW_BYTES 60000

struct flow {
    int wfd, rfd;
    bool sock; /* SEND/RECV (else WRITE/READ)          */
    bool wbusy, rbusy, wdone, rdone;
    size_t sent, got;
    bool reset_seen; /* the stream was cut by a reset      */
    uint8_t wbuf[3000], rbuf[3000];
};

static uint8_t pattern(int f, size_t pos)
{
    return (uint8_t)(pos * 131 + pos / 251 + (size_t)f * 17);
}

struct run_result {
    uint64_t sim_hash, own_hash, completions;
    bool intact; /* every byte received is the byte sent there, in order */
    bool complete;
};

static void own_mix(uint64_t *h, uint64_t v)
{
    *h = (*h ^ v) * 0x100000001b3ull;
}

static void submit_flow_ops(vl_engine *e, struct flow *fl, int f, uint64_t *rng)
{
    if (!fl->wbusy && !fl->wdone) {
        if (fl->sent == FLOW_BYTES) {
            sub(e, vl_op_close(fl->wfd), (void *)(uintptr_t)(f * 4 + 2));
            fl->wbusy = true;
        } else {
            size_t n = 1 + ct_below(rng, sizeof(fl->wbuf));
            if (n > FLOW_BYTES - fl->sent)
                n = FLOW_BYTES - fl->sent;
            for (size_t k = 0; k < n; k++)
                fl->wbuf[k] = pattern(f, fl->sent + k);
            vl_op op = fl->sock ? vl_op_send(fl->wfd, fl->wbuf, n, 0)
                                : vl_op_write(fl->wfd, fl->wbuf, n, -1);
            sub(e, op, (void *)(uintptr_t)(f * 4 + 0));
            fl->wbusy = true;
        }
    }
    if (!fl->rbusy && !fl->rdone) {
        size_t n = 1 + ct_below(rng, sizeof(fl->rbuf));
        vl_op op =
            fl->sock ? vl_op_recv(fl->rfd, fl->rbuf, n, 0) : vl_op_read(fl->rfd, fl->rbuf, n, -1);
        sub(e, op, (void *)(uintptr_t)(f * 4 + 1));
        fl->rbusy = true;
    }
}

static void on_completion(struct flow *fls, const vl_completion *c, struct run_result *rr)
{
    uintptr_t tag = (uintptr_t)c->user_data;
    if (tag == 99)
        return; /* a TIMEOUT, a NOP or a CANCEL sprinkled in */
    struct flow *fl = &fls[tag / 4];
    switch (tag % 4) {
    case 0:
        fl->wbusy = false;
        if (c->result > 0)
            fl->sent += (size_t)c->result;
        else if (c->result < 0) /* -ECONNRESET / -EPIPE after a reset */
            fl->wdone = fl->reset_seen = true;
        break;
    case 1:
        fl->rbusy = false;
        if (c->result <= 0) {
            fl->rdone = true;
            fl->reset_seen |= c->result < 0;
            break;
        }
        for (int64_t k = 0; k < c->result; k++)
            if (fl->rbuf[k] != pattern((int)(tag / 4), fl->got + (size_t)k))
                rr->intact = false;
        fl->got += (size_t)c->result;
        break;
    default:
        fl->wbusy = false;
        fl->wdone = true;
        break;
    }
}

/* Stream FLOWS byte-checked flows (socketpairs and pipes) at once under the
 * given faults, with timeouts and cancels mixed in; every result feeds a
 * hash of our own besides the driver's. */
static struct run_result run_workload(uint64_t seed, const vl_sim_config *faults)
{
    struct run_result rr = {.intact = true};
    static struct flow fls[FLOWS];
    vl_engine *e = mk();
    vl_sim_config cfg = *faults;
    cfg.seed = seed;
    assert_int_equal(vl_sim_configure(e, &cfg), 0);
    uint64_t rng = seed;
    memset(fls, 0, sizeof(fls));
    for (int f = 0; f < FLOWS; f++) {
        int p[2];
        fls[f].sock = f % 2 == 0;
        assert_int_equal(fls[f].sock ? vl_sim_socketpair(e, p) : vl_sim_pipe(e, p), 0);
        fls[f].rfd = p[0];
        fls[f].wfd = p[1];
    }
    uint64_t own = 1469598103934665603ull;
    for (int iter = 0; iter < 200000; iter++) {
        bool all = true;
        for (int f = 0; f < FLOWS; f++) {
            submit_flow_ops(e, &fls[f], f, &rng);
            all &= fls[f].rdone && fls[f].wdone;
        }
        if (all)
            break;
        if (ct_below(&rng, 8) == 0) {
            int64_t t = sub(e, vl_op_timeout((int64_t)ct_below(&rng, 2000000)), (void *)99);
            if (ct_below(&rng, 2) == 0)
                sub(e, vl_op_cancel((uint64_t)t), (void *)99);
        }
        vl_completion c[16];
        int n = vl_engine_poll(e, -1, c, 16);
        assert_true(n >= 0);
        for (int k = 0; k < n; k++) {
            own_mix(&own, c[k].id);
            own_mix(&own, (uint64_t)c[k].result);
            on_completion(fls, &c[k], &rr);
        }
    }
    /* Drain the sprinkled timeouts, then check every flow's totals. */
    vl_completion c[16];
    for (int k = 0; k < 100 && vl_engine_inflight(e) > 0; k++)
        vl_engine_poll(e, -1, c, 16);
    assert_int_equal(vl_engine_inflight(e), 0);
    rr.complete = true;
    for (int f = 0; f < FLOWS; f++) {
        if (!fls[f].reset_seen && (fls[f].got != FLOW_BYTES || fls[f].sent != FLOW_BYTES))
            rr.complete = false;
        if (fls[f].got > fls[f].sent)
            rr.intact = false;
    }
    rr.sim_hash = vl_sim_trace_hash(e);
    rr.own_hash = own;
    rr.completions = vl_sim_completions(e);
    if (!rr.intact || !rr.complete) {
        char d[256];
        vl_sim_describe(e, d, sizeof(d));
        print_message("workload failed: %s\n", d);
    }
    vl_engine_destroy(e);
    return rr;
}

static const vl_sim_config g_faults = {
    .short_ppm = 300000, .eagain_ppm = 200000, .delay_ppm = 200000, .max_delay_ns = 50000};

static void same_seed_same_trace(void **state)
{
    (void)state;
    struct run_result a = run_workload(g_seed, &g_faults);
    struct run_result b = run_workload(g_seed, &g_faults);
    assert_true(a.intact && a.complete);
    assert_int_equal(a.sim_hash, b.sim_hash);
    assert_int_equal(a.own_hash, b.own_hash);
    assert_int_equal(a.completions, b.completions);
    assert_true(a.completions > 100);
}

static void other_seed_other_trace(void **state)
{
    (void)state;
    struct run_result a = run_workload(g_seed, &g_faults);
    struct run_result b = run_workload(g_seed + 1, &g_faults);
    struct run_result c = run_workload(g_seed, &(vl_sim_config){0});
    assert_true(b.intact && b.complete && c.intact && c.complete);
    assert_true(a.sim_hash != b.sim_hash);
    assert_true(a.sim_hash != c.sim_hash);
}

/* Faults change order, sizes and timing, never the bytes: over many seeds,
 * every flow arrives whole and in order. With resets, a stream may end
 * early, but what arrived is exactly a prefix of what was sent. */
static void faults_never_lose_or_duplicate(void **state)
{
    (void)state;
    for (uint64_t k = 0; k < 12; k++) {
        struct run_result r = run_workload(g_seed * 31 + k, &g_faults);
        assert_true(r.intact);
        assert_true(r.complete);
    }
    vl_sim_config resets = g_faults;
    resets.reset_ppm = 2000;
    for (uint64_t k = 0; k < 12; k++) {
        struct run_result r = run_workload(g_seed * 37 + k, &resets);
        assert_true(r.intact);
        assert_true(r.complete); /* flows not cut by a reset are whole */
    }
}

/* The seed a failure prints replays the run: parse it back out of
 * vl_sim_describe, and through VLLSI_SIM_SEED for a fresh engine. */
static void printed_seed_replays(void **state)
{
    (void)state;
    vl_engine *e = mk();
    vl_sim_config cfg = g_faults;
    cfg.seed = g_seed;
    assert_int_equal(vl_sim_configure(e, &cfg), 0);
    char d[256];
    assert_true(vl_sim_describe(e, d, sizeof(d)) > 0);
    unsigned long long printed = 0;
    assert_int_equal(sscanf(d, "VLLSI_SIM_SEED=%llx", &printed), 1);
    assert_int_equal(printed, g_seed);
    vl_engine_destroy(e);
    struct run_result a = run_workload(g_seed, &g_faults);
    struct run_result b = run_workload((uint64_t)printed, &g_faults);
    assert_int_equal(a.sim_hash, b.sim_hash);

    char env[32];
    snprintf(env, sizeof(env), "0x%llx", printed);
    setenv("VLLSI_SIM_SEED", env, 1);
    assert_int_equal(vl_sim_env_seed(7), g_seed);
    e = mk();
    vl_sim_config got;
    assert_int_equal(vl_sim_get_config(e, &got), 0);
    assert_int_equal(got.seed, g_seed);
    vl_engine_destroy(e);
    setenv("VLLSI_SIM_SEED", "not-a-number", 1);
    assert_int_equal(vl_sim_env_seed(7), 7);
    unsetenv("VLLSI_SIM_SEED");
    assert_int_equal(vl_sim_env_seed(7), 7);
}

/* ---- the fault injector itself ------------------------------------------------------------ */

static void fault_injector_rates_and_parse(void **state)
{
    (void)state;
    struct vl__fault f, g;
    vl__fault_init(&f, 42);
    vl__fault_init(&g, 42);
    for (int k = 0; k < 100; k++)
        assert_int_equal(vl__fault_next(&f), vl__fault_next(&g));
    /* Off never fires and draws nothing; certain always fires. */
    uint64_t before = f.state;
    assert_false(vl__fault_hit(&f, VL__FAULT_EAGAIN));
    assert_int_equal(f.state, before);
    f.ppm[VL__FAULT_EAGAIN] = VL__FAULT_PPM;
    assert_true(vl__fault_hit(&f, VL__FAULT_EAGAIN));
    /* 10%: within 9..11% over 100000 draws (the stream is fixed, so this
     * is a check of the arithmetic, not a flaky statistic). */
    f.ppm[VL__FAULT_SHORT] = 100000;
    int hits = 0;
    for (int k = 0; k < 100000; k++)
        hits += vl__fault_hit(&f, VL__FAULT_SHORT);
    assert_in_range(hits, 9000, 11000);
    f.ppm[VL__FAULT_SHORT] = VL__FAULT_PPM;
    assert_int_equal(vl__fault_shorten(&f, 1), 1);
    assert_int_equal(vl__fault_shorten(&f, 0), 0);
    for (int k = 0; k < 1000; k++) {
        size_t n = vl__fault_shorten(&f, 10);
        assert_in_range(n, 1, 9);
    }
    assert_int_equal(vl__fault_below(&f, 0), 0);

    assert_int_equal(vl__fault_parse(&f, "seed=0x10,short=5,eagain=6,eintr=7,ebusy=8,"
                                         "enomem=9,sqfull=10,reset=11,delay=12"),
                     0);
    assert_int_equal(f.seed, 16);
    assert_int_equal(f.ppm[VL__FAULT_SHORT], 5);
    assert_int_equal(f.ppm[VL__FAULT_DELAY], 12);
    assert_int_equal(f.ppm[VL__FAULT_SQ_FULL], 10);
    assert_int_equal(vl__fault_parse(&f, ""), 0);
    assert_int_equal(vl__fault_parse(&f, "bogus=1"), -EINVAL);
    assert_int_equal(vl__fault_parse(&f, "short=1000001"), -EINVAL);
    assert_int_equal(vl__fault_parse(&f, "short=x"), -EINVAL);
    assert_int_equal(vl__fault_parse(&f, "short"), -EINVAL);
    assert_int_equal(vl__fault_parse(&f, "short=1;"), -EINVAL);
    assert_int_equal(vl__fault_parse(NULL, "short=1"), -EINVAL);
    assert_int_equal(vl__fault_parse(&f, NULL), -EINVAL);
#ifdef VLLSI_FAULT_INJECTION
    assert_int_equal(vl__fault_install(&f), 0);
    assert_int_equal(vl__fault_install(NULL), 0);
#else
    assert_int_equal(vl__fault_install(&f), -EOPNOTSUPP);
    assert_int_equal(vl__fault_install_env(), -EOPNOTSUPP);
#endif
}

/* The injector drives the sim: its counters show each kind of fault hit. */
static void sim_faults_are_exercised(void **state)
{
    (void)state;
    vl_sim_config cfg = g_faults;
    cfg.reset_ppm = 1000;
    struct run_result r = run_workload(g_seed ^ 0x55, &cfg);
    assert_true(r.intact);
    /* A run with every fault on completes more ops than the bytes need
     * without faults (short transfers split them). */
    struct run_result clean = run_workload(g_seed ^ 0x55, &(vl_sim_config){0});
    assert_true(clean.intact && clean.complete);
    assert_true(r.completions != clean.completions || r.sim_hash != clean.sim_hash);
}

int main(void)
{
    g_seed = vl_sim_env_seed((uint64_t)ct_now_ns() ^ ((uint64_t)getpid() << 32));
    printf("sim: seed 0x%llx (set VLLSI_SIM_SEED to repeat)\n", (unsigned long long)g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_names_sim),
        cmocka_unit_test(api_rejects_other_engines_and_bad_args),
        cmocka_unit_test(socketpair_every_transfer),
        cmocka_unit_test(stream_full_buffer_blocks_writer),
        cmocka_unit_test(pipe_ends_and_errors),
        cmocka_unit_test(file_offsets_position_capacity),
        cmocka_unit_test(rwv_and_fsync_on_every_descriptor),
        cmocka_unit_test(waitpid_has_no_processes),
        cmocka_unit_test(sendfile_and_splice_unsupported),
        cmocka_unit_test(listen_connect_accept),
        cmocka_unit_test(fd_limit_gives_emfile_and_recovers),
        cmocka_unit_test(virtual_clock_and_timeouts),
        cmocka_unit_test(deadlines_on_the_virtual_clock),
        cmocka_unit_test(deadline_lists_and_heap_keep_order),
        cmocka_unit_test(chains_on_the_virtual_clock),
        cmocka_unit_test(chains_short_transfers_end_them),
        cmocka_unit_test(stall_is_counted_not_hung),
        cmocka_unit_test(cancel_and_close_pending),
        cmocka_unit_test(reset_reports_econnreset_once),
        cmocka_unit_test(shutdown_op_half_closes),
        cmocka_unit_test(socket_ops_are_not_on_sim),
        cmocka_unit_test(path_ops_and_ftruncate),
        cmocka_unit_test(msg_ops_are_refused),
        cmocka_unit_test(shutdown_cancels_and_refuses),
        cmocka_unit_test(multishot_recv_and_accept),
        cmocka_unit_test(poll_masks_per_descriptor),
        cmocka_unit_test(poll_multishot_reports_changes),
        cmocka_unit_test(same_seed_same_trace),
        cmocka_unit_test(other_seed_other_trace),
        cmocka_unit_test(faults_never_lose_or_duplicate),
        cmocka_unit_test(printed_seed_replays),
        cmocka_unit_test(fault_injector_rates_and_parse),
        cmocka_unit_test(sim_faults_are_exercised),
    };
    alarm(120);
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
