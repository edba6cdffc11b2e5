/*
 * knn.h -- the nearest-neighbour kernels (src/knn.c): squared distance,
 * exact k-nearest scan, and the int8 first pass that returns the scan's
 * answer bit for bit.  No SQLite here: the SQL functions and siam_knn
 * (src/sqlite/) call these on plain float matrices.  Private to
 * libsiam, the module and the tests.
 */
#ifndef SIAM_KNN_H
#define SIAM_KNN_H

#include "internal.h"

#include <stdint.h>

/* Sum of (a[i] - b[i])^2 over n floats, in a fixed summation order
 * (sixteen lanes), so that siam_distance and siam_knn agree to the
 * last bit. */
SIAM_HIDDEN float knn_ssd(const float *a, const float *b, int n);

typedef struct knn_hit {
	float ssd;   /* squared distance */
	int64_t row; /* row of the matrix; rows are in image_id order */
} knn_hit;

/* The k rows of x (n by dim, row-major) nearest to q, into hits (room
 * for k), sorted by ascending (ssd, row); returns how many (min(k, n)).
 * Among equal distances the lower row wins. */
SIAM_HIDDEN int knn_scan(knn_hit *hits, int k, const float *x, int64_t n,
                         int dim, const float *q);

/* The coded copy of a matrix for the int8 first pass (see knn.c). */
typedef struct knn8 {
	int dim, dpad;    /* dpad: dim rounded up to 16; codes padded with 0 */
	int64_t n;
	uint8_t *codes;   /* n rows of dpad codes */
	float *lo;        /* dim offsets */
	double scale;     /* s */
	double *resid;    /* n: e_i */
	double resid_max;
	int qmin, qmax;   /* query codes stay here: sum of squares < 2^31 */
} knn8;

/* Codes x (n by dim) into ix.  Returns 0, or -1 if out of memory or if
 * dim is too large for int32 sums (then use knn_scan); ix is then empty.
 * Free with knn8_free. */
SIAM_HIDDEN int knn8_build(knn8 *ix, const float *x, int64_t n, int dim);
/* Frees what ix holds (not ix itself) and zeroes it. */
SIAM_HIDDEN void knn8_free(knn8 *ix);

/* I_i for n rows of codes against the coded query q (dpad int16). */
typedef void (*knn8_rows_fn)(int32_t *out, const uint8_t *codes, int n,
                             int dpad, const int16_t *q);
/* The fastest row kernel this CPU runs (chosen at run time). */
SIAM_HIDDEN knn8_rows_fn knn8_rows_best(void);
/* The row kernels: the plain C reference, and on x86-64 SSE2 and AVX2
 * (call the AVX2 one only where the CPU has AVX2). */
SIAM_HIDDEN void knn8_rows_ref(int32_t *out, const uint8_t *codes, int n,
                               int dpad, const int16_t *q);
#if defined(__x86_64__) && defined(__GNUC__)
#define KNN8_X86 1
SIAM_HIDDEN void knn8_rows_sse2(int32_t *out, const uint8_t *codes, int n,
                                int dpad, const int16_t *q);
SIAM_HIDDEN void knn8_rows_avx2(int32_t *out, const uint8_t *codes, int n,
                                int dpad, const int16_t *q);
#endif

/* The k rows of x nearest to q, using ix, the coded copy of x: exactly
 * knn_scan's answer (rows, float distances and order).  Returns min(k,
 * n), or -1 if out of memory (then use knn_scan). */
SIAM_HIDDEN int knn8_search(knn_hit *hits, int k, const knn8 *ix,
                            const float *x, const float *q,
                            knn8_rows_fn rows);

#endif
