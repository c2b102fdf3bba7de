/*
 * files_common.h - what the file I/O benchmark's two programs share
 * (bench/files: file_bench on vllsi, uv_file_bench on libuv): the command
 * line, the test file's layout and its check, the op mix, the measured
 * window and the RESULT line scripts/bench-files reads.
 *
 * The file is made by `--prepare`: --size bytes in 4 KiB blocks, each
 * starting with its own block number (8 bytes, host order), the rest a
 * pattern. A READ is a random block (xorshift64, seeded per run), and its
 * first 8 bytes must name that block: a read that returned the wrong data
 * (or a short one) fails the run. A WRITE is the next block, in order,
 * wrapping at --size, so the file never grows; with --fsync-every N, every
 * N-th op issued is an fdatasync instead of a write (the writes alone are
 * counted as ops).
 *
 * Each program keeps --depth ops in flight: a completion issues the next
 * op from the same slot (its own 4 KiB buffer). After --warmup seconds
 * the window opens (time, completed ops and getrusage(RUSAGE_SELF), which
 * sums every thread of the process: libuv's and vllsi's workers included);
 * after --duration more it closes, no new op is issued, and the program
 * waits for the ones in flight. The RESULT line holds the window's ops/s
 * and the process's CPU time (utime + stime) per op.
 */
#ifndef VLLSI_BENCH_FILES_COMMON_H
#define VLLSI_BENCH_FILES_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define FB_BLOCK     4096u
#define FB_MAX_DEPTH 1024u

enum fb_mode { FB_READ, FB_WRITE };

struct fb_opts {
    const char *file;
    const char *label;
    const char *prepare; /* --prepare PATH: make the file and exit */
    enum fb_mode mode;
    long long size; /* bytes; a multiple of FB_BLOCK */
    unsigned depth;
    unsigned fsync_every;
    double duration, warmup;
    /* file_bench only */
    const char *driver;
    unsigned workers;
    bool pool_only; /* --pool-only: VL_ENGINE_FILES_ON_POOL */
};

static inline void fb_usage(const char *argv0, bool vllsi)
{
    fprintf(stderr,
            "usage: %s --file PATH --mode read|write [--size BYTES] [--depth N]\n"
            "          [--fsync-every N] [--duration S] [--warmup S] [--label L]%s\n"
            "       %s --prepare PATH [--size BYTES]\n",
            argv0, vllsi ? "\n          [--driver uring|epoll] [--workers N] [--pool-only]" : "",
            argv0);
}

/* 0, or -1 after printing the usage. */
static inline int fb_parse(int argc, char **argv, bool vllsi, struct fb_opts *o)
{
    *o = (struct fb_opts){.label = vllsi ? "vllsi" : "libuv",
                          .mode = FB_READ,
                          .size = 64ll << 20,
                          .depth = 1,
                          .duration = 2,
                          .warmup = 0.3,
                          .driver = "uring"};
    bool mode_set = false;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (vllsi && strcmp(k, "--pool-only") == 0) { /* the one option without a value */
            o->pool_only = true;
            i--;
            continue;
        }
        char *end = (char *)"";
        bool ok = v != NULL;
        if (!ok) {
        } else if (strcmp(k, "--file") == 0) {
            o->file = v;
        } else if (strcmp(k, "--prepare") == 0) {
            o->prepare = v;
        } else if (strcmp(k, "--label") == 0) {
            o->label = v;
        } else if (strcmp(k, "--mode") == 0) {
            mode_set = true;
            if (strcmp(v, "read") == 0)
                o->mode = FB_READ;
            else if (strcmp(v, "write") == 0)
                o->mode = FB_WRITE;
            else
                ok = false;
        } else if (strcmp(k, "--size") == 0) {
            o->size = strtoll(v, &end, 10);
            ok = o->size >= (long long)FB_BLOCK && o->size % FB_BLOCK == 0;
        } else if (strcmp(k, "--depth") == 0) {
            unsigned long d = strtoul(v, &end, 10);
            ok = d >= 1 && d <= FB_MAX_DEPTH;
            o->depth = (unsigned)d;
        } else if (strcmp(k, "--fsync-every") == 0) {
            o->fsync_every = (unsigned)strtoul(v, &end, 10);
        } else if (strcmp(k, "--duration") == 0) {
            o->duration = strtod(v, &end);
            ok = o->duration > 0;
        } else if (strcmp(k, "--warmup") == 0) {
            o->warmup = strtod(v, &end);
            ok = o->warmup >= 0;
        } else if (vllsi && strcmp(k, "--driver") == 0) {
            o->driver = v;
            ok = strcmp(v, "uring") == 0 || strcmp(v, "epoll") == 0;
        } else if (vllsi && strcmp(k, "--workers") == 0) {
            o->workers = (unsigned)strtoul(v, &end, 10);
        } else {
            ok = false;
        }
        if (!ok || *end != '\0') {
            fb_usage(argv[0], vllsi);
            return -1;
        }
    }
    if (o->prepare == NULL && (o->file == NULL || !mode_set)) {
        fb_usage(argv[0], vllsi);
        return -1;
    }
    return 0;
}

/* A block's contents: its number, then a pattern of it. */
static inline void fb_fill(uint8_t *b, uint64_t block)
{
    memcpy(b, &block, sizeof(block));
    for (unsigned k = sizeof(block); k < FB_BLOCK; k++)
        b[k] = (uint8_t)(block * 31 + k);
}

