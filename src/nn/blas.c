/*
 * blas.c -- the one door to BLAS.  Every GEMM in siam goes through
 * siam_sgemm so that the tests can compare it with nn_sgemm_ref, the
 * plain triple loop, and so that a different BLAS is one file away.
 */
#include "nn.h"

#include <cblas.h>

void siam_sgemm(int ta, int tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc)
{
	if (m <= 0 || n <= 0)
		return;
	if (k <= 0) {
		/* Some BLAS reject k = 0; the contract is C = beta * C. */
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				c[(size_t)i * ldc + j] =
					beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
		return;
	}
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
	            tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
	            ldb, beta, c, ldc);
}

/* Accumulates in double so that it is a trustworthy reference; beta = 0
 * assigns (C may hold garbage or NaN), as BLAS does. */
void nn_sgemm_ref(int ta, int tb, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc)
{
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < n; j++) {
			double s = 0.0;
			for (int p = 0; p < k; p++) {
				float av = ta ? a[(size_t)p * lda + i]
				              : a[(size_t)i * lda + p];
				float bv = tb ? b[(size_t)j * ldb + p]
				              : b[(size_t)p * ldb + j];
				s += (double)av * bv;
			}
			float *cij = &c[(size_t)i * ldc + j];
			*cij = (float)(alpha * s +
			               (beta == 0.0f ? 0.0 : (double)beta * *cij));
		}
	}
}

/* The count set by siam_set_threads, for the net's own threads; 0 =
 * never set.  A plain int: siam_set_threads is a setting made before
 * work starts, not while nets run. */
static int threads_set;

void siam_set_threads(int n)
{
	if (n > 0) {
		openblas_set_num_threads(n);
		threads_set = n;
	}
}

int nn_threads(void)
{
	int n = threads_set > 0 ? threads_set : openblas_get_num_threads();
	return n > 0 ? n : 1;
}

int nn_blas_get_threads(void) { return openblas_get_num_threads(); }
void nn_blas_set_threads(int n) { openblas_set_num_threads(n); }
