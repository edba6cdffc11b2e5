/*
 * metrics.c -- how well a model verifies, retrieves and one-shot
 * classifies.
 *
 * Verification figures all come from one sort of the pair distances:
 * walking the distances in increasing order, each group of equal
 * distances is one place a threshold can sit, and every figure is a
 * count taken at those places.  A pair is called "same" when its
 * distance is strictly below the threshold, so a threshold between two
 * groups splits them cleanly and ties never straddle it.
 */
#include "internal.h"
#include "siam_nn.h"

#include <math.h>
#include <string.h>

typedef struct dpair {
	float d;
	unsigned char same;
} dpair;

static int cmp_dpair(const void *x, const void *y)
{
	const dpair *a = x, *b = y;
	if (a->d < b->d)
		return -1;
	if (a->d > b->d)
		return 1;
	return (int)a->same - (int)b->same;
}

/* The sorted pairs and the counts of positives and negatives. */
static dpair *sorted(const float *dist, const unsigned char *same,
                     size_t n, size_t *pos, size_t *neg)
{
	dpair *v = siam_xmalloc_n(n ? n : 1, sizeof *v);
	if (!v)
		return NULL;
	*pos = *neg = 0;
	for (size_t i = 0; i < n; i++) {
		v[i].d = dist[i];
		v[i].same = same[i] ? 1 : 0;
		if (v[i].same)
			(*pos)++;
		else
			(*neg)++;
	}
	qsort(v, n, sizeof *v, cmp_dpair);
	return v;
}

/* A threshold strictly above a and at most b (a < b): the midpoint,
 * unless float rounding puts it on a. */
static float between(float a, float b)
{
	float t = (float)(0.5 * ((double)a + (double)b));
	if (t <= a)
		t = nextafterf(a, b);
	return t;
}

/* A threshold above every distance in v (n > 0). */
static float above(float last)
{
	float t = last + fmaxf(1e-6f, fabsf(last) * 1e-3f);
	return t > last ? t : nextafterf(last, INFINITY);
}

/* Threshold candidate g of the sweep: g = 0 accepts nothing; g = k + 1
 * accepts every pair of the first k + 1 groups (v[0..end_of_group_k)).
 * next is the first distance not accepted (or unused when none). */
static float cut(const dpair *v, size_t n, size_t end)
{
	if (end == 0)
		return n && v[0].d > 0 ? v[0].d * 0.5f : 0.0f;
	if (end >= n)
		return above(v[n - 1].d);
	return between(v[end - 1].d, v[end].d);
}

double siam_accuracy_at(const float *dist, const unsigned char *same,
                        size_t n, float threshold)
{
	if (n == 0)
		return 0;
	size_t ok = 0;
	for (size_t i = 0; i < n; i++)
		ok += (dist[i] < threshold) == (same[i] != 0);
	return (double)ok / n;
}

/* The AUC of the score -distance: the probability that a same pair is
 * closer than a different pair, ties counting one half -- the
 * Mann-Whitney U statistic divided by P*N. */
static double auc_sorted(const dpair *v, size_t n, size_t P, size_t N)
{
	if (P == 0 || N == 0)
		return 0.5;
	double u = 0;
	size_t neg_before = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i, p = 0, q = 0;
		while (j < n && v[j].d == v[i].d) {
			if (v[j].same)
				p++;
			else
				q++;
			j++;
		}
		size_t neg_after = N - neg_before - q;
		u += (double)p * neg_after + 0.5 * (double)p * q;
		neg_before += q;
		i = j;
	}
	return u / ((double)P * (double)N);
}

double siam_roc_auc(const float *dist, const unsigned char *same, size_t n)
{
	size_t P, N;
	dpair *v = sorted(dist, same, n, &P, &N);
	if (!v)
		return -1;
	double a = auc_sorted(v, n, P, N);
	free(v);
	return a;
}

/* The sweep: calls visit for every candidate cut with the number of
 * same (tp) and different (fp) pairs accepted there. */
typedef struct sweep_best {
	/* best accuracy */
	double acc;
	size_t acc_end;
	/* equal error rate */
	double eer_gap, eer;
	size_t eer_end;
	/* TAR at FAR */
	double far, tar;
} sweep_best;

