/*
 * test_blas.c -- siam_sgemm (OpenBLAS) agrees with the naive triple loop
 * for every transpose combination, odd sizes, padded leading
 * dimensions, alpha and beta; nn_sgemv too.
 */
#include "tap.h"
#include "siam_nn.h"
#include "nn/nn.h" /* nn_sgemm_ref, the reference */

#include <string.h>

static void fill(float *x, size_t n, siam_rng *r)
{
	for (size_t i = 0; i < n; i++)
		x[i] = 2.0f * siam_rng_uniform(r) - 1.0f;
}

int main(void)
{
	static const int sizes[][3] = {
		{ 1, 1, 1 }, { 7, 13, 5 }, { 33, 17, 65 }, { 64, 3, 129 },
		{ 5, 70, 2 }, { 100, 101, 37 }
	};
	static const float ab[][2] = { { 1.0f, 0.0f }, { 0.5f, -1.5f },
	                               { -2.0f, 1.0f } };
	siam_rng r;
	siam_rng_seed(&r, 3);
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++)
				for (size_t q = 0; q < 3; q++) {
					float alpha = ab[q][0], beta = ab[q][1];
					/* leading dimensions padded by 3 */
					int arows = ta ? k : m, acols = ta ? m : k;
					int brows = tb ? n : k, bcols = tb ? k : n;
					int lda = acols + 3, ldb = bcols + 3, ldc = n + 3;
					float *A = malloc(sizeof(float) * arows * lda);
					float *B = malloc(sizeof(float) * brows * ldb);
					float *C1 = malloc(sizeof(float) * m * ldc);
					float *C2 = malloc(sizeof(float) * m * ldc);
					fill(A, (size_t)arows * lda, &r);
					fill(B, (size_t)brows * ldb, &r);
					fill(C1, (size_t)m * ldc, &r);
					if (beta == 0.0f) /* beta 0 must not read C */
						for (int i = 0; i < m * ldc; i++)
							C1[i] = NAN;
					memcpy(C2, C1, sizeof(float) * m * ldc);
					siam_sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb,
					           beta, C1, ldc);
					nn_sgemm_ref(ta, tb, m, n, k, alpha, A, lda, B,
					             ldb, beta, C2, ldc);
					double maxerr = 0.0;
					int pad_kept = 1;
					for (int i = 0; i < m; i++) {
						for (int j = 0; j < n; j++) {
							double e = fabs(C1[i * ldc + j] -
							                C2[i * ldc + j]);
							if (!(e <= maxerr))
								maxerr = e;
						}
						for (int j = n; j < ldc; j++)
							pad_kept &= memcmp(&C1[i * ldc + j],
							                   &C2[i * ldc + j],
							                   sizeof(float)) == 0;
					}
					tap_ok(maxerr < 1e-5 * k + 1e-6 && pad_kept,
					       "sgemm %c%c %dx%dx%d alpha %g beta %g "
					       "(max err %.2g)", ta ? 'T' : 'N',
					       tb ? 'T' : 'N', m, n, k, alpha, beta,
					       maxerr);
					free(A), free(B), free(C1), free(C2);
				}
	}

	/* nn_sgemv (the embedding's fc rows) against the same reference,
	 * a padded lda, alpha and beta; beta 0 must not read y (nn.h:
	 * "beta = 0 assigns"), as for sgemm above */
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
		for (size_t q = 0; q < 3; q++) {
			int m = sizes[s][0], k = sizes[s][2], lda = k + 3;
			float alpha = ab[q][0], beta = ab[q][1];
			float *A = malloc(sizeof(float) * m * lda);
			float *x = malloc(sizeof(float) * k);
			float *y1 = malloc(sizeof(float) * m);
			float *y2 = malloc(sizeof(float) * m);
			fill(A, (size_t)m * lda, &r);
			fill(x, (size_t)k, &r);
			fill(y1, (size_t)m, &r);
			if (beta == 0.0f)
				for (int i = 0; i < m; i++)
					y1[i] = NAN;
			memcpy(y2, y1, sizeof(float) * m);
			nn_sgemv(m, k, alpha, A, lda, x, beta, y1);
			nn_sgemm_ref(0, 0, m, 1, k, alpha, A, lda, x, 1, beta, y2,
			             1);
			double e = nn_maxdiff(y1, y2, (size_t)m);
			tap_ok(e < 1e-5 * k + 1e-6, "sgemv %dx%d alpha %g beta %g "
			       "vs reference (max err %.2g)", m, k, alpha, beta, e);
			free(A), free(x), free(y1), free(y2);
		}

	/* the reference against a hand computation */
	float A[] = { 1, 2, 3, 4, 5, 6 };    /* 2x3 */
	float B[] = { 7, 8, 9, 10, 11, 12 }; /* 3x2 */
	float C[4] = { 1, 1, 1, 1 };
	nn_sgemm_ref(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 2.0f, C, 2);
	tap_ok(C[0] == 60 && C[1] == 66 && C[2] == 141 && C[3] == 156,
	       "reference: [1 2 3;4 5 6][7 8;9 10;11 12] + 2 = [60 66;141 156]");
	float D[4] = { 1, 1, 1, 1 };
	siam_sgemm(0, 0, 2, 2, 0, 1.0f, A, 3, B, 2, 3.0f, D, 2);
	tap_ok(D[0] == 3 && D[3] == 3, "k = 0 scales C by beta");

	/* same inputs, same threads: bit-identical results */
	int n = 300;
	float *X = malloc(sizeof(float) * n * n), *Y = malloc(sizeof(float) * n * n);
	float *Z1 = malloc(sizeof(float) * n * n), *Z2 = malloc(sizeof(float) * n * n);
	fill(X, (size_t)n * n, &r);
	fill(Y, (size_t)n * n, &r);
	siam_set_threads(2);
	siam_sgemm(0, 1, n, n, n, 1.0f, X, n, Y, n, 0.0f, Z1, n);
	siam_sgemm(0, 1, n, n, n, 1.0f, X, n, Y, n, 0.0f, Z2, n);
	tap_ok(!memcmp(Z1, Z2, sizeof(float) * n * n),
	       "sgemm is deterministic for a fixed thread count");
	free(X), free(Y), free(Z1), free(Z2);
	return tap_done();
}
