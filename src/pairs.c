/*
 * pairs.c -- every pair of rows within a distance, without an n by n
 * matrix and without n^2 calls of the distance kernel: the all-pairs
 * search behind siam_pairs (src/sqlite/pairs_vtab.c) and siam dedup.
 * Plain C over a float matrix, no SQLite (like knn.c); the contract is
 * in pairs.h, and tests/test_pairs.c compares pairs_search with its
 * naive twin pairs_search_ref.
 *
 * Why this shape.  |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, and the a.b of a
 * block of rows against another block is one GEMM (siam_sgemm, the one
 * door to BLAS), which runs near the machine's peak where knn_ssd on
 * every pair would be memory- and latency-bound.  But that expansion
 * cancels badly for near neighbours -- the pairs that matter -- so it is
 * used only as a filter with a proven margin: a float dot product of dim
 * terms is within dim * 2^-24 * (|a|^2 + |b|^2) / 2 of the true one in
 * any summation order (with or without FMA), and knn_ssd is within
 * (dim / 16 + 24) * 2^-23 of the true distance^2 (knn.c).  A pair whose
 * filter value is over t^2 by more than both bounds (times four, for
 * margin) cannot pass; the few that may are checked by knn_ssd itself,
 * exactly as pairs_search_ref checks every pair.  So the answer is the
 * naive one bit for bit, ties and pairs exactly at the threshold
 * included.  Memory: the matrix, the norms, and one PAIRS_BLOCK^2 block
 * of dot products (4 MB) -- never n by n.
 */
#include "pairs.h"

#include "knn.h"
#include "siam_nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per block: a 1024 x 1024 block of floats is 4 MB, large enough
 * for GEMM to run at speed, small enough to stay near the cache. */
#define PAIRS_BLOCK 1024

void pairs_list_free(pairs_list *l)
{
	if (!l)
		return;
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int pairs_push(pairs_list *l, int64_t a, int64_t b, float ssd)
{
	if (l->n == l->cap) {
		int64_t cap = l->cap ? 2 * l->cap : 256;
		pairs_hit *v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].a = a;
	l->v[l->n].b = b;
	l->v[l->n].ssd = ssd;
	l->n++;
	return 0;
}

/* The one verdict both searches give: the distance as siam_knn reports
 * it (sqrt of the double of knn_ssd) is at most the threshold. */
static int pairs_within(float ssd, double threshold)
{
	return sqrt((double)ssd) <= threshold;
}

int pairs_search_ref(pairs_list *out, const float *x, int64_t n, int dim,
                     double threshold)
{
	for (int64_t a = 0; a < n; a++)
		for (int64_t b = a + 1; b < n; b++) {
			float s = knn_ssd(x + (size_t)a * dim,
			                  x + (size_t)b * dim, dim);
			if (pairs_within(s, threshold) &&
			    pairs_push(out, a, b, s) < 0)
				return -1;
		}
	return 0;
}

static int pairs_hit_cmp(const void *pa, const void *pb)
{
	const pairs_hit *p = pa, *q = pb;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return (p->b > q->b) - (p->b < q->b);
}

int pairs_search(pairs_list *out, const float *x, int64_t n, int dim,
                 double threshold)
{
	int64_t first = out->n;
	int rc = -1;
	float *g = malloc((size_t)PAIRS_BLOCK * PAIRS_BLOCK * sizeof *g);
	float *h = malloc((size_t)(n ? n : 1) * sizeof *h);
	if (!g || !h)
		goto out;
	/* The filter: a pair may pass only if g_ab = a.b >= h_a + h_b,
	 * where h_i = ((1 - c) |x_i|^2 - T / 2) / 2 with c the bound on the
	 * dot product's error relative to |a|^2 + |b|^2 and T the threshold
	 * squared widened by knn_ssd's error; each h is lowered by 1e-6 of
	 * itself for the float rounding of h_a + h_b. */
	double c = 4.0 * (dim + 8) * ldexp(1.0, -24);
	double rel = 4.0 * (dim / 16 + 24) * ldexp(1.0, -23);
	double t2 = threshold * threshold * (1 + rel) + 1e-30;
	for (int64_t i = 0; i < n; i++) {
		const float *r = x + (size_t)i * dim;
		double s = 0;
		for (int j = 0; j < dim; j++)
			s += (double)r[j] * r[j];
		double hi = ((1 - c) * s - t2 / 2) / 2;
		h[i] = (float)(hi - 1e-6 * fabs(hi) - 1e-30);
	}
	for (int64_t i0 = 0; i0 < n; i0 += PAIRS_BLOCK) {
		int bi = n - i0 < PAIRS_BLOCK ? (int)(n - i0) : PAIRS_BLOCK;
		for (int64_t j0 = i0; j0 < n; j0 += PAIRS_BLOCK) {
			int bj = n - j0 < PAIRS_BLOCK ? (int)(n - j0) :
			                                PAIRS_BLOCK;
			siam_sgemm(0, 1, bi, bj, dim, 1.0f,
			           x + (size_t)i0 * dim, dim,
			           x + (size_t)j0 * dim, dim, 0.0f, g, bj);
			for (int i = 0; i < bi; i++) {
				const float *gi = g + (size_t)i * bj;
				float hi = h[i0 + i];
				const float *hj = h + j0;
				/* on the diagonal block, only b > a */
				int j = j0 == i0 ? i + 1 : 0;
				for (; j < bj; j++) {
					if (!(gi[j] >= hi + hj[j]))
						continue;
					int64_t a = i0 + i, b = j0 + j;
					float s = knn_ssd(x + (size_t)a * dim,
					                  x + (size_t)b * dim,
					                  dim);
					if (pairs_within(s, threshold) &&
					    pairs_push(out, a, b, s) < 0)
						goto out;
				}
			}
		}
	}
	if (out->n > first) /* out->v may be NULL when nothing was found */
		qsort(out->v + first, (size_t)(out->n - first),
		      sizeof *out->v, pairs_hit_cmp);
	rc = 0;
out:
	free(g);
	free(h);
	return rc;
}
