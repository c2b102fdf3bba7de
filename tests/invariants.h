/*
 * tests/invariants.h - the engine's invariants, checked for real, as a helper
 * any test (a CMocka suite, the fuzzer, a soak client) can wrap its engine
 * calls in. See docs/reliability.md for what each check proves.
 *
 *  - Exactly once: every id submit returned completes once (multishot: any
 *    number of VL_CQE_MORE completions, then one final); no completion ever
 *    names an id that was not issued or has already completed; its user_data
 *    is the one given at submit; a synchronous error issues no id (the
 *    engine's live count does not move).
 *  - Result domains per op: errors in -4095..-1 and never -EINTR; transfers
 *    0 <= res <= len; CONNECT / NOP / CLOSE / TIMEOUT 0 or an error;
 *    CANCEL 0, -ENOENT, -EALREADY (or -ECANCELED by shutdown); ACCEPT a descriptor that is CLOEXEC
 * (real drivers); TIMEOUT never earlier than its duration (real clock).
 *  - Chains (VL_OP_F_LINK): a member (the op submitted after a linked one,
 *    until a poll ends the chain) never completes before its predecessor;
 *    after a member that failed or moved fewer bytes than asked, every
 *    later member ends with -ECANCELED (-ETIMEDOUT if it has a deadline);
 *    no multishot op is accepted into a chain.
 *  - Buffer ownership: buffers from inv_buf() are fresh mappings that end at
 *    a guard page; when poll hands back the final completion of the op that
 *    used one, it is made PROT_NONE and kept mapped (in quarantine) for the
 *    rest of the run. A late write from user space (a driver copying after
 *    completion) then dies with SIGSEGV; a late write or read by the kernel
 *    fails with -EFAULT, which no op can otherwise get here and which is a
 *    violation. ASan and valgrind cannot see kernel writes; this can.
 *  - No leaks: inv_baseline_take() before, inv_baseline_check() after
 *    vl_engine_destroy compare /proc/self/fd, /proc/self/maps and
 *    /proc/self/task (io_uring's io-wq workers exit asynchronously: the
 *    check waits up to a second for them).
 *
 * Violations are recorded, not asserted: inv_ok() / inv_why() report the
 * first one, so the caller decides how to fail (cmocka, abort for the
 * fuzzer, a message for a soak).
 */
#ifndef VLLSI_TEST_INVARIANTS_H
#define VLLSI_TEST_INVARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vllsi/engine.h>

struct inv_rec; /* one live id */
struct inv_buf; /* one guarded buffer */

struct inv {
    bool real_fds;        /* ACCEPT results are kernel fds: check CLOEXEC   */
    bool check_time;      /* TIMEOUT results are checked on the real clock  */
    struct inv_rec *recs; /* open-addressing table of live ids            */
    uint32_t rec_mask;
    uint32_t live;
    struct inv_buf *bufs; /* every guarded buffer handed out, in order     */
    uint32_t nbufs, buf_cap;
    uint64_t issued, finals, mores, sync_errors;
    uint64_t sealed;
    /* The last op submitted to the chain still open, 0 when none: the next
     * op submitted is its member. inv_poll ends it, as the engine's poll
     * does. */
    uint64_t chain_tail;
    uint64_t chain_members;
    int violations;
    char why[512];
    /* Optional: called with every completion harvested and its op, e.g. to
     * take ownership of accepted descriptors. */
    void (*on_completion)(void *ctx, const vl_op *op, const vl_completion *c);
    void *on_completion_ctx;
};

/*
 * inv_init - prepare v for an engine of driver kind with up to max_live ids
 * alive at once (its max_inflight). 0 or -ENOMEM.
 */
int inv_init(struct inv *v, vl_driver_kind kind, uint32_t max_live);

/* Unmap every buffer (sealed or not) and free v. */
void inv_fini(struct inv *v);

/*
 * inv_buf - a fresh read-write buffer of len bytes (1..1 MiB) that ends
 * right before a PROT_NONE guard page, so an overrun faults. One op may use
 * it; it is sealed when that op's final completion is harvested. NULL when
 * the mapping fails or v has handed out its limit (65536 buffers).
 */
void *inv_buf(struct inv *v, size_t len);

/*
 * inv_submit - vl_engine_submit(e, op, ud) with the checks above. Returns
 * what submit returned.
 */
int64_t inv_submit(struct inv *v, vl_engine *e, const vl_op *op, void *ud);

/*
 * inv_poll - vl_engine_poll with the checks above on each completion it
 * returns (buffers of final completions are sealed before it returns).
 */
int inv_poll(struct inv *v, vl_engine *e, int64_t timeout_ns, vl_completion *out, int cap);

/* The checks inv_poll makes on one completion, for completions the caller
 * polled itself (and for testing the checker). */
void inv_harvest(struct inv *v, const vl_completion *c);

/*
 * inv_finish - shut e down and poll until it returns nothing, then check that
 * every id issued has had its final completion and the engine counts none
 * alive. Call it before vl_engine_destroy. Returns inv_ok(v).
 */
bool inv_finish(struct inv *v, vl_engine *e);

/* Record a violation found by the caller (printf-style). */
void inv_fail(struct inv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline bool inv_ok(const struct inv *v)
{
    return v->violations == 0;
}

/* The first violation ("" when none). */
static inline const char *inv_why(const struct inv *v)
{
    return v->why;
}

/* ---- process resources --------------------------------------------------- */

struct inv_baseline {
    int fds;   /* entries of /proc/self/fd       */
    int maps;  /* lines of /proc/self/maps       */
    int tasks; /* entries of /proc/self/task     */
};

void inv_baseline_take(struct inv_baseline *b);

/* Entries of /proc/self/fd now (the cheap part of a baseline), or -1. */
int inv_count_fds(void);

/*
 * Compare now with b: 0 when all three match, else -1 with a description in
 * why[len]. Waits up to wait_ms for threads to exit and counts to settle.
 * A negative b->maps skips the mappings (under ASan or TSan, whose allocators
 * map their regions lazily, the count grows without any leak).
 */
int inv_baseline_check(const struct inv_baseline *b, int wait_ms, char *why, size_t len);

#endif