static void sweep(const dpair *v, size_t n, size_t P, size_t N,
                  sweep_best *b)
{
	size_t tp = 0, fp = 0;
	b->acc = -1;
	b->eer_gap = INFINITY;
	b->tar = 0;
	for (size_t end = 0;;) {
		double acc = (double)(tp + (N - fp)) / (double)(n ? n : 1);
		if (acc > b->acc) {
			b->acc = acc;
			b->acc_end = end;
		}
		double far = N ? (double)fp / N : 0;
		double frr = P ? (double)(P - tp) / P : 0;
		if (fabs(far - frr) < b->eer_gap) {
			b->eer_gap = fabs(far - frr);
			b->eer = 0.5 * (far + frr);
			b->eer_end = end;
		}
		if (far <= b->far) {
			double tar = P ? (double)tp / P : 0;
			if (tar > b->tar)
				b->tar = tar;
		}
		if (end >= n)
			break;
		size_t j = end;
		while (j < n && v[j].d == v[end].d) {
			if (v[j].same)
				tp++;
			else
				fp++;
			j++;
		}
		end = j;
	}
}

float siam_best_threshold(const float *dist, const unsigned char *same,
                          size_t n, double *acc)
{
	size_t P, N;
	dpair *v = sorted(dist, same, n, &P, &N);
	if (!v) {
		if (acc)
			*acc = -1;
		return 0;
	}
	sweep_best b = { .far = 0 };
	sweep(v, n, P, N, &b);
	float t = cut(v, n, b.acc_end);
	if (acc)
		*acc = b.acc;
	free(v);
	return t;
}

double siam_eer(const float *dist, const unsigned char *same, size_t n,
                float *thr)
{
	size_t P, N;
	dpair *v = sorted(dist, same, n, &P, &N);
	if (!v)
		return -1;
	sweep_best b = { .far = 0 };
	sweep(v, n, P, N, &b);
	if (thr)
		*thr = cut(v, n, b.eer_end);
	free(v);
	return b.eer;
}

double siam_tar_at_far(const float *dist, const unsigned char *same,
                       size_t n, double far)
{
	size_t P, N;
	dpair *v = sorted(dist, same, n, &P, &N);
	if (!v)
		return -1;
	sweep_best b = { .far = far };
	sweep(v, n, P, N, &b);
	free(v);
	return b.tar;
}

