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

/* The perceptual hash through the reference code (the picture made gray
 * whole, then resized): what tests compare siam_phash with.  Not
 * exported. */
int index_phash_ref(uint64_t *out, const siam_image *img, siam_error *err);

/* siam_phash's hash (bit for bit) and the 32x32 grey picture it is
 * computed from, each value rounded to a byte (halves up), row-major:
 * what the indexer stores as images.gray32.  Errors as siam_phash.
 * Not exported. */
int index_phash_gray(uint64_t *phash, unsigned char gray[1024],
                     const siam_image *img, siam_error *err);

/* The area resize of 8-bit pixels (rows of `stride` bytes, c
 * interleaved channels) to dh rows of dw*c floats, as the preprocessing
 * runs it (reference 0: the fast integer code) or through the
 * reference loop (1) the tests compare it with (src/preprocess.c).  Not
 * exported. */
void pre_resize_u8(float *dst, int dw, int dh, const unsigned char *src,
                   size_t stride, int sw, int sh, int c, int reference);

#endif
