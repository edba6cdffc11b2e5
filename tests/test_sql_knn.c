/*
 * test_sql_knn.c -- siam_knn's kernels, below SQL: the int8 first pass
 * (knn8_search) must return exactly what the plain float scan
 * (knn_scan) returns -- the same rows, the same float distances, ties in
 * the same order -- on data made to be hard for it: duplicates, queries
 * far outside the data, one wide dimension that makes the codes coarse,
 * odd dimensions.  And the SIMD row kernels must equal the reference.
 *
 * The kernels live in src/knn.c, without SQLite; this test links them.
 */
#include "knn.h"
#include "siam_nn.h"

#include "tap.h"

#include <string.h>

static siam_rng rng;

static int same_hits(const knn_hit *a, int na, const knn_hit *b, int nb)
{
	if (na != nb)
		return 0;
	for (int i = 0; i < na; i++)
		if (a[i].row != b[i].row || a[i].ssd != b[i].ssd)
			return 0;
	return 1;
}

/* knn8 and knn_scan agree on nq queries drawn by make_query. */
static void agree(const char *what, const float *x, int64_t n, int dim,
                  const int *ks, int nks, int nq,
                  void (*make_query)(float *q, const float *x, int64_t n,
                                     int dim))
{
	knn8 ix;
	if (knn8_build(&ix, x, n, dim) < 0) {
		tap_ok(0, "%s: knn8_build", what);
		return;
	}
	float *q = malloc((size_t)dim * sizeof *q);
	int ok = 1, tests = 0;
	for (int t = 0; t < nq && ok; t++) {
		make_query(q, x, n, dim);
		for (int j = 0; j < nks; j++) {
			int k = ks[j];
			knn_hit *a = malloc((size_t)k * sizeof *a);
			knn_hit *b = malloc((size_t)k * sizeof *b);
			int na = knn_scan(a, k < n ? k : (int)n, x, n, dim, q);
			int nb = knn8_search(b, k < n ? k : (int)n, &ix, x, q,
			                     knn8_rows_best());
			if (!same_hits(a, na, b, nb)) {
				ok = 0;
				tap_diag("%s: query %d, k %d: %d vs %d hits",
				         what, t, k, na, nb);
				for (int i = 0; i < na && i < nb && i < 5; i++)
					tap_diag("  %lld %.9g | %lld %.9g",
					         (long long)a[i].row, a[i].ssd,
					         (long long)b[i].row, b[i].ssd);
			}
			tests++;
			free(a);
			free(b);
		}
	}
	tap_ok(ok, "%s: knn8 = plain scan (%d searches)", what, tests);
	free(q);
	knn8_free(&ix);
}

static void q_normal(float *q, const float *x, int64_t n, int dim)
{
	(void)x;
	(void)n;
	for (int j = 0; j < dim; j++)
		q[j] = siam_rng_normal(&rng);
}

/* A row of the data itself: distance 0, and ties with its copies. */
static void q_row(float *q, const float *x, int64_t n, int dim)
{
	memcpy(q, x + (size_t)siam_rng_below(&rng, (uint32_t)n) * dim,
	       (size_t)dim * sizeof *q);
}

/* A row nudged by a hair: near-ties at the k-th place. */
static void q_near_row(float *q, const float *x, int64_t n, int dim)
{
	q_row(q, x, n, dim);
	for (int j = 0; j < dim; j++)
		q[j] = nextafterf(q[j], siam_rng_uniform(&rng) < 0.5f ?
		                  -INFINITY : INFINITY);
}

/* Far outside the data: the query codes are clamped. */
static void q_far(float *q, const float *x, int64_t n, int dim)
{
	(void)x;
	(void)n;
	for (int j = 0; j < dim; j++)
		q[j] = 1e6f * (siam_rng_uniform(&rng) - 0.5f);
}

static float *normal_data(int64_t n, int dim)
{
	float *x = malloc((size_t)n * dim * sizeof *x);
	for (size_t i = 0; i < (size_t)n * dim; i++)
		x[i] = siam_rng_normal(&rng);
	return x;
}

/* Each row kernel against the reference, at dpad 80 and 64 (the
 * default model's), over 301 rows (the AVX2 kernel takes four rows at a
 * time, then the rest one by one). */
