/*
 * src/drivers/epoll.c - the epoll driver: the readiness core
 * (src/engine/reactor.c) over epoll, plus an eventfd for wake.
 *
 * Every fd is registered edge-triggered (EPOLLET) and stays registered: a
 * notification does not disarm it, so a connection with a multishot RECV parked
 * costs no epoll_ctl per message (EPOLLONESHOT would cost one re-arm per
 * notification). The reactor runs parked ops until EAGAIN, and asks for a
 * MOD, which re-checks the level, when it had to stop earlier. An fd whose
 * ops are done keeps its registration, and the reactor starts the number's
 * next ops from it (reactor.h, the backend's reuse): a keep-alive
 * connection's RECV/SEND cycle costs no epoll_ctl. Each
 * registration's events carry the tag of its latest arm next to the fd, so
 * events of a registration the reactor has moved on from are ignored.
 * EPOLLRDHUP is registered too: it tells the reactor that an EOF waits
 * behind the data (VL__REACTOR_HUP). The wake eventfd is the one
 * level-triggered member.
 *
 * The wait uses epoll_pwait2 (Linux 5.11) for a nanosecond timeout, and
 * epoll_wait with the timeout rounded up to whole milliseconds where the
 * kernel lacks it, so neither a poll timeout nor a TIMEOUT ends early.
 *
 * A host loop (vl_loop_backend_fd) sleeps on the epoll fd itself, which
 * polls readable while the set has events ready. TIMEOUTs live in the
 * reactor's heap, not in the kernel, so for a host the driver adds a
 * timerfd to the set, armed to the earliest deadline (epoll_event_fd).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "reactor.h"

#define MAX_EVENTS 64
/* epoll_event.data of the wake eventfd: never an fd number. Other members
 * carry (tag << 32) | fd. */
#define WAKE_TAG   UINT64_MAX
/* The host's timerfd: fd (uint32_t)-2 is never a descriptor either. */
#define TIMER_TAG  (UINT64_MAX - 1)
#define NO_TIMER   INT64_MAX

struct epoll_drv {
    struct vl__reactor r;
    int epfd;
    int wakefd;
    bool no_pwait2;   /* the kernel said ENOSYS once: use epoll_wait */
    int timerfd;      /* for a host loop (epoll_event_fd); -1 until asked    */
    int64_t timer_at; /* the deadline timerfd is armed to, NO_TIMER: none */
    struct epoll_event events[MAX_EVENTS];
};

static struct epoll_drv *drv_of(vl_engine *e)
{
    return *vl__engine_drv(e);
}

/* ---- the reactor's backend --------------------------------------------------- */

