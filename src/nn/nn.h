/*
 * nn.h -- what src/nn/ shares between its files, and the naive reference
 * kernels the tests and the selftest check the fast ones against; not
 * installed, not exported from libsiam.
 */
#ifndef SIAM_NN_H
#define SIAM_NN_H

#include "internal.h"
#include "siam_nn.h"

/* The trainer writes its stacked batch straight into the net's input
 * buffer instead of copying it twice.  nn_net_input grows the net's
 * buffers to B samples and returns the (B, input_size) input buffer, or
 * NULL on ENOMEM; nn_net_forward_input then runs the forward on it. */
SIAM_HIDDEN float *nn_net_input(siam_net *net, int B, siam_error *err);
SIAM_HIDDEN const float *nn_net_forward_input(siam_net *net, int B);

/* conv2d with the ReLU (relu = 1) and the P x P max-pool (P > 0) that
 * follow it fused into the pass that adds the bias: out is then the
 * pooled, rectified map (B,OC,OH/P,OW/P) and argmax the pool's cache
 * (indices into the OH x OW plane, as siam_maxpool_forward's).  relu =
 * P = 0 is siam_conv2d_forward.  Backward takes the fused output as the
 * ReLU mask and dout of its shape.  net.c fuses "convKxC relu [poolP]",
 * which saves three passes over the largest activation of the net.
 *
 * The batch runs in nn_conv2d_chunks() chunks of samples; a call does
 * chunks first, first + step, ... so that step threads can share a
 * batch, each with its own scratch (siam_conv2d_scratch_size floats)
 * and, in backward, its own dw and db to accumulate into.  Chunks are
 * whole samples: the threads write disjoint parts of out and dinp.
 *
 * each = 1 (embedding): one GEMM per sample instead of one per chunk,
 * the same shape whatever the batch, so that a sample's output is the
 * same bits in any batch, at any position (see the top of conv.c).
 * each = 0 (training): one GEMM per chunk. */
SIAM_HIDDEN int nn_conv2d_chunks(int B, int C, int H, int W, int K,
                                 int pad);
SIAM_HIDDEN void nn_conv2d_forward(float *out, int *argmax, float *scratch,
                                   const float *inp, const float *w,
                                   const float *b, int B, int C, int H,
                                   int W, int OC, int K, int pad, int relu,
                                   int P, int first, int step, int each);
SIAM_HIDDEN void nn_conv2d_backward(float *dinp, float *dw, float *db,
                                    float *scratch, const float *dout,
                                    const float *inp, const float *out,
                                    const int *argmax, const float *w, int B,
                                    int C, int H, int W, int OC, int K,
                                    int pad, int relu, int P, int first,
                                    int step);

/* The naive references: direct loops, no BLAS, the definition of each
 * operation with the contract of its fast kernel in siam_nn.h (the GEMM
 * accumulates in double).  Only the tests and src/selftest.c call them:
 * they are test hooks, kept out of the installed API. */
SIAM_HIDDEN void nn_sgemm_ref(int ta, int tb, int m, int n, int k,
                              float alpha, const float *a, int lda,
                              const float *b, int ldb, float beta, float *c,
                              int ldc);
SIAM_HIDDEN void nn_conv2d_forward_ref(float *out, const float *inp,
                                       const float *w, const float *b, int B,
                                       int C, int H, int W, int OC, int K,
                                       int pad);
SIAM_HIDDEN void nn_conv2d_backward_ref(float *dinp, float *dw, float *db,
                                        const float *dout, const float *inp,
                                        const float *w, int B, int C, int H,
                                        int W, int OC, int K, int pad);
/* The largest |a[i] - b[i]| (a NaN counts as the worst): how far a fast
 * kernel's output is from its reference's.  In src/selftest.c. */
SIAM_HIDDEN double nn_maxdiff(const float *a, const float *b,
                              size_t n);
SIAM_HIDDEN void nn_dense_forward_ref(float *out, const float *inp,
                                      const float *w, const float *b, int B,
                                      int IN, int OUT);
