/*
 * src/sys/linux/nolibc/tls_setup.c - thread-local storage without a dynamic
 * linker or libc.
 *
 * The sys layer's __thread variables (tls.c, init.c, thread_clone.c) use the
 * initial-exec model; in a static executable the linker turns every access
 * into one fixed offset from the thread pointer, computed from the PT_TLS
 * segment. Our job is to put, for each thread, a copy of that segment where
 * the linker expects it:
 *
 *   x86-64, TLS variant II: the data ends at the thread pointer. The TCB
 *   starts at tp, and its first word must point at itself, because %fs:0 is
 *   how code (ours: vl__thread_pointer) reads tp. data = tp - offset, where
 *   offset is the segment size rounded so that tp stays aligned.
 *
 *   aarch64, TLS variant I: tp (TPIDR_EL0) points at a 16-byte TCB that the
 *   ABI reserves, and the data follows at tp + offset, offset being 16
 *   rounded up to the segment's alignment.
 *
 * Both offsets are written in the form that also handles a segment whose
 * address is not a multiple of its alignment (the linker's rule: the data's
 * address is congruent to p_vaddr modulo p_align).
 */
#include <linux/elf.h>
#include <linux/errno.h>

#include "linux/nolibc/nolibc.h"
#include "linux/sys.h"

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);

#if defined(__x86_64__)
#define TCB_SIZE     64u /* self pointer, and room for what libc keeps there */
#define ARCH_SET_FS  0x1002
#define TLS_ABOVE_TP 0
#else
#define TCB_SIZE     16u /* the two words variant I reserves */
#define TLS_ABOVE_TP 1
#endif

uintptr_t vl__nolibc_canary;

static struct {
    uintptr_t image; /* .tdata's initial contents */
    size_t filesz;   /* bytes to copy             */
    size_t memsz;    /* filesz + .tbss            */
    size_t align;    /* at least 16               */
    size_t offset;   /* data's distance from tp   */
} g_tls;

static uintptr_t align_up(uintptr_t x, size_t a)
{
    return (x + a - 1) & ~(uintptr_t)(a - 1);
}

/* The load bias: 0 for a static executable, the slide for a static PIE. */
static uintptr_t load_bias(const Elf64_Phdr *ph, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ph[i].p_type == PT_PHDR)
            return (uintptr_t)ph - ph[i].p_vaddr;
    }
    return 0;
}

int vl__nolibc_tls_init(const void *phdr, size_t phnum)
{
    const Elf64_Phdr *ph = phdr;
    if (ph == NULL || phnum == 0)
        return -ENOEXEC;
    uintptr_t bias = load_bias(ph, phnum);
    g_tls.align = 16;
    for (size_t i = 0; i < phnum; i++) {
        if (ph[i].p_type != PT_TLS)
            continue;
        g_tls.image = bias + ph[i].p_vaddr;
        g_tls.filesz = ph[i].p_filesz;
        g_tls.memsz = ph[i].p_memsz;
        if (ph[i].p_align > g_tls.align)
            g_tls.align = ph[i].p_align;
    }
    size_t mask = g_tls.align - 1;
#if TLS_ABOVE_TP
    g_tls.offset = TCB_SIZE + ((g_tls.image - TCB_SIZE) & mask);
#else
    g_tls.offset = g_tls.memsz + ((0 - g_tls.memsz - g_tls.image) & mask);
#endif
    return 0;
}

size_t vl__nolibc_tls_area_size(void)
{
    /* align - 1 bytes of slack let tp be aligned wherever the area starts. */
    return g_tls.offset + g_tls.memsz + TCB_SIZE + g_tls.align - 1;
}

void *vl__nolibc_tls_install(void *area)
{
#if TLS_ABOVE_TP
    uintptr_t tp = align_up((uintptr_t)area, g_tls.align);
    uintptr_t data = tp + g_tls.offset;
    memset((void *)tp, 0, TCB_SIZE);
#else
    uintptr_t tp = align_up((uintptr_t)area + g_tls.offset, g_tls.align);
    uintptr_t data = tp - g_tls.offset;
    memset((void *)tp, 0, TCB_SIZE);
    *(uintptr_t *)tp = tp;
    /* %fs:0x28 is where gcc's -fstack-protector code reads its canary; our
     * code is built without it, but prebuilt objects linked in (Debian's
     * liburing.a) are not. */
    *(uintptr_t *)(tp + 0x28) = vl__nolibc_canary;
#endif
    memcpy((void *)data, (const void *)g_tls.image, g_tls.filesz);
    memset((void *)(data + g_tls.filesz), 0, g_tls.memsz - g_tls.filesz);
    return (void *)tp;
}

int vl__nolibc_set_thread_pointer(void *tp)
{
#if defined(__x86_64__)
    return (int)vl__syscall2(__NR_arch_prctl, ARCH_SET_FS, (long)tp);
#else
    __asm__ volatile("msr tpidr_el0, %0" ::"r"(tp) : "memory");
    return 0;
#endif
}

void vl_nolibc_tls_range(uintptr_t *start, uintptr_t *end)
{
    uintptr_t tp = (uintptr_t)vl__thread_pointer();
#if TLS_ABOVE_TP
    *start = tp + g_tls.offset;
#else
    *start = tp - g_tls.offset;
#endif
    *end = *start + g_tls.memsz;
}
