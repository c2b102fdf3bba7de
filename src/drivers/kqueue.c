/*
 * src/drivers/kqueue.c - the kqueue driver: the readiness core
 * (src/engine/reactor.c) over kevent, with an EVFILT_USER event for wake.
 * macOS and the BSDs have kqueue in the kernel; on Linux the driver builds
 * against libkqueue (-DVLLSI_KQUEUE=ON), which emulates it over epoll.
 *
 * Registrations are per direction (EVFILT_READ, EVFILT_WRITE), EV_CLEAR
 * (edge-triggered) and persistent, like the epoll driver's: a notification
 * does not disarm them, so a multishot RECV costs no kevent change per
 * message. The reactor's tag of the latest arm travels in udata (the ident
 * is the fd), so the reactor tells a registration it has moved on from.
 * The kernel's EV_ADD on a knote that exists updates it and looks at the
 * file's state again, which is the "look now" the reactor's arm asks for;
 * libkqueue's does not, so there an arm deletes and adds (backend_arm).
 *
 * Arming only queues a change: the queue goes to the kernel with the next
 * wait, in the same kevent() call, so a burst of parks costs no extra
 * system call. The changes' errors come back in that call's event list as
 * EV_ERROR entries (the list has room for one per change, so none is lost),
 * and vl__reactor_fd_failed fails the fd's parked ops with them. A queue
 * that fills between two waits goes to the kernel at once with EV_RECEIPT,
 * which reports every change's outcome without taking pending events; its
 * errors wait in `late` for the next wait. disarm (a CLOSE) drops the fd's
 * queued changes and deletes its knotes at once, before the close: with
 * libkqueue a knote outlives the file.
 *
 * EV_EOF on the read filter is VL__REACTOR_HUP (the peer sends nothing
 * more). EV_EOF on the write filter, or an error in fflags, wakes both
 * directions: the ops then meet the error themselves, except where
 * libkqueue consumed a socket's error to fill fflags (error_taken).
 *
 * WAITPID on the kernel's kqueue is an EVFILT_PROC / NOTE_EXIT knote on
 * the pid (the reactor's watch_exit); through libkqueue the reactor parks
 * the child's pidfd instead (kq_backend says why).
 *
 * TIMEOUTs live in the reactor's heap, and the wait's timeout is the
 * earliest deadline (vl__reactor_timeout), in nanoseconds. A host loop
 * (vl_loop_backend_fd) sleeps on the kqueue fd itself where the kernel
 * makes it pollable (macOS, the BSDs), with an EVFILT_TIMER armed to the
 * earliest deadline. libkqueue's descriptor is the write end of a pipe
 * that never polls readable, so there the driver has no event_fd and the
 * loop ticks instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <vllsi/sys/time.h>

#include "fault.h"
#include "reactor.h"

#define MAX_EVENTS  64
/* Queued changes between two waits; with MAX_EVENTS, the wait's event list
 * stays within what libkqueue accepts in one call (512). */
#define MAX_CHANGES 256
/* The idents of the driver's own events, each in its own filter. */
#define WAKE_IDENT  1
#define TIMER_IDENT 1
#define NO_TIMER    INT64_MAX

/* The kernel's kqueue (its fd polls readable while events are pending);
 * else libkqueue's emulation over epoll. */
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
#define KQ_KERNEL 1
#else
#define KQ_KERNEL 0
#endif

struct kq_drv {
    struct vl__reactor r;
    int kq;
    int nchanges;     /* queued in changes, for the next kevent()             */
    int nlate;        /* errors of an early flush, for the next wait         */
    int64_t timer_at; /* the deadline EVFILT_TIMER is armed to; NO_TIMER: none */
    struct kevent changes[MAX_CHANGES];
    struct kevent late[MAX_CHANGES];
    /* One entry per change for its error, then the events. */
    struct kevent events[MAX_CHANGES + MAX_EVENTS];
};

static struct kq_drv *drv_of(vl_engine *e)
{
    return *vl__engine_drv(e);
}

static void *tag_udata(uint32_t tag)
{
    return (void *)(uintptr_t)tag;
}

static uint32_t udata_tag(const struct kevent *ev)
{
    return (uint32_t)(uintptr_t)ev->udata;
}

/* ---- the reactor's backend --------------------------------------------------- */

