/*
 * conv.c -- 2-D convolution, stride 1, valid or same padding.
 *
 * Darknet's scheme: im2col turns the convolution into one GEMM forward
 * and two GEMMs backward (weights, then the input gradient as a column
 * buffer that col2im folds back).  Unlike Darknet, one im2col covers a
 * chunk of several samples, (C*K*K, G*OH*OW): the per-sample GEMM of the
 * default net's second conv is only 64x64x800, far too small to run BLAS
 * near its peak.  Nor is it the whole batch: the im2col of 256 samples
 * is 52 MB for that layer, and writing it out to memory and reading it
 * back cost more than the GEMM gained.  A chunk's im2col of about 1 MB
 * stays in cache from im2col to GEMM (measured: 64x512x800 runs at 83
 * GFLOP/s on one core, 64x16384x800 at 57).  Backward recomputes the
 * chunk's im2col rather than keeping the batch's; it is cheap in cache.
 *
 * The price of batching is a reshuffle between the GEMM's (OC, G, OH*OW)
 * order and the (B, OC, OH, OW) tensors, one pass over the output that
 * also adds the bias (forward) or sums its gradient (backward), and when
 * the net asks for it applies the ReLU and max-pool that follow.
 *
 * An embedding must not depend on its batch (`siam index --batch`, the
 * ranks of `mpirun siam index`, one image in `siam verify`: the same
 * bits), and a GEMM's rounding depends on its shape: OpenBLAS picks a
 * kernel by size (a "direct" one for small NN products, small-matrix
 * kernels, its general one), and they sum the same K products in
 * different orders.  So the embedding (each = 1) keeps the chunk's
 * im2col but runs one GEMM per sample, (OC, OH*OW, C*K*K) whatever the
 * batch; those shapes are the same for every chunk and position, so is
 * every sample's result.  The price, measured on the 2-core AMD EPYC
 * (OpenBLAS 0.3.21, loaded): none with its Cooperlake kernels (the
 * default net's second conv at batch 256: 23.7 ms sample by sample,
 * 26.6 ms in chunks of 5), about 10% of a batch-256 embedding with
 * OPENBLAS_CORETYPE=Haswell (whose GEMM packs the weights per call).
 * Training keeps one GEMM per chunk (each = 0): its arithmetic made
 * the shipped models, and it does not need the property.
 */
#include "nn.h"

#include <string.h>

/* Floats of im2col per chunk: about 1 MB, see the top of the file. */
#define CHUNK_FLOATS (256 * 1024)

/* Samples per chunk for this layer: a function of the shapes only, so
 * that the scratch size, forward and backward agree. */
static int chunk(int B, int C, int K, size_t hw)
{
	size_t per = (size_t)C * K * K * hw;
	size_t g = per ? CHUNK_FLOATS / per : 1;
	if (g < 1)
		g = 1;
	return g < (size_t)B ? (int)g : B;
}

size_t siam_conv2d_scratch_size(int B, int C, int H, int W, int OC, int K,
                                int pad)
{
	size_t hw = (size_t)(H + 2 * pad - K + 1) * (W + 2 * pad - K + 1);
	size_t G = (size_t)chunk(B > 0 ? B : 1, C, K, hw);
	return ((size_t)C * K * K + (size_t)OC) * G * hw;
}

/* The rows im2col copies are short (8 floats for the default net's
 * second conv), where a call to memcpy costs more than the copy, and
 * GCC turns a copy loop back into that call.  memcpy of a constant size
 * is inlined as plain moves. */
static inline void copy(float *restrict dst, const float *restrict src,
                        int n)
{
	int i = 0;
	for (; i + 8 <= n; i += 8)
		memcpy(dst + i, src + i, 8 * sizeof(float));
	if (i + 4 <= n) {
		memcpy(dst + i, src + i, 4 * sizeof(float));
		i += 4;
	}
	if (i + 2 <= n) {
		memcpy(dst + i, src + i, 2 * sizeof(float));
		i += 2;
	}
	if (i < n)
		dst[i] = src[i];
}

