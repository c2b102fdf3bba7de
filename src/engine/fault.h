/*
 * src/engine/fault.h - a seeded fault injector.
 *
 * One generator (splitmix64) and one rate per kind of fault, in parts per
 * million. The simulation driver always uses one (its faults are its
 * purpose). The real drivers reach a process-wide injector through the
 * VL__FAULT* macros below, which exist only in builds configured with
 * -DVLLSI_FAULT_INJECTION=ON (tests); otherwise they are the constant 0 / the
 * unchanged value, so the hooks cost nothing.
 *
 * Each injection point asks one question ("does this call fail with EAGAIN
 * now?") and the injector answers from its stream, so a seed replays the
 * same faults as long as the program asks the same questions in the same
 * order.
 */
#ifndef VLLSI_ENGINE_FAULT_H
#define VLLSI_ENGINE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vl__fault_kind {
    VL__FAULT_SHORT = 0, /* a transfer moves fewer bytes (an EINTR'd partial) */
    VL__FAULT_EAGAIN,    /* the kernel says EAGAIN: retry, never report       */
    VL__FAULT_EINTR,     /* a wait or call is interrupted by a signal          */
    VL__FAULT_EBUSY,     /* io_uring_enter: EBUSY (CQ overflow pressure)       */
    VL__FAULT_ENOMEM,    /* an allocation at create / registration fails, or a
                          * worker thread's start (-EAGAIN)                    */
    VL__FAULT_SQ_FULL,   /* the submission ring has no free entry             */
    VL__FAULT_RESET,     /* a socket transfer meets ECONNRESET (sim)           */
    VL__FAULT_DELAY,     /* an op is held back (sim)                          */
    VL__FAULT_KIND_COUNT
};

#define VL__FAULT_PPM 1000000u

struct vl__fault {
    uint64_t seed;
    uint64_t state;
    uint32_t ppm[VL__FAULT_KIND_COUNT];
    uint64_t hits[VL__FAULT_KIND_COUNT]; /* how often each fired */
};

/* Start the stream from seed (0 is allowed); all rates 0. */
void vl__fault_init(struct vl__fault *f, uint64_t seed);

/* Restart the stream from seed, keeping the rates; hits are reset. */
void vl__fault_reseed(struct vl__fault *f, uint64_t seed);

/* The next 64 random bits. */
uint64_t vl__fault_next(struct vl__fault *f);

/* A number in [0, n) (0 when n is 0). */
uint64_t vl__fault_below(struct vl__fault *f, uint64_t n);

/* Whether kind fires now. It draws from the stream only when the rate is
 * strictly between 0 and VL__FAULT_PPM: a fault that is off (or certain)
 * costs no draw, so switching one off does not change when it is asked. */
bool vl__fault_hit(struct vl__fault *f, enum vl__fault_kind kind);

/* len, or when VL__FAULT_SHORT fires and len > 1, a count in [1, len). */
size_t vl__fault_shorten(struct vl__fault *f, size_t len);

/*
 * Parse "seed=N,short=PPM,eagain=PPM,eintr=PPM,ebusy=PPM,enomem=PPM,
 * sqfull=PPM,reset=PPM,delay=PPM" (any subset, any order) into f, which is
 * re-initialised first. 0, or -EINVAL (unknown key, bad number, rate above
 * VL__FAULT_PPM).
 */
int vl__fault_parse(struct vl__fault *f, const char *spec);

/*
 * The process-wide injector of the real drivers. vl__fault_install(f) makes
 * f active (NULL: none) and returns 0, or -EOPNOTSUPP in a build without
 * VLLSI_FAULT_INJECTION. vl__fault_install_env() installs a static injector
 * parsed from the environment variable VLLSI_FAULT when it is set: 1 when it
 * did, 0 when unset, -EINVAL for a bad spec, -EOPNOTSUPP as above. Not
 * thread-safe: install before creating engines.
 */
int vl__fault_install(struct vl__fault *f);
int vl__fault_install_env(void);

/*
 * The injector's stream has no lock: it is the polling threads'. A thread
 * that must never draw from it calls vl__fault_mute_thread() first: the
 * readiness drivers' pool workers (workers.c), which run ops on fds no
 * readiness reports (regular files), where no EAGAIN or short transfer is
 * expected, concurrently with the polling thread's draws.
 */
#ifdef VLLSI_FAULT_INJECTION
void vl__fault_mute_thread(void);
#else
static inline void vl__fault_mute_thread(void)
{
}
#endif

#ifdef VLLSI_FAULT_INJECTION
extern struct vl__fault *vl__fault_active;
extern __thread bool vl__fault_muted;
/* Whether this thread may draw: an injector is active and it is not muted. */
#define VL__FAULT_LIVE() (vl__fault_active != NULL && !vl__fault_muted)
/* Does the active injector fire kind at this point? */
#define VL__FAULT(kind)  (VL__FAULT_LIVE() && vl__fault_hit(vl__fault_active, (kind)))
/* len, possibly cut short by the active injector. */
#define VL__FAULT_SHORTEN(len) \
    (VL__FAULT_LIVE() ? vl__fault_shorten(vl__fault_active, (len)) : (len))
#else
#define VL__FAULT_LIVE()       false
#define VL__FAULT(kind)        ((void)(kind), false)
#define VL__FAULT_SHORTEN(len) (len)
#endif

#endif