/* An answer to a change that matters: a failed add. A delete fails for a
 * knote that was not there (the host's timer after it fired, libkqueue's
 * fresh adds), and a receipt says 0. */
static bool add_failed(const struct kevent *ev)
{
    return (ev->flags & EV_ERROR) && ev->data != 0 && !(ev->flags & EV_DELETE) &&
           (ev->filter == EVFILT_READ || ev->filter == EVFILT_WRITE);
}

/*
 * The queue is full: apply it now. EV_RECEIPT makes the kernel answer each
 * change in out (data: 0 or its errno) and take no pending event with it.
 * The failed adds wait in late for the next wait, which reports them; late
 * has room for a whole queue only while it is empty, so an overflow while
 * a failed add still waits there is refused (-ENOBUFS, the op that asked
 * fails with it). If kevent itself fails the queue stays, and so does the
 * error for the op that asked.
 */
static int changes_flush(struct kq_drv *d)
{
    if (d->nlate != 0)
        return -ENOBUFS;
    int n = d->nchanges;
    for (int k = 0; k < n; k++)
        d->changes[k].flags |= EV_RECEIPT;
    struct timespec zero = {0, 0};
    int got = kevent(d->kq, d->changes, n, d->events, n, &zero);
    if (got < 0)
        return -errno;
    d->nchanges = 0;
    for (int k = 0; k < got; k++)
        if (add_failed(&d->events[k]))
            d->late[d->nlate++] = d->events[k];
    return 0;
}

/*
 * The kernel's EV_ADD on an existing knote evaluates the filter again, so
 * one change per direction both registers and looks at the level.
 * libkqueue's modify of a socket or pipe knote only stores the new udata
 * and never asks epoll again; and it keeps one epoll registration per fd
 * number for both knotes, so a knote left on a file the number no longer
 * names (a dup keeps the file alive) makes a later add for the number fail
 * (ENOENT). So there an arm deletes both directions and adds the wanted
 * ones afresh: an epoll ADD for the file the number names now, which
 * reports a ready fd. The deletes' ENOENT for a direction not registered is
 * ignored (add_failed). want always holds every direction the reactor has
 * armed, so nothing it watches is left out.
 */
static void queue_change(struct kq_drv *d, int fd, short filter, unsigned short flags, uint32_t tag)
{
    EV_SET(&d->changes[d->nchanges++], (uintptr_t)fd, filter, flags, 0, 0, tag_udata(tag));
}

static int backend_arm(void *ctx, int fd, unsigned want, uint32_t tag)
{
    struct kq_drv *d = ctx;
    int need = ((want & VL__REACTOR_READ) != 0) + ((want & VL__REACTOR_WRITE) != 0);
    if (!KQ_KERNEL)
        need += 2;
    if (d->nchanges + need > MAX_CHANGES) {
        int rc = changes_flush(d);
        if (rc < 0)
            return rc;
    }
    if (!KQ_KERNEL) {
        queue_change(d, fd, EVFILT_READ, EV_DELETE, tag);
        queue_change(d, fd, EVFILT_WRITE, EV_DELETE, tag);
    }
    if (want & VL__REACTOR_READ)
        queue_change(d, fd, EVFILT_READ, EV_ADD | EV_CLEAR, tag);
    if (want & VL__REACTOR_WRITE)
        queue_change(d, fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, tag);
    return 0;
}

/*
 * Before a close: forget the fd's queued changes and delete its knotes now.
 * The kernel's kqueue would drop them with the descriptor, libkqueue keeps
 * them until told. EV_RECEIPT answers each delete in out (ENOENT for a
 * direction never armed), so the second is applied whatever the first says
 * and no pending event is taken. Errors do not matter: the fd is closing.
 */