int siam_verif_compute(siam_verif *out, const float *dist,
                       const unsigned char *same, size_t n, float threshold,
                       siam_error *err)
{
	memset(out, 0, sizeof *out);
	size_t P, N;
	dpair *v = sorted(dist, same, n, &P, &N);
	if (!v)
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	sweep_best b = { .far = 1e-3 };
	sweep(v, n, P, N, &b);
	out->pairs = n;
	out->positives = P;
	out->threshold = threshold;
	out->accuracy = siam_accuracy_at(dist, same, n, threshold);
	out->auc = auc_sorted(v, n, P, N);
	out->eer = b.eer;
	out->eer_threshold = cut(v, n, b.eer_end);
	out->tar_at_far = b.tar;
	out->best_threshold = cut(v, n, b.acc_end);
	out->best_accuracy = b.acc;
	free(v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Retrieval and one-shot                                              */

int siam_nn1_accuracy(double *acc, const float *q, const int *qlabels,
                      int nq, const float *g, const int *glabels, int ng,
                      int D, int self, siam_error *err)
{
	*acc = 0;
	if (nq <= 0 || ng <= 0 || D <= 0 || (self && ng < 2))
		return siam_errorf(err, SIAM_EINVAL,
		                   "1-NN needs queries and a gallery");
	/* |q - g|^2 = |q|^2 - 2 q.g + |g|^2; |q|^2 is the same for every
	 * g of a query, so only -2 q.g + |g|^2 decides.  The q.g block
	 * comes from one GEMM; blocks bound the scratch to bq*ng floats. */
	enum { BQ = 64 };
	float *dot = siam_xmalloc_n((size_t)BQ * ng, sizeof(float));
	float *gn = siam_xmalloc_n((size_t)ng, sizeof(float));
	if (!dot || !gn) {
		free(dot);
		free(gn);
		return siam_errorf(err, SIAM_ENOMEM, "out of memory");
	}
	for (int j = 0; j < ng; j++) {
		double s = 0;
		for (int k = 0; k < D; k++)
			s += (double)g[(size_t)j * D + k] * g[(size_t)j * D + k];
		gn[j] = (float)s;
	}
	long correct = 0;
	for (int i0 = 0; i0 < nq; i0 += BQ) {
		int bq = SIAM_MIN(BQ, nq - i0);
		siam_sgemm(0, 1, bq, ng, D, 1.0f, q + (size_t)i0 * D, D, g, D,
		           0.0f, dot, ng);
		for (int i = 0; i < bq; i++) {
			const float *row = dot + (size_t)i * ng;
			int best = -1;
			float bd = INFINITY;
			for (int j = 0; j < ng; j++) {
				if (self && j == i0 + i)
					continue;
				float dd = gn[j] - 2.0f * row[j];
				if (dd < bd) {
					bd = dd;
					best = j;
				}
			}
			if (best >= 0 && glabels[best] == qlabels[i0 + i])
				correct++;
		}
	}
	free(dot);
	free(gn);
	*acc = (double)correct / nq;
	return 0;
}

int siam_oneshot_accuracy(double *acc, const float *emb, const int *labels,
                          int n, int D, const int *classes, int nclasses,
                          int way, int trials, uint64_t seed,
                          siam_error *err)
{
	*acc = 0;
	int rc = 0;
	if (way < 2 || trials <= 0)
		return siam_errorf(err, SIAM_EINVAL,
		                   "one-shot needs a way of 2 or more and "
		                   "trials");
	/* members[c]: the items of classes[c], kept only for classes with
	 * two or more (a query must differ from its support). */
	int *count = calloc((size_t)nclasses + 1, sizeof(int));
	int *start = calloc((size_t)nclasses + 1, sizeof(int));
	int *items = siam_xmalloc_n((size_t)(n ? n : 1), sizeof(int));
	int *valid = siam_xmalloc_n((size_t)nclasses + 1, sizeof(int));
	int *pick = siam_xmalloc_n((size_t)nclasses + 1, sizeof(int));
	int *support = siam_xmalloc_n((size_t)way, sizeof(int));
	if (!count || !start || !items || !valid || !pick || !support) {
		rc = siam_errorf(err, SIAM_ENOMEM, "out of memory");
		goto done;
	}
	int nvalid = 0, m = 0;
	for (int c = 0; c < nclasses; c++) {
		start[c] = m;
		for (int i = 0; i < n; i++)
			if (labels[i] == classes[c])
				items[m++] = i;
		count[c] = m - start[c];
		if (count[c] >= 2)
			valid[nvalid++] = c;
	}
	if (nvalid < way) {
		rc = siam_errorf(err, SIAM_EINVAL,
		                 "%d-way one-shot needs %d classes with two or "
		                 "more images; there are %d", way, way, nvalid);
		goto done;
	}
	siam_rng rng;
	siam_rng_seed(&rng, seed);
	long correct = 0;
	for (int t = 0; t < trials; t++) {
		/* way distinct classes: a partial Fisher-Yates shuffle. */
		for (int i = 0; i < nvalid; i++)
			pick[i] = valid[i];
		for (int i = 0; i < way; i++) {
			int j = i + (int)siam_rng_below(&rng,
			                                (uint32_t)(nvalid - i));
			int tmp = pick[i];
			pick[i] = pick[j];
			pick[j] = tmp;
		}
		for (int i = 0; i < way; i++) {
			int c = pick[i];
			support[i] = items[start[c] +
			                   (int)siam_rng_below(&rng,
			                                       (uint32_t)count[c])];
		}
		int qi = (int)siam_rng_below(&rng, (uint32_t)way), c = pick[qi];
		int query = items[start[c] + (int)siam_rng_below(
		                          &rng, (uint32_t)count[c] - 1)];
		if (query == support[qi]) /* skip the support: take the last */
			query = items[start[c] + count[c] - 1];
		const float *qv = emb + (size_t)query * D;
		int best = 0;
		float bd = INFINITY;
		for (int i = 0; i < way; i++) {
			float d = siam_l2_distance(qv, emb + (size_t)support[i] * D,
			                           D);
			if (d < bd) {
				bd = d;
				best = i;
			}
		}
		correct += best == qi;
	}
	*acc = (double)correct / trials;
done:
	free(count);
	free(start);
	free(items);
	free(valid);
	free(pick);
	free(support);
	return rc;
}
