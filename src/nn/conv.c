/*
 * conv.c -- 2-D convolution, stride 1, valid or same padding.
 *
 * Darknet's scheme: im2col turns the convolution into one GEMM forward
 * and two GEMMs backward (weights, then the input gradient as a column
 * buffer that col2im folds back).  Unlike Darknet, the im2col covers the
 * whole batch at once, (C*K*K, B*OH*OW): the per-sample GEMM of the
 * default net's second conv is only 64x64x800, far too small to run
 * BLAS near its peak, while the batched one is 64 x B*64 x 800.  The
 * price is a reshuffle between the GEMM's (OC, B, OH*OW) order and the
 * (B, OC, OH, OW) tensors, which is cheap (one pass over the output)
 * and carries the bias add (forward) and bias gradient (backward).
 */
#include "internal.h"

#include <string.h>

size_t siam_conv2d_scratch_size(int B, int C, int H, int W, int OC, int K,
                                int pad)
{
	size_t oh = (size_t)(H + 2 * pad - K + 1);
	size_t ow = (size_t)(W + 2 * pad - K + 1);
	size_t cols = (size_t)B * oh * ow;
	return ((size_t)C * K * K + (size_t)OC) * cols;
}

/* col (C*K*K, B*OH*OW) from inp (B,C,H,W); zero where the kernel hangs
 * over the padding.  Sample-major loop so that one sample's input stays
 * in L1 while its 'C*K*K' rows are written. */
static void im2col(float *col, const float *inp, int B, int C, int H, int W,
                   int K, int pad, int OH, int OW)
{
	size_t ncols = (size_t)B * OH * OW;
	for (int b = 0; b < B; b++) {
		for (int c = 0; c < C; c++) {
			const float *x = inp + ((size_t)b * C + c) * H * W;
			for (int ki = 0; ki < K; ki++) {
				for (int kj = 0; kj < K; kj++) {
					size_t row = ((size_t)c * K + ki) * K + kj;
					float *dst = col + row * ncols +
					             (size_t)b * OH * OW;
					/* ow range whose input column is inside */
					int lo = SIAM_MAX(0, pad - kj);
					int hi = SIAM_MIN(OW, W + pad - kj);
					for (int oh = 0; oh < OH; oh++, dst += OW) {
						int ih = oh + ki - pad;
						if (ih < 0 || ih >= H || lo >= hi) {
							memset(dst, 0, sizeof(float) * OW);
							continue;
						}
						/* input column of ow = lo */
						const float *src = x + (size_t)ih * W +
						                   (lo + kj - pad);
						for (int ow = 0; ow < lo; ow++)
							dst[ow] = 0.0f;
						memcpy(dst + lo, src,
						       sizeof(float) * (hi - lo));
						for (int ow = hi; ow < OW; ow++)
							dst[ow] = 0.0f;
					}
				}
			}
		}
	}
}

/* dinp (B,C,H,W) += fold of dcol (C*K*K, B*OH*OW): the adjoint of im2col. */
static void col2im(float *dinp, const float *dcol, int B, int C, int H,
                   int W, int K, int pad, int OH, int OW)
{
	size_t ncols = (size_t)B * OH * OW;
	for (int b = 0; b < B; b++) {
		for (int c = 0; c < C; c++) {
			float *dx = dinp + ((size_t)b * C + c) * H * W;
			for (int ki = 0; ki < K; ki++) {
				for (int kj = 0; kj < K; kj++) {
					size_t row = ((size_t)c * K + ki) * K + kj;
					const float *src = dcol + row * ncols +
					                   (size_t)b * OH * OW;
					int lo = SIAM_MAX(0, pad - kj);
					int hi = SIAM_MIN(OW, W + pad - kj);
					for (int oh = 0; oh < OH; oh++, src += OW) {
						int ih = oh + ki - pad;
						if (ih < 0 || ih >= H)
							continue;
						float *d = dx + (size_t)ih * W +
						           (lo + kj - pad);
						for (int ow = lo; ow < hi; ow++)
							d[ow - lo] += src[ow];
					}
				}
			}
		}
	}
}