/* --prepare: write the file, fsync it. 0 or 1 (the exit status). */
static inline int fb_prepare(const struct fb_opts *o)
{
    static uint8_t b[FB_BLOCK];
    int fd = open(o->prepare, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(o->prepare);
        return 1;
    }
    for (uint64_t k = 0; k < (uint64_t)o->size / FB_BLOCK; k++) {
        fb_fill(b, k);
        if (pwrite(fd, b, FB_BLOCK, (off_t)(k * FB_BLOCK)) != (ssize_t)FB_BLOCK) {
            perror("pwrite");
            close(fd);
            return 1;
        }
    }
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : 1;
}

/* Open the file for the run: read-only for reads, write-only for writes. */
static inline int fb_open(const struct fb_opts *o)
{
    int fd = open(o->file, (o->mode == FB_READ ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
    if (fd < 0)
        perror(o->file);
    return fd;
}

static inline double fb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double fb_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* The run's state: what to issue next, what has completed, the window. */
struct fb_run {
    const struct fb_opts *o;
    uint64_t rng;
    uint64_t blocks, next_block; /* WRITE: the next block in order */
    uint64_t issued;             /* ops issued (writes and fsyncs) */
    uint64_t done, fsyncs;       /* writes/reads completed; fsyncs completed */
    uint64_t errors;
    double t_start, t_open, t_close, cpu_open, cpu_close;
    uint64_t done_open, done_close, fsyncs_open, fsyncs_close;
    int phase; /* 0 warm-up, 1 measuring, 2 draining */
};

static inline void fb_run_init(struct fb_run *r, const struct fb_opts *o)
{
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    r->blocks = (uint64_t)o->size / FB_BLOCK;
    r->t_start = fb_now();
}

/* The next op for a slot: an fsync (true) or a read/write of *block. */
static inline bool fb_next(struct fb_run *r, uint8_t *buf, uint64_t *block)
{
    r->issued++;
    if (r->o->mode == FB_WRITE && r->o->fsync_every > 0 && r->issued % r->o->fsync_every == 0)
        return true;
    if (r->o->mode == FB_READ) {
        r->rng ^= r->rng << 13;
        r->rng ^= r->rng >> 7;
        r->rng ^= r->rng << 17;
        *block = r->rng % r->blocks;
    } else {
        *block = r->next_block++ % r->blocks;
        fb_fill(buf, *block);
    }
    return false;
}

/* A completion: res of a read/write of block (or of an fsync). */
static inline void fb_done(struct fb_run *r, bool fsync, const uint8_t *buf, uint64_t block,
                           int64_t res)
{
    if (fsync) {
        if (res != 0) {
            if (r->errors++ == 0)
                fprintf(stderr, "%s: fdatasync: %lld\n", r->o->label, (long long)res);
        }
        r->fsyncs++;
        return;
    }
    uint64_t got = 0;
    if (res == (int64_t)FB_BLOCK && r->o->mode == FB_READ)
        memcpy(&got, buf, sizeof(got));
    if (res != (int64_t)FB_BLOCK || (r->o->mode == FB_READ && got != block)) {
        if (r->errors++ == 0)
            fprintf(stderr, "%s: block %llu: result %lld, block number %llu\n", r->o->label,
                    (unsigned long long)block, (long long)res, (unsigned long long)got);
        return;
    }
    r->done++;
}

/* After completions: move through the phases. True while ops may be issued. */
static inline bool fb_tick(struct fb_run *r)
{
    if (r->phase == 2)
        return false;
    double t = fb_now();
    if (r->phase == 0 && t - r->t_start >= r->o->warmup) {
        r->phase = 1;
        r->t_open = t;
        r->cpu_open = fb_cpu();
        r->done_open = r->done;
        r->fsyncs_open = r->fsyncs;
    } else if (r->phase == 1 && t - r->t_open >= r->o->duration) {
        r->phase = 2;
        r->t_close = t;
        r->cpu_close = fb_cpu();
        r->done_close = r->done;
        r->fsyncs_close = r->fsyncs;
        return false;
    }
    return r->errors == 0;
}

/* The RESULT line; the exit status (1 if any op failed or none completed). */
static inline int fb_report(const struct fb_run *r, const char *extra)
{
    const struct fb_opts *o = r->o;
    /* A run cut short by an error never closed its window: nothing measured. */
    bool closed = r->phase == 2;
    uint64_t ops = closed ? r->done_close - r->done_open : 0;
    double secs = closed ? r->t_close - r->t_open : 0,
           cpu = closed ? r->cpu_close - r->cpu_open : 0;
    printf("RESULT label=%s mode=%s%s depth=%u fsync_every=%u ops=%llu secs=%.3f ops_per_s=%.0f "
           "cpu_ns_per_op=%.0f cpu_util=%.2f fsyncs=%llu errors=%llu%s%s\n",
           o->label, o->mode == FB_READ ? "read" : "write", o->fsync_every ? "-fsync" : "",
           o->depth, o->fsync_every, (unsigned long long)ops, secs,
           secs > 0 ? (double)ops / secs : 0.0, ops ? cpu * 1e9 / (double)ops : 0.0,
           secs > 0 ? cpu / secs : 0.0,
           (unsigned long long)(closed ? r->fsyncs_close - r->fsyncs_open : 0),
           (unsigned long long)r->errors, extra ? " " : "", extra ? extra : "");
    return r->errors == 0 && ops > 0 ? 0 : 1;
}

#endif
