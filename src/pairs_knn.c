/*
 * pairs_knn.c -- the pairs of near neighbours (pairs_knn): every row with
 * its k nearest other rows within a distance, each pair once.  What
 * siam dedup checks for crops (siam_db_neighbours): a crop moves the
 * embedding too far for the near-duplicate threshold, but its original
 * is still among its few nearest images, so checking those few pixel by
 * pixel finds it without comparing every pair.
 *
 * Why not pairs_search at the looser distance: on photographs, pairs
 * within 1.0 are some 8% of all pairs (n^2 / 25), while k neighbours
 * are k n.  The search is the int8 first pass of siam_knn (knn8_search,
 * exactly knn_scan's answer) once per row, rows spread over the pool.
 */
#include "pairs.h"
#include "knn.h"
#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct knn_run {
	const float *x;
	int64_t n;
	int dim, k;
	const knn8 *ix;      /* NULL: knn_scan */
	knn8_rows_fn rows;
	int64_t *nbr;        /* n * k: neighbour rows, -1 where none */
	float *ssd;          /* n * k */
	knn_hit *hits;       /* (k + 1) per thread */
} knn_run;

/* Row i's k nearest other rows by (ssd, row), as knn_scan orders them:
 * the k + 1 nearest less i itself, or less the last when i is not among
 * them (more than k other rows at distance 0, all with lower numbers). */
static void knn_row(void *arg, size_t i, int t)
{
	knn_run *r = arg;
	knn_hit *h = r->hits + (size_t)t * (r->k + 1);
	const float *q = r->x + i * (size_t)r->dim;
	int m = r->ix ? knn8_search(h, r->k + 1, r->ix, r->x, q, r->rows)
	              : -1;
	if (m < 0)
		m = knn_scan(h, r->k + 1, r->x, r->n, r->dim, q);
	int64_t *nb = r->nbr + i * (size_t)r->k;
	float *sd = r->ssd + i * (size_t)r->k;
	int j = 0;
	for (int a = 0; a < m && j < r->k; a++) {
		if (h[a].row == (int64_t)i)
			continue;
		nb[j] = h[a].row;
		sd[j++] = h[a].ssd;
	}
	for (; j < r->k; j++)
		nb[j] = -1;
}

/* The pairs of the n * k neighbour slots within maxdist, a < b, sorted,
 * each once, appended to out.  0 or -1. */
static int knn_collect(pairs_list *out, const knn_run *r, double maxdist)
{
	int64_t m = 0, first = out->n;
	for (int64_t i = 0; i < r->n * r->k; i++)
		m += r->nbr[i] >= 0 && sqrt((double)r->ssd[i]) <= maxdist;
	if (out->n + m > out->cap) {
		pairs_hit *v = realloc(out->v, (size_t)(out->n + m + 1) *
		                                   sizeof *v);
		if (!v)
			return -1;
		out->v = v;
		out->cap = out->n + m + 1;
	}
	for (int64_t i = 0; i < r->n; i++)
		for (int j = 0; j < r->k; j++) {
			int64_t b = r->nbr[i * r->k + j];
			float s = r->ssd[i * r->k + j];
			if (b < 0 || !(sqrt((double)s) <= maxdist))
				continue;
			out->v[out->n++] = (pairs_hit){ i < b ? i : b,
			                                i < b ? b : i, s };
		}
	pairs_hit *v = out->v + first;
	int64_t nv = out->n - first, w = 0;
	qsort(v, (size_t)nv, sizeof *v, pairs_hit_cmp);
	for (int64_t i = 0; i < nv; i++)
		if (!w || pairs_hit_cmp(&v[w - 1], &v[i]))
			v[w++] = v[i];
	out->n = first + w;
	return 0;
}

static int knn_pairs(pairs_list *out, const float *x, int64_t n, int dim,
                     int k, double maxdist, int threads, int fast)
{
	if (n < 2 || k < 1)
		return 0;
	if (k > n - 1)
		k = (int)(n - 1);
	knn8 ix;
	memset(&ix, 0, sizeof ix);
	knn_run r = {.x = x, .n = n, .dim = dim, .k = k};
	thr_pool *pool = NULL;
	int rc = -1;
	if (fast && n > 1 && knn8_build(&ix, x, n, dim) == 0) {
		r.ix = &ix;
		r.rows = knn8_rows_best();
	}
	if (threads > 1)
		pool = thr_pool_new(threads);
	int T = thr_pool_size(pool);
	r.nbr = malloc((size_t)n * k * sizeof *r.nbr);
	r.ssd = malloc((size_t)n * k * sizeof *r.ssd);
	r.hits = malloc((size_t)T * (k + 1) * sizeof *r.hits);
	if (!r.nbr || !r.ssd || !r.hits)
		goto out;
	thr_pool_for(pool, (size_t)n, knn_row, &r);
	rc = knn_collect(out, &r, maxdist);
out:
	thr_pool_free(pool);
	knn8_free(&ix);
	free(r.nbr);
	free(r.ssd);
	free(r.hits);
	return rc;
}

int pairs_knn(pairs_list *out, const float *x, int64_t n, int dim, int k,
              double maxdist, int threads)
{
	return knn_pairs(out, x, n, dim, k, maxdist, threads, 1);
}

int pairs_knn_ref(pairs_list *out, const float *x, int64_t n, int dim,
                  int k, double maxdist)
{
	return knn_pairs(out, x, n, dim, k, maxdist, 1, 0);
}