void siam_conv2d_forward(float *out, float *scratch, const float *inp,
                         const float *w, const float *b, int B, int C, int H,
                         int W, int OC, int K, int pad)
{
	// inp is (B,C,H,W), w is (OC,C*K*K), b is (OC), out is (B,OC,OH,OW)
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	int CKK = C * K * K;
	size_t hw = (size_t)OH * OW, ncols = (size_t)B * hw;
	float *col = scratch;                   // (CKK, B*OH*OW)
	float *res = scratch + (size_t)CKK * ncols; // (OC, B*OH*OW)

	im2col(col, inp, B, C, H, W, K, pad, OH, OW);
	siam_sgemm(0, 0, OC, (int)ncols, CKK, 1.0f, w, CKK, col, (int)ncols,
	           0.0f, res, (int)ncols);
	for (int bi = 0; bi < B; bi++)
		for (int oc = 0; oc < OC; oc++) {
			const float *r = res + (size_t)oc * ncols + bi * hw;
			float *o = out + ((size_t)bi * OC + oc) * hw;
			float bias = b[oc];
			for (size_t i = 0; i < hw; i++)
				o[i] = r[i] + bias;
		}
}

void siam_conv2d_backward(float *dinp, float *dw, float *db, float *scratch,
                          const float *dout, const float *inp,
                          const float *w, int B, int C, int H, int W, int OC,
                          int K, int pad)
{
	// dout is (B,OC,OH,OW); scratch holds the forward's im2col
	(void)inp;
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	int CKK = C * K * K;
	size_t hw = (size_t)OH * OW, ncols = (size_t)B * hw;
	float *col = scratch;
	float *g = scratch + (size_t)CKK * ncols; // dout as (OC, B*OH*OW)

	for (int oc = 0; oc < OC; oc++) {
		float *gr = g + (size_t)oc * ncols;
		float s = 0.0f;
		for (int bi = 0; bi < B; bi++) {
			const float *d = dout + ((size_t)bi * OC + oc) * hw;
			float *gd = gr + bi * hw;
			for (size_t i = 0; i < hw; i++) {
				gd[i] = d[i];
				s += d[i];
			}
		}
		db[oc] += s;
	}
	// dw (OC,CKK) += g (OC,N) . col^T (N,CKK)
	siam_sgemm(0, 1, OC, CKK, (int)ncols, 1.0f, g, (int)ncols, col,
	           (int)ncols, 1.0f, dw, CKK);
	if (!dinp)
		return;
	// dcol (CKK,N) = w^T (CKK,OC) . g (OC,N), written over col
	siam_sgemm(1, 0, CKK, (int)ncols, OC, 1.0f, w, CKK, g, (int)ncols,
	           0.0f, col, (int)ncols);
	col2im(dinp, col, B, C, H, W, K, pad, OH, OW);
}

/* The references: the definition of convolution, loop by loop. */
void siam_conv2d_forward_ref(float *out, const float *inp, const float *w,
                             const float *b, int B, int C, int H, int W,
                             int OC, int K, int pad)
{
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	for (int bi = 0; bi < B; bi++)
		for (int oc = 0; oc < OC; oc++)
			for (int oh = 0; oh < OH; oh++)
				for (int ow = 0; ow < OW; ow++) {
					double s = b[oc];
					for (int c = 0; c < C; c++)
						for (int ki = 0; ki < K; ki++)
							for (int kj = 0; kj < K; kj++) {
								int ih = oh + ki - pad;
								int iw = ow + kj - pad;
								if (ih < 0 || ih >= H || iw < 0 ||
								    iw >= W)
									continue;
								s += (double)inp[(((size_t)bi * C + c) * H + ih) * W + iw] *
								     w[(((size_t)oc * C + c) * K + ki) * K + kj];
							}
					out[(((size_t)bi * OC + oc) * OH + oh) * OW + ow] =
						(float)s;
				}
}

void siam_conv2d_backward_ref(float *dinp, float *dw, float *db,
                              const float *dout, const float *inp,
                              const float *w, int B, int C, int H, int W,
                              int OC, int K, int pad)
{
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	for (int bi = 0; bi < B; bi++)
		for (int oc = 0; oc < OC; oc++)
			for (int oh = 0; oh < OH; oh++)
				for (int ow = 0; ow < OW; ow++) {
					float d = dout[(((size_t)bi * OC + oc) * OH + oh) * OW + ow];
					db[oc] += d;
					for (int c = 0; c < C; c++)
						for (int ki = 0; ki < K; ki++)
							for (int kj = 0; kj < K; kj++) {
								int ih = oh + ki - pad;
								int iw = ow + kj - pad;
								if (ih < 0 || ih >= H || iw < 0 ||
								    iw >= W)
									continue;
								size_t xi = (((size_t)bi * C + c) * H + ih) * W + iw;
								size_t wi = (((size_t)oc * C + c) * K + ki) * K + kj;
								dw[wi] += d * inp[xi];
								if (dinp)
									dinp[xi] += d * w[wi];
							}
				}
}
