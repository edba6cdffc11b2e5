/*
 * knn.c -- the nearest-neighbour kernels behind siam_distance and
 * siam_knn: the distance (knn_ssd), the plain scan (knn_scan) and the
 * exact int8 first pass (knn8_*).  Plain C over float matrices, no
 * SQLite: libsiam and the loadable module share this one copy, and
 * tests/test_sql_knn.c tests it directly.  The contracts are in knn.h.
 */
#include "knn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef float knn_v8 __attribute__((vector_size(32)));

/* ------------------------------------------------------------------ */
/* The distance kernel, shared by siam_distance and siam_knn so that    */
/* the two agree to the last bit (ties order the same way).            */
/* Sixteen lanes of partial sums in GCC vector types: the compiler      */
/* emits SSE (or AVX) without -ffast-math, and the summation order is   */
/* fixed by the code, not by the flags.  Exact: sum of (a-b)^2, not the */
/* |a|^2 + |b|^2 - 2ab expansion, which cancels badly for near          */
/* neighbours -- the ones that matter.  The scan is memory-bound (64    */
/* floats in, 32 flops per row), so BLAS would not be faster.          */

float knn_ssd(const float *a, const float *b, int n)
{
	knn_v8 acc0 = {0}, acc1 = {0};
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		knn_v8 a0, b0, a1, b1;
		memcpy(&a0, a + i, sizeof a0);
		memcpy(&b0, b + i, sizeof b0);
		memcpy(&a1, a + i + 8, sizeof a1);
		memcpy(&b1, b + i + 8, sizeof b1);
		a0 -= b0;
		a1 -= b1;
		acc0 += a0 * a0;
		acc1 += a1 * a1;
	}
	acc0 += acc1;
	float s = ((acc0[0] + acc0[4]) + (acc0[1] + acc0[5])) +
	          ((acc0[2] + acc0[6]) + (acc0[3] + acc0[7]));
	for (; i < n; i++) {
		float d = a[i] - b[i];
		s += d * d;
	}
	return s;
}

/* Max-heap on (ssd, row): the root is the worst of the best k so far. */
static int knn_worse(const knn_hit *a, const knn_hit *b)
{
	return a->ssd > b->ssd || (a->ssd == b->ssd && a->row > b->row);
}

static void knn_sift_down(knn_hit *h, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && knn_worse(&h[l], &h[m]))
			m = l;
		if (r < n && knn_worse(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		knn_hit t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int knn_hit_cmp(const void *pa, const void *pb)
{
	const knn_hit *a = pa, *b = pb;
	if (a->ssd != b->ssd)
		return a->ssd < b->ssd ? -1 : 1;
	return (a->row > b->row) - (a->row < b->row);
}

/* The k rows of x (n by dim) nearest to q, into hits, sorted; returns
 * how many (min(k, n)).  Rows are visited in order and a row replaces
 * the root only if strictly nearer, so among equal distances the lower
 * row (the lower image_id) wins. */
int knn_scan(knn_hit *hits, int k, const float *x, int64_t n, int dim,
                    const float *q)
{
	int nh = 0;
	int64_t i = 0;
	for (; i < n && nh < k; i++) {
		hits[nh].ssd = knn_ssd(q, x + (size_t)i * (size_t)dim, dim);
		hits[nh].row = i;
		nh++;
	}
	for (int j = nh / 2 - 1; j >= 0; j--)
		knn_sift_down(hits, nh, j);
	if (nh == k) {
		float worst = hits[0].ssd;
		for (; i < n; i++) {
			float s = knn_ssd(q, x + (size_t)i * (size_t)dim, dim);
			if (s < worst) {
				hits[0].ssd = s;
				hits[0].row = i;
				knn_sift_down(hits, k, 0);
				worst = hits[0].ssd;
			}
		}
	}
	qsort(hits, (size_t)nh, sizeof *hits, knn_hit_cmp);
	return nh;
}

/* ------------------------------------------------------------------ */
/* The int8 first pass: exact results from a quarter of the bytes.      */
/*                                                                     */
/* A scan over the float matrix moves 4 * dim bytes per row and is      */
/* bound by memory bandwidth.  So the matrix also lives as one byte per */
/* value: x^ = lo[j] + s * c (c in 0..255, one scale s for all          */
/* dimensions, so that distances between codes are plain integer sums   */
/* of squares: pmaddwd), with each row's error e_i = |x_i - x^_i|.  The */
/* query is coded the same way, q^ with error e_q.  By the triangle     */
/* inequality the true distance lies within                             */
/*     s * sqrt(I_i) -+ (e_q + e_i),  I_i = sum_j (q~_j - c_ij)^2,      */
/* widened a little for rounding (knn8_slack).  One pass keeps the k    */
/* smallest upper bounds (their largest is T, so at least k rows lie    */
/* within T) and every row whose lower bound is within T as a           */
/* candidate; the candidates are then ranked by knn_ssd on the float    */
/* rows, the same kernel as siam_distance.  No row that belongs in the  */
/* answer can be missed, ties included, and the distances returned are  */
/* the exact float ones: the answer is the plain scan's, bit for bit    */
/* (tests/test_sql_knn.c compares the two).  The pass reads dim bytes   */
/* per row instead of 4 * dim, and candidates are few: those within    */
/* about 2 (e_q + e_i) of the k-th distance.                           */



/* The reference: plain C, any machine (on x86 only the tests call it,
 * to check the SIMD kernels against it). */
void knn8_rows_ref(int32_t *out, const uint8_t *codes, int n,
                          int dpad, const int16_t *q)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *c = codes + (size_t)i * dpad;
		int32_t s = 0;
		for (int j = 0; j < dpad; j++) {
			int32_t d = q[j] - c[j];
			s += d * d;
		}
		out[i] = s;
	}
}

