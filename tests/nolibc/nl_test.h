/*
 * tests/nolibc/nl_test.h - a test harness for programs with no libc: checks
 * that count failures and report through the raw write system call. CMocka
 * needs libc, so the freestanding programs use this instead; each prints one
 * line per failed check and a summary, and exits 0 only if nothing failed.
 */
#ifndef VLLSI_NL_TEST_H
#define VLLSI_NL_TEST_H

#include <stddef.h>
#include <stdint.h>

/* The inline stub, not vl_sys_write: the no_runtime library has no
 * system call code for a test to borrow. */
#include "linux/sys.h"

static int nl_failures;
static int nl_checks;

static inline size_t nl_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static inline void nl_puts(const char *s)
{
    (void)vl__sys_write(1, s, nl_strlen(s));
}

static inline void nl_putint(long v)
{
    char buf[24];
    int i = (int)sizeof(buf);
    unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        buf[--i] = '-';
    nl_puts(buf + i);
}

static inline void nl_fail(const char *file, int line, const char *what)
{
    __atomic_fetch_add(&nl_failures, 1, __ATOMIC_RELAXED);
    nl_puts("FAIL ");
    nl_puts(file);
    nl_puts(":");
    nl_putint(line);
    nl_puts(": ");
    nl_puts(what);
    nl_puts("\n");
}

/* NL_CHECK(cond): record a failure (and go on) when cond is false. */
#define NL_CHECK(cond)                                       \
    do {                                                     \
        __atomic_fetch_add(&nl_checks, 1, __ATOMIC_RELAXED); \
        if (!(cond))                                         \
            nl_fail(__FILE__, __LINE__, #cond);              \
    } while (0)

/* NL_CHECK_EQ(a, b): as NL_CHECK(a == b), printing both values on failure. */
#define NL_CHECK_EQ(a, b)                                    \
    do {                                                     \
        long nl_a_ = (long)(a), nl_b_ = (long)(b);           \
        __atomic_fetch_add(&nl_checks, 1, __ATOMIC_RELAXED); \
        if (nl_a_ != nl_b_) {                                \
            nl_fail(__FILE__, __LINE__, #a " == " #b);       \
            nl_puts("     got ");                            \
            nl_putint(nl_a_);                                \
            nl_puts(" and ");                                \
            nl_putint(nl_b_);                                \
            nl_puts("\n");                                   \
        }                                                    \
    } while (0)

/* Run one test function, naming it. */
#define NL_RUN(fn)                                              \
    do {                                                        \
        int nl_before_ = nl_failures;                           \
        fn();                                                   \
        nl_puts(nl_failures == nl_before_ ? "ok   " : "FAIL "); \
        nl_puts(#fn "\n");                                      \
    } while (0)

/* The summary line and the exit code: 0 only when every check passed. */
static inline int nl_finish(const char *suite)
{
    nl_puts(suite);
    nl_puts(": ");
    nl_putint(nl_checks);
    nl_puts(" checks, ");
    nl_putint(nl_failures);
    nl_puts(" failed\n");
    return nl_failures == 0 && nl_checks > 0 ? 0 : 1;
}

#endif
