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
 * siam_knn, so the three agree to the last bit.  Returns 0, or -1 if
 * out of memory (out then holds what was found; free it anyway).
 * Memory beyond out: one block of PAIRS_BLOCK^2 floats, never n by n. */
SIAM_HIDDEN int pairs_search(pairs_list *out, const float *x, int64_t n,
                             int dim, double threshold);
/* The naive twin: knn_ssd on every pair, for the tests. */
SIAM_HIDDEN int pairs_search_ref(pairs_list *out, const float *x, int64_t n,
                                 int dim, double threshold);

#endif