#ifdef KNN8_X86
#include <immintrin.h>

/* SSE2 (every x86-64): 16 codes widened to int16, subtracted from the
 * query, squared and summed in pairs by pmaddwd. */
void knn8_rows_sse2(int32_t *out, const uint8_t *codes, int n,
                           int dpad, const int16_t *q)
{
	const __m128i z = _mm_setzero_si128();
	for (int i = 0; i < n; i++) {
		const uint8_t *c = codes + (size_t)i * dpad;
		__m128i acc = z;
		for (int j = 0; j < dpad; j += 16) {
			__m128i b = _mm_loadu_si128((const __m128i *)(c + j));
			__m128i q0 = _mm_loadu_si128((const __m128i *)(q + j));
			__m128i q1 = _mm_loadu_si128((const __m128i *)(q + j + 8));
			__m128i d0 = _mm_sub_epi16(q0, _mm_unpacklo_epi8(b, z));
			__m128i d1 = _mm_sub_epi16(q1, _mm_unpackhi_epi8(b, z));
			acc = _mm_add_epi32(acc, _mm_madd_epi16(d0, d0));
			acc = _mm_add_epi32(acc, _mm_madd_epi16(d1, d1));
		}
		acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
		acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
		out[i] = _mm_cvtsi128_si32(acc);
	}
}

/* AVX2, chosen at run time: the same with 16 codes per instruction,
 * four rows at a time (each query load serves four rows, and one
 * horizontal add tree sums four rows' lanes at once; integer sums, so
 * the order changes nothing), the last n % 4 rows one by one. */
__attribute__((target("avx2")))
void knn8_rows_avx2(int32_t *out, const uint8_t *codes, int n,
                           int dpad, const int16_t *q)
{
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		const uint8_t *c = codes + (size_t)i * dpad;
		__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
		for (int j = 0; j < dpad; j += 16) {
			__m256i qj = _mm256_loadu_si256((const __m256i *)(q + j));
#define KNN8_ROW4(acc, r)                                                  \
	do {                                                               \
		__m256i d = _mm256_sub_epi16(qj, _mm256_cvtepu8_epi16(     \
			_mm_loadu_si128((const __m128i *)(c + (size_t)(r) * \
			                                  dpad + j))));      \
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));      \
	} while (0)
			KNN8_ROW4(a0, 0);
			KNN8_ROW4(a1, 1);
			KNN8_ROW4(a2, 2);
			KNN8_ROW4(a3, 3);
#undef KNN8_ROW4
		}
		/* lanes 0-3 of h: rows 0-3's sums of their lanes 0-3; lanes
		 * 4-7: of their lanes 4-7 */
		__m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1),
		                              _mm256_hadd_epi32(a2, a3));
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(h),
		                          _mm256_extracti128_si256(h, 1));
		_mm_storeu_si128((__m128i *)(void *)(out + i), s);
	}
	for (; i < n; i++) {
		const uint8_t *c = codes + (size_t)i * dpad;
		__m256i acc = _mm256_setzero_si256();
		for (int j = 0; j < dpad; j += 16) {
			__m256i b = _mm256_cvtepu8_epi16(
				_mm_loadu_si128((const __m128i *)(c + j)));
			__m256i d = _mm256_sub_epi16(
				_mm256_loadu_si256((const __m256i *)(q + j)), b);
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
		}
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc),
		                          _mm256_extracti128_si256(acc, 1));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
		s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
		out[i] = _mm_cvtsi128_si32(s);
	}
}
#endif

