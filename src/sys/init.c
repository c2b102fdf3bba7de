/*
 * src/sys/init.c - vl_init / vl_shutdown, per-thread setup, and the panic
 * path.
 *
 * Process state word `g_state`:
 *   0  uninitialized     (vl_init may claim it with a CAS 0 -> 1)
 *   1  initializing      (one vl_init is running the eager steps)
 *   2  ready             (vl_init returned 0)
 * Only the CAS winner runs the steps, so concurrent callers see exactly one
 * success; the others answer -VL_EINIT_ALREADY_INITIALIZED at once. The
 * release store of 2 publishes the steps' effects to acquire readers
 * (vl_is_initialized, vl_init_thread).
 *
 * The panic path uses no libc: the line is formatted by hand into a stack
 * buffer and written with the raw write system call, and abort is
 * rt_sigprocmask + tgkill + exit_group.
 */
#include <vllsi/sys/init.h>

#include <linux/errno.h>

#include "internal.h"
#include "linux/sys.h"

/* Signal numbers and sigprocmask's `how`: the same on x86-64 and aarch64. */
#define VL__SIGABRT     6
#define VL__SIG_UNBLOCK 1

enum { STATE_UNINIT = 0, STATE_INITIALIZING = 1, STATE_READY = 2 };

static uint32_t g_state;
static vl_panic_handler g_handler;

/* Per-thread, initial-exec like the context block: one TP-relative access. */
#define VL__TLS __thread __attribute__((tls_model("initial-exec")))
static VL__TLS const char *t_detail;
static VL__TLS int t_thread_ready;
static VL__TLS int t_in_handler;

/* ---- panic ---------------------------------------------------------------- */

/* A line buffer that flushes to fd 2 when full, so a long message still
 * comes out whole; the common case is a single write. */
struct line {
    char buf[512];
    size_t len;
};

static void line_flush(struct line *l)
{
    size_t off = 0;
    while (off < l->len) {
        long n = vl__sys_write(2, l->buf + off, l->len - off);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    l->len = 0;
}

static void line_puts(struct line *l, const char *s)
{
    if (s == NULL)
        s = "(null)";
    for (; *s; s++) {
        if (l->len == sizeof(l->buf))
            line_flush(l);
        l->buf[l->len++] = *s;
    }
}

static void line_putint(struct line *l, int v)
{
    char tmp[12];
    int i = (int)sizeof(tmp);
    /* Work in unsigned so INT_MIN negates without overflow. */
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    tmp[--i] = '\0';
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    line_puts(l, tmp + i);
}

static VL_NORETURN void panic_abort(void)
{
    uint64_t set = 1ull << (VL__SIGABRT - 1);
    /* Only SIGABRT's mask is touched: the handler disposition is the
     * program's (a SIGABRT handler that returns lands in exit_group). */
    (void)vl__sys_rt_sigprocmask(VL__SIG_UNBLOCK, &set, NULL);
    (void)vl__sys_tgkill(vl__sys_getpid(), vl__sys_gettid(), VL__SIGABRT);
    vl__sys_exit_group(134);
    __builtin_unreachable();
}

static VL_NORETURN void default_panic(const vl_panic_info *info)
{
    vl_panic_info none = {"(no panic info)", NULL, 0, NULL, 0};
    struct line l;
    l.len = 0;
    if (info == NULL) {
        none.thread_id = vl__sys_gettid();
        info = &none;
    }
    line_puts(&l, "vllsi panic: ");
    line_puts(&l, info->message);
    line_puts(&l, " at ");
    line_puts(&l, info->file);
    line_puts(&l, ":");
    line_putint(&l, info->line);
    line_puts(&l, " (");
    line_puts(&l, info->function);
    line_puts(&l, ") [thread ");
    line_putint(&l, info->thread_id);
    line_puts(&l, "]\n");
    line_flush(&l);
    panic_abort();
}

void vl_panic_impl(const vl_panic_info *info)
{
    if (t_in_handler)
        default_panic(info);
    vl_panic_handler h = __atomic_load_n(&g_handler, __ATOMIC_ACQUIRE);
    if (h != NULL) {
        t_in_handler = 1;
        h(info);
        /* The handler returned, which it must not: abort after all. */
    }
    default_panic(info);
}

vl_panic_handler vl_set_panic_handler(vl_panic_handler h)
{
    return __atomic_exchange_n(&g_handler, h, __ATOMIC_ACQ_REL);
}

void vl_panic_recovered(void)
{
    t_in_handler = 0;
}

int vl_panic_thread_id(void)
{
    return vl__sys_gettid();
}

/* ---- init ----------------------------------------------------------------- */

static int check_config(const vl_init_config *cfg)
{
    if (cfg->flags & ~VL_INIT_KNOWN_FLAGS) {
        t_detail = "flags: unknown bits set (only VL_INIT_NO_VDSO is defined)";
        return -VL_EINIT_INVALID_CONFIG;
    }
    if (cfg->reserved != 0) {
        t_detail = "reserved: must be 0";
        return -VL_EINIT_INVALID_CONFIG;
    }
    return 0;
}

int vl_init(const vl_init_config *cfg)
{
    static const vl_init_config defaults = {0, 0, NULL};
    if (cfg == NULL)
        cfg = &defaults;
    t_detail = NULL;
    int r = check_config(cfg);
    if (r < 0)
        return r;
    uint32_t expected = STATE_UNINIT;
    if (!__atomic_compare_exchange_n(&g_state, &expected, STATE_INITIALIZING, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
        return -VL_EINIT_ALREADY_INITIALIZED;
    vl__page_init();
    vl__time_init((cfg->flags & VL_INIT_NO_VDSO) != 0);
    if (cfg->panic_handler != NULL)
        (void)vl_set_panic_handler(cfg->panic_handler);
    __atomic_store_n(&g_state, STATE_READY, __ATOMIC_RELEASE);
    return 0;
}

const char *vl_init_error_detail(void)
{
    return t_detail != NULL ? t_detail : "";
}

void vl_shutdown(void)
{
    vl_cleanup_thread();
    uint32_t expected = STATE_READY;
    if (__atomic_compare_exchange_n(&g_state, &expected, STATE_UNINIT, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED))
        (void)vl_set_panic_handler(NULL);
}

bool vl_is_initialized(void)
{
    return __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == STATE_READY;
}

int vl_init_thread(void)
{
    if (!vl_is_initialized())
        return -EPERM;
    if (t_thread_ready)
        return -VL_EINIT_ALREADY_INITIALIZED;
    t_thread_ready = 1;
    return 0;
}

void vl_cleanup_thread(void)
{
    vl__tls_thread_release();
    t_thread_ready = 0;
}
