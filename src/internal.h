/*
 * internal.h -- helpers shared by libsiam's modules; not installed.
 */
#ifndef SIAM_INTERNAL_H
#define SIAM_INTERNAL_H

#include "config.h"
#include "siam.h"

#include <stdlib.h>

/* Marks a function as not exported from libsiam.so even though it is
 * visible across libsiam's own files. */
#define SIAM_HIDDEN __attribute__((visibility("hidden")))

/* malloc/calloc of n elements of size sz, failing (NULL) on overflow. */
static inline void *siam_xcalloc(size_t n, size_t sz)
{
	return calloc(n ? n : 1, sz ? sz : 1);
}
static inline void *siam_xmalloc_n(size_t n, size_t sz)
{
	if (sz && n > (size_t)-1 / sz)
		return NULL;
	return malloc((n * sz) != 0 ? n * sz : 1);
}

/* The array p of *cap elements of sz bytes, reallocated to twice as
 * many (first when *cap is 0), *cap updated: the doubling every growing
 * list does when it is full.  NULL, with p intact and *cap unchanged,
 * when out of memory or the size would overflow. */
static inline void *siam_grow(void *p, size_t *cap, size_t sz, size_t first)
{
	size_t c = *cap ? 2 * *cap : first;
	if (c < *cap || (sz && c > (size_t)-1 / sz))
		return NULL;
	void *q = realloc(p, c * sz);
	if (q)
		*cap = c;
	return q;
}

#define SIAM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SIAM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* SHA-256 through the portable block function only, whatever the CPU
 * offers (src/index/hash.c): the reference tests compare siam_sha256's
 * SHA-NI path against.  Not exported. */
void index_sha256_ref(unsigned char out[32], const void *data, size_t len);

#endif
