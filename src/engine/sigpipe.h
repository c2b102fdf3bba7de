/*
 * src/engine/sigpipe.h - SIGPIPE kept from its default action around system
 * calls that have no MSG_NOSIGNAL (sendfile(2), splice(2)), for one call or
 * for a batch of them: the POSIX drivers that make those calls in user
 * space (sendfile.h, the readiness core, the io_uring driver).
 *
 * The signal is blocked for the call(s) and, after EPIPE, the one it raised
 * is taken, unless one was pending before (then it merged with ours and is
 * the program's). Blocked, a SIGPIPE raised by the calling thread stays
 * pending for that thread, and any number of them merge into one.
 */
#ifndef VLLSI_ENGINE_SIGPIPE_H
#define VLLSI_ENGINE_SIGPIPE_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* SIGPIPE blocked for one call (vl__sigpipe_hold), then released with the
 * call's result (vl__sigpipe_release). */
struct vl__sigpipe_hold {
    sigset_t set, old;
    bool was_pending;
};

static inline void vl__sigpipe_hold(struct vl__sigpipe_hold *h)
{
    sigset_t pending;
    sigemptyset(&h->set);
    sigaddset(&h->set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &h->set, &h->old);
    h->was_pending = sigismember(&h->old, SIGPIPE) && sigpending(&pending) == 0 &&
                     sigismember(&pending, SIGPIPE);
}

static inline void vl__sigpipe_release(struct vl__sigpipe_hold *h, int64_t res)
{
    if (res == -EPIPE && !h->was_pending) {
        sigset_t pending;
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
#ifdef __APPLE__
            int sig; /* no sigtimedwait: sigwait returns at once for a pending signal */
            sigwait(&h->set, &sig);
#else
            struct timespec zero = {0, 0};
            while (sigtimedwait(&h->set, NULL, &zero) < 0 && errno == EINTR)
                ;
#endif
        }
    }
    pthread_sigmask(SIG_SETMASK, &h->old, NULL);
}

/*
 * SIGPIPE held across the calls of one batch that runs nothing of the
 * caller's (the completions of one io_uring reap, the events of one
 * readiness wait): vl__sigpipe_batch_hold before each call (it holds only
 * the first time), vl__sigpipe_batch_note with each call's result, and
 * vl__sigpipe_batch_end once the batch is over, which takes the one SIGPIPE
 * that any number of EPIPE calls left pending (they merge), unless one was
 * pending before the hold, and restores the mask. Two sigprocmask calls
 * per batch rather than per call. Zeroed: not held.
 */
struct vl__sigpipe_batch {
    bool held, epipe;
    struct vl__sigpipe_hold h;
};

static inline void vl__sigpipe_batch_hold(struct vl__sigpipe_batch *b)
{
    if (!b->held) {
        vl__sigpipe_hold(&b->h);
        b->held = true;
    }
}

static inline void vl__sigpipe_batch_note(struct vl__sigpipe_batch *b, int64_t res)
{
    b->epipe |= res == -EPIPE;
}

static inline void vl__sigpipe_batch_end(struct vl__sigpipe_batch *b)
{
    if (b->held) {
        vl__sigpipe_release(&b->h, b->epipe ? -EPIPE : 0);
        b->held = b->epipe = false;
    }
}

#endif