static void backend_disarm(void *ctx, int fd)
{
    struct kq_drv *d = ctx;
    int kept = 0;
    for (int k = 0; k < d->nchanges; k++)
        if (d->changes[k].ident != (uintptr_t)fd ||
            (d->changes[k].filter != EVFILT_READ && d->changes[k].filter != EVFILT_WRITE))
            d->changes[kept++] = d->changes[k];
    d->nchanges = kept;
    struct kevent del[2], out[2];
    EV_SET(&del[0], (uintptr_t)fd, EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    EV_SET(&del[1], (uintptr_t)fd, EVFILT_WRITE, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    struct timespec zero = {0, 0};
    (void)kevent(d->kq, del, 2, out, 2, &zero);
}

/*
 * WAITPID's watch: EVFILT_PROC with NOTE_EXIT on the pid, the slot in
 * udata, EV_ONESHOT (the knote goes with the event it reports; libkqueue's
 * pidfd stays readable after the exit). Applied at once, not queued, so its
 * error is the op's: ESRCH for a child the kernel counts as gone (a
 * zombie), which the reactor then reaps. An EV_ADD for a pid with a knote
 * updates the knote, i.e. its udata. On Linux, libkqueue watches a pidfd
 * for it (pidfd_open(2), 5.3+) and peeks at the exit with WNOWAIT, so the
 * reactor's waitid still reaps.
 */
static int backend_watch_exit(void *ctx, int pid, uint32_t slot)
{
    struct kq_drv *d = ctx;
    struct kevent ev, out;
    EV_SET(&ev, (uintptr_t)pid, EVFILT_PROC, EV_ADD | EV_ONESHOT | EV_RECEIPT, NOTE_EXIT, 0,
           (void *)(uintptr_t)slot);
    struct timespec zero = {0, 0};
    if (kevent(d->kq, &ev, 1, &out, 1, &zero) < 0)
        return -errno;
    return (out.flags & EV_ERROR) && out.data != 0 ? -(int)out.data : 0;
}

/* Remove pid's watch; ENOENT (it fired already) does not matter. */
static void backend_unwatch_exit(void *ctx, int pid)
{
    struct kq_drv *d = ctx;
    struct kevent ev, out;
    EV_SET(&ev, (uintptr_t)pid, EVFILT_PROC, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    struct timespec zero = {0, 0};
    (void)kevent(d->kq, &ev, 1, &out, 1, &zero);
}

static const struct vl__reactor_backend kq_backend = {
    .arm = backend_arm,
    .disarm = backend_disarm,
    /* Once the caller reaps a watched child itself, libkqueue's EVFILT_PROC
     * loses the event (its copyout peeks with waitid(WNOWAIT), which fails)
     * and every later kevent() returns at once with nothing, the pidfd
     * staying readable: the WAITPID would never complete and the wait
     * would spin. So on Linux the reactor parks a pidfd, as with epoll. */
    .watch_exit = KQ_KERNEL ? backend_watch_exit : NULL,
    .unwatch_exit = KQ_KERNEL ? backend_unwatch_exit : NULL,
};

/* ---- init / fini ------------------------------------------------------------- */

#ifdef VLLSI_LIBKQUEUE_DRAIN
/* libkqueue (2.7 on): wait until its monitoring thread has freed every
 * kqueue closed so far. Exported, not declared in <sys/event.h>. */
void libkqueue_drain_pending_close(void);
#endif

/* Also after a half-done drv_open: an unmade kqueue is -1. */
static void drv_close(void *state)
{
    struct kq_drv *d = state;
    if (d->kq < 0)
        return;
    close(d->kq);
#ifdef VLLSI_LIBKQUEUE_DRAIN
    /* libkqueue frees a closed kqueue's own descriptors (its epoll fd,
     * pipe and eventfds) on a thread of its own, later; the engine
     * promises none outlives vl_engine_destroy. */
    libkqueue_drain_pending_close();
#endif
}

/* The kqueue and its wake event: EVFILT_USER, EV_CLEAR, so a trigger is
 * consumed by the wait that reports it. */
static int drv_open(void *state)
{
    struct kq_drv *d = state;
    d->timer_at = NO_TIMER;
    d->kq = kqueue();
    if (d->kq < 0)
        return -errno;
#if KQ_KERNEL
    /* Close-on-exec, as every descriptor the engine makes (libkqueue sets
     * it on its own). */
    (void)fcntl(d->kq, F_SETFD, FD_CLOEXEC);
#endif
    struct kevent ev;
    EV_SET(&ev, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    return kevent(d->kq, &ev, 1, NULL, 0, NULL) < 0 ? -errno : 0;
}

static const struct vl__reactor_driver kq_rd = {
    .name = "kqueue",
    .size = sizeof(struct kq_drv),
    .be = &kq_backend,
    .open = drv_open,
    .close = drv_close,
};

static int kq_init(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    return vl__reactor_drv_init(e, cfg, &kq_rd, reason, len);
}

static void kq_fini(vl_engine *e)
{
    vl__reactor_drv_fini(e, &kq_rd);
}

/* ---- submit / cancel / wake ---------------------------------------------------- */

/* submit, submitted and cancel are the core's (vl__reactor_drv_submit, ...). */
_Static_assert(offsetof(struct kq_drv, r) == 0, "the driver's state begins with its reactor");

/* Any thread: kevent on one kqueue from several threads is safe. */
static int kq_wake(vl_engine *e)
{
    struct kevent ev;
    EV_SET(&ev, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    return kevent(drv_of(e)->kq, &ev, 1, NULL, 0, NULL) < 0 ? -errno : 0;
}

/* ---- wait ---------------------------------------------------------------------- */

/* Apply the queued changes and wait up to timeout_ns (< 0 forever): the
 * number of entries in d->events, or -errno. The queue is spent either way
 * (the kernel applied it before it waited). */
static int kq_block(struct kq_drv *d, int64_t timeout_ns)
{
    if (VL__FAULT(VL__FAULT_EINTR))
        return -EINTR; /* test builds: a signal cut the wait short */
    struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
    int n = d->nchanges;
    d->nchanges = 0;
    int got = kevent(d->kq, d->changes, n, d->events, n + MAX_EVENTS, timeout_ns < 0 ? NULL : &ts);
    return got >= 0 ? got : -errno;
}

/* What an event says, as the reactor's directions. */
static unsigned ready_mask(const struct kevent *ev)
{
    unsigned m = ev->filter == EVFILT_READ ? VL__REACTOR_READ : VL__REACTOR_WRITE;
    if ((ev->flags & EV_EOF) && ev->filter == EVFILT_READ)
        m |= VL__REACTOR_HUP;
    if (((ev->flags & EV_EOF) && ev->filter == EVFILT_WRITE) || ev->fflags != 0)
        m |= VL__REACTOR_READ | VL__REACTOR_WRITE;
    return m;
}

/*
 * A socket error the ops can no longer see. libkqueue fills fflags of an
 * EPOLLERR event with getsockopt(SO_ERROR), which clears the error: a
 * refused CONNECT would then find none and report success, a RECV after a
 * reset would read EOF. So there the parked ops complete with it. (Not a
 * socket: fflags is libkqueue's EIO for a pipe, and the ops meet the real
 * error, EPIPE, themselves.) The kernel's kqueue copies so_error into
 * fflags without clearing it.
 */
static bool error_taken(const struct kevent *ev)
{
#if KQ_KERNEL
    (void)ev;
    return false;
#else
    int type;
    socklen_t len = sizeof(type);
    return (ev->flags & EV_EOF) && ev->fflags != 0 &&
           getsockopt((int)ev->ident, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
#endif
}

static void dispatch(vl_engine *e, struct kq_drv *d, const struct kevent *ev)
{
    if (ev->flags & EV_ERROR) {
        if (add_failed(ev)) /* data: the add's errno */
            vl__reactor_fd_failed(&d->r, (int)ev->ident, udata_tag(ev), -(int)ev->data);
    } else if (error_taken(ev)) {
        vl__reactor_fd_failed(&d->r, (int)ev->ident, udata_tag(ev), -(int)ev->fflags);
    } else if (ev->filter == EVFILT_USER) {
        vl__engine_note_wake(e);
        vl__reactor_woken(&d->r);
    } else if (ev->filter == EVFILT_TIMER) {
        d->timer_at = NO_TIMER; /* one-shot: the reactor's expiry runs next */
    } else if (ev->filter == EVFILT_PROC) {
        vl__reactor_exited(&d->r, (uint32_t)(uintptr_t)ev->udata, (int)ev->ident);
    } else {
        vl__reactor_ready(&d->r, (int)ev->ident, udata_tag(ev), ready_mask(ev));
    }
}

/* Hand the failed adds of an early flush to the core. Whether there were
 * any: their ops have completed, so the wait must not block. */
static bool take_late(vl_engine *e, struct kq_drv *d)
{
    int n = d->nlate;
    d->nlate = 0;
    for (int k = 0; k < n; k++)
        dispatch(e, d, &d->late[k]);
    return n != 0;
}

/*
 * The read and the write event of one registration that come together
 * (libkqueue splits one epoll event so; the kernel queues the two knotes
 * side by side when one change of state made both ready) are one
 * notification, as one epoll event with both bits is: an op parked for
 * both directions reports once. Not events that carry an error: dispatch
 * takes those one by one.
 */
static bool same_notification(const struct kevent *a, const struct kevent *b)
{
    return a->ident == b->ident && a->udata == b->udata && a->filter != b->filter &&
           (a->filter == EVFILT_READ || a->filter == EVFILT_WRITE) &&
           (b->filter == EVFILT_READ || b->filter == EVFILT_WRITE) &&
           !((a->flags | b->flags) & EV_ERROR) && a->fflags == 0 && b->fflags == 0;
}

static int kq_wait(vl_engine *e, int64_t timeout_ns)
{
    struct kq_drv *d = drv_of(e);
    bool failed = take_late(e, d);
#if !KQ_KERNEL
    /* libkqueue drops the errors of a kevent() whose wait then ends with
     * no event, and it waits although a change failed. So there the queue
     * goes in first, answered per change (changes_flush), and a failed add
     * ends the wait at once, as it does the kernel's kevent(). Should that
     * call fail, the queue stays and goes in with the wait. */
    if (d->nchanges != 0 && changes_flush(d) == 0)
        failed |= take_late(e, d);
#endif
    int64_t t = vl__reactor_timeout(&d->r, failed ? 0 : timeout_ns);
    int n = kq_block(d, t);
    vl__reactor_count_wait(&d->r, t, n);
    for (int k = 0; k < n; k++) {
        const struct kevent *ev = &d->events[k];
        if (k + 1 < n && same_notification(ev, ev + 1)) {
            vl__reactor_ready(&d->r, (int)ev->ident, udata_tag(ev),
                              ready_mask(ev) | ready_mask(ev + 1));
            k++;
        } else {
            dispatch(e, d, ev);
        }
    }
    /* Timers fire even after a signal: their deadline may be what passed. */
    vl__reactor_expire(&d->r);
    return n < 0 ? n : 0;
}

/* ---- a descriptor for a host loop ---------------------------------------------- */

#if KQ_KERNEL
/*
 * The kqueue fd, with EVFILT_TIMER armed (one shot, relative, in
 * nanoseconds) to the earliest TIMEOUT, or deleted when there is none:
 * everything else the driver waits for is in the kqueue once the queued
 * changes are in, so they go in first (changes_flush). Failed adds of an
 * earlier flush still waiting for a wait are something the fd cannot show:
 * *ready, and the wait applies the queue. Re-arming the timer costs a
 * system call only when the earliest deadline changed; its delete says
 * ENOENT once the one shot fired, which is what it should be.
 */
static int kq_event_fd(vl_engine *e, bool *ready)
{
    struct kq_drv *d = drv_of(e);
    if (d->nlate != 0) {
        *ready = true;
    } else if (d->nchanges != 0) {
        int rc = changes_flush(d);
        if (rc < 0)
            return rc;
    }
    int64_t at = vl__reactor_next_deadline(&d->r);
    if (at == d->timer_at)
        return d->kq;
    struct kevent ev, out;
    if (at == NO_TIMER) {
        EV_SET(&ev, TIMER_IDENT, EVFILT_TIMER, EV_DELETE | EV_RECEIPT, 0, 0, NULL);
    } else {
        int64_t left = at - vl_time_monotonic_ns();
        EV_SET(&ev, TIMER_IDENT, EVFILT_TIMER, EV_ADD | EV_ONESHOT | EV_RECEIPT, NOTE_NSECONDS,
               left > 0 ? left : 0, NULL);
    }
    struct timespec zero = {0, 0};
    if (kevent(d->kq, &ev, 1, &out, 1, &zero) < 0)
        return -errno;
    if (at != NO_TIMER && (out.flags & EV_ERROR) && out.data != 0)
        return -(int)out.data;
    d->timer_at = at;
    return d->kq;
}
#endif

const struct vl_driver vl__driver_kqueue = {
    .name = "kqueue",
    .kind = VL_DRIVER_KQUEUE,
    .init = kq_init,
    .fini = kq_fini,
    .submit = vl__reactor_drv_submit,
    .submitted = vl__reactor_drv_submitted,
    .cancel = vl__reactor_drv_cancel,
    .wait = kq_wait,
    .wake = kq_wake,
#if KQ_KERNEL
    .event_fd = kq_event_fd,
#endif
};
