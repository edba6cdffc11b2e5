/*
 * pairs.c -- every pair of rows within a distance, without an n by n
 * matrix and without n^2 calls of the distance kernel: the all-pairs
 * search behind siam_pairs (src/sqlite/pairs_vtab.c) and siam dedup.
 * Plain C over a float matrix, no SQLite (like knn.c); the contract is
 * in pairs.h, and tests/test_pairs.c compares pairs_search with its
 * naive twin pairs_search_ref, at 1, 2 and 3 threads.
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
 * included -- and whatever the GEMM's blocking or summation order, so
 * whatever the thread count.
 *
 * Threads.  The rows are cut into stripes of PAIRS_ROWS; a stripe is
 * one index of a parallel for on siam's pool (src/threads.c): it
 * multiplies its rows by the rows from its own first row on, in tiles
 * of PAIRS_COLS columns, and keeps its pairs in its own slot.  The
 * slots are then sorted and joined in stripe order, so the output is the
 * same list in the same order whoever ran which stripe.  Stripes are
 * handed out first-to-last, the longest (the first rows meet every later
 * row) first, so the last ones to finish are short.
 *
 * Two blocks.  pairs_search_between runs the same stripes over the rows
 * of one block against every row of another (no diagonal to skip), for
 * mpirun siam dedup, whose ranks each search a share of the block pairs
 * (src/mpi/pairs_ring.c).  A pair's filter term, verdict and knn_ssd
 * depend on its two rows alone, so any cover of the pairs by blocks
 * gives pairs_search's list, bit for bit, once sorted.
 *
 * Memory: the matrix, the norms, one tile of PAIRS_ROWS x PAIRS_COLS
 * dot products per thread (1 MB, sized for a core's L2 cache so the
 * filter reads what the GEMM just wrote without a trip to memory), and
 * the pairs found -- never n by n.
 */
#include "pairs.h"

#include "knn.h"
#include "siam_nn.h"
#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAIRS_ROWS 256
#define PAIRS_COLS 1024

