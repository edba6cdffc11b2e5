/*
 * tap.h -- a minimal TAP producer for siam's tests.
 *
 * Each check prints "ok N - what" or "not ok N - what" with the values
 * that disagreed; tap_done() prints the plan and returns the exit status
 * (non-zero if anything failed), so a test can never pass silently.
 */
#ifndef SIAM_TAP_H
#define SIAM_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

static inline __attribute__((format(printf, 2, 3))) int
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

static inline __attribute__((format(printf, 1, 2))) void
tap_diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* |got - want| <= tol (absolute), with both values shown on failure. */
#define tap_near(got, want, tol, ...)                                      \
	do {                                                               \
		double g_ = (got), w_ = (want);                            \
		if (!tap_ok(fabs(g_ - w_) <= (tol) && g_ == g_, __VA_ARGS__)) \
			tap_diag("got %.9g, want %.9g, tolerance %.3g", g_, \
			         w_, (double)(tol));                       \
	} while (0)

#define tap_int(got, want, ...)                                            \
	do {                                                               \
		long long g_ = (got), w_ = (want);                         \
		if (!tap_ok(g_ == w_, __VA_ARGS__))                        \
			tap_diag("got %lld, want %lld", g_, w_);           \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