/* dst += src over n floats, in chunks GCC vectorises at -O2. */
static inline void add(float *restrict dst, const float *restrict src, int n)
{
	int i = 0;
	for (; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			dst[i + j] = dst[i + j] + src[i + j];
	for (; i < n; i++)
		dst[i] = dst[i] + src[i];
}

/* col (C*K*K, B*OH*OW) from inp (B,C,H,W); zero where the kernel hangs
 * over the padding.  Sample-major loop so that one sample's input stays
 * in L1 while its 'C*K*K' rows are written. */
static void im2col(float *col, const float *inp, int B, int C, int H, int W,
                   int K, int pad, int OH, int OW)
{
	size_t ncols = (size_t)B * OH * OW;
	if (pad == 0 && OW == 8) {
		/* the default net's second conv: each row is one 32-byte move */
		for (int b = 0; b < B; b++)
			for (int c = 0; c < C; c++) {
				const float *x = inp + ((size_t)b * C + c) * H * W;
				float *dst = col + (size_t)c * K * K * ncols +
				             (size_t)b * OH * OW;
				for (int ki = 0; ki < K; ki++)
					for (int kj = 0; kj < K; kj++, dst += ncols) {
						const float *src = x + ki * W + kj;
						for (int oh = 0; oh < OH; oh++)
							memcpy(dst + oh * 8, src + oh * W,
							       8 * sizeof(float));
					}
			}
		return;
	}
	if (pad == 0) {
		for (int b = 0; b < B; b++)
			for (int c = 0; c < C; c++) {
				const float *x = inp + ((size_t)b * C + c) * H * W;
				float *dst = col + (size_t)c * K * K * ncols +
				             (size_t)b * OH * OW;
				for (int ki = 0; ki < K; ki++)
					for (int kj = 0; kj < K; kj++, dst += ncols) {
						const float *src = x + ki * W + kj;
						for (int oh = 0; oh < OH; oh++)
							copy(dst + oh * OW, src + oh * W, OW);
					}
			}
		return;
	}
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
						copy(dst + lo, src, hi - lo);
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
	if (pad == 0) {
		/* valid padding: every row lands inside the input */
		for (int b = 0; b < B; b++)
			for (int c = 0; c < C; c++) {
				float *dx = dinp + ((size_t)b * C + c) * H * W;
				const float *src = dcol + (size_t)c * K * K * ncols +
				                   (size_t)b * OH * OW;
				for (int ki = 0; ki < K; ki++)
					for (int kj = 0; kj < K; kj++, src += ncols) {
						float *d = dx + ki * W + kj;
						for (int oh = 0; oh < OH; oh++)
							add(d + oh * W, src + oh * OW, OW);
					}
			}
		return;
	}
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
						add(d, src + lo, hi - lo);
					}
				}
			}
		}
	}
}

/* The GEMM's (OC, B*OH*OW) result into the (B,OC,...) output, with the
 * bias, and, when the net fuses them (see nn.h), the ReLU and the
 * max-pool that follow, so that neither the pre-activation nor the
 * unpooled map is ever written out.  relu(max(x)) = max(relu(x)), and
 * the pool's argmax is the same for both (it indexes the OH x OW plane).
 * Loops over 16-float chunks with a fixed trip count are what GCC
 * vectorises at -O2. */
