/*
 * Auxiliary vector access without libc.
 *
 * The kernel hands every process an auxiliary vector (AT_PAGESZ,
 * AT_SYSINFO_EHDR for the vDSO, ...). libc reads it from the initial stack;
 * a library does not own _start, so the hosted build reads the same vector
 * from /proc/self/auxv with raw syscalls, once, and caches the entries we use.
 * The cache is filled by whichever thread gets there first; the entries are
 * written before the state word is released, so readers that see READY see
 * the values (acquire/release on `state`).
 */
#include <linux/fcntl.h>

#include "internal.h"
#include "linux/sys.h"

enum { AUXV_UNREAD = 0, AUXV_BUSY = 1, AUXV_READY = 2, AUXV_FAILED = 3 };

static const unsigned long wanted[] = {AT_PAGESZ, AT_SYSINFO_EHDR, AT_HWCAP, AT_CLKTCK};

static struct {
    uint32_t state;
    uint32_t found; /* bit i set: wanted[i] present */
    unsigned long value[VL__ARRAY_LEN(wanted)];
} auxv_cache;

static void auxv_store(unsigned long type, unsigned long val)
{
    for (unsigned i = 0; i < VL__ARRAY_LEN(wanted); i++) {
        if (wanted[i] == type) {
            auxv_cache.value[i] = val;
            auxv_cache.found |= 1u << i;
        }
    }
}

#if VLLSI_NOLIBC
/*
 * Without libc the program's own _start (src/sys/linux/nolibc/start.c) hands
 * over the vector it found on the initial stack, before any other thread
 * exists; reading it needs no system call and works without /proc.
 */
static const unsigned long *stack_vector;

VL__HIDDEN void vl__auxv_set_vector(const unsigned long *auxv);
void vl__auxv_set_vector(const unsigned long *auxv)
{
    stack_vector = auxv;
}

static int auxv_read(void)
{
    if (stack_vector == NULL)
        return -ENOENT;
    for (const unsigned long *v = stack_vector; v[0] != AT_NULL; v += 2)
        auxv_store(v[0], v[1]);
    return 0;
}
#else
static int auxv_read(void)
{
    int fd = vl__sys_openat(AT_FDCWD, "/proc/self/auxv", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    unsigned long buf[64]; /* 32 (type, value) pairs per read */
    size_t have = 0;
    int rc = -ENOENT;
    for (;;) {
        long n = vl__sys_read(fd, (char *)buf + have, sizeof(buf) - have);
        if (n == -EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                rc = (int)n;
            break;
        }
        have += (size_t)n;
        size_t pairs = have / (2 * sizeof(unsigned long));
        for (size_t i = 0; i < pairs; i++) {
            if (buf[2 * i] == AT_NULL) {
                rc = 0;
                goto out;
            }
            auxv_store(buf[2 * i], buf[2 * i + 1]);
        }
        size_t used = pairs * 2 * sizeof(unsigned long);
        /* At most one partial pair (< 16 bytes) is left: move it down. */
        for (size_t i = 0; i < have - used; i++)
            ((char *)buf)[i] = ((char *)buf)[used + i];
        have -= used;
    }
out:
    vl__sys_close(fd);
    return rc;
}
#endif

static void auxv_load(void)
{
    uint32_t st = __atomic_load_n(&auxv_cache.state, __ATOMIC_ACQUIRE);
    while (st != AUXV_READY && st != AUXV_FAILED) {
        uint32_t expect = AUXV_UNREAD;
        if (st == AUXV_UNREAD &&
            __atomic_compare_exchange_n(&auxv_cache.state, &expect, AUXV_BUSY, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
            int rc = auxv_read();
            __atomic_store_n(&auxv_cache.state, rc == 0 ? AUXV_READY : AUXV_FAILED,
                             __ATOMIC_RELEASE);
            return;
        }
        /* Another thread is reading: a few syscalls at most, so yield. */
        vl__sys_sched_yield();
        st = __atomic_load_n(&auxv_cache.state, __ATOMIC_ACQUIRE);
    }
}

int vl__auxv_get(unsigned long type, unsigned long *out)
{
    auxv_load();
    if (__atomic_load_n(&auxv_cache.state, __ATOMIC_ACQUIRE) != AUXV_READY)
        return -ENOENT;
    for (unsigned i = 0; i < VL__ARRAY_LEN(wanted); i++) {
        if (wanted[i] == type && (auxv_cache.found & (1u << i))) {
            *out = auxv_cache.value[i];
            return 0;
        }
    }
    return -ENOENT;
}