static int ctl(int epfd, int op, int fd, unsigned want, uint32_t tag)
{
    struct epoll_event ev = {.events = EPOLLET | EPOLLRDHUP,
                             .data.u64 = ((uint64_t)tag << 32) | (uint32_t)fd};
    if (want & VL__REACTOR_READ)
        ev.events |= EPOLLIN;
    if (want & VL__REACTOR_WRITE)
        ev.events |= EPOLLOUT;
    return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/*
 * MOD first, ADD on ENOENT: an fd whose ops finished stays registered, so
 * when the reactor cannot start from that registration (reuse) a parking op
 * costs one epoll_ctl, and only a brand-new fd pays the second call. A closed fd's registration
 * went with its file, so a reused number gets ENOENT and a fresh ADD. Both
 * look at the file's state, so an fd that is ready already reports at once.
 * EPERM (a regular file) tells the reactor the fd is always ready.
 */
static int backend_arm(void *ctx, int fd, unsigned want, uint32_t tag)
{
    int epfd = ((struct epoll_drv *)ctx)->epfd;
    int rc = ctl(epfd, EPOLL_CTL_MOD, fd, want, tag);
    if (rc == -ENOENT)
        rc = ctl(epfd, EPOLL_CTL_ADD, fd, want, tag);
    return rc;
}

/* Errors do not matter here: the fd may already be closed, and then the
 * kernel has removed it from the set itself. */
static void backend_disarm(void *ctx, int fd)
{
    epoll_ctl(((struct epoll_drv *)ctx)->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* reuse: an fd whose ops are done keeps its registration, and the next
 * entry for the number starts from it rather than paying an epoll_ctl (a
 * keep-alive connection's RECV, SEND, RECV, ... cost none). */
static const struct vl__reactor_backend epoll_backend = {
    .arm = backend_arm,
    .disarm = backend_disarm,
    .reuse = true,
};

/* ---- init / fini ------------------------------------------------------------- */

/* Also after a half-done drv_open: unmade descriptors are -1. */
static void drv_close(void *state)
{
    struct epoll_drv *d = state;
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->wakefd >= 0)
        close(d->wakefd);
    if (d->timerfd >= 0)
        close(d->timerfd);
}

static int drv_open(void *state)
{
    struct epoll_drv *d = state;
    d->wakefd = -1;
    d->timerfd = -1;
    d->timer_at = NO_TIMER;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (d->epfd < 0)
        return -errno;
    d->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->wakefd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &ev) < 0 ? -errno : 0;
}

static const struct vl__reactor_driver epoll_rd = {
    .name = "epoll",
    .size = sizeof(struct epoll_drv),
    .be = &epoll_backend,
    .open = drv_open,
    .close = drv_close,
};

static int epoll_init(vl_engine *e, const vl_engine_config *cfg, char *reason, size_t len)
{
    return vl__reactor_drv_init(e, cfg, &epoll_rd, reason, len);
}

static void epoll_fini(vl_engine *e)
{
    vl__reactor_drv_fini(e, &epoll_rd);
}

/* ---- submit / cancel / wake ---------------------------------------------------- */

/* submit, submitted and cancel are the core's (vl__reactor_drv_submit, ...). */
_Static_assert(offsetof(struct epoll_drv, r) == 0, "the driver's state begins with its reactor");

static int epoll_wake(vl_engine *e)
{
    uint64_t one = 1;
    /* EAGAIN: the counter is saturated, so a wake is pending anyway. */
    if (write(drv_of(e)->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

/* ---- wait ---------------------------------------------------------------------- */

/* One kernel wait of up to timeout_ns (< 0 forever). Event count or -errno. */
static int epoll_block(struct epoll_drv *d, int64_t timeout_ns)
{
    if (VL__FAULT(VL__FAULT_EINTR))
        return -EINTR; /* test builds: a signal cut the wait short */
#ifdef SYS_epoll_pwait2
    if (!d->no_pwait2) {
        struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
        long n = syscall(SYS_epoll_pwait2, d->epfd, d->events, MAX_EVENTS,
                         timeout_ns < 0 ? NULL : &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS)
            return n >= 0 ? (int)n : -errno;
        d->no_pwait2 = true;
    }
#endif
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t up = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
        ms = up > INT_MAX ? INT_MAX : (int)up;
    }
    int n = epoll_wait(d->epfd, d->events, MAX_EVENTS, ms);
    return n >= 0 ? n : -errno;
}

/* Reset the eventfd (level-triggered: it would fire again) and tell the
 * core, so that poll returns instead of waiting again, and the reactor,
 * whose offload hands back the jobs that woke it. */
static void take_wake(vl_engine *e, struct epoll_drv *d)
{
    uint64_t v;
    while (read(d->wakefd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    vl__engine_note_wake(e);
    vl__reactor_woken(&d->r);
}

/* The host's timerfd fired: reset its level (the reactor's expiry, right
 * after, completes the TIMEOUTs that are due). */
static void take_timer(struct epoll_drv *d)
{
    uint64_t v;
    if (read(d->timerfd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        d->timer_at = NO_TIMER; /* a one-shot timer is disarmed once it fired */
}

/* Errors and hangups wake both directions: the ops then report them. A
 * peer that shut its side (EPOLLRDHUP, registered for that) or a hangup is
 * VL__REACTOR_HUP as well. */
static unsigned ready_mask(uint32_t ev)
{
    unsigned m = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP))
        m |= VL__REACTOR_READ;
    if (ev & EPOLLOUT)
        m |= VL__REACTOR_WRITE;
    if (ev & (EPOLLERR | EPOLLHUP))
        m |= VL__REACTOR_READ | VL__REACTOR_WRITE;
    if (ev & (EPOLLRDHUP | EPOLLHUP))
        m |= VL__REACTOR_HUP;
    return m;
}

static int epoll_wait_drv(vl_engine *e, int64_t timeout_ns)
{
    struct epoll_drv *d = drv_of(e);
    vl__reactor_prewait(&d->r, false);
    int64_t t = vl__reactor_timeout(&d->r, timeout_ns);
    int n = epoll_block(d, t);
    vl__reactor_count_wait(&d->r, t, n);
    for (int k = 0; k < n; k++) {
        struct epoll_event *ev = &d->events[k];
        if (ev->data.u64 == WAKE_TAG)
            take_wake(e, d);
        else if (ev->data.u64 == TIMER_TAG)
            take_timer(d);
        else
            vl__reactor_ready(&d->r, (int)(uint32_t)ev->data.u64, (uint32_t)(ev->data.u64 >> 32),
                              ready_mask(ev->events));
    }
    /* Timers fire even after a signal: their deadline may be what passed. */
    vl__reactor_expire(&d->r);
    return n < 0 ? n : 0;
}

/* ---- a descriptor for a host loop ---------------------------------------------- */

static int timer_open(struct epoll_drv *d)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_TAG};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    d->timerfd = fd;
    return 0;
}

/*
 * The epoll fd, with the timerfd (made at the first call) armed to the
 * earliest TIMEOUT, or disarmed when there is none: everything else the
 * driver waits for is already in the set, and an event the last wait left
 * (more than MAX_EVENTS, or a direction the reactor re-armed to look at its
 * level again) keeps the set readable. Re-arming costs a system call only
 * when the earliest deadline changed.
 */
static int epoll_event_fd(vl_engine *e, bool *ready)
{
    struct epoll_drv *d = drv_of(e);
    (void)ready;
    /* The host may sleep on the set for as long as it likes: no entry may
     * wait there on a registration its number might not have. */
    vl__reactor_prewait(&d->r, true);
    if (d->timerfd < 0) {
        int rc = timer_open(d);
        if (rc < 0)
            return rc;
    }
    int64_t at = vl__reactor_next_deadline(&d->r);
    if (at != d->timer_at) {
        struct itimerspec its;
        memset(&its, 0, sizeof(its));
        if (at != NO_TIMER) {
            int64_t t = at > 0 ? at : 1; /* 0 would disarm it */
            its.it_value.tv_sec = (time_t)(t / 1000000000);
            its.it_value.tv_nsec = (long)(t % 1000000000);
        }
        if (timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
            return -errno;
        d->timer_at = at;
    }
    return d->epfd;
}

/* Internal, for tests (tests/reactor_core.c): the reactor of an engine
 * running the epoll driver, e.g. to install an offload. */
struct vl__reactor *vl__epoll_reactor(vl_engine *e)
{
    return &drv_of(e)->r;
}

const struct vl_driver vl__driver_epoll = {
    .name = "epoll",
    .kind = VL_DRIVER_EPOLL,
    .init = epoll_init,
    .fini = epoll_fini,
    .submit = vl__reactor_drv_submit,
    .submitted = vl__reactor_drv_submitted,
    .cancel = vl__reactor_drv_cancel,
    .wait = epoll_wait_drv,
    .wake = epoll_wake,
    .event_fd = epoll_event_fd,
};