static void scatter(float *restrict out, int *restrict argmax,
                    const float *restrict res, const float *b, int B, int OC,
                    int OH, int OW, int relu, int P)
{
	size_t hw = (size_t)OH * OW, ncols = (size_t)B * hw;
	int PH = P ? OH / P : OH, PW = P ? OW / P : OW;
	size_t phw = (size_t)PH * PW;
	for (int bi = 0; bi < B; bi++)
		for (int oc = 0; oc < OC; oc++) {
			const float *restrict r = res + (size_t)oc * ncols + bi * hw;
			float *restrict o = out + ((size_t)bi * OC + oc) * phw;
			float bias = b[oc];
			if (!P && relu) {
				size_t i = 0;
				for (; i + 16 <= hw; i += 16)
					for (int j = 0; j < 16; j++) {
						float v = r[i + j] + bias;
						o[i + j] = v > 0.0f ? v : 0.0f;
					}
				for (; i < hw; i++) {
					float v = r[i] + bias;
					o[i] = v > 0.0f ? v : 0.0f;
				}
				continue;
			}
			if (!P) {
				size_t i = 0;
				for (; i + 16 <= hw; i += 16)
					for (int j = 0; j < 16; j++)
						o[i + j] = r[i + j] + bias;
				for (; i < hw; i++)
					o[i] = r[i] + bias;
				continue;
			}
			int *restrict am = argmax + ((size_t)bi * OC + oc) * phw;
			if (P == 2) {
				for (int ph = 0; ph < PH; ph++) {
					const float *r0 = r + (size_t)(2 * ph) * OW;
					nn_pool2_row(o + ph * PW, am + ph * PW, r0, r0 + OW,
					             PW, OW, 2 * ph * OW, bias, relu);
				}
				continue;
			}
			for (int ph = 0; ph < PH; ph++)
				for (int pw = 0; pw < PW; pw++) {
					int best = ph * P * OW + pw * P;
					float bv = r[best];
					for (int u = 0; u < P; u++)
						for (int v = 0; v < P; v++) {
							int idx = (ph * P + u) * OW + pw * P + v;
							if (r[idx] > bv) {
								bv = r[idx];
								best = idx;
							}
						}
					bv += bias;
					o[ph * PW + pw] = !relu || bv > 0.0f ? bv : 0.0f;
					am[ph * PW + pw] = best;
				}
		}
}

/* The adjoint of scatter: g (OC, B*OH*OW) from dout (B,OC,...), masked
 * by the ReLU (out > 0) and routed through the pool's argmax; db gets
 * the row sums. */
static void gather(float *restrict g, float *db, const float *restrict dout,
                   const float *restrict out, const int *restrict argmax,
                   int B, int OC, int OH, int OW, int relu, int P)
{
	size_t hw = (size_t)OH * OW, ncols = (size_t)B * hw;
	int PH = P ? OH / P : OH, PW = P ? OW / P : OW;
	size_t phw = (size_t)PH * PW;
	for (int oc = 0; oc < OC; oc++) {
		float *restrict gr = g + (size_t)oc * ncols;
		double s = 0.0;
		if (P)
			memset(gr, 0, ncols * sizeof(float));
		for (int bi = 0; bi < B; bi++) {
			size_t plane = ((size_t)bi * OC + oc) * phw;
			const float *restrict d = dout + plane;
			const float *restrict o = out + plane;
			float *restrict gd = gr + bi * hw;
			float part = 0.0f;
			if (P) {
				const int *restrict am = argmax + plane;
				for (size_t j = 0; j < phw; j++) {
					float v = !relu || o[j] > 0.0f ? d[j] : 0.0f;
					gd[am[j]] = v;
					part += v;
				}
			} else if (relu) {
				size_t i = 0;
				for (; i + 16 <= hw; i += 16)
					for (int j = 0; j < 16; j++) {
						float v = o[i + j] > 0.0f ? d[i + j] : 0.0f;
						gd[i + j] = v;
					}
				for (; i < hw; i++)
					gd[i] = o[i] > 0.0f ? d[i] : 0.0f;
				for (i = 0; i < hw; i++)
					part += gd[i];
			} else {
				memcpy(gd, d, hw * sizeof(float));
				for (size_t i = 0; i < hw; i++)
					part += d[i];
			}
			s += part;
		}
		db[oc] += (float)s;
	}
}

int nn_conv2d_chunks(int B, int C, int H, int W, int K, int pad)
{
	size_t hw = (size_t)(H + 2 * pad - K + 1) * (W + 2 * pad - K + 1);
	int G = chunk(B, C, K, hw);
	return (B + G - 1) / G;
}