/* siam_adam_step one element at a time; siam_adam_step's bits exactly. */
SIAM_HIDDEN void nn_adam_step_ref(siam_adam *opt, float *params,
                                  const float *grads, float *m, float *v,
                                  size_t n);
/* Whether none of x[0..n) is an infinity or a NaN, and its loop. */
SIAM_HIDDEN int nn_all_finite(const float *x, size_t n);
SIAM_HIDDEN int nn_all_finite_ref(const float *x, size_t n);

/* y (m) = alpha * a (m,n, row-major, lda) . x (n) + beta * y; beta = 0
 * assigns.  OpenBLAS's sgemv, on one thread like siam_sgemm (blas.c). */
SIAM_HIDDEN void nn_sgemv(int m, int n, float alpha, const float *a,
                          int lda, const float *x, float beta, float *y);

/* siam_dense_forward one row at a time, a GEMV of one shape (OUT, IN)
 * whatever B, so that a row's output does not depend on its batch (the
 * embedding's fc layers; see dense.c). */
SIAM_HIDDEN void nn_dense_forward_each(float *out, const float *inp,
                                       const float *w, const float *b,
                                       int B, int IN, int OUT);

/* The two halves of siam_dense_backward, which the net runs on two
 * threads at once: the input gradient, and the weight and bias
 * gradients.  Same contracts (they accumulate). */
SIAM_HIDDEN void nn_dense_backward_input(float *dinp, const float *dout,
                                         const float *w, int B, int IN,
                                         int OUT);
SIAM_HIDDEN void nn_dense_backward_params(float *dw, float *db,
                                          const float *dout,
                                          const float *inp, int B, int IN,
                                          int OUT);

/* Threads for the nets' own parallel loops: the last siam_set_threads,
 * else the count OpenBLAS would have used (OPENBLAS_NUM_THREADS or the
 * core count), read once.  The first call of this, siam_set_threads or
 * siam_sgemm sets OpenBLAS itself to one thread for good (blas.c). */
SIAM_HIDDEN int nn_threads(void);

/* One row of a 2x2 max-pool: o[pw], am[pw] for pw < PW from input rows
 * r0 and r1 (row r0 starts at index base of its plane, r1 = r0 + OW),
 * plus bias, rectified if relu.  Written as a tournament of selects over
 * chunks of 4, which GCC vectorises at -O2; ties go to the first of
 * a, b, c, d in reading order, as in the generic loop. */
static inline void nn_pool2_row(float *restrict o, int *restrict am,
                                const float *restrict r0,
                                const float *restrict r1, int PW, int OW,
                                int base, float bias, int relu)
{
	int pw = 0;
	for (; pw + 4 <= PW; pw += 4)
		for (int j = 0; j < 4; j++) {
			int i0 = 2 * (pw + j);
			float a = r0[i0], b = r0[i0 + 1], c = r1[i0], d = r1[i0 + 1];
			int k1 = b > a ? i0 + 1 : i0;
			float m1 = b > a ? b : a;
			int k2 = d > c ? OW + i0 + 1 : OW + i0;
			float m2 = d > c ? d : c;
			int k = m2 > m1 ? k2 : k1;
			float m = (m2 > m1 ? m2 : m1) + bias;
			o[pw + j] = !relu || m > 0.0f ? m : 0.0f;
			am[pw + j] = base + k;
		}
	for (; pw < PW; pw++) {
		int i0 = 2 * pw;
		float a = r0[i0], b = r0[i0 + 1], c = r1[i0], d = r1[i0 + 1];
		int k1 = b > a ? i0 + 1 : i0;
		float m1 = b > a ? b : a;
		int k2 = d > c ? OW + i0 + 1 : OW + i0;
		float m2 = d > c ? d : c;
		int k = m2 > m1 ? k2 : k1;
		float m = (m2 > m1 ? m2 : m1) + bias;
		o[pw] = !relu || m > 0.0f ? m : 0.0f;
		am[pw] = base + k;
	}
}

#endif
