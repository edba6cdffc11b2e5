/*
 * test_pairs.c -- the all-pairs kernel behind siam_pairs and siam dedup:
 * pairs_search (blocked GEMM filter + exact re-check) must return
 * exactly what pairs_search_ref (knn_ssd on every pair) returns -- the
 * same pairs, the same float distances, in the same order -- on data
 * made to be hard for it: pairs exactly at the threshold, exact
 * duplicates (ties at 0), rows far from the origin (the |a|^2 + |b|^2 -
 * 2ab expansion cancels), more rows than one block, odd dimensions;
 * each at 1, 2 and 3 threads (same list, same order, same bits).
 * And pairs_knn (each row's k nearest, for siam dedup's crop check):
 * its int8 pass returns pairs_knn_ref's pairs bit for bit at 1 and 3
 * threads, and pairs_knn_ref is checked against a brute force written
 * here (every row's distances sorted), with more exact duplicates of a
 * row than k (a row need not be among its own k + 1 nearest then).
 */
#include "knn.h"
#include "pairs.h"
#include "siam_nn.h"

#include "tap.h"

#include <math.h>
#include <string.h>

static siam_rng rng;

static int same_pairs(const pairs_list *p, const pairs_list *q)
{
	if (p->n != q->n)
		return 0;
	for (int64_t i = 0; i < p->n; i++)
		if (p->v[i].a != q->v[i].a || p->v[i].b != q->v[i].b ||
		    memcmp(&p->v[i].ssd, &q->v[i].ssd, sizeof(float)))
			return 0;
	return 1;
}

/* The search at 1, 2 and 3 threads and the reference at threshold t;
 * returns how many pairs they agree on, or -1 (and a failed check) if
 * any differs. */
static int64_t agree(const char *what, const float *x, int64_t n, int dim,
                     double t)
{
	pairs_list ref = {0};
	int rr = pairs_search_ref(&ref, x, n, dim, t);
	int all = rr == 0;
	for (int threads = 1; threads <= 3; threads++) {
		pairs_list fast = {0};
		int rf = pairs_search(&fast, x, n, dim, t, threads);
		int same = rf == 0 && rr == 0 && same_pairs(&fast, &ref);
		if (!tap_ok(same, "%s: n=%lld dim=%d threshold=%.9g, %d "
		            "thread%s: %lld pairs, equal to the reference",
		            what, (long long)n, dim, t, threads,
		            threads > 1 ? "s" : "", (long long)ref.n))
			tap_diag("fast %lld pairs (rc %d), reference %lld "
			         "(rc %d)", (long long)fast.n, rf,
			         (long long)ref.n, rr);
		all &= same;
		pairs_list_free(&fast);
	}
	int64_t r = all ? ref.n : -1;
	pairs_list_free(&ref);
	return r;
}

/* n rows: each row after the first quarter is a small perturbation
 * (noise * N(0,1)) of an earlier row, around centre + N(0,1). */
static float *near_copies(int64_t n, int dim, float centre, float noise)
{
	float *x = malloc((size_t)n * dim * sizeof *x);
	for (int64_t i = 0; i < n; i++) {
		float *r = x + (size_t)i * dim;
		if (i < n / 4 + 1) {
			for (int j = 0; j < dim; j++)
				r[j] = centre + siam_rng_normal(&rng);
		} else {
			const float *o = x + (size_t)siam_rng_below(
				&rng, (uint32_t)i) * dim;
			for (int j = 0; j < dim; j++)
				r[j] = o[j] + noise * siam_rng_normal(&rng);
		}
	}
	return x;
}

static void l2_rows(float *x, int64_t n, int dim)
{
	for (int64_t i = 0; i < n; i++) {
		float *r = x + (size_t)i * dim;
		double s = 0;
		for (int j = 0; j < dim; j++)
			s += (double)r[j] * r[j];
		for (int j = 0; j < dim; j++)
			r[j] = (float)(r[j] / sqrt(s));
	}
}

/* The distance of the k-th pair of the reference at a wide threshold:
 * a threshold exactly on a pair's distance. */
static double kth_distance(const float *x, int64_t n, int dim, double wide,
                           int64_t k)
{
	pairs_list ref = {0};
	pairs_search_ref(&ref, x, n, dim, wide);
	double d = ref.n ? sqrt((double)ref.v[k % ref.n].ssd) : 0;
	pairs_list_free(&ref);
	return d;
}