static void test_rows_kernels(int dpad)
{
	int n = 301;
	uint8_t *c = malloc((size_t)n * dpad);
	int16_t q[80];
	int32_t want[301], got[301];
	tap_diag("row kernels at dpad %d", dpad);
	for (int i = 0; i < n * dpad; i++)
		c[i] = (uint8_t)siam_rng_below(&rng, 256);
	/* extremes: all codes 0 or 255, query at the clamp limits */
	memset(c, 0, (size_t)dpad);
	memset(c + dpad, 255, (size_t)dpad);
	int m = (int)floor(sqrt(2147483647.0 / dpad));
	for (int round = 0; round < 3; round++) {
		for (int j = 0; j < dpad; j++)
			q[j] = round == 0 ? (int16_t)siam_rng_below(&rng, 256) :
			       round == 1 ? (int16_t)m : (int16_t)(255 - m);
		knn8_rows_ref(want, c, n, dpad, q);
		knn8_rows_best()(got, c, n, dpad, q);
		tap_ok(!memcmp(want, got, sizeof want),
		       "row kernel = reference (round %d)", round);
#ifdef KNN8_X86
		knn8_rows_sse2(got, c, n, dpad, q);
		tap_ok(!memcmp(want, got, sizeof want),
		       "SSE2 row kernel = reference (round %d)", round);
		if (__builtin_cpu_supports("avx2")) {
			knn8_rows_avx2(got, c, n, dpad, q);
			tap_ok(!memcmp(want, got, sizeof want),
			       "AVX2 row kernel = reference (round %d)", round);
		}
#endif
	}
	/* the largest differences, m against code 0 or 255 - m against
	 * code 255, still sum exactly in int32 */
	tap_ok((int64_t)m * m * dpad <= INT32_MAX &&
	       want[0] == (255 - m) * (255 - m) * dpad &&
	       want[1] == m * m * dpad, "clamped sums are exact in int32");
	free(c);
}

int main(void)
{
	siam_rng_seed(&rng, 2024);
	test_rows_kernels(80);
	test_rows_kernels(64);

	static const int ks[] = {1, 10, 100};
	/* plain random data */
	{
		int64_t n = 20000;
		int dim = 64;
		float *x = normal_data(n, dim);
		agree("normal 64-d", x, n, dim, ks, 3, 8, q_normal);
		agree("normal 64-d, row queries", x, n, dim, ks, 3, 4, q_row);
		agree("normal 64-d, near-row queries", x, n, dim, ks, 3, 4,
		      q_near_row);
		agree("normal 64-d, far queries", x, n, dim, ks, 3, 3, q_far);
		free(x);
	}
	/* many exact duplicates: blocks of 50 identical rows */
	{
		int64_t n = 10000;
		int dim = 24;
		float *x = normal_data(n, dim);
		for (int64_t i = 0; i < n; i++)
			memcpy(x + i * dim, x + (i / 50 * 50) * dim,
			       (size_t)dim * sizeof *x);
		agree("duplicates, 24-d", x, n, dim, ks, 3, 6, q_row);
		agree("duplicates, 24-d, random queries", x, n, dim, ks, 3, 4,
		      q_normal);
		free(x);
	}
	/* one dimension a million times wider: the codes of the others
	 * collapse to a few values, the pass must fall back on the bound */
	{
		int64_t n = 8000;
		int dim = 16;
		float *x = normal_data(n, dim);
		for (int64_t i = 0; i < n; i++)
			x[i * dim] *= 1e6f;
		agree("one wide dimension", x, n, dim, ks, 3, 4, q_row);
		agree("one wide dimension, random queries", x, n, dim, ks, 3,
		      4, q_normal);
		free(x);
	}
	/* values on a coarse grid: codes are exact, distances tie a lot */
	{
		int64_t n = 6000;
		int dim = 7;
		float *x = malloc((size_t)n * dim * sizeof *x);
		for (size_t i = 0; i < (size_t)n * dim; i++)
			x[i] = (float)siam_rng_below(&rng, 4);
		agree("small integer grid, 7-d", x, n, dim, ks, 3, 6, q_row);
		agree("small integer grid, 7-d, random queries", x, n, dim, ks,
		      3, 4, q_normal);
		free(x);
	}
	/* odd and large dimensions */
	{
		static const int dims[] = {1, 3, 100, 1000};
		for (int d = 0; d < 4; d++) {
			int dim = dims[d];
			int64_t n = dim >= 1000 ? 600 : 5000;
			float *x = normal_data(n, dim);
			char what[40];
			snprintf(what, sizeof what, "%d-d", dim);
			agree(what, x, n, dim, ks, 3, 3, q_normal);
			free(x);
		}
	}
	/* a dimension too large for int32 sums is refused, not wrong */
	{
		knn8 ix;
		float x[9000] = {0};
		tap_int(knn8_build(&ix, x, 1, 9000), -1,
		        "knn8_build refuses 9000 dimensions");
	}
	/* every value equal: scale 0 is handled */
	{
		int64_t n = 5000;
		int dim = 8;
		float *x = malloc((size_t)n * dim * sizeof *x);
		for (size_t i = 0; i < (size_t)n * dim; i++)
			x[i] = 0.25f;
		agree("all rows equal", x, n, dim, ks, 3, 2, q_normal);
		free(x);
	}
	return tap_done();
}