knn8_rows_fn knn8_rows_best(void)
{
#ifdef KNN8_X86
	if (__builtin_cpu_supports("avx2"))
		return knn8_rows_avx2;
	return knn8_rows_sse2;
#else
	return knn8_rows_ref;
#endif
}

void knn8_free(knn8 *ix)
{
	free(ix->codes);
	free(ix->lo);
	free(ix->resid);
	memset(ix, 0, sizeof *ix);
}

/* Codes x (n by dim).  Returns 0, or -1 if out of memory or if dim is
 * too large for int32 sums (then the plain scan serves). */
int knn8_build(knn8 *ix, const float *x, int64_t n, int dim)
{
	memset(ix, 0, sizeof *ix);
	int dpad = (dim + 15) / 16 * 16;
	/* |q~ - c| <= m keeps dpad * m^2 < 2^31; codes are 0..255 */
	int m = (int)floor(sqrt(2147483647.0 / dpad));
	if (m > 32767)
		m = 32767;
	if (m < 512)
		return -1;
	ix->dim = dim;
	ix->dpad = dpad;
	ix->n = n;
	ix->qmin = 255 - m;
	ix->qmax = m;
	ix->codes = calloc((size_t)n * dpad + 1, 1);
	ix->lo = malloc((size_t)dim * sizeof *ix->lo);
	ix->resid = malloc((size_t)(n ? n : 1) * sizeof *ix->resid);
	float *hi = malloc((size_t)dim * sizeof *hi);
	if (!ix->codes || !ix->lo || !ix->resid || !hi) {
		free(hi);
		knn8_free(ix);
		return -1;
	}
	for (int j = 0; j < dim; j++)
		ix->lo[j] = hi[j] = n ? x[j] : 0;
	for (int64_t i = 1; i < n; i++)
		for (int j = 0; j < dim; j++) {
			float v = x[(size_t)i * dim + j];
			ix->lo[j] = v < ix->lo[j] ? v : ix->lo[j];
			hi[j] = v > hi[j] ? v : hi[j];
		}
	double range = 0;
	for (int j = 0; j < dim; j++)
		if ((double)hi[j] - ix->lo[j] > range)
			range = (double)hi[j] - ix->lo[j];
	free(hi);
	ix->scale = range > 0 ? range / 255 : 1;
	/* Any code near the value is correct, since the error is measured
	 * from the code chosen: so a multiply and a truncation of t + 0.5
	 * instead of a division and nearbyint(), a libm call that saves and
	 * restores the floating-point environment, which made coding a
	 * million rows take seconds. */
	double inv = 1 / ix->scale;
	for (int64_t i = 0; i < n; i++) {
		const float *r = x + (size_t)i * dim;
		uint8_t *c = ix->codes + (size_t)i * dpad;
		double e2 = 0;
		for (int j = 0; j < dim; j++) {
			double t = ((double)r[j] - ix->lo[j]) * inv;
			t = !(t >= 0) ? 0 : t > 255 ? 255 : t; /* NaN: 0 */
			int ci = (int)(t + 0.5);
			c[j] = (uint8_t)ci;
			double e = (double)r[j] - (ix->lo[j] + ix->scale * ci);
			e2 += e * e;
		}
		ix->resid[i] = sqrt(e2);
		if (ix->resid[i] > ix->resid_max)
			ix->resid_max = ix->resid[i];
	}
	return 0;
}

/* The relative error of a distance computed by knn_ssd + sqrt against
 * the true one: the longest chain of float additions in knn_ssd is
 * dim/16 + 3 + 15, each adding at most 2^-24 relative (plus the
 * subtraction and the square); doubled for margin. */
static double knn8_slack(int dim)
{
	return (dim / 16 + 24) * 2 * 5.96e-8;
}

typedef struct knn8_cand {
	double lower;
	int64_t row;
} knn8_cand;

