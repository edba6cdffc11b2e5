/*
 * pairs.h -- all pairs of rows within a distance (src/pairs.c): the
 * kernel behind siam_pairs and siam dedup.  No SQLite here, like knn.h.
 * Private to libsiam, the module and the tests.
 */
#ifndef SIAM_PAIRS_H
#define SIAM_PAIRS_H

#include "internal.h"

#include <stdint.h>

typedef struct pairs_hit {
	int64_t a, b; /* rows, a < b */
	float ssd;    /* knn_ssd of the two rows: the exact float distance^2 */
} pairs_hit;

/* A growing list of hits; free with pairs_list_free. */
typedef struct pairs_list {
	pairs_hit *v;
	int64_t n, cap;
} pairs_list;

SIAM_HIDDEN void pairs_list_free(pairs_list *l);

/* Every pair of rows (a < b) of x (n by dim, row-major) whose distance
 * sqrt((double)knn_ssd(a, b)) is <= threshold, appended to out sorted
 * by (a, b).  The distance is knn_ssd's, the kernel of siam_distance and
 * siam_knn, so the three agree to the last bit.  Runs on a pool of
 * `threads` threads (siam's pool, src/threads.c; <= 1: the caller
 * alone), and the answer is the same list whatever the count.  Returns
 * 0, or -1 if out of memory (out then holds what was found, maybe not
 * all of it; free it anyway).  Memory beyond out and the pairs: 1 MB
 * per thread, never n by n. */
SIAM_HIDDEN int pairs_search(pairs_list *out, const float *x, int64_t n,
                             int dim, double threshold, int threads);
/* The same between two blocks of rows: every a of xa (na rows) with
 * every b of xb (nb rows), hits numbered by their rows in each block
 * (a in xa, b in xb), sorted by (a, b); xb NULL: the pairs a < b of xa
 * alone (pairs_search).  The verdict, distance and filter are
 * pairs_search's row for row, so blocks cut from one matrix give its
 * pairs bit for bit (src/mpi/pairs_ring.c relies on it).  Returns as
 * pairs_search. */
SIAM_HIDDEN int pairs_search_between(pairs_list *out, const float *xa,
                                     int64_t na, const float *xb,
                                     int64_t nb, int dim, double threshold,
                                     int threads);
/* qsort's order of pairs_hit: by (a, b). */
SIAM_HIDDEN int pairs_hit_cmp(const void *pa, const void *pb);

/* Every row of x (n by dim) with each of its k nearest other rows (by
 * knn_ssd, ties to the lower row, as knn_scan) whose distance
 * sqrt((double)ssd) is <= maxdist: the pairs a < b, each once, appended
 * to out sorted by (a, b).  The int8 first pass of siam_knn per row
 * (src/pairs_knn.c says why), on `threads` threads; the answer is the
 * same whatever the count.  0, or -1 if out of memory.  _ref: knn_scan
 * per row on the caller's thread, for the tests. */
SIAM_HIDDEN int pairs_knn(pairs_list *out, const float *x, int64_t n,
                          int dim, int k, double maxdist, int threads);
SIAM_HIDDEN int pairs_knn_ref(pairs_list *out, const float *x, int64_t n,
                              int dim, int k, double maxdist);

/* The naive twin: knn_ssd on every pair, for the tests. */
SIAM_HIDDEN int pairs_search_ref(pairs_list *out, const float *x, int64_t n,
                                 int dim, double threshold);

/* The filter scan of pairs_search, exposed for its test: the indices j
 * in [0, n) with g[j] >= hi + h[j] (float sum), ascending, into idx
 * (room for n); returns how many.  NaN never passes. */
typedef int (*pairs_scan_fn)(int32_t *idx, const float *g, const float *h,
                             float hi, int n);
SIAM_HIDDEN int pairs_scan_ref(int32_t *idx, const float *g, const float *h,
                               float hi, int n);
/* The fastest this CPU runs (chosen at run time). */
SIAM_HIDDEN pairs_scan_fn pairs_scan_best(void);
#if defined(__x86_64__) && defined(__GNUC__)
#define PAIRS_X86 1
SIAM_HIDDEN int pairs_scan_sse2(int32_t *idx, const float *g,
                                const float *h, float hi, int n);
/* only where the CPU has AVX */
SIAM_HIDDEN int pairs_scan_avx(int32_t *idx, const float *g,
                               const float *h, float hi, int n);
#endif

#endif
