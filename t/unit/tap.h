/* Licensed under the Apache License, Version 2.0 (see NOTICE). */
/*
 * Minimal TAP producer for the unit tests of the portable core, so that
 * they run under prove(1) next to the Apache::Test suite.
 */
#ifndef ALEPH_TAP_H
#define ALEPH_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

#if defined(__GNUC__)
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TAP_PRINTF(f, a)
#endif

static inline void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline void diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
    tap_count++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    putchar('\n');
    if (!cond) {
        tap_failed++;
    }
    return cond;
}

static inline int ok(int cond, const char *fmt, ...) TAP_PRINTF(2, 3);
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

/* String equality; NULL equals only NULL. */
static inline int is(const char *got, const char *expected,
                     const char *fmt, ...) TAP_PRINTF(3, 4);
static inline int is(const char *got, const char *expected,
                     const char *fmt, ...)
{
    va_list ap;
    int cond = (got == NULL || expected == NULL)
             ? got == expected : strcmp(got, expected) == 0;

    va_start(ap, fmt);
    tap_vok(cond, fmt, ap);
    va_end(ap);
    if (!cond) {
        diag("     got: %s%s%s", got ? "'" : "", got ? got : "NULL",
             got ? "'" : "");
        diag("expected: %s%s%s", expected ? "'" : "",
             expected ? expected : "NULL", expected ? "'" : "");
    }
    return cond;
}

static inline int is_int(long long got, long long expected,
                         const char *fmt, ...) TAP_PRINTF(3, 4);
static inline int is_int(long long got, long long expected,
                         const char *fmt, ...)
{
    va_list ap;
    int cond = got == expected;

    va_start(ap, fmt);
    tap_vok(cond, fmt, ap);
    va_end(ap);
    if (!cond) {
        diag("     got: %lld", got);
        diag("expected: %lld", expected);
    }
    return cond;
}

/* Prints the plan; the return value is the process exit status. */
static inline int done_testing(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failed) {
        diag("Looks like you failed %d test%s of %d.", tap_failed,
             tap_failed == 1 ? "" : "s", tap_count);
    }
    return tap_failed ? 1 : 0;
}

#endif