static void test_hand_made(void)
{
	/* on a line: 0, 0.5, 1.0; distances 0.5, 0.5 and 1.0 exactly */
	float x[] = {0, 0, 0.5f, 0, 1.0f, 0};
	pairs_list p = {0};
	pairs_search(&p, x, 3, 2, 0.5, 1);
	tap_int(p.n, 2, "line 0, .5, 1 at threshold 0.5: two pairs");
	tap_ok(p.n == 2 && p.v[0].a == 0 && p.v[0].b == 1 && p.v[1].a == 1 &&
	       p.v[1].b == 2 && p.v[0].ssd == 0.25f && p.v[1].ssd == 0.25f,
	       "they are (0,1) and (1,2) at distance 0.5, the threshold "
	       "itself (a pair at the threshold is in)");
	pairs_list_free(&p);
	pairs_search(&p, x, 3, 2, nextafter(0.5, 0), 1);
	tap_int(p.n, 0, "just under 0.5: no pair");
	pairs_list_free(&p);
	pairs_search(&p, x, 3, 2, 1.0, 2);
	tap_int(p.n, 3, "at 1.0: all three pairs");
	pairs_list_free(&p);
	tap_int(pairs_search(&p, x, 0, 2, 1.0, 2), 0, "no rows: success");
	tap_int(p.n, 0, "no rows: no pairs");
	pairs_search(&p, x, 1, 2, 1.0, 3);
	tap_int(p.n, 0, "one row: no pairs");
	pairs_list_free(&p);
}

static void test_duplicates(void)
{
	/* 1100 rows, 7 values repeated: rows i and j are equal iff i % 7
	 * == j % 7; at threshold 0 exactly those pairs (ties at 0). */
	int64_t n = 1100;
	int dim = 16;
	float *base = malloc(7 * dim * sizeof *base);
	for (int i = 0; i < 7 * dim; i++)
		base[i] = siam_rng_normal(&rng);
	float *x = malloc((size_t)n * dim * sizeof *x);
	for (int64_t i = 0; i < n; i++)
		memcpy(x + i * dim, base + (i % 7) * dim, dim * sizeof *x);
	int64_t want = 0;
	for (int c = 0; c < 7; c++) {
		int64_t m = (n - c + 6) / 7;
		want += m * (m - 1) / 2;
	}
	tap_int(agree("exact duplicates at threshold 0", x, n, dim, 0), want,
	        "threshold 0 finds exactly the %lld pairs of equal rows",
	        (long long)want);
	free(base);
	free(x);
}

/* The filter scans against their reference: random rows where about
 * one column in 40 passes, passes bunched at the ends of 16- and
 * 32-column steps, ties (g exactly hi + h[j]) and NaN, every length
 * 0..100 (the SIMD steps and their tails). */
static void test_scan(void)
{
	enum { N = 100 };
	float g[N], h[N];
	int32_t want[N], got[N];
	int bad = 0, checked = 0;
	for (int round = 0; round < 400; round++) {
		float hi = siam_rng_normal(&rng);
		for (int j = 0; j < N; j++) {
			h[j] = siam_rng_normal(&rng);
			uint32_t r = siam_rng_below(&rng, 40);
			g[j] = r == 0 ? hi + h[j] :              /* tie: passes */
			       r == 1 ? hi + h[j] + 1.0f :       /* passes */
			       r == 2 ? nanf("") :               /* never */
			       r == 3 ? nextafterf(hi + h[j], -1e30f) : /* fails */
			       hi + h[j] - 1.0f - (float)siam_rng_below(&rng, 9);
			if (round % 5 == 0 && (j % 16 == 15 || j % 32 == 0))
				g[j] = hi + h[j]; /* at the steps' edges */
		}
		int n = round % (N + 1);
		int k = pairs_scan_ref(want, g, h, hi, n);
		pairs_scan_fn fns[3] = {pairs_scan_best(), NULL, NULL};
#ifdef PAIRS_X86
		fns[1] = pairs_scan_sse2;
		if (__builtin_cpu_supports("avx"))
			fns[2] = pairs_scan_avx;
#endif
		for (int f = 0; f < 3; f++) {
			if (!fns[f])
				continue;
			int kk = fns[f](got, g, h, hi, n);
			checked++;
			if (kk != k || memcmp(got, want, (size_t)k * sizeof *got))
				bad++;
		}
		for (int j = 0; j < k; j++) /* the reference itself */
			if (!(g[want[j]] >= hi + h[want[j]]) ||
			    (j && want[j] <= want[j - 1]))
				bad++;
	}
	tap_int(bad, 0, "filter scans: %d runs equal to the reference, "
	        "which lists exactly the passing columns in order", checked);
}

static int cmp_hitv(const void *pa, const void *pb)
{
	const knn_hit *a = pa, *b = pb;
	return a->ssd != b->ssd ? (a->ssd > b->ssd) - (a->ssd < b->ssd)
	                        : (a->row > b->row) - (a->row < b->row);
}

/* The brute force: row i's k nearest others by (ssd, row) within maxdist,
 * as a 0/1 matrix of pairs (a < b) compared with the list. */
