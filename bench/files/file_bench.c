/*
 * file_bench - the file I/O benchmark on vllsi (bench/files, run by
 * scripts/bench-files): random 4 KiB READs of a file, or sequential 4 KiB
 * WRITEs (with an FSYNC every N ops if asked), --depth of them in flight,
 * on the io_uring driver (the kernel runs them) or the epoll driver (its
 * worker pool runs them: --workers N, vl_engine_config.workers; 0 is the
 * engine's default). On epoll the polling thread itself answers what the
 * page cache holds (a cached file's reads) unless --pool-only makes the
 * engine with VL_ENGINE_FILES_ON_POOL, which sends every op to the pool:
 * the pool's own cost per op, the figure to set beside libuv's threadpool.
 * files_common.h has the file, the checks and the RESULT line.
 *
 *   file_bench --file PATH --mode read|write [--depth N] [--driver uring|epoll]
 *              [--workers N] [--pool-only] [--fsync-every N] [--duration S]
 *              [--warmup S]
 *   file_bench --prepare PATH [--size BYTES]
 */
#include "files_common.h" /* first: it defines _GNU_SOURCE */

#include <vllsi/engine.h>

struct slot {
    uint8_t *buf;
    uint64_t block;
    bool fsync;
};

static struct slot g_slots[FB_MAX_DEPTH];

static int issue(vl_engine *e, struct fb_run *r, int fd, unsigned k)
{
    struct slot *s = &g_slots[k];
    s->fsync = fb_next(r, s->buf, &s->block);
    vl_op op;
    if (s->fsync)
        op = vl_op_fsync(fd, VL_FSYNC_DATASYNC);
    else if (r->o->mode == FB_READ)
        op = vl_op_read(fd, s->buf, FB_BLOCK, (int64_t)(s->block * FB_BLOCK));
    else
        op = vl_op_write(fd, s->buf, FB_BLOCK, (int64_t)(s->block * FB_BLOCK));
    int64_t id = vl_engine_submit(e, &op, (void *)(uintptr_t)k);
    if (id < 0) {
        fprintf(stderr, "file_bench: submit: %s\n", strerror((int)-id));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct fb_opts o;
    if (fb_parse(argc, argv, true, &o) != 0)
        return 2;
    if (o.prepare != NULL)
        return fb_prepare(&o);
    int fd = fb_open(&o);
    if (fd < 0)
        return 1;
    vl_engine_config cfg = {
        .driver = strcmp(o.driver, "epoll") == 0 ? VL_DRIVER_EPOLL : VL_DRIVER_URING,
        .entries = o.depth > 128 ? 2 * o.depth : 256,
        .workers = o.workers,
        .flags = o.pool_only ? VL_ENGINE_FILES_ON_POOL : 0,
    };
    vl_engine *e;
    int rc = vl_engine_create(&cfg, &e);
    if (rc != 0) {
        fprintf(stderr, "file_bench: vl_engine_create (%s): %s\n", o.driver, strerror(-rc));
        return 1;
    }
    uint8_t *bufs = aligned_alloc(FB_BLOCK, (size_t)o.depth * FB_BLOCK);
    if (bufs == NULL) {
        fprintf(stderr, "file_bench: out of memory\n");
        return 1;
    }
    struct fb_run r;
    fb_run_init(&r, &o);
    unsigned inflight = 0;
    for (unsigned k = 0; k < o.depth; k++) {
        g_slots[k].buf = bufs + (size_t)k * FB_BLOCK;
        if (issue(e, &r, fd, k) != 0)
            return 1;
        inflight++;
    }
    vl_completion c[64];
    bool go = true;
    while (inflight > 0) {
        int n = vl_engine_poll(e, -1, c, 64);
        if (n < 0) {
            fprintf(stderr, "file_bench: poll: %s\n", strerror(-n));
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct slot *s = &g_slots[(uintptr_t)c[i].user_data];
            fb_done(&r, s->fsync, s->buf, s->block, c[i].result);
        }
        go = go && fb_tick(&r);
        for (int i = 0; i < n; i++) {
            if (!go || issue(e, &r, fd, (unsigned)(uintptr_t)c[i].user_data) != 0) {
                go = false;
                inflight--;
            }
        }
    }
    char extra[96];
    snprintf(extra, sizeof(extra), "driver=%s workers=%u pool_only=%d", vl_engine_driver_name(e),
             o.workers, o.pool_only ? 1 : 0);
    vl_engine_destroy(e);
    close(fd);
    free(bufs);
    return fb_report(&r, extra);
}
