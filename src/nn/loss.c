/*
 * loss.c -- the Siamese losses, computed in double (the batch of
 * embeddings is small, and double makes the gradient checks tight).
 */
#include "internal.h"

#include <math.h>
#include <string.h>

/* Added under the square root of the hinge term's distance: the
 * gradient of max(0, m - d)^2 is -2 (m - d) (a - b) / d, which is 0/0
 * for identical embeddings.  With the epsilon it is 0, as it should be
 * by symmetry.  It is far below float resolution of any real distance. */
#define SIAM_DIST_EPS 1e-12

float siam_contrastive_loss(float *da, float *db, const float *a,
                            const float *b, const float *y, int N, int D,
                            float margin)
{
	// a, b, da, db are (N,D); y is (N)
	double total = 0.0, invn = N > 0 ? 1.0 / N : 0.0;
	for (int i = 0; i < N; i++) {
		const float *ai = a + (size_t)i * D, *bi = b + (size_t)i * D;
		double d2 = 0.0;
		for (int j = 0; j < D; j++) {
			double t = (double)ai[j] - bi[j];
			d2 += t * t;
		}
		double d = sqrt(d2 + SIAM_DIST_EPS);
		double hinge = margin - d > 0.0 ? margin - d : 0.0;
		double yi = y[i];
		total += yi * d2 + (1.0 - yi) * hinge * hinge;
		/* dL/da = 2 y (a-b) - 2 (1-y) hinge (a-b)/d, and dL/db = -dL/da */
		double g = (2.0 * yi - 2.0 * (1.0 - yi) * hinge / d) * invn;
		for (int j = 0; j < D; j++) {
			float gj = (float)(g * ((double)ai[j] - bi[j]));
			if (da)
				da[(size_t)i * D + j] = gj;
			if (db)
				db[(size_t)i * D + j] = -gj;
		}
	}
	return (float)(total * invn);
}

float siam_triplet_loss(float *da, float *dp, float *dn, const float *a,
                        const float *p, const float *n, int N, int D,
                        float margin)
{
	// a, p, n and their gradients are (N,D)
	double total = 0.0, invn = N > 0 ? 1.0 / N : 0.0;
	for (int i = 0; i < N; i++) {
		const float *ai = a + (size_t)i * D, *pi = p + (size_t)i * D,
		            *ni = n + (size_t)i * D;
		double dap = 0.0, dan = 0.0;
		for (int j = 0; j < D; j++) {
			double s = (double)ai[j] - pi[j], t = (double)ai[j] - ni[j];
			dap += s * s;
			dan += t * t;
		}
		double l = dap - dan + margin;
		int active = l > 0.0;
		if (active)
			total += l;
		for (int j = 0; j < D; j++) {
			size_t k = (size_t)i * D + j;
			double gp = active ? 2.0 * ((double)ai[j] - pi[j]) * invn : 0.0;
			double gn = active ? 2.0 * ((double)ai[j] - ni[j]) * invn : 0.0;
			if (da)
				da[k] = (float)(gp - gn);
			if (dp)
				dp[k] = (float)-gp;
			if (dn)
				dn[k] = (float)gn;
		}
	}
	return (float)(total * invn);
}

float siam_supcon_loss(float *dz, const float *z, const int *ids, int n,
                       int D, float tau, double *work)
{
	// z and dz are (n,D); work is (n): row i of the similarities
	int anchors = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (j != i && ids[j] == ids[i]) {
				anchors++;
				break;
			}
	double total = 0.0, inv = anchors ? 1.0 / anchors : 0.0;
	if (dz)
		memset(dz, 0, (size_t)n * D * sizeof(float));
	for (int i = 0; i < n; i++) {
		const float *zi = z + (size_t)i * D;
		int npos = 0;
		double mx = -INFINITY;
		for (int j = 0; j < n; j++) {
			if (j == i)
				continue;
			const float *zj = z + (size_t)j * D;
			double s = 0.0;
			for (int k = 0; k < D; k++)
				s += (double)zi[k] * zj[k];
			work[j] = s / tau;
			mx = work[j] > mx ? work[j] : mx;
			npos += ids[j] == ids[i];
		}
		if (!npos)
			continue;
		/* log-sum-exp shifted by the largest term, so exp never
		 * overflows at small temperatures */
		double sum = 0.0, pos = 0.0;
		for (int j = 0; j < n; j++)
			if (j != i) {
				sum += exp(work[j] - mx);
				if (ids[j] == ids[i])
					pos += work[j];
			}
		double lse = mx + log(sum);
		total += lse - pos / npos;
		if (!dz)
			continue;
		/* dL_i/ds_ij = softmax_ij - [j positive] / npos, and
		 * s_ij = z_i.z_j / tau feeds both z_i and z_j. */
		float *gi = dz + (size_t)i * D;
		for (int j = 0; j < n; j++) {
			if (j == i)
				continue;
			double g = (exp(work[j] - lse) -
			            (ids[j] == ids[i] ? 1.0 / npos : 0.0)) *
			           inv / tau;
			const float *zj = z + (size_t)j * D;
			float *gj = dz + (size_t)j * D;
			for (int k = 0; k < D; k++) {
				gi[k] += (float)(g * zj[k]);
				gj[k] += (float)(g * zi[k]);
			}
		}
	}
	return (float)(total * inv);
}

float siam_l2_distance(const float *a, const float *b, int D)
{
	float s = 0.0f;
	for (int j = 0; j < D; j++) {
		float t = a[j] - b[j];
		s += t * t;
	}
	return sqrtf(s);
}
