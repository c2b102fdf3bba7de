/*
 * tests/nolibc/test_uring.c - io_uring from a program with no libc: liburing's
 * headers compiled -ffreestanding, Debian's liburing.a (which makes its own
 * system calls) linked -nostdlib next to the nolibc sys layer. liburing.a
 * still wants three things from a C library, provided here: calloc and free
 * (its probe helpers) and __stack_chk_fail (it is built with the stack
 * protector; the nolibc TLS setup puts an AT_RANDOM canary at %fs:0x28).
 * A NOP and a pipe READ/WRITE go through the ring; exit 77 (skip) when the
 * kernel refuses io_uring (seccomp, kernel.io_uring_disabled).
 */
#include <asm/unistd.h>
#include <liburing.h>

#include <vllsi/sys.h>

#include "nl_test.h"

void *calloc(size_t n, size_t size);
void free(void *p);
void __stack_chk_fail(void);

/* Blocks carry their mapped length in a 16-byte header, for free. */
void *calloc(size_t n, size_t size)
{
    int err;
    if (size != 0 && n > (SIZE_MAX - 16) / size)
        return NULL;
    size_t *p = vl_os_alloc(n * size + 16, &err); /* mmap: already zeroed */
    if (p == NULL)
        return NULL;
    p[0] = n * size + 16;
    return p + 2;
}

void free(void *q)
{
    if (q != NULL) {
        size_t *p = (size_t *)q - 2;
        (void)vl_os_free(p, p[0]);
    }
}

void __stack_chk_fail(void)
{
    VL_PANIC("stack smashing detected");
}

static int64_t run(struct io_uring *r, struct io_uring_sqe *sqe, uint64_t tag)
{
    io_uring_sqe_set_data64(sqe, tag);
    NL_CHECK_EQ(io_uring_submit(r), 1);
    struct io_uring_cqe *cqe = NULL;
    NL_CHECK_EQ(io_uring_wait_cqe(r, &cqe), 0);
    if (cqe == NULL)
        return -1000;
    NL_CHECK_EQ(cqe->user_data, tag);
    int64_t res = cqe->res;
    io_uring_cqe_seen(r, cqe);
    return res;
}

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    struct io_uring ring;
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc == -ENOSYS || rc == -EPERM) {
        nl_puts("skipped: io_uring is not available here\n");
        return 77;
    }
    NL_CHECK_EQ(rc, 0);
    if (rc < 0)
        return nl_finish("uring");

    struct io_uring_sqe *nop = io_uring_get_sqe(&ring);
    io_uring_prep_nop(nop);
    NL_CHECK_EQ(run(&ring, nop, 1), 0);

    int p[2];
    char in[8] = {0};
    NL_CHECK_EQ(vl_syscall_raw(__NR_pipe2, (long)p, 02000000 /* O_CLOEXEC */, 0, 0, 0, 0), 0);
    struct io_uring_sqe *w = io_uring_get_sqe(&ring);
    io_uring_prep_write(w, p[1], "ring", 4, (uint64_t)-1);
    NL_CHECK_EQ(run(&ring, w, 2), 4);
    struct io_uring_sqe *rd = io_uring_get_sqe(&ring);
    io_uring_prep_read(rd, p[0], in, sizeof(in), (uint64_t)-1);
    NL_CHECK_EQ(run(&ring, rd, 3), 4);
    NL_CHECK(in[0] == 'r' && in[3] == 'g');

    struct io_uring_probe *pr = io_uring_get_probe_ring(&ring); /* calloc + free */
    NL_CHECK(pr != NULL && io_uring_opcode_supported(pr, IORING_OP_NOP));
    io_uring_free_probe(pr);
    io_uring_queue_exit(&ring);
    (void)vl_sys_close(p[0]);
    (void)vl_sys_close(p[1]);
    return nl_finish("uring");
}