static int knn_brute_equal(const pairs_list *l, const float *x, int n,
                           int dim, int k, double maxdist)
{
	char *want = calloc((size_t)n * n, 1);
	knn_hit *h = malloc((size_t)n * sizeof *h);
	int64_t m = 0;
	for (int i = 0; i < n; i++) {
		int c = 0;
		for (int j = 0; j < n; j++)
			if (j != i)
				h[c++] = (knn_hit){ knn_ssd(x + (size_t)i * dim,
				                            x + (size_t)j * dim,
				                            dim), j };
		qsort(h, (size_t)c, sizeof *h, cmp_hitv);
		for (int j = 0; j < k && j < c; j++) {
			int b = (int)h[j].row;
			if (sqrt((double)h[j].ssd) <= maxdist) {
				int lo = i < b ? i : b, hi = i < b ? b : i;
				m += !want[(size_t)lo * n + hi];
				want[(size_t)lo * n + hi] = 1;
			}
		}
	}
	int ok = l->n == m;
	for (int64_t p = 0; ok && p < l->n; p++)
		ok = l->v[p].a < l->v[p].b &&
		     want[(size_t)l->v[p].a * n + l->v[p].b] &&
		     (p == 0 || l->v[p - 1].a < l->v[p].a ||
		      (l->v[p - 1].a == l->v[p].a &&
		       l->v[p - 1].b < l->v[p].b));
	free(want);
	free(h);
	return ok;
}

static void test_knn(void)
{
	const int n = 700, dim = 64;
	float *x = near_copies(n, dim, 0, 0.1f);
	l2_rows(x, n, dim);
	/* row 5 eight times over: more exact duplicates than k + 1 */
	for (int c = 0; c < 8; c++)
		memcpy(x + (size_t)(100 + c) * dim, x + 5 * dim,
		       dim * sizeof *x);
	static const int ks[] = { 1, 5, 12 };
	static const double md[] = { 0.3, 1.0, 2.5 };
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++) {
			pairs_list ref = {0};
			int rr = pairs_knn_ref(&ref, x, n, dim, ks[a], md[b]);
			tap_ok(rr == 0 && knn_brute_equal(&ref, x, n, dim, ks[a],
			                                  md[b]),
			       "knn: k %d within %.1f: the reference is the "
			       "brute force's (%lld pairs)", ks[a], md[b],
			       (long long)ref.n);
			for (int threads = 1; threads <= 3; threads += 2) {
				pairs_list fast = {0};
				int rf = pairs_knn(&fast, x, n, dim, ks[a], md[b],
				                   threads);
				tap_ok(rf == 0 && same_pairs(&fast, &ref),
				       "knn: k %d within %.1f, %d thread%s: the "
				       "int8 pass's pairs are the reference's",
				       ks[a], md[b], threads,
				       threads > 1 ? "s" : "");
				pairs_list_free(&fast);
			}
			pairs_list_free(&ref);
		}
	/* fewer rows than k + 1, and one row */
	pairs_list l = {0};
	int rc = pairs_knn(&l, x, 3, dim, 5, 2.5, 1);
	tap_ok(rc == 0 && l.n == 3 && l.v[0].a == 0 && l.v[0].b == 1 &&
	       l.v[2].a == 1 && l.v[2].b == 2,
	       "knn: 3 rows, k 5: the 3 pairs (%lld)", (long long)l.n);
	pairs_list_free(&l);
	rc = pairs_knn(&l, x, 1, dim, 5, 2.5, 1);
	tap_ok(rc == 0 && l.n == 0, "knn: one row: no pair");
	pairs_list_free(&l);
	free(x);
}

int main(void)
{
	siam_rng_seed(&rng, 20261202);
	test_hand_made();
	test_scan();
	test_duplicates();
	test_knn();

	static const int dims[] = {1, 3, 17, 64};
	for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
		int dim = dims[d];
		int64_t n = dim == 64 ? 2100 : 1300;
		float *x = near_copies(n, dim, 0, 0.05f);
		agree("near copies", x, n, dim, 0.1 * sqrt(dim));
		double t = kth_distance(x, n, dim, 0.1 * sqrt(dim), 17);
		int64_t at = agree("threshold exactly on a pair", x, n, dim, t);
		int64_t below = agree("threshold just under that pair", x, n,
		                      dim, nextafter(t, 0));
		tap_ok(at > 0 && below >= 0 && below < at,
		       "dim %d: the pair at the threshold is in, just under "
		       "it is out (%lld vs %lld)", dim, (long long)at,
		       (long long)below);
		free(x);
	}
	/* far from the origin: |x|^2 ~ 64e6, distances ~ 0.01 */
	float *x = near_copies(1500, 64, 1000, 1e-3f);
	int64_t nfar = agree("rows far from the origin", x, 1500, 64, 0.012);
	tap_ok(nfar > 100, "far rows: the near copies are found (%lld)",
	       (long long)nfar);
	free(x);
	/* unit vectors, as the models make them, at dedup thresholds */
	x = near_copies(2100, 64, 0, 0.1f);
	l2_rows(x, 2100, 64);
	agree("unit vectors", x, 2100, 64, 0.5);
	agree("unit vectors", x, 2100, 64, 1.0);
	agree("unit vectors, all pairs", x, 2100, 64, 2.0);
	free(x);
	return tap_done();
}
