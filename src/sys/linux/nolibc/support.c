/*
 * src/sys/linux/nolibc/support.c - the few C library functions a freestanding
 * build still needs.
 *
 * -ffreestanding -fno-builtin stops gcc from assuming a libc, but the C ABI
 * still lets it emit calls to memcpy, memmove, memset and memcmp for struct
 * copies, initialisers and comparisons (gcc's documentation says so: "GCC
 * requires the freestanding environment provide memcpy, memmove, memset and
 * memcmp"). This file provides them, plus strlen for the tests. The build
 * compiles it with -fno-tree-loop-distribute-patterns, because otherwise gcc
 * would recognise the byte loops below as memset/memcpy and call themselves.
 *
 * The loops move a machine word at a time once both pointers share word
 * alignment; that is all the speed the sys layer needs (its copies are a few
 * dozen bytes: TLS images, timespecs), and it keeps the code obviously right.
 */
#include <stddef.h>
#include <stdint.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* A word type that may alias anything, so word copies stay defined. */
typedef uintptr_t __attribute__((may_alias)) vl__word;
#define WORD sizeof(vl__word)

static int co_aligned(const void *a, const void *b)
{
    return (((uintptr_t)a ^ (uintptr_t)b) & (WORD - 1)) == 0;
}

static void copy_forward(unsigned char *d, const unsigned char *s, size_t n)
{
    if (co_aligned(d, s)) {
        while (n > 0 && ((uintptr_t)d & (WORD - 1)) != 0) {
            *d++ = *s++;
            n--;
        }
        for (; n >= WORD; n -= WORD, d += WORD, s += WORD)
            *(vl__word *)d = *(const vl__word *)s;
    }
    while (n--)
        *d++ = *s++;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    copy_forward(dst, src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    /* Forward is safe unless the destination starts inside the source. */
    if ((uintptr_t)d - (uintptr_t)s >= n) {
        copy_forward(d, s, n);
        return dst;
    }
    while (n--)
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    vl__word w = (unsigned char)c;
    w *= (vl__word)-1 / 0xff; /* the byte repeated across the word */
    while (n > 0 && ((uintptr_t)d & (WORD - 1)) != 0) {
        *d++ = (unsigned char)c;
        n--;
    }
    for (; n >= WORD; n -= WORD, d += WORD)
        *(vl__word *)d = w;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;
    while (*p)
        p++;
    return (size_t)(p - s);
}
