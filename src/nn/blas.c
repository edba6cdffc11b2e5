/*
 * blas.c -- the one door to BLAS.  Every GEMM in siam goes through
 * siam_sgemm so that the tests can compare it with nn_sgemm_ref, the
 * plain triple loop, and so that a different BLAS is one file away.
 * nn_sgemv is the one other door, for the embedding's fc layers (one
 * row at a time, see dense.c); its twin is nn_dense_forward_ref.
 *
 * OpenBLAS's thread count belongs to the process, and changing it while
 * another thread runs a GEMM is a race.  So it is set once, to one
 * thread, the first time siam needs BLAS (or the thread count), and
 * never touched again: all of siam's parallelism is its own
 * (src/threads.c), so a GEMM's result never depends on how many threads
 * a run has.  The count OpenBLAS would have used is kept as siam's
 * default.
 */
#include "nn.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static int blas_default = 1; /* OpenBLAS's own count, before we set it */

/* OpenBLAS's pthread build starts its worker threads when the library
 * is loaded, and each spins (sched_yield) for 2^28 cycles, about 0.1 s,
 * before it sleeps: on 2 cores that is a tenth of a second of a core
 * taken from every short run (a 60-photo siam index lost 5-10%).  siam
 * never lets OpenBLAS use them, so they are stopped once it is set to
 * one thread; set_num_threads would start them again, so it comes
 * first.  blas_thread_shutdown_ is what OpenBLAS itself calls before a
 * fork, not documented API: looked up weakly and skipped where another
 * BLAS or build lacks it. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static void blas_init(void)
{
	int n = openblas_get_num_threads();
	blas_default = n > 0 ? n : 1;
	openblas_set_num_threads(1);
	if (blas_thread_shutdown_)
		blas_thread_shutdown_();
}

void siam_sgemm(int ta, int tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc)
{
	pthread_once(&blas_once, blas_init);
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

void nn_sgemv(int m, int n, float alpha, const float *a, int lda,
              const float *x, float beta, float *y)
{
	pthread_once(&blas_once, blas_init);
	if (m <= 0)
		return;
	if (n <= 0) {
		for (int i = 0; i < m; i++)
			y[i] = beta == 0.0f ? 0.0f : beta * y[i];
		return;
	}
	cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, alpha, a, lda, x, 1,
	            beta, y, 1);
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

/* The count set by siam_set_threads; 0 = never set.  Atomic: nets read
 * it at each batch, possibly from several threads. */
static atomic_int threads_set;

void siam_set_threads(int n)
{
	pthread_once(&blas_once, blas_init);
	if (n > 0)
		atomic_store_explicit(&threads_set, n, memory_order_relaxed);
}

int nn_threads(void)
{
	pthread_once(&blas_once, blas_init);
	int n = atomic_load_explicit(&threads_set, memory_order_relaxed);
	return n > 0 ? n : blas_default;
}
