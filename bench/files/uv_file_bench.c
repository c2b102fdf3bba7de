/*
 * uv_file_bench - the file I/O benchmark's libuv peer (bench/files, run by
 * scripts/bench-files): the same ops as file_bench (files_common.h), made
 * with uv_fs_read, uv_fs_write and uv_fs_fdatasync on the default loop.
 * libuv runs them on its threadpool (Linux, libuv before 1.45: no
 * io_uring), whose size is UV_THREADPOOL_SIZE (default 4), read from the
 * environment when the pool first starts.
 *
 *   uv_file_bench --file PATH --mode read|write [--depth N] [--fsync-every N]
 *                 [--duration S] [--warmup S]
 *   uv_file_bench --prepare PATH [--size BYTES]
 */
#include "files_common.h" /* first: it defines _GNU_SOURCE */

#include <uv.h>

struct slot {
    uv_fs_t req;
    uv_buf_t ubuf;
    uint8_t *buf;
    uint64_t block;
    bool fsync;
};

static struct slot g_slots[FB_MAX_DEPTH];
static struct fb_run g_run;
static uv_file g_fd;
static bool g_go = true;

static void on_done(uv_fs_t *req);

static int issue(struct slot *s)
{
    struct fb_run *r = &g_run;
    s->fsync = fb_next(r, s->buf, &s->block);
    int64_t off = (int64_t)(s->block * FB_BLOCK);
    int rc;
    if (s->fsync)
        rc = uv_fs_fdatasync(uv_default_loop(), &s->req, g_fd, on_done);
    else if (r->o->mode == FB_READ)
        rc = uv_fs_read(uv_default_loop(), &s->req, g_fd, &s->ubuf, 1, off, on_done);
    else
        rc = uv_fs_write(uv_default_loop(), &s->req, g_fd, &s->ubuf, 1, off, on_done);
    if (rc < 0) {
        fprintf(stderr, "uv_file_bench: uv_fs_*: %s\n", uv_strerror(rc));
        return -1;
    }
    return 0;
}

static void on_done(uv_fs_t *req)
{
    struct slot *s = (struct slot *)(void *)req; /* req is its first member */
    int64_t res = (int64_t)req->result;
    uv_fs_req_cleanup(req);
    fb_done(&g_run, s->fsync, s->buf, s->block, res < 0 ? res : (s->fsync ? 0 : res));
    g_go = g_go && fb_tick(&g_run);
    if (g_go && issue(s) != 0)
        g_go = false;
}

int main(int argc, char **argv)
{
    struct fb_opts o;
    if (fb_parse(argc, argv, false, &o) != 0)
        return 2;
    if (o.prepare != NULL)
        return fb_prepare(&o);
    g_fd = fb_open(&o);
    if (g_fd < 0)
        return 1;
    uint8_t *bufs = aligned_alloc(FB_BLOCK, (size_t)o.depth * FB_BLOCK);
    if (bufs == NULL) {
        fprintf(stderr, "uv_file_bench: out of memory\n");
        return 1;
    }
    fb_run_init(&g_run, &o);
    for (unsigned k = 0; k < o.depth; k++) {
        struct slot *s = &g_slots[k];
        s->buf = bufs + (size_t)k * FB_BLOCK;
        s->ubuf = uv_buf_init((char *)s->buf, FB_BLOCK);
        if (issue(s) != 0)
            return 1;
    }
    /* The loop ends when no request is left: after the window closes. */
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    const char *tp = getenv("UV_THREADPOOL_SIZE");
    char extra[64];
    snprintf(extra, sizeof(extra), "threadpool=%s", tp && *tp ? tp : "4");
    close(g_fd);
    free(bufs);
    uv_loop_close(uv_default_loop());
    return fb_report(&g_run, extra);
}