void nn_conv2d_forward(float *out, int *argmax, float *scratch,
                       const float *inp, const float *w, const float *b,
                       int B, int C, int H, int W, int OC, int K, int pad,
                       int relu, int P, int first, int step, int each)
{
	// inp is (B,C,H,W), w is (OC,C*K*K), b is (OC),
	// out is (B,OC,OH,OW), or (B,OC,OH/P,OW/P) with argmax if pooled
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	int CKK = C * K * K;
	size_t hw = (size_t)OH * OW, in_sz = (size_t)C * H * W;
	size_t out_sz = P ? (size_t)OC * (OH / P) * (OW / P) : (size_t)OC * hw;
	int G = chunk(B, C, K, hw);
	float *col = scratch;                        // (CKK, G*OH*OW)
	float *res = scratch + (size_t)CKK * G * hw; // (OC, G*OH*OW)

	for (int b0 = first * G; b0 < B; b0 += step * G) {
		int g = B - b0 < G ? B - b0 : G;
		int n = (int)(g * hw);
		im2col(col, inp + b0 * in_sz, g, C, H, W, K, pad, OH, OW);
		if (!each)
			siam_sgemm(0, 0, OC, n, CKK, 1.0f, w, CKK, col, n, 0.0f,
			           res, n);
		else /* the columns of sample s, with the chunk's strides */
			for (int s = 0; s < g; s++)
				siam_sgemm(0, 0, OC, (int)hw, CKK, 1.0f, w, CKK,
				           col + s * hw, n, 0.0f, res + s * hw, n);
		scatter(out + b0 * out_sz, argmax ? argmax + b0 * out_sz : NULL,
		        res, b, g, OC, OH, OW, relu, P);
	}
}

void nn_conv2d_backward(float *dinp, float *dw, float *db, float *scratch,
                        const float *dout, const float *inp,
                        const float *out, const int *argmax, const float *w,
                        int B, int C, int H, int W, int OC, int K, int pad,
                        int relu, int P, int first, int step)
{
	// dout has out's shape; the im2col is recomputed chunk by chunk
	int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
	int CKK = C * K * K;
	size_t hw = (size_t)OH * OW, in_sz = (size_t)C * H * W;
	size_t out_sz = P ? (size_t)OC * (OH / P) * (OW / P) : (size_t)OC * hw;
	int G = chunk(B, C, K, hw);
	float *col = scratch;
	float *gr = scratch + (size_t)CKK * G * hw; // dout as (OC, G*OH*OW)

	for (int b0 = first * G; b0 < B; b0 += step * G) {
		int g = B - b0 < G ? B - b0 : G;
		int n = (int)(g * hw);
		gather(gr, db, dout + b0 * out_sz, out ? out + b0 * out_sz : NULL,
		       argmax ? argmax + b0 * out_sz : NULL, g, OC, OH, OW, relu,
		       P);
		im2col(col, inp + b0 * in_sz, g, C, H, W, K, pad, OH, OW);
		// dw (OC,CKK) += gr (OC,n) . col^T (n,CKK)
		siam_sgemm(0, 1, OC, CKK, n, 1.0f, gr, n, col, n, 1.0f, dw, CKK);
		if (!dinp)
			continue;
		// dcol (CKK,n) = w^T (CKK,OC) . gr (OC,n), written over col
		siam_sgemm(1, 0, CKK, n, OC, 1.0f, w, CKK, gr, n, 0.0f, col, n);
		col2im(dinp + b0 * in_sz, col, g, C, H, W, K, pad, OH, OW);
	}
}

void siam_conv2d_forward(float *out, float *scratch, const float *inp,
                         const float *w, const float *b, int B, int C, int H,
                         int W, int OC, int K, int pad)
{
	nn_conv2d_forward(out, NULL, scratch, inp, w, b, B, C, H, W, OC, K,
	                  pad, 0, 0, 0, 1, 0);
}

void siam_conv2d_backward(float *dinp, float *dw, float *db, float *scratch,
                          const float *dout, const float *inp,
                          const float *w, int B, int C, int H, int W, int OC,
                          int K, int pad)
{
	nn_conv2d_backward(dinp, dw, db, scratch, dout, inp, NULL, NULL, w, B,
	                   C, H, W, OC, K, pad, 0, 0, 0, 1);
}

/* The references: the definition of convolution, loop by loop. */
void nn_conv2d_forward_ref(float *out, const float *inp, const float *w,
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

void nn_conv2d_backward_ref(float *dinp, float *dw, float *db,
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