/* Max-heap of doubles: the k smallest upper bounds seen so far. */
static void knn8_heap_down(double *h, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l] > h[m])
			m = l;
		if (r < n && h[r] > h[m])
			m = r;
		if (m == i)
			return;
		double t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void knn8_heap_up(double *h, int i)
{
	while (i > 0 && h[(i - 1) / 2] < h[i]) {
		double t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* The largest I that can still hold a candidate when the k-th upper
 * bound is t. */
static int64_t knn8_limit(const knn8 *ix, double t, double eq, double rel)
{
	if (isinf(t))
		return INT64_MAX;
	double r = (t * (1 + rel) + eq + ix->resid_max) * (1 + 1e-9) /
	           ix->scale;
	r = r * r + 1;
	return r >= 9e18 ? INT64_MAX : (int64_t)r;
}

#define KNN8_BLOCK 256

/* The k rows of x nearest to q, into hits (sorted, as knn_scan), using
 * the coded copy ix of x.  Returns min(k, n), or -1 out of memory. */
int knn8_search(knn_hit *hits, int k, const knn8 *ix, const float *x,
                       const float *q, knn8_rows_fn rows)
{
	int dim = ix->dim, dpad = ix->dpad, nh = 0, ncap = 0;
	int64_t ncand = 0;
	double rel = knn8_slack(dim), eq2 = 0;
	int16_t *qc = calloc((size_t)dpad, sizeof *qc);
	double *ub = malloc((size_t)k * sizeof *ub);
	knn8_cand *cand = NULL;
	int32_t sums[KNN8_BLOCK];
	int rc = -1;
	if (!qc || !ub)
		goto out;

	for (int j = 0; j < dim; j++) {
		double t = nearbyint(((double)q[j] - ix->lo[j]) / ix->scale);
		t = t < ix->qmin ? ix->qmin : t > ix->qmax ? ix->qmax : t;
		qc[j] = (int16_t)t;
		double e = (double)q[j] - (ix->lo[j] + ix->scale * t);
		eq2 += e * e;
	}
	double eq = sqrt(eq2), t_k = INFINITY;
	int64_t limit = INT64_MAX;
	for (int64_t b = 0; b < ix->n; b += KNN8_BLOCK) {
		int nb = ix->n - b < KNN8_BLOCK ? (int)(ix->n - b) : KNN8_BLOCK;
		rows(sums, ix->codes + (size_t)b * dpad, nb, dpad, qc);
		for (int i = 0; i < nb; i++) {
			if (sums[i] > limit)
				continue;
			double d8 = ix->scale * sqrt((double)sums[i]);
			/* A residual out of its range (a damaged sidecar, whose
			 * rows are not checked on opening, see knn_sidecar.c)
			 * is taken at the bound every row obeys. */
			double ei = ix->resid[b + i];
			if (!(ei >= 0 && ei <= ix->resid_max))
				ei = ix->resid_max;
			double err = eq + ei;
			double pad = 1e-12 * (d8 + err) +
			             1e-9 * ix->scale * sqrt((double)dim);
			double lower = (d8 - err) * (1 - rel) - pad;
			if (lower > t_k)
				continue;
			double upper = (d8 + err) * (1 + rel) + pad;
			if (ncand == ncap) {
				int cap = ncap ? 2 * ncap : 4 * k + 64;
				knn8_cand *p = realloc(cand, (size_t)cap *
				                                     sizeof *p);
				if (!p)
					goto out;
				cand = p;
				ncap = cap;
			}
			cand[ncand].lower = lower;
			cand[ncand].row = b + i;
			ncand++;
			if (nh < k) {
				ub[nh] = upper;
				knn8_heap_up(ub, nh++);
			} else if (upper < ub[0]) {
				ub[0] = upper;
				knn8_heap_down(ub, k, 0);
			} else {
				continue;
			}
			if (nh == k) {
				t_k = ub[0];
				limit = knn8_limit(ix, t_k, eq, rel);
			}
		}
	}
	/* Rank the candidates within the final T by their exact distance,
	 * with knn_scan's heap and order. */
	nh = 0;
	for (int64_t c = 0; c < ncand; c++) {
		if (cand[c].lower > t_k)
			continue;
		knn_hit h = {knn_ssd(q, x + (size_t)cand[c].row * dim, dim),
		             cand[c].row};
		if (nh < k) {
			hits[nh++] = h;
			if (nh == k)
				for (int j = k / 2 - 1; j >= 0; j--)
					knn_sift_down(hits, k, j);
		} else if (knn_worse(&hits[0], &h)) {
			hits[0] = h;
			knn_sift_down(hits, k, 0);
		}
	}
	qsort(hits, (size_t)nh, sizeof *hits, knn_hit_cmp);
	rc = nh;
out:
	free(qc);
	free(ub);
	free(cand);
	return rc;
}