void pairs_list_free(pairs_list *l)
{
	if (!l)
		return;
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Makes room for m more hits; 0 or -1. */
static int pairs_reserve(pairs_list *l, int64_t m)
{
	if (l->n + m <= l->cap)
		return 0;
	int64_t cap = l->cap ? 2 * l->cap : 256;
	while (cap < l->n + m)
		cap *= 2;
	pairs_hit *v = realloc(l->v, (size_t)cap * sizeof *v);
	if (!v)
		return -1;
	l->v = v;
	l->cap = cap;
	return 0;
}

static int pairs_push(pairs_list *l, int64_t a, int64_t b, float ssd)
{
	if (pairs_reserve(l, 1) < 0)
		return -1;
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

/* ------------------------------------------------------------------ */
/* The filter scan: which j of a row of the tile may pass.             */
/* It reads every dot product the GEMM wrote (n^2 / 2 of them), so it   */
/* is the one loop besides the GEMM that counts; the SIMD versions test */
/* 16 or 32 columns per step and look at single columns only where one  */
/* passed, which is rare (near pairs).  All compute the same float sum  */
/* h + h[j] and the same >=, so they return the same indices (a NaN     */
/* never passes).                                                      */

/* Appends to idx[k..] the j in [j, n) that pass; returns the new k. */
static int scan_tail(int32_t *idx, int k, const float *g, const float *h,
                     float hi, int j, int n)
{
	for (; j < n; j++)
		if (g[j] >= hi + h[j])
			idx[k++] = j;
	return k;
}

int pairs_scan_ref(int32_t *idx, const float *g, const float *h, float hi,
                   int n)
{
	return scan_tail(idx, 0, g, h, hi, 0, n);
}

#ifdef PAIRS_X86
#include <immintrin.h>

/* SSE2 (every x86-64): four compares of four columns, one test. */
int pairs_scan_sse2(int32_t *idx, const float *g, const float *h, float hi,
                    int n)
{
	const __m128 v = _mm_set1_ps(hi);
	int k = 0, j = 0;
	for (; j + 16 <= n; j += 16) {
		__m128 m[4], any = _mm_setzero_ps();
		for (int q = 0; q < 4; q++) {
			m[q] = _mm_cmpge_ps(_mm_loadu_ps(g + j + 4 * q),
			                    _mm_add_ps(v, _mm_loadu_ps(
			                                      h + j + 4 * q)));
			any = _mm_or_ps(any, m[q]);
		}
		if (!_mm_movemask_ps(any))
			continue;
		unsigned bits = 0;
		for (int q = 0; q < 4; q++)
			bits |= (unsigned)_mm_movemask_ps(m[q]) << 4 * q;
		for (; bits; bits &= bits - 1)
			idx[k++] = j + __builtin_ctz(bits);
	}
	return scan_tail(idx, k, g, h, hi, j, n);
}

/* AVX, chosen at run time: the same with eight columns per compare
 * (_CMP_GE_OQ is SSE's cmpge: false on NaN). */
__attribute__((target("avx")))
int pairs_scan_avx(int32_t *idx, const float *g, const float *h, float hi,
                   int n)
{
	const __m256 v = _mm256_set1_ps(hi);
	int k = 0, j = 0;
	for (; j + 32 <= n; j += 32) {
		__m256 m[4], any = _mm256_setzero_ps();
		for (int q = 0; q < 4; q++) {
			m[q] = _mm256_cmp_ps(_mm256_loadu_ps(g + j + 8 * q),
			                     _mm256_add_ps(v, _mm256_loadu_ps(
			                                          h + j + 8 * q)),
			                     _CMP_GE_OQ);
			any = _mm256_or_ps(any, m[q]);
		}
		if (_mm256_testz_ps(any, any))
			continue;
		uint32_t bits = 0;
		for (int q = 0; q < 4; q++)
			bits |= (uint32_t)_mm256_movemask_ps(m[q]) << 8 * q;
		for (; bits; bits &= bits - 1)
			idx[k++] = j + __builtin_ctz(bits);
	}
	return scan_tail(idx, k, g, h, hi, j, n);
}
#endif

pairs_scan_fn pairs_scan_best(void)
{
#ifdef PAIRS_X86
	if (__builtin_cpu_supports("avx"))
		return pairs_scan_avx;
	return pairs_scan_sse2;
#else
	return pairs_scan_ref;
#endif
}

/* ------------------------------------------------------------------ */
/* The search.                                                         */

typedef struct pairs_run {
	const float *xa, *xb; /* the rows (stripes) and the columns */
	const float *ha, *hb; /* the filter's per-row term, see below */
	int64_t na, nb;
	int same;             /* xb is xa: only b > a, from the diagonal */
	int dim;
	double threshold;
	pairs_scan_fn scan;
	float *tile[THR_MAX]; /* per thread: the dot products, then room
	                       * for PAIRS_COLS indices */
	pairs_list *slot;     /* per stripe */
	char *failed;         /* per stripe: out of memory */
} pairs_run;

int pairs_hit_cmp(const void *pa, const void *pb)
{
	const pairs_hit *p = pa, *q = pb;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return (p->b > q->b) - (p->b < q->b);
}

/* Stripe s: rows [s * PAIRS_ROWS, ...) of xa against the rows of xb
 * (of one block, from the stripe's first row on); its pairs into slot
 * s, sorted by (a, b). */
static void pairs_stripe(void *arg, size_t s, int t)
{
	pairs_run *r = arg;
	const float *xa = r->xa, *xb = r->xb, *ha = r->ha, *hb = r->hb;
	int64_t na = r->na, nb = r->nb, i0 = (int64_t)s * PAIRS_ROWS;
	int dim = r->dim;
	int bi = na - i0 < PAIRS_ROWS ? (int)(na - i0) : PAIRS_ROWS;
	float *g = r->tile[t];
	int32_t *idx = (int32_t *)(g + (size_t)PAIRS_ROWS * PAIRS_COLS);
	pairs_list *out = &r->slot[s];
	for (int64_t j0 = r->same ? i0 : 0; j0 < nb; j0 += PAIRS_COLS) {
		int bj = nb - j0 < PAIRS_COLS ? (int)(nb - j0) : PAIRS_COLS;
		siam_sgemm(0, 1, bi, bj, dim, 1.0f, xa + (size_t)i0 * dim, dim,
		           xb + (size_t)j0 * dim, dim, 0.0f, g, bj);
		for (int i = 0; i < bi; i++) {
			int64_t a = i0 + i;
			/* one block: only b > a, the first tile holds the
			 * diagonal; two blocks: every b */
			int from = r->same && a + 1 > j0 ? (int)(a + 1 - j0) : 0;
			if (from >= bj)
				continue;
			int k = r->scan(idx, g + (size_t)i * bj + from,
			                hb + j0 + from, ha[a], bj - from);
			for (int c = 0; c < k; c++) {
				int64_t b = j0 + from + idx[c];
				float d = knn_ssd(xa + (size_t)a * dim,
				                  xb + (size_t)b * dim, dim);
				if (pairs_within(d, r->threshold) &&
				    pairs_push(out, a, b, d) < 0) {
					r->failed[s] = 1;
					return;
				}
			}
		}
	}
	if (out->n > 1)
		qsort(out->v, (size_t)out->n, sizeof *out->v, pairs_hit_cmp);
}

/* The filter: a pair may pass only if g_ab = a.b >= h_a + h_b, where
 * h_i = ((1 - c) |x_i|^2 - T / 2) / 2 with c the bound on the dot
 * product's error relative to |a|^2 + |b|^2 and T the threshold squared
 * widened by knn_ssd's error; each h is lowered by 1e-6 of itself for
 * the float rounding of h_a + h_b.  A row's h depends on that row
 * alone, so two blocks filter as the whole matrix does. */
static void pairs_filter_terms(float *h, const float *x, int64_t n, int dim,
                               double threshold)
{
	double c = 4.0 * (dim + 8) * ldexp(1.0, -24);
	double rel = 4.0 * (dim / 16 + 24) * ldexp(1.0, -23);
	double t2 = threshold * threshold * (1 + rel) + 1e-30;
	for (int64_t i = 0; i < n; i++) {
		const float *row = x + (size_t)i * dim;
		double s = 0;
		for (int j = 0; j < dim; j++)
			s += (double)row[j] * row[j];
		double hi = ((1 - c) * s - t2 / 2) / 2;
		h[i] = (float)(hi - 1e-6 * fabs(hi) - 1e-30);
	}
}

int pairs_search_between(pairs_list *out, const float *xa, int64_t na,
                         const float *xb, int64_t nb, int dim,
                         double threshold, int threads)
{
	int same = xb == NULL;
	if (same) {
		xb = xa;
		nb = na;
	}
	int64_t ns = (na + PAIRS_ROWS - 1) / PAIRS_ROWS;
	pairs_run r = {.xa = xa, .xb = xb, .na = na, .nb = nb, .same = same,
	               .dim = dim, .threshold = threshold,
	               .scan = pairs_scan_best()};
	thr_pool *pool = NULL;
	float *ha = malloc((size_t)(na ? na : 1) * sizeof *ha);
	float *hb = same ? ha : malloc((size_t)(nb ? nb : 1) * sizeof *hb);
	r.slot = calloc((size_t)(ns ? ns : 1), sizeof *r.slot);
	r.failed = calloc((size_t)(ns ? ns : 1), 1);
	int rc = -1, T = 1;
	if (!ha || !hb || !r.slot || !r.failed)
		goto out;
	r.ha = ha;
	r.hb = hb;
	pairs_filter_terms(ha, xa, na, dim, threshold);
	if (!same)
		pairs_filter_terms(hb, xb, nb, dim, threshold);
	if (threads > 1 && ns > 1)
		pool = thr_pool_new(threads < ns ? threads : (int)ns);
	T = thr_pool_size(pool);
	for (int t = 0; t < T; t++)
		if (!(r.tile[t] = malloc((size_t)PAIRS_ROWS * PAIRS_COLS *
		                         sizeof(float) +
		                         PAIRS_COLS * sizeof(int32_t))))
			goto out;
	thr_pool_for(pool, (size_t)ns, pairs_stripe, &r);
	/* Join the slots in stripe order: stripes hold consecutive a, each
	 * sorted, so the whole is sorted by (a, b). */
	int64_t total = 0;
	for (int64_t s = 0; s < ns; s++)
		total += r.slot[s].n;
	if (pairs_reserve(out, total) < 0)
		goto out;
	for (int64_t s = 0; s < ns; s++) {
		if (r.slot[s].n)
			memcpy(out->v + out->n, r.slot[s].v,
			       (size_t)r.slot[s].n * sizeof *out->v);
		out->n += r.slot[s].n;
	}
	rc = 0;
	for (int64_t s = 0; s < ns; s++)
		if (r.failed[s])
			rc = -1;
out:
	thr_pool_free(pool);
	for (int t = 0; t < T; t++)
		free(r.tile[t]);
	for (int64_t s = 0; r.slot && s < ns; s++)
		pairs_list_free(&r.slot[s]);
	free(r.slot);
	free(r.failed);
	if (hb != ha)
		free(hb);
	free(ha);
	return rc;
}

int pairs_search(pairs_list *out, const float *x, int64_t n, int dim,
                 double threshold, int threads)
{
	return pairs_search_between(out, x, n, NULL, 0, dim, threshold,
	                            threads);
}